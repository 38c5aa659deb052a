//! The admin's pages: catalogs (upload, revision history, rollback, a diff between two
//! revisions) and overlays, users with roles, organization, quotas and usage bars, every
//! container with the memory it uses, and the audit log with filters.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{button, csrf, page};
use super::{diff, done, field, ApiState, Fields, Page, WebError, S};
use crate::api::routes::blocking;
use crate::api::ApiError;
use crate::engine::Engine;
use crate::ids::CatalogName;
use crate::manager::{AuditFilter, Event, ImportOptions};

pub(super) fn router<E: Engine + 'static>() -> Router<Arc<ApiState<E>>> {
    Router::new()
        .route("/ui/admin/catalogs", get(catalogs::<E>).post(upload::<E>))
        .route("/ui/admin/catalogs/{name}", get(history::<E>))
        .route("/ui/admin/catalogs/{name}/rollback", post(rollback::<E>))
        .route("/ui/admin/overlays", post(upload_overlay::<E>))
        .route("/ui/admin/users", get(users::<E>))
        .route("/ui/admin/containers", get(containers::<E>))
        .route("/ui/admin/audit", get(audit::<E>))
}

fn catalog_name(name: &str) -> Result<CatalogName, WebError> {
    CatalogName::parse(name).map_err(|e| ApiError::usage(format!("catalog name: {e}")).into())
}

fn when(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

async fn catalogs<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> Page {
    let who = state.signed(&headers).await?;
    who.admin()?;
    let portal = state.portal.clone();
    let (list, overlays) =
        blocking(move || Ok((portal.list_catalogs()?, portal.list_overlays()?))).await?;
    let notice = state.sessions.take_notice(&who.session.id);
    let body = html! {
        table #catalogs {
            thead { tr { th { "Catalog" } th { "Revision" } th { "Version" } th { "Servers" } th { "Uploaded" } } }
            tbody {
                @for c in &list {
                    tr data-catalog=(c.name) {
                        td { a href={ "/ui/admin/catalogs/" (c.name) } { (c.name) } }
                        td.revision { (c.revision) }
                        td { (c.version) }
                        td { (c.servers) }
                        td { (when(c.uploaded_at)) }
                    }
                }
            }
        }
        @if list.is_empty() { p { "No catalog yet: upload one below." } }
        section {
            h2 { "Upload a catalog" }
            p { "A new catalog, or a new revision of one (the same name). JSON or YAML, as " code { "portalctl catalog upload" } " takes." }
            form #upload method="post" action="/ui/admin/catalogs" {
                (csrf(&who))
                label for="name" { "Name (empty: the file's own)" }
                input #name name="name";
                label for="content" { "Catalog" }
                textarea #content name="content" rows="14" required {}
                button type="submit" { "Upload" }
            }
        }
        section {
            h2 { "Overlays" }
            table #overlays {
                thead { tr { th { "Overlay" } th { "Servers" } th { "Applies to" } th { "Uploaded" } } }
                tbody {
                    @for o in &overlays {
                        tr {
                            td { (o.name) }
                            td { (o.servers) }
                            td { (applies_to(&o.applies_to)) }
                            td { (when(o.uploaded_at)) }
                        }
                    }
                }
            }
            form #overlay method="post" action="/ui/admin/overlays" {
                (csrf(&who))
                label for="overlay-name" { "Name" }
                input #overlay-name name="name" required;
                label for="overlay-content" { "Overlay" }
                textarea #overlay-content name="content" rows="8" required {}
                button type="submit" { "Upload overlay" }
            }
        }
    };
    Ok(page("Catalogs", &who, notice, body).into_response())
}

fn applies_to(v: &crate::catalog::model::Visibility) -> String {
    let mut parts = Vec::new();
    parts.extend(v.roles.iter().map(|r| format!("role {r}")));
    parts.extend(v.organizations.iter().map(|o| format!("organization {o}")));
    parts.extend(v.users.iter().map(|u| format!("user {u}")));
    if parts.is_empty() {
        "everyone".into()
    } else {
        parts.join(", ")
    }
}

