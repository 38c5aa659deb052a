//! Users' containers on one engine: the [`Runtime`] and one file per verb (enable,
//! disable, restart, status, and users' data for `user add`/`user rm`), with the steps
//! they share (reservation, spec, network, replacement, and finding a pair's container
//! under an earlier name).

mod adopt;
mod deploy;
mod disable;
mod egress;
mod enable;
mod live;
mod logs;
mod network;
mod replace;
mod reserve;
mod restart;
mod spec;
mod status;
mod user_data;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{Portal, PortalError, Result};
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::plan::{
    LABEL_DATA_DIR, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_SERVER, LABEL_USER, MANAGED_BY,
};

pub use deploy::{DeployFailure, DeployReport};
pub use disable::DisableReport;
pub(crate) use egress::{is_proxy, proxy_pair};
pub use enable::{EnableOutcome, EnableReport};
pub use live::UNKNOWN_STATUS;
pub use logs::{LogLine, LogStream};
pub use status::{StatusRow, UNKNOWN_HEALTH};
pub use user_data::UserRemoved;

/// The portal's containers on one engine.
#[derive(Debug)]
pub struct Runtime<E> {
    portal: Portal,
    engine: E,
    starts: Arc<Semaphore>,
    listing: status::ListingCache,
    /// The last `measure`: each user's memory and CPU in use.
    measured: std::sync::Mutex<Option<live::Measured>>,
    /// When each server last had an MCP request (the gateway records, the daemon reads).
    activity: Arc<super::idle::Activity>,
}

/// The label filter that selects every object this portal instance manages.
pub(crate) fn managed(instance: &str) -> [(&'static str, &str); 2] {
    [(LABEL_MANAGED_BY, MANAGED_BY), (LABEL_INSTANCE, instance)]
}

/// Whether an object's labels say this instance made it for `user`: the one ownership
/// check for containers and networks alike (a name alone proves nothing).
pub(crate) fn owned_by(labels: &BTreeMap<String, String>, instance: &str, user: &UserId) -> bool {
    let is = |k: &str, v: &str| labels.get(k).map(String::as_str) == Some(v);
    is(LABEL_MANAGED_BY, MANAGED_BY)
        && is(LABEL_INSTANCE, instance)
        && is(LABEL_USER, user.as_str())
}

/// Whose a container is that holds a name this portal wants, for the refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakenBy {
    /// Not made by any portal.
    Foreign,
    /// Another portal instance's, with its data folder when its labels say.
    Instance {
        instance: String,
        data_dir: Option<String>,
    },
    /// This portal's, for another user and server whose names spell the same.
    Pair { user: String, server: String },
}

impl TakenBy {
    pub(crate) fn of(labels: &BTreeMap<String, String>, instance: &str) -> Self {
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        if labels.get(LABEL_MANAGED_BY).map(String::as_str) != Some(MANAGED_BY) {
            Self::Foreign
        } else if labels.get(LABEL_INSTANCE).map(String::as_str) != Some(instance) {
            Self::Instance {
                instance: get(LABEL_INSTANCE),
                data_dir: labels.get(LABEL_DATA_DIR).cloned(),
            }
        } else {
            Self::Pair {
                user: get(LABEL_USER),
                server: get(LABEL_SERVER),
            }
        }
    }
}

impl std::fmt::Display for TakenBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Foreign => write!(f, "a container no portal made; remove or rename it"),
            Self::Instance { instance, data_dir } => {
                write!(f, "portal instance {instance}")?;
                if let Some(dir) = data_dir {
                    write!(f, " (data folder {dir})")?;
                }
                write!(f, "; disable it there, remove that portal's containers (for the demo: `scripts/demo.sh clean`), or use another user name")
            }
            Self::Pair { user, server } => write!(
                f,
                "this portal's server {server} of user {user}, whose names spell the same; rename one of the two"
            ),
        }
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PortalError::TaskFailed {
            detail: e.to_string(),
        })?
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
            listing: status::ListingCache::default(),
            measured: Default::default(),
            activity: Default::default(),
        }
    }

    pub fn activity(&self) -> &Arc<super::idle::Activity> {
        &self.activity
    }

    /// Forgets the cached listing after a change made outside this module.
    pub(crate) async fn changed_listing(&self) {
        self.changed().await;
    }

    pub fn portal(&self) -> &Portal {
        &self.portal
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    fn instance(&self) -> &str {
        self.portal.instance()
    }

    /// The label filter for this instance's objects.
    pub(crate) fn managed(&self) -> [(&'static str, &str); 2] {
        managed(self.instance())
    }

    /// The label filter for this instance's objects of one user.
    fn managed_for<'a>(&'a self, user: &'a UserId) -> [(&'static str, &'a str); 3] {
        let [managed_by, instance] = self.managed();
        [managed_by, instance, (LABEL_USER, user.as_str())]
    }

    fn ours(&self, c: &crate::engine::ContainerInfo, user: &UserId) -> bool {
        owned_by(&c.labels, self.instance(), user)
    }
}
