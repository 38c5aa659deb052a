//! `/mcp` and `/mcp/{server}`: the MCP gateway's HTTP side (Streamable HTTP). Every
//! request is checked in the same order: `Host`, `Origin`, the bearer token (any scope;
//! the user comes from it, never from the URL), the body's size; then the protocol
//! generation the client speaks picks `handshake` or `stateless`.

// The `Err` of these checks is the answer itself, made once per refused request and
// returned straight to axum: boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod handshake;
mod reply;
mod stateless;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::S;
use crate::api::{ApiError, ApiState};
use crate::engine::Engine;
use crate::gateway::protocol;
use crate::gateway::rpc::RpcError;
use crate::gateway::Caller;
use crate::ids::ServerId;
use reply::{json_rpc_error, status_only};

/// A call that took longer than the request timeout.
const REQUEST_TIMEOUT: i64 = -32001;

/// Runs one request for the caller, within the request timeout, as a task (which the
/// answer aborts when it is dropped); `shape` fits the result to the client's generation,
/// and `held` is dropped when the task ends, however it ends, but not before `ready`
/// fires (so that what `held` undoes on drop has been done first).
#[allow(clippy::too_many_arguments)]
pub(super) fn run<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    caller: Caller,
    id: Value,
    method: String,
    params: Value,
    with_progress: bool,
    shape: impl Fn(Value) -> Value + Send + 'static,
    held: impl Send + 'static,
    ready: Option<tokio::sync::oneshot::Receiver<()>>,
) -> (
    tokio::task::JoinHandle<Value>,
    Option<tokio::sync::mpsc::UnboundedReceiver<Value>>,
) {
    let (tx, rx) = if with_progress {
        let (t, r) = tokio::sync::mpsc::unbounded_channel();
        (Some(t), Some(r))
    } else {
        (None, None)
    };
    let gateway = Arc::clone(&state.gateway);
    let secs = gateway.config.request_timeout_secs;
    let guard = gateway.track();
    let call = tokio::spawn(async move {
        let _held = (guard, held);
        let answer = gateway.call(&caller, &method, params, tx);
        let r = match tokio::time::timeout(std::time::Duration::from_secs(secs), answer).await {
            Ok(r) => r,
            Err(_) => Err(RpcError::new(
                REQUEST_TIMEOUT,
                format!("{method} took longer than {secs} s (MCP_PORTAL_MCP_REQUEST_TIMEOUT_SECS) and was cancelled"),
            )),
        };
        if let Some(ready) = ready {
            let _ = ready.await;
        }
        crate::gateway::rpc::reply(&id, r.map(shape))
    });
    (call, rx)
}

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `localhost:8080` → `localhost`, `[::1]:8080` → `[::1]`.
fn host_part(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.split(':').next().unwrap_or(host)
}

/// DNS rebinding and foreign pages: a `Host` the gateway is not known by is misdirected
/// (421), an `Origin` that is neither allowed nor one of those hosts is forbidden (403).
fn check_peer<E>(state: &ApiState<E>, headers: &HeaderMap) -> Result<(), Response> {
    let cfg = &state.gateway.config;
    let allowed = |host: &str| {
        cfg.allowed_hosts
            .iter()
            .any(|h| h == "*" || h.eq_ignore_ascii_case(host_part(host)))
    };
    let host = header(headers, "host").unwrap_or_default();
    if !allowed(host) {
        let msg = format!(
            "host {host:?} is not one this gateway answers; add it to MCP_PORTAL_MCP_ALLOWED_HOSTS"
        );
        return Err(reply::plain(StatusCode::MISDIRECTED_REQUEST, msg));
    }
    if let Some(origin) = header(headers, "origin") {
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        let ok = cfg.allowed_origins.iter().any(|o| o == origin) || allowed(origin_host);
        if !ok {
            let msg = format!("origin {origin:?} may not use this gateway; add it to MCP_PORTAL_MCP_ALLOWED_ORIGINS");
            return Err(reply::plain(StatusCode::FORBIDDEN, msg));
        }
    }
    Ok(())
}

/// The caller, or the answer that refuses them.
fn caller<E: Engine + 'static>(
    state: &ApiState<E>,
    headers: &HeaderMap,
    only: Option<String>,
) -> Result<Caller, Response> {
    check_peer(state, headers)?;
    let token = state
        .authenticate_mcp(headers)
        .map_err(ApiError::into_response)?;
    let only = match only {
        Some(s) => Some(
            ServerId::parse(&s)
                .map_err(|_| reply::plain(StatusCode::NOT_FOUND, format!("no server {s:?}")))?,
        ),
        None => None,
    };
    Ok(Caller {
        user: token.user,
        token: token.id,
        only,
        client: protocol::ClientInfo::default(),
    })
}

async fn read_body(state: &ApiState<impl Sized>, body: Body) -> Result<Value, Response> {
    let limit = state.gateway.config.max_message_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        reply::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the message is larger than {limit} bytes (MCP_PORTAL_MCP_MAX_MESSAGE_BYTES)"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        json_rpc_error(
            StatusCode::BAD_REQUEST,
            &Value::Null,
            &RpcError::parse_error(e),
        )
    })
}

async fn post<E: Engine + 'static>(
    state: Arc<ApiState<E>>,
    headers: HeaderMap,
    only: Option<String>,
    body: Body,
) -> Response {
    let caller = match caller(&state, &headers, only) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let msg = match read_body(&state, body).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    if protocol::is_stateless(header(&headers, "mcp-protocol-version")) {
        stateless::post(&state, &headers, caller, msg).await
    } else {
        handshake::post(&state, &headers, caller, msg).await
    }
}

async fn get_stream<E: Engine + 'static>(
    state: Arc<ApiState<E>>,
    headers: HeaderMap,
    only: Option<String>,
) -> Response {
    let caller = match caller(&state, &headers, only) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if protocol::is_stateless(header(&headers, "mcp-protocol-version")) {
        return status_only(StatusCode::METHOD_NOT_ALLOWED, Some("POST"));
    }
    handshake::stream(&state, &headers, caller)
}

async fn delete<E: Engine + 'static>(
    state: Arc<ApiState<E>>,
    headers: HeaderMap,
    only: Option<String>,
) -> Response {
    let caller = match caller(&state, &headers, only) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if protocol::is_stateless(header(&headers, "mcp-protocol-version")) {
        return status_only(StatusCode::METHOD_NOT_ALLOWED, Some("POST"));
    }
    handshake::end(&state, &headers, &caller)
}

pub(super) async fn post_all<E: Engine + 'static>(
    State(state): S<E>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    post(state, headers, None, body).await
}

pub(super) async fn post_one<E: Engine + 'static>(
    State(state): S<E>,
    Path(server): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    post(state, headers, Some(server), body).await
}

pub(super) async fn get_all<E: Engine + 'static>(
    State(state): S<E>,
    headers: HeaderMap,
) -> Response {
    get_stream(state, headers, None).await
}

pub(super) async fn get_one<E: Engine + 'static>(
    State(state): S<E>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    get_stream(state, headers, Some(server)).await
}

pub(super) async fn delete_all<E: Engine + 'static>(
    State(state): S<E>,
    headers: HeaderMap,
) -> Response {
    delete(state, headers, None).await
}

pub(super) async fn delete_one<E: Engine + 'static>(
    State(state): S<E>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    delete(state, headers, Some(server)).await
}
