#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The daemon's restart policy on the recording engine, under paused tokio time: a
//! crashing server is restarted after the backoff, then twice as long; after the limit
//! it is marked failed and left alone; a quiet running stretch clears the count.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::fake::Fake;
use mcp_portal::config::Config;
use mcp_portal::ids::{ServerId, UserId};
use mcp_portal::manager::{Daemon, Portal, ReconcileReport, StatusRow};
use tokio::time::advance;

const NAME: &str = "mcp-u1.a";
const BASE: Duration = Duration::from_secs(1);
/// The quiet stretch after which restarts are forgiven (the daemon's `FORGIVE`).
const FORGIVE: Duration = Duration::from_secs(600);
const TICK: Duration = Duration::from_millis(1);

struct Setup {
    _dir: tempfile::TempDir,
    daemon: Daemon<Fake>,
    /// Held as a running daemon holds it, so that `status` trusts the daemon's record.
    _running: mcp_portal::store::Lock,
}

/// A daemon for user u1 with server `a` running, restarting up to `max_restarts` times.
async fn setup(max_restarts: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let vars = BTreeMap::from([
        (
            "MCP_PORTAL_RESTART_BACKOFF_MS",
            BASE.as_millis().to_string(),
        ),
        ("MCP_PORTAL_MAX_RESTARTS", max_restarts.to_string()),
        ("MCP_PORTAL_START_GRACE_MS", "0".to_string()),
    ]);
    let config = Config::from_lookup(dir.path().to_path_buf(), |k| vars.get(k).cloned()).unwrap();
    let portal = Portal::open(config).unwrap();
    let catalog =
        "name: t\nservers:\n  - {id: a, image: mcp-echo, resources: {memory: 32m, cpus: 0.1}}\n";
    portal
        .upload_catalog("t.yaml", catalog.as_bytes(), None)
        .unwrap();
    let user = UserId::parse("u1").unwrap();
    portal.add_user(user.clone(), vec![], None).unwrap();
    let running = portal
        .store()
        .daemon_lock()
        .unwrap()
        .expect("no other daemon");
    let daemon = Daemon::new(portal, Fake::default(), None);
    let server = ServerId::parse("a").unwrap();
    daemon
        .runtime()
        .enable(&user, &server, None, &|_| {})
        .await
        .unwrap();
    let first = pass(&daemon).await;
    assert!(first.actions.is_empty(), "in sync after enable: {first:?}");
    Setup {
        _dir: dir,
        daemon,
        _running: running,
    }
}

async fn pass(daemon: &Daemon<Fake>) -> ReconcileReport {
    daemon.reconcile().await.unwrap()
}

fn restarts(daemon: &Daemon<Fake>) -> u32 {
    daemon.runtime().engine().restarts_of(NAME)
}

fn die(daemon: &Daemon<Fake>) {
    daemon.runtime().engine().die(NAME, 1);
}

