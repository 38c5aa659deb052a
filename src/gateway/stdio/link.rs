//! The attachment's two tasks and what they share with the handle: the reader frames
//! the server's output into messages and routes each (answers to their calls, progress to
//! its caller, other notifications to subscribers, server requests answered); the writer
//! owns the container's stdin, so a server slow to read never stalls its own output.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::AbortHandle;

use super::lines::{Line, Lines};
use super::table::Table;
use crate::engine::{Attached, EngineError, Output};
use crate::gateway::rpc::{self, Incoming, RpcError};

/// Server notifications kept for a subscriber that falls behind; it then misses the oldest.
const NOTIFICATION_BACKLOG: usize = 64;

/// Logged lines are cut to this many bytes: a chatty server must not flood the log.
const LOG_EXCERPT: usize = 200;

/// What the handle and both tasks share.
pub(super) struct Shared {
    pub(super) server: String,
    table: Mutex<Table>,
    /// Whole lines (newline included) for the writer task, in order.
    outgoing: mpsc::UnboundedSender<Vec<u8>>,
    /// Taken when the attachment ends, so subscribers learn it (`RecvError::Closed`).
    notifications: Mutex<Option<broadcast::Sender<Value>>>,
    /// Turns false once, when the attachment ends.
    pub(super) alive: watch::Sender<bool>,
}

