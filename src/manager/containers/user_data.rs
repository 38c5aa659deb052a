//! Users' data beyond their records: the folders under `volumes/<id>` and the Docker
//! volumes made for them. `user rm` removes it with the user (unless told to keep it),
//! and `user add` refuses to hand what an earlier user of the id left to a new one
//! (unless told to).

use serde::{Deserialize, Serialize};

use super::super::servers::unknown_user;
use super::super::users::DataLeft;
use super::super::{AuditAction, Portal, Result, UserSummary};
use super::{blocking, Runtime};
use crate::engine::Engine;
use crate::ids::{Label, ServerId, UserId};
use crate::plan::LABEL_SERVER;

/// What `user rm` removed, and what it kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRemoved {
    pub removed: UserId,
    /// False when there was no user, only the data an earlier one left.
    #[serde(default = "yes")]
    pub was_user: bool,
    /// Containers of theirs nobody could disable: orphans, or hidden by a damaged record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    /// Their data removed: `volumes/<id>` and Docker volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<String>,
    /// Their data kept (`--keep-data`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

fn yes() -> bool {
    true
}

impl<E: Engine> Runtime<E> {
    /// The Docker volumes this portal made for `user`.
    async fn user_volumes(&self, user: &UserId) -> Result<Vec<String>> {
        let labels = self.managed_for(user);
        let mut names: Vec<String> = self
            .engine
            .volumes(&labels)
            .await?
            .into_iter()
            .map(|v| v.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// `user add` on behalf of `by`: refused while an earlier user of the id left data
    /// (folders or Docker volumes), unless `reuse_data`.
    pub async fn add_user_by(
        &self,
        by: &Portal,
        id: UserId,
        roles: Vec<Label>,
        organization: Option<Label>,
        reuse_data: bool,
    ) -> Result<UserSummary> {
        let shown = id.to_string();
        let r = async {
            let left = if reuse_data {
                DataLeft::Reuse
            } else {
                DataLeft::Refuse(self.user_volumes(&id).await?)
            };
            let mut added = self
                .portal
                .add_user_unaudited(id, roles, organization, left)?;
            if reuse_data {
                let volumes = self.user_volumes(&added.id).await?;
                added
                    .reused
                    .extend(volumes.into_iter().map(|v| format!("Docker volume {v}")));
            }
            Ok(added)
        }
        .await;
        by.audited(Some(&shown), AuditAction::UserAdd, &shown, r)
    }

    /// `user rm` on behalf of `by`: the user's records and tokens, any container of theirs
    /// still there, and their data unless `keep_data`. A user whose records are damaged
    /// is removed too; an id with no user but data left has that data removed.
    pub async fn remove_user_by(
        &self,
        by: &Portal,
        user: &UserId,
        keep_data: bool,
    ) -> Result<UserRemoved> {
        let r = self.remove_user_unaudited(user, keep_data).await;
        by.audited(
            Some(user.as_str()),
            AuditAction::UserRemove,
            user.as_str(),
            r,
        )
    }

    async fn remove_user_unaudited(&self, user: &UserId, keep_data: bool) -> Result<UserRemoved> {
        let store = self.portal.store.clone();
        let u = user.clone();
        let enabled = blocking(move || {
            let _lock = store.lock()?;
            Ok(store.read_enabled(&u).ok())
        })
        .await?;
        // Refused before anything goes, as the records' own removal would refuse it.
        if let Some(servers) = enabled.filter(|e| !e.servers.is_empty()) {
            let names: Vec<&str> = servers.servers.keys().map(ServerId::as_str).collect();
            return Err(super::super::PortalError::UserHasServers {
                user: user.clone(),
                servers: names.join(", "),
            });
        }
        let volumes = self.user_volumes(user).await?;
        let folder = self.portal.store.user_data_left(user);
        if !self.portal.store.user_exists(user) && volumes.is_empty() && !folder {
            return Err(unknown_user(user));
        }
        self.changed().await;
        let containers = self.remove_user_containers(user).await?;
        let mut report = UserRemoved {
            removed: user.clone(),
            was_user: true,
            containers,
            data: Vec::new(),
            kept: Vec::new(),
        };
        let mut data: Vec<String> = folder
            .then(|| self.portal.store.user_data_name(user))
            .into_iter()
            .collect();
        data.extend(volumes.iter().map(|v| format!("Docker volume {v}")));
        if keep_data {
            report.kept = data;
        } else {
            for v in &volumes {
                self.engine.remove_volume(v).await?;
            }
            report.data = data;
        }
        let portal = self.portal.clone();
        let u = user.clone();
        report.was_user = blocking(move || portal.remove_user_records(&u, keep_data)).await?;
        self.changed().await;
        Ok(report)
    }

    /// Removes every container of the user's (with its secret files) and their network.
    async fn remove_user_containers(&self, user: &UserId) -> Result<Vec<String>> {
        let labels = self.managed_for(user);
        let mut removed = Vec::new();
        for c in self.engine.containers(&labels).await? {
            if !self.ours(&c, user) {
                continue;
            }
            self.engine
                .remove_container(&c.name, self.portal.config.runtime.stop_timeout_secs)
                .await?;
            if let Some(server) = c.label(LABEL_SERVER).and_then(|s| ServerId::parse(s).ok()) {
                self.portal
                    .store
                    .remove_secret_files(&self.secret_dir(user, &server))?;
            }
            removed.push(c.name);
        }
        removed.sort();
        self.remove_own_network(user).await?;
        Ok(removed)
    }
}
