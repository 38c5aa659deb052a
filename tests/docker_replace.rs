#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Replacing a changed container on the real Docker Engine: when the new container does
//! not start, the user keeps the old one, serving on its port, whether `enable` or the
//! daemon tried the change.

mod common;

use common::docker::{call_echo, with_echo_catalog};

const NAME: &str = "mcp-rp-a.web";

#[test]
fn a_replacement_that_does_not_start_leaves_the_old_container_serving() {
    let mut d = with_echo_catalog("replace", 35, &["rp-a"]);
    d.vars
        .push(("MCP_PORTAL_START_GRACE_MS".into(), "1500".into()));
    d.ok(&["enable", "web", "--user", "rp-a"]);
    let port = d.port_start;
    let id = d.inspect(NAME, "{{.Id}}");
    assert!(call_echo(port, "before").contains(r#""text":"before""#));

    // A change whose container exits at once.
    let broken = d.env.file(
        "broken.yaml",
        "servers:\n  - id: web\n    command: [exit, \"3\"]\n",
    );
    d.ok(&[
        "overlay",
        "upload",
        &d.env.path(&broken),
        "--name",
        "broken",
    ]);
    let started = d.inspect(NAME, "{{.State.StartedAt}}");
    let out = d.run(&["enable", "web", "--user", "rp-a"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: container mcp-rp-a.web was not replaced: container mcp-rp-a.web.next stopped right after starting (exit code 3); see `docker logs mcp-rp-a.web.next`; the old one was started again and runs as before; fix the change and enable again\n"
    );
    assert_eq!(d.inspect(NAME, "{{.Id}}"), id, "the same container");
    assert_ne!(
        d.inspect(NAME, "{{.State.StartedAt}}"),
        started,
        "stopped to free its port, and started again"
    );
    assert!(call_echo(port, "after").contains(r#""text":"after""#));
    assert_eq!(d.containers(), [NAME], "nothing of the attempt is left");

    // The daemon tries the change too, with the same outcome.
    let out = d.run(&["serve", "--once"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("container mcp-rp-a.web was not replaced")
            && out.stderr.contains("the old one was started again"),
        "{}",
        out.stderr
    );
    assert_eq!(d.inspect(NAME, "{{.Id}}"), id);
    assert!(call_echo(port, "still").contains(r#""text":"still""#));
    assert_eq!(d.containers(), [NAME]);

    // Taking the change back leaves the user exactly what they had.
    d.ok(&["overlay", "rm", "broken"]);
    let out = d.ok(&["enable", "web", "--user", "rp-a"]);
    assert!(out.starts_with("already running, unchanged: web"), "{out}");
    assert_eq!(d.inspect(NAME, "{{.Id}}"), id);
}
