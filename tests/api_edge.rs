#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Issue 11, items 6 and 8, at the API's edge (fake engine, no Docker): failed
//! authentications are limited per client address before any token is looked at, and
//! audited in bulk with the address; event streams are capped per token, end with their
//! token, and each serves one user.

mod common;

use std::time::Duration;

use common::api::{call, request, start, start_with, stream, Api};
use mcp_portal::ids::UserId;
use mcp_portal::store::{TokenRole, TokenScope};

/// A request with a token nobody made, at the API or the MCP gateway.
fn bad(api: &Api, at_gateway: bool, forwarded_for: Option<&str>) -> common::api::Reply {
    let mut headers = vec![("Authorization", "Bearer mcpp_nobody-made-this")];
    if let Some(f) = forwarded_for {
        headers.push(("X-Forwarded-For", f));
    }
    if at_gateway {
        headers.extend([
            ("Host", "127.0.0.1"),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ]);
        request(
            api,
            "post",
            "/mcp",
            &headers,
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        )
    } else {
        request(api, "get", "/api/v1/users/u1/status", &headers, b"")
    }
}

fn auth_entries(api: &Api) -> Vec<serde_json::Value> {
    api.audit()
        .into_iter()
        .filter(|e| e["action"] == "auth")
        .collect()
}

