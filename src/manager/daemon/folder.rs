//! The watched catalog folder: uploads its catalogs and overlays whose content changed,
//! refusing an invalid file whole so the last good revision stays in force.

use std::path::{Path, PathBuf};

use super::Daemon;
use crate::engine::Engine;
use crate::ids::CatalogName;
use crate::manager::Portal;

impl<E: Engine + 'static> Daemon<E> {
    /// Uploads every catalog (`DIR/*.yaml|yml|json`) and overlay (`DIR/overlays/*`) of the
    /// watched folder whose content changed. An invalid file is refused whole: the last
    /// good revision stays in force, and the refusal goes to the log and the audit log.
    pub async fn sync_catalog_folder(&self) {
        let Some(dir) = self.catalog_dir.clone() else {
            return;
        };
        let portal = self.portal().clone();
        let result = tokio::task::spawn_blocking(move || sync_folder(&portal, &dir)).await;
        if let Err(e) = result {
            tracing::error!(error = %e, "catalog folder sync failed");
        }
    }
}

fn sync_folder(portal: &Portal, dir: &Path) {
    // Hidden files (editors' swap and temporary files) are not catalogs.
    let hidden = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    };
    let is_catalog = |p: &Path| {
        p.is_file()
            && matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
            && !hidden(p)
    };
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| is_catalog(p))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let stem = |p: &Path| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| CatalogName::parse(s).ok())
    };
    for path in list(dir) {
        let Some(name) = stem(&path) else {
            tracing::warn!(file = %path.display(), "file name is not a catalog name; skipped");
            continue;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let file = path.display().to_string();
        let r = portal.upload_catalog(&file, &bytes, Some(name.clone()));
        match &r {
            Ok(rep) if rep.changed => {
                tracing::info!(catalog = %name, revision = rep.revision, "catalog updated from the watched folder")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(catalog = %name, error = %e, "catalog refused; the last good revision stays in force")
            }
        }
    }
    for path in list(&dir.join("overlays")) {
        let Some(name) = stem(&path) else { continue };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let current = portal
            .store
            .read_overlay(&name)
            .ok()
            .flatten()
            .map(|o| o.value.sha256);
        if current.as_deref() == Some(crate::store::sha256_hex(&bytes).as_str()) {
            continue;
        }
        let file = path.display().to_string();
        let r = portal.upload_overlay(&file, &bytes, name.clone());
        if let Err(e) = &r {
            tracing::warn!(overlay = %name, error = %e, "overlay refused; the last good version stays in force");
        }
    }
}
