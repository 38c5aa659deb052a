//! The API's handlers: authorize, validate, call the manager, answer JSON.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::Stream;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{openapi, ApiError, ApiState};
use crate::ids::{CatalogName, Label, SecretName, ServerId, UserId};
use crate::manager::{Portal, PortalError};
use crate::plan::Settings;
use crate::secrets::SecretValue;
use crate::store::{QuotaOverride, TokenRole};

type S = State<Arc<ApiState>>;
type ApiResult = Result<axum::response::Response, ApiError>;

pub fn router() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/api/v1/openapi.json", get(|| async { Json(openapi()) }))
        .route("/api/v1/users/{user}/catalog", get(catalog))
        .route("/api/v1/users/{user}/status", get(status))
        .route("/api/v1/users/{user}/servers/{server}/enable", post(enable))
        .route(
            "/api/v1/users/{user}/servers/{server}/disable",
            post(disable),
        )
        .route(
            "/api/v1/users/{user}/servers/{server}/restart",
            post(restart),
        )
        .route("/api/v1/users/{user}/secrets", get(list_secrets))
        .route(
            "/api/v1/users/{user}/secrets/{name}",
            put(set_secret).delete(remove_secret),
        )
        .route("/api/v1/events", get(events))
        .route(
            "/api/v1/admin/catalogs",
            get(list_catalogs).post(upload_catalog),
        )
        .route("/api/v1/admin/catalogs/{name}", put(update_catalog))
        .route(
            "/api/v1/admin/catalogs/{name}/rollback",
            post(rollback_catalog),
        )
        .route("/api/v1/admin/users/{user}/regenerate", post(regenerate))
        .route("/api/v1/admin/users", get(list_users).post(add_user))
        .route(
            "/api/v1/admin/users/{user}",
            axum::routing::delete(remove_user),
        )
        .route("/api/v1/admin/users/{user}/limits", put(user_limits))
        .route("/api/v1/admin/tokens", get(list_tokens).post(create_token))
        .route(
            "/api/v1/admin/tokens/{id}",
            axum::routing::delete(revoke_token),
        )
}

fn parse<T>(
    what: &str,
    value: &str,
    f: impl Fn(&str) -> Result<T, crate::ids::IdError>,
) -> Result<T, ApiError> {
    f(value).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// Runs a blocking manager call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PortalError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                e.to_string(),
            )
        })?
        .map_err(ApiError::from)
}

/// Audits a change made through the API, then answers.
fn audited<T: serde::Serialize>(
    portal: &Portal,
    user: Option<&UserId>,
    action: &str,
    resource: &str,
    r: Result<T, ApiError>,
) -> ApiResult {
    let (outcome, detail) = match &r {
        Ok(_) => ("ok", None),
        Err(e) if e.status.is_server_error() => ("failed", Some(e.message.clone())),
        Err(e) => ("refused", Some(e.message.clone())),
    };
    if let Err(e) =
        portal.audit_outcome(user.map(UserId::as_str), action, resource, outcome, detail)
    {
        tracing::warn!(error = %e, "cannot write the audit log");
    }
    r.map(|v| Json(v).into_response())
}

#[derive(Debug, Deserialize)]
struct CatalogQuery {
    category: Option<String>,
    #[serde(default)]
    enabled_only: bool,
}

async fn catalog(
    state: S,
    Path(user): Path<String>,
    Query(q): Query<CatalogQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let user = parse("user", &user, UserId::parse)?;
    state.authorize(&headers, Some(&user), false)?;
    let portal = state.portal.clone();
    let u = user.clone();
    let (merged, enabled) =
        blocking(move || Ok((portal.servers(&u)?, portal.store().read_enabled(&u)?))).await?;
    let list: Vec<_> = merged
        .servers
        .iter()
        .filter(|s| {
            q.category.as_ref().is_none_or(|c| {
                s.def
                    .category
                    .as_ref()
                    .is_some_and(|sc| sc.eq_ignore_ascii_case(c))
            })
        })
        .filter(|s| !q.enabled_only || enabled.servers.contains_key(&s.def.id))
        .map(|s| &**s)
        .collect();
    Ok(Json(json!(list)).into_response())
}

