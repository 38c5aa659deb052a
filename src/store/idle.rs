//! Which containers are idle: stopped on purpose (by the daemon's idle shutdown, or made
//! by `enable --lazy` and never started), so that the daemon, also after a restart of
//! its own, neither restarts them nor counts them as failed, and `status` says `idle`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// Why a container is idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdleReason {
    /// The daemon stopped it after its idle timeout.
    Timeout,
    /// `enable --lazy` made it without starting it.
    Lazy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleMark {
    pub since: Timestamp,
    pub reason: IdleReason,
}

/// `DATA/state/idle.json`: idle containers by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredIdle {
    #[serde(default)]
    pub containers: BTreeMap<String, IdleMark>,
}

impl Store {
    pub fn read_idle(&self) -> Result<StoredIdle, StoreError> {
        self.read_json_or_default(&self.idle_path())
    }

    /// Marks a container idle (before it is stopped, so no pass restarts it meanwhile).
    pub fn mark_idle(&self, container: &str, reason: IdleReason) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let mut idle = self.read_idle()?;
        idle.containers.insert(
            container.to_string(),
            IdleMark {
                since: Timestamp::now(),
                reason,
            },
        );
        self.write_json(&self.idle_path(), &idle)
    }

    /// Clears a container's mark; whether it had one.
    pub fn clear_idle(&self, container: &str) -> Result<bool, StoreError> {
        let _lock = self.lock()?;
        let mut idle = self.read_idle()?;
        if idle.containers.remove(container).is_none() {
            return Ok(false);
        }
        self.write_json(&self.idle_path(), &idle)?;
        Ok(true)
    }
}
