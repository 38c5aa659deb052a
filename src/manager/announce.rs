//! What a change to users' merged catalogs tells the event streams: a regeneration
//! compares the user's old merge with the new one (`announce`), and `catch_up` finds
//! the regenerations another process made (the CLI writes the caches itself) by each
//! user's digest, telling what changed by a hash per server. Either way a change is
//! told once, and nothing is read while no stream listens.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::events::{Change, Event, KnownCatalog};
use super::servers::{CacheHeader, CachedCatalog};
use super::Portal;
use crate::catalog::merge::MergedServer;
use crate::ids::UserId;

impl Portal {
    /// The servers cached for `user` before a regeneration, when some stream listens
    /// for what changed (reading them costs a parse, which nobody else needs).
    pub(super) fn cached_before(&self, user: &UserId) -> Option<Vec<MergedServer>> {
        if !self.events.listened() {
            return None;
        }
        Some(
            self.store
                .read_cache::<CachedCatalog>(user)
                .map(|c| c.servers)
                .unwrap_or_default(),
        )
    }

    /// Tells the streams of the catalog changes another process made (`portalctl` on
    /// the host writes the caches itself): each user's cached digest is compared with
    /// the one this process last knew. A user this process knew nothing of yet is only
    /// learnt. Does nothing (and forgets) while no stream listens.
    pub fn catch_up(&self) {
        if !self.events.listened() {
            self.events.forget_catalogs();
            return;
        }
        let Ok(users) = self.store.user_ids() else {
            return;
        };
        for user in users {
            let Some(header) = self.store.read_cache::<CacheHeader>(&user) else {
                continue;
            };
            if self.events.knows_catalog(&user, &header.inputs) {
                continue;
            }
            let Some(cached) = self.store.read_cache::<CachedCatalog>(&user) else {
                continue;
            };
            let now = KnownCatalog {
                digest: cached.inputs.clone(),
                servers: fingerprint(&cached.servers),
            };
            let Some(Some(before)) = self.events.know_catalog(&user, now.clone()) else {
                continue;
            };
            let changes = diff(&before.servers, &now.servers);
            if changes.is_empty() {
                continue;
            }
            self.events.event(Event::UserCatalogUpdated {
                user_id: user,
                catalog_version: now.digest.chars().take(16).collect(),
                changes,
                timestamp: Portal::now(),
            });
        }
    }

    /// Tells the user's streams that their catalog changed, if it did, or that it was
    /// regenerated on request (`forced`) even with nothing changed.
    pub(super) fn announce(
        &self,
        user: &UserId,
        digest: &str,
        before: Option<Vec<MergedServer>>,
        after: &[Arc<MergedServer>],
        encoded: &[&RawValue],
        forced: bool,
    ) {
        let Some(before) = before else { return };
        let changes = changes(&before, after);
        // The servers as just encoded for the cache, each in the same order.
        let known = KnownCatalog {
            digest: digest.to_string(),
            servers: after
                .iter()
                .zip(encoded)
                .map(|(s, raw)| (s.def.id.to_string(), hash_text(raw.get())))
                .collect(),
        };
        // Already told (by `catch_up`, which may have seen the new cache first).
        let fresh = self.events.know_catalog(user, known).is_some();
        if !forced && (!fresh || changes.is_empty()) {
            return;
        }
        self.events.event(Event::UserCatalogUpdated {
            user_id: user.clone(),
            catalog_version: digest.chars().take(16).collect(),
            changes,
            timestamp: Portal::now(),
        });
    }
}

/// The servers added, removed or changed from `before` to `after`, by id.
fn changes(before: &[MergedServer], after: &[Arc<MergedServer>]) -> Vec<Change> {
    let old: BTreeMap<String, &MergedServer> =
        before.iter().map(|s| (s.def.id.to_string(), s)).collect();
    let new: BTreeMap<String, &MergedServer> =
        after.iter().map(|s| (s.def.id.to_string(), &**s)).collect();
    diff(&old, &new)
}

/// The entries added, removed or changed from `old` to `new`.
fn diff<T: PartialEq>(old: &BTreeMap<String, T>, new: &BTreeMap<String, T>) -> Vec<Change> {
    let change = |id: &str, change| Change {
        server_id: id.to_string(),
        change,
    };
    let mut out: Vec<Change> = new
        .iter()
        .filter_map(|(id, s)| match old.get(id) {
            None => Some(change(id, "added")),
            Some(o) if o != s => Some(change(id, "updated")),
            Some(_) => None,
        })
        .collect();
    out.extend(
        old.keys()
            .filter(|id| !new.contains_key(*id))
            .map(|id| change(id, "removed")),
    );
    out
}

/// A hash of each server's definition (its JSON, as the cache holds it), by id: enough
/// to tell what changed later without keeping the definitions.
fn fingerprint(servers: &[MergedServer]) -> BTreeMap<String, u64> {
    servers
        .iter()
        .map(|s| {
            let text = serde_json::to_string(s).unwrap_or_default();
            (s.def.id.to_string(), hash_text(&text))
        })
        .collect()
}

fn hash_text(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}
