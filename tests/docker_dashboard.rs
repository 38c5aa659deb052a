#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The web dashboard end to end: `portalctl serve --listen` on the real Docker Engine,
//! driven in a real headless Chromium (Debian's chromium and chromium-driver, through
//! selenium in the venv scripts/mcp-venv.sh makes) by tests/web/dashboard.py. A user signs
//! in, sees their servers, enables one and watches it turn running without a reload, and
//! reads its log; an admin uploads a catalog, sees the diff and rolls it back; another
//! user's pages are refused, a form without its CSRF token is refused, the buttons work
//! in a Chromium without JavaScript, and signing out or revoking the token ends the
//! session. Screenshots go to target/screenshots/.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::docker::DockerEnv;
use serde_json::Value;

const SECRET: &str = "ghp_dashboard_secret_5150";

const CATALOG: &str = r#"
name: dash
servers:
  - id: talky
    display_name: Talky echo
    image: mcp-echo:latest
    category: demo
    transport: streamable-http
    port: 8080
    resources: {memory: 32m, cpus: 0.25}
    env: {MCP_ECHO_LOG_ENV: "GH_TOKEN"}
    secrets: [{name: gh.token, env: GH_TOKEN}]
  - id: quiet
    image: mcp-echo:latest
    category: tools
    resources: {memory: 32m, cpus: 0.25}
    parameters:
      paths: {type: array, description: "folders to serve"}
"#;

/// Revision 2 of the catalog: one server more.
const CATALOG_2: &str = r#"
name: dash
servers:
  - id: talky
    image: mcp-echo:latest
    transport: streamable-http
    port: 8080
    resources: {memory: 32m, cpus: 0.25}
  - id: quiet
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
  - id: added-later
    image: mcp-echo:latest
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
            "scripts/mcp-venv.sh could not make the venv:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{root}/target/mcp-venv/bin/python")
    })
}

/// A `portalctl serve --listen` child, stopped by its own pid when the test ends (also
/// when it fails); the Docker objects go by label after it.
struct Portal {
    d: DockerEnv,
    child: Child,
    url: String,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Portal {
    fn start(name: &str, slot: u16) -> Self {
        let mut d = DockerEnv::new(name, slot);
        for (k, v) in [
            ("MCP_PORTAL_RESYNC_SECS", "1"),
            ("MCP_PORTAL_DEBOUNCE_MS", "50"),
        ] {
            d.vars.push((k.into(), v.into()));
        }
        let catalog = d.env.file("dash.yaml", CATALOG);
        d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
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
        let p = Self {
            d,
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while ureq::get(&format!("{}/healthz", p.url)).call().is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "portalctl serve does not answer:\n{}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn user(&self, id: &str) -> String {
        self.d.ok(&["user", "add", id]);
        self.d
            .ok(&["token", "create", "--user", id])
            .trim()
            .to_string()
    }

    fn admin(&self, id: &str) -> String {
        self.d.ok(&["user", "add", id, "--role", "admin"]);
        self.d
            .ok(&["token", "create", "--user", id, "--role", "admin"])
            .trim()
            .to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.d.env.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// One scenario of tests/web/dashboard.py in Chromium; what it saw.
    fn browse(&self, tokens: &[(&str, &str)], args: &[&str], stdin: &str) -> Value {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web/dashboard.py");
        let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots");
        let mut child = Command::new(python())
            .arg(script)
            .args(args)
            .env("PORTAL_URL", &self.url)
            .env("SCREENSHOTS", shots)
            .envs(tokens.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "dashboard.py {args:?} failed:\n{stdout}\n{}\n--- serve.log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
    }
}

#[test]
fn a_user_signs_in_enables_a_server_sees_it_running_reads_its_log_and_sets_a_list() {
    let p = Portal::start("dash-user", 46);
    let token = p.user("du-a");
    let seen = p.browse(
        &[("USER_TOKEN", &token)],
        &["user", "du-a", "talky", "quiet", SECRET],
        "",
    );
    assert_eq!(seen["servers"], serde_json::json!(["quiet", "talky"]));
    assert_eq!(seen["sources"]["talky"], "base");
    assert!(
        seen["notice"].as_str().unwrap().contains("talky enabled"),
        "{seen}"
    );
    let log: Vec<&str> = seen["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(log.contains(&"GH_TOKEN=****"), "{log:?}");
    // What the browser did, the portal did: the container runs.
    let status = p.d.ok(&["status", "--user", "du-a"]);
    for server in ["talky", "quiet"] {
        assert!(
            status
                .lines()
                .any(|l| l.contains(server) && l.contains("running")),
            "{status}"
        );
    }
}

#[test]
fn an_admin_uploads_a_catalog_sees_the_diff_and_rolls_it_back() {
    let p = Portal::start("dash-admin", 47);
    p.user("da-u");
    p.d.ok(&["enable", "quiet", "--user", "da-u"]);
    let admin = p.admin("da-admin");
    let seen = p.browse(
        &[("ADMIN_TOKEN", &admin)],
        &["admin", "dash", "da-u", "added-later"],
        CATALOG_2,
    );
    assert!(seen["diff"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().starts_with("- ") && l.as_str().unwrap().contains("demo")));
    // The rollback is the portal's: revision 1 is current again.
    let history = p.d.ok(&["catalog", "history", "dash", "--json"]);
    let history: Value = serde_json::from_str(&history).unwrap();
    let current: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["current"] == true)
        .map(|r| r["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(current, [1]);
}

#[test]
fn other_users_pages_forms_without_csrf_sign_out_and_revoked_tokens_are_refused() {
    let p = Portal::start("dash-sessions", 48);
    let token = p.user("ds-a");
    p.user("ds-b");
    let admin = p.admin("ds-admin");
    let seen = p.browse(
        &[("USER_TOKEN", &token), ("ADMIN_TOKEN", &admin)],
        &["sessions", "ds-a", "ds-b", "talky"],
        "",
    );
    assert!(seen["forbidden"].as_str().unwrap().starts_with("403"));
}
