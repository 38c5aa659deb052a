//! `portalctl serve`: keeps the actual containers equal to what users enabled.
//!
//! One loop reconciles at start, then again on Docker events (die, oom, destroy, network
//! removal), on changes under the data folder (the CLI's writes), on changes in a watched
//! catalog folder, and on a periodic resync. Between passes it probes health checks. A
//! container that exits or turns unhealthy is restarted with exponential backoff; after
//! the retry limit it is marked failed and left alone. SIGTERM ends the loop between
//! passes: in-flight work finishes, user containers keep running.

mod act;
mod feed;
mod folder;
mod idle;
mod policy;
mod probe;
mod record;
mod wants;
mod watch;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::policy::{Decision, RestartPolicy, Seen};
use self::probe::Probe;
use self::record::Tracked;
use super::containers::{is_proxy, proxy_pair, Runtime};
use super::{AuditAction, Portal, PortalError, Result};
use crate::engine::Engine;
use crate::plan::{LABEL_EGRESS, LABEL_SERVER, LABEL_SPEC_HASH, LABEL_USER};
use crate::reconcile::{self, Action, Have, Want};
use crate::store::DaemonState;

/// The egress proxies a pass found, apart from the servers' own containers.
#[derive(Debug, Default)]
struct Proxies {
    /// Each proxy's name, with the name of its pair's container.
    all: BTreeMap<String, String>,
    /// Each proxy's user.
    users: BTreeMap<String, String>,
    /// Servers' containers whose proxy is missing or stopped.
    down: BTreeSet<String>,
}

/// What one reconcile pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    pub actions: Vec<Action>,
    pub errors: Vec<String>,
    pub millis: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Reconcile,
    CatalogFolder,
}

pub struct Daemon<E: Engine + 'static> {
    rt: Arc<Runtime<E>>,
    tracked: tokio::sync::Mutex<BTreeMap<String, Tracked>>,
    policy: RestartPolicy,
    catalog_dir: Option<PathBuf>,
    refused: folder::Refused,
    /// What each managed container was last seen as, for the events' `old_status`
    /// (shared with the Docker event follower).
    feed: Arc<feed::Feed>,
    /// The containers with an idle timeout, as the last pass found them.
    idle: std::sync::Mutex<Vec<wants::IdleWatch>>,
}

impl<E: Engine + 'static> std::fmt::Debug for Daemon<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("catalog_dir", &self.catalog_dir)
            .finish_non_exhaustive()
    }
}

