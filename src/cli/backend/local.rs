//! The local backend: the manager over a data folder on this host, with the Docker
//! Engine connected only for the commands that need it.

use anyhow::Result;
use futures_util::StreamExt;
use jiff::Timestamp;

use super::Backend;
use crate::catalog::model::ServerDef;
use crate::catalog::parse::RegistryEntries;
use crate::engine::{DockerEngine, LogsQuery};
use crate::ids::{CatalogName, Label, SecretName, ServerId, UserId};
use crate::manager::{
    AuditAction, CatalogSummary, CustomReport, DisableReport, EnableReport, ImportOptions, LogLine,
    MigrationReport, MigrationRequest, NewToken, OverlayReport, OverlaySummary, Portal,
    PortalError, RegenReport, RemovedReport, RevisionSummary, Runtime, SecretSummary, ServersView,
    StatusRow, TokenView, UploadReport, UserRemoved, UserSummary, ValidateReport,
};
use crate::plan::{Quota, Settings};
use crate::secrets::SecretValue;
use crate::store::{QuotaOverride, TokenRole, TokenScope};

#[derive(Debug)]
pub struct Local {
    portal: Portal,
}

impl Local {
    pub fn new(portal: Portal) -> Self {
        Self { portal }
    }

    pub fn portal(&self) -> &Portal {
        &self.portal
    }

    /// Runs `f` against the container runtime on a fresh Tokio runtime. A change that
    /// cannot reach Docker is still audited, as the operation would have been.
    fn with_runtime<T>(
        &self,
        change: Option<(&UserId, AuditAction, &str)>,
        f: impl AsyncFnOnce(&Runtime<DockerEngine>) -> crate::manager::Result<T>,
    ) -> Result<T> {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        tokio.block_on(async {
            let engine = match DockerEngine::connect().await {
                Ok(engine) => engine,
                Err(e) => {
                    let e = PortalError::from(e);
                    if let Some((u, action, s)) = change {
                        self.portal.audit_failure(Some(u.as_str()), action, s, &e);
                    }
                    return Err(e.into());
                }
            };
            let rt = Runtime::new(self.portal.clone(), engine);
            Ok(f(&rt).await?)
        })
    }
}

/// Pull progress and other long waits go to stderr, as they happen.
fn progress(line: &str) {
    eprintln!("{line}");
}

impl Backend for Local {
    fn max_upload_bytes(&self) -> u64 {
        self.portal.config().max_catalog_bytes
    }

    fn upload_catalog(
        &self,
        file: &str,
        bytes: Vec<u8>,
        name: Option<CatalogName>,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        Ok(self.portal.upload_catalog_with(file, &bytes, name, opts)?)
    }

    fn import_registry(
        &self,
        dir: &str,
        entries: RegistryEntries,
        name: CatalogName,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        Ok(self
            .portal
            .import_registry_with(dir, entries, Some(name), opts)?)
    }

    fn validate_catalog(&self, file: &str, bytes: Vec<u8>) -> Result<ValidateReport> {
        Ok(self.portal.validate_catalog(file, &bytes)?.into())
    }

    fn validate_registry(&self, dir: &str, entries: RegistryEntries) -> Result<ValidateReport> {
        Ok(self.portal.validate_registry(dir, entries)?.into())
    }

    fn list_catalogs(&self) -> Result<Vec<CatalogSummary>> {
        Ok(self.portal.list_catalogs()?)
    }

    fn catalog_history(&self, name: &CatalogName) -> Result<Vec<RevisionSummary>> {
        Ok(self.portal.catalog_history(name)?)
    }

    fn rollback_catalog(&self, name: &CatalogName, to: Option<u32>) -> Result<UploadReport> {
        Ok(self.portal.rollback_catalog(name, to)?)
    }

    fn remove_catalog(&self, name: &CatalogName) -> Result<RemovedReport> {
        Ok(RemovedReport {
            regenerated: self.portal.remove_catalog(name)?,
            removed: name.clone(),
        })
    }

    fn regenerate(&self, user: Option<&UserId>) -> Result<RegenReport> {
        Ok(self.portal.regenerate(user, true)?)
    }

    fn upload_overlay(
        &self,
        file: &str,
        bytes: Vec<u8>,
        name: CatalogName,
    ) -> Result<OverlayReport> {
        Ok(self.portal.upload_overlay(file, &bytes, name)?)
    }

    fn list_overlays(&self) -> Result<Vec<OverlaySummary>> {
        Ok(self.portal.list_overlays()?)
    }

    fn remove_overlay(&self, name: &CatalogName) -> Result<RemovedReport> {
        Ok(RemovedReport {
            regenerated: self.portal.remove_overlay(name)?,
            removed: name.clone(),
        })
    }

