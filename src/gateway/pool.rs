//! The gateway's connections to users' servers: at most one per container, made on first
//! use (concurrent first requests make it once), shared by all of that user's sessions,
//! made again when the container restarted, and dropped when unused for the idle time.
//! Each use is recorded for the daemon's idle shutdown; a server that is idle (stopped
//! by it, or enabled `--lazy`) is started by the first request, once, before it connects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use super::http::HttpUpstream;
use super::rpc::RpcError;
use super::sse::SseUpstream;
use super::stdio::{StdioUpstream, HANDSHAKE_TIMEOUT};
use crate::catalog::model::Transport;
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::manager::{Busy, McpTarget, Runtime, Woke};
use crate::plan::LABEL_PORT;

/// A connection to one server, whatever its transport.
#[derive(Debug, Clone)]
pub enum Upstream {
    Stdio(Arc<StdioUpstream>),
    Http(Arc<HttpUpstream>),
    Sse(Arc<SseUpstream>),
}

impl Upstream {
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        match self {
            Self::Stdio(u) => u.request(method, params, progress).await,
            Self::Http(u) => u.request(method, params, progress).await,
            Self::Sse(u) => u.request(method, params, progress).await,
        }
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<(), RpcError> {
        match self {
            Self::Stdio(u) => u.notify(method, params).await,
            Self::Http(u) => u.notify(method, params).await,
            Self::Sse(u) => u.notify(method, params).await,
        }
    }

    /// The server's answer to the gateway's own `initialize`.
    pub async fn initialized(&self) -> Value {
        match self {
            Self::Stdio(u) => u.initialized().clone(),
            Self::Http(u) => u.initialized().await,
            Self::Sse(u) => u.initialized().clone(),
        }
    }

