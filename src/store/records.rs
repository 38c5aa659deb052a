//! The records kept in the data folder, one per file, as JSON.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::model::{Catalog, Format, Overlay, ServerDef, UserProfile};
use crate::catalog::report::Diagnostic;

/// One uploaded revision of a base catalog, already converted to the native model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCatalog {
    pub revision: u32,
    pub uploaded_at: Timestamp,
    /// The file (or folder) it was uploaded from, for history.
    pub file: String,
    pub format: Format,
    /// SHA-256 of the uploaded bytes.
    pub sha256: String,
    #[serde(default)]
    pub warnings: Vec<Diagnostic>,
    pub catalog: Catalog,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOverlay {
    pub uploaded_at: Timestamp,
    pub file: String,
    pub sha256: String,
    pub overlay: Overlay,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUser {
    #[serde(flatten)]
    pub profile: UserProfile,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredCustom {
    /// Sorted by id.
    pub servers: Vec<ServerDef>,
}
