//! `GET /metrics`: the Prometheus text format. On the API's own address it needs an admin
//! token; `serve --metrics-listen ADDR` serves it open on an address of its own, for a
//! scraper on a network the admin trusts.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::S;
use crate::api::auth::Need;
use crate::api::{ApiError, ApiState};
use crate::engine::Engine;
use crate::manager::Event;
use crate::metrics::{Reading, UserUsage};

const MIB: u64 = 1024 * 1024;

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

/// Containers by user and state from one status listing, and each user's usage against
/// their quota as the event streams report it (what their enabled servers reserve, and
/// the memory the daemon last measured).
async fn reading<E: Engine + 'static>(state: &ApiState<E>) -> Result<Reading, ApiError> {
    state.portal.metrics().scraped();
    let rows = state.rt.status(None).await?;
    let mut containers: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.state != "missing") {
        *containers
            .entry((r.user.clone(), r.state.clone()))
            .or_default() += 1;
    }
    let users = state
        .rt
        .usage(None)
        .await?
        .into_iter()
        .filter_map(|e| match e {
            Event::ResourceUsageUpdate {
                user_id,
                resources,
                limits,
            } => Some(UserUsage {
                user: user_id.to_string(),
                containers: resources.containers,
                max_containers: limits.max_containers,
                memory_reserved_bytes: resources.memory_mb.saturating_mul(MIB),
                max_memory_bytes: limits.max_memory_mb.saturating_mul(MIB),
                cpu_shares_reserved: resources.cpu_shares,
                max_cpu_shares: limits.max_cpu_shares,
                memory_used_bytes: resources.measured_memory_mb.map(|m| m.saturating_mul(MIB)),
                cpu_used_ratio: resources.measured_cpu_millicores.map(|m| m as f64 / 1000.0),
            }),
            _ => None,
        })
        .collect();
    Ok(Reading {
        containers: containers.into_iter().collect(),
        users,
        mcp_sessions: state.gateway.stats().sessions as u64,
    })
}
