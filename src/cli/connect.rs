//! `portalctl connect`: a local stdio MCP server that relays to a portal's gateway, for
//! clients that only launch stdio servers (Claude Desktop, say). Each line on stdin is
//! one JSON-RPC message, POSTed to `/mcp` (or `/mcp/SERVER`) with the token; what comes
//! back (a JSON answer, or an SSE stream of progress and then the answer) goes to stdout
//! one message per line. The relay understands no method: it only carries the headers
//! Streamable HTTP wants, which it reads off the messages (the session id from the
//! `initialize` answer, the version from that answer or from a stateless request's
//! `_meta`, `Mcp-Method`/`Mcp-Name` from the request itself). Logs go to stderr only.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, RwLock};

use super::transport::Transport;
use crate::gateway::http::drain_events;
use crate::gateway::protocol::META_VERSION;
use crate::ids::ServerId;

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// One server alone (`/mcp/SERVER`) instead of all of the user's servers
    #[arg(value_name = "SERVER")]
    server: Option<ServerId>,
}

/// What the relay learned from the conversation so far.
#[derive(Debug, Default)]
struct Learned {
    session: Option<String>,
    version: Option<String>,
    listening: bool,
}

struct Relay {
    http: reqwest::Client,
    url: String,
    /// `Bearer <token>`: never printed, so `Debug` is written by hand.
    auth: String,
    learned: RwLock<Learned>,
    out: mpsc::UnboundedSender<Value>,
    /// The GET stream's task, stopped when the relay ends.
    listener: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("url", &self.url)
            .field("auth", &"<redacted>")
            .finish_non_exhaustive()
    }
}

