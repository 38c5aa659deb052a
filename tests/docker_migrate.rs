#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `portalctl migrate docker-mcp` on the real Docker Engine, from a Toolkit folder
//! written here in docker/mcp-gateway's formats: the dry run changes nothing, `--apply`
//! refuses while a secret is missing and then runs the servers with the Toolkit's
//! settings, audited and backed up; the same through `--remote` and the API route, and
//! the gateway then serves only the tools the Toolkit enabled.

mod common;

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::docker::DockerEnv;
use serde_json::Value;

/// `~/.docker/mcp/catalogs/docker-mcp.yaml`: Docker's catalog format, with servers that
/// run the local mcp-echo image (no registry is reachable).
const DOCKER_MCP: &str = r#"
version: 2
name: docker-mcp
displayName: Docker MCP Catalog
registry:
  echo:
    description: Says what it is told
    title: Echo
    type: server
    image: mcp-echo:latest
    secrets:
      - name: echo.api_key
        env: ECHO_API_KEY
    env:
      - name: ECHO_GREETING
        value: '{{echo.greeting}}'
    config:
      - name: echo
        description: Configure echo
        type: object
        properties:
          greeting: {type: string}
        required: [greeting]
  files:
    type: server
    image: mcp-echo:latest
    command: ['{{files.paths|volume-target|into}}']
    volumes: ['{{files.paths|volume|into}}']
    config:
      - name: files
        type: object
        properties:
          paths:
            type: array
            items: {type: string}
        required: [paths]
  notion-remote:
    type: remote
    remote: {url: "https://mcp.notion.com/mcp", transport_type: streamable-http}
"#;

const REGISTRY: &str =
    "registry:\n  echo:\n    ref: \"\"\n  files:\n    ref: \"\"\n  notion-remote:\n    ref: \"\"\n";
const CONFIG: &str =
    "echo:\n  greeting: hello from desktop\nfiles:\n  paths:\n    - /Users/me/src\n    - /Users/me/notes\n";
const TOOLS: &str = "echo:\n  - echo\n";
const CATALOG_JSON: &str = r#"{"catalogs": {"docker-mcp": {"displayName": "Docker MCP Catalog", "url": "https://desktop.docker.com/mcp/catalog/v2/catalog.yaml"}}}"#;

/// Writes the Toolkit folder `mcp` beside the data folder; returns its path.
fn toolkit(d: &DockerEnv) -> String {
    for (name, text) in [
        ("mcp/catalogs/docker-mcp.yaml", DOCKER_MCP),
        ("mcp/registry.yaml", REGISTRY),
        ("mcp/config.yaml", CONFIG),
        ("mcp/tools.yaml", TOOLS),
        ("mcp/catalog.json", CATALOG_JSON),
    ] {
        d.env.file(name, text);
    }
    d.env.path(&d.env.dir.path().join("mcp"))
}

