//! `restart`, and the daemon's restart of a stopped container.

use super::super::{AuditAction, Portal, PortalError, Result};
use super::enable::{EnableOutcome, EnableReport};
use super::{blocking, not_enabled, Runtime};
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::plan::{LABEL_EGRESS, LABEL_PORT, LABEL_SPEC_HASH};

impl<E: Engine> Runtime<E> {
    /// Restarts an enabled server's container, recreating it if it is gone.
    pub async fn restart(&self, user: &UserId, server: &ServerId) -> Result<EnableReport> {
        self.restart_by(&self.portal, user, server).await
    }

    /// `restart` on behalf of `by` (the portal acting as the caller, for the audit log).
    pub async fn restart_by(
        &self,
        by: &Portal,
        user: &UserId,
        server: &ServerId,
    ) -> Result<EnableReport> {
        let r = self.restart_as(user, server, false).await;
        self.changed().await;
        let r = r.and_then(|r| r.ok_or_else(|| not_enabled(user, server)));
        if let Ok(report) = &r {
            // Started by the user's choice: no longer idle.
            self.awake(&report.container).await;
        }
        by.audited(
            Some(user.as_str()),
            AuditAction::ServerRestart,
            server.as_str(),
            r,
        )
    }

    /// For the daemon: restarts the container only if it is still stopped once its turn
    /// comes (`None` otherwise), so a container an enable is just starting is left alone.
    pub async fn restart_stopped(
        &self,
        user: &UserId,
        server: &ServerId,
    ) -> Result<Option<EnableReport>> {
        let r = self.restart_as(user, server, true).await;
        self.changed().await;
        r
    }

    /// For the daemon: restarts a running container that fails its health check. The
    /// daemon audits it as its own action, not as a user's `server.restart`.
    pub async fn restart_running(&self, user: &UserId, server: &ServerId) -> Result<EnableReport> {
        let r = self.restart_as(user, server, false).await;
        self.changed().await;
        r?.ok_or_else(|| not_enabled(user, server))
    }

    pub(super) async fn restart_as(
        &self,
        user: &UserId,
        server: &ServerId,
        only_if_stopped: bool,
    ) -> Result<Option<EnableReport>> {
        if !self
            .portal
            .store
            .read_enabled(user)?
            .servers
            .contains_key(server)
        {
            return Err(not_enabled(user, server));
        }
        let store = self.portal.store.clone();
        let (u, s) = (user.clone(), server.clone());
        let pair = blocking(move || Ok(store.pair_lock(&u, &s)?)).await?;
        match self
            .pair_container(user, server)
            .await?
            .filter(|c| self.ours(c, user))
        {
            Some(c) => {
                if only_if_stopped && c.running() {
                    // An enable that held the lock has started it meanwhile: nothing to do.
                    return Ok(None);
                }
                // A server whose egress proxy is gone or stopped is brought in line whole
                // (the proxy made again, the server started if it is stopped).
                if let Some(proxy) = c.label(LABEL_EGRESS) {
                    let up = self
                        .engine
                        .container(proxy)
                        .await?
                        .is_some_and(|p| p.running());
                    if !up {
                        drop(pair);
                        return self.converge(user, server).await;
                    }
                }
                // Docker resolves each bind's source again at start, following links:
                // a folder the container swapped for a link since is refused here.
                let sources: Vec<String> =
                    c.bind_sources.iter().map(|s| self.local_path(s)).collect();
                let store = self.portal.store.clone();
                blocking(move || Ok(store.check_volume_dirs(&sources)?)).await?;
                let name = c.name.clone();
                self.engine
                    .restart_container(&name, self.portal.config.runtime.stop_timeout_secs)
                    .await?;
                match self.engine.container(&name).await? {
                    Some(now) if now.running() => {}
                    Some(now) => return Err(super::enable::exited(&now, "restarting")),
                    None => return Err(PortalError::ContainerVanished { name }),
                }
                Ok(Some(EnableReport {
                    user: user.clone(),
                    server: server.clone(),
                    container: name,
                    outcome: EnableOutcome::Started,
                    image: c.image.clone(),
                    port: c.label(LABEL_PORT).and_then(|p| p.parse().ok()),
                    bind_address: self.portal.config.runtime.bind_address.clone(),
                    spec_hash: c.label(LABEL_SPEC_HASH).unwrap_or_default().to_string(),
                }))
            }
            // Gone: made anew, as the daemon would (a pull's progress is not reported
            // here), once this lock is let go for the enable to take.
            None => {
                drop(pair);
                self.converge(user, server).await
            }
        }
    }
}
