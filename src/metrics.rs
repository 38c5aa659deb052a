//! The portal's Prometheus metrics (`GET /metrics`), in the `mcp_portal_` namespace: one
//! registry per process, shared by every clone of the portal. Counters move where things
//! happen (an audited action, a reconcile pass, a health check, an API or MCP request);
//! gauges of containers and per-user usage are set from one reading just before each
//! scrape is encoded.
//!
//! The MCP names follow ToolHive's (`toolhive_mcp_requests`, `..._request_duration`,
//! `..._active_connections`) where they fit.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;
type Counters = Family<Labels, Counter>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn seconds() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// One user's figures against their quota, for the usage gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUsage {
    pub user: String,
    pub containers: u64,
    pub max_containers: u64,
    pub memory_reserved_bytes: u64,
    pub max_memory_bytes: u64,
    pub cpu_shares_reserved: u64,
    pub max_cpu_shares: u64,
    /// From the engine's sampled stats; `None` before the first sample.
    pub memory_used_bytes: Option<u64>,
    pub cpu_used_ratio: Option<f64>,
}

/// What the gauges show at one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// `(user, state)` and how many containers are in it.
    pub containers: Vec<((String, String), u64)>,
    pub users: Vec<UserUsage>,
    /// Open MCP gateway sessions.
    pub mcp_sessions: u64,
}

