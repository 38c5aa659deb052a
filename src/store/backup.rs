//! Backups of the portal's records before a change that touches many of them (a
//! migration): the catalogs, the users' records and the allocations, copied as they are
//! into `backups/<time>-<what>/`. Users' folders (`volumes/`) and the secret key stay
//! where they are: the first is the users' data, not the portal's records, and a second
//! copy of the key would be one more place to guard.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{io_err, Store, StoreError};

/// What a backup holds, relative to the data folder.
const RECORDS: [&str; 4] = ["catalogs", "users", "tokens.json", "state/allocations.json"];

impl Store {
    /// Copies the records into a new `backups/<stamp>-<what>/` and returns that folder,
    /// relative to the data folder. The caller holds the data folder's lock, so the copy
    /// is of one moment.
    pub fn backup(&self, stamp: &str, what: &str) -> Result<PathBuf, StoreError> {
        let relative = PathBuf::from("backups").join(format!("{stamp}-{what}"));
        let target = self.root.join(&relative);
        private_dir(&self.root.join("backups"))?;
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&target)
            .map_err(io_err("create folder", &target))?;
        for record in RECORDS {
            copy(&self.root.join(record), &target.join(record))?;
        }
        Ok(relative)
    }
}

fn private_dir(path: &Path) -> Result<(), StoreError> {
    match fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(path)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(io_err("create folder", path)(e)),
    }
}

/// Copies a file or a folder's files and folders, each copy readable by the portal's own
/// user only (the records hold sealed secrets, token hashes and `--env` values). Links
/// are not followed: the store writes none, so one found there is not the portal's.
fn copy(from: &Path, to: &Path) -> Result<(), StoreError> {
    let meta = match fs::symlink_metadata(from) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("read", from)(e)),
    };
    if let Some(parent) = to.parent() {
        private_dir(parent)?;
    }
    if meta.is_dir() {
        private_dir(to)?;
        let entries = fs::read_dir(from).map_err(io_err("list", from))?;
        for entry in entries {
            let entry = entry.map_err(io_err("list", from))?;
            copy(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        fs::copy(from, to).map_err(io_err("copy", from))?;
        fs::set_permissions(
            to,
            fs::Permissions::from_mode(meta.permissions().mode() & 0o700),
        )
        .map_err(io_err("set the mode of", to))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_holds_the_records_and_keeps_private_files_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let root = store.root().to_path_buf();
        fs::create_dir_all(root.join("users/u1")).unwrap();
        fs::write(root.join("users/u1/user.json"), "{}").unwrap();
        fs::write(root.join("users/u1/secrets.json"), "sealed").unwrap();
        fs::set_permissions(
            root.join("users/u1/secrets.json"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        fs::create_dir_all(root.join("volumes/u1/data")).unwrap();
        fs::write(root.join("volumes/u1/data/big"), "user data").unwrap();

        let made = store.backup("20261206T220000Z", "migration").unwrap();
        assert_eq!(made, Path::new("backups/20261206T220000Z-migration"));
        let b = root.join(&made);
        assert_eq!(
            fs::read_to_string(b.join("users/u1/user.json")).unwrap(),
            "{}"
        );
        let mode = fs::metadata(b.join("users/u1/secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(b.join("catalogs/base").is_dir());
        assert!(!b.join("volumes").exists(), "users' data is not copied");
        assert!(
            store.backup("20261206T220000Z", "migration").is_err(),
            "a backup never overwrites another"
        );
    }
}
