#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `portalctl logs` and `GET .../logs` on the real Docker Engine: a server that prints its
//! secret has it masked in every line passed on, locally and through the API; a followed
//! log ends when the container stops; a removed container's log is said to be gone.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::docker::{docker, DockerEnv};

const SECRET: &str = "ghp_leaky_value_4711";

/// What the server prints on stderr, as the portal passes it on.
const STDERR: &str = "GH_TOKEN=****\nPLAIN=\nmcp-echo: streamable HTTP on port 8080\n";

const CATALOG: &str = r#"
name: logs
servers:
  - id: talky
    image: mcp-echo:latest
    transport: streamable-http
    port: 8080
    resources: {memory: 32m, cpus: 0.25}
    env: {MCP_ECHO_LOG_ENV: "GH_TOKEN,PLAIN"}
    secrets: [{name: gh.token, env: GH_TOKEN}]
"#;

fn setup(slot: u16) -> DockerEnv {
    let d = DockerEnv::new("logs", slot);
    let catalog = d.env.file("logs.yaml", CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    d.ok(&["user", "add", "lg-a"]);
    d.ok(&[
        "secret", "set", "gh.token", "--user", "lg-a", "--value", SECRET,
    ]);
    d.ok(&["enable", "talky", "--user", "lg-a"]);
    d
}

/// Waits until the container has printed its start-up lines.
fn printed(d: &DockerEnv) {
    let start = Instant::now();
    while !docker(&["logs", "mcp-lg-a.talky"])
        .stderr
        .contains("PLAIN=")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the server printed nothing"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = d;
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_servers_secret_is_masked_in_its_log_locally_and_remotely_and_a_removed_containers_log_is_gone()
{
    let d = setup(45);
    printed(&d);
    // Docker's own log holds the value: the masking is the portal's.
    assert!(docker(&["logs", "mcp-lg-a.talky"]).stderr.contains(SECRET));
    let out = d.run(&["logs", "talky", "--user", "lg-a"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "GH_TOKEN=****\nPLAIN=\n");
    assert_eq!(out.stderr, STDERR);
    let tail = d.run(&["logs", "talky", "--user", "lg-a", "--tail", "1", "--json"]);
    let lines: Vec<&str> = tail.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the log's last line: {}", tail.stdout);
    // The server writes its last stdout and stderr lines at about the same moment, so
    // which of them Docker holds as the last is not fixed.
    let last: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert!(
        [
            ("stderr", "mcp-echo: streamable HTTP on port 8080"),
            ("stdout", "PLAIN="),
        ]
        .iter()
        .any(|(s, l)| last["stream"] == *s && last["line"] == *l),
        "{last}"
    );
    assert!(!tail.stdout.contains(SECRET));
    let later = d.run(&[
        "logs",
        "talky",
        "--user",
        "lg-a",
        "--since",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!((later.code, later.stdout.as_str()), (0, ""));

    // Through the API, to the user and to no one else.
    d.ok(&["user", "add", "lg-b"]);
    let own = d
        .ok(&["token", "create", "--user", "lg-a"])
        .trim()
        .to_string();
    let other = d
        .ok(&["token", "create", "--user", "lg-b"])
        .trim()
        .to_string();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let serve = Serve(
        d.command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while ureq::get(&format!("{url}/healthz")).call().is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "serve never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let remote = |token: &str, args: &[&str]| {
        let mut all = vec!["--remote", url.as_str(), "--token", token];
        all.extend_from_slice(args);
        d.run(&all)
    };
    let out = remote(&own, &["logs", "talky", "--user", "lg-a"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "GH_TOKEN=****\nPLAIN=\n");
    assert_eq!(out.stderr, STDERR);
    let denied = remote(&other, &["logs", "talky", "--user", "lg-a"]);
    assert_eq!(denied.code, 6, "{}", denied.stderr);
    assert!(!denied.stdout.contains("GH_TOKEN"));
    let missing = remote(&own, &["logs", "nope", "--user", "lg-a"]);
    assert_eq!(missing.code, 4, "{}", missing.stderr);

    // The metrics carry the memory the daemon measured, sampled after a first scrape.
    d.ok(&["user", "add", "lg-adm", "--role", "admin"]);
    let admin = d
        .ok(&["token", "create", "--user", "lg-adm", "--role", "admin"])
        .trim()
        .to_string();
    let used = "mcp_portal_user_usage{user=\"lg-a\",what=\"memory_used_bytes\"} ";
    let cpu = "mcp_portal_user_usage{user=\"lg-a\",what=\"cpu_used_ratio\"} ";
    let start = Instant::now();
    let measured = loop {
        let text = ureq::get(&format!("{url}/metrics"))
            .header("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        assert!(!text.contains(SECRET));
        // CPU comes from two samples, so it is there last.
        let read = |series: &str| text.lines().find_map(|l| l.strip_prefix(series));
        if let (Some(m), Some(c)) = (read(used), read(cpu)) {
            assert!(c.parse::<f64>().unwrap() >= 0.0);
            break m.parse::<f64>().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no measured memory in\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(measured > 0.0, "{measured}");
    drop(serve);

    // Followed, the log ends when the container stops.
    let mut follow = d
        .command(&["logs", "talky", "--user", "lg-a", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(follow.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "GH_TOKEN=****\n");
    assert_eq!(docker(&["stop", "-t", "1", "mcp-lg-a.talky"]).code, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = follow.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = follow.kill();
            panic!("logs --follow did not end when the container stopped");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());

    // Removed behind the portal's back: the log is gone with the container, and says so.
    assert_eq!(docker(&["rm", "-f", "mcp-lg-a.talky"]).code, 0);
    let removed = d.run(&["logs", "talky", "--user", "lg-a"]);
    assert_eq!(removed.code, 4, "{}", removed.stderr);
    assert!(
        removed
            .stderr
            .contains("container of talky for user lg-a does not exist; a removed container's log is gone with it"),
        "{}",
        removed.stderr
    );
    d.ok(&["disable", "talky", "--user", "lg-a"]);
    let gone = d.run(&["logs", "talky", "--user", "lg-a"]);
    assert_eq!(gone.code, 4, "{}", gone.stderr);
    assert!(
        gone.stderr
            .contains("enabled server talky of user lg-a does not exist"),
        "{}",
        gone.stderr
    );
}
