//! `GET /api/v1/events`: server-sent events for the token's user (every user for an
//! admin). The caller's view is polled every two seconds and what changed is sent.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde_json::json;

use super::S;
use crate::api::auth::Need;
use crate::api::{ApiError, ApiState};
use crate::engine::Engine;
use crate::ids::UserId;
use crate::manager::StatusRow;
use crate::store::TokenRole;

/// What one subscriber was last told.
struct Seen<E> {
    state: Arc<ApiState<E>>,
    /// `None` for an admin: every user.
    only: Option<UserId>,
    rows: HashMap<String, String>,
    catalogs: HashMap<String, String>,
    first: bool,
}

fn event(name: &str, data: impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_default()
}

impl<E: Engine + 'static> Seen<E> {
    /// Status changes, then each user's resource usage.
    async fn status_events(&mut self, out: &mut Vec<Event>) {
        let Ok(list) = self.state.rt.status(self.only.as_ref()).await else {
            return;
        };
        let mut usage: BTreeMap<String, (u64, f64, usize)> = BTreeMap::new();
        for r in &list {
            if self.changed_row(r) {
                out.push(event("SERVER_STATUS_CHANGED", r));
            }
            let u = usage.entry(r.user.clone()).or_default();
            u.0 += r.memory_bytes.unwrap_or(0);
            u.1 += r.cpus.unwrap_or(0.0);
            u.2 += usize::from(r.state == "running");
        }
        for (user, (memory, cpus, running)) in usage {
            let data =
                json!({"user": user, "memory_bytes": memory, "cpus": cpus, "running": running});
            out.push(event("RESOURCE_USAGE_UPDATE", data));
        }
    }

    fn changed_row(&mut self, r: &StatusRow) -> bool {
        let key = format!("{}/{}", r.user, r.server);
        let view = format!(
            "{}|{}|{}",
            r.state,
            r.health.clone().unwrap_or_default(),
            r.restarts
        );
        let changed = self.rows.get(&key) != Some(&view);
        self.rows.insert(key, view);
        changed
    }

    /// A user's merged catalog changed (not reported on the first poll).
    async fn catalog_events(&mut self, out: &mut Vec<Event>) {
        let ids = match &self.only {
            Some(u) => vec![u.clone()],
            None => self.state.portal.user_ids().unwrap_or_default(),
        };
        for u in ids {
            let portal = self.state.portal.clone();
            let uu = u.clone();
            let Ok(Ok(m)) = tokio::task::spawn_blocking(move || portal.servers(&uu)).await else {
                continue;
            };
            let digest = m
                .servers
                .iter()
                .map(|s| format!("{}@{}", s.def.id, s.def.image))
                .collect::<Vec<_>>()
                .join(",");
            if self.catalogs.get(u.as_str()) != Some(&digest) {
                if !self.first {
                    let data = json!({"user": u, "servers": m.servers.len()});
                    out.push(event("USER_CATALOG_UPDATED", data));
                }
                self.catalogs.insert(u.to_string(), digest);
            }
        }
    }

    async fn next_batch(mut self) -> Option<(Vec<Event>, Self)> {
        if !self.first {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let mut out = Vec::new();
        self.status_events(&mut out).await;
        self.catalog_events(&mut out).await;
        self.first = false;
        Some((out, self))
    }
}

pub(super) async fn events<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let token = state.authorize(&headers, Need::Any)?;
    let seen = Seen {
        state: state.0.clone(),
        only: (token.role != TokenRole::Admin).then(|| token.user.clone()),
        rows: HashMap::new(),
        catalogs: HashMap::new(),
        first: true,
    };
    let stream = futures_util::stream::unfold(seen, Seen::next_batch)
        .map(|batch| futures_util::stream::iter(batch.into_iter().map(Ok)))
        .flatten();
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
