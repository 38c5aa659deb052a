//! What wakes the run loop besides its timers: Docker's events about managed containers
//! (followed in a task that also tells them to the event streams), and file watchers on
//! the data folder (the CLI's writes) and the watched catalog folder.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use notify::Watcher;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Daemon, Wake};
use crate::engine::{Engine, EngineEvent};

/// What the event follower passes on to the run loop: a Docker event, or `None` when
/// the stream failed or ended (after a pause, just before it is followed anew).
pub(super) type Followed = Option<EngineEvent>;

fn ignore_path(p: &Path) -> bool {
    p.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

impl<E: Engine + 'static> Daemon<E> {
    /// Follows Docker's events about this instance's managed containers in a task of
    /// its own: each is told to the event streams at once (not after the pass in flight)
    /// and passed on to the run loop. A failed or ended stream (dockerd restarted, say)
    /// is followed anew after a pause, so a daemon that is down is not asked again in a
    /// tight loop.
    pub(super) fn follow(&self) -> (mpsc::UnboundedReceiver<Followed>, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let rt = Arc::clone(&self.rt);
        let feed = Arc::clone(&self.feed);
        let task = tokio::spawn(async move {
            loop {
                let mut events = rt.engine().events(&rt.managed());
                while let Some(item) = events.next().await {
                    match item {
                        Ok(e) => {
                            feed.status(rt.portal().events(), &e);
                            if tx.send(Some(e)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "docker event stream failed; resubscribing");
                            break;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                if tx.send(None).is_err() {
                    return;
                }
            }
        });
        (rx, task)
    }

    /// Whether one item from the follower calls for a pass. A stream followed anew
    /// calls for one, which catches up on what was missed.
    pub(super) fn on_event(&self, ev: Followed) -> Option<Wake> {
        match ev {
            Some(e) => {
                let wanted = matches!(
                    e.action.as_str(),
                    "die" | "oom" | "destroy" | "stop" | "kill"
                ) || (e.kind == "network" && e.action == "destroy");
                tracing::debug!(kind = %e.kind, action = %e.action, name = %e.name, "docker event");
                wanted.then_some(Wake::Reconcile)
            }
            None => {
                tracing::debug!("docker event stream followed anew");
                Some(Wake::Reconcile)
            }
        }
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
