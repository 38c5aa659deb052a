#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The audit log: every change and refusal made through `portalctl`, with actor, user,
//! action, resource and result, and never a secret value.

mod common;

use common::{Env, TEAM};
use serde_json::Value;

fn entries(env: &Env) -> Vec<Value> {
    let text = std::fs::read_to_string(env.data().join("audit/audit.log")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn changes_and_refusals_are_audited_without_values() {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    let bad = env.file(
        "bad.yaml",
        "name: bad\nservers:\n  - {id: x, image: 'Bad Image'}\n",
    );
    env.ok(&["user", "add", "u1"]);
    env.ok(&["catalog", "upload", &env.path(&team)]);
    assert_eq!(env.run(&["catalog", "upload", &env.path(&bad)]).code, 3);
    env.ok(&["catalog", "ls"]);
    let mut cmd = env.cmd();
    cmd.env("MCP_PORTAL_ACTOR", "alice")
        .args(["secret", "set", "gh.token", "--user", "u1"])
        .write_stdin("s3cr3t-value");
    assert!(cmd.output().unwrap().status.success());
    let log = entries(&env);
    let summary: Vec<(String, String, String)> = log
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["resource"].as_str().unwrap().into(),
                e["result"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("user.add".into(), "u1".into(), "ok".into()),
            ("catalog.upload".into(), env.path(&team), "ok".into()),
            ("catalog.upload".into(), env.path(&bad), "refused".into()),
            ("secret.set".into(), "gh.token".into(), "ok".into()),
        ]
    );
    assert!(log[2]["detail"]
        .as_str()
        .unwrap()
        .contains("refused with 1 error(s)"));
    assert_eq!(log[3]["actor"], "cli:alice");
    assert_eq!(log[3]["user"], "u1");
    assert!(log.iter().all(|e| e["time"].is_string()));
    let raw = std::fs::read_to_string(env.data().join("audit/audit.log")).unwrap();
    assert!(!raw.contains("s3cr3t-value"));
}

#[test]
fn audit_logging_can_be_turned_off() {
    let env = Env::new();
    let out = env.run_with(
        &["user", "add", "u1"],
        &[("MCP_PORTAL_AUDIT_LOGGING_ENABLED", "false")],
    );
    assert_eq!(out.code, 0);
    assert!(entries(&env).is_empty());
}
