//! Advisory locks: the data folder's own, and the finer ones that let commands on
//! different users' servers run side by side.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use super::{io_err, Store, StoreError};
use crate::ids::{ServerId, UserId};

/// Holds an advisory lock until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Store {
    /// Takes the exclusive advisory lock; blocks while another portalctl holds it.
    pub fn lock(&self) -> Result<Lock, StoreError> {
        lock_file(&self.data_lock_path())
    }

    /// Serialises every change to one user's server (enable, disable, restart), across
    /// processes, while the data folder's own lock stays free for everyone else.
    pub fn pair_lock(&self, user: &UserId, server: &ServerId) -> Result<Lock, StoreError> {
        self.make_user_locks_dir(user)?;
        lock_file(&self.pair_lock_path(user, server))
    }

    /// Serialises the making and removal of one user's network across processes.
    pub fn network_lock(&self, user: &UserId) -> Result<Lock, StoreError> {
        self.make_user_locks_dir(user)?;
        lock_file(&self.network_lock_path(user))
    }

    /// The daemon's lock, held for as long as it runs (the kernel lets go of it when the
    /// process dies, kill -9 included); `None` when another process holds it.
    pub fn daemon_lock(&self) -> Result<Option<Lock>, StoreError> {
        let path = self.daemon_lock_path();
        // `status` asks on every call: make the folder only the first time.
        let file = match open_lock_file(&path) {
            Ok(f) => f,
            Err(_) => {
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
                }
                open_lock_file(&path)?
            }
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(Lock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err("lock", &path)(e)),
        }
    }

    /// Whether a daemon runs on this data folder right now.
    pub fn daemon_running(&self) -> Result<bool, StoreError> {
        Ok(self.daemon_lock()?.is_none())
    }

    pub(crate) fn lock_path(&self, path: &Path) -> Result<Lock, StoreError> {
        lock_file(path)
    }

    fn make_user_locks_dir(&self, user: &UserId) -> Result<(), StoreError> {
        let dir = self.user_locks_dir(user);
        fs::create_dir_all(&dir).map_err(io_err("create folder", &dir))
    }
}

fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err("open lock file", path))
}

fn lock_file(path: &Path) -> Result<Lock, StoreError> {
    let file = open_lock_file(path)?;
    file.lock().map_err(io_err("lock", path))?;
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_daemon_lock_tells_whether_a_daemon_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.daemon_running().unwrap());
        let held = store.daemon_lock().unwrap().expect("free");
        assert!(store.daemon_running().unwrap());
        assert!(
            store.daemon_lock().unwrap().is_none(),
            "one daemon at a time"
        );
        drop(held);
        assert!(!store.daemon_running().unwrap());
    }
}
