//! Users' merged catalogs: served from the per-user cache while its inputs' digest is
//! unchanged, regenerated (and re-cached) when any input changed.

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::snapshot::Snapshot;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::catalog::merge::MergedServer;
use crate::catalog::report::Diagnostic;
use crate::ids::UserId;

#[derive(Debug, Deserialize)]
pub(super) struct CachedCatalog {
    pub(super) inputs: String,
    pub(super) servers: Vec<MergedServer>,
    #[serde(default)]
    warnings: Vec<Diagnostic>,
}

/// Only the digest of a cache file, read without building its servers.
#[derive(Debug, Deserialize)]
pub(super) struct CacheHeader {
    pub(super) inputs: String,
}

/// The cache as written, from servers already encoded once.
#[derive(Debug, Serialize)]
struct CachedCatalogRaw<'a> {
    inputs: &'a str,
    servers: Vec<&'a RawValue>,
    warnings: &'a [Diagnostic],
}

/// Encodes each merged server once, however many users share it: users that see the same
/// layers share the same `Arc`s, so regenerating 100 users encodes ~1 catalog, not 100.
#[derive(Debug, Default)]
struct Encoder {
    encoded: HashMap<*const MergedServer, Box<RawValue>>,
}

impl Encoder {
    fn cache<'a>(
        &'a mut self,
        inputs: &'a str,
        servers: &[Arc<MergedServer>],
        warnings: &'a [Diagnostic],
    ) -> std::result::Result<CachedCatalogRaw<'a>, serde_json::Error> {
        for s in servers {
            if let Entry::Vacant(slot) = self.encoded.entry(Arc::as_ptr(s)) {
                slot.insert(serde_json::value::to_raw_value(&**s)?);
            }
        }
        let encoded = &self.encoded;
        let servers = servers
            .iter()
            .filter_map(|s| encoded.get(&Arc::as_ptr(s)).map(AsRef::as_ref))
            .collect();
        Ok(CachedCatalogRaw {
            inputs,
            servers,
            warnings,
        })
    }
}

/// One user's merged servers.
#[derive(Debug, Clone)]
pub struct UserServers {
    pub user: UserId,
    pub servers: Vec<Arc<MergedServer>>,
    pub warnings: Vec<Diagnostic>,
    pub from_cache: bool,
}

impl UserServers {
    /// The servers and warnings as `portalctl servers` shows them, only those of
    /// `category` (case-insensitive) when one is given.
    pub fn view(&self, category: Option<&str>) -> ServersView {
        ServersView {
            servers: self
                .servers
                .iter()
                .filter(|s| category.is_none_or(|c| s.in_category(c)))
                .map(|s| MergedServer::clone(s))
                .collect(),
            warnings: self.warnings.clone(),
        }
    }
}

/// A user's merged servers with the merge's warnings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServersView {
    pub servers: Vec<MergedServer>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegenReport {
    pub regenerated: Vec<UserId>,
    pub unchanged: Vec<UserId>,
    pub failed: Vec<Diagnostic>,
    /// Users left out because their records cannot be read, with what to do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Diagnostic>,
}

/// What removing a catalog or an overlay did. The fields are in name order, the order
/// the JSON of these answers has always had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedReport {
    pub regenerated: RegenReport,
    pub removed: crate::ids::CatalogName,
}

pub(super) fn unknown_user(user: &UserId) -> PortalError {
    PortalError::NotFound {
        what: "user",
        name: user.to_string(),
        hint: format!("add it with `portalctl user add {user}`"),
    }
}

