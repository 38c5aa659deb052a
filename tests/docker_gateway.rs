#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The MCP gateway end to end: `portalctl serve --listen` on the real Docker Engine, with
//! the official MCP Python SDK (tests/mcp/gateway_client.py, in the venv that
//! scripts/mcp-venv.sh makes) as the client, through both protocol generations, to a
//! stdio and an HTTP server (mcp-echo both ways), and over stdio through `portalctl
//! connect`, with what `portalctl mcp-config` prints.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::docker::{docker, DockerEnv};
use serde_json::{json, Value};

const CATALOG: &str = r#"
name: gw
servers:
  - id: web
    image: mcp-echo:latest
    transport: streamable-http
    port: 8080
    resources: {memory: 32m, cpus: 0.25}
  - id: cli
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    user_configurable: true
  - id: old
    image: mcp-echo:latest
    transport: sse
    port: 8080
    resources: {memory: 32m, cpus: 0.25}
"#;

/// Both protocol generations, as the SDK names them.
const MODES: [&str; 2] = ["legacy", "2026-07-28"];

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

/// A `portalctl serve --listen` child, stopped by its own pid when the test ends.
struct Gateway {
    d: DockerEnv,
    child: Child,
    url: String,
    admin: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    fn start(name: &str, slot: u16, users: &[(&str, &[&str])]) -> Self {
        let mut d = DockerEnv::new(name, slot);
        for (k, v) in [
            ("MCP_PORTAL_MCP_SESSION_IDLE_SECS", "3"),
            ("MCP_PORTAL_RESTART_BACKOFF_MS", "200"),
            ("MCP_PORTAL_RESYNC_SECS", "1"),
            ("MCP_PORTAL_DEBOUNCE_MS", "50"),
        ] {
            d.vars.push((k.into(), v.into()));
        }
        let catalog = d.env.file("gw.yaml", CATALOG);
        d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
        d.ok(&["user", "add", "gw-admin", "--role", "admin"]);
        let admin = d.ok(&["token", "create", "--user", "gw-admin", "--role", "admin"]);
        for (user, servers) in users {
            d.ok(&["user", "add", user]);
            for server in *servers {
                let marker = format!("ONLY_{}=1", user.replace('-', "_").to_uppercase());
                let mut args = vec!["enable", server, "--user", user];
                if *server == "cli" {
                    args.extend(["--env", &marker]);
                }
                d.ok(&args);
            }
        }
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
        let g = Self {
            d,
            child,
            url: format!("http://127.0.0.1:{port}"),
            admin: admin.trim().to_string(),
        };
        g.eventually("portalctl serve answers", || {
            ureq::get(&format!("{}/healthz", g.url)).call().is_ok()
        });
        g
    }

    fn token(&self, user: &str, scope: &str) -> String {
        let out = self
            .d
            .ok(&["token", "create", "--user", user, "--scope", scope]);
        out.trim().to_string()
    }

