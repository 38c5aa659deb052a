//! The reservation step of `enable`: under the data folder's lock, in one short step,
//! check the user's quota, take a port from their block and record the desired state;
//! and its undo for when a later step fails.

use std::net::TcpListener;

use super::super::servers::unknown_user;
use super::super::{Portal, PortalError, Result};
use super::Runtime;
use crate::alloc::ForeignNet;
use crate::catalog::merge::MergedServer;
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::plan::{self, Quota, Settings};
use crate::store::{EnabledServer, StoredEnabled};

/// What a reservation changed, so that a failure can put it back.
#[derive(Debug, Clone)]
pub(super) struct Reservation {
    pub(super) block: u32,
    pub(super) port: Option<u16>,
    pub(super) settings: Settings,
    pub(super) previous: Option<EnabledServer>,
    pub(super) previous_port: Option<u16>,
}

fn port_is_free(bind: &str, port: u16) -> bool {
    TcpListener::bind((bind, port)).is_ok()
}

/// Whether one more server (or a changed one) with these limits fits the user's quota,
/// counting what else they have enabled. Pure: the reservation's one rule.
pub(super) fn check_quota(
    user: &UserId,
    quota: &Quota,
    enabled: &StoredEnabled,
    server: &ServerId,
    memory_bytes: u64,
    cpu_shares: u64,
) -> Result<()> {
    let others = enabled.servers.iter().filter(|(id, _)| *id != server);
    let (count, memory, shares) = others
        .fold((1u64, memory_bytes, cpu_shares), |(n, m, c), (_, e)| {
            (n + 1, m + e.memory_bytes, c + e.cpu_shares)
        });
    let mb = |b: u64| b.div_ceil(1024 * 1024);
    let exceeded = |resource, used: String, limit: String| PortalError::QuotaExceeded {
        user: user.clone(),
        resource,
        used,
        limit,
        flag: match resource {
            "container" => "--max-containers",
            "memory" => "--max-memory-mb",
            _ => "--max-cpu-shares",
        },
    };
    if count > u64::from(quota.max_containers) {
        return Err(exceeded(
            "container",
            count.to_string(),
            format!("{} containers", quota.max_containers),
        ));
    }
    if mb(memory) > quota.max_memory_mb {
        return Err(exceeded(
            "memory",
            format!("{}MB", mb(memory)),
            format!("{}MB", quota.max_memory_mb),
        ));
    }
    if shares > quota.max_cpu_shares {
        return Err(exceeded(
            "cpu",
            shares.to_string(),
            format!("{} shares", quota.max_cpu_shares),
        ));
    }
    Ok(())
}

impl<E: Engine> Runtime<E> {
    pub(super) fn reserve(
        portal: &Portal,
        user: &UserId,
        def: &MergedServer,
        settings: Option<Settings>,
        foreign: &[ForeignNet],
    ) -> Result<Reservation> {
        let rt = &portal.config.runtime;
        let _lock = portal.store.lock()?;
        let record = portal
            .store
            .read_user(user)?
            .ok_or_else(|| unknown_user(user))?
            .value;
        let quota = record.limits.apply(rt.quota);
        let mut enabled = portal.store.read_enabled(user)?;
        let server = &def.def.id;
        let previous = enabled.servers.get(server).cloned();
        let settings = settings
            .or_else(|| previous.as_ref().map(|p| p.settings.clone()))
            .unwrap_or_default();
        let (memory_bytes, cpu_shares) = plan::limits(&def.def, &rt.defaults, &quota);

        check_quota(user, &quota, &enabled, server, memory_bytes, cpu_shares)?;

        let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
        let previous_port = allocs
            .users
            .get(user)
            .and_then(|a| a.ports.get(server).copied());
        let block = allocs.block(&rt.pools, user, foreign)?;
        let port = if def.def.transport.is_http() {
            Some(allocs.port(&rt.pools, user, server, foreign, |p| {
                port_is_free(&rt.bind_address, p)
            })?)
        } else {
            allocs.release_port(user, server);
            None
        };
        let enabled_at = previous.as_ref().map_or_else(Portal::now, |p| p.enabled_at);
        enabled.servers.insert(
            server.clone(),
            EnabledServer {
                settings: settings.clone(),
                memory_bytes,
                cpu_shares,
                enabled_at,
            },
        );
        portal.store.write_allocations(&allocs)?;
        portal.store.write_enabled(user, &enabled)?;
        Ok(Reservation {
            block,
            port,
            settings,
            previous,
            previous_port,
        })
    }

    pub(super) fn unreserve(
        portal: &Portal,
        user: &UserId,
        server: &ServerId,
        r: &Reservation,
    ) -> Result<()> {
        let _lock = portal.store.lock()?;
        let mut enabled = portal.store.read_enabled(user)?;
        let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
        match &r.previous {
            Some(p) => {
                enabled.servers.insert(server.clone(), p.clone());
            }
            None => {
                enabled.servers.remove(server);
            }
        }
        if r.previous_port.is_none() {
            allocs.release_port(user, server);
        }
        portal.store.write_enabled(user, &enabled)?;
        portal.store.write_allocations(&allocs)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(n: usize, memory_mb: u64) -> StoredEnabled {
        let mut e = StoredEnabled::default();
        for i in 0..n {
            e.servers.insert(
                ServerId::parse(&format!("s{i}")).unwrap(),
                EnabledServer {
                    settings: Settings::default(),
                    memory_bytes: memory_mb * 1024 * 1024,
                    cpu_shares: 256,
                    enabled_at: jiff::Timestamp::UNIX_EPOCH,
                },
            );
        }
        e
    }

    #[test]
    fn the_quota_counts_the_others_and_refuses_naming_the_limit() {
        let user = UserId::parse("u1").unwrap();
        let quota = Quota {
            max_containers: 2,
            max_memory_mb: 100,
            max_cpu_shares: 1024,
        };
        let new = ServerId::parse("new").unwrap();
        let mb = 1024 * 1024;
        assert!(check_quota(&user, &quota, &enabled(1, 10), &new, 10 * mb, 256).is_ok());
        let err = check_quota(&user, &quota, &enabled(2, 10), &new, 10 * mb, 256).unwrap_err();
        assert_eq!(
            err.to_string(),
            "container limit exceeded: 3/2 containers for user u1; disable one of their servers, or raise the limit with `portalctl user limits u1 --max-containers N`"
        );
        let err = check_quota(&user, &quota, &enabled(1, 60), &new, 50 * mb, 256).unwrap_err();
        assert_eq!(
            err.to_string(),
            "memory limit exceeded: 110MB/100MB for user u1; disable one of their servers, or raise the limit with `portalctl user limits u1 --max-memory-mb N`"
        );
        let err = check_quota(&user, &quota, &enabled(1, 10), &new, 10 * mb, 1000).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("`portalctl user limits u1 --max-cpu-shares N`"),
            "{err}"
        );
        // Re-enabling a server replaces its own share instead of adding to it.
        let same = ServerId::parse("s0").unwrap();
        assert!(check_quota(&user, &quota, &enabled(2, 10), &same, 10 * mb, 256).is_ok());
    }
}