pub fn run(
    remote: Option<&str>,
    token: Option<&str>,
    args: &ConnectArgs,
    transport: &Transport,
) -> anyhow::Result<()> {
    let remote = remote.context(
        "connect needs the portal's URL: --remote URL (or MCP_PORTAL_URL), e.g. http://127.0.0.1:8080",
    )?;
    let token = token.filter(|t| !t.is_empty()).context(
        "connect needs a token: --token T or MCP_PORTAL_TOKEN (make one with portalctl token create --user U --scope mcp)",
    )?;
    transport.check_cleartext("--remote", remote)?;
    let http = transport.reqwest()?;
    let base = remote.trim_end_matches('/');
    let url = match &args.server {
        Some(s) => format!("{base}/mcp/{s}"),
        None => format!("{base}/mcp"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(relay(http, url, format!("Bearer {token}")))
}

async fn relay(http: reqwest::Client, url: String, auth: String) -> anyhow::Result<()> {
    let (out, mut outgoing) = mpsc::unbounded_channel::<Value>();
    let relay = Arc::new(Relay {
        http,
        url,
        auth,
        learned: RwLock::new(Learned::default()),
        out,
        listener: std::sync::Mutex::new(None),
    });
    // One writer, so that messages of concurrent calls never interleave on a line.
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(msg) = outgoing.recv().await {
            let mut line = msg.to_string();
            line.push('\n');
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut calls = tokio::task::JoinSet::new();
    while let Some(line) = lines.next_line().await.context("could not read stdin")? {
        if line.trim().is_empty() {
            continue;
        }
        let relay = Arc::clone(&relay);
        // Concurrently: a long call must not hold up the next message.
        calls.spawn(async move { relay.forward(line).await });
        while calls.try_join_next().is_some() {}
    }
    // stdin closed: the client is done. Let answers under way arrive, then end the session.
    while calls.join_next().await.is_some() {}
    relay.end().await;
    let listener = relay
        .listener
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(l) = listener {
        l.abort();
    }
    drop(relay);
    let _ = writer.await;
    Ok(())
}

impl Relay {
    async fn forward(self: &Arc<Self>, line: String) {
        let msg: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("stdin: not a JSON-RPC message ({e}); dropped");
                let _ = self.out.send(json!({"jsonrpc": "2.0", "id": null,
                    "error": {"code": -32700, "message": format!("parse error: {e}")}}));
                return;
            }
        };
        let id = msg
            .get("id")
            .cloned()
            .filter(|_| msg.get("method").is_some());
        if let Err(message) = self.post(&msg).await {
            tracing::warn!("{message}");
            if let Some(id) = id {
                let _ = self.out.send(json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32603, "message": message}}));
            }
        }
    }

    async fn post(self: &Arc<Self>, msg: &Value) -> Result<(), String> {
        let method = msg.get("method").and_then(Value::as_str);
        let req = self
            .http
            .post(&self.url)
            .header("authorization", &self.auth)
            .header("accept", "application/json, text/event-stream")
            .json(msg);
        let (session, known) = {
            let l = self.learned.read().await;
            (l.session.clone(), l.version.clone())
        };
        // A stateless request carries its own version and belongs to no session.
        let stateless = msg["params"]["_meta"][META_VERSION].as_str();
        let mut req = match stateless {
            Some(v) => in_session(req, None, Some(v.to_string())),
            None => in_session(req, session, known),
        };
        if stateless.is_some() {
            if let Some(m) = method {
                req = req.header("mcp-method", m);
            }
            let name = msg["params"]["name"]
                .as_str()
                .or(msg["params"]["uri"].as_str());
            if let Some(n) = name.filter(|n| n.is_ascii() && !n.contains(['\r', '\n'])) {
                req = req.header("mcp-name", n);
            }
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("the portal at {} cannot be reached ({e})", self.url))?;
        let status = resp.status();
        if method == Some("initialize") && status.is_success() {
            let sid = resp
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            self.learned.write().await.session = sid;
        }
        if status == reqwest::StatusCode::ACCEPTED {
            if method == Some("notifications/initialized") {
                self.listen().await;
            }
            return Ok(());
        }
        let sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if sse {
            return self.relay_events(resp).await;
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("the portal's answer broke off ({e})"))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(answer) if answer.get("jsonrpc").is_some() => {
                if method == Some("initialize") {
                    if let Some(v) = answer["result"]["protocolVersion"].as_str() {
                        self.learned.write().await.version = Some(v.to_string());
                    }
                }
                let _ = self.out.send(answer);
                Ok(())
            }
            _ => Err(refusal(status, &bytes)),
        }
    }

    /// The GET stream of the session's notifications, once, for as long as it lasts.
    async fn listen(self: &Arc<Self>) {
        let (session, version) = {
            let mut l = self.learned.write().await;
            if l.listening || l.session.is_none() {
                return;
            }
            l.listening = true;
            (l.session.clone(), l.version.clone())
        };
        let me = Arc::clone(self);
        let task = tokio::spawn(async move {
            let req = me
                .http
                .get(&me.url)
                .header("authorization", &me.auth)
                .header("accept", "text/event-stream");
            let Ok(resp) = in_session(req, session, version).send().await else {
                return;
            };
            if resp.status().is_success() {
                let _ = me.relay_events(resp).await;
            }
        });
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
    }

    /// DELETE the session, if there is one: the portal need not wait for it to idle out.
    async fn end(&self) {
        let (session, version) = {
            let l = self.learned.read().await;
            (l.session.clone(), l.version.clone())
        };
        if session.is_none() {
            return;
        }
        let req = self
            .http
            .delete(&self.url)
            .header("authorization", &self.auth);
        let _ = in_session(req, session, version).send().await;
    }

    /// Writes the messages of an SSE answer or stream to stdout as they come.
    async fn relay_events(&self, resp: reqwest::Response) -> Result<(), String> {
        let mut body = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("the portal's answer broke off ({e})"))?;
            buf.extend_from_slice(&chunk);
            for m in drain_events(&mut buf) {
                let _ = self.out.send(m);
            }
        }
        Ok(())
    }
}

/// A request of the session, once there is one.
fn in_session(
    mut req: reqwest::RequestBuilder,
    session: Option<String>,
    version: Option<String>,
) -> reqwest::RequestBuilder {
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    if let Some(v) = version {
        req = req.header("mcp-protocol-version", v);
    }
    req
}

/// Why the portal refused a message that got no JSON-RPC answer, and what to do.
fn refusal(status: reqwest::StatusCode, body: &[u8]) -> String {
    let said = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let hint = match status.as_u16() {
        401 => "; the token is missing, revoked or mistyped (portalctl token create --user U --scope mcp)",
        403 => "; the token may not use this portal's /mcp, or the origin is refused",
        404 => "; no such server for this token's user, or the session ended (restart the client)",
        _ => "",
    };
    format!("the portal answered HTTP {status}: {said}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_status_and_what_to_do() {
        let m = refusal(
            reqwest::StatusCode::UNAUTHORIZED,
            br#"{"error":{"class":"forbidden","message":"no valid token"}}"#,
        );
        assert!(m.contains("HTTP 401"), "{m}");
        assert!(m.contains("no valid token"), "{m}");
        assert!(m.contains("--scope mcp"), "{m}");
    }
}
