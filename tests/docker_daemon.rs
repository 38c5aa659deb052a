#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `portalctl serve` against the real Docker Engine: it recreates what vanished, restarts
//! what exits (and gives up on a crash loop), applies catalog edits and refuses bad ones,
//! converges after kill -9, and leaves containers running on SIGTERM.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::docker::{docker, DockerEnv, OutputAsync};
use serde_json::Value;

const CATALOG: &str = r#"
name: d
servers:
  - id: web
    image: mcp-echo:latest
    transport: streamable-http
    port: 8080
    resources: {memory: 32m, cpus: 0.1}
    health_check: {type: mcp, interval: 1s, timeout: 1s, retries: 2}
  - id: cli
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.1}
  - id: cli2
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.1}
  - id: crash
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.1}
    command: [exit, "4", "700"]
"#;

struct Serve {
    child: Child,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn setup(name: &str, slot: u16, users: &[&str]) -> DockerEnv {
    let mut d = DockerEnv::new(name, slot);
    d.vars.push(("MCP_PORTAL_DEBOUNCE_MS".into(), "50".into()));
    d.vars
        .push(("MCP_PORTAL_RESTART_BACKOFF_MS".into(), "200".into()));
    d.vars.push(("MCP_PORTAL_MAX_RESTARTS".into(), "2".into()));
    d.vars.push(("MCP_PORTAL_RESYNC_SECS".into(), "2".into()));
    let cat = d.env.file("d.yaml", CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&cat)]);
    for u in users {
        d.ok(&["user", "add", u]);
    }
    d
}

