//! The MCP gateway: every user's enabled servers behind one authenticated endpoint
//! (`/mcp`, or `/mcp/{server}` for one alone). The HTTP side (api/routes/mcp.rs) checks
//! the caller and the protocol generation; this module answers MCP methods for a user,
//! over one shared connection per server (stdio attachment or HTTP session), merging
//! lists and routing calls by name.
//!
//! The protocol is handled as JSON-RPC values rather than through `rmcp`'s typed models:
//! the gateway forwards what servers say (fields of any protocol version included)
//! without knowing each method, rewrites ids and names, and speaks a protocol
//! generation (2026-07-28) that `rmcp` does not model.

pub mod aggregate;
pub mod http;
pub mod pool;
pub mod protocol;
pub mod rpc;
pub mod session;
pub mod sse;
pub mod stdio;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use aggregate::{Kind, Route};
use pool::{Conn, Pool};
use protocol::ClientInfo;
use rpc::RpcError;
use session::Sessions;

use crate::config::GatewayConfig;
use crate::engine::Engine;
use crate::error::AuditResult;
use crate::ids::{ServerId, UserId};
use crate::manager::{AuditAction, McpTarget, Runtime};

/// Who is asking, through which endpoint.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserId,
    /// The id (never the value) of the token the caller came with.
    pub token: String,
    pub only: Option<ServerId>,
    pub client: ClientInfo,
}

/// How busy the gateway is, for `GET /api/v1/admin/gateway` and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GatewayStats {
    pub sessions: usize,
    pub connections: usize,
    pub in_flight: usize,
}

#[derive(Debug)]
pub struct Gateway<E> {
    rt: Arc<Runtime<E>>,
    pub pool: Pool<E>,
    pub sessions: Sessions,
    pub config: GatewayConfig,
    routes: Mutex<HashMap<(UserId, Kind), BTreeMap<String, Route>>>,
    /// Requests being answered, of either generation.
    calls: Arc<AtomicUsize>,
    /// Each user's enabled servers, as read last, and when.
    targets: Mutex<HashMap<UserId, Fresh>>,
    /// Each server's last whole list of each kind, served while the server is idle so
    /// that a client listing everything does not start every idle server.
    listed: Mutex<HashMap<(UserId, ServerId, Kind), Vec<Value>>>,
}

/// A user's enabled servers and when they were read.
type Fresh = (Instant, Arc<Vec<McpTarget>>);

/// How long a user's list of enabled servers is reused. Reading it means loading and
/// digesting every catalog, which would otherwise be most of a call's cost; an enable or
/// disable reaches the gateway within this time.
const TARGETS_FRESH: Duration = Duration::from_secs(1);

