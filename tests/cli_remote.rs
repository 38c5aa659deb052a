#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! One command path (issue 9): the same commands run on a local data folder and with
//! `--remote` against `portalctl serve --listen` print the same bytes and exit with the
//! same code, and a failure has the same class through the CLI, the API and `--remote`.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{normalize, Env, Out, DEV, DOCKER, TEAM};
use mcp_portal::error::ErrorClass;

/// A `portalctl serve --listen` child, stopped by its own pid when the test ends.
struct Served {
    child: Child,
    url: String,
    admin: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The settings both data folders run under: their own instance, ports and subnets.
fn vars(tag: &str) -> Vec<(String, String)> {
    vec![
        (
            "MCP_PORTAL_INSTANCE".into(),
            format!("t-remote-{tag}-{}", std::process::id()),
        ),
        ("MCP_PORTAL_PORT_RANGE_START".into(), "38500".into()),
        ("MCP_PORTAL_PORT_RANGE_END".into(), "38999".into()),
        (
            "MCP_PORTAL_USER_NETWORK_SUBNET_BASE".into(),
            "10.231.0.0/16".into(),
        ),
    ]
}

fn run(env: &Env, tag: &str, args: &[&str]) -> Out {
    let v = vars(tag);
    let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.run_with(args, &pairs)
}

fn serve(env: &Env) -> Served {
    run(env, "b", &["user", "add", "admin", "--role", "admin"]).expect_ok(&["user add"]);
    let admin = run(
        env,
        "b",
        &["token", "create", "--user", "admin", "--role", "admin"],
    )
    .expect_ok(&["token create"])
    .trim()
    .to_string();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portalctl"));
    for (k, _) in std::env::vars() {
        if k.starts_with("MCP_PORTAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(vars("b"))
        .arg("--data-dir")
        .arg(env.data())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let served = Served {
        child: cmd.spawn().unwrap(),
        url: format!("http://127.0.0.1:{port}"),
        admin,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{}/healthz", served.url))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "portalctl serve did not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
    served
}

fn write(env: &Env, files: &[(&str, &str)]) {
    for (name, text) in files {
        env.file(name, text);
    }
}

const FILES: &[(&str, &str)] = &[
    ("team.yaml", TEAM),
    ("docker.yaml", DOCKER),
    ("dev.yaml", DEV),
    (
        "bad.yaml",
        "name: bad\nservers:\n  - {id: x, image: 'Bad Image'}\n",
    ),
    (
        "my.yaml",
        "id: mine\nimage: mcp-echo\ncategory: demo\ntransport: stdio\n",
    ),
    (
        "reg/servers/echo/server.yaml",
        "name: echo\nimage: mcp/echo\ntype: server\nmeta: {category: demo}\nabout: {title: Echo}\n",
    ),
];

/// Commands in order, successes and failures alike: every concern of the CLI once.
const COMMANDS: &[&[&str]] = &[
    &["catalog", "upload", "team.yaml"],
    &["catalog", "upload", "docker.yaml", "--json"],
    &["catalog", "upload", "team.yaml"],
    &["catalog", "upload", "bad.yaml"],
    &["catalog", "upload", "bad.yaml", "--json"],
    &["catalog", "ls"],
    &["catalog", "history", "team"],
    &["catalog", "history", "nope"],
    &["catalog", "rollback", "team"],
    &["catalog", "validate", "team.yaml"],
    &["catalog", "validate", "team.yaml", "--json"],
    &["catalog", "validate", "bad.yaml"],
    &["catalog", "validate", "reg"],
    &["catalog", "import", "reg", "--name", "reg"],
    &["overlay", "upload", "dev.yaml", "--name", "dev"],
    &["overlay", "ls"],
    &["user", "add", "u1", "--role", "developer"],
    &["user", "add", "u1"],
    &["user", "ls"],
    &["user", "limits", "u1", "--max-containers", "3"],
    &["user", "limits", "u1", "--json"],
    &["custom", "add", "my.yaml", "--user", "u1"],
    &["custom", "ls", "--user", "u1"],
    &["servers", "--user", "u1"],
    &["servers", "--user", "u1", "--category", "DEMO"],
    &["servers", "--user", "u1", "--json"],
    &["servers", "--user", "nobody"],
    &["servers", "--user", "nobody", "--json"],
    &[
        "secret", "set", "gh.token", "--user", "u1", "--value", "v-123",
    ],
    &["secret", "ls", "--user", "u1"],
    &["secret", "rm", "nope", "--user", "u1"],
    &["catalog", "regenerate", "--all"],
    &["catalog", "regenerate", "--user", "u1", "--json"],
    &["status", "--user", "u1"],
    &["disable", "mine", "--user", "u1"],
    &[
        "secret",
        "set",
        "x.token",
        "--user",
        "u1",
        "--value",
        "v",
        "--expires",
        "2001-01-01T00:00:00Z",
    ],
    &["custom", "rm", "mine", "--user", "u1"],
    &["secret", "rm", "gh.token", "--user", "u1"],
    &["overlay", "rm", "dev"],
    &["catalog", "rm", "reg", "--json"],
    &["user", "rm", "u1"],
    &["user", "ls"],
];

#[test]
fn every_command_prints_the_same_bytes_locally_and_with_remote() {
    let (local, remote) = (Env::new(), Env::new());
    write(&local, FILES);
    write(&remote, FILES);
    run(&local, "a", &["user", "add", "admin", "--role", "admin"]).expect_ok(&["user add"]);
    let served = serve(&remote);
    let mut codes = Vec::new();
    for args in COMMANDS {
        let here = run(&local, "a", args);
        let mut via: Vec<&str> = vec!["--remote", &served.url, "--token", &served.admin];
        via.extend_from_slice(args);
        let there = run(&remote, "b", &via);
        assert_eq!(
            (here.code, normalize(&here.stdout), normalize(&here.stderr)),
            (
                there.code,
                normalize(&there.stdout),
                normalize(&there.stderr)
            ),
            "portalctl {args:?}: local (left) and --remote (right) differ"
        );
        codes.push(here.code);
    }
    // The list covers every class a command here can end in.
    for code in [0, 2, 3, 4, 5] {
        assert!(codes.contains(&code), "no command exited {code}: {codes:?}");
    }
}

/// One failure of each class, and the request that makes it through the API.
fn api_failures() -> Vec<(
    ErrorClass,
    Vec<&'static str>,
    &'static str,
    &'static str,
    String,
)> {
    vec![
        (
            ErrorClass::NotFound,
            vec!["servers", "--user", "nobody"],
            "GET",
            "/api/v1/users/nobody/servers",
            String::new(),
        ),
        (
            ErrorClass::Conflict,
            vec!["user", "add", "admin"],
            "POST",
            "/api/v1/admin/users",
            r#"{"id": "admin"}"#.into(),
        ),
        (
            ErrorClass::Invalid,
            vec!["catalog", "upload", "bad.yaml"],
            "POST",
            "/api/v1/admin/catalogs?file=bad.yaml",
            FILES[3].1.into(),
        ),
        (
            ErrorClass::Usage,
            vec!["catalog", "upload", "team.yaml", "--name", "Bad Name"],
            "POST",
            "/api/v1/admin/catalogs?name=Bad%20Name",
            TEAM.into(),
        ),
    ]
}

#[test]
fn a_failure_has_one_class_through_the_cli_the_api_and_remote() {
    let (local, remote) = (Env::new(), Env::new());
    write(&local, FILES);
    write(&remote, FILES);
    run(&local, "a", &["user", "add", "admin", "--role", "admin"]).expect_ok(&["user add"]);
    let served = serve(&remote);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for (class, args, method, path, body) in api_failures() {
        let here = run(&local, "a", &args);
        assert_eq!(
            here.code,
            i32::from(class.exit_code()),
            "{args:?}: {}",
            here.stderr
        );
        let mut via: Vec<&str> = vec!["--remote", &served.url, "--token", &served.admin];
        via.extend_from_slice(&args);
        let there = run(&remote, "b", &via);
        assert_eq!(
            there.code, here.code,
            "{args:?} with --remote: {}",
            there.stderr
        );
        let url = format!("{}{path}", served.url);
        let auth = format!("Bearer {}", served.admin);
        let mut answer = match method {
            "GET" => agent.get(&url).header("Authorization", &auth).call(),
            _ => agent
                .post(&url)
                .header("Authorization", &auth)
                .send(body.as_bytes()),
        }
        .unwrap();
        assert_eq!(
            answer.status().as_u16(),
            class.http_status(),
            "{method} {path}"
        );
        let text = answer.body_mut().read_to_string().unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["error"]["code"],
            class.api_code(),
            "{method} {path}: {text}"
        );
    }
}
