//! The records kept in the data folder, one per file, as JSON.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::catalog::model::{Catalog, Format, Overlay, ServerDef, UserProfile};
use crate::catalog::report::Diagnostic;
use crate::ids::{SecretName, ServerId};
use crate::plan::Settings;
use crate::secrets::Sealed;

/// One uploaded revision of a base catalog, already converted to the native model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCatalog {
    pub revision: u32,
    pub uploaded_at: Timestamp,
    /// The file (or folder) it was uploaded from, for history.
    pub file: String,
    pub format: Format,
    /// SHA-256 of the uploaded bytes.
    pub sha256: String,
    #[serde(default)]
    pub warnings: Vec<Diagnostic>,
    pub catalog: Catalog,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOverlay {
    pub uploaded_at: Timestamp,
    pub file: String,
    pub sha256: String,
    pub overlay: Overlay,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUser {
    #[serde(flatten)]
    pub profile: UserProfile,
    pub created_at: Timestamp,
    /// Per-user overrides of the configured quota.
    #[serde(default, skip_serializing_if = "QuotaOverride::is_empty")]
    pub limits: QuotaOverride,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_containers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cpu_shares: Option<u64>,
}

impl QuotaOverride {
    pub fn is_empty(&self) -> bool {
        self == &QuotaOverride::default()
    }

    pub fn apply(&self, base: crate::plan::Quota) -> crate::plan::Quota {
        crate::plan::Quota {
            max_containers: self.max_containers.unwrap_or(base.max_containers),
            max_memory_mb: self.max_memory_mb.unwrap_or(base.max_memory_mb),
            max_cpu_shares: self.max_cpu_shares.unwrap_or(base.max_cpu_shares),
        }
    }
}

/// A server the user enabled: what they chose, and what it counts against their quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnabledServer {
    #[serde(default)]
    pub settings: Settings,
    pub memory_bytes: u64,
    pub cpu_shares: u64,
    pub enabled_at: Timestamp,
}

/// The user's desired state: the servers they enabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEnabled {
    #[serde(default)]
    pub servers: BTreeMap<ServerId, EnabledServer>,
}

/// The tools a user enabled per server, as Docker's MCP Toolkit recorded them (its
/// `tools.yaml`): the gateway serves only those; a server not listed has all its tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTools {
    #[serde(default)]
    pub servers: BTreeMap<ServerId, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredCustom {
    /// Sorted by id.
    pub servers: Vec<ServerDef>,
}

/// A user's sealed secrets (the file is mode 0600).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecrets {
    #[serde(default)]
    pub secrets: BTreeMap<SecretName, Sealed>,
}

/// What the daemon knows of a container's health, for `portalctl status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerHealth {
    /// healthy, unhealthy, starting, failed, or unknown (no check).
    pub health: String,
    pub restarts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Restarted too often: left alone until enabled or restarted by hand.
    #[serde(default)]
    pub failed: bool,
    /// Runs an older definition (update policy `manual`).
    #[serde(default)]
    pub outdated: bool,
    #[serde(default)]
    pub container_id: String,
}

/// The daemon's view, written after every pass (`DATA/state/daemon.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonState {
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerHealth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

/// An API token: who it acts for, in which role, and the SHA-256 of the token (the token
/// itself is shown once, at creation, and never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: crate::ids::UserId,
    pub role: TokenRole,
    /// What the token may be used for; tokens from before scopes are `api` tokens.
    #[serde(default)]
    pub scope: TokenScope,
    pub sha256: String,
    pub created_at: Timestamp,
    /// After this the token is refused; tokens from before expiry never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// Where a token is accepted: `api` everywhere its role allows (the MCP gateway included),
/// `mcp` only at the MCP gateway (`/mcp`), for pasting into an IDE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    #[default]
    Api,
    Mcp,
}

impl TokenScope {
    pub fn name(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Mcp => "mcp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    Admin,
    User,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    #[serde(default)]
    pub tokens: Vec<TokenRecord>,
}
