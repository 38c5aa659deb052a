//! The portal's operations: what the CLI (and later the API) call. Each operation takes
//! the data folder's lock, reads a consistent snapshot, checks the change against every
//! user's merge before storing anything, stores it, and refreshes the affected caches.

mod catalogs;
mod containers;
mod custom;
mod overlays;
mod secrets;
mod servers;
mod snapshot;
mod users;

use jiff::Timestamp;
use serde::Serialize;

pub use catalogs::{CatalogSummary, RevisionSummary, UploadReport};
pub use containers::{DisableReport, EnableOutcome, EnableReport, Runtime, StatusRow};
pub use custom::CustomReport;
pub use overlays::{OverlayReport, OverlaySummary};
pub use secrets::{OpenedSecret, RotateReport, SecretSummary};
pub use servers::{RegenReport, UserServers};
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
}

/// Warnings of an accepted change, for the command's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Warnings(pub Vec<Diagnostic>);

impl Portal {
    pub fn open(config: Config) -> Result<Self> {
        let store = Store::open(&config.data_dir)?;
        Ok(Self { store, config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now() -> Timestamp {
        Timestamp::now()
    }
}
