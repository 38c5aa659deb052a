//! The route table, and the OpenAPI document made from it (so the document cannot forget
//! a route the table has; a test checks the router serves every route of the table).
//! The web dashboard's pages and forms (`/` and `/ui/...`, `api::web`) are HTML for a
//! browser with a session, not API routes: they are not in the table or the document.

use serde_json::{json, Map, Value};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A user token for the `{user}` in the path, or an admin token.
    User,
    Admin,
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        summary,
    }
}

pub const ROUTES: &[Route] = &[
    r("get", "/healthz", Access::Public, "Liveness: 200 when the portal answers"),
    r("get", "/api/v1/openapi.json", Access::Public, "This document"),
    r("get", "/metrics", Access::Admin, "Prometheus metrics (OpenMetrics text); open on `serve --metrics-listen` instead"),
    r("get", "/api/v1/users/{user}/catalog", Access::User, "The user's merged servers (query: category, enabled_only)"),
    r("get", "/api/v1/users/{user}/servers", Access::User, "The user's merged servers with the merge's warnings, as `portalctl servers` shows them (query: category)"),
    r("get", "/api/v1/users/{user}/status", Access::User, "The user's servers: state, health, port, limits, last error"),
    r("post", "/api/v1/users/{user}/servers/{server}/enable", Access::User, "Enable a server (body: {env, set, lazy})"),
    r("post", "/api/v1/users/{user}/servers/{server}/disable", Access::User, "Disable a server"),
    r("post", "/api/v1/users/{user}/servers/{server}/restart", Access::User, "Restart a server"),
    r("get", "/api/v1/users/{user}/servers/{server}/logs", Access::User, "The server's log as server-sent events (query: follow, tail, since): `log` events of {stream, line} with the user's secret values masked, then `end`"),
    r("get", "/api/v1/users/{user}/secrets", Access::User, "The user's secrets: names and dates, never values"),
    r("put", "/api/v1/users/{user}/secrets/{name}", Access::User, "Set a secret (body: {value, expires_at?}); write-only"),
    r("delete", "/api/v1/users/{user}/secrets/{name}", Access::User, "Remove a secret"),
    r("get", "/api/v1/users/{user}/custom", Access::User, "The user's custom servers"),
    r("post", "/api/v1/users/{user}/custom", Access::User, "Add custom servers (body: the file; query: file)"),
    r("delete", "/api/v1/users/{user}/custom/{server}", Access::User, "Remove a custom server"),
    r("get", "/api/v1/events", Access::User, "Server-sent events of one user, pushed as they happen, the token's own unless an admin names another (query: user): USER_CATALOG_UPDATED, SERVER_STATUS_CHANGED, RESOURCE_USAGE_UPDATE"),
    r("get", "/api/v1/ws", Access::User, "The same events over a WebSocket, one JSON text message {event, data} each (query: user; token as Authorization: Bearer, or as the subprotocol bearer.TOKEN beside mcp-portal)"),
    r("get", "/api/v1/admin/catalogs", Access::Admin, "The stored base catalogs"),
    r("post", "/api/v1/admin/catalogs", Access::Admin, "Upload a base catalog (body: the file; query: name, file)"),
    r("put", "/api/v1/admin/catalogs/{name}", Access::Admin, "Upload a new revision of a base catalog (body: the file; query: file)"),
    r("post", "/api/v1/admin/catalogs/base", Access::Admin, "Seed 004's upload: a base catalog, then the affected users' containers brought in line unless auto_deploy is false (body: {catalog, auto_deploy} or the file; query: name, file, auto_deploy)"),
    r("put", "/api/v1/admin/catalogs/base/{catalog_id}", Access::Admin, "Seed 004's update: a new revision of a base catalog, deployed as the upload is (body: {catalog, auto_deploy} or the file; query: file, auto_deploy)"),
    r("delete", "/api/v1/admin/catalogs/{name}", Access::Admin, "Remove a catalog with all its revisions"),
    r("get", "/api/v1/admin/catalogs/{name}/history", Access::Admin, "Every stored revision of a catalog, newest first"),
    r("post", "/api/v1/admin/catalogs/{name}/rollback", Access::Admin, "Roll a catalog back (query: to)"),
    r("post", "/api/v1/admin/validate", Access::Admin, "Check a catalog file and report; stores nothing (body: the file; query: file)"),
    r("post", "/api/v1/admin/registry/import", Access::Admin, "Import a Docker MCP registry folder (body: {dir, entries: [{name, server_yaml_base64}]}; query: name)"),
    r("post", "/api/v1/admin/registry/validate", Access::Admin, "Check a Docker MCP registry folder; stores nothing (body: {dir, entries})"),
    r("get", "/api/v1/admin/overlays", Access::Admin, "The stored overlays"),
    r("put", "/api/v1/admin/overlays/{name}", Access::Admin, "Upload an overlay, replacing the one of that name (body: the file; query: file)"),
    r("delete", "/api/v1/admin/overlays/{name}", Access::Admin, "Remove an overlay"),
    r("post", "/api/v1/admin/regenerate", Access::Admin, "Regenerate every user's merged catalog"),
    r("post", "/api/v1/admin/users/{user}/regenerate", Access::Admin, "Regenerate a user's merged catalog"),
    r("post", "/api/v1/admin/users/{user}/catalogs/regenerate", Access::Admin, "Seed 004's name: regenerate a user's merged catalog (USER_CATALOG_UPDATED follows)"),
    r("get", "/api/v1/admin/status", Access::Admin, "Every user's servers and every managed container"),
    r("get", "/api/v1/admin/gateway", Access::Admin, "The MCP gateway's open sessions, upstream connections and calls in flight"),
    r("get", "/api/v1/admin/users", Access::Admin, "The users"),
    r("post", "/api/v1/admin/users", Access::Admin, "Add a user (body: {id, roles, organization, reuse_data}); refused while an earlier user of the id left data, unless reuse_data"),
    r("delete", "/api/v1/admin/users/{user}", Access::Admin, "Remove a user with their data (query: keep_data)"),
    r("get", "/api/v1/admin/users/{user}/limits", Access::Admin, "A user's effective quota"),
    r("put", "/api/v1/admin/users/{user}/limits", Access::Admin, "Override a user's quota (body: {max_containers, max_memory_mb, max_cpu_shares})"),
    r("get", "/api/v1/admin/tokens", Access::Admin, "The tokens (never their values)"),
    r("post", "/api/v1/admin/tokens", Access::Admin, "Create a token (body: {user, role, scope, expires_at}); its value is shown once"),
    r("delete", "/api/v1/admin/tokens/{id}", Access::Admin, "Revoke a token"),
    r("post", "/api/v1/admin/system/migration", Access::Admin, "Migrate a Docker Desktop MCP Toolkit folder for a user (body: {dir, user, apply, files: [{path, base64}]}); a dry run unless apply"),
];