/// `POST /ui/admin/catalogs`: the textarea's file, stored as `portalctl catalog upload`.
async fn upload<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let who = state.posted(&headers, &fields).await?;
    who.admin()?;
    let name = match field(&fields, "name").map(str::trim) {
        Some("") | None => None,
        Some(n) => Some(catalog_name(n)?),
    };
    let bytes = field(&fields, "content")
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    let caller = state.as_signed(&who);
    let file = format!("ui:{}", name.as_ref().map_or("catalog", |n| n.as_str()));
    let r =
        blocking(move || caller.upload_catalog_with(&file, &bytes, name, ImportOptions::default()))
            .await;
    match r {
        Ok(r) => {
            let to = format!("/ui/admin/catalogs/{}", r.name);
            let what = if r.changed {
                format!("catalog {} stored as revision {}", r.name, r.revision)
            } else {
                format!("catalog {} unchanged (revision {})", r.name, r.revision)
            };
            done(&state, &who, &headers, &to, Ok(what))
        }
        Err(e) => done(&state, &who, &headers, "/ui/admin/catalogs", Err(e.into())),
    }
}

async fn upload_overlay<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let who = state.posted(&headers, &fields).await?;
    who.admin()?;
    let name = catalog_name(field(&fields, "name").unwrap_or_default().trim())?;
    let bytes = field(&fields, "content")
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    let caller = state.as_signed(&who);
    let file = format!("ui:{name}");
    let r = blocking(move || caller.upload_overlay(&file, &bytes, name))
        .await
        .map(|r| format!("overlay {} stored", r.name))
        .map_err(WebError::from);
    done(&state, &who, &headers, "/ui/admin/catalogs", r)
}

#[derive(Debug, Deserialize)]
struct DiffQuery {
    from: Option<u32>,
    to: Option<u32>,
}

