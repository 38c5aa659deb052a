//! egress-proxy: the only way out for an mcp-portal server with `allow_hosts`.
//!
//! The server runs on an internal network with no route out; this proxy sits on that
//! network and on an outbound one, and forwards only to the allowed `host:port` entries:
//!
//! - HTTP/1.1 requests in absolute form (`GET http://host:port/path`), one per connection
//!   (sent on with `Connection: close`), and `CONNECT host:port` tunnels (HTTPS);
//! - anything else, or a destination not on the list, gets `403` with the reason;
//! - the proxy resolves the allowed name and connects itself: the client never picks the
//!   address. What the name resolves to is the name's owner's choice, so the proxy skips
//!   loopback, link-local (metadata services) and multicast addresses, and the portal
//!   makes the shared outbound network with inter-container traffic off, so that no
//!   name can lead one user's proxy to another's;
//! - only the server it was made for may use it (`--client NAME,...`: a peer whose
//!   address is not one these container names resolve to is refused), so a user's
//!   servers cannot borrow each other's lists. Container names are unique on an engine,
//!   so nothing on the outbound network can pass for the server either;
//! - request heads are bounded (`MAX_HEAD`), a slow head times out, and an idle
//!   proxied connection is closed after `IDLE`;
//! - `--forward PORT=HOST:PORT` also relays a published port to the server: a port
//!   published on an internal network is not reachable, so an HTTP server's port is
//!   published on the proxy, which has a route.
//!
//! Usage: `egress-proxy --allow host:port,... [--client NAME,...] [--listen PORT]
//! [--forward PORT=HOST:PORT]`. It logs one line per refusal or failure on stderr and
//! exits on SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use egress_proxy::{normalize_host, AllowList};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{timeout, Instant};

/// The largest request head accepted (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may carry nothing in either direction.
const IDLE: Duration = Duration::from_secs(300);
/// How long connecting to a destination may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait.
const MAX_CONNECTIONS: usize = 256;

#[derive(Debug)]
struct Config {
    allow: AllowList,
    /// The names the one client may be known by (its container, and the name its
    /// replacement has until it is renamed).
    client: Vec<String>,
    listen: u16,
    forward: Option<(u16, String, u16)>,
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut allow = None;
    let mut client = Vec::new();
    let mut listen = 3128;
    let mut forward = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value; see the usage in the source"))?;
        match flag.as_str() {
            "--allow" => {
                let entries: Vec<&str> = value.split(',').filter(|e| !e.is_empty()).collect();
                allow = Some(AllowList::parse(&entries).map_err(|e| format!("--allow: {e}"))?);
            }
            "--client" => {
                client = value
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(String::from)
                    .collect()
            }
            "--listen" => {
                listen = value
                    .parse()
                    .map_err(|_| format!("--listen {value:?} is not a port"))?
            }
            "--forward" => {
                let bad = || format!("--forward {value:?} is not PORT=HOST:PORT");
                let (port, target) = value.split_once('=').ok_or_else(bad)?;
                let (host, tport) = target.rsplit_once(':').ok_or_else(bad)?;
                forward = Some((
                    port.parse().map_err(|_| bad())?,
                    host.to_string(),
                    tport.parse().map_err(|_| bad())?,
                ));
            }
            other => {
                return Err(format!(
                    "unknown option {other}; use --allow, --client, --listen or --forward"
                ))
            }
        }
    }
    Ok(Config {
        allow: allow.ok_or("--allow is required: the host:port entries to forward to")?,
        client,
        listen,
        forward,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("egress-proxy: {e}");
            std::process::exit(2);
        }
    };
    let proxy = match TcpListener::bind(("0.0.0.0", config.listen)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("egress-proxy: cannot listen on port {}: {e}", config.listen);
            std::process::exit(1);
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    if let Some((port, host, tport)) = config.forward.clone() {
        match TcpListener::bind(("0.0.0.0", port)).await {
            Ok(l) => {
                tokio::spawn(relay_forever(l, host, tport, slots.clone()));
            }
            Err(e) => {
                eprintln!("egress-proxy: cannot listen on port {port}: {e}");
                std::process::exit(1);
            }
        }
    }
    eprintln!(
        "egress-proxy: on port {}, forwarding to {}",
        config.listen,
        config.allow.to_arg()
    );
    let serve = async {
        loop {
            let Ok((stream, peer)) = proxy.accept().await else {
                // Out of descriptors, say: let connections end before trying again.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let (config, slots) = (config.clone(), slots.clone());
            tokio::spawn(async move {
                let Ok(_slot) = slots.acquire().await else {
                    return;
                };
                if let Err(e) = serve(stream, peer, &config).await {
                    eprintln!("egress-proxy: {peer}: {e}");
                }
            });
        }
    };
    tokio::select! {
        () = serve => {}
        () = terminated() => {}
    }
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        // No handler: as PID 1 it ignores SIGTERM, and the engine kills it after the
        // stop timeout instead.
        Err(_) => std::future::pending().await,
    }
}

