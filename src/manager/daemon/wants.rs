//! Desired state: every enabled server's container, with its planned spec hash (or why
//! it cannot be planned) and its health check.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::probe::Probe;
use super::Daemon;
use crate::catalog::merge::MergedServer;
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::manager::idle::timeout_of;
use crate::manager::Result;
use crate::plan::container_name;
use crate::reconcile::Want;

/// A container the daemon stops after `timeout` without an MCP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IdleWatch {
    pub container: String,
    pub user: UserId,
    pub server: ServerId,
    pub timeout: Duration,
}

/// What the data folder asks for, and how far it could be read.
#[derive(Debug, Default)]
pub(super) struct Wants {
    /// Desired containers, with their planned spec hash.
    pub want: BTreeMap<String, Want>,
    pub probes: BTreeMap<String, Option<Probe>>,
    /// Each container with an idle timeout: its user, server and timeout.
    pub idle: Vec<IdleWatch>,
    /// Users whose record of what they enabled could not be read: their containers stay.
    pub unreadable: BTreeSet<String>,
    /// The folder could not be read whole (deleted, unmounted): nothing may be removed.
    pub blind: bool,
}

impl<E: Engine + 'static> Daemon<E> {
    /// Desired containers (with their planned spec hash) and their health checks.
    pub(super) async fn wants(&self) -> Result<Wants> {
        let portal = self.portal();
        let blind = !portal.store.is_whole();
        let mut unreadable: BTreeSet<String> =
            portal.store.users_unreadable().into_iter().collect();
        let allocs = portal.store.read_allocations()?.unwrap_or_default();
        let mut want = BTreeMap::new();
        let mut probes = BTreeMap::new();
        let mut idle = Vec::new();
        // An idle container is stopped on purpose: no probe may call it unhealthy.
        let parked = self.idle_marks();
        let default_idle = portal.config.daemon.idle_timeout;
        let mut image_users: HashMap<String, std::result::Result<String, String>> = HashMap::new();
        for user in portal.store.user_ids()? {
            // One user's damaged file must not stop everyone else's containers.
            let enabled = match portal.store.read_enabled(&user) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(user = %user, error = %e, "cannot read what the user enabled; their containers are left as they are");
                    unreadable.insert(user.to_string());
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
                let image_user = match self.image_user(&mut image_users, &def.def.image).await {
                    Ok(u) => u,
                    Err(e) => {
                        w.error = Some(format!("cannot plan: {e}"));
                        want.insert(name, w);
                        continue;
                    }
                };
                let alloc = allocs.users.get(&user);
                let port = alloc.and_then(|a| a.ports.get(&server).copied());
                match alloc.map(|a| {
                    self.rt
                        .spec_for(&user, &def, &entry.settings, port, a.block, &image_user)
                }) {
                    Some(Ok((_, hash, _))) => w.spec_hash = Some(hash),
                    Some(Err(e)) => w.error = Some(format!("cannot plan: {e}")),
                    // Enabling takes the block first: only a lost allocation gets here,
                    // and the converge that follows takes a block again.
                    None => w.error = Some(format!("cannot plan: user {user} holds no block")),
                }
                let own = def.def.idle_timeout.map(|d| d.as_std());
                if let Some(timeout) = timeout_of(own, default_idle) {
                    idle.push(IdleWatch {
                        container: name.clone(),
                        user: user.clone(),
                        server: server.clone(),
                        timeout,
                    });
                }
                probes.insert(
                    name.clone(),
                    def.def
                        .health_check
                        .clone()
                        .filter(|_| !parked.contains_key(&name))
                        .map(|check| Probe { check, port }),
                );
                want.insert(name, w);
            }
        }
        Ok(Wants {
            want,
            probes,
            idle,
            unreadable,
            blind,
        })
    }

    /// The USER an image runs as, asked of the engine once per image and pass. A missing
    /// image plans as if it had no USER (creating it pulls it); one that cannot be
    /// inspected is not planned at all this pass, so a passing hiccup never recreates a
    /// running container.
    async fn image_user(
        &self,
        seen: &mut HashMap<String, std::result::Result<String, String>>,
        image: &str,
    ) -> std::result::Result<String, String> {
        if let Some(known) = seen.get(image) {
            return known.clone();
        }
        let u = self
            .rt
            .engine()
            .image_user(image)
            .await
            .map(Option::unwrap_or_default)
            .map_err(|e| e.to_string());
        seen.insert(image.to_string(), u.clone());
        u
    }
}
