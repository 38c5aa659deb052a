#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Idle shutdown and start on first call, end to end: `portalctl serve --listen` on the
//! real Docker Engine, with the official MCP Python SDK (tests/mcp/idle_client.py, in the
//! venv that scripts/mcp-venv.sh makes) as the client. A server with a short
//! `idle_timeout` stops, shows `idle`, is not restarted by the daemon, and the next call
//! starts it once; `enable --lazy` makes a container that the first call starts; a
//! server that cannot start answers an error naming it.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::docker::{docker, DockerEnv};
use serde_json::Value;

const CATALOG: &str = r#"
name: idle
servers:
  - id: nap
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    idle_timeout: 2s
  - id: web
    image: mcp-echo:latest
    transport: streamable-http
    port: 8080
    resources: {memory: 32m, cpus: 0.25}
    idle_timeout: 2s
  - id: later
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
  - id: broken
    image: mcp-echo:latest
    command: ["exit", "3"]
    resources: {memory: 32m, cpus: 0.25}
"#;

/// The venv's python, made once per test binary (a no-op when it is already there).
fn python() -> &'static str {
    static MADE: OnceLock<String> = OnceLock::new();
    MADE.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let out = Command::new("bash")
            .arg(format!("{root}/scripts/mcp-venv.sh"))
            .output()
            .expect("run scripts/mcp-venv.sh");
        assert!(
            out.status.success(),
            "scripts/mcp-venv.sh could not make the MCP Python SDK's venv:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{root}/target/mcp-venv/bin/python")
    })
}

/// A `portalctl serve --listen` child, stopped by its own pid when the test ends, also
/// when it fails; the test's containers go by label with the `DockerEnv`.
struct Serve {
    d: DockerEnv,
    child: Option<Child>,
    url: String,
    token: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.d.clean();
    }
}

impl Serve {
    /// The catalog uploaded, `user` added with a token, and `setup` run before the daemon.
    fn new(name: &str, slot: u16, user: &str, setup: impl FnOnce(&DockerEnv)) -> Self {
        let mut d = DockerEnv::new(name, slot);
        for (k, v) in [
            ("MCP_PORTAL_RESTART_BACKOFF_MS", "200"),
            ("MCP_PORTAL_RESYNC_SECS", "1"),
            ("MCP_PORTAL_DEBOUNCE_MS", "50"),
        ] {
            d.vars.push((k.into(), v.into()));
        }
        let catalog = d.env.file("idle.yaml", CATALOG);
        d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
        d.ok(&["user", "add", user]);
        let token = d.ok(&["token", "create", "--user", user, "--scope", "mcp"]);
        setup(&d);
        Self {
            d,
            child: None,
            url: String::new(),
            token: token.trim().to_string(),
        }
    }

