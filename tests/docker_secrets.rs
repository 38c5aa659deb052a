#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Secrets injected into real containers: the variable or file holds the value, nothing
//! else does (labels, data folder, status), a missing secret is refused with the fix, and
//! a changed secret recreates the container.

mod common;

use common::docker::{docker, DockerEnv};

const CATALOG: &str = r#"
name: sec
servers:
  - id: gh
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    secrets:
      - {name: gh.token, env: GH_TOKEN}
      - {name: gh.org, env: GH_ORG}
  - id: ghfile
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    secrets:
      - {name: gh.token, env: GH_TOKEN, file: true}
"#;

const VALUE: &str = "ghp_DockerSecret456";

/// Each test has its own user: container and network names are per user, on one engine.
fn setup(name: &str, slot: u16) -> (DockerEnv, String) {
    let d = DockerEnv::new(name, slot);
    let cat = d.env.file("sec.yaml", CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&cat)]);
    let user = format!("{name}-a");
    d.ok(&["user", "add", &user]);
    (d, user)
}

fn set(d: &DockerEnv, user: &str, name: &str, value: &str) {
    let out = d
        .command(&["secret", "set", name, "--user", user, "--value", value])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_missing_secret_is_refused_with_the_commands_that_set_it() {
    let (d, u) = setup("secmiss", 10);
    set(&d, &u, "gh.org", "acme");
    let out = d.run(&["enable", "gh", "--user", &u]);
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        format!("error: server gh needs secrets that user {u} has not set; set them with:\n  portalctl secret set gh.token --user {u}\n")
    );
    assert!(d.containers().is_empty());
    assert!(d.networks().is_empty());
}

#[test]
fn secrets_reach_the_container_and_nowhere_else() {
    let (d, u) = setup("secenv", 11);
    set(&d, &u, "gh.token", VALUE);
    set(&d, &u, "gh.org", "acme");
    d.ok(&["enable", "gh", "--user", &u]);
    let name = &format!("mcp-{u}.gh");
    assert_eq!(
        docker(&["exec", name, "/mcp-echo", "getenv", "GH_TOKEN"]).stdout,
        VALUE
    );
    assert_eq!(
        docker(&["exec", name, "/mcp-echo", "getenv", "GH_ORG"]).stdout,
        "acme"
    );
    let labels = d.inspect(name, "{{json .Config.Labels}}");
    assert!(!labels.contains(VALUE), "{labels}");
    let status = d.ok(&["status", "--json"]);
    assert!(!status.contains(VALUE));
    for f in files_under(&d.env.data()) {
        assert!(
            !String::from_utf8_lossy(&std::fs::read(&f).unwrap()).contains(VALUE),
            "{} holds the plaintext",
            f.display()
        );
    }

    // A changed secret recreates the container with the new value.
    let id = d.inspect(name, "{{.Id}}");
    assert!(d
        .ok(&["enable", "gh", "--user", &u])
        .starts_with("already running, unchanged"));
    set(&d, &u, "gh.token", "ghp_Rotated789");
    let out = d.ok(&["enable", "gh", "--user", &u]);
    assert!(out.starts_with("recreated"), "{out}");
    assert_ne!(d.inspect(name, "{{.Id}}"), id);
    assert_eq!(
        docker(&["exec", name, "/mcp-echo", "getenv", "GH_TOKEN"]).stdout,
        "ghp_Rotated789"
    );
}

#[test]
fn a_secret_can_arrive_as_a_read_only_file_on_tmpfs() {
    let (d, u) = setup("secfile", 12);
    set(&d, &u, "gh.token", VALUE);
    d.ok(&["enable", "ghfile", "--user", &u]);
    let name = &format!("mcp-{u}.ghfile");
    assert_eq!(
        docker(&["exec", name, "/mcp-echo", "cat", "/run/secrets/GH_TOKEN"]).stdout,
        VALUE
    );
    assert_eq!(
        docker(&["exec", name, "/mcp-echo", "getenv", "GH_TOKEN_FILE"]).stdout,
        "/run/secrets/GH_TOKEN"
    );
    assert_eq!(
        docker(&["exec", name, "/mcp-echo", "getenv", "GH_TOKEN"]).code,
        1,
        "the file replaces the variable"
    );
    let mounts = d.inspect(name, "{{range .Mounts}}{{if eq .Destination \"/run/secrets/GH_TOKEN\"}}{{.Source}} {{.RW}}{{end}}{{end}}");
    let (source, rw) = mounts.split_once(' ').unwrap();
    assert_eq!(rw, "false");
    let fs_type = std::process::Command::new("stat")
        .args(["-f", "-c", "%T", source])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fs_type.stdout).trim(),
        "tmpfs",
        "{source} is not on a tmpfs"
    );
    d.ok(&["disable", "ghfile", "--user", &u]);
    assert!(
        !std::path::Path::new(source).exists(),
        "disable removes the secret file"
    );
    let folder = common::docker::secrets_tmpfs(&d.instance);
    assert!(
        source.starts_with(&folder.display().to_string()),
        "{source}"
    );
    drop(d);
    assert!(!folder.exists(), "the test leaves no folder on the tmpfs");
}
