//! The HTTP API (`portalctl serve --listen ADDR`): seed 004's endpoints under /api/v1 and
//! one endpoint for every command `portalctl` has (except `serve` and `secret
//! rotate-key`, which act on the host), bearer tokens with admin and user roles,
//! per-token rate limits, JSON errors. Handlers are thin: authorize, parse, call the
//! manager (which audits), answer.

mod auth;
mod error;
mod openapi;
mod paths;
mod routes;
mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;

pub use error::ApiError;
pub use openapi::{openapi, Access, Route, ROUTES};
pub use wire::{RegistryBody, RegistryEntry};

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
}

impl<E: Engine + 'static> ApiState<E> {
    pub fn new(portal: Portal, rt: Arc<Runtime<E>>, per_sec: f64) -> Self {
        let config = portal.config().gateway.clone();
        Self {
            mcp_limiter: auth::RateLimiter::new(config.rate_per_sec),
            gateway: Gateway::new(Arc::clone(&rt), config),
            portal,
            rt,
            limiter: auth::RateLimiter::new(per_sec),
        }
    }

    /// The MCP gateway this API serves at `/mcp`.
    pub fn gateway(&self) -> &Arc<Gateway<E>> {
        &self.gateway
    }

    /// The portal acting as the token's user, for the audit log.
    fn as_caller(&self, token: &TokenRecord) -> Portal {
        self.portal
            .clone()
            .with_actor(&format!("api:{}", token.user))
    }
}

pub fn router<E: Engine + 'static>(state: Arc<ApiState<E>>) -> Router {
    let root = paths::DataRoot::new(state.portal.store().root());
    routes::router()
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response_with_state(
            root,
            paths::relative_paths,
        ))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve<E: Engine + 'static>(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState<E>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.gateway.spawn_sweeper();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
