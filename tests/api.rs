#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The HTTP API over a real listener, on the recording fake engine (no Docker): the role
//! matrix over every route, the OpenAPI document, error shape, body limit, rate limit,
//! and write-only secrets.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use common::fake::Fake;
use mcp_portal::api::{self, ApiState, Route, ROUTES};
use mcp_portal::config::Config;
use mcp_portal::ids::UserId;
use mcp_portal::manager::{Portal, Runtime};
use mcp_portal::store::{TokenRole, TokenScope};
use serde_json::Value;

struct Api {
    addr: std::net::SocketAddr,
    admin: String,
    u1: String,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn start(per_sec: f64) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        (
            "MCP_PORTAL_INSTANCE",
            format!("t-api-{}", std::process::id()),
        ),
        ("MCP_PORTAL_PORT_RANGE_START", "39500".to_string()),
        ("MCP_PORTAL_PORT_RANGE_END", "39999".to_string()),
        (
            "MCP_PORTAL_USER_NETWORK_SUBNET_BASE",
            "10.229.0.0/16".to_string(),
        ),
    ];
    let config = Config::from_lookup(dir.path().join("data"), |k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let portal = Portal::open(config).unwrap();
    for u in ["admin", "u1", "u2"] {
        portal
            .add_user(UserId::parse(u).unwrap(), vec![], None)
            .unwrap();
    }
    let admin = portal
        .create_token(
            &UserId::parse("admin").unwrap(),
            TokenRole::Admin,
            TokenScope::Api,
            None,
        )
        .unwrap()
        .token;
    let u1 = portal
        .create_token(
            &UserId::parse("u1").unwrap(),
            TokenRole::User,
            TokenScope::Api,
            None,
        )
        .unwrap()
        .token;
    portal
        .upload_catalog("t.yaml", common::TEAM.as_bytes(), None)
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let runtime = Arc::new(Runtime::new(portal.clone(), Fake::default()));
        let state = Arc::new(ApiState::new(portal, runtime, per_sec));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(api::serve(listener, state, std::future::pending()));
        addr
    });
    Api {
        addr,
        admin,
        u1,
        dir,
        _rt: rt,
    }
}

