//! The portal's configuration: flags, then `MCP_PORTAL_*` environment variables, then
//! defaults, validated into one struct. Variables are read through a lookup function so
//! tests pass a map instead of changing the process environment.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::alloc::{Ipv4Net, Pools};
use crate::catalog::parse::{Limits, DEFAULT_MAX_BYTES};
use crate::catalog::units::{Cpus, Memory};
use crate::catalog::validate::Policy;
use crate::catalog::volume::HostPathPolicy;
use crate::ids::Label;
use crate::plan::{Defaults, Hardening, Quota};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {key}={value:?}: {expected}")]
pub struct ConfigError {
    pub key: &'static str,
    pub value: String,
    pub expected: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Catalog, overlay and custom-server files above this size are refused unread.
    pub max_catalog_bytes: u64,
    /// Host paths outside users' folders that catalogs may mount.
    pub allowed_host_paths: Vec<String>,
    pub runtime: Runtime,
    pub secrets: SecretsConfig,
    pub audit: crate::store::AuditPolicy,
    pub daemon: DaemonConfig,
}

/// How `portalctl serve` keeps actual state equal to desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonConfig {
    /// Reconcile at least this often, events or not.
    pub resync_secs: u64,
    pub update_policy: crate::reconcile::UpdatePolicy,
    /// Restarts of a failing container before it is marked failed.
    pub max_restarts: u32,
    /// The first restart waits this long; each next one twice as long (up to 5 minutes).
    pub backoff_ms: u64,
    /// Changes within this window are handled in one pass.
    pub debounce_ms: u64,
}

/// Where the secret key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `MCP_PORTAL_SECRET_ENCRYPTION_KEY`, already parsed.
    Env(crate::secrets::SecretKey),
    /// `MCP_PORTAL_SECRET_KEY_FILE`, or `secret.key` in the data folder; made on first use.
    File(PathBuf),
}

impl PartialEq for KeySource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (KeySource::Env(a), KeySource::Env(b)) => a.id() == b.id(),
            (KeySource::File(a), KeySource::File(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for KeySource {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsConfig {
    pub key: KeySource,
    /// A tmpfs-backed folder for secrets delivered as files, so they never reach a disk.
    pub tmpfs_dir: PathBuf,
}

pub const SECRET_KEY: &str = "MCP_PORTAL_SECRET_ENCRYPTION_KEY";
pub const SECRET_KEY_FILE: &str = "MCP_PORTAL_SECRET_KEY_FILE";

/// How user containers are made: pools, limits, hardening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// Labels every object, so several portals (or tests) can share one engine.
    pub instance: String,
    pub pools: Pools,
    pub bind_address: String,
    pub quota: Quota,
    pub defaults: Defaults,
    pub hardening: Hardening,
    pub max_concurrent_starts: usize,
    /// Remove a user's network when their last container goes.
    pub remove_empty_networks: bool,
    /// How long to watch a started container for an immediate crash (0: one look).
    pub start_grace_ms: u64,
    pub stop_timeout_secs: i32,
    /// Where the data folder is on the Docker host, when the portal itself runs in a
    /// container: users' folders are bind-mounted by their host path.
    pub host_data_dir: Option<String>,
}

fn parsed<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: T,
    expected: &'static str,
    ok: impl Fn(&T) -> bool,
) -> Result<T, ConfigError> {
    match lookup(key) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<T>() {
            Ok(t) if ok(&t) => Ok(t),
            _ => Err(ConfigError {
                key,
                value: v,
                expected,
            }),
        },
    }
}

fn with<T, E>(
    lookup: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: &str,
    expected: &'static str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    let value = lookup(key).unwrap_or_else(|| default.to_string());
    parse(value.trim()).map_err(|_| ConfigError {
        key,
        value,
        expected,
    })
}

