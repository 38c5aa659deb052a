//! `GET /metrics`: the Prometheus text format. On the API's own address it needs an admin
//! token; `serve --metrics-listen ADDR` serves it open on an address of its own, for a
//! scraper on a network the admin trusts.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::{blocking, S};
use crate::api::auth::Need;
use crate::api::{ApiError, ApiState};
use crate::engine::Engine;
use crate::metrics::{Reading, UserUsage};

/// OpenMetrics, which prometheus-client writes and Prometheus reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(super) async fn metrics<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers, Need::Admin)?;
    scrape(&state.0).await
}

/// The scrape itself, for either address.
pub(crate) async fn scrape<E: Engine + 'static>(state: &ApiState<E>) -> Result<Response, ApiError> {
    let reading = reading(state).await?;
    let text = state.portal.metrics().encode(&reading);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

/// Containers by user and state, and each user's reservations against their quota, from
/// one status listing (the engine's container list is cached for a moment).
async fn reading<E: Engine + 'static>(state: &ApiState<E>) -> Result<Reading, ApiError> {
    let rows = state.rt.status(None).await?;
    let mut containers: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut used: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.state != "missing") {
        *containers
            .entry((r.user.clone(), r.state.clone()))
            .or_default() += 1;
        let u = used.entry(r.user.clone()).or_default();
        u.0 += 1;
        u.1 += r.memory_bytes.unwrap_or(0);
        u.2 += r.cpus.map_or(0, |c| (c * 1024.0).round() as u64);
    }
    let portal = state.portal.clone();
    let quotas = blocking(move || {
        let users = portal.list_users()?;
        Ok(users
            .into_iter()
            .filter_map(|u| portal.user_limits(&u.id, None).ok().map(|q| (u.id, q)))
            .collect::<Vec<_>>())
    })
    .await?;
    let users = quotas
        .into_iter()
        .map(|(id, q)| {
            let (n, mem, cpu) = used.get(id.as_str()).copied().unwrap_or_default();
            UserUsage {
                user: id.to_string(),
                containers: n,
                max_containers: u64::from(q.max_containers),
                memory_reserved_bytes: mem,
                max_memory_bytes: q.max_memory_mb.saturating_mul(1024 * 1024),
                cpu_shares_reserved: cpu,
                max_cpu_shares: q.max_cpu_shares,
                memory_used_bytes: None,
                cpu_used_ratio: None,
            }
        })
        .collect();
    Ok(Reading {
        containers: containers.into_iter().collect(),
        users,
        mcp_sessions: state.gateway.stats().sessions as u64,
    })
}