/// One HTTP/1.1 request; returns the status and the body (only the head for SSE).
fn call(api: &Api, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(api.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        method.to_uppercase(),
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if path.ends_with("/events") && out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn path_for(route: &Route, user: &str) -> String {
    let name = if route.path.contains("/secrets/") {
        "x.token"
    } else {
        "team"
    };
    route
        .path
        .replace("{user}", user)
        .replace("{server}", "no-such-server")
        .replace("{name}", name)
        .replace("{id}", "t-none")
}

/// What each route answers, on a fresh portal, for its owner's token (`u1` on its own
/// paths; admin routes refuse it) and for an admin acting on `u2`. The body is `{}`.
const EXPECTED: &[(&str, &str, u16, u16)] = &[
    ("get", "/healthz", 200, 200),
    ("get", "/api/v1/openapi.json", 200, 200),
    ("get", "/api/v1/users/{user}/catalog", 200, 200),
    ("get", "/api/v1/users/{user}/servers", 200, 200),
    ("get", "/api/v1/users/{user}/status", 200, 200),
    (
        "post",
        "/api/v1/users/{user}/servers/{server}/enable",
        404,
        404,
    ),
    (
        "post",
        "/api/v1/users/{user}/servers/{server}/disable",
        200,
        200,
    ),
    (
        "post",
        "/api/v1/users/{user}/servers/{server}/restart",
        404,
        404,
    ),
    ("get", "/api/v1/users/{user}/secrets", 200, 200),
    ("put", "/api/v1/users/{user}/secrets/{name}", 400, 400),
    ("delete", "/api/v1/users/{user}/secrets/{name}", 404, 404),
    ("get", "/api/v1/users/{user}/custom", 200, 200),
    ("post", "/api/v1/users/{user}/custom", 422, 422),
    ("delete", "/api/v1/users/{user}/custom/{server}", 404, 404),
    ("get", "/api/v1/events", 200, 200),
    ("get", "/api/v1/admin/catalogs", 403, 200),
    ("post", "/api/v1/admin/catalogs", 403, 422),
    ("put", "/api/v1/admin/catalogs/{name}", 403, 422),
    ("delete", "/api/v1/admin/catalogs/{name}", 403, 200),
    ("get", "/api/v1/admin/catalogs/{name}/history", 403, 200),
    ("post", "/api/v1/admin/catalogs/{name}/rollback", 403, 409),
    ("post", "/api/v1/admin/validate", 403, 422),
    ("post", "/api/v1/admin/registry/import", 403, 400),
    ("post", "/api/v1/admin/registry/validate", 403, 400),
    ("get", "/api/v1/admin/overlays", 403, 200),
    ("put", "/api/v1/admin/overlays/{name}", 403, 200),
    ("delete", "/api/v1/admin/overlays/{name}", 403, 404),
    ("post", "/api/v1/admin/regenerate", 403, 200),
    ("post", "/api/v1/admin/users/{user}/regenerate", 403, 200),
    ("get", "/api/v1/admin/status", 403, 200),
    ("get", "/api/v1/admin/gateway", 403, 200),
    ("get", "/api/v1/admin/users", 403, 200),
    ("post", "/api/v1/admin/users", 403, 400),
    ("delete", "/api/v1/admin/users/{user}", 403, 200),
    ("get", "/api/v1/admin/users/{user}/limits", 403, 200),
    ("put", "/api/v1/admin/users/{user}/limits", 403, 200),
    ("get", "/api/v1/admin/tokens", 403, 200),
    ("post", "/api/v1/admin/tokens", 403, 400),
    ("delete", "/api/v1/admin/tokens/{id}", 403, 404),
];

#[test]
fn the_role_matrix_holds_on_every_route() {
    use mcp_portal::api::Access;
    assert_eq!(
        EXPECTED.len(),
        ROUTES.len(),
        "every route has its expected answers"
    );
    for route in ROUTES {
        let &(_, _, owner, admin) = EXPECTED
            .iter()
            .find(|(m, p, _, _)| *m == route.method && *p == route.path)
            .unwrap_or_else(|| panic!("no expectation for {} {}", route.method, route.path));
        // A fresh portal per route, so no route's answer depends on another's changes.
        let api = start(1000.0);
        let own = path_for(route, "u1");
        let other = path_for(route, "u2");
        let what = format!("{} {}", route.method, route.path);
        let (code, _) = call(&api, route.method, &own, None, b"{}");
        if route.access == Access::Public {
            assert_eq!(code, 200, "{what}");
            continue;
        }
        assert_eq!(code, 401, "{what} without a token");
        if route.access == Access::Admin || route.path.contains("{user}") {
            let (code, body) = call(&api, route.method, &other, Some(&api.u1), b"{}");
            assert_eq!(code, 403, "{what} for u2 with u1's token: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                v["error"]["code"], "forbidden",
                "only the error, no data of u2's"
            );
        }
        let (code, body) = call(&api, route.method, &own, Some(&api.u1), b"{}");
        assert_eq!(code, owner, "{what} with its owner's token: {body}");
        let (code, body) = call(&api, route.method, &other, Some(&api.admin), b"{}");
        assert_eq!(code, admin, "{what} as admin: {body}");
        if code >= 400 {
            let v: Value = serde_json::from_str(&body).unwrap();
            let class = mcp_portal::error::ErrorClass::from_status(code);
            assert_eq!(v["error"]["code"], class.api_code(), "{what}: {body}");
        }
        let audit = std::fs::read_to_string(api.dir.path().join("data/audit/audit.log")).unwrap();
        assert!(
            audit.contains(r#""action":"auth","resource":"api","result":"refused""#),
            "failed authentications are audited"
        );
    }
}

#[test]
fn the_openapi_document_covers_every_route() {
    let api = start(1000.0);
    let (code, body) = call(&api, "get", "/api/v1/openapi.json", None, b"");
    assert_eq!(code, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    for route in ROUTES {
        assert!(
            doc["paths"][route.path][route.method].is_object(),
            "{} {} missing",
            route.method,
            route.path
        );
    }
    let (code, _) = call(&api, "get", "/api/v1/nothing-here", None, b"");
    assert_eq!(code, 404);
}

#[test]
fn errors_have_one_shape_and_bodies_a_limit() {
    let api = start(1000.0);
    let (code, body) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs?name=bad",
        Some(&api.admin),
        b"servers:\n  - {id: x, image: 'Bad Image'}\n",
    );
    assert_eq!(code, 422);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid");
    assert!(
        v["error"]["details"][0]
            .as_str()
            .unwrap()
            .contains("server x: image: invalid image reference"),
        "{v}"
    );
    let big = vec![b'#'; api::BODY_LIMIT + 10];
    let (code, _) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs?name=big",
        Some(&api.admin),
        &big,
    );
    assert_eq!(code, 413);
    let (code, body) = call(
        &api,
        "get",
        "/api/v1/users/bad_id/catalog",
        Some(&api.admin),
        b"",
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = call(
        &api,
        "post",
        "/api/v1/admin/users",
        Some(&api.admin),
        b"{\"id\": \"u1\"}",
    );
    assert_eq!(code, 409, "{body}");
    // A registry import names what is wrong with its request.
    let entry =
        br#"{"dir": "reg", "entries": [{"name": "echo", "server_yaml_base64": "*not base64*"}]}"#;
    let (code, body) = call(
        &api,
        "post",
        "/api/v1/admin/registry/import",
        Some(&api.admin),
        entry,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("query: name is required"), "{body}");
    let (code, body) = call(
        &api,
        "post",
        "/api/v1/admin/registry/import?name=reg",
        Some(&api.admin),
        entry,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("entries: echo: server_yaml_base64"), "{body}");
}

#[test]
fn secrets_are_write_only() {
    let api = start(1000.0);
    let (code, body) = call(
        &api,
        "put",
        "/api/v1/users/u1/secrets/gh.token",
        Some(&api.u1),
        br#"{"value": "very-secret-value"}"#,
    );
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("very-secret-value"));
    let (code, body) = call(&api, "get", "/api/v1/users/u1/secrets", Some(&api.u1), b"");
    assert_eq!(code, 200);
    assert!(
        body.contains("gh.token") && !body.contains("very-secret-value"),
        "{body}"
    );
    let (code, body) = call(
        &api,
        "put",
        "/api/v1/users/u1/secrets/gh.token",
        Some(&api.u1),
        br#"{"valu": "very-secret-value"}"#,
    );
    assert_eq!(code, 400);
    assert!(
        !body.contains("very-secret-value"),
        "a malformed body is not echoed: {body}"
    );
}

#[test]
fn tokens_are_rate_limited() {
    let api = start(2.0);
    let codes: Vec<u16> = (0..8)
        .map(|_| call(&api, "get", "/api/v1/users/u1/secrets", Some(&api.u1), b"").0)
        .collect();
    assert_eq!(&codes[..4], &[200, 200, 200, 200], "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
    let (code, _) = call(&api, "get", "/api/v1/admin/users", Some(&api.admin), b"");
    assert_eq!(code, 200, "another token has its own bucket");
}

#[test]
fn an_error_names_only_the_callers_own_files_and_relative_to_the_data_folder() {
    let api = start(1000.0);
    let users = api.dir.path().join("data/users");
    let root = api.dir.path().canonicalize().unwrap().display().to_string();
    let get = |path: &str| call(&api, "get", path, Some(&api.u1), b"");
    std::fs::write(users.join("u2/user.json"), "{oops").unwrap();
    let (code, body) = get("/api/v1/users/u1/servers");
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("u2"), "u1 is told of u2's file: {body}");
    std::fs::write(users.join("u1/custom-servers.json"), "{oops").unwrap();
    let (code, body) = get("/api/v1/users/u1/servers");
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("users/u1/custom-servers.json is damaged") && !body.contains(&root),
        "{body}"
    );
    std::fs::write(users.join("u1/secrets.json"), "{oops").unwrap();
    let (code, body) = get("/api/v1/users/u1/secrets");
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("\"users/u1/secrets.json is damaged") && !body.contains(&root),
        "{body}"
    );
}