    fn is_alive(&self) -> bool {
        match self {
            Self::Stdio(u) => u.is_alive(),
            Self::Http(u) => u.is_alive(),
            Self::Sse(u) => u.is_alive(),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Value> {
        match self {
            Self::Stdio(u) => u.subscribe(),
            Self::Http(u) => u.subscribe(),
            Self::Sse(u) => u.subscribe(),
        }
    }
}

/// A connection in use for one request: the server counts as busy (never idle) until
/// it drops.
#[derive(Debug)]
pub struct Conn {
    up: Upstream,
    _busy: Busy,
}

impl Conn {
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        self.up.request(method, params, progress).await
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<(), RpcError> {
        self.up.notify(method, params).await
    }

    pub async fn initialized(&self) -> Value {
        self.up.initialized().await
    }
}

/// A server notification for a user's sessions, with the server it came from.
pub type UserEvent = (ServerId, Value);

#[derive(Debug, Default)]
struct Slot {
    conn: tokio::sync::Mutex<Option<Upstream>>,
    used: Mutex<Option<Instant>>,
}

impl Slot {
    fn touch(&self) {
        *self.used.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn idle_for(&self) -> Duration {
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(Duration::MAX, |t| t.elapsed())
    }
}

#[derive(Debug)]
pub struct Pool<E> {
    rt: Arc<Runtime<E>>,
    slots: Mutex<HashMap<(UserId, ServerId), Arc<Slot>>>,
    events: Mutex<HashMap<UserId, broadcast::Sender<UserEvent>>>,
}

impl<E: Engine + 'static> Pool<E> {
    pub fn new(rt: Arc<Runtime<E>>) -> Self {
        Self {
            rt,
            slots: Mutex::new(HashMap::new()),
            events: Mutex::new(HashMap::new()),
        }
    }

    /// The server notifications of every connection of `user`'s.
    pub fn events(&self, user: &UserId) -> broadcast::Receiver<UserEvent> {
        self.user_events(user).subscribe()
    }

    fn user_events(&self, user: &UserId) -> broadcast::Sender<UserEvent> {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events
            .entry(user.clone())
            .or_insert_with(|| broadcast::channel(64).0)
            .clone()
    }

    /// The connection to a user's server, made when there is none or it died (starting
    /// the server first when it is idle).
    pub async fn get(&self, user: &UserId, target: &McpTarget) -> Result<Conn, RpcError> {
        let busy = self.rt.activity().begin(&target.container);
        let up = self.upstream(user, target).await?;
        Ok(Conn { up, _busy: busy })
    }

    /// The connection to a user's server if one is open, never made (nor the server
    /// started) for this: what a notification goes to.
    pub async fn open_conn(&self, user: &UserId, target: &McpTarget) -> Option<Conn> {
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(slots.get(&(user.clone(), target.server.clone()))?)
        };
        let busy = self.rt.activity().begin(&target.container);
        let conn = slot.conn.lock().await;
        let up = conn.as_ref().filter(|u| u.is_alive())?.clone();
        Some(Conn { up, _busy: busy })
    }

    async fn upstream(&self, user: &UserId, target: &McpTarget) -> Result<Upstream, RpcError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                slots
                    .entry((user.clone(), target.server.clone()))
                    .or_default(),
            )
        };
        slot.touch();
        let mut conn = slot.conn.lock().await;
        if let Some(up) = conn.as_ref().filter(|u| u.is_alive()) {
            return Ok(up.clone());
        }
        *conn = None;
        let up = self.connect(user, target).await?;
        let mut notes = up.subscribe();
        let events = self.user_events(user);
        let server = target.server.clone();
        // Ends when the connection goes (its sender is dropped with it).
        tokio::spawn(async move {
            loop {
                match notes.recv().await {
                    Ok(n) => {
                        let _ = events.send((server.clone(), n));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        *conn = Some(up.clone());
        Ok(up)
    }

    async fn connect(&self, user: &UserId, t: &McpTarget) -> Result<Upstream, RpcError> {
        let not_running = |state: &str| {
            RpcError::unavailable(format!(
                "server {} of user {user} is not running (container {} is {state}); start it with `portalctl restart {} --user {user}`",
                t.server, t.container, t.server
            ))
        };
        let engine = self.rt.engine();
        let c = engine
            .container(&t.container)
            .await
            .map_err(|e| RpcError::unavailable(format!("server {}: {e}", t.server)))?
            .ok_or_else(|| not_running("missing"))?;
        let woke = !c.running();
        // Who started it, when this request did: the start is audited once it answers.
        let mut started = None;
        let c = if !woke {
            c
        } else {
            // Idle or lazily enabled: started for this request. The slot's lock
            // is held meanwhile, so concurrent first requests start it once.
            let by = self.rt.portal().clone().with_actor(&format!("mcp:{user}"));
            let woke = self.rt.wake_by(&by, user, &t.server).await.map_err(|e| {
                RpcError::unavailable(format!(
                    "server {} of user {user} could not be started: {e}",
                    t.server
                ))
            })?;
            match woke {
                Woke::NotIdle => return Err(not_running(&c.state)),
                Woke::Started => started = Some(by),
                Woke::Running => {}
            }
            engine
                .container(&t.container)
                .await
                .map_err(|e| RpcError::unavailable(format!("server {}: {e}", t.server)))?
                .filter(|c| c.running())
                .ok_or_else(|| not_running("stopped right after it started"))?
        };
        let up = match self.handshake(t, &c, woke).await {
            Err(e) if woke => Err(RpcError::unavailable(format!(
                "server {} of user {user} could not be started: {}",
                t.server,
                self.why_not_answered(user, t, e).await
            ))),
            up => up,
        };
        if let Some(by) = started {
            let outcome = up.as_ref().map(drop).map_err(|e| e.message.clone());
            self.rt.woke_by(&by, user, &t.server, outcome).await;
        }
        up
    }

    /// Why a server just started did not answer `initialize`: how its container ended,
    /// when it did, which says more than the broken connection.
    async fn why_not_answered(&self, user: &UserId, t: &McpTarget, e: RpcError) -> String {
        match self.rt.engine().container(&t.container).await {
            Ok(Some(c)) if !c.running() => {
                let how = c
                    .exit_code
                    .map_or_else(|| c.state.clone(), |code| format!("exit code {code}"));
                format!(
                    "container {} exited before it answered initialize ({how}); see its output with `portalctl logs {} --user {user}`",
                    t.container, t.server
                )
            }
            _ => e.message,
        }
    }

    /// Connects to a running server and completes the gateway's `initialize`; one just
    /// started (`woke`) is asked again until it listens, within the handshake's bound.
    async fn handshake(
        &self,
        t: &McpTarget,
        c: &crate::engine::ContainerInfo,
        woke: bool,
    ) -> Result<Upstream, RpcError> {
        let engine = self.rt.engine();
        let not_running = |state: &str| {
            RpcError::unavailable(format!(
                "server {} is not running (container {} is {state})",
                t.server, t.container
            ))
        };
        match t.transport {
            Transport::Stdio => Ok(Upstream::Stdio(
                StdioUpstream::connect(engine, &t.container, t.server.as_str()).await?,
            )),
            Transport::StreamableHttp | Transport::Sse => {
                let port = c
                    .label(LABEL_PORT)
                    .ok_or_else(|| not_running("unpublished"))?;
                let bind = &self.rt.portal().config().runtime.bind_address;
                let host = if bind == "0.0.0.0" { "127.0.0.1" } else { bind };
                let base = format!("http://{host}:{port}");
                if t.transport == Transport::Sse {
                    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
                    loop {
                        match SseUpstream::connect(t.server.as_str(), &base).await {
                            Ok(up) => return Ok(Upstream::Sse(up)),
                            Err(_) if woke && Instant::now() < deadline => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                let url = format!("{base}/mcp");
                // A server just started may not listen yet: asked again until it answers
                // `initialize`, within the handshake's bound.
                let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
                loop {
                    match HttpUpstream::connect(t.server.as_str(), url.clone()).await {
                        Ok(up) => return Ok(Upstream::Http(up)),
                        Err(_) if woke && Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// Drops connections unused for `idle` (the attachment closes; the container stays).
    pub fn sweep(&self, idle: Duration) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|_, s| Arc::strong_count(s) > 1 || s.idle_for() < idle);
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .values()
            .filter(|s| s.conn.try_lock().map_or(true, |c| c.is_some()))
            .count()
    }
}
