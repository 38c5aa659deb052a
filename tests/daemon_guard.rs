#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! A daemon that cannot read its data folder must not act on it (issue 11, item 14), on
//! the recording engine: a folder gone from under it, a pass that would remove more
//! containers than the limit, and one user's damaged record remove nothing.

mod common;

use std::collections::BTreeMap;

use common::fake::Fake;
use mcp_portal::config::Config;
use mcp_portal::ids::{ServerId, UserId};
use mcp_portal::manager::{Daemon, Portal};

struct Setup {
    dir: tempfile::TempDir,
    daemon: Daemon<Fake>,
    _running: mcp_portal::store::Lock,
}

/// `users` users, each with server `a` enabled and running.
async fn setup(users: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let vars = BTreeMap::from([
        ("MCP_PORTAL_START_GRACE_MS", "0".to_string()),
        ("MCP_PORTAL_USER_NETWORK_SUBNET_SIZE", "28".to_string()),
        ("MCP_PORTAL_PORTS_PER_USER", "10".to_string()),
    ]);
    let config = Config::from_lookup(dir.path().join("data"), |k| vars.get(k).cloned()).unwrap();
    let portal = Portal::open(config).unwrap();
    let catalog =
        "name: t\nservers:\n  - {id: a, image: mcp-echo, resources: {memory: 32m, cpus: 0.1}}\n";
    portal
        .upload_catalog("t.yaml", catalog.as_bytes(), None)
        .unwrap();
    let running = portal.store().daemon_lock().unwrap().unwrap();
    let daemon = Daemon::new(portal.clone(), Fake::default(), None);
    let server = ServerId::parse("a").unwrap();
    for i in 0..users {
        let user = UserId::parse(&format!("u{i}")).unwrap();
        portal.add_user(user.clone(), vec![], None).unwrap();
        daemon
            .runtime()
            .enable(&user, &server, None, &|_| {})
            .await
            .unwrap();
    }
    let first = daemon.reconcile().await.unwrap();
    assert!(first.actions.is_empty(), "in sync after enable: {first:?}");
    Setup {
        dir,
        daemon,
        _running: running,
    }
}

impl Setup {
    fn there(&self, users: usize) -> usize {
        (0..users)
            .filter(|i| {
                let name = format!("mcp-u{i}.a");
                self.daemon.runtime().engine().state_of(&name).is_some()
            })
            .count()
    }

    /// What an earlier `disable` would leave behind if it had not removed the container.
    fn forget_enabled(&self, i: usize) {
        let path = self
            .dir
            .path()
            .join(format!("data/users/u{i}/enabled.json"));
        std::fs::remove_file(path).unwrap();
    }
}

#[tokio::test]
async fn a_data_folder_gone_from_under_the_daemon_removes_nothing() {
    let s = setup(3).await;
    let data = s.dir.path().join("data");
    std::fs::remove_dir_all(data.join("users")).unwrap();
    std::fs::remove_dir_all(data.join("catalogs")).unwrap();
    let report = s.daemon.reconcile().await.unwrap();
    assert_eq!(s.there(3), 3, "containers were removed: {report:?}");
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("cannot be read whole")),
        "{report:?}"
    );
}

#[tokio::test]
async fn more_orphans_than_the_limit_are_all_kept_and_up_to_it_all_removed() {
    let s = setup(21).await;
    for i in 0..21 {
        s.forget_enabled(i);
    }
    let report = s.daemon.reconcile().await.unwrap();
    assert_eq!(s.there(21), 21, "{report:?}");
    assert!(
        report.errors.iter().any(|e| e.contains(
            "would remove 21 orphaned containers, more than MCP_PORTAL_MAX_REMOVALS_PER_PASS (20)"
        )),
        "{report:?}"
    );
    // One of them wanted again: 20 left to remove, which is allowed.
    let user = UserId::parse("u0").unwrap();
    let server = ServerId::parse("a").unwrap();
    s.daemon
        .runtime()
        .enable(&user, &server, None, &|_| {})
        .await
        .unwrap();
    let report = s.daemon.reconcile().await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(s.there(21), 1);
}

#[tokio::test]
async fn a_users_damaged_record_keeps_their_containers_and_no_one_elses() {
    let s = setup(4).await;
    let path = s.dir.path().join("data/users/u1/enabled.json");
    std::fs::write(&path, "{ not json").unwrap();
    s.forget_enabled(2);
    // u3's own record gone: not a user any more, but not removed either.
    let record = s.dir.path().join("data/users/u3/user.json");
    std::fs::rename(&record, record.with_extension("json.bak")).unwrap();
    let report = s.daemon.reconcile().await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    let name = |i: usize| format!("mcp-u{i}.a");
    let rt = s.daemon.runtime();
    let engine = rt.engine();
    assert!(engine.state_of(&name(0)).is_some());
    assert!(
        engine.state_of(&name(1)).is_some(),
        "u1's container was removed"
    );
    assert!(engine.state_of(&name(2)).is_none(), "u2's orphan was kept");
    assert!(
        engine.state_of(&name(3)).is_some(),
        "u3's container was removed"
    );
}

#[tokio::test]
async fn a_damaged_profile_keeps_its_containers_and_stops_no_one_elses_pass() {
    let s = setup(3).await;
    let profile = s.dir.path().join("data/users/u1/user.json");
    std::fs::write(&profile, "{ not json").unwrap();
    let rt = s.daemon.runtime();
    rt.engine().die("mcp-u0.a", 1);
    let report = s.daemon.reconcile().await.unwrap();
    assert_eq!(
        rt.engine().state_of("mcp-u0.a").as_deref(),
        Some("running"),
        "u0's dead container was not restarted: {report:?}"
    );
    assert!(
        rt.engine().state_of("mcp-u1.a").is_some(),
        "u1's container was removed: {report:?}"
    );
}

#[tokio::test]
async fn status_of_everyone_shows_a_damaged_users_containers_with_the_file() {
    let s = setup(3).await;
    let path = s.dir.path().join("data/users/u1/enabled.json");
    std::fs::write(&path, "{ not json").unwrap();
    let rows = s.daemon.runtime().status(None).await.unwrap();
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.user.as_str(), r.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [("u0", "running"), ("u1", "running"), ("u2", "running")]
    );
    let why = rows[1].last_error.as_deref().unwrap_or_default();
    assert!(why.starts_with("users/u1/enabled.json is damaged"), "{why}");
}
