//! The gateway's HTTP answers: JSON-RPC messages as JSON or as an SSE stream, bare
//! statuses, and plain-text refusals before any JSON-RPC is read.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::gateway::rpc::{self, RpcError};

pub(super) fn json(status: StatusCode, msg: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        msg.to_string(),
    )
        .into_response()
}

pub(super) fn json_rpc_error(status: StatusCode, id: &Value, e: &RpcError) -> Response {
    json(status, &rpc::error_response(id, e))
}

pub(super) fn plain(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], text + "\n").into_response()
}

pub(super) fn status_only(status: StatusCode, allow: Option<&'static str>) -> Response {
    let mut r = status.into_response();
    if let Some(a) = allow {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(a));
    }
    r
}

pub(super) fn with_session(mut r: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("mcp-session-id", v);
    }
    r
}

/// Aborts the call's task when the answer is dropped: a client that goes away cancels
/// its call (and the server is told), leaving nothing running.
pub(super) struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An SSE answer: each progress notification as it comes, then the final message.
pub(super) fn sse(progress: mpsc::UnboundedReceiver<Value>, call: JoinHandle<Value>) -> Response {
    struct Pending {
        progress: mpsc::UnboundedReceiver<Value>,
        call: AbortOnDrop<Value>,
        done: bool,
    }
    let start = Pending {
        progress,
        call: AbortOnDrop(call),
        done: false,
    };
    let events = futures_util::stream::unfold(start, |mut p| async move {
        if p.done {
            return None;
        }
        let msg = tokio::select! {
            Some(note) = p.progress.recv() => note,
            r = &mut p.call.0 => {
                p.done = true;
                r.unwrap_or_else(|e| rpc::error_response(&Value::Null, &RpcError::internal(e)))
            }
        };
        Some((Ok(message(&msg)), p))
    });
    sse_response(events)
}

pub(super) fn message(msg: &Value) -> Event {
    Event::default().event("message").data(msg.to_string())
}

pub(super) fn sse_response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
) -> Response {
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The answer to a call running as `call`: an SSE stream when progress may come first,
/// else the JSON message once it is done. Either way the call dies with the answer.
pub(super) async fn finish(
    call: JoinHandle<Value>,
    progress: Option<mpsc::UnboundedReceiver<Value>>,
) -> Response {
    if let Some(progress) = progress {
        return sse(progress, call);
    }
    let mut call = AbortOnDrop(call);
    let msg = (&mut call.0)
        .await
        .unwrap_or_else(|e| rpc::error_response(&Value::Null, &RpcError::internal(e)));
    json(StatusCode::OK, &msg)
}
