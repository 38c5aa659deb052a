//! The portal's configuration: flags, then `MCP_PORTAL_*` environment variables, then
//! defaults, validated into one struct. Variables are read through a lookup function so
//! tests pass a map instead of changing the process environment. Each variable's default,
//! parser, check and documentation are one entry of the table in `keys`.

mod key;
pub mod keys;

use std::path::PathBuf;

use crate::alloc::Pools;
use crate::catalog::bounds::Bounds;
use crate::catalog::parse::Limits;
use crate::catalog::validate::Policy;
use crate::catalog::volume::HostPathPolicy;
use crate::plan::{Defaults, Hardening, Quota};

pub use key::{Documented, Elsewhere, Key};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {key}={value:?}: {expected}")]
pub struct ConfigError {
    pub key: &'static str,
    pub value: String,
    pub expected: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Catalog, overlay and custom-server files above this size are refused unread.
    pub max_catalog_bytes: u64,
    /// How many secrets one user may keep.
    pub max_secrets: usize,
    /// Host paths outside users' folders that catalogs may mount.
    pub allowed_host_paths: Vec<String>,
    pub runtime: Runtime,
    pub secrets: SecretsConfig,
    pub audit: crate::store::AuditPolicy,
    pub daemon: DaemonConfig,
    /// API requests per second per token (bursts of twice that).
    pub api_rate_per_sec: f64,
    pub api: ApiConfig,
    pub gateway: GatewayConfig,
}

/// What the API allows each caller before and beyond authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// Failed authentications a minute per client address.
    pub auth_failures_per_min: f64,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub event_streams_per_token: usize,
}

/// The MCP gateway (`/mcp`) of `portalctl serve --listen`.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    pub request_timeout_secs: u64,
    pub session_idle_secs: u64,
    /// `Host` names answered; `*` answers any.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed besides `http(s)://` an allowed host.
    pub allowed_origins: Vec<String>,
    pub max_message_bytes: usize,
    pub rate_per_sec: f64,
    /// Tool calls' arguments and results go to the audit log too.
    pub audit_tool_arguments: bool,
}

// The one float, the API rate, is checked finite, so equality stays an equivalence.
impl Eq for Config {}

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
    /// A pass that would remove more orphaned containers than this removes none.
    pub max_removals: usize,
    /// A server without its own `idle_timeout` is stopped after this long without an MCP
    /// request; `None`: never.
    pub idle_timeout: Option<std::time::Duration>,
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

pub const SECRET_KEY: &str = keys::SECRET_KEY.name;
pub const SECRET_KEY_FILE: &str = keys::SECRET_KEY_FILE.name;
pub const MAX_CATALOG_BYTES: &str = keys::MAX_CATALOG_BYTES.name;
pub const ALLOWED_HOST_PATHS: &str = keys::ALLOWED_HOST_PATHS.name;

/// How user containers are made: pools, limits, hardening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The instance asked for (MCP_PORTAL_INSTANCE); unset, the data folder's own id is
    /// used (`Portal::instance`). It labels every object, so several portals (or tests)
    /// can share one engine.
    pub instance: Option<String>,
    pub pools: Pools,
    /// The pool of users' internal networks: user `n`'s is its `n`th subnet, of the
    /// users' subnet size.
    pub egress_subnet_base: crate::alloc::Ipv4Net,
    /// Where egress proxies reach out, and their image.
    pub egress: crate::plan::EgressSettings,
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

impl Runtime {
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        host_paths: &[String],
    ) -> Result<Self, ConfigError> {
        let defaults = Defaults {
            memory: keys::DEFAULT_MEMORY.value(lookup)?,
            cpus: keys::DEFAULT_CPUS.value(lookup)?,
            pids: keys::DEFAULT_PIDS.value(lookup)?,
        };
        let pools = pools(lookup)?;
        // Every block of the users' pool must have its subnet in the egress pool too.
        let egress_subnet_base =
            keys::EGRESS_SUBNET_BASE.value_and(lookup, |b| b.prefix <= pools.subnet_base.prefix)?;
        Ok(Self {
            instance: keys::INSTANCE.read(lookup)?,
            pools,
            egress_subnet_base,
            egress: crate::plan::EgressSettings {
                network: keys::EGRESS_NETWORK.value(lookup)?,
                image: keys::EGRESS_IMAGE.value(lookup)?,
            },
            bind_address: keys::BIND_ADDRESS.value(lookup)?,
            quota: Quota {
                max_containers: keys::MAX_CONTAINERS.value(lookup)?,
                max_memory_mb: keys::MAX_MEMORY_MB.value(lookup)?,
                max_cpu_shares: keys::MAX_CPU_SHARES.value(lookup)?,
            },
            defaults,
            hardening: Hardening {
                bounds: Bounds {
                    allow_root: keys::ALLOW_ROOT.value(lookup)?,
                    allowed_caps: keys::ALLOWED_CAPS.value(lookup)?,
                    allow_writable_rootfs: keys::ALLOW_WRITABLE_ROOTFS.value(lookup)?,
                    // No lower than the defaults, or a definition naming nothing would
                    // get more than one naming the most.
                    max_memory: keys::MAX_SERVER_MEMORY
                        .value_and(lookup, |m| *m >= defaults.memory)?,
                    max_cpus: keys::MAX_SERVER_CPUS.value_and(lookup, |c| *c >= defaults.cpus)?,
                    max_pids: keys::MAX_SERVER_PIDS.value_and(lookup, |p| *p >= defaults.pids)?,
                },
                log_max_size: keys::LOG_MAX_SIZE.value(lookup)?,
                log_max_files: keys::LOG_MAX_FILES.value(lookup)?,
                tmp_size_mb: keys::TMP_SIZE_MB.value(lookup)?,
                host_paths: HostPathPolicy {
                    allowed: host_paths.to_vec(),
                },
                uid_base: keys::USER_UID_BASE.value(lookup)?,
            },
            max_concurrent_starts: keys::MAX_CONCURRENT_STARTS.value(lookup)?,
            remove_empty_networks: keys::REMOVE_EMPTY_NETWORKS.value(lookup)?,
            start_grace_ms: keys::START_GRACE_MS.value(lookup)?,
            stop_timeout_secs: keys::STOP_TIMEOUT.value(lookup)?,
            host_data_dir: keys::HOST_DATA_DIR
                .value(lookup)?
                .map(|v| v.trim_end_matches('/').to_string()),
        })
    }
}

