//! Folders beneath a root that users' containers can write into, reached without ever
//! following a symbolic link.
//!
//! A container may plant `a/link -> /` in its own `{USER_DATA}`; a path checked as text
//! and then given to `create_dir_all` or `chown` would act on the host's `/`. Here a path
//! is walked one component at a time through open descriptors (`openat` with
//! `O_NOFOLLOW|O_DIRECTORY`, the portable form of `openat2`'s
//! `RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS`), folders are made with `mkdirat` in the folder
//! already open, and owners and modes are changed through the final descriptor.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, CWD};

use super::StoreError;

/// Who gets a folder or file the store makes for a container: the numeric user, when
/// known, and the user's own group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ownership {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Ownership {
    /// A container's `uid[:gid]` (numeric only: a named user's numbers only the image
    /// knows) with the user's own group in place of the container's.
    pub fn of(user: &str, gid: Option<u32>) -> Self {
        let uid = user.split(':').next().and_then(|u| u.parse().ok());
        Self { uid, gid }
    }

    /// Whether the owner was changed. Best effort: a portal not run as root may not
    /// change owners, and keeps its own.
    pub(super) fn apply(&self, fd: impl AsFd) -> bool {
        if self.uid.is_none() && self.gid.is_none() {
            return false;
        }
        rustix::fs::fchown(
            fd,
            self.uid.map(rustix::fs::Uid::from_raw),
            self.gid.map(rustix::fs::Gid::from_raw),
        )
        .is_ok()
    }
}

fn flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens the folder `rel` beneath the folder `root`, making missing folders (mode `mode`)
/// when `create` is set. `root` itself is the portal's and may be reached any way; a
/// symbolic link, a `..` or a non-folder anywhere below it is refused.
pub(super) fn open_dir(
    root: &Path,
    under: &'static str,
    rel: &Path,
    create: Option<Mode>,
) -> Result<OwnedFd, StoreError> {
    let refused = |at: &Path, what: &'static str| StoreError::Unsafe {
        path: at.to_path_buf(),
        under,
        what,
    };
    let mut dir = rustix::fs::openat(
        CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_at("open", root, e))?;
    let mut walked = PathBuf::new();
    for c in rel.components() {
        let name = match c {
            Component::Normal(n) => n,
            Component::CurDir => continue,
            _ => return Err(refused(rel, "leaves its folder (`..` or an absolute path)")),
        };
        walked.push(name);
        let next = match (
            rustix::fs::openat(&dir, name, flags(), Mode::empty()),
            create,
        ) {
            (Err(rustix::io::Errno::NOENT), Some(mode)) => {
                match rustix::fs::mkdirat(&dir, name, mode) {
                    // Made meanwhile by someone else: opened below like any other.
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io_at("create folder", &root.join(&walked), e)),
                }
                rustix::fs::openat(&dir, name, flags(), Mode::empty())
            }
            (other, _) => other,
        };
        dir = match next {
            Ok(fd) => fd,
            Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                return Err(match kind(&dir, name) {
                    Some(FileType::Symlink) => refused(&walked, "is a symbolic link"),
                    Some(_) => refused(&walked, "is not a folder"),
                    None => io_at("open", &root.join(&walked), e),
                })
            }
            Err(e) => return Err(io_at("open", &root.join(&walked), e)),
        };
    }
    Ok(dir)
}

/// Whether `rel` beneath `root` exists as folders only: `Ok(false)` when part of it is
/// missing, an error when a symbolic link or a file stands in its way.
pub(super) fn check_dir(root: &Path, under: &'static str, rel: &Path) -> Result<bool, StoreError> {
    match open_dir(root, under, rel, None) {
        Ok(_) => Ok(true),
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn kind(dir: &OwnedFd, name: &std::ffi::OsStr) -> Option<FileType> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|s| FileType::from_raw_mode(s.st_mode))
}

fn io_at(action: &'static str, path: &Path, e: rustix::io::Errno) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_path_buf(),
        source: e.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn a_numeric_user_is_kept_and_the_group_is_the_users_own() {
        let o = |uid, gid| Ownership { uid, gid };
        assert_eq!(Ownership::of("1000:2000", Some(7)), o(Some(1000), Some(7)));
        assert_eq!(Ownership::of("1000", None), o(Some(1000), None));
        assert_eq!(Ownership::of("node", Some(7)), o(None, Some(7)));
        assert_eq!(Ownership::of("", Some(7)), o(None, Some(7)));
    }

    fn mode() -> Option<Mode> {
        Some(Mode::from_raw_mode(0o755))
    }

    #[test]
    fn missing_folders_are_made_beneath_the_root() {
        let root = tempfile::tempdir().unwrap();
        open_dir(root.path(), "t", Path::new("u1/data/a/b"), mode()).unwrap();
        assert!(root.path().join("u1/data/a/b").is_dir());
        assert!(check_dir(root.path(), "t", Path::new("u1/data/a/b")).unwrap());
        assert!(!check_dir(root.path(), "t", Path::new("u1/data/zz")).unwrap());
    }

    #[test]
    fn a_symbolic_link_anywhere_on_the_path_is_refused_and_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("u1/data/a")).unwrap();
        symlink(outside.path(), root.path().join("u1/data/a/link")).unwrap();
        for rel in ["u1/data/a/link", "u1/data/a/link/deeper"] {
            let e = open_dir(root.path(), "t", Path::new(rel), mode()).unwrap_err();
            assert!(
                e.to_string().contains("a/link in t: it is a symbolic link"),
                "{rel}: {e}"
            );
            assert!(check_dir(root.path(), "t", Path::new(rel)).is_err());
        }
        assert!(
            std::fs::read_dir(outside.path()).unwrap().next().is_none(),
            "nothing was made through the link"
        );
    }

    #[test]
    fn a_link_to_a_file_a_plain_file_and_dot_dot_are_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("u1")).unwrap();
        std::fs::write(root.path().join("u1/f"), "x").unwrap();
        symlink("/etc/passwd", root.path().join("u1/p")).unwrap();
        let err = |rel: &str| {
            open_dir(root.path(), "t", Path::new(rel), mode())
                .unwrap_err()
                .to_string()
        };
        assert!(err("u1/f").contains("is not a folder"));
        assert!(err("u1/p").contains("is a symbolic link"));
        assert!(err("u1/../u1").contains("leaves its folder"));
        assert!(err("/etc").contains("leaves its folder"));
    }
}
