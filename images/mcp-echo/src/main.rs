//! mcp-echo: a small MCP server for tests and demos.
//!
//! - Speaks MCP (JSON-RPC 2.0) over stdio, one message per line, or over HTTP when
//!   `MCP_TRANSPORT` is `streamable-http` or `sse` (port from `MCP_SERVER_PORT`, default
//!   8080): Streamable HTTP at `POST /mcp`, and the old SSE transport (2024-11-05) at
//!   `GET /sse`, whose `endpoint` event names the `POST /messages?session=N` that its
//!   answers come back from on the stream. `GET /healthz` answers 200.
//! - Tools: `echo` (returns its `text`), `env_names` (the names, never the values, of
//!   the environment variables it received), `sleep` (waits `ms` milliseconds, sending
//!   `notifications/progress` four times when the call has a progress token) and
//!   `changed` (sends `notifications/tools/list_changed`, then answers).
//! - Egress tools, listed and served only with `MCP_ECHO_EGRESS=1`, to test
//!   `allow_hosts`: `fetch` (an HTTP GET of `url` through `HTTP_PROXY`, or directly
//!   without one), `tunnel` (a `CONNECT host:port` through
//!   `HTTPS_PROXY`, then a GET of `path` through the tunnel) and `connect` (a direct TCP
//!   connection to `host:port`, bypassing any proxy). Each answers with what happened:
//!   the reply's status line and body, or the error.
//!   `mcp-echo fetch URL` prints what the `fetch` tool would answer, for a one-off
//!   container of a test.
//! - `GET /name` answers `MCP_ECHO_NAME` (default `mcp-echo`), so a test can tell which
//!   of several servers answered.
//! - On stdio each request is served on a thread of its own, so a `sleep` holds up no
//!   other call, and `notifications/cancelled` stops a `sleep` with no answer (the server
//!   says so on stderr). Over HTTP, a call's notifications turn its answer into an SSE
//!   stream when the client accepts `text/event-stream`, and are dropped otherwise.
//! - `MCP_ECHO_BANNER=1` prints a line that is not JSON on stdout first, as some servers
//!   do, to test that clients tolerate it.
//! - `mcp-echo probe HOST PORT` exits 0 when a TCP connection succeeds within 2 s, else 1:
//!   the tests use it through `docker exec` to check network isolation with real packets.
//! - `mcp-echo exit CODE [AFTER_MS]` exits (at once, or after a while), to test servers
//!   that crash.
//! - `mcp-echo getenv NAME` and `mcp-echo cat PATH` print a variable or a file: the tests'
//!   own path (through `docker exec`) to compare an injected secret with what was set.
//! - `MCP_ECHO_LOG_ENV=A,B` prints `A=<value>` for each on stderr at start (and on stdout
//!   too over HTTP, where stdout is free): a server that leaks its secrets to its log, for
//!   the portal's log masking.
//!
//! It exits promptly on SIGTERM, as PID 1 in a container must choose to.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod egress;

const PROTOCOL_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The longest `sleep`, so a test that forgets to cancel does not hold a thread for long.
const MAX_SLEEP_MS: u64 = 60_000;

/// How many progress notifications a `sleep` sends.
const SLEEP_STEPS: u64 = 4;

fn tools() -> Value {
    let mut all = base_tools();
    if egress_tools() {
        if let (Some(list), Value::Array(more)) = (all.as_array_mut(), egress_tool_list()) {
            list.extend(more);
        }
    }
    all
}

fn egress_tools() -> bool {
    std::env::var("MCP_ECHO_EGRESS").as_deref() == Ok("1")
}

fn base_tools() -> Value {
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
        },
        {
            "name": "sleep",
            "description": "Waits ms milliseconds (at most 60000), reporting progress four times",
            "inputSchema": {"type": "object", "properties": {"ms": {"type": "integer", "minimum": 0}}, "required": ["ms"]}
        },
        {
            "name": "changed",
            "description": "Sends notifications/tools/list_changed, then answers",
            "inputSchema": {"type": "object", "properties": {}}
        }
    ])
}

