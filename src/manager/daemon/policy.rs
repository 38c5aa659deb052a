//! The restart policy, pure: how long to wait after failures in a row (`Backoff`), and
//! what to do about a container now (`RestartPolicy::decide`) from its record and what
//! is seen of it. No I/O and no clock reads: callers pass `now`.

use std::time::Duration;

use tokio::time::Instant;

use super::record::{Health, Tracked};
use crate::config::DaemonConfig;

/// How long a restarted server must run quietly before its restart count starts over.
pub(super) const FORGIVE: Duration = Duration::from_secs(600);

/// The longest any backoff waits.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Exponential backoff: the first failure waits `base`, each next one twice as long,
/// never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Backoff {
    base: Duration,
    max: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum BackoffError {
    #[error("backoff base must be longer than zero")]
    ZeroBase,
    #[error("backoff base {base:?} is longer than its cap {max:?}")]
    BaseOverCap { base: Duration, max: Duration },
}

impl Backoff {
    /// The daemon's backoff when its configuration cannot make one.
    const FALLBACK: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: MAX_BACKOFF,
    };

    pub(super) fn try_new(base: Duration, max: Duration) -> Result<Self, BackoffError> {
        if base.is_zero() {
            return Err(BackoffError::ZeroBase);
        }
        if base > max {
            return Err(BackoffError::BaseOverCap { base, max });
        }
        Ok(Self { base, max })
    }

    /// The wait after `failures` failures in a row (none before the first).
    pub(super) fn delay(&self, failures: u32) -> Duration {
        let Some(doublings) = failures.checked_sub(1) else {
            return Duration::ZERO;
        };
        // Past 2^16 the cap has long been reached; stopping there keeps the shift sound.
        let factor = 1u32 << doublings.min(16);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// What is seen of a container now: all the policy needs of `reconcile::Have`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    Running,
    /// Running, but failing its health check.
    Unhealthy,
    /// Exited, stopped or gone.
    Down,
}

impl Seen {
    pub(super) fn of(running: bool, health: Health) -> Self {
        match (running, health) {
            (false, _) => Seen::Down,
            (true, Health::Unhealthy) => Seen::Unhealthy,
            (true, _) => Seen::Running,
        }
    }
}

/// What to do about one container now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Running and nothing to forgive: leave it be.
    Keep,
    /// Running quietly for `FORGIVE` since its last restart: the count starts over.
    Forgive,
    /// Down (or unhealthy) and its backoff is over: restart it.
    Restart,
    /// Down (or unhealthy), but the backoff since the last failure lasts until `until`.
    Wait { until: Instant },
    /// Down (or unhealthy) after `max_restarts` restarts: mark it failed.
    GiveUp,
    /// Already marked failed: left alone until enabled or restarted by hand.
    LeaveAlone,
}

/// When to restart a failing container, and when to stop trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RestartPolicy {
    pub(super) backoff: Backoff,
    pub(super) max_restarts: u32,
}

impl RestartPolicy {
    pub(super) fn from_config(cfg: &DaemonConfig) -> Self {
        // A base past the cap waits the cap, as it always has.
        let base = Duration::from_millis(cfg.backoff_ms).min(MAX_BACKOFF);
        let backoff = Backoff::try_new(base, MAX_BACKOFF).unwrap_or_else(|e| {
            tracing::warn!(error = %e, fallback_ms = Backoff::FALLBACK.base.as_millis() as u64, "restart backoff");
            Backoff::FALLBACK
        });
        Self {
            backoff,
            max_restarts: cfg.max_restarts,
        }
    }

    pub(super) fn decide(&self, t: &Tracked, seen: Seen, now: Instant) -> Decision {
        if t.failed() {
            return Decision::LeaveAlone;
        }
        if seen == Seen::Running {
            let quiet = t
                .last_restart
                .is_some_and(|l| now.saturating_duration_since(l) >= FORGIVE);
            return if quiet {
                Decision::Forgive
            } else {
                Decision::Keep
            };
        }
        match t.next_try {
            Some(until) if until > now => Decision::Wait { until },
            _ if t.restarts >= self.max_restarts => Decision::GiveUp,
            _ => Decision::Restart,
        }
    }

    /// When the next try may come after the `restarts`-th restart at `now`.
    pub(super) fn next_try(&self, restarts: u32, now: Instant) -> Instant {
        now + self.backoff.delay(restarts)
    }
}

/// Whether the planner must leave a container alone this pass: failed, or waiting out
/// a backoff (after a restart, or after failed creates).
pub(super) fn held(t: &Tracked, now: Instant) -> bool {
    t.failed() || t.next_try.is_some_and(|n| n > now)
}

#[cfg(test)]
mod tests;
