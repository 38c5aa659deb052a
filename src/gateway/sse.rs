//! The gateway's connection to a server of the old SSE transport (protocol 2024-11-05,
//! catalog `transport: sse`): one `GET /sse` stream per container, whose `endpoint`
//! event names where messages are POSTed, and on which every answer and notification
//! comes back. Answers are matched to their call by id (the gateway's own ids, so calls
//! of many sessions never meet), progress to its call by progress token, and the rest
//! goes to subscribers. The client sees the version it asked for: the gateway answers
//! handshakes itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::AbortHandle;

use super::http::{drain_events, outcome, take_event};
use super::rpc::{self, RpcError};

const PROTOCOL_VERSION: &str = "2024-11-05";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Waiting = Mutex<HashMap<u64, oneshot::Sender<Value>>>;
/// By the gateway's own progress token: the client's token, and where its progress goes.
type Progress = Mutex<HashMap<String, (Value, mpsc::UnboundedSender<Value>)>>;

#[derive(Debug)]
pub struct SseUpstream {
    server: String,
    post_url: String,
    client: reqwest::Client,
    next_id: AtomicU64,
    shared: Arc<Shared>,
    initialized: Value,
    reader: AbortHandle,
}

/// What the stream's reader and the callers share.
#[derive(Debug)]
struct Shared {
    waiting: Waiting,
    progress: Progress,
    alive: AtomicBool,
    notifications: broadcast::Sender<Value>,
}

impl Drop for SseUpstream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl SseUpstream {
    /// Opens `base/sse`, learns the message endpoint, and initializes the server.
    pub async fn connect(server: &str, base: &str) -> Result<Arc<Self>, RpcError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| RpcError::internal(format!("http client: {e}")))?;
        let unreachable = |e: String| {
            RpcError::unavailable(format!(
                "server {server} cannot be reached at {base}/sse ({e}); check that it runs (`portalctl status`)"
            ))
        };
        let resp = client
            .get(format!("{base}/sse"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unreachable(format!("HTTP {}", resp.status())));
        }
        let mut body = resp.bytes_stream();
        let mut buf = Vec::new();
        let endpoint = tokio::time::timeout(CONNECT_TIMEOUT, async {
            while let Some(chunk) = body.next().await {
                buf.extend_from_slice(chunk.ok()?.as_ref());
                if let Some(e) = endpoint_event(&mut buf) {
                    return Some(e);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| unreachable("no endpoint event on its stream".into()))?;
        // Only the server's own origin: an endpoint elsewhere would make the portal's host
        // POST wherever a (custom) server points it.
        let post_url = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            let own = endpoint
                .strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if !own {
                return Err(unreachable(format!(
                    "its endpoint {endpoint} is not on {base}; the gateway posts only to the server itself"
                )));
            }
            endpoint
        } else {
            format!("{base}/{}", endpoint.trim_start_matches('/'))
        };
        let shared = Arc::new(Shared {
            waiting: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            alive: AtomicBool::new(true),
            notifications: broadcast::channel(64).0,
        });
        let reader = tokio::spawn(read_stream(body, buf, Arc::clone(&shared))).abort_handle();
        let mut up = Self {
            server: server.to_string(),
            post_url,
            client,
            next_id: AtomicU64::new(1),
            shared,
            initialized: Value::Null,
            reader,
        };
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": super::server_info(),
        });
        up.initialized = up.request("initialize", params, None).await?;
        up.notify("notifications/initialized", json!({})).await?;
        Ok(Arc::new(up))
    }

    pub fn initialized(&self) -> &Value {
        &self.initialized
    }

    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Relaxed)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.shared.notifications.subscribe()
    }

    pub async fn request(
        &self,
        method: &str,
        params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(id, tx);
        // Many sessions share this stream and may all pick progress token 1: the server
        // sees one of ours, and the client gets its own back on each notification.
        let mut params = params;
        let token = match (params["_meta"].get("progressToken").cloned(), progress) {
            (Some(theirs), Some(p)) => {
                let ours = format!("gw-{id}");
                params["_meta"]["progressToken"] = Value::String(ours.clone());
                lock(&self.shared.progress)
                    .insert(Value::String(ours.clone()).to_string(), (theirs, p));
                Some(Value::String(ours).to_string())
            }
            _ => None,
        };
        // Forgotten however the call ends, also when it is dropped mid-way.
        let _forget = Forget {
            shared: &self.shared,
            id,
            token,
        };
        self.post(&rpc::request(&Value::from(id), method, params))
            .await?;
        match rx.await {
            Ok(msg) => outcome(&self.server, msg),
            Err(_) => Err(RpcError::unavailable(format!(
                "server {} closed its SSE stream before answering {method}; retry once it runs again",
                self.server
            ))),
        }
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<(), RpcError> {
        self.post(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    async fn post(&self, body: &Value) -> Result<(), RpcError> {
        let resp = self
            .client
            .post(&self.post_url)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                self.shared.alive.store(false, Ordering::Relaxed);
                RpcError::unavailable(format!(
                    "server {} cannot be reached at {} ({e}); check that it runs (`portalctl status`)",
                    self.server, self.post_url
                ))
            })?;
        if !resp.status().is_success() {
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                self.shared.alive.store(false, Ordering::Relaxed);
            }
            return Err(RpcError::unavailable(format!(
                "server {} refused a message with HTTP {}; see its log (`docker logs`) and `portalctl status`",
                self.server,
                resp.status()
            )));
        }
        Ok(())
    }
}