fn egress_tool_list() -> Value {
    json!([
        {
            "name": "fetch",
            "description": "GETs an http:// URL through HTTP_PROXY (directly without one); returns the status line and body",
            "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}
        },
        {
            "name": "tunnel",
            "description": "Opens CONNECT host:port through HTTPS_PROXY, then GETs path through the tunnel",
            "inputSchema": {"type": "object", "properties": {"host": {"type": "string"}, "port": {"type": "integer"}, "path": {"type": "string"}}, "required": ["host", "port"]}
        },
        {
            "name": "connect",
            "description": "Connects directly (no proxy) to host:port over TCP; says whether it could",
            "inputSchema": {"type": "object", "properties": {"host": {"type": "string"}, "port": {"type": "integer"}}, "required": ["host", "port"]}
        }
    ])
}

fn text_result(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": false})
}

/// Why a request has no result.
enum Failure {
    Rpc(i64, String),
    /// The client cancelled it: no answer at all, as MCP asks.
    Cancelled,
}

/// What a handler may do besides answering: send notifications, and ask whether its
/// request was cancelled.
struct Call<'a> {
    notify: &'a dyn Fn(Value),
    cancelled: &'a dyn Fn() -> bool,
}

/// Answers one JSON-RPC message; `None` for notifications and cancelled requests.
fn handle(msg: &Value, call: &Call) -> Option<Value> {
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
                "capabilities": {"tools": {"listChanged": true}},
                "serverInfo": {"name": "mcp-echo", "version": env!("CARGO_PKG_VERSION")}
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools()})),
        "tools/call" => call_tool(&params, call),
        other => Err(Failure::Rpc(-32601, format!("method {other:?} not found"))),
    };
    match result {
        Ok(r) => Some(json!({"jsonrpc": "2.0", "id": id, "result": r})),
        Err(Failure::Rpc(code, message)) => {
            Some(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
        }
        Err(Failure::Cancelled) => {
            eprintln!("mcp-echo: request {id} cancelled");
            None
        }
    }
}

fn call_tool(params: &Value, call: &Call) -> Result<Value, Failure> {
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
        "sleep" => {
            let ms = args.get("ms").and_then(Value::as_u64).unwrap_or(0);
            let token = params.get("_meta").and_then(|m| m.get("progressToken"));
            sleep(ms.min(MAX_SLEEP_MS), token, call)
        }
        "changed" => {
            (call.notify)(json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}));
            Ok(text_result("sent notifications/tools/list_changed".into()))
        }
        "fetch" | "tunnel" | "connect" if !egress_tools() => {
            Err(Failure::Rpc(-32602, format!("unknown tool {name:?}")))
        }
        "fetch" => Ok(text_result(egress::fetch(
            args.get("url").and_then(Value::as_str).unwrap_or_default(),
        ))),
        "tunnel" | "connect" => {
            let host = args.get("host").and_then(Value::as_str).unwrap_or_default();
            let port = args.get("port").and_then(Value::as_u64).unwrap_or(0);
            let port = u16::try_from(port).unwrap_or(0);
            let path = args.get("path").and_then(Value::as_str).unwrap_or("/");
            Ok(text_result(if name == "tunnel" {
                egress::tunnel(host, port, path)
            } else {
                egress::connect(host, port)
            }))
        }
        other => Err(Failure::Rpc(-32602, format!("unknown tool {other:?}"))),
    }
}

/// Sleeps in short slices, so a cancellation stops it within 20 ms.
fn sleep(ms: u64, token: Option<&Value>, call: &Call) -> Result<Value, Failure> {
    let start = Instant::now();
    for step in 1..=SLEEP_STEPS {
        let until = start + Duration::from_millis(ms * step / SLEEP_STEPS);
        loop {
            if (call.cancelled)() {
                return Err(Failure::Cancelled);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
        if let Some(token) = token {
            (call.notify)(json!({
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {
                    "progressToken": token,
                    "progress": step,
                    "total": SLEEP_STEPS,
                    "message": format!("slept {} of {ms} ms", ms * step / SLEEP_STEPS)
                }
            }));
        }
    }
    Ok(text_result(format!("slept {ms} ms")))
}

fn parse_error(e: &serde_json::Error) -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}})
}

