//! `GET /api/v1/events`: server-sent events for one user, the token's own (an admin
//! may name another with `?user=`). The user's view is polled every two seconds and what
//! changed is sent; each poll first checks that the token is still in force, and a token
//! holds at most `MCP_PORTAL_EVENT_STREAMS_PER_TOKEN` streams at once.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::{parse, S};
use crate::api::auth::Need;
use crate::api::{ApiError, ApiState};
use crate::engine::Engine;
use crate::ids::UserId;
use crate::manager::StatusRow;

/// How often a stream looks at its user's state.
const TICK: Duration = Duration::from_secs(2);

/// A comment this often on a quiet stream, so that a client gone away is noticed (and
/// its slot freed) within seconds.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The event streams each token holds open.
#[derive(Debug)]
pub(crate) struct StreamCount {
    open: Arc<Mutex<HashMap<String, usize>>>,
    max: usize,
}

/// One open stream of a token; dropping it (the stream ended) frees the slot.
pub(super) struct Slot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    token: String,
}

impl StreamCount {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            open: Arc::default(),
            max,
        }
    }

    /// A slot for one more stream of `token`, unless it holds `max` already.
    pub(super) fn claim(&self, token: &str) -> Result<Slot, ApiError> {
        // A poisoned lock only means a stream panicked mid-update: the counts stand.
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(token.to_string()).or_default();
        if *n >= self.max {
            return Err(ApiError::rate_limited(
                format!(
                    "this token has {} event streams open already; close one, or raise MCP_PORTAL_EVENT_STREAMS_PER_TOKEN",
                    self.max
                ),
                TICK.as_secs(),
            ));
        }
        *n += 1;
        Ok(Slot {
            open: Arc::clone(&self.open),
            token: token.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.token);
            }
        }
    }
}

/// What one subscriber was last told.
struct Seen<E> {
    state: Arc<ApiState<E>>,
    /// The token the stream was opened with, checked on every poll.
    token: String,
    user: UserId,
    rows: HashMap<String, String>,
    catalogs: HashMap<String, String>,
    first: bool,
    _slot: Slot,
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
        let Ok(list) = self.state.rt.status(Some(&self.user)).await else {
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

    /// The user's merged catalog changed (not reported on the first poll).
    async fn catalog_events(&mut self, out: &mut Vec<Event>) {
        let portal = self.state.portal.clone();
        let u = self.user.clone();
        let Ok(Ok(m)) = tokio::task::spawn_blocking(move || portal.servers(&u)).await else {
            return;
        };
        let digest = m
            .servers
            .iter()
            .map(|s| format!("{}@{}", s.def.id, s.def.image))
            .collect::<Vec<_>>()
            .join(",");
        if self.catalogs.get(self.user.as_str()) != Some(&digest) {
            if !self.first {
                let data = json!({"user": self.user, "servers": m.servers.len()});
                out.push(event("USER_CATALOG_UPDATED", data));
            }
            self.catalogs.insert(self.user.to_string(), digest);
        }
    }

    /// Whether the stream's token still works (not revoked or expired, its user there).
    async fn token_in_force(&self) -> bool {
        let portal = self.state.portal.clone();
        let id = self.token.clone();
        tokio::task::spawn_blocking(move || portal.token_in_force(&id))
            .await
            .unwrap_or(false)
    }

    async fn next_batch(mut self) -> Option<(Vec<Event>, Self)> {
        if !self.first {
            tokio::time::sleep(TICK).await;
            if !self.token_in_force().await {
                return None;
            }
        }
        let mut out = Vec::new();
        self.status_events(&mut out).await;
        self.catalog_events(&mut out).await;
        self.first = false;
        Some((out, self))
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    user: Option<String>,
}

pub(super) async fn events<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let asked = q
        .user
        .map(|u| parse("user", &u, UserId::parse))
        .transpose()?;
    let token = match &asked {
        Some(u) => state.authorize(&headers, Need::User(u))?,
        None => state.authorize(&headers, Need::Any)?,
    };
    let slot = state.streams.claim(&token.id)?;
    let seen = Seen {
        state: state.0.clone(),
        user: asked.unwrap_or_else(|| token.user.clone()),
        token: token.id,
        rows: HashMap::new(),
        catalogs: HashMap::new(),
        first: true,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(seen, Seen::next_batch)
        .map(|batch| futures_util::stream::iter(batch.into_iter().map(Ok)))
        .flatten();
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
