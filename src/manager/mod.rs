//! The portal's operations: what the CLI (and later the API) call. Each operation takes
//! the data folder's lock, reads a consistent snapshot, checks the change against every
//! user's merge before storing anything, stores it, and refreshes the affected caches.

mod catalogs;
mod containers;
mod custom;
mod daemon;
mod overlays;
mod secrets;
mod servers;
mod snapshot;
mod tokens;
mod users;

use jiff::Timestamp;
use serde::Serialize;

pub use catalogs::{CatalogSummary, RevisionSummary, UploadReport};
pub use containers::{DisableReport, EnableOutcome, EnableReport, Runtime, StatusRow};
pub use custom::CustomReport;
pub use daemon::{Daemon, ReconcileReport};
pub use overlays::{OverlayReport, OverlaySummary};
pub use secrets::{OpenedSecret, RotateReport, SecretSummary};
pub use servers::{RegenReport, UserServers};
pub use tokens::NewToken;
pub use users::UserSummary;

use crate::catalog::report::{Diagnostic, Invalid};
use crate::config::Config;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
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
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Usage(String),
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

impl PortalError {
    /// How the audit log records this error: `failed` for the machine's own trouble
    /// (disk, Docker, a failed cleanup), `refused` for bad input and state.
    pub fn audit_result(&self) -> &'static str {
        match self.primary() {
            PortalError::Store(_) | PortalError::Engine(_) | PortalError::Cleanup { .. } => {
                "failed"
            }
            _ => "refused",
        }
    }

    /// The error a caller should act on: for a failed cleanup, the failure that caused it.
    pub fn primary(&self) -> &PortalError {
        match self {
            PortalError::Cleanup { original, .. } => original.primary(),
            other => other,
        }
    }
}

pub type Result<T> = std::result::Result<T, PortalError>;

/// The portal over one data folder.
#[derive(Debug, Clone)]
pub struct Portal {
    store: Store,
    config: Config,
    /// Who acts, for the audit log: the CLI's login user, `daemon`, an API token's user.
    actor: String,
}

/// Warnings of an accepted change, for the command's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Warnings(pub Vec<Diagnostic>);

impl Portal {
    pub fn open(config: Config) -> Result<Self> {
        let store = Store::open(&config.data_dir)?;
        Ok(Self {
            store,
            config,
            actor: "portal".into(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The same portal acting as `actor` in the audit log.
    pub fn with_actor(mut self, actor: &str) -> Self {
        self.actor = actor.to_string();
        self
    }

    /// Records a change or a refusal in the audit log. An audit failure is reported to the
    /// caller's stderr-free path as an error value, never silently dropped.
    pub fn audit<T>(
        &self,
        user: Option<&str>,
        action: &str,
        resource: &str,
        result: &Result<T>,
    ) -> Result<()> {
        let (outcome, detail) = match result {
            Ok(_) => ("ok", None),
            Err(e) => (e.audit_result(), Some(e.to_string())),
        };
        self.audit_outcome(user, action, resource, outcome, detail)
    }

    /// Records an audit entry with an explicit outcome (`ok`, `refused` or `failed`).
    pub fn audit_outcome(
        &self,
        user: Option<&str>,
        action: &str,
        resource: &str,
        outcome: &str,
        detail: Option<String>,
    ) -> Result<()> {
        let entry = crate::store::AuditEntry {
            time: Self::now(),
            actor: self.actor.clone(),
            user: user.map(str::to_string),
            action: action.to_string(),
            resource: resource.to_string(),
            result: outcome.to_string(),
            detail,
        };
        Ok(self.store.audit(&self.config.audit, &entry)?)
    }

    fn now() -> Timestamp {
        Timestamp::now()
    }
}
