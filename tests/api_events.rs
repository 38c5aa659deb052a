#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The API's live event streams on the recording fake engine (no Docker), read by real
//! clients (tests/events/stream_client.py: PyPI `websockets` for `/api/v1/ws`, the
//! standard library for `/api/v1/events`): what a subscriber is sent first, with seed
//! 004's fields; which users a catalog upload reaches; a token in the subprotocol; and a
//! revoked token closing the socket. Container state changes come from Docker's events,
//! so tests/docker_events.rs shows those.

mod common;

use std::time::Duration;

use common::api::{call, start, Api};
use common::streams::{is_event, now, Client};
use mcp_portal::ids::UserId;
use mcp_portal::store::{TokenRole, TokenScope};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

fn ws(api: &Api, token: &str, extra: &[&str]) -> Client {
    Client::start("ws", &format!("ws://{}/api/v1/ws", api.addr), token, extra)
}

fn sse(api: &Api, token: &str) -> Client {
    Client::start(
        "sse",
        &format!("http://{}/api/v1/events", api.addr),
        token,
        &[],
    )
}

fn user_token(api: &Api, user: &str) -> (String, String) {
    let made = api
        .portal
        .create_token(
            &UserId::parse(user).unwrap(),
            TokenRole::User,
            TokenScope::Api,
            None,
        )
        .unwrap();
    (made.id, made.token)
}

fn post(api: &Api, path: &str, body: &Value) -> Value {
    let (code, out) = call(
        api,
        "post",
        path,
        Some(&api.admin),
        body.to_string().as_bytes(),
    );
    assert_eq!(code, 200, "{path}: {out}");
    serde_json::from_str(&out).unwrap()
}

fn opened(c: &mut Client) -> Value {
    c.until(WAIT, "an open stream", |v| {
        v.get("open").is_some() || v.get("refused").is_some()
    })
}

#[test]
fn a_websocket_subscriber_is_told_the_users_state_first_with_the_seeds_fields() {
    let api = start(1000.0);
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/users/u1/servers/echo-http/enable",
        Some(&api.u1),
        b"{}",
    );
    assert_eq!(code, 200, "{out}");
    let mut c = ws(&api, &api.u1, &[]);
    assert_eq!(opened(&mut c)["subprotocol"], "mcp-portal");
    let status = c.until(WAIT, "the server's status", |v| {
        is_event(v, "SERVER_STATUS_CHANGED", |d| {
            d["server_id"] == "echo-http"
        })
    });
    let d = &status["data"];
    assert_eq!(d["user_id"], "u1");
    assert_eq!(d["old_status"], "unknown", "{d}");
    assert!(
        d["new_status"].is_string() && d["new_status"] != "missing",
        "{d}"
    );
    assert!(!d["container_id"].as_str().unwrap().is_empty(), "{d}");
    assert!(d["timestamp"].is_string(), "{d}");
    let usage = c.until(WAIT, "the user's resources", |v| {
        is_event(v, "RESOURCE_USAGE_UPDATE", |_| true)
    });
    let d = &usage["data"];
    assert_eq!(d["user_id"], "u1");
    let r = &d["resources"];
    assert_eq!(
        (
            r["containers"].as_u64(),
            r["memory_mb"].as_u64(),
            r["ports_used"].as_u64()
        ),
        (Some(1), Some(64), Some(1)),
        "{d}"
    );
    assert!(r["cpu_shares"].as_u64().unwrap() > 0, "{d}");
    let (_, limits) = call(
        &api,
        "get",
        "/api/v1/admin/users/u1/limits",
        Some(&api.admin),
        b"",
    );
    let limits: Value = serde_json::from_str(&limits).unwrap();
    let l = &d["limits"];
    assert_eq!(l["max_containers"], limits["max_containers"], "{d}");
    assert_eq!(l["max_memory_mb"], limits["max_memory_mb"], "{d}");
    assert_eq!(l["max_cpu_shares"], limits["max_cpu_shares"], "{d}");
    assert!(l["max_ports"].as_u64().unwrap() > 0, "{d}");
}

