//! The daemon's idle shutdown: between passes, each server with an idle timeout that the
//! gateway has not used for that long is stopped (`Runtime::park`), keeping its
//! container, and audited as the daemon's `daemon.idle-stop`.

use tokio::time::Instant;

use super::act::Failure;
use super::Daemon;
use crate::engine::Engine;
use crate::manager::{AuditAction, Parked};

impl<E: Engine + 'static> Daemon<E> {
    /// Stops the servers idle for their timeout.
    pub(super) async fn stop_idle(&self) {
        let watched = self.idle.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if watched.is_empty() {
            return;
        }
        let now = Instant::now().into_std();
        let timeouts: Vec<(String, std::time::Duration)> = watched
            .iter()
            .map(|w| (w.container.clone(), w.timeout))
            .collect();
        let due = self.rt.activity().due_now(&timeouts, now);
        for w in watched.iter().filter(|w| due.contains(&w.container)) {
            let r = self.rt.park(&w.user, &w.server, now).await;
            match r {
                Ok(Parked::Stopped) => {
                    tracing::info!(container = %w.container, timeout_ms = w.timeout.as_millis() as u64, "idle: stopped");
                    if let Some(t) = self.tracked.lock().await.get_mut(&w.container) {
                        t.probe = None;
                    }
                    self.audit(
                        Some(w.user.as_str()),
                        AuditAction::DaemonIdleStop,
                        w.server.as_str(),
                        &Ok(()),
                    );
                }
                Ok(Parked::NotRunning | Parked::Busy) => {}
                Err(e) => {
                    let f = Failure::from(e);
                    tracing::warn!(container = %w.container, error = %f.message, "idle: cannot stop");
                    self.audit(
                        Some(w.user.as_str()),
                        AuditAction::DaemonIdleStop,
                        w.server.as_str(),
                        &Err(f),
                    );
                }
            }
        }
    }
}
