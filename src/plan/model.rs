//! The plan's vocabulary: what goes in (a user's settings, quota, the admin's defaults
//! and hardening, the user's folders, secret versions) and what comes out (the container
//! and network to create, in terms independent of any Docker client library).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::bounds::Bounds;
use crate::catalog::model::ServerDef;
use crate::catalog::units::{Cpus, Memory};
use crate::catalog::volume::HostPathPolicy;
use crate::ids::UserId;

/// What a user chose for one server: environment overrides and template parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, crate::catalog::model::ParamValue>,
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
    pub bounds: Bounds,
    pub log_max_size: String,
    pub log_max_files: u32,
    pub tmp_size_mb: u32,
    pub host_paths: HostPathPolicy,
    /// The first of the per-user uids and gids.
    pub uid_base: u32,
}

/// Host folders behind `{USER_DATA}`, `{USER_CACHE}` and `{USER_CONFIG}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPaths {
    pub data: String,
    pub cache: String,
    pub config: String,
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
    /// The user's own uid and gid (`MCP_PORTAL_USER_UID_BASE` plus their block): the
    /// group every one of their containers carries, and the uid of those whose image
    /// and definition name no user of their own.
    pub user_uid: u32,
    /// The secrets the definition asks for, opened (the plan sees only their versions).
    pub secrets: &'a [SecretBinding],
    /// The host folder (on a tmpfs) that holds this container's secret files.
    pub secret_dir: &'a str,
    /// Where egress proxies reach out, and their image (servers with `allow_hosts`).
    pub egress: &'a super::egress::EgressSettings,
}

/// A further network a container joins after it is created, with its aliases there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkAttachment {
    pub name: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortBinding {
    pub container_port: u16,
    pub host_ip: String,
    pub host_port: u16,
}

/// The container to create, in terms independent of any Docker client library.
///
/// The field order is part of the spec hash (it is serialized in declaration order):
/// reordering fields would recreate every running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub cmd: Vec<String>,
    /// `NAME=value`, sorted by name.
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub user: String,
    /// Supplementary groups: the user's own gid, which their files belong to.
    pub group_add: Vec<String>,
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
    /// Networks joined besides `network` (an egress proxy's internal one). Left out of
    /// the hash when empty, as are the fields below, so adding them recreated nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_networks: Vec<NetworkAttachment>,
    /// The server's egress proxy (with its own hash label), for `allow_hosts`: part of
    /// the server's hash, so a changed list recreates both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<Box<ContainerSpec>>,
}

/// The user's bridge network, or their internal one (no route out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: String,
    pub gateway: String,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
    /// Containers on it cannot reach one another (Docker's `enable_icc=false`): the
    /// shared outbound network of the egress proxies, so that no user's proxy reaches
    /// another's.
    pub isolated: bool,
}
