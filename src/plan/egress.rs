//! Egress for a server with `allow_hosts`: it runs on its user's internal network (no
//! route out), and its own egress proxy, on that network and on the outbound one,
//! forwards only to the allowed `host:port` entries. This step decides the proxy's
//! container, the variables that point the server at it, and the internal network.
//!
//! One proxy per server, so each server reaches exactly its own list: the proxy serves
//! only the addresses its server's container names resolve to (names are unique on an
//! engine, so no other container can take them). An HTTP server's published port is
//! published on the proxy, which relays it: ports published on an internal network are
//! not reachable.

use std::collections::BTreeMap;

use egress_proxy::AllowList;
use serde::Serialize;

use super::labels::{base_labels, LABEL_ROLE, LABEL_SERVER, ROLE_EGRESS};
use super::model::{ContainerSpec, NetworkAttachment, PlanInput, PortBinding};
use super::{refuse, PlanError};
use crate::catalog::model::ServerDef;

/// The port the proxy listens on for its server's requests, unless the server's own
/// container port is that one (the proxy relays that port too, for HTTP servers).
const PROXY_PORT: u16 = 3128;
const PROXY_PORT_ALT: u16 = 3129;

/// The proxy's own limits: small, and not counted in the user's quota.
const PROXY_MEMORY: u64 = 32 << 20;
const PROXY_NANO_CPUS: u64 = 250_000_000;
const PROXY_CPU_SHARES: u64 = 256;
const PROXY_PIDS: u32 = 32;
/// The image's own unprivileged user (`nobody`).
const PROXY_USER: &str = "65534:65534";

/// The admin's choices for egress proxies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EgressSettings {
    /// The network the proxies reach outside hosts through (not internal).
    pub network: String,
    /// The proxy image (`images/egress-proxy`).
    pub image: String,
}

/// Whether the server gets an egress proxy: it names hosts and has a network at all
/// (`disable_network` keeps meaning no network, whatever `allow_hosts` says).
pub(super) fn needs_egress(s: &ServerDef) -> bool {
    !s.allow_hosts.is_empty() && !s.disable_network
}

/// The server's allow-list, refused whole when an entry is malformed.
pub(super) fn allow_list(s: &ServerDef) -> Result<AllowList, PlanError> {
    AllowList::parse(&s.allow_hosts).map_err(|e| refuse(s, format!("allow_hosts: {e}")))
}

/// The proxy's name on the internal network, which the server's variables point at.
/// Server ids hold no `.`, so it is no server's alias.
pub(super) fn proxy_alias(s: &ServerDef) -> String {
    format!("{}.egress", s.id)
}

fn proxy_port(s: &ServerDef) -> u16 {
    if s.port == Some(PROXY_PORT) {
        PROXY_PORT_ALT
    } else {
        PROXY_PORT
    }
}

/// The variables that send the server's outbound HTTP through its proxy, in both cases
/// (clients differ in which they read); local addresses stay direct.
pub(super) fn proxy_env(s: &ServerDef, env: &mut BTreeMap<String, String>) {
    let url = format!("http://{}:{}", proxy_alias(s), proxy_port(s));
    for k in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        env.insert(k.into(), url.clone());
    }
    for k in ["NO_PROXY", "no_proxy"] {
        env.insert(k.into(), "localhost,127.0.0.1,::1".into());
    }
}