struct Forget<'a> {
    shared: &'a Shared,
    id: u64,
    token: Option<String>,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.shared.waiting).remove(&self.id);
        if let Some(t) = &self.token {
            lock(&self.shared.progress).remove(t);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the stream to its end: answers to their callers, progress to its call, other
/// notifications to subscribers. When it ends, every waiting call fails.
async fn read_stream<B: AsRef<[u8]>>(
    mut body: impl futures_util::Stream<Item = reqwest::Result<B>> + Unpin,
    mut buf: Vec<u8>,
    shared: Arc<Shared>,
) {
    loop {
        for msg in drain_events(&mut buf) {
            dispatch(&shared, msg);
        }
        match body.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(chunk.as_ref()),
            _ => break,
        }
    }
    shared.alive.store(false, Ordering::Relaxed);
    lock(&shared.waiting).clear();
}

fn dispatch(shared: &Shared, msg: Value) {
    if msg.get("method").is_none() {
        if let Some(id) = msg.get("id").and_then(Value::as_u64) {
            if let Some(tx) = lock(&shared.waiting).remove(&id) {
                let _ = tx.send(msg);
            }
        }
        return;
    }
    if msg["method"] == "notifications/progress" {
        let mut msg = msg;
        if let Some(t) = msg["params"].get("progressToken").map(Value::to_string) {
            if let Some((theirs, p)) = lock(&shared.progress).get(&t) {
                msg["params"]["progressToken"] = theirs.clone();
                let _ = p.send(msg);
            }
        }
        return;
    }
    if msg.get("id").is_none() {
        let _ = shared.notifications.send(msg);
    }
}

/// The data of the first `endpoint` event in `buf`, taking the events before it off and
/// leaving those after it for the stream's reader.
fn endpoint_event(buf: &mut Vec<u8>) -> Option<String> {
    while let Some(event) = take_event(buf) {
        if event.lines().any(|l| l.trim() == "event: endpoint") {
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect();
            return Some(data);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_event_is_found_after_others_and_keeps_what_follows() {
        // CRLF line ends, as sse-starlette (the Python SDK's servers) writes them.
        let mut buf =
            b": hello\r\n\r\nevent: endpoint\r\ndata: /messages?session=3\r\n\r\nevent: message\ndata: {}\n\n"
                .to_vec();
        assert_eq!(
            endpoint_event(&mut buf).as_deref(),
            Some("/messages?session=3")
        );
        assert_eq!(buf, b"event: message\ndata: {}\n\n");
        let mut none = b"event: message\ndata: {}\n\n".to_vec();
        assert_eq!(endpoint_event(&mut none), None);
    }

    #[test]
    fn answers_reach_their_call_and_progress_its_token() {
        let shared = Shared {
            waiting: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            alive: AtomicBool::new(true),
            notifications: broadcast::channel(4).0,
        };
        let (tx, mut rx) = oneshot::channel();
        lock(&shared.waiting).insert(5, tx);
        let (ptx, mut prx) = mpsc::unbounded_channel();
        lock(&shared.progress).insert("\"gw-5\"".into(), (json!(1), ptx));
        let mut notes = shared.notifications.subscribe();
        dispatch(
            &shared,
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "gw-5", "progress": 1}}),
        );
        dispatch(
            &shared,
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
        );
        dispatch(
            &shared,
            json!({"jsonrpc": "2.0", "id": 5, "result": {"ok": true}}),
        );
        let p = prx.try_recv().unwrap();
        assert_eq!(p["params"]["progress"], 1);
        assert_eq!(
            p["params"]["progressToken"], 1,
            "the client's own token is back"
        );
        assert_eq!(
            notes.try_recv().unwrap()["method"],
            "notifications/tools/list_changed"
        );
        assert_eq!(rx.try_recv().unwrap()["result"]["ok"], true);
    }
}
