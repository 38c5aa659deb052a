//! `status`: every enabled server and managed container side by side, from a listing
//! of the managed containers that a burst of callers shares.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::super::servers::unknown_user;
use super::super::Result;
use super::Runtime;
use crate::engine::{ContainerInfo, Engine};
use crate::ids::UserId;
use crate::plan::{
    self, container_name, legacy_container_name, LABEL_CPU_SHARES, LABEL_MEMORY, LABEL_PORT,
    LABEL_SERVER, LABEL_USER,
};
use crate::store::EnabledServer;

/// One line of `portalctl status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusRow {
    pub user: String,
    pub server: String,
    pub container: String,
    /// running, exited, created, ..., `idle` (stopped on purpose until its next MCP
    /// request), `missing` (enabled, no container) or `orphan` (a managed container
    /// nobody enabled).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Docker's summary, e.g. "Up 3 minutes".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// From the daemon: healthy, unhealthy, failed, ... (`-` when it never looked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    pub restarts: u32,
    /// Runs an older definition (update policy `manual`).
    pub outdated: bool,
}

/// The state `status` shows for a server stopped on purpose until its next MCP request.
pub const IDLE: &str = "idle";

/// The health `status` shows when no daemon runs on the data folder to check it.
pub const UNKNOWN_HEALTH: &str = "unknown";

/// How long a container listing serves `status` calls.
const LISTING_TTL: Duration = Duration::from_millis(500);

/// The managed containers as last listed, shared by `status` calls for a moment so a
/// hundred clients asking at once cost one Docker call. Changes made through the
/// runtime drop it.
#[derive(Debug, Default)]
pub(super) struct ListingCache {
    last: tokio::sync::Mutex<Option<Listed>>,
}

#[derive(Debug)]
struct Listed {
    at: Instant,
    containers: Vec<ContainerInfo>,
    /// Someone is listing anew right now: others take this listing meanwhile.
    refreshing: bool,
}

impl ListingCache {
    /// The listing, fetched anew when older than `LISTING_TTL`. While one caller
    /// fetches, the others get the previous listing rather than queueing behind it.
    async fn get<F, Fut>(&self, fetch: F) -> Result<Vec<ContainerInfo>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<ContainerInfo>>>,
    {
        {
            let mut last = self.last.lock().await;
            match last.as_mut() {
                Some(l) if l.at.elapsed() < LISTING_TTL || l.refreshing => {
                    return Ok(l.containers.clone())
                }
                Some(l) => l.refreshing = true,
                None => {}
            }
        }
        let fetched = fetch().await;
        let mut last = self.last.lock().await;
        match fetched {
            Ok(containers) => {
                *last = Some(Listed {
                    at: Instant::now(),
                    containers: containers.clone(),
                    refreshing: false,
                });
                Ok(containers)
            }
            Err(e) => {
                if let Some(l) = last.as_mut() {
                    l.refreshing = false;
                }
                Err(e)
            }
        }
    }

    pub(super) async fn invalidate(&self) {
        *self.last.lock().await = None;
    }
}

impl<E: Engine> Runtime<E> {
    pub(super) async fn listing(&self) -> Result<Vec<ContainerInfo>> {
        let managed = self.managed();
        self.listing
            .get(|| async { Ok(self.engine.containers(&managed).await?) })
            .await
    }

    /// Forgets the cached listing after a change made here.
    pub(super) async fn changed(&self) {
        self.listing.invalidate().await;
    }

