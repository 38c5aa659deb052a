//! Planning a user's container (pure): merged definition + the user's settings +
//! allocations + limits -> the exact container and network to create, with a hash of
//! the container spec. Same input, same spec, same hash; the engine only executes it.
//!
//! Each step is its own module; `plan` runs them in a fixed order, which is also the
//! order in which a definition's problems are reported.

use crate::catalog::model::ServerDef;

mod egress;
mod env;
#[cfg(test)]
mod fixture;
mod hardening;
mod hash;
mod labels;
mod limits;
mod model;
mod network;
mod params;
mod user;
mod volumes;

pub use egress::EgressSettings;
pub use hash::spec_hash;
pub use labels::{
    base_labels, container_name, egress_network_name, egress_network_spec, legacy_container_name,
    network_name, network_spec, proxy_name, replacement_name, LABEL, LABEL_BLOCK, LABEL_CPU_SHARES,
    LABEL_DATA_DIR, LABEL_EGRESS, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_MEMORY, LABEL_PORT,
    LABEL_ROLE, LABEL_SERVER, LABEL_SPEC_HASH, LABEL_USER, MANAGED_BY, ROLE_EGRESS,
};
pub use limits::{limits, SHARES_PER_CPU};
pub use model::{
    ContainerSpec, Defaults, Hardening, NetworkAttachment, NetworkSpec, PlanInput, PortBinding,
    Quota, SecretBinding, Settings, UserPaths,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("server {server}: {message}")]
    Refused { server: String, message: String },
}

fn refuse(server: &ServerDef, message: impl Into<String>) -> PlanError {
    PlanError::Refused {
        server: server.id.to_string(),
        message: message.into(),
    }
}

pub fn plan(input: &PlanInput<'_>) -> Result<(ContainerSpec, String), PlanError> {
    let s = input.server;
    let params = params::Params::new(s, &input.settings.params, &input.hardening.host_paths)?;
    let allow = if egress::needs_egress(s) {
        Some(egress::allow_list(s)?)
    } else {
        None
    };
    let network = match &allow {
        Some(_) => Some(egress_network_name(input.user)),
        None => network::network(input)?,
    };
    let mut env = env::environment(input, &params, network.as_deref())?;
    let publish = network::publish(input)?;
    if let Some(p) = &publish {
        env.insert("MCP_SERVER_PORT".into(), p.container_port.to_string());
    }
    if allow.is_some() {
        egress::proxy_env(s, &mut env);
    }
    let cmd = params.resolve_each("command", &s.command)?;
    let mounts = volumes::mounts(input, &params)?;
    let user = user::user(input, &params)?;
    let limits = limits::Limits::of(s, input.defaults, input.quota);
    let confined = hardening::confinement(s, input.hardening, limits.memory_bytes)?;
    let mut labels = labels::container_labels(
        input.instance,
        input.user,
        s.id.as_str(),
        &limits,
        publish.as_ref(),
    );
    // The proxy publishes an egress server's port; the server keeps the port label,
    // which is where the gateway and the allocations look for it.
    let egress = allow.as_ref().map(|a| {
        let proxy = egress::proxy_spec(
            input,
            a,
            &egress_network_name(input.user),
            publish.as_ref(),
            &confined.log_opts,
        );
        let name = proxy.name.clone();
        Box::new(hash::seal(proxy, &name).0)
    });
    let publish = if let Some(proxy) = &egress {
        labels.insert(LABEL_EGRESS.into(), proxy.name.clone());
        None
    } else {
        publish
    };
    let spec = ContainerSpec {
        name: container_name(input.user, s.id.as_str()),
        image: s.image.clone(),
        cmd,
        env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        labels,
        user,
        group_add: vec![input.user_uid.to_string()],
        memory_bytes: limits.memory_bytes,
        nano_cpus: limits.nano_cpus,
        cpu_shares: limits.cpu_shares,
        pids_limit: limits.pids,
        cap_add: confined.cap_add,
        security_opt: confined.security_opt,
        read_only: confined.read_only,
        tmpfs: confined.tmpfs,
        log_opts: confined.log_opts,
        aliases: network::aliases(s, network.as_deref()),
        network,
        publish,
        binds: mounts.binds,
        host_dirs: mounts.host_dirs,
        named_volumes: mounts.named_volumes,
        open_stdin: !s.transport.is_http(),
        secrets: input.secrets.to_vec(),
        more_networks: Vec::new(),
        egress,
    };
    Ok(hash::seal(
        spec,
        &labels::legacy_container_name(input.user, s.id.as_str()),
    ))
}

#[cfg(test)]
mod tests {
    use super::fixture::{fixture, http_server, input};
    use super::*;
    use crate::catalog::model::Parameter;
    use crate::ids::ServerId;

    #[test]
    fn plans_a_hardened_limited_container() {
        let f = fixture();
        let s = http_server();
        let (spec, hash) = plan(&input(&f, &s, Some(20001))).unwrap();
        assert_eq!(spec.name, "mcp-u1.echo");
        assert_eq!(spec.user, "200003:200003", "the user's own uid");
        assert_eq!(spec.group_add, ["200003"]);
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
    fn root_caps_env_and_escapes_are_refused() {
        let mut f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.user = Some("root".into());
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("runs as root"));
        f.hardening.bounds.allow_root = true;
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
        // A user's path is inside the user's folder, never the host's /etc.
        f.settings.params.insert("path".into(), "/etc".into());
        let (spec, _) = plan(&input(&f, &s, None)).unwrap();
        assert_eq!(spec.binds, ["/d/u1/data/etc:/src"]);
    }

    #[test]
    fn a_definitions_problems_are_reported_in_the_order_of_the_steps() {
        let mut f = fixture();
        let mut s = http_server();
        s.user = Some("root".into());
        s.cap_add = vec!["SYS_ADMIN".into()];
        s.volumes = vec!["/etc:/etc".into()];
        f.settings.env.insert("X".into(), "1".into());
        let err =
            |f: &fixture::Fixture, s: &ServerDef| plan(&input(f, s, None)).unwrap_err().to_string();
        assert!(err(&f, &s).contains("not user-configurable"));
        f.settings.env.clear();
        assert!(err(&f, &s).contains("serves HTTP but has no container port"));
        let with_port = plan(&input(&f, &s, Some(1))).unwrap_err().to_string();
        assert!(with_port.contains("mounts host path"), "{with_port}");
        s.volumes.clear();
        assert!(plan(&input(&f, &s, Some(1)))
            .unwrap_err()
            .to_string()
            .contains("runs as root"));
        s.user = None;
        assert!(plan(&input(&f, &s, Some(1)))
            .unwrap_err()
            .to_string()
            .contains("needs capability"));
    }
}
