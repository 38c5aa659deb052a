//! The audit log: one JSON line per change or refusal, in `DATA/audit/audit.log`,
//! rotated by size (`audit.log.1` .. `audit.log.N`). It has its own lock, so callers
//! holding the data folder's lock can write to it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{io_err, Store, StoreError};

/// One audited event. Names and ids only: never a secret value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: Timestamp,
    pub actor: String,
    /// The network address an API caller came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub action: String,
    pub resource: String,
    /// `ok`, `refused` (bad input, quota, state) or `failed` (Docker, disk).
    pub result: String,
    /// How many like events this one entry stands for (repeated refusals of a client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Where and how much to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPolicy {
    pub enabled: bool,
    pub max_bytes: u64,
    pub keep: u32,
}

impl Store {
    /// Appends an entry, rotating the log first when it has grown past the limit.
    pub fn audit(&self, policy: &AuditPolicy, entry: &AuditEntry) -> Result<(), StoreError> {
        if !policy.enabled {
            return Ok(());
        }
        let dir = self.audit_dir();
        fs::create_dir_all(&dir).map_err(io_err("create folder", &dir))?;
        let lock = self.lock_path(&self.audit_lock_path())?;
        let log = self.audit_log_path();
        if fs::metadata(&log).map(|m| m.len()).unwrap_or(0) >= policy.max_bytes {
            for i in (1..policy.keep).rev() {
                let from = self.rotated_audit_path(i);
                if from.exists() {
                    fs::rename(&from, self.rotated_audit_path(i + 1))
                        .map_err(io_err("rotate", &from))?;
                }
            }
            if policy.keep > 0 {
                fs::rename(&log, self.rotated_audit_path(1)).map_err(io_err("rotate", &log))?;
            } else {
                fs::remove_file(&log).map_err(io_err("rotate", &log))?;
            }
        }
        let mut line = serde_json::to_vec(entry).map_err(|source| StoreError::Corrupt {
            path: log.clone(),
            source,
        })?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log)
            .map_err(io_err("open", &log))?;
        f.write_all(&line).map_err(io_err("append to", &log))?;
        drop(lock);
        Ok(())
    }

    /// The entries of the current log file, oldest first.
    pub fn read_audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let log = self.audit_log_path();
        let text = match fs::read_to_string(&log) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: log,
                    source: e,
                })
            }
        };
        text.lines()
            .map(|l| {
                serde_json::from_str(l).map_err(|source| StoreError::Corrupt {
                    path: log.clone(),
                    source,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let policy = AuditPolicy {
            enabled: true,
            max_bytes: 200,
            keep: 2,
        };
        for i in 0..20 {
            let e = AuditEntry {
                time: Timestamp::now(),
                actor: "test".into(),
                client: None,
                user: Some("u1".into()),
                action: "enable".into(),
                resource: format!("server/s{i}"),
                result: "ok".into(),
                count: None,
                detail: None,
            };
            store.audit(&policy, &e).unwrap();
        }
        let names: Vec<String> = {
            let mut v: Vec<String> = fs::read_dir(dir.path().join("audit"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            v.sort();
            v
        };
        assert_eq!(names, ["audit.log", "audit.log.1", "audit.log.2"]);
        let last = store.read_audit().unwrap();
        assert_eq!(last.last().unwrap().resource, "server/s19");
        assert!(
            fs::metadata(dir.path().join("audit/audit.log"))
                .unwrap()
                .len()
                < 400
        );
    }

    #[test]
    fn a_disabled_log_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let policy = AuditPolicy {
            enabled: false,
            max_bytes: 200,
            keep: 2,
        };
        let e = AuditEntry {
            time: Timestamp::now(),
            actor: "t".into(),
            client: None,
            user: None,
            action: "a".into(),
            resource: "r".into(),
            result: "ok".into(),
            count: None,
            detail: None,
        };
        store.audit(&policy, &e).unwrap();
        assert!(!dir.path().join("audit/audit.log").exists());
    }
}
