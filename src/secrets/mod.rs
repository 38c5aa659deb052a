//! Users' secrets, sealed with AES-256-GCM (pure: no files, no environment).
//!
//! Each seal uses a fresh random 96-bit nonce and binds the ciphertext to its owner and
//! name through the additional authenticated data `"<user>:<name>"`, so a ciphertext
//! copied to another user or name fails to open. Keys and values live in types whose
//! `Debug` never prints them, and whose memory is wiped on drop.
//!
//! `key` owns the key, `value` the plaintext, `sealing` the ciphertext and how it is made
//! and opened, `ring` the keys a secret may be opened with, `redact` the masking of
//! values in text passed on.

mod key;
mod redact;
mod ring;
mod sealing;
mod value;

pub use key::SecretKey;
pub use redact::{Redactor, MASK};
pub use ring::KeyRing;
pub use sealing::{new_version, open, reseal, seal, SealMeta, Sealed};
pub use value::{SecretValue, MAX_VALUE_BYTES};

use crate::ids::{SecretName, UserId};

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

#[cfg(test)]
mod tests;
