//! The keys a portal can open secrets with: the current key, and during a key rotation
//! the key it re-seals under. Each sealed secret names its key, so a rotation stopped
//! half-way leaves every secret openable, whichever of the two sealed it.

use super::{open, Sealed, SecretError, SecretKey, SecretValue};
use crate::ids::{SecretName, UserId};

#[derive(Debug, Clone)]
pub struct KeyRing {
    /// The current key first: new secrets are sealed with it.
    keys: Vec<SecretKey>,
}

impl KeyRing {
    pub fn new(current: SecretKey) -> Self {
        Self {
            keys: vec![current],
        }
    }

    /// The ring with `key` too (once: a key already in it is not added again).
    pub fn with(mut self, key: SecretKey) -> Self {
        if self.get(key.id()).is_none() {
            self.keys.push(key);
        }
        self
    }

    pub fn current(&self) -> &SecretKey {
        // `new` puts one key in, and nothing takes keys out.
        &self.keys[0]
    }

    pub fn get(&self, id: &str) -> Option<&SecretKey> {
        self.keys.iter().find(|k| k.id() == id)
    }

    /// Opens a secret with the key its id names. One sealed before secrets named their
    /// key is tried with each key, the current one first.
    pub fn open(
        &self,
        user: &UserId,
        name: &SecretName,
        sealed: &Sealed,
    ) -> Result<SecretValue, SecretError> {
        if sealed.key_id.is_empty() {
            let mut first = None;
            for key in &self.keys {
                match open(key, user, name, sealed) {
                    Ok(v) => return Ok(v),
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
            return Err(first.unwrap_or(SecretError::Authentication {
                user: user.clone(),
                name: name.clone(),
            }));
        }
        match self.get(&sealed.key_id) {
            Some(key) => open(key, user, name, sealed),
            None => Err(SecretError::WrongKey {
                user: user.clone(),
                name: name.clone(),
                sealed_with: sealed.key_id.clone(),
                current: self.current().id().to_string(),
            }),
        }
    }
}
