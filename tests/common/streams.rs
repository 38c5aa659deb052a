//! The event streams' real client, tests/events/stream_client.py (PyPI `websockets`
//! for the WebSocket, the standard library for SSE), run from the venv that
//! scripts/mcp-venv.sh makes, and its JSON lines read as they arrive.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The venv's python, made once per test binary (a no-op when it is already there).
pub fn python() -> &'static str {
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

/// Now, as the client stamps what it receives (seconds since the epoch).
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// One running client, stopped by its own pid when dropped.
pub struct Client {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// Every line read so far.
    pub seen: Vec<Value>,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Client {
    /// `mode` is `ws` or `sse`; `extra` is passed on (`--protocol-token`).
    pub fn start(mode: &str, url: &str, token: &str, extra: &[&str]) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/events/stream_client.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(mode)
            .arg(url)
            .args(extra)
            .env("MCP_TOKEN", token)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line from now on that `want` accepts, within `wait`.
    pub fn until(&mut self, wait: Duration, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if want(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within {wait:?}; seen: {:#?}", self.seen),
            }
        }
    }

    /// Whatever arrives within `wait`.
    pub fn drain(&mut self, wait: Duration) -> &[Value] {
        let deadline = Instant::now() + wait;
        while let Ok(v) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(v);
        }
        &self.seen
    }
}

/// Whether `v` is the event `name` (and `data` satisfies `more`).
pub fn is_event(v: &Value, name: &str, more: impl Fn(&Value) -> bool) -> bool {
    v["event"] == name && more(&v["data"])
}
