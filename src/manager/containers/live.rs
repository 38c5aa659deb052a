//! What the event streams resynchronise from and the daemon samples: a user's
//! containers' states and the user's resources against their quota, each from one
//! (shared) container listing.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use super::super::events::{Event, Limits, Resources};
use super::super::servers::unknown_user;
use super::super::{Portal, Result};
use super::Runtime;
use crate::engine::Engine;
use crate::ids::UserId;
use crate::plan::{LABEL_PORT, LABEL_SERVER, LABEL_USER};

/// What `old_status` says when the portal had not seen the container before.
pub const UNKNOWN_STATUS: &str = "unknown";

/// How many containers' memory is read at once.
const MEASURE_AT_ONCE: usize = 8;

const MIB: u64 = 1024 * 1024;

/// The last reading of the users' containers.
#[derive(Debug, Default)]
pub(super) struct Measured {
    /// Each user's memory in use, in bytes.
    memory: BTreeMap<UserId, u64>,
    /// Each user's CPU in use between the last two readings, in thousandths of a core.
    cpu: BTreeMap<UserId, u64>,
    /// Each container's CPU time at the last reading, and when it was read.
    cpu_seen: std::collections::HashMap<String, (u64, std::time::Instant)>,
    /// Whether `cpu` is the change since an earlier reading (false on the first).
    cpu_ready: bool,
}

impl<E: Engine> Runtime<E> {
    /// The state of each of the user's containers now, and `missing` for an enabled
    /// server without one: the events a stream that (re)starts begins with.
    pub async fn current_states(&self, user: &UserId) -> Result<Vec<Event>> {
        if self.portal.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        let containers = self.listing().await?;
        let mut enabled = self.portal.store.read_enabled(user)?.servers;
        let now = Portal::now();
        let mut out = Vec::new();
        for c in containers
            .iter()
            .filter(|c| c.label(LABEL_USER) == Some(user.as_str()) && !super::is_proxy(c))
        {
            let server = c.label(LABEL_SERVER).unwrap_or_default();
            enabled.retain(|id, _| id.as_str() != server);
            out.push(Event::ServerStatusChanged {
                user_id: user.clone(),
                server_id: server.to_string(),
                old_status: UNKNOWN_STATUS.into(),
                new_status: c.state.clone(),
                container_id: c.id.clone(),
                timestamp: now,
            });
        }
        out.extend(
            enabled
                .into_keys()
                .map(|server| Event::ServerStatusChanged {
                    user_id: user.clone(),
                    server_id: server.to_string(),
                    old_status: UNKNOWN_STATUS.into(),
                    new_status: "missing".into(),
                    container_id: String::new(),
                    timestamp: now,
                }),
        );
        Ok(out)
    }

    /// Reads the memory and CPU time of each running managed container, one stats call
    /// each (a few at once), and keeps each user's sums for `usage`: their memory now,
    /// and the CPU their containers used since the last reading (none on the first).
    pub async fn measure(&self) -> Result<()> {
        let containers = self.listing().await?;
        let running: Vec<_> = containers
            .iter()
            .filter(|c| c.running() && !super::is_proxy(c))
            .filter_map(|c| {
                let user = UserId::parse(c.label(LABEL_USER)?).ok()?;
                Some((user, c.id.clone(), c.name.clone()))
            })
            .collect();
        let read = futures_util::stream::iter(running)
            .map(|(user, id, name)| async move {
                match self.engine.usage(&name).await {
                    Ok(u) => u.map(|u| (user, id, u, std::time::Instant::now())),
                    Err(e) => {
                        tracing::debug!(error = %e, container = %name, "cannot read resource use");
                        None
                    }
                }
            })
            .buffer_unordered(MEASURE_AT_ONCE)
            .collect::<Vec<_>>()
            .await;
        // A poisoned lock only means a sampler panicked mid-write: the readings are replaced.
        let mut before = self.measured.lock().unwrap_or_else(|p| p.into_inner());
        let last = before.as_ref().map(|b| &b.cpu_seen);
        let mut m = Measured {
            cpu_ready: last.is_some(),
            ..Default::default()
        };
        for (user, id, u, at) in read.into_iter().flatten() {
            *m.memory.entry(user.clone()).or_default() += u.memory_bytes;
            if let Some((ns, then)) = last.and_then(|l| l.get(&id)) {
                let wall = at.duration_since(*then).as_nanos() as f64;
                if wall > 0.0 && u.cpu_ns >= *ns {
                    let cores = (u.cpu_ns - ns) as f64 / wall;
                    *m.cpu.entry(user.clone()).or_default() += (cores * 1000.0).round() as u64;
                }
            }
            m.cpu_seen.insert(id, (u.cpu_ns, at));
        }
        *before = Some(m);
        Ok(())
    }

    /// Each user's resources (one user's, or everyone's): what their enabled servers
    /// reserve, which is what the quota counts, beside their effective quota.
    pub async fn usage(&self, only: Option<&UserId>) -> Result<Vec<Event>> {
        let users = match only {
            Some(u) => vec![u.clone()],
            None => self.portal.store.user_ids()?,
        };
        let containers = self.listing().await?;
        let pools = &self.portal.config.runtime.pools;
        let measured = self
            .measured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|m| Measured {
                memory: m.memory.clone(),
                cpu: m.cpu.clone(),
                cpu_seen: Default::default(),
                cpu_ready: m.cpu_ready,
            });
        let mut out = Vec::new();
        for user in users {
            let Ok(quota) = self.portal.user_limits(&user, None) else {
                // A user removed since the listing, or one whose record is damaged:
                // their streams get nothing rather than a wrong quota.
                continue;
            };
            let enabled = self.portal.store.read_enabled(&user)?;
            let theirs = || {
                containers
                    .iter()
                    .filter(|c| c.label(LABEL_USER) == Some(user.as_str()) && !super::is_proxy(c))
            };
            let memory: u64 = enabled.servers.values().map(|e| e.memory_bytes).sum();
            let resources = Resources {
                containers: enabled.servers.len() as u64,
                memory_mb: memory.div_ceil(MIB),
                cpu_shares: enabled.servers.values().map(|e| e.cpu_shares).sum(),
                ports_used: theirs().filter(|c| c.label(LABEL_PORT).is_some()).count() as u64,
                running: theirs().filter(|c| c.running()).count() as u64,
                measured_memory_mb: measured
                    .as_ref()
                    .map(|m| m.memory.get(&user).copied().unwrap_or(0).div_ceil(MIB)),
                measured_cpu_millicores: measured
                    .as_ref()
                    .filter(|m| m.cpu_ready)
                    .map(|m| m.cpu.get(&user).copied().unwrap_or(0)),
            };
            let limits = Limits {
                max_containers: u64::from(quota.max_containers),
                max_memory_mb: quota.max_memory_mb,
                max_cpu_shares: quota.max_cpu_shares,
                max_ports: u64::from(pools.ports_per_user),
            };
            out.push(Event::ResourceUsageUpdate {
                user_id: user,
                resources,
                limits,
            });
        }
        Ok(out)
    }
}
