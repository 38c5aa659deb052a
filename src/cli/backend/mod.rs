//! Where a command runs: [`Local`] over a data folder on this host, or [`Remote`] through
//! a portal's HTTP API. Both implement every command of [`Backend`] and return the same
//! report types, so each command is parsed once and printed by the same function.

mod local;
mod remote;

pub use local::Local;
pub use remote::{host_only, Remote, RemoteError};

use anyhow::Result;
use jiff::Timestamp;

use crate::catalog::model::ServerDef;
use crate::catalog::parse::RegistryEntries;
use crate::engine::LogsQuery;
use crate::ids::{CatalogName, Label, SecretName, ServerId, UserId};
use crate::manager::{
    CatalogSummary, CustomReport, DisableReport, EnableReport, ImportOptions, LogLine,
    MigrationReport, MigrationRequest, NewToken, OverlayReport, OverlaySummary, RegenReport,
    RemovedReport, RevisionSummary, SecretSummary, ServersView, StatusRow, TokenView, UploadReport,
    UserRemoved, UserSummary, ValidateReport,
};
use crate::plan::{Quota, Settings};
use crate::secrets::SecretValue;
use crate::store::{QuotaOverride, TokenRole, TokenScope};

/// Every command `portalctl` has but `serve` and `secret rotate-key` (host-only).
pub trait Backend {
    /// The largest catalog file this backend accepts, checked before a file is read.
    fn max_upload_bytes(&self) -> u64;

    fn upload_catalog(
        &self,
        file: &str,
        bytes: Vec<u8>,
        name: Option<CatalogName>,
        opts: ImportOptions,
    ) -> Result<UploadReport>;
    fn import_registry(
        &self,
        dir: &str,
        entries: RegistryEntries,
        name: CatalogName,
        opts: ImportOptions,
    ) -> Result<UploadReport>;
    fn validate_catalog(&self, file: &str, bytes: Vec<u8>) -> Result<ValidateReport>;
    fn validate_registry(&self, dir: &str, entries: RegistryEntries) -> Result<ValidateReport>;
    fn list_catalogs(&self) -> Result<Vec<CatalogSummary>>;
    fn catalog_history(&self, name: &CatalogName) -> Result<Vec<RevisionSummary>>;
    fn rollback_catalog(&self, name: &CatalogName, to: Option<u32>) -> Result<UploadReport>;
    fn remove_catalog(&self, name: &CatalogName) -> Result<RemovedReport>;
    /// Rebuilds the merged catalogs of one user, or of all.
    fn regenerate(&self, user: Option<&UserId>) -> Result<RegenReport>;

    fn upload_overlay(
        &self,
        file: &str,
        bytes: Vec<u8>,
        name: CatalogName,
    ) -> Result<OverlayReport>;
    fn list_overlays(&self) -> Result<Vec<OverlaySummary>>;
    fn remove_overlay(&self, name: &CatalogName) -> Result<RemovedReport>;

    fn add_custom(&self, user: &UserId, file: &str, bytes: Vec<u8>) -> Result<CustomReport>;
    fn list_custom(&self, user: &UserId) -> Result<Vec<ServerDef>>;
    fn remove_custom(&self, user: &UserId, id: &ServerId) -> Result<()>;

    /// Adds a user; `reuse_data` hands them what an earlier user of the id left.
    fn add_user(
        &self,
        id: UserId,
        roles: Vec<Label>,
        org: Option<Label>,
        reuse_data: bool,
    ) -> Result<UserSummary>;
    fn list_users(&self) -> Result<Vec<UserSummary>>;
    /// Removes a user, with their data unless `keep_data`.
    fn remove_user(&self, id: &UserId, keep_data: bool) -> Result<UserRemoved>;
    /// The user's quota after `change` (when given) is applied to their overrides.
    fn user_limits(&self, id: &UserId, change: Option<QuotaOverride>) -> Result<Quota>;

    fn set_secret(
        &self,
        user: &UserId,
        name: &SecretName,
        value: &SecretValue,
        expires: Option<Timestamp>,
    ) -> Result<SecretSummary>;
    fn list_secrets(&self, user: &UserId) -> Result<Vec<SecretSummary>>;
    fn remove_secret(&self, user: &UserId, name: &SecretName) -> Result<()>;

    fn create_token(
        &self,
        user: &UserId,
        role: TokenRole,
        scope: TokenScope,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<NewToken>;
    fn list_tokens(&self) -> Result<Vec<TokenView>>;
    fn revoke_token(&self, id: &str) -> Result<()>;

    /// The user's merged servers (only those of `category`, when given) and warnings.
    fn servers(&self, user: &UserId, category: Option<&str>) -> Result<ServersView>;
    /// `lazy`: made, not started, until the first MCP request.
    fn enable(
        &self,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        lazy: bool,
    ) -> Result<EnableReport>;
    fn disable(&self, user: &UserId, server: &ServerId) -> Result<DisableReport>;
    fn restart(&self, user: &UserId, server: &ServerId) -> Result<EnableReport>;
    /// Every enabled server and managed container, of one user or all, sorted.
    fn status(&self, user: Option<&UserId>) -> Result<Vec<StatusRow>>;
    /// Hands each line of a server's log to `each`, until the log ends (with
    /// `query.follow`: until the container stops).
    fn logs(
        &self,
        user: &UserId,
        server: &ServerId,
        query: LogsQuery,
        each: &mut dyn FnMut(&LogLine),
    ) -> Result<()>;

    /// Plans the migration of a Docker Desktop MCP Toolkit folder, and carries it out
    /// when the request says `apply`.
    fn migrate(&self, req: MigrationRequest) -> Result<MigrationReport>;
}