/// The proxy's container: the outbound network first (its route out, and where a
/// published port works), the internal one beside its server; hardened like any other.
pub(super) fn proxy_spec(
    input: &PlanInput<'_>,
    allow: &AllowList,
    internal: &str,
    publish: Option<&PortBinding>,
    log_opts: &BTreeMap<String, String>,
) -> ContainerSpec {
    let s = input.server;
    let server = super::labels::container_name(input.user, s.id.as_str());
    let mut cmd = vec![
        "--allow".to_string(),
        allow.to_arg(),
        "--client".to_string(),
        format!("{server},{}", super::labels::replacement_name(&server)),
        "--listen".to_string(),
        proxy_port(s).to_string(),
    ];
    if let Some(p) = publish {
        cmd.push("--forward".into());
        cmd.push(format!("{0}={1}:{0}", p.container_port, s.id));
    }
    let mut labels = base_labels(input.instance, input.user);
    labels.insert(LABEL_SERVER.into(), s.id.to_string());
    labels.insert(LABEL_ROLE.into(), ROLE_EGRESS.into());
    ContainerSpec {
        name: super::labels::proxy_name(input.user, s.id.as_str()),
        image: input.egress.image.clone(),
        cmd,
        env: Vec::new(),
        labels,
        user: PROXY_USER.into(),
        group_add: Vec::new(),
        memory_bytes: PROXY_MEMORY,
        nano_cpus: PROXY_NANO_CPUS,
        cpu_shares: PROXY_CPU_SHARES,
        pids_limit: PROXY_PIDS,
        cap_add: Vec::new(),
        security_opt: vec!["no-new-privileges:true".into()],
        read_only: true,
        tmpfs: BTreeMap::new(),
        log_opts: log_opts.clone(),
        network: Some(input.egress.network.clone()),
        aliases: Vec::new(),
        publish: publish.cloned(),
        binds: Vec::new(),
        host_dirs: Vec::new(),
        named_volumes: Vec::new(),
        open_stdin: false,
        secrets: Vec::new(),
        more_networks: vec![NetworkAttachment {
            name: internal.to_string(),
            aliases: vec![proxy_alias(s)],
        }],
        egress: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, http_server, input};
    use super::super::{egress_network_name, plan, LABEL_PORT, LABEL_SPEC_HASH};
    use super::*;
    use crate::ids::ServerId;

    fn fetcher() -> ServerDef {
        let mut s = http_server();
        s.allow_hosts = vec!["api.example.com:443".into(), "files.example.com:80".into()];
        s
    }

    #[test]
    fn a_server_with_allow_hosts_runs_on_the_internal_network_behind_its_proxy() {
        let f = fixture();
        let s = fetcher();
        let (spec, _) = plan(&input(&f, &s, Some(20001))).unwrap();
        let internal = egress_network_name(&f.user);
        assert_eq!(internal, "mcp-net-u1.egress");
        assert_eq!(spec.network.as_deref(), Some(internal.as_str()));
        assert_eq!(spec.aliases, ["echo"]);
        for k in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            assert!(
                spec.env.contains(&format!("{k}=http://echo.egress:3128")),
                "{k}: {:?}",
                spec.env
            );
        }
        assert!(spec
            .env
            .contains(&"NO_PROXY=localhost,127.0.0.1,::1".to_string()));
        assert_eq!(spec.publish, None, "published on the proxy instead");
        assert_eq!(
            spec.labels[LABEL_PORT], "20001",
            "the gateway finds the port"
        );

        let proxy = spec.egress.as_deref().unwrap();
        assert_eq!(proxy.name, "mcp-u1.echo.egress");
        assert_eq!(proxy.image, "mcp-egress-proxy:latest");
        assert_eq!(
            proxy.cmd,
            [
                "--allow",
                "api.example.com:443,files.example.com:80",
                "--client",
                "mcp-u1.echo,mcp-u1.echo.next",
                "--listen",
                "3128",
                "--forward",
                "8080=echo:8080"
            ]
        );
        assert_eq!(proxy.network.as_deref(), Some("mcp-egress-test"));
        assert_eq!(proxy.more_networks[0].name, internal);
        assert_eq!(proxy.more_networks[0].aliases, ["echo.egress"]);
        assert_eq!(proxy.publish.as_ref().unwrap().host_port, 20001);
        assert!(proxy.read_only && proxy.cap_add.is_empty());
        assert_eq!(proxy.security_opt, ["no-new-privileges:true"]);
        assert_eq!(proxy.labels[LABEL_ROLE], ROLE_EGRESS);
        assert!(proxy.labels.contains_key(LABEL_SPEC_HASH));
    }

    #[test]
    fn changing_allow_hosts_changes_both_hashes() {
        let f = fixture();
        let s = fetcher();
        let (a, ha) = plan(&input(&f, &s, Some(20001))).unwrap();
        let mut t = s.clone();
        t.allow_hosts.pop();
        let (b, hb) = plan(&input(&f, &t, Some(20001))).unwrap();
        assert_ne!(ha, hb);
        let proxy_hash =
            |c: &ContainerSpec| c.egress.as_ref().unwrap().labels[LABEL_SPEC_HASH].clone();
        assert_ne!(proxy_hash(&a), proxy_hash(&b));
    }

    #[test]
    fn a_stdio_server_gets_a_proxy_that_relays_no_port() {
        let f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.allow_hosts = vec!["api.example.com:443".into()];
        let (spec, _) = plan(&input(&f, &s, None)).unwrap();
        let proxy = spec.egress.unwrap();
        assert!(!proxy.cmd.contains(&"--forward".to_string()));
        assert_eq!(proxy.publish, None);
    }

    #[test]
    fn the_proxy_moves_aside_for_a_server_listening_on_its_port() {
        let f = fixture();
        let mut s = fetcher();
        s.port = Some(3128);
        let (spec, _) = plan(&input(&f, &s, Some(20001))).unwrap();
        assert!(spec
            .env
            .contains(&"HTTP_PROXY=http://echo.egress:3129".to_string()));
        assert!(spec
            .egress
            .unwrap()
            .cmd
            .contains(&"3128=echo:3128".to_string()));
    }

    #[test]
    fn no_network_stays_no_network_and_no_allow_hosts_no_proxy() {
        let f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.allow_hosts = vec!["api.example.com:443".into()];
        s.disable_network = true;
        let (spec, _) = plan(&input(&f, &s, None)).unwrap();
        assert_eq!(spec.network, None);
        assert!(spec.egress.is_none());
        assert!(!spec.env.iter().any(|e| e.starts_with("HTTP_PROXY=")));
        let (plain, _) = plan(&input(&f, &http_server(), Some(1))).unwrap();
        assert!(plain.egress.is_none());
        assert_eq!(plain.network.as_deref(), Some("mcp-net-u1"));
    }

    #[test]
    fn a_malformed_entry_refuses_the_plan_with_the_reason() {
        let f = fixture();
        let mut s = fetcher();
        s.allow_hosts = vec!["api.example.com".into()];
        let e = plan(&input(&f, &s, Some(1))).unwrap_err().to_string();
        assert!(
            e.starts_with("server echo: allow_hosts: \"api.example.com\" has no port"),
            "{e}"
        );
    }
}
