//! The portal's live events, seed 004's names and fields: one broadcast channel that
//! is fed where a change happens (a catalog regeneration, a Docker event the daemon
//! follows, the daemon's usage sample, a token revoked) and that every event stream of
//! the API (SSE and WebSocket) subscribes to. A slow subscriber lags behind alone: the
//! channel drops its oldest messages for it, and it resynchronises; no sender waits.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::ids::UserId;

/// How many messages a subscriber may fall behind before it lags (and resyncs).
const CAPACITY: usize = 1024;

/// A change to one server of a user's merged catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub server_id: String,
    /// `added`, `removed` or `updated`.
    pub change: &'static str,
}

/// A user's resources as the quota counts them: what the enabled servers reserve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub containers: u64,
    pub memory_mb: u64,
    pub cpu_shares: u64,
    pub ports_used: u64,
    /// Of the containers, those running now (not a seed field).
    pub running: u64,
    /// The memory the running containers use, as Docker last measured it (not a seed
    /// field; absent until the daemon has sampled it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_memory_mb: Option<u64>,
    /// The CPU the running containers used between the daemon's last two samples, in
    /// thousandths of a core (not a seed field; absent until two samples were taken).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_cpu_millicores: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub max_containers: u64,
    pub max_memory_mb: u64,
    pub max_cpu_shares: u64,
    pub max_ports: u64,
}

/// One event a user's streams may carry, named and shaped as seed 004 has them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    /// The user's merged catalog changed (regenerated with a different result).
    UserCatalogUpdated {
        user_id: UserId,
        /// The digest of the merge's inputs: it changes whenever the catalog does.
        catalog_version: String,
        changes: Vec<Change>,
        timestamp: Timestamp,
    },
    /// One of the user's containers changed state.
    ServerStatusChanged {
        user_id: UserId,
        server_id: String,
        /// `unknown` when the portal had not seen the container before.
        old_status: String,
        new_status: String,
        container_id: String,
        timestamp: Timestamp,
    },
    ResourceUsageUpdate {
        user_id: UserId,
        resources: Resources,
        limits: Limits,
    },
}

impl Event {
    /// The user whose streams carry this event.
    pub fn user(&self) -> &UserId {
        match self {
            Self::UserCatalogUpdated { user_id, .. }
            | Self::ServerStatusChanged { user_id, .. }
            | Self::ResourceUsageUpdate { user_id, .. } => user_id,
        }
    }

    /// The seed's name of the event, as SSE's `event:` line gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UserCatalogUpdated { .. } => "USER_CATALOG_UPDATED",
            Self::ServerStatusChanged { .. } => "SERVER_STATUS_CHANGED",
            Self::ResourceUsageUpdate { .. } => "RESOURCE_USAGE_UPDATE",
        }
    }

    /// The event's fields without its name.
    pub fn data(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v.get_mut("data")
            .map(serde_json::Value::take)
            .unwrap_or_default()
    }
}

/// What the channel carries: events for users, and what ends streams.
#[derive(Debug, Clone)]
pub enum Signal {
    Event(Event),
    /// The token of this id was revoked: its streams end now.
    TokenRevoked(String),
}

/// What this process last told of a user's merged catalog: the digest of its inputs and
/// a hash of each server, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KnownCatalog {
    pub digest: String,
    pub servers: BTreeMap<String, u64>,
}

/// The sending side, shared by every clone of the portal.
#[derive(Debug, Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Arc<Signal>>,
    /// Kept only while some stream listens, so that a change another process made (the
    /// CLI writes the caches itself) can be told with what it changed.
    catalogs: Arc<Mutex<HashMap<crate::ids::UserId, KnownCatalog>>>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            catalogs: Arc::default(),
        }
    }
}

impl EventHub {
    /// Sends to every subscriber; with none, the signal is dropped (nobody listens).
    pub fn publish(&self, signal: Signal) {
        let _ = self.tx.send(Arc::new(signal));
    }

    pub fn event(&self, event: Event) {
        self.publish(Signal::Event(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Signal>> {
        self.tx.subscribe()
    }

    /// Whether any stream listens (so a sample nobody reads is not taken).
    pub fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Records `now` as the user's catalog, and returns what was known before; `None`
    /// too when `now`'s digest was known already (someone told it: tell it once).
    pub(super) fn know_catalog(
        &self,
        user: &UserId,
        now: KnownCatalog,
    ) -> Option<Option<KnownCatalog>> {
        // A poisoned lock only means a writer panicked mid-update: the record stands.
        let mut known = self.catalogs.lock().unwrap_or_else(|p| p.into_inner());
        if known.get(user).is_some_and(|k| k.digest == now.digest) {
            return None;
        }
        Some(known.insert(user.clone(), now))
    }

    /// Whether the user's catalog with `digest` is what this process knows.
    pub(super) fn knows_catalog(&self, user: &UserId, digest: &str) -> bool {
        let known = self.catalogs.lock().unwrap_or_else(|p| p.into_inner());
        known.get(user).is_some_and(|k| k.digest == digest)
    }

    /// Forgets the catalogs (nobody listens, so nothing needs telling).
    pub(super) fn forget_catalogs(&self) {
        self.catalogs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_the_seeds_names_and_fields() {
        let e = Event::ServerStatusChanged {
            user_id: UserId::parse("u1").unwrap(),
            server_id: "echo".into(),
            old_status: "running".into(),
            new_status: "exited".into(),
            container_id: "abc".into(),
            timestamp: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(e.name(), "SERVER_STATUS_CHANGED");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "SERVER_STATUS_CHANGED");
        let data = e.data();
        for field in [
            "user_id",
            "server_id",
            "old_status",
            "new_status",
            "container_id",
            "timestamp",
        ] {
            assert!(data.get(field).is_some(), "{field} missing from {data}");
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_does_not_hold_back_the_sender_or_others() {
        let hub = EventHub::default();
        let mut slow = hub.subscribe();
        let mut quick = hub.subscribe();
        for i in 0..CAPACITY + 10 {
            hub.publish(Signal::TokenRevoked(i.to_string()));
            let got = quick.recv().await.unwrap();
            assert!(matches!(&*got, Signal::TokenRevoked(id) if *id == i.to_string()));
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }
}
