//! Sealing and opening: AES-256-GCM with a fresh nonce per seal and the owner and name as
//! additional authenticated data, the stored [`Sealed`] form, and re-sealing for rotation.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KeyRing, SecretError, SecretKey, SecretValue};
use crate::ids::{SecretName, UserId};

/// A sealed secret as stored: ciphertext, nonce and the id of the key that sealed it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Empty for a secret sealed before secrets named their key.
    #[serde(default)]
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
    /// Changes on every `secret set` (not on re-sealing), so containers follow new values
    /// without the value itself reaching the spec hash.
    pub version: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

fn aad(user: &UserId, name: &SecretName) -> Vec<u8> {
    format!("{user}:{name}").into_bytes()
}

/// What is stored beside a sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealMeta {
    pub version: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// Seals `value` for `user`'s secret `name` with a fresh random nonce.
pub fn seal(
    key: &SecretKey,
    user: &UserId,
    name: &SecretName,
    value: &SecretValue,
    meta: SealMeta,
) -> Sealed {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = aad(user, name);
    // AES-GCM encryption of an in-memory buffer under 64 KiB cannot fail (the only error
    // is a plaintext beyond GCM's 64 GiB limit).
    let ciphertext = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: value.expose().as_bytes(),
                aad: &aad,
            },
        )
        .unwrap_or_default();
    Sealed {
        key_id: key.id().to_string(),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ciphertext),
        version: meta.version,
        created_at: meta.created_at,
        updated_at: meta.updated_at,
        expires_at: meta.expires_at,
    }
}

/// Opens a sealed secret with `key`, which must be the key it names (if it names one);
/// any tampering is an authentication error.
pub fn open(
    key: &SecretKey,
    user: &UserId,
    name: &SecretName,
    sealed: &Sealed,
) -> Result<SecretValue, SecretError> {
    if !sealed.key_id.is_empty() && sealed.key_id != key.id() {
        return Err(SecretError::WrongKey {
            user: user.clone(),
            name: name.clone(),
            sealed_with: sealed.key_id.clone(),
            current: key.id().to_string(),
        });
    }
    let damaged = |why| SecretError::Damaged {
        user: user.clone(),
        name: name.clone(),
        why,
    };
    let nonce = STANDARD
        .decode(&sealed.nonce)
        .map_err(|_| damaged("its nonce is not base64"))?;
    if nonce.len() != 12 {
        return Err(damaged("its nonce is not 96 bits"));
    }
    let ciphertext = STANDARD
        .decode(&sealed.ciphertext)
        .map_err(|_| damaged("its ciphertext is not base64"))?;
    let aad = aad(user, name);
    let plain = key
        .cipher()
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| SecretError::Authentication {
            user: user.clone(),
            name: name.clone(),
        })?;
    let plain = Zeroizing::new(plain);
    let text = String::from_utf8(plain.to_vec()).map_err(|_| damaged("its value is not UTF-8"))?;
    SecretValue::new(text)
}

/// Re-seals a secret under `new`, opening it with the key of `ring` it names and keeping
/// its version and dates; a secret already under `new` is returned as it is. This is one
/// step of key rotation.
pub fn reseal(
    ring: &KeyRing,
    new: &SecretKey,
    user: &UserId,
    name: &SecretName,
    sealed: &Sealed,
) -> Result<Sealed, SecretError> {
    if sealed.key_id == new.id() {
        return Ok(sealed.clone());
    }
    let value = ring.open(user, name, sealed)?;
    let meta = SealMeta {
        version: sealed.version.clone(),
        created_at: sealed.created_at,
        updated_at: sealed.updated_at,
        expires_at: sealed.expires_at,
    };
    Ok(seal(new, user, name, &value, meta))
}

/// A fresh random version tag for a newly set value.
pub fn new_version() -> String {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    hex::encode(nonce)
}
