//! Where everything in the data folder lives: the one place that turns ids and names into
//! paths, so the on-disk layout can be read (and kept stable across versions) at a glance.
//!
//! ```text
//! <data>/.lock                               advisory lock held by every command that writes
//! <data>/instance                            the folder's instance id, labelling its Docker objects
//! <data>/catalogs/base/<name>/r<NNNNNN>.json every uploaded revision of a base catalog (normalized)
//! <data>/catalogs/base/<name>/current        the number of the revision in force
//! <data>/catalogs/overlays/<name>.json       one overlay, with its upload record
//! <data>/users/<id>/user.json                the user's roles, organization and quota overrides
//! <data>/users/<id>/custom-servers.json      the user's own server definitions
//! <data>/users/<id>/enabled.json             the servers the user enabled, with their settings
//! <data>/users/<id>/secrets.json             the user's sealed secrets (0600)
//! <data>/users/<id>/tools.json               the tools the user enabled per server (from a migration)
//! <data>/secret.key                          the secret key, unless set elsewhere (0600)
//! <data>/secret.key.next                     the new key while a key rotation runs (0600)
//! <data>/tokens.json                         API token hashes (0600)
//! <data>/state/allocations.json              port blocks and ports (rebuilt from labels if lost)
//! <data>/state/daemon.json                   the daemon's health, restart and error record
//! <data>/state/idle.json                     containers stopped on purpose (idle timeout, enable --lazy)
//! <data>/cache/merged-<id>.json              the user's merged catalog, never the source of truth
//! <data>/volumes/<id>/{data,cache,config}    what {USER_DATA}, {USER_CACHE}, {USER_CONFIG} mount
//! <data>/locks/<id>/<server>.lock            serialises changes to one user's server
//! <data>/locks/<id>/.network.lock            serialises making and removing a user's network
//! <data>/locks/.daemon.lock                   held by the running daemon (`portalctl serve`)
//! <data>/audit/audit.log                     the audit log, rotated to audit.log.1 .. audit.log.N
//! <data>/audit/.lock                         the audit log's own lock
//! <data>/backups/<time>-<what>/              the records copied before a migration (0700)
//! <tmpfs>/...                                secret files for containers (outside the data folder)
//! ```
//!
//! Temporary files (`.<name>.tmp-<pid>-<n>`) appear beside their target only while it is
//! being written.

use std::path::{Path, PathBuf};

use super::Store;
use crate::ids::{CatalogName, ServerId, UserId};

/// The folders `Store::open` makes, relative to the data folder.
pub(super) const FOLDERS: [&str; 7] = [
    "catalogs/base",
    "catalogs/overlays",
    "users",
    "cache",
    "state",
    "locks",
    "volumes",
];

/// The key file used when the key is given neither in the environment nor as a path.
pub fn default_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("secret.key")
}

impl Store {
    pub(super) fn data_lock_path(&self) -> PathBuf {
        self.root.join(".lock")
    }

    pub(super) fn bases_dir(&self) -> PathBuf {
        self.root.join("catalogs/base")
    }

    pub(super) fn base_dir(&self, name: &CatalogName) -> PathBuf {
        self.bases_dir().join(name.as_str())
    }

    pub(super) fn revision_path(&self, name: &CatalogName, revision: u32) -> PathBuf {
        self.base_dir(name).join(format!("r{revision:06}.json"))
    }

    pub(super) fn current_path(&self, name: &CatalogName) -> PathBuf {
        self.base_dir(name).join("current")
    }

    pub(super) fn overlays_dir(&self) -> PathBuf {
        self.root.join("catalogs/overlays")
    }

    pub(super) fn overlay_path(&self, name: &CatalogName) -> PathBuf {
        self.overlays_dir().join(format!("{name}.json"))
    }

    pub(super) fn users_dir(&self) -> PathBuf {
        self.root.join("users")
    }

    pub(super) fn user_dir(&self, id: &UserId) -> PathBuf {
        self.users_dir().join(id.as_str())
    }

    pub(super) fn user_path(&self, id: &UserId) -> PathBuf {
        self.user_dir(id).join("user.json")
    }

    pub(super) fn custom_path(&self, id: &UserId) -> PathBuf {
        self.user_dir(id).join("custom-servers.json")
    }

    pub(super) fn enabled_path(&self, id: &UserId) -> PathBuf {
        self.user_dir(id).join("enabled.json")
    }

    pub(super) fn secrets_path(&self, id: &UserId) -> PathBuf {
        self.user_dir(id).join("secrets.json")
    }

    pub(super) fn tools_path(&self, id: &UserId) -> PathBuf {
        self.user_dir(id).join("tools.json")
    }

    pub(super) fn pending_key_path(&self) -> PathBuf {
        self.root.join("secret.key.next")
    }

    pub(super) fn instance_path(&self) -> PathBuf {
        self.root.join("instance")
    }

    pub(super) fn tokens_path(&self) -> PathBuf {
        self.root.join("tokens.json")
    }

    pub(super) fn allocations_path(&self) -> PathBuf {
        self.root.join("state/allocations.json")
    }

    pub(super) fn daemon_state_path(&self) -> PathBuf {
        self.root.join("state/daemon.json")
    }

    pub(super) fn idle_path(&self) -> PathBuf {
        self.root.join("state/idle.json")
    }

    pub(super) fn cache_path(&self, id: &UserId) -> PathBuf {
        self.root.join("cache").join(format!("merged-{id}.json"))
    }

    pub(super) fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    pub(super) fn user_volumes_dir(&self, id: &UserId) -> PathBuf {
        self.volumes_dir().join(id.as_str())
    }

    pub(super) fn user_locks_dir(&self, id: &UserId) -> PathBuf {
        self.root.join("locks").join(id.as_str())
    }

    pub(super) fn pair_lock_path(&self, user: &UserId, server: &ServerId) -> PathBuf {
        self.user_locks_dir(user).join(format!("{server}.lock"))
    }

    pub(super) fn daemon_lock_path(&self) -> PathBuf {
        // User ids cannot start with '.', so this never meets a user's lock folder.
        self.root.join("locks").join(".daemon.lock")
    }

    pub(super) fn network_lock_path(&self, user: &UserId) -> PathBuf {
        // Server ids cannot start with '.', so this never meets a pair lock.
        self.user_locks_dir(user).join(".network.lock")
    }

    pub(super) fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }

    pub(super) fn audit_log_path(&self) -> PathBuf {
        self.audit_dir().join("audit.log")
    }

    /// The `n`th rotated log (1 is the newest).
    pub(super) fn rotated_audit_path(&self, n: u32) -> PathBuf {
        self.audit_dir().join(format!("audit.log.{n}"))
    }

    pub(super) fn audit_lock_path(&self) -> PathBuf {
        self.audit_dir().join(".lock")
    }
}
