//! A user's own server definitions, which replace catalog servers of the same id.

use serde::{Deserialize, Serialize};

use super::servers::unknown_user;
use super::snapshot::Snapshot;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::catalog::model::ServerDef;
use crate::catalog::parse::parse_custom;
use crate::catalog::report::Diagnostic;
use crate::ids::{ServerId, UserId};
use crate::store::{Loaded, StoredCustom};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomReport {
    pub user: UserId,
    pub added: Vec<ServerId>,
    pub replaced: Vec<ServerId>,
    pub warnings: Vec<Diagnostic>,
}

impl Portal {
    /// Adds (or replaces, by id) the servers of a custom-server file.
    pub fn add_custom(&self, user: &UserId, file: &str, bytes: &[u8]) -> Result<CustomReport> {
        let r = self.add_custom_unaudited(user, file, bytes);
        self.audited(Some(user.as_str()), AuditAction::CustomAdd, file, r)
    }

    fn add_custom_unaudited(
        &self,
        user: &UserId,
        file: &str,
        bytes: &[u8],
    ) -> Result<CustomReport> {
        let (servers, mut warnings) = parse_custom(file, bytes, &self.config.limits())?;
        let _lock = self.store.lock()?;
        let mut snapshot = Snapshot::load(&self.store)?;
        let missing = snapshot.missing(user);
        let inputs = snapshot.users.get_mut(user).ok_or(missing)?;
        let mut list = inputs
            .custom
            .as_ref()
            .map(|c| c.value.clone())
            .unwrap_or_default();
        let (mut added, mut replaced) = (Vec::new(), Vec::new());
        for def in servers {
            match list.servers.iter_mut().find(|s| s.id == def.id) {
                Some(slot) => {
                    replaced.push(def.id.clone());
                    *slot = def;
                }
                None => {
                    added.push(def.id.clone());
                    list.servers.push(def);
                }
            }
        }
        list.servers.sort_by(|a, b| a.id.cmp(&b.id));
        inputs.custom = Some(Loaded {
            value: list.clone(),
            sha256: String::new(),
        });
        // Only this user's merge changes, and only theirs is theirs to be told about.
        warnings.extend(self.check_change(&snapshot, file, Some(user))?);
        self.store.write_custom(user, &list)?;
        self.regenerate_locked(Some(user), false)?;
        Ok(CustomReport {
            user: user.clone(),
            added,
            replaced,
            warnings,
        })
    }

    pub fn list_custom(&self, user: &UserId) -> Result<Vec<ServerDef>> {
        let _lock = self.store.lock()?;
        if self.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        Ok(self
            .store
            .read_custom(user)?
            .map(|c| c.value.servers)
            .unwrap_or_default())
    }

    pub fn remove_custom(&self, user: &UserId, id: &ServerId) -> Result<()> {
        let r = self.remove_custom_unaudited(user, id);
        self.audited(
            Some(user.as_str()),
            AuditAction::CustomRemove,
            id.as_str(),
            r,
        )
    }

    fn remove_custom_unaudited(&self, user: &UserId, id: &ServerId) -> Result<()> {
        let _lock = self.store.lock()?;
        if self.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        let mut list: StoredCustom = self
            .store
            .read_custom(user)?
            .map(|c| c.value)
            .unwrap_or_default();
        let before = list.servers.len();
        list.servers.retain(|s| &s.id != id);
        if list.servers.len() == before {
            return Err(PortalError::NotFound {
                what: "custom server",
                name: format!("{id} of user {user}"),
                hint: format!("see them with `portalctl custom ls --user {user}`"),
            });
        }
        self.store.write_custom(user, &list)?;
        self.regenerate_locked(Some(user), false)?;
        Ok(())
    }
}
