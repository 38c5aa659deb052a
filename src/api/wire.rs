//! Request bodies the remote CLI sends, shared by both ends so they cannot drift apart.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::catalog::parse::RegistryEntries;

/// A Docker MCP registry folder sent whole: each server's folder name and `server.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryBody {
    /// The folder's name, to report problems against.
    pub dir: String,
    pub entries: Vec<RegistryEntry>,
}

/// One server's folder. The file travels as base64 of its bytes, so the portal parses
/// exactly what a local run would, invalid UTF-8 included, and reports it the same way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryEntry {
    pub name: String,
    pub server_yaml_base64: String,
}

impl RegistryBody {
    pub fn new(dir: &str, entries: RegistryEntries) -> Self {
        Self {
            dir: dir.to_string(),
            entries: entries
                .into_iter()
                .map(|(name, bytes)| RegistryEntry {
                    name,
                    server_yaml_base64: STANDARD.encode(bytes),
                })
                .collect(),
        }
    }

    /// The entries as the parser takes them; a bad base64 field names its entry.
    pub(crate) fn into_entries(self) -> Result<(String, RegistryEntries), String> {
        let mut entries = Vec::with_capacity(self.entries.len());
        for e in self.entries {
            let bytes = STANDARD
                .decode(&e.server_yaml_base64)
                .map_err(|err| format!("entries: {}: server_yaml_base64: {err}", e.name))?;
            entries.push((e.name, bytes));
        }
        Ok((self.dir, entries))
    }
}
