//! Users' containers: enable, disable, restart and status.
//!
//! Enabling reserves first (quota, port, desired state; under the data folder's lock, in
//! one short step), then talks to Docker outside that lock: image, network, container. A
//! per-(user, server) lock makes concurrent enables of one pair take turns, so they end
//! with one container. Any failure after the reservation undoes it: container removed,
//! port released, desired state restored, Docker's message returned.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::servers::unknown_user;
use super::{OpenedSecret, Portal, PortalError, Result};
use crate::alloc::Allocations;
use crate::catalog::merge::MergedServer;
use crate::engine::{ContainerInfo, Engine};
use crate::ids::{ServerId, UserId};
use crate::plan::{
    self, container_name, network_name, network_spec, ContainerSpec, PlanInput, SecretBinding,
    Settings, LABEL_CPU_SHARES, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_MEMORY, LABEL_PORT,
    LABEL_SERVER, LABEL_SPEC_HASH, LABEL_USER, MANAGED_BY,
};
use crate::secrets::SecretValue;
use crate::store::EnabledServer;

/// What `enable` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnableOutcome {
    Created,
    /// The definition or settings changed (a new spec hash): the container was replaced.
    Recreated,
    /// The container existed with the same spec and was started again.
    Started,
    Unchanged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnableReport {
    pub user: UserId,
    pub server: ServerId,
    pub container: String,
    pub outcome: EnableOutcome,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub bind_address: String,
    pub spec_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisableReport {
    pub user: UserId,
    pub server: ServerId,
    pub container: String,
    pub removed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_port: Option<u16>,
}

/// One line of `portalctl status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusRow {
    pub user: String,
    pub server: String,
    pub container: String,
    /// running, exited, created, ..., `missing` (enabled, no container) or `orphan`
    /// (a managed container nobody enabled).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Docker's summary, e.g. "Up 3 minutes".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// From the daemon: healthy, unhealthy, failed, ... (`-` when it never looked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    pub restarts: u32,
    /// Runs an older definition (update policy `manual`).
    pub outdated: bool,
}

/// What a reservation changed, so that a failure can put it back.
#[derive(Debug, Clone)]
struct Reservation {
    block: u32,
    port: Option<u16>,
    settings: Settings,
    previous: Option<EnabledServer>,
    previous_port: Option<u16>,
}

/// The portal's containers on one engine.
#[derive(Debug)]
pub struct Runtime<E> {
    portal: Portal,
    engine: E,
    starts: Arc<Semaphore>,
    /// The managed containers as last listed, shared by `status` calls for a moment so
    /// a hundred clients asking at once cost one Docker call; changes made through this
    /// runtime drop it.
    /// (when listed, the containers, whether someone is listing anew right now)
    listing: tokio::sync::Mutex<Option<(std::time::Instant, Vec<ContainerInfo>, bool)>>,
}

/// How long a container listing serves `status` calls.
const LISTING_TTL: Duration = Duration::from_millis(500);

fn port_is_free(bind: &str, port: u16) -> bool {
    TcpListener::bind((bind, port)).is_ok()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PortalError::Refused(format!("an internal task failed: {e}")))?
}

fn not_enabled(user: &UserId, server: &ServerId) -> PortalError {
    PortalError::NotFound {
        what: "enabled server",
        name: format!("{server} of user {user}"),
        hint: format!("see what runs with `portalctl status --user {user}`"),
    }
}

impl<E: Engine> Runtime<E> {
    pub fn new(portal: Portal, engine: E) -> Self {
        let permits = portal.config.runtime.max_concurrent_starts;
        Self {
            portal,
            engine,
            starts: Arc::new(Semaphore::new(permits)),
            listing: tokio::sync::Mutex::new(None),
        }
    }

