//! Crash-safe writes: every file the store writes goes through here. The bytes go to a
//! temporary file beside the target, are fsynced, then moved into place and the folder
//! fsynced, so a crash leaves either the old or the new file, never half of one. Callers
//! that change records hold the data folder's advisory lock (`Store::lock`), so two
//! commands never interleave their read-modify-write cycles.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{io_err, StoreError};

/// Readable by everyone: records without secrets.
pub(super) const PUBLIC: u32 = 0o644;
/// Readable by the portal's own user only: keys, sealed secrets, token hashes.
pub(super) const PRIVATE: u32 = 0o600;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` (created with `mode`), replacing what was there.
pub(super) fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    with_temp(path, bytes, mode, |tmp| {
        fs::rename(tmp, path).map_err(io_err("replace", path))
    })
}

/// Writes `bytes` to `path` only if it does not exist yet; `false` when another process
/// made it first (its file is left as it is).
pub(super) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, StoreError> {
    let mut created = false;
    // A hard link fails when the target exists, where a rename would replace it.
    with_temp(path, bytes, mode, |tmp| match fs::hard_link(tmp, path) {
        Ok(()) => {
            created = true;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err("create", path)(e)),
    })?;
    Ok(created)
}

/// Writes and fsyncs a temporary file beside `path`, lets `place` move it into place,
/// fsyncs the folder, and removes the temporary file if it is still there.
fn with_temp(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    place: impl FnOnce(&Path) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
    let tmp = temp_path(dir, path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))?;
        place(&tmp)?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync folder", dir))
    })();
    // After a rename there is nothing left to remove; after a link the temporary name is
    // a second name of the same file, and after a failure it is debris.
    let _ = fs::remove_file(&tmp);
    result
}

/// A name no other writer uses: per process, per write.
fn temp_path(dir: &Path, target: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let file_name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file");
    dir.join(format!(".{file_name}.tmp-{}-{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_is_not_replaced_when_another_writer_made_it_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        assert!(write_new(&path, b"first", PRIVATE).unwrap());
        assert!(!write_new(&path, b"second", PRIVATE).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(entries(dir.path()), ["key"]);
    }

    #[test]
    fn files_get_the_mode_they_were_written_with() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("p");
        write_replace(&private, b"x", PRIVATE).unwrap();
        write_replace(&private, b"y", PRIVATE).unwrap();
        let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write_new(&dir.path().join("n"), b"z", PRIVATE).unwrap());
        let mode = fs::metadata(dir.path().join("n"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(entries(dir.path()), ["n", "p"]);
    }
}
