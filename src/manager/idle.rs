//! Idle shutdown and start on first call: the gateway's record of when each server last
//! had an MCP request ([`Activity`]), the decision that one has been idle for its timeout
//! (`due`, pure: the caller passes `now`), and the two operations on the engine: the
//! daemon's stop of an idle server (`Runtime::park`) and the gateway's start of one for a
//! request (`Runtime::wake_by`). Which containers are idle is kept in the store
//! (`state/idle.json`), so a restarted daemon leaves them stopped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::containers::Runtime;
use super::{AuditAction, Portal, Result};
use crate::engine::Engine;
use crate::error::AuditResult;
use crate::ids::{ServerId, UserId};
use crate::plan::container_name;
use crate::store::IdleReason;

#[cfg(test)]
mod tests;

/// What the gateway knows of one container's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Use {
    /// The last request's start or end, or when the daemon first looked.
    pub last: Instant,
    /// Requests being answered now.
    pub in_flight: usize,
    /// Stopped as idle: not looked at again until a request comes.
    pub parked: bool,
}

/// Whether a server last used as `u` is due to stop at `now` after `timeout`: no request
/// in flight, none for the whole timeout, and not stopped already.
pub fn due(u: &Use, timeout: Duration, now: Instant) -> bool {
    !u.parked && u.in_flight == 0 && now.saturating_duration_since(u.last) >= timeout
}

/// A server's idle timeout: its own, else the portal's default; `None`: never stopped.
pub fn timeout_of(own: Option<Duration>, default: Option<Duration>) -> Option<Duration> {
    own.or(default).filter(|t| !t.is_zero())
}

/// When each container last had an MCP request, by container name; shared by the
/// gateway (which records) and the daemon (which decides), in one process.
#[derive(Debug, Default)]
pub struct Activity {
    uses: Mutex<HashMap<String, Use>>,
}

