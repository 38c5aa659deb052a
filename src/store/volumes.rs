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
}
