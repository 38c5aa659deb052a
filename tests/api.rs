#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The HTTP API over a real listener, on the recording fake engine (no Docker): the role
//! matrix over every route, the OpenAPI document, error shape, body limit, rate limit,
//! and write-only secrets.

mod common;

use common::api::{call, start};
use mcp_portal::api::{self, Route, ROUTES};
use serde_json::Value;

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
        .replace("{catalog_id}", name)
        .replace("{id}", "t-none")
}

/// What each route answers, on a fresh portal, for its owner's token (`u1` on its own
/// paths; admin routes refuse it) and for an admin acting on `u2`. The body is `{}`.
const EXPECTED: &[(&str, &str, u16, u16)] = &[
    ("get", "/healthz", 200, 200),
    ("get", "/api/v1/openapi.json", 200, 200),
    ("get", "/metrics", 403, 200),
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
    (
        "get",
        "/api/v1/users/{user}/servers/{server}/logs",
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
    // A plain GET, not a WebSocket handshake.
    ("get", "/api/v1/ws", 400, 400),
    ("get", "/api/v1/admin/catalogs", 403, 200),
    ("post", "/api/v1/admin/catalogs", 403, 422),
    ("put", "/api/v1/admin/catalogs/{name}", 403, 422),
    ("post", "/api/v1/admin/catalogs/base", 403, 422),
    ("put", "/api/v1/admin/catalogs/base/{catalog_id}", 403, 422),
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
    (
        "post",
        "/api/v1/admin/users/{user}/catalogs/regenerate",
        403,
        200,
    ),
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
    ("post", "/api/v1/admin/system/migration", 403, 400),
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
    for event in [
        "USER_CATALOG_UPDATED",
        "SERVER_STATUS_CHANGED",
        "RESOURCE_USAGE_UPDATE",
    ] {
        assert!(
            doc["components"]["schemas"][event]["properties"]["user_id"].is_object(),
            "{event} has no schema"
        );
    }
    let ws = &doc["paths"]["/api/v1/ws"]["get"]["responses"]["101"];
    assert!(
        ws["content"]["application/json"]["schema"]["properties"]["data"]["oneOf"].is_array(),
        "{ws}"
    );
    let seed = &doc["paths"]["/api/v1/admin/catalogs/base"]["post"]["requestBody"];
    let body = &seed["content"]["application/json"]["schema"]["oneOf"][0]["properties"];
    assert_eq!(body["auto_deploy"]["default"], true, "{seed}");
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

/// Seed 004's catalog file: `version`, `source`, `metadata` and `servers`.
fn seed_catalog(env: &str) -> Value {
    serde_json::json!({
        "version": "1.2.3",
        "source": "base",
        "name": "team",
        "metadata": {"name": "team", "description": "the team's servers"},
        "servers": [{
            "id": "echo-http",
            "display_name": "Echo",
            "image": "mcp-echo",
            "transport": "streamable-http",
            "port": 8080,
            "env": {"LOG_LEVEL": env},
            "resources": {"memory": "64m"}
        }]
    })
}

#[test]
fn seed_004s_upload_and_update_store_revisions_as_the_portals_own_routes_do() {
    let api = start(1000.0);
    let body = serde_json::json!({"catalog": seed_catalog("debug"), "auto_deploy": false});
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs/base",
        Some(&api.admin),
        body.to_string().as_bytes(),
    );
    assert_eq!(code, 200, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["name"].as_str(), v["revision"].as_u64()),
        (Some("team"), Some(2))
    );
    assert_eq!(v["auto_deploy"], false);
    assert!(v.get("deployed").is_none(), "{out}");
    // A plain catalog file is taken too, as the portal's own route takes it.
    let (code, out) = call(
        &api,
        "put",
        "/api/v1/admin/catalogs/base/team?auto_deploy=false",
        Some(&api.admin),
        seed_catalog("warn").to_string().as_bytes(),
    );
    assert_eq!(code, 200, "{out}");
    let (_, history) = call(
        &api,
        "get",
        "/api/v1/admin/catalogs/team/history",
        Some(&api.admin),
        b"",
    );
    let history: Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");
    let (_, servers) = call(&api, "get", "/api/v1/users/u1/catalog", Some(&api.u1), b"");
    assert!(servers.contains(r#""LOG_LEVEL":"warn""#), "{servers}");
    // The same validation and the same error as the portal's own upload.
    let bad = serde_json::json!({"catalog": {"name": "team", "servers": [{"id": "x"}]}});
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs/base",
        Some(&api.admin),
        bad.to_string().as_bytes(),
    );
    assert_eq!(code, 422, "{out}");
    let (code, _) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs/base",
        Some(&api.u1),
        body.to_string().as_bytes(),
    );
    assert_eq!(code, 403);
}

#[test]
fn auto_deploy_brings_the_affected_users_containers_in_line() {
    let api = start(1000.0);
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/users/u1/servers/echo-http/enable",
        Some(&api.u1),
        b"{}",
    );
    assert_eq!(code, 200, "{out}");
    let before: Value = serde_json::from_str(&out).unwrap();
    // auto_deploy is on unless the body says otherwise (the seed's default).
    let body = serde_json::json!({"catalog": seed_catalog("debug")});
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs/base",
        Some(&api.admin),
        body.to_string().as_bytes(),
    );
    assert_eq!(code, 200, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["auto_deploy"], true);
    let deployed = v["deployed"]["deployed"].as_array().unwrap();
    assert_eq!(deployed.len(), 1, "only u1 enabled a server: {out}");
    assert_eq!(deployed[0]["user"], "u1");
    assert_eq!(deployed[0]["outcome"], "recreated", "{out}");
    assert_ne!(deployed[0]["spec_hash"], before["spec_hash"]);
    // Deploying the same catalog again changes nothing.
    let (_, out) = call(
        &api,
        "post",
        "/api/v1/admin/catalogs/base",
        Some(&api.admin),
        body.to_string().as_bytes(),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["changed"], false, "{out}");
    assert!(
        v["deployed"]["deployed"].as_array().unwrap().is_empty(),
        "{out}"
    );
}

#[test]
fn seed_004s_regenerate_answers_as_the_portals_own_route() {
    let api = start(1000.0);
    let (code, seed) = call(
        &api,
        "post",
        "/api/v1/admin/users/u1/catalogs/regenerate",
        Some(&api.admin),
        b"",
    );
    assert_eq!(code, 200, "{seed}");
    let (code, own) = call(
        &api,
        "post",
        "/api/v1/admin/users/u1/regenerate",
        Some(&api.admin),
        b"",
    );
    assert_eq!(code, 200, "{own}");
    assert_eq!(seed, own);
    let v: Value = serde_json::from_str(&seed).unwrap();
    assert_eq!(v["regenerated"], serde_json::json!(["u1"]));
    let (code, _) = call(
        &api,
        "post",
        "/api/v1/admin/users/nobody/catalogs/regenerate",
        Some(&api.admin),
        b"",
    );
    assert_eq!(code, 404);
}

#[test]
fn a_lazy_enable_through_the_api_makes_the_container_without_starting_it() {
    let api = start(1000.0);
    let (code, out) = call(
        &api,
        "post",
        "/api/v1/users/u1/servers/echo-http/enable",
        Some(&api.u1),
        br#"{"lazy": true}"#,
    );
    assert_eq!(code, 200, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "idle", "{out}");
    let (code, out) = call(&api, "get", "/api/v1/users/u1/status", Some(&api.u1), b"");
    assert_eq!(code, 200, "{out}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["server"], "echo-http", "{out}");
    assert_eq!(rows[0]["state"], "idle", "{out}");
}
