//! The table of every environment variable the portal reads, in the README's order:
//! `Config::from_lookup` validates with these entries and `markdown_table` documents
//! them, so a new key is added here once.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use super::key::{comma_list, has_dot_dot, number, Documented, Elsewhere, Key};
use crate::alloc::Ipv4Net;
use crate::catalog::units::{Cpus, Duration, Memory};
use crate::ids::Label;
use crate::reconcile::UpdatePolicy;
use crate::secrets::SecretKey;

pub const DATA_DIR: Elsewhere = Elsewhere {
    name: "MCP_PORTAL_DATA_DIR",
    shown: "`./data`",
    doc: "the data folder (also `--data-dir`)",
};
pub const MAX_CATALOG_BYTES: Key<u64> = Key::new(
    "MCP_PORTAL_MAX_CATALOG_BYTES",
    number,
    "larger catalog, overlay and custom files are refused unread",
)
.default("8388608")
.check(|n| *n > 0, "a positive number of bytes, e.g. 8388608");
pub const ALLOWED_HOST_PATHS: Key<Vec<String>> = Key::new(
    "MCP_PORTAL_ALLOWED_HOST_PATHS",
    |t| Some(comma_list(t)),
    "comma-separated absolute host paths catalogs may mount",
)
.default("")
.check(
    |paths| paths.iter().all(|p| p.starts_with('/') && !has_dot_dot(p)),
    "a comma-separated list of absolute paths without '..'",
);
pub const INSTANCE: Key<String> = Key::new(
    "MCP_PORTAL_INSTANCE",
    |t| Label::parse(t.trim()).ok().map(|l| l.to_string()),
    "labels every Docker object; portals (and tests) with different instances ignore each other's. Unset, the data folder's own id is used: a random one recorded in `<data>/instance` when the folder is made",
)
.shown("the data folder's")
.check(|_| true, "1-64 letters, digits, '.', '_' or '-'");
pub const PORT_RANGE_START: Key<u16> = Key::new(
    "MCP_PORTAL_PORT_RANGE_START",
    number,
    "the first host port users' servers are published on",
)
.default("20000")
.check(|p| *p > 0, "a port number from 1 to 65535");
/// Also checked against the range start, in `Runtime::from_lookup`.
pub const PORT_RANGE_END: Key<u16> = Key::new(
    "MCP_PORTAL_PORT_RANGE_END",
    number,
    "the last host port users' servers are published on",
)
.default("29999")
.check(|_| true, "a port number not below the range start");
pub const PORTS_PER_USER: Key<u16> = Key::new(
    "MCP_PORTAL_PORTS_PER_USER",
    number,
    "the size of each user's port block",
)
.default("100")
.check(|p| *p > 0, "a positive number of ports");
pub const BIND_ADDRESS: Key<String> = Key::new(
    "MCP_PORTAL_BIND_ADDRESS",
    |t| IpAddr::from_str(t.trim()).ok().map(|a| a.to_string()),
    "the host address ports are published on",
)
.default("127.0.0.1")
.check(|_| true, "an IP address such as 127.0.0.1");
pub const SUBNET_BASE: Key<Ipv4Net> = Key::new(
    "MCP_PORTAL_USER_NETWORK_SUBNET_BASE",
    |t| Ipv4Net::parse(t.trim()).ok(),
    "the pool users' subnets are cut from (clear of Docker's default pools)",
)
.default("10.201.0.0/16")
.check(|_| true, "an IPv4 network such as 10.201.0.0/16");
pub const SUBNET_SIZE: Key<u8> = Key::new(
    "MCP_PORTAL_USER_NETWORK_SUBNET_SIZE",
    number,
    "prefix length of each user's subnet",
)
.default("24")
.check(|p| *p <= 29, "a prefix length such as 24");
/// Also checked against the users' pool, in `Runtime::from_lookup`.
pub const EGRESS_SUBNET_BASE: Key<Ipv4Net> = Key::new(
    "MCP_PORTAL_EGRESS_SUBNET_BASE",
    |t| Ipv4Net::parse(t.trim()).ok(),
    "the pool of users' internal networks (for servers with `allow_hosts`), cut like the users' pool: user `n` gets the `n`th subnet",
)
.default("10.200.0.0/16")
.check(
    |_| true,
    "an IPv4 network such as 10.200.0.0/16, at least as large as MCP_PORTAL_USER_NETWORK_SUBNET_BASE",
);
pub const EGRESS_NETWORK: Key<String> = Key::new(
    "MCP_PORTAL_EGRESS_NETWORK",
    |t| {
        let t = t.trim();
        let ok = t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && t.len() <= 128
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        ok.then(|| t.to_string())
    },
    "the network egress proxies reach allowed hosts through; made as a bridge with inter-container traffic off if missing",
)
.default("mcp-portal-egress")
.check(|_| true, "a Docker network name such as mcp-portal-egress");
pub const EGRESS_IMAGE: Key<String> = Key::new(
    "MCP_PORTAL_EGRESS_IMAGE",
    |t| {
        crate::catalog::image::ImageRef::parse(t.trim())
            .ok()
            .map(|_| t.trim().to_string())
    },
    "the egress proxy's image (`scripts/build-images.sh` builds it)",
)
.default("mcp-egress-proxy:latest")
.check(
    |_| true,
    "an image reference such as mcp-egress-proxy:latest",
);
pub const MAX_CONTAINERS: Key<u32> =
    Key::new("MCP_PORTAL_USER_MAX_CONTAINERS", number, "per-user quota")
        .default("10")
        .check(|n| *n > 0, "a positive number");
