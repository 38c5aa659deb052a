//! The key secrets are sealed with: generating, parsing and writing it, and its public id.

use std::fmt;

use aes_gcm::aead::{KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::SecretError;

/// A 256-bit key. Never printed; wiped on drop.
#[derive(Clone)]
pub struct SecretKey {
    // Visible to the module's tests, which compare it with its hex form.
    pub(super) bytes: Zeroizing<[u8; 32]>,
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

    pub(super) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&*self.bytes))
    }
}
