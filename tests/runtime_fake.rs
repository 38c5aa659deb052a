#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The container manager against a recording in-memory engine: what a real engine would
//! make slow or flaky to show (bounded starts, rollback after a failing start, the order
//! of a replacement's steps, what an interrupted one left, what `user rm` removes and
//! what `user add` refuses to inherit).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::fake::Fake;
use mcp_portal::config::Config;
use mcp_portal::ids::{ServerId, UserId};
use mcp_portal::manager::{Daemon, EnableOutcome, Portal, Runtime};

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

/// A portal with user u1, and the ids of u1 and server `a`.
fn with_u1(dir: &std::path::Path) -> (Portal, UserId, ServerId) {
    let portal = portal(dir, "5");
    let (u, a) = ids("u1", "a");
    portal.add_user(u.clone(), vec![], None).unwrap();
    (portal, u, a)
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
    let (portal, u, a) = with_u1(dir.path());
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

/// A user with server `a` running, and the catalog changed under it so that the next
/// enable replaces its container.
async fn running_then_changed(dir: &std::path::Path) -> (Runtime<Fake>, UserId, ServerId) {
    let (portal, u, a) = with_u1(dir);
    let rt = Runtime::new(portal, Fake::default());
    rt.enable(&u, &a, None, &|_| {}).await.unwrap();
    let changed =
        "name: t\nservers:\n  - {id: a, image: mcp-echo, resources: {memory: 48m, cpus: 0.1}}\n";
    rt.portal()
        .upload_catalog("t.yaml", changed.as_bytes(), None)
        .unwrap();
    rt.engine().take_calls();
    (rt, u, a)
}

#[tokio::test]
async fn a_replacement_is_made_before_the_old_container_stops_and_named_once_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, u, a) = running_then_changed(dir.path()).await;
    let report = rt.enable(&u, &a, None, &|_| {}).await.unwrap();
    assert_eq!(report.container, "mcp-u1.a");
    assert_eq!(
        rt.engine().take_calls(),
        [
            "create mcp-u1.a.next",
            "stop mcp-u1.a",
            "start mcp-u1.a.next",
            "remove mcp-u1.a",
            "rename mcp-u1.a.next mcp-u1.a",
        ]
    );
    assert_eq!(rt.engine().state_of("mcp-u1.a").as_deref(), Some("running"));
    assert_eq!(rt.engine().containers.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_replacement_that_fails_to_start_gives_way_to_the_old_container_again() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, u, a) = running_then_changed(dir.path()).await;
    let before = rt.portal().store().read_enabled(&u).unwrap().servers[&a].clone();
    rt.engine()
        .fail_start
        .lock()
        .unwrap()
        .insert("mcp-u1.a.next".into());
    let err = rt.enable(&u, &a, None, &|_| {}).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "container mcp-u1.a was not replaced: docker could not start container mcp-u1.a.next: exec format error; the old one was started again and runs as before; fix the change and enable again"
    );
    assert_eq!(
        rt.engine().take_calls(),
        [
            "create mcp-u1.a.next",
            "stop mcp-u1.a",
            "start mcp-u1.a.next",
            "remove mcp-u1.a.next",
            "start mcp-u1.a",
        ]
    );
    assert_eq!(rt.engine().state_of("mcp-u1.a").as_deref(), Some("running"));
    assert_eq!(rt.engine().containers.lock().unwrap().len(), 1);
    let after = rt.portal().store().read_enabled(&u).unwrap().servers[&a].clone();
    assert_eq!(
        after.memory_bytes, before.memory_bytes,
        "the desired state is the old container's again"
    );
}

/// A portal whose server `d` mounts a user folder and a named volume, with `u1`'s server
/// enabled (so both exist), then disabled.
async fn with_data(dir: &std::path::Path) -> Runtime<Fake> {
    let config = Config::from_lookup(dir.to_path_buf(), |_| None).unwrap();
    let portal = Portal::open(config).unwrap();
    let catalog = "name: t\nservers:\n  - {id: d, image: mcp-echo, volumes: [\"{USER_DATA}/d:/data\", \"notes:/notes\"]}\n";
    portal
        .upload_catalog("t.yaml", catalog.as_bytes(), None)
        .unwrap();
    let rt = Runtime::new(portal.clone(), Fake::default());
    let (u, d) = ids("u1", "d");
    rt.add_user_by(&portal, u.clone(), vec![], None, false)
        .await
        .unwrap();
    rt.enable(&u, &d, None, &|_| {}).await.unwrap();
    std::fs::write(dir.join("volumes/u1/data/d/notes.txt"), "mine").unwrap();
    rt.disable(&u, &d).await.unwrap();
    rt
}

