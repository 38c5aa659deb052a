#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! A server's egress proxy against the recording in-memory engine: made before its
//! server, gone with a server that failed to start, made again by the daemon without
//! touching a server that runs as planned, and removed when nobody wants its server.

mod common;

use std::collections::BTreeMap;

use common::fake::Fake;
use mcp_portal::config::Config;
use mcp_portal::ids::{ServerId, UserId};
use mcp_portal::manager::{Daemon, Portal};

const CATALOG: &str = "name: t\nservers:\n  - {id: f, image: mcp-echo, allow_hosts: [\"api.example.com:443\"], resources: {memory: 32m, cpus: 0.1}}\n";
const SERVER: &str = "mcp-u1.f";
const PROXY: &str = "mcp-u1.f.egress";

fn portal(dir: &std::path::Path) -> Portal {
    let vars: BTreeMap<&str, String> = BTreeMap::new();
    let config = Config::from_lookup(dir.to_path_buf(), |k| vars.get(k).cloned()).unwrap();
    let portal = Portal::open(config).unwrap();
    portal
        .upload_catalog("t.yaml", CATALOG.as_bytes(), None)
        .unwrap();
    portal
        .add_user(UserId::parse("u1").unwrap(), vec![], None)
        .unwrap();
    portal
}

fn ids() -> (UserId, ServerId) {
    (UserId::parse("u1").unwrap(), ServerId::parse("f").unwrap())
}

#[tokio::test]
async fn the_proxy_is_made_before_its_server_and_goes_with_a_server_that_fails() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    fake.fail_start.lock().unwrap().insert(SERVER.into());
    let daemon = Daemon::new(portal(dir.path()), fake, None);
    let rt = daemon.runtime();
    let (u, f) = ids();
    let err = rt.enable(&u, &f, None, &|_| {}).await.unwrap_err();
    assert!(err.to_string().contains("exec format error"), "{err}");
    let calls = rt.engine().take_calls();
    let at = |c: &str| calls.iter().position(|x| x == c).unwrap();
    assert!(
        at("start mcp-u1.f.egress") < at("create mcp-u1.f"),
        "{calls:?}"
    );
    assert!(calls.contains(&format!("remove {PROXY}")), "{calls:?}");
    assert!(rt.engine().containers.lock().unwrap().is_empty());
    assert!(
        rt.engine()
            .networks
            .lock()
            .unwrap()
            .keys()
            .all(|n| n == "mcp-portal-egress"),
        "the internal network goes; the shared outbound one stays: {:?}",
        rt.engine().networks.lock().unwrap().keys()
    );
}

#[tokio::test]
async fn the_daemon_makes_a_missing_proxy_again_and_removes_one_nobody_wants() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::new(portal(dir.path()), Fake::default(), None);
    let rt = daemon.runtime();
    let (u, f) = ids();
    rt.enable(&u, &f, None, &|_| {}).await.unwrap();
    let networks: Vec<String> = rt
        .engine()
        .networks
        .lock()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(networks, ["mcp-net-u1.egress", "mcp-portal-egress"]);
    assert!(daemon.reconcile().await.unwrap().actions.is_empty());

    // Gone: made again, and the server, which runs as planned, is left as it is.
    rt.engine()
        .containers
        .lock()
        .unwrap()
        .remove(PROXY)
        .unwrap();
    rt.engine().take_calls();
    let pass = daemon.reconcile().await.unwrap();
    assert_eq!(pass.errors, Vec::<String>::new());
    assert_eq!(rt.engine().state_of(PROXY).as_deref(), Some("running"));
    let calls = rt.engine().take_calls();
    assert_eq!(calls, [format!("create {PROXY}"), format!("start {PROXY}")]);
    assert!(daemon.reconcile().await.unwrap().actions.is_empty());

    // Stopped: started again.
    rt.engine().die(PROXY, 1);
    daemon.reconcile().await.unwrap();
    assert_eq!(rt.engine().state_of(PROXY).as_deref(), Some("running"));

    // `restart` of the server makes a removed proxy again, too.
    rt.engine().containers.lock().unwrap().remove(PROXY);
    rt.restart(&u, &f).await.unwrap();
    assert_eq!(rt.engine().state_of(PROXY).as_deref(), Some("running"));
    let proxy = rt.engine().containers.lock().unwrap()[PROXY].clone();

    // A proxy whose server is neither enabled nor there is an orphan.
    let mut stray = proxy;
    stray.name = "mcp-u1.g.egress".into();
    stray
        .labels
        .insert("io.mcp-portal.server".into(), "g".into());
    rt.engine()
        .containers
        .lock()
        .unwrap()
        .insert(stray.name.clone(), stray);
    daemon.reconcile().await.unwrap();
    assert_eq!(rt.engine().state_of("mcp-u1.g.egress"), None);
    assert_eq!(rt.engine().state_of(PROXY).as_deref(), Some("running"));

    // Disabled: the server, its proxy and the internal network go.
    rt.disable(&u, &f).await.unwrap();
    assert!(rt.engine().containers.lock().unwrap().is_empty());
    assert!(!rt
        .engine()
        .networks
        .lock()
        .unwrap()
        .contains_key("mcp-net-u1.egress"));
}
