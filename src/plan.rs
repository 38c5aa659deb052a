//! Planning a user's container (pure): merged definition + the user's settings +
//! allocations + limits -> the exact container and network to create, with a hash of
//! the container spec. Same input, same spec, same hash; the engine only executes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::model::ServerDef;
use crate::catalog::template;
use crate::catalog::units::{Cpus, Memory};
use crate::catalog::validate::RESERVED_ENV;
use crate::catalog::volume::{HostPathPolicy, Source, UserDir, VolumeSpec};
use crate::ids::{check_env_name, UserId};

/// Label prefix of every object the portal makes.
pub const LABEL: &str = "io.mcp-portal";
pub const LABEL_MANAGED_BY: &str = "io.mcp-portal.managed-by";
pub const LABEL_INSTANCE: &str = "io.mcp-portal.instance";
pub const LABEL_USER: &str = "io.mcp-portal.user";
pub const LABEL_SERVER: &str = "io.mcp-portal.server";
pub const LABEL_SPEC_HASH: &str = "io.mcp-portal.spec-hash";
pub const LABEL_PORT: &str = "io.mcp-portal.port";
pub const LABEL_BLOCK: &str = "io.mcp-portal.block";
pub const LABEL_MEMORY: &str = "io.mcp-portal.memory";
pub const LABEL_CPU_SHARES: &str = "io.mcp-portal.cpu-shares";
pub const MANAGED_BY: &str = "mcp-portal";

/// Docker's CPU shares for one full CPU; quotas are counted in shares (seed 004).
pub const SHARES_PER_CPU: u64 = 1024;

/// What a user chose for one server: environment overrides and template parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

/// A user's ceilings (seed 004's per-user resource limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub max_containers: u32,
    pub max_memory_mb: u64,
    pub max_cpu_shares: u64,
}

/// Limits for definitions that name none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    pub memory: Memory,
    pub cpus: Cpus,
    pub pids: u32,
}

/// The admin's hardening choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    pub allow_root: bool,
    pub allowed_caps: Vec<String>,
    pub log_max_size: String,
    pub log_max_files: u32,
    pub tmp_size_mb: u32,
    pub host_paths: HostPathPolicy,
}

/// Host folders behind `{USER_DATA}`, `{USER_CACHE}` and `{USER_CONFIG}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPaths {
    pub data: String,
    pub cache: String,
    pub config: String,
}

impl UserPaths {
    fn of(&self, dir: UserDir) -> &str {
        match dir {
            UserDir::Data => &self.data,
            UserDir::Cache => &self.cache,
            UserDir::Config => &self.config,
        }
    }
}

/// A secret a container receives: which, as what, and which version (never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretBinding {
    pub name: String,
    pub env: String,
    pub version: String,
    pub file: bool,
}

/// Everything a container depends on.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub instance: &'a str,
    pub user: &'a UserId,
    /// The merged definition (its `image` is the full reference).
    pub server: &'a ServerDef,
    pub settings: &'a Settings,
    /// The host port from the user's block, for HTTP transports.
    pub host_port: Option<u16>,
    pub bind_address: &'a str,
    pub network: &'a str,
    pub paths: &'a UserPaths,
    pub defaults: &'a Defaults,
    pub quota: &'a Quota,
    pub hardening: &'a Hardening,
    /// The `USER` the image declares, if any.
    pub image_user: Option<&'a str>,
    /// The secrets the definition asks for, opened (the plan sees only their versions).
    pub secrets: &'a [SecretBinding],
    /// The host folder (on a tmpfs) that holds this container's secret files.
    pub secret_dir: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortBinding {
    pub container_port: u16,
    pub host_ip: String,
    pub host_port: u16,
}

