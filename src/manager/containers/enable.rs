//! `enable`: make a user's server run, matching its definition.
//!
//! Enabling reserves first (quota, port, desired state: see `reserve`), then talks to
//! Docker outside the data folder's lock: image, network, container. A per-(user, server)
//! lock makes concurrent enables of one pair take turns, so they end with one container.
//! Any failure after the reservation undoes it: container removed, port released,
//! desired state restored, Docker's message returned. A changed container is replaced so
//! that a failure keeps the old one (see `replace`).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::{AuditAction, OpenedSecret, Portal, PortalError, Result};
use super::replace::Replacement;
use super::reserve::Reservation;
use super::TakenBy;
use super::{blocking, not_enabled, Runtime};
use crate::catalog::merge::MergedServer;
use crate::engine::{ContainerInfo, Engine};
use crate::ids::{ServerId, UserId};
use crate::plan::{self, ContainerSpec, Settings, LABEL_EGRESS, LABEL_SERVER, LABEL_SPEC_HASH};
use crate::secrets::SecretValue;
use crate::store::{IdleReason, Ownership};

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
    /// `--lazy`: the container is there, stopped, until the first MCP request.
    Idle,
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

impl<E: Engine> Runtime<E> {
    /// Enables a server for a user: the container exists, runs, and matches the definition.
    /// `settings` replaces the stored settings when given; `None` keeps them.
    pub async fn enable(
        &self,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<EnableReport> {
        self.enable_by(&self.portal, user, server, settings, progress)
            .await
    }

    /// `enable` on behalf of `by` (the portal acting as the caller, for the audit log).
    pub async fn enable_by(
        &self,
        by: &Portal,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<EnableReport> {
        self.enable_lazy_by(by, user, server, settings, progress, false)
            .await
    }

    /// `enable_by`, and with `lazy` the container is made (or left stopped) and marked
    /// idle, to be started by the first request through the gateway.
    pub async fn enable_lazy_by(
        &self,
        by: &Portal,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        progress: &(dyn Fn(&str) + Sync),
        lazy: bool,
    ) -> Result<EnableReport> {
        let r = self
            .enable_as(user, server, settings, progress, false, lazy)
            .await;
        self.changed().await;
        let r = r.and_then(|r| r.ok_or_else(|| not_enabled(user, server)));
        by.audited(
            Some(user.as_str()),
            AuditAction::ServerEnable,
            server.as_str(),
            r,
        )
    }

    /// Brings an enabled server's container in line, for the daemon: unlike `enable`, it
    /// does nothing (`None`) when the server is no longer enabled once its turn comes, so a
    /// `disable` racing with a reconcile pass is never undone.
    pub async fn converge(&self, user: &UserId, server: &ServerId) -> Result<Option<EnableReport>> {
        let r = self
            .enable_as(user, server, None, &|_| {}, true, false)
            .await;
        self.changed().await;
        r
    }

    pub(super) async fn enable_as(
        &self,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        progress: &(dyn Fn(&str) + Sync),
        only_if_enabled: bool,
        lazy: bool,
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
        let foreign = self.foreign_networks(user).await?;
        let portal = self.portal.clone();
        let (u, d) = (user.clone(), Arc::clone(&def));
        let reservation =
            blocking(move || Self::reserve(&portal, &u, &d, settings, &foreign)).await?;
        let name = plan::container_name(user, server.as_str());
        // A lazy server is marked before its container is made, so that no reconcile
        // pass in between takes a stopped container for a failed one and starts it.
        let applied = match self.mark_lazy(&name, lazy).await {
            Ok(()) => self.apply(user, &def, &reservation, progress, lazy).await,
            Err(e) => Err(e),
        };
        // A lazy enable of a running server leaves it running; any other enable's server
        // runs by the user's choice, and a failed one is the restart policy's again.
        let keep_mark = lazy
            && applied.is_ok()
            && !matches!(self.engine.container(&name).await, Ok(Some(c)) if c.running());
        if !keep_mark {
            if let Err(e) = self.clear_idle(&name).await {
                tracing::warn!(container = %name, error = %e, "cannot clear the idle mark");
            }
        }
        match applied {
            Ok(report) => Ok(Some(report)),
            Err(e) => {
                // Secret files go with the failed attempt, unless a container of the pair
                // is still there (one a failed replacement kept, or a stopped one): it
                // mounts them.
                let kept = self
                    .engine
                    .container(&plan::container_name(user, server.as_str()))
                    .await;
                if !matches!(kept, Ok(Some(_))) {
                    let _ = self
                        .portal
                        .store
                        .remove_secret_files(&self.secret_dir(user, server));
                    // Its proxy goes with it; a kept container keeps the proxy it has.
                    let _ = self.remove_proxy(user, server).await;
                }
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

    pub(super) async fn apply(
        &self,
        user: &UserId,
        def: &MergedServer,
        r: &Reservation,
        progress: &(dyn Fn(&str) + Sync),
        lazy: bool,
    ) -> Result<EnableReport> {
        let rt = &self.portal.config.runtime;
        let image_user = self.ensure_image(&def.def.image, progress).await?;
        let secret_dir = self.secret_dir(user, &def.def.id);
        let (spec, hash, opened) =
            self.spec_for(user, def, &r.settings, r.port, r.block, &image_user)?;
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

        let existing = self.pair_container(user, &def.def.id).await?;
        // The proxy first, as the server's first request may go through it; but one that
        // takes over the port a server without allow_hosts still publishes comes after
        // that server is replaced.
        let takes_port = spec.egress.as_ref().is_some_and(|p| p.publish.is_some())
            && existing
                .as_ref()
                .is_some_and(|c| c.label(LABEL_EGRESS).is_none());
        if !takes_port {
            self.ensure_egress(user, r.block, &def.def.id, &spec, progress)
                .await?;
        }
        if let Some(c) = &existing {
            if !self.ours(c, user) || c.label(LABEL_SERVER) != Some(def.def.id.as_str()) {
                return Err(PortalError::NameTaken {
                    name: spec.name.clone(),
                    user: user.clone(),
                    server: def.def.id.clone(),
                    owner: Box::new(TakenBy::of(&c.labels, self.instance())),
                });
            }
            if c.label(LABEL_SPEC_HASH) == Some(hash.as_str()) && c.running() {
                return Ok(report(EnableOutcome::Unchanged));
            }
            if c.label(LABEL_SPEC_HASH) == Some(hash.as_str()) && lazy {
                return Ok(report(EnableOutcome::Idle));
            }
        }

        match &existing {
            Some(c) if c.label(LABEL_SPEC_HASH) == Some(hash.as_str()) => {
                self.surroundings(user, &def.def.id, r.block, &spec, &opened, &secret_dir)
                    .await?;
                self.start_checked(&spec.name).await?;
                Ok(report(EnableOutcome::Started))
            }
            Some(old) => {
                let replacement = Replacement {
                    user,
                    server: &def.def.id,
                    block: r.block,
                    spec: &spec,
                    opened: &opened,
                    secret_dir: &secret_dir,
                };
                self.replace(old, &replacement).await?;
                if takes_port {
                    self.ensure_egress(user, r.block, &def.def.id, &spec, progress)
                        .await?;
                }
                Ok(report(EnableOutcome::Recreated))
            }
            None => {
                let env = self
                    .surroundings(user, &def.def.id, r.block, &spec, &opened, &secret_dir)
                    .await?;
                self.create_and_start(&spec, &env, &secret_dir, !lazy)
                    .await?;
                Ok(report(match lazy {
                    true => EnableOutcome::Idle,
                    false => EnableOutcome::Created,
                }))
            }
        }
    }

    /// The image's declared `USER`, pulling the image first when it is missing.
    pub(in crate::manager) async fn ensure_image(
        &self,
        image: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<String> {
        if let Some(u) = self.engine.image_user(image).await? {
            return Ok(u);
        }
        progress(&format!("pulling {image}"));
        self.engine.pull(image, progress).await?;
        Ok(self.engine.image_user(image).await?.unwrap_or_default())
    }

    /// What the container needs around it, also when a stopped one is only started again
    /// (after a reboot the tmpfs secret files are gone, a network may be too): network,
    /// host folders, named volumes, secret files. Returns the secrets that go in as env.
    pub(super) async fn surroundings(
        &self,
        user: &UserId,
        server: &ServerId,
        block: u32,
        spec: &ContainerSpec,
        opened: &[OpenedSecret],
        secret_dir: &std::path::Path,
    ) -> Result<Vec<(String, SecretValue)>> {
        // An egress server's network is its user's internal one, made with its proxy.
        if spec.network.is_some() && spec.egress.is_none() {
            self.ensure_network(user, block).await?;
        }
        let dirs: Vec<String> = spec.host_dirs.iter().map(|d| self.local_path(d)).collect();
        let gid = Some(self.user_uid(block));
        self.portal
            .store
            .ensure_volume_dirs(&dirs, Ownership::of(&spec.user, gid))?;
        let mut volume_labels = plan::base_labels(self.instance(), user);
        volume_labels.insert(LABEL_SERVER.into(), server.to_string());
        for v in &spec.named_volumes {
            self.engine.create_volume(v, &volume_labels).await?;
        }
        let (files, env): (Vec<&OpenedSecret>, Vec<&OpenedSecret>) =
            opened.iter().partition(|o| o.reference.file);
        let files: Vec<(String, &SecretValue)> = files
            .iter()
            .map(|o| (o.reference.env.clone(), &o.value))
            .collect();
        self.portal.store.remove_secret_files(secret_dir)?;
        if !files.is_empty() {
            self.portal.store.write_secret_files(
                &self.portal.config.secrets.tmpfs_dir,
                secret_dir,
                &files,
                gid,
            )?;
        }
        Ok(env
            .iter()
            .map(|o| (o.reference.env.clone(), o.value.clone()))
            .collect())
    }

    /// Creates and (with `start`) starts the container within the start queue's bound; a
    /// failure removes what it made.
    async fn create_and_start(
        &self,
        spec: &ContainerSpec,
        env: &[(String, SecretValue)],
        secret_dir: &std::path::Path,
        start: bool,
    ) -> Result<()> {
        let _permit = self
            .starts
            .acquire()
            .await
            .map_err(|_| PortalError::QueueClosed)?;
        let made = match self.engine.create_container(spec, env).await {
            Ok(()) if start => self.start_checked(&spec.name).await,
            Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = made {
            self.engine.remove_container(&spec.name, 0).await?;
            self.portal.store.remove_secret_files(secret_dir)?;
            return Err(e);
        }
        Ok(())
    }

    /// Marks a lazily enabled server's container idle (nothing without `lazy`).
    async fn mark_lazy(&self, name: &str, lazy: bool) -> Result<()> {
        if !lazy {
            return Ok(());
        }
        let (store, name) = (self.portal.store.clone(), name.to_string());
        blocking(move || Ok(store.mark_idle(&name, IdleReason::Lazy)?)).await
    }

    /// Forgets a container's idle mark: it runs (or is gone) by someone's choice.
    pub(in crate::manager) async fn clear_idle(&self, name: &str) -> Result<()> {
        let store = self.portal.store.clone();
        let name = name.to_string();
        blocking(move || Ok(store.clear_idle(&name).map(drop)?)).await
    }

    /// Starts a container and checks it is still running (after the configured grace).
    pub(super) async fn start_checked(&self, name: &str) -> Result<()> {
        self.engine.start_container(name).await?;
        let grace = self.portal.config.runtime.start_grace_ms;
        if grace > 0 {
            tokio::time::sleep(Duration::from_millis(grace)).await;
        }
        match self.engine.container(name).await? {
            Some(c) if c.running() => Ok(()),
            Some(c) => Err(exited(&c, "starting")),
            None => Err(PortalError::ContainerVanished { name: name.into() }),
        }
    }
}

/// A container found stopped right after it was started, with how it ended.
pub(super) fn exited(c: &ContainerInfo, after: &'static str) -> PortalError {
    let how = c
        .exit_code
        .map_or_else(|| c.state.clone(), |code| format!("exit code {code}"));
    PortalError::ContainerExited {
        name: c.name.clone(),
        after,
        detail: match &c.error {
            Some(e) => format!("{how}: {e}"),
            None => how,
        },
    }
}