impl Runtime {
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        host_paths: &[String],
    ) -> Result<Self, ConfigError> {
        let instance = with(
            lookup,
            "MCP_PORTAL_INSTANCE",
            "default",
            "1-64 letters, digits, '.', '_' or '-'",
            Label::parse,
        )?
        .to_string();
        let port_start = parsed(
            lookup,
            "MCP_PORTAL_PORT_RANGE_START",
            20000u16,
            "a port number from 1 to 65535",
            |p| *p > 0,
        )?;
        let port_end = parsed(
            lookup,
            "MCP_PORTAL_PORT_RANGE_END",
            29999u16,
            "a port number not below the range start",
            |p| *p >= port_start,
        )?;
        let per_user = parsed(
            lookup,
            "MCP_PORTAL_PORTS_PER_USER",
            100u16,
            "a positive number of ports",
            |p| *p > 0,
        )?;
        let base = with(
            lookup,
            "MCP_PORTAL_USER_NETWORK_SUBNET_BASE",
            "10.201.0.0/16",
            "an IPv4 network such as 10.201.0.0/16",
            Ipv4Net::parse,
        )?;
        let size = parsed(
            lookup,
            "MCP_PORTAL_USER_NETWORK_SUBNET_SIZE",
            24u8,
            "a prefix length such as 24",
            |p| *p <= 29,
        )?;
        let pools =
            Pools::new(port_start, port_end, per_user, base, size).map_err(|e| ConfigError {
                key: "MCP_PORTAL_PORT_RANGE_START",
                value: format!("{port_start}-{port_end}, {per_user} per user, {base} by /{size}"),
                expected: match e {
                    crate::alloc::AllocError::Config { expected, .. } => expected,
                    _ => "a consistent port range and subnet pool",
                },
            })?;
        let bind_address = with(
            lookup,
            "MCP_PORTAL_BIND_ADDRESS",
            "127.0.0.1",
            "an IP address such as 127.0.0.1",
            IpAddr::from_str,
        )?
        .to_string();
        let quota = Quota {
            max_containers: parsed(
                lookup,
                "MCP_PORTAL_USER_MAX_CONTAINERS",
                10,
                "a positive number",
                |n| *n > 0,
            )?,
            max_memory_mb: parsed(
                lookup,
                "MCP_PORTAL_USER_MAX_MEMORY_MB",
                2048,
                "a number of MiB, at least 6",
                |n| *n >= 6,
            )?,
            max_cpu_shares: parsed(
                lookup,
                "MCP_PORTAL_USER_MAX_CPU_SHARES",
                1024,
                "a number of CPU shares (1024 = one CPU), at least 2",
                |n| *n >= 2,
            )?,
        };
        let defaults = Defaults {
            memory: with(
                lookup,
                "MCP_PORTAL_DEFAULT_MEMORY",
                "256m",
                "a memory size such as 256m",
                Memory::parse,
            )?,
            cpus: with(
                lookup,
                "MCP_PORTAL_DEFAULT_CPUS",
                "0.5",
                "a number of CPUs such as 0.5",
                |t| {
                    t.parse::<f64>()
                        .map_err(|e| e.to_string())
                        .and_then(Cpus::from_f64)
                },
            )?,
            pids: parsed(
                lookup,
                "MCP_PORTAL_DEFAULT_PIDS",
                128,
                "a positive number of processes",
                |n| *n > 0,
            )?,
        };
        let allowed_caps = with(
            lookup,
            "MCP_PORTAL_ALLOWED_CAPS",
            "NET_BIND_SERVICE",
            "a comma-separated list of capabilities",
            |t| {
                let caps: Vec<String> = t
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
                if caps
                    .iter()
                    .all(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
                {
                    Ok(caps)
                } else {
                    Err(())
                }
            },
        )?;
        let hardening = Hardening {
            allow_root: parsed(
                lookup,
                "MCP_PORTAL_ALLOW_ROOT",
                false,
                "true or false",
                |_| true,
            )?,
            allowed_caps,
            log_max_size: with(
                lookup,
                "MCP_PORTAL_LOG_MAX_SIZE",
                "10m",
                "a size such as 10m",
                |t| {
                    Memory::parse(t)
                        .map(|_| t.to_string())
                        .or_else(|_| t.parse::<u64>().map(|_| t.to_string()).map_err(|_| ()))
                },
            )?,
            log_max_files: parsed(
                lookup,
                "MCP_PORTAL_LOG_MAX_FILES",
                3,
                "a positive number",
                |n| *n > 0,
            )?,
            tmp_size_mb: parsed(
                lookup,
                "MCP_PORTAL_TMP_SIZE_MB",
                64,
                "a positive number of MiB",
                |n| *n > 0,
            )?,
            host_paths: HostPathPolicy {
                allowed: host_paths.to_vec(),
            },
        };
        Ok(Self {
            instance,
            pools,
            bind_address,
            quota,
            defaults,
            hardening,
            max_concurrent_starts: parsed(
                lookup,
                "MCP_PORTAL_MAX_CONCURRENT_STARTS",
                5,
                "a positive number",
                |n| *n > 0,
            )?,
            remove_empty_networks: parsed(
                lookup,
                "MCP_PORTAL_REMOVE_EMPTY_NETWORKS",
                true,
                "true or false",
                |_| true,
            )?,
            start_grace_ms: parsed(
                lookup,
                "MCP_PORTAL_START_GRACE_MS",
                0,
                "a number of milliseconds",
                |n| *n <= 60_000,
            )?,
            stop_timeout_secs: parsed(
                lookup,
                "MCP_PORTAL_STOP_TIMEOUT",
                10,
                "a number of seconds from 0 to 300",
                |n| (0..=300).contains(n),
            )?,
            host_data_dir: match lookup("MCP_PORTAL_HOST_DATA_DIR").filter(|v| !v.trim().is_empty())
            {
                None => None,
                Some(v) if v.starts_with('/') && !v.split('/').any(|c| c == "..") => {
                    Some(v.trim_end_matches('/').to_string())
                }
                Some(v) => {
                    return Err(ConfigError {
                        key: "MCP_PORTAL_HOST_DATA_DIR",
                        value: v,
                        expected: "the absolute host path of the data folder",
                    })
                }
            },
        })
    }
}