fn serve(d: &DockerEnv, extra: &[&str]) -> Serve {
    let mut args = vec!["serve"];
    args.extend_from_slice(extra);
    let log = std::fs::File::create(d.env.dir.path().join("serve.log")).unwrap();
    let child = d
        .command(&args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Serve { child }
}

/// Waits up to 20 s for `cond`, polling.
fn eventually(what: &str, cond: impl FnMut() -> bool) {
    eventually_in(None, what, cond)
}

fn eventually_in(d: Option<&DockerEnv>, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = d
        .map(|d| std::fs::read_to_string(d.env.dir.path().join("serve.log")).unwrap_or_default())
        .unwrap_or_default();
    panic!("timed out waiting for: {what}\n{log}");
}

fn status(d: &DockerEnv) -> Vec<Value> {
    serde_json::from_str(&d.ok(&["status", "--json"])).unwrap()
}

#[test]
fn a_container_removed_behind_the_daemons_back_is_recreated() {
    let d = setup("dgone", 15, &["dg-a"]);
    d.ok(&["enable", "cli", "--user", "dg-a"]);
    // No daemon yet: its old health record is not shown as current (issue 12, point 8).
    let out = d.run(&["status", "--user", "dg-a"]);
    assert!(
        out.stderr
            .starts_with("note: no daemon runs on this data folder"),
        "{}",
        out.stderr
    );
    assert_eq!(status(&d)[0]["health"], "unknown");
    let _serve = serve(&d, &[]);
    eventually_in(Some(&d), "the daemon holds its data folder", || {
        status(&d)[0]["health"] != "unknown"
    });
    // A second daemon on the same folder is refused at once, naming the folder.
    let mut second = d
        .command(&["serve"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second portalctl serve did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("a daemon already runs on the data folder"),
        "{err}"
    );
    let id = d.inspect("mcp-dg-a.cli", "{{.Id}}");
    docker(&["rm", "-f", "mcp-dg-a.cli"]);
    eventually("the container is back", || {
        docker(&[
            "inspect",
            "mcp-dg-a.cli",
            "--format",
            "{{.Id}} {{.State.Running}}",
        ])
        .stdout
        .ends_with(" true")
    });
    assert_ne!(d.inspect("mcp-dg-a.cli", "{{.Id}}"), id);
    // A CLI change is picked up at once: disable by hand, the daemon does not bring it back.
    d.ok(&["disable", "cli", "--user", "dg-a"]);
    std::thread::sleep(Duration::from_secs(1));
    assert!(d.containers().is_empty());
    let audit = std::fs::read_to_string(d.env.data().join("audit/audit.log")).unwrap();
    assert!(
        audit.contains(r#""actor":"daemon""#)
            && (audit.contains(r#""action":"reconcile.create""#)
                || audit.contains(r#""action":"reconcile.restart""#)),
        "{audit}"
    );
}

#[test]
fn an_exited_server_is_restarted_and_a_crash_loop_ends_as_failed() {
    let d = setup("dcrash", 16, &["dc-a"]);
    d.ok(&["enable", "cli", "--user", "dc-a"]);
    let _serve = serve(&d, &[]);
    std::thread::sleep(Duration::from_millis(500));
    docker(&["stop", "-t", "1", "mcp-dc-a.cli"]);
    // `docker` (not `d.inspect`) in waits: the container may be gone for a moment.
    eventually("the stopped server runs again", || {
        docker(&["inspect", "mcp-dc-a.cli", "--format", "{{.State.Running}}"]).stdout == "true"
    });
    eventually("the restart is counted", || {
        status(&d)
            .iter()
            .any(|r| r["server"] == "cli" && r["restarts"] == 1)
    });

    d.ok(&["enable", "crash", "--user", "dc-a"]);
    eventually("the crash loop is given up", || {
        status(&d)
            .iter()
            .any(|r| r["server"] == "crash" && r["health"] == "failed")
    });
    let row = status(&d)
        .into_iter()
        .find(|r| r["server"] == "crash")
        .unwrap();
    assert_eq!(row["restarts"], 2);
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("exited with code 4"),
        "{row}"
    );
    let restarts_then = docker(&[
        "inspect",
        "mcp-dc-a.crash",
        "--format",
        "{{.State.StartedAt}}",
    ])
    .stdout;
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        docker(&[
            "inspect",
            "mcp-dc-a.crash",
            "--format",
            "{{.State.StartedAt}}"
        ])
        .stdout,
        restarts_then,
        "nothing loops"
    );
}

#[test]
fn an_edited_catalog_is_applied_and_an_invalid_one_refused_with_the_old_kept() {
    let d = setup("dedit", 17, &["de-a"]);
    let folder = d.env.dir.path().join("watched");
    std::fs::create_dir_all(&folder).unwrap();
    let v1 = "servers:\n  - {id: tool, image: 'mcp-echo:latest', resources: {memory: 32m, cpus: 0.1}, env: {LEVEL: one}}\n";
    std::fs::write(folder.join("team.yaml"), v1).unwrap();
    let _serve = serve(&d, &["--watch-catalogs", folder.to_str().unwrap()]);
    eventually_in(Some(&d), "the watched catalog is stored", || {
        d.run(&["catalog", "ls"]).stdout.contains("team")
    });
    d.ok(&["enable", "tool", "--user", "de-a"]);
    assert!(d
        .inspect("mcp-de-a.tool", "{{json .Config.Env}}")
        .contains("LEVEL=one"));

    std::fs::write(
        folder.join("team.yaml"),
        v1.replace("LEVEL: one", "LEVEL: two"),
    )
    .unwrap();
    eventually("the edit reaches the container", || {
        docker(&[
            "inspect",
            "mcp-de-a.tool",
            "--format",
            "{{json .Config.Env}}",
        ])
        .stdout
        .contains("LEVEL=two")
    });

    std::fs::write(
        folder.join("team.yaml"),
        "servers:\n  - {id: tool, image: 'Not Valid'}\n",
    )
    .unwrap();
    eventually("the refusal is audited", || {
        std::fs::read_to_string(d.env.data().join("audit/audit.log"))
            .unwrap_or_default()
            .contains(r#""result":"refused""#)
    });
    let history = d.ok(&["catalog", "history", "team"]);
    assert_eq!(
        history.lines().count(),
        3,
        "two good revisions, the bad one not stored: {history}"
    );
    assert!(
        d.inspect("mcp-de-a.tool", "{{json .Config.Env}}")
            .contains("LEVEL=two"),
        "the last good version stays in force"
    );
    // Issue 11, item 10: a neighbour's change does not parse the refused file again.
    std::fs::write(
        folder.join("other.yaml"),
        v1.replace("id: tool", "id: other"),
    )
    .unwrap();
    eventually_in(Some(&d), "the neighbour is stored", || {
        d.run(&["catalog", "ls"]).stdout.contains("other")
    });
    let audit = std::fs::read_to_string(d.env.data().join("audit/audit.log")).unwrap();
    assert_eq!(
        audit.matches(r#""result":"refused""#).count(),
        1,
        "the unchanged refused file was not parsed again: {audit}"
    );
    let log = std::fs::read_to_string(d.env.dir.path().join("serve.log")).unwrap();
    assert_eq!(
        log.matches("catalog refused; the last good revision stays in force")
            .count(),
        1,
        "{log}"
    );
}

#[test]
fn after_kill_9_during_parallel_enables_it_converges_with_nothing_extra() {
    let users: Vec<String> = (0..10).map(|i| format!("dk-{i}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let d = setup("dkill", 18, &refs);
    let mut serve1 = serve(&d, &[]);
    let mut children = Vec::new();
    for u in &users {
        for s in ["cli", "cli2", "web"] {
            children.push(
                d.command(&["enable", s, "--user", u])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let _ = serve1.child.kill(); // SIGKILL, mid-flight
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = serve1.child.wait();

    // Start again: within a few passes it converges, and then finds nothing to do. (A
    // first pass may report what it could not mend at once, such as a container that a
    // killed enable left half made.)
    let mut passes = Vec::new();
    for _ in 0..4 {
        let out = d.run(&["serve", "--once", "--json"]);
        let report: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        let quiet =
            report["actions"] == serde_json::json!([]) && report["errors"] == serde_json::json!([]);
        passes.push(out.stdout);
        if quiet && out.code == 0 {
            break;
        }
    }
    let last: Value = serde_json::from_str(passes.last().unwrap()).unwrap();
    assert_eq!(
        last["actions"],
        serde_json::json!([]),
        "never converged: {passes:#?}"
    );
    assert_eq!(
        last["errors"],
        serde_json::json!([]),
        "never converged: {passes:#?}"
    );
    assert!(passes.len() <= 3, "took too many passes: {passes:#?}");
    let rows = status(&d);
    assert!(rows.iter().all(|r| r["state"] == "running"), "{rows:#?}");
    let mut wanted: Vec<String> = rows
        .iter()
        .map(|r| r["container"].as_str().unwrap().to_string())
        .collect();
    wanted.sort();
    assert_eq!(
        d.containers(),
        wanted,
        "no container beyond what is enabled"
    );
    let allocs: Value = serde_json::from_slice(
        &std::fs::read(d.env.data().join("state/allocations.json")).unwrap(),
    )
    .unwrap();
    for r in rows.iter().filter(|r| r["server"] == "web") {
        let label = d.inspect(
            r["container"].as_str().unwrap(),
            "{{index .Config.Labels \"io.mcp-portal.port\"}}",
        );
        assert_eq!(
            allocs["users"][r["user"].as_str().unwrap()]["ports"]["web"].to_string(),
            label
        );
    }
}

#[test]
fn sigterm_stops_the_daemon_and_leaves_containers_running() {
    let d = setup("dterm", 19, &["dt-a"]);
    d.ok(&["enable", "web", "--user", "dt-a"]);
    let mut s = serve(&d, &[]);
    eventually("the health check passes", || {
        status(&d).iter().any(|r| r["health"] == "healthy")
    });
    docker(&["ps"]); // nothing: just let the daemon settle between passes
    let pid = s.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let code = s.child.wait().unwrap();
    assert!(code.success(), "{code:?}");
    assert_eq!(d.inspect("mcp-dt-a.web", "{{.State.Running}}"), "true");
    let _ = d.command(&["status"]).output_async().join();
}
