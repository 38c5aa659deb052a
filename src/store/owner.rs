//! The numeric owner a container runs as (`uid[:gid]`), for the files and folders the
//! store makes on its behalf.

use std::path::Path;

/// A container's numeric user and group; `None` for a user given by name, whose numbers
/// only the image knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owner {
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Owner {
    /// Reads `uid[:gid]`; a missing or non-numeric group falls back to the uid.
    pub(super) fn parse(spec: &str) -> Self {
        let mut ids = spec.split(':').map(|p| p.parse::<u32>().ok());
        let uid = ids.next().flatten();
        let gid = ids.next().flatten().or(uid);
        Self { uid, gid }
    }

    /// Gives `path` to the owner, when numeric. Best effort: without the right to chown
    /// (a portal not run as root) the path keeps its owner.
    pub(super) fn chown(&self, path: &Path) {
        if self.uid.is_some() {
            let _ = std::os::unix::fs::chown(path, self.uid, self.gid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_defaults_to_the_user_and_names_are_not_numbers() {
        let o = |uid, gid| Owner { uid, gid };
        assert_eq!(Owner::parse("1000:2000"), o(Some(1000), Some(2000)));
        assert_eq!(Owner::parse("1000"), o(Some(1000), Some(1000)));
        assert_eq!(Owner::parse("1000:staff"), o(Some(1000), Some(1000)));
        assert_eq!(Owner::parse("nobody"), o(None, None));
        assert_eq!(Owner::parse("nobody:1000"), o(None, Some(1000)));
        assert_eq!(Owner::parse(""), o(None, None));
    }
}
