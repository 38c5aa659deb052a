//! Migration of a Docker Desktop MCP Toolkit user (seed 004's "Data Migration Plan"):
//! the Toolkit's catalogs become base catalogs, and the servers it enabled are enabled
//! for one portal user with its settings and tools.
//!
//! It is planned first, and the plan is all a dry run does: every catalog is validated
//! and merged for every user as an upload would be, and every server's settings are
//! checked against its definition, without storing anything or calling Docker. Applying
//! refuses a plan with errors or missing secrets, so nothing changes until all of it can;
//! then it backs the records up, uploads the catalogs, enables the servers (the same
//! manager calls as `catalog upload` and `enable`, each audited), records the tool lists
//! (which the gateway applies, see `McpTarget::tools`), and checks that every server is
//! enabled with its settings and running.

mod apply;
mod plan;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::containers::EnableReport;
use crate::catalog::docker::toolkit::ToolkitFiles;
use crate::catalog::model::ParamValue;
use crate::catalog::report::Diagnostic;
use crate::ids::{CatalogName, SecretName, ServerId, UserId};

/// What to migrate, and whether to act.
#[derive(Debug, Clone)]
pub struct MigrationRequest {
    /// The folder, as the user named it, to report problems against.
    pub dir: String,
    pub user: UserId,
    pub files: ToolkitFiles,
    pub apply: bool,
}

/// What a migration will do (a dry run) or did (`applied`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationReport {
    pub user: UserId,
    pub dir: String,
    pub applied: bool,
    pub catalogs: Vec<CatalogStep>,
    pub servers: Vec<ServerStep>,
    /// Every secret the servers need, set or not.
    pub secrets: Vec<SecretStep>,
    /// What is not migrated, and why.
    pub warnings: Vec<Diagnostic>,
    /// What must be fixed before `--apply` can act.
    pub errors: Vec<Diagnostic>,
    /// The backup of the records, relative to the data folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<EnableReport>,
}

/// A Toolkit catalog, to become a base catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogStep {
    pub name: CatalogName,
    pub file: String,
    pub servers: usize,
    pub change: CatalogChange,
}

/// What storing a Toolkit catalog changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogChange {
    /// No base catalog of the name yet.
    New,
    /// Another revision of a stored catalog.
    Updated,
    /// The same bytes are the current revision: nothing to store.
    Unchanged,
}

impl CatalogChange {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
        }
    }
}

/// A server the Toolkit enabled, to be enabled for the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerStep {
    pub server: ServerId,
    /// Where the user's definition comes from, as `portalctl servers` says.
    pub source: String,
    /// The image it runs, pulled before anything changes.
    pub image: String,
    /// Template parameters, from config.yaml.
    pub settings: BTreeMap<String, ParamValue>,
    /// The Toolkit's host paths among them, which now name folders of the user's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathStep>,
    /// The tools tools.yaml enables, the only ones the gateway will serve; `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Enabled in the portal already: its settings are replaced by the Toolkit's.
    pub already_enabled: bool,
}

/// A path a volume setting gives. On Docker Desktop it was a path of the user's host;
/// in the portal it names a folder inside the user's own data folder (unless the admin
/// allowed that host path), which starts empty: what the server should see is to be
/// copied there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathStep {
    pub param: String,
    /// As config.yaml gives it.
    pub given: String,
    /// The folder it now means, relative to the data folder (`volumes/U/data/...`), or
    /// the host path itself when the admin allows it.
    pub folder: String,
    /// Where the server sees it.
    pub mounted_at: String,
    /// The admin allows the host path itself (`MCP_PORTAL_ALLOWED_HOST_PATHS`).
    pub host_path_allowed: bool,
}

/// A secret the migrated servers need. Docker Desktop's cannot be read, so each one the
/// user has not set is a `portalctl secret set` to run before `--apply`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretStep {
    pub name: SecretName,
    pub servers: Vec<ServerId>,
    pub set: bool,
}

impl MigrationReport {
    /// The commands that set the secrets still missing.
    pub fn secret_commands(&self) -> Vec<String> {
        let user = &self.user;
        self.secrets
            .iter()
            .filter(|s| !s.set)
            .map(|s| format!("portalctl secret set {} --user {user}", s.name))
            .collect()
    }

    /// Whether `--apply` would act: no errors, no secret missing.
    pub fn ready(&self) -> bool {
        self.errors.is_empty() && self.secrets.iter().all(|s| s.set)
    }
}