#[test]
fn a_browser_gives_the_token_as_a_subprotocol_and_it_is_never_echoed() {
    let api = start(1000.0);
    let mut c = ws(&api, &api.u1, &["--protocol-token"]);
    let open = opened(&mut c);
    assert_eq!(open["subprotocol"], "mcp-portal", "{open}");
    c.until(WAIT, "the user's resources", |v| {
        is_event(v, "RESOURCE_USAGE_UPDATE", |d| d["user_id"] == "u1")
    });
    let mut refused = ws(&api, "mcpp_not-a-token", &["--protocol-token"]);
    assert_eq!(opened(&mut refused)["refused"], 401);
    let mut other = ws(&api, &api.u1, &[]);
    opened(&mut other);
    let (code, out) = call(&api, "get", "/api/v1/ws?user=u2", Some(&api.u1), b"");
    assert_eq!(code, 403, "another user's stream is refused: {out}");
}

#[test]
fn a_catalog_upload_reaches_only_the_users_whose_catalog_it_changes() {
    let api = start(1000.0);
    post(
        &api,
        "/api/v1/admin/users",
        &json!({"id": "u3", "roles": ["beta"]}),
    );
    let (_, u2) = user_token(&api, "u2");
    let (_, u3) = user_token(&api, "u3");
    let mut c1 = ws(&api, &api.u1, &[]);
    let mut c2 = sse(&api, &u2);
    let mut c3 = ws(&api, &u3, &["--protocol-token"]);
    for c in [&mut c1, &mut c2, &mut c3] {
        opened(c);
        c.until(WAIT, "the first resources", |v| {
            is_event(v, "RESOURCE_USAGE_UPDATE", |_| true)
        });
    }
    // A server only the role beta sees: u3's catalog changes, nobody else's.
    let beta = json!({"catalog": {"name": "beta", "servers": [
        {"id": "beta-tool", "image": "mcp-echo", "visibility": {"roles": ["beta"]}}
    ]}, "auto_deploy": false});
    post(&api, "/api/v1/admin/catalogs/base", &beta);
    let got = c3.until(WAIT, "u3's catalog update", |v| {
        is_event(v, "USER_CATALOG_UPDATED", |_| true)
    });
    let d = &got["data"];
    assert_eq!(d["user_id"], "u3");
    assert_eq!(
        d["changes"],
        json!([{"server_id": "beta-tool", "change": "added"}]),
        "{d}"
    );
    assert!(!d["catalog_version"].as_str().unwrap().is_empty(), "{d}");
    assert!(d["timestamp"].is_string(), "{d}");
    for c in [&mut c1, &mut c2] {
        let seen = c.drain(Duration::from_secs(1));
        assert!(
            !seen.iter().any(|v| v["event"] == "USER_CATALOG_UPDATED"),
            "a user whose catalog did not change was told it did: {seen:#?}"
        );
    }
    // A change to a server everyone sees reaches everyone, over both kinds of stream.
    let team = "version: \"1.0.1\"\nname: team\nservers:\n  - id: echo-http\n    image: mcp-echo\n    transport: streamable-http\n    port: 8080\n    env: {LOG_LEVEL: debug}\n";
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs/base?auto_deploy=false",
        Some(&api.admin),
        team.as_bytes(),
    );
    assert_eq!(code, 200, "{out}");
    for (c, user) in [(&mut c1, "u1"), (&mut c2, "u2"), (&mut c3, "u3")] {
        let got = c.until(WAIT, "the team update", |v| {
            is_event(v, "USER_CATALOG_UPDATED", |_| true)
        });
        assert_eq!(got["data"]["user_id"], user);
        let changes = got["data"]["changes"].as_array().unwrap();
        assert!(
            changes.contains(&json!({"server_id": "echo-http", "change": "updated"})),
            "{got}"
        );
    }
    // An admin's regeneration is told to that user, with nothing changed.
    post(
        &api,
        "/api/v1/admin/users/u1/catalogs/regenerate",
        &json!({}),
    );
    let got = c1.until(WAIT, "the regeneration", |v| {
        is_event(v, "USER_CATALOG_UPDATED", |d| d["changes"] == json!([]))
    });
    assert_eq!(got["data"]["user_id"], "u1");
    for (c, user) in [(&c1, "u1"), (&c2, "u2"), (&c3, "u3")] {
        for v in c.seen.iter().filter(|v| v.get("event").is_some()) {
            assert_eq!(
                v["data"]["user_id"], user,
                "another user's event arrived: {v}"
            );
        }
    }
}

