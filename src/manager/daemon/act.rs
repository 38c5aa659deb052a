//! Carrying out one planned action (create, recreate, restart, remove an orphan, mark
//! outdated), recording failures against the container and auditing every outcome.

use std::time::{Duration, Instant};

use super::Daemon;
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::manager::PortalError;
use crate::reconcile::Action;

impl<E: Engine + 'static> Daemon<E> {
    pub(super) async fn act(&self, action: &Action) -> std::result::Result<(), String> {
        let portal = self.portal();
        let ids = |user: &str, server: &str| -> std::result::Result<(UserId, ServerId), String> {
            Ok((
                UserId::parse(user).map_err(|e| e.to_string())?,
                ServerId::parse(server).map_err(|e| e.to_string())?,
            ))
        };
        let (result, user, what, resource): (
            std::result::Result<(), String>,
            Option<String>,
            &str,
            String,
        ) = match action {
            Action::Create { name, user, server } | Action::Recreate { name, user, server } => {
                let (u, s) = ids(user, server)?;
                let r = self
                    .rt
                    .converge(&u, &s)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string());
                let backoff = portal.config.daemon.backoff_ms;
                let mut tracked = self.tracked.lock().await;
                let t = tracked.entry(name.clone()).or_default();
                match &r {
                    Ok(()) => t.create_failures = 0,
                    Err(e) => {
                        t.saved.last_error = Some(e.clone());
                        t.create_failures += 1;
                        let wait = backoff
                            .saturating_mul(1 << (t.create_failures - 1).min(16))
                            .min(300_000);
                        t.next_try = Some(Instant::now() + Duration::from_millis(wait));
                    }
                }
                drop(tracked);
                let what = if matches!(action, Action::Create { .. }) {
                    "reconcile.create"
                } else {
                    "reconcile.recreate"
                };
                (r, Some(user.clone()), what, server.clone())
            }
            Action::Restart { name, user, server } => {
                let r = self.restart(name, user, server).await;
                (r, Some(user.clone()), "reconcile.restart", server.clone())
            }
            Action::Remove { name } => match self.rt.remove_orphan(name).await {
                Ok(false) => return Ok(()),
                r => (
                    r.map(drop).map_err(|e| e.to_string()),
                    None,
                    "reconcile.remove-orphan",
                    name.clone(),
                ),
            },
            Action::MarkOutdated { name } => {
                self.tracked
                    .lock()
                    .await
                    .entry(name.clone())
                    .or_default()
                    .saved
                    .outdated = true;
                return Ok(());
            }
        };
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        let detail = result.as_ref().err().cloned();
        if let Err(e) = portal.audit_outcome(user.as_deref(), what, &resource, outcome, detail) {
            tracing::warn!(error = %e, "cannot write the audit log");
        }
        result
    }

    /// Restarts a stopped or unhealthy container, or marks it failed after the retry limit.
    pub(super) async fn restart(
        &self,
        name: &str,
        user: &str,
        server: &str,
    ) -> std::result::Result<(), String> {
        let cfg = self.portal().config.daemon;
        let info = self
            .rt
            .engine()
            .container(name)
            .await
            .map_err(|e| e.to_string())?;
        let why = info
            .map(|c| match (c.exit_code, c.error) {
                (Some(code), Some(e)) => format!("exited with code {code}: {e}"),
                (Some(code), None) => format!("exited with code {code}"),
                (None, _) => format!("is {}", c.state),
            })
            .unwrap_or_else(|| "is gone".into());
        {
            let mut tracked = self.tracked.lock().await;
            let t = tracked.entry(name.to_string()).or_default();
            if t.saved.restarts >= cfg.max_restarts {
                t.saved.failed = true;
                t.saved.health = "failed".into();
                t.saved.last_error = Some(format!(
                    "{why}; gave up after {} restarts",
                    t.saved.restarts
                ));
                return Err(format!(
                    "{name} marked failed: {why} after {} restarts",
                    t.saved.restarts
                ));
            }
        }
        let u = UserId::parse(user).map_err(|e| e.to_string())?;
        let s = ServerId::parse(server).map_err(|e| e.to_string())?;
        let result = self.rt.restart_stopped(&u, &s).await;
        let mut tracked = self.tracked.lock().await;
        let t = tracked.entry(name.to_string()).or_default();
        match result {
            // Started meanwhile by an enable that held the lock: not a restart.
            Ok(None) => Ok(()),
            outcome => {
                t.saved.restarts += 1;
                t.last_restart = Some(Instant::now());
                t.saved.last_error = Some(why);
                let factor = 1u64 << (t.saved.restarts - 1).min(16);
                let wait = (cfg.backoff_ms.saturating_mul(factor)).min(300_000);
                t.next_try = Some(Instant::now() + Duration::from_millis(wait));
                t.failures = 0;
                drop(tracked);
                match outcome {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // A container Docker cannot start again (its network was removed,
                        // say) is removed, so a later pass makes it anew, network included.
                        // One that starts and crashes stays, and counts towards the limit.
                        if matches!(e.primary(), PortalError::Engine(_)) {
                            let stop = self.portal().config.runtime.stop_timeout_secs;
                            let _ = self.rt.engine().remove_container(name, stop).await;
                        }
                        Err(e.to_string())
                    }
                }
            }
        }
    }
}