/// The container to create, in terms independent of any Docker client library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub cmd: Vec<String>,
    /// `NAME=value`, sorted by name.
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub user: String,
    pub memory_bytes: u64,
    pub nano_cpus: u64,
    pub cpu_shares: u64,
    pub pids_limit: u32,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    pub read_only: bool,
    pub tmpfs: BTreeMap<String, String>,
    pub log_opts: BTreeMap<String, String>,
    /// `None`: no network at all.
    pub network: Option<String>,
    pub aliases: Vec<String>,
    pub publish: Option<PortBinding>,
    /// `source:target[:ro]`, host folders and per-user named volumes.
    pub binds: Vec<String>,
    /// Host folders to create before the container starts.
    pub host_dirs: Vec<String>,
    /// Per-user named volumes to create (with the portal's labels) before the container.
    pub named_volumes: Vec<String>,
    pub open_stdin: bool,
    /// Secrets, by name and version: the engine adds the values of `file: false` ones to
    /// the environment at create time, so they never enter the spec or its hash.
    pub secrets: Vec<SecretBinding>,
}

/// The user's bridge network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: String,
    pub gateway: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("server {server}: {message}")]
    Refused { server: String, message: String },
}

pub fn container_name(user: &UserId, server: &str) -> String {
    format!("mcp-{user}-{server}")
}

pub fn network_name(user: &UserId) -> String {
    format!("mcp-net-{user}")
}

pub fn base_labels(instance: &str, user: &UserId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
        (LABEL_USER.to_string(), user.to_string()),
    ])
}

pub fn network_spec(
    instance: &str,
    user: &UserId,
    block: u32,
    subnet: crate::alloc::Ipv4Net,
) -> NetworkSpec {
    let mut labels = base_labels(instance, user);
    labels.insert(LABEL_BLOCK.to_string(), block.to_string());
    NetworkSpec {
        name: network_name(user),
        subnet: subnet.to_string(),
        gateway: subnet.gateway().to_string(),
        labels,
    }
}

fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default();
    name == "root" || name == "0"
}

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

