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

    pub(crate) fn lock_path(&self, path: &Path) -> Result<Lock, StoreError> {
        lock_file(path)
    }

    fn make_user_locks_dir(&self, user: &UserId) -> Result<(), StoreError> {
        let dir = self.user_locks_dir(user);
        fs::create_dir_all(&dir).map_err(io_err("create folder", &dir))
    }
}

fn lock_file(path: &Path) -> Result<Lock, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err("open lock file", path))?;
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
}
