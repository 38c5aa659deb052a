//! `disable`, and the removal of orphans (managed containers nobody enabled).

use serde::{Deserialize, Serialize};

use super::super::servers::unknown_user;
use super::super::{AuditAction, Portal, Result};
use super::{blocking, Runtime};
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::plan::{container_name, replacement_name, LABEL_SERVER, LABEL_USER};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisableReport {
    pub user: UserId,
    pub server: ServerId,
    pub container: String,
    pub removed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_port: Option<u16>,
    /// False when there was nothing to disable: not enabled, and no container.
    #[serde(default = "yes")]
    pub was_enabled: bool,
}

fn yes() -> bool {
    true
}

impl<E: Engine> Runtime<E> {
    /// Disables a server: its container is removed and its port released.
    pub async fn disable(&self, user: &UserId, server: &ServerId) -> Result<DisableReport> {
        self.disable_by(&self.portal, user, server).await
    }

    /// `disable` on behalf of `by` (the portal acting as the caller, for the audit log).
    pub async fn disable_by(
        &self,
        by: &Portal,
        user: &UserId,
        server: &ServerId,
    ) -> Result<DisableReport> {
        let r = self.disable_unaudited(user, server).await;
        by.audited(
            Some(user.as_str()),
            AuditAction::ServerDisable,
            server.as_str(),
            r,
        )
    }

    async fn disable_unaudited(&self, user: &UserId, server: &ServerId) -> Result<DisableReport> {
        self.changed().await;
        // A lost allocations file is rebuilt from labels before it is written again.
        self.ensure_allocations().await?;
        let store = self.portal.store.clone();
        let (u, s) = (user.clone(), server.clone());
        let _pair = blocking(move || Ok(store.pair_lock(&u, &s)?)).await?;
        let portal = self.portal.clone();
        let (u, s) = (user.clone(), server.clone());
        let (was_enabled, released_port) = blocking(move || {
            let _lock = portal.store.lock()?;
            let mut enabled = portal.store.read_enabled(&u)?;
            let was = enabled.servers.remove(&s).is_some();
            let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
            let port = allocs.release_port(&u, &s);
            portal.store.write_enabled(&u, &enabled)?;
            portal.store.write_allocations(&allocs)?;
            Ok((was, port))
        })
        .await?;
        let name = container_name(user, server.as_str());
        let existing = self
            .pair_container(user, server)
            .await?
            .filter(|c| self.ours(c, user));
        if let Some(c) = &existing {
            self.engine
                .remove_container(&c.name, self.portal.config.runtime.stop_timeout_secs)
                .await?;
        }
        self.remove_proxy(user, server).await?;
        self.portal
            .store
            .remove_secret_files(&self.secret_dir(user, server))?;
        self.clear_idle(&name).await?;
        // Disabling what is not enabled is done already (as enabling twice is); only a
        // user who does not exist is an error, so a typo is not taken for success.
        if !was_enabled && existing.is_none() && self.portal.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        self.remove_network_if_unused(user).await?;
        self.changed().await;
        Ok(DisableReport {
            user: user.clone(),
            server: server.clone(),
            container: name,
            removed: existing.is_some(),
            released_port,
            was_enabled: was_enabled || existing.is_some(),
        })
    }

    /// Removes a managed container nobody enabled; `false` when, by its turn, its server
    /// has been enabled after all (the caller's view was older than the CLI's change).
    pub async fn remove_orphan(&self, name: &str) -> Result<bool> {
        let Some(c) = self.engine.container(name).await? else {
            return Ok(true);
        };
        let owner = c.label(LABEL_USER).and_then(|u| UserId::parse(u).ok());
        let server = c.label(LABEL_SERVER).and_then(|s| ServerId::parse(s).ok());
        let _pair = match (&owner, &server) {
            (Some(u), Some(s)) => {
                let (store, u, s) = (self.portal.store.clone(), u.clone(), s.clone());
                Some(blocking(move || Ok(store.pair_lock(&u, &s)?)).await?)
            }
            _ => None,
        };
        if let (Some(u), Some(s)) = (&owner, &server) {
            if self.portal.store.read_enabled(u)?.servers.contains_key(s) {
                // A replacement's temporary name, seen under the pair's lock, is what an
                // interrupted replacement left (one in progress holds the lock): it goes,
                // and the secret files stay for the pair's own container.
                if name != replacement_name(&container_name(u, s.as_str())) {
                    return Ok(false);
                }
                self.engine.remove_container(name, 0).await?;
                return Ok(true);
            }
        }
        self.engine
            .remove_container(name, self.portal.config.runtime.stop_timeout_secs)
            .await?;
        if let (Some(u), Some(s)) = (&owner, &server) {
            self.remove_proxy(u, s).await?;
            self.portal
                .store
                .remove_secret_files(&self.secret_dir(u, s))?;
            self.remove_network_if_unused(u).await?;
        }
        Ok(true)
    }
}
