//! The HTTP API (`portalctl serve --listen ADDR`): seed 004's endpoints under /api/v1 and
//! one endpoint for every command `portalctl` has (except `serve` and `secret
//! rotate-key`, which act on the host), bearer tokens with admin and user roles,
//! per-token rate limits, JSON errors, over plain TCP or TLS. In front of every route, a
//! guard budgets failed authentications per client address. Handlers are thin:
//! authorize, parse, call the manager (which audits), answer. The web dashboard (`web`)
//! is served beside the API, at `/` and `/ui/...`.

mod auth;
mod error;
mod guard;
mod listener;
mod openapi;
mod paths;
mod routes;
pub mod tls;
mod web;
mod wire;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use error::ApiError;
pub use listener::Listener;
pub use openapi::{openapi, Access, Route, ROUTES};
pub use wire::{MigrationBody, RegistryBody, RegistryEntry, ToolkitFile};

use crate::engine::Engine;
use crate::gateway::Gateway;
use crate::manager::{Portal, Runtime};
use crate::store::TokenRecord;

/// Request bodies above this are refused (413) before a handler sees them.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// What every handler shares: the portal, the container runtime over any [`Engine`]
/// (Docker in `serve`, a recording fake in tests), and the rate limiter.
#[derive(Debug)]
pub struct ApiState<E> {
    portal: Portal,
    rt: Arc<Runtime<E>>,
    limiter: auth::RateLimiter,
    /// The MCP gateway at `/mcp`, with its own per-token rate.
    gateway: Arc<Gateway<E>>,
    mcp_limiter: auth::RateLimiter,
    /// Failed authentications per client address, before any token is looked at.
    guard: guard::Guard,
    /// Event streams open per token.
    streams: routes::StreamCount,
    /// The web dashboard's signed-in browsers.
    sessions: web::Sessions,
}

tokio::task_local! {
    /// The client address of the request being handled, for the audit log.
    static CLIENT: IpAddr;
}

impl<E: Engine + 'static> ApiState<E> {
    pub fn new(portal: Portal, rt: Arc<Runtime<E>>, per_sec: f64) -> Self {
        let config = portal.config().gateway.clone();
        let api = portal.config().api.clone();
        Self {
            mcp_limiter: auth::RateLimiter::new(config.rate_per_sec),
            gateway: Gateway::new(Arc::clone(&rt), config),
            portal,
            rt,
            limiter: auth::RateLimiter::new(per_sec),
            guard: guard::Guard::new(&api),
            streams: routes::StreamCount::new(api.event_streams_per_token),
            sessions: web::Sessions::default(),
        }
    }

    /// The MCP gateway this API serves at `/mcp`.
    pub fn gateway(&self) -> &Arc<Gateway<E>> {
        &self.gateway
    }

    /// The portal acting as the token's user, for the audit log, with the address the
    /// request came from.
    fn as_caller(&self, token: &TokenRecord) -> Portal {
        self.portal
            .clone()
            .with_actor(&format!("api:{}", token.user))
            .with_client(CLIENT.try_with(IpAddr::to_string).ok())
    }
}

/// In front of every route but the two open ones: an address that spent its budget of
/// failed authentications is refused before its token is looked at, and an answer of
/// 401 spends one of that budget.
async fn guarded<E: Engine + 'static>(
    State(state): State<Arc<ApiState<E>>>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(req.uri().path(), "/healthz" | "/api/v1/openapi.json") {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let client = state.guard.client(peer, req.headers());
    if let Some(wait) = state.guard.limited(client) {
        return ApiError::rate_limited(
            format!("too many failed authentications from {client}; wait {wait} s"),
            wait,
        )
        .into_response();
    }
    let why = if req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
        || routes::offers_token(req.headers())
    {
        guard::Failure::UnknownToken
    } else {
        guard::Failure::NoToken
    };
    let response = CLIENT.scope(client, next.run(req)).await;
    if response.status() == axum::http::StatusCode::UNAUTHORIZED {
        if let Some((count, detail)) = state.guard.failed(client, why) {
            let portal = state.portal.clone().with_actor("api");
            // Written before the answer (once a minute per address at most), off the
            // async threads: a refused caller that reads the log finds its line.
            let _ = tokio::task::spawn_blocking(move || {
                portal.audit_refusals(&client.to_string(), count, detail);
            })
            .await;
        }
    }
    response
}

/// Counts each request by its route's pattern (`/api/v1/users/{user}/status`, never the
/// path, which names users) and status, with its duration.
async fn measured<E: Engine + 'static>(
    State(state): State<Arc<ApiState<E>>>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(String::new, |m| m.as_str().to_string());
    let response = next.run(req).await;
    state
        .portal
        .metrics()
        .api_request(&route, response.status().as_u16(), started.elapsed());
    response
}

pub fn router<E: Engine + 'static>(state: Arc<ApiState<E>>) -> Router {
    let root = paths::DataRoot::new(state.portal.store().root());
    routes::router()
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            measured::<E>,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response_with_state(
            root,
            paths::relative_paths,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            guarded::<E>,
        ))
        .with_state(state)
}

/// Serves `GET /metrics` alone, open, on its own address (`serve --metrics-listen`), until
/// `shutdown` completes.
pub async fn serve_metrics<E: Engine + 'static>(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState<E>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<Arc<ApiState<E>>>| async move {
                routes::scrape(&state).await
            }),
        )
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// How often the guard's pending audit lines are looked at.
const GUARD_SWEEP: Duration = Duration::from_secs(5);

/// Serves the API on `listener` (plain TCP, or TLS) until `shutdown` completes; then
/// writes the failures still counted to the audit log.
pub async fn serve<E: Engine + 'static>(
    listener: impl Into<Listener>,
    state: Arc<ApiState<E>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.gateway.spawn_sweeper();
    let sweeper = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(GUARD_SWEEP);
            loop {
                tick.tick().await;
                state.guard.flush(&state.portal, guard::WINDOW).await;
            }
        })
    };
    let listener = listener.into();
    state.sessions.set_secure(listener.is_tls());
    let ready = listener.start()?;
    let app = router(Arc::clone(&state)).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(axum::serve::ListenerExt::tap_io(ready, |_| {}), app)
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    state.guard.flush(&state.portal, Duration::ZERO).await;
    served
}
