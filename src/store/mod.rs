//! The data folder, and the only code that writes it. Where each file lives is in
//! `layout`; how it is written (atomically, fsynced) in `atomic`; the records themselves
//! in `records`, with one module per group of them.

mod atomic;
mod audit;
mod backup;
mod beneath;
mod catalogs;
mod files;
mod idle;
mod instance;
mod key;
mod layout;
mod lock;
mod records;
mod state;
mod users;
mod volumes;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use audit::{AuditEntry, AuditPolicy};
pub use beneath::Ownership;
pub use idle::{IdleMark, IdleReason, StoredIdle};
pub use layout::default_key_file;
pub use lock::Lock;
pub use records::{
    ContainerHealth, DaemonState, EnabledServer, QuotaOverride, StoredCatalog, StoredCustom,
    StoredEnabled, StoredOverlay, StoredSecrets, StoredTokens, StoredTools, StoredUser,
    TokenRecord, TokenRole, TokenScope,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} holds {found:?}, not an instance id (1-64 letters, digits, '.', '_' or '-'); write into it the id this folder's containers carry (their label io.mcp-portal.instance)")]
    BadInstance { path: PathBuf, found: String },
    /// `path` is relative to the folder named by `under`, so an error shown to a user
    /// tells nothing of the host's layout.
    #[error("refusing {path} in {under}: it {what}; a path a container mounts must be folders only, so remove it or choose another path", path = path.display())]
    Unsafe {
        path: PathBuf,
        under: &'static str,
        what: &'static str,
    },
    #[error("refusing the secrets tmpfs {path}: it {what}; fix it or set MCP_PORTAL_SECRETS_TMPFS to a folder of the portal's own on a tmpfs, such as /dev/shm/mcp-portal", path = path.display())]
    UnsafeTmpfs { path: PathBuf, what: &'static str },
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

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// The token file as read last, with the stamp of the file it came from: every API
    /// and MCP request reads it, and it changes only by a rename (a new inode).
    tokens: std::sync::Arc<std::sync::Mutex<Option<(state::FileStamp, StoredTokens)>>>,
}

impl Store {
    /// Opens (and creates, if needed) the data folder. The root is made absolute, since
    /// users' folders under it are bind-mounted into containers.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(io_err("create folder", root))?;
        let root = root.canonicalize().map_err(io_err("resolve", root))?;
        let store = Self {
            root,
            tokens: Default::default(),
        };
        for dir in layout::FOLDERS {
            let path = store.root.join(dir);
            fs::create_dir_all(&path).map_err(io_err("create folder", &path))?;
        }
        Ok(store)
    }

    /// Makes the data folder private: the root and its folders 0700 (containers reach
    /// users' folders through bind mounts, which do not need the parents open), and each
    /// user's `enabled.json`, which holds `--env` values, 0600. Returns how many files an
    /// earlier version had left readable by others, to be said.
    pub fn tighten_modes(&self) -> usize {
        use std::os::unix::fs::PermissionsExt;
        let private = |path: &Path, mode: u32| -> bool {
            match fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_symlink() && m.permissions().mode() & 0o077 != 0 => {
                    fs::set_permissions(path, fs::Permissions::from_mode(mode)).is_ok()
                }
                _ => false,
            }
        };
        private(&self.root, 0o700);
        for dir in layout::FOLDERS {
            private(&self.root.join(dir), 0o700);
        }
        let Ok(users) = fs::read_dir(self.users_dir()) else {
            return 0;
        };
        users
            .flatten()
            .filter(|u| private(&u.path().join("enabled.json"), 0o600))
            .count()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `text` with every path inside the data folder shown relative to it, so a message
    /// meant for someone else than the host's admin (an API caller) never says where the
    /// folder is.
    pub fn relative(&self, text: &str) -> String {
        let root = format!("{}/", self.root.display());
        text.replace(&root, "")
    }

    /// What went wrong, with the path relative to the data folder and without the store's
    /// own advice: for messages that say what to do in their own terms.
    pub fn describe(&self, e: &StoreError) -> String {
        let shown = |p: &Path| {
            p.strip_prefix(&self.root)
                .unwrap_or(p)
                .display()
                .to_string()
        };
        match e {
            StoreError::Corrupt { path, source } => {
                format!("{} is damaged ({source})", shown(path))
            }
            StoreError::Io {
                action,
                path,
                source,
            } => format!("cannot {action} {}: {source}", shown(path)),
            other => self.relative(&other.to_string()),
        }
    }
}
