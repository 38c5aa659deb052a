//! The secret key file: made on first use, replaced on rotation, always mode 0600 and
//! always through the atomic writer; and the copy of the new key a rotation keeps while
//! it runs.

use std::fs;
use std::io;
use std::path::Path;

use super::atomic::{self, PRIVATE};
use super::{io_err, Store, StoreError};
use crate::secrets::{SecretError, SecretKey};

impl Store {
    /// The key in `path`, made (random, mode 0600) on first use.
    pub fn load_or_create_key(&self, path: &Path) -> Result<SecretKey, StoreError> {
        if let Some(key) = read_key(path)? {
            return Ok(key);
        }
        let key = SecretKey::generate();
        // Two commands may both find no key: only the first one's file is kept, and the
        // other reads it back, so both seal with the same key.
        if atomic::write_new(path, key.to_base64().as_bytes(), PRIVATE)? {
            return Ok(key);
        }
        let text = fs::read_to_string(path).map_err(io_err("read", path))?;
        SecretKey::parse(&text).map_err(|e| bad_key(path, e))
    }

    /// Replaces a key file (mode 0600), as the last step of a key rotation.
    pub fn write_key_file(&self, path: &Path, key: &SecretKey) -> Result<(), StoreError> {
        atomic::write_replace(path, key.to_base64().as_bytes(), PRIVATE)
    }

    /// The key in `path`, or `None` when there is no such file; never makes one.
    pub fn read_key_file(&self, path: &Path) -> Result<Option<SecretKey>, StoreError> {
        read_key(path)
    }

    /// The key a rotation in progress re-seals under, kept in the data folder from before
    /// the first secret is re-sealed until the rotation is over, so that every secret
    /// opens whichever of the two keys it names.
    pub fn read_pending_key(&self) -> Result<Option<SecretKey>, StoreError> {
        read_key(&self.pending_key_path())
    }

    pub fn write_pending_key(&self, key: &SecretKey) -> Result<(), StoreError> {
        self.write_key_file(&self.pending_key_path(), key)
    }

    pub fn remove_pending_key(&self) -> Result<(), StoreError> {
        self.remove_path(&self.pending_key_path()).map(drop)
    }
}

/// The key in `path`, or `None` when there is no such file.
fn read_key(path: &Path) -> Result<Option<SecretKey>, StoreError> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = fs::metadata(path) {
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::Io {
                action: "use the secret key in",
                path: path.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "it is readable or writable by others (mode {mode:03o}); make it private with chmod 600"
                    ),
                ),
            });
        }
    }
    match fs::read_to_string(path) {
        Ok(text) => SecretKey::parse(&text)
            .map(Some)
            .map_err(|e| bad_key(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

fn bad_key(path: &Path, e: SecretError) -> StoreError {
    StoreError::Io {
        action: "use the secret key in",
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_is_made_once_private_and_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let path = dir.path().join("keys/secret.key");
        let made = store.load_or_create_key(&path).unwrap();
        let again = store.load_or_create_key(&path).unwrap();
        assert_eq!(made.id(), again.id());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path().join("keys"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["secret.key"]);
    }

    #[test]
    fn commands_racing_to_make_the_key_all_end_up_with_the_same_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let path = dir.path().join("secret.key");
        let ids: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| store.load_or_create_key(&path).unwrap().id().to_string()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
        let on_disk = store.load_or_create_key(&path).unwrap();
        assert_eq!(on_disk.id(), ids[0]);
    }

    #[test]
    fn a_rotated_key_replaces_the_file_and_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let path = dir.path().join("secret.key");
        let old = store.load_or_create_key(&path).unwrap();
        let new = SecretKey::generate();
        store.write_key_file(&path, &new).unwrap();
        let read = store.load_or_create_key(&path).unwrap();
        assert_eq!(read.id(), new.id());
        assert_ne!(read.id(), old.id());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_damaged_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let path = dir.path().join("secret.key");
        fs::write(&path, "garbage").unwrap();
        let err = store.load_or_create_key(&path).unwrap_err().to_string();
        assert!(err.contains("use the secret key in"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "garbage");
    }
}