async fn row(daemon: &Daemon<Fake>) -> StatusRow {
    let rows = daemon.runtime().status(None).await.unwrap();
    rows.into_iter().find(|r| r.container == NAME).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_server_that_keeps_dying_is_restarted_after_base_then_twice_as_long_each_time() {
    let Setup {
        daemon,
        _dir,
        _running,
    } = setup(10).await;
    die(&daemon);
    pass(&daemon).await;
    assert_eq!(restarts(&daemon), 1, "the first restart comes at once");

    for (n, wait) in [(2, BASE), (3, 2 * BASE), (4, 4 * BASE)] {
        die(&daemon);
        pass(&daemon).await;
        advance(wait - TICK).await;
        pass(&daemon).await;
        assert_eq!(restarts(&daemon), n - 1, "before {wait:?} it waits");
        advance(TICK).await;
        pass(&daemon).await;
        assert_eq!(restarts(&daemon), n, "after {wait:?} it restarts");
    }
    let r = row(&daemon).await;
    assert_eq!(r.restarts, 4);
    assert_eq!(r.last_error.as_deref(), Some("exited with code 1"));
    assert_eq!(r.state, "running");
}

#[tokio::test(start_paused = true)]
async fn after_max_restarts_a_crash_loop_is_marked_failed_and_left_alone() {
    let Setup {
        daemon,
        _dir,
        _running,
    } = setup(2).await;
    die(&daemon);
    pass(&daemon).await;
    die(&daemon);
    advance(BASE).await;
    pass(&daemon).await;
    assert_eq!(restarts(&daemon), 2);

    die(&daemon);
    advance(2 * BASE).await;
    let report = pass(&daemon).await;
    assert_eq!(
        report.errors,
        ["mcp-u1.a marked failed: exited with code 1 after 2 restarts"]
    );
    assert_eq!(restarts(&daemon), 2, "no third restart");
    let r = row(&daemon).await;
    assert_eq!(r.health.as_deref(), Some("failed"));
    assert_eq!(r.restarts, 2);
    assert_eq!(
        r.last_error.as_deref(),
        Some("exited with code 1; gave up after 2 restarts")
    );

    // However long it stays down, nothing touches it again.
    advance(2 * FORGIVE).await;
    let later = pass(&daemon).await;
    assert!(later.actions.is_empty(), "{later:?}");
    assert!(later.errors.is_empty(), "{later:?}");
    assert_eq!(restarts(&daemon), 2);
    assert_eq!(
        daemon.runtime().engine().state_of(NAME).as_deref(),
        Some("exited")
    );
    assert_eq!(row(&daemon).await.health.as_deref(), Some("failed"));
}

#[tokio::test(start_paused = true)]
async fn after_a_quiet_running_stretch_of_forgive_the_restart_count_starts_over() {
    let Setup {
        daemon,
        _dir,
        _running,
    } = setup(2).await;
    die(&daemon);
    pass(&daemon).await;
    die(&daemon);
    advance(BASE).await;
    pass(&daemon).await;
    assert_eq!(row(&daemon).await.restarts, 2, "at the limit");

    advance(FORGIVE - TICK).await;
    pass(&daemon).await;
    assert_eq!(
        row(&daemon).await.restarts,
        2,
        "not quite quiet long enough"
    );
    advance(TICK).await;
    pass(&daemon).await;
    assert_eq!(row(&daemon).await.restarts, 0, "forgiven");

    // Without forgiveness this death would have been the one to give up on.
    die(&daemon);
    let report = pass(&daemon).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(restarts(&daemon), 3);
    let r = row(&daemon).await;
    assert_eq!(r.restarts, 1);
    assert_eq!(r.health, None, "no health check: nothing to show");
    assert_eq!(r.state, "running");
}

/// Issue 12, point 11: a container that an operation in flight is starting (it holds
/// the pair's lock) is not restarted by the daemon, and no restart is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_an_operation_in_flight_starts_is_neither_restarted_nor_audited() {
    use mcp_portal::engine::Engine;
    let Setup {
        daemon,
        _dir,
        _running,
    } = setup(10).await;
    die(&daemon);
    let (user, server) = (UserId::parse("u1").unwrap(), ServerId::parse("a").unwrap());
    let lock = daemon
        .runtime()
        .portal()
        .store()
        .pair_lock(&user, &server)
        .unwrap();
    let in_flight = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        daemon
            .runtime()
            .engine()
            .start_container(NAME)
            .await
            .unwrap();
        drop(lock);
    };
    let (report, ()) = tokio::join!(pass(&daemon), in_flight);
    assert!(
        report
            .actions
            .iter()
            .any(|a| serde_json::to_string(a).unwrap().contains("restart")),
        "the pass saw the container stopped: {report:?}"
    );
    assert_eq!(restarts(&daemon), 0, "the daemon left it to the operation");
    assert_eq!(row(&daemon).await.restarts, 0);
    let audit = std::fs::read_to_string(_dir.path().join("audit/audit.log")).unwrap();
    assert!(!audit.contains("reconcile.restart"), "{audit}");
}
