//! Who is calling: bearer tokens, their role and user, and a token bucket per token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::HeaderMap;

use super::{ApiError, ApiState};
use crate::engine::Engine;
use crate::ids::UserId;
use crate::store::{TokenRecord, TokenRole, TokenScope};

/// A token bucket per API token: `per_sec` requests a second, bursts of twice that.
#[derive(Debug)]
pub(super) struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
    per_sec: f64,
    burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub(super) fn new(per_sec: f64) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            per_sec,
            burst: per_sec * 2.0,
        }
    }

    /// Takes one request from the token's bucket; when it is empty, `Err(seconds)`
    /// until the next request is allowed.
    fn allow(&self, token_id: &str) -> Result<(), u64> {
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
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy)]
pub(super) enum Need<'a> {
    /// Any valid token (the route serves the token's own user).
    Any,
    /// A token of this user, or an admin token.
    User(&'a UserId),
    Admin,
}

impl<E: Engine + 'static> ApiState<E> {
    /// The caller's token for an `/api` route: known, an `api` token, within its rate,
    /// and allowed what `need` says.
    pub(super) fn authorize(
        &self,
        headers: &HeaderMap,
        need: Need<'_>,
    ) -> Result<TokenRecord, ApiError> {
        let token = self.authenticate(headers)?;
        permit(token, need)
    }

    /// As [`Self::authorize`], for the GET streams the dashboard's scripts open (events
    /// and logs): without a bearer token, a signed-in session's token is the caller's.
    pub(super) async fn authorize_stream(
        &self,
        headers: &HeaderMap,
        need: Need<'_>,
    ) -> Result<TokenRecord, ApiError> {
        match self.stream_token(headers).await {
            Some(token) => permit(token, need),
            None => self.authorize(headers, need),
        }
    }

    /// The caller's token at the MCP gateway: known, of any scope, within the gateway's
    /// own rate.
    pub(crate) fn authenticate_mcp(&self, headers: &HeaderMap) -> Result<TokenRecord, ApiError> {
        self.authenticate_within(headers, &self.mcp_limiter)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<TokenRecord, ApiError> {
        self.authenticate_within(headers, &self.limiter)
    }

    /// The caller's token, of any scope, if it is known and within its rate. A failure
    /// is audited by the guard in front of every route (per client address, in bulk).
    fn authenticate_within(
        &self,
        headers: &HeaderMap,
        limiter: &RateLimiter,
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
            return Err(ApiError::unauthorized());
        };
        if let Err(wait) = limiter.allow(&token.id) {
            return Err(ApiError::rate_limited(
                "too many requests for this token; slow down",
                wait,
            ));
        }
        Ok(token)
    }
}

/// Whether `token` may do what `need` says: an `api` token, of the user or an admin.
fn permit(token: TokenRecord, need: Need<'_>) -> Result<TokenRecord, ApiError> {
    if token.scope != TokenScope::Api {
        return Err(ApiError::forbidden(
            "this token may only use the MCP gateway (/mcp); use an api token here",
        ));
    }
    let is_admin = token.role == TokenRole::Admin;
    match need {
        Need::Admin if !is_admin => Err(ApiError::forbidden("this endpoint needs an admin token")),
        Need::User(u) if !is_admin && &token.user != u => Err(ApiError::forbidden(
            "a user token acts on its own user only",
        )),
        _ => Ok(token),
    }
}
