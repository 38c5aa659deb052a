//! What containers see of the host: users' bind-mounted folders under the data folder,
//! and secret files in a tmpfs folder outside it.
//!
//! Both are reached through `beneath`, never following a symbolic link: a user's folder
//! holds whatever their containers wrote. Each user's containers carry the user's own
//! group, and what the portal makes for them belongs to that group: folders `2770` (new
//! files keep the group), secret files `0440` owned by the portal, so one user's
//! containers (or a process escaped from them) cannot read another user's files.

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::beneath::{self, Ownership};
use super::{io_err, Store, StoreError};
use crate::ids::UserId;
use crate::plan::UserPaths;
use crate::secrets::SecretValue;

const VOLUMES: &str = "the users' volume folders";
const SECRETS: &str = "the secrets tmpfs (MCP_PORTAL_SECRETS_TMPFS)";
/// `TMPFS_MAGIC` of `statfs(2)`.
const TMPFS_MAGIC: u64 = 0x0102_1994;

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

    /// Whether the user's bind-mounted folders (`volumes/<id>`) are there: made on the
    /// first enable that mounts one, and possibly left by an earlier user of the id.
    pub fn user_data_left(&self, id: &UserId) -> bool {
        self.user_volumes_dir(id).exists()
    }

    /// `volumes/<id>`, as messages name it.
    pub fn user_data_name(&self, id: &UserId) -> String {
        self.relative(&self.user_volumes_dir(id).display().to_string())
    }

    /// Removes the user's bind-mounted folders; `false` when there were none.
    pub fn remove_user_data(&self, id: &UserId) -> Result<bool, StoreError> {
        self.remove_path(&self.user_volumes_dir(id))
    }

    /// Creates the host folders a container mounts, given to `owner`. Only folders under
    /// the users' volume tree are made; a symbolic link on the way is refused.
    pub fn ensure_volume_dirs(&self, dirs: &[String], owner: Ownership) -> Result<(), StoreError> {
        let tree = self.volumes_dir();
        for dir in dirs {
            let Ok(rel) = Path::new(dir).strip_prefix(&tree) else {
                continue;
            };
            let fd = beneath::open_dir(&tree, VOLUMES, rel, Some(Mode::from_raw_mode(0o755)))?;
            if owner.apply(&fd) {
                let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o2770));
            }
        }
        Ok(())
    }

    /// Checks, before a container is started again, that the folders it mounts are
    /// still folders: Docker resolves a bind's source at every start, and a container may
    /// have swapped a folder for a link since it was made.
    pub fn check_volume_dirs(&self, dirs: &[String]) -> Result<(), StoreError> {
        let tree = self.volumes_dir();
        for dir in dirs {
            if let Ok(rel) = Path::new(dir).strip_prefix(&tree) {
                beneath::check_dir(&tree, VOLUMES, rel)?;
            }
        }
        Ok(())
    }

    /// Opens the secrets tmpfs folder, making it if it is missing: it must be a folder
    /// (not a link) of the portal's own user, mode 0700 (tightened if it was looser), on
    /// a tmpfs, so values never reach a disk and no one else can plant files in it.
    pub fn secrets_tmpfs(&self, base: &Path) -> Result<std::os::fd::OwnedFd, StoreError> {
        match std::fs::symlink_metadata(base) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = base.parent() {
                    std::fs::create_dir_all(parent).map_err(io_err("create folder", parent))?;
                }
                match rustix::fs::mkdir(base, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io_err("create folder", base)(e.into())),
                }
            }
            Err(e) => return Err(io_err("inspect", base)(e)),
            Ok(_) => {}
        }
        let unsafe_base = |what| StoreError::UnsafeTmpfs {
            path: base.to_path_buf(),
            what,
        };
        let fd = rustix::fs::open(
            base,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
                unsafe_base("is not a folder (a symbolic link or a file)")
            }
            e => io_err("open", base)(e.into()),
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| io_err("inspect", base)(e.into()))?;
        if st.st_uid != rustix::process::geteuid().as_raw() {
            return Err(unsafe_base("belongs to another user"));
        }
        if st.st_mode & 0o077 != 0 {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700))
                .map_err(|e| io_err("protect", base)(e.into()))?;
        }
        let fs = rustix::fs::fstatfs(&fd).map_err(|e| io_err("inspect", base)(e.into()))?;
        #[allow(clippy::unnecessary_cast)] // the field's type differs between targets
        if fs.f_type as u64 != TMPFS_MAGIC {
            return Err(unsafe_base(
                "is not on a tmpfs, so secret files would reach a disk",
            ));
        }
        Ok(fd)
    }

    /// Writes secret files for one container into `dir` beneath the secrets tmpfs
    /// `base`: each owned by the portal with the user's group, mode 0440, in a folder
    /// only the portal can open (the container sees each file through its own bind).
    pub fn write_secret_files(
        &self,
        base: &Path,
        dir: &Path,
        files: &[(String, &SecretValue)],
        group: Option<u32>,
    ) -> Result<(), StoreError> {
        self.secrets_tmpfs(base)?;
        let rel = dir.strip_prefix(base).map_err(|_| StoreError::Unsafe {
            path: dir.to_path_buf(),
            under: SECRETS,
            what: "is not beneath it",
        })?;
        let dir = beneath::open_dir(base, SECRETS, rel, Some(Mode::from_raw_mode(0o700)))?;
        let at = |name: &str| base.join(rel).join(name);
        for (name, value) in files {
            // Not the atomic writer: these files live on a tmpfs that a crash empties
            // anyway, and a temporary copy would be one more place a value sits.
            match rustix::fs::unlinkat(&dir, name.as_str(), rustix::fs::AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(io_err("remove", &at(name))(e.into())),
            }
            let fd = rustix::fs::openat(
                &dir,
                name.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o400),
            )
            .map_err(|e| io_err("create", &at(name))(e.into()))?;
            let group_readable = Ownership {
                uid: None,
                gid: group,
            }
            .apply(fd.as_fd());
            if group_readable {
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o440))
                    .map_err(|e| io_err("protect", &at(name))(e.into()))?;
            }
            File::from(fd)
                .write_all(value.expose().as_bytes())
                .map_err(io_err("write", &at(name)))?;
        }
        Ok(())
    }

    pub fn remove_secret_files(&self, dir: &Path) -> Result<(), StoreError> {
        // `remove_dir_all` does not follow the symbolic links it meets.
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
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("data")).unwrap();
        (d, s)
    }

    /// A folder on the machine's tmpfs, removed afterwards.
    fn on_tmpfs() -> tempfile::TempDir {
        tempfile::tempdir_in("/dev/shm").unwrap()
    }

    #[test]
    fn the_secrets_base_is_made_private_and_a_loose_one_is_tightened() {
        let (_d, s) = store();
        let shm = on_tmpfs();
        let base = shm.path().join("portal");
        s.secrets_tmpfs(&base).unwrap();
        assert_eq!(std::fs::metadata(&base).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        s.secrets_tmpfs(&base).unwrap();
        assert_eq!(std::fs::metadata(&base).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_secrets_base_that_is_a_link_or_not_on_a_tmpfs_is_refused_naming_the_setting() {
        let (_d, s) = store();
        let shm = on_tmpfs();
        let real = shm.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = shm.path().join("link");
        symlink(&real, &link).unwrap();
        let e = s.secrets_tmpfs(&link).unwrap_err().to_string();
        assert!(
            e.contains("is not a folder (a symbolic link or a file)"),
            "{e}"
        );
        assert!(e.contains("set MCP_PORTAL_SECRETS_TMPFS"), "{e}");

        // The project's own build folder: a disk, as a data folder usually is.
        let disk = tempfile::tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).unwrap();
        let e = s
            .secrets_tmpfs(&disk.path().join("s"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is not on a tmpfs, so secret files would reach a disk"),
            "{e}"
        );
    }

    #[test]
    fn a_secrets_base_of_another_user_is_refused() {
        let (_d, s) = store();
        let shm = on_tmpfs();
        let base = shm.path().join("theirs");
        std::fs::create_dir(&base).unwrap();
        // The tests run as root in CI; elsewhere the chown is refused and so is this test.
        std::os::unix::fs::chown(&base, Some(65534), Some(65534)).unwrap();
        let e = s.secrets_tmpfs(&base).unwrap_err().to_string();
        assert!(e.contains("belongs to another user"), "{e}");
    }

    #[test]
    fn secret_files_are_written_through_no_link_and_belong_to_the_users_group() {
        let (_d, s) = store();
        let shm = on_tmpfs();
        let base = shm.path().join("portal");
        let value = SecretValue::new("v".to_string()).unwrap();
        let files = [("A".to_string(), &value)];
        let dir = base.join("i/u1/echo");
        s.write_secret_files(&base, &dir, &files, Some(200_007))
            .unwrap();
        let m = std::fs::metadata(dir.join("A")).unwrap();
        assert_eq!((m.gid(), m.mode() & 0o777), (200_007, 0o440));
        assert_eq!(std::fs::read_to_string(dir.join("A")).unwrap(), "v");
        // Written again (a restart) it is replaced, not appended to.
        s.write_secret_files(&base, &dir, &files, Some(200_007))
            .unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("A")).unwrap(), "v");

        // A link where a user's folder should be is refused, and nothing is written
        // through it.
        let elsewhere = on_tmpfs();
        std::fs::create_dir_all(base.join("i")).unwrap();
        symlink(elsewhere.path(), base.join("i/u2")).unwrap();
        let e = s
            .write_secret_files(&base, &base.join("i/u2/echo"), &files, Some(1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("i/u2 in the secrets tmpfs"), "{e}");
        assert!(std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none());
    }

    #[test]
    fn stashed_secret_files_come_back_in_place_of_the_replacements() {
        let (_d, store) = store();
        let shm = on_tmpfs();
        let base = shm.path().join("portal");
        let dir = base.join("i/u1/web");
        let old = SecretValue::new("old-value".into()).unwrap();
        store
            .write_secret_files(&base, &dir, &[("TOKEN".into(), &old)], None)
            .unwrap();

        let stash = store.stash_secret_files(&dir).unwrap();
        assert!(!dir.exists(), "the replacement starts from an empty folder");
        let new = SecretValue::new("new-value".into()).unwrap();
        store
            .write_secret_files(&base, &dir, &[("OTHER".into(), &new)], None)
            .unwrap();
        store.restore_secret_files(&dir, stash.as_deref()).unwrap();

        assert_eq!(
            std::fs::read_to_string(dir.join("TOKEN")).unwrap(),
            "old-value"
        );
        assert!(!dir.join("OTHER").exists());
        assert!(!stash.unwrap().exists(), "no second copy is left behind");
    }

    #[test]
    fn a_container_without_secret_files_gets_none_back() {
        let (_d, store) = store();
        let shm = on_tmpfs();
        let base = shm.path().join("portal");
        let dir = base.join("i/u1/web");
        assert_eq!(store.stash_secret_files(&dir).unwrap(), None);
        let new = SecretValue::new("new-value".into()).unwrap();
        store
            .write_secret_files(&base, &dir, &[("OTHER".into(), &new)], None)
            .unwrap();
        store.restore_secret_files(&dir, None).unwrap();
        assert!(!dir.exists());
    }
}
