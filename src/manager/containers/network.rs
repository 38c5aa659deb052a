//! A user's bridge network and allocations: made on first need, checked to be ours,
//! removed with the user's block once nothing of theirs is enabled; the allocations
//! file rebuilt from labels when it is lost.

use super::super::{PortalError, Result};
use super::{blocking, owned_by, Runtime};
use crate::alloc::{Allocations, ForeignNet, Ipv4Net};
use crate::engine::{Engine, EngineError};
use crate::ids::{ServerId, UserId};
use crate::plan::{self, network_name, network_spec, LABEL_PORT, LABEL_SERVER, LABEL_USER};

impl<E: Engine> Runtime<E> {
    /// Rebuilds the allocations from network and container labels if the state file is gone.
    pub(crate) async fn ensure_allocations(&self) -> Result<()> {
        if self.portal.store.read_allocations()?.is_some() {
            return Ok(());
        }
        let labels = self.managed();
        let networks = self.engine.networks(&labels).await?;
        let containers = self.engine.containers(&labels).await?;
        let blocks = networks.iter().filter_map(|n| {
            let user = UserId::parse(n.labels.get(LABEL_USER)?).ok()?;
            Some((user, n.labels.get(plan::LABEL_BLOCK)?.parse().ok()?))
        });
        let ports = containers.iter().filter_map(|c| {
            let user = UserId::parse(c.label(LABEL_USER)?).ok()?;
            let server = ServerId::parse(c.label(LABEL_SERVER)?).ok()?;
            Some((user, server, c.label(LABEL_PORT)?.parse().ok()?))
        });
        let rebuilt = Allocations::rebuild(blocks.collect::<Vec<_>>(), ports.collect::<Vec<_>>());
        let portal = self.portal.clone();
        blocking(move || {
            let _lock = portal.store.lock()?;
            if portal.store.read_allocations()?.is_none() {
                portal.store.write_allocations(&rebuilt)?;
            }
            Ok(())
        })
        .await
    }

    /// The subnets a new block of `user`'s must stay clear of: every IPv4 network on the
    /// engine but the user's own, whoever made it. Listed only when the user has no
    /// block yet, the one case that needs them.
    pub(super) async fn foreign_networks(&self, user: &UserId) -> Result<Vec<ForeignNet>> {
        let has_block = self
            .portal
            .store
            .read_allocations()?
            .is_some_and(|a| a.users.contains_key(user));
        if has_block {
            return Ok(Vec::new());
        }
        let own = network_name(user);
        let instance = self.instance();
        let networks = self.engine.networks(&[]).await?;
        Ok(networks
            .into_iter()
            .filter(|n| !(n.name == own && owned_by(&n.labels, instance, user)))
            .flat_map(|n| {
                let name = n.name;
                n.subnets
                    .into_iter()
                    .filter_map(|s| Ipv4Net::parse_any(&s))
                    .map(move |subnet| ForeignNet {
                        name: name.clone(),
                        subnet,
                    })
            })
            .collect())
    }

    /// The refusal for a user whose block's subnet another network took since the block
    /// was given (blocks are chosen clear of every network then on the engine).
    async fn subnet_taken(&self, user: &UserId, name: &str, subnet: &str) -> PortalError {
        let ours = Ipv4Net::parse_any(subnet);
        let other = match self.engine.networks(&[]).await {
            Ok(all) => all
                .into_iter()
                .find(|n| {
                    n.subnets.iter().any(|s| {
                        Ipv4Net::parse_any(s)
                            .zip(ours)
                            .is_some_and(|(a, b)| a.overlaps(b))
                    })
                })
                .map(|n| n.name),
            Err(_) => None,
        };
        PortalError::SubnetTaken {
            name: name.to_string(),
            user: user.clone(),
            subnet: subnet.to_string(),
            other: other.unwrap_or_else(|| "(not found)".into()),
        }
    }

    pub(super) async fn ensure_network(&self, user: &UserId, block: u32) -> Result<()> {
        let rt = &self.portal.config.runtime;
        let spec = network_spec(self.instance(), user, block, rt.pools.subnet(block));
        // Docker checks a new network's subnet before its name, so two enables of one
        // user's servers racing to make the network would see "pool overlaps": take turns.
        let store = self.portal.store.clone();
        let u = user.clone();
        let _turn = blocking(move || Ok(store.network_lock(&u)?)).await?;
        if self.engine.network(&spec.name).await?.is_none() {
            match self.engine.create_network(&spec).await {
                Err(EngineError::SubnetOverlap { .. }) => {
                    return Err(self.subnet_taken(user, &spec.name, &spec.subnet).await)
                }
                other => other?,
            }
        }
        let found =
            self.engine
                .network(&spec.name)
                .await?
                .ok_or_else(|| PortalError::NetworkVanished {
                    name: spec.name.clone(),
                })?;
        if !owned_by(&found.labels, self.instance(), user) {
            return Err(PortalError::NetworkTaken {
                name: spec.name,
                user: user.clone(),
            });
        }
        if !found.subnets.contains(&spec.subnet) {
            return Err(PortalError::NetworkMismatch {
                name: spec.name,
                user: user.clone(),
                found: found.subnets.join(","),
                want: spec.subnet,
            });
        }
        Ok(())
    }

    /// Removes the user's network and frees their block once nothing of theirs is enabled.
    pub(super) async fn remove_network_if_unused(&self, user: &UserId) -> Result<()> {
        if !self.portal.config.runtime.remove_empty_networks {
            return Ok(());
        }
        let store = self.portal.store.clone();
        let u = user.clone();
        // Under the network lock, an enable of this user either reserved already (and is
        // seen below) or will make the network again after we are done.
        let _turn = blocking(move || Ok(store.network_lock(&u)?)).await?;
        if !self.portal.store.read_enabled(user)?.servers.is_empty() {
            return Ok(());
        }
        let labels = self.managed_for(user);
        if !self.engine.containers(&labels).await?.is_empty() {
            return Ok(());
        }
        self.remove_own_network(user).await?;
        let portal = self.portal.clone();
        let u = user.clone();
        blocking(move || {
            let _lock = portal.store.lock()?;
            if portal.store.read_enabled(&u)?.servers.is_empty() {
                let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
                allocs.release_user(&u);
                portal.store.write_allocations(&allocs)?;
            }
            Ok(())
        })
        .await
    }

    /// Removes the user's network if this portal made it for them: never another
    /// instance's, nor one that only has the name.
    pub(super) async fn remove_own_network(&self, user: &UserId) -> Result<()> {
        let name = network_name(user);
        let ours = self
            .engine
            .network(&name)
            .await?
            .is_some_and(|n| owned_by(&n.labels, self.instance(), user));
        if ours {
            self.engine.remove_network(&name).await?;
        }
        self.remove_own_egress_network(user).await
    }
}