#[test]
fn revoking_a_token_closes_its_websocket_at_once() {
    let api = start(1000.0);
    let (id, token) = user_token(&api, "u1");
    let mut revoked = ws(&api, &token, &[]);
    let mut kept = ws(&api, &api.u1, &[]);
    let mut stream = sse(&api, &token);
    for c in [&mut revoked, &mut kept, &mut stream] {
        opened(c);
        c.until(WAIT, "the first resources", |v| {
            is_event(v, "RESOURCE_USAGE_UPDATE", |_| true)
        });
    }
    let t0 = now();
    let (code, out) = call(
        &api,
        "delete",
        &format!("/api/v1/admin/tokens/{id}"),
        Some(&api.admin),
        b"",
    );
    assert_eq!(code, 200, "{out}");
    let closed = revoked.until(WAIT, "the socket closed", |v| v.get("closed").is_some());
    assert_eq!(closed["code"], 1008, "{closed}");
    let after = now() - t0;
    assert!(
        after < 1.0,
        "the socket closed {after:.2} s after the revocation"
    );
    stream.until(WAIT, "the SSE stream ended", |v| v.get("closed").is_some());
    let seen = kept.drain(Duration::from_secs(1));
    assert!(
        !seen.iter().any(|v| v.get("closed").is_some()),
        "another token's socket closed: {seen:#?}"
    );
}

#[test]
fn websockets_and_sse_streams_share_the_tokens_cap() {
    let api = common::api::start_with(1000.0, &[("MCP_PORTAL_EVENT_STREAMS_PER_TOKEN", "2")]);
    let mut first = ws(&api, &api.u1, &[]);
    let mut second = sse(&api, &api.u1);
    assert_eq!(opened(&mut first)["open"], true);
    assert_eq!(opened(&mut second)["open"], true);
    let mut third = ws(&api, &api.u1, &["--protocol-token"]);
    assert_eq!(opened(&mut third)["refused"], 429);
    drop(first);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut again = ws(&api, &api.u1, &[]);
        if opened(&mut again).get("open").is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a closed socket never freed its place"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_change_another_process_made_is_told_with_only_what_it_changed() {
    let api = start(1000.0);
    let mut c = ws(&api, &api.u1, &[]);
    opened(&mut c);
    // A change through the API first, so this process knows the catalog as it encoded it.
    let team = "version: \"1.0.1\"\nname: team\nservers:\n  - id: echo-http\n    image: mcp-echo\n    transport: streamable-http\n    port: 8080\n    env: {LOG_LEVEL: debug}\n";
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs/base?auto_deploy=false",
        Some(&api.admin),
        team.as_bytes(),
    );
    assert_eq!(code, 200, "{out}");
    c.until(WAIT, "the API's change", |v| {
        is_event(v, "USER_CATALOG_UPDATED", |_| true)
    });
    // The same data folder opened by another process (as `portalctl` on the host).
    let config = mcp_portal::config::Config::from_lookup(api.dir.path().join("data"), |k| {
        (k == "MCP_PORTAL_INSTANCE").then(|| format!("t-api-{}", std::process::id()))
    })
    .unwrap();
    let other = mcp_portal::manager::Portal::open(config).unwrap();
    let extra = "name: extra\nservers:\n  - id: extra-tool\n    image: mcp-echo\n";
    other
        .upload_catalog("extra.yaml", extra.as_bytes(), None)
        .unwrap();
    api.portal.catch_up();
    let got = c.until(WAIT, "the other process's change", |v| {
        is_event(v, "USER_CATALOG_UPDATED", |d| {
            d["changes"] != json!([{"server_id": "echo-http", "change": "updated"}])
        })
    });
    assert_eq!(
        got["data"]["changes"],
        json!([{"server_id": "extra-tool", "change": "added"}]),
        "{got}"
    );
    // Told once: looking again finds nothing new.
    api.portal.catch_up();
    let seen = c.drain(Duration::from_millis(500));
    let told = seen
        .iter()
        .filter(|v| v["event"] == "USER_CATALOG_UPDATED")
        .count();
    assert_eq!(told, 2, "{seen:#?}");
}
