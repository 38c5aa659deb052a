//! The HTTP API (`portalctl serve --listen ADDR`): seed 004's endpoints under /api/v1,
//! bearer tokens with admin and user roles, per-token rate limits, JSON errors. Handlers
//! are thin: authorize, validate, call the manager, answer.

mod error;
mod openapi;
mod routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::Router;

pub use error::ApiError;
pub use openapi::{openapi, Route, ROUTES};

use crate::engine::DockerEngine;
use crate::ids::UserId;
use crate::manager::{Portal, Runtime};
use crate::store::{TokenRecord, TokenRole};

/// Request bodies above this are refused (413) before a handler sees them.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A token bucket per API token.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct ApiState {
    portal: Portal,
    rt: Arc<Runtime<DockerEngine>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    per_sec: f64,
    burst: f64,
}

impl ApiState {
    pub fn new(portal: Portal, rt: Arc<Runtime<DockerEngine>>, per_sec: f64) -> Self {
        Self {
            portal,
            rt,
            buckets: Mutex::new(HashMap::new()),
            per_sec,
            burst: per_sec * 2.0,
        }
    }

    /// Takes one request from the token's bucket; false when it is empty.
    fn allow(&self, token_id: &str) -> bool {
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-update: the map is
        // still a valid map of buckets, so keep using it.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(token_id.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_sec).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Who is calling: a known token within its rate, allowed to act for `user` (its
    /// own, unless it is an admin token) and on admin routes only when admin.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        user: Option<&UserId>,
        admin: bool,
    ) -> Result<TokenRecord, ApiError> {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let token = match presented {
            Some(p) => self.portal.authenticate(p)?,
            None => None,
        };
        let Some(token) = token else {
            let why = if presented.is_some() {
                "unknown token"
            } else {
                "no token"
            };
            if let Err(e) =
                self.portal
                    .audit_outcome(None, "auth", "api", "refused", Some(why.into()))
            {
                tracing::warn!(error = %e, "cannot write the audit log");
            }
            return Err(ApiError::unauthorized());
        };
        if !self.allow(&token.id) {
            return Err(ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this token; slow down",
            ));
        }
        let is_admin = token.role == TokenRole::Admin;
        if admin && !is_admin {
            return Err(ApiError::forbidden("this endpoint needs an admin token"));
        }
        if let Some(u) = user {
            if !is_admin && &token.user != u {
                return Err(ApiError::forbidden(
                    "a user token acts on its own user only",
                ));
            }
        }
        Ok(token)
    }

    /// The portal acting as the token's user, for the audit log.
    fn as_caller(&self, token: &TokenRecord) -> Portal {
        self.portal
            .clone()
            .with_actor(&format!("api:{}", token.user))
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    routes::router()
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
