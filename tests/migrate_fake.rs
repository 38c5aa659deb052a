#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The migration against the recording in-memory engine: what is slow or awkward to show
//! on real Docker (a dry run makes no engine call at all; a server that fails to start
//! half-way stops the migration, which says what it had done and where the backup is).

mod common;

use std::collections::BTreeMap;

use common::fake::Fake;
use mcp_portal::config::Config;
use mcp_portal::ids::UserId;
use mcp_portal::manager::{MigrationRequest, Portal, PortalError, Runtime};

const CATALOG: &str = "\
registry:
  a: {type: server, image: 'mcp-echo:latest'}
  b: {type: server, image: 'mcp-echo:latest'}
";

fn setup(dir: &std::path::Path) -> (Runtime<Fake>, UserId) {
    let config = Config::from_lookup(dir.join("data"), |_| None).unwrap();
    let portal = Portal::open(config).unwrap();
    let u = UserId::parse("u1").unwrap();
    portal.add_user(u.clone(), vec![], None).unwrap();
    (Runtime::new(portal, Fake::default()), u)
}

fn request(user: &UserId, apply: bool) -> MigrationRequest {
    let files = BTreeMap::from([
        (
            "catalogs/docker-mcp.yaml".to_string(),
            CATALOG.as_bytes().to_vec(),
        ),
        (
            "registry.yaml".to_string(),
            b"registry:\n  a: {ref: \"\"}\n  b: {ref: \"\"}\n".to_vec(),
        ),
    ]);
    MigrationRequest {
        dir: "mcp".into(),
        user: user.clone(),
        files,
        apply,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_makes_no_engine_call_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, u) = setup(dir.path());
    let plan = rt
        .migrate_by(rt.portal(), request(&u, false), &|_| {})
        .await
        .unwrap();
    assert!(!plan.applied);
    assert_eq!(plan.servers.len(), 2);
    assert!(rt.engine().take_calls().is_empty());
    assert!(rt.engine().networks.lock().unwrap().is_empty());
    assert!(rt.portal().list_catalogs().unwrap().is_empty());
    assert!(!dir.path().join("data/backups").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_fails_half_way_stops_the_migration_naming_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, u) = setup(dir.path());
    rt.engine()
        .fail_start
        .lock()
        .unwrap()
        .insert("mcp-u1.b".into());
    let err = rt
        .migrate_by(rt.portal(), request(&u, true), &|_| {})
        .await
        .unwrap_err();
    let PortalError::MigrationStopped { done, backup, .. } = &err else {
        panic!("not a stopped migration: {err}");
    };
    assert_eq!(done, "catalog docker-mcp, server a");
    let backup = dir.path().join("data").join(backup);
    assert!(backup.join("users/u1/user.json").is_file(), "{err}");
    assert!(!backup.join("catalogs/base/docker-mcp").exists());
    assert_eq!(rt.engine().state_of("mcp-u1.a").as_deref(), Some("running"));
    assert_eq!(
        rt.engine().state_of("mcp-u1.b"),
        None,
        "b's failed start was undone"
    );
    let audit = std::fs::read_to_string(dir.path().join("data/audit/audit.log")).unwrap();
    let last = audit.lines().last().unwrap();
    assert!(
        last.contains(r#""action":"system.migrate","resource":"mcp","result":"failed""#),
        "{last}"
    );
}