    pub fn portal(&self) -> &Portal {
        &self.portal
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    fn instance(&self) -> &str {
        &self.portal.config.runtime.instance
    }

    fn ours(&self, c: &ContainerInfo, user: &UserId) -> bool {
        c.label(LABEL_MANAGED_BY) == Some(MANAGED_BY)
            && c.label(LABEL_INSTANCE) == Some(self.instance())
            && c.label(LABEL_USER) == Some(user.as_str())
    }

    /// Rebuilds the allocations from network and container labels if the state file is gone.
    pub(super) async fn ensure_allocations(&self) -> Result<()> {
        if self.portal.store.read_allocations()?.is_some() {
            return Ok(());
        }
        let labels = [
            (LABEL_MANAGED_BY, MANAGED_BY),
            (LABEL_INSTANCE, self.instance()),
        ];
        let networks = self.engine.networks(&labels).await?;
        let containers = self.engine.containers(&labels).await?;
        let blocks = networks.iter().filter_map(|n| {
            let user = UserId::parse(n.labels.get(LABEL_USER)?).ok()?;
            Some((user, n.labels.get(plan::LABEL_BLOCK)?.parse().ok()?))
        });
        let ports = containers.iter().filter_map(|c| {
            let user = UserId::parse(c.label(LABEL_USER)?).ok()?;
            let server = ServerId::parse(c.label(LABEL_SERVER)?).ok()?;
            Some((user, server, c.label(LABEL_PORT)?.parse().ok()?))
        });
        let rebuilt = Allocations::rebuild(blocks.collect::<Vec<_>>(), ports.collect::<Vec<_>>());
        let portal = self.portal.clone();
        blocking(move || {
            let _lock = portal.store.lock()?;
            if portal.store.read_allocations()?.is_none() {
                portal.store.write_allocations(&rebuilt)?;
            }
            Ok(())
        })
        .await
    }

    fn reserve(
        portal: &Portal,
        user: &UserId,
        def: &MergedServer,
        settings: Option<Settings>,
    ) -> Result<Reservation> {
        let rt = &portal.config.runtime;
        let _lock = portal.store.lock()?;
        let record = portal
            .store
            .read_user(user)?
            .ok_or_else(|| unknown_user(user))?
            .value;
        let quota = record.limits.apply(rt.quota);
        let mut enabled = portal.store.read_enabled(user)?;
        let server = &def.def.id;
        let previous = enabled.servers.get(server).cloned();
        let settings = settings
            .or_else(|| previous.as_ref().map(|p| p.settings.clone()))
            .unwrap_or_default();
        let (memory_bytes, cpu_shares) = plan::limits(&def.def, &rt.defaults, &quota);

        let others = enabled.servers.iter().filter(|(id, _)| *id != server);
        let (count, memory, shares) = others
            .fold((1u64, memory_bytes, cpu_shares), |(n, m, c), (_, e)| {
                (n + 1, m + e.memory_bytes, c + e.cpu_shares)
            });
        let mb = |b: u64| b.div_ceil(1024 * 1024);
        if count > u64::from(quota.max_containers) {
            return Err(PortalError::Refused(format!(
                "container limit exceeded: {count}/{} containers for user {user}",
                quota.max_containers
            )));
        }
        if mb(memory) > quota.max_memory_mb {
            return Err(PortalError::Refused(format!(
                "memory limit exceeded: {}MB/{}MB for user {user}",
                mb(memory),
                quota.max_memory_mb
            )));
        }
        if shares > quota.max_cpu_shares {
            return Err(PortalError::Refused(format!(
                "cpu limit exceeded: {shares}/{} shares for user {user}",
                quota.max_cpu_shares
            )));
        }

        let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
        let previous_port = allocs
            .users
            .get(user)
            .and_then(|a| a.ports.get(server).copied());
        let block = allocs.block(&rt.pools, user)?;
        let port = if def.def.transport.is_http() {
            Some(allocs.port(&rt.pools, user, server, |p| {
                port_is_free(&rt.bind_address, p)
            })?)
        } else {
            allocs.release_port(user, server);
            None
        };
        let enabled_at = previous.as_ref().map_or_else(Portal::now, |p| p.enabled_at);
        enabled.servers.insert(
            server.clone(),
            EnabledServer {
                settings: settings.clone(),
                memory_bytes,
                cpu_shares,
                enabled_at,
            },
        );
        portal.store.write_allocations(&allocs)?;
        portal.store.write_enabled(user, &enabled)?;
        Ok(Reservation {
            block,
            port,
            settings,
            previous,
            previous_port,
        })
    }

    fn unreserve(portal: &Portal, user: &UserId, server: &ServerId, r: &Reservation) -> Result<()> {
        let _lock = portal.store.lock()?;
        let mut enabled = portal.store.read_enabled(user)?;
        let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
        match &r.previous {
            Some(p) => {
                enabled.servers.insert(server.clone(), p.clone());
            }
            None => {
                enabled.servers.remove(server);
            }
        }
        if r.previous_port.is_none() {
            allocs.release_port(user, server);
        }
        portal.store.write_enabled(user, &enabled)?;
        portal.store.write_allocations(&allocs)?;
        Ok(())
    }

    /// Enables a server for a user: the container exists, runs, and matches the definition.
    /// `settings` replaces the stored settings when given; `None` keeps them.
    pub async fn enable(
        &self,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<EnableReport> {
        let r = self
            .enable_as(user, server, settings, progress, false)
            .await;
        self.changed().await;
        r?.ok_or_else(|| not_enabled(user, server))
    }

    /// Brings an enabled server's container in line, for the daemon: unlike `enable`, it
    /// does nothing (`None`) when the server is no longer enabled once its turn comes, so a
    /// `disable` racing with a reconcile pass is never undone.
    pub async fn converge(&self, user: &UserId, server: &ServerId) -> Result<Option<EnableReport>> {
        let r = self.enable_as(user, server, None, &|_| {}, true).await;
        self.changed().await;
        r
    }

    async fn enable_as(
        &self,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        progress: &(dyn Fn(&str) + Sync),
        only_if_enabled: bool,
    ) -> Result<Option<EnableReport>> {
        self.changed().await;
        let merged = self.portal.servers(user)?;
        let def = merged
            .servers
            .iter()
            .find(|s| &s.def.id == server)
            .cloned()
            .ok_or_else(|| PortalError::NotFound {
                what: "server",
                name: format!("{server} in the catalog of user {user}"),
                hint: format!("see the user's servers with `portalctl servers --user {user}`"),
            })?;
        let store = self.portal.store.clone();
        let (u, s) = (user.clone(), server.clone());
        let _pair = blocking(move || Ok(store.pair_lock(&u, &s)?)).await?;
        if only_if_enabled
            && !self
                .portal
                .store
                .read_enabled(user)?
                .servers
                .contains_key(server)
        {
            return Ok(None);
        }
        self.ensure_allocations().await?;
        let portal = self.portal.clone();
        let (u, d) = (user.clone(), Arc::clone(&def));
        let reservation = blocking(move || Self::reserve(&portal, &u, &d, settings)).await?;
        match self.apply(user, &def, &reservation, progress).await {
            Ok(report) => Ok(Some(report)),
            Err(e) => {
                // Secret files the failed attempt wrote go with it.
                let _ = self
                    .portal
                    .store
                    .remove_secret_files(&self.secret_dir(user, server));
                let portal = self.portal.clone();
                let (u, s, r) = (user.clone(), server.clone(), reservation.clone());
                let undone = match blocking(move || Self::unreserve(&portal, &u, &s, &r)).await {
                    Ok(()) => self.remove_network_if_unused(user).await,
                    Err(c) => Err(c),
                };
                // The first failure is the one to fix; a failed cleanup is reported with it.
                Err(match undone {
                    Ok(()) => e,
                    Err(c) => PortalError::Cleanup {
                        original: Box::new(e),
                        cleanup: Box::new(c),
                    },
                })
            }
        }
    }

    async fn apply(
        &self,
        user: &UserId,
        def: &MergedServer,
        r: &Reservation,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<EnableReport> {
        let rt = &self.portal.config.runtime;
        let image = def.def.image.as_str();
        let image_user = match self.engine.image_user(image).await? {
            Some(u) => u,
            None => {
                progress(&format!("pulling {image}"));
                self.engine.pull(image, progress).await?;
                self.engine.image_user(image).await?.unwrap_or_default()
            }
        };
        let secret_dir = self.secret_dir(user, &def.def.id);
        let (spec, hash, opened) = self.spec_for(user, def, &r.settings, r.port, &image_user)?;
        let report = |outcome| EnableReport {
            user: user.clone(),
            server: def.def.id.clone(),
            container: spec.name.clone(),
            outcome,
            image: spec.image.clone(),
            port: r.port,
            bind_address: rt.bind_address.clone(),
            spec_hash: hash.clone(),
        };

        let existing = self.engine.container(&spec.name).await?;
        if let Some(c) = &existing {
            if !self.ours(c, user) || c.label(LABEL_SERVER) != Some(def.def.id.as_str()) {
                return Err(PortalError::Refused(format!(
                    "container name {} is taken by a container that is not {user}'s server {}; remove or rename it",
                    spec.name, def.def.id
                )));
            }
            if c.label(LABEL_SPEC_HASH) == Some(hash.as_str()) && c.running() {
                return Ok(report(EnableOutcome::Unchanged));
            }
        }

        // What the container needs around it, also when a stopped one is only started
        // again: after a reboot the tmpfs secret files are gone, a network may be too.
        if spec.network.is_some() {
            self.ensure_network(user, r.block).await?;
        }
        let dirs: Vec<String> = spec.host_dirs.iter().map(|d| self.local_path(d)).collect();
        self.portal.store.ensure_volume_dirs(&dirs, &spec.user)?;
        let mut volume_labels = plan::base_labels(&rt.instance, user);
        volume_labels.insert(LABEL_SERVER.into(), def.def.id.to_string());
        for v in &spec.named_volumes {
            self.engine.create_volume(v, &volume_labels).await?;
        }
        let files: Vec<(String, &SecretValue)> = opened
            .iter()
            .filter(|o| o.reference.file)
            .map(|o| (o.reference.env.clone(), &o.value))
            .collect();
        let env: Vec<(String, SecretValue)> = opened
            .iter()
            .filter(|o| !o.reference.file)
            .map(|o| (o.reference.env.clone(), o.value.clone()))
            .collect();
        self.portal.store.remove_secret_files(&secret_dir)?;
        if !files.is_empty() {
            self.portal
                .store
                .write_secret_files(&secret_dir, &files, &spec.user)?;
        }

        let mut outcome = EnableOutcome::Created;
        if let Some(c) = &existing {
            if c.label(LABEL_SPEC_HASH) == Some(hash.as_str()) {
                self.start_checked(&spec.name).await?;
                return Ok(report(EnableOutcome::Started));
            }
            self.engine
                .remove_container(&spec.name, rt.stop_timeout_secs)
                .await?;
            outcome = EnableOutcome::Recreated;
        }

        let _permit = self
            .starts
            .acquire()
            .await
            .map_err(|_| PortalError::Refused("the start queue is closed".into()))?;
        let made = match self.engine.create_container(&spec, &env).await {
            Ok(()) => self.start_checked(&spec.name).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = made {
            self.engine.remove_container(&spec.name, 0).await?;
            self.portal.store.remove_secret_files(&secret_dir)?;
            return Err(e);
        }
        Ok(report(outcome))
    }

    /// Plans the container for a user's server: the spec, its hash, and the opened secrets.
    pub(super) fn spec_for(
        &self,
        user: &UserId,
        def: &MergedServer,
        settings: &Settings,
        port: Option<u16>,
        image_user: &str,
    ) -> Result<(ContainerSpec, String, Vec<OpenedSecret>)> {
        let rt = &self.portal.config.runtime;
        let record = self
            .portal
            .store
            .read_user(user)?
            .ok_or_else(|| unknown_user(user))?
            .value;
        let quota = record.limits.apply(rt.quota);
        let network = network_name(user);
        let paths = self.host_paths(self.portal.store.user_paths(user));
        let opened = self
            .portal
            .secrets_for(user, def.def.id.as_str(), &def.def.secrets)?;
        let bindings: Vec<SecretBinding> = opened
            .iter()
            .map(|o| SecretBinding {
                name: o.reference.name.to_string(),
                env: o.reference.env.clone(),
                version: o.version.clone(),
                file: o.reference.file,
            })
            .collect();
        let secret_dir = self.secret_dir(user, &def.def.id);
        let (spec, hash) = plan::plan(&PlanInput {
            instance: &rt.instance,
            user,
            server: &def.def,
            settings,
            host_port: port,
            bind_address: &rt.bind_address,
            network: &network,
            paths: &paths,
            defaults: &rt.defaults,
            quota: &quota,
            hardening: &rt.hardening,
            image_user: Some(image_user),
            secrets: &bindings,
            secret_dir: &secret_dir.display().to_string(),
        })?;
        Ok((spec, hash, opened))
    }

    /// A user's folders as the Docker host sees them: under `MCP_PORTAL_HOST_DATA_DIR`
    /// when the portal runs in a container with the data folder mounted from there.
    fn host_paths(&self, paths: plan::UserPaths) -> plan::UserPaths {
        let Some(host) = &self.portal.config.runtime.host_data_dir else {
            return paths;
        };
        let root = self.portal.store.root().display().to_string();
        let map = |p: String| {
            p.strip_prefix(&root)
                .map_or(p.clone(), |rest| format!("{host}{rest}"))
        };
        plan::UserPaths {
            data: map(paths.data),
            cache: map(paths.cache),
            config: map(paths.config),
        }
    }

    /// The inverse of `host_paths`: where a host folder of the data folder is, here.
    fn local_path(&self, path: &str) -> String {
        let Some(host) = &self.portal.config.runtime.host_data_dir else {
            return path.to_string();
        };
        let root = self.portal.store.root().display().to_string();
        path.strip_prefix(host.as_str())
            .map_or(path.to_string(), |rest| format!("{root}{rest}"))
    }

    /// The tmpfs folder holding one container's secret files.
    fn secret_dir(&self, user: &UserId, server: &ServerId) -> std::path::PathBuf {
        self.portal
            .config
            .secrets
            .tmpfs_dir
            .join(self.instance())
            .join(user.as_str())
            .join(server.as_str())
    }

    /// Starts a container and checks it is still running (after the configured grace).
    async fn start_checked(&self, name: &str) -> Result<()> {
        self.engine.start_container(name).await?;
        let grace = self.portal.config.runtime.start_grace_ms;
        if grace > 0 {
            tokio::time::sleep(Duration::from_millis(grace)).await;
        }
        match self.engine.container(name).await? {
            Some(c) if c.running() => Ok(()),
            Some(c) => Err(PortalError::Refused(format!(
                "container {name} stopped right after starting ({}{}); see `docker logs {name}`",
                c.exit_code
                    .map_or_else(|| c.state.clone(), |code| format!("exit code {code}")),
                c.error.map(|e| format!(": {e}")).unwrap_or_default()
            ))),
            None => Err(PortalError::Refused(format!(
                "container {name} disappeared right after starting"
            ))),
        }
    }

    async fn ensure_network(&self, user: &UserId, block: u32) -> Result<()> {
        let rt = &self.portal.config.runtime;
        let spec = network_spec(&rt.instance, user, block, rt.pools.subnet(block));
        // Docker checks a new network's subnet before its name, so two enables of one
        // user's servers racing to make the network would see "pool overlaps": take turns.
        let store = self.portal.store.clone();
        let u = user.clone();
        let _turn = blocking(move || Ok(store.network_lock(&u)?)).await?;
        if self.engine.network(&spec.name).await?.is_none() {
            self.engine.create_network(&spec).await?;
        }
        let found = self.engine.network(&spec.name).await?.ok_or_else(|| {
            PortalError::Refused(format!(
                "network {} vanished while it was being made; try again",
                spec.name
            ))
        })?;
        let ours = found.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
            && found.labels.get(LABEL_INSTANCE) == Some(&rt.instance)
            && found.labels.get(LABEL_USER).map(String::as_str) == Some(user.as_str());
        if !ours {
            return Err(PortalError::Refused(format!(
                "network {} exists but was not made by this portal for {user}; remove it with `docker network rm {}`",
                spec.name, spec.name
            )));
        }
        if !found.subnets.contains(&spec.subnet) {
            return Err(PortalError::Refused(format!(
                "network {} has subnet {} but {user}'s block is {}; remove the network (with its containers) so it is made again",
                spec.name,
                found.subnets.join(","),
                spec.subnet
            )));
        }
        Ok(())
    }

    /// Removes the user's network and frees their block once nothing of theirs is enabled.
    async fn remove_network_if_unused(&self, user: &UserId) -> Result<()> {
        if !self.portal.config.runtime.remove_empty_networks {
            return Ok(());
        }
        let store = self.portal.store.clone();
        let u = user.clone();
        // Under the network lock, an enable of this user either reserved already (and is
        // seen below) or will make the network again after we are done.
        let _turn = blocking(move || Ok(store.network_lock(&u)?)).await?;
        if !self.portal.store.read_enabled(user)?.servers.is_empty() {
            return Ok(());
        }
        let labels = [
            (LABEL_MANAGED_BY, MANAGED_BY),
            (LABEL_INSTANCE, self.instance()),
            (LABEL_USER, user.as_str()),
        ];
        if !self.engine.containers(&labels).await?.is_empty() {
            return Ok(());
        }
        // Only a network this portal made for this user: never another instance's.
        let name = network_name(user);
        let ours = self.engine.network(&name).await?.is_some_and(|n| {
            n.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
                && n.labels.get(LABEL_INSTANCE).map(String::as_str) == Some(self.instance())
                && n.labels.get(LABEL_USER).map(String::as_str) == Some(user.as_str())
        });
        if ours {
            self.engine.remove_network(&name).await?;
        }
        let portal = self.portal.clone();
        let u = user.clone();
        blocking(move || {
            let _lock = portal.store.lock()?;
            if portal.store.read_enabled(&u)?.servers.is_empty() {
                let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
                allocs.release_user(&u);
                portal.store.write_allocations(&allocs)?;
            }
            Ok(())
        })
        .await
    }

    /// Disables a server: its container is removed and its port released.
    pub async fn disable(&self, user: &UserId, server: &ServerId) -> Result<DisableReport> {
        self.changed().await;
        // A lost allocations file is rebuilt from labels before it is written again.
        self.ensure_allocations().await?;
        let store = self.portal.store.clone();
        let (u, s) = (user.clone(), server.clone());
        let _pair = blocking(move || Ok(store.pair_lock(&u, &s)?)).await?;
        let portal = self.portal.clone();
        let (u, s) = (user.clone(), server.clone());
        let (was_enabled, released_port) = blocking(move || {
            let _lock = portal.store.lock()?;
            let mut enabled = portal.store.read_enabled(&u)?;
            let was = enabled.servers.remove(&s).is_some();
            let mut allocs = portal.store.read_allocations()?.unwrap_or_default();
            let port = allocs.release_port(&u, &s);
            portal.store.write_enabled(&u, &enabled)?;
            portal.store.write_allocations(&allocs)?;
            Ok((was, port))
        })
        .await?;
        let name = container_name(user, server.as_str());
        let existing = self
            .engine
            .container(&name)
            .await?
            .filter(|c| self.ours(c, user));
        if let Some(c) = &existing {
            self.engine
                .remove_container(&c.name, self.portal.config.runtime.stop_timeout_secs)
                .await?;
        }
        self.portal
            .store
            .remove_secret_files(&self.secret_dir(user, server))?;
        if !was_enabled && existing.is_none() {
            return Err(not_enabled(user, server));
        }
        self.remove_network_if_unused(user).await?;
        self.changed().await;
        Ok(DisableReport {
            user: user.clone(),
            server: server.clone(),
            container: name,
            removed: existing.is_some(),
            released_port,
        })
    }

    /// Removes a managed container nobody enabled; `false` when, by its turn, its server
    /// has been enabled after all (the caller's view was older than the CLI's change).
    pub async fn remove_orphan(&self, name: &str) -> Result<bool> {
        let Some(c) = self.engine.container(name).await? else {
            return Ok(true);
        };
        let owner = c.label(LABEL_USER).and_then(|u| UserId::parse(u).ok());
        let server = c.label(LABEL_SERVER).and_then(|s| ServerId::parse(s).ok());
        let _pair = match (&owner, &server) {
            (Some(u), Some(s)) => {
                let (store, u, s) = (self.portal.store.clone(), u.clone(), s.clone());
                Some(blocking(move || Ok(store.pair_lock(&u, &s)?)).await?)
            }
            _ => None,
        };
        if let (Some(u), Some(s)) = (&owner, &server) {
            if self.portal.store.read_enabled(u)?.servers.contains_key(s) {
                return Ok(false);
            }
        }
        self.engine
            .remove_container(name, self.portal.config.runtime.stop_timeout_secs)
            .await?;
        if let (Some(u), Some(s)) = (&owner, &server) {
            self.portal
                .store
                .remove_secret_files(&self.secret_dir(u, s))?;
            self.remove_network_if_unused(u).await?;
        }
        Ok(true)
    }

    /// Restarts an enabled server's container, recreating it if it is gone.
    pub async fn restart(&self, user: &UserId, server: &ServerId) -> Result<EnableReport> {
        let r = self.restart_as(user, server, false).await;
        self.changed().await;
        r?.ok_or_else(|| not_enabled(user, server))
    }

    /// For the daemon: restarts the container only if it is still stopped once its turn
    /// comes (`None` otherwise), so a container an enable is just starting is left alone.
    pub async fn restart_stopped(
        &self,
        user: &UserId,
        server: &ServerId,
    ) -> Result<Option<EnableReport>> {
        let r = self.restart_as(user, server, true).await;
        self.changed().await;
        r
    }

    async fn restart_as(
        &self,
        user: &UserId,
        server: &ServerId,
        only_if_stopped: bool,
    ) -> Result<Option<EnableReport>> {
        if !self
            .portal
            .store
            .read_enabled(user)?
            .servers
            .contains_key(server)
        {
            return Err(not_enabled(user, server));
        }
        let name = container_name(user, server.as_str());
        match self
            .engine
            .container(&name)
            .await?
            .filter(|c| self.ours(c, user))
        {
            Some(c) => {
                let store = self.portal.store.clone();
                let (u, s) = (user.clone(), server.clone());
                let _pair = blocking(move || Ok(store.pair_lock(&u, &s)?)).await?;
                if only_if_stopped
                    && self
                        .engine
                        .container(&name)
                        .await?
                        .is_some_and(|c| c.running())
                {
                    // An enable that held the lock has started it meanwhile: nothing to do.
                    return Ok(None);
                }
                self.engine
                    .restart_container(&name, self.portal.config.runtime.stop_timeout_secs)
                    .await?;
                let running = self
                    .engine
                    .container(&name)
                    .await?
                    .is_some_and(|c| c.running());
                if !running {
                    return Err(PortalError::Refused(format!(
                        "container {name} stopped right after restarting; see `docker logs {name}`"
                    )));
                }
                Ok(Some(EnableReport {
                    user: user.clone(),
                    server: server.clone(),
                    container: name,
                    outcome: EnableOutcome::Started,
                    image: c.image.clone(),
                    port: c.label(LABEL_PORT).and_then(|p| p.parse().ok()),
                    bind_address: self.portal.config.runtime.bind_address.clone(),
                    spec_hash: c.label(LABEL_SPEC_HASH).unwrap_or_default().to_string(),
                }))
            }
            // Gone: made anew, as the daemon would (a pull's progress is not reported here).
            None => self.converge(user, server).await,
        }
    }

    /// All managed containers, listed at most once per `LISTING_TTL`. While one caller
    /// lists anew, the others get the previous listing rather than queueing behind it.
    async fn listing(&self) -> Result<Vec<ContainerInfo>> {
        let stale = {
            let mut cached = self.listing.lock().await;
            match cached.as_mut() {
                Some(c) if c.0.elapsed() < LISTING_TTL => return Ok(c.1.clone()),
                Some(c) if c.2 => Some(c.1.clone()),
                Some(c) => {
                    c.2 = true;
                    None
                }
                None => None,
            }
        };
        if let Some(list) = stale {
            return Ok(list);
        }
        let labels = [
            (LABEL_MANAGED_BY, MANAGED_BY),
            (LABEL_INSTANCE, self.instance()),
        ];
        let fetched = self.engine.containers(&labels).await;
        let mut cached = self.listing.lock().await;
        match fetched {
            Ok(list) => {
                *cached = Some((std::time::Instant::now(), list.clone(), false));
                Ok(list)
            }
            Err(e) => {
                if let Some(c) = cached.as_mut() {
                    c.2 = false;
                }
                Err(e.into())
            }
        }
    }

    /// Forgets the cached listing after a change made here.
    async fn changed(&self) {
        *self.listing.lock().await = None;
    }

    /// Every enabled server and managed container (of one user, or all), side by side.
    pub async fn status(&self, only: Option<&UserId>) -> Result<Vec<StatusRow>> {
        if let Some(u) = only {
            if self.portal.store.read_user(u)?.is_none() {
                return Err(unknown_user(u));
            }
        }
        let containers: Vec<ContainerInfo> = self
            .listing()
            .await?
            .into_iter()
            .filter(|c| only.is_none_or(|u| c.label(LABEL_USER) == Some(u.as_str())))
            .collect();
        let users = match only {
            Some(u) => vec![u.clone()],
            None => self.portal.store.user_ids()?,
        };
        let mut rows = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for user in &users {
            for (server, entry) in self.portal.store.read_enabled(user)?.servers {
                let name = container_name(user, server.as_str());
                let found = containers
                    .iter()
                    .find(|c| c.name == name && self.ours(c, user));
                seen.insert(name.clone());
                rows.push(
                    self.row(user.as_str(), server.as_str(), &name, found, Some(&entry))
                        .await?,
                );
            }
        }
        for c in &containers {
            if !seen.contains(&c.name) {
                let user = c.label(LABEL_USER).unwrap_or_default().to_string();
                let server = c.label(LABEL_SERVER).unwrap_or_default().to_string();
                let mut row = self.row(&user, &server, &c.name, Some(c), None).await?;
                row.state = "orphan".into();
                rows.push(row);
            }
        }
        let daemon = self.portal.store.read_daemon_state()?;
        for row in &mut rows {
            if let Some(h) = daemon.containers.get(&row.container) {
                row.health = (!h.health.is_empty()).then(|| h.health.clone());
                row.restarts = h.restarts;
                row.outdated = h.outdated;
                // The daemon's account (why it restarted or gave up) says more than Docker's.
                if h.last_error.is_some() {
                    row.last_error = h.last_error.clone();
                }
            }
        }
        rows.sort_by(|a, b| (&a.user, &a.server).cmp(&(&b.user, &b.server)));
        Ok(rows)
    }

    async fn row(
        &self,
        user: &str,
        server: &str,
        name: &str,
        found: Option<&ContainerInfo>,
        entry: Option<&EnabledServer>,
    ) -> Result<StatusRow> {
        let Some(c) = found else {
            return Ok(StatusRow {
                user: user.into(),
                server: server.into(),
                container: name.into(),
                state: "missing".into(),
                port: None,
                image: String::new(),
                memory_bytes: entry.map(|e| e.memory_bytes),
                cpus: entry.map(|e| e.cpu_shares as f64 / plan::SHARES_PER_CPU as f64),
                uptime: None,
                last_error: Some("enabled, but no container exists; enable it again".into()),
                health: None,
                restarts: 0,
                outdated: false,
            });
        };
        let last_error = if c.running() {
            None
        } else {
            self.engine.container(name).await?.map(|i| {
                let code = i
                    .exit_code
                    .map(|c| format!("exit code {c}"))
                    .unwrap_or_else(|| i.state.clone());
                i.error.map_or(code.clone(), |e| format!("{code}: {e}"))
            })
        };
        let num = |key: &str| c.label(key).and_then(|v| v.parse::<u64>().ok());
        Ok(StatusRow {
            user: user.into(),
            server: server.into(),
            container: name.into(),
            state: c.state.clone(),
            port: num(LABEL_PORT).and_then(|p| u16::try_from(p).ok()),
            image: c.image.clone(),
            memory_bytes: num(LABEL_MEMORY),
            cpus: num(LABEL_CPU_SHARES).map(|s| s as f64 / plan::SHARES_PER_CPU as f64),
            uptime: c.status.clone(),
            last_error,
            health: None,
            restarts: 0,
            outdated: false,
        })
    }
}
