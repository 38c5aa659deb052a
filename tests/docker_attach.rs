#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The gateway's stdio side on the real Docker Engine: one attachment to a user's stdio
//! container carries concurrent calls, progress and cancellation; a second attachment
//! can come and go without closing the container's stdin; a killed container fails the
//! call in flight and a new attachment works once it runs again.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::docker::{docker, DockerEnv, ECHO_CATALOG};
use futures_util::future::join_all;
use mcp_portal::engine::DockerEngine;
use mcp_portal::gateway::rpc::SERVER_UNAVAILABLE;
use mcp_portal::gateway::stdio::StdioUpstream;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const USER: &str = "attach-u";
const CONTAINER: &str = "mcp-attach-u.cli";

async fn echo(upstream: &StdioUpstream, text: &str) -> String {
    let params = json!({"name": "echo", "arguments": {"text": text}});
    let result = upstream.request("tools/call", params, None).await.unwrap();
    result["content"][0]["text"].as_str().unwrap().to_string()
}

fn sleep_params(ms: u64) -> Value {
    json!({"name": "sleep", "arguments": {"ms": ms}, "_meta": {"progressToken": "client-token"}})
}

fn running(d: &DockerEnv) -> bool {
    d.inspect(CONTAINER, "{{.State.Running}}") == "true"
}

/// Waits (up to 5 s) for the container's log to hold `text`.
async fn logged(text: &str) -> bool {
    for _ in 0..50 {
        if docker(&["logs", CONTAINER]).stderr.contains(text) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stdio_container_serves_many_calls_through_attachments_that_come_and_go() {
    let d = DockerEnv::new("attach", 30);
    let catalog = d.env.file("catalog.yaml", ECHO_CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    d.ok(&["user", "add", USER]);
    d.ok(&["enable", "cli", "--user", USER]);
    assert_eq!(
        d.inspect(
            CONTAINER,
            "{{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.Tty}}"
        ),
        "true false false"
    );
    let engine = DockerEngine::connect().await.unwrap();

    // The handshake, and the answer kept for later clients.
    let started = Instant::now();
    let up = StdioUpstream::connect(&engine, CONTAINER, "cli")
        .await
        .unwrap();
    eprintln!("attach + initialize: {:?}", started.elapsed());
    assert_eq!(up.initialized()["protocolVersion"], "2025-11-25");
    assert_eq!(up.initialized()["serverInfo"]["name"], "mcp-echo");
    let tools = up.request("tools/list", json!({}), None).await.unwrap();
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo", "env_names", "sleep", "changed"]);

    // Twenty calls at once, each answered with its own text.
    let started = Instant::now();
    let texts: Vec<String> = (0..20).map(|n| format!("call {n}")).collect();
    let answers = join_all(texts.iter().map(|t| echo(&up, t))).await;
    eprintln!("20 concurrent echo calls: {:?}", started.elapsed());
    assert_eq!(answers, texts);

    // A change notification reaches a subscriber.
    let mut notes = up.subscribe();
    up.request("tools/call", json!({"name": "changed"}), None)
        .await
        .unwrap();
    let note = tokio::time::timeout(Duration::from_secs(5), notes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note["method"], "notifications/tools/list_changed");

    // Progress comes back under the caller's token, and a sleep holds up no other call.
    let (progress, mut got) = mpsc::unbounded_channel();
    let sleeping = up.request("tools/call", sleep_params(400), Some(progress));
    let quick = async {
        let started = Instant::now();
        assert_eq!(echo(&up, "meanwhile").await, "meanwhile");
        started.elapsed()
    };
    let (slept, quick) = tokio::join!(sleeping, quick);
    assert_eq!(slept.unwrap()["content"][0]["text"], "slept 400 ms");
    assert!(quick < Duration::from_millis(300), "echo waited {quick:?}");
    let mut steps = Vec::new();
    while let Ok(note) = got.try_recv() {
        assert_eq!(note["params"]["progressToken"], "client-token");
        steps.push(note["params"]["progress"].as_u64().unwrap());
    }
    assert_eq!(steps, [1, 2, 3, 4]);

    // A call given up on is cancelled on the server, and the next call works.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        up.request("tools/call", sleep_params(5_000), None),
    )
    .await;
    assert!(gave_up.is_err());
    assert!(
        logged("cancelled").await,
        "the server never saw the cancellation"
    );
    assert_eq!(echo(&up, "after cancel").await, "after cancel");

    // A second attachment at once: both see every answer, each takes only its own.
    let second = StdioUpstream::connect(&engine, CONTAINER, "cli")
        .await
        .unwrap();
    let first_texts: Vec<String> = (0..10).map(|n| format!("first {n}")).collect();
    let second_texts: Vec<String> = (0..10).map(|n| format!("second {n}")).collect();
    let (a, b) = tokio::join!(
        join_all(first_texts.iter().map(|t| echo(&up, t))),
        join_all(second_texts.iter().map(|t| echo(&second, t))),
    );
    assert_eq!((a, b), (first_texts, second_texts));
    drop(second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(running(&d), "closing an attachment stopped the container");
    assert_eq!(echo(&up, "still here").await, "still here");

    // With no attachment at all, the container keeps its stdin open for the next one.
    drop(up);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(running(&d));
    let up = StdioUpstream::connect(&engine, CONTAINER, "cli")
        .await
        .unwrap();
    assert_eq!(echo(&up, "again").await, "again");

    // A killed container fails the call in flight at once, naming the server.
    let up_in_call = Arc::clone(&up);
    let call = tokio::spawn(async move {
        let params = json!({"name": "sleep", "arguments": {"ms": 20_000}});
        up_in_call.request("tools/call", params, None).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    assert_eq!(docker(&["kill", CONTAINER]).code, 0);
    let e = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call fails promptly")
        .unwrap()
        .unwrap_err();
    eprintln!("kill to failed call: {:?}", killed.elapsed());
    assert_eq!(e.code, SERVER_UNAVAILABLE);
    assert_eq!(
        e.message,
        "server cli stopped mid-call (its container exited); retry once it runs again"
    );
    assert!(!up.is_alive());
    let later = up.request("ping", Value::Null, None).await.unwrap_err();
    assert!(
        later.message.starts_with("server cli is not running"),
        "{later}"
    );

    // Docker would attach to a stopped container and stay silent: refused at once instead.
    let started = Instant::now();
    let refused = StdioUpstream::connect(&engine, CONTAINER, "cli")
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        refused.to_string(),
        format!("server cli is not running (container {CONTAINER} is exited); the daemon restarts it, or run `portalctl restart cli --user USER`")
    );

    // Once it runs again, a new attachment works.
    assert_eq!(docker(&["start", CONTAINER]).code, 0);
    let up = StdioUpstream::connect(&engine, CONTAINER, "cli")
        .await
        .unwrap();
    assert!(up.is_alive());
    assert_eq!(echo(&up, "back").await, "back");
}