    fn add_custom(&self, user: &UserId, file: &str, bytes: Vec<u8>) -> Result<CustomReport> {
        Ok(self.portal.add_custom(user, file, &bytes)?)
    }

    fn list_custom(&self, user: &UserId) -> Result<Vec<ServerDef>> {
        Ok(self.portal.list_custom(user)?)
    }

    fn remove_custom(&self, user: &UserId, id: &ServerId) -> Result<()> {
        Ok(self.portal.remove_custom(user, id)?)
    }

    fn add_user(
        &self,
        id: UserId,
        roles: Vec<Label>,
        org: Option<Label>,
        reuse_data: bool,
    ) -> Result<UserSummary> {
        let shown = id.clone();
        let change = (&shown, AuditAction::UserAdd, shown.as_str());
        self.with_runtime(Some(change), async |rt| {
            rt.add_user_by(rt.portal(), id, roles, org, reuse_data)
                .await
        })
    }

    fn list_users(&self) -> Result<Vec<UserSummary>> {
        Ok(self.portal.list_users()?)
    }

    fn remove_user(&self, id: &UserId, keep_data: bool) -> Result<UserRemoved> {
        let change = (id, AuditAction::UserRemove, id.as_str());
        self.with_runtime(Some(change), async |rt| {
            rt.remove_user_by(rt.portal(), id, keep_data).await
        })
    }

    fn user_limits(&self, id: &UserId, change: Option<QuotaOverride>) -> Result<Quota> {
        Ok(self.portal.user_limits(id, change)?)
    }

    fn set_secret(
        &self,
        user: &UserId,
        name: &SecretName,
        value: &SecretValue,
        expires: Option<Timestamp>,
    ) -> Result<SecretSummary> {
        Ok(self.portal.set_secret(user, name, value, expires)?)
    }

    fn list_secrets(&self, user: &UserId) -> Result<Vec<SecretSummary>> {
        Ok(self.portal.list_secrets(user)?)
    }

    fn remove_secret(&self, user: &UserId, name: &SecretName) -> Result<()> {
        Ok(self.portal.remove_secret(user, name)?)
    }

    fn create_token(
        &self,
        user: &UserId,
        role: TokenRole,
        scope: TokenScope,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<NewToken> {
        Ok(self.portal.create_token(user, role, scope, expires_at)?)
    }

    fn list_tokens(&self) -> Result<Vec<TokenView>> {
        Ok(self.portal.list_tokens()?)
    }

    fn revoke_token(&self, id: &str) -> Result<()> {
        Ok(self.portal.revoke_token(id)?)
    }

    fn servers(&self, user: &UserId, category: Option<&str>) -> Result<ServersView> {
        Ok(self.portal.servers(user)?.view(category))
    }

    fn enable(
        &self,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        lazy: bool,
    ) -> Result<EnableReport> {
        let change = (user, AuditAction::ServerEnable, server.as_str());
        self.with_runtime(Some(change), async |rt| {
            rt.enable_lazy_by(rt.portal(), user, server, settings, &progress, lazy)
                .await
        })
    }

    fn disable(&self, user: &UserId, server: &ServerId) -> Result<DisableReport> {
        let change = (user, AuditAction::ServerDisable, server.as_str());
        self.with_runtime(Some(change), async |rt| rt.disable(user, server).await)
    }

    fn restart(&self, user: &UserId, server: &ServerId) -> Result<EnableReport> {
        let change = (user, AuditAction::ServerRestart, server.as_str());
        self.with_runtime(Some(change), async |rt| rt.restart(user, server).await)
    }

    fn status(&self, user: Option<&UserId>) -> Result<Vec<StatusRow>> {
        let rows = self.with_runtime(None, async |rt| rt.status(user).await)?;
        if !rows.is_empty() && !self.portal.store().daemon_running()? {
            eprintln!("note: no daemon runs on this data folder: health is unknown and nothing restarts failed servers; start one with `portalctl serve`");
        }
        Ok(rows)
    }

    fn logs(
        &self,
        user: &UserId,
        server: &ServerId,
        query: LogsQuery,
        each: &mut dyn FnMut(&LogLine),
    ) -> Result<()> {
        self.with_runtime(None, async |rt| {
            let mut lines = rt.logs(user, server, query).await?;
            while let Some(line) = lines.next().await {
                each(&line?);
            }
            Ok(())
        })
    }

    fn migrate(&self, req: MigrationRequest) -> Result<MigrationReport> {
        // A dry run changes nothing, so it needs no Docker.
        if !req.apply {
            return Ok(self.portal.plan_migration(&req)?);
        }
        let (user, dir) = (req.user.clone(), req.dir.clone());
        let change = (&user, AuditAction::SystemMigrate, dir.as_str());
        self.with_runtime(Some(change), async |rt| {
            rt.migrate_by(rt.portal(), req, &progress).await
        })
    }
}
