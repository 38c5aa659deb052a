//! Users' secrets, sealed with AES-256-GCM (pure: no files, no environment).
//!
//! Each seal uses a fresh random 96-bit nonce and binds the ciphertext to its owner and
//! name through the additional authenticated data `"<user>:<name>"`, so a ciphertext
//! copied to another user or name fails to open. Keys and values live in types whose
//! `Debug` never prints them, and whose memory is wiped on drop.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::ids::{SecretName, UserId};

/// Secret values above this size are refused: they are meant for tokens and passwords.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be 32 bytes written as base64 (44 characters) or hex (64 characters); {0}")]
    KeyFormat(String),
    #[error("secret {name} of user {user} failed authentication: it was altered, moved from another user or name, or sealed with another key of the same id")]
    Authentication { user: UserId, name: SecretName },
    #[error("secret {name} of user {user} is sealed with key {sealed_with}, not with the current key {current}; finish the rotation with `portalctl secret rotate-key --new-key-file FILE` or restore that key")]
    WrongKey {
        user: UserId,
        name: SecretName,
        sealed_with: String,
        current: String,
    },
    #[error("secret {name} of user {user} is damaged ({why}); set it again")]
    Damaged {
        user: UserId,
        name: SecretName,
        why: &'static str,
    },
    #[error("invalid secret value: {0}")]
    Value(&'static str),
}

/// A 256-bit key. Never printed; wiped on drop.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Zeroizing<[u8; 32]>,
    id: String,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, <redacted>)", self.id)
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let id = format!("k-{}", &hex::encode(Sha256::digest(bytes))[..12]);
        Self {
            bytes: Zeroizing::new(bytes),
            id,
        }
    }

    /// A new random key.
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&key);
        Self::from_bytes(bytes)
    }

    /// Reads 32 bytes written as base64 (with or without padding) or hex.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let t = text.trim();
        let mut decoded = Zeroizing::new(
            if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
                hex::decode(t).map_err(|_| SecretError::KeyFormat("the hex is not valid".into()))?
            } else {
                STANDARD
                    .decode(t)
                    .or_else(|_| STANDARD_NO_PAD.decode(t))
                    .map_err(|_| {
                        SecretError::KeyFormat(format!(
                            "found {} characters that are neither",
                            t.len()
                        ))
                    })?
            },
        );
        if decoded.len() != 32 {
            let n = decoded.len();
            decoded.zeroize();
            return Err(SecretError::KeyFormat(format!("it decodes to {n} bytes")));
        }
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&decoded);
        Ok(Self::from_bytes(bytes))
    }

    /// The key written as base64, for a key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(*self.bytes))
    }

    /// A short public name for the key (from its hash), recorded with each sealed secret.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&*self.bytes))
    }
}

/// A secret's plaintext. Never printed; wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl SecretValue {
    pub fn new(value: String) -> Result<Self, SecretError> {
        let value = Zeroizing::new(value);
        if value.is_empty() {
            return Err(SecretError::Value("it is empty"));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(SecretError::Value("it is longer than 64 KiB"));
        }
        if value.contains('\0') {
            return Err(SecretError::Value(
                "it contains a NUL character, which an environment variable cannot hold",
            ));
        }
        Ok(Self(value))
    }

    /// The plaintext, for injecting into a container and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A sealed secret as stored: ciphertext, nonce and the id of the key that sealed it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
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

