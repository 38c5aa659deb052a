//! A server's egress proxy and its user's internal network (`allow_hosts`): made or
//! replaced before the server is, kept running, and removed with the server, or once
//! its definition names no hosts any more. The outbound network the proxies share is
//! the admin's (`MCP_PORTAL_EGRESS_NETWORK`), made as a bridge with inter-container traffic
//! off (no proxy reaches another user's) when missing and
//! never removed by the portal.

use super::super::{PortalError, Result};
use super::{blocking, owned_by, Runtime, TakenBy};
use crate::alloc::Pools;
use crate::engine::{Engine, EngineError};
use crate::ids::{ServerId, UserId};
use crate::plan::{
    self, egress_network_name, egress_network_spec, proxy_name, ContainerSpec, NetworkSpec,
    LABEL_ROLE, LABEL_SERVER, LABEL_SPEC_HASH, ROLE_EGRESS,
};

impl<E: Engine> Runtime<E> {
    /// Brings the pair's proxy in line with `spec`: made, replaced or started when the
    /// server has `allow_hosts`, removed when it has none.
    pub(super) async fn ensure_egress(
        &self,
        user: &UserId,
        block: u32,
        server: &ServerId,
        spec: &ContainerSpec,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<()> {
        let Some(proxy) = spec.egress.as_deref() else {
            return self.remove_proxy(user, server).await;
        };
        self.ensure_image_present(&proxy.image, progress).await?;
        self.ensure_outbound().await?;
        self.ensure_egress_network(user, block).await?;
        let found = self.engine.container(&proxy.name).await?;
        if let Some(c) = &found {
            let is_ours = owned_by(&c.labels, self.instance(), user)
                && c.label(LABEL_SERVER) == Some(server.as_str())
                && c.label(LABEL_ROLE) == Some(ROLE_EGRESS);
            if !is_ours {
                return Err(PortalError::NameTaken {
                    name: proxy.name.clone(),
                    user: user.clone(),
                    server: server.clone(),
                    owner: Box::new(TakenBy::of(&c.labels, self.instance())),
                });
            }
            let current =
                c.label(LABEL_SPEC_HASH) == proxy.labels.get(LABEL_SPEC_HASH).map(String::as_str);
            if current && c.running() {
                return Ok(());
            }
            if current {
                return self.start_checked(&proxy.name).await;
            }
            self.engine.remove_container(&proxy.name, 0).await?;
        }
        let _permit = self
            .starts
            .acquire()
            .await
            .map_err(|_| PortalError::QueueClosed)?;
        let made = match self.engine.create_container(proxy, &[]).await {
            Ok(()) => self.start_checked(&proxy.name).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = made {
            self.engine.remove_container(&proxy.name, 0).await?;
            return Err(e);
        }
        Ok(())
    }

    /// Removes the pair's proxy if this portal made it; none there is done already.
    pub(super) async fn remove_proxy(&self, user: &UserId, server: &ServerId) -> Result<()> {
        let name = proxy_name(user, server.as_str());
        if let Some(c) = self.engine.container(&name).await? {
            if owned_by(&c.labels, self.instance(), user)
                && c.label(LABEL_ROLE) == Some(ROLE_EGRESS)
            {
                self.engine.remove_container(&name, 0).await?;
            }
        }
        Ok(())
    }

    async fn ensure_image_present(
        &self,
        image: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<()> {
        if self.engine.image_user(image).await?.is_none() {
            progress(&format!("pulling {image}"));
            self.engine.pull(image, progress).await?;
        }
        Ok(())
    }

    /// The admin's outbound network, made as an isolated bridge (Docker picks its subnet)
    /// when missing. Whoever made it, it is used: the admin named it.
    async fn ensure_outbound(&self) -> Result<()> {
        let name = &self.portal.config.runtime.egress.network;
        if self.engine.network(name).await?.is_some() {
            return Ok(());
        }
        let [managed_by, instance] = self.managed();
        let spec = NetworkSpec {
            name: name.clone(),
            subnet: String::new(),
            gateway: String::new(),
            labels: [managed_by, instance, (LABEL_ROLE, ROLE_EGRESS)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            internal: false,
            isolated: true,
        };
        self.engine.create_network(&spec).await?;
        Ok(())
    }

    /// The user's internal network, from the egress pool's subnet of their block.
    async fn ensure_egress_network(&self, user: &UserId, block: u32) -> Result<()> {
        let rt = &self.portal.config.runtime;
        let pool = Pools {
            subnet_base: rt.egress_subnet_base,
            ..rt.pools
        };
        let spec = egress_network_spec(self.instance(), user, block, pool.subnet(block));
        let store = self.portal.store.clone();
        let u = user.clone();
        let _turn = blocking(move || Ok(store.network_lock(&u)?)).await?;
        if self.engine.network(&spec.name).await?.is_none() {
            match self.engine.create_network(&spec).await {
                Err(EngineError::SubnetOverlap { detail, .. }) => {
                    return Err(PortalError::EgressSubnetTaken {
                        name: spec.name,
                        subnet: spec.subnet,
                        detail,
                    })
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
        Ok(())
    }

    /// Removes the user's internal network if this portal made it for them.
    pub(super) async fn remove_own_egress_network(&self, user: &UserId) -> Result<()> {
        let name = egress_network_name(user);
        let ours = self
            .engine
            .network(&name)
            .await?
            .is_some_and(|n| owned_by(&n.labels, self.instance(), user));
        if ours {
            self.engine.remove_network(&name).await?;
        }
        Ok(())
    }
}

/// Whether a listed container is an egress proxy (not a server's own container).
pub(crate) fn is_proxy(c: &crate::engine::ContainerInfo) -> bool {
    c.label(LABEL_ROLE) == Some(ROLE_EGRESS)
}

/// The pair a proxy serves, by the pair's container name.
pub(crate) fn proxy_pair(c: &crate::engine::ContainerInfo) -> Option<String> {
    let user = UserId::parse(c.label(plan::LABEL_USER)?).ok()?;
    let server = c.label(LABEL_SERVER)?;
    Some(plan::container_name(&user, server))
}
