//! The load generator of scripts/bench-mcp.sh: MCP `tools/call` over Streamable HTTP,
//! against the gateway or straight against a server's own port, timed per call.
//!
//! `cargo bench --bench mcp_load -- URL SESSIONS CALLS [TOOL]`: SESSIONS sessions at once
//! (each `initialize`s, then makes CALLS sequential calls of TOOL, default `echo`), then
//! one JSON line: calls, errors, seconds, calls per second, p50/p99 in microseconds. The
//! token, if any, comes from BENCH_TOKEN.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[derive(Debug)]
struct Session {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    id: Option<String>,
}

impl Session {
    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .json(body);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(id) = &self.id {
            req = req
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", "2025-11-25");
        }
        req
    }

    async fn open(
        http: reqwest::Client,
        url: String,
        token: Option<String>,
    ) -> Result<Self, String> {
        let mut s = Self {
            http,
            url,
            token,
            id: None,
        };
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "bench-mcp", "version": "1"}}});
        let resp = s.post(&init).send().await.map_err(|e| e.to_string())?;
        s.id = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let answer: Value = resp.json().await.map_err(|e| e.to_string())?;
        if answer.get("result").is_none() {
            return Err(format!("initialize failed: {answer}"));
        }
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        s.post(&note).send().await.map_err(|e| e.to_string())?;
        Ok(s)
    }

    async fn call(&self, n: u64, tool: &str) -> Result<(), String> {
        let text = format!("call {n}");
        let body = json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
            "params": {"name": tool, "arguments": {"text": text}}});
        let resp = self.post(&body).send().await.map_err(|e| e.to_string())?;
        let answer: Value = resp.json().await.map_err(|e| e.to_string())?;
        if answer["result"]["content"][0]["text"] == text.as_str() {
            Ok(())
        } else {
            Err(format!("unexpected answer: {answer}"))
        }
    }

    async fn close(&self) {
        if let Some(id) = &self.id {
            let mut req = self.http.delete(&self.url).header("mcp-session-id", id);
            if let Some(t) = &self.token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let _ = req.send().await;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_micros()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [url, sessions, calls, rest @ ..] = args.as_slice() else {
        eprintln!("usage: mcp_load URL SESSIONS CALLS [TOOL]");
        std::process::exit(2);
    };
    let sessions: usize = sessions.parse().unwrap_or(1);
    let calls: u64 = calls.parse().unwrap_or(100);
    let tool = rest.first().cloned().unwrap_or_else(|| "echo".into());
    let token = std::env::var("BENCH_TOKEN").ok().filter(|t| !t.is_empty());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(sessions.max(1))
        .build()
        .unwrap_or_default();

    let started = Instant::now();
    let tasks: Vec<_> = (0..sessions)
        .map(|_| {
            let (http, url, token, tool) = (http.clone(), url.clone(), token.clone(), tool.clone());
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(calls as usize);
                let mut errors = Vec::new();
                match Session::open(http, url, token).await {
                    Ok(s) => {
                        for n in 1..=calls {
                            let t = Instant::now();
                            match s.call(n, &tool).await {
                                Ok(()) => times.push(t.elapsed()),
                                Err(e) => errors.push(e),
                            }
                        }
                        s.close().await;
                    }
                    Err(e) => errors.push(e),
                }
                (times, errors)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok((ts, es)) => {
                times.extend(ts);
                errors.extend(es);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    times.sort();
    let line = json!({
        "calls": times.len(),
        "errors": errors.len(),
        "first_error": errors.first(),
        "seconds": (secs * 1000.0).round() / 1000.0,
        "per_sec": (times.len() as f64 / secs).round(),
        "p50_us": percentile(&times, 0.50),
        "p99_us": percentile(&times, 0.99),
    });
    println!("{line}");
}
