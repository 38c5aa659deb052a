//! Users' secrets: set, list, remove, and open the ones a server needs, with the key ring
//! (the current key, and a rotation's new key while it runs; see `rotation`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::servers::unknown_user;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::catalog::model::SecretRef;
use crate::config::KeySource;
use crate::ids::{SecretName, UserId};
use crate::secrets::{self, KeyRing, SealMeta, SecretKey, SecretValue};

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

/// A secret a server needs, opened.
#[derive(Debug)]
pub struct OpenedSecret {
    pub reference: SecretRef,
    pub value: SecretValue,
    pub version: String,
}

impl Portal {
    /// The keys secrets open with: the current one, and the new key of a rotation that
    /// has not finished (so every secret opens, whichever of the two sealed it).
    pub fn key_ring(&self) -> Result<KeyRing> {
        let ring = KeyRing::new(self.secret_key()?);
        Ok(match self.store.read_pending_key()? {
            Some(pending) => ring.with(pending),
            None => ring,
        })
    }

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

    /// Every secret value of the user that opens, for masking in what the portal passes
    /// on (logs). One that does not open cannot have been injected, so it is left out.
    pub fn secret_values(&self, user: &UserId) -> Result<Vec<SecretValue>> {
        let stored = self.store.read_secrets(user)?;
        let ring = self.key_ring()?;
        Ok(stored
            .secrets
            .iter()
            .filter_map(|(name, sealed)| ring.open(user, name, sealed).ok())
            .collect())
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
        let ring = self.key_ring()?;
        refs.iter()
            .map(|r| {
                let sealed = &stored.secrets[&r.name];
                let value = ring.open(user, &r.name, sealed)?;
                Ok(OpenedSecret {
                    reference: r.clone(),
                    value,
                    version: sealed.version.clone(),
                })
            })
            .collect()
    }
}

fn summary(name: &SecretName, s: &secrets::Sealed, now: Timestamp) -> SecretSummary {
    SecretSummary {
        name: name.clone(),
        created_at: s.created_at,
        updated_at: s.updated_at,
        expires_at: s.expires_at,
        expired: s.expires_at.is_some_and(|e| e <= now),
        // Sealed before secrets named their key.
        key_id: if s.key_id.is_empty() {
            "-".into()
        } else {
            s.key_id.clone()
        },
    }
}
