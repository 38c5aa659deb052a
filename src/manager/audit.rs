//! The audit log's vocabulary and its one writer: every change and refusal the manager's
//! operations make is recorded here, whoever called them (CLI, API or daemon).

use super::{Portal, PortalError, Result};
use crate::error::{AuditResult, Classify};

/// What an audit entry records was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Auth,
    CatalogUpload,
    CatalogImport,
    CatalogRollback,
    CatalogRemove,
    CatalogRegenerate,
    OverlayUpload,
    OverlayRemove,
    CustomAdd,
    CustomRemove,
    UserAdd,
    UserRemove,
    UserLimits,
    SecretSet,
    SecretRemove,
    SecretRotateKey,
    TokenCreate,
    TokenRevoke,
    ServerEnable,
    ServerDisable,
    ServerRestart,
    ReconcileCreate,
    ReconcileRecreate,
    ReconcileRestart,
    ReconcileRemoveOrphan,
    /// A container an earlier version named, renamed to today's name.
    ContainerRename,
    McpToolCall,
    /// The daemon stopped a server with no MCP request for its idle timeout.
    DaemonIdleStop,
    /// The gateway started an idle (or lazily enabled) server for a caller's request.
    McpServerStart,
    /// A Docker Desktop MCP Toolkit folder migrated for a user.
    SystemMigrate,
}

impl AuditAction {
    /// The name written to the log (stable: tools filter on it).
    pub fn as_str(self) -> &'static str {
        use AuditAction as A;
        match self {
            A::Auth => "auth",
            A::CatalogUpload => "catalog.upload",
            A::CatalogImport => "catalog.import",
            A::CatalogRollback => "catalog.rollback",
            A::CatalogRemove => "catalog.remove",
            A::CatalogRegenerate => "catalog.regenerate",
            A::OverlayUpload => "overlay.upload",
            A::OverlayRemove => "overlay.remove",
            A::CustomAdd => "custom.add",
            A::CustomRemove => "custom.remove",
            A::UserAdd => "user.add",
            A::UserRemove => "user.remove",
            A::UserLimits => "user.limits",
            A::SecretSet => "secret.set",
            A::SecretRemove => "secret.remove",
            A::SecretRotateKey => "secret.rotate-key",
            A::TokenCreate => "token.create",
            A::TokenRevoke => "token.revoke",
            A::ServerEnable => "server.enable",
            A::ServerDisable => "server.disable",
            A::ServerRestart => "server.restart",
            A::ReconcileCreate => "reconcile.create",
            A::ReconcileRecreate => "reconcile.recreate",
            A::ReconcileRestart => "reconcile.restart",
            A::ReconcileRemoveOrphan => "reconcile.remove-orphan",
            A::ContainerRename => "container.rename",
            A::McpToolCall => "mcp.tools-call",
            A::DaemonIdleStop => "daemon.idle-stop",
            A::McpServerStart => "mcp.server-start",
            A::SystemMigrate => "system.migrate",
        }
    }
}

impl Portal {
    /// Records the outcome of an operation and hands the result back. An audit log that
    /// cannot be written is a warning in the daemon's log, never a lost change: the
    /// operation has already happened.
    pub fn audited<T>(
        &self,
        user: Option<&str>,
        action: AuditAction,
        resource: &str,
        result: Result<T>,
    ) -> Result<T> {
        match &result {
            Ok(_) => self.write_entry(user, action, resource, AuditResult::Ok, None),
            Err(e) => self.audit_failure(user, action, resource, e),
        }
        result
    }

    /// Records a failed operation: `refused` or `failed` by the error's class.
    pub fn audit_failure(
        &self,
        user: Option<&str>,
        action: AuditAction,
        resource: &str,
        e: &PortalError,
    ) {
        let outcome = e.class().audit_result();
        self.write_entry(user, action, resource, outcome, Some(e.to_string()));
    }

    fn write_entry(
        &self,
        user: Option<&str>,
        action: AuditAction,
        resource: &str,
        outcome: AuditResult,
        detail: Option<String>,
    ) {
        self.metrics.action(action.as_str(), outcome.as_str());
        if let Err(e) = self.audit_outcome(user, action, resource, outcome, detail) {
            tracing::warn!(error = %e, action = action.as_str(), "cannot write the audit log");
        }
    }

    /// Records an audit entry with an explicit outcome.
    pub fn audit_outcome(
        &self,
        user: Option<&str>,
        action: AuditAction,
        resource: &str,
        outcome: AuditResult,
        detail: Option<String>,
    ) -> Result<()> {
        let entry = crate::store::AuditEntry {
            time: Self::now(),
            actor: self.actor.clone(),
            client: self.client.clone(),
            user: user.map(str::to_string),
            action: action.as_str().to_string(),
            resource: resource.to_string(),
            result: outcome.as_str().to_string(),
            count: None,
            detail,
        };
        self.store
            .audit(&self.config.audit, &entry)
            .map_err(PortalError::from)
    }

    /// Records `count` refused requests of one client in one entry: failed
    /// authentications, and the requests its rate limit then refused unchecked.
    pub fn audit_refusals(&self, client: &str, count: u64, detail: String) {
        let entry = crate::store::AuditEntry {
            time: Self::now(),
            actor: self.actor.clone(),
            client: Some(client.to_string()),
            user: None,
            action: AuditAction::Auth.as_str().to_string(),
            resource: "api".into(),
            result: AuditResult::Refused.as_str().to_string(),
            count: Some(count),
            detail: Some(detail),
        };
        if let Err(e) = self.store.audit(&self.config.audit, &entry) {
            tracing::warn!(error = %e, "cannot write the audit log");
        }
    }
}