/// `GET /ui/admin/catalogs/{name}?from=&to=`: the revisions, and the diff of two (the
/// one before the current and the current, unless asked).
async fn history<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
    headers: HeaderMap,
) -> Page {
    let who = state.signed(&headers).await?;
    who.admin()?;
    let name = catalog_name(&name)?;
    let portal = state.portal.clone();
    let n = name.clone();
    let revisions = blocking(move || portal.catalog_history(&n)).await?;
    let current = revisions.iter().find(|r| r.current).map(|r| r.revision);
    let to = q.to.or(current);
    let from = q.from.or_else(|| {
        to.and_then(|t| {
            revisions
                .iter()
                .map(|r| r.revision)
                .filter(|r| *r < t)
                .max()
        })
    });
    let lines = match (from, to) {
        (Some(f), Some(t)) => {
            let portal = state.portal.clone();
            let n = name.clone();
            let (old, new) = blocking(move || {
                Ok((
                    portal.catalog_revision(&n, f)?,
                    portal.catalog_revision(&n, t)?,
                ))
            })
            .await?;
            Some(diff::lines(&yaml(&old), &yaml(&new)))
        }
        _ => None,
    };
    let notice = state.sessions.take_notice(&who.session.id);
    let body = html! {
        table #revisions {
            thead { tr { th { "Revision" } th { "Version" } th { "Servers" } th { "File" } th { "Uploaded" } th { "" } } }
            tbody {
                @for r in &revisions {
                    tr data-revision=(r.revision) class=[r.current.then_some("current")] {
                        td { (r.revision) @if r.current { " (current)" } }
                        td { (r.version) }
                        td { (r.servers) }
                        td { (r.file) }
                        td { (when(r.uploaded_at)) }
                        td {
                            @if !r.current {
                                form.inline method="post" action={ "/ui/admin/catalogs/" (name) "/rollback" } {
                                    (csrf(&who))
                                    input type="hidden" name="to" value=(r.revision);
                                    button type="submit" class="rollback" { "Roll back to " (r.revision) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Diff" }
            form.filters method="get" {
                label { "From " (revision_select("from", &revisions, from)) }
                label { "to " (revision_select("to", &revisions, to)) }
                button type="submit" { "Show" }
            }
            @match (&lines, from, to) {
                (Some(lines), Some(f), Some(t)) => {
                    p { "Revision " (f) " to " (t) ":" }
                    @if lines.is_empty() { p #diff-same { "The two revisions are the same." } }
                    @else {
                        pre #diff {
                            @for l in lines {
                                @let class = match l.tag { '+' => "add", '-' => "del", '~' => "gap", _ => "same" };
                                span class=(class) { (l.tag) " " (l.text) } "\n"
                            }
                        }
                    }
                }
                _ => { p { "One revision only: nothing to compare yet." } }
            }
        }
    };
    Ok(page(&format!("Catalog {name}"), &who, notice, body).into_response())
}

fn revision_select(
    name: &str,
    revisions: &[crate::manager::RevisionSummary],
    chosen: Option<u32>,
) -> Markup {
    html! {
        select name=(name) {
            @for r in revisions {
                option value=(r.revision) selected[chosen == Some(r.revision)] { (r.revision) }
            }
        }
    }
}

/// The stored definition as YAML, the text the diff compares.
fn yaml(c: &crate::catalog::model::Catalog) -> String {
    serde_yaml_ng::to_string(c).unwrap_or_else(|e| format!("(cannot show: {e})"))
}

async fn rollback<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let who = state.posted(&headers, &fields).await?;
    who.admin()?;
    let name = catalog_name(&name)?;
    let to = match field(&fields, "to") {
        Some(t) => Some(t.parse::<u32>().map_err(|_| {
            WebError::from(ApiError::usage(format!(
                "to: {t:?} is not a revision number"
            )))
        })?),
        None => None,
    };
    let caller = state.as_signed(&who);
    let n = name.clone();
    let r = blocking(move || caller.rollback_catalog(&n, to))
        .await
        .map(|r| format!("catalog {} is at revision {} again", r.name, r.revision))
        .map_err(WebError::from);
    done(
        &state,
        &who,
        &headers,
        &format!("/ui/admin/catalogs/{name}"),
        r,
    )
}

/// A bar of `used` against `limit`.
fn bar(label: &str, used: u64, limit: u64, unit: &str) -> Markup {
    let pct = used
        .saturating_mul(100)
        .checked_div(limit)
        .unwrap_or(0)
        .min(100);
    html! {
        div.usage title={ (label) ": " (used) " of " (limit) " " (unit) } {
            span.label { (label) " " (used) "/" (limit) " " (unit) }
            span.bar { span.fill style={ "width:" (pct) "%" } class=[(pct >= 90).then_some("high")] {} }
        }
    }
}

async fn users<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> Page {
    let who = state.signed(&headers).await?;
    who.admin()?;
    let portal = state.portal.clone();
    let list = blocking(move || portal.list_users()).await?;
    let usage: BTreeMap<String, Event> = state
        .rt
        .usage(None)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|e| (e.user().to_string(), e))
        .collect();
    let notice = state.sessions.take_notice(&who.session.id);
    let body = html! {
        table #users {
            thead { tr { th { "User" } th { "Roles" } th { "Organization" } th { "Custom servers" } th { "Usage against quota" } } }
            tbody {
                @for u in &list {
                    tr data-user=(u.id) {
                        td { a href={ "/ui/users/" (u.id) } { (u.id) } @if let Some(d) = &u.damaged { br; small.failed { (d) } } }
                        td { (u.roles.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
                        td { (u.organization.as_ref().map_or_else(|| "-".to_string(), ToString::to_string)) }
                        td { (u.custom_servers) }
                        td {
                            @if let Some(Event::ResourceUsageUpdate { resources: r, limits: l, .. }) = usage.get(u.id.as_str()) {
                                (bar("containers", r.containers, l.max_containers, ""))
                                (bar("memory", r.memory_mb, l.max_memory_mb, "MB reserved"))
                                @if let Some(m) = r.measured_memory_mb {
                                    (bar("in use", m, l.max_memory_mb, "MB"))
                                }
                                (bar("CPU", r.cpu_shares, l.max_cpu_shares, "shares"))
                                (bar("ports", r.ports_used, l.max_ports, ""))
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Users", &who, notice, body).into_response())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

async fn containers<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> Page {
    let who = state.signed(&headers).await?;
    who.admin()?;
    let rows = state.rt.status(None).await.map_err(ApiError::from)?;
    let running: Vec<String> = rows
        .iter()
        .filter(|r| r.state == "running")
        .map(|r| r.container.clone())
        .collect();
    let in_use = state.rt.memory_in_use(&running).await;
    let notice = state.sessions.take_notice(&who.session.id);
    let body = html! {
        table #containers {
            thead { tr {
                th { "User" } th { "Server" } th { "Container" } th { "State" } th { "Health" }
                th { "Restarts" } th { "Memory in use" } th { "Memory limit" } th { "CPUs" } th { "Up" } th { "" }
            } }
            tbody {
                @for r in &rows {
                    tr data-container=(r.container) {
                        td { (r.user) }
                        td { (r.server) }
                        td { code { (r.container) } }
                        td.state { (r.state) }
                        td { (r.health.as_deref().unwrap_or("-")) }
                        td { (r.restarts) }
                        td.memory { (in_use.get(&r.container).map_or_else(|| "-".to_string(), |b| mib(*b))) }
                        td { (r.memory_bytes.map_or_else(|| "-".to_string(), mib)) }
                        td { (r.cpus.map_or_else(|| "-".to_string(), |c| format!("{c:.2}"))) }
                        td { (r.uptime.as_deref().unwrap_or("-")) }
                        td {
                            @if r.state != "orphan" {
                                (button(&who, &format!("/ui/users/{}/servers/{}/restart", r.user, r.server), "Restart", "restart"))
                            }
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p { "No container." } }
    };
    Ok(page("Containers", &who, notice, body).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    user: Option<String>,
    action: Option<String>,
    result: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// A time from the filter form: RFC 3339, or a date (its midnight, UTC).
fn time(what: &str, s: Option<&str>) -> Result<Option<jiff::Timestamp>, WebError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(Some(t));
    }
    let local = s.parse::<jiff::civil::DateTime>().or_else(|_| {
        s.parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    local
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| Some(z.timestamp()))
        .ok_or_else(|| {
            ApiError::usage(format!(
                "{what}: {s:?} is not a time; use 2026-01-31 or 2026-01-31T12:00:00Z"
            ))
            .into()
        })
}

/// At most this many audit entries are shown (the newest).
const AUDIT_SHOWN: usize = 500;

async fn audit<E: Engine + 'static>(
    state: S<E>,
    Query(q): Query<AuditQuery>,
    headers: HeaderMap,
) -> Page {
    let who = state.signed(&headers).await?;
    who.admin()?;
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let filter = AuditFilter {
        user: nonempty(&q.user),
        action: nonempty(&q.action),
        result: nonempty(&q.result),
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
    };
    let portal = state.portal.clone();
    let f = filter.clone();
    let entries = blocking(move || portal.audit_entries(&f, AUDIT_SHOWN)).await?;
    let notice = state.sessions.take_notice(&who.session.id);
    let value = |s: &Option<String>| s.clone().unwrap_or_default();
    let body = html! {
        form.filters #audit-filter method="get" {
            label { "User " input name="user" value=(value(&q.user)); }
            label { "Action " input name="action" placeholder="catalog." value=(value(&q.action)); }
            label { "Result "
                select name="result" {
                    @for r in ["", "ok", "refused", "failed"] {
                        option value=(r) selected[filter.result.as_deref().unwrap_or("") == r] { (if r.is_empty() { "any" } else { r }) }
                    }
                }
            }
            label { "Since " input name="since" placeholder="2026-01-31" value=(value(&q.since)); }
            label { "Until " input name="until" placeholder="2026-01-31T12:00:00Z" value=(value(&q.until)); }
            button type="submit" { "Filter" }
        }
        p { (entries.len()) " entries, newest first (at most " (AUDIT_SHOWN) ")." }
        table #audit {
            thead { tr { th { "Time" } th { "Actor" } th { "User" } th { "Action" } th { "Resource" } th { "Result" } th { "Detail" } } }
            tbody {
                @for e in &entries {
                    tr {
                        td { (when(e.time)) }
                        td { (e.actor) @if let Some(c) = &e.client { br; small { (c) } } }
                        td { (e.user.as_deref().unwrap_or("-")) }
                        td.action { (e.action) }
                        td { (e.resource) }
                        td class={ "result " (e.result) } { (e.result) @if let Some(n) = e.count { " ×" (n) } }
                        td { (e.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    Ok(page("Audit log", &who, notice, body).into_response())
}
