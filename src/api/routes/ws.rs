//! `GET /api/v1/ws`: the same events as `/api/v1/events`, over a WebSocket, one JSON
//! text message each: `{"event": "SERVER_STATUS_CHANGED", "data": {...}}`.
//!
//! The token comes as `Authorization: Bearer` or, since a browser cannot set headers on
//! a WebSocket, as a subprotocol `bearer.TOKEN` offered beside `mcp-portal`; the server
//! answers with `mcp-portal` alone, so the token is never echoed.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::events::{authorized, EventsQuery, Subscription};
use super::S;
use crate::api::ApiError;
use crate::engine::Engine;

/// The subprotocol the server selects.
pub const PROTOCOL: &str = "mcp-portal";

/// The prefix of the subprotocol that carries a token.
const TOKEN_PROTOCOL: &str = "bearer.";

/// Whether the request offers a `bearer.TOKEN` subprotocol (the guard counts a refusal
/// of one as a bad token, not as none).
pub(crate) fn offers_token(headers: &HeaderMap) -> bool {
    protocol_token(headers).is_some()
}

fn protocol_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(TOKEN_PROTOCOL).map(str::to_string))
}

/// The headers with the token of a `bearer.TOKEN` subprotocol as `Authorization`, when
/// the request has no `Authorization` of its own.
fn with_protocol_token(mut headers: HeaderMap) -> HeaderMap {
    if headers.contains_key(header::AUTHORIZATION) {
        return headers;
    }
    let token = protocol_token(&headers);
    if let Some(value) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
        headers.insert(header::AUTHORIZATION, value);
    }
    headers
}

pub(super) async fn ws<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let headers = with_protocol_token(headers);
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => {
            // Who asks is checked first, so that a plain GET answers as every route does.
            authorized(&state, &headers, q)?;
            return Err(ApiError::usage(format!(
                "this route speaks WebSocket ({e}); connect with a WebSocket client, or read the same events as server-sent events at /api/v1/events"
            )));
        }
    };
    let sub = Subscription::open(&state, &headers, q, false).await?;
    Ok(upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| forward(socket, sub))
        .into_response())
}

/// A ping this often on a quiet socket, so that a client gone away is noticed (and its
/// place freed) within seconds, as the SSE stream's comments do.
const PING: Duration = Duration::from_secs(5);

/// Sends the subscription's events until it ends or the client goes away.
async fn forward<E: Engine + 'static>(mut socket: WebSocket, mut sub: Subscription<E>) {
    let mut ping = tokio::time::interval(PING);
    ping.reset();
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            e = sub.next() => {
                let Some(e) = e else { break };
                let text = serde_json::to_string(&e).unwrap_or_default();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // The client's messages mean nothing here; pings are answered by axum.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    }
    // Ended by the server (the token no longer in force): say so, then close.
    let _ = socket
        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
            code: axum::extract::ws::close_code::POLICY,
            reason: "the token is no longer in force".into(),
        })))
        .await;
}
