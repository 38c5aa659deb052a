//! The one error taxonomy: every failure belongs to one [`ErrorClass`], and the exit
//! code, the HTTP status, the API's error code and the audit result all derive from it.
//!
//! Each error type of the crate says its class through [`Classify`]; the lower layers'
//! types are classified here, so the whole table reads in one file. The manager's
//! `PortalError` delegates to the error it wraps.

use crate::alloc::AllocError;
use crate::catalog::report::Invalid;
use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::ids::IdError;
use crate::plan::PlanError;
use crate::secrets::SecretError;
use crate::store::StoreError;

/// What kind of failure an error is, from the point of view of whoever must act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Bad arguments, ids or configuration values: fix the command line.
    Usage,
    /// Input refused with its errors listed (a catalog, a value): fix the input.
    Invalid,
    /// No such catalog, overlay, user, server, secret or token.
    NotFound,
    /// Refused in the current state: exists already, over quota, a name taken.
    Conflict,
    /// No valid token (API and `--remote` only).
    Unauthorized,
    /// The token may not do this (API and `--remote` only).
    Forbidden,
    /// Too many requests for this token (API and `--remote` only).
    RateLimited,
    /// The Docker Engine or a container failed.
    Engine,
    /// The portal's own trouble: the data folder, a damaged file, a failed task.
    Internal,
}

/// Every class, for tests and documentation that walk the table.
pub const CLASSES: [ErrorClass; 9] = [
    ErrorClass::Usage,
    ErrorClass::Invalid,
    ErrorClass::NotFound,
    ErrorClass::Conflict,
    ErrorClass::Unauthorized,
    ErrorClass::Forbidden,
    ErrorClass::RateLimited,
    ErrorClass::Engine,
    ErrorClass::Internal,
];

impl ErrorClass {
    /// `portalctl`'s exit code (documented in every command's `--help`).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Engine | Self::Internal => 1,
            Self::Usage => 2,
            Self::Invalid => 3,
            Self::NotFound => 4,
            Self::Conflict => 5,
            Self::Unauthorized | Self::Forbidden | Self::RateLimited => 6,
        }
    }

    /// The HTTP status the API answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Usage => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::Invalid => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Engine => 502,
        }
    }

    /// The class an API answer's status stands for: the inverse of [`Self::http_status`],
    /// so a failure has the same class through `--remote` as on the host. A body over the
    /// size limit (413) is invalid input; any other status is the portal's trouble.
    pub fn from_status(status: u16) -> Self {
        match status {
            413 => Self::Invalid,
            s => CLASSES
                .into_iter()
                .find(|c| c.http_status() == s)
                .unwrap_or(Self::Internal),
        }
    }

    /// The `code` of the API's error body.
    pub fn api_code(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::Engine => "engine",
            Self::Internal => "internal",
        }
    }

    /// How the audit log records a failure of this class: `failed` for the machine's own
    /// trouble, `refused` for bad input, state or permissions.
    pub fn audit_result(self) -> AuditResult {
        match self {
            Self::Engine | Self::Internal => AuditResult::Failed,
            _ => AuditResult::Refused,
        }
    }
}

/// The outcome an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditResult {
    Ok,
    Refused,
    Failed,
}

impl AuditResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// An error that knows its class.
pub trait Classify {
    fn class(&self) -> ErrorClass;
}

impl Classify for Invalid {
    fn class(&self) -> ErrorClass {
        ErrorClass::Invalid
    }
}

impl Classify for ConfigError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Usage
    }
}

impl Classify for IdError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Usage
    }
}

impl Classify for PlanError {
    /// A definition that cannot be planned for this user (a root user, a bad template
    /// value) is refused input.
    fn class(&self) -> ErrorClass {
        ErrorClass::Invalid
    }
}

impl Classify for AllocError {
    fn class(&self) -> ErrorClass {
        match self {
            AllocError::Config { .. } => ErrorClass::Usage,
            _ => ErrorClass::Conflict,
        }
    }
}

impl Classify for SecretError {
    fn class(&self) -> ErrorClass {
        match self {
            SecretError::KeyFormat(_) | SecretError::Value(_) => ErrorClass::Invalid,
            // Sealed with a key that is not current: finish the rotation first.
            SecretError::WrongKey { .. } => ErrorClass::Conflict,
            SecretError::Authentication { .. } | SecretError::Damaged { .. } => {
                ErrorClass::Internal
            }
        }
    }
}

impl Classify for StoreError {
    fn class(&self) -> ErrorClass {
        match self {
            // A path the user chose, refused: theirs to change, not the portal's trouble.
            StoreError::Unsafe { .. } => ErrorClass::Conflict,
            StoreError::UnsafeTmpfs { .. } => ErrorClass::Usage,
            _ => ErrorClass::Internal,
        }
    }
}

impl Classify for EngineError {
    fn class(&self) -> ErrorClass {
        match self {
            // The engine is fine; what the portal asked of it clashes with what is there.
            EngineError::SubnetOverlap { .. } => ErrorClass::Conflict,
            _ => ErrorClass::Engine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps_back_to_its_class() {
        for c in CLASSES {
            assert_eq!(ErrorClass::from_status(c.http_status()), c, "{c:?}");
        }
        assert_eq!(ErrorClass::from_status(413), ErrorClass::Invalid);
        assert_eq!(ErrorClass::from_status(503), ErrorClass::Internal);
    }

    #[test]
    fn only_the_machines_own_trouble_is_audited_as_failed() {
        let failed: Vec<ErrorClass> = CLASSES
            .into_iter()
            .filter(|c| c.audit_result() == AuditResult::Failed)
            .collect();
        assert_eq!(failed, [ErrorClass::Engine, ErrorClass::Internal]);
        assert!(failed.iter().all(|c| c.exit_code() == 1));
    }

    #[test]
    fn api_codes_are_distinct() {
        let mut codes: Vec<&str> = CLASSES.iter().map(|c| c.api_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), CLASSES.len());
    }
}
