//! A user's pages: the merged catalog with each server's state (live), the buttons that
//! enable, disable and restart, and one server's page: its settings form built from its
//! `parameters`, the secrets it needs (write-only forms), its log and the MCP
//! connection snippet.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use futures_util::StreamExt;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::layout::{button, csrf, page};
use super::{done, field, ApiState, Fields, Page, Signed, WebError, S};
use crate::api::routes::blocking;
use crate::api::ApiError;
use crate::catalog::merge::Provenance;
use crate::catalog::model::{ParamKind, ParamValue};
use crate::engine::{Engine, LogsQuery};
use crate::ids::{SecretName, ServerId, UserId};
use crate::manager::StatusRow;
use crate::plan::Settings;
use crate::secrets::SecretValue;

pub(super) fn router<E: Engine + 'static>() -> Router<Arc<ApiState<E>>> {
    Router::new()
        .route("/ui/users/{user}", get(servers_page::<E>))
        .route("/ui/users/{user}/live", get(live::<E>))
        .route("/ui/users/{user}/servers/{server}", get(server_page::<E>))
        .route("/ui/users/{user}/servers/{server}/{action}", post(act::<E>))
        .route("/ui/users/{user}/secrets/{name}", post(set_secret::<E>))
}

fn user_id(user: &str) -> Result<UserId, WebError> {
    UserId::parse(user).map_err(|e| ApiError::usage(format!("user: {e}")).into())
}

fn server_id(server: &str) -> Result<ServerId, WebError> {
    ServerId::parse(server).map_err(|e| ApiError::usage(format!("server: {e}")).into())
}

/// Where a merged server came from, in one word: `custom`, `overlay` (a base changed by
/// overlays) or `base`.
fn source_kind(p: &Provenance) -> &'static str {
    if p.custom {
        "custom"
    } else if !p.overlays.is_empty() {
        "overlay"
    } else {
        "base"
    }
}

/// What the page shows of a server's container, and what the live script refreshes.
#[derive(Debug, Clone, Serialize)]
struct Live {
    server: String,
    enabled: bool,
    state: String,
    health: String,
    restarts: u32,
}

fn live_rows(rows: Vec<StatusRow>) -> HashMap<String, Live> {
    rows.into_iter()
        // An orphan is a container nobody enabled: not the user's server any more.
        .filter(|r| r.state != "orphan")
        .map(|r| {
            let live = Live {
                server: r.server.clone(),
                enabled: true,
                state: r.state,
                health: r.health.unwrap_or_else(|| "-".into()),
                restarts: r.restarts,
            };
            (r.server, live)
        })
        .collect()
}

fn not_enabled(server: &str) -> Live {
    Live {
        server: server.to_string(),
        enabled: false,
        state: "disabled".into(),
        health: "-".into(),
        restarts: 0,
    }
}

#[derive(Debug, Deserialize)]
struct Filter {
    category: Option<String>,
    q: Option<String>,
}

async fn servers_page<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> Page {
    let who = state.signed(&headers).await?;
    let user = user_id(&user)?;
    who.may_see(&user)?;
    let portal = state.portal.clone();
    let u = user.clone();
    let (merged, enabled) =
        blocking(move || Ok((portal.servers(&u)?, portal.enabled_servers(&u)?))).await?;
    let live = live_rows(state.rt.status(Some(&user)).await.map_err(ApiError::from)?);
    let categories: BTreeSet<&str> = merged
        .servers
        .iter()
        .filter_map(|s| s.def.category.as_deref())
        .collect();
    let category = filter.category.as_deref().filter(|c| !c.is_empty());
    let q = filter
        .q
        .as_deref()
        .map(str::to_lowercase)
        .unwrap_or_default();
    let shown: Vec<_> = merged
        .servers
        .iter()
        .filter(|s| category.is_none_or(|c| s.in_category(c)))
        .filter(|s| {
            q.is_empty()
                || s.def.id.as_str().to_lowercase().contains(&q)
                || s.def
                    .display_name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&q))
        })
        .collect();
    let notice = state.sessions.take_notice(&who.session.id);
    let body = html! {
        form.filters method="get" {
            label { "Category "
                select name="category" id="category" {
                    option value="" { "all" }
                    @for c in &categories {
                        option value=(c) selected[category == Some(*c)] { (c) }
                    }
                }
            }
            label { "Name " input type="search" name="q" id="search" value=(q); }
            button type="submit" { "Filter" }
        }
        @if !merged.warnings.is_empty() {
            ul.warnings { @for w in &merged.warnings { li { (w.to_string()) } } }
        }
        table #servers data-user=(user) {
            thead { tr {
                th { "Server" } th { "Category" } th { "Source" }
                th { "State" } th { "Health" } th { "Restarts" } th { "" }
            } }
            tbody {
                @for s in &shown {
                    @let id = s.def.id.as_str();
                    @let l = live.get(id).cloned().unwrap_or_else(|| not_enabled(id));
                    @let on = enabled.contains(&s.def.id);
                    @let base = format!("/ui/users/{user}/servers/{id}");
                    tr data-server=(id) {
                        td {
                            a href=(base) { (id) }
                            @if let Some(n) = &s.def.display_name { br; small { (n) } }
                        }
                        td { (s.def.category.as_deref().unwrap_or("-")) }
                        td title=(s.source.to_string()) { span.source { (source_kind(&s.source)) } }
                        td.state { (l.state) }
                        td.health { (l.health) }
                        td.restarts { (l.restarts) }
                        td.actions { (actions(&who, &base, on, true)) }
                    }
                }
            }
        }
        @if shown.is_empty() { p { "No server matches." } }
    };
    Ok(page(&format!("Servers of {user}"), &who, notice, body).into_response())
}

