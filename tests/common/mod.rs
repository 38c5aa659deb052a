//! Shared helpers for the binary-level tests: a fresh data folder per test and a
//! `portalctl` command bound to it, with no MCP_PORTAL_* variables leaking in.

#![allow(dead_code)]

pub mod api;
pub mod docker;
pub mod fake;
pub mod streams;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub struct Env {
    pub dir: TempDir,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The stdout of a `portalctl` run that had to succeed.
    pub fn expect_ok(self, args: &[&str]) -> String {
        assert_eq!(
            self.code, 0,
            "portalctl {args:?} failed:\n{}{}",
            self.stdout, self.stderr
        );
        self.stdout
    }
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes a fixture file next to the data folder and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("fixture folder");
        }
        std::fs::write(&path, text).expect("fixture file");
        path
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("portalctl").expect("portalctl is built");
        for (k, _) in std::env::vars() {
            if k.starts_with("MCP_PORTAL_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("--data-dir").arg(self.data());
        cmd.current_dir(self.dir.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.cmd();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("portalctl runs");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).expect_ok(args)
    }

    pub fn path(&self, p: &Path) -> String {
        p.display().to_string()
    }
}

/// A port nothing listens on now, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// Replaces RFC 3339 times and 12-digit hashes with same-width stand-ins, so tables
/// compare exactly.
pub fn normalize(text: &str) -> String {
    let times = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").expect("regex");
    let text = times.replace_all(text, "YYYY-MM-DDTHH:MM:SSZ");
    let sha = regex::Regex::new(r"\b[0-9a-f]{12}\b").expect("regex");
    sha.replace_all(&text, "xxxxxxxxxxxx").into_owned()
}

pub const TEAM: &str = r#"
version: "1.0.0"
name: team
servers:
  - id: echo-http
    image: mcp-echo
    category: demo
    transport: streamable-http
    port: 8080
    env: {LOG_LEVEL: info}
    resources: {memory: 64m}
  - id: admin-tools
    image: mcp-echo
    category: demo
    visibility: {roles: [admin]}
"#;

pub const DOCKER: &str = r#"
version: 2
name: docker-mcp
registry:
  github:
    title: GitHub
    image: ghcr.io/github/github-mcp-server
    secrets:
      - {name: github.personal_access_token, env: GITHUB_PERSONAL_ACCESS_TOKEN}
    metadata: {category: devops}
  notion:
    type: remote
    remote: {url: "https://mcp.notion.com/mcp"}
"#;

pub const DEV: &str = r#"
servers:
  - id: echo-http
    tag: dev
    env: {LOG_LEVEL: debug}
"#;