    /// The SDK client's subcommand, to its end; what it printed last.
    fn sdk(&self, token: &str, args: &[&str]) -> Value {
        let out = self.client(token, args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "gateway_client.py {args:?} failed:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
    }

    fn client(&self, token: &str, args: &[&str]) -> Command {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/gateway_client.py");
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .args(args)
            .env("MCP_TOKEN", token)
            .env_remove("PORTALCTL");
        cmd
    }

    /// Like `sdk`, but over stdio through `portalctl connect`, as a stdio-only client runs.
    fn sdk_via_connect(&self, token: &str, args: &[&str]) -> Value {
        let out = self
            .client(token, args)
            .env("PORTALCTL", env!("CARGO_BIN_EXE_portalctl"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "gateway_client.py {args:?} over portalctl connect failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
    }

    /// A long call in a child process, returned once the server reported progress.
    fn hold(&self, token: &str, mode: &str, ms: u64) -> (Child, BufReader<ChildStdout>) {
        let url = format!("{}/mcp/cli", self.url);
        let mut child = self
            .client(token, &["hold", &url, mode, &ms.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        assert_eq!(next_line(&mut lines), json!({"started": true}));
        (child, lines)
    }

    fn stats(&self) -> Value {
        let mut res = ureq::get(&format!("{}/api/v1/admin/gateway", self.url))
            .header("Authorization", &format!("Bearer {}", self.admin))
            .call()
            .unwrap();
        res.body_mut().read_json().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.d.env.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn eventually(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for: {what}\n{}", self.log());
    }
}

fn next_line(lines: &mut BufReader<ChildStdout>) -> Value {
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

/// A raw POST, for what the SDK hides: its status, one header of the answer, and its
/// JSON body (`null` when it has none).
fn raw_post(
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
    want: &str,
) -> (u16, Option<String>, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent
        .post(url)
        .header("Accept", "application/json, text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut res = req.send_json(body).unwrap();
    let header = res
        .headers()
        .get(want)
        .map(|v| v.to_str().unwrap().to_string());
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        header,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// A POST's status and its `WWW-Authenticate` challenge.
fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Option<String>) {
    let (status, challenge, _) = raw_post(url, headers, body, "www-authenticate");
    (status, challenge)
}

/// A POST's status, session id and JSON body.
fn exchange(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Option<String>, Value) {
    raw_post(url, headers, body, "mcp-session-id")
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
}

#[test]
fn one_url_serves_each_users_servers_aggregated_and_alone_in_both_generations() {
    let g = Gateway::start(
        "gwagg",
        24,
        &[("gw-a", &["web", "cli", "old"]), ("gw-b", &["cli"])],
    );
    let a = g.token("gw-a", "mcp");
    let b = g.token("gw-b", "mcp");
    let all = format!("{}/mcp", g.url);

    for mode in MODES {
        // Aggregation: every server's tools, named <server>__<tool>, each call routed,
        // the old SSE transport's (2024-11-05) too.
        let seen = g.sdk(&a, &["aggregate", &all, mode]);
        let tools: Vec<&str> = seen["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        for server in ["cli", "old", "web"] {
            for tool in ["echo", "env_names", "sleep", "changed"] {
                let name = format!("{server}__{tool}");
                assert!(
                    tools.contains(&name.as_str()),
                    "{mode}: {name} in {tools:?}"
                );
            }
        }
        assert_eq!(tools.len(), 12, "{mode}: {tools:?}");
        assert_eq!(seen["calls"]["cli__echo"], "via cli__echo", "{mode}");
        assert_eq!(seen["calls"]["old__echo"], "via old__echo", "{mode}");
        assert_eq!(seen["calls"]["web__echo"], "via web__echo", "{mode}");
        let expected = if mode == "legacy" { "2025-11-25" } else { mode };
        assert_eq!(seen["protocol"], expected);

        // One server alone, unprefixed; the HTTP one too.
        let web = g.sdk(&a, &["aggregate", &format!("{all}/web"), mode]);
        assert_eq!(seen_tools(&web), ["changed", "echo", "env_names", "sleep"]);
        assert_eq!(web["calls"]["echo"], "via echo");

        // The user comes from the token: gw-b sees only gw-b's one server, and its own
        // container (gw-a's carries ONLY_GW_A).
        let theirs = g.sdk(&b, &["aggregate", &all, mode]);
        assert!(
            seen_tools(&theirs).iter().all(|t| t.starts_with("cli__")),
            "{theirs}"
        );
        let env = g.sdk(
            &b,
            &["call", &format!("{all}/cli"), mode, "env_names", "{}"],
        );
        let names = env["text"].as_str().unwrap();
        assert!(names.contains("ONLY_GW_B") && !names.contains("ONLY_GW_A"));
        let web_of_a = g.sdk(&b, &["call", &format!("{all}/web"), mode, "echo", "{}"]);
        assert!(
            web_of_a.get("text").is_none(),
            "gw-b reached web: {web_of_a}"
        );
    }

    // 20 sessions at once on one stdio server, over its one attachment: each gets its
    // own answers and its own progress.
    for mode in MODES {
        let before = g.stats();
        let many = g.sdk(&a, &["concurrent", &format!("{all}/cli"), mode, "20"]);
        assert_eq!(many["ok"], 20, "{mode}: {many}");
        assert_eq!(many["errors"], json!([]), "{mode}");
        g.eventually("the sessions end with their clients", || {
            g.stats()["sessions"] == before["sessions"]
        });
    }
    let attached = docker(&["inspect", "mcp-gw-a.cli", "--format", "{{.State.Running}}"]);
    assert_eq!(attached.stdout, "true");
}

fn entry_url(config: &Value) -> &str {
    config["mcpServers"]["mcp-portal"]["url"].as_str().unwrap()
}

fn seen_tools(v: &Value) -> Vec<&str> {
    v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

#[test]
fn what_mcp_config_prints_works_as_pasted_and_tokens_scopes_hosts_and_origins_are_checked() {
    let g = Gateway::start("gwauth", 25, &[("gw-c", &["cli"])]);
    let mcp = g.token("gw-c", "mcp");
    let api = g.token("gw-c", "api");
    let url = format!("{}/mcp", g.url);
    let bearer = |t: &str| format!("Bearer {t}");

    let (code, challenge) = post(&url, &[], &initialize());
    assert_eq!(code, 401);
    assert!(challenge.unwrap().starts_with("Bearer"));
    let (code, challenge) = post(
        &url,
        &[("Authorization", "Bearer mcpp_nope")],
        &initialize(),
    );
    assert_eq!((code, challenge.is_some()), (401, true));

    // Both scopes reach /mcp; an mcp token reaches nothing else.
    assert_eq!(
        post(&url, &[("Authorization", &bearer(&mcp))], &initialize()).0,
        200
    );
    assert_eq!(
        post(&url, &[("Authorization", &bearer(&api))], &initialize()).0,
        200
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status = |t: &str| {
        agent
            .get(&format!("{}/api/v1/users/gw-c/status", g.url))
            .header("Authorization", &bearer(t))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status(&mcp), 403);
    assert_eq!(status(&api), 200);

    // A page of another site, and a Host this portal does not answer to.
    let auth = bearer(&mcp);
    let foreign = [
        ("Authorization", auth.as_str()),
        ("Origin", "https://evil.example"),
    ];
    assert_eq!(post(&url, &foreign, &initialize()).0, 403);
    let own = [
        ("Authorization", auth.as_str()),
        ("Origin", "http://localhost"),
    ];
    assert_eq!(post(&url, &own, &initialize()).0, 200);
    let rebound = [
        ("Authorization", auth.as_str()),
        ("Host", "attacker.example"),
    ];
    assert_eq!(post(&url, &rebound, &initialize()).0, 421);

    // What `mcp-config` prints is what a client needs: pasted as it is (the token put in
    // for its placeholder), the SDK reaches the user's servers with it.
    let cursor: Value = serde_json::from_str(&g.d.ok(&[
        "mcp-config",
        "--user",
        "gw-c",
        "--client",
        "cursor",
        "--url",
        &g.url,
    ]))
    .unwrap();
    let entry = &cursor["mcpServers"]["mcp-portal"];
    assert_eq!(entry["url"], url.as_str());
    let header = entry["headers"]["Authorization"].as_str().unwrap();
    assert!(
        header.starts_with("Bearer <token from: portalctl token create --user gw-c --scope mcp>")
    );
    let desktop: Value = serde_json::from_str(&g.d.ok(&[
        "mcp-config",
        "--user",
        "gw-c",
        "--client",
        "claude-desktop",
        "--url",
        &g.url,
    ]))
    .unwrap();
    let entry = &desktop["mcpServers"]["mcp-portal"];
    assert_eq!(entry["command"], "portalctl");
    assert_eq!(entry["args"], json!(["connect", "--remote", g.url]));
    assert!(entry["env"]["MCP_PORTAL_TOKEN"].is_string());
    for mode in MODES {
        let seen = g.sdk(&mcp, &["aggregate", entry_url(&cursor), mode]);
        assert_eq!(seen["calls"]["cli__echo"], "via cli__echo", "{mode}");
        let relayed = g.sdk_via_connect(&mcp, &["aggregate", &url, mode]);
        assert_eq!(relayed["calls"]["cli__echo"], "via cli__echo", "{mode}");
        assert_eq!(seen_tools(&relayed), seen_tools(&seen), "{mode}");
    }
    let generic = g.d.ok(&["mcp-config", "--user", "gw-c", "--url", &g.url]);
    assert!(generic.contains(&format!("URL:     {url}\n")), "{generic}");
    assert!(generic.contains("Servers: cli "), "{generic}");
    for bad in ["127.0.0.1:8080", "ftp://portal", "http://a b"] {
        let out = g.d.run(&["mcp-config", "--user", "gw-c", "--url", bad]);
        assert_eq!(out.code, 2, "--url {bad}: {}", out.stderr);
        assert!(
            out.stderr.contains("is not a portal address"),
            "{}",
            out.stderr
        );
    }
    let wrong =
        g.d.run(&["mcp-config", "--user", "gw-c", "--server", "web"]);
    assert_ne!(wrong.code, 0);
    assert!(
        wrong.stderr.contains("server web is not enabled for gw-c"),
        "{}",
        wrong.stderr
    );
    let refused = g.sdk_via_connect("mcpp_not-a-token", &["call", &url, "legacy", "echo", "{}"]);
    let why = refused["error"]["message"].as_str().unwrap();
    assert!(
        why.contains("HTTP 401") && why.contains("--scope mcp"),
        "{why}"
    );

    // A batch, which protocol 2025-03-26 alone has: its calls answered together.
    let mut old = initialize();
    old["params"]["protocolVersion"] = json!("2025-03-26");
    let (code, sid, _) = exchange(&url, &[("Authorization", &auth)], &old);
    assert_eq!(code, 200);
    let sid = sid.unwrap();
    let batch = json!([
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": "cli__echo", "arguments": {"text": "one"}}},
        {"jsonrpc": "2.0", "id": "b", "method": "tools/call", "params": {"name": "cli__echo", "arguments": {"text": "two"}}},
    ]);
    let in_session = [
        ("Authorization", auth.as_str()),
        ("Mcp-Session-Id", sid.as_str()),
    ];
    let (code, _, answers) = exchange(&url, &in_session, &batch);
    assert_eq!(code, 200, "{answers}");
    let texts: Vec<(&str, &str)> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap(),
                a["result"]["content"][0]["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(texts, [("a", "one"), ("b", "two")]);
    let (code, new_sid, _) = exchange(&url, &[("Authorization", &auth)], &initialize());
    let new_sid = new_sid.unwrap();
    let newer = [
        ("Authorization", auth.as_str()),
        ("Mcp-Session-Id", new_sid.as_str()),
    ];
    assert_eq!(code, 200);
    assert_eq!(
        exchange(&url, &newer, &batch).0,
        400,
        "no batches after 2025-03-26"
    );

    // A server the user does not have is not found, not reached.
    let none = g.sdk(
        &mcp,
        &["call", &format!("{url}/web"), "legacy", "echo", "{}"],
    );
    assert!(
        none["error"]["message"].as_str().unwrap().contains("web"),
        "{none}"
    );
    assert_eq!(
        g.sdk(
            &mcp,
            &[
                "call",
                &format!("{url}/cli"),
                "legacy",
                "echo",
                r#"{"text":"hi"}"#
            ]
        )["text"],
        "hi"
    );
}

#[test]
fn a_killed_server_fails_its_call_and_a_dropped_client_leaves_nothing_behind() {
    let g = Gateway::start("gwlife", 26, &[("gw-k", &["cli"])]);
    let token = g.token("gw-k", "mcp");
    let cli = format!("{}/mcp/cli", g.url);
    let echo = |mode: &str, text: &str| {
        let args = json!({"text": text}).to_string();
        g.sdk(&token, &["call", &cli, mode, "echo", &args])
    };
    assert_eq!(echo("legacy", "first")["text"], "first");
    let containers = g.d.containers();

    // The server dies mid-call: that call fails, naming the server, without waiting out
    // the request timeout; once the daemon has restarted it, calls work again.
    let (mut child, mut lines) = g.hold(&token, "legacy", 20_000);
    let killed = Instant::now();
    docker(&["kill", "mcp-gw-k.cli"]);
    let failed = next_line(&mut lines);
    child.wait().unwrap();
    let message = failed["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cli"), "{failed}");
    assert!(killed.elapsed() < Duration::from_secs(15), "{failed}");
    g.eventually("the daemon restarts the server", || {
        g.d.inspect("mcp-gw-k.cli", "{{.State.Running}}") == "true"
    });
    for mode in MODES {
        assert_eq!(echo(mode, "again")["text"], "again", "{mode}\n{}", g.log());
    }

    // A client killed mid-call: its call is cancelled at once, its session ends when it
    // goes idle, and the attachment and containers are as they were.
    g.eventually("the earlier sessions end", || g.stats()["sessions"] == 0);
    let before = g.stats();
    assert_eq!(before["in_flight"], 0);
    for mode in MODES {
        let (mut child, _lines) = g.hold(&token, mode, 20_000);
        let during = g.stats();
        assert_eq!(during["in_flight"], 1, "{mode}: {during}");
        child.kill().unwrap();
        child.wait().unwrap();
        g.eventually("the call in flight is cancelled", || {
            g.stats()["in_flight"] == 0
        });
        g.eventually("the session is dropped", || {
            let now = g.stats();
            now["sessions"] == before["sessions"]
                && now["connections"].as_u64() <= before["connections"].as_u64()
        });
    }
    assert_eq!(g.d.containers(), containers);
    assert_eq!(echo("2026-07-28", "still")["text"], "still");

    // A session with its GET stream open is in use past the idle time, but it ends
    // with its token.
    let made: Value = serde_json::from_str(&g.d.ok(&[
        "token", "create", "--user", "gw-k", "--scope", "mcp", "--json",
    ]))
    .unwrap();
    let (id, secret) = (
        made["id"].as_str().unwrap(),
        made["token"].as_str().unwrap(),
    );
    let auth = format!("Bearer {secret}");
    let (code, sid, _) = exchange(&cli, &[("Authorization", &auth)], &initialize());
    assert_eq!(code, 200);
    let sid = sid.unwrap();
    let before = g.stats()["sessions"].as_u64().unwrap();
    let (url, auth2, sid2) = (cli.clone(), auth.clone(), sid.clone());
    let stream = std::thread::spawn(move || {
        let mut res = ureq::get(&url)
            .header("Authorization", &auth2)
            .header("Mcp-Session-Id", &sid2)
            .header("Accept", "text/event-stream")
            .call()
            .unwrap();
        // Returns when the portal ends the stream.
        let _ = res.body_mut().read_to_string();
    });
    std::thread::sleep(Duration::from_secs(5)); // past MCP_PORTAL_MCP_SESSION_IDLE_SECS=3
    assert_eq!(
        g.stats()["sessions"].as_u64().unwrap(),
        before,
        "a listening session was swept as idle"
    );
    g.d.ok(&["token", "revoke", id]);
    g.eventually("the revoked token's session ends", || {
        g.stats()["sessions"].as_u64().unwrap() < before
    });
    g.eventually("its stream ends", || stream.is_finished());
}
