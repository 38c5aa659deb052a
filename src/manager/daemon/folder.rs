//! The watched catalog folder: uploads its catalogs and overlays whose content changed,
//! refusing an invalid file whole so the last good revision stays in force.
//!
//! It runs beside the reconcile loop, not in it (a large file takes a while to parse,
//! and restarts and health checks must not wait for it). A file whose bytes are those
//! in force, or those last refused, is not parsed again: a refused file is parsed (and
//! its refusal logged) once, not on every change of its neighbours.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::Daemon;
use crate::engine::Engine;
use crate::ids::CatalogName;
use crate::manager::Portal;
use crate::store::sha256_hex;

/// The SHA-256 of each file's bytes as last refused.
pub(super) type Refused = Arc<Mutex<BTreeMap<PathBuf, String>>>;

impl<E: Engine + 'static> Daemon<E> {
    /// Uploads every catalog (`DIR/*.yaml|yml|json`) and overlay (`DIR/overlays/*`) of the
    /// watched folder whose content changed. An invalid file is refused whole: the last
    /// good revision stays in force, and the refusal goes to the log and the audit log.
    pub async fn sync_catalog_folder(&self) {
        if let Some(dir) = self.catalog_dir.clone() {
            sync(self.portal().clone(), dir, Arc::clone(&self.refused)).await;
        }
    }

    /// The task that syncs the folder on each wake (debounced), apart from the loop.
    pub(super) fn folder_task(
        &self,
        debounce: Duration,
    ) -> Option<(mpsc::UnboundedSender<()>, tokio::task::JoinHandle<()>)> {
        let dir = self.catalog_dir.clone()?;
        let (portal, refused) = (self.portal().clone(), Arc::clone(&self.refused));
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let task = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                tokio::time::sleep(debounce).await;
                while rx.try_recv().is_ok() {}
                // What it stores wakes the loop through the data folder's watcher.
                sync(portal.clone(), dir.clone(), Arc::clone(&refused)).await;
            }
        });
        Some((tx, task))
    }
}

async fn sync(portal: Portal, dir: PathBuf, refused: Refused) {
    let result = tokio::task::spawn_blocking(move || sync_folder(&portal, &dir, &refused)).await;
    if let Err(e) = result {
        tracing::error!(error = %e, "catalog folder sync failed");
    }
}

fn sync_folder(portal: &Portal, dir: &Path, refused_at: &Mutex<BTreeMap<PathBuf, String>>) {
    let refused = || {
        refused_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    // Parsed only when neither in force (`current`) nor refused before; the outcome is
    // remembered for next time.
    let upload = |path: &Path, bytes: &[u8], current: Option<String>, up: &dyn Fn() -> bool| {
        let sha = sha256_hex(bytes);
        if current.as_deref() == Some(sha.as_str())
            || refused().get(path).is_some_and(|s| *s == sha)
        {
            return;
        }
        if up() {
            refused().remove(path);
        } else {
            refused().insert(path.to_path_buf(), sha);
        }
    };
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
        let current = portal
            .store
            .current_revision(&name)
            .ok()
            .flatten()
            .and_then(|rev| portal.store.read_base(&name, rev).ok().flatten())
            .map(|c| c.value.sha256);
        let file = path.display().to_string();
        upload(&path, &bytes, current, &|| match portal.upload_catalog(
            &file,
            &bytes,
            Some(name.clone()),
        ) {
            Ok(rep) => {
                if rep.changed {
                    tracing::info!(catalog = %name, revision = rep.revision, "catalog updated from the watched folder");
                }
                true
            }
            Err(e) => {
                tracing::warn!(catalog = %name, error = %e, "catalog refused; the last good revision stays in force");
                false
            }
        });
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
        let file = path.display().to_string();
        upload(
            &path,
            &bytes,
            current,
            &|| match portal.upload_overlay(&file, &bytes, name.clone()) {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(overlay = %name, error = %e, "overlay refused; the last good version stays in force");
                    false
                }
            },
        );
    }
}
