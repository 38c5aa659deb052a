//! What the dashboard reads back: a catalog's stored definition at one revision (for a
//! diff between two revisions), the audit log's entries, filtered, an enabled server's
//! settings, and the memory each running container uses. Reads only.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use jiff::Timestamp;

use super::{Portal, PortalError, Result, Runtime};
use crate::catalog::model::Catalog;
use crate::engine::Engine;
use crate::ids::{CatalogName, ServerId, UserId};
use crate::plan::Settings;
use crate::store::AuditEntry;

/// Which audit entries to show; an unset field matches every entry.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    /// A prefix of the action (`catalog.` matches every catalog action).
    pub action: Option<String>,
    pub result: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl AuditFilter {
    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.user
            .as_ref()
            .is_none_or(|u| e.user.as_ref() == Some(u))
            && self
                .action
                .as_ref()
                .is_none_or(|a| e.action.starts_with(a.as_str()))
            && self.result.as_ref().is_none_or(|r| &e.result == r)
            && self.since.is_none_or(|t| e.time >= t)
            && self.until.is_none_or(|t| e.time <= t)
    }
}

impl Portal {
    /// The catalog as stored at `revision`.
    pub fn catalog_revision(&self, name: &CatalogName, revision: u32) -> Result<Catalog> {
        let _lock = self.store.lock()?;
        self.store
            .read_base(name, revision)?
            .map(|l| l.value.catalog)
            .ok_or_else(|| PortalError::NotFound {
                what: "revision",
                name: format!("{revision} of catalog {name}"),
                hint: format!("see the revisions with `portalctl catalog history {name}`"),
            })
    }

    /// The settings an enabled server runs with; `None` when it is not enabled.
    pub fn server_settings(&self, user: &UserId, server: &ServerId) -> Result<Option<Settings>> {
        Ok(self
            .store
            .read_enabled(user)?
            .servers
            .remove(server)
            .map(|e| e.settings))
    }

    /// The audit entries `filter` matches, newest first, at most `limit` of them.
    pub fn audit_entries(&self, filter: &AuditFilter, limit: usize) -> Result<Vec<AuditEntry>> {
        let entries = self.store.read_audit()?;
        Ok(entries
            .into_iter()
            .rev()
            .filter(|e| filter.matches(e))
            .take(limit)
            .collect())
    }
}

/// How many containers' memory is read at once.
const MEASURE_AT_ONCE: usize = 4;

impl<E: Engine> Runtime<E> {
    /// The memory each named container uses now, in bytes, one stats call each; a
    /// container Docker gives no figure for is left out.
    pub async fn memory_in_use(&self, containers: &[String]) -> BTreeMap<String, u64> {
        futures_util::stream::iter(containers.iter().cloned())
            .map(|name| async move {
                match self.engine().usage(&name).await {
                    Ok(u) => u.map(|u| (name, u.memory_bytes)),
                    Err(e) => {
                        tracing::debug!(error = %e, container = %name, "cannot read memory use");
                        None
                    }
                }
            })
            .buffer_unordered(MEASURE_AT_ONCE)
            .filter_map(std::future::ready)
            .collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: &str, action: &str, result: &str) -> AuditEntry {
        AuditEntry {
            time: "2026-01-02T03:04:05Z".parse().unwrap(),
            actor: "api:a".into(),
            client: None,
            user: Some(user.into()),
            action: action.into(),
            resource: "r".into(),
            result: result.into(),
            count: None,
            detail: None,
        }
    }

    #[test]
    fn a_filter_matches_on_every_field_it_sets() {
        let e = entry("u1", "catalog.upload", "ok");
        assert!(AuditFilter::default().matches(&e));
        let by_action = AuditFilter {
            action: Some("catalog.".into()),
            ..Default::default()
        };
        assert!(by_action.matches(&e));
        let other_user = AuditFilter {
            user: Some("u2".into()),
            ..Default::default()
        };
        assert!(!other_user.matches(&e));
        let later = AuditFilter {
            since: Some("2026-02-01T00:00:00Z".parse().unwrap()),
            ..Default::default()
        };
        assert!(!later.matches(&e));
        let refused = AuditFilter {
            result: Some("refused".into()),
            ..Default::default()
        };
        assert!(!refused.matches(&e));
    }
}