    /// Stops the daemon (by its own pid) and starts it again.
    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.start();
    }

    fn start(&mut self) {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(self.d.env.dir.path().join("serve.log")).unwrap();
        let child = self
            .d
            .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.url = format!("http://127.0.0.1:{port}");
        let url = format!("{}/healthz", self.url);
        self.eventually("portalctl serve answers", || ureq::get(&url).call().is_ok());
    }

    /// The SDK client's subcommand, to its end; what it printed last.
    fn sdk(&self, args: &[&str]) -> Value {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/idle_client.py");
        let out = Command::new(python())
            .arg(script)
            .args(args)
            .env("MCP_TOKEN", &self.token)
            .env_remove("PORTALCTL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "idle_client.py {args:?} failed:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
    }

    /// `count` first calls of `tool` at once, each in its own session.
    fn calls(&self, path: &str, tool: &str, count: usize) -> Vec<Value> {
        let url = format!("{}{path}", self.url);
        let v = self.sdk(&["calls", &url, "legacy", tool, &count.to_string()]);
        v["results"].as_array().unwrap().clone()
    }

    /// The names of every tool at `path`, from one session.
    fn tools(&self, path: &str) -> Vec<String> {
        let url = format!("{}{path}", self.url);
        let v = self.sdk(&["tools", &url, "legacy"]);
        serde_json::from_value(v["tools"].clone()).unwrap()
    }

    /// The state `status` shows for a server.
    fn state(&self, server: &str) -> String {
        let rows: Vec<Value> = serde_json::from_str(&self.d.ok(&["status", "--json"])).unwrap();
        let row = rows
            .iter()
            .find(|r| r["server"] == server)
            .unwrap_or_else(|| panic!("no status row for {server}: {rows:?}"));
        row["state"].as_str().unwrap().to_string()
    }

    /// The audit entries of `action` about `server`.
    fn audited(&self, action: &str, server: &str) -> Vec<Value> {
        std::fs::read_to_string(self.d.env.data().join("audit/audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["action"] == action && e["resource"] == server)
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.d.env.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn eventually(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(40) {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("timed out waiting for: {what}\n{}", self.log());
    }
}

/// How many times Docker started `container` since `since` (a Unix time in seconds).
fn starts_since(container: &str, since: u64) -> usize {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let out = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        &format!("container={container}"),
        "--filter",
        "event=start",
        "--format",
        "{{.Action}}",
    ]);
    out.stdout.lines().filter(|l| l.trim() == "start").count()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn answered(results: &[Value]) -> Vec<String> {
    let mut texts: Vec<String> = results
        .iter()
        .map(|r| {
            assert_eq!(r["is_error"], false, "{r}");
            r["text"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_string()
        })
        .collect();
    texts.sort();
    texts
}

#[test]
fn an_idle_server_stops_stays_stopped_and_the_next_calls_start_it_once() {
    let user = "idl-a";
    let mut s = Serve::new("idle", 49, user, |d| {
        d.ok(&["enable", "nap", "--user", user]);
        d.ok(&["enable", "web", "--user", user]);
    });
    s.start();
    let nap = format!("mcp-{user}.nap");

    // Listed and used once, then left alone for its 2 s: stopped, the container kept.
    let listed = s.tools("/mcp");
    assert!(listed.contains(&"nap__echo".to_string()), "{listed:?}");
    let first = s.calls("/mcp", "nap__echo", 1);
    assert_eq!(answered(&first), ["call 0"]);
    s.eventually("nap shows idle", || s.state("nap") == "idle");
    assert_eq!(
        docker(&["inspect", &nap, "--format", "{{.State.Status}}"])
            .stdout
            .trim(),
        "exited"
    );
    s.eventually("web shows idle", || s.state("web") == "idle");

    // Listing everything does not start them: their last lists are served meanwhile.
    assert_eq!(s.tools("/mcp"), listed);
    assert_eq!(s.state("nap"), "idle");
    assert_eq!(s.state("web"), "idle");
    assert!(s.audited("mcp.server-start", "nap").is_empty());

    // Several passes later (one a second) it is still stopped: not restarted, not failed.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.state("nap"), "idle");
    let rows: Vec<Value> = serde_json::from_str(&s.d.ok(&["status", "--json"])).unwrap();
    let row = rows.iter().find(|r| r["server"] == "nap").unwrap();
    assert_eq!(row["restarts"], 0, "{row}");
    assert!(
        s.audited("reconcile.restart", "nap").is_empty(),
        "{}",
        s.log()
    );
    assert_eq!(s.audited("daemon.idle-stop", "nap").len(), 1, "{}", s.log());
    assert_eq!(s.audited("daemon.idle-stop", "nap")[0]["actor"], "daemon");

    // A daemon started again leaves it idle too.
    s.restart();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.state("nap"), "idle");
    assert!(
        s.audited("reconcile.restart", "nap").is_empty(),
        "{}",
        s.log()
    );

    // Two first calls at once: both answered, the server started once.
    let since = unix_now();
    let both = s.calls("/mcp", "nap__echo", 2);
    assert_eq!(answered(&both), ["call 0", "call 1"]);
    assert_eq!(s.state("nap"), "running");
    let started = s.audited("mcp.server-start", "nap");
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["actor"], format!("mcp:{user}"));
    assert_eq!(starts_since(&nap, since), 1);

    // An HTTP server too: started, and asked until it listens.
    let web = s.calls("/mcp/web", "echo", 1);
    assert_eq!(answered(&web), ["call 0"]);
    assert_eq!(s.audited("mcp.server-start", "web").len(), 1);

    // Idle again once the calls are over.
    s.eventually("nap idle again", || s.state("nap") == "idle");
    assert_eq!(s.audited("daemon.idle-stop", "nap").len(), 2);
}

#[test]
fn a_lazy_enable_makes_the_container_and_the_first_call_starts_it() {
    let user = "idl-b";
    let mut s = Serve::new("lazy", 50, user, |d| {
        let out = d.ok(&["enable", "later", "--user", user, "--lazy"]);
        let said = format!("registered (idle until its first MCP request) later for {user}");
        assert!(out.starts_with(&said), "{out}");
        // Again: still there, still not started.
        let out = d.ok(&["enable", "later", "--user", user, "--lazy"]);
        assert!(out.starts_with(&said), "{out}");
        d.ok(&["enable", "broken", "--user", user, "--lazy"]);
    });
    let later = format!("mcp-{user}.later");
    // Made, never started, before any daemon runs.
    assert_eq!(
        docker(&["inspect", &later, "--format", "{{.State.Status}}"])
            .stdout
            .trim(),
        "created"
    );
    assert_eq!(s.state("later"), "idle");
    assert_eq!(s.state("broken"), "idle");

    s.start();
    // The daemon leaves lazy servers alone too.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.state("later"), "idle");
    assert_eq!(s.state("broken"), "idle");

    let r = s.calls("/mcp", "later__echo", 1);
    assert_eq!(answered(&r), ["call 0"]);
    assert_eq!(s.state("later"), "running");
    // No idle timeout of its own and none by default: it keeps running.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.state("later"), "running");

    // A server that cannot start: an error that names it, soon, not a hang.
    let asked = Instant::now();
    let r = s.calls("/mcp/broken", "echo", 1);
    assert!(
        asked.elapsed() < Duration::from_secs(30),
        "{:?}",
        asked.elapsed()
    );
    let message = r[0]["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(
        message.contains("server broken of user idl-b could not be started"),
        "{message}"
    );
    assert!(message.contains("exit code 3"), "{message}");
    let tried = s.audited("mcp.server-start", "broken");
    assert!(
        !tried.is_empty() && tried.iter().all(|e| e["result"] != "ok"),
        "{tried:?}"
    );
}