pub const MAX_SECRETS: Key<usize> = Key::new(
    "MCP_PORTAL_USER_MAX_SECRETS",
    number,
    "per-user: how many secrets a user may keep (each value at most 64 KiB)",
)
.default("100")
.check(|n| *n > 0, "a positive number");
pub const MAX_MEMORY_MB: Key<u64> =
    Key::new("MCP_PORTAL_USER_MAX_MEMORY_MB", number, "per-user quota")
        // Ten servers of the default 256m: the defaults fit MAX_CONTAINERS servers.
        .default("2560")
        .check(|n| *n >= 6, "a number of MiB, at least 6");
pub const MAX_CPU_SHARES: Key<u64> = Key::new(
    "MCP_PORTAL_USER_MAX_CPU_SHARES",
    number,
    "per-user quota (1024 = one CPU)",
)
// Ten servers of the default 0.5 CPU.
.default("5120")
.check(
    |n| *n >= 2,
    "a number of CPU shares (1024 = one CPU), at least 2",
);
pub const DEFAULT_MEMORY: Key<Memory> = Key::new(
    "MCP_PORTAL_DEFAULT_MEMORY",
    |t| Memory::parse(t.trim()).ok(),
    "memory for definitions that name none",
)
.default("256m")
.check(|_| true, "a memory size such as 256m");
pub const DEFAULT_CPUS: Key<Cpus> = Key::new(
    "MCP_PORTAL_DEFAULT_CPUS",
    |t| number::<f64>(t).and_then(|f| Cpus::from_f64(f).ok()),
    "CPUs for definitions that name none",
)
.default("0.5")
.check(|_| true, "a number of CPUs such as 0.5");
pub const DEFAULT_PIDS: Key<u32> = Key::new(
    "MCP_PORTAL_DEFAULT_PIDS",
    number,
    "processes for definitions that name none",
)
.default("128")
.check(|n| *n > 0, "a positive number of processes");
pub const ALLOW_ROOT: Key<bool> = Key::new(
    "MCP_PORTAL_ALLOW_ROOT",
    number,
    "whether a definition may run as root",
)
.default("false")
.check(|_| true, "true or false");
pub const ALLOWED_CAPS: Key<Vec<String>> = Key::new(
    "MCP_PORTAL_ALLOWED_CAPS",
    |t| Some(comma_list(t)),
    "capabilities a definition may add back",
)
.default("NET_BIND_SERVICE")
.check(
    |caps| {
        caps.iter()
            .all(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
    },
    "a comma-separated list of capabilities",
);
pub const ALLOW_WRITABLE_ROOTFS: Key<bool> = Key::new(
    "MCP_PORTAL_ALLOW_WRITABLE_ROOTFS",
    number,
    "whether a definition may ask for a writable root filesystem (`writable_rootfs`)",
)
.default("false")
.check(|_| true, "true or false");
pub const MAX_SERVER_MEMORY: Key<Memory> = Key::new(
    "MCP_PORTAL_MAX_SERVER_MEMORY",
    |t| Memory::parse(t.trim()).ok(),
    "the most memory one definition may ask for; a catalog asking more is refused",
)
.default("4g")
.check(
    |_| true,
    "a memory size such as 4g, at least MCP_PORTAL_DEFAULT_MEMORY",
);
pub const MAX_SERVER_CPUS: Key<Cpus> = Key::new(
    "MCP_PORTAL_MAX_SERVER_CPUS",
    |t| number::<f64>(t).and_then(|f| Cpus::from_f64(f).ok()),
    "the most CPUs one definition may ask for",
)
.default("4")
.check(
    |_| true,
    "a number of CPUs such as 4, at least MCP_PORTAL_DEFAULT_CPUS",
);
pub const MAX_SERVER_PIDS: Key<u32> = Key::new(
    "MCP_PORTAL_MAX_SERVER_PIDS",
    number,
    "the most processes one definition may ask for",
)
.default("4096")
.check(
    |n| *n > 0,
    "a positive number of processes, at least MCP_PORTAL_DEFAULT_PIDS",
);
pub const LOG_MAX_SIZE: Key<String> = Key::new(
    "MCP_PORTAL_LOG_MAX_SIZE",
    |t| {
        let t = t.trim();
        (Memory::parse(t).is_ok() || t.parse::<u64>().is_ok()).then(|| t.to_string())
    },
    "container log cap: the size of each log file",
)
.default("10m")
.check(|_| true, "a size such as 10m");
pub const LOG_MAX_FILES: Key<u32> = Key::new(
    "MCP_PORTAL_LOG_MAX_FILES",
    number,
    "container log cap: the number of log files",
)
.default("3")
.check(|n| *n > 0, "a positive number");
pub const TMP_SIZE_MB: Key<u32> = Key::new(
    "MCP_PORTAL_TMP_SIZE_MB",
    number,
    "the tmpfs `/tmp` of read-only containers",
)
.default("64")
.check(|n| *n > 0, "a positive number of MiB");
pub const USER_UID_BASE: Key<u32> = Key::new(
    "MCP_PORTAL_USER_UID_BASE",
    number,
    "each user's containers get their own gid (and uid, where the image names none): this plus the user's block",
)
.default("200000")
.check(
    |n| (1000..=2_000_000_000).contains(n),
    "a number from 1000 to 2000000000, above the host's own users",
);
pub const MAX_CONCURRENT_STARTS: Key<usize> = Key::new(
    "MCP_PORTAL_MAX_CONCURRENT_STARTS",
    number,
    "creates and starts towards Docker at once (per process)",
)
.default("5")
.check(|n| *n > 0, "a positive number");
pub const REMOVE_EMPTY_NETWORKS: Key<bool> = Key::new(
    "MCP_PORTAL_REMOVE_EMPTY_NETWORKS",
    number,
    "remove a user's network with their last container",
)
.default("true")
.check(|_| true, "true or false");
pub const START_GRACE_MS: Key<u64> = Key::new(
    "MCP_PORTAL_START_GRACE_MS",
    number,
    "how long to watch a started container for a crash (0: one look)",
)
.default("0")
.check(|n| *n <= 60_000, "a number of milliseconds");
pub const STOP_TIMEOUT: Key<i32> = Key::new(
    "MCP_PORTAL_STOP_TIMEOUT",
    number,
    "seconds a container gets to stop on disable",
)
.default("10")
.check(
    |n| (0..=300).contains(n),
    "a number of seconds from 0 to 300",
);
pub const SECRET_KEY: Key<SecretKey> = Key::new(
    "MCP_PORTAL_SECRET_ENCRYPTION_KEY",
    |t| SecretKey::parse(t).ok(),
    "the secret key: 32 bytes as base64 or hex",
)
.check(
    |_| true,
    "32 bytes written as base64 (44 characters) or hex (64 characters)",
)
.secret();
/// Blank reads as unset; the data folder's `secret.key` is the fallback.
pub const SECRET_KEY_FILE: Key<Option<PathBuf>> = Key::new(
    "MCP_PORTAL_SECRET_KEY_FILE",
    |t| Some((!t.trim().is_empty()).then(|| PathBuf::from(t.trim()))),
    "the key file, when the key is not in the environment",
)
.shown("`DATA/secret.key`");
pub const SECRETS_TMPFS: Key<PathBuf> = Key::new(
    "MCP_PORTAL_SECRETS_TMPFS",
    |t| Some(PathBuf::from(t)),
    "the tmpfs folder for secrets given as files",
)
.default("/dev/shm/mcp-portal")
.check(
    |p| p.is_absolute(),
    "an absolute path on a tmpfs, such as /dev/shm/mcp-portal",
);
pub const RESYNC_SECS: Key<u64> = Key::new(
    "MCP_PORTAL_RESYNC_SECS",
    number,
    "the daemon reconciles at least this often",
)
.default("30")
.check(
    |n| (1..=86400).contains(n),
    "a number of seconds from 1 to 86400",
);
pub const UPDATE_POLICY: Key<UpdatePolicy> = Key::new(
    "MCP_PORTAL_UPDATE_POLICY",
    |t| match t.trim() {
        "recreate" => Some(UpdatePolicy::Recreate),
        "manual" => Some(UpdatePolicy::Manual),
        _ => None,
    },
    "`recreate` containers whose definition changed, or `manual`: only mark them outdated",
)
.default("recreate")
.check(|_| true, "recreate or manual");
pub const MAX_RESTARTS: Key<u32> = Key::new(
    "MCP_PORTAL_MAX_RESTARTS",
    number,
    "restarts before a failing server is marked failed",
)
.default("5")
.check(|n| *n <= 1000, "a number of restarts");
pub const MAX_REMOVALS_PER_PASS: Key<usize> = Key::new(
    "MCP_PORTAL_MAX_REMOVALS_PER_PASS",
    number,
    "the daemon removes no orphaned containers in a pass that would remove more (a damaged data folder looks like many disables)",
)
.default("20")
.check(|n| *n >= 1, "a number of containers, at least 1");
pub const IDLE_TIMEOUT: Key<u64> = Key::new(
    "MCP_PORTAL_IDLE_TIMEOUT",
    idle_millis,
    "the daemon stops a server with no MCP request for this long (a server's own `idle_timeout` wins); the next request through the gateway starts it again; `0`: never",
)
.default("0")
.check(
    |_| true,
    "`0` (never) or a duration such as 30s, 15m or 2h (at most 24h)",
);
pub const RESTART_BACKOFF_MS: Key<u64> = Key::new(
    "MCP_PORTAL_RESTART_BACKOFF_MS",
    number,
    "the first restart's delay, doubling after each",
)
.default("1000")
.check(
    |n| (10..=600_000).contains(n),
    "a number of milliseconds from 10 to 600000",
);
pub const DEBOUNCE_MS: Key<u64> = Key::new(
    "MCP_PORTAL_DEBOUNCE_MS",
    number,
    "changes within this window are handled in one pass",
)
.default("200")
.check(|n| *n <= 10_000, "a number of milliseconds up to 10000");
pub const AUDIT_ENABLED: Key<bool> = Key::new(
    "MCP_PORTAL_AUDIT_LOGGING_ENABLED",
    number,
    "write the audit log",
)
.default("true")
.check(|_| true, "true or false");
pub const AUDIT_MAX_BYTES: Key<u64> = Key::new(
    "MCP_PORTAL_AUDIT_MAX_BYTES",
    number,
    "audit log rotation: the size at which the log is rotated",
)
.default("10485760")
.check(|n| *n >= 1024, "a number of bytes, at least 1024");
pub const AUDIT_KEEP: Key<u32> = Key::new(
    "MCP_PORTAL_AUDIT_KEEP",
    number,
    "audit log rotation: the rotated files kept",
)
.default("5")
.check(|n| *n <= 1000, "a number of rotated files");
pub const ACTOR: Elsewhere = Elsewhere {
    name: "MCP_PORTAL_ACTOR",
    shown: "the login name",
    doc: "who the CLI acts as in the audit log",
};
pub const API_RATE_PER_SEC: Key<f64> = Key::new(
    "MCP_PORTAL_API_RATE_PER_SEC",
    number,
    "API requests per second per token",
)
.default("50")
.check(
    |r| r.is_finite() && *r > 0.0,
    "a positive number of requests per second, such as 50",
);
pub const AUTH_FAILURES_PER_MIN: Key<f64> = Key::new(
    "MCP_PORTAL_AUTH_FAILURES_PER_MIN",
    number,
    "failed authentications per minute per client address, at the API and the MCP gateway alike; beyond them the address gets 429 for every request until its budget refills",
)
.default("30")
.check(
    |r| r.is_finite() && *r > 0.0,
    "a positive number of failures per minute, such as 30",
);
pub const TRUSTED_PROXIES: Key<Vec<IpAddr>> = Key::new(
    "MCP_PORTAL_TRUSTED_PROXIES",
    |t| {
        comma_list(t)
            .iter()
            .map(|a| IpAddr::from_str(a).ok())
            .collect()
    },
    "reverse proxies (IP addresses, comma-separated) whose `X-Forwarded-For` names the client; from any other peer the header is ignored",
)
.default("")
.check(|_| true, "a comma-separated list of IP addresses such as 127.0.0.1");
pub const EVENT_STREAMS_PER_TOKEN: Key<usize> = Key::new(
    "MCP_PORTAL_EVENT_STREAMS_PER_TOKEN",
    number,
    "event streams (`GET /api/v1/events` and `/api/v1/ws`) one token may hold open at once",
)
.default("4")
.check(|n| *n > 0, "a positive number of streams");
pub const MCP_REQUEST_TIMEOUT_SECS: Key<u64> = Key::new(
    "MCP_PORTAL_MCP_REQUEST_TIMEOUT_SECS",
    number,
    "the MCP gateway: how long one request may take before it is answered with an error",
)
.default("60")
.check(|n| *n > 0, "a positive number of seconds");
pub const MCP_SESSION_IDLE_SECS: Key<u64> = Key::new(
    "MCP_PORTAL_MCP_SESSION_IDLE_SECS",
    number,
    "the MCP gateway: a session (and an attachment to a server) unused this long is dropped",
)
.default("1800")
.check(|n| *n > 0, "a positive number of seconds");
pub const MCP_ALLOWED_HOSTS: Key<Vec<String>> = Key::new(
    "MCP_PORTAL_MCP_ALLOWED_HOSTS",
    |t| Some(comma_list(t)),
    "the MCP gateway: the `Host` names it answers (behind a reverse proxy, add its name; `*` for any)",
)
.default("localhost,127.0.0.1,[::1]")
.check(|hosts| !hosts.is_empty(), "a comma-separated list of host names");
pub const MCP_ALLOWED_ORIGINS: Key<Vec<String>> = Key::new(
    "MCP_PORTAL_MCP_ALLOWED_ORIGINS",
    |t| Some(comma_list(t)),
    "the MCP gateway: browser origins allowed besides those of the allowed hosts (e.g. `https://ide.example.com`)",
)
.default("")
.check(|_| true, "a comma-separated list of origins");
pub const MCP_MAX_MESSAGE_BYTES: Key<usize> = Key::new(
    "MCP_PORTAL_MCP_MAX_MESSAGE_BYTES",
    number,
    "the MCP gateway: larger request bodies are refused (413)",
)
.default("4194304")
.check(|n| *n >= 1024, "a number of bytes, at least 1024");
pub const MCP_RATE_PER_SEC: Key<f64> = Key::new(
    "MCP_PORTAL_MCP_RATE_PER_SEC",
    number,
    "the MCP gateway: requests per second per token (bursts of twice that)",
)
.default("200")
.check(
    |r| r.is_finite() && *r > 0.0,
    "a positive number of requests per second, such as 200",
);
pub const AUDIT_TOOL_ARGUMENTS: Key<bool> = Key::new(
    "MCP_PORTAL_AUDIT_TOOL_ARGUMENTS",
    number,
    "the MCP gateway: also write tool calls' arguments and results to the audit log",
)
.default("false")
.check(|_| true, "true or false");
/// Blank reads as unset.
pub const HOST_DATA_DIR: Key<Option<String>> = Key::new(
    "MCP_PORTAL_HOST_DATA_DIR",
    |t| Some((!t.trim().is_empty()).then(|| t.to_string())),
    "the data folder's host path, when the portal runs in a container",
)
.default("")
.check(
    |v| {
        v.as_deref()
            .is_none_or(|p| p.starts_with('/') && !has_dot_dot(p))
    },
    "the absolute host path of the data folder",
);
pub const URL: Elsewhere = Elsewhere {
    name: "MCP_PORTAL_URL",
    shown: "none",
    doc: "the portal `--remote` uses",
};
pub const TOKEN: Elsewhere = Elsewhere {
    name: "MCP_PORTAL_TOKEN",
    shown: "none",
    doc: "the token `--remote` uses",
};
pub const CA_CERT: Elsewhere = Elsewhere {
    name: "MCP_PORTAL_CA_CERT",
    shown: "none",
    doc: "the CA certificate (PEM) that `--remote` and `connect` trust for an `https://` portal instead of the public roots (also `--ca-cert`)",
};
pub const LOG: Elsewhere = Elsewhere {
    name: "MCP_PORTAL_LOG",
    shown: "`info`",
    doc: "the daemon's log filter (`debug`, `warn`, ...)",
};
pub const DOCKER_HOST: Elsewhere = Elsewhere {
    name: "DOCKER_HOST",
    shown: "the local socket",
    doc: "where the Docker Engine is (API 1.41 / Engine 20.10 or newer)",
};

/// Every variable, in the order the README lists them.
pub const TABLE: &[&dyn Documented] = &[
    &DATA_DIR,
    &MAX_CATALOG_BYTES,
    &ALLOWED_HOST_PATHS,
    &INSTANCE,
    &PORT_RANGE_START,
    &PORT_RANGE_END,
    &PORTS_PER_USER,
    &BIND_ADDRESS,
    &SUBNET_BASE,
    &SUBNET_SIZE,
    &EGRESS_SUBNET_BASE,
    &EGRESS_NETWORK,
    &EGRESS_IMAGE,
    &MAX_CONTAINERS,
    &MAX_MEMORY_MB,
    &MAX_CPU_SHARES,
    &MAX_SECRETS,
    &DEFAULT_MEMORY,
    &DEFAULT_CPUS,
    &DEFAULT_PIDS,
    &ALLOW_ROOT,
    &ALLOWED_CAPS,
    &ALLOW_WRITABLE_ROOTFS,
    &MAX_SERVER_MEMORY,
    &MAX_SERVER_CPUS,
    &MAX_SERVER_PIDS,
    &LOG_MAX_SIZE,
    &LOG_MAX_FILES,
    &TMP_SIZE_MB,
    &USER_UID_BASE,
    &MAX_CONCURRENT_STARTS,
    &REMOVE_EMPTY_NETWORKS,
    &START_GRACE_MS,
    &STOP_TIMEOUT,
    &SECRET_KEY,
    &SECRET_KEY_FILE,
    &SECRETS_TMPFS,
    &RESYNC_SECS,
    &UPDATE_POLICY,
    &MAX_RESTARTS,
    &MAX_REMOVALS_PER_PASS,
    &IDLE_TIMEOUT,
    &RESTART_BACKOFF_MS,
    &DEBOUNCE_MS,
    &AUDIT_ENABLED,
    &AUDIT_MAX_BYTES,
    &AUDIT_KEEP,
    &ACTOR,
    &API_RATE_PER_SEC,
    &AUTH_FAILURES_PER_MIN,
    &TRUSTED_PROXIES,
    &EVENT_STREAMS_PER_TOKEN,
    &MCP_REQUEST_TIMEOUT_SECS,
    &MCP_SESSION_IDLE_SECS,
    &MCP_ALLOWED_HOSTS,
    &MCP_ALLOWED_ORIGINS,
    &MCP_MAX_MESSAGE_BYTES,
    &MCP_RATE_PER_SEC,
    &AUDIT_TOOL_ARGUMENTS,
    &HOST_DATA_DIR,
    &URL,
    &TOKEN,
    &CA_CERT,
    &LOG,
    &DOCKER_HOST,
];

/// An idle timeout in milliseconds: `0` for never, else a catalog duration.
fn idle_millis(text: &str) -> Option<u64> {
    if text.trim() == "0" {
        return Some(0);
    }
    Duration::parse(text).ok().map(Duration::millis)
}