/// `GET /ui/users/{user}/live`: each container's state, health and restarts, as JSON,
/// for the page's script to refresh its rows with (on every event of the user's stream).
async fn live<E: Engine + 'static>(
    state: S<E>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Page {
    let who = state.signed(&headers).await?;
    let user = user_id(&user)?;
    who.may_see(&user)?;
    let rows = live_rows(state.rt.status(Some(&user)).await.map_err(ApiError::from)?);
    Ok(Json(rows.into_values().collect::<Vec<_>>()).into_response())
}

/// The lines the log shows before the live stream takes over (or without JavaScript).
const LOG_TAIL: u64 = 100;

async fn server_page<E: Engine + 'static>(
    state: S<E>,
    Path((user, server)): Path<(String, String)>,
    headers: HeaderMap,
) -> Page {
    let who = state.signed(&headers).await?;
    let user = user_id(&user)?;
    who.may_see(&user)?;
    let server = server_id(&server)?;
    let portal = state.portal.clone();
    let u = user.clone();
    let srv = server.clone();
    let (merged, enabled, secrets, current) = blocking(move || {
        Ok((
            portal.servers(&u)?,
            portal.enabled_servers(&u)?,
            portal.list_secrets(&u)?,
            portal.server_settings(&u, &srv)?,
        ))
    })
    .await?;
    let Some(s) = merged.servers.iter().find(|s| s.def.id == server) else {
        return Err(WebError::Page(
            axum::http::StatusCode::NOT_FOUND,
            format!("server {server} is not in the catalog of {user}; see the list of servers"),
        ));
    };
    let live = live_rows(state.rt.status(Some(&user)).await.map_err(ApiError::from)?);
    let l = live
        .get(server.as_str())
        .cloned()
        .unwrap_or_else(|| not_enabled(server.as_str()));
    let on = enabled.contains(&server);
    let (log, log_problem) = if on {
        initial_log(&state, &user, &server).await
    } else {
        (
            Vec::new(),
            Some("the server is not enabled; enable it to see its log".into()),
        )
    };
    let set: BTreeSet<&str> = secrets.iter().map(|x| x.name.as_str()).collect();
    let base = format!("/ui/users/{user}/servers/{server}");
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let scheme = if state.sessions.is_secure() {
        "https"
    } else {
        "http"
    };
    let snippet = snippet(
        &format!("{scheme}://{host}/mcp/{server}"),
        server.as_str(),
        &user,
    );
    let notice = state.sessions.take_notice(&who.session.id);
    let body = html! {
        @if let Some(d) = &s.def.description { p.description { (d) } }
        dl.facts {
            dt { "Image" } dd { code { (s.def.image) } }
            dt { "Source" } dd { span.source { (source_kind(&s.source)) } " " (s.source.to_string()) }
        }
        table #servers data-user=(user) {
            thead { tr { th { "Server" } th { "State" } th { "Health" } th { "Restarts" } th { "" } } }
            tbody { tr data-server=(server) {
                td { (server) }
                td.state { (l.state) }
                td.health { (l.health) }
                td.restarts { (l.restarts) }
                td.actions { (actions(&who, &base, on, false)) }
            } }
        }
        section {
            h2 { "Settings" }
            form method="post" action={ (base) "/enable" } #settings {
                (csrf(&who))
                @if s.def.parameters.is_empty() {
                    p { "This server takes no parameters." }
                }
                @for (name, p) in &s.def.parameters {
                    @let id = format!("p.{name}");
                    @let value = current.as_ref().and_then(|c| c.params.get(name)).or(p.default.as_ref());
                    div.param {
                        label for=(id) { (name) @if p.required { " *" } }
                        @match p.kind {
                            ParamKind::Array => {
                                textarea id=(id) name=(id) rows="3" placeholder="one value a line" {
                                    (default_text(value))
                                }
                            }
                            ParamKind::String => {
                                input id=(id) name=(id) value=(default_text(value));
                            }
                        }
                        @if let Some(d) = &p.description { small { (d) } }
                    }
                }
                button type="submit" class="enable" {
                    @if on { "Apply and restart" } @else { "Enable" }
                }
            }
        }
        section {
            h2 { "Secrets" }
            @if s.def.secrets.is_empty() { p { "This server needs no secret." } }
            @for r in &s.def.secrets {
                @let name = r.name.as_str();
                form.secret method="post" action={ "/ui/users/" (user) "/secrets/" (name) } {
                    (csrf(&who))
                    label { code { (name) } " (as " code { (r.env) } ") "
                        @if set.contains(name) { span.ok { "set" } } @else { span.failed { "not set" } }
                    }
                    // Write-only: the value is never sent back to the browser.
                    input type="password" name="value" autocomplete="new-password" required placeholder="new value";
                    button type="submit" { "Set" }
                }
            }
        }
        section {
            h2 { "Log" }
            @if let Some(p) = &log_problem { p #log-problem { (p) } }
            @let follow = format!("/api/v1/users/{user}/servers/{server}/logs?follow=true&tail={LOG_TAIL}");
            pre #log data-follow=(follow) data-src=[on.then_some(&follow)] {
                @for line in &log { (line) "\n" }
            }
        }
        section {
            h2 { "Connect an MCP client" }
            p { "Make a token for your client with " code { "portalctl token create --user " (user) " --scope mcp" }
                ", then paste this into its configuration (" code { "portalctl mcp-config" } " prints the same for other clients):" }
            pre #snippet { (snippet) }
            button type="button" #copy data-copy="snippet" { "Copy" }
        }
    };
    Ok(page(&format!("{server}"), &who, notice, body).into_response())
}

