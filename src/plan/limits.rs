//! Resource limits: a definition's own memory, CPU and process limits or the admin's
//! defaults, capped by the user's quota.

use super::model::{Defaults, Quota};
use crate::catalog::model::ServerDef;

/// Docker's CPU shares for one full CPU; quotas are counted in shares (seed 004).
pub const SHARES_PER_CPU: u64 = 1024;

/// Memory and CPU shares a definition will get for this user: its own or the default,
/// capped by the user's quota.
pub fn limits(server: &ServerDef, defaults: &Defaults, quota: &Quota) -> (u64, u64) {
    let memory = server
        .resources
        .memory
        .unwrap_or(defaults.memory)
        .bytes()
        .min(quota.max_memory_mb * 1024 * 1024);
    let millis = u64::from(server.resources.cpus.unwrap_or(defaults.cpus).millis());
    let shares = (millis * SHARES_PER_CPU / 1000)
        .min(quota.max_cpu_shares)
        .max(2);
    (memory, shares)
}

/// Every limit a container is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    pub memory_bytes: u64,
    pub cpu_shares: u64,
    /// The same CPU as `cpu_shares`, as a hard ceiling.
    pub nano_cpus: u64,
    pub pids: u32,
}

impl Limits {
    pub fn of(server: &ServerDef, defaults: &Defaults, quota: &Quota) -> Self {
        let (memory_bytes, cpu_shares) = limits(server, defaults, quota);
        Self {
            memory_bytes,
            cpu_shares,
            nano_cpus: cpu_shares * 1_000_000_000 / SHARES_PER_CPU,
            pids: server.resources.pids.unwrap_or(defaults.pids),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, http_server, input};
    use super::super::plan;
    use super::*;
    use crate::catalog::units::{Cpus, Memory};

    #[test]
    fn limits_are_capped_by_the_quota() {
        let mut f = fixture();
        f.quota.max_memory_mb = 100;
        f.quota.max_cpu_shares = 256;
        let mut s = http_server();
        s.resources.cpus = Some(Cpus::from_millis(2000).unwrap());
        let (spec, _) = plan(&input(&f, &s, Some(1))).unwrap();
        assert_eq!(spec.memory_bytes, 100 << 20);
        assert_eq!(spec.cpu_shares, 256);
    }

    #[test]
    fn a_definition_without_limits_gets_the_defaults() {
        let f = fixture();
        let l = Limits::of(&http_server(), &f.defaults, &f.quota);
        assert_eq!(
            l,
            Limits {
                memory_bytes: 256 << 20,
                cpu_shares: 512,
                nano_cpus: 500_000_000,
                pids: 128,
            }
        );
    }

    #[test]
    fn a_definitions_own_limits_win_over_the_defaults() {
        let f = fixture();
        let mut s = http_server();
        s.resources.memory = Some(Memory::parse("1g").unwrap());
        s.resources.cpus = Some(Cpus::from_millis(250).unwrap());
        s.resources.pids = Some(16);
        let l = Limits::of(&s, &f.defaults, &f.quota);
        assert_eq!(l.memory_bytes, 1 << 30);
        assert_eq!(l.cpu_shares, 256);
        assert_eq!(l.nano_cpus, 250_000_000);
        assert_eq!(l.pids, 16);
    }

    #[test]
    fn a_tiny_cpu_still_gets_dockers_minimum_of_two_shares() {
        let mut f = fixture();
        f.quota.max_cpu_shares = 0;
        let (_, shares) = limits(&http_server(), &f.defaults, &f.quota);
        assert_eq!(shares, 2);
    }
}
