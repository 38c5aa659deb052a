//! Admin routes for people and access: users, their limits, tokens, regeneration of the
//! merged catalogs, and the status of every user's servers.

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, body, file_label, ok, parse, required_body, ApiResult, S};
use crate::api::auth::Need;
use crate::api::{ApiError, MigrationBody};
use crate::engine::Engine;
use crate::ids::{Label, UserId};
use crate::store::{QuotaOverride, TokenRole, TokenScope};

pub(super) async fn regenerate<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let user = parse("user", &user, UserId::parse)?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.regenerate(Some(&user), true)).await?)
}

pub(super) async fn regenerate_all<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.regenerate(None, true)).await?)
}

pub(super) async fn status_all<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    ok(state.rt.status(None).await?)
}

/// How many MCP sessions, upstream connections and calls the gateway holds right now.
pub(super) async fn gateway_stats<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    ok(state.gateway.stats())
}

pub(super) async fn list_users<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.list_users()).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUser {
    id: UserId,
    #[serde(default)]
    roles: Vec<Label>,
    organization: Option<Label>,
    /// Take over the data an earlier user of the id left.
    #[serde(default)]
    reuse_data: bool,
}

pub(super) async fn add_user<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let b: NewUser = required_body(&bytes)?;
    let caller = state.as_caller(&token);
    ok(state
        .rt
        .add_user_by(&caller, b.id, b.roles, b.organization, b.reuse_data)
        .await?)
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RemoveUserQuery {
    #[serde(default)]
    keep_data: bool,
}

pub(super) async fn remove_user<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    Query(q): Query<RemoveUserQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let user = parse("user", &user, UserId::parse)?;
    let caller = state.as_caller(&token);
    ok(state.rt.remove_user_by(&caller, &user, q.keep_data).await?)
}

pub(super) async fn show_limits<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let user = parse("user", &user, UserId::parse)?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.user_limits(&user, None)).await?)
}

pub(super) async fn user_limits<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let user = parse("user", &user, UserId::parse)?;
    let change: QuotaOverride = body(&bytes)?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.user_limits(&user, (!change.is_empty()).then_some(change))).await?)
}

pub(super) async fn list_tokens<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.list_tokens()).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTokenBody {
    user: UserId,
    #[serde(default = "user_role")]
    role: TokenRole,
    #[serde(default)]
    scope: TokenScope,
    #[serde(default)]
    expires_at: Option<jiff::Timestamp>,
}

fn user_role() -> TokenRole {
    TokenRole::User
}

pub(super) async fn create_token<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let b: NewTokenBody = required_body(&bytes)?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.create_token(&b.user, b.role, b.scope, b.expires_at)).await?)
}

pub(super) async fn revoke_token<E: Engine + 'static>(
    state: S<E>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.revoke_token(&id).map(|()| json!({"revoked": id}))).await?)
}

/// Migrates a Docker Desktop MCP Toolkit folder for a user (body: the folder's files);
/// a dry run unless `apply`.
pub(super) async fn migrate<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let mut b: MigrationBody = required_body(&bytes)?;
    // The folder's name is only a label for messages, never a path on this host.
    b.dir = file_label(Some(b.dir), String::new)?;
    let req = b.into_request().map_err(ApiError::usage)?;
    let caller = state.as_caller(&token);
    ok(state.rt.migrate_by(&caller, req, &|_| {}).await?)
}
