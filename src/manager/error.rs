//! The manager's error: one variant per failure, each naming the object that failed and
//! saying what to do. Its class (exit code, HTTP status, audit result) comes from
//! [`crate::error::Classify`].

use std::path::PathBuf;

use crate::catalog::report::Invalid;
use crate::error::{Classify, ErrorClass};
use crate::ids::{ServerId, UserId};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Usage(String),
    #[error("{what} {name} does not exist; {hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: String,
    },
    #[error("{what} {name} already exists; {hint}")]
    Exists {
        what: &'static str,
        name: String,
        hint: String,
    },
    #[error("the key was not rotated and no secret was re-sealed (the current key stays; the new key file may be used again): {count} secrets cannot be opened with the portal's keys: {damaged}; set them again (`portalctl secret set`) or remove them, then rotate again")]
    RotationRefused { count: usize, damaged: String },
    #[error("an interrupted key rotation to key {pending} is not finished, and {} holds another key; run `portalctl secret rotate-key --new-key-file FILE` again with the file that holds {pending} to finish it, then rotate to the new key", file.display())]
    RotationPending { pending: String, file: PathBuf },
    #[error("user {user} has {limit} secrets, as many as MCP_PORTAL_USER_MAX_SECRETS allows; remove one (`portalctl secret rm NAME --user {user}`) or raise the setting")]
    TooManySecrets { user: UserId, limit: usize },
    #[error("{resource} limit exceeded: {used}/{limit} for user {user}; disable one of their servers, or raise the limit with `portalctl user limits {user} {flag} N`")]
    QuotaExceeded {
        user: UserId,
        /// `container`, `memory` or `cpu`.
        resource: &'static str,
        used: String,
        limit: String,
        /// The `user limits` option that raises this limit.
        flag: &'static str,
    },
    #[error("container name {name} for {user}'s server {server} is taken by {owner}")]
    NameTaken {
        name: String,
        user: UserId,
        server: ServerId,
        owner: Box<super::containers::TakenBy>,
    },
    #[error("network {name} exists but was not made by this portal for {user}; remove it with `docker network rm {name}`")]
    NetworkTaken { name: String, user: UserId },
    #[error("network {name} cannot be made: {user}'s subnet {subnet} overlaps network {other} on the engine; set MCP_PORTAL_USER_NETWORK_SUBNET_BASE to a range no network uses, or remove {other}")]
    SubnetTaken {
        name: String,
        user: UserId,
        subnet: String,
        other: String,
    },
    #[error("internal network {name} cannot be made: its subnet {subnet} overlaps another network on the engine ({detail}); set MCP_PORTAL_EGRESS_SUBNET_BASE to a range no network uses")]
    EgressSubnetTaken {
        name: String,
        subnet: String,
        detail: String,
    },
    #[error("network {name} has subnet {found} but {user}'s block is {want}; remove the network (with its containers) so it is made again")]
    NetworkMismatch {
        name: String,
        user: UserId,
        found: String,
        want: String,
    },
    #[error("user {user} cannot be read: {detail}; restore the file from a backup, or remove the user with `portalctl user rm {user}`")]
    UserDamaged { user: UserId, detail: String },
    #[error("user {user} cannot be added: an earlier user {user} left data behind ({what}); take it over with `portalctl user add {user} --reuse-data`, or remove it with `portalctl user rm {user}`")]
    DataLeft { user: UserId, what: String },
    #[error("user {user} still has enabled servers ({servers}); disable them first with `portalctl disable SERVER --user {user}`")]
    UserHasServers { user: UserId, servers: String },
    #[error("catalog {name} has no revision before {current} to roll back to")]
    NoEarlierRevision { name: String, current: u32 },
    #[error(
        "server {server} needs secrets that user {user} has not set; set them with:\n{commands}"
    )]
    MissingSecrets {
        user: UserId,
        server: String,
        commands: String,
    },
    #[error("the migration was not applied, and nothing was changed: its servers need secrets that user {user} has not set (Docker Desktop's cannot be read); set them with:\n{commands}")]
    MigrationSecretsMissing { user: UserId, commands: String },
    #[error("the migration of {dir} stopped: {cause}; done before it: {done}; the records as they were before the migration are in {backup} in the data folder")]
    MigrationStopped {
        dir: String,
        backup: String,
        done: String,
        cause: Box<PortalError>,
    },
    #[error("the migrated servers of {user} are not as planned: {problems}; see `portalctl status --user {user}`")]
    MigrationUnverified { user: UserId, problems: String },
    #[error("the secret key file {} is missing but sealed secrets exist; restore the file (or set MCP_PORTAL_SECRET_ENCRYPTION_KEY)", path.display())]
    KeyFileMissing { path: PathBuf },
    #[error("{} holds the current key {key}; give a file with a new key, or a path where one should be made", file.display())]
    SameKey { file: PathBuf, key: String },
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("container {name} stopped right after {after} ({detail}); see `docker logs {name}`")]
    ContainerExited {
        name: String,
        /// `starting` or `restarting`.
        after: &'static str,
        detail: String,
    },
    #[error(
        "container {name} disappeared right after starting; see `docker events` for who removed it"
    )]
    ContainerVanished { name: String },
    #[error("container {name} was not replaced: {cause}; {old}")]
    NotReplaced {
        name: String,
        /// Why the replacement failed: it could not be made, or did not stay running.
        cause: Box<PortalError>,
        old: Box<OldContainer>,
    },
    #[error("network {name} vanished while it was being made; try again")]
    NetworkVanished { name: String },
    #[error("a daemon already runs on the data folder {}; stop it first (one `portalctl serve` per data folder)", data_dir.display())]
    DaemonRunning { data_dir: PathBuf },
    #[error("an internal task failed: {detail}")]
    TaskFailed { detail: String },
    #[error("the start queue is closed: the portal is shutting down; try again once it is back")]
    QueueClosed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error(transparent)]
    Alloc(#[from] crate::alloc::AllocError),
    #[error("{original} (cleaning up afterwards also failed: {cleanup})")]
    Cleanup {
        original: Box<PortalError>,
        cleanup: Box<PortalError>,
    },
}