fn params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// One response per error class (the taxonomy of `crate::error`), plus success.
fn responses() -> Value {
    let mut r = Map::new();
    r.insert("200".into(), json!({"description": "done"}));
    for class in crate::error::CLASSES {
        r.insert(
            class.http_status().to_string(),
            json!({"$ref": "#/components/responses/Error"}),
        );
    }
    Value::Object(r)
}

/// The three events of seed 004, as both event streams carry them.
fn event_schemas() -> Value {
    let int = json!({"type": "integer"});
    let text = json!({"type": "string"});
    let time = json!({"type": "string", "format": "date-time"});
    let object = |props: Value| {
        let required: Vec<String> = props
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        json!({"type": "object", "properties": props, "required": required})
    };
    let change = object(json!({
        "server_id": text,
        "change": {"type": "string", "enum": ["added", "removed", "updated"]}
    }));
    let mut resources = object(json!({
        "containers": int, "memory_mb": int, "cpu_shares": int, "ports_used": int,
        "running": int
    }));
    // Absent until the daemon has measured it, so not required.
    resources["properties"]["measured_memory_mb"] = int.clone();
    resources["properties"]["measured_cpu_millicores"] = int.clone();
    json!({
        "USER_CATALOG_UPDATED": object(json!({
            "user_id": text, "catalog_version": text,
            "changes": {"type": "array", "items": change}, "timestamp": time
        })),
        "SERVER_STATUS_CHANGED": object(json!({
            "user_id": text, "server_id": text, "old_status": text, "new_status": text,
            "container_id": text, "timestamp": time
        })),
        "RESOURCE_USAGE_UPDATE": object(json!({
            "user_id": text,
            "resources": resources,
            "limits": object(json!({
                "max_containers": int, "max_memory_mb": int, "max_cpu_shares": int,
                "max_ports": int
            }))
        })),
    })
}

/// What a route's summary cannot say: the event streams' messages and seed 004's
/// upload body.
fn described(route: &Route, op: &mut Value) {
    let events: Vec<Value> = [
        "USER_CATALOG_UPDATED",
        "SERVER_STATUS_CHANGED",
        "RESOURCE_USAGE_UPDATE",
    ]
    .iter()
    .map(|e| json!({"$ref": format!("#/components/schemas/{e}")}))
    .collect();
    let user_query =
        json!({"name": "user", "in": "query", "required": false, "schema": {"type": "string"}});
    match route.path {
        "/api/v1/events" => {
            op["parameters"] = json!([user_query]);
            op["responses"]["200"] = json!({
                "description": "one server-sent event per change: `event:` the name, `data:` its fields",
                "content": {"text/event-stream": {"schema": {"oneOf": events}}}
            });
        }
        "/api/v1/ws" => {
            op["parameters"] = json!([user_query, {
                "name": "Sec-WebSocket-Protocol", "in": "header", "required": false,
                "description": "`mcp-portal, bearer.TOKEN` where a client cannot send Authorization; the answer selects `mcp-portal`",
                "schema": {"type": "string"}
            }]);
            op["responses"]["101"] = json!({
                "description": "a WebSocket: one JSON text message {event, data} per change; closed with 1008 when the token is no longer in force",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"event": {"type": "string"}, "data": {"oneOf": events}},
                    "required": ["event", "data"]
                }}}
            });
        }
        "/api/v1/admin/catalogs/base" | "/api/v1/admin/catalogs/base/{catalog_id}" => {
            op["requestBody"] = json!({"required": true, "content": {
                "application/json": {"schema": {"oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "catalog": {"type": "object", "description": "the catalog file (version, source, metadata, servers)"},
                            "auto_deploy": {"type": "boolean", "default": true}
                        },
                        "required": ["catalog"]
                    },
                    {"type": "object", "description": "the catalog file itself"}
                ]}},
                "application/yaml": {"schema": {"type": "string"}}
            }});
            if let Some(p) = op["parameters"].as_array_mut() {
                p.push(json!({"name": "auto_deploy", "in": "query", "required": false, "schema": {"type": "boolean", "default": true}}));
            }
        }
        _ => {}
    }
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": route.summary,
            "parameters": params(route.path),
            "responses": responses(),
        });
        if route.access != Access::Public {
            op["security"] = json!([{"bearer": []}]);
        }
        described(route, &mut op);
        entry[route.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "mcp-portal", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": event_schemas(),
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string", "enum": crate::error::CLASSES.iter().map(|c| c.api_code()).collect::<Vec<_>>()},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "string"}}
                }, "required": ["code", "message"]}}
            }}}}}
        }
    })
}
