//! The native format end to end: from bytes, through `parse`, to catalogs, overlays and
//! custom servers.

use super::{parse_catalog, parse_custom, parse_overlay, Limits};

fn errors(yaml: &str) -> Vec<String> {
    match parse_catalog("c.yaml", yaml.as_bytes(), &Limits::default()) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.errors().map(ToString::to_string).collect(),
    }
}

#[test]
fn reads_a_full_native_catalog() {
    let yaml = r#"
version: 1.2.3
name: official
metadata: {name: Official, description: Curated, maintainer: admin@example.com}
servers:
  - id: github
    display_name: GitHub
    image: ghcr.io/github/github-mcp-server
    tag: v0.4.0
    category: development
    env: {LOG_LEVEL: info, PORT: 8080}
    secrets: [{name: github.personal_access_token, env: GITHUB_PERSONAL_ACCESS_TOKEN}]
    resources: {memory: 256m, cpus: 0.5, pids: 128}
    visibility: {roles: [developer]}
  - id: echo
    image: mcp-echo
    transport: streamable-http
    port: 8080
    health_check: {type: mcp, interval: 30s, timeout: 5s, retries: 3}
"#;
    let p = parse_catalog("c.yaml", yaml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(p.catalog.version, "1.2.3");
    let ids: Vec<&str> = p.catalog.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["echo", "github"], "sorted by id");
    assert_eq!(p.catalog.servers[1].env["PORT"], "8080");
    assert_eq!(
        p.catalog.servers[1].resources.memory.unwrap().bytes(),
        256 << 20
    );
}

#[test]
fn all_errors_of_a_file_are_reported_together() {
    let errs = errors(
        r#"
servers:
  - id: ok
    image: mcp/ok
  - id: bad id
    image: mcp/x
  - id: typo
    image: mcp/x
    imgae: oops
  - id: mem
    image: mcp/x
    resources: {memory: 1t}
  - id: ok
    image: mcp/ok2
"#,
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs
        .iter()
        .any(|e| e.starts_with("c.yaml: server bad id: id: invalid server id")));
    assert!(errs
        .iter()
        .any(|e| e.starts_with("c.yaml: server typo: imgae: unknown field `imgae`")));
    assert!(errs
        .iter()
        .any(|e| e.starts_with("c.yaml: server mem: resources.memory: invalid memory unit")));
    assert!(errs
        .iter()
        .any(|e| e.starts_with("c.yaml: server ok: id: is defined more than once")));
}

#[test]
fn unknown_top_level_fields_are_named() {
    let errs = errors("servers: []\nserverz: []\n");
    assert_eq!(errs, ["c.yaml: serverz: unknown field; expected one of version, name, source, metadata, servers"]);
}

#[test]
fn overlay_entries_are_type_checked_but_may_be_partial() {
    let ok = parse_overlay(
        "o.yaml",
        b"servers:\n  - id: github\n    tag: dev\n    env: {LOG_LEVEL: debug}\n",
        1 << 20,
    )
    .unwrap();
    assert_eq!(ok.servers.len(), 1);
    assert_eq!(ok.servers[0].fields.len(), 2);
    let err = parse_overlay(
        "o.yaml",
        b"servers:\n  - id: github\n    resources: {cpus: lots}\n  - tag: x\n",
        1 << 20,
    )
    .unwrap_err();
    let errs: Vec<String> = err.diagnostics.errors().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].starts_with("o.yaml: server github: resources.cpus: invalid cpus"));
    assert!(errs[1].starts_with("o.yaml: server #2: id: is required"));
}

#[test]
fn a_custom_file_may_hold_one_server() {
    let (servers, _) =
        parse_custom("s.yaml", b"id: mine\nimage: mcp/mine\n", &Limits::default()).unwrap();
    assert_eq!(servers[0].id.as_str(), "mine");
}