impl<E: Engine + 'static> Daemon<E> {
    pub fn new(portal: Portal, engine: E, catalog_dir: Option<PathBuf>) -> Self {
        let portal = portal.with_actor("daemon");
        let policy = RestartPolicy::from_config(&portal.config.daemon);
        Self {
            rt: Arc::new(Runtime::new(portal, engine)),
            tracked: Default::default(),
            policy,
            catalog_dir,
            refused: Default::default(),
            feed: Default::default(),
            idle: Default::default(),
        }
    }

    fn portal(&self) -> &Portal {
        self.rt.portal()
    }

    /// The labels that pick out this instance's managed containers.
    fn managed(&self) -> [(&'static str, &str); 2] {
        self.rt.managed()
    }

    /// The container runtime the daemon acts through (the API shares it).
    pub fn runtime(&self) -> Arc<Runtime<E>> {
        Arc::clone(&self.rt)
    }

    /// Runs until `shutdown` completes; returns after the pass in flight has finished.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        // One daemon per data folder: two would both restart every failed container.
        let store = &self.portal().store;
        let Some(_running) = store.daemon_lock()? else {
            return Err(PortalError::DaemonRunning {
                data_dir: store.root().to_path_buf(),
            });
        };
        // A secrets folder that is not a private tmpfs is refused now, not at the first
        // enable that needs it.
        store.secrets_tmpfs(&self.portal().config.secrets.tmpfs_dir)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Wake>();
        let _watchers = self.watch(tx.clone());
        let (mut events, follower) = self.follow();
        let cfg = self.portal().config.daemon;
        let mut resync = tokio::time::interval(Duration::from_secs(cfg.resync_secs));
        let mut health = tokio::time::interval(Duration::from_millis(500));
        let sampler = tokio::spawn(feed::sample(Arc::clone(&self.rt)));
        let debounce = Duration::from_millis(cfg.debounce_ms);
        tokio::pin!(shutdown);

        // The first sync is awaited, so the first pass sees the folder's catalogs.
        self.sync_catalog_folder().await;
        let folder = self.folder_task(debounce);
        self.pass().await;
        loop {
            let wake = tokio::select! {
                () = &mut shutdown => break,
                _ = resync.tick() => Some(Wake::Reconcile),
                _ = health.tick() => {
                    self.stop_idle().await;
                    if self.probe_health().await {
                        Some(Wake::Reconcile)
                    } else {
                        None
                    }
                }
                ev = events.recv() => match ev {
                    Some(ev) => self.on_event(ev),
                    // The follower never ends while the loop runs; if it panicked, the
                    // periodic resync still converges.
                    None => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        None
                    }
                },
                w = rx.recv() => w,
            };
            let Some(wake) = wake else { continue };
            if wake == Wake::CatalogFolder {
                if let Some((to_folder, _)) = &folder {
                    let _ = to_folder.send(());
                }
                continue;
            }
            // Debounce: whatever else arrives in the window is handled by the same pass.
            tokio::time::sleep(debounce).await;
            while let Ok(w) = rx.try_recv() {
                if w == Wake::CatalogFolder {
                    if let Some((to_folder, _)) = &folder {
                        let _ = to_folder.send(());
                    }
                }
            }
            self.pass().await;
        }
        if let Some((_, task)) = folder {
            task.abort();
        }
        sampler.abort();
        follower.abort();
        tracing::info!("shutting down; user containers keep running");
        Ok(())
    }

    async fn pass(&self) {
        // What the CLI changed on the host in the users' catalogs, told to the streams.
        let portal = self.portal().clone();
        let _ = tokio::task::spawn_blocking(move || portal.catch_up()).await;
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

    /// One reconcile pass: plan from desired and actual state, then act.
    pub async fn reconcile(&self) -> Result<ReconcileReport> {
        let started = Instant::now();
        self.rt.ensure_allocations().await?;
        let wants = self.wants().await?;
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = wants.idle;
        let want = wants.want;
        let (ids, mut have, renames, proxies) = self.observe().await?;
        let hold = self.refresh(&want, &mut have, &ids, wants.probes).await;
        // A wanted server whose proxy is down is made again: `converge` remakes the
        // proxy and keeps a server that runs as planned.
        for pair in &proxies.down {
            if want.contains_key(pair) && !hold.contains(pair) {
                have.remove(pair);
            }
        }
        let daemon = self.portal().config.daemon;
        let actions = reconcile::plan(&want, &have, daemon.update_policy, &hold);
        let (actions, withheld) = reconcile::guard_removals(
            actions,
            &have,
            &wants.unreadable,
            wants.blind,
            daemon.max_removals,
        );
        let mut report = ReconcileReport {
            actions: actions.clone(),
            errors: renames.iter().map(ToString::to_string).collect(),
            ..Default::default()
        };
        if let Some(why) = withheld {
            let root = self.portal().store.root().display().to_string();
            let message = match why {
                reconcile::Withheld::Blind => format!(
                    "the data folder {root} cannot be read whole (deleted or unmounted?): no container was removed; check the folder"
                ),
                reconcile::Withheld::TooMany { count, max } => format!(
                    "this pass would remove {count} orphaned containers, more than MCP_PORTAL_MAX_REMOVALS_PER_PASS ({max}): none was removed; check the data folder, remove them with `portalctl disable`, or raise the limit"
                ),
            };
            tracing::error!("{message}");
            report.errors.push(message);
        }
        for action in actions {
            if let Err(e) = self.act(&action).await {
                report.errors.push(e.message);
            }
        }
        if !wants.blind {
            for (name, pair) in &proxies.all {
                let unwanted = !want.contains_key(pair) && !have.contains_key(pair);
                let readable = !proxies
                    .users
                    .get(name)
                    .is_some_and(|u| wants.unreadable.contains(u));
                if unwanted && readable {
                    let removed = match self.rt.remove_orphan(name).await {
                        Ok(false) => continue,
                        r => r.map(drop).map_err(act::Failure::from),
                    };
                    self.audit(None, AuditAction::ReconcileRemoveOrphan, name, &removed);
                    if let Err(e) = removed {
                        report.errors.push(e.message);
                    }
                }
            }
        }
        let state = self.record(&want).await;
        self.portal().store.write_daemon_state(&state)?;
        report.millis = started.elapsed().as_millis();
        let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
        for a in &report.actions {
            *kinds.entry(a.kind()).or_default() += 1;
        }
        let kinds: Vec<(&str, u64)> = kinds.into_iter().collect();
        self.portal().metrics().reconcile(started.elapsed(), &kinds);
        Ok(report)
    }

    /// The managed containers of this instance, those an earlier version named renamed
    /// first: their ids, what the planner needs, and the renames that failed.
    async fn observe(
        &self,
    ) -> Result<(
        HashMap<String, String>,
        BTreeMap<String, Have>,
        Vec<PortalError>,
        Proxies,
    )> {
        let listed = self.rt.engine().containers(&self.managed()).await?;
        let (proxied, mut containers): (Vec<_>, Vec<_>) = listed.into_iter().partition(is_proxy);
        let mut proxies = Proxies::default();
        for p in &proxied {
            if let Some(pair) = proxy_pair(p) {
                proxies.all.insert(p.name.clone(), pair);
                if let Some(u) = p.label(LABEL_USER) {
                    proxies.users.insert(p.name.clone(), u.to_string());
                }
            }
        }
        for c in &containers {
            if let Some(proxy) = c.label(LABEL_EGRESS) {
                if !proxied.iter().any(|p| p.name == proxy && p.running()) {
                    proxies.down.insert(c.name.clone());
                }
            }
        }
        let renames = self.rt.adopt_listed(&mut containers).await;
        // An idle container is stopped on purpose: planned as if it ran, so it is neither
        // restarted nor counted as a failure.
        let idle = self.idle_marks();
        self.seed_states(&containers);
        let ids = containers
            .iter()
            .map(|c| (c.name.clone(), c.id.clone()))
            .collect();
        let have = containers
            .iter()
            .map(|c| {
                let h = Have {
                    user: c.label(LABEL_USER).unwrap_or_default().into(),
                    server: c.label(LABEL_SERVER).unwrap_or_default().into(),
                    spec_hash: c.label(LABEL_SPEC_HASH).unwrap_or_default().into(),
                    running: c.running() || idle.contains_key(&c.name),
                    // Filled in by `refresh` from the daemon's record, once a remade
                    // container's record is reset.
                    outdated: false,
                };
                (c.name.clone(), h)
            })
            .collect();
        Ok((ids, have, renames, proxies))
    }

    /// The containers marked idle. A damaged record is read as none (and said): its
    /// servers are then restarted, which loses nothing, rather than no pass running.
    fn idle_marks(&self) -> BTreeMap<String, crate::store::IdleMark> {
        self.portal()
            .store
            .read_idle()
            .map(|i| i.containers)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the idle servers; taking none for idle");
                BTreeMap::new()
            })
    }

    /// Brings the records up to date with what runs, and returns the containers to hold
    /// back this pass (failed, or waiting out a backoff).
    async fn refresh(
        &self,
        want: &BTreeMap<String, Want>,
        have: &mut BTreeMap<String, Have>,
        ids: &HashMap<String, String>,
        probes: BTreeMap<String, Option<Probe>>,
    ) -> BTreeSet<String> {
        let mut tracked = self.tracked.lock().await;
        // A container made anew (by hand, or by the CLI) starts with a clean record.
        for (name, t) in tracked.iter_mut() {
            if let Some(id) = ids.get(name) {
                if !t.container_id.is_empty() && &t.container_id != id {
                    *t = Tracked::default();
                }
                t.container_id = id.clone();
            }
        }
        tracked.retain(|name, _| want.contains_key(name));
        for (name, h) in have.iter_mut() {
            h.outdated = tracked.get(name).is_some_and(|t| t.outdated);
        }
        for (name, probe) in probes {
            tracked.entry(name).or_default().probe = probe;
        }
        let now = Instant::now();
        for (name, t) in tracked.iter_mut() {
            let Some(h) = have.get(name) else { continue };
            // The other decisions are the restart's to act on, when the planner asks.
            if self.policy.decide(t, Seen::of(h.running, t.health), now) == Decision::Forgive {
                tracing::info!(container = %name, restarts = t.restarts, "ran quietly; restart count starts over");
                t.restarts = 0;
                t.last_restart = None;
            }
        }
        tracked
            .iter()
            .filter(|(_, t)| policy::held(t, now))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Notes why what cannot be planned is not running, and returns what to save.
    async fn record(&self, want: &BTreeMap<String, Want>) -> DaemonState {
        let mut tracked = self.tracked.lock().await;
        for (name, w) in want {
            let t = tracked.entry(name.clone()).or_default();
            match &w.error {
                Some(e) => t.last_error = Some(e.clone()),
                None if t
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("cannot plan: ")) =>
                {
                    t.last_error = None
                }
                None => {}
            }
        }
        DaemonState {
            containers: tracked
                .iter()
                .map(|(n, t)| (n.clone(), t.saved()))
                .collect(),
            updated_at: Some(Portal::now()),
        }
    }
}
