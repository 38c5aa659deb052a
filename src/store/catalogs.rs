//! Base catalogs (every revision, and which one is current) and overlays.

use std::fs;
use std::io;

use super::atomic::{self, PUBLIC};
use super::{Loaded, Store, StoreError, StoredCatalog, StoredOverlay};
use crate::ids::CatalogName;

impl Store {
    /// Catalogs with a revision in force; a folder left without one is skipped.
    pub fn base_names(&self) -> Result<Vec<CatalogName>, StoreError> {
        let names = self.names(&self.bases_dir(), "", |s| CatalogName::parse(s).ok())?;
        Ok(names
            .into_iter()
            .filter(|n| self.current_path(n).exists())
            .collect())
    }

    pub fn base_revisions(&self, name: &CatalogName) -> Result<Vec<u32>, StoreError> {
        self.names(&self.base_dir(name), ".json", |s| {
            s.strip_prefix('r')?.parse().ok()
        })
    }

    pub fn current_revision(&self, name: &CatalogName) -> Result<Option<u32>, StoreError> {
        let path = self.current_path(name);
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| StoreError::Io {
                action: "read",
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, "not a revision number"),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io {
                action: "read",
                path,
                source: e,
            }),
        }
    }

    pub fn read_base(
        &self,
        name: &CatalogName,
        revision: u32,
    ) -> Result<Option<Loaded<StoredCatalog>>, StoreError> {
        self.read_json(&self.revision_path(name, revision))
    }

    /// Stores a new revision and makes it current (the revision file first, then the pointer).
    pub fn write_base(&self, name: &CatalogName, record: &StoredCatalog) -> Result<(), StoreError> {
        self.write_json(&self.revision_path(name, record.revision), record)?;
        self.set_current(name, record.revision)
    }

    pub fn set_current(&self, name: &CatalogName, revision: u32) -> Result<(), StoreError> {
        atomic::write_replace(
            &self.current_path(name),
            format!("{revision}\n").as_bytes(),
            PUBLIC,
        )
    }

    pub fn remove_base(&self, name: &CatalogName) -> Result<bool, StoreError> {
        self.remove_path(&self.base_dir(name))
    }

    pub fn overlay_names(&self) -> Result<Vec<CatalogName>, StoreError> {
        self.names(&self.overlays_dir(), ".json", |s| {
            CatalogName::parse(s).ok()
        })
    }

    pub fn read_overlay(
        &self,
        name: &CatalogName,
    ) -> Result<Option<Loaded<StoredOverlay>>, StoreError> {
        self.read_json(&self.overlay_path(name))
    }

    pub fn write_overlay(
        &self,
        name: &CatalogName,
        record: &StoredOverlay,
    ) -> Result<(), StoreError> {
        self.write_json(&self.overlay_path(name), record)
    }

    pub fn remove_overlay(&self, name: &CatalogName) -> Result<bool, StoreError> {
        self.remove_path(&self.overlay_path(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let name = CatalogName::parse("x").unwrap();
        store.set_current(&name, 3).unwrap();
        store.set_current(&name, 4).unwrap();
        assert_eq!(store.current_revision(&name).unwrap(), Some(4));
        let leftovers: Vec<_> = fs::read_dir(store.base_dir(&name))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["current"]);
    }
}
