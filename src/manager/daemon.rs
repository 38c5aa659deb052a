//! `portalctl serve`: keeps the actual containers equal to what users enabled.
//!
//! One loop reconciles at start, then again on Docker events (die, oom, destroy, network
//! removal), on changes under the data folder (the CLI's writes), on changes in a watched
//! catalog folder, and on a periodic resync. Between passes it probes health checks. A
//! container that exits or turns unhealthy is restarted with exponential backoff; after
//! the retry limit it is marked failed and left alone. SIGTERM ends the loop between
//! passes: in-flight work finishes, user containers keep running.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use notify::Watcher;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::containers::Runtime;
use super::{AuditAction, Portal, Result};
use crate::catalog::merge::MergedServer;
use crate::catalog::model::{HealthCheck, HealthKind};
use crate::engine::Engine;
use crate::error::AuditResult;
use crate::ids::{CatalogName, ServerId, UserId};
use crate::plan::{
    container_name, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_SERVER, LABEL_SPEC_HASH, LABEL_USER,
    MANAGED_BY,
};
use crate::reconcile::{self, Action, Have, Want};
use crate::store::{ContainerHealth, DaemonState};

/// What one reconcile pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    pub actions: Vec<Action>,
    pub errors: Vec<String>,
    pub millis: u128,
}

/// A health check to run against a running container.
#[derive(Debug, Clone)]
struct Probe {
    check: HealthCheck,
    port: Option<u16>,
}

/// Per-container state the daemon keeps between passes.
#[derive(Debug, Clone, Default)]
struct Tracked {
    saved: ContainerHealth,
    next_try: Option<Instant>,
    failures: u32,
    /// Failed creates in a row: they back off like restarts, so a server that cannot be
    /// made (no image, no secret) is not retried on every pass.
    create_failures: u32,
    /// When it was last restarted: a long enough healthy run since then clears the count.
    last_restart: Option<Instant>,
    last_probe: Option<Instant>,
    probe: Option<Probe>,
}

/// How long a restarted server must run quietly before its restart count starts over.
const FORGIVE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Reconcile,
    CatalogFolder,
}

pub struct Daemon<E: Engine + 'static> {
    rt: Arc<Runtime<E>>,
    tracked: tokio::sync::Mutex<BTreeMap<String, Tracked>>,
    catalog_dir: Option<PathBuf>,
}

impl<E: Engine + 'static> std::fmt::Debug for Daemon<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("catalog_dir", &self.catalog_dir)
            .finish_non_exhaustive()
    }
}