/// The port range and subnet pool, whose keys are only valid together.
fn pools(lookup: &impl Fn(&str) -> Option<String>) -> Result<Pools, ConfigError> {
    let port_start = keys::PORT_RANGE_START.value(lookup)?;
    let port_end = keys::PORT_RANGE_END.value_and(lookup, |p| *p >= port_start)?;
    let per_user = keys::PORTS_PER_USER.value(lookup)?;
    let base = keys::SUBNET_BASE.value(lookup)?;
    let size = keys::SUBNET_SIZE.value(lookup)?;
    Pools::new(port_start, port_end, per_user, base, size).map_err(|e| ConfigError {
        key: keys::PORT_RANGE_START.name,
        value: format!("{port_start}-{port_end}, {per_user} per user, {base} by /{size}"),
        expected: match e {
            crate::alloc::AllocError::Config { expected, .. } => expected,
            _ => "a consistent port range and subnet pool",
        },
    })
}

impl Config {
    pub fn from_lookup(
        data_dir: PathBuf,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let max_catalog_bytes = keys::MAX_CATALOG_BYTES.value(&lookup)?;
        let allowed_host_paths = keys::ALLOWED_HOST_PATHS.value(&lookup)?;
        let runtime = Runtime::from_lookup(&lookup, &allowed_host_paths)?;
        // A key in the environment wins; the key file is not even looked at then.
        let key = match keys::SECRET_KEY.read(&lookup)? {
            Some(key) => KeySource::Env(key),
            None => KeySource::File(
                keys::SECRET_KEY_FILE
                    .read(&lookup)?
                    .flatten()
                    .unwrap_or_else(|| crate::store::default_key_file(&data_dir)),
            ),
        };
        let secrets = SecretsConfig {
            key,
            tmpfs_dir: keys::SECRETS_TMPFS.value(&lookup)?,
        };
        let audit = crate::store::AuditPolicy {
            enabled: keys::AUDIT_ENABLED.value(&lookup)?,
            max_bytes: keys::AUDIT_MAX_BYTES.value(&lookup)?,
            keep: keys::AUDIT_KEEP.value(&lookup)?,
        };
        let daemon = DaemonConfig {
            resync_secs: keys::RESYNC_SECS.value(&lookup)?,
            update_policy: keys::UPDATE_POLICY.value(&lookup)?,
            max_restarts: keys::MAX_RESTARTS.value(&lookup)?,
            backoff_ms: keys::RESTART_BACKOFF_MS.value(&lookup)?,
            debounce_ms: keys::DEBOUNCE_MS.value(&lookup)?,
            max_removals: keys::MAX_REMOVALS_PER_PASS.value(&lookup)?,
            idle_timeout: match keys::IDLE_TIMEOUT.value(&lookup)? {
                0 => None,
                ms => Some(std::time::Duration::from_millis(ms)),
            },
        };
        Ok(Self {
            data_dir,
            max_catalog_bytes,
            max_secrets: keys::MAX_SECRETS.value(&lookup)?,
            allowed_host_paths,
            runtime,
            secrets,
            audit,
            daemon,
            api_rate_per_sec: keys::API_RATE_PER_SEC.value(&lookup)?,
            api: ApiConfig {
                auth_failures_per_min: keys::AUTH_FAILURES_PER_MIN.value(&lookup)?,
                trusted_proxies: keys::TRUSTED_PROXIES.value(&lookup)?,
                event_streams_per_token: keys::EVENT_STREAMS_PER_TOKEN.value(&lookup)?,
            },
            gateway: GatewayConfig {
                request_timeout_secs: keys::MCP_REQUEST_TIMEOUT_SECS.value(&lookup)?,
                session_idle_secs: keys::MCP_SESSION_IDLE_SECS.value(&lookup)?,
                allowed_hosts: keys::MCP_ALLOWED_HOSTS.value(&lookup)?,
                allowed_origins: keys::MCP_ALLOWED_ORIGINS.value(&lookup)?,
                max_message_bytes: keys::MCP_MAX_MESSAGE_BYTES.value(&lookup)?,
                rate_per_sec: keys::MCP_RATE_PER_SEC.value(&lookup)?,
                audit_tool_arguments: keys::AUDIT_TOOL_ARGUMENTS.value(&lookup)?,
            },
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
                bounds: self.runtime.hardening.bounds.clone(),
            },
            skip_invalid: false,
        }
    }
}

/// The README's configuration table, generated from `keys::TABLE`.
pub fn markdown_table() -> String {
    key::markdown_table(keys::TABLE)
}

#[cfg(test)]
mod tests;
