//! Carrying out one planned action (create, recreate, restart, remove an orphan, mark
//! outdated), recording failures against the container and auditing every outcome.
//! Restarts go through the restart policy.

use tokio::time::Instant;

use super::policy::{Decision, Seen};
use super::record::Health;
use super::Daemon;
use crate::engine::Engine;
use crate::error::AuditResult;
use crate::error::Classify;
use crate::ids::{IdError, ServerId, UserId};
use crate::manager::AuditAction;
use crate::manager::PortalError;
use crate::reconcile::Action;

/// Why an action did not happen, with how the audit log records it.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) result: AuditResult,
}

impl From<PortalError> for Failure {
    /// A refusal (a missing secret, a quota) stays a refusal in the audit log.
    fn from(e: PortalError) -> Self {
        Self {
            message: e.to_string(),
            result: e.class().audit_result(),
        }
    }
}

impl From<IdError> for Failure {
    /// A label that is not a valid id: a container someone else made or changed.
    fn from(e: IdError) -> Self {
        Self {
            message: e.to_string(),
            result: AuditResult::Refused,
        }
    }
}

pub(super) type Outcome = std::result::Result<(), Failure>;

/// Whether a restart happened (`false`: held back, or started meanwhile by an operation
/// in flight, so there is nothing to count or audit).
pub(super) type Restarted = std::result::Result<bool, Failure>;

fn ids(user: &str, server: &str) -> std::result::Result<(UserId, ServerId), IdError> {
    Ok((UserId::parse(user)?, ServerId::parse(server)?))
}

impl<E: Engine + 'static> Daemon<E> {
    pub(super) async fn act(&self, action: &Action) -> Outcome {
        let (result, user, what, resource): (Outcome, Option<String>, AuditAction, String) =
            match action {
                Action::Create { name, user, server } | Action::Recreate { name, user, server } => {
                    let r = self.converge(name, user, server).await;
                    let what = if matches!(action, Action::Create { .. }) {
                        AuditAction::ReconcileCreate
                    } else {
                        AuditAction::ReconcileRecreate
                    };
                    (r, Some(user.clone()), what, server.clone())
                }
                Action::Restart { name, user, server } => {
                    match self.restart(name, user, server, Seen::Down).await {
                        Ok(false) => return Ok(()),
                        r => (
                            r.map(drop),
                            Some(user.clone()),
                            AuditAction::ReconcileRestart,
                            server.clone(),
                        ),
                    }
                }
                Action::Remove { name } => match self.rt.remove_orphan(name).await {
                    Ok(false) => return Ok(()),
                    r => (
                        r.map(drop).map_err(Failure::from),
                        None,
                        AuditAction::ReconcileRemoveOrphan,
                        name.clone(),
                    ),
                },
                Action::MarkOutdated { name } | Action::ClearOutdated { name } => {
                    let mut tracked = self.tracked.lock().await;
                    tracked.entry(name.clone()).or_default().outdated =
                        matches!(action, Action::MarkOutdated { .. });
                    return Ok(());
                }
            };
        self.audit(user.as_deref(), what, &resource, &result);
        result
    }

    /// Records what the daemon did (or why it could not) in the audit log.
    pub(super) fn audit(&self, user: Option<&str>, what: AuditAction, resource: &str, r: &Outcome) {
        let (outcome, detail) = match r {
            Ok(()) => (AuditResult::Ok, None),
            Err(f) => (f.result, Some(f.message.clone())),
        };
        let audited = self
            .portal()
            .audit_outcome(user, what, resource, outcome, detail);
        if let Err(e) = audited {
            tracing::warn!(error = %e, "cannot write the audit log");
        }
    }

    /// Creates (or recreates) a container; failures in a row back off like restarts.
    async fn converge(&self, name: &str, user: &str, server: &str) -> Outcome {
        let (u, s) = ids(user, server)?;
        let r = self
            .rt
            .converge(&u, &s)
            .await
            .map(drop)
            .map_err(Failure::from);
        let mut tracked = self.tracked.lock().await;
        let t = tracked.entry(name.to_string()).or_default();
        match &r {
            Ok(()) => {
                t.create_failures = 0;
                // Made from the current definition: no longer outdated.
                t.outdated = false;
            }
            Err(e) => {
                t.last_error = Some(e.message.clone());
                t.create_failures += 1;
                t.next_try = Some(self.policy.next_try(t.create_failures, Instant::now()));
            }
        }
        r
    }

    /// Restarts a container that is down (or, `seen` unhealthy, one failing its health
    /// check) as the restart policy decides: at once, not yet, or never (marked failed).
    pub(super) async fn restart(
        &self,
        name: &str,
        user: &str,
        server: &str,
        seen: Seen,
    ) -> Restarted {
        let info = self
            .rt
            .engine()
            .container(name)
            .await
            .map_err(|e| Failure::from(PortalError::from(e)))?;
        let why = match (seen, info) {
            (Seen::Unhealthy, _) => "failed its health check".to_string(),
            (_, Some(c)) => match (c.exit_code, c.error) {
                (Some(code), Some(e)) => format!("exited with code {code}: {e}"),
                (Some(code), None) => format!("exited with code {code}"),
                (None, _) => format!("is {}", c.state),
            },
            (_, None) => "is gone".into(),
        };
        {
            let mut tracked = self.tracked.lock().await;
            let t = tracked.entry(name.to_string()).or_default();
            match self.policy.decide(t, seen, Instant::now()) {
                Decision::Restart => {}
                Decision::GiveUp => {
                    t.health = Health::Failed;
                    let n = t.restarts;
                    t.last_error = Some(format!("{why}; gave up after {n} restarts"));
                    tracing::warn!(container = %name, restarts = n, reason = %why, "giving up");
                    return Err(Failure {
                        message: format!("{name} marked failed: {why} after {n} restarts"),
                        result: AuditResult::Failed,
                    });
                }
                // Held back by the planner, so only a health check lands here.
                Decision::Wait { until } => {
                    let wait_ms = until.saturating_duration_since(Instant::now()).as_millis();
                    tracing::debug!(container = %name, wait_ms = wait_ms as u64, "restart waits out its backoff");
                    return Ok(false);
                }
                Decision::Keep | Decision::Forgive | Decision::LeaveAlone => return Ok(false),
            }
        }
        let (u, s) = ids(user, server)?;
        let result = match seen {
            // Running but failing its check: restart it as a user would.
            Seen::Unhealthy => self.rt.restart_running(&u, &s).await.map(Some),
            Seen::Down | Seen::Running => self.rt.restart_stopped(&u, &s).await,
        };
        let error = match result {
            // Started meanwhile by an enable that held the lock: not a restart.
            Ok(None) => return Ok(false),
            Ok(Some(_)) => None,
            Err(e) => Some(e),
        };
        self.count_restart(name, why).await;
        let Some(e) = error else { return Ok(true) };
        // A container Docker cannot start again (its network was removed, say) is removed,
        // so a later pass makes it anew, network included. One that starts and crashes
        // stays, and counts towards the limit.
        if matches!(e.primary(), PortalError::Engine(_)) {
            let stop = self.portal().config.runtime.stop_timeout_secs;
            let _ = self.rt.engine().remove_container(name, stop).await;
        }
        Err(e.into())
    }

    async fn count_restart(&self, name: &str, why: String) {
        let now = Instant::now();
        let mut tracked = self.tracked.lock().await;
        let t = tracked.entry(name.to_string()).or_default();
        t.restarts += 1;
        t.last_restart = Some(now);
        t.last_error = Some(why);
        t.next_try = Some(self.policy.next_try(t.restarts, now));
        t.failures = 0;
    }
}
