//! The upstream against an in-memory server: the test plays the server's side of the
//! attachment, reading stdin lines and writing output chunks however it likes.

use std::time::Duration;

use futures_util::future::join_all;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader, DuplexStream, Lines as IoLines};
use tokio::sync::mpsc;

use super::*;
use crate::engine::Output;

/// The server's end of an in-memory attachment.
struct Server {
    stdin: IoLines<BufReader<DuplexStream>>,
    output: mpsc::UnboundedSender<Result<Output, EngineError>>,
}

impl Server {
    /// The next message the gateway wrote.
    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), self.stdin.next_line())
            .await
            .expect("the gateway writes within 5 s")
            .unwrap()
            .expect("stdin is open");
        serde_json::from_str(&line).unwrap()
    }

    /// True once the gateway closed the server's stdin.
    async fn stdin_closed(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stdin.next_line()).await,
            Ok(Ok(None)) | Ok(Err(_))
        )
    }

    fn raw(&self, bytes: &[u8]) {
        self.output
            .send(Ok(Output::Stdout(bytes.to_vec())))
            .unwrap();
    }

    fn send(&self, message: Value) {
        self.raw(format!("{message}\n").as_bytes());
    }

    fn answer(&self, request: &Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}));
    }
}

fn pipe() -> (Attached, Server) {
    let (gateway, server) = tokio::io::duplex(1 << 16);
    let (output, chunks) = mpsc::unbounded_channel();
    let chunks = futures_util::stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    });
    let attached = Attached {
        input: Box::pin(gateway),
        output: chunks.boxed(),
    };
    let server = Server {
        stdin: BufReader::new(server).lines(),
        output,
    };
    (attached, server)
}

/// An upstream that has done its handshake with the in-memory server.
async fn connected() -> (Arc<StdioUpstream>, Server) {
    let (attached, mut server) = pipe();
    let serve = async {
        let init = server.recv().await;
        assert_eq!(init["method"], "initialize");
        server.answer(
            &init,
            json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {"listChanged": true}}, "serverInfo": {"name": "fake"}}),
        );
        assert_eq!(
            server.recv().await,
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        );
    };
    let (upstream, ()) = tokio::join!(StdioUpstream::over("echo", attached), serve);
    (upstream.unwrap(), server)
}

#[tokio::test]
async fn the_handshake_is_done_once_and_its_answer_kept() {
    let (attached, mut server) = pipe();
    let serve = async {
        let init = server.recv().await;
        assert_eq!(
            init["params"],
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "mcp-portal", "version": env!("CARGO_PKG_VERSION")}})
        );
        server.answer(
            &init,
            json!({"protocolVersion": "2025-11-25", "capabilities": {}}),
        );
        server.recv().await
    };
    let (upstream, initialized) = tokio::join!(StdioUpstream::over("echo", attached), serve);
    assert_eq!(initialized["method"], "notifications/initialized");
    let upstream = upstream.unwrap();
    assert_eq!(
        upstream.initialized(),
        &json!({"protocolVersion": "2025-11-25", "capabilities": {}})
    );
    assert_eq!(upstream.server(), "echo");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_initialize_times_out_naming_it() {
    let (attached, _server) = pipe();
    let e = StdioUpstream::over("quiet", attached).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "server quiet did not answer initialize within 10 s; see its output with `docker logs` and check that it speaks MCP over stdio"
    );
    assert_eq!(RpcError::from(e).code, rpc::SERVER_UNAVAILABLE);
}

#[tokio::test]
async fn twenty_concurrent_calls_answered_out_of_order_each_get_their_own_answer() {
    let (upstream, mut server) = connected().await;
    let calls = (0..20).map(|n| {
        let upstream = Arc::clone(&upstream);
        async move {
            upstream
                .request("tools/call", json!({"name": "echo", "n": n}), None)
                .await
        }
    });
    let serve = async {
        let mut requests = Vec::new();
        for _ in 0..20 {
            requests.push(server.recv().await);
        }
        let mut ids: Vec<&str> = requests.iter().map(|r| r["id"].as_str().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20, "every call has an id of its own");
        for request in requests.iter().rev() {
            server.answer(request, json!({"n": request["params"]["n"]}));
        }
    };
    let (answers, ()) = tokio::join!(join_all(calls), serve);
    for (n, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.unwrap(), json!({"n": n}));
    }
    assert_eq!(upstream.waiting(), (0, 0));
}

