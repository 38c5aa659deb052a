//! mcp-echo: a small MCP server for tests and demos.
//!
//! - Speaks MCP (JSON-RPC 2.0) over stdio, one message per line, or over streamable HTTP
//!   (`POST /mcp`) when `MCP_TRANSPORT` is `streamable-http` or `sse` (port from
//!   `MCP_SERVER_PORT`, default 8080). `GET /healthz` answers 200.
//! - Tools: `echo` (returns its `text`) and `env_names` (the names, never the values, of
//!   the environment variables it received).
//! - `mcp-echo probe HOST PORT` exits 0 when a TCP connection succeeds within 2 s, else 1:
//!   the tests use it through `docker exec` to check network isolation with real packets.
//! - `mcp-echo exit CODE [AFTER_MS]` exits (at once, or after a while), to test servers
//!   that crash.
//! - `mcp-echo getenv NAME` and `mcp-echo cat PATH` print a variable or a file: the tests'
//!   own path (through `docker exec`) to compare an injected secret with what was set.
//!
//! It exits promptly on SIGTERM, as PID 1 in a container must choose to.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

const PROTOCOL_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

fn tools() -> Value {
    json!([
        {
            "name": "echo",
            "description": "Returns the text it is given",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        },
        {
            "name": "env_names",
            "description": "Lists the names (never the values) of the environment variables this server received",
            "inputSchema": {"type": "object", "properties": {}}
        }
    ])
}

fn text_result(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": false})
}

/// Answers one JSON-RPC message; `None` for notifications.
fn handle(msg: &Value) -> Option<Value> {
    let id = msg.get("id")?.clone();
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => {
            let asked = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("2024-11-05");
            let version = if PROTOCOL_VERSIONS.contains(&asked) {
                asked
            } else {
                PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.len() - 1]
            };
            Ok(json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "mcp-echo", "version": env!("CARGO_PKG_VERSION")}
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools()})),
        "tools/call" => {
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let args = params.get("arguments").cloned().unwrap_or(Value::Null);
            match name {
                "echo" => Ok(text_result(
                    args.get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                )),
                "env_names" => {
                    let mut names: Vec<String> = std::env::vars_os()
                        .map(|(k, _)| k.to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    Ok(text_result(names.join("\n")))
                }
                other => Err((-32602, format!("unknown tool {other:?}"))),
            }
        }
        other => Err((-32601, format!("method {other:?} not found"))),
    };
    Some(match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err((code, message)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    })
}

fn parse_error(e: &serde_json::Error) -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}})
}

fn serve_stdio(stop: &AtomicBool) {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Ok(msg) => handle(&msg),
            Err(e) => Some(parse_error(&e)),
        };
        if let Some(reply) = reply {
            let _ = writeln!(out, "{reply}");
            let _ = out.flush();
        }
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve_connection(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    match (method, path) {
        ("GET", "/healthz") => respond(&mut stream, "200 OK", "text/plain", "ok\n"),
        ("POST", "/mcp") => {
            let mut body = vec![0u8; length.min(1 << 20)];
            if reader.read_exact(&mut body).is_err() {
                return respond(&mut stream, "400 Bad Request", "text/plain", "short body\n");
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(msg) => match handle(&msg) {
                    Some(reply) => respond(
                        &mut stream,
                        "200 OK",
                        "application/json",
                        &reply.to_string(),
                    ),
                    None => respond(&mut stream, "202 Accepted", "text/plain", ""),
                },
                Err(e) => respond(
                    &mut stream,
                    "400 Bad Request",
                    "application/json",
                    &parse_error(&e).to_string(),
                ),
            }
        }
        (_, "/mcp") => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "use POST\n",
        ),
        _ => respond(&mut stream, "404 Not Found", "text/plain", "not found\n"),
    }
}

fn serve_http(port: u16, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    listener.set_nonblocking(true)?;
    eprintln!("mcp-echo: streamable HTTP on port {port}");
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                std::thread::spawn(move || serve_connection(stream));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn probe(host: &str, port: &str) -> i32 {
    let Ok(port) = port.parse::<u16>() else {
        return 2;
    };
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return 1;
    };
    for addr in addrs {
        if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok() {
            return 0;
        }
    }
    1
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["probe", host, port] => std::process::exit(probe(host, port)),
        ["exit", code] => std::process::exit(code.parse().unwrap_or(1)),
        ["exit", code, after_ms] => {
            std::thread::sleep(Duration::from_millis(after_ms.parse().unwrap_or(0)));
            std::process::exit(code.parse().unwrap_or(1))
        }
        ["getenv", name] => match std::env::var(name) {
            Ok(v) => {
                print!("{v}");
                std::process::exit(0)
            }
            Err(_) => std::process::exit(1),
        },
        ["cat", path] => match std::fs::read(path) {
            Ok(bytes) => {
                let _ = std::io::stdout().write_all(&bytes);
                std::process::exit(0)
            }
            Err(e) => {
                eprintln!("mcp-echo: {path}: {e}");
                std::process::exit(1)
            }
        },
        _ => {}
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // On a registration failure the default disposition stays: docker stop still works, slower.
        let _ = signal_hook::flag::register_conditional_shutdown(
            signal,
            0,
            Arc::new(AtomicBool::new(true)),
        );
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    let transport = std::env::var("MCP_TRANSPORT").unwrap_or_default();
    if transport == "streamable-http" || transport == "sse" {
        let port = std::env::var("MCP_SERVER_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(8080);
        if let Err(e) = serve_http(port, stop) {
            eprintln!("mcp-echo: cannot serve on port {port}: {e}");
            std::process::exit(1);
        }
    } else {
        serve_stdio(&stop);
    }
}