/// Starts both tasks over the attachment; their abort handles end them.
pub(super) fn spawn(server: &str, attached: Attached) -> (Arc<Shared>, [AbortHandle; 2]) {
    let (outgoing, lines) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        server: server.to_string(),
        table: Mutex::new(Table::new(attachment_prefix())),
        outgoing,
        notifications: Mutex::new(Some(broadcast::channel(NOTIFICATION_BACKLOG).0)),
        alive: watch::channel(true).0,
    });
    let reader = tokio::spawn(read(Arc::clone(&shared), attached.output));
    let writer = tokio::spawn(write(Arc::clone(&shared), attached.input, lines));
    (shared, [reader.abort_handle(), writer.abort_handle()])
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the table whole: every change is one call.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribers(&self) -> MutexGuard<'_, Option<broadcast::Sender<Value>>> {
        // Poison is harmless here: the value is replaced whole or not at all.
        self.notifications.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Server notifications from now on; closed at once if the attachment has ended.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Value> {
        match &*self.subscribers() {
            Some(subscribers) => subscribers.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Queues one message for the writer task.
    pub(super) fn send(&self, message: &Value) -> Result<(), RpcError> {
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        self.outgoing
            .send(line)
            .map_err(|_| self.not_running("its attachment closed"))
    }

    pub(super) fn not_running(&self, why: &str) -> RpcError {
        RpcError::unavailable(format!(
            "server {} is not running ({why}); retry once it runs again",
            self.server
        ))
    }

    /// Ends the attachment: every waiting call fails at once, new ones are refused.
    fn die(&self, why: String) {
        let Some(waiting) = self.lock().kill(why.clone()) else {
            return;
        };
        // Before the calls fail, so a caller that sees the error also sees `is_alive` false.
        self.alive.send_replace(false);
        self.subscribers().take();
        tracing::warn!(server = %self.server, reason = %why, calls = waiting.len(), "stdio server's attachment ended");
        let error = RpcError::unavailable(format!(
            "server {} stopped mid-call ({why}); retry once it runs again",
            self.server
        ));
        for reply in waiting {
            let _ = reply.send(Err(error.clone()));
        }
    }

    /// Routes one line of the server's stdout.
    fn line(&self, line: &[u8]) {
        let text = line.trim_ascii();
        if text.is_empty() {
            return;
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(Value::Array(batch)) => batch.into_iter().for_each(|m| self.message(m)),
            Ok(message) => self.message(message),
            Err(e) if text.starts_with(b"{") || text.starts_with(b"[") => {
                tracing::warn!(server = %self.server, error = %e, line = %excerpt(text), "stdout line is broken JSON, ignored");
            }
            // Banners and log lines some servers print on stdout.
            Err(_) => {
                tracing::debug!(server = %self.server, line = %excerpt(text), "stdout line is not JSON, ignored")
            }
        }
    }

    fn message(&self, mut message: Value) {
        match Incoming::parse(&message) {
            // The server could not read a message of ours: its call will wait in vain.
            Ok(Incoming::Response {
                id: Value::Null,
                result: Err(e),
            }) => {
                tracing::warn!(server = %self.server, error = %e, "server refused a message it could not read")
            }
            Ok(Incoming::Response { id, result }) => match self.lock().answer(&id) {
                Some(reply) => {
                    let _ = reply.send(result);
                }
                // A call cancelled meanwhile, or another attachment's call.
                None => tracing::debug!(server = %self.server, %id, "answer to no waiting call"),
            },
            Ok(Incoming::Notification { method, .. }) if method == "notifications/progress" => {
                let to = self.lock().progress(&mut message);
                match to {
                    Some(to) => {
                        let _ = to.send(message);
                    }
                    None => tracing::debug!(server = %self.server, "progress for no waiting call"),
                }
            }
            // The server gives up on a request of its own; the gateway answered those already.
            Ok(Incoming::Notification { method, .. }) if method == "notifications/cancelled" => {}
            Ok(Incoming::Notification { .. }) => {
                if let Some(subscribers) = &*self.subscribers() {
                    // No subscriber is fine: nobody is listening for changes yet.
                    let _ = subscribers.send(message);
                }
            }
            Ok(Incoming::Request { id, method, .. }) => {
                let answer = match method.as_str() {
                    "ping" => Ok(json!({})),
                    _ => Err(RpcError::new(
                        rpc::METHOD_NOT_FOUND,
                        format!(
                            "mcp-portal does not relay {method} from server {} to clients yet",
                            self.server
                        ),
                    )),
                };
                let _ = self.send(&rpc::reply(&id, answer));
            }
            Err(e) => {
                tracing::warn!(server = %self.server, error = %e.message, "stdout message is not JSON-RPC, ignored")
            }
        }
    }
}

/// The reader task: frames stdout into messages, logs stderr, and ends the attachment
/// when the output ends.
async fn read(shared: Arc<Shared>, mut output: BoxStream<'static, Result<Output, EngineError>>) {
    let (mut stdout, mut stderr) = (Lines::default(), Lines::default());
    let why = loop {
        match output.next().await {
            Some(Ok(Output::Stdout(chunk))) => {
                for line in stdout.push(&chunk) {
                    match line {
                        Line::Whole(line) => shared.line(&line),
                        Line::TooLong(bytes) => {
                            tracing::warn!(server = %shared.server, bytes, "stdout line too long, dropped")
                        }
                    }
                }
            }
            Some(Ok(Output::Stderr(chunk))) => {
                for line in stderr.push(&chunk) {
                    if let Line::Whole(line) = line {
                        tracing::debug!(server = %shared.server, line = %excerpt(&line), "stderr");
                    }
                }
            }
            Some(Err(e)) => break format!("its output failed: {e}"),
            None => break "its container exited".to_string(),
        }
    };
    // A last message a server wrote without a newline before it exited.
    if let Some(rest) = stdout.rest() {
        shared.line(&rest);
    }
    shared.die(why);
}

/// The writer task: writes queued lines to the container's stdin until the attachment ends.
async fn write(
    shared: Arc<Shared>,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
    mut lines: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut alive = shared.alive.subscribe();
    let writing = async {
        while let Some(line) = lines.recv().await {
            input.write_all(&line).await?;
            input.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::select! {
        written = writing => {
            if let Err(e) = written {
                shared.die(format!("its stdin closed: {e}"));
            }
        }
        // A write blocked on a server that stopped reading must not outlive it.
        _ = alive.wait_for(|alive| !*alive) => {}
    }
}

/// A prefix for the ids and tokens of one attachment: a counter keeps attachments in this
/// process apart, and a random part those of another process (a daemon and a CLI attached
/// to one container both see every answer).
fn attachment_prefix() -> String {
    static ATTACHMENTS: AtomicU64 = AtomicU64::new(0);
    let n = ATTACHMENTS.fetch_add(1, Ordering::Relaxed);
    // RandomState is seeded randomly: no cryptographic strength needed, only difference.
    let random = std::collections::hash_map::RandomState::new().hash_one(n);
    format!("mcp-portal-{:08x}-{n}-", random as u32)
}

fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(LOG_EXCERPT)];
    let text = String::from_utf8_lossy(cut);
    if cut.len() < line.len() {
        format!("{text}...")
    } else {
        text.into_owned()
    }
}
