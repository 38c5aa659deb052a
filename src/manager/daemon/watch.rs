//! What wakes the run loop besides its timers: file watchers on the data folder (the
//! CLI's writes) and on the watched catalog folder.

use std::path::Path;

use notify::Watcher;
use tokio::sync::mpsc;

use super::{Daemon, Wake};
use crate::engine::Engine;

fn ignore_path(p: &Path) -> bool {
    p.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

impl<E: Engine + 'static> Daemon<E> {
    /// Watches the data folder (the CLI's changes) and the catalog folder, if any.
    pub(super) fn watch(&self, tx: mpsc::UnboundedSender<Wake>) -> Vec<notify::RecommendedWatcher> {
        let mut watchers = Vec::new();
        let root = self.portal().store.root().to_path_buf();
        let data_tx = tx.clone();
        let data = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if ev
                    .paths
                    .iter()
                    .any(|p| !ignore_path(p.strip_prefix(&root).unwrap_or(p)))
                {
                    let _ = data_tx.send(Wake::Reconcile);
                }
            }
        });
        let portal_root = self.portal().store.root().to_path_buf();
        match data {
            Ok(mut w) => {
                for dir in ["catalogs", "users"] {
                    if let Err(e) =
                        w.watch(&portal_root.join(dir), notify::RecursiveMode::Recursive)
                    {
                        tracing::warn!(error = %e, dir, "cannot watch the data folder; relying on the periodic resync");
                    }
                }
                watchers.push(w);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch files; relying on the periodic resync")
            }
        }
        if let Some(dir) = &self.catalog_dir {
            let folder_tx = tx;
            match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.is_ok() {
                    let _ = folder_tx.send(Wake::CatalogFolder);
                }
            }) {
                Ok(mut w) => {
                    if let Err(e) = w.watch(dir, notify::RecursiveMode::Recursive) {
                        tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the catalog folder");
                    }
                    watchers.push(w);
                }
                Err(e) => tracing::warn!(error = %e, "cannot watch the catalog folder"),
            }
        }
        watchers
    }
}
