//! One user's stdio MCP server, reached through one long-lived attachment to its container
//! and shared by all of that user's sessions.
//!
//! The gateway initializes the server once and keeps the answer ([`StdioUpstream::initialized`])
//! for later client handshakes. Each call gets a gateway-made id (and progress token), so
//! concurrent sessions never see each other's answers; dropping a call's future cancels it
//! on the server. Server notifications that belong to no call go to every subscriber.
//!
//! Two tasks serve the attachment: a reader that frames the output into lines and routes
//! each message, and a writer that owns the container's stdin (so a server slow to read
//! never stalls its own output). Both end when the output ends or the last handle drops.

mod lines;
mod link;
mod table;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::AbortHandle;

use self::link::Shared;
use self::table::Call;
use crate::engine::{Attached, Engine, EngineError};
use crate::gateway::rpc::{self, RpcError};

/// The MCP revision the gateway asks servers for; a server may answer an older one.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// How long a server has to answer the gateway's `initialize`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("server {server} has no container {container}; enable it with `portalctl enable {server} --user USER`")]
    NoContainer { server: String, container: String },
    #[error("server {server} is not running (container {container} is {state}); the daemon restarts it, or run `portalctl restart {server} --user USER`")]
    NotRunning {
        server: String,
        container: String,
        state: String,
    },
    #[error("cannot attach to server {server}: {engine}; check that its container runs (`portalctl status`)")]
    Attach { server: String, engine: EngineError },
    #[error("server {server} did not answer initialize within {} s; see its output with `docker logs` and check that it speaks MCP over stdio", timeout.as_secs())]
    Timeout { server: String, timeout: Duration },
    #[error("server {server} failed initialize: {error}")]
    Initialize { server: String, error: RpcError },
    #[error(
        "server {server} answered initialize without a protocolVersion; check that it speaks MCP"
    )]
    NotMcp { server: String },
}

impl From<ConnectError> for RpcError {
    /// What a client is told when the gateway cannot reach its server.
    fn from(e: ConnectError) -> Self {
        RpcError::unavailable(e.to_string())
    }
}

/// A handle on one attached stdio server. Cheap to share behind an `Arc`; when the last
/// handle drops, both tasks end and the attachment closes (the container keeps running).
pub struct StdioUpstream {
    shared: Arc<Shared>,
    initialized: Value,
    tasks: [AbortHandle; 2],
}

