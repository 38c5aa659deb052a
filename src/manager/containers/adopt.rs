//! Finding a pair's container under the name it has now, adopting what an earlier
//! version or an interrupted replacement left: `mcp-<user>-<server>` (a name two pairs
//! could spell alike) or a replacement's name is renamed in place, never recreated, and
//! each rename is said (a warning, and an audit entry).

use super::super::{AuditAction, PortalError, Result};
use super::{blocking, Runtime};
use crate::engine::{ContainerInfo, Engine};
use crate::error::AuditResult;
use crate::ids::{ServerId, UserId};
use crate::plan::{
    container_name, legacy_container_name, replacement_name, LABEL_SERVER, LABEL_USER,
};

impl<E: Engine> Runtime<E> {
    /// The pair's container, if any. When none has the pair's name, one that this
    /// portal made for the pair under an earlier version's name, or as a replacement
    /// that never got its name, is renamed to it first. The caller holds the pair's lock.
    pub(super) async fn pair_container(
        &self,
        user: &UserId,
        server: &ServerId,
    ) -> Result<Option<ContainerInfo>> {
        let name = container_name(user, server.as_str());
        if let Some(c) = self.engine.container(&name).await? {
            return Ok(Some(c));
        }
        let earlier = [
            (
                legacy_container_name(user, server.as_str()),
                "the name an earlier version gave it",
            ),
            (
                replacement_name(&name),
                "left by a replacement that was interrupted",
            ),
        ];
        for (other, why) in earlier {
            let Some(c) = self.engine.container(&other).await? else {
                continue;
            };
            if !self.ours(&c, user) || c.label(LABEL_SERVER) != Some(server.as_str()) {
                continue;
            }
            self.engine.rename_container(&other, &name).await?;
            let said = format!("renamed container {other} ({why}) to {name}; it was kept as it is");
            tracing::warn!("{said}");
            let audited = self.portal.audit_outcome(
                Some(user.as_str()),
                AuditAction::ContainerRename,
                server.as_str(),
                AuditResult::Ok,
                Some(said),
            );
            if let Err(e) = audited {
                tracing::warn!(error = %e, "cannot write the audit log");
            }
            return Ok(Some(ContainerInfo { name, ..c }));
        }
        Ok(None)
    }

    /// Renames the listed containers that an earlier version named (see
    /// `pair_container`), in the listing too. One that cannot be renamed keeps its name,
    /// and why is returned.
    pub(crate) async fn adopt_listed(&self, listed: &mut [ContainerInfo]) -> Vec<PortalError> {
        let mut errors = Vec::new();
        for c in listed.iter_mut() {
            let pair = c
                .label(LABEL_USER)
                .and_then(|u| UserId::parse(u).ok())
                .zip(c.label(LABEL_SERVER).and_then(|s| ServerId::parse(s).ok()));
            let Some((user, server)) = pair else { continue };
            if c.name != legacy_container_name(&user, server.as_str()) {
                continue;
            }
            let store = self.portal.store.clone();
            let (u, s) = (user.clone(), server.clone());
            let adopted = match blocking(move || Ok(store.pair_lock(&u, &s)?)).await {
                Ok(_pair) => self.pair_container(&user, &server).await,
                Err(e) => Err(e),
            };
            match adopted {
                Ok(Some(now)) if now.id == c.id => c.name = now.name,
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        errors
    }
}
