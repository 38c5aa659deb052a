//! Before any token is looked at: who is calling (the peer's address; with
//! `MCP_PORTAL_TRUSTED_PROXIES`, the client such a proxy names), a budget of failed
//! authentications per address, and the audit of failures: one line at an address's
//! first failure, then at most one a minute with the count, so that no flood of bad
//! requests can rotate the audit log's history away.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::config::ApiConfig;
use crate::manager::Portal;

/// Failures of an address within this long after its last audit line share one line.
pub(super) const WINDOW: Duration = Duration::from_secs(60);

/// Addresses tracked at once; beyond them new addresses share one budget.
const MAX_TRACKED: usize = 100_000;

/// Where all addresses beyond `MAX_TRACKED` are counted.
const OVERFLOW: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// Why a request failed to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    NoToken,
    UnknownToken,
}

/// What an address did since its last audit line.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    no_token: u64,
    unknown_token: u64,
    /// Requests refused by the budget, unchecked.
    limited: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.no_token + self.unknown_token + self.limited
    }

    fn detail(&self) -> String {
        let failed = self.no_token + self.unknown_token;
        let mut said = Vec::new();
        if failed > 0 {
            let kinds: Vec<String> = [
                (self.unknown_token, "unknown token"),
                (self.no_token, "no token"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{what} x{n}"))
            .collect();
            let plural = if failed == 1 { "" } else { "s" };
            said.push(format!(
                "{failed} failed authentication{plural} ({})",
                kinds.join(", ")
            ));
        }
        if self.limited > 0 {
            let more = if failed > 0 { " more" } else { "" };
            said.push(format!(
                "{}{more} requests refused unchecked (too many failures)",
                self.limited
            ));
        }
        said.join("; ")
    }
}

#[derive(Debug)]
struct Entry {
    /// The failure budget: refills at `per_sec`, holds at most `burst`.
    budget: f64,
    at: Instant,
    /// Since the last audit line, while failures keep coming.
    window: Option<(Instant, Counts)>,
}

/// The per-address budget and the failures waiting for their audit line.
#[derive(Debug)]
pub(super) struct Guard {
    entries: Mutex<HashMap<IpAddr, Entry>>,
    per_sec: f64,
    burst: f64,
    trusted: Vec<IpAddr>,
}

/// The key an address is counted under: an IPv6 client holds a whole /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl Guard {
    pub(super) fn new(config: &ApiConfig) -> Self {
        let burst = config.auth_failures_per_min.max(1.0);
        Self {
            entries: Mutex::new(HashMap::new()),
            per_sec: config.auth_failures_per_min / 60.0,
            burst,
            trusted: config.trusted_proxies.clone(),
        }
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not one of the trusted proxies.
    pub(super) fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |p| p.ip());
        if !self.trusted.contains(&peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in forwarded.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if self.trusted.contains(&ip) => continue,
                Ok(ip) => return ip,
                // A hop the proxy did not write cleanly: trust nothing before it.
                Err(_) => return peer,
            }
        }
        peer
    }

    fn with_entry<T>(&self, ip: IpAddr, f: impl FnOnce(&mut Entry, f64) -> T) -> T {
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-update: the map is
        // still a valid map, so keep using it.
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut k = key(ip);
        if !entries.contains_key(&k) && entries.len() >= MAX_TRACKED {
            k = OVERFLOW;
        }
        let e = entries.entry(k).or_insert(Entry {
            budget: self.burst,
            at: now,
            window: None,
        });
        e.budget =
            (e.budget + now.duration_since(e.at).as_secs_f64() * self.per_sec).min(self.burst);
        e.at = now;
        f(e, self.per_sec)
    }

    /// `Some(seconds to wait)` when the address has spent its budget; the request is
    /// then counted for the address's next audit line.
    pub(super) fn limited(&self, ip: IpAddr) -> Option<u64> {
        self.with_entry(ip, |e, per_sec| {
            if e.budget >= 1.0 {
                return None;
            }
            let (_, counts) = e.window.get_or_insert((Instant::now(), Counts::default()));
            counts.limited += 1;
            Some(((1.0 - e.budget) / per_sec).ceil().max(1.0) as u64)
        })
    }

    /// Spends one of the address's budget; `Some(line)` when this failure is to be
    /// audited at once (the first since the address's last line).
    pub(super) fn failed(&self, ip: IpAddr, why: Failure) -> Option<(u64, String)> {
        self.with_entry(ip, |e, _| {
            e.budget = (e.budget - 1.0).max(0.0);
            match &mut e.window {
                Some((_, counts)) => {
                    match why {
                        Failure::NoToken => counts.no_token += 1,
                        Failure::UnknownToken => counts.unknown_token += 1,
                    }
                    None
                }
                None => {
                    e.window = Some((Instant::now(), Counts::default()));
                    let mut one = Counts::default();
                    match why {
                        Failure::NoToken => one.no_token = 1,
                        Failure::UnknownToken => one.unknown_token = 1,
                    }
                    Some((1, one.detail()))
                }
            }
        })
    }

    /// The audit lines due: each address whose window is older than `older_than`
    /// (zero: every one) and saw failures gets one, and a new window; a quiet window
    /// closes, and an address with a full budget and nothing pending is forgotten.
    pub(super) fn due(&self, older_than: Duration) -> Vec<(IpAddr, u64, String)> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines = Vec::new();
        let now = Instant::now();
        for (ip, e) in entries.iter_mut() {
            let Some((opened, counts)) = e.window else {
                continue;
            };
            if now.duration_since(opened) < older_than {
                continue;
            }
            if counts.total() > 0 {
                lines.push((*ip, counts.total(), counts.detail()));
                e.window = Some((now, Counts::default()));
            } else {
                e.window = None;
            }
        }
        let (per_sec, burst) = (self.per_sec, self.burst);
        entries.retain(|_, e| {
            let budget = e.budget + now.duration_since(e.at).as_secs_f64() * per_sec;
            e.window.is_some() || budget < burst
        });
        lines
    }

    /// Writes the lines due to the audit log, off the async threads.
    pub(super) async fn flush(&self, portal: &Portal, older_than: Duration) {
        let lines = self.due(older_than);
        if lines.is_empty() {
            return;
        }
        let portal = portal.clone().with_actor("api");
        let _ = tokio::task::spawn_blocking(move || {
            for (ip, count, detail) in lines {
                portal.audit_refusals(&ip.to_string(), count, detail);
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(per_min: f64, trusted: &[&str]) -> Guard {
        Guard::new(&ApiConfig {
            auth_failures_per_min: per_min,
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            event_streams_per_token: 1,
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_that_spent_its_budget_waits_and_others_do_not() {
        let g = guard(3.0, &[]);
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(g.limited(a), None);
            g.failed(a, Failure::UnknownToken);
        }
        // One failure comes back every 20 s at 3 a minute.
        assert_eq!(g.limited(a), Some(20));
        assert_eq!(g.limited(ip("192.0.2.2")), None);
        // The same /64 is the same client.
        let v6 = ip("2001:db8::1");
        for _ in 0..3 {
            g.failed(v6, Failure::NoToken);
        }
        assert!(g.limited(ip("2001:db8::ffff")).is_some());
        assert_eq!(g.limited(ip("2001:db8:0:1::1")), None);
    }

    #[test]
    fn failures_are_audited_once_then_counted_into_one_line() {
        let g = guard(3.0, &[]);
        let a = ip("192.0.2.1");
        let first = g.failed(a, Failure::UnknownToken).unwrap();
        assert_eq!(
            first,
            (1, "1 failed authentication (unknown token x1)".into())
        );
        for _ in 0..4 {
            assert_eq!(g.failed(a, Failure::NoToken), None);
        }
        for _ in 0..100 {
            g.limited(a);
        }
        assert!(g.due(WINDOW).is_empty(), "the window is still open");
        let lines = g.due(Duration::ZERO);
        assert_eq!(lines.len(), 1);
        let (who, count, detail) = &lines[0];
        assert_eq!((*who, *count), (a, 104));
        assert_eq!(
            detail,
            "4 failed authentications (no token x4); 100 more requests refused unchecked (too many failures)"
        );
        // A quiet window closes: the next failure is a first one again.
        assert!(g.due(Duration::ZERO).is_empty());
        assert!(g.due(Duration::ZERO).is_empty());
        assert!(g.failed(a, Failure::NoToken).is_some());
        let only_limited = Counts {
            limited: 7,
            ..Counts::default()
        };
        assert_eq!(
            only_limited.detail(),
            "7 requests refused unchecked (too many failures)"
        );
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(guard(3.0, &[]).client(Some(peer), &h), ip("127.0.0.1"));
        let g = guard(3.0, &["127.0.0.1"]);
        assert_eq!(g.client(Some(peer), &h), ip("198.51.100.7"));
        let g = guard(3.0, &["127.0.0.1", "198.51.100.7"]);
        assert_eq!(g.client(Some(peer), &h), ip("203.0.113.9"));
        h.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(g.client(Some(peer), &h), ip("127.0.0.1"));
    }
}
