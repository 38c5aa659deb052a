//! The router and what every handler shares: id parsing, JSON bodies, file labels, and
//! running a blocking manager call off the async threads.

mod admin;
mod catalogs;
mod events;
mod logs;
mod mcp;
mod metrics;
mod user;
mod ws;

pub(crate) use metrics::scrape;

pub(crate) use events::StreamCount;
pub(crate) use ws::offers_token;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{openapi, ApiError, ApiState};
use crate::engine::Engine;
use crate::error::ErrorClass;
use crate::ids::IdError;
use crate::manager::PortalError;

type S<E> = State<Arc<ApiState<E>>>;
type ApiResult = Result<axum::response::Response, ApiError>;

pub fn router<E: Engine + 'static>() -> Router<Arc<ApiState<E>>> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/api/v1/openapi.json", get(|| async { Json(openapi()) }))
        .route("/api/v1/events", get(events::events::<E>))
        .route("/api/v1/ws", get(ws::ws::<E>))
        .route(
            "/mcp",
            post(mcp::post_all::<E>)
                .get(mcp::get_all::<E>)
                .delete(mcp::delete_all::<E>),
        )
        .route(
            "/mcp/{server}",
            post(mcp::post_one::<E>)
                .get(mcp::get_one::<E>)
                .delete(mcp::delete_one::<E>),
        )
        .route("/metrics", get(metrics::metrics::<E>))
        .merge(super::web::router())
        .merge(user_routes())
        .merge(catalog_routes())
        .merge(admin_routes())
}

/// `/api/v1/users/{user}/...`: a user token for that user, or an admin token.
fn user_routes<E: Engine + 'static>() -> Router<Arc<ApiState<E>>> {
    use user as u;
    Router::new()
        .route("/api/v1/users/{user}/catalog", get(u::catalog::<E>))
        .route("/api/v1/users/{user}/servers", get(u::servers::<E>))
        .route("/api/v1/users/{user}/status", get(u::status::<E>))
        .route(
            "/api/v1/users/{user}/servers/{server}/enable",
            post(u::enable::<E>),
        )
        .route(
            "/api/v1/users/{user}/servers/{server}/disable",
            post(u::disable::<E>),
        )
        .route(
            "/api/v1/users/{user}/servers/{server}/restart",
            post(u::restart::<E>),
        )
        .route(
            "/api/v1/users/{user}/servers/{server}/logs",
            get(logs::logs::<E>),
        )
        .route("/api/v1/users/{user}/secrets", get(u::list_secrets::<E>))
        .route(
            "/api/v1/users/{user}/secrets/{name}",
            put(u::set_secret::<E>).delete(u::remove_secret::<E>),
        )
        .route(
            "/api/v1/users/{user}/custom",
            get(u::list_custom::<E>).post(u::add_custom::<E>),
        )
        .route(
            "/api/v1/users/{user}/custom/{server}",
            delete(u::remove_custom::<E>),
        )
}

/// What users' servers are merged from (admin).
fn catalog_routes<E: Engine + 'static>() -> Router<Arc<ApiState<E>>> {
    use catalogs as c;
    Router::new()
        .route(
            "/api/v1/admin/catalogs",
            get(c::list::<E>).post(c::upload::<E>),
        )
        .route(
            "/api/v1/admin/catalogs/{name}",
            put(c::update::<E>).delete(c::remove::<E>),
        )
        // Seed 004's names, beside the portal's own.
        .route("/api/v1/admin/catalogs/base", post(c::upload_base::<E>))
        .route(
            "/api/v1/admin/catalogs/base/{catalog_id}",
            put(c::update_base::<E>),
        )
        .route(
            "/api/v1/admin/catalogs/{name}/history",
            get(c::history::<E>),
        )
        .route(
            "/api/v1/admin/catalogs/{name}/rollback",
            post(c::rollback::<E>),
        )
        .route("/api/v1/admin/validate", post(c::validate::<E>))
        .route("/api/v1/admin/registry/import", post(c::import::<E>))
        .route(
            "/api/v1/admin/registry/validate",
            post(c::validate_registry::<E>),
        )
        .route("/api/v1/admin/overlays", get(c::list_overlays::<E>))
        .route(
            "/api/v1/admin/overlays/{name}",
            put(c::upload_overlay::<E>).delete(c::remove_overlay::<E>),
        )
}

/// People, access and the whole engine's view (admin).
fn admin_routes<E: Engine + 'static>() -> Router<Arc<ApiState<E>>> {
    use admin as a;
    Router::new()
        .route("/api/v1/admin/regenerate", post(a::regenerate_all::<E>))
        .route(
            "/api/v1/admin/users/{user}/regenerate",
            post(a::regenerate::<E>),
        )
        .route(
            "/api/v1/admin/users/{user}/catalogs/regenerate",
            post(a::regenerate::<E>),
        )
        .route("/api/v1/admin/status", get(a::status_all::<E>))
        .route("/api/v1/admin/gateway", get(a::gateway_stats::<E>))
        .route(
            "/api/v1/admin/users",
            get(a::list_users::<E>).post(a::add_user::<E>),
        )
        .route("/api/v1/admin/users/{user}", delete(a::remove_user::<E>))
        .route(
            "/api/v1/admin/users/{user}/limits",
            get(a::show_limits::<E>).put(a::user_limits::<E>),
        )
        .route(
            "/api/v1/admin/tokens",
            get(a::list_tokens::<E>).post(a::create_token::<E>),
        )
        .route("/api/v1/admin/tokens/{id}", delete(a::revoke_token::<E>))
        .route("/api/v1/admin/system/migration", post(a::migrate::<E>))
}

/// An id from the path or query, refused as a usage error naming what it is.
fn parse<T>(
    what: &str,
    value: &str,
    f: impl Fn(&str) -> Result<T, IdError>,
) -> Result<T, ApiError> {
    f(value).map_err(|e| ApiError::usage(format!("{what}: {e}")))
}

/// Runs a blocking manager call off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PortalError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorClass::Internal,
                format!("an internal task failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

/// A JSON body; an empty one is the type's default.
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    required_body(bytes)
}

/// A JSON body that must be there.
fn required_body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::usage(format!("request body: {e}")))
}

/// The name an uploaded file's problems are reported against (the remote CLI sends the
/// name the user typed, so messages read the same as on the host).
fn file_label(file: Option<String>, fallback: impl FnOnce() -> String) -> Result<String, ApiError> {
    match file {
        Some(f) if !f.is_empty() && f.len() <= 256 && !f.chars().any(char::is_control) => Ok(f),
        Some(_) => Err(ApiError::usage("file: use 1-256 printable characters")),
        None => Ok(fallback()),
    }
}

fn ok<T: Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}
