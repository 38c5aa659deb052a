//! The HTTP API in this process over a real listener, on the recording fake engine (no
//! Docker): a portal with users `admin`, `u1`, `u2`, the team catalog, and raw HTTP/1.1
//! requests against it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fake::Fake;
use mcp_portal::api::{self, ApiState};
use mcp_portal::config::Config;
use mcp_portal::ids::UserId;
use mcp_portal::manager::{Portal, Runtime};
use mcp_portal::store::{TokenRole, TokenScope};

pub struct Api {
    pub addr: std::net::SocketAddr,
    pub admin: String,
    pub u1: String,
    pub portal: Portal,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    rt: tokio::runtime::Runtime,
}

fn token(portal: &Portal, user: &str, role: TokenRole) -> String {
    let user = UserId::parse(user).unwrap();
    portal
        .create_token(&user, role, TokenScope::Api, None)
        .unwrap()
        .token
}

/// A fresh portal serving its API, with `per_sec` requests a second per token and the
/// settings in `extra`.
pub fn start_with(per_sec: f64, extra: &[(&str, &str)]) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let mut vars = vec![
        (
            "MCP_PORTAL_INSTANCE".to_string(),
            format!("t-api-{}", std::process::id()),
        ),
        ("MCP_PORTAL_PORT_RANGE_START".into(), "39500".into()),
        ("MCP_PORTAL_PORT_RANGE_END".into(), "39999".into()),
        (
            "MCP_PORTAL_USER_NETWORK_SUBNET_BASE".into(),
            "10.229.0.0/16".into(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_lookup(dir.path().join("data"), |k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let portal = Portal::open(config).unwrap();
    for u in ["admin", "u1", "u2"] {
        portal
            .add_user(UserId::parse(u).unwrap(), vec![], None)
            .unwrap();
    }
    let admin = token(&portal, "admin", TokenRole::Admin);
    let u1 = token(&portal, "u1", TokenRole::User);
    portal
        .upload_catalog("t.yaml", super::TEAM.as_bytes(), None)
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, served) = rt.block_on(async {
        let runtime = Arc::new(Runtime::new(portal.clone(), Fake::default()));
        let state = Arc::new(ApiState::new(portal.clone(), runtime, per_sec));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = async move {
            let _ = rx.await;
        };
        (addr, tokio::spawn(api::serve(listener, state, stop)))
    });
    Api {
        addr,
        admin,
        u1,
        portal,
        dir,
        stop: Some(tx),
        served: Some(served),
        rt,
    }
}

pub fn start(per_sec: f64) -> Api {
    start_with(per_sec, &[])
}

impl Api {
    /// Shuts the server down as `serve` does on SIGTERM, and waits until it has.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            let done = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), served).await });
            assert!(done.is_ok(), "the API did not stop within 10 s");
        }
    }

    /// The audit log's entries, oldest first.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let path = self.dir.path().join("data/audit/audit.log");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// One answer: its status, its head (status line and headers) and its body.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn send(api: &Api, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(api.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("{} {path} HTTP/1.1\r\n", method.to_uppercase());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str("Host: x\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    s
}

fn reply(out: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Reply {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// One HTTP/1.1 request with these headers; an event stream's answer is read up to the
/// end of its head only.
pub fn request(
    api: &Api,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = send(api, method, path, headers, body);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if path.contains("/events") && out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    reply(&out)
}

/// One request with a bearer token or none; returns the status and the body.
pub fn call(
    api: &Api,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let r = request(api, method, path, &headers, body);
    (r.status, r.body)
}

/// An open event stream: what it has sent so far, read as it comes.
pub struct Stream {
    s: TcpStream,
    pub status: u16,
    pub seen: String,
}

/// Opens `GET path` as an event stream with `token`.
pub fn stream(api: &Api, path: &str, token: &str) -> Stream {
    let auth = format!("Bearer {token}");
    let s = send(api, "get", path, &[("Authorization", &auth)], b"");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut st = Stream {
        s,
        status: 0,
        seen: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !st.seen.contains("\r\n\r\n") && st.read() && Instant::now() < deadline {}
    st.status = reply(st.seen.as_bytes()).status;
    st
}

impl Stream {
    /// Reads what has arrived; false once the server closed the stream.
    fn read(&mut self) -> bool {
        let mut buf = [0u8; 65536];
        match self.s.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// Reads for up to `wait`; true if the server ended the stream meanwhile.
    pub fn ended_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if !self.read() {
                return true;
            }
        }
        false
    }
}
