//! A secret's plaintext and the limits a value must meet to reach a container's
//! environment.

use std::fmt;

use zeroize::Zeroizing;

use super::SecretError;

/// Secret values above this size are refused: they are meant for tokens and passwords.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

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
