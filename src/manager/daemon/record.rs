//! The record the daemon keeps of each container between passes, and the form of it that
//! is saved for `portalctl status` (`store::ContainerHealth`).

use std::str::FromStr;

use tokio::time::Instant;

use super::probe::Probe;
use crate::store::ContainerHealth;

/// What the daemon knows of a container's health. Saved as the strings `status` has
/// always shown: empty (no check has said anything yet), healthy, unhealthy, failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Health {
    #[default]
    Unknown,
    Healthy,
    Unhealthy,
    /// Restarted too often: left alone until enabled or restarted by hand.
    Failed,
}

impl Health {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("container health {0:?} is not one of healthy, unhealthy, failed or empty")]
pub(super) struct UnknownHealth(String);

impl FromStr for Health {
    type Err = UnknownHealth;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" => Ok(Health::Unknown),
            "healthy" => Ok(Health::Healthy),
            "unhealthy" => Ok(Health::Unhealthy),
            "failed" => Ok(Health::Failed),
            other => Err(UnknownHealth(other.to_string())),
        }
    }
}

/// Per-container state the daemon keeps between passes. Its clocks are tokio's, so
/// tests with paused time drive backoff and forgiveness.
#[derive(Debug, Clone, Default)]
pub(super) struct Tracked {
    pub(super) health: Health,
    /// Restarts that count towards the limit (see `policy::FORGIVE`).
    pub(super) restarts: u32,
    pub(super) last_error: Option<String>,
    /// Runs an older definition (update policy `manual`).
    pub(super) outdated: bool,
    /// The Docker id this record is about: a container made anew starts a new record.
    pub(super) container_id: String,
    /// Not created, recreated or restarted before this.
    pub(super) next_try: Option<Instant>,
    /// Failed health checks in a row.
    pub(super) failures: u32,
    /// Failed creates in a row: they back off like restarts, so a server that cannot be
    /// made (no image, no secret) is not retried on every pass.
    pub(super) create_failures: u32,
    /// When it was last restarted: a long enough healthy run since then clears the count.
    pub(super) last_restart: Option<Instant>,
    pub(super) last_probe: Option<Instant>,
    pub(super) probe: Option<Probe>,
}

impl Tracked {
    pub(super) fn failed(&self) -> bool {
        self.health == Health::Failed
    }

    /// What is saved for `status`.
    pub(super) fn saved(&self) -> ContainerHealth {
        ContainerHealth {
            health: self.health.as_str().to_string(),
            restarts: self.restarts,
            last_error: self.last_error.clone(),
            failed: self.failed(),
            outdated: self.outdated,
            container_id: self.container_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_health_is_saved_as_the_string_status_has_always_shown_and_read_back() {
        let all = [
            (Health::Unknown, ""),
            (Health::Healthy, "healthy"),
            (Health::Unhealthy, "unhealthy"),
            (Health::Failed, "failed"),
        ];
        for (health, text) in all {
            assert_eq!(health.as_str(), text);
            assert_eq!(text.parse::<Health>(), Ok(health));
        }
    }

    #[test]
    fn a_health_string_the_daemon_never_writes_is_refused() {
        let err = "starting".parse::<Health>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"container health "starting" is not one of healthy, unhealthy, failed or empty"#
        );
    }

    #[test]
    fn a_failed_container_is_saved_as_failed_in_both_fields() {
        let t = Tracked {
            health: Health::Failed,
            restarts: 2,
            ..Tracked::default()
        };
        let saved = t.saved();
        assert!(saved.failed);
        assert_eq!(saved.health, "failed");
        assert_eq!(saved.restarts, 2);
    }
}
