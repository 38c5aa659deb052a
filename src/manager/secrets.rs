//! Users' secrets: set, list, remove, rotate the key, and open the ones a server needs.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::servers::unknown_user;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::catalog::model::SecretRef;
use crate::config::KeySource;
use crate::ids::{SecretName, UserId};
use crate::secrets::{self, SealMeta, SecretKey, SecretValue};

/// A secret as listed: its name and dates, never its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretSummary {
    pub name: SecretName,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    pub expired: bool,
    pub key_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    pub old_key: String,
    pub new_key: String,
    pub resealed: usize,
    pub users: usize,
    /// Where the new key now lives, or `None` when the key comes from the environment.
    pub key_file: Option<String>,
}

/// A secret a server needs, opened.
#[derive(Debug)]
pub struct OpenedSecret {
    pub reference: SecretRef,
    pub value: SecretValue,
    pub version: String,
}

impl Portal {
    /// The current key: from the environment, or the key file (made on first use).
    pub fn secret_key(&self) -> Result<SecretKey> {
        match &self.config.secrets.key {
            KeySource::Env(key) => Ok(key.clone()),
            KeySource::File(path) => {
                if !path.exists() && self.store.any_secrets()? {
                    return Err(PortalError::KeyFileMissing { path: path.clone() });
                }
                Ok(self.store.load_or_create_key(path)?)
            }
        }
    }

    pub fn set_secret(
        &self,
        user: &UserId,
        name: &SecretName,
        value: &SecretValue,
        expires_at: Option<Timestamp>,
    ) -> Result<SecretSummary> {
        let r = self.set_secret_unaudited(user, name, value, expires_at);
        self.audited(
            Some(user.as_str()),
            AuditAction::SecretSet,
            name.as_str(),
            r,
        )
    }

    fn set_secret_unaudited(
        &self,
        user: &UserId,
        name: &SecretName,
        value: &SecretValue,
        expires_at: Option<Timestamp>,
    ) -> Result<SecretSummary> {
        if let Some(e) = expires_at {
            if e <= Self::now() {
                return Err(PortalError::Usage(format!(
                    "--expires {e} is in the past; give a future time"
                )));
            }
        }
        let _lock = self.store.lock()?;
        if self.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        let key = self.secret_key()?;
        let mut stored = self.store.read_secrets(user)?;
        let limit = self.config.max_secrets;
        if !stored.secrets.contains_key(name) && stored.secrets.len() >= limit {
            return Err(PortalError::TooManySecrets {
                user: user.clone(),
                limit,
            });
        }
        let now = Self::now();
        let created_at = stored.secrets.get(name).map_or(now, |s| s.created_at);
        let meta = SealMeta {
            version: secrets::new_version(),
            created_at,
            updated_at: now,
            expires_at,
        };
        let sealed = secrets::seal(&key, user, name, value, meta);
        stored.secrets.insert(name.clone(), sealed);
        self.store.write_secrets(user, &stored)?;
        Ok(summary(name, &stored.secrets[name], now))
    }

    pub fn list_secrets(&self, user: &UserId) -> Result<Vec<SecretSummary>> {
        let _lock = self.store.lock()?;
        if self.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        let now = Self::now();
        Ok(self
            .store
            .read_secrets(user)?
            .secrets
            .iter()
            .map(|(n, s)| summary(n, s, now))
            .collect())
    }

    pub fn remove_secret(&self, user: &UserId, name: &SecretName) -> Result<()> {
        let r = self.remove_secret_unaudited(user, name);
        self.audited(
            Some(user.as_str()),
            AuditAction::SecretRemove,
            name.as_str(),
            r,
        )
    }

    fn remove_secret_unaudited(&self, user: &UserId, name: &SecretName) -> Result<()> {
        let _lock = self.store.lock()?;
        if self.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        let mut stored = self.store.read_secrets(user)?;
        if stored.secrets.remove(name).is_none() {
            return Err(PortalError::NotFound {
                what: "secret",
                name: format!("{name} of user {user}"),
                hint: format!("see the user's secrets with `portalctl secret ls --user {user}`"),
            });
        }
        self.store.write_secrets(user, &stored)?;
        Ok(())
    }