/// Opens a sealed secret with the key it names; any tampering is an authentication error.
pub fn open(
    key: &SecretKey,
    user: &UserId,
    name: &SecretName,
    sealed: &Sealed,
) -> Result<SecretValue, SecretError> {
    if sealed.key_id != key.id() {
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

/// Re-seals a secret under `new`, keeping its version and dates; a secret already under
/// `new` is returned as it is. This is one step of key rotation.
pub fn reseal(
    old: &SecretKey,
    new: &SecretKey,
    user: &UserId,
    name: &SecretName,
    sealed: &Sealed,
) -> Result<Sealed, SecretError> {
    if sealed.key_id == new.id() {
        return Ok(sealed.clone());
    }
    let value = open(old, user, name, sealed)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn n(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    fn sealed(key: &SecretKey, user: &str, name: &str, value: &str) -> Sealed {
        let now = Timestamp::now();
        let meta = SealMeta {
            version: new_version(),
            created_at: now,
            updated_at: now,
            expires_at: None,
        };
        seal(
            key,
            &u(user),
            &n(name),
            &SecretValue::new(value.into()).unwrap(),
            meta,
        )
    }

    #[test]
    fn a_sealed_secret_opens_to_its_value() {
        let key = SecretKey::generate();
        let s = sealed(&key, "u1", "github.token", "ghp_secret");
        assert_eq!(
            open(&key, &u("u1"), &n("github.token"), &s)
                .unwrap()
                .expose(),
            "ghp_secret"
        );
        assert!(!s.ciphertext.contains("ghp_secret"));
        let again = sealed(&key, "u1", "github.token", "ghp_secret");
        assert_ne!(again.nonce, s.nonce, "a fresh nonce every time");
        assert_ne!(again.ciphertext, s.ciphertext);
    }

    #[test]
    fn one_flipped_byte_fails_authentication_naming_user_and_secret_only() {
        let key = SecretKey::generate();
        let mut s = sealed(&key, "u1", "db.password", "hunter2");
        let mut bytes = STANDARD.decode(&s.ciphertext).unwrap();
        bytes[0] ^= 1;
        s.ciphertext = STANDARD.encode(bytes);
        let err = open(&key, &u("u1"), &n("db.password"), &s).unwrap_err();
        assert_eq!(
            err,
            SecretError::Authentication {
                user: u("u1"),
                name: n("db.password")
            }
        );
        let text = err.to_string();
        assert!(
            text.starts_with("secret db.password of user u1 failed authentication"),
            "{text}"
        );
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn a_ciphertext_moved_to_another_user_or_name_is_refused() {
        let key = SecretKey::generate();
        let s = sealed(&key, "u1", "db.password", "hunter2");
        assert!(matches!(
            open(&key, &u("u2"), &n("db.password"), &s),
            Err(SecretError::Authentication { .. })
        ));
        assert!(matches!(
            open(&key, &u("u1"), &n("db.other"), &s),
            Err(SecretError::Authentication { .. })
        ));
    }

    #[test]
    fn the_wrong_key_is_named() {
        let (a, b) = (SecretKey::generate(), SecretKey::generate());
        let s = sealed(&a, "u1", "x", "v");
        let err = open(&b, &u("u1"), &n("x"), &s).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "is sealed with key {}, not with the current key {}",
                a.id(),
                b.id()
            )),
            "{err}"
        );
    }

    #[test]
    fn keys_parse_from_base64_and_hex_only() {
        let key = SecretKey::generate();
        let b64 = key.to_base64();
        assert_eq!(SecretKey::parse(&b64).unwrap().id(), key.id());
        assert_eq!(
            SecretKey::parse(b64.trim_end_matches('=')).unwrap().id(),
            key.id()
        );
        assert_eq!(
            SecretKey::parse(&format!("  {}\n", *b64)).unwrap().id(),
            key.id()
        );
        let hex_text = hex::encode(*key.bytes);
        assert_eq!(SecretKey::parse(&hex_text).unwrap().id(), key.id());
        assert_eq!(
            SecretKey::parse(&hex_text.to_uppercase()).unwrap().id(),
            key.id()
        );
        for bad in [
            "",
            "short",
            &hex_text[..62],
            &STANDARD.encode([1u8; 16]),
            "not base64 at all!!",
            &"z".repeat(64),
        ] {
            let e = SecretKey::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("the secret key must be 32 bytes written as base64 (44 characters) or hex (64 characters)"), "{bad}: {e}");
        }
    }

    #[test]
    fn nothing_secret_is_printed_by_debug() {
        let key = SecretKey::generate();
        let value = SecretValue::new("hunter2".into()).unwrap();
        let s = sealed(&key, "u1", "x", "hunter2");
        let shown = format!("{key:?} {value:?} {s:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains(key.to_base64().as_str()));
        assert!(!shown.contains(&s.ciphertext));
        assert_eq!(format!("{value:?}"), "SecretValue(<redacted>)");
    }

    #[test]
    fn values_are_checked() {
        assert!(SecretValue::new(String::new()).is_err());
        assert!(SecretValue::new("a\0b".into()).is_err());
        assert!(SecretValue::new("x".repeat(MAX_VALUE_BYTES + 1)).is_err());
    }

    #[test]
    fn an_interrupted_rotation_leaves_every_secret_readable_with_one_key() {
        let (old, new) = (SecretKey::generate(), SecretKey::generate());
        let names: Vec<(String, String)> = (0..6)
            .map(|i| (format!("u{i}"), format!("s.{i}")))
            .collect();
        let original: Vec<Sealed> = names
            .iter()
            .map(|(user, name)| sealed(&old, user, name, &format!("value-{name}")))
            .collect();
        // Stop after each possible number of re-sealed secrets, then finish the rotation.
        for stop in 0..=names.len() {
            let mut state = original.clone();
            for (i, (user, name)) in names.iter().enumerate().take(stop) {
                state[i] = reseal(&old, &new, &u(user), &n(name), &state[i]).unwrap();
            }
            for (i, (user, name)) in names.iter().enumerate() {
                let key = if state[i].key_id == new.id() {
                    &new
                } else {
                    &old
                };
                assert_eq!(
                    open(key, &u(user), &n(name), &state[i]).unwrap().expose(),
                    format!("value-{name}")
                );
            }
            for (i, (user, name)) in names.iter().enumerate() {
                state[i] = reseal(&old, &new, &u(user), &n(name), &state[i]).unwrap();
                assert_eq!(
                    open(&new, &u(user), &n(name), &state[i]).unwrap().expose(),
                    format!("value-{name}")
                );
                assert_eq!(
                    state[i].version, original[i].version,
                    "re-sealing keeps the version"
                );
            }
        }
    }
}