impl Portal {
    /// The user's merged servers, from the cache when it is current.
    pub fn servers(&self, user: &UserId) -> Result<UserServers> {
        let _lock = self.store.lock()?;
        let snapshot = Snapshot::load(&self.store)?;
        let inputs = snapshot
            .users
            .get(user)
            .ok_or_else(|| snapshot.missing(user))?;
        let digest = snapshot.inputs_digest(inputs, &self.config.limits().policy);
        if let Some(cached) = self.store.read_cache::<CachedCatalog>(user) {
            if cached.inputs == digest {
                return Ok(UserServers {
                    user: user.clone(),
                    servers: cached.servers.into_iter().map(Arc::new).collect(),
                    warnings: cached.warnings,
                    from_cache: true,
                });
            }
        }
        self.merge_and_cache(&snapshot, user, digest)
    }

    fn merge_and_cache(
        &self,
        snapshot: &Snapshot,
        user: &UserId,
        digest: String,
    ) -> Result<UserServers> {
        let policy = self.config.limits().policy;
        let catalog = snapshot
            .merge(Some(user), &policy)
            .remove(user)
            .ok_or_else(|| unknown_user(user))?;
        let warnings = catalog.served_warnings();
        let mut encoder = Encoder::default();
        let cached = encoder
            .cache(&digest, &catalog.servers, &warnings)
            .map_err(|e| self.store.encode_error(user, e))?;
        let before = self.cached_before(user);
        self.store.write_cache(user, &cached)?;
        self.announce(
            user,
            &digest,
            before,
            &catalog.servers,
            &cached.servers,
            false,
        );
        Ok(UserServers {
            user: user.clone(),
            servers: catalog.servers,
            warnings,
            from_cache: false,
        })
    }

    /// Rebuilds the cached merged catalogs of one user or all; `force` ignores the digests.
    pub fn regenerate(&self, only: Option<&UserId>, force: bool) -> Result<RegenReport> {
        let r = self.regenerate_unaudited(only, force);
        let who = only.map_or("merged catalogs", UserId::as_str);
        self.audited(
            only.map(UserId::as_str),
            AuditAction::CatalogRegenerate,
            who,
            r,
        )
    }

    fn regenerate_unaudited(&self, only: Option<&UserId>, force: bool) -> Result<RegenReport> {
        let _lock = self.store.lock()?;
        if let Some(user) = only {
            if !self.store.user_exists(user) {
                return Err(unknown_user(user));
            }
        }
        self.regenerate_locked(only, force)
    }

    /// `regenerate` for callers that already hold the lock.
    pub(super) fn regenerate_locked(
        &self,
        only: Option<&UserId>,
        force: bool,
    ) -> Result<RegenReport> {
        let snapshot = Snapshot::load(&self.store)?;
        if let Some(user) = only.filter(|u| snapshot.damaged.contains_key(*u)) {
            return Err(snapshot.missing(user));
        }
        let policy = self.config.limits().policy;
        let mut report = RegenReport {
            skipped: snapshot.damaged_warnings(only),
            ..RegenReport::default()
        };
        let mut stale = Vec::new();
        for (id, inputs) in &snapshot.users {
            if only.is_some_and(|o| o != id) {
                continue;
            }
            let digest = snapshot.inputs_digest(inputs, &policy);
            let current = !force
                && self
                    .store
                    .read_cache::<CacheHeader>(id)
                    .is_some_and(|c| c.inputs == digest);
            if current {
                report.unchanged.push(id.clone());
            } else {
                stale.push((id.clone(), digest));
            }
        }
        if stale.is_empty() {
            return Ok(report);
        }
        let mut merged = snapshot.merge(only, &policy);
        let mut encoder = Encoder::default();
        for (id, digest) in stale {
            if let Some(catalog) = merged.remove(&id) {
                let warnings = catalog.served_warnings();
                let cached = encoder
                    .cache(&digest, &catalog.servers, &warnings)
                    .map_err(|e| self.store.encode_error(&id, e))?;
                let before = self.cached_before(&id);
                self.store.write_cache(&id, &cached)?;
                self.announce(
                    &id,
                    &digest,
                    before,
                    &catalog.servers,
                    &cached.servers,
                    force,
                );
                report.regenerated.push(id);
            }
        }
        Ok(report)
    }
}
