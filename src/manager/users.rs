//! Portal users: their roles and organization, which decide what they see.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::servers::unknown_user;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::catalog::model::UserProfile;
use crate::ids::{Label, ServerId, UserId};
use crate::plan::Quota;
use crate::store::{QuotaOverride, StoredUser};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: UserId,
    pub roles: Vec<Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Label>,
    pub custom_servers: usize,
    /// Unknown for a damaged user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// What is wrong with a user whose records cannot be read (paths relative to the
    /// data folder); such a user is listed, as damaged, and can be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
    /// What a new user took over (`user add --reuse-data`) that an earlier user of the
    /// id left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reused: Vec<String>,
}

/// What to do with data an earlier user of a new user's id left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataLeft {
    /// Refuse the new user if there is any; the Docker volumes found for the id (the data
    /// folder is looked at here).
    Refuse(Vec<String>),
    /// Hand it to the new user.
    Reuse,
}

impl UserSummary {
    /// `ok`, or `damaged`.
    pub fn state(&self) -> &'static str {
        if self.damaged.is_some() {
            "damaged"
        } else {
            "ok"
        }
    }
}

impl Portal {
    /// Adds a user, refused while an earlier user of the id left data in the data folder
    /// (`Runtime::add_user_by` also looks for their Docker volumes).
    pub fn add_user(
        &self,
        id: UserId,
        roles: Vec<Label>,
        organization: Option<Label>,
    ) -> Result<UserSummary> {
        let shown = id.to_string();
        let r = self.add_user_unaudited(id, roles, organization, DataLeft::Refuse(Vec::new()));
        self.audited(Some(&shown), AuditAction::UserAdd, &shown, r)
    }

    pub(super) fn add_user_unaudited(
        &self,
        id: UserId,
        mut roles: Vec<Label>,
        organization: Option<Label>,
        left: DataLeft,
    ) -> Result<UserSummary> {
        let _lock = self.store.lock()?;
        if self.store.user_exists(&id) {
            return Err(PortalError::Exists {
                what: "user",
                name: id.to_string(),
                hint: format!("remove it first with `portalctl user rm {id}`"),
            });
        }
        let mut found = Vec::new();
        if self.store.user_data_left(&id) {
            found.push(self.store.user_data_name(&id));
        }
        let reused = match left {
            DataLeft::Refuse(volumes) => {
                found.extend(volumes.into_iter().map(|v| format!("Docker volume {v}")));
                if !found.is_empty() {
                    return Err(PortalError::DataLeft {
                        user: id,
                        what: found.join(", "),
                    });
                }
                found
            }
            DataLeft::Reuse => found,
        };
        roles.sort();
        roles.dedup();
        let record = StoredUser {
            profile: UserProfile {
                id: id.clone(),
                roles,
                organization,
            },
            created_at: Self::now(),
            limits: QuotaOverride::default(),
        };
        self.store.write_user(&record)?;
        self.regenerate_locked(Some(&id), false)?;
        Ok(UserSummary {
            id,
            roles: record.profile.roles,
            organization: record.profile.organization,
            custom_servers: 0,
            created_at: Some(record.created_at),
            damaged: None,
            reused,
        })
    }

    /// Every user's id, sorted.
    pub fn user_ids(&self) -> Result<Vec<UserId>> {
        Ok(self.store.user_ids()?)
    }

    /// The servers a user has enabled.
    pub fn enabled_servers(&self, user: &UserId) -> Result<std::collections::BTreeSet<ServerId>> {
        Ok(self.store.read_enabled(user)?.servers.into_keys().collect())
    }

    /// Every user, a damaged one (whose records cannot be read) included as such.
    pub fn list_users(&self) -> Result<Vec<UserSummary>> {
        let _lock = self.store.lock()?;
        let mut out = Vec::new();
        for id in self.store.user_ids()? {
            let read = self.store.read_user(&id).and_then(|u| {
                let custom = self.store.read_custom(&id)?;
                Ok(u.map(|u| (u.value, custom.map_or(0, |c| c.value.servers.len()))))
            });
            let summary = match read {
                Ok(None) => continue,
                Ok(Some((u, custom))) => UserSummary {
                    id,
                    roles: u.profile.roles,
                    organization: u.profile.organization,
                    custom_servers: custom,
                    created_at: Some(u.created_at),
                    damaged: None,
                    reused: Vec::new(),
                },
                Err(e) => UserSummary {
                    damaged: Some(format!(
                        "{}; restore the file from a backup, or remove the user with `portalctl user rm {id}`",
                        self.store.describe(&e)
                    )),
                    id,
                    roles: Vec::new(),
                    organization: None,
                    custom_servers: 0,
                    created_at: None,
                    reused: Vec::new(),
                },
            };
            out.push(summary);
        }
        Ok(out)
    }

    /// The user's effective quota after applying `change` (when given) to their overrides.
    pub fn user_limits(&self, id: &UserId, change: Option<QuotaOverride>) -> Result<Quota> {
        let changes = change.is_some();
        let r = self.user_limits_unaudited(id, change);
        // Only a change is audited; showing the limits is a read.
        if !changes {
            return r;
        }
        self.audited(Some(id.as_str()), AuditAction::UserLimits, id.as_str(), r)
    }

    fn user_limits_unaudited(&self, id: &UserId, change: Option<QuotaOverride>) -> Result<Quota> {
        let _lock = self.store.lock()?;
        let mut user = self
            .store
            .read_user(id)?
            .ok_or_else(|| unknown_user(id))?
            .value;
        if let Some(change) = change {
            user.limits = QuotaOverride {
                max_containers: change.max_containers.or(user.limits.max_containers),
                max_memory_mb: change.max_memory_mb.or(user.limits.max_memory_mb),
                max_cpu_shares: change.max_cpu_shares.or(user.limits.max_cpu_shares),
            };
            self.store.write_user(&user)?;
        }
        Ok(user.limits.apply(self.config.runtime.quota))
    }

    /// Removes the user's records (profile, custom servers, secrets, cached catalog and
    /// tokens), and their folder `volumes/<id>` unless `keep_data`. A user whose record of
    /// what they enabled cannot be read is removed all the same: the caller removed their
    /// containers. Whether there was a user.
    pub(super) fn remove_user_records(&self, id: &UserId, keep_data: bool) -> Result<bool> {
        let _lock = self.store.lock()?;
        let was_user = self.store.user_exists(id);
        if let Ok(enabled) = self.store.read_enabled(id) {
            if !enabled.servers.is_empty() {
                let names: Vec<&str> = enabled.servers.keys().map(|s| s.as_str()).collect();
                return Err(PortalError::UserHasServers {
                    user: id.clone(),
                    servers: names.join(", "),
                });
            }
        }
        self.store.remove_user(id)?;
        // The user's tokens go with them: a later user of the same name inherits none.
        let mut tokens = self.store.read_tokens()?;
        let before = tokens.tokens.len();
        tokens.tokens.retain(|t| &t.user != id);
        if tokens.tokens.len() != before {
            self.store.write_tokens(&tokens)?;
        }
        if let Some(mut allocs) = self.store.read_allocations()? {
            if allocs.users.contains_key(id) {
                allocs.release_user(id);
                self.store.write_allocations(&allocs)?;
            }
        }
        if !keep_data {
            self.store.remove_user_data(id)?;
        }
        Ok(was_user)
    }
}
