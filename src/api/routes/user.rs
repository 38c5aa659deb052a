//! Routes of one user (`/api/v1/users/{user}/...`): their catalog, servers, containers,
//! secrets and custom servers. A user token reaches its own user only.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, body, file_label, ok, parse, ApiResult, S};
use crate::api::auth::Need;
use crate::api::ApiError;
use crate::engine::Engine;
use crate::error::ErrorClass;
use crate::ids::{SecretName, ServerId, UserId};
use crate::plan::Settings;
use crate::secrets::SecretValue;

fn user_id(user: &str) -> Result<UserId, ApiError> {
    parse("user", user, UserId::parse)
}

pub(super) fn user_server(user: &str, server: &str) -> Result<(UserId, ServerId), ApiError> {
    Ok((user_id(user)?, parse("server", server, ServerId::parse)?))
}

#[derive(Debug, Deserialize)]
pub(super) struct CatalogQuery {
    category: Option<String>,
    #[serde(default)]
    enabled_only: bool,
}

/// Seed 004's catalog: the merged servers as a plain list.
pub(super) async fn catalog<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    Query(q): Query<CatalogQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let user = user_id(&user)?;
    state.authorize(&headers, Need::User(&user))?;
    let portal = state.portal.clone();
    let (merged, enabled) =
        blocking(move || Ok((portal.servers(&user)?, portal.enabled_servers(&user)?))).await?;
    let mut view = merged.view(q.category.as_deref());
    if q.enabled_only {
        view.servers.retain(|s| enabled.contains(&s.def.id));
    }
    ok(view.servers)
}

#[derive(Debug, Deserialize)]
pub(super) struct CategoryQuery {
    category: Option<String>,
}

/// The merged servers with the merge's warnings, as `portalctl servers` shows them.
pub(super) async fn servers<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    Query(q): Query<CategoryQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let user = user_id(&user)?;
    state.authorize(&headers, Need::User(&user))?;
    let portal = state.portal.clone();
    let merged = blocking(move || portal.servers(&user)).await?;
    ok(merged.view(q.category.as_deref()))
}

pub(super) async fn status<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let user = user_id(&user)?;
    state.authorize(&headers, Need::User(&user))?;
    ok(state.rt.status(Some(&user)).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EnableBody {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    set: BTreeMap<String, crate::catalog::model::ParamValue>,
    /// Made, not started, until the first MCP request.
    #[serde(default)]
    lazy: bool,
}

pub(super) async fn enable<E: Engine + 'static>(
    state: S<E>,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize(&headers, Need::User(&user))?;
    let b: EnableBody = body(&bytes)?;
    let settings = (!b.env.is_empty() || !b.set.is_empty()).then_some(Settings {
        env: b.env,
        params: b.set,
    });
    let by = state.as_caller(&token);
    ok(state
        .rt
        .enable_lazy_by(&by, &user, &server, settings, &|_| {}, b.lazy)
        .await?)
}

pub(super) async fn disable<E: Engine + 'static>(
    state: S<E>,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize(&headers, Need::User(&user))?;
    let by = state.as_caller(&token);
    ok(state.rt.disable_by(&by, &user, &server).await?)
}

pub(super) async fn restart<E: Engine + 'static>(
    state: S<E>,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize(&headers, Need::User(&user))?;
    let by = state.as_caller(&token);
    ok(state.rt.restart_by(&by, &user, &server).await?)
}

pub(super) async fn list_secrets<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let user = user_id(&user)?;
    state.authorize(&headers, Need::User(&user))?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.list_secrets(&user)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecretBody {
    value: String,
    expires_at: Option<Timestamp>,
}

pub(super) async fn set_secret<E: Engine + 'static>(
    state: S<E>,
    Path((user, name)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let user = user_id(&user)?;
    let name = parse("secret name", &name, SecretName::parse)?;
    let token = state.authorize(&headers, Need::User(&user))?;
    // Never echo the body in an error: it holds the value.
    let b: SecretBody = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::usage(
            "request body must be {\"value\": \"...\", \"expires_at\": optional RFC 3339 time}",
        )
    })?;
    let value =
        SecretValue::new(b.value).map_err(|e| ApiError::new(ErrorClass::Invalid, e.to_string()))?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.set_secret(&user, &name, &value, b.expires_at)).await?)
}

pub(super) async fn remove_secret<E: Engine + 'static>(
    state: S<E>,
    Path((user, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let user = user_id(&user)?;
    let name = parse("secret name", &name, SecretName::parse)?;
    let token = state.authorize(&headers, Need::User(&user))?;
    let caller = state.as_caller(&token);
    ok(blocking(move || {
        caller
            .remove_secret(&user, &name)
            .map(|()| json!({"removed": name}))
    })
    .await?)
}

pub(super) async fn list_custom<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let user = user_id(&user)?;
    state.authorize(&headers, Need::User(&user))?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.list_custom(&user)).await?)
}

#[derive(Debug, Deserialize)]
pub(super) struct FileQuery {
    file: Option<String>,
}

pub(super) async fn add_custom<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let user = user_id(&user)?;
    let token = state.authorize(&headers, Need::User(&user))?;
    let file = file_label(q.file, || "api:custom".into())?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.add_custom(&user, &file, &bytes)).await?)
}

pub(super) async fn remove_custom<E: Engine + 'static>(
    state: S<E>,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize(&headers, Need::User(&user))?;
    let caller = state.as_caller(&token);
    let removed = json!({"removed": server, "user": user});
    ok(blocking(move || caller.remove_custom(&user, &server).map(|()| removed)).await?)
}
