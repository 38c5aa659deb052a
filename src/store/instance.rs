//! The data folder's instance id, in `<data>/instance`: the label value that tells this
//! folder's Docker objects from those of every other folder on the same engine.

use std::fs;
use std::io;

use super::atomic::{write_new, PUBLIC};
use super::{io_err, Store, StoreError};
use crate::ids::Label;

impl Store {
    /// The instance id recorded in the folder, if any.
    pub fn read_instance(&self) -> Result<Option<String>, StoreError> {
        let path = self.instance_path();
        match fs::read_to_string(&path) {
            Ok(text) => match Label::parse(text.trim()) {
                Ok(id) => Ok(Some(id.to_string())),
                Err(_) => Err(StoreError::BadInstance {
                    path,
                    found: text.trim().chars().take(80).collect(),
                }),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    /// Records `id` unless an id is recorded already; `false` when another process
    /// recorded one first (read it back with `read_instance`).
    pub fn record_instance(&self, id: &str) -> Result<bool, StoreError> {
        write_new(&self.instance_path(), format!("{id}\n").as_bytes(), PUBLIC)
    }

    /// Whether the folder holds what an earlier portal wrote (users, catalogs, tokens,
    /// allocations): such a folder's Docker objects carry the instance it ran with.
    pub fn has_content(&self) -> Result<bool, StoreError> {
        for dir in [self.users_dir(), self.bases_dir(), self.overlays_dir()] {
            let mut entries = fs::read_dir(&dir).map_err(io_err("read folder", &dir))?;
            if entries.next().is_some() {
                return Ok(true);
            }
        }
        Ok(self.tokens_path().exists() || self.allocations_path().exists())
    }
}
