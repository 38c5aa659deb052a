//! Each user's records: profile, custom servers, enabled servers and sealed secrets.

use super::{
    Loaded, Store, StoreError, StoredCustom, StoredEnabled, StoredSecrets, StoredTools, StoredUser,
};
use crate::ids::UserId;

impl Store {
    /// Users' folders without a readable `user.json`: missing, unreadable or damaged. Not
    /// users to be served, but not gone either, so the daemon must leave their containers
    /// alone.
    pub fn users_unreadable(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.users_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = UserId::parse(&name).ok()?;
                let readable = matches!(self.read_user(&id), Ok(Some(_)));
                (!readable && e.path().is_dir()).then_some(name)
            })
            .collect()
    }

    /// Whether `id` has a profile file, readable or not: a damaged user is still a user,
    /// to be listed as damaged and removable.
    pub fn user_exists(&self, id: &UserId) -> bool {
        self.user_path(id).exists()
    }

    /// Whether the folder's records are there to be read: a folder deleted or unmounted
    /// under a running daemon has no `users` or `catalogs/base` folder (both are made when
    /// it is opened), and must not read as "nobody wants anything".
    pub fn is_whole(&self) -> bool {
        let listable = |p: std::path::PathBuf| std::fs::read_dir(p).is_ok();
        listable(self.users_dir()) && listable(self.root.join("catalogs/base"))
    }

    /// Users with a profile; a folder left without one is skipped.
    pub fn user_ids(&self) -> Result<Vec<UserId>, StoreError> {
        let ids = self.names(&self.users_dir(), "", |s| UserId::parse(s).ok())?;
        Ok(ids.into_iter().filter(|u| self.user_exists(u)).collect())
    }

    pub fn read_user(&self, id: &UserId) -> Result<Option<Loaded<StoredUser>>, StoreError> {
        self.read_json(&self.user_path(id))
    }

    pub fn write_user(&self, record: &StoredUser) -> Result<(), StoreError> {
        self.write_json(&self.user_path(&record.profile.id), record)
    }

    /// Removes the user's folder (profile and custom servers) and cached catalog.
    pub fn remove_user(&self, id: &UserId) -> Result<bool, StoreError> {
        self.remove_path(&self.cache_path(id))?;
        // The user's lock files stay: another process may hold one, and a lock on an
        // unlinked file would no longer keep out the next process that opens the path.
        self.remove_path(&self.user_dir(id))
    }

    pub fn read_custom(&self, id: &UserId) -> Result<Option<Loaded<StoredCustom>>, StoreError> {
        self.read_json(&self.custom_path(id))
    }

    pub fn write_custom(&self, id: &UserId, record: &StoredCustom) -> Result<(), StoreError> {
        self.write_json(&self.custom_path(id), record)
    }

    pub fn read_enabled(&self, id: &UserId) -> Result<StoredEnabled, StoreError> {
        self.read_json_or_default(&self.enabled_path(id))
    }

    /// Private: it holds the values of the user's `--env` settings.
    pub fn write_enabled(&self, id: &UserId, record: &StoredEnabled) -> Result<(), StoreError> {
        self.write_private_json(&self.enabled_path(id), record)
    }

    pub fn read_tools(&self, id: &UserId) -> Result<StoredTools, StoreError> {
        self.read_json_or_default(&self.tools_path(id))
    }

    pub fn write_tools(&self, id: &UserId, record: &StoredTools) -> Result<(), StoreError> {
        self.write_json(&self.tools_path(id), record)
    }

    pub fn read_secrets(&self, id: &UserId) -> Result<StoredSecrets, StoreError> {
        self.read_json_or_default(&self.secrets_path(id))
    }

    /// Writes a user's sealed secrets, readable by the portal's own user only.
    pub fn write_secrets(&self, id: &UserId, record: &StoredSecrets) -> Result<(), StoreError> {
        self.write_private_json(&self.secrets_path(id), record)
    }

    /// Whether any user has a sealed secret (a missing key file is then an error, not a
    /// reason to make a new key).
    pub fn any_secrets(&self) -> Result<bool, StoreError> {
        for id in self.user_ids()? {
            if !self.read_secrets(&id)?.secrets.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = UserId::parse("u1").unwrap();
        std::fs::create_dir_all(store.user_dir(&id)).unwrap();
        std::fs::write(store.user_dir(&id).join("user.json"), "{oops").unwrap();
        let err = store.read_user(&id).unwrap_err().to_string();
        assert!(err.contains("users/u1/user.json is damaged"), "{err}");
    }
}
