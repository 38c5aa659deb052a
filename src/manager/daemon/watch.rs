//! What wakes the run loop besides its timers: Docker's events about managed containers,
//! and file watchers on the data folder (the CLI's writes) and the watched catalog folder.

use std::path::Path;
use std::time::Duration;

use futures_util::stream::BoxStream;
use notify::Watcher;
use tokio::sync::mpsc;

use super::{Daemon, Wake};
use crate::engine::{Engine, EngineError, EngineEvent};

pub(super) type Events = BoxStream<'static, Result<EngineEvent, EngineError>>;

fn ignore_path(p: &Path) -> bool {
    p.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

impl<E: Engine + 'static> Daemon<E> {
    /// Docker's events about this instance's managed containers.
    pub(super) fn subscribe(&self) -> Events {
        self.rt.engine().events(&self.managed())
    }

    /// Whether one item of the event stream calls for a pass. A failed or ended stream
    /// (dockerd restarted, say) is replaced, and a pass catches up on what was missed.
    pub(super) async fn on_event(
        &self,
        ev: Option<Result<EngineEvent, EngineError>>,
        events: &mut Events,
    ) -> Option<Wake> {
        match ev {
            Some(Ok(e)) => {
                self.feed_status(&e);
                let wanted = matches!(
                    e.action.as_str(),
                    "die" | "oom" | "destroy" | "stop" | "kill"
                ) || (e.kind == "network" && e.action == "destroy");
                tracing::debug!(kind = %e.kind, action = %e.action, name = %e.name, "docker event");
                wanted.then_some(Wake::Reconcile)
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "docker event stream failed; resubscribing");
                self.resubscribe(events).await
            }
            None => {
                tracing::debug!("docker event stream ended; resubscribing");
                self.resubscribe(events).await
            }
        }
    }

    async fn resubscribe(&self, events: &mut Events) -> Option<Wake> {
        // A pause, so a daemon that is down is not asked again in a tight loop.
        tokio::time::sleep(Duration::from_secs(1)).await;
        *events = self.subscribe();
        Some(Wake::Reconcile)
    }

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