/// Relays the published port to the server, byte for byte.
async fn relay_forever(listener: TcpListener, host: String, port: u16, slots: Arc<Semaphore>) {
    loop {
        let Ok((client, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let (host, slots) = (host.clone(), slots.clone());
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire().await else {
                return;
            };
            match connect(&host, port).await {
                Ok(server) => pump(client, server, &[], None).await,
                Err(e) => eprintln!("egress-proxy: relay from {peer}: {e}"),
            }
        });
    }
}

/// A request head, read whole: the method, the target, and the header lines.
#[derive(Debug)]
struct Head {
    method: String,
    target: String,
    headers: Vec<String>,
    /// Bytes read past the head (a body, or a tunnel's first bytes).
    rest: Vec<u8>,
}

async fn serve(mut client: TcpStream, peer: SocketAddr, config: &Config) -> Result<(), String> {
    if let Some(name) = config.client.first() {
        if !is_client(&config.client, peer.ip()).await {
            refuse(&mut client, &format!("this proxy serves {name} only")).await;
            return Err(format!("refused: not {name}"));
        }
    }
    let head = match timeout(HEAD_TIMEOUT, read_head(&mut client)).await {
        Ok(Ok(h)) => h,
        Ok(Err(why)) => {
            let line = format!("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{why}\n", why.len() + 1);
            let _ = client.write_all(line.as_bytes()).await;
            return Err(why);
        }
        Err(_) => return Err("no request head within 10 s".into()),
    };
    if head.method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = authority(&head.target, None) else {
            refuse(&mut client, "CONNECT needs host:port").await;
            return Err(format!("refused CONNECT {}", head.target));
        };
        if !config.allow.allows(&host, port) {
            refuse(&mut client, &not_allowed(&host, port)).await;
            return Err(format!("refused CONNECT {host}:{port}"));
        }
        let server = match connect(&host, port).await {
            Ok(s) => s,
            Err(e) => {
                bad_gateway(&mut client, &e).await;
                return Err(e);
            }
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        pump(client, server, &head.rest, Some(IDLE)).await;
        return Ok(());
    }
    let Some(after) = strip_prefix_ci(&head.target, "http://") else {
        refuse(
            &mut client,
            "only http:// requests in absolute form and CONNECT are proxied",
        )
        .await;
        return Err(format!("refused {} {}", head.method, head.target));
    };
    let (auth, path) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    };
    let Some((host, port)) = authority(auth, Some(80)) else {
        refuse(&mut client, "the request names no valid host").await;
        return Err(format!("refused {}", head.target));
    };
    if !config.allow.allows(&host, port) {
        refuse(&mut client, &not_allowed(&host, port)).await;
        return Err(format!("refused {} {host}:{port}", head.method));
    }
    let mut server = match connect(&host, port).await {
        Ok(s) => s,
        Err(e) => {
            bad_gateway(&mut client, &e).await;
            return Err(e);
        }
    };
    let mut out = format!("{} {path} HTTP/1.1\r\n", head.method);
    for h in &head.headers {
        let name = h.split(':').next().unwrap_or_default().trim();
        let hop = [
            "connection",
            "proxy-connection",
            "proxy-authorization",
            "keep-alive",
        ];
        if hop.iter().any(|x| name.eq_ignore_ascii_case(x)) {
            continue;
        }
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    server
        .write_all(out.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    pump(client, server, &head.rest, Some(IDLE)).await;
    Ok(())
}

fn not_allowed(host: &str, port: u16) -> String {
    format!("{host}:{port} is not on this server's allow_hosts")
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `host[:port]` of a request (no user info), with `default` when no port is given.
fn authority(auth: &str, default: Option<u16>) -> Option<(String, u16)> {
    if auth.contains('@') || auth.is_empty() {
        return None;
    }
    let (host, port) = if let Some(rest) = auth.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return None,
        }
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (auth, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default?,
    };
    (!host.is_empty()).then(|| (normalize_host(host), port))
}

/// Whether `ip` is one of the addresses the names resolve to now (the server's, through
/// the network's DNS; a name no container has resolves to nothing).
async fn is_client(names: &[String], ip: IpAddr) -> bool {
    for name in names {
        if let Ok(mut addrs) = tokio::net::lookup_host((name.as_str(), 0)).await {
            if addrs.any(|a| a.ip() == ip) {
                return true;
            }
        }
    }
    false
}

async fn read_head(client: &mut (impl AsyncRead + Unpin)) -> Result<Head, String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("request head larger than {MAX_HEAD} bytes"));
        }
        let n = client.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the request head ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if end > MAX_HEAD {
        return Err(format!("request head larger than {MAX_HEAD} bytes"));
    }
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| "request head is not text")?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("malformed request line {line:?}"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || target.is_empty() {
        return Err(format!("malformed request line {line:?}"));
    }
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        headers: lines.map(str::to_string).collect(),
        rest: buf[end + 4..].to_vec(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn refuse(client: &mut TcpStream, why: &str) {
    let body = format!("egress proxy: {why}\n");
    let reply = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(reply.as_bytes()).await;
    let _ = client.shutdown().await;
}

async fn bad_gateway(client: &mut TcpStream, why: &str) {
    let body = format!("egress proxy: {why}\n");
    let reply = format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(reply.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// 169.254/16 and fe80::/10: the hosts' metadata services live there, never a server's
/// destination.
fn link_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Resolves and connects to a destination: the proxy picks the address, never the client.
/// An address that would be the proxy's own (loopback, unspecified), a link-local one
/// (metadata services) or a multicast one is skipped, whatever name resolved to it.
async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let attempt = async {
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?;
        let mut last = format!("{host} resolves to no address outside the proxy");
        for addr in addrs {
            let ip = match addr.ip() {
                std::net::IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
                ip => ip,
            };
            if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || link_local(ip) {
                continue;
            }
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = format!("cannot connect to {host}:{port}: {e}"),
            }
        }
        Err(last)
    };
    match timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("cannot connect to {host}:{port}: timed out")),
    }
}

