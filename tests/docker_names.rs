#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Container names on the real Docker Engine: pairs whose ids spelled one name under the
//! earlier `mcp-<user>-<server>` scheme each get their own container, and containers an
//! earlier version made are renamed in place (same container, not recreated) by `enable`
//! and by the daemon's reconcile pass, which say so.

mod common;

use common::docker::{docker, with_echo_catalog as setup, DockerEnv};
use serde_json::Value;

fn user_label(d: &DockerEnv, container: &str) -> String {
    d.inspect(
        container,
        "{{index .Config.Labels \"io.mcp-portal.user\"}} {{.State.Running}}",
    )
}

/// What an earlier version left: the same container (same labels and spec hash) under
/// the name it gave it.
fn as_an_earlier_version_named_it(d: &DockerEnv, now: &str, then: &str) -> String {
    let out = docker(&["rename", now, then]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    d.inspect(then, "{{.Id}}")
}

fn audited_renames(d: &DockerEnv) -> Vec<String> {
    let log = std::fs::read_to_string(d.env.data().join("audit/audit.log")).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "container.rename")
        .map(|e| format!("{} {}", e["result"], e["detail"]))
        .collect()
}

#[test]
fn pairs_whose_ids_spelled_one_name_each_get_their_own_container() {
    // Issue 11: `nm-a` + `b-cli` and `nm-a-b` + `cli` were both `mcp-nm-a-b-cli`.
    let d = setup("names", 33, &["nm-a", "nm-a-b"]);
    let first = d.ok(&["enable", "b-cli", "--user", "nm-a"]);
    assert_eq!(
        first,
        "enabled b-cli for nm-a: container mcp-nm-a.b-cli (mcp-echo:latest)\n"
    );
    let second = d.ok(&["enable", "cli", "--user", "nm-a-b"]);
    assert_eq!(
        second,
        "enabled cli for nm-a-b: container mcp-nm-a-b.cli (mcp-echo:latest)\n"
    );
    assert_eq!(d.containers(), ["mcp-nm-a-b.cli", "mcp-nm-a.b-cli"]);
    assert_eq!(user_label(&d, "mcp-nm-a.b-cli"), "nm-a true");
    assert_eq!(user_label(&d, "mcp-nm-a-b.cli"), "nm-a-b true");
    let status: Vec<Value> = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    let rows: Vec<String> = status
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["user"], r["server"], r["container"], r["state"]
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            r#""nm-a" "b-cli" "mcp-nm-a.b-cli" "running""#,
            r#""nm-a-b" "cli" "mcp-nm-a-b.cli" "running""#,
        ]
    );
    d.ok(&["disable", "cli", "--user", "nm-a-b"]);
    assert_eq!(
        d.containers(),
        ["mcp-nm-a.b-cli"],
        "disabling one leaves the other's container alone"
    );
}

#[test]
fn containers_an_earlier_version_named_are_renamed_in_place() {
    let d = setup("upgrade", 34, &["up-a", "up-b"]);
    d.ok(&["enable", "web", "--user", "up-a"]);
    d.ok(&["enable", "cli", "--user", "up-b"]);
    let web = as_an_earlier_version_named_it(&d, "mcp-up-a.web", "mcp-up-a-web");
    let cli = as_an_earlier_version_named_it(&d, "mcp-up-b.cli", "mcp-up-b-cli");

    // Before anything renames them, status shows them as the pairs' own, not as orphans.
    let status: Vec<Value> = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    let states: Vec<String> = status
        .iter()
        .map(|r| format!("{} {}", r["container"], r["state"]))
        .collect();
    assert_eq!(
        states,
        [r#""mcp-up-a-web" "running""#, r#""mcp-up-b-cli" "running""#]
    );

    // `enable` adopts its pair's container: renamed, the same container, unchanged.
    let out = d.run(&["enable", "web", "--user", "up-a"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("already running, unchanged: web"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "warning: renamed container mcp-up-a-web (the name an earlier version gave it) to mcp-up-a.web; it was kept as it is\n"
    );
    assert_eq!(d.inspect("mcp-up-a.web", "{{.Id}}"), web);

    // The daemon's pass adopts the rest, and has nothing else to do.
    let out = d.run(&["serve", "--once", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "renamed container mcp-up-b-cli (the name an earlier version gave it) to mcp-up-b.cli; it was kept as it is"
        ),
        "{}",
        out.stderr
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["actions"],
        serde_json::json!([]),
        "nothing recreated"
    );
    assert_eq!(d.inspect("mcp-up-b.cli", "{{.Id}}"), cli);
    assert_eq!(d.inspect("mcp-up-b.cli", "{{.State.Running}}"), "true");
    assert_eq!(d.containers(), ["mcp-up-a.web", "mcp-up-b.cli"]);
    assert_eq!(
        audited_renames(&d),
        [
            r#""ok" "renamed container mcp-up-a-web (the name an earlier version gave it) to mcp-up-a.web; it was kept as it is""#,
            r#""ok" "renamed container mcp-up-b-cli (the name an earlier version gave it) to mcp-up-b.cli; it was kept as it is""#,
        ]
    );
}