/// Writes one message per line; shared by the threads serving requests.
#[derive(Clone)]
struct Stdout(Arc<Mutex<std::io::Stdout>>);

impl Stdout {
    fn send(&self, message: &Value) {
        // A poisoned lock still guards a whole stdout: each write is one line.
        let mut out = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{message}");
        let _ = out.flush();
    }
}

/// Requests being served on stdio, by id, and whether each was cancelled.
type InFlight = Arc<Mutex<HashMap<String, bool>>>;

fn serve_stdio(stop: &AtomicBool) {
    let out = Stdout(Arc::new(Mutex::new(std::io::stdout())));
    let in_flight: InFlight = Arc::default();
    if std::env::var("MCP_ECHO_BANNER").as_deref() == Ok("1") {
        println!(
            "mcp-echo {} on stdio (this banner is not JSON)",
            env!("CARGO_PKG_VERSION")
        );
    }
    for line in std::io::stdin().lock().lines() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(msg) if msg.get("id").is_some() && msg.get("method").is_some() => {
                spawn_request(msg, &out, &in_flight)
            }
            Ok(msg)
                if msg.get("method").and_then(Value::as_str) == Some("notifications/cancelled") =>
            {
                let id = msg.pointer("/params/requestId").map(Value::to_string);
                let mut all = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(cancelled) = id.and_then(|id| all.get_mut(&id)) {
                    *cancelled = true;
                }
            }
            // Other notifications and stray responses need no answer.
            Ok(_) => {}
            Err(e) => out.send(&parse_error(&e)),
        }
    }
}

fn spawn_request(msg: Value, out: &Stdout, in_flight: &InFlight) {
    let key = msg["id"].to_string();
    in_flight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key.clone(), false);
    let id = msg["id"].clone();
    let serve = {
        let out = out.clone();
        let in_flight = Arc::clone(in_flight);
        move || {
            let notify = |note: Value| out.send(&note);
            let cancelled = || {
                let all = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                all.get(&key).copied().unwrap_or(false)
            };
            let call = Call {
                notify: &notify,
                cancelled: &cancelled,
            };
            let reply = handle(&msg, &call);
            in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            if let Some(reply) = reply {
                out.send(&reply);
            }
        }
    };
    // Small stacks: the handlers are shallow, and the container's memory is tight.
    let spawned = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(serve);
    if let Err(e) = spawned {
        in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id.to_string());
        out.send(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": format!("mcp-echo cannot start a thread: {e}")}}));
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let whole = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(whole.as_bytes());
}

/// The open `GET /sse` streams of the old SSE transport, by session number.
static SSE_STREAMS: Mutex<Option<HashMap<u64, TcpStream>>> = Mutex::new(None);
static SSE_NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn sse_send(session: u64, message: &Value) {
    let streams = SSE_STREAMS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(mut s) = streams.as_ref().and_then(|m| m.get(&session)) {
        let _ = s.write_all(format!("event: message\ndata: {message}\n\n").as_bytes());
    }
}

/// `GET /sse`: names the session's POST endpoint, then holds the stream open until the
/// client goes; answers to that session's POSTs are written to it.
fn serve_sse_stream(mut stream: TcpStream) {
    let session = SSE_NEXT.fetch_add(1, Ordering::Relaxed);
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\nevent: endpoint\ndata: /messages?session={session}\n\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    SSE_STREAMS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(session, writer);
    let _ = stream.set_read_timeout(None);
    let mut sink = [0u8; 256];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    if let Some(m) = SSE_STREAMS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
    {
        m.remove(&session);
    }
}