/// Copies both ways until both sides close, or nothing moves for `idle`. The relayed
/// port has no idle limit: the gateway keeps its connections (SSE streams) open as long
/// as its own sessions last, and closes them itself.
async fn pump(client: TcpStream, server: TcpStream, first: &[u8], idle: Option<Duration>) {
    let (cr, cw) = client.into_split();
    let (sr, mut sw) = server.into_split();
    if !first.is_empty() && sw.write_all(first).await.is_err() {
        return;
    }
    let last = Arc::new(std::sync::Mutex::new(Instant::now()));
    let up = copy(cr, sw, last.clone());
    let down = copy(sr, cw, last.clone());
    let idle = async {
        let Some(limit) = idle else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let then = *last.lock().unwrap_or_else(|p| p.into_inner());
            if then.elapsed() >= limit {
                break;
            }
        }
    };
    // Both directions run to their end (one side's close is passed on as a shutdown of
    // the other's writing half), unless nothing moves for the idle limit.
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        () = idle => {}
    }
}

async fn copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    last: Arc<std::sync::Mutex<Instant>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        *last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_gives_the_host_and_the_port_or_the_default() {
        assert_eq!(authority("a.b:81", Some(80)), Some(("a.b".into(), 81)));
        assert_eq!(authority("A.B", Some(80)), Some(("a.b".into(), 80)));
        assert_eq!(authority("a.b", None), None, "CONNECT needs a port");
        assert_eq!(authority("[::2]:8", None), Some(("::2".into(), 8)));
        assert_eq!(authority("u@a.b:81", Some(80)), None, "no user info");
        assert_eq!(authority(":81", Some(80)), None);
    }

    async fn head_of(bytes: &[u8]) -> Result<Head, String> {
        let (mut client, mut proxy) = tokio::io::duplex(64 * 1024);
        client.write_all(bytes).await.unwrap();
        drop(client);
        read_head(&mut proxy).await
    }

    #[tokio::test]
    async fn a_head_is_read_whole_with_what_follows_it() {
        let h = head_of(b"CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n\r\n\x16\x03")
            .await
            .unwrap();
        assert_eq!(
            (h.method.as_str(), h.target.as_str()),
            ("CONNECT", "a.b:443")
        );
        assert_eq!(h.headers, ["Host: a.b:443"]);
        assert_eq!(h.rest, b"\x16\x03", "a tunnel's first bytes are kept");
    }

    #[tokio::test]
    async fn a_head_too_large_or_malformed_or_cut_short_is_refused() {
        let mut big = b"GET http://a.b/ HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'x', MAX_HEAD + 1));
        big.extend(b"\r\n\r\n");
        assert!(head_of(&big)
            .await
            .unwrap_err()
            .contains("larger than 16384"));
        assert!(head_of(b"GET http://a.b/\r\n\r\n")
            .await
            .unwrap_err()
            .contains("malformed"));
        assert!(head_of(b"GET / SMTP/1\r\n\r\n")
            .await
            .unwrap_err()
            .contains("malformed"));
        assert!(head_of(b"GET http://a.b/ HTTP/1.1\r\n")
            .await
            .unwrap_err()
            .contains("closed"));
    }

    #[test]
    fn options_are_parsed_and_a_bad_list_is_refused() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let c = parse_args(&args(
            "--allow a:1,b:2 --client srv,srv.next --forward 8080=srv:80",
        ))
        .unwrap();
        assert!(c.allow.allows("a", 1));
        assert_eq!(c.client, ["srv", "srv.next"]);
        assert_eq!(c.forward, Some((8080, "srv".into(), 80)));
        assert_eq!(c.listen, 3128);
        assert!(parse_args(&args("--allow a")).is_err());
        assert!(parse_args(&args("--client x")).is_err());
        assert!(parse_args(&args("--allow a:1 --bogus 1")).is_err());
    }
}
