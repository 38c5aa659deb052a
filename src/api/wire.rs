//! Request bodies the remote CLI sends, shared by both ends so they cannot drift apart.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::catalog::docker::toolkit::ToolkitFiles;
use crate::catalog::parse::RegistryEntries;
use crate::ids::UserId;
use crate::manager::MigrationRequest;

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

/// A Docker Desktop MCP Toolkit folder sent whole, for `POST /api/v1/admin/system/migration`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationBody {
    /// The folder's name, to report problems against.
    pub dir: String,
    pub user: UserId,
    /// Act; without it the answer is the plan, and nothing changes.
    #[serde(default)]
    pub apply: bool,
    pub files: Vec<ToolkitFile>,
}

/// One file of the folder: its path inside it (`registry.yaml`, `catalogs/NAME.yaml`),
/// and its bytes as base64, so the portal reads exactly what a local run would.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolkitFile {
    pub path: String,
    pub base64: String,
}

impl MigrationBody {
    pub fn new(req: &MigrationRequest) -> Self {
        Self {
            dir: req.dir.clone(),
            user: req.user.clone(),
            apply: req.apply,
            files: req
                .files
                .iter()
                .map(|(path, bytes)| ToolkitFile {
                    path: path.clone(),
                    base64: STANDARD.encode(bytes),
                })
                .collect(),
        }
    }

    /// The request as the manager takes it; a bad base64 field names its file.
    pub(crate) fn into_request(self) -> Result<MigrationRequest, String> {
        let mut files = ToolkitFiles::new();
        for f in self.files {
            let bytes = STANDARD
                .decode(&f.base64)
                .map_err(|err| format!("files: {}: base64: {err}", f.path))?;
            files.insert(f.path, bytes);
        }
        Ok(MigrationRequest {
            dir: self.dir,
            user: self.user,
            files,
            apply: self.apply,
        })
    }
}