fn audit(d: &DockerEnv) -> Vec<Value> {
    std::fs::read_to_string(d.env.data().join("audit/audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn set_secret(d: &DockerEnv, user: &str) {
    let out = d
        .command(&[
            "secret",
            "set",
            "echo.api_key",
            "--user",
            user,
            "--value",
            "desk-key-1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Nothing of the portal's changed: no catalog, no enabled server, no container,
/// network or backup, and no audit entry of the migration.
fn nothing_changed(d: &DockerEnv, user: &str) {
    assert_eq!(d.ok(&["catalog", "ls", "--json"]).trim(), "[]");
    assert!(!d
        .env
        .data()
        .join(format!("users/{user}/enabled.json"))
        .exists());
    assert!(!d.env.data().join("backups").exists());
    assert!(d.containers().is_empty(), "{:?}", d.containers());
    assert!(d.networks().is_empty());
    assert!(!audit(d)
        .iter()
        .any(|e| e["action"] == "system.migrate" || e["action"] == "catalog.upload"));
}

/// What a user checks after the migration: both servers run, with the Toolkit's
/// settings, the paths as folders of their own, and the whole of it audited.
fn migrated(d: &DockerEnv, user: &str, actor: &str) {
    let echo = format!("mcp-{user}.echo");
    assert_eq!(d.inspect(&echo, "{{.State.Status}}"), "running");
    let env = d.inspect(&echo, "{{json .Config.Env}}");
    assert!(
        env.contains("\"ECHO_GREETING=hello from desktop\""),
        "{env}"
    );
    assert!(env.contains("\"ECHO_API_KEY=desk-key-1\""), "{env}");
    let files = format!("mcp-{user}.files");
    assert_eq!(d.inspect(&files, "{{.State.Status}}"), "running");
    let mounts: Value = serde_json::from_str(&d.inspect(&files, "{{json .Mounts}}")).unwrap();
    let data = d.env.data().canonicalize().unwrap();
    for (target, folder) in [
        ("/Users/me/src", "Users/me/src"),
        ("/Users/me/notes", "Users/me/notes"),
    ] {
        let m = mounts
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Destination"] == target)
            .unwrap_or_else(|| panic!("no mount at {target}: {mounts}"));
        let source = data.join(format!("volumes/{user}/data/{folder}"));
        assert_eq!(m["Source"], source.display().to_string());
    }
    let tools: Value = serde_json::from_str(
        &std::fs::read_to_string(d.env.data().join(format!("users/{user}/tools.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(tools["servers"]["echo"], serde_json::json!(["echo"]));
    let entries = audit(d);
    let ok = |action: &str, resource: &str| {
        entries.iter().any(|e| {
            e["action"] == action
                && e["resource"] == resource
                && e["result"] == "ok"
                && e["actor"].as_str().is_some_and(|a| a.starts_with(actor))
        })
    };
    assert!(
        ok("catalog.upload", "catalogs/docker-mcp.yaml"),
        "{entries:?}"
    );
    assert!(ok("server.enable", "echo") && ok("server.enable", "files"));
    let migrate = entries
        .iter()
        .find(|e| e["action"] == "system.migrate" && e["result"] == "ok")
        .expect("the migration is audited");
    assert_eq!(migrate["user"], user);
    let backups: Vec<_> = std::fs::read_dir(d.env.data().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "one backup, before the change");
    assert!(backups[0].join(format!("users/{user}/user.json")).is_file());
    assert!(
        !backups[0].join("catalogs/base/docker-mcp").exists(),
        "the backup is of the records before the migration"
    );
}

#[test]
fn a_toolkit_folder_is_planned_then_migrated_with_its_settings() {
    let d = DockerEnv::new("mig", 42);
    let user = "mig-a";
    d.ok(&["user", "add", user]);
    let dir = toolkit(&d);

    let plan = d.run(&["migrate", "docker-mcp", &dir, "--user", user]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("a dry run, nothing was changed"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!(
            "\n  portalctl secret set echo.api_key --user {user}\n"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!(
            "  files.paths  /Users/me/src      volumes/{user}/data/Users/me/src    /Users/me/src\n"
        )),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("greeting=hello from desktop"));
    assert!(
        plan.stderr.contains(
            "registry.yaml: server notion-remote: is in none of the user's merged servers"
        ),
        "{}",
        plan.stderr
    );
    nothing_changed(&d, user);

    let refused = d.run(&["migrate", "docker-mcp", &dir, "--user", user, "--apply"]);
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("portalctl secret set echo.api_key --user {user}")),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("nothing was changed"));
    assert!(!d.env.data().join("backups").exists());
    assert!(d.containers().is_empty());

    set_secret(&d, user);
    // An image that cannot be had stops the migration before anything changes.
    d.env.file(
        "ghost/catalogs/docker-mcp.yaml",
        "registry:\n  ghost:\n    type: server\n    image: mcp-portal-test/never-built:none\n",
    );
    d.env
        .file("ghost/registry.yaml", "registry:\n  ghost: {ref: \"\"}\n");
    let ghost = d.env.path(&d.env.dir.path().join("ghost"));
    let failed = d.run(&["migrate", "docker-mcp", &ghost, "--user", user, "--apply"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("mcp-portal-test/never-built:none"),
        "{}",
        failed.stderr
    );
    assert_eq!(d.ok(&["catalog", "ls", "--json"]).trim(), "[]");
    assert!(!d.env.data().join("backups").exists());
    assert!(d.containers().is_empty());

    let done = d.ok(&["migrate", "docker-mcp", &dir, "--user", user, "--apply"]);
    assert!(
        done.ends_with(&format!(
            "migrated for {user}: 1 catalog stored, 2 servers enabled\n"
        )),
        "{done}"
    );
    migrated(&d, user, "cli");
}

/// A `portalctl serve --listen` child, stopped by its own pid when the test ends.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(d: &DockerEnv) -> Served {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(d.env.dir.path().join("serve.log")).unwrap();
    let child = d
        .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let served = Served {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while ureq::get(&format!("{}/healthz", served.url))
        .call()
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "portalctl serve did not answer: {}",
            std::fs::read_to_string(d.env.dir.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    served
}

#[test]
fn the_migration_runs_the_same_through_remote_and_the_api_route() {
    let d = DockerEnv::new("migr", 43);
    let user = "migr-a";
    d.ok(&["user", "add", user]);
    d.ok(&["user", "add", "migr-admin", "--role", "admin"]);
    let admin = d.ok(&["token", "create", "--user", "migr-admin", "--role", "admin"]);
    let admin = admin.trim();
    let own = d.ok(&["token", "create", "--user", user]);
    let own = own.trim();
    let dir = toolkit(&d);
    let served = serve(&d);
    let remote = |token: &str, extra: &[&str]| {
        let mut args = vec!["--remote", &served.url, "--token", token];
        args.extend_from_slice(&["migrate", "docker-mcp", &dir, "--user", user]);
        args.extend_from_slice(extra);
        d.run(&args)
    };

    let local = d.run(&["migrate", "docker-mcp", &dir, "--user", user]);
    let there = remote(admin, &[]);
    assert_eq!(there.code, 0, "{}", there.stderr);
    assert_eq!(
        (local.stdout.as_str(), local.stderr.as_str()),
        (there.stdout.as_str(), there.stderr.as_str()),
        "the dry run prints the same locally and with --remote"
    );
    nothing_changed(&d, user);

    let forbidden = remote(own, &["--apply"]);
    assert_eq!(
        forbidden.code, 6,
        "a user's own token may not migrate: {}",
        forbidden.stderr
    );

    // The API route itself: a dry run by default, the folder's files in the body.
    let body = serde_json::json!({
        "dir": "mcp",
        "user": user,
        "files": [{"path": "registry.yaml", "base64": "cmVnaXN0cnk6IHt9Cg=="}],
    });
    let reply = ureq::post(&format!("{}/api/v1/admin/system/migration", served.url))
        .header("Authorization", &format!("Bearer {admin}"))
        .send_json(&body)
        .unwrap()
        .into_body()
        .read_json::<Value>()
        .unwrap();
    assert_eq!(reply["applied"], false);
    assert_eq!(reply["servers"], serde_json::json!([]));
    nothing_changed(&d, user);

    set_secret(&d, user);
    let done = remote(admin, &["--apply"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stdout.ends_with(&format!(
        "migrated for {user}: 1 catalog stored, 2 servers enabled\n"
    )));
    migrated(&d, user, "api:migr-admin");

    // tools.yaml enabled only echo's `echo`: the gateway serves that and hides the rest
    // of echo's tools, while files (not in tools.yaml) keeps all of its own.
    let mcp = d.ok(&["token", "create", "--user", user, "--scope", "mcp"]);
    let url = format!("{}/mcp", served.url);
    let seen = sdk(mcp.trim(), &["aggregate", &url, "legacy"]);
    let tools: Vec<&str> = seen["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tools.contains(&"echo__echo"), "{seen}");
    assert!(!tools.contains(&"echo__sleep"), "{seen}");
    assert!(
        tools.contains(&"files__echo") && tools.contains(&"files__sleep"),
        "{seen}"
    );
    assert_eq!(seen["calls"]["echo__echo"], "via echo__echo");
    let refused = sdk(
        mcp.trim(),
        &["call", &url, "legacy", "echo__sleep", r#"{"ms": 1}"#],
    );
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tool sleep of server echo is not enabled for user migr-a"),
        "{refused}"
    );
}

/// The official MCP Python SDK as the gateway's client (tests/mcp/gateway_client.py):
/// what it printed last.
fn sdk(token: &str, args: &[&str]) -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let venv = std::process::Command::new("bash")
        .arg(format!("{root}/scripts/mcp-venv.sh"))
        .output()
        .unwrap();
    assert!(
        venv.status.success(),
        "{}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let out = std::process::Command::new(format!("{root}/target/mcp-venv/bin/python"))
        .arg(format!("{root}/tests/mcp/gateway_client.py"))
        .args(args)
        .env("MCP_TOKEN", token)
        .env_remove("PORTALCTL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gateway_client.py {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}