async fn status(state: S, Path(user): Path<String>, headers: HeaderMap) -> ApiResult {
    let user = parse("user", &user, UserId::parse)?;
    state.authorize(&headers, Some(&user), false)?;
    Ok(Json(state.rt.status(Some(&user)).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnableBody {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    set: BTreeMap<String, String>,
}

fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

fn user_server(user: &str, server: &str) -> Result<(UserId, ServerId), ApiError> {
    Ok((
        parse("user", user, UserId::parse)?,
        parse("server", server, ServerId::parse)?,
    ))
}

async fn enable(
    state: S,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize(&headers, Some(&user), false)?;
    let b: EnableBody = body(&bytes)?;
    let settings = (!b.env.is_empty() || !b.set.is_empty()).then_some(Settings {
        env: b.env,
        params: b.set,
    });
    let r = state
        .rt
        .enable(&user, &server, settings, &|_| {})
        .await
        .map_err(ApiError::from);
    audited(
        &state.as_caller(&token),
        Some(&user),
        "server.enable",
        server.as_str(),
        r,
    )
}

async fn disable(
    state: S,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize(&headers, Some(&user), false)?;
    let r = state
        .rt
        .disable(&user, &server)
        .await
        .map_err(ApiError::from);
    audited(
        &state.as_caller(&token),
        Some(&user),
        "server.disable",
        server.as_str(),
        r,
    )
}

async fn restart(
    state: S,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize(&headers, Some(&user), false)?;
    let r = state
        .rt
        .restart(&user, &server)
        .await
        .map_err(ApiError::from);
    audited(
        &state.as_caller(&token),
        Some(&user),
        "server.restart",
        server.as_str(),
        r,
    )
}

async fn list_secrets(state: S, Path(user): Path<String>, headers: HeaderMap) -> ApiResult {
    let user = parse("user", &user, UserId::parse)?;
    state.authorize(&headers, Some(&user), false)?;
    let portal = state.portal.clone();
    Ok(Json(blocking(move || portal.list_secrets(&user)).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    value: String,
    expires_at: Option<Timestamp>,
}

async fn set_secret(
    state: S,
    Path((user, name)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let user = parse("user", &user, UserId::parse)?;
    let name = parse("secret name", &name, SecretName::parse)?;
    let token = state.authorize(&headers, Some(&user), false)?;
    // Never echo the body in an error: it holds the value.
    let b: SecretBody = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::bad_request(
            "request body must be {\"value\": \"...\", \"expires_at\": optional RFC 3339 time}",
        )
    })?;
    let value = SecretValue::new(b.value).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            e.to_string(),
        )
    })?;
    let caller = state.as_caller(&token);
    let (p, u, n) = (caller.clone(), user.clone(), name.clone());
    let r = blocking(move || p.set_secret(&u, &n, &value, b.expires_at)).await;
    audited(&caller, Some(&user), "secret.set", name.as_str(), r)
}

async fn remove_secret(
    state: S,
    Path((user, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let user = parse("user", &user, UserId::parse)?;
    let name = parse("secret name", &name, SecretName::parse)?;
    let token = state.authorize(&headers, Some(&user), false)?;
    let caller = state.as_caller(&token);
    let (p, u, n) = (caller.clone(), user.clone(), name.clone());
    let r = blocking(move || p.remove_secret(&u, &n).map(|()| json!({"removed": n}))).await;
    audited(&caller, Some(&user), "secret.remove", name.as_str(), r)
}

/// Polls the caller's view every two seconds and sends what changed.
async fn events(
    state: S,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let token = state.authorize(&headers, None, false)?;
    let users: Option<UserId> = (token.role != TokenRole::Admin).then(|| token.user.clone());
    let init: (HashMap<String, String>, HashMap<String, String>, bool) =
        (HashMap::new(), HashMap::new(), true);
    let stream = futures_util::stream::unfold(
        (state.0.clone(), users, init),
        |(state, users, (mut rows, mut catalogs, first))| async move {
            if !first {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            let mut out = Vec::new();
            if let Ok(list) = state.rt.status(users.as_ref()).await {
                let mut usage: BTreeMap<String, (u64, f64, usize)> = BTreeMap::new();
                for r in &list {
                    let key = format!("{}/{}", r.user, r.server);
                    let view = format!(
                        "{}|{}|{}",
                        r.state,
                        r.health.clone().unwrap_or_default(),
                        r.restarts
                    );
                    if rows.get(&key) != Some(&view) {
                        out.push(
                            Event::default()
                                .event("SERVER_STATUS_CHANGED")
                                .json_data(r)
                                .unwrap_or_default(),
                        );
                        rows.insert(key, view);
                    }
                    let u = usage.entry(r.user.clone()).or_default();
                    u.0 += r.memory_bytes.unwrap_or(0);
                    u.1 += r.cpus.unwrap_or(0.0);
                    u.2 += usize::from(r.state == "running");
                }
                for (user, (memory, cpus, running)) in usage {
                    let data = json!({"user": user, "memory_bytes": memory, "cpus": cpus, "running": running});
                    out.push(
                        Event::default()
                            .event("RESOURCE_USAGE_UPDATE")
                            .json_data(data)
                            .unwrap_or_default(),
                    );
                }
            }
            let ids = match &users {
                Some(u) => vec![u.clone()],
                None => state.portal.store().user_ids().unwrap_or_default(),
            };
            for u in ids {
                let portal = state.portal.clone();
                let uu = u.clone();
                if let Ok(Ok(m)) = tokio::task::spawn_blocking(move || portal.servers(&uu)).await {
                    let digest = m
                        .servers
                        .iter()
                        .map(|s| format!("{}@{}", s.def.id, s.def.image))
                        .collect::<Vec<_>>()
                        .join(",");
                    if catalogs.get(u.as_str()) != Some(&digest) {
                        if !first {
                            let data = json!({"user": u, "servers": m.servers.len()});
                            out.push(
                                Event::default()
                                    .event("USER_CATALOG_UPDATED")
                                    .json_data(data)
                                    .unwrap_or_default(),
                            );
                        }
                        catalogs.insert(u.to_string(), digest);
                    }
                }
            }
            let batch = futures_util::stream::iter(out.into_iter().map(Ok));
            Some((batch, (state, users, (rows, catalogs, false))))
        },
    );
    use futures_util::StreamExt;
    Ok(Sse::new(stream.flatten()).keep_alive(KeepAlive::default()))
}

async fn list_catalogs(state: S, headers: HeaderMap) -> ApiResult {
    state.authorize(&headers, None, true)?;
    let portal = state.portal.clone();
    Ok(Json(blocking(move || portal.list_catalogs()).await?).into_response())
}

#[derive(Debug, Deserialize)]
struct NameQuery {
    name: Option<String>,
    /// The file name to report problems against (the remote CLI sends its own).
    file: Option<String>,
}

async fn store_catalog(
    state: &ApiState,
    headers: &HeaderMap,
    name: Option<String>,
    file: Option<String>,
    bytes: Bytes,
    action: &str,
) -> ApiResult {
    let token = state.authorize(headers, None, true)?;
    let name = name
        .map(|n| parse("catalog name", &n, CatalogName::parse))
        .transpose()?;
    let caller = state.as_caller(&token);
    let file = match file {
        Some(f) if !f.is_empty() && f.len() <= 256 && !f.chars().any(char::is_control) => f,
        Some(_) => {
            return Err(ApiError::bad_request(
                "file: use 1-256 printable characters",
            ))
        }
        None => format!("api:{}", name.as_ref().map_or("catalog", |n| n.as_str())),
    };
    let (p, f) = (caller.clone(), file.clone());
    let r = blocking(move || p.upload_catalog(&f, &bytes, name)).await;
    audited(&caller, None, action, &file, r)
}

async fn upload_catalog(
    state: S,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    store_catalog(&state, &headers, q.name, q.file, bytes, "catalog.upload").await
}

async fn update_catalog(
    state: S,
    Path(name): Path<String>,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    store_catalog(
        &state,
        &headers,
        Some(name),
        q.file,
        bytes,
        "catalog.upload",
    )
    .await
}

#[derive(Debug, Deserialize)]
struct ToQuery {
    to: Option<u32>,
}

async fn rollback_catalog(
    state: S,
    Path(name): Path<String>,
    Query(q): Query<ToQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, None, true)?;
    let name = parse("catalog name", &name, CatalogName::parse)?;
    let caller = state.as_caller(&token);
    let (p, n) = (caller.clone(), name.clone());
    let r = blocking(move || p.rollback_catalog(&n, q.to)).await;
    audited(&caller, None, "catalog.rollback", name.as_str(), r)
}

async fn regenerate(state: S, Path(user): Path<String>, headers: HeaderMap) -> ApiResult {
    let token = state.authorize(&headers, None, true)?;
    let user = parse("user", &user, UserId::parse)?;
    let caller = state.as_caller(&token);
    let (p, u) = (caller.clone(), user.clone());
    let r = blocking(move || p.regenerate(Some(&u), true)).await;
    audited(&caller, Some(&user), "catalog.regenerate", user.as_str(), r)
}

async fn list_users(state: S, headers: HeaderMap) -> ApiResult {
    state.authorize(&headers, None, true)?;
    let portal = state.portal.clone();
    Ok(Json(blocking(move || portal.list_users()).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    id: UserId,
    #[serde(default)]
    roles: Vec<Label>,
    organization: Option<Label>,
}

async fn add_user(state: S, headers: HeaderMap, bytes: Bytes) -> ApiResult {
    let token = state.authorize(&headers, None, true)?;
    let b: NewUser = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let caller = state.as_caller(&token);
    let (p, id) = (caller.clone(), b.id.clone());
    let r = blocking(move || p.add_user(b.id, b.roles, b.organization)).await;
    audited(&caller, Some(&id), "user.add", id.as_str(), r)
}

async fn remove_user(state: S, Path(user): Path<String>, headers: HeaderMap) -> ApiResult {
    let token = state.authorize(&headers, None, true)?;
    let user = parse("user", &user, UserId::parse)?;
    let caller = state.as_caller(&token);
    let (p, u) = (caller.clone(), user.clone());
    let r = blocking(move || p.remove_user(&u).map(|()| json!({"removed": u}))).await;
    audited(&caller, Some(&user), "user.remove", user.as_str(), r)
}

async fn user_limits(
    state: S,
    Path(user): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(&headers, None, true)?;
    let user = parse("user", &user, UserId::parse)?;
    let change: QuotaOverride = body(&bytes)?;
    let caller = state.as_caller(&token);
    let (p, u) = (caller.clone(), user.clone());
    let r = blocking(move || p.user_limits(&u, (!change.is_empty()).then_some(change))).await;
    audited(&caller, Some(&user), "user.limits", user.as_str(), r)
}

async fn list_tokens(state: S, headers: HeaderMap) -> ApiResult {
    state.authorize(&headers, None, true)?;
    let portal = state.portal.clone();
    let list = blocking(move || portal.list_tokens()).await?;
    let view: Vec<Value> = list
        .iter()
        .map(|t| json!({"id": t.id, "user": t.user, "role": t.role, "created_at": t.created_at}))
        .collect();
    Ok(Json(view).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenBody {
    user: UserId,
    #[serde(default = "user_role")]
    role: TokenRole,
}

fn user_role() -> TokenRole {
    TokenRole::User
}

async fn create_token(state: S, headers: HeaderMap, bytes: Bytes) -> ApiResult {
    let token = state.authorize(&headers, None, true)?;
    let b: NewTokenBody = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let caller = state.as_caller(&token);
    let (p, u) = (caller.clone(), b.user.clone());
    let r = blocking(move || p.create_token(&b.user, b.role)).await;
    audited(&caller, Some(&u), "token.create", u.as_str(), r)
}

async fn revoke_token(state: S, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    let token = state.authorize(&headers, None, true)?;
    let caller = state.as_caller(&token);
    let (p, i) = (caller.clone(), id.clone());
    let r = blocking(move || p.revoke_token(&i).map(|()| json!({"revoked": i}))).await;
    audited(&caller, None, "token.revoke", &id, r)
}
