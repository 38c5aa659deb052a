//! Request bodies the remote CLI sends, shared by both ends so they cannot drift apart.

use serde::{Deserialize, Serialize};

/// A Docker MCP registry folder sent whole: each server's folder name and `server.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryBody {
    /// The folder's name, to report problems against.
    pub dir: String,
    pub entries: Vec<RegistryEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryEntry {
    pub name: String,
    pub yaml: String,
}

impl RegistryBody {
    pub(crate) fn into_entries(self) -> (String, crate::catalog::parse::RegistryEntries) {
        let entries = self
            .entries
            .into_iter()
            .map(|e| (e.name, e.yaml.into_bytes()))
            .collect();
        (self.dir, entries)
    }
}
