//! The handshake generation (2025-03-26, 2025-06-18, 2025-11-25): `initialize` makes a
//! session whose id every later request carries; GET is that session's stream of server
//! notifications; DELETE ends it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Event;
use axum::response::Response;
use serde_json::{json, Value};

use super::reply::{self, json_rpc_error, status_only, with_session};
use super::{header, run};
use crate::api::ApiState;
use crate::engine::Engine;
use crate::gateway::protocol::{self, ClientInfo, HANDSHAKE_VERSIONS};
use crate::gateway::rpc::{self, Incoming, RpcError};
use crate::gateway::session::Session;
use crate::gateway::{server_info, Caller};

fn missing_session() -> Response {
    json_rpc_error(
        StatusCode::BAD_REQUEST,
        &Value::Null,
        &RpcError::invalid_request("missing Mcp-Session-Id; send initialize first"),
    )
}

fn unknown_session() -> Response {
    json_rpc_error(
        StatusCode::NOT_FOUND,
        &Value::Null,
        &RpcError::invalid_request("session not found (it ended or expired); initialize again"),
    )
}

/// The caller's session named by the request, or the answer that says why not.
fn session<E: Engine + 'static>(
    state: &ApiState<E>,
    headers: &HeaderMap,
    caller: &Caller,
) -> Result<Arc<Session>, Response> {
    let id = header(headers, "mcp-session-id").ok_or_else(missing_session)?;
    let s = state
        .gateway
        .sessions
        .get(id, &caller.user, caller.only.as_ref())
        .ok_or_else(unknown_session)?;
    if let Some(v) = header(headers, "mcp-protocol-version") {
        if !HANDSHAKE_VERSIONS.contains(&v) && v != s.version {
            let e = RpcError::invalid_request(format!(
                "unsupported MCP-Protocol-Version {v:?}; this session speaks {}",
                s.version
            ));
            return Err(json_rpc_error(StatusCode::BAD_REQUEST, &Value::Null, &e));
        }
    }
    Ok(s)
}

pub(super) async fn post<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    headers: &HeaderMap,
    mut caller: Caller,
    msg: Value,
) -> Response {
    if let Value::Array(batch) = msg {
        return post_batch(state, headers, caller, batch).await;
    }
    let incoming = match Incoming::parse(&msg) {
        Ok(i) => i,
        Err(e) => return json_rpc_error(StatusCode::BAD_REQUEST, &Value::Null, &e),
    };
    if let Incoming::Request { id, method, params } = &incoming {
        if method == "initialize" {
            return initialize(state, caller, id, params).await;
        }
    }
    let session = match session(state, headers, &caller) {
        Ok(s) => s,
        Err(r) => return r,
    };
    caller.client = session.client.clone();
    match incoming {
        Incoming::Request { id, method, params } => {
            let sse = wants_progress(headers, &params);
            let (call, progress) = start(state, &session, caller, id, method, params, sse);
            let r = reply::finish(call, progress).await;
            with_session(r, &session.id)
        }
        other => {
            note(state, &session, &caller, other).await;
            status_only(StatusCode::ACCEPTED, None)
        }
    }
}

/// The most messages one batch may hold: each is a call, and the rate limit counts the
/// POST once.
const MAX_BATCH: usize = 32;

/// A JSON-RPC batch, which only protocol 2025-03-26 has: its requests run at once and
/// their answers come back together, as one array (no progress: there is no stream).
async fn post_batch<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    headers: &HeaderMap,
    mut caller: Caller,
    batch: Vec<Value>,
) -> Response {
    let session = match session(state, headers, &caller) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if session.version != "2025-03-26" || batch.is_empty() || batch.len() > MAX_BATCH {
        let e = RpcError::invalid_request(format!(
            "batches are served to sessions of protocol 2025-03-26 only (this one speaks {}), of 1 to {MAX_BATCH} messages; send one message per POST",
            session.version
        ));
        return json_rpc_error(StatusCode::BAD_REQUEST, &Value::Null, &e);
    }
    caller.client = session.client.clone();
    let mut answers = Vec::new();
    let mut calls = Vec::new();
    for msg in batch {
        match Incoming::parse(&msg) {
            Err(e) => answers.push(rpc::error_response(&Value::Null, &e)),
            Ok(Incoming::Request { id, method, .. }) if method == "initialize" => {
                let e = RpcError::invalid_request("initialize cannot be part of a batch");
                answers.push(rpc::error_response(&id, &e));
            }
            Ok(Incoming::Request { id, method, params }) => {
                let c = caller.clone();
                let call = start(state, &session, c, id, method, params, false).0;
                // Dropping this handler (the client went) aborts the calls with it.
                calls.push(reply::AbortOnDrop(call));
            }
            Ok(other) => note(state, &session, &caller, other).await,
        }
    }
    if answers.is_empty() && calls.is_empty() {
        return with_session(status_only(StatusCode::ACCEPTED, None), &session.id);
    }
    for mut call in calls {
        let msg = (&mut call.0)
            .await
            .unwrap_or_else(|e| rpc::error_response(&Value::Null, &RpcError::internal(e)));
        answers.push(msg);
    }
    with_session(
        reply::json(StatusCode::OK, &Value::Array(answers)),
        &session.id,
    )
}