fn volumes(rt: &Runtime<Fake>) -> Vec<String> {
    rt.engine()
        .volumes
        .lock()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn user_rm_removes_their_data_so_a_new_user_of_the_id_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let rt = with_data(dir.path()).await;
    let (u, _) = ids("u1", "d");
    assert_eq!(volumes(&rt), ["mcp-u1_notes"]);
    let removed = rt.remove_user_by(rt.portal(), &u, false).await.unwrap();
    assert_eq!(removed.data, ["volumes/u1", "Docker volume mcp-u1_notes"]);
    assert!(!dir.path().join("volumes/u1").exists());
    assert!(volumes(&rt).is_empty());
    let again = rt
        .add_user_by(rt.portal(), u.clone(), vec![], None, false)
        .await
        .unwrap();
    assert!(again.reused.is_empty());
    assert!(!dir.path().join("volumes/u1/data/d/notes.txt").exists());
}

#[tokio::test]
async fn kept_data_is_refused_to_a_new_user_unless_they_reuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let rt = with_data(dir.path()).await;
    let (u, _) = ids("u1", "d");
    let removed = rt.remove_user_by(rt.portal(), &u, true).await.unwrap();
    assert_eq!(removed.kept, ["volumes/u1", "Docker volume mcp-u1_notes"]);
    assert!(dir.path().join("volumes/u1/data/d/notes.txt").exists());
    let err = rt
        .add_user_by(rt.portal(), u.clone(), vec![], None, false)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user u1 cannot be added: an earlier user u1 left data behind (volumes/u1, Docker volume mcp-u1_notes); take it over with `portalctl user add u1 --reuse-data`, or remove it with `portalctl user rm u1`"
    );
    assert!(rt.portal().store().read_user(&u).unwrap().is_none());
    let added = rt
        .add_user_by(rt.portal(), u.clone(), vec![], None, true)
        .await
        .unwrap();
    assert_eq!(added.reused, ["volumes/u1", "Docker volume mcp-u1_notes"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("volumes/u1/data/d/notes.txt")).unwrap(),
        "mine"
    );
}

#[tokio::test]
async fn what_an_interrupted_replacement_left_is_adopted_or_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (portal, u, a) = with_u1(dir.path());
    let daemon = Daemon::new(portal, Fake::default(), None);
    let rt = daemon.runtime();
    rt.enable(&u, &a, None, &|_| {}).await.unwrap();
    let fake = rt.engine();
    let move_to = |from: &str, to: &str| {
        let mut all = fake.containers.lock().unwrap();
        let mut c = all.remove(from).unwrap();
        c.name = to.into();
        all.insert(to.into(), c);
    };

    // Interrupted after the old container went, before the new one got the name.
    move_to("mcp-u1.a", "mcp-u1.a.next");
    let report = rt.enable(&u, &a, None, &|_| {}).await.unwrap();
    assert_eq!(
        report.outcome,
        EnableOutcome::Unchanged,
        "adopted, not made again"
    );
    assert_eq!(
        fake.take_calls().last().unwrap(),
        "rename mcp-u1.a.next mcp-u1.a"
    );

    // Interrupted before the old one stopped: the old one stays, the new one goes.
    let mut leftover = fake.containers.lock().unwrap()["mcp-u1.a"].clone();
    leftover.name = "mcp-u1.a.next".into();
    fake.containers
        .lock()
        .unwrap()
        .insert(leftover.name.clone(), leftover);
    let pass = daemon.reconcile().await.unwrap();
    assert!(pass.errors.is_empty(), "{:?}", pass.errors);
    let names: Vec<String> = fake.containers.lock().unwrap().keys().cloned().collect();
    assert_eq!(names, ["mcp-u1.a"]);
    assert_eq!(fake.state_of("mcp-u1.a").as_deref(), Some("running"));
}

#[tokio::test]
async fn data_left_without_a_user_is_removed_by_user_rm() {
    let dir = tempfile::tempdir().unwrap();
    let rt = with_data(dir.path()).await;
    let (u, _) = ids("u1", "d");
    rt.remove_user_by(rt.portal(), &u, true).await.unwrap();
    let removed = rt.remove_user_by(rt.portal(), &u, false).await.unwrap();
    assert!(!removed.was_user);
    assert_eq!(removed.data, ["volumes/u1", "Docker volume mcp-u1_notes"]);
    assert!(volumes(&rt).is_empty() && !dir.path().join("volumes/u1").exists());
    let none = rt.remove_user_by(rt.portal(), &u, false).await.unwrap_err();
    assert!(
        none.to_string().starts_with("user u1 does not exist"),
        "{none}"
    );
}

#[tokio::test]
async fn user_rm_of_a_user_whose_records_are_damaged_removes_their_containers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = with_data(dir.path()).await;
    let (u, d) = ids("u1", "d");
    rt.enable(&u, &d, None, &|_| {}).await.unwrap();
    std::fs::write(dir.path().join("users/u1/enabled.json"), "{ oops").unwrap();
    std::fs::write(dir.path().join("users/u1/user.json"), "{ oops").unwrap();
    let removed = rt.remove_user_by(rt.portal(), &u, false).await.unwrap();
    assert_eq!(removed.containers, ["mcp-u1.d"]);
    assert!(rt.engine().containers.lock().unwrap().is_empty());
    assert!(rt.engine().networks.lock().unwrap().is_empty());
    assert!(!dir.path().join("users/u1").exists());
}