pub fn plan(input: &PlanInput<'_>) -> Result<(ContainerSpec, String), PlanError> {
    let s = input.server;
    let refuse = |message: String| PlanError::Refused {
        server: s.id.to_string(),
        message,
    };

    // Template parameters: declared defaults, then the user's values.
    let mut params: BTreeMap<String, String> = s
        .parameters
        .iter()
        .filter_map(|(k, p)| p.default.clone().map(|d| (k.clone(), d)))
        .collect();
    for (k, v) in &input.settings.params {
        if !s.parameters.contains_key(k) {
            let declared: Vec<&str> = s.parameters.keys().map(String::as_str).collect();
            return Err(refuse(format!(
                "has no parameter {k:?}; its parameters are: {}",
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            )));
        }
        params.insert(k.clone(), v.clone());
    }
    let missing: Vec<&str> = s
        .parameters
        .iter()
        .filter(|(k, p)| p.required && !params.contains_key(*k))
        .map(|(k, _)| k.as_str())
        .collect();
    if !missing.is_empty() {
        let sets: Vec<String> = missing.iter().map(|m| format!("--set {m}=VALUE")).collect();
        return Err(refuse(format!(
            "missing required parameter(s) {}: give {}",
            missing.join(", "),
            sets.join(" ")
        )));
    }
    let resolve = |field: &str, text: &str| {
        template::resolve(text, &params)
            .map_err(|e| refuse(format!("{field}: {e}; give it with --set")))
    };

    let network = if s.disable_network {
        if s.transport.is_http() {
            return Err(refuse(
                "asks for no network but serves HTTP; remove disable_network or use stdio".into(),
            ));
        }
        None
    } else {
        Some(input.network.to_string())
    };

    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &s.env {
        env.insert(k.clone(), resolve(&format!("env.{k}"), v)?);
    }
    if !input.settings.env.is_empty() && !s.user_configurable {
        return Err(refuse(
            "is not user-configurable: --env is not allowed (template parameters with --set are)"
                .into(),
        ));
    }
    for (k, v) in &input.settings.env {
        check_env_name(k).map_err(|e| refuse(e.to_string()))?;
        if RESERVED_ENV.contains(&k.as_str()) {
            return Err(refuse(format!("{k} is set by the portal itself")));
        }
        env.insert(k.clone(), v.clone());
    }
    for b in input.secrets {
        if env.contains_key(&b.env) {
            return Err(refuse(format!(
                "secret {} would replace the variable {}, which is already set",
                b.name, b.env
            )));
        }
        if b.file {
            env.insert(format!("{}_FILE", b.env), format!("/run/secrets/{}", b.env));
        }
    }
    env.insert("MCP_USER_ID".into(), input.user.to_string());
    env.insert("MCP_SERVER_ID".into(), s.id.to_string());
    env.insert(
        "MCP_NETWORK_NAME".into(),
        network.clone().unwrap_or_else(|| "none".into()),
    );
    env.insert("MCP_TRANSPORT".into(), s.transport.as_str().into());
    let publish = match (s.transport.is_http(), s.port, input.host_port) {
        (true, Some(container_port), Some(host_port)) => {
            env.insert("MCP_SERVER_PORT".into(), container_port.to_string());
            Some(PortBinding {
                container_port,
                host_ip: input.bind_address.to_string(),
                host_port,
            })
        }
        (true, _, _) => {
            return Err(refuse(
                "serves HTTP but has no container port or no host port was allocated".into(),
            ))
        }
        (false, _, _) => None,
    };

    let cmd = s
        .command
        .iter()
        .enumerate()
        .map(|(i, a)| resolve(&format!("command[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;

    let mut binds = Vec::new();
    let mut host_dirs = Vec::new();
    let mut named_volumes = Vec::new();
    for (i, raw) in s.volumes.iter().enumerate() {
        let spec_text = resolve(&format!("volumes[{i}]"), raw)?;
        let v = VolumeSpec::parse(&spec_text).map_err(refuse)?;
        v.check_policy(&input.hardening.host_paths, &spec_text)
            .map_err(refuse)?;
        let source = match &v.source {
            Source::User(dir, rel) => {
                let base = input.paths.of(*dir).trim_end_matches('/');
                let path = if rel.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}/{rel}")
                };
                host_dirs.push(path.clone());
                path
            }
            Source::Host(path) => path.clone(),
            Source::Named(name) => {
                // '_' cannot occur in a user id, so no two users' volumes share a name.
                let scoped = format!("mcp-{}_{name}", input.user);
                named_volumes.push(scoped.clone());
                scoped
            }
            Source::Template(t) => {
                return Err(refuse(format!(
                    "volumes[{i}]: {t:?} is still a template after resolving"
                )))
            }
        };
        binds.push(format!(
            "{source}:{}{}",
            v.target,
            if v.read_only { ":ro" } else { "" }
        ));
    }

    for b in input.secrets.iter().filter(|b| b.file) {
        binds.push(format!(
            "{}/{}:/run/secrets/{}:ro",
            input.secret_dir.trim_end_matches('/'),
            b.env,
            b.env
        ));
    }

    let user = match &s.user {
        Some(u) if !u.is_empty() => {
            let u = resolve("user", u)?;
            if u.is_empty() {
                "65534:65534".to_string()
            } else if is_root(&u) && !input.hardening.allow_root {
                return Err(refuse(
                    "runs as root, which this portal does not allow (MCP_PORTAL_ALLOW_ROOT)".into(),
                ));
            } else {
                u
            }
        }
        _ => match input.image_user {
            Some(u) if !u.is_empty() && !is_root(u) => u.to_string(),
            _ => "65534:65534".to_string(),
        },
    };

    for cap in &s.cap_add {
        if !input.hardening.allowed_caps.contains(cap) {
            return Err(refuse(format!(
                "needs capability {cap}, which is not allowed here (MCP_PORTAL_ALLOWED_CAPS: {})",
                input.hardening.allowed_caps.join(",")
            )));
        }
    }

    let (memory_bytes, cpu_shares) = limits(s, input.defaults, input.quota);
    let nano_cpus = cpu_shares * 1_000_000_000 / SHARES_PER_CPU;
    let pids_limit = s.resources.pids.unwrap_or(input.defaults.pids);

    let read_only = !s.writable_rootfs;
    let tmpfs = if read_only {
        BTreeMap::from([(
            "/tmp".to_string(),
            format!("rw,noexec,nosuid,size={}m", input.hardening.tmp_size_mb),
        )])
    } else {
        BTreeMap::new()
    };

    let mut labels = base_labels(input.instance, input.user);
    labels.insert(LABEL_SERVER.into(), s.id.to_string());
    labels.insert(LABEL_MEMORY.into(), memory_bytes.to_string());
    labels.insert(LABEL_CPU_SHARES.into(), cpu_shares.to_string());
    if let Some(p) = &publish {
        labels.insert(LABEL_PORT.into(), p.host_port.to_string());
    }

    let spec = ContainerSpec {
        name: container_name(input.user, s.id.as_str()),
        image: s.image.clone(),
        cmd,
        env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        labels,
        user,
        memory_bytes,
        nano_cpus,
        cpu_shares,
        pids_limit,
        cap_add: s.cap_add.clone(),
        security_opt: vec!["no-new-privileges:true".into()],
        read_only,
        tmpfs,
        log_opts: BTreeMap::from([
            ("max-size".to_string(), input.hardening.log_max_size.clone()),
            (
                "max-file".to_string(),
                input.hardening.log_max_files.to_string(),
            ),
        ]),
        aliases: if network.is_some() {
            vec![s.id.to_string()]
        } else {
            Vec::new()
        },
        network,
        publish,
        binds,
        host_dirs,
        named_volumes,
        open_stdin: !s.transport.is_http(),
        secrets: input.secrets.to_vec(),
    };
    let hash = spec_hash(&spec);
    let mut spec = spec;
    spec.labels.insert(LABEL_SPEC_HASH.into(), hash.clone());
    Ok((spec, hash))
}

/// SHA-256 over the spec's canonical JSON (maps are sorted, so equal specs hash equal).
pub fn spec_hash(spec: &ContainerSpec) -> String {
    // Serializing plain strings, numbers and sorted maps cannot fail.
    let bytes = serde_json::to_vec(spec).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{Parameter, Transport};
    use crate::ids::ServerId;

    struct Fixture {
        user: UserId,
        settings: Settings,
        paths: UserPaths,
        defaults: Defaults,
        quota: Quota,
        hardening: Hardening,
    }

    fn fixture() -> Fixture {
        Fixture {
            user: UserId::parse("u1").unwrap(),
            settings: Settings::default(),
            paths: UserPaths {
                data: "/d/u1/data".into(),
                cache: "/d/u1/cache".into(),
                config: "/d/u1/config".into(),
            },
            defaults: Defaults {
                memory: Memory::parse("256m").unwrap(),
                cpus: Cpus::from_millis(500).unwrap(),
                pids: 128,
            },
            quota: Quota {
                max_containers: 10,
                max_memory_mb: 2048,
                max_cpu_shares: 1024,
            },
            hardening: Hardening {
                allow_root: false,
                allowed_caps: vec!["NET_BIND_SERVICE".into()],
                log_max_size: "10m".into(),
                log_max_files: 3,
                tmp_size_mb: 64,
                host_paths: HostPathPolicy::default(),
            },
        }
    }

    fn input<'a>(f: &'a Fixture, server: &'a ServerDef, port: Option<u16>) -> PlanInput<'a> {
        PlanInput {
            instance: "default",
            user: &f.user,
            server,
            settings: &f.settings,
            host_port: port,
            bind_address: "127.0.0.1",
            network: "mcp-net-u1",
            paths: &f.paths,
            defaults: &f.defaults,
            quota: &f.quota,
            hardening: &f.hardening,
            image_user: None,
            secrets: &[],
            secret_dir: "/dev/shm/mcp-portal/default/u1/echo",
        }
    }

    fn http_server() -> ServerDef {
        let mut s = ServerDef::new(ServerId::parse("echo").unwrap(), "mcp-echo:latest");
        s.transport = Transport::StreamableHttp;
        s.port = Some(8080);
        s.volumes = vec!["{USER_DATA}/echo:/data".into(), "cache:/cache:ro".into()];
        s
    }

    #[test]
    fn plans_a_hardened_limited_container() {
        let f = fixture();
        let s = http_server();
        let (spec, hash) = plan(&input(&f, &s, Some(20001))).unwrap();
        assert_eq!(spec.name, "mcp-u1-echo");
        assert_eq!(spec.user, "65534:65534");
        assert_eq!(spec.memory_bytes, 256 << 20);
        assert_eq!(spec.cpu_shares, 512);
        assert_eq!(spec.nano_cpus, 500_000_000);
        assert_eq!(spec.pids_limit, 128);
        assert!(spec.read_only);
        assert_eq!(spec.security_opt, ["no-new-privileges:true"]);
        assert_eq!(
            spec.publish,
            Some(PortBinding {
                container_port: 8080,
                host_ip: "127.0.0.1".into(),
                host_port: 20001
            })
        );
        assert_eq!(
            spec.binds,
            ["/d/u1/data/echo:/data", "mcp-u1_cache:/cache:ro"]
        );
        assert!(spec.env.contains(&"MCP_SERVER_PORT=8080".to_string()));
        assert!(spec.env.contains(&"MCP_USER_ID=u1".to_string()));
        assert_eq!(spec.labels[LABEL_SPEC_HASH], hash);
        assert_eq!(spec.labels[LABEL_PORT], "20001");
        assert!(!spec.open_stdin);
    }

    #[test]
    fn the_same_input_gives_the_same_hash_and_a_change_another() {
        let f = fixture();
        let s = http_server();
        let (_, h1) = plan(&input(&f, &s, Some(20001))).unwrap();
        let (_, h2) = plan(&input(&f, &s, Some(20001))).unwrap();
        assert_eq!(h1, h2);
        let mut changed = s.clone();
        changed.env.insert("X".into(), "1".into());
        assert_ne!(plan(&input(&f, &changed, Some(20001))).unwrap().1, h1);
        assert_ne!(plan(&input(&f, &s, Some(20002))).unwrap().1, h1);
    }

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
    fn templates_resolve_from_settings_and_defaults() {
        let mut f = fixture();
        let mut s = ServerDef::new(ServerId::parse("time").unwrap(), "mcp/time:latest");
        s.command = vec!["--tz={{time.timezone}}".into()];
        s.env.insert("LEVEL".into(), "{{time.level}}".into());
        s.parameters.insert(
            "timezone".into(),
            Parameter {
                required: true,
                ..Default::default()
            },
        );
        s.parameters.insert(
            "level".into(),
            Parameter {
                default: Some("info".into()),
                ..Default::default()
            },
        );
        let err = plan(&input(&f, &s, None)).unwrap_err().to_string();
        assert_eq!(
            err,
            "server time: missing required parameter(s) timezone: give --set timezone=VALUE"
        );
        f.settings.params.insert("timezone".into(), "UTC".into());
        let (spec, _) = plan(&input(&f, &s, None)).unwrap();
        assert_eq!(spec.cmd, ["--tz=UTC"]);
        assert!(spec.env.contains(&"LEVEL=info".to_string()));
        assert!(spec.open_stdin);
        assert_eq!(spec.network.as_deref(), Some("mcp-net-u1"));
        f.settings.params.insert("nope".into(), "x".into());
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("has no parameter \"nope\"; its parameters are: level, timezone"));
    }

    #[test]
    fn root_caps_env_and_escapes_are_refused() {
        let mut f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.user = Some("root".into());
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("runs as root"));
        f.hardening.allow_root = true;
        assert_eq!(plan(&input(&f, &s, None)).unwrap().0.user, "root");
        s.user = None;
        s.cap_add = vec!["SYS_ADMIN".into()];
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("needs capability SYS_ADMIN"));
        s.cap_add.clear();
        f.settings.env.insert("X".into(), "1".into());
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("not user-configurable"));
        s.user_configurable = true;
        assert!(plan(&input(&f, &s, None)).is_ok());
        f.settings.env.insert("MCP_USER_ID".into(), "evil".into());
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("set by the portal"));
        f.settings.env.clear();
        s.volumes = vec!["{{x.path}}:/src".into()];
        s.parameters.insert("path".into(), Parameter::default());
        f.settings.params.insert("path".into(), "/etc".into());
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("mounts host path \"/etc\""));
    }

    #[test]
    fn no_network_for_stdio_servers_that_ask_for_none() {
        let f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.disable_network = true;
        let (spec, _) = plan(&input(&f, &s, None)).unwrap();
        assert_eq!(spec.network, None);
        assert!(spec.env.contains(&"MCP_NETWORK_NAME=none".to_string()));
        let mut h = http_server();
        h.disable_network = true;
        assert!(plan(&input(&f, &h, Some(1))).is_err());
    }

    #[test]
    fn secrets_enter_the_hash_by_version_and_files_by_mount() {
        let f = fixture();
        let s = http_server();
        let v1 = [SecretBinding {
            name: "gh.token".into(),
            env: "GH_TOKEN".into(),
            version: "v1".into(),
            file: false,
        }];
        let v2 = [SecretBinding {
            version: "v2".into(),
            ..v1[0].clone()
        }];
        let mut i = input(&f, &s, Some(1));
        i.secrets = &v1;
        let (spec1, h1) = plan(&i).unwrap();
        assert!(
            !spec1.env.iter().any(|e| e.starts_with("GH_TOKEN")),
            "values are added by the engine, not planned"
        );
        i.secrets = &v2;
        assert_ne!(
            plan(&i).unwrap().1,
            h1,
            "a new secret version recreates the container"
        );
        let file = [SecretBinding {
            file: true,
            ..v1[0].clone()
        }];
        i.secrets = &file;
        let (spec, _) = plan(&i).unwrap();
        assert!(spec
            .env
            .contains(&"GH_TOKEN_FILE=/run/secrets/GH_TOKEN".to_string()));
        assert!(spec.binds.contains(
            &"/dev/shm/mcp-portal/default/u1/echo/GH_TOKEN:/run/secrets/GH_TOKEN:ro".to_string()
        ));
    }

    #[test]
    fn an_image_user_is_kept_unless_it_is_root() {
        let f = fixture();
        let s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        let mut i = input(&f, &s, None);
        i.image_user = Some("node");
        assert_eq!(plan(&i).unwrap().0.user, "node");
        i.image_user = Some("0:0");
        assert_eq!(plan(&i).unwrap().0.user, "65534:65534");
    }

    /// A definition that exercises every step of the plan: parameters, env, secrets,
    /// volumes, user, caps, limits and a published port.
    fn everything() -> (Fixture, ServerDef, Vec<SecretBinding>) {
        let mut f = fixture();
        f.settings.params.insert("level".into(), "debug".into());
        f.settings.env.insert("EXTRA".into(), "yes".into());
        f.hardening.host_paths.allowed = vec!["/srv/shared".into()];
        let mut s = http_server();
        s.user_configurable = true;
        s.command = vec!["serve".into(), "--level={{echo.level}}".into()];
        s.env.insert("LEVEL".into(), "{{echo.level}}".into());
        s.env.insert("MODE".into(), "{{echo.mode}}".into());
        s.parameters.insert(
            "level".into(),
            Parameter {
                required: true,
                ..Default::default()
            },
        );
        s.parameters.insert(
            "mode".into(),
            Parameter {
                default: Some("fast".into()),
                ..Default::default()
            },
        );
        s.volumes.push("/srv/shared/ref:/ref:ro".into());
        s.volumes.push("{USER_CONFIG}:/config".into());
        s.user = Some("1000:1000".into());
        s.cap_add = vec!["NET_BIND_SERVICE".into()];
        s.resources.memory = Some(Memory::parse("512m").unwrap());
        s.resources.cpus = Some(Cpus::from_millis(1500).unwrap());
        s.resources.pids = Some(64);
        let secrets = vec![
            SecretBinding {
                name: "gh.token".into(),
                env: "GH_TOKEN".into(),
                version: "v3".into(),
                file: false,
            },
            SecretBinding {
                name: "tls.key".into(),
                env: "TLS_KEY".into(),
                version: "v1".into(),
                file: true,
            },
        ];
        (f, s, secrets)
    }

    #[test]
    fn spec_hashes_are_unchanged_so_running_containers_are_not_recreated() {
        let (f, s, secrets) = everything();
        let mut i = input(&f, &s, Some(20001));
        i.secrets = &secrets;
        let (spec, hash) = plan(&i).unwrap();
        assert_eq!(spec.labels[LABEL_SPEC_HASH], hash);
        assert_eq!(hash, "8ce1015f7caf0ddf");

        let f = fixture();
        let mut quiet = ServerDef::new(ServerId::parse("quiet").unwrap(), "mcp/quiet:1");
        quiet.disable_network = true;
        quiet.writable_rootfs = true;
        let mut i = input(&f, &quiet, None);
        i.image_user = Some("node");
        assert_eq!(plan(&i).unwrap().1, "9a320910e899e976");

        let plain = http_server();
        assert_eq!(
            plan(&input(&f, &plain, Some(20001))).unwrap().1,
            "13797a9daf08deb7"
        );
    }
}