    /// Every enabled server and managed container (of one user, or all), side by side.
    pub async fn status(&self, only: Option<&UserId>) -> Result<Vec<StatusRow>> {
        if let Some(u) = only {
            if self.portal.store.read_user(u)?.is_none() {
                return Err(unknown_user(u));
            }
        }
        let containers: Vec<ContainerInfo> = self
            .listing()
            .await?
            .into_iter()
            .filter(|c| only.is_none_or(|u| c.label(LABEL_USER) == Some(u.as_str())))
            // A proxy is part of its server's row, not a row of its own.
            .filter(|c| !super::is_proxy(c))
            .collect();
        let users = match only {
            Some(u) => vec![u.clone()],
            None => self.portal.store.user_ids()?,
        };
        let mut rows = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        // One user's damaged record must not hide everyone's status: their containers are
        // listed with what is wrong instead of as orphans.
        let mut unreadable = std::collections::BTreeMap::new();
        for user in &users {
            let enabled = match self.portal.store.read_enabled(user) {
                Ok(e) => e,
                Err(e) if only.is_none() => {
                    unreadable.insert(user.to_string(), self.portal.store.describe(&e));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for (server, entry) in enabled.servers {
                let name = container_name(user, server.as_str());
                // Or under an earlier version's name, until enable or the daemon renames it.
                let legacy = legacy_container_name(user, server.as_str());
                let found = containers.iter().find(|c| {
                    (c.name == name || c.name == legacy)
                        && self.ours(c, user)
                        && c.label(LABEL_SERVER) == Some(server.as_str())
                });
                let name = found.map_or(name, |c| c.name.clone());
                seen.insert(name.clone());
                rows.push(
                    self.row(user.as_str(), server.as_str(), &name, found, Some(&entry))
                        .await?,
                );
            }
        }
        for c in &containers {
            if !seen.contains(&c.name) {
                let user = c.label(LABEL_USER).unwrap_or_default().to_string();
                let server = c.label(LABEL_SERVER).unwrap_or_default().to_string();
                let mut row = self.row(&user, &server, &c.name, Some(c), None).await?;
                match unreadable.get(&user) {
                    Some(why) => row.last_error = Some(why.clone()),
                    None => row.state = "orphan".into(),
                }
                rows.push(row);
            }
        }
        // Stopped on purpose (idle timeout, `enable --lazy`): started by the next request.
        let idle = self.portal.store.read_idle()?.containers;
        for row in &mut rows {
            // Only a container that is there and stopped: a mark left behind by a
            // container removed since says nothing.
            let stopped = matches!(row.state.as_str(), "exited" | "created");
            if stopped && idle.contains_key(&row.container) {
                row.state = IDLE.into();
                row.last_error = None;
            }
        }
        let daemon = self.portal.store.read_daemon_state()?;
        // With no daemon running, its health record may be hours old: say unknown.
        let live = self.portal.store.daemon_running()?;
        for row in &mut rows {
            if !live {
                row.health = Some(UNKNOWN_HEALTH.into());
            }
            if let Some(h) = daemon.containers.get(&row.container) {
                if live {
                    row.health = (!h.health.is_empty()).then(|| h.health.clone());
                }
                row.restarts = h.restarts;
                row.outdated = h.outdated;
                // The daemon's account (why it restarted or gave up) says more than Docker's.
                if h.last_error.is_some() {
                    row.last_error = h.last_error.clone();
                }
            }
        }
        rows.sort_by(|a, b| (&a.user, &a.server).cmp(&(&b.user, &b.server)));
        Ok(rows)
    }

    pub(super) async fn row(
        &self,
        user: &str,
        server: &str,
        name: &str,
        found: Option<&ContainerInfo>,
        entry: Option<&EnabledServer>,
    ) -> Result<StatusRow> {
        let Some(c) = found else {
            return Ok(StatusRow {
                user: user.into(),
                server: server.into(),
                container: name.into(),
                state: "missing".into(),
                port: None,
                image: String::new(),
                memory_bytes: entry.map(|e| e.memory_bytes),
                cpus: entry.map(|e| e.cpu_shares as f64 / plan::SHARES_PER_CPU as f64),
                uptime: None,
                last_error: Some("enabled, but no container exists; enable it again".into()),
                health: None,
                restarts: 0,
                outdated: false,
            });
        };
        let last_error = if c.running() {
            None
        } else {
            self.engine.container(name).await?.map(|i| {
                let code = i
                    .exit_code
                    .map(|c| format!("exit code {c}"))
                    .unwrap_or_else(|| i.state.clone());
                i.error.map_or(code.clone(), |e| format!("{code}: {e}"))
            })
        };
        let num = |key: &str| c.label(key).and_then(|v| v.parse::<u64>().ok());
        Ok(StatusRow {
            user: user.into(),
            server: server.into(),
            container: name.into(),
            state: c.state.clone(),
            port: num(LABEL_PORT).and_then(|p| u16::try_from(p).ok()),
            image: c.image.clone(),
            memory_bytes: num(LABEL_MEMORY),
            cpus: num(LABEL_CPU_SHARES).map(|s| s as f64 / plan::SHARES_PER_CPU as f64),
            uptime: c.status.clone(),
            last_error,
            health: None,
            restarts: 0,
            outdated: false,
        })
    }
}