/// Counts one request in flight until it drops (answered, timed out or aborted).
#[derive(Debug)]
pub struct CallGuard(Arc<AtomicUsize>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The MCP methods the metrics name; any other is counted as `other`.
const METHODS: &[&str] = &[
    "ping",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
];

/// The gateway's own name and version, in handshakes and stateless results.
pub fn server_info() -> Value {
    json!({"name": "mcp-portal", "version": env!("CARGO_PKG_VERSION")})
}

impl<E: Engine + 'static> Gateway<E> {
    pub fn new(rt: Arc<Runtime<E>>, config: GatewayConfig) -> Arc<Self> {
        Arc::new(Self {
            pool: Pool::new(Arc::clone(&rt)),
            rt,
            sessions: Sessions::default(),
            config,
            routes: Mutex::new(HashMap::new()),
            calls: Arc::new(AtomicUsize::new(0)),
            targets: Mutex::new(HashMap::new()),
            listed: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a request in flight for as long as the guard lives.
    pub fn track(&self) -> CallGuard {
        self.calls.fetch_add(1, Ordering::Relaxed);
        CallGuard(Arc::clone(&self.calls))
    }

    pub fn stats(&self) -> GatewayStats {
        GatewayStats {
            sessions: self.sessions.len(),
            connections: self.pool.open(),
            in_flight: self.calls.load(Ordering::Relaxed),
        }
    }

    /// Drops idle sessions and connections, every few seconds, until the gateway goes.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let idle = Duration::from_secs(self.config.session_idle_secs);
        let every = (idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(g) = weak.upgrade() else { break };
                let portal = g.rt.portal().clone();
                let ended = g.sessions.sweep(idle, |token| portal.token_in_force(token));
                if ended > 0 {
                    tracing::info!(ended, "idle MCP sessions dropped");
                }
                g.pool.sweep(idle);
            }
        });
    }

    /// The servers the caller reaches, in id order.
    async fn targets(&self, caller: &Caller) -> Result<Vec<McpTarget>, RpcError> {
        let all = self.user_targets(&caller.user).await?;
        Ok(match &caller.only {
            Some(one) => all.iter().filter(|t| &t.server == one).cloned().collect(),
            None => all.to_vec(),
        })
    }

    async fn user_targets(&self, user: &UserId) -> Result<Arc<Vec<McpTarget>>, RpcError> {
        {
            let cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, list)) = cache.get(user) {
                if at.elapsed() < TARGETS_FRESH {
                    return Ok(Arc::clone(list));
                }
            }
        }
        let portal = self.rt.portal().clone();
        let owner = user.clone();
        let store = portal.store().clone();
        let list = tokio::task::spawn_blocking(move || portal.mcp_targets(&owner))
            .await
            .map_err(RpcError::internal)?
            // As the API's errors: no path says where the data folder is.
            .map_err(|e| RpcError::internal(store.relative(&e.to_string())))?;
        let list = Arc::new(list);
        let mut cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (at, _)| at.elapsed() < TARGETS_FRESH);
        cache.insert(user.clone(), (Instant::now(), Arc::clone(&list)));
        Ok(list)
    }

    async fn upstream(&self, caller: &Caller, server: &str) -> Result<Conn, RpcError> {
        let targets = self.targets(caller).await?;
        let t = targets
            .iter()
            .find(|t| t.server.as_str() == server)
            .ok_or_else(|| {
                RpcError::invalid_params(format!(
                    "user {} has no enabled server {server}; see `portalctl status --user {}`",
                    caller.user, caller.user
                ))
            })?;
        self.pool.get(&caller.user, t).await
    }

    /// What `initialize` (or `server/discover`) answers: for one server its own
    /// capabilities, for all of them what the gateway can merge.
    pub async fn capabilities(&self, caller: &Caller) -> (Value, String) {
        let targets = self.targets(caller).await.unwrap_or_default();
        let names: Vec<&str> = targets.iter().map(|t| t.server.as_str()).collect();
        if let Some(one) = &caller.only {
            let caps = match self.upstream(caller, one.as_str()).await {
                Ok(up) => up.initialized().await["capabilities"].clone(),
                Err(_) => json!({"tools": {}}),
            };
            return (
                caps,
                format!("mcp-portal: server {one} of user {}", caller.user),
            );
        }
        let caps = json!({
            "tools": {"listChanged": true},
            "prompts": {"listChanged": true},
            "resources": {"listChanged": true},
        });
        let text = format!(
            "mcp-portal: the servers of user {} ({}); their tools and prompts are named <server>__<name>",
            caller.user,
            names.join(", ")
        );
        (caps, text)
    }

    /// Answers one request (not `initialize`, which the HTTP side handles), counted in
    /// the metrics by method, server and outcome.
    pub async fn call(
        &self,
        caller: &Caller,
        method: &str,
        params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        let started = Instant::now();
        // Labels come from the caller's request: only known methods and the caller's own
        // servers name a series, so no client can make them without bound.
        let label = if METHODS.contains(&method) {
            method
        } else {
            "other"
        };
        let server = match &caller.only {
            Some(s) => s.to_string(),
            None => match params
                .get("name")
                .and_then(Value::as_str)
                .and_then(|n| n.split_once(aggregate::SEPARATOR))
            {
                Some((s, _)) => match self.targets(caller).await {
                    Ok(t) if t.iter().any(|t| t.server.as_str() == s) => s.to_string(),
                    _ => "unknown".to_string(),
                },
                None => "all".to_string(),
            },
        };
        let r = self.answer(caller, method, params, progress).await;
        let outcome = if r.is_ok() { "ok" } else { "error" };
        self.rt
            .portal()
            .metrics()
            .mcp_request(label, &server, outcome, started.elapsed());
        r
    }

    async fn answer(
        &self,
        caller: &Caller,
        method: &str,
        params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        if let Some(kind) = Kind::from_list_method(method) {
            return self.list(caller, kind).await;
        }
        match method {
            "ping" => Ok(json!({})),
            "tools/call" => self.tool_call(caller, params, progress).await,
            "prompts/get" => {
                self.routed(caller, Kind::Prompts, "name", method, params, progress)
                    .await
            }
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                self.routed(caller, Kind::Resources, "uri", method, params, progress)
                    .await
            }
            "completion/complete" => self.complete(caller, params).await,
            "logging/setLevel" => {
                for t in self.targets(caller).await? {
                    if let Ok(up) = self.upstream(caller, t.server.as_str()).await {
                        let _ = up.request(method, params.clone(), None).await;
                    }
                }
                Ok(json!({}))
            }
            _ => Err(RpcError::method_not_found(method)),
        }
    }

    /// A client notification: forwarded to the caller's servers that are connected (an
    /// idle server is not started for one: it holds nothing the notification updates).
    pub async fn notify(&self, caller: &Caller, method: &str, params: Value) {
        let Ok(targets) = self.targets(caller).await else {
            return;
        };
        for t in targets {
            if let Some(up) = self.pool.open_conn(&caller.user, &t).await {
                let _ = up.notify(method, params.clone()).await;
            }
        }
    }

    /// Every reachable server's items of one kind, merged. A server that fails is left
    /// out of the list (and logged): it never fails the list for the others.
    async fn list(&self, caller: &Caller, kind: Kind) -> Result<Value, RpcError> {
        let targets = self.targets(caller).await?;
        let method = match kind {
            Kind::Tools => "tools/list",
            Kind::Prompts => "prompts/list",
            Kind::Resources => "resources/list",
            Kind::ResourceTemplates => "resources/templates/list",
        };
        let lists = join_all(targets.iter().map(|t| async move {
            let items = self.list_one(caller, t, kind, method).await;
            (t.server.to_string(), items)
        }))
        .await;
        let mut ok = Vec::new();
        for (server, items) in lists {
            match items {
                Ok(items) => ok.push((server, items)),
                Err(e) => {
                    tracing::warn!(user = %caller.user, %server, error = %e, "{method}: server left out")
                }
            }
        }
        if caller.only.is_some() {
            let items: Vec<Value> = ok.into_iter().flat_map(|(_, i)| i).collect();
            return Ok(json!({ kind.field(): items }));
        }
        let merged = aggregate::merge(kind, &ok);
        for c in &merged.collisions {
            tracing::warn!(user = %caller.user, "{c}");
        }
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        routes.insert((caller.user.clone(), kind), merged.routes);
        Ok(json!({ kind.field(): merged.items }))
    }

    /// One server's whole list, following its pages; while it is idle, the list it gave
    /// last (a server that was never listed is started for it).
    async fn list_one(
        &self,
        caller: &Caller,
        t: &McpTarget,
        kind: Kind,
        method: &str,
    ) -> Result<Vec<Value>, RpcError> {
        let key = (caller.user.clone(), t.server.clone(), kind);
        if self.rt.activity().is_parked(&t.container) {
            let listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(items) = listed.get(&key) {
                return Ok(items.clone());
            }
        }
        let items = self.list_from(caller, t, kind, method).await?;
        let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        listed.insert(key, items.clone());
        Ok(items)
    }

    async fn list_from(
        &self,
        caller: &Caller,
        t: &McpTarget,
        kind: Kind,
        method: &str,
    ) -> Result<Vec<Value>, RpcError> {
        let up = self.pool.get(&caller.user, t).await?;
        let mut items = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..100 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let page = up.request(method, params, None).await?;
            if let Some(list) = page.get(kind.field()).and_then(Value::as_array) {
                items.extend(list.iter().filter(|item| offered(t, kind, item)).cloned());
            }
            cursor = page.get("nextCursor").filter(|c| !c.is_null()).cloned();
            if cursor.is_none() {
                break;
            }
        }
        Ok(items)
    }

    /// Where a name the caller sees leads: the server alone on `/mcp/{server}`, else the
    /// last listing's table, else the longest server id the name starts with.
    async fn route(&self, caller: &Caller, kind: Kind, name: &str) -> Result<Route, RpcError> {
        if let Some(one) = &caller.only {
            return Ok(Route {
                server: one.to_string(),
                name: name.to_string(),
            });
        }
        let known = {
            let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
            routes
                .get(&(caller.user.clone(), kind))
                .and_then(|r| r.get(name))
                .cloned()
        };
        if let Some(r) = known {
            return Ok(r);
        }
        if kind == Kind::Tools || kind == Kind::Prompts {
            let targets = self.targets(caller).await?;
            if let Some(r) =
                aggregate::route_by_prefix(name, targets.iter().map(|t| t.server.as_str()))
            {
                return Ok(r);
            }
        } else {
            // A resource nobody listed yet: list them, then look again.
            self.list(caller, kind).await?;
            let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = routes
                .get(&(caller.user.clone(), kind))
                .and_then(|r| r.get(name))
            {
                return Ok(r.clone());
            }
        }
        Err(RpcError::invalid_params(format!(
            "no server of user {} offers {name:?}; list them first (names are <server>{}<name>)",
            caller.user,
            aggregate::SEPARATOR
        )))
    }

    async fn routed(
        &self,
        caller: &Caller,
        kind: Kind,
        key: &str,
        method: &str,
        mut params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        let name = params
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params(format!("{method} needs params.{key}")))?
            .to_string();
        let route = self.route(caller, kind, &name).await?;
        params[key] = Value::String(route.name.clone());
        let up = self.upstream(caller, &route.server).await?;
        up.request(method, params, progress).await
    }

    async fn complete(&self, caller: &Caller, mut params: Value) -> Result<Value, RpcError> {
        let (kind, key) = match params["ref"]["type"].as_str() {
            Some("ref/prompt") => (Kind::Prompts, "name"),
            Some("ref/resource") => (Kind::Resources, "uri"),
            _ => return Err(RpcError::invalid_params("completion/complete needs a ref")),
        };
        let name = params["ref"][key].as_str().unwrap_or_default().to_string();
        let route = self.route(caller, kind, &name).await?;
        params["ref"][key] = Value::String(route.name.clone());
        let up = self.upstream(caller, &route.server).await?;
        up.request("completion/complete", params, None).await
    }

    /// Refuses a tool the user did not enable (a migrated Toolkit's tool list).
    async fn check_tool(&self, caller: &Caller, route: &Route) -> Result<(), RpcError> {
        let targets = self.targets(caller).await?;
        let hidden = targets
            .iter()
            .find(|t| t.server.as_str() == route.server)
            .is_some_and(|t| !t.offers_tool(&route.name));
        if hidden {
            return Err(RpcError::invalid_params(format!(
                "tool {} of server {} is not enabled for user {}: the tool list migrated from their Docker Desktop MCP Toolkit leaves it out",
                route.name, route.server, caller.user
            )));
        }
        Ok(())
    }

    /// `tools/call`, routed by name and written to the audit log.
    async fn tool_call(
        &self,
        caller: &Caller,
        params: Value,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Value, RpcError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let started = Instant::now();
        let arguments = params.get("arguments").cloned();
        let result = async {
            let route = self.route(caller, Kind::Tools, &name).await?;
            self.check_tool(caller, &route).await?;
            let mut params = params;
            params["name"] = Value::String(route.name.clone());
            let up = self.upstream(caller, &route.server).await?;
            let r = up.request("tools/call", params, progress).await;
            Ok::<_, RpcError>((route, r))
        }
        .await;
        let (resource, outcome) = match &result {
            Ok((route, r)) => (
                format!("{}/{}", route.server, route.name),
                r.as_ref().map(|_| ()).map_err(Clone::clone),
            ),
            Err(e) => (name.clone(), Err(e.clone())),
        };
        let mut detail = format!(
            "{} ms; client {}",
            started.elapsed().as_millis(),
            caller.client.label()
        );
        if let Err(e) = &outcome {
            detail.push_str(&format!("; error: {}", e.message));
        }
        if self.config.audit_tool_arguments {
            detail.push_str(&format!(
                "; arguments: {}",
                arguments.unwrap_or(Value::Null)
            ));
            if let Ok((_, Ok(r))) = &result {
                detail.push_str(&format!("; result: {r}"));
            }
        }
        let portal = self
            .rt
            .portal()
            .clone()
            .with_actor(&format!("mcp:{}", caller.user));
        let user = caller.user.clone();
        let audit = if outcome.is_ok() {
            AuditResult::Ok
        } else {
            AuditResult::Refused
        };
        tokio::task::spawn_blocking(move || {
            if let Err(e) = portal.audit_outcome(
                Some(user.as_str()),
                AuditAction::McpToolCall,
                &resource,
                audit,
                Some(detail),
            ) {
                tracing::warn!(error = %e, "cannot write the audit log");
            }
        });
        result?.1
    }
}

/// Whether a listed item is one the user may see: every item but a tool they did not
/// enable.
fn offered(t: &McpTarget, kind: Kind, item: &Value) -> bool {
    kind != Kind::Tools || item["name"].as_str().is_none_or(|n| t.offers_tool(n))
}
