#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `allow_hosts` on the real Docker Engine. Two mcp-echo containers on the test's own
//! "outside" network stand for hosts on the internet (no test traffic leaves the
//! machine); a server allowed one of them reaches it through its egress proxy, by plain
//! HTTP and by a CONNECT tunnel, gets the proxy's refusal for the other, and cannot
//! connect to either directly. The server's tools are called over its published port
//! (relayed by the proxy), through the portal's MCP gateway with the official MCP Python
//! SDK as the client, and over a stdio attachment. A changed list, a removed proxy (the
//! daemon's pass), allow_hosts taken away and given back, and disable follow.

mod common;

use std::process::{Child, Command, Stdio};

use common::docker::{docker, DockerEnv};
use mcp_portal::engine::DockerEngine;
use mcp_portal::gateway::stdio::StdioUpstream;
use serde_json::{json, Value};

/// The tag this test builds its images under (`scripts/build-images.sh TAG`): other
/// checkouts on the same engine rebuild `:latest` from their own sources, which may lack
/// the egress tools.
const TAG: &str = "t-egress";

fn images() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-images.sh");
        let out = Command::new("bash")
            .args([script, TAG])
            .env("ECHO_ONLY", "1")
            .output()
            .expect("run build-images.sh");
        assert!(
            out.status.success(),
            "building the images failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Each test's own user: names of containers and networks hold no instance.
const USER: &str = "egress-u";
const STDIO_USER: &str = "egress-s";

/// The servers: one HTTP and one stdio, each allowed only outside-a's port 8080.
const CATALOG: &str = r#"
name: egress
version: "1"
servers:
  - id: fetcher
    image: mcp-echo:t-egress
    transport: streamable-http
    port: 8080
    resources: {memory: 32m, cpus: 0.25, pids: 32}
    env: {MCP_ECHO_EGRESS: "1"}
    allow_hosts: ["outside-a:8080"]
  - id: fetcher-cli
    image: mcp-echo:t-egress
    resources: {memory: 32m, cpus: 0.25, pids: 32}
    env: {MCP_ECHO_EGRESS: "1"}
    allow_hosts: ["outside-a:8080"]
"#;

/// A test's outside world: its own network with two hosts, all labelled with the
/// test's instance so that the clean-up by label removes them.
struct Outside {
    network: String,
}

impl Outside {
    fn new(d: &DockerEnv, subnet: &str) -> Self {
        let network = format!("{}-outside", d.instance);
        let label = d.label();
        let made = docker(&[
            "network", "create", "--subnet", subnet, "--label", &label, &network,
        ]);
        assert_eq!(made.code, 0, "outside network: {}", made.stderr);
        for host in ["outside-a", "outside-b"] {
            let name = format!("{}-{host}", d.instance);
            let ran = docker(&[
                "run",
                "-d",
                "--name",
                &name,
                "--label",
                &label,
                "--network",
                &network,
                "--network-alias",
                host,
                "--read-only",
                "-e",
                "MCP_TRANSPORT=streamable-http",
                "-e",
                &format!("MCP_ECHO_NAME={host}"),
                "mcp-echo:t-egress",
            ]);
            assert_eq!(ran.code, 0, "{host}: {}", ran.stderr);
        }
        Self { network }
    }

    fn ip(&self, d: &DockerEnv, host: &str) -> String {
        d.inspect(
            &format!("{}-{host}", d.instance),
            &format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                self.network
            ),
        )
    }
}

/// A test's portal with the catalog and the user, and its outside world. The two tests
/// run at once, so their users' subnets, internal networks and outside networks are
/// four disjoint ranges of slots 38 and 39.
fn setup(
    name: &str,
    slot: u16,
    user: &str,
    users: &str,
    internal: &str,
    outside: &str,
) -> (DockerEnv, Outside) {
    images();
    let mut d = DockerEnv::new(name, slot);
    let world = Outside::new(&d, outside);
    d.vars
        .retain(|(k, _)| k != "MCP_PORTAL_USER_NETWORK_SUBNET_BASE");
    for (k, v) in [
        ("MCP_PORTAL_USER_NETWORK_SUBNET_BASE", users),
        ("MCP_PORTAL_EGRESS_SUBNET_BASE", internal),
        ("MCP_PORTAL_EGRESS_NETWORK", world.network.as_str()),
        ("MCP_PORTAL_EGRESS_IMAGE", "mcp-egress-proxy:t-egress"),
    ] {
        d.vars.push((k.into(), v.into()));
    }
    let catalog = d.env.file("egress.yaml", CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    d.ok(&["user", "add", user]);
    (d, world)
}

/// The text a tool of the HTTP server answers, called on its published port.
fn tool(port: u16, name: &str, args: Value) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": args}});
    let reply = post_mcp(port, &body.to_string());
    let json_start = reply
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {reply:?}"));
    let v: Value = serde_json::from_str(reply[json_start..].trim()).unwrap();
    v["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {v}"))
        .to_string()
}

