//! The egress tools: reaching outside hosts as a real server would, through the proxy
//! the environment names (`HTTP_PROXY`, `HTTPS_PROXY`, either case) or directly. Each
//! returns a one-text answer saying what happened, errors included, so a test reads the
//! outcome from the tool's reply.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn proxy_var(name: &str) -> Option<String> {
    std::env::var(name)
        .or_else(|_| std::env::var(name.to_ascii_lowercase()))
        .ok()
        .filter(|v| !v.is_empty())
}

/// `http://host:port[/]` -> `host:port`.
fn proxy_address(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.trim_end_matches('/').to_string()
}

fn open(address: &str) -> Result<TcpStream, String> {
    let addrs = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address}: {e}"))?;
    let mut last = format!("{address} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(TIMEOUT));
                let _ = s.set_write_timeout(Some(TIMEOUT));
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {address}: {e}"),
        }
    }
    Err(last)
}

/// Sends `request` and reads until the other side closes: the whole reply, as text.
fn exchange(stream: &mut TcpStream, request: &str) -> Result<String, String> {
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    if reply.is_empty() {
        return Err("no reply".into());
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// The status line and the body of an HTTP reply.
fn summary(reply: &str) -> String {
    let status = reply.lines().next().unwrap_or_default();
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    format!("{status}\n{}", body.trim_end())
}

/// GETs an `http://` URL, through `HTTP_PROXY` when it is set.
pub fn fetch(url: &str) -> String {
    let Some(rest) = url.strip_prefix("http://") else {
        return format!("error: {url:?} is not an http:// URL");
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let via = proxy_var("HTTP_PROXY");
    let result = match &via {
        Some(proxy) => open(&proxy_address(proxy)).and_then(|mut s| {
            let req =
                format!("GET {url} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
            exchange(&mut s, &req)
        }),
        None => {
            let address = if authority.contains(':') {
                authority.to_string()
            } else {
                format!("{authority}:80")
            };
            open(&address).and_then(|mut s| {
                let req = format!(
                    "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
                );
                exchange(&mut s, &req)
            })
        }
    };
    match result {
        Ok(reply) => summary(&reply),
        Err(e) => format!("error: {e}"),
    }
}

/// `CONNECT host:port` through `HTTPS_PROXY`, then a GET of `path` inside the tunnel.
pub fn tunnel(host: &str, port: u16, path: &str) -> String {
    let Some(proxy) = proxy_var("HTTPS_PROXY") else {
        return "error: HTTPS_PROXY is not set".into();
    };
    let mut s = match open(&proxy_address(&proxy)) {
        Ok(s) => s,
        Err(e) => return format!("error: {e}"),
    };
    let connect = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
    if let Err(e) = s.write_all(connect.as_bytes()) {
        return format!("error: cannot send: {e}");
    }
    // The proxy's answer to CONNECT ends with an empty line; read it byte by byte so
    // nothing of the tunnel is taken with it.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if !head.starts_with("HTTP/1.1 200") {
        // A refusal: what the proxy said, body included.
        let mut rest = String::new();
        let _ = s.read_to_string(&mut rest);
        return summary(&format!("{head}{rest}"));
    }
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    match exchange(&mut s, &req) {
        Ok(reply) => format!("tunnel open\n{}", summary(&reply)),
        Err(e) => format!("tunnel open\nerror: {e}"),
    }
}

/// A direct TCP connection, bypassing any proxy.
pub fn connect(host: &str, port: u16) -> String {
    match open(&format!("{host}:{port}")) {
        Ok(_) => format!("connected to {host}:{port}"),
        Err(e) => format!("error: {e}"),
    }
}
