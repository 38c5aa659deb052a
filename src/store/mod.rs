//! The data folder, and the only code that writes it. Layout (after seed 004):
//!
//! ```text
//! <data>/.lock                                 advisory lock held by every command
//! <data>/catalogs/base/<name>/r<N>.json        every uploaded revision of a base catalog
//! <data>/catalogs/base/<name>/current          the revision in force
//! <data>/catalogs/overlays/<name>.json         overlays
//! <data>/users/<id>/user.json                  roles and organization
//! <data>/users/<id>/custom-servers.json        the user's own server definitions
//! <data>/cache/merged-<id>.json                merged catalog cache, never the source of truth
//! ```
//!
//! Every write goes to a temporary file in the same folder, is fsynced, renamed over the
//! target and the folder fsynced, so a crash leaves either the old or the new file.

mod audit;
mod records;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use audit::{AuditEntry, AuditPolicy};
pub use records::{
    ContainerHealth, DaemonState, EnabledServer, QuotaOverride, StoredCatalog, StoredCustom,
    StoredEnabled, StoredOverlay, StoredSecrets, StoredTokens, StoredUser, TokenRecord, TokenRole,
};

use crate::alloc::Allocations;
use crate::ids::{CatalogName, ServerId, UserId};
use crate::plan::UserPaths;
use crate::secrets::{SecretKey, SecretValue};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} is damaged ({source}); restore it from a backup or remove it")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A file's bytes and their SHA-256, so callers can tell what changed without parsing.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub value: T,
    pub sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Holds the data folder's advisory lock until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a temporary file beside `path` (created with `mode`), fsyncs it,