impl std::fmt::Debug for StdioUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioUpstream")
            .field("server", &self.shared.server)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl StdioUpstream {
    /// Attaches to `container` and initializes its server; `server` names it in messages.
    /// A container that is not running is refused at once: Docker would accept the
    /// attachment and keep it silent until the container starts.
    pub async fn connect<E: Engine>(
        engine: &E,
        container: &str,
        server: &str,
    ) -> Result<Arc<Self>, ConnectError> {
        let attach_error = |engine| ConnectError::Attach {
            server: server.to_string(),
            engine,
        };
        match engine.container(container).await.map_err(attach_error)? {
            Some(info) if info.running() => {}
            Some(info) => {
                return Err(ConnectError::NotRunning {
                    server: server.to_string(),
                    container: container.to_string(),
                    state: info.state,
                })
            }
            None => {
                return Err(ConnectError::NoContainer {
                    server: server.to_string(),
                    container: container.to_string(),
                })
            }
        }
        let attached = engine.attach(container).await.map_err(attach_error)?;
        Self::over(server, attached).await
    }

    /// Initializes the server at the other end of any attachment: what `connect` does once
    /// attached, and what the tests use with an in-memory server.
    pub async fn over(server: &str, attached: Attached) -> Result<Arc<Self>, ConnectError> {
        let mut upstream = Self::start(server, attached);
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-portal", "version": env!("CARGO_PKG_VERSION")},
        });
        let result = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            upstream.request("initialize", params, None),
        )
        .await
        .map_err(|_| ConnectError::Timeout {
            server: server.to_string(),
            timeout: HANDSHAKE_TIMEOUT,
        })?
        .map_err(|error| ConnectError::Initialize {
            server: server.to_string(),
            error,
        })?;
        if !result.get("protocolVersion").is_some_and(Value::is_string) {
            return Err(ConnectError::NotMcp {
                server: server.to_string(),
            });
        }
        upstream
            .shared
            .send(&rpc::notification("notifications/initialized", Value::Null))
            .map_err(|error| ConnectError::Initialize {
                server: server.to_string(),
                error,
            })?;
        upstream.initialized = result;
        Ok(Arc::new(upstream))
    }

    /// Spawns the reader and writer tasks over the attachment, before any handshake.
    fn start(server: &str, attached: Attached) -> Self {
        let (shared, tasks) = link::spawn(server, attached);
        Self {
            shared,
            initialized: Value::Null,
            tasks,
        }
    }

    /// The server's name, as given to `connect`.
    pub fn server(&self) -> &str {
        &self.shared.server
    }

    /// The server's answer to the gateway's `initialize`: its protocol version,
    /// capabilities, server info and instructions.
    pub fn initialized(&self) -> &Value {
        &self.initialized
    }

    /// Calls `method` on the server and waits for its answer. A `_meta.progressToken` in
    /// `params` is replaced by one of the gateway's, and the server's
    /// `notifications/progress` messages for it go to `progress`, whole and with the
    /// caller's token restored (without `progress`, the token is removed). Dropping the
    /// future before it resolves cancels the call on the server.
    pub async fn request(
        &self,
        method: &str,
        mut params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        let (reply, answer) = oneshot::channel();
        let call = self
            .shared
            .lock()
            .open(&mut params, reply, progress)
            .map_err(|why| self.shared.not_running(&why))?;
        let guard = CallGuard {
            shared: &self.shared,
            call,
            // MCP forbids cancelling initialize; a failed handshake drops the attachment.
            cancellable: method != "initialize",
        };
        let id = Value::String(guard.call.id.clone());
        self.shared.send(&rpc::request(&id, method, params))?;
        match answer.await {
            Ok(result) => result,
            // The table drops a reply unanswered only when the upstream itself is gone.
            Err(_) => Err(self.shared.not_running("its attachment closed")),
        }
    }

    /// Forwards a client notification (`notifications/roots/list_changed`, ...). The
    /// gateway sends `notifications/initialized` itself once, and cancels a call when its
    /// future drops, so those two from clients are left out.
    pub async fn notify(&self, method: &str, params: Value) -> Result<(), RpcError> {
        if matches!(
            method,
            "notifications/initialized" | "notifications/cancelled"
        ) {
            tracing::debug!(server = %self.shared.server, method, "client notification not forwarded");
            return Ok(());
        }
        if let Some(why) = self.shared.lock().dead() {
            return Err(self.shared.not_running(why));
        }
        self.shared.send(&rpc::notification(method, params))
    }

    /// Server notifications that belong to no call: `notifications/tools/list_changed`,
    /// `notifications/resources/updated`, `notifications/message`, ... each as the whole
    /// message. The receiver closes when the attachment ends; one that falls more than 64
    /// behind misses the oldest (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.shared.subscribe()
    }

    /// False once the attachment ended (the container stopped or restarted): make a new
    /// upstream with `connect` then.
    pub fn is_alive(&self) -> bool {
        *self.shared.alive.borrow()
    }

    /// Resolves once the attachment has ended, for a pool that reattaches.
    pub async fn closed(&self) {
        let mut alive = self.shared.alive.subscribe();
        // The sender lives in `shared`, which `self` holds: it cannot close while we wait.
        let _ = alive.wait_for(|alive| !*alive).await;
    }

    #[cfg(test)]
    fn waiting(&self) -> (usize, usize) {
        self.shared.lock().waiting()
    }

    #[cfg(test)]
    fn tasks_finished(&self) -> bool {
        self.tasks.iter().all(AbortHandle::is_finished)
    }
}

impl Drop for StdioUpstream {
    fn drop(&mut self) {
        // The tasks hold the attachment: ending them closes it.
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Forgets a call however its future ends; when it ends unanswered, tells the server.
struct CallGuard<'a> {
    shared: &'a Shared,
    call: Call,
    cancellable: bool,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        let (waiting, alive) = {
            let mut table = self.shared.lock();
            (table.close(&self.call), table.dead().is_none())
        };
        if waiting && alive && self.cancellable {
            let cancelled = rpc::notification(
                "notifications/cancelled",
                json!({"requestId": self.call.id, "reason": "the client no longer waits for the answer"}),
            );
            // A failed send means the attachment is ending, which ends the call anyway.
            let _ = self.shared.send(&cancelled);
        }
    }
}
