//! The portal's operations: what the CLI's local backend, the API and the daemon call.
//! Each operation takes the data folder's lock, reads a consistent snapshot, checks the
//! change against every user's merge before storing anything, stores it, refreshes the
//! affected caches, and records the outcome in the audit log.

mod announce;
mod audit;
mod catalogs;
mod containers;
mod custom;
mod daemon;
mod error;
mod events;
mod history;
mod idle;
mod instance;
mod migration;
mod overlays;
mod rotation;
mod secrets;
mod servers;
mod snapshot;
mod targets;
mod tokens;
mod users;

use jiff::Timestamp;
use serde::Serialize;

pub use audit::AuditAction;
pub use catalogs::{CatalogSummary, ImportOptions, RevisionSummary, UploadReport, ValidateReport};
pub use containers::{
    DeployFailure, DeployReport, DisableReport, EnableOutcome, EnableReport, LogLine, LogStream,
    Runtime, StatusRow, UserRemoved, UNKNOWN_HEALTH, UNKNOWN_STATUS,
};
pub use custom::CustomReport;
pub use daemon::{Daemon, ReconcileReport};
pub use error::{PortalError, Result};
pub use events::{Change, Event, EventHub, Limits, Resources, Signal};
pub use history::AuditFilter;
pub use idle::{Activity, Busy, Parked, Woke};
pub use migration::{
    CatalogChange, CatalogStep, MigrationReport, MigrationRequest, PathStep, SecretStep, ServerStep,
};
pub use overlays::{OverlayReport, OverlaySummary};
pub use rotation::RotateReport;
pub use secrets::{OpenedSecret, SecretSummary};
pub use servers::{RegenReport, RemovedReport, ServersView, UserServers};
pub use targets::McpTarget;
pub use tokens::{NewToken, TokenView};
pub use users::UserSummary;

use crate::catalog::report::Diagnostic;
use crate::config::Config;
use crate::store::Store;

/// The portal over one data folder.
#[derive(Debug, Clone)]
pub struct Portal {
    store: Store,
    config: Config,
    /// The instance id that labels this portal's Docker objects.
    instance: String,
    /// What opening the folder migrated from an earlier version's layout, to be said.
    migrated: Vec<String>,
    /// Who acts, for the audit log: the CLI's login user, `daemon`, an API token's user.
    actor: String,
    /// The network address the actor called from (API calls), for the audit log.
    client: Option<String>,
    /// This process's metrics, shared by every clone.
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// The live events every clone of this portal feeds and the API's streams read.
    events: EventHub,
}

/// Warnings of an accepted change, for the command's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Warnings(pub Vec<Diagnostic>);

impl Portal {
    pub fn open(config: Config) -> Result<Self> {
        let store = Store::open(&config.data_dir)?;
        let (instance, migrated) = instance::resolve(&store, config.runtime.instance.as_deref())?;
        let mut migrated: Vec<String> = migrated.into_iter().collect();
        let opened = store.tighten_modes();
        if opened > 0 {
            migrated.push(format!(
                "made {opened} users' enabled.json private (mode 0600): they hold --env values, which an earlier version left readable by others"
            ));
        }
        migrated.extend(rotation::finish(&store, &config.secrets.key));
        Ok(Self {
            store,
            config,
            instance,
            migrated,
            actor: "portal".into(),
            client: None,
            metrics: Default::default(),
            events: EventHub::default(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The instance id that labels this portal's Docker objects.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// What opening the data folder migrated, one sentence each, for the command to say.
    pub fn migrated(&self) -> &[String] {
        &self.migrated
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The live events of this portal (and of every clone of it).
    pub fn events(&self) -> &EventHub {
        &self.events
    }

    /// The same portal acting as `actor` in the audit log.
    pub fn with_actor(mut self, actor: &str) -> Self {
        self.actor = actor.to_string();
        self
    }

    /// The same portal recording that its actor calls from `client` (an address).
    pub fn with_client(mut self, client: Option<String>) -> Self {
        self.client = client;
        self
    }

    fn now() -> Timestamp {
        Timestamp::now()
    }
}