/// A server's buttons; the script shows those that fit the server's state as it changes.
fn actions(who: &Signed, base: &str, on: bool, with_enable: bool) -> Markup {
    html! {
        span.when-on hidden[!on] {
            (button(who, &format!("{base}/restart"), "Restart", "restart"))
            (button(who, &format!("{base}/disable"), "Disable", "disable"))
        }
        @if with_enable {
            span.when-off hidden[on] {
                (button(who, &format!("{base}/enable"), "Enable", "enable"))
            }
        }
    }
}

fn default_text(v: Option<&ParamValue>) -> String {
    match v {
        Some(ParamValue::Text(t)) => t.clone(),
        Some(ParamValue::List(l)) => l.join("\n"),
        None => String::new(),
    }
}

/// The generic configuration `portalctl mcp-config` prints, with a placeholder token.
fn snippet(url: &str, server: &str, user: &UserId) -> String {
    let v = serde_json::json!({
        "mcpServers": {
            server: {
                "type": "http",
                "url": url,
                "headers": {
                    "Authorization": format!("Bearer <token from: portalctl token create --user {user} --scope mcp>")
                }
            }
        }
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// The last lines of the server's log, secrets masked, or why there are none.
async fn initial_log<E: Engine + 'static>(
    state: &ApiState<E>,
    user: &UserId,
    server: &ServerId,
) -> (Vec<String>, Option<String>) {
    let query = LogsQuery {
        follow: false,
        tail: Some(LOG_TAIL),
        since: None,
    };
    let lines = match state.rt.logs(user, server, query).await {
        Ok(l) => l,
        Err(e) => return (Vec::new(), Some(ApiError::from(e).message)),
    };
    let read = lines.take(LOG_TAIL as usize).collect::<Vec<_>>();
    match tokio::time::timeout(Duration::from_secs(3), read).await {
        Ok(got) => {
            let mut out = Vec::new();
            for l in got {
                match l {
                    Ok(l) => out.push(l.line),
                    Err(e) => return (out, Some(ApiError::from(e).message)),
                }
            }
            (out, None)
        }
        Err(_) => (
            Vec::new(),
            Some("the log did not answer in time; reload".into()),
        ),
    }
}

/// The settings a form sent: `p.NAME` fields, a list parameter's lines as its values,
/// beside the variables set before (the form has no fields for them); `None` when the
/// form sent no parameter (a button), which keeps the stored settings.
fn settings(
    fields: &Fields,
    params: &BTreeMap<String, crate::catalog::model::Parameter>,
    before: Option<Settings>,
) -> Option<Settings> {
    let mut out = BTreeMap::new();
    let mut any = false;
    for (name, p) in params {
        let Some(v) = field(fields, &format!("p.{name}")) else {
            continue;
        };
        any = true;
        let value = match p.kind {
            ParamKind::Array => {
                let list: Vec<String> = v
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                (!list.is_empty()).then_some(ParamValue::List(list))
            }
            ParamKind::String => (!v.trim().is_empty()).then(|| ParamValue::Text(v.trim().into())),
        };
        if let Some(value) = value {
            out.insert(name.clone(), value);
        }
    }
    any.then(|| Settings {
        env: before.map(|b| b.env).unwrap_or_default(),
        params: out,
    })
}

/// `POST /ui/users/{user}/servers/{server}/{enable|disable|restart}`.
async fn act<E: Engine + 'static>(
    state: S<E>,
    Path((user, server, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let who = state.posted(&headers, &fields).await?;
    let user = user_id(&user)?;
    who.may_see(&user)?;
    let server = server_id(&server)?;
    let by = state.as_signed(&who);
    let outcome: Result<String, WebError> = match action.as_str() {
        "enable" => {
            let portal = state.portal.clone();
            let (u, srv) = (user.clone(), server.clone());
            let (merged, before) =
                blocking(move || Ok((portal.servers(&u)?, portal.server_settings(&u, &srv)?)))
                    .await?;
            let params = merged
                .servers
                .iter()
                .find(|s| s.def.id == server)
                .map(|s| s.def.parameters.clone())
                .unwrap_or_default();
            state
                .rt
                .enable_by(
                    &by,
                    &user,
                    &server,
                    settings(&fields, &params, before),
                    &|_| {},
                )
                .await
                .map(|r| format!("{server} enabled ({})", r.container))
                .map_err(WebError::from)
        }
        "disable" => state
            .rt
            .disable_by(&by, &user, &server)
            .await
            .map(|_| format!("{server} disabled"))
            .map_err(WebError::from),
        "restart" => state
            .rt
            .restart_by(&by, &user, &server)
            .await
            .map(|_| format!("{server} restarted"))
            .map_err(WebError::from),
        other => {
            return Err(WebError::Page(
                axum::http::StatusCode::NOT_FOUND,
                format!("no action {other:?}; use enable, disable or restart"),
            ))
        }
    };
    let back = match headers
        .get(axum::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
    {
        Some(r) if r.contains(&format!("/servers/{server}")) => {
            format!("/ui/users/{user}/servers/{server}")
        }
        _ => format!("/ui/users/{user}"),
    };
    done(&state, &who, &headers, &back, outcome)
}

/// `POST /ui/users/{user}/secrets/{name}`: sets a secret; its value is never shown back.
async fn set_secret<E: Engine + 'static>(
    state: S<E>,
    Path((user, name)): Path<(String, String)>,
    headers: HeaderMap,
    Form(mut fields): Form<Fields>,
) -> Page {
    let who = state.posted(&headers, &fields).await?;
    let user = user_id(&user)?;
    who.may_see(&user)?;
    let name = SecretName::parse(&name)
        .map_err(|e| WebError::from(ApiError::usage(format!("secret name: {e}"))))?;
    // Moved out of the form, so that the only copy left is the one SecretValue wipes.
    let value = fields
        .iter_mut()
        .find(|(k, _)| k == "value")
        .map(|(_, v)| std::mem::take(v))
        .unwrap_or_default();
    let outcome = match SecretValue::new(value) {
        Err(e) => Err(WebError::from(ApiError::usage(e.to_string()))),
        Ok(value) => {
            let caller = state.as_signed(&who);
            let (u, n) = (user.clone(), name.clone());
            blocking(move || caller.set_secret(&u, &n, &value, None))
                .await
                .map(|_| format!("secret {name} set"))
                .map_err(WebError::from)
        }
    };
    let back = match headers
        .get(axum::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("/ui/users/").map(|i| r[i..].to_string()))
    {
        Some(path) if path.starts_with(&format!("/ui/users/{user}/")) => path,
        _ => format!("/ui/users/{user}"),
    };
    done(&state, &who, &headers, &back, outcome)
}