/// `POST /messages?session=N`: accepted at once; the answer goes to the session's stream.
fn post_sse_message(stream: &mut TcpStream, session: u64, msg: &Value) {
    let known = SSE_STREAMS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .is_some_and(|m| m.contains_key(&session));
    if !known {
        return respond(stream, "404 Not Found", "text/plain", "no such session\n");
    }
    respond(stream, "202 Accepted", "text/plain", "");
    let notify = |note: Value| sse_send(session, &note);
    let call = Call {
        notify: &notify,
        cancelled: &|| false,
    };
    if let Some(reply) = handle(msg, &call) {
        sse_send(session, &reply);
    }
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
    let mut accepts_sse = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("accept") {
                accepts_sse |= v.contains("text/event-stream");
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let session = path
        .strip_prefix("/messages?session=")
        .and_then(|n| n.parse::<u64>().ok());
    match (method, path) {
        ("GET", "/healthz") => respond(&mut stream, "200 OK", "text/plain", "ok\n"),
        ("GET", "/name") => {
            let name = std::env::var("MCP_ECHO_NAME").unwrap_or_else(|_| "mcp-echo".into());
            respond(&mut stream, "200 OK", "text/plain", &format!("{name}\n"))
        }
        ("GET", "/sse") => serve_sse_stream(stream),
        ("POST", _) if session.is_some() => {
            let mut body = vec![0u8; length.min(1 << 20)];
            if reader.read_exact(&mut body).is_err() {
                return respond(&mut stream, "400 Bad Request", "text/plain", "short body\n");
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(msg) => post_sse_message(&mut stream, session.unwrap_or_default(), &msg),
                Err(e) => respond(
                    &mut stream,
                    "400 Bad Request",
                    "application/json",
                    &parse_error(&e).to_string(),
                ),
            }
        }
        ("POST", "/mcp") => {
            let mut body = vec![0u8; length.min(1 << 20)];
            if reader.read_exact(&mut body).is_err() {
                return respond(&mut stream, "400 Bad Request", "text/plain", "short body\n");
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(msg) => post_mcp(&mut stream, &msg, accepts_sse),
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

/// Answers one POST: plain JSON, unless the call sends notifications first and the client
/// accepts SSE; then the answer is a stream of events, sent as they happen, ending with
/// the reply.
fn post_mcp(stream: &mut TcpStream, msg: &Value, accepts_sse: bool) {
    let streaming = Cell::new(false);
    let shared: &TcpStream = stream;
    let notify = |note: Value| {
        if !accepts_sse {
            return;
        }
        let mut out = shared;
        if !streaming.replace(true) {
            let _ = write!(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
        }
        let _ = write!(out, "event: message\ndata: {note}\n\n");
        let _ = out.flush();
    };
    let call = Call {
        notify: &notify,
        cancelled: &|| false,
    };
    let reply = handle(msg, &call);
    match (reply, streaming.get()) {
        (Some(reply), true) => {
            let mut out = shared;
            let _ = write!(out, "event: message\ndata: {reply}\n\n");
        }
        (Some(reply), false) => respond(stream, "200 OK", "application/json", &reply.to_string()),
        (None, true) => {}
        (None, false) => respond(stream, "202 Accepted", "text/plain", ""),
    }
}

/// A blocking accept loop: SIGTERM ends the process itself (see `main`), and an accept
/// that polled would add its poll interval to every call.
fn serve_http(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    eprintln!("mcp-echo: streamable HTTP on port {port}");
    for stream in listener.incoming() {
        let stream = stream?;
        // Answers are written in pieces; Nagle would hold each later piece for an ACK.
        let _ = stream.set_nodelay(true);
        std::thread::spawn(move || serve_connection(stream));
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
        ["fetch", url] => {
            println!("{}", egress::fetch(url));
            std::process::exit(0)
        }
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
    let http = transport == "streamable-http" || transport == "sse";
    if let Ok(names) = std::env::var("MCP_ECHO_LOG_ENV") {
        for name in names.split(',') {
            let value = std::env::var(name).unwrap_or_default();
            eprintln!("{name}={value}");
            if http {
                println!("{name}={value}");
            }
        }
    }
    if http {
        let port = std::env::var("MCP_SERVER_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(8080);
        if let Err(e) = serve_http(port) {
            eprintln!("mcp-echo: cannot serve on port {port}: {e}");
            std::process::exit(1);
        }
    } else {
        serve_stdio(&stop);
    }
}