#[test]
fn a_flood_of_bad_tokens_is_cut_off_by_address_and_audited_in_a_few_lines() {
    let mut api = start_with(1000.0, &[("MCP_PORTAL_AUTH_FAILURES_PER_MIN", "5")]);
    let replies: Vec<_> = (0..150).map(|i| bad(&api, i % 2 == 1, None)).collect();
    let codes: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(&codes[..5], &[401; 5], "{codes:?}");
    assert!(codes[5..].iter().all(|c| *c == 429), "{codes:?}");
    // Five failures a minute: one comes back every 12 s.
    assert_eq!(replies[149].header("retry-after").as_deref(), Some("12"));
    assert!(replies[149]
        .body
        .contains("too many failed authentications from 127.0.0.1"));
    // The address is refused before its token is looked at: a good one waits too.
    let (code, _) = call(&api, "get", "/api/v1/users/u1/status", Some(&api.u1), b"");
    assert_eq!(code, 429);
    assert_eq!(call(&api, "get", "/healthz", None, b"").0, 200);

    api.stop();
    let auth = auth_entries(&api);
    assert_eq!(
        auth.len(),
        2,
        "the first failure, then one line for the rest: {auth:?}"
    );
    let counts: Vec<u64> = auth.iter().map(|e| e["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 150], "{auth:?}");
    assert!(auth.iter().all(|e| e["client"] == "127.0.0.1"), "{auth:?}");
    assert_eq!(
        auth[0]["detail"],
        "1 failed authentication (unknown token x1)"
    );
    assert_eq!(
        auth[1]["detail"],
        "4 failed authentications (unknown token x4); 146 more requests refused unchecked (too many failures)"
    );
}

#[test]
fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let api = start_with(1000.0, &[("MCP_PORTAL_AUTH_FAILURES_PER_MIN", "2")]);
    assert_eq!(bad(&api, false, Some("203.0.113.1")).status, 401);
    assert_eq!(bad(&api, false, Some("203.0.113.1")).status, 401);
    let other = bad(&api, false, Some("203.0.113.2"));
    assert_eq!(
        other.status, 429,
        "a client cannot pick the address it is counted under"
    );

    let mut api = start_with(
        1000.0,
        &[
            ("MCP_PORTAL_AUTH_FAILURES_PER_MIN", "2"),
            ("MCP_PORTAL_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    for _ in 0..2 {
        assert_eq!(bad(&api, false, Some("203.0.113.1")).status, 401);
    }
    assert_eq!(bad(&api, false, Some("203.0.113.1")).status, 429);
    assert_eq!(bad(&api, true, Some("203.0.113.2")).status, 401);
    api.stop();
    let clients: Vec<String> = auth_entries(&api)
        .iter()
        .map(|e| e["client"].as_str().unwrap().to_string())
        .collect();
    assert!(clients.contains(&"203.0.113.1".to_string()), "{clients:?}");
    assert!(clients.contains(&"203.0.113.2".to_string()), "{clients:?}");
    assert!(!clients.contains(&"127.0.0.1".to_string()), "{clients:?}");
}

#[test]
fn the_audit_log_records_where_an_api_call_came_from() {
    let api = start(1000.0);
    let (code, body) = call(
        &api,
        "put",
        "/api/v1/users/u1/secrets/x.token",
        Some(&api.u1),
        br#"{"value": "s3cret"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let set = api
        .audit()
        .into_iter()
        .find(|e| e["action"] == "secret.set")
        .unwrap();
    assert_eq!(set["actor"], "api:u1");
    assert_eq!(set["client"], "127.0.0.1");
}

#[test]
fn event_streams_are_capped_per_token_and_a_closed_one_frees_its_place() {
    let api = start_with(1000.0, &[("MCP_PORTAL_EVENT_STREAMS_PER_TOKEN", "2")]);
    let first = stream(&api, "/api/v1/events", &api.u1);
    let second = stream(&api, "/api/v1/events", &api.u1);
    assert_eq!((first.status, second.status), (200, 200));
    let third = stream(&api, "/api/v1/events", &api.u1);
    assert_eq!(third.status, 429, "{}", third.seen);
    assert!(third
        .seen
        .contains("this token has 2 event streams open already"));
    assert_eq!(stream(&api, "/api/v1/events", &api.admin).status, 200);
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let again = stream(&api, "/api/v1/events", &api.u1);
        if again.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a closed stream never freed its place"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(second);
}

#[test]
fn an_event_stream_ends_when_its_token_is_revoked() {
    let api = start(1000.0);
    let made = api
        .portal
        .create_token(
            &UserId::parse("u1").unwrap(),
            TokenRole::User,
            TokenScope::Api,
            None,
        )
        .unwrap();
    let mut s = stream(&api, "/api/v1/events", &made.token);
    assert_eq!(s.status, 200);
    assert!(
        !s.ended_within(Duration::from_secs(3)),
        "open while the token is good"
    );
    api.portal.revoke_token(&made.id).unwrap();
    assert!(
        s.ended_within(Duration::from_secs(8)),
        "the stream went on after its token was revoked"
    );
}

#[test]
fn an_event_stream_serves_one_user_and_an_admin_names_which() {
    let api = start(1000.0);
    for u in ["u1", "u2"] {
        let path = format!("/api/v1/users/{u}/servers/echo-http/enable");
        let (code, body) = call(&api, "post", &path, Some(&api.admin), b"{}");
        assert_eq!(code, 200, "{body}");
    }
    let seen = |path: &str, token: &str| {
        let mut s = stream(&api, path, token);
        assert_eq!(s.status, 200, "{path}: {}", s.seen);
        s.ended_within(Duration::from_secs(1));
        s.seen
    };
    let u2 = seen("/api/v1/events?user=u2", &api.admin);
    assert!(u2.contains(r#""user_id":"u2""#), "{u2}");
    assert!(!u2.contains(r#""user_id":"u1""#), "{u2}");
    let own = seen("/api/v1/events", &api.u1);
    assert!(own.contains(r#""user_id":"u1""#), "{own}");
    assert!(!own.contains(r#""user_id":"u2""#), "{own}");
    let admin = seen("/api/v1/events", &api.admin);
    assert!(
        !admin.contains(r#""user_id":"u1""#) && !admin.contains(r#""user_id":"u2""#),
        "{admin}"
    );
    let refused = stream(&api, "/api/v1/events?user=u2", &api.u1);
    assert_eq!(refused.status, 403);
}