    /// Opens the secrets a server needs; refuses, listing every missing or expired one
    /// with the command that sets it.
    pub fn secrets_for(
        &self,
        user: &UserId,
        server: &str,
        refs: &[SecretRef],
    ) -> Result<Vec<OpenedSecret>> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let stored = self.store.read_secrets(user)?;
        let now = Self::now();
        let missing: Vec<String> = refs
            .iter()
            .filter(|r| {
                stored
                    .secrets
                    .get(&r.name)
                    .is_none_or(|s| s.expires_at.is_some_and(|e| e <= now))
            })
            .map(|r| {
                let why = if stored.secrets.contains_key(&r.name) {
                    " (expired)"
                } else {
                    ""
                };
                format!("  portalctl secret set {} --user {user}{why}", r.name)
            })
            .collect();
        if !missing.is_empty() {
            return Err(PortalError::MissingSecrets {
                user: user.clone(),
                server: server.to_string(),
                commands: missing.join("\n"),
            });
        }
        let key = self.secret_key()?;
        refs.iter()
            .map(|r| {
                let sealed = &stored.secrets[&r.name];
                let value = secrets::open(&key, user, &r.name, sealed)?;
                Ok(OpenedSecret {
                    reference: r.clone(),
                    value,
                    version: sealed.version.clone(),
                })
            })
            .collect()
    }

    /// Re-seals every secret under the key in `new_key_file` (made if missing), then makes
    /// it the current key. Each user's file is replaced atomically, and each secret records
    /// the key that sealed it, so an interruption leaves every secret readable with one of
    /// the two keys; running the rotation again finishes it.
    pub fn rotate_key(&self, new_key_file: &Path) -> Result<RotateReport> {
        let r = self.rotate_key_unaudited(new_key_file);
        self.audited(None, AuditAction::SecretRotateKey, "secret key", r)
    }

    fn rotate_key_unaudited(&self, new_key_file: &Path) -> Result<RotateReport> {
        let _lock = self.store.lock()?;
        let old = self.secret_key()?;
        let new = self.store.load_or_create_key(new_key_file)?;
        if new.id() == old.id() {
            return Err(PortalError::SameKey {
                file: new_key_file.to_path_buf(),
                key: old.id().to_string(),
            });
        }
        // Every secret is opened and sealed anew in memory first: one that cannot be
        // opened stops the rotation before anything is written, and all such are named.
        let mut resealed = 0;
        let users = self.store.user_ids()?;
        let mut changes = Vec::new();
        let mut damaged = Vec::new();
        for user in &users {
            let mut stored = self.store.read_secrets(user)?;
            let mut changed = false;
            for (name, sealed) in stored.secrets.iter_mut() {
                if sealed.key_id == new.id() {
                    continue;
                }
                match secrets::reseal(&old, &new, user, name, sealed) {
                    Ok(s) => {
                        *sealed = s;
                        resealed += 1;
                        changed = true;
                    }
                    Err(e) => damaged.push(format!("{user}/{name} ({e})")),
                }
            }
            if changed {
                changes.push((user, stored));
            }
        }
        if !damaged.is_empty() {
            return Err(PortalError::RotationRefused {
                count: damaged.len(),
                damaged: damaged.join("; "),
            });
        }
        for (user, stored) in changes {
            self.store.write_secrets(user, &stored)?;
        }
        let key_file = match &self.config.secrets.key {
            KeySource::File(path) => {
                self.store.write_key_file(path, &new)?;
                Some(path.display().to_string())
            }
            KeySource::Env(_) => None,
        };
        Ok(RotateReport {
            old_key: old.id().into(),
            new_key: new.id().into(),
            resealed,
            users: users.len(),
            key_file,
        })
    }
}

fn summary(name: &SecretName, s: &secrets::Sealed, now: Timestamp) -> SecretSummary {
    SecretSummary {
        name: name.clone(),
        created_at: s.created_at,
        updated_at: s.updated_at,
        expires_at: s.expires_at,
        expired: s.expires_at.is_some_and(|e| e <= now),
        key_id: s.key_id.clone(),
    }
}