#[tokio::test]
async fn progress_reaches_its_caller_with_the_callers_token() {
    let (upstream, mut server) = connected().await;
    let (progress, mut got) = mpsc::unbounded_channel();
    let params = json!({"name": "sleep", "_meta": {"progressToken": "client-7"}});
    let call = upstream.request("tools/call", params, Some(progress));
    let serve = async {
        let request = server.recv().await;
        let token = request["params"]["_meta"]["progressToken"].clone();
        assert_ne!(token, json!("client-7"));
        for (step, token) in [(1, token.clone()), (2, json!("someone-else")), (3, token)] {
            server.send(json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": step}}));
        }
        server.answer(&request, json!({"done": true}));
    };
    let (answer, ()) = tokio::join!(call, serve);
    assert_eq!(answer.unwrap(), json!({"done": true}));
    let mut seen = Vec::new();
    while let Ok(note) = got.try_recv() {
        seen.push(note);
    }
    assert_eq!(
        seen,
        [1, 3].map(|step| json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "client-7", "progress": step}}))
    );
    assert_eq!(upstream.waiting(), (0, 0), "the progress route is gone too");
}

#[tokio::test]
async fn dropping_a_call_cancels_it_on_the_server_and_frees_its_entry() {
    let (upstream, mut server) = connected().await;
    let (progress, _got) = mpsc::unbounded_channel();
    let call = {
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            let params = json!({"name": "sleep", "_meta": {"progressToken": 1}});
            upstream.request("tools/call", params, Some(progress)).await
        })
    };
    let request = server.recv().await;
    assert_eq!(upstream.waiting(), (1, 1));
    call.abort();
    let cancelled = server.recv().await;
    assert_eq!(
        cancelled,
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request["id"], "reason": "the client no longer waits for the answer"}})
    );
    assert_eq!(upstream.waiting(), (0, 0));
    // A late answer to the cancelled call goes nowhere, and the next call still works.
    server.answer(&request, json!({"late": true}));
    let next = upstream.request("ping", Value::Null, None);
    let serve = async {
        let ping = server.recv().await;
        assert_eq!(ping["method"], "ping");
        assert!(ping.get("params").is_none());
        server.answer(&ping, json!({}));
    };
    let (answer, ()) = tokio::join!(next, serve);
    assert_eq!(answer.unwrap(), json!({}));
}

#[tokio::test]
async fn lines_that_are_not_json_rpc_are_ignored_and_split_frames_reassembled() {
    let (upstream, mut server) = connected().await;
    let call = upstream.request("tools/list", json!({}), None);
    let serve = async {
        let request = server.recv().await;
        server.raw(b"mcp server v1 listening on stdio\n{not json\n");
        server.raw(
            b"[1, 2]\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\r\n",
        );
        let answer =
            json!({"jsonrpc": "2.0", "id": request["id"], "result": {"tools": []}}).to_string();
        let (a, b) = answer.split_at(10);
        let (b, c) = b.split_at(b.len() / 2);
        server.raw(a.as_bytes());
        server.raw(b.as_bytes());
        server.raw(format!("{c}\n").as_bytes());
    };
    let mut notes = upstream.subscribe();
    let (answer, ()) = tokio::join!(call, serve);
    assert_eq!(answer.unwrap(), json!({"tools": []}));
    assert_eq!(
        notes.recv().await.unwrap()["method"],
        "notifications/message"
    );
    assert!(upstream.is_alive());
}

