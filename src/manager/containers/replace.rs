//! Replacing a container whose definition or settings changed, so that a replacement
//! that fails leaves the user the container they had: the new one is made under a
//! temporary name first, the old one is only stopped (it holds the host port the new one
//! publishes), and only once the new one runs is the old one removed and the new one
//! given the name. A failure removes what the attempt made, gives the old container its
//! secret files back and starts it again, and says so.

use super::super::error::OldContainer;
use super::super::{OpenedSecret, PortalError, Result};
use super::Runtime;
use crate::engine::{ContainerInfo, Engine};
use crate::ids::{ServerId, UserId};
use crate::plan::{replacement_name, ContainerSpec};

/// Who the replacement is for, and what it needs around it (see `surroundings`).
pub(super) struct Replacement<'a> {
    pub user: &'a UserId,
    pub server: &'a ServerId,
    pub block: u32,
    pub spec: &'a ContainerSpec,
    pub opened: &'a [OpenedSecret],
    pub secret_dir: &'a std::path::Path,
}

impl<E: Engine> Runtime<E> {
    /// Replaces `old` with a container made from `r.spec`, or leaves `old` as it was.
    pub(super) async fn replace(&self, old: &ContainerInfo, r: &Replacement<'_>) -> Result<()> {
        let store = &self.portal.store;
        let stash = store.stash_secret_files(r.secret_dir)?;
        let next = replacement_name(&r.spec.name);
        match self.try_replace(old, r, &next).await {
            Ok(()) => {
                self.finish(old, &next, &r.spec.name).await;
                if let Some(stash) = &stash {
                    if let Err(e) = store.remove_secret_files(stash) {
                        tracing::warn!(error = %e, "cannot remove the replaced container's secret files");
                    }
                }
                Ok(())
            }
            Err(cause) => {
                // What the attempt made goes, and the old container gets its files back
                // before it starts again.
                let removed = self.engine.remove_container(&next, 0).await;
                let restored = store.restore_secret_files(r.secret_dir, stash.as_deref());
                let undone = removed
                    .map_err(PortalError::from)
                    .and(restored.map_err(PortalError::from));
                let old_now = self.restore(old).await;
                let failed = PortalError::NotReplaced {
                    name: r.spec.name.clone(),
                    cause: Box::new(cause),
                    old: Box::new(old_now),
                };
                Err(match undone {
                    Ok(()) => failed,
                    Err(c) => PortalError::Cleanup {
                        original: Box::new(failed),
                        cleanup: Box::new(c),
                    },
                })
            }
        }
    }

    async fn try_replace(
        &self,
        old: &ContainerInfo,
        r: &Replacement<'_>,
        next: &str,
    ) -> Result<()> {
        let env = self
            .surroundings(r.user, r.server, r.block, r.spec, r.opened, r.secret_dir)
            .await?;
        let _permit = self
            .starts
            .acquire()
            .await
            .map_err(|_| PortalError::QueueClosed)?;
        // One an interrupted attempt left would hold the temporary name.
        self.engine.remove_container(next, 0).await?;
        let staged = ContainerSpec {
            name: next.to_string(),
            ..r.spec.clone()
        };
        self.engine.create_container(&staged, &env).await?;
        let stop = self.portal.config.runtime.stop_timeout_secs;
        self.engine.stop_container(&old.name, stop).await?;
        self.start_checked(next).await
    }

    /// Once the new container runs, the old one goes and the new one takes the name. Past
    /// that point nothing is undone: should Docker fail here, the new container runs under
    /// its temporary name until `pair_container` next looks for the pair.
    async fn finish(&self, old: &ContainerInfo, next: &str, name: &str) {
        let done = match self.engine.remove_container(&old.name, 0).await {
            Ok(()) => self.engine.rename_container(next, name).await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, container = %next, "the new container runs, but under its temporary name; the next enable, or the daemon's next pass, gives it its name");
        }
    }

    /// Brings the old container back to how it was before the attempt: running if it ran.
    async fn restore(&self, old: &ContainerInfo) -> OldContainer {
        if !old.running() {
            return OldContainer::LeftStopped;
        }
        match self.engine.container(&old.name).await {
            Ok(Some(c)) if c.running() => OldContainer::Untouched,
            _ => match self.start_checked(&old.name).await {
                Ok(()) => OldContainer::Restarted,
                Err(e) => OldContainer::RestartFailed(e),
            },
        }
    }
}
