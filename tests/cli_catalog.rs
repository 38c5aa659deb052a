#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `portalctl catalog ...` end to end over a temporary data folder: exact output,
//! exit codes, and that refused input stores nothing.

mod common;

use common::{normalize, Env, DOCKER, TEAM};

#[test]
fn upload_stores_a_revision_and_reports_skipped_entries() {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    let docker = env.file("docker.yaml", DOCKER);
    let out = env.run(&["catalog", "upload", &env.path(&team)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sha = mcp_portal::store::sha256_hex(TEAM.as_bytes());
    assert_eq!(
        out.stdout,
        format!(
            "stored catalog team revision 1 (version 1.0.0, 2 servers, sha256 {})\n",
            &sha[..12]
        )
    );
    let out = env.run(&["catalog", "upload", &env.path(&docker)]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stderr,
        format!(
            "warning: {}: server notion: remote: remote servers are not run by the portal; server skipped\n",
            env.path(&docker)
        )
    );
    assert_eq!(
        normalize(&env.ok(&["catalog", "ls"])),
        "NAME        REVISION  VERSION  SERVERS  FORMAT          UPLOADED\n\
         docker-mcp  1         -        1        docker-catalog  YYYY-MM-DDTHH:MM:SSZ\n\
         team        1         1.0.0    2        native          YYYY-MM-DDTHH:MM:SSZ\n"
    );
}

#[test]
fn uploading_the_same_bytes_again_keeps_the_revision() {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    env.ok(&["catalog", "upload", &env.path(&team)]);
    assert_eq!(
        env.ok(&["catalog", "upload", &env.path(&team)]),
        "catalog team unchanged: revision 1 is current\n"
    );
}

#[test]
fn an_invalid_catalog_lists_every_error_and_stores_nothing() {
    let env = Env::new();
    let bad = env.file(
        "bad.yaml",
        "name: bad\nservers:\n  - id: a\n    image: Not An Image\n  - id: b\n    image: mcp/b\n    env: {1X: y}\n    volumes: [/etc:/etc]\n  - id: a\n    image: mcp/a\n",
    );
    let out = env.run(&["catalog", "upload", &env.path(&bad)]);
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout, "");
    let f = env.path(&bad);
    assert_eq!(
        out.stderr,
        format!(
            "error: {f}: server a: image: invalid image reference \"Not An Image\": \"Not An Image\" is not a valid repository path component (lower-case letters, digits and single separators)\n\
             error: {f}: server b: env.1X: invalid environment variable name \"1X\": use letters, digits and '_', not starting with a digit\n\
             error: {f}: server b: volumes[0]: volume \"/etc:/etc\" mounts host path \"/etc\" outside the user's folder; use {{USER_DATA}}/... or ask the admin to allow it in MCP_PORTAL_ALLOWED_HOST_PATHS\n\
             error: {f}: server a: id: is defined more than once; server ids must be unique\n\
             error: {f} refused with 4 error(s); nothing was stored\n"
        )
    );
    assert_eq!(
        env.ok(&["catalog", "ls"]),
        "NAME  REVISION  VERSION  SERVERS  FORMAT  UPLOADED\n"
    );
}

/// Issue 11, items 2 and 11: what only the admin may allow is refused at upload, naming
/// the setting, not first at enable; allowed, the same catalog is stored.
#[test]
fn root_capabilities_a_writable_root_and_oversized_limits_are_refused_at_upload() {
    let env = Env::new();
    let yaml = "name: big\nservers:\n  - id: r\n    image: mcp/r\n    user: '000:000'\n    cap_add: [SYS_ADMIN]\n  - id: w\n    image: mcp/w\n    writable_rootfs: true\n    resources: {memory: 8g, cpus: 16, pids: 100000}\n";
    let f = env.file("big.yaml", yaml);
    let out = env.run(&["catalog", "upload", &env.path(&f)]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let f = env.path(&f);
    assert_eq!(
        out.stderr,
        format!(
            "error: {f}: server r: user: runs as root, which this portal does not allow (MCP_PORTAL_ALLOW_ROOT)\n\
             error: {f}: server r: cap_add[0]: needs capability SYS_ADMIN, which is not allowed here (MCP_PORTAL_ALLOWED_CAPS: NET_BIND_SERVICE)\n\
             error: {f}: server w: writable_rootfs: needs a writable root filesystem, which this portal does not allow (MCP_PORTAL_ALLOW_WRITABLE_ROOTFS)\n\
             error: {f}: server w: resources.memory: asks for 8g of memory, more than one server may have here: 4g (MCP_PORTAL_MAX_SERVER_MEMORY)\n\
             error: {f}: server w: resources.cpus: asks for 16 CPUs, more than one server may have here: 4 (MCP_PORTAL_MAX_SERVER_CPUS)\n\
             error: {f}: server w: resources.pids: asks for 100000 processes, more than one server may have here: 4096 (MCP_PORTAL_MAX_SERVER_PIDS)\n\
             error: {f} refused with 6 error(s); nothing was stored\n"
        )
    );
    let allowed = [
        ("MCP_PORTAL_ALLOW_ROOT", "true"),
        ("MCP_PORTAL_ALLOWED_CAPS", "NET_BIND_SERVICE,SYS_ADMIN"),
        ("MCP_PORTAL_ALLOW_WRITABLE_ROOTFS", "true"),
        ("MCP_PORTAL_MAX_SERVER_MEMORY", "8g"),
        ("MCP_PORTAL_MAX_SERVER_CPUS", "16"),
        ("MCP_PORTAL_MAX_SERVER_PIDS", "100000"),
    ];
    let out = env.run_with(&["catalog", "upload", &f], &allowed);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// Issue 12, point 9: every fault of a server is listed, each with its server and field.
#[test]
fn validate_lists_every_fault_of_every_server_and_stores_nothing() {
    let env = Env::new();
    let bad = env.file(
        "bad.yaml",
        "name: bad\nservers:\n  - id: echo\n    image: mcp-echo:latest\n    transprot: stdio\n    resources:\n      memory: lots\n  - id: web\n    image: mcp/web\n    transport: http\n    port: 99999\n    env: {1X: y}\n",
    );
    let out = env.run(&["catalog", "validate", &env.path(&bad)]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let f = env.path(&bad);
    assert_eq!(
        out.stderr,
        format!(
            "error: {f}: server echo: transprot: unknown field, did you mean transport?\n\
             error: {f}: server echo: resources.memory: invalid memory \"lots\": use a whole number with an optional unit, e.g. 512m or 1g\n\
             error: {f}: server web: port: invalid value: integer `99999`, expected a port number from 1 to 65535\n\
             error: {f}: server web: transport: unknown variant `http`, expected one of `stdio`, `sse`, `streamable-http`\n\
             error: {f}: server web: env.1X: invalid environment variable name \"1X\": use letters, digits and '_', not starting with a digit\n\
             error: {f} refused with 5 error(s); nothing was stored\n"
        )
    );
    assert_eq!(
        env.ok(&["catalog", "ls"]),
        "NAME  REVISION  VERSION  SERVERS  FORMAT  UPLOADED\n"
    );
}

#[test]
fn admins_may_allow_a_host_path() {
    let env = Env::new();
    let cat = env.file("c.yaml", "name: c\nservers:\n  - id: a\n    image: mcp/a\n    volumes: [/srv/shared/data:/data:ro]\n");
    assert_eq!(env.run(&["catalog", "upload", &env.path(&cat)]).code, 3);
    let out = env.run_with(
        &["catalog", "upload", &env.path(&cat)],
        &[("MCP_PORTAL_ALLOWED_HOST_PATHS", "/srv/shared")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn oversized_and_non_utf8_files_are_refused_before_parsing() {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    let out = env.run_with(
        &["catalog", "upload", &env.path(&team)],
        &[("MCP_PORTAL_MAX_CATALOG_BYTES", "100")],
    );
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains(&format!(
            "file is {} bytes, over the 100-byte limit",
            TEAM.len()
        )),
        "{}",
        out.stderr
    );
    let bin = env.dir.path().join("bin.yaml");
    std::fs::write(&bin, b"name: x\nservers: []\n\xfe\xff").unwrap();
    let out = env.run(&["catalog", "upload", &env.path(&bin)]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr
            .contains("file is not UTF-8 (invalid byte at offset 20)"),
        "{}",
        out.stderr
    );
    let bad_limit = env.run_with(
        &["catalog", "ls"],
        &[("MCP_PORTAL_MAX_CATALOG_BYTES", "lots")],
    );
    assert_eq!(bad_limit.code, 2);
    assert!(bad_limit
        .stderr
        .contains("invalid MCP_PORTAL_MAX_CATALOG_BYTES=\"lots\""));
}

#[test]
fn validate_reports_and_stores_nothing() {
    let env = Env::new();
    let docker = env.file("docker.yaml", DOCKER);
    let out = env.run(&["catalog", "validate", &env.path(&docker)]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        format!(
            "{} is valid: docker-catalog catalog, 1 server\n",
            env.path(&docker)
        )
    );
    assert!(out.stderr.contains("server notion: remote"));
    assert_eq!(env.ok(&["catalog", "ls"]).lines().count(), 1);
}

#[test]
fn history_and_rollback_switch_the_current_revision() {
    let env = Env::new();
    let v1 = env.file(
        "v1.yaml",
        "name: team\nversion: '1'\nservers:\n  - {id: a, image: mcp/a}\n",
    );
    let v2 = env.file("v2.yaml", "name: team\nversion: '2'\nservers:\n  - {id: a, image: mcp/a, tag: v2}\n  - {id: b, image: mcp/b}\n");
    env.ok(&["user", "add", "u1"]);
    env.ok(&["catalog", "upload", &env.path(&v1)]);
    let out = env.ok(&["catalog", "upload", &env.path(&v2)]);
    assert!(
        out.ends_with("regenerated the merged catalogs of 1 user\n"),
        "{out}"
    );
    assert_eq!(
        normalize(&env.ok(&["catalog", "history", "team"])),
        format!(
            " REVISION  VERSION  SERVERS  SHA256        UPLOADED              FILE\n\
             *2         2        2        xxxxxxxxxxxx  YYYY-MM-DDTHH:MM:SSZ  {}\n \
             1         1        1        xxxxxxxxxxxx  YYYY-MM-DDTHH:MM:SSZ  {}\n",
            env.path(&v2),
            env.path(&v1)
        )
    );
    let out = env.ok(&["catalog", "rollback", "team"]);
    assert!(
        out.starts_with("rolled back to catalog team revision 1 (version 1, 1 server"),
        "{out}"
    );
    assert!(env
        .ok(&["servers", "--user", "u1"])
        .contains("mcp/a:latest"));
    env.ok(&["catalog", "rollback", "team", "--to", "2"]);
    assert!(env.ok(&["servers", "--user", "u1"]).contains("mcp/a:v2"));
    let out = env.run(&["catalog", "rollback", "team", "--to", "9"]);
    assert_eq!(out.code, 4);
    assert_eq!(out.stderr, "error: revision 9 of catalog team does not exist; see the revisions with `portalctl catalog history team`\n");
    env.ok(&["catalog", "rollback", "team", "--to", "1"]);
    let out = env.run(&["catalog", "rollback", "team"]);
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "error: catalog team has no revision before 1 to roll back to\n"
    );
}

#[test]
fn rm_removes_the_catalog_and_its_servers() {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    env.ok(&["user", "add", "u1"]);
    env.ok(&["catalog", "upload", &env.path(&team)]);
    assert_eq!(
        env.ok(&["catalog", "rm", "team"]),
        "removed catalog team\nregenerated the merged catalogs of 1 user\n"
    );
    assert_eq!(
        env.ok(&["servers", "--user", "u1"]),
        "ID  IMAGE  TRANSPORT  CATEGORY  SECRETS  SOURCE\n"
    );
    let out = env.run(&["catalog", "rm", "team"]);
    assert_eq!(out.code, 4);
    assert_eq!(
        out.stderr,
        "error: catalog team does not exist; see the stored catalogs with `portalctl catalog ls`\n"
    );
}

#[test]
fn import_reads_a_docker_registry_folder() {
    let env = Env::new();
    env.file("reg/servers/sqlite/server.yaml", "name: sqlite\nimage: mcp/sqlite\ntype: server\nmeta: {category: database}\nrun:\n  volumes: ['mcp-sqlite:/mcp']\n");
    env.file(
        "reg/servers/notion/server.yaml",
        "name: notion\ntype: remote\nremote: {url: 'https://x'}\n",
    );
    env.file("reg/servers/readme.md", "not a server");
    let reg = env.dir.path().join("reg");
    let out = env.run(&["catalog", "import", &env.path(&reg)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("imported catalog reg revision 1 (1 server, sha256 "),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        format!("warning: {}/servers/notion/server.yaml: server notion: type: remote servers are not run by the portal; server skipped\n", env.path(&reg))
    );
    assert!(env
        .ok(&["catalog", "validate", &env.path(&reg)])
        .ends_with("is valid: docker-registry catalog, 1 server\n"));
}

/// Docker's filesystem entry, as the public registry has it: list-valued templates.
const FILESYSTEM: &str = r#"
name: filesystem
image: mcp/filesystem
type: server
meta: {category: devops}
run:
  command: ['{{filesystem.paths|volume-target|into}}']
  volumes: ['{{filesystem.paths|volume|into}}']
  disableNetwork: true
config:
  description: The directories the server may use
  parameters:
    type: object
    properties:
      paths:
        type: array
        items: {type: string}
        default: [/Users/local-test]
    required: [paths]
"#;

/// openapi-schema's template: an empty-list default, then volumes.
const OPENAPI: &str = r#"
name: openapi-schema
image: mcp/openapi-schema
type: server
run:
  volumes: ['{{openapi-schema.SchemaPath|or:[]|volume|into}}']
config:
  parameters:
    type: object
    properties:
      SchemaPath: {type: string}
"#;

#[test]
fn list_templates_of_the_public_registry_import_without_a_flag() {
    let env = Env::new();
    env.file("reg/servers/filesystem/server.yaml", FILESYSTEM);
    env.file("reg/servers/openapi-schema/server.yaml", OPENAPI);
    env.file(
        "reg/servers/neo4j/server.yaml",
        "name: neo4j\nimage: mcp/neo4j\ntype: server\nrequirement: neo4j\n",
    );
    for (name, kind) in [("notion", "remote"), ("linear", "remote"), ("curl", "poci")] {
        env.file(
            &format!("reg/servers/{name}/server.yaml"),
            &format!("name: {name}\ntype: {kind}\n"),
        );
    }
    let reg = env.dir.path().join("reg");
    let out = env.run(&["catalog", "import", &env.path(&reg)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .ends_with("imported 3 of 3 container servers; 2 remote and 1 poci listed\n"),
        "{}",
        out.stdout
    );
    // The two remote entries' warning is one line; --verbose names each.
    assert!(out.stderr.contains(
        "warning: 2 servers: type: remote servers are not run by the portal; server skipped (--verbose names them)\n"
    ), "{}", out.stderr);
    env.ok(&["user", "add", "u1"]);
    let servers = env.ok(&["servers", "--user", "u1"]);
    let neo = servers.lines().find(|l| l.starts_with("neo4j")).unwrap();
    assert!(neo.ends_with("neo4j (companion service)"), "{servers}");
    assert!(
        servers.lines().next().unwrap().ends_with("NEEDS"),
        "{servers}"
    );
    let verbose = env.run(&["catalog", "import", "--verbose", &env.path(&reg)]);
    assert!(
        verbose.stderr.contains("server linear: type: remote"),
        "{}",
        verbose.stderr
    );
    assert!(
        verbose.stderr.contains("server notion: type: remote"),
        "{}",
        verbose.stderr
    );
}

#[test]
fn skip_invalid_stores_the_rest_and_lists_each_entry_left_out() {
    let env = Env::new();
    env.file("reg/servers/filesystem/server.yaml", FILESYSTEM);
    env.file(
        "reg/servers/typo/server.yaml",
        "name: typo\nimage: mcp/typo\ntype: server\nrun:\n  command: ['{{typo.level|shout}}']\n",
    );
    let reg = env.dir.path().join("reg");
    let refused = env.run(&["catalog", "import", &env.path(&reg)]);
    assert_eq!(refused.code, 3, "without the flag, all or nothing");
    assert!(
        refused.stderr.contains("unknown template filter \"shout\""),
        "{}",
        refused.stderr
    );
    assert_eq!(
        env.ok(&["catalog", "ls"]),
        "NAME  REVISION  VERSION  SERVERS  FORMAT  UPLOADED\n",
        "nothing was stored"
    );
    let out = env.run(&["catalog", "import", "--skip-invalid", &env.path(&reg)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file = format!("{}/servers/typo/server.yaml", env.path(&reg));
    assert_eq!(
        out.stderr,
        format!(
            "left out: {file}: server typo: command[0]: unknown template filter \"shout\": use volume, volume-target, into, first, last, or:DEFAULT or mount_as:PATH\n\
             left out: {file}: server typo: command[0]: template {{{{typo.level}}}} names no parameter of this server; declare \"level\" under parameters\n"
        )
    );
    assert!(
        out.stdout.ends_with("imported 1 of 2 container servers\n"),
        "{}",
        out.stdout
    );
    env.ok(&["user", "add", "u1"]);
    let servers = env.ok(&["servers", "--user", "u1"]);
    assert!(
        servers.contains("filesystem") && !servers.contains("typo"),
        "{servers}"
    );
}

#[test]
fn regenerate_needs_a_user_or_all() {
    let env = Env::new();
    let out = env.run(&["catalog", "regenerate"]);
    assert_eq!(out.code, 2);
    env.ok(&["user", "add", "u1"]);
    env.ok(&["user", "add", "u2"]);
    assert_eq!(
        env.ok(&["catalog", "regenerate", "--all"]),
        "regenerated the merged catalogs of 2 users\n"
    );
    assert_eq!(
        env.ok(&["catalog", "regenerate", "--user", "u2"]),
        "regenerated the merged catalogs of 1 user\n"
    );
    assert_eq!(
        env.run(&["catalog", "regenerate", "--user", "nobody"]).code,
        4
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    assert!(help.contains("3  invalid input refused"), "{help}");
    assert!(env
        .ok(&["catalog", "upload", "--help"])
        .contains("Exit codes:"));
}

#[test]
fn concurrent_uploads_never_corrupt_the_data_folder() {
    let env = Env::new();
    env.ok(&["user", "add", "u1"]);
    let children: Vec<_> = (0..8)
        .map(|i| {
            let f = env.file(
                &format!("c{i}.yaml"),
                &format!("name: c{i}\nservers:\n  - {{id: s{i}, image: mcp/s{i}}}\n"),
            );
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("portalctl"));
            cmd.arg("--data-dir")
                .arg(env.data())
                .args(["catalog", "upload"])
                .arg(f);
            cmd.stdout(std::process::Stdio::null()).spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(env.ok(&["catalog", "ls"]).lines().count(), 9);
    let servers = env.ok(&["servers", "--user", "u1", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&servers).unwrap();
    assert_eq!(list.len(), 8, "every upload reached u1's merged catalog");
}

/// Issue 12, point 12: with `--json`, a failure is one JSON object on stderr, in the
/// API's shape, with the code of its class.
#[test]
fn with_json_an_error_is_the_apis_json_on_stderr() {
    let env = Env::new();
    let bad = env.file(
        "bad.yaml",
        "name: bad\nservers:\n  - {id: x, image: 'Bad Image'}\n",
    );
    let out = env.run(&["catalog", "upload", &env.path(&bad), "--json"]);
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(v["error"]["code"], "invalid");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .ends_with("refused with 1 error(s); nothing was stored"));
    assert!(v["error"]["details"][0]
        .as_str()
        .unwrap()
        .contains("server x: image: invalid image reference"));
    assert_eq!(v["error"]["diagnostics"][0]["severity"], "error");
    let out = env.run(&["servers", "--user", "nobody", "--json"]);
    assert_eq!(out.code, 4);
    let v: serde_json::Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"error": {"code": "not_found", "message": "user nobody does not exist; add it with `portalctl user add nobody`"}})
    );
}