#[tokio::test]
async fn a_server_that_dies_fails_every_waiting_call_naming_itself() {
    let (upstream, mut server) = connected().await;
    let mut notes = upstream.subscribe();
    let calls = join_all((0..2).map(|_| upstream.request("tools/call", json!({}), None)));
    let serve = async {
        server.recv().await;
        server.recv().await;
        server
            .output
            .send(Ok(Output::Stderr(b"panic: oh no\n".to_vec())))
            .unwrap();
        // The output ends, as it does when the container exits.
        drop(server.output);
        server.stdin
    };
    let (answers, stdin) = tokio::join!(calls, serve);
    for answer in answers {
        let e = answer.unwrap_err();
        assert_eq!(e.code, rpc::SERVER_UNAVAILABLE);
        assert_eq!(
            e.message,
            "server echo stopped mid-call (its container exited); retry once it runs again"
        );
    }
    assert!(!upstream.is_alive());
    upstream.closed().await;
    assert_eq!(notes.recv().await, Err(broadcast::error::RecvError::Closed));
    assert_eq!(
        upstream.subscribe().recv().await,
        Err(broadcast::error::RecvError::Closed)
    );
    let later = upstream
        .request("ping", Value::Null, None)
        .await
        .unwrap_err();
    assert_eq!(
        later.message,
        "server echo is not running (its container exited); retry once it runs again"
    );
    assert!(upstream
        .notify("notifications/roots/list_changed", Value::Null)
        .await
        .is_err());
    let mut server = Server {
        stdin,
        output: mpsc::unbounded_channel().0,
    };
    assert!(server.stdin_closed().await, "the writer let go of stdin");
    tokio::time::timeout(Duration::from_secs(5), async {
        while !upstream.tasks_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("both tasks end");
}

#[tokio::test]
async fn dropping_the_last_handle_closes_the_attachment() {
    let (upstream, mut server) = connected().await;
    let subscriber = upstream.subscribe();
    drop(upstream);
    assert!(server.stdin_closed().await, "stdin is let go");
    tokio::time::timeout(Duration::from_secs(5), server.output.closed())
        .await
        .expect("the output is let go");
    drop(subscriber);
}

#[tokio::test]
async fn list_changed_reaches_every_subscriber_and_progress_none() {
    let (upstream, server) = connected().await;
    let (mut a, mut b) = (upstream.subscribe(), upstream.subscribe());
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "x", "progress": 1}}));
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"});
    server.send(changed.clone());
    assert_eq!(a.recv().await.unwrap(), changed);
    assert_eq!(b.recv().await.unwrap(), changed);
}

#[tokio::test]
async fn server_requests_get_ping_answered_and_the_rest_refused() {
    let (_upstream, mut server) = connected().await;
    server.send(json!({"jsonrpc": "2.0", "id": 5, "method": "ping"}));
    assert_eq!(
        server.recv().await,
        json!({"jsonrpc": "2.0", "id": 5, "result": {}})
    );
    server.send(
        json!({"jsonrpc": "2.0", "id": "s1", "method": "sampling/createMessage", "params": {}}),
    );
    let refused = server.recv().await;
    assert_eq!(refused["id"], "s1");
    assert_eq!(refused["error"]["code"], rpc::METHOD_NOT_FOUND);
    assert_eq!(
        refused["error"]["message"],
        "mcp-portal does not relay sampling/createMessage from server echo to clients yet"
    );
}

#[tokio::test]
async fn client_notifications_are_forwarded_but_not_initialized_or_cancelled() {
    let (upstream, mut server) = connected().await;
    for method in ["notifications/initialized", "notifications/cancelled"] {
        upstream.notify(method, json!({})).await.unwrap();
    }
    upstream
        .notify("notifications/roots/list_changed", Value::Null)
        .await
        .unwrap();
    assert_eq!(
        server.recv().await,
        json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
    );
}

#[tokio::test]
async fn a_server_error_answer_comes_back_as_it_was() {
    let (upstream, mut server) = connected().await;
    let call = upstream.request("tools/call", json!({"name": "nope"}), None);
    let serve = async {
        let request = server.recv().await;
        server.send(json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32602, "message": "Unknown tool", "data": {"name": "nope"}}}));
    };
    let (answer, ()) = tokio::join!(call, serve);
    assert_eq!(
        answer.unwrap_err(),
        RpcError::new(rpc::INVALID_PARAMS, "Unknown tool").with_data(json!({"name": "nope"}))
    );
}
