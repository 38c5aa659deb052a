//! The gateway's connection to a user's HTTP server (`streamable-http`): one MCP session
//! per container, initialized once, over the port the portal published for it. Answers
//! come as JSON or as an SSE stream, whose progress notifications go to the call that
//! asked and whose other notifications go to subscribers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, RwLock};

use super::rpc::{self, RpcError};

/// What the gateway asks for; a server that answers an older version is bridged.
const PROTOCOL_VERSION: &str = "2025-11-25";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP server behind the gateway.
#[derive(Debug)]
pub struct HttpUpstream {
    server: String,
    url: String,
    client: reqwest::Client,
    session: RwLock<Session>,
    next_id: AtomicU64,
    alive: AtomicBool,
    notifications: broadcast::Sender<Value>,
}

#[derive(Debug, Clone)]
struct Session {
    id: Option<String>,
    version: String,
    initialized: Value,
}

impl HttpUpstream {
    /// Initializes the server at `url` (its `/mcp` endpoint).
    pub async fn connect(server: &str, url: String) -> Result<std::sync::Arc<Self>, RpcError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| RpcError::internal(format!("http client: {e}")))?;
        let up = Self {
            server: server.to_string(),
            url,
            client,
            session: RwLock::new(Session {
                id: None,
                version: PROTOCOL_VERSION.into(),
                initialized: Value::Null,
            }),
            next_id: AtomicU64::new(1),
            alive: AtomicBool::new(true),
            notifications: broadcast::channel(64).0,
        };
        up.initialize().await?;
        Ok(std::sync::Arc::new(up))
    }

    async fn initialize(&self) -> Result<(), RpcError> {
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-portal", "version": env!("CARGO_PKG_VERSION")},
        });
        let (result, session_id) = self.post("initialize", params, None, None).await?;
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::unavailable(format!(
                    "server {} answered initialize without a protocolVersion; check that it speaks MCP",
                    self.server
                ))
            })?
            .to_string();
        *self.session.write().await = Session {
            id: session_id,
            version,
            initialized: result,
        };
        self.send_notification("notifications/initialized", json!({}))
            .await
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// The server's answer to the gateway's `initialize`.
    pub async fn initialized(&self) -> Value {
        self.session.read().await.initialized.clone()
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.notifications.subscribe()
    }

    /// Calls `method`; a session the server forgot (404) is initialized again, once.
    /// Dropping the future drops the HTTP request, which is how a client cancels on
    /// Streamable HTTP.
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        let session = self.session.read().await.id.clone();
        match self
            .post(method, params.clone(), session.as_deref(), progress.clone())
            .await
        {
            Err(e) if e.code == SESSION_GONE => {
                self.initialize().await?;
                let session = self.session.read().await.id.clone();
                Ok(self
                    .post(method, params, session.as_deref(), progress)
                    .await?
                    .0)
            }
            other => other.map(|(r, _)| r),
        }
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<(), RpcError> {
        if matches!(
            method,
            "notifications/initialized" | "notifications/cancelled"
        ) {
            return Ok(());
        }
        self.send_notification(method, params).await
    }

    async fn send_notification(&self, method: &str, params: Value) -> Result<(), RpcError> {
        let session = self.session.read().await.clone();
        let body = rpc::notification(method, params);
        let mut req = self
            .client
            .post(&self.url)
            .json(&body)
            .header("accept", "application/json, text/event-stream");
        if let Some(id) = &session.id {
            req = req.header("mcp-session-id", id);
        }
        req = req.header("mcp-protocol-version", &session.version);
        req.send().await.map_err(|e| self.unreachable(&e))?;
        Ok(())
    }

    fn unreachable(&self, e: &reqwest::Error) -> RpcError {
        if e.is_connect() {
            self.alive.store(false, Ordering::Relaxed);
        }
        RpcError::unavailable(format!(
            "server {} cannot be reached at {} ({e}); check that it runs (`portalctl status`)",
            self.server, self.url
        ))
    }

    /// One POST: the answer's result (or error) and the session id it carried.
    async fn post(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<(Value, Option<String>), RpcError> {
        let id = Value::from(self.next_id.fetch_add(1, Ordering::Relaxed));
        let body = rpc::request(&id, method, params);
        let mut req = self
            .client
            .post(&self.url)
            .json(&body)
            .header("accept", "application/json, text/event-stream");
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        if method != "initialize" {
            let version = self.session.read().await.version.clone();
            req = req.header("mcp-protocol-version", version);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let session_id = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status == reqwest::StatusCode::NOT_FOUND && session.is_some() {
            return Err(RpcError::new(SESSION_GONE, "session gone"));
        }
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let answer = if is_sse {
            self.read_sse(resp, &id, progress).await?
        } else {
            let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
            serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                RpcError::unavailable(format!(
                    "server {} answered {method} with HTTP {status} and no JSON-RPC message ({e})",
                    self.server
                ))
            })?
        };
        Ok((outcome(&self.server, answer)?, session_id))
    }

    /// Reads an SSE answer up to the response to `id`.
    async fn read_sse(
        &self,
        resp: reqwest::Response,
        id: &Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        let mut stream = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(&e))?;
            buf.extend_from_slice(&chunk);
            for msg in drain_events(&mut buf) {
                if msg.get("id") == Some(id) && msg.get("method").is_none() {
                    return Ok(msg);
                }
                if msg.get("method").and_then(Value::as_str) == Some("notifications/progress") {
                    if let Some(p) = &progress {
                        let _ = p.send(msg);
                    }
                } else if msg.get("id").is_none() {
                    let _ = self.notifications.send(msg);
                }
            }
        }
        Err(RpcError::unavailable(format!(
            "server {} closed its answer before responding; retry once it runs again",
            self.server
        )))
    }
}

