//! Real-Docker test fixtures: each test gets its own instance label, users, port range and
//! subnet pool, and removes everything carrying its label when it ends, even on failure.

use std::process::Command;
use std::sync::OnceLock;

use super::{Env, Out};

/// Builds the mcp-echo image once per test binary.
pub fn echo_image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-images.sh");
        let out = Command::new("bash")
            .arg(script)
            .env("ECHO_ONLY", "1")
            .output()
            .expect("run build-images.sh");
        assert!(
            out.status.success(),
            "building mcp-echo failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Runs a command on a thread and hands back its exit code.
pub trait OutputAsync {
    fn output_async(self) -> std::thread::JoinHandle<i32>;
}

impl OutputAsync for Command {
    fn output_async(mut self) -> std::thread::JoinHandle<i32> {
        std::thread::spawn(move || {
            let out = self.output().expect("portalctl runs");
            if !out.status.success() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            }
            out.status.code().unwrap_or(-1)
        })
    }
}

/// Where a test instance's secret files live: on the machine's tmpfs, apart from any
/// real portal's `/dev/shm/mcp-portal` (issue 12: tests left folders there).
pub fn secrets_tmpfs(instance: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/dev/shm/mcp-portal-test-{instance}"))
}

pub fn docker(args: &[&str]) -> Out {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

/// Names of objects of one kind carrying a label.
pub fn labelled(kind: &str, label: &str) -> Vec<String> {
    let filter = format!("label={label}");
    let out = match kind {
        "container" => docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]),
        "network" => docker(&[
            "network",
            "ls",
            "--filter",
            &filter,
            "--format",
            "{{.Name}}",
        ]),
        _ => docker(&["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"]),
    };
    let mut names: Vec<String> = out
        .stdout
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    names.sort();
    names
}

pub struct DockerEnv {
    pub env: Env,
    pub instance: String,
    pub vars: Vec<(String, String)>,
    pub port_start: u16,
}

impl DockerEnv {
    /// `slot` (0..60) keeps tests apart: ports 30000+slot*500.., subnets 10.(210+slot).0.0/16
    /// for slots below 46, 10.(100+slot).0.0/16 from 46 on
    /// (clear of the default pool 10.201.0.0/16 a demo may be using).
    pub fn new(name: &str, slot: u16) -> Self {
        echo_image();
        let instance = format!("t-{name}-{}", std::process::id());
        let port_start = 30000 + slot * 500;
        let vars = vec![
            ("MCP_PORTAL_INSTANCE".to_string(), instance.clone()),
            (
                "MCP_PORTAL_PORT_RANGE_START".to_string(),
                port_start.to_string(),
            ),
            (
                "MCP_PORTAL_PORT_RANGE_END".to_string(),
                (port_start + 499).to_string(),
            ),
            ("MCP_PORTAL_PORTS_PER_USER".to_string(), "20".to_string()),
            (
                "MCP_PORTAL_USER_NETWORK_SUBNET_BASE".to_string(),
                format!(
                    "10.{}.0.0/16",
                    if slot < 46 { 210 + slot } else { 100 + slot }
                ),
            ),
            (
                "MCP_PORTAL_USER_NETWORK_SUBNET_SIZE".to_string(),
                "24".to_string(),
            ),
            ("MCP_PORTAL_STOP_TIMEOUT".to_string(), "2".to_string()),
            // Each test's secret files in a tmpfs folder of its own, removed with the rest.
            (
                "MCP_PORTAL_SECRETS_TMPFS".to_string(),
                secrets_tmpfs(&instance).display().to_string(),
            ),
        ];
        let d = Self {
            env: Env::new(),
            instance,
            vars,
            port_start,
        };
        d.clean();
        d
    }

    /// Like `new`, but with MCP_PORTAL_INSTANCE unset, as a user runs it: the data folder
    /// picks its own instance id, read back here (so cleanup still goes by label).
    pub fn own_instance(name: &str, slot: u16) -> Self {
        let mut d = Self::new(name, slot);
        d.vars.retain(|(k, _)| k != "MCP_PORTAL_INSTANCE");
        d.ok(&["user", "ls"]);
        let recorded = std::fs::read_to_string(d.env.data().join("instance")).unwrap();
        d.instance = recorded.trim().to_string();
        d
    }

    pub fn label(&self) -> String {
        format!("io.mcp-portal.instance={}", self.instance)
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Out {
        let mut vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        vars.extend_from_slice(extra);
        self.env.run_with(args, &vars)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).expect_ok(args)
    }

    /// A `portalctl` process with this test's environment, for running many at once.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("portalctl"));
        for (k, _) in std::env::vars() {
            if k.starts_with("MCP_PORTAL_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("--data-dir")
            .arg(self.env.data())
            .args(args)
            .envs(self.vars.iter().cloned());
        cmd
    }

    pub fn containers(&self) -> Vec<String> {
        labelled("container", &self.label())
    }

    pub fn networks(&self) -> Vec<String> {
        labelled("network", &self.label())
    }

    pub fn clean(&self) {
        let label = self.label();
        let containers = labelled("container", &label);
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(containers.iter().map(String::as_str));
            docker(&args);
        }
        for n in labelled("network", &label) {
            docker(&["network", "rm", &n]);
        }
        for v in labelled("volume", &label) {
            docker(&["volume", "rm", "-f", &v]);
        }
        if let Some((_, dir)) = self
            .vars
            .iter()
            .find(|(k, _)| k == "MCP_PORTAL_SECRETS_TMPFS")
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    pub fn inspect(&self, name: &str, format: &str) -> String {
        let out = docker(&["inspect", name, "--format", format]);
        assert_eq!(out.code, 0, "docker inspect {name}: {}", out.stderr);
        out.stdout
    }
}

/// A `DockerEnv` with `ECHO_CATALOG` uploaded and `users` added.
pub fn with_echo_catalog(name: &str, slot: u16, users: &[&str]) -> DockerEnv {
    let d = DockerEnv::new(name, slot);
    let catalog = d.env.file("catalog.yaml", ECHO_CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    for u in users {
        d.ok(&["user", "add", u]);
    }
    d
}

/// What the MCP server published on the host's `port` answers to a `tools/call` of
/// `echo` with `text`: the whole HTTP reply.
pub fn call_echo(port: u16, text: &str) -> String {
    use std::io::{Read, Write};
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{text}"}}}}}}"#
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    reply
}

impl Drop for DockerEnv {
    fn drop(&mut self) {
        self.clean();
    }
}

/// The catalog the container tests enable from (mcp-echo only: no registry needed).
pub const ECHO_CATALOG: &str = r#"
name: test
version: "1"
servers:
  - id: web
    image: mcp-echo:latest
    transport: streamable-http
    port: 8080
    resources: {memory: 64m, cpus: 0.25, pids: 32}
    volumes: ["{USER_DATA}/web:/data", "notes:/notes"]
    user_configurable: true
  - id: cli
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
  - id: tz
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    env: {TZ_NAME: "{{tz.timezone}}"}
    parameters: {timezone: {required: true}}
  - id: crash
    image: mcp-echo:latest
    transport: streamable-http
    port: 8080
    command: [exit, "3"]
  - id: missing
    image: mcp-portal-test/never-built:none
  - id: b-cli
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
"#;
