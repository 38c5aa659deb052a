#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The daemon's reconcile passes against a recording in-memory engine, for what needs no
//! real containers to show: how the `manual` update policy marks and unmarks.

mod common;

use std::collections::BTreeMap;

use common::fake::Fake;
use mcp_portal::config::Config;
use mcp_portal::ids::{ServerId, UserId};
use mcp_portal::manager::{Daemon, Portal};
use mcp_portal::reconcile::Action;

fn catalog(memory: &str) -> String {
    format!("name: t\nservers:\n  - {{id: a, image: mcp-echo, resources: {{memory: {memory}, cpus: 0.1}}}}\n")
}

fn portal(dir: &std::path::Path) -> Portal {
    let vars = BTreeMap::from([("MCP_PORTAL_UPDATE_POLICY", "manual".to_string())]);
    let config = Config::from_lookup(dir.to_path_buf(), |k| vars.get(k).cloned()).unwrap();
    let portal = Portal::open(config).unwrap();
    portal
        .upload_catalog("t.yaml", catalog("32m").as_bytes(), None)
        .unwrap();
    portal
}

async fn outdated(d: &Daemon<Fake>) -> bool {
    let rows = d.runtime().status(None).await.unwrap();
    assert_eq!(rows.len(), 1);
    rows[0].outdated
}

#[tokio::test]
async fn a_manual_update_is_marked_once_and_unmarked_when_the_definition_is_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let portal = portal(dir.path());
    let u = UserId::parse("u1").unwrap();
    portal.add_user(u.clone(), vec![], None).unwrap();
    let d = Daemon::new(portal.clone(), Fake::default(), None);
    let a = ServerId::parse("a").unwrap();
    d.runtime().enable(&u, &a, None, &|_| {}).await.unwrap();
    assert!(d.reconcile().await.unwrap().actions.is_empty());

    portal
        .upload_catalog("t.yaml", catalog("64m").as_bytes(), None)
        .unwrap();
    let marked = d.reconcile().await.unwrap().actions;
    assert_eq!(
        marked,
        [Action::MarkOutdated {
            name: "mcp-u1.a".into()
        }]
    );
    assert!(outdated(&d).await);
    assert!(
        d.reconcile().await.unwrap().actions.is_empty(),
        "marked once, not on every pass"
    );
    assert!(outdated(&d).await);

    portal
        .upload_catalog("t.yaml", catalog("32m").as_bytes(), None)
        .unwrap();
    let cleared = d.reconcile().await.unwrap().actions;
    assert_eq!(
        cleared,
        [Action::ClearOutdated {
            name: "mcp-u1.a".into()
        }]
    );
    assert!(!outdated(&d).await, "status stops saying outdated");
    assert!(d.reconcile().await.unwrap().actions.is_empty());
}