fn ignore_path(p: &Path) -> bool {
    p.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

impl<E: Engine + 'static> Daemon<E> {
    pub fn new(portal: Portal, engine: E, catalog_dir: Option<PathBuf>) -> Self {
        let portal = portal.with_actor("daemon");
        Self {
            rt: Arc::new(Runtime::new(portal, engine)),
            tracked: Default::default(),
            catalog_dir,
        }
    }

    fn portal(&self) -> &Portal {
        self.rt.portal()
    }

    /// The container runtime the daemon acts through (the API shares it).
    pub fn runtime(&self) -> Arc<Runtime<E>> {
        Arc::clone(&self.rt)
    }

    /// Runs until `shutdown` completes; returns after the pass in flight has finished.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Wake>();
        let _watchers = self.watch(tx.clone());
        let mut events = self.rt.engine().events(&[
            (LABEL_MANAGED_BY, MANAGED_BY),
            (LABEL_INSTANCE, &self.portal().config.runtime.instance),
        ]);
        let cfg = self.portal().config.daemon;
        let mut resync = tokio::time::interval(Duration::from_secs(cfg.resync_secs));
        let mut health = tokio::time::interval(Duration::from_millis(500));
        let debounce = Duration::from_millis(cfg.debounce_ms);
        tokio::pin!(shutdown);

        if self.catalog_dir.is_some() {
            self.sync_catalog_folder().await;
        }
        self.pass().await;
        loop {
            let wake = tokio::select! {
                () = &mut shutdown => break,
                _ = resync.tick() => Some(Wake::Reconcile),
                _ = health.tick() => {
                    if self.probe_health().await {
                        Some(Wake::Reconcile)
                    } else {
                        None
                    }
                }
                ev = events.next() => match ev {
                    Some(Ok(e)) => {
                        let wanted = matches!(e.action.as_str(), "die" | "oom" | "destroy" | "stop" | "kill")
                            || (e.kind == "network" && e.action == "destroy");
                        tracing::debug!(kind = %e.kind, action = %e.action, name = %e.name, "docker event");
                        wanted.then_some(Wake::Reconcile)
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "docker event stream failed; resubscribing");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        events = self.rt.engine().events(&[
                            (LABEL_MANAGED_BY, MANAGED_BY),
                            (LABEL_INSTANCE, &self.portal().config.runtime.instance),
                        ]);
                        Some(Wake::Reconcile)
                    }
                                        None => {
                        // The stream ended (dockerd restarted, say): subscribe again.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        events = self.rt.engine().events(&[
                            (LABEL_MANAGED_BY, MANAGED_BY),
                            (LABEL_INSTANCE, &self.portal().config.runtime.instance),
                        ]);
                        Some(Wake::Reconcile)
                    }
                },
                w = rx.recv() => w,
            };
            let Some(mut wake) = wake else { continue };
            // Debounce: whatever else arrives in the window is handled by the same pass.
            tokio::time::sleep(debounce).await;
            while let Ok(w) = rx.try_recv() {
                if w == Wake::CatalogFolder {
                    wake = w;
                }
            }
            if wake == Wake::CatalogFolder {
                self.sync_catalog_folder().await;
            }
            self.pass().await;
        }
        tracing::info!("shutting down; user containers keep running");
        Ok(())
    }

    async fn pass(&self) {
        match self.reconcile().await {
            Ok(r) if r.actions.is_empty() && r.errors.is_empty() => {
                tracing::debug!(millis = r.millis as u64, "in sync");
            }
            Ok(r) => {
                tracing::info!(
                    actions = r.actions.len(),
                    errors = r.errors.len(),
                    millis = r.millis as u64,
                    "reconciled"
                );
                for e in &r.errors {
                    tracing::warn!(error = %e, "reconcile");
                }
            }
            Err(e) => tracing::error!(error = %e, "reconcile failed"),
        }
    }

    /// Watches the data folder (the CLI's changes) and the catalog folder, if any.
    fn watch(&self, tx: mpsc::UnboundedSender<Wake>) -> Vec<notify::RecommendedWatcher> {
        let mut watchers = Vec::new();
        let root = self.portal().store.root().to_path_buf();
        let data_tx = tx.clone();
        let data = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if ev
                    .paths
                    .iter()
                    .any(|p| !ignore_path(p.strip_prefix(&root).unwrap_or(p)))
                {
                    let _ = data_tx.send(Wake::Reconcile);
                }
            }
        });
        let portal_root = self.portal().store.root().to_path_buf();
        match data {
            Ok(mut w) => {
                for dir in ["catalogs", "users"] {
                    if let Err(e) =
                        w.watch(&portal_root.join(dir), notify::RecursiveMode::Recursive)
                    {
                        tracing::warn!(error = %e, dir, "cannot watch the data folder; relying on the periodic resync");
                    }
                }
                watchers.push(w);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch files; relying on the periodic resync")
            }
        }
        if let Some(dir) = &self.catalog_dir {
            let folder_tx = tx;
            match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.is_ok() {
                    let _ = folder_tx.send(Wake::CatalogFolder);
                }
            }) {
                Ok(mut w) => {
                    if let Err(e) = w.watch(dir, notify::RecursiveMode::Recursive) {
                        tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the catalog folder");
                    }
                    watchers.push(w);
                }
                Err(e) => tracing::warn!(error = %e, "cannot watch the catalog folder"),
            }
        }
        watchers
    }

    /// Uploads every catalog (`DIR/*.yaml|yml|json`) and overlay (`DIR/overlays/*`) of the
    /// watched folder whose content changed. An invalid file is refused whole: the last
    /// good revision stays in force, and the refusal goes to the log and the audit log.
    pub async fn sync_catalog_folder(&self) {
        let Some(dir) = self.catalog_dir.clone() else {
            return;
        };
        let portal = self.portal().clone();
        let result = tokio::task::spawn_blocking(move || sync_folder(&portal, &dir)).await;
        if let Err(e) = result {
            tracing::error!(error = %e, "catalog folder sync failed");
        }
    }

    /// One reconcile pass: plan from desired and actual state, then act.
    pub async fn reconcile(&self) -> Result<ReconcileReport> {
        let started = Instant::now();
        let portal = self.portal().clone();
        let cfg = portal.config.daemon;
        self.rt.ensure_allocations().await?;
        let (want, probes) = self.wants().await?;
        let containers = self
            .rt
            .engine()
            .containers(&[
                (LABEL_MANAGED_BY, MANAGED_BY),
                (LABEL_INSTANCE, &portal.config.runtime.instance),
            ])
            .await?;
        let ids: HashMap<String, String> = containers
            .iter()
            .map(|c| (c.name.clone(), c.id.clone()))
            .collect();
        let mut have: BTreeMap<String, Have> = containers
            .iter()
            .map(|c| {
                let h = Have {
                    user: c.label(LABEL_USER).unwrap_or_default().into(),
                    server: c.label(LABEL_SERVER).unwrap_or_default().into(),
                    spec_hash: c.label(LABEL_SPEC_HASH).unwrap_or_default().into(),
                    running: c.running(),
                    // Filled in below from the daemon's record, once a remade one is reset.
                    outdated: false,
                };
                (c.name.clone(), h)
            })
            .collect();

        let mut tracked = self.tracked.lock().await;
        // A container made anew (by hand, or by the CLI) starts with a clean record.
        for (name, t) in tracked.iter_mut() {
            if let Some(id) = ids.get(name) {
                if !t.saved.container_id.is_empty() && &t.saved.container_id != id {
                    *t = Tracked::default();
                }
                t.saved.container_id = id.clone();
            }
        }
        tracked.retain(|name, _| want.contains_key(name));
        for (name, h) in have.iter_mut() {
            h.outdated = tracked.get(name).is_some_and(|t| t.saved.outdated);
        }
        // Restarts count towards the limit only while they come close together: after
        // a quiet, running stretch (`FORGIVE` past the last one) the count starts over.
        for (name, t) in tracked.iter_mut() {
            let running = have.get(name).is_some_and(|h| h.running);
            if running && !t.saved.failed && t.last_restart.is_some_and(|l| l.elapsed() >= FORGIVE)
            {
                t.saved.restarts = 0;
                t.last_restart = None;
            }
        }
        for (name, probe) in probes {
            tracked.entry(name).or_default().probe = probe;
        }
        let now = Instant::now();
        let hold: BTreeSet<String> = tracked
            .iter()
            .filter(|(_, t)| t.saved.failed || t.next_try.is_some_and(|n| n > now))
            .map(|(n, _)| n.clone())
            .collect();
        let actions = reconcile::plan(&want, &have, cfg.update_policy, &hold);
        drop(tracked);

        let mut report = ReconcileReport {
            actions: actions.clone(),
            ..Default::default()
        };
        for action in actions {
            if let Err(e) = self.act(&action).await {
                report.errors.push(e);
            }
        }
        let mut tracked = self.tracked.lock().await;
        for (name, w) in &want {
            let t = tracked.entry(name.clone()).or_default();
            match &w.error {
                Some(e) => t.saved.last_error = Some(e.clone()),
                None if t
                    .saved
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("cannot plan: ")) =>
                {
                    t.saved.last_error = None
                }
                None => {}
            }
        }
        let state = DaemonState {
            containers: tracked
                .iter()
                .map(|(n, t)| (n.clone(), t.saved.clone()))
                .collect(),
            updated_at: Some(Portal::now()),
        };
        drop(tracked);
        portal.store.write_daemon_state(&state)?;
        report.millis = started.elapsed().as_millis();
        Ok(report)
    }

    /// Desired containers (with their planned spec hash) and their health checks.
    async fn wants(&self) -> Result<(BTreeMap<String, Want>, BTreeMap<String, Option<Probe>>)> {
        let portal = self.portal();
        let allocs = portal.store.read_allocations()?.unwrap_or_default();
        let mut want = BTreeMap::new();
        let mut probes = BTreeMap::new();
        let mut image_users: HashMap<String, std::result::Result<String, String>> = HashMap::new();
        for user in portal.store.user_ids()? {
            // One user's damaged file must not stop everyone else's containers.
            let enabled = match portal.store.read_enabled(&user) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(user = %user, error = %e, "cannot read what the user enabled; skipped");
                    continue;
                }
            };
            if enabled.servers.is_empty() {
                continue;
            }
            let merged = portal.servers(&user);
            for (server, entry) in enabled.servers {
                let name = container_name(&user, server.as_str());
                let mut w = Want {
                    user: user.to_string(),
                    server: server.to_string(),
                    spec_hash: None,
                    error: None,
                };
                let def: Option<Arc<MergedServer>> = match &merged {
                    Ok(m) => m.servers.iter().find(|s| s.def.id == server).cloned(),
                    Err(e) => {
                        w.error = Some(format!("cannot plan: {e}"));
                        None
                    }
                };
                let Some(def) = def else {
                    if w.error.is_none() {
                        w.error = Some(format!(
                            "cannot plan: server {server} is no longer in the catalog of {user}"
                        ));
                    }
                    want.insert(name, w);
                    continue;
                };
                let image = def.def.image.clone();
                if !image_users.contains_key(&image) {
                    // A missing image plans as if it had no USER (creating it pulls it); one
                    // that cannot be inspected is not planned at all this pass, so a
                    // passing hiccup never recreates a running container.
                    let u = self
                        .rt
                        .engine()
                        .image_user(&image)
                        .await
                        .map(Option::unwrap_or_default);
                    image_users.insert(image.clone(), u.map_err(|e| e.to_string()));
                }
                let image_user = match &image_users[&image] {
                    Ok(u) => u.clone(),
                    Err(e) => {
                        w.error = Some(format!("cannot plan: {e}"));
                        want.insert(name, w);
                        continue;
                    }
                };
                let port = allocs
                    .users
                    .get(&user)
                    .and_then(|a| a.ports.get(&server).copied());
                match self
                    .rt
                    .spec_for(&user, &def, &entry.settings, port, &image_user)
                {
                    Ok((_, hash, _)) => w.spec_hash = Some(hash),
                    Err(e) => w.error = Some(format!("cannot plan: {e}")),
                }
                probes.insert(
                    name.clone(),
                    def.def
                        .health_check
                        .clone()
                        .map(|check| Probe { check, port }),
                );
                want.insert(name, w);
            }
        }
        Ok((want, probes))
    }

    async fn act(&self, action: &Action) -> std::result::Result<(), String> {
        let portal = self.portal();
        let ids = |user: &str, server: &str| -> std::result::Result<(UserId, ServerId), String> {
            Ok((
                UserId::parse(user).map_err(|e| e.to_string())?,
                ServerId::parse(server).map_err(|e| e.to_string())?,
            ))
        };
        let (result, user, what, resource): (
            std::result::Result<(), String>,
            Option<String>,
            AuditAction,
            String,
        ) = match action {
            Action::Create { name, user, server } | Action::Recreate { name, user, server } => {
                let (u, s) = ids(user, server)?;
                let r = self
                    .rt
                    .converge(&u, &s)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string());
                let backoff = portal.config.daemon.backoff_ms;
                let mut tracked = self.tracked.lock().await;
                let t = tracked.entry(name.clone()).or_default();
                match &r {
                    Ok(()) => {
                        t.create_failures = 0;
                        t.saved.outdated = false;
                    }
                    Err(e) => {
                        t.saved.last_error = Some(e.clone());
                        t.create_failures += 1;
                        let wait = backoff
                            .saturating_mul(1 << (t.create_failures - 1).min(16))
                            .min(300_000);
                        t.next_try = Some(Instant::now() + Duration::from_millis(wait));
                    }
                }
                drop(tracked);
                let what = if matches!(action, Action::Create { .. }) {
                    AuditAction::ReconcileCreate
                } else {
                    AuditAction::ReconcileRecreate
                };
                (r, Some(user.clone()), what, server.clone())
            }
            Action::Restart { name, user, server } => {
                let r = self.restart(name, user, server).await;
                (
                    r,
                    Some(user.clone()),
                    AuditAction::ReconcileRestart,
                    server.clone(),
                )
            }
            Action::Remove { name } => match self.rt.remove_orphan(name).await {
                Ok(false) => return Ok(()),
                r => (
                    r.map(drop).map_err(|e| e.to_string()),
                    None,
                    AuditAction::ReconcileRemoveOrphan,
                    name.clone(),
                ),
            },
            Action::MarkOutdated { name } | Action::ClearOutdated { name } => {
                self.tracked
                    .lock()
                    .await
                    .entry(name.clone())
                    .or_default()
                    .saved
                    .outdated = matches!(action, Action::MarkOutdated { .. });
                return Ok(());
            }
        };
        let outcome = if result.is_ok() {
            AuditResult::Ok
        } else {
            AuditResult::Failed
        };
        let detail = result.as_ref().err().cloned();
        if let Err(e) = portal.audit_outcome(user.as_deref(), what, &resource, outcome, detail) {
            tracing::warn!(error = %e, "cannot write the audit log");
        }
        result
    }

    /// Restarts a stopped or unhealthy container, or marks it failed after the retry limit.
    async fn restart(
        &self,
        name: &str,
        user: &str,
        server: &str,
    ) -> std::result::Result<(), String> {
        let cfg = self.portal().config.daemon;
        let info = self
            .rt
            .engine()
            .container(name)
            .await
            .map_err(|e| e.to_string())?;
        let why = info
            .map(|c| match (c.exit_code, c.error) {
                (Some(code), Some(e)) => format!("exited with code {code}: {e}"),
                (Some(code), None) => format!("exited with code {code}"),
                (None, _) => format!("is {}", c.state),
            })
            .unwrap_or_else(|| "is gone".into());
        {
            let mut tracked = self.tracked.lock().await;
            let t = tracked.entry(name.to_string()).or_default();
            if t.saved.restarts >= cfg.max_restarts {
                t.saved.failed = true;
                t.saved.health = "failed".into();
                t.saved.last_error = Some(format!(
                    "{why}; gave up after {} restarts",
                    t.saved.restarts
                ));
                return Err(format!(
                    "{name} marked failed: {why} after {} restarts",
                    t.saved.restarts
                ));
            }
        }
        let u = UserId::parse(user).map_err(|e| e.to_string())?;
        let s = ServerId::parse(server).map_err(|e| e.to_string())?;
        let result = self.rt.restart_stopped(&u, &s).await;
        let mut tracked = self.tracked.lock().await;
        let t = tracked.entry(name.to_string()).or_default();
        match result {
            // Started meanwhile by an enable that held the lock: not a restart.
            Ok(None) => Ok(()),
            outcome => {
                t.saved.restarts += 1;
                t.last_restart = Some(Instant::now());
                t.saved.last_error = Some(why);
                let factor = 1u64 << (t.saved.restarts - 1).min(16);
                let wait = (cfg.backoff_ms.saturating_mul(factor)).min(300_000);
                t.next_try = Some(Instant::now() + Duration::from_millis(wait));
                t.failures = 0;
                drop(tracked);
                match outcome {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // A container Docker cannot start again (its network was removed,
                        // say) is removed, so a later pass makes it anew, network included.
                        // One that starts and crashes stays, and counts towards the limit.
                        if matches!(e.primary(), super::PortalError::Engine(_)) {
                            let stop = self.portal().config.runtime.stop_timeout_secs;
                            let _ = self.rt.engine().remove_container(name, stop).await;
                        }
                        Err(e.to_string())
                    }
                }
            }
        }
    }

    /// Runs the health checks that are due; true when one turned a container unhealthy.
    async fn probe_health(&self) -> bool {
        let bind = self.portal().config.runtime.bind_address.clone();
        let due: Vec<(String, Probe)> = {
            let tracked = self.tracked.lock().await;
            let now = Instant::now();
            tracked
                .iter()
                .filter(|(_, t)| !t.saved.failed)
                .filter_map(|(n, t)| {
                    let p = t.probe.clone()?;
                    let interval = p
                        .check
                        .interval
                        .map_or(Duration::from_secs(30), |d| d.as_std());
                    let is_due = t
                        .last_probe
                        .is_none_or(|l| now.duration_since(l) >= interval);
                    (is_due && p.check.kind != HealthKind::Process && p.port.is_some())
                        .then(|| (n.clone(), p))
                })
                .collect()
        };
        let mut turned = false;
        for (name, p) in due {
            let ok = probe(&bind, &p).await;
            let mut tracked = self.tracked.lock().await;
            let t = tracked.entry(name.clone()).or_default();
            t.last_probe = Some(Instant::now());
            if ok {
                t.failures = 0;
                t.saved.health = "healthy".into();
            } else {
                t.failures += 1;
                let retries = p.check.retries.unwrap_or(3);
                if t.failures >= retries && t.saved.health != "unhealthy" {
                    t.saved.health = "unhealthy".into();
                    t.saved.last_error = Some(format!("health check failed {} times", t.failures));
                    tracing::warn!(container = %name, "unhealthy; restarting");
                    drop(tracked);
                    let (user, server) = {
                        let c = self.rt.engine().container(&name).await.ok().flatten();
                        let label = |k| {
                            c.as_ref()
                                .and_then(|c| c.label(k).map(str::to_string))
                                .unwrap_or_default()
                        };
                        (label(LABEL_USER), label(LABEL_SERVER))
                    };
                    if let Err(e) = self.restart(&name, &user, &server).await {
                        tracing::warn!(container = %name, error = %e, "restart failed");
                    }
                    turned = true;
                }
            }
        }
        turned
    }
}

