//! Overlays: upload (replacing the overlay of the same name), list and removal.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::servers::RegenReport;
use super::snapshot::Snapshot;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::catalog::model::Visibility;
use crate::catalog::parse::parse_overlay;
use crate::catalog::report::Diagnostic;
use crate::ids::CatalogName;
use crate::store::{sha256_hex, Loaded, StoredOverlay};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverlaySummary {
    pub name: CatalogName,
    pub servers: usize,
    #[serde(default, skip_serializing_if = "Visibility::is_empty")]
    pub applies_to: Visibility,
    pub uploaded_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverlayReport {
    pub name: CatalogName,
    pub servers: usize,
    pub replaced: bool,
    pub warnings: Vec<Diagnostic>,
    pub regenerated: RegenReport,
}

impl Portal {
    pub fn upload_overlay(
        &self,
        file: &str,
        bytes: &[u8],
        name: CatalogName,
    ) -> Result<OverlayReport> {
        let shown = name.to_string();
        let r = self.upload_overlay_unaudited(file, bytes, name);
        self.audited(None, AuditAction::OverlayUpload, &shown, r)
    }

    fn upload_overlay_unaudited(
        &self,
        file: &str,
        bytes: &[u8],
        name: CatalogName,
    ) -> Result<OverlayReport> {
        let overlay = parse_overlay(file, bytes, self.config.max_catalog_bytes)?;
        let _lock = self.store.lock()?;
        let mut snapshot = Snapshot::load(&self.store)?;
        let record = StoredOverlay {
            uploaded_at: Self::now(),
            file: file.to_string(),
            sha256: sha256_hex(bytes),
            overlay,
        };
        let replaced = snapshot
            .overlays
            .insert(
                name.clone(),
                Loaded {
                    value: record.clone(),
                    sha256: String::new(),
                },
            )
            .is_some();
        let warnings = self.check_change(&snapshot, file, None)?;
        self.store.write_overlay(&name, &record)?;
        let regenerated = self.regenerate_locked(None, false)?;
        Ok(OverlayReport {
            name,
            servers: record.overlay.servers.len(),
            replaced,
            warnings,
            regenerated,
        })
    }

    pub fn list_overlays(&self) -> Result<Vec<OverlaySummary>> {
        let _lock = self.store.lock()?;
        let snapshot = Snapshot::load(&self.store)?;
        Ok(snapshot
            .overlays
            .into_iter()
            .map(|(name, l)| OverlaySummary {
                name,
                servers: l.value.overlay.servers.len(),
                applies_to: l.value.overlay.applies_to,
                uploaded_at: l.value.uploaded_at,
            })
            .collect())
    }

    pub fn remove_overlay(&self, name: &CatalogName) -> Result<RegenReport> {
        let r = self.remove_overlay_unaudited(name);
        self.audited(None, AuditAction::OverlayRemove, name.as_str(), r)
    }

    fn remove_overlay_unaudited(&self, name: &CatalogName) -> Result<RegenReport> {
        let _lock = self.store.lock()?;
        if !self.store.remove_overlay(name)? {
            return Err(PortalError::NotFound {
                what: "overlay",
                name: name.to_string(),
                hint: "see the stored overlays with `portalctl overlay ls`".into(),
            });
        }
        self.regenerate_locked(None, false)
    }
}