fn post_mcp(port: u16, body: &str) -> String {
    use std::io::{Read, Write};
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

/// `portalctl serve` on a free port, stopped by its own pid when the test ends, failed
/// or not.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(d: &DockerEnv) -> Self {
        let port = common::free_port();
        let log = std::fs::File::create(d.env.dir.path().join("serve.log")).unwrap();
        let child = d
            .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..300 {
            if ureq::get(&format!("{}/healthz", s.url)).call().is_ok() {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("portalctl serve did not answer on {}", s.url);
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv's python with the official MCP Python SDK (scripts/mcp-venv.sh).
fn python() -> String {
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
}

/// A tool called through the portal's MCP gateway by the SDK: the text it answered.
fn sdk_call(url: &str, token: &str, tool: &str, args: Value) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/gateway_client.py");
    let out = Command::new(python())
        .args([script, "call", url, "legacy", tool, &args.to_string()])
        .env("MCP_TOKEN", token)
        .env_remove("PORTALCTL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gateway_client.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    v["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {v}"))
        .to_string()
}

/// Waits (up to 10 s) until the published port answers MCP through the relay (a
/// connection the relay resets while the server starts counts as not yet).
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for _ in 0..100 {
        let reply = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            write!(
                s,
                "POST /mcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
            let mut reply = String::new();
            s.read_to_string(&mut reply)?;
            Ok(reply)
        });
        if reply.is_ok_and(|r| r.starts_with("HTTP/1.1 200")) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

#[test]
fn an_allow_hosts_server_reaches_only_its_hosts_and_only_through_its_proxy() {
    let (d, outside) = setup(
        "egress",
        38,
        USER,
        "10.248.0.0/18",
        "10.248.64.0/18",
        "10.249.200.0/24",
    );
    let out = d.ok(&["enable", "fetcher", "--user", USER, "--json"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    let port = report["port"].as_u64().unwrap() as u16;

    // The server is on its user's internal network only; its proxy beside it.
    let server = "mcp-egress-u.fetcher";
    let proxy = "mcp-egress-u.fetcher.egress";
    let internal = "mcp-net-egress-u.egress";
    assert_eq!(d.inspect(internal, "{{.Internal}}"), "true", "no route out");
    assert_eq!(
        d.inspect(
            server,
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"
        ),
        internal,
        "the server's only network"
    );
    let mut proxy_nets: Vec<String> = d
        .inspect(
            proxy,
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        )
        .split_whitespace()
        .map(String::from)
        .collect();
    proxy_nets.sort();
    let mut want = vec![internal.to_string(), outside.network.clone()];
    want.sort();
    assert_eq!(proxy_nets, want);
    assert_eq!(
        d.inspect(
            proxy,
            "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.Memory}}"
        ),
        "true [ALL] 33554432"
    );
    let env = d.inspect(server, "{{range .Config.Env}}{{println .}}{{end}}");
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        assert!(
            env.contains(&format!("{var}=http://fetcher.egress:3128")),
            "{var} in {env}"
        );
    }
    assert!(env.contains("NO_PROXY=localhost,127.0.0.1,::1"));

    // The published port works, relayed by the proxy: the gateway's way in.
    assert!(
        answers(port),
        "the server answers on its published port {port}"
    );

    // Allowed: reached through the proxy, by HTTP and through a CONNECT tunnel.
    let a = tool(port, "fetch", json!({"url": "http://outside-a:8080/name"}));
    assert_eq!(a, "HTTP/1.1 200 OK\noutside-a", "{a}");
    let t = tool(
        port,
        "tunnel",
        json!({"host": "outside-a", "port": 8080, "path": "/name"}),
    );
    assert_eq!(t, "tunnel open\nHTTP/1.1 200 OK\noutside-a", "{t}");

    // Refused by the proxy, with its reason: another host, and the allowed host's other port.
    let b = tool(port, "fetch", json!({"url": "http://outside-b:8080/name"}));
    assert!(b.starts_with("HTTP/1.1 403 Forbidden\n"), "{b}");
    assert!(
        b.contains("outside-b:8080 is not on this server's allow_hosts"),
        "{b}"
    );
    let other_port = tool(port, "fetch", json!({"url": "http://outside-a:8081/name"}));
    assert!(other_port.starts_with("HTTP/1.1 403"), "{other_port}");
    let tb = tool(
        port,
        "tunnel",
        json!({"host": "outside-b", "port": 8080, "path": "/name"}),
    );
    assert!(tb.starts_with("HTTP/1.1 403 Forbidden\n"), "{tb}");
    assert!(!tb.contains("outside-b\n"), "{tb}");

    // Around the proxy: the outside hosts' names do not resolve on the internal
    // network, and their addresses have no route.
    let direct = tool(port, "connect", json!({"host": "outside-a", "port": 8080}));
    assert!(direct.starts_with("error: cannot resolve"), "{direct}");
    let ip = outside.ip(&d, "outside-a");
    assert!(ip.starts_with("10.249.200."), "{ip}");
    let direct_ip = tool(port, "connect", json!({"host": ip, "port": 8080}));
    assert!(
        direct_ip.starts_with("error: cannot connect"),
        "{direct_ip}"
    );
    let no_proxy = tool(
        port,
        "fetch",
        json!({"url": format!("http://{ip}:8080/name")}),
    );
    assert!(
        no_proxy.starts_with("HTTP/1.1 403"),
        "an address is matched as written: {no_proxy}"
    );

    // Another container on the internal network cannot borrow this server's proxy. (Its
    // output is read from its log: an attached `docker run` of a container that exits
    // at once may lose it.)
    let stranger = format!("{}-stranger", d.instance);
    let ran = docker(&[
        "run",
        "-d",
        "--name",
        &stranger,
        "--label",
        &d.label(),
        "--network",
        internal,
        "-e",
        "HTTP_PROXY=http://fetcher.egress:3128",
        "mcp-echo:t-egress",
        "fetch",
        "http://outside-a:8080/name",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(docker(&["wait", &stranger]).stdout, "0");
    let said = docker(&["logs", &stranger]);
    assert!(
        said.stdout.starts_with(
            "HTTP/1.1 403 Forbidden\negress proxy: this proxy serves mcp-egress-u.fetcher only"
        ),
        "{} / {}\nproxy: {}",
        said.stdout,
        said.stderr,
        docker(&["logs", proxy]).stderr
    );
    docker(&["rm", "-f", &stranger]);

    // Through the portal's MCP gateway, with the official SDK as the client, as a user's
    // MCP client calls the server. Stopped before the daemon's own pass is tested below.
    {
        let serve = Serve::start(&d);
        let token = d.ok(&["token", "create", "--user", USER, "--scope", "mcp"]);
        let url = format!("{}/mcp/fetcher", serve.url);
        let a = sdk_call(
            &url,
            token.trim(),
            "fetch",
            json!({"url": "http://outside-a:8080/name"}),
        );
        assert_eq!(a, "HTTP/1.1 200 OK\noutside-a");
        let b = sdk_call(
            &url,
            token.trim(),
            "tunnel",
            json!({"host": "outside-b", "port": 8080}),
        );
        assert!(
            b.contains("outside-b:8080 is not on this server's allow_hosts"),
            "{b}"
        );
    }

    // A changed list recreates the proxy with it: now b is allowed and a is not.
    let changed = CATALOG.replace("[\"outside-a:8080\"]", "[\"outside-b:8080\"]");
    let catalog = d.env.file("egress.yaml", &changed);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    let out = d.ok(&["enable", "fetcher", "--user", USER, "--json"]);
    assert!(out.contains("\"recreated\""), "{out}");
    assert!(answers(port));
    let b = tool(port, "fetch", json!({"url": "http://outside-b:8080/name"}));
    assert_eq!(b, "HTTP/1.1 200 OK\noutside-b", "{b}");
    let a = tool(port, "fetch", json!({"url": "http://outside-a:8080/name"}));
    assert!(a.starts_with("HTTP/1.1 403"), "{a}");

    // The daemon's pass puts a removed proxy back, and keeps the server as it is.
    let server_id = d.inspect(server, "{{.Id}}");
    docker(&["rm", "-f", proxy]);
    let pass = d.run(&["serve", "--once"]);
    assert_eq!(pass.code, 0, "{}\n{}", pass.stdout, pass.stderr);
    assert_eq!(d.inspect(proxy, "{{.State.Running}}"), "true");
    assert_eq!(
        d.inspect(server, "{{.Id}}"),
        server_id,
        "the server was not remade"
    );
    assert!(answers(port));
    let pass = d.run(&["serve", "--once", "--json"]);
    let report: Value = serde_json::from_str(&pass.stdout).unwrap();
    assert_eq!(
        report["actions"],
        json!([]),
        "in sync again: {}",
        pass.stdout
    );

    // Without allow_hosts the server is back on its user's network, publishing its port
    // itself; with them again, behind a proxy that takes the port over.
    let open = CATALOG.replace("    allow_hosts: [\"outside-a:8080\"]\n", "");
    let catalog = d.env.file("egress.yaml", &open);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    let out = d.ok(&["enable", "fetcher", "--user", USER, "--json"]);
    assert!(out.contains("\"recreated\""), "{out}");
    assert!(answers(port));
    assert_eq!(
        d.inspect(
            server,
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"
        ),
        "mcp-net-egress-u"
    );
    assert!(
        !d.containers().contains(&proxy.to_string()),
        "{:?}",
        d.containers()
    );
    let env = d.inspect(server, "{{range .Config.Env}}{{println .}}{{end}}");
    assert!(!env.contains("HTTP_PROXY"), "{env}");
    let catalog = d.env.file("egress.yaml", CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    let out = d.ok(&["enable", "fetcher", "--user", USER, "--json"]);
    assert!(out.contains("\"recreated\""), "{out}");
    assert!(answers(port), "the proxy took the port over");
    let a = tool(port, "fetch", json!({"url": "http://outside-a:8080/name"}));
    assert_eq!(a, "HTTP/1.1 200 OK\noutside-a", "{a}");

    // Disabling the last server that needs them removes the proxy and the network.
    d.ok(&["disable", "fetcher", "--user", USER]);
    assert!(
        !d.containers()
            .iter()
            .any(|c| c.starts_with("mcp-egress-u.")),
        "{:?}",
        d.containers()
    );
    assert!(
        !d.networks().contains(&internal.to_string()),
        "{:?}",
        d.networks()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdio_allow_hosts_server_is_attached_as_usual_and_reaches_only_its_host() {
    let (d, outside) = setup(
        "egress-stdio",
        39,
        STDIO_USER,
        "10.248.128.0/18",
        "10.248.192.0/18",
        "10.249.201.0/24",
    );
    d.ok(&["enable", "fetcher-cli", "--user", STDIO_USER]);

    let engine = DockerEngine::connect().await.unwrap();
    let up = StdioUpstream::connect(&engine, "mcp-egress-s.fetcher-cli", "fetcher-cli")
        .await
        .unwrap();
    let call = |name: &'static str, args: Value| {
        let up = &up;
        async move {
            let r = up
                .request("tools/call", json!({"name": name, "arguments": args}), None)
                .await
                .unwrap();
            r["content"][0]["text"].as_str().unwrap().to_string()
        }
    };
    let a = call("fetch", json!({"url": "http://outside-a:8080/name"})).await;
    assert_eq!(a, "HTTP/1.1 200 OK\noutside-a");
    let b = call("fetch", json!({"url": "http://outside-b:8080/name"})).await;
    assert!(
        b.contains("outside-b:8080 is not on this server's allow_hosts"),
        "{b}"
    );
    let ip = outside.ip(&d, "outside-b");
    let direct = call("connect", json!({"host": ip, "port": 8080})).await;
    assert!(direct.starts_with("error: cannot connect"), "{direct}");
    drop(up);
    d.ok(&["disable", "fetcher-cli", "--user", STDIO_USER]);
    assert!(d
        .containers()
        .iter()
        .all(|c| !c.starts_with("mcp-egress-s.")));
}
