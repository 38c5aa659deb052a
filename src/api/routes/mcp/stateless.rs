//! The stateless generation (2026-07-28): each POST is one request that carries its
//! version and capabilities in `_meta` and its method (and name) in headers; there is no
//! session, no GET stream and no DELETE.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::reply::{self, json_rpc_error, status_only};
use super::{header, run};
use crate::api::ApiState;
use crate::engine::Engine;
use crate::gateway::protocol::{self, RoutingHeaders, HANDSHAKE_VERSIONS, STATELESS_VERSIONS};
use crate::gateway::rpc::{self, Incoming, RpcError};
use crate::gateway::{server_info, Caller};

/// What the gateway answers under 2026-07-28.
const METHODS: [&str; 11] = [
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
];

pub(super) async fn post<E: Engine + 'static>(
    state: &Arc<ApiState<E>>,
    headers: &HeaderMap,
    mut caller: Caller,
    msg: Value,
) -> Response {
    let single =
        || RpcError::invalid_request("the body must be one JSON-RPC request or notification");
    let (id, method, mut params) = match Incoming::parse(&msg) {
        Ok(Incoming::Request { id, method, params }) => (id, method, params),
        Ok(Incoming::Notification { .. }) => return status_only(StatusCode::ACCEPTED, None),
        Ok(Incoming::Response { .. }) => {
            return json_rpc_error(StatusCode::BAD_REQUEST, &Value::Null, &single())
        }
        Err(e) => {
            let e = if msg.is_array() { single() } else { e };
            return json_rpc_error(StatusCode::BAD_REQUEST, &Value::Null, &e);
        }
    };
    let routing = RoutingHeaders {
        version: header(headers, "mcp-protocol-version"),
        method: header(headers, "mcp-method"),
        name: header(headers, "mcp-name"),
    };
    caller.client = match protocol::check_stateless(&method, &params, routing) {
        Ok(c) => c,
        Err(e) => return json_rpc_error(StatusCode::BAD_REQUEST, &id, &e),
    };
    if !METHODS.contains(&method.as_str()) {
        return json_rpc_error(
            StatusCode::NOT_FOUND,
            &id,
            &RpcError::method_not_found(&method),
        );
    }
    let info = server_info();
    if method == "server/discover" {
        let (capabilities, instructions) = state.gateway.capabilities(&caller).await;
        let versions: Vec<&str> = STATELESS_VERSIONS
            .iter()
            .chain(HANDSHAKE_VERSIONS.iter().rev())
            .copied()
            .collect();
        let result = json!({
            "supportedVersions": versions,
            "capabilities": capabilities,
            "instructions": instructions,
        });
        let result = protocol::stateless_result(&method, result, &info);
        return reply::json(StatusCode::OK, &rpc::response(&id, result));
    }
    protocol::strip_envelope(&mut params);
    let with_progress = header(headers, "accept").is_some_and(|a| a.contains("text/event-stream"))
        && !params["_meta"]["progressToken"].is_null();
    let m = method.clone();
    let shape = move |r| protocol::stateless_result(&m, r, &info);
    let (call, progress) = run(
        state,
        caller,
        id,
        method,
        params,
        with_progress,
        shape,
        (),
        None,
    );
    reply::finish(call, progress).await
}
