//! What a merged definition is and where it came from: [`MergedServer`] carries the
//! definition with its image pinned, and [`Provenance`] names the base catalog, overlays or
//! custom file it was built from.

use serde::{Deserialize, Serialize};

use crate::catalog::model::ServerDef;
use crate::catalog::validate::image_ref;
use crate::ids::CatalogName;

/// Where a merged definition came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlays: Vec<CatalogName>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRef {
    pub name: CatalogName,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    pub revision: u32,
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.custom {
            return f.write_str("custom");
        }
        let mut parts = Vec::new();
        if let Some(b) = &self.base {
            let version = if b.version.is_empty() {
                String::new()
            } else {
                format!("@{}", b.version)
            };
            parts.push(format!("{}{version} r{}", b.name, b.revision));
        }
        parts.extend(self.overlays.iter().map(|o| format!("+{o}")));
        f.write_str(&parts.join(" "))
    }
}

/// A definition ready for a user: `image` is the full reference (tag folded in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedServer {
    #[serde(flatten)]
    pub def: ServerDef,
    pub source: Provenance,
}

impl MergedServer {
    /// Whether the server is of `category`, compared case-insensitively.
    pub fn in_category(&self, category: &str) -> bool {
        self.def
            .category
            .as_ref()
            .is_some_and(|c| c.eq_ignore_ascii_case(category))
    }
}

/// Folds `tag` into `image`, so what a user is shown is what Docker will run.
pub(super) fn pin_image(mut def: ServerDef) -> Result<ServerDef, String> {
    def.image = image_ref(&def)?.to_string();
    def.tag = None;
    Ok(def)
}