/// What became of a container whose replacement failed.
#[derive(Debug, thiserror::Error)]
pub enum OldContainer {
    #[error("the old one was never stopped and keeps running; fix the change and enable again")]
    Untouched,
    #[error("the old one was started again and runs as before; fix the change and enable again")]
    Restarted,
    #[error(
        "the old one was not running before and stays stopped; fix the change and enable again"
    )]
    LeftStopped,
    #[error("starting the old one again failed too: {0}")]
    RestartFailed(PortalError),
}

impl PortalError {
    /// The error a caller should act on: for a failed cleanup, the failure that caused it.
    pub fn primary(&self) -> &PortalError {
        match self {
            PortalError::Cleanup { original, .. } => original.primary(),
            other => other,
        }
    }
}

impl Classify for PortalError {
    fn class(&self) -> ErrorClass {
        use PortalError as P;
        match self {
            P::Invalid(e) => e.class(),
            P::Usage(_) => ErrorClass::Usage,
            P::NotFound { .. } => ErrorClass::NotFound,
            P::Exists { .. }
            | P::QuotaExceeded { .. }
            | P::TooManySecrets { .. }
            | P::RotationRefused { .. }
            | P::RotationPending { .. }
            | P::NameTaken { .. }
            | P::NetworkTaken { .. }
            | P::SubnetTaken { .. }
            | P::EgressSubnetTaken { .. }
            | P::NetworkMismatch { .. }
            | P::UserHasServers { .. }
            | P::DataLeft { .. }
            | P::NoEarlierRevision { .. }
            | P::MissingSecrets { .. }
            | P::KeyFileMissing { .. }
            | P::SameKey { .. }
            | P::DaemonRunning { .. }
            | P::MigrationSecretsMissing { .. } => ErrorClass::Conflict,
            P::MigrationUnverified { .. } => ErrorClass::Engine,
            P::MigrationStopped { cause, .. } => cause.class(),
            P::Secret(e) => e.class(),
            P::ContainerExited { .. } | P::ContainerVanished { .. } | P::NetworkVanished { .. } => {
                ErrorClass::Engine
            }
            P::TaskFailed { .. } | P::QueueClosed | P::UserDamaged { .. } => ErrorClass::Internal,
            P::Store(e) => e.class(),
            P::Engine(e) => e.class(),
            P::Plan(e) => e.class(),
            P::Alloc(e) => e.class(),
            P::Cleanup { original, .. } => original.class(),
            P::NotReplaced { cause, .. } => cause.class(),
        }
    }
}

pub type Result<T> = std::result::Result<T, PortalError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuditResult;

    #[test]
    fn machine_failures_are_not_refusals() {
        let machine = [
            PortalError::TaskFailed {
                detail: "panicked".into(),
            },
            PortalError::QueueClosed,
            PortalError::ContainerExited {
                name: "mcp-u1.a".into(),
                after: "starting",
                detail: "exit code 1".into(),
            },
        ];
        for e in machine {
            assert_eq!(e.class().audit_result(), AuditResult::Failed, "{e}");
            assert_eq!(e.class().exit_code(), 1, "{e}");
        }
    }

    #[test]
    fn a_failed_cleanup_keeps_the_class_of_what_caused_it() {
        let e = PortalError::Cleanup {
            original: Box::new(PortalError::Usage("bad".into())),
            cleanup: Box::new(PortalError::QueueClosed),
        };
        assert_eq!(e.class(), ErrorClass::Usage);
    }
}
