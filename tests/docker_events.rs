#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Events pushed as they happen, on the real Docker Engine: `portalctl serve --listen`
//! follows Docker's events, and a container stopped behind the portal's back reaches a
//! WebSocket and an SSE subscriber (tests/events/stream_client.py) as
//! SERVER_STATUS_CHANGED well within a second, which the old stream, looking every two
//! seconds, could not promise; another user's subscriber hears nothing of it. A catalog
//! change made with `portalctl` on the host reaches the user it changed.

mod common;

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::docker::{docker, with_echo_catalog, DockerEnv};
use common::streams::{is_event, now, Client};

const WAIT: Duration = Duration::from_secs(20);

/// A `portalctl serve --listen` child, stopped by its own pid when the test ends (the
/// environment is dropped after it, removing the test's containers by label).
struct Serve {
    child: Child,
    url: String,
    d: DockerEnv,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(mut d: DockerEnv) -> Self {
        d.vars
            .push(("MCP_PORTAL_RESTART_BACKOFF_MS".into(), "200".into()));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(d.env.dir.path().join("serve.log")).unwrap();
        let child = d
            .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Self {
            child,
            url: format!("127.0.0.1:{port}"),
            d,
        };
        let start = Instant::now();
        while ureq::get(&format!("http://{}/healthz", s.url))
            .call()
            .is_err()
        {
            assert!(
                start.elapsed() < WAIT,
                "portalctl serve never answered:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.d.env.dir.path().join("serve.log")).unwrap_or_default()
    }
}

fn running_echo(c: &mut Client, user: &str) -> String {
    let v = c.until(WAIT, "the running server in the first events", |v| {
        is_event(v, "SERVER_STATUS_CHANGED", |d| {
            d["server_id"] == "cli" && d["new_status"] == "running"
        })
    });
    assert_eq!(v["data"]["user_id"], user);
    v["data"]["container_id"].as_str().unwrap().to_string()
}

#[test]
fn a_container_stopped_by_hand_reaches_websocket_and_sse_subscribers_within_a_second() {
    let d = with_echo_catalog("events-push", 40, &["ev1", "ev2"]);
    for u in ["ev1", "ev2"] {
        d.ok(&["enable", "cli", "--user", u]);
    }
    let t1 = d
        .ok(&["token", "create", "--user", "ev1"])
        .trim()
        .to_string();
    let t2 = d
        .ok(&["token", "create", "--user", "ev2"])
        .trim()
        .to_string();
    let serve = Serve::start(d);
    let ws_url = format!("ws://{}/api/v1/ws", serve.url);
    let mut ws1 = Client::start("ws", &ws_url, &t1, &[]);
    let mut sse1 = Client::start(
        "sse",
        &format!("http://{}/api/v1/events", serve.url),
        &t1,
        &[],
    );
    let mut ws2 = Client::start("ws", &ws_url, &t2, &["--protocol-token"]);
    let id = running_echo(&mut ws1, "ev1");
    assert_eq!(running_echo(&mut sse1, "ev1"), id);
    let theirs = running_echo(&mut ws2, "ev2");
    assert_ne!(theirs, id);
    // What the daemon does at start (its first pass) is over before the change.
    for c in [&mut ws1, &mut sse1, &mut ws2] {
        c.drain(Duration::from_millis(500));
    }

    let t0 = now();
    let out = docker(&["kill", &id]);
    assert_eq!(out.code, 0, "docker kill: {}", out.stderr);
    for (c, kind) in [(&mut ws1, "WebSocket"), (&mut sse1, "SSE")] {
        let v = c.until(WAIT, "the container's exit", |v| {
            is_event(v, "SERVER_STATUS_CHANGED", |d| {
                d["container_id"] == id.as_str() && d["new_status"] == "exited"
            })
        });
        let d = &v["data"];
        assert_eq!(
            (d["user_id"].as_str(), d["server_id"].as_str()),
            (Some("ev1"), Some("cli"))
        );
        assert_eq!(d["old_status"], "running", "{d}");
        let late = v["received_at"].as_f64().unwrap() - t0;
        eprintln!("the {kind} subscriber heard of the exit {late:.3} s after docker kill began");
        assert!(
            late < 1.0,
            "the {kind} subscriber heard of the exit {late:.2} s after it"
        );
    }
    // The daemon restarts it, and that is pushed too.
    ws1.until(WAIT, "the restart", |v| {
        is_event(v, "SERVER_STATUS_CHANGED", |d| d["new_status"] == "running")
    });
    // The daemon's sample measures what the running container uses.
    let usage = ws1.until(WAIT, "a measured usage", |v| {
        is_event(v, "RESOURCE_USAGE_UPDATE", |d| {
            d["resources"]["measured_memory_mb"]
                .as_u64()
                .is_some_and(|m| m > 0)
        })
    });
    let r = &usage["data"]["resources"];
    assert_eq!(
        (r["containers"].as_u64(), r["memory_mb"].as_u64()),
        (Some(1), Some(32)),
        "{r}"
    );
    assert!(
        r["measured_memory_mb"].as_u64().unwrap() <= 32,
        "over its 32 MiB limit: {r}"
    );
    let seen = ws2.drain(Duration::from_millis(500));
    for v in seen.iter().filter(|v| v.get("event").is_some()) {
        assert_eq!(
            v["data"]["user_id"], "ev2",
            "another user's event arrived: {v}"
        );
        assert_ne!(v["data"]["container_id"], id.as_str(), "{v}");
    }
    // A change made with portalctl on the host, in another process, reaches the user
    // whose catalog it changed, and only them.
    let custom = serve.d.env.file(
        "mine.yaml",
        "id: mine\nimage: mcp-echo:latest\nresources: {memory: 32m}\n",
    );
    serve
        .d
        .ok(&["custom", "add", &serve.d.env.path(&custom), "--user", "ev1"]);
    let got = ws1.until(WAIT, "the host's catalog change", |v| {
        is_event(v, "USER_CATALOG_UPDATED", |_| true)
    });
    assert_eq!(got["data"]["user_id"], "ev1");
    assert_eq!(
        got["data"]["changes"],
        serde_json::json!([{"server_id": "mine", "change": "added"}]),
        "{got}"
    );
    let seen = ws2.drain(Duration::from_secs(1));
    assert!(
        !seen.iter().any(|v| v["event"] == "USER_CATALOG_UPDATED"),
        "{seen:#?}"
    );
    drop(serve);
}
