//! Test inputs shared by the plan's steps: one user, the admin's usual settings, and
//! definitions from a plain HTTP server to one that uses every feature.

use crate::catalog::bounds::Bounds;
use crate::catalog::model::{Parameter, ServerDef, Transport};
use crate::catalog::units::{Cpus, Memory};
use crate::catalog::volume::HostPathPolicy;
use crate::ids::{ServerId, UserId};

use super::{Defaults, Hardening, PlanInput, Quota, SecretBinding, Settings, UserPaths};

pub struct Fixture {
    pub user: UserId,
    pub settings: Settings,
    pub paths: UserPaths,
    pub defaults: Defaults,
    pub quota: Quota,
    pub hardening: Hardening,
}

pub fn fixture() -> Fixture {
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
            bounds: Bounds::default(),
            log_max_size: "10m".into(),
            log_max_files: 3,
            tmp_size_mb: 64,
            host_paths: HostPathPolicy::default(),
            uid_base: 200_000,
        },
    }
}

static EGRESS: std::sync::LazyLock<super::EgressSettings> =
    std::sync::LazyLock::new(|| super::EgressSettings {
        network: "mcp-egress-test".into(),
        image: "mcp-egress-proxy:latest".into(),
    });

pub fn input<'a>(f: &'a Fixture, server: &'a ServerDef, port: Option<u16>) -> PlanInput<'a> {
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
        user_uid: 200_003,
        secrets: &[],
        secret_dir: "/dev/shm/mcp-portal/default/u1/echo",
        egress: &EGRESS,
    }
}

pub fn http_server() -> ServerDef {
    let mut s = ServerDef::new(ServerId::parse("echo").unwrap(), "mcp-echo:latest");
    s.transport = Transport::StreamableHttp;
    s.port = Some(8080);
    s.volumes = vec!["{USER_DATA}/echo:/data".into(), "cache:/cache:ro".into()];
    s
}

/// A definition that exercises every step of the plan: parameters, env, secrets,
/// volumes, user, caps, limits and a published port.
pub fn everything() -> (Fixture, ServerDef, Vec<SecretBinding>) {
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
