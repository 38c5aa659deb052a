//! Portal-wide records: port and subnet allocations, API tokens, the daemon's view of
//! containers, and each user's merged-catalog cache.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::files::Encoding;
use super::{DaemonState, Store, StoreError, StoredTokens};
use crate::alloc::Allocations;
use crate::ids::UserId;

/// Which version of a file is on disk: writes go through a rename, so a new write is a
/// new inode, and the change time and size catch any edit in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileStamp {
    ino: u64,
    len: u64,
    ctime_ns: i128,
}

impl FileStamp {
    /// Whether the change is older than the clock's coarsest tick.
    fn settled(&self) -> bool {
        let now = jiff::Timestamp::now().as_nanosecond();
        now - self.ctime_ns > 1_000_000_000
    }

    fn of(path: &std::path::Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            ino: m.ino(),
            len: m.len(),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        })
    }
}

impl Store {
    /// The allocations, or `None` when the state file is missing (rebuild it from labels).
    pub fn read_allocations(&self) -> Result<Option<Allocations>, StoreError> {
        Ok(self.read_json(&self.allocations_path())?.map(|l| l.value))
    }

    pub fn write_allocations(&self, a: &Allocations) -> Result<(), StoreError> {
        self.write_json(&self.allocations_path(), a)
    }

    /// The tokens, parsed again only when the file is not the one read last.
    pub fn read_tokens(&self) -> Result<StoredTokens, StoreError> {
        let path = self.tokens_path();
        let stamp = FileStamp::of(&path);
        if let Some(stamp) = stamp {
            let cached = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, tokens)) = cached.as_ref().filter(|(at, _)| *at == stamp) {
                return Ok(tokens.clone());
            }
        }
        let tokens: StoredTokens = self.read_json_or_default(&path)?;
        // A file changed within the last second is read again next time: two writes in
        // one tick of the clock could share a stamp.
        if let Some(stamp) = stamp.filter(|s| s.settled()) {
            *self.tokens.lock().unwrap_or_else(|p| p.into_inner()) = Some((stamp, tokens.clone()));
        }
        Ok(tokens)
    }

    /// Writes the token hashes, readable by the portal's own user only.
    pub fn write_tokens(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        *self.tokens.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.write_private_json(&self.tokens_path(), tokens)
    }

    /// What the daemon last wrote about containers' health (empty when it never ran).
    pub fn read_daemon_state(&self) -> Result<DaemonState, StoreError> {
        self.read_json_or_default(&self.daemon_state_path())
    }

    pub fn write_daemon_state(&self, state: &DaemonState) -> Result<(), StoreError> {
        self.write_json(&self.daemon_state_path(), state)
    }

    /// The cached merged catalog; a damaged cache reads as missing, since it can be rebuilt.
    pub fn read_cache<T: DeserializeOwned>(&self, id: &UserId) -> Option<T> {
        self.read_json(&self.cache_path(id))
            .ok()
            .flatten()
            .map(|l| l.value)
    }

    /// A cache record that could not be encoded, reported against the file it was meant for.
    pub fn encode_error(&self, id: &UserId, source: serde_json::Error) -> StoreError {
        StoreError::Corrupt {
            path: self.cache_path(id),
            source,
        }
    }

    /// Writes a user's cache compactly: it is read by the portal, not by people.
    pub fn write_cache<T: Serialize>(&self, id: &UserId, value: &T) -> Result<(), StoreError> {
        self.write_json_as(&self.cache_path(id), value, Encoding::Compact)
    }
}