/// Starts a session's request as a task, remembered for `notifications/cancelled` until
/// the task ends (which may be after this returns: an SSE answer streams on).
fn start<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    session: &Arc<Session>,
    caller: Caller,
    id: Value,
    method: String,
    params: Value,
    sse: bool,
) -> (
    tokio::task::JoinHandle<Value>,
    Option<tokio::sync::mpsc::UnboundedReceiver<Value>>,
) {
    let key = id.to_string();
    let forget = session.forget_on_drop(key.clone());
    // The task forgets the call only after it is remembered here, however fast it ends.
    let (remembered, ready) = tokio::sync::oneshot::channel();
    let (call, progress) = run(
        state,
        caller,
        id,
        method,
        params,
        sse,
        protocol::handshake_result,
        forget,
        Some(ready),
    );
    session.started(key, call.abort_handle());
    let _ = remembered.send(());
    (call, progress)
}

/// A client notification (or an answer, which has nothing to go to: the gateway sends
/// clients no requests).
async fn note<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    session: &Session,
    caller: &Caller,
    incoming: Incoming,
) {
    let Incoming::Notification { method, params } = incoming else {
        return;
    };
    match method.as_str() {
        "notifications/cancelled" => {
            if let Some(id) = params.get("requestId") {
                session.cancel(&id.to_string());
            }
        }
        "notifications/initialized" => {}
        _ => state.gateway.notify(caller, &method, params).await,
    }
}

/// An SSE answer is worth it only when progress notifications may come before it.
fn wants_progress(headers: &HeaderMap, params: &Value) -> bool {
    header(headers, "accept").is_some_and(|a| a.contains("text/event-stream"))
        && !params["_meta"]["progressToken"].is_null()
}

async fn initialize<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    mut caller: Caller,
    id: &Value,
    params: &Value,
) -> Response {
    let version = protocol::negotiate(params.get("protocolVersion").and_then(Value::as_str));
    caller.client = ClientInfo::from_value(params.get("clientInfo"));
    let (capabilities, instructions) = state.gateway.capabilities(&caller).await;
    let session = state.gateway.sessions.create(
        &caller.token,
        &caller.user,
        caller.only.clone(),
        version,
        caller.client.clone(),
    );
    tracing::info!(user = %caller.user, client = %caller.client.label(), version, "MCP session started");
    let result = json!({
        "protocolVersion": version,
        "capabilities": capabilities,
        "serverInfo": server_info(),
        "instructions": instructions,
    });
    with_session(
        reply::json(StatusCode::OK, &rpc::response(id, result)),
        &session.id,
    )
}

/// GET: the session's stream of its servers' notifications, until the session ends.
pub(super) fn stream<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    headers: &HeaderMap,
    caller: Caller,
) -> Response {
    let session = match session(state, headers, &caller) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let events = state.gateway.pool.events(&caller.user);
    let gateway = Arc::clone(&state.gateway);
    let sid = session.id.clone();
    let only = session.only.clone();
    // The session is busy while its client listens; the guard goes with the stream.
    let listening = session.stream();
    drop(session);
    let stream =
        futures_util::stream::unfold((events, listening), move |(mut events, listening)| {
            let gateway = Arc::clone(&gateway);
            let sid = sid.clone();
            let only = only.clone();
            async move {
                loop {
                    let next = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
                    if !gateway.sessions.exists(&sid) {
                        return None;
                    }
                    match next {
                        Ok(Ok((server, note))) if only.as_ref().is_none_or(|o| o == &server) => {
                            let out: Result<Event, Infallible> = Ok(reply::message(&note));
                            return Some((out, (events, listening)));
                        }
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                        _ => continue,
                    }
                }
            }
        });
    reply::sse_response(stream)
}

/// DELETE: ends the session.
pub(super) fn end<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    headers: &HeaderMap,
    caller: &Caller,
) -> Response {
    match session(state, headers, caller) {
        Ok(s) => {
            state.gateway.sessions.remove(&s.id);
            status_only(StatusCode::OK, None)
        }
        Err(r) => r,
    }
}
