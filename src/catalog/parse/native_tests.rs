//! The native format end to end: from bytes, through `parse`, to catalogs, overlays and
//! custom servers.

use super::{parse_catalog, parse_custom, parse_overlay, Limits};

fn errors(yaml: &str) -> Vec<String> {
    match parse_catalog("c.yaml", yaml.as_bytes(), &Limits::default()) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.errors().map(ToString::to_string).collect(),
    }
}

fn overlay_errors(yaml: &str) -> Vec<String> {
    match parse_overlay("o.yaml", yaml.as_bytes(), 1 << 20) {
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
        .any(|e| e == "c.yaml: server typo: imgae: unknown field, did you mean image?"));
    assert!(errs
        .iter()
        .any(|e| e.starts_with("c.yaml: server mem: resources.memory: invalid memory unit")));
    assert!(errs
        .iter()
        .any(|e| e.starts_with("c.yaml: server ok: id: is defined more than once")));
}

#[test]
fn unknown_top_level_fields_are_named() {
    let errs = errors("servers: []\nserverz: []\nowner: me\n");
    assert_eq!(
        errs,
        [
            "c.yaml: owner: unknown field; expected one of version, name, source, metadata, servers",
            "c.yaml: serverz: unknown field, did you mean servers?",
        ]
    );
}

/// Issue 12, point 9: a server with two faults was reported with one.
#[test]
fn every_fault_of_one_server_is_reported_with_its_field() {
    let errs = errors(
        "name: bad\nservers:\n  - id: echo\n    image: mcp-echo:latest\n    transprot: stdio\n    resources:\n      memory: lots\n",
    );
    assert_eq!(
        errs,
        [
            "c.yaml: server echo: transprot: unknown field, did you mean transport?",
            "c.yaml: server echo: resources.memory: invalid memory \"lots\": use a whole number with an optional unit, e.g. 512m or 1g",
        ]
    );
}

#[test]
fn unknown_keys_then_each_field_then_the_semantic_checks_are_all_reported() {
    let errs = errors(
        r#"
servers:
  - id: echo
    image: mcp-echo:latest
    transprot: stdio
    transport: http
    port: 99999
    resources: {memory: lots, cpu: 2, pids: 0}
    env: {1X: y, LIST: [1], OK: fine}
  - id: next
    image: mcp/next
    envv: {}
"#,
    );
    assert_eq!(
        errs,
        [
            "c.yaml: server echo: transprot: unknown field, did you mean transport?",
            "c.yaml: server echo: env.LIST: invalid type: sequence, expected a string",
            "c.yaml: server echo: port: invalid value: integer `99999`, expected a port number from 1 to 65535",
            "c.yaml: server echo: resources.cpu: unknown field, did you mean cpus?",
            "c.yaml: server echo: resources.memory: invalid memory \"lots\": use a whole number with an optional unit, e.g. 512m or 1g",
            "c.yaml: server echo: transport: unknown variant `http`, expected one of `stdio`, `sse`, `streamable-http`",
            "c.yaml: server echo: env.1X: invalid environment variable name \"1X\": use letters, digits and '_', not starting with a digit",
            "c.yaml: server echo: resources.pids: must be at least 1",
            "c.yaml: server next: envv: unknown field, did you mean env?",
        ]
    );
}

#[test]
fn a_field_at_fault_raises_no_false_errors_where_fields_are_compared() {
    // A default transport (stdio) with the real port, or an http check whose path did not
    // decode, would otherwise read as errors the file does not have.
    let errs = errors(
        "servers:\n  - id: a\n    image: mcp/a\n    transport: http\n    port: 8080\n    health_check: {type: http, path: 5}\n",
    );
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].starts_with("c.yaml: server a: health_check.path: invalid type: integer `5`"));
    assert!(errs[1].starts_with("c.yaml: server a: transport: unknown variant `http`"));
}

#[test]
fn a_wrong_id_or_a_missing_image_hides_no_other_fault() {
    let errs = errors(
        "servers:\n  - id: bad id\n    tga: v1\n    transport: sse\n    visibility: {roles: [ok, \"not ok!\"]}\n  - just text\n",
    );
    assert_eq!(
        errs,
        [
            "c.yaml: server bad id: image: is required: add it to the entry",
            "c.yaml: server bad id: tga: unknown field, did you mean tag?",
            "c.yaml: server bad id: id: invalid server id \"bad id\": use 1-32 letters, digits, '_' or '-'",
            "c.yaml: server bad id: visibility.roles[1]: invalid role or organization \"not ok!\": use 1-64 letters, digits, '.', '_' or '-'",
            "c.yaml: server bad id: port: transport sse needs the container port the server listens on",
            "c.yaml: server #2: a server entry must be a mapping with an id and an image",
        ]
    );
}

#[test]
fn nested_mappings_are_checked_key_by_key() {
    let errs = errors(
        "servers:\n  - id: a\n    image: mcp/a\n    parameters: {p: {defalt: x, required: maybe}}\n    health_check: {interval: 30s}\n",
    );
    assert_eq!(
        errs,
        [
            "c.yaml: server a: health_check: missing field `type`",
            "c.yaml: server a: parameters.p.defalt: unknown field, did you mean default?",
            "c.yaml: server a: parameters.p.required: invalid type: string \"maybe\", expected a boolean",
        ]
    );
}

#[test]
fn every_fault_of_an_overlay_entry_is_reported() {
    let errs = overlay_errors(
        r#"
servers:
  - id: echo
    transprot: stdio
    transport: http
    port: 99999
    image: null
    resources: {memory: lots}
  - id: bad id
    tga: x
  - id: fine
    tag: v2
"#,
    );
    assert_eq!(
        errs,
        [
            "o.yaml: server echo: image: is required, so an overlay cannot remove it",
            "o.yaml: server echo: transprot: unknown field, did you mean transport?",
            "o.yaml: server echo: port: invalid value: integer `99999`, expected a port number from 1 to 65535",
            "o.yaml: server echo: resources.memory: invalid memory \"lots\": use a whole number with an optional unit, e.g. 512m or 1g",
            "o.yaml: server echo: transport: unknown variant `http`, expected one of `stdio`, `sse`, `streamable-http`",
            "o.yaml: server bad id: id: invalid server id \"bad id\": use 1-32 letters, digits, '_' or '-'",
            "o.yaml: server bad id: tga: unknown field, did you mean tag?",
        ]
    );
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
    let err = parse_custom(
        "s.yaml",
        b"id: mine\nimage: mcp/mine\ncomand: [x]\nuser_configurable: sometimes\n",
        &Limits::default(),
    )
    .unwrap_err();
    let errs: Vec<String> = err.diagnostics.errors().map(ToString::to_string).collect();
    assert_eq!(
        errs,
        [
            "s.yaml: server mine: comand: unknown field, did you mean command?",
            "s.yaml: server mine: user_configurable: invalid type: string \"sometimes\", expected a boolean",
        ]
    );
}
