//! Key rotation: every secret re-sealed under a new key, then the new key made current.
//!
//! The new key is kept in the data folder (`secret.key.next`) before the first secret is
//! re-sealed, and each secret names the key that sealed it, so a rotation stopped at any
//! point leaves a folder where every secret opens, with the old key or the new one; the
//! same rotation run again finishes it. The copy goes once the new key is current.

use std::path::Path;

use serde::Serialize;

use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::config::KeySource;
use crate::ids::UserId;
use crate::secrets;
use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    pub old_key: String,
    pub new_key: String,
    pub resealed: usize,
    pub users: usize,
    /// Where the new key now lives, or `None` when the key comes from the environment.
    pub key_file: Option<String>,
}

impl Portal {
    /// Re-seals every secret under the key in `new_key_file` (made if missing), then makes
    /// it the current key.
    pub fn rotate_key(&self, new_key_file: &Path) -> Result<RotateReport> {
        let r = self.rotate_key_then(new_key_file, |_| Ok(()));
        self.audited(None, AuditAction::SecretRotateKey, "secret key", r)
    }

    /// `rotate_key`, calling `written` after each user's secrets file is replaced (tests
    /// stop there, as a crash would).
    fn rotate_key_then(
        &self,
        new_key_file: &Path,
        mut written: impl FnMut(&UserId) -> Result<()>,
    ) -> Result<RotateReport> {
        let _lock = self.store.lock()?;
        let ring = self.key_ring()?;
        let old = ring.current();
        let pending = self.store.read_pending_key()?;
        let new = self.store.load_or_create_key(new_key_file)?;
        if let Some(p) = pending.as_ref().filter(|p| p.id() != new.id()) {
            if p.id() != old.id() {
                return Err(PortalError::RotationPending {
                    pending: p.id().to_string(),
                    file: new_key_file.to_path_buf(),
                });
            }
        }
        if new.id() == old.id() && pending.is_none() {
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
            let mut stored = match self.store.read_secrets(user) {
                Ok(s) => s,
                Err(e) => {
                    damaged.push(format!("{user} ({})", self.store.describe(&e)));
                    continue;
                }
            };
            let mut changed = false;
            for (name, sealed) in stored.secrets.iter_mut() {
                match secrets::reseal(&ring, &new, user, name, sealed) {
                    Ok(s) if s.key_id != sealed.key_id => {
                        *sealed = s;
                        resealed += 1;
                        changed = true;
                    }
                    Ok(_) => {}
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
        if new.id() != old.id() {
            self.store.write_pending_key(&new)?;
        }
        for (user, stored) in changes {
            self.store.write_secrets(user, &stored)?;
            written(user)?;
        }
        let key_file = match &self.config.secrets.key {
            KeySource::File(path) => {
                self.store.write_key_file(path, &new)?;
                self.store.remove_pending_key()?;
                Some(path.display().to_string())
            }
            // The environment still holds the old key: the copy stays until it is changed.
            KeySource::Env(_) if new.id() == old.id() => {
                self.store.remove_pending_key()?;
                None
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

/// When opening the data folder: a rotation's copy of its new key that is the current
/// key now (the environment was set to it, or the rotation stopped after switching the
/// key file) is removed, and that is said. Best effort: the copy harms nothing meanwhile.
pub(super) fn finish(store: &Store, source: &KeySource) -> Option<String> {
    let pending = store.read_pending_key().ok()??;
    let current = match source {
        KeySource::Env(key) => key.clone(),
        KeySource::File(path) => store.read_key_file(path).ok()??,
    };
    if current.id() != pending.id() {
        return None;
    }
    let _lock = store.lock().ok()?;
    // Read again under the lock: a rotation may have begun since.
    if store.read_pending_key().ok()??.id() != current.id() {
        return None;
    }
    store.remove_pending_key().ok()?;
    Some(format!(
        "the key rotation to {} is finished: removed the data folder's copy of that key (secret.key.next)",
        current.id()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::SecretRef;
    use crate::config::Config;
    use crate::ids::SecretName;
    use crate::secrets::SecretValue;

    fn portal(dir: &Path) -> Portal {
        Portal::open(Config::from_lookup(dir.join("data"), |_| None).unwrap()).unwrap()
    }

    fn opened(p: &Portal, user: &UserId) -> String {
        let r = SecretRef {
            name: SecretName::parse("a.token").unwrap(),
            env: "X".into(),
            file: false,
        };
        let v = p.secrets_for(user, "s", &[r]).unwrap();
        v[0].value.expose().to_string()
    }

    #[test]
    fn a_rotation_stopped_half_way_leaves_every_secret_open_and_finishes_when_run_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = portal(dir.path());
        let users: Vec<UserId> = ["u1", "u2", "u3"]
            .iter()
            .map(|u| UserId::parse(u).unwrap())
            .collect();
        let name = SecretName::parse("a.token").unwrap();
        for u in &users {
            p.add_user(u.clone(), vec![], None).unwrap();
            let v = SecretValue::new(format!("value-{u}")).unwrap();
            p.set_secret(u, &name, &v, None).unwrap();
        }
        let new_file = dir.path().join("new.key");
        // The process dies right after u1's file is replaced.
        let crash = p.rotate_key_then(&new_file, |u| match u.as_str() {
            "u1" => Err(PortalError::Usage("killed".into())),
            _ => Ok(()),
        });
        assert!(crash.is_err());

        let p = portal(dir.path());
        let key_of = |u: &UserId| p.list_secrets(u).unwrap()[0].key_id.clone();
        let (old, new) = (key_of(&users[1]), key_of(&users[0]));
        assert_ne!(old, new, "u1's secret was not re-sealed before the stop");
        for u in &users {
            assert_eq!(opened(&p, u), format!("value-{u}"));
        }
        let done = p.rotate_key(&new_file).unwrap();
        assert_eq!((done.resealed, done.new_key.as_str()), (2, new.as_str()));
        let p = portal(dir.path());
        for u in &users {
            assert_eq!(key_of(u), new);
            assert_eq!(opened(&p, u), format!("value-{u}"));
        }
        assert!(!dir.path().join("data/secret.key.next").exists());
    }
}