/// How long after a scrape the daemon keeps sampling containers' memory for the next.
pub const SAMPLE_AFTER_SCRAPE: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct Metrics {
    /// When the last scrape came, in seconds since this process started (0: never).
    last_scrape: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
    registry: Registry,
    /// Held from setting the gauges to encoding them, so two scrapes at once never see
    /// each other's half-set gauges.
    scrape: std::sync::Mutex<()>,
    actions: Counters,
    reconcile_duration: Histograms,
    reconcile_actions: Counters,
    health_failures: Counters,
    api_requests: Counters,
    api_duration: Histograms,
    mcp_requests: Counters,
    mcp_duration: Histograms,
    mcp_sessions: Gauges,
    containers: Gauges,
    usage: Gauges,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mcp_portal");
        let hist = || Histograms::new_with_constructor(seconds as fn() -> Histogram);
        let m = Self {
            last_scrape: AtomicU64::new(0),
            started: std::time::Instant::now(),
            registry: Registry::default(),
            scrape: std::sync::Mutex::new(()),
            actions: Counters::default(),
            reconcile_duration: hist(),
            reconcile_actions: Counters::default(),
            health_failures: Counters::default(),
            api_requests: Counters::default(),
            api_duration: hist(),
            mcp_requests: Counters::default(),
            mcp_duration: hist(),
            mcp_sessions: Gauges::default(),
            containers: Gauges::default(),
            usage: Gauges::default(),
        };
        registry.register(
            "actions",
            "Audited actions (server.enable, server.disable, server.restart, ...) by result: ok, refused, failed",
            m.actions.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long a reconcile pass took",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "reconcile_actions",
            "What reconcile passes did, by kind",
            m.reconcile_actions.clone(),
        );
        registry.register(
            "health_check_failures",
            "Failed health checks, by container",
            m.health_failures.clone(),
        );
        registry.register(
            "api_requests",
            "HTTP API requests by route and status",
            m.api_requests.clone(),
        );
        registry.register(
            "api_request_duration_seconds",
            "HTTP API request duration by route",
            m.api_duration.clone(),
        );
        registry.register(
            "mcp_requests",
            "MCP requests through the gateway by method, server and outcome",
            m.mcp_requests.clone(),
        );
        registry.register(
            "mcp_request_duration_seconds",
            "MCP request duration through the gateway by method and server",
            m.mcp_duration.clone(),
        );
        registry.register(
            "mcp_active_connections",
            "Open MCP gateway sessions",
            m.mcp_sessions.clone(),
        );
        registry.register(
            "containers",
            "Managed containers by user and state",
            m.containers.clone(),
        );
        registry.register(
            "user_usage",
            "Per-user usage and quota: containers, memory_reserved_bytes, cpu_shares_reserved, memory_used_bytes, cpu_used_ratio and their max_ limits",
            m.usage.clone(),
        );
        Self { registry, ..m }
    }

    /// Notes a scrape, so that the daemon samples for the next one.
    pub fn scraped(&self) {
        let now = self.started.elapsed().as_secs().max(1);
        self.last_scrape
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a scraper came within [`SAMPLE_AFTER_SCRAPE`].
    pub fn scraped_lately(&self) -> bool {
        let last = self.last_scrape.load(std::sync::atomic::Ordering::Relaxed);
        last > 0
            && self.started.elapsed().as_secs().saturating_sub(last) < SAMPLE_AFTER_SCRAPE.as_secs()
    }

    /// An audited action and its result (`ok`, `refused`, `failed`).
    pub fn action(&self, action: &str, result: &str) {
        self.actions
            .get_or_create(&labels(&[("action", action), ("result", result)]))
            .inc();
    }

    /// A reconcile pass: how long it took and how many actions of each kind it ran.
    pub fn reconcile(&self, took: Duration, actions: &[(&str, u64)]) {
        self.reconcile_duration
            .get_or_create(&Vec::new())
            .observe(took.as_secs_f64());
        for (kind, n) in actions {
            self.reconcile_actions
                .get_or_create(&labels(&[("kind", kind)]))
                .inc_by(*n);
        }
    }

    /// A failed health check of a container (its name says whose server it is).
    pub fn health_failure(&self, container: &str) {
        self.health_failures
            .get_or_create(&labels(&[("container", container)]))
            .inc();
    }

    /// An API request, by its route's pattern (never the path itself, which names users).
    pub fn api_request(&self, route: &str, status: u16, took: Duration) {
        self.api_requests
            .get_or_create(&labels(&[
                ("route", route),
                ("status", &status.to_string()),
            ]))
            .inc();
        self.api_duration
            .get_or_create(&labels(&[("route", route)]))
            .observe(took.as_secs_f64());
    }

    /// An MCP request through the gateway; `outcome` is `ok` or `error`.
    pub fn mcp_request(&self, method: &str, server: &str, outcome: &str, took: Duration) {
        self.mcp_requests
            .get_or_create(&labels(&[
                ("method", method),
                ("server", server),
                ("outcome", outcome),
            ]))
            .inc();
        self.mcp_duration
            .get_or_create(&labels(&[("method", method), ("server", server)]))
            .observe(took.as_secs_f64());
    }

    /// The Prometheus text format, with the gauges set from `reading`.
    pub fn encode(&self, reading: &Reading) -> String {
        // A poisoned lock only means another scrape panicked: the gauges are reset below.
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.mcp_sessions
            .get_or_create(&Vec::new())
            .set(reading.mcp_sessions as f64);
        self.containers.clear();
        for ((user, state), n) in &reading.containers {
            self.containers
                .get_or_create(&labels(&[("user", user), ("state", state)]))
                .set(*n as f64);
        }
        self.usage.clear();
        for u in &reading.users {
            let set = |what: &str, v: f64| {
                self.usage
                    .get_or_create(&labels(&[("user", &u.user), ("what", what)]))
                    .set(v);
            };
            set("containers", u.containers as f64);
            set("max_containers", u.max_containers as f64);
            set("memory_reserved_bytes", u.memory_reserved_bytes as f64);
            set("max_memory_bytes", u.max_memory_bytes as f64);
            set("cpu_shares_reserved", u.cpu_shares_reserved as f64);
            set("max_cpu_shares", u.max_cpu_shares as f64);
            if let Some(m) = u.memory_used_bytes {
                set("memory_used_bytes", m as f64);
            }
            if let Some(c) = u.cpu_used_ratio {
                set("cpu_used_ratio", c);
            }
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_by_what_happened_and_gauges_show_the_reading() {
        let m = Metrics::new();
        m.action("server.enable", "ok");
        m.action("server.enable", "ok");
        m.action("server.enable", "refused");
        m.api_request("/api/v1/users/{user}/status", 200, Duration::from_millis(3));
        m.reconcile(Duration::from_millis(12), &[("create", 2)]);
        let text = m.encode(&Reading {
            containers: vec![(("u1".into(), "running".into()), 2)],
            users: vec![UserUsage {
                user: "u1".into(),
                containers: 2,
                max_containers: 10,
                ..Default::default()
            }],
            mcp_sessions: 3,
        });
        for line in [
            "mcp_portal_actions_total{action=\"server.enable\",result=\"ok\"} 2",
            "mcp_portal_actions_total{action=\"server.enable\",result=\"refused\"} 1",
            "mcp_portal_api_requests_total{route=\"/api/v1/users/{user}/status\",status=\"200\"} 1",
            "mcp_portal_reconcile_actions_total{kind=\"create\"} 2",
            "mcp_portal_reconcile_duration_seconds_count 1",
            "mcp_portal_containers{user=\"u1\",state=\"running\"} 2.0",
            "mcp_portal_user_usage{user=\"u1\",what=\"max_containers\"} 10.0",
            "mcp_portal_mcp_active_connections 3.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        // A reading replaces the last: a user gone is gone from the gauges.
        let text = m.encode(&Reading::default());
        assert!(!text.contains("user=\"u1\",state"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