/// renames it over `path` and fsyncs the folder.
fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("replace", path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync folder", dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

impl Store {
    /// Opens (and creates, if needed) the data folder. The root is made absolute, since
    /// users' folders under it are bind-mounted into containers.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(io_err("create folder", root))?;
        let root = root.canonicalize().map_err(io_err("resolve", root))?;
        let store = Self { root };
        for dir in [
            "catalogs/base",
            "catalogs/overlays",
            "users",
            "cache",
            "state",
            "locks",
            "volumes",
        ] {
            let path = store.root.join(dir);
            fs::create_dir_all(&path).map_err(io_err("create folder", &path))?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the exclusive advisory lock; blocks while another portalctl holds it.
    pub fn lock(&self) -> Result<Lock, StoreError> {
        self.lock_file(&self.root.join(".lock"))
    }

    /// Serialises every change to one user's server (enable, disable, restart), across
    /// processes, while the data folder's own lock stays free for everyone else.
    pub fn pair_lock(&self, user: &UserId, server: &ServerId) -> Result<Lock, StoreError> {
        let dir = self.root.join("locks").join(user.as_str());
        fs::create_dir_all(&dir).map_err(io_err("create folder", &dir))?;
        self.lock_file(&dir.join(format!("{server}.lock")))
    }

    /// Serialises the making and removal of one user's network across processes.
    pub fn network_lock(&self, user: &UserId) -> Result<Lock, StoreError> {
        let dir = self.root.join("locks").join(user.as_str());
        fs::create_dir_all(&dir).map_err(io_err("create folder", &dir))?;
        // Server ids cannot start with '.', so this never meets a pair lock.
        self.lock_file(&dir.join(".network.lock"))
    }

    pub(crate) fn lock_path(&self, path: &Path) -> Result<Lock, StoreError> {
        self.lock_file(path)
    }

    fn lock_file(&self, path: &Path) -> Result<Lock, StoreError> {
        let path = path.to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open lock file", &path))?;
        file.lock().map_err(io_err("lock", &path))?;
        Ok(Lock { _file: file })
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomic_mode(path, bytes, 0o644)
    }

    fn write_atomic_private(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomic_mode(path, bytes, 0o600)
    }

    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), StoreError> {
        self.write_json_as(path, value, true)
    }

    fn write_json_as<T: Serialize>(
        &self,
        path: &Path,
        value: &T,
        pretty: bool,
    ) -> Result<(), StoreError> {
        let encoded = if pretty {
            serde_json::to_vec_pretty(value)
        } else {
            serde_json::to_vec(value)
        };
        let mut bytes = encoded.map_err(|source| StoreError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
        bytes.push(b'\n');
        self.write_atomic(path, &bytes)
    }

    fn read_json<T: DeserializeOwned>(&self, path: &Path) -> Result<Option<Loaded<T>>, StoreError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        };
        let value = serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Some(Loaded {
            value,
            sha256: sha256_hex(&bytes),
        }))
    }

    fn remove_path(&self, path: &Path) -> Result<bool, StoreError> {
        let result = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::Io {
                action: "remove",
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// Names of the entries of `dir` that parse as `T`, sorted; other entries are skipped.
    fn names<T>(
        &self,
        dir: &Path,
        strip: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Ord,
    {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::Io {
                    action: "list",
                    path: dir.to_path_buf(),
                    source: e,
                })
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list", dir))?;
            if let Some(name) = entry.file_name().to_str() {
                if let Some(stem) = name.strip_suffix(strip) {
                    if let Some(t) = parse(stem) {
                        out.push(t);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    // Base catalogs.

    fn base_dir(&self, name: &CatalogName) -> PathBuf {
        self.root.join("catalogs/base").join(name.as_str())
    }

    pub fn base_names(&self) -> Result<Vec<CatalogName>, StoreError> {
        let dir = self.root.join("catalogs/base");
        let names = self.names(&dir, "", |s| CatalogName::parse(s).ok())?;
        Ok(names
            .into_iter()
            .filter(|n| self.base_dir(n).join("current").exists())
            .collect())
    }

    pub fn base_revisions(&self, name: &CatalogName) -> Result<Vec<u32>, StoreError> {
        self.names(&self.base_dir(name), ".json", |s| {
            s.strip_prefix('r')?.parse().ok()
        })
    }

    pub fn current_revision(&self, name: &CatalogName) -> Result<Option<u32>, StoreError> {
        let path = self.base_dir(name).join("current");
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| StoreError::Io {
                action: "read",
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, "not a revision number"),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io {
                action: "read",
                path,
                source: e,
            }),
        }
    }

    pub fn read_base(
        &self,
        name: &CatalogName,
        revision: u32,
    ) -> Result<Option<Loaded<StoredCatalog>>, StoreError> {
        self.read_json(&self.base_dir(name).join(format!("r{revision:06}.json")))
    }

    /// Stores a new revision and makes it current (the revision file first, then the pointer).
    pub fn write_base(&self, name: &CatalogName, record: &StoredCatalog) -> Result<(), StoreError> {
        let dir = self.base_dir(name);
        self.write_json(&dir.join(format!("r{:06}.json", record.revision)), record)?;
        self.set_current(name, record.revision)
    }

    pub fn set_current(&self, name: &CatalogName, revision: u32) -> Result<(), StoreError> {
        self.write_atomic(
            &self.base_dir(name).join("current"),
            format!("{revision}\n").as_bytes(),
        )
    }

    pub fn remove_base(&self, name: &CatalogName) -> Result<bool, StoreError> {
        self.remove_path(&self.base_dir(name))
    }

    // Overlays.

    fn overlay_path(&self, name: &CatalogName) -> PathBuf {
        self.root
            .join("catalogs/overlays")
            .join(format!("{name}.json"))
    }

    pub fn overlay_names(&self) -> Result<Vec<CatalogName>, StoreError> {
        self.names(&self.root.join("catalogs/overlays"), ".json", |s| {
            CatalogName::parse(s).ok()
        })
    }

    pub fn read_overlay(
        &self,
        name: &CatalogName,
    ) -> Result<Option<Loaded<StoredOverlay>>, StoreError> {
        self.read_json(&self.overlay_path(name))
    }

    pub fn write_overlay(
        &self,
        name: &CatalogName,
        record: &StoredOverlay,
    ) -> Result<(), StoreError> {
        self.write_json(&self.overlay_path(name), record)
    }

    pub fn remove_overlay(&self, name: &CatalogName) -> Result<bool, StoreError> {
        self.remove_path(&self.overlay_path(name))
    }

    // Users.

    fn user_dir(&self, id: &UserId) -> PathBuf {
        self.root.join("users").join(id.as_str())
    }

    pub fn user_ids(&self) -> Result<Vec<UserId>, StoreError> {
        let ids = self.names(&self.root.join("users"), "", |s| UserId::parse(s).ok())?;
        Ok(ids
            .into_iter()
            .filter(|u| self.user_dir(u).join("user.json").exists())
            .collect())
    }

    pub fn read_user(&self, id: &UserId) -> Result<Option<Loaded<StoredUser>>, StoreError> {
        self.read_json(&self.user_dir(id).join("user.json"))
    }

    pub fn write_user(&self, record: &StoredUser) -> Result<(), StoreError> {
        self.write_json(&self.user_dir(&record.profile.id).join("user.json"), record)
    }

    /// Removes the user's folder (profile and custom servers) and cached catalog.
    pub fn remove_user(&self, id: &UserId) -> Result<bool, StoreError> {
        self.remove_path(&self.cache_path(id))?;
        // The user's lock files stay: another process may hold one, and a lock on an
        // unlinked file would no longer keep out the next process that opens the path.
        self.remove_path(&self.user_dir(id))
    }

    pub fn read_custom(&self, id: &UserId) -> Result<Option<Loaded<StoredCustom>>, StoreError> {
        self.read_json(&self.user_dir(id).join("custom-servers.json"))
    }

    pub fn write_custom(&self, id: &UserId, record: &StoredCustom) -> Result<(), StoreError> {
        self.write_json(&self.user_dir(id).join("custom-servers.json"), record)
    }

    // Desired state and allocations.

    pub fn read_enabled(&self, id: &UserId) -> Result<StoredEnabled, StoreError> {
        Ok(self
            .read_json(&self.user_dir(id).join("enabled.json"))?
            .map(|l| l.value)
            .unwrap_or_default())
    }

    pub fn write_enabled(&self, id: &UserId, record: &StoredEnabled) -> Result<(), StoreError> {
        self.write_json(&self.user_dir(id).join("enabled.json"), record)
    }

    /// The allocations, or `None` when the state file is missing (rebuild it from labels).
    pub fn read_allocations(&self) -> Result<Option<Allocations>, StoreError> {
        Ok(self
            .read_json(&self.root.join("state/allocations.json"))?
            .map(|l| l.value))
    }

    pub fn write_allocations(&self, a: &Allocations) -> Result<(), StoreError> {
        self.write_json(&self.root.join("state/allocations.json"), a)
    }

    pub fn read_tokens(&self) -> Result<StoredTokens, StoreError> {
        Ok(self
            .read_json(&self.root.join("tokens.json"))?
            .map(|l| l.value)
            .unwrap_or_default())
    }

    /// Writes the token hashes, readable by the portal's own user only.
    pub fn write_tokens(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        let path = self.root.join("tokens.json");
        let mut bytes =
            serde_json::to_vec_pretty(tokens).map_err(|source| StoreError::Corrupt {
                path: path.clone(),
                source,
            })?;
        bytes.push(b'\n');
        self.write_atomic_private(&path, &bytes)
    }

    /// What the daemon last wrote about containers' health (empty when it never ran).
    pub fn read_daemon_state(&self) -> Result<DaemonState, StoreError> {
        Ok(self
            .read_json(&self.root.join("state/daemon.json"))?
            .map(|l| l.value)
            .unwrap_or_default())
    }

    pub fn write_daemon_state(&self, state: &DaemonState) -> Result<(), StoreError> {
        self.write_json(&self.root.join("state/daemon.json"), state)
    }

    /// Host folders behind a user's `{USER_DATA}`, `{USER_CACHE}` and `{USER_CONFIG}`:
    /// apart from the portal's own records, so a container never sees them.
    pub fn user_paths(&self, id: &UserId) -> UserPaths {
        let base = self.root.join("volumes").join(id.as_str());
        let at = |d: &str| base.join(d).display().to_string();
        UserPaths {
            data: at("data"),
            cache: at("cache"),
            config: at("config"),
        }
    }

    /// Creates the host folders a container mounts, owned by its numeric `uid[:gid]` when
    /// the portal may change owners. Only folders under the users' volume tree are made.
    pub fn ensure_volume_dirs(&self, dirs: &[String], owner: &str) -> Result<(), StoreError> {
        let tree = self.root.join("volumes");
        let mut ids = owner.split(':').map(|p| p.parse::<u32>().ok());
        let (uid, gid) = (ids.next().flatten(), ids.next().flatten());
        for dir in dirs {
            let path = PathBuf::from(dir);
            if !path.starts_with(&tree) {
                continue;
            }
            fs::create_dir_all(&path).map_err(io_err("create folder", &path))?;
            if uid.is_some() {
                // Without the right to chown (a portal not run as root) the folder keeps its owner.
                let _ = std::os::unix::fs::chown(&path, uid, gid.or(uid));
            }
        }
        Ok(())
    }

    // Secrets.

    pub fn read_secrets(&self, id: &UserId) -> Result<StoredSecrets, StoreError> {
        Ok(self
            .read_json(&self.user_dir(id).join("secrets.json"))?
            .map(|l| l.value)
            .unwrap_or_default())
    }

    /// Writes a user's sealed secrets, readable by the portal's own user only.
    pub fn write_secrets(&self, id: &UserId, record: &StoredSecrets) -> Result<(), StoreError> {
        let path = self.user_dir(id).join("secrets.json");
        let mut bytes =
            serde_json::to_vec_pretty(record).map_err(|source| StoreError::Corrupt {
                path: path.clone(),
                source,
            })?;
        bytes.push(b'\n');
        self.write_atomic_private(&path, &bytes)
    }

    /// The key in `path`, made (random, mode 0600) on first use.
    pub fn load_or_create_key(&self, path: &Path) -> Result<SecretKey, StoreError> {
        let bad_key = |e: crate::secrets::SecretError| StoreError::Io {
            action: "use the secret key in",
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
        };
        match fs::read_to_string(path) {
            Ok(text) => return SecretKey::parse(&text).map_err(bad_key),
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(StoreError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
            Err(_) => {}
        }
        let key = SecretKey::generate();
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
        // Written in full to a temporary file, then linked into place: the link fails if
        // another command made the key first, and a reader never sees a half-written key.
        let tmp = dir.join(format!(
            ".secret-key.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err("create", &tmp))?;
            f.write_all(key.to_base64().as_bytes())
                .map_err(io_err("write", &tmp))?;
            f.sync_all().map_err(io_err("sync", &tmp))
        })();
        let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(StoreError::Io {
                action: "create",
                path: path.to_path_buf(),
                source: e,
            }),
        });
        let _ = fs::remove_file(&tmp);
        if linked? {
            Ok(key)
        } else {
            let text = fs::read_to_string(path).map_err(io_err("read", path))?;
            SecretKey::parse(&text).map_err(bad_key)
        }
    }

    /// Whether any user has a sealed secret (a missing key file is then an error, not a
    /// reason to make a new key).
    pub fn any_secrets(&self) -> Result<bool, StoreError> {
        for id in self.user_ids()? {
            if !self.read_secrets(&id)?.secrets.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Replaces a key file (mode 0600), as the last step of a key rotation.
    pub fn write_key_file(&self, path: &Path, key: &SecretKey) -> Result<(), StoreError> {
        write_atomic_mode(path, key.to_base64().as_bytes(), 0o600)
    }

    /// Writes secret files for one container into `dir` (meant to be on a tmpfs, so values
    /// never reach a disk), each mode 0400 and owned by the container's numeric user.
    pub fn write_secret_files(
        &self,
        dir: &Path,
        files: &[(String, &SecretValue)],
        owner: &str,
    ) -> Result<(), StoreError> {
        fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err("protect", dir))?;
        let mut ids = owner.split(':').map(|p| p.parse::<u32>().ok());
        let (uid, gid) = (ids.next().flatten(), ids.next().flatten());
        for (name, value) in files {
            let path = dir.join(name);
            let _ = fs::remove_file(&path);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o400)
                .open(&path)
                .map_err(io_err("create", &path))?;
            f.write_all(value.expose().as_bytes())
                .map_err(io_err("write", &path))?;
            if uid.is_some() {
                // Without the right to chown, a root-run container still reads it; others cannot.
                let _ = std::os::unix::fs::chown(&path, uid, gid.or(uid));
            }
        }
        if uid.is_some() {
            let _ = std::os::unix::fs::chown(dir, uid, gid.or(uid));
        }
        Ok(())
    }

    pub fn remove_secret_files(&self, dir: &Path) -> Result<(), StoreError> {
        self.remove_path(dir).map(drop)
    }

    // Cache.

    fn cache_path(&self, id: &UserId) -> PathBuf {
        self.root.join("cache").join(format!("merged-{id}.json"))
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
        self.write_json_as(&self.cache_path(id), value, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let name = CatalogName::parse("x").unwrap();
        store.set_current(&name, 3).unwrap();
        store.set_current(&name, 4).unwrap();
        assert_eq!(store.current_revision(&name).unwrap(), Some(4));
        let leftovers: Vec<_> = fs::read_dir(store.base_dir(&name))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["current"]);
    }

    #[test]
    fn a_damaged_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = UserId::parse("u1").unwrap();
        fs::create_dir_all(store.user_dir(&id)).unwrap();
        fs::write(store.user_dir(&id).join("user.json"), "{oops").unwrap();
        let err = store.read_user(&id).unwrap_err().to_string();
        assert!(err.contains("users/u1/user.json is damaged"), "{err}");
    }

    #[test]
    fn the_lock_is_exclusive_between_handles() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let held = store.lock().unwrap();
        let other = File::options()
            .write(true)
            .open(dir.path().join(".lock"))
            .unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