pub const MAX_CATALOG_BYTES: &str = "MCP_PORTAL_MAX_CATALOG_BYTES";
pub const ALLOWED_HOST_PATHS: &str = "MCP_PORTAL_ALLOWED_HOST_PATHS";

impl Config {
    pub fn from_lookup(
        data_dir: PathBuf,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let max_catalog_bytes = match lookup(MAX_CATALOG_BYTES) {
            None => DEFAULT_MAX_BYTES,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(ConfigError {
                        key: MAX_CATALOG_BYTES,
                        value: v,
                        expected: "a positive number of bytes, e.g. 8388608",
                    })
                }
            },
        };
        let mut allowed_host_paths = Vec::new();
        if let Some(v) = lookup(ALLOWED_HOST_PATHS) {
            for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
                    return Err(ConfigError {
                        key: ALLOWED_HOST_PATHS,
                        value: v.clone(),
                        expected: "a comma-separated list of absolute paths without '..'",
                    });
                }
                allowed_host_paths.push(p.to_string());
            }
        }
        let runtime = Runtime::from_lookup(&lookup, &allowed_host_paths)?;
        let key = match (lookup(SECRET_KEY), lookup(SECRET_KEY_FILE)) {
            (Some(text), _) => {
                KeySource::Env(crate::secrets::SecretKey::parse(&text).map_err(|_| {
                    ConfigError {
                        key: SECRET_KEY,
                        // Never echo key material, even a malformed one.
                        value: "<hidden>".into(),
                        expected:
                            "32 bytes written as base64 (44 characters) or hex (64 characters)",
                    }
                })?)
            }
            (None, Some(path)) if !path.trim().is_empty() => {
                KeySource::File(PathBuf::from(path.trim()))
            }
            _ => KeySource::File(data_dir.join("secret.key")),
        };
        let tmpfs_dir = PathBuf::from(
            lookup("MCP_PORTAL_SECRETS_TMPFS").unwrap_or_else(|| "/dev/shm/mcp-portal".into()),
        );
        if !tmpfs_dir.is_absolute() {
            return Err(ConfigError {
                key: "MCP_PORTAL_SECRETS_TMPFS",
                value: tmpfs_dir.display().to_string(),
                expected: "an absolute path on a tmpfs, such as /dev/shm/mcp-portal",
            });
        }
        let secrets = SecretsConfig { key, tmpfs_dir };
        let audit = crate::store::AuditPolicy {
            enabled: parsed(
                &lookup,
                "MCP_PORTAL_AUDIT_LOGGING_ENABLED",
                true,
                "true or false",
                |_| true,
            )?,
            max_bytes: parsed(
                &lookup,
                "MCP_PORTAL_AUDIT_MAX_BYTES",
                10 << 20,
                "a number of bytes, at least 1024",
                |n| *n >= 1024,
            )?,
            keep: parsed(
                &lookup,
                "MCP_PORTAL_AUDIT_KEEP",
                5,
                "a number of rotated files",
                |n| *n <= 1000,
            )?,
        };
        let daemon = DaemonConfig {
            resync_secs: parsed(
                &lookup,
                "MCP_PORTAL_RESYNC_SECS",
                30,
                "a number of seconds from 1 to 86400",
                |n| (1..=86400).contains(n),
            )?,
            update_policy: with(
                &lookup,
                "MCP_PORTAL_UPDATE_POLICY",
                "recreate",
                "recreate or manual",
                |t| match t {
                    "recreate" => Ok(crate::reconcile::UpdatePolicy::Recreate),
                    "manual" => Ok(crate::reconcile::UpdatePolicy::Manual),
                    _ => Err(()),
                },
            )?,
            max_restarts: parsed(
                &lookup,
                "MCP_PORTAL_MAX_RESTARTS",
                5,
                "a number of restarts",
                |n| *n <= 1000,
            )?,
            backoff_ms: parsed(
                &lookup,
                "MCP_PORTAL_RESTART_BACKOFF_MS",
                1000,
                "a number of milliseconds from 10 to 600000",
                |n| (10..=600_000).contains(n),
            )?,
            debounce_ms: parsed(
                &lookup,
                "MCP_PORTAL_DEBOUNCE_MS",
                200,
                "a number of milliseconds up to 10000",
                |n| *n <= 10_000,
            )?,
        };
        Ok(Self {
            data_dir,
            max_catalog_bytes,
            allowed_host_paths,
            runtime,
            secrets,
            audit,
            daemon,
        })
    }

    pub fn from_env(data_dir: PathBuf) -> Result<Self, ConfigError> {
        Self::from_lookup(data_dir, |k| std::env::var(k).ok())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_catalog_bytes,
            policy: Policy {
                host_paths: HostPathPolicy {
                    allowed: self.allowed_host_paths.clone(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup("data".into(), |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.max_catalog_bytes, 8 * 1024 * 1024);
        assert!(c.allowed_host_paths.is_empty());
    }

    #[test]
    fn bad_values_name_the_key_and_the_value() {
        let e = config(&[(MAX_CATALOG_BYTES, "lots")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid MCP_PORTAL_MAX_CATALOG_BYTES=\"lots\": a positive number of bytes, e.g. 8388608"
        );
        assert!(config(&[(ALLOWED_HOST_PATHS, "/srv,relative")]).is_err());
        assert!(config(&[(ALLOWED_HOST_PATHS, "/srv/../etc")]).is_err());
    }

    #[test]
    fn runtime_defaults_follow_the_seed() {
        let r = config(&[]).unwrap().runtime;
        assert_eq!(
            (r.pools.port_start, r.pools.port_end, r.pools.ports_per_user),
            (20000, 29999, 100)
        );
        assert_eq!(r.pools.subnet(0).to_string(), "10.201.0.0/24");
        assert_eq!(
            r.quota,
            Quota {
                max_containers: 10,
                max_memory_mb: 2048,
                max_cpu_shares: 1024
            }
        );
        assert_eq!(r.bind_address, "127.0.0.1");
        assert_eq!(r.max_concurrent_starts, 5);
        assert!(!r.hardening.allow_root);
    }

    #[test]
    fn bad_runtime_values_name_their_key() {
        for (key, value) in [
            ("MCP_PORTAL_PORT_RANGE_START", "0"),
            ("MCP_PORTAL_PORT_RANGE_END", "100"),
            ("MCP_PORTAL_USER_NETWORK_SUBNET_BASE", "10.0.0.1/16"),
            ("MCP_PORTAL_BIND_ADDRESS", "localhost"),
            ("MCP_PORTAL_USER_MAX_MEMORY_MB", "lots"),
            ("MCP_PORTAL_ALLOW_ROOT", "yes"),
            ("MCP_PORTAL_DEFAULT_MEMORY", "1x"),
            ("MCP_PORTAL_INSTANCE", "a b"),
        ] {
            let e = config(&[(key, value)]).unwrap_err();
            assert_eq!(e.key, key, "{e}");
        }
    }

    #[test]
    fn a_bad_secret_key_is_refused_without_echoing_it() {
        let e = config(&[(SECRET_KEY, "tooshort")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid MCP_PORTAL_SECRET_ENCRYPTION_KEY=\"<hidden>\": 32 bytes written as base64 (44 characters) or hex (64 characters)"
        );
        let good = "0".repeat(64);
        assert!(matches!(
            config(&[(SECRET_KEY, &good)]).unwrap().secrets.key,
            KeySource::Env(_)
        ));
        assert_eq!(
            config(&[]).unwrap().secrets.key,
            KeySource::File(PathBuf::from("data/secret.key"))
        );
    }

    #[test]
    fn host_paths_are_a_comma_list() {
        let c = config(&[(ALLOWED_HOST_PATHS, "/srv/shared, /var/run/docker.sock")]).unwrap();
        assert_eq!(
            c.allowed_host_paths,
            ["/srv/shared", "/var/run/docker.sock"]
        );
    }
}