/// Takes the first complete SSE event off the front of `buf` (raw bytes, so that a
/// character split across chunks stays whole), with CRLF and CR line ends read as LF.
pub fn take_event(buf: &mut Vec<u8>) -> Option<String> {
    if buf.contains(&b'\r') {
        let mut out = Vec::with_capacity(buf.len());
        let last = buf.len() - 1;
        for (i, &b) in buf.iter().enumerate() {
            match b {
                // A CR at the end may be the first half of a CRLF still to come.
                b'\r' if i == last => out.push(b),
                b'\r' if buf[i + 1] == b'\n' => {}
                b'\r' => out.push(b'\n'),
                _ => out.push(b),
            }
        }
        *buf = out;
    }
    let end = buf.windows(2).position(|w| w == b"\n\n")?;
    let event: Vec<u8> = buf.drain(..end + 2).collect();
    Some(String::from_utf8_lossy(&event).into_owned())
}

/// The JSON messages that the complete events at the front of `buf` carry in their
/// `data:` lines; comments, keep-alives and other data are skipped.
pub fn drain_events(buf: &mut Vec<u8>) -> Vec<Value> {
    std::iter::from_fn(|| take_event(buf))
        .collect::<Vec<_>>()
        .iter()
        .filter_map(|event| {
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n");
            serde_json::from_str::<Value>(&data).ok()
        })
        .collect()
}

/// A private code for "the server no longer knows our session": never sent to clients.
const SESSION_GONE: i64 = -32099;

/// The result of a response message, or its error.
pub(super) fn outcome(server: &str, msg: Value) -> Result<Value, RpcError> {
    if let Some(e) = msg.get("error") {
        return Err(RpcError {
            code: e
                .get("code")
                .and_then(Value::as_i64)
                .unwrap_or(rpc::INTERNAL_ERROR),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string(),
            data: e.get("data").cloned(),
        });
    }
    msg.get("result").cloned().ok_or_else(|| {
        RpcError::unavailable(format!(
            "server {server} answered with neither result nor error"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_arrive_whole_with_any_line_ends() {
        let whole = "event: message\r\ndata: {\"text\":\"héllo\"}\r\n\r\n: ping\n\n";
        let bytes = whole.as_bytes();
        // Cut inside the two-byte é and between a CR and its LF.
        let cut_char = whole.find('é').unwrap() + 1;
        let cut_crlf = whole.find("\r\n\r\n").unwrap() + 1;
        for cut in [cut_char, cut_crlf] {
            let mut buf = bytes[..cut].to_vec();
            let mut seen = drain_events(&mut buf);
            buf.extend_from_slice(&bytes[cut..]);
            seen.extend(drain_events(&mut buf));
            assert_eq!(seen, [json!({"text": "héllo"})], "cut at {cut}");
            assert!(buf.is_empty());
        }
    }
}
