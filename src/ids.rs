//! Validated identifiers: users, servers, catalogs, secrets, roles.
//!
//! Every id that reaches a path, a container name or a label is one of these types,
//! so nothing user-given is used unchecked (seed 004's id rules).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {rule}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub rule: &'static str,
}

fn check(
    kind: &'static str,
    value: &str,
    max: usize,
    rule: &'static str,
    allowed: impl Fn(usize, char) -> bool,
) -> Result<(), IdError> {
    let ok = !value.is_empty()
        && value.chars().count() <= max
        && value.chars().enumerate().all(|(i, c)| allowed(i, c));
    if ok {
        Ok(())
    } else {
        Err(IdError {
            kind,
            value: value.to_string(),
            rule,
        })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal, $rule:literal, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, IdError> {
                check($kind, value, $max, $rule, $allowed)?;
                Ok(Self(value.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A portal user: `^[a-zA-Z0-9-]{1,32}$`.
    UserId,
    "user id",
    32,
    "use 1-32 letters, digits or '-'",
    |_, c| c.is_ascii_alphanumeric() || c == '-'
);

id_type!(
    /// A server in a catalog: `^[a-zA-Z0-9_-]{1,32}$`.
    ServerId,
    "server id",
    32,
    "use 1-32 letters, digits, '_' or '-'",
    |_, c| c.is_ascii_alphanumeric() || c == '_' || c == '-'
);

id_type!(
    /// The name a base catalog or overlay is stored under; same rule as a server id.
    CatalogName,
    "catalog name",
    32,
    "use 1-32 letters, digits, '_' or '-'",
    |_, c| c.is_ascii_alphanumeric() || c == '_' || c == '-'
);

id_type!(
    /// A role or organization name used by visibility rules.
    Label,
    "role or organization",
    64,
    "use 1-64 letters, digits, '.', '_' or '-'",
    |_, c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
);

id_type!(
    /// A secret name in Docker's catalog style, e.g. `github.personal_access_token`.
    SecretName,
    "secret name",
    128,
    "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    |i, c| c.is_ascii_alphanumeric() || (i > 0 && matches!(c, '.' | '_' | '-'))
);

/// An environment variable name: `^[A-Za-z_][A-Za-z0-9_]*$`, at most 255 bytes.
pub fn check_env_name(name: &str) -> Result<(), IdError> {
    check(
        "environment variable name",
        name,
        255,
        "use letters, digits and '_', not starting with a digit",
        |i, c| c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_seed_rule() {
        assert!(UserId::parse("u1").is_ok());
        assert!(UserId::parse("alice-01").is_ok());
        assert!(UserId::parse(&"a".repeat(32)).is_ok());
        assert!(UserId::parse(&"a".repeat(33)).is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a_b").is_err());
        assert!(UserId::parse("../x").is_err());
        assert!(UserId::parse("é").is_err());
    }

    #[test]
    fn server_ids_allow_underscore() {
        assert!(ServerId::parse("sqlite_mcp-2").is_ok());
        assert!(ServerId::parse("a.b").is_err());
        assert!(ServerId::parse("a/b").is_err());
    }

    #[test]
    fn secret_names_take_docker_style() {
        assert!(SecretName::parse("github.personal_access_token").is_ok());
        assert!(SecretName::parse(".hidden").is_err());
        assert!(SecretName::parse("a b").is_err());
    }

    #[test]
    fn env_names_refuse_leading_digit_and_symbols() {
        assert!(check_env_name("GITHUB_TOKEN").is_ok());
        assert!(check_env_name("_X1").is_ok());
        assert!(check_env_name("1X").is_err());
        assert!(check_env_name("A-B").is_err());
        assert!(check_env_name("").is_err());
    }

    #[test]
    fn error_names_kind_value_and_rule() {
        let e = UserId::parse("bad id").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid user id \"bad id\": use 1-32 letters, digits or '-'"
        );
    }
}