/// Counts one request in flight on a container until it drops, then records its end.
#[derive(Debug)]
pub struct Busy {
    activity: Arc<Activity>,
    container: String,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut uses = self.activity.lock();
        if let Some(u) = uses.get_mut(&self.container) {
            u.in_flight = u.in_flight.saturating_sub(1);
            u.last = Instant::now();
        }
    }
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Use>> {
        self.uses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request to `container` begins; it is in flight until the guard drops.
    pub fn begin(self: &Arc<Self>, container: &str) -> Busy {
        let mut uses = self.lock();
        let u = uses.entry(container.to_string()).or_insert(Use {
            last: Instant::now(),
            in_flight: 0,
            parked: false,
        });
        u.in_flight += 1;
        u.last = Instant::now();
        u.parked = false;
        Busy {
            activity: Arc::clone(self),
            container: container.to_string(),
        }
    }

    /// The containers of `timeouts` due to stop at `now`. One never seen is given a
    /// whole timeout from now (a daemon just started does not stop everything at once).
    pub fn due_now(&self, timeouts: &[(String, Duration)], now: Instant) -> Vec<String> {
        let mut uses = self.lock();
        timeouts
            .iter()
            .filter(|(name, timeout)| {
                let u = uses.entry(name.clone()).or_insert(Use {
                    last: now,
                    in_flight: 0,
                    parked: false,
                });
                due(u, *timeout, now)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Notes a container stopped as idle (or found stopped): not due again until used.
    pub fn park(&self, container: &str) {
        if let Some(u) = self.lock().get_mut(container) {
            u.parked = true;
        }
    }

    /// Whether `container` was stopped as idle and no request came since.
    pub fn is_parked(&self, container: &str) -> bool {
        self.lock().get(container).is_some_and(|u| u.parked)
    }

    /// Whether a request began on `container` since `since` or is in flight now.
    fn used_since(&self, container: &str, since: Instant) -> bool {
        self.lock()
            .get(container)
            .is_some_and(|u| u.in_flight > 0 || u.last > since)
    }
}

/// What the gateway's start of an idle server did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    Started,
    /// Running already (started by another caller or an operation meanwhile).
    Running,
    /// Stopped, but not idle: left as it is.
    NotIdle,
}

/// What the daemon's idle stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parked {
    Stopped,
    /// Not running (stopped by hand, or already idle): only noted.
    NotRunning,
    /// A request came meanwhile: left running.
    Busy,
}

impl<E: Engine> Runtime<E> {
    /// The daemon's stop of a server idle since before `decided`: marked idle first (so
    /// no pass restarts it), then stopped, its container kept for a fast start.
    pub async fn park(&self, user: &UserId, server: &ServerId, decided: Instant) -> Result<Parked> {
        let name = container_name(user, server.as_str());
        let store = self.portal().store.clone();
        let (u, s) = (user.clone(), server.clone());
        let _pair = super::containers::blocking(move || Ok(store.pair_lock(&u, &s)?)).await?;
        if self.activity().used_since(&name, decided) {
            return Ok(Parked::Busy);
        }
        let running = self
            .engine()
            .container(&name)
            .await?
            .is_some_and(|c| c.running());
        if !running {
            self.activity().park(&name);
            return Ok(Parked::NotRunning);
        }
        let store = self.portal().store.clone();
        let n = name.clone();
        super::containers::blocking(move || Ok(store.mark_idle(&n, IdleReason::Timeout)?)).await?;
        self.activity().park(&name);
        let stop = self.portal().config.runtime.stop_timeout_secs;
        let stopped = self.engine().stop_container(&name, stop).await;
        self.changed_listing().await;
        if let Err(e) = stopped {
            // Still running: not idle after all.
            let _ = self.portal().store.clear_idle(&name);
            return Err(e.into());
        }
        Ok(Parked::Stopped)
    }

    /// Starts a user's idle or lazily enabled server for a request of `by`'s. A server
    /// stopped for another reason (crashed, marked failed, stopped by hand) is not
    /// started here: that is the daemon's restart policy's, or the user's, to decide. A
    /// start that fails is audited as `by`'s here; one that succeeds is audited by
    /// `woke_by` once the gateway's `initialize` is answered.
    pub async fn wake_by(&self, by: &Portal, user: &UserId, server: &ServerId) -> Result<Woke> {
        let name = container_name(user, server.as_str());
        let store = self.portal().store.clone();
        let idle = super::containers::blocking(move || Ok(store.read_idle()?)).await?;
        if !idle.containers.contains_key(&name) {
            return Ok(Woke::NotIdle);
        }
        match self.restart_stopped(user, server).await {
            Ok(None) => Ok(Woke::Running),
            Ok(Some(_)) => Ok(Woke::Started),
            Err(e) => by.audited(
                Some(user.as_str()),
                AuditAction::McpServerStart,
                server.as_str(),
                Err(e),
            ),
        }
    }

    /// After `wake_by` started a server: its answer to the gateway's `initialize` (or
    /// why there was none) is the start's outcome in the audit log. Answered, it is no
    /// longer idle; unanswered, it stays idle, and the next request tries again.
    pub async fn woke_by(
        &self,
        by: &Portal,
        user: &UserId,
        server: &ServerId,
        handshake: std::result::Result<(), String>,
    ) {
        let (result, detail) = match handshake {
            Ok(()) => {
                self.awake(&container_name(user, server.as_str())).await;
                (AuditResult::Ok, None)
            }
            Err(why) => (AuditResult::Failed, Some(why)),
        };
        let (by, user, server) = (by.clone(), user.clone(), server.clone());
        let written = super::containers::blocking(move || {
            by.audit_outcome(
                Some(user.as_str()),
                AuditAction::McpServerStart,
                server.as_str(),
                result,
                detail,
            )
        })
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot write the audit log");
        }
    }

    /// Forgets a container's idle mark once it runs by someone's choice (a warning when
    /// the mark cannot be cleared: the server runs either way).
    pub async fn awake(&self, container: &str) {
        let store = self.portal().store.clone();
        let name = container.to_string();
        let cleared = super::containers::blocking(move || Ok(store.clear_idle(&name)?)).await;
        if let Err(e) = cleared {
            tracing::warn!(%container, error = %e, "cannot clear the idle mark");
        }
    }
}
