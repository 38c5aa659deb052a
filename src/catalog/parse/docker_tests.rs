//! Docker's gateway catalog and registry folder end to end, through `parse`.

use super::{parse_catalog, parse_registry, Limits};

const GATEWAY: &str = r#"
version: 2
name: docker-mcp
displayName: Docker MCP Catalog
registry:
  github:
    description: GitHub's official MCP server
    title: GitHub
    type: server
    image: ghcr.io/github/github-mcp-server
    secrets:
      - name: github.personal_access_token
        env: GITHUB_PERSONAL_ACCESS_TOKEN
        example: ghp_xxx
    env:
      - name: GITHUB_TOOLSETS
        value: "{{github.toolsets|or:all}}"
    config:
      - name: github
        description: Configure the server
        type: object
        properties:
          toolsets: {type: string, description: Toolsets to enable}
        required: [toolsets]
    metadata: {category: devops, tags: [github]}
  notion:
    type: remote
    remote: {url: "https://mcp.notion.com/mcp", transport_type: streamable-http}
  curl:
    type: poci
  time:
    image: mcp/time
    command: ["--local-timezone={{time.timezone|or:UTC}}"]
    config:
      - name: time
        properties:
          timezone: {type: string}
    oauth: [{provider: x}]
    sparkle: true
"#;

#[test]
fn maps_a_gateway_catalog_and_reports_what_it_cannot_honour() {
    let p = parse_catalog("docker.yaml", GATEWAY.as_bytes(), &Limits::default()).unwrap();
    let ids: Vec<&str> = p.catalog.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["github", "time"]);
    let gh = &p.catalog.servers[0];
    assert_eq!(gh.display_name.as_deref(), Some("GitHub"));
    assert_eq!(gh.category.as_deref(), Some("devops"));
    assert_eq!(gh.secrets[0].env, "GITHUB_PERSONAL_ACCESS_TOKEN");
    assert_eq!(gh.env["GITHUB_TOOLSETS"], "{{github.toolsets|or:all}}");
    assert!(gh.parameters["toolsets"].required);
    let warnings: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
            warnings,
            [
                "docker.yaml: server curl: type: \"poci\" servers are not supported (only \"server\"); server skipped",
                "docker.yaml: server notion: remote: remote servers are not run by the portal; server skipped",
                "docker.yaml: server time: oauth: OAuth sign-in is not supported; set the token as a secret instead",
                "docker.yaml: server time: sparkle: is not supported by the portal and is ignored",
            ]
        );
}

const SQLITE: &str = r#"
name: SQLite
image: mcp/sqlite
type: server
meta: {category: database, tags: [sqlite]}
about: {title: SQLite (Archived), description: Database interaction.}
run:
  command: [--db-path, /mcp/db.sqlite]
  volumes: ["mcp-sqlite:/mcp"]
"#;

const ASTRA: &str = r#"
name: astra-db
image: mcp/astra-db
type: server
config:
  secrets:
    - {name: astra-db.application_token, env: ASTRA_DB_APPLICATION_TOKEN, example: x}
  env:
    - {name: ASTRA_DB_API_ENDPOINT, example: "", value: "{{astra-db.endpoint}}"}
  parameters:
    type: object
    properties:
      endpoint: {type: string}
"#;

#[test]
fn maps_registry_entries() {
    let entries = vec![
        ("SQLite".to_string(), SQLITE.as_bytes().to_vec()),
        ("astra-db".to_string(), ASTRA.as_bytes().to_vec()),
        (
            "notion".to_string(),
            b"name: notion\ntype: remote\nremote: {url: x}\n".to_vec(),
        ),
    ];
    let p = parse_registry("reg", entries, &Limits::default()).unwrap();
    let ids: Vec<&str> = p.catalog.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["SQLite", "astra-db"]);
    let sqlite = &p.catalog.servers[0];
    assert_eq!(sqlite.command, ["--db-path", "/mcp/db.sqlite"]);
    assert_eq!(sqlite.volumes, ["mcp-sqlite:/mcp"]);
    assert_eq!(sqlite.category.as_deref(), Some("database"));
    let astra = &p.catalog.servers[1];
    assert_eq!(astra.env["ASTRA_DB_API_ENDPOINT"], "{{astra-db.endpoint}}");
    assert_eq!(astra.secrets[0].name.as_str(), "astra-db.application_token");
    assert!(!astra.parameters["endpoint"].required);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0]
        .to_string()
        .starts_with("reg/servers/notion/server.yaml: server notion: type: remote"));
}

#[test]
fn registry_host_paths_are_refused_with_the_file_named() {
    let bad = b"name: dock\nimage: docker:cli\nrun:\n  volumes: [/var/run/docker.sock:/var/run/docker.sock]\n";
    let err = parse_registry(
        "reg",
        vec![("dock".into(), bad.to_vec())],
        &Limits::default(),
    )
    .unwrap_err();
    let e = err.diagnostics.errors().next().unwrap().to_string();
    assert!(
        e.starts_with("reg/servers/dock/server.yaml: server dock: volumes[0]: volume"),
        "{e}"
    );
}

fn errors(p: Result<super::Parsed, crate::catalog::report::Invalid>) -> Vec<String> {
    match p {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.errors().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_gateway_entry_reports_every_fault_even_without_a_name_or_image() {
    let yaml = r#"
version: 2
registry:
  bad name:
    command: 5
    disableNetwork: maybe
    volumes: [/etc:/etc]
    env: [{value: x}]
    sparkle: true
"#;
    let errs = errors(parse_catalog("d.yaml", yaml.as_bytes(), &Limits::default()));
    assert_eq!(
        errs,
        [
            "d.yaml: server bad name: image: is required for a server entry: add the image to run",
            "d.yaml: server bad name: name: invalid server id \"bad name\": use 1-32 letters, digits, '_' or '-'",
            "d.yaml: server bad name: command: must be a list, found 5",
            "d.yaml: server bad name: disableNetwork: must be true or false, found \"maybe\"",
            "d.yaml: server bad name: env[0]: an env entry needs a name",
            "d.yaml: server bad name: volumes[0]: volume \"/etc:/etc\" mounts host path \"/etc\" outside the user's folder; use {USER_DATA}/... or ask the admin to allow it in MCP_PORTAL_ALLOWED_HOST_PATHS",
        ]
    );
}

#[test]
fn a_registry_entry_reports_every_fault_even_when_run_is_not_a_mapping() {
    let yaml =
        b"name: bad name\nrun: [x]\nconfig:\n  secrets: [{name: \"no good!\", env: TOKEN}]\n";
    let errs = errors(parse_registry(
        "reg",
        vec![("bad".into(), yaml.to_vec())],
        &Limits::default(),
    ));
    let f = "reg/servers/bad/server.yaml: server bad name";
    assert_eq!(
        errs,
        [
            format!("{f}: image: is required for a server entry: add the image to run"),
            format!("{f}: name: invalid server id \"bad name\": use 1-32 letters, digits, '_' or '-'"),
            format!("{f}: run: must be a mapping of command, volumes, env and the like"),
            format!("{f}: config.secrets[0].name: invalid secret name \"no good!\": use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"),
        ]
    );
}
