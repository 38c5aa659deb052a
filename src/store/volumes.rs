//! What containers see of the host: users' bind-mounted folders under the data folder,
//! and secret files in a tmpfs folder outside it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::owner::Owner;
use super::{io_err, Store, StoreError};
use crate::ids::UserId;
use crate::plan::UserPaths;
use crate::secrets::SecretValue;

impl Store {
    /// Host folders behind a user's `{USER_DATA}`, `{USER_CACHE}` and `{USER_CONFIG}`:
    /// apart from the portal's own records, so a container never sees them.
    pub fn user_paths(&self, id: &UserId) -> UserPaths {
        let base = self.user_volumes_dir(id);
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
        let tree = self.volumes_dir();
        let owner = Owner::parse(owner);
        for dir in dirs {
            let path = PathBuf::from(dir);
            if !path.starts_with(&tree) {
                continue;
            }
            fs::create_dir_all(&path).map_err(io_err("create folder", &path))?;
            owner.chown(&path);
        }
        Ok(())
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
        let owner = Owner::parse(owner);
        for (name, value) in files {
            let path = dir.join(name);
            // Not the atomic writer: these files live on a tmpfs that a crash empties
            // anyway, and a temporary copy would be one more place a value sits.
            let _ = fs::remove_file(&path);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o400)
                .open(&path)
                .map_err(io_err("create", &path))?;
            f.write_all(value.expose().as_bytes())
                .map_err(io_err("write", &path))?;
            // Without the right to chown, a root-run container still reads it; others cannot.
            owner.chown(&path);
        }
        owner.chown(dir);
        Ok(())
    }

    pub fn remove_secret_files(&self, dir: &Path) -> Result<(), StoreError> {
        self.remove_path(dir).map(drop)
    }

    /// Sets a container's secret files aside (moved, not copied: still one place per
    /// value) while its replacement is tried, so that the old container, should it run
    /// again, mounts what it was started with. Returns where they went, if there were any.
    pub fn stash_secret_files(&self, dir: &Path) -> Result<Option<PathBuf>, StoreError> {
        let stash = stash_of(dir);
        self.remove_path(&stash)?;
        match fs::rename(dir, &stash) {
            Ok(()) => Ok(Some(stash)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("set aside", dir)(e)),
        }
    }

    /// Puts files set aside by `stash_secret_files` back in place of the replacement's
    /// (none set aside: the old container had none, and now has none again).
    pub fn restore_secret_files(&self, dir: &Path, stash: Option<&Path>) -> Result<(), StoreError> {
        self.remove_path(dir)?;
        match stash {
            Some(stash) => fs::rename(stash, dir).map_err(io_err("put back", dir)),
            None => Ok(()),
        }
    }
}

/// Beside the container's own folder: a server id holds no `.`, so no server's folder.
fn stash_of(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".prev");
    dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stashed_secret_files_come_back_in_place_of_the_replacements() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("data")).unwrap();
        let dir = tmp.path().join("shm/u1/web");
        let old = SecretValue::new("old-value".into()).unwrap();
        store
            .write_secret_files(&dir, &[("TOKEN".into(), &old)], "")
            .unwrap();

        let stash = store.stash_secret_files(&dir).unwrap();
        assert!(!dir.exists(), "the replacement starts from an empty folder");
        let new = SecretValue::new("new-value".into()).unwrap();
        store
            .write_secret_files(&dir, &[("OTHER".into(), &new)], "")
            .unwrap();
        store.restore_secret_files(&dir, stash.as_deref()).unwrap();

        assert_eq!(fs::read_to_string(dir.join("TOKEN")).unwrap(), "old-value");
        assert!(!dir.join("OTHER").exists());
        assert!(!stash.unwrap().exists(), "no second copy is left behind");
    }

    #[test]
    fn a_container_without_secret_files_gets_none_back() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("data")).unwrap();
        let dir = tmp.path().join("shm/u1/web");
        assert_eq!(store.stash_secret_files(&dir).unwrap(), None);
        let new = SecretValue::new("new-value".into()).unwrap();
        store
            .write_secret_files(&dir, &[("OTHER".into(), &new)], "")
            .unwrap();
        store.restore_secret_files(&dir, None).unwrap();
        assert!(!dir.exists());
    }
}