/// One health check against the host port of a container.
async fn probe(bind: &str, p: &Probe) -> bool {
    let Some(port) = p.port else { return false };
    let timeout = p
        .check
        .timeout
        .map_or(Duration::from_secs(5), |d| d.as_std());
    let host = if bind == "0.0.0.0" { "127.0.0.1" } else { bind };
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let request = match p.check.kind {
            HealthKind::Tcp | HealthKind::Process => return Some(true),
            HealthKind::Http => {
                let path = p.check.path.as_deref().unwrap_or("/");
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            }
            HealthKind::Mcp => {
                let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-portal-health","version":"1"}}}"#;
                format!(
                    "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
        };
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = vec![0u8; 512];
        let n = stream.read(&mut head).await.ok()?;
        let line = String::from_utf8_lossy(&head[..n]);
        let status = line.split_whitespace().nth(1)?.parse::<u16>().ok()?;
        let ok = (200..300).contains(&status);
        Some(ok && (p.check.kind != HealthKind::Mcp || line.contains("protocolVersion")))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn sync_folder(portal: &Portal, dir: &Path) {
    // Hidden files (editors' swap and temporary files) are not catalogs.
    let hidden = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    };
    let is_catalog = |p: &Path| {
        p.is_file()
            && matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
            && !hidden(p)
    };
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| is_catalog(p))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let stem = |p: &Path| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| CatalogName::parse(s).ok())
    };
    for path in list(dir) {
        let Some(name) = stem(&path) else {
            tracing::warn!(file = %path.display(), "file name is not a catalog name; skipped");
            continue;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let file = path.display().to_string();
        let r = portal.upload_catalog(&file, &bytes, Some(name.clone()));
        match &r {
            Ok(rep) if rep.changed => {
                tracing::info!(catalog = %name, revision = rep.revision, "catalog updated from the watched folder")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(catalog = %name, error = %e, "catalog refused; the last good revision stays in force")
            }
        }
    }
    for path in list(&dir.join("overlays")) {
        let Some(name) = stem(&path) else { continue };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let current = portal
            .store
            .read_overlay(&name)
            .ok()
            .flatten()
            .map(|o| o.value.sha256);
        if current.as_deref() == Some(crate::store::sha256_hex(&bytes).as_str()) {
            continue;
        }
        let file = path.display().to_string();
        let r = portal.upload_overlay(&file, &bytes, name.clone());
        if let Err(e) = &r {
            tracing::warn!(overlay = %name, error = %e, "overlay refused; the last good version stays in force");
        }
    }
}
