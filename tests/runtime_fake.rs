#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The container manager against a recording in-memory engine: what a real engine would
//! make slow or flaky to show (bounded starts, rollback after a failing start).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::fake::Fake;
use mcp_portal::config::Config;
use mcp_portal::ids::{ServerId, UserId};
use mcp_portal::manager::{Portal, Runtime};

fn portal(dir: &std::path::Path, max_starts: &str) -> Portal {
    let vars = BTreeMap::from([("MCP_PORTAL_MAX_CONCURRENT_STARTS", max_starts.to_string())]);
    let config = Config::from_lookup(dir.to_path_buf(), |k| vars.get(k).cloned()).unwrap();
    let portal = Portal::open(config).unwrap();
    let catalog = "name: t\nservers:\n  - {id: a, image: mcp-echo, resources: {memory: 32m, cpus: 0.1}}\n  - {id: b, image: mcp-echo, resources: {memory: 32m, cpus: 0.1}}\n";
    portal
        .upload_catalog("t.yaml", catalog.as_bytes(), None)
        .unwrap();
    portal
}

fn ids(user: &str, server: &str) -> (UserId, ServerId) {
    (
        UserId::parse(user).unwrap(),
        ServerId::parse(server).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_and_starts_are_bounded_and_the_rest_queue() {
    let dir = tempfile::tempdir().unwrap();
    let portal = portal(dir.path(), "3");
    for i in 0..10 {
        portal
            .add_user(UserId::parse(&format!("u{i}")).unwrap(), vec![], None)
            .unwrap();
    }
    let rt = Arc::new(Runtime::new(portal, Fake::default()));
    let mut tasks = Vec::new();
    for i in 0..10 {
        for s in ["a", "b"] {
            let rt = Arc::clone(&rt);
            tasks.push(tokio::spawn(async move {
                let (u, s) = ids(&format!("u{i}"), s);
                rt.enable(&u, &s, None, &|_| {}).await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let fake = rt.engine();
    assert_eq!(fake.containers.lock().unwrap().len(), 20);
    assert_eq!(
        fake.max_in_flight.load(Ordering::SeqCst),
        3,
        "at most MCP_PORTAL_MAX_CONCURRENT_STARTS at once"
    );
}

#[tokio::test]
async fn a_failing_start_is_undone_completely() {
    let dir = tempfile::tempdir().unwrap();
    let portal = portal(dir.path(), "5");
    let (u, a) = ids("u1", "a");
    portal.add_user(u.clone(), vec![], None).unwrap();
    let fake = Fake::default();
    fake.fail_start.lock().unwrap().insert("mcp-u1.a".into());
    let rt = Runtime::new(portal, fake);
    let err = rt.enable(&u, &a, None, &|_| {}).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "docker could not start container mcp-u1.a: exec format error"
    );
    assert!(rt.engine().containers.lock().unwrap().is_empty());
    assert!(rt.engine().networks.lock().unwrap().is_empty());
    assert!(rt
        .portal()
        .store()
        .read_enabled(&u)
        .unwrap()
        .servers
        .is_empty());
    assert_eq!(
        rt.portal()
            .store()
            .read_allocations()
            .unwrap()
            .unwrap()
            .users
            .len(),
        0
    );
}
