//! The Docker Engine behind a narrow trait: the dozen calls the portal makes. Only
//! `engine::docker` talks to Docker (through bollard); everything above speaks in the
//! portal's own terms (`plan::ContainerSpec`, `plan::NetworkSpec`, [`ContainerInfo`]).

mod docker;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::BoxStream;
use tokio::io::AsyncWrite;

pub use docker::DockerEngine;

use crate::plan::{ContainerSpec, NetworkSpec};
use crate::secrets::SecretValue;

/// The oldest Docker Engine API the portal supports (Engine 20.10).
pub const MIN_API: (u32, u32) = (1, 41);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker Engine ({detail}); start it (dockerd, or systemctl start docker) or point DOCKER_HOST at it")]
    Unreachable { detail: String },
    #[error("the Docker Engine speaks API {found}, older than {}.{}: upgrade to Engine 20.10 or newer", MIN_API.0, MIN_API.1)]
    TooOld { found: String },
    #[error("image {image} is not present and could not be pulled ({detail}); build it (scripts/build-images.sh builds the demo images) or load it with `docker load`")]
    Pull { image: String, detail: String },
    #[error("docker could not create network {network}: its subnet {subnet} overlaps another network on the engine ({detail})")]
    SubnetOverlap {
        network: String,
        subnet: String,
        detail: String,
    },
    #[error("docker could not {action} {object}: {detail}")]
    Docker {
        action: &'static str,
        object: String,
        detail: String,
    },
}

/// What the portal reads back about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub image: String,
    /// Docker's state: created, running, exited, ...
    pub state: String,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    /// Docker's one-line summary ("Up 3 minutes", "Exited (1) 2 seconds ago"), from listings.
    pub status: Option<String>,
    /// The source (host folder or named volume) of each bind; from inspection only,
    /// empty in listings.
    pub bind_sources: Vec<String>,
}

impl ContainerInfo {
    pub fn running(&self) -> bool {
        self.state == "running"
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// A Docker event about a managed object (`container` or `network`): `die`, `destroy`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEvent {
    pub kind: String,
    pub action: String,
    pub name: String,
    /// The object's id (a container's full id).
    pub id: String,
    /// The object's labels, as Docker attaches them to its events.
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub subnets: Vec<String>,
}

/// A chunk of a container's output, as the engine framed it: a chunk may hold part of a
/// line or several lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// A live attachment to a container's stdin and output. Dropping both halves ends the
/// attachment; the container and its stdin stay open (they are created with
/// `StdinOnce=false`), so another attachment can follow.
pub struct Attached {
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    /// Output from the moment of attaching on (no replay); it ends when the container stops.
    pub output: BoxStream<'static, Result<Output, EngineError>>,
}

impl fmt::Debug for Attached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Attached { .. }")
    }
}

/// A running container's use of memory and CPU, from one stats call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub memory_bytes: u64,
    /// CPU time used since the container started, in nanoseconds: the CPU in use is the
    /// change of it between two readings over the time between them.
    pub cpu_ns: u64,
}

/// Which part of a container's log to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogsQuery {
    /// Keep reading as the container writes, until it stops or the reader goes away.
    pub follow: bool,
    /// Only the last N lines (default: all).
    pub tail: Option<u64>,
    /// Only what was written at or after this time (Unix seconds).
    pub since: Option<i64>,
}

/// The calls the portal makes to a container engine.
pub trait Engine: Send + Sync {
    /// `None` when the image is missing; else the `USER` it declares (may be empty).
    fn image_user(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<Option<String>, EngineError>> + Send;
    /// Pulls an image, reporting progress lines.
    fn pull(
        &self,
        image: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn network(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<NetworkInfo>, EngineError>> + Send;
    fn networks(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<NetworkInfo>, EngineError>> + Send;
    fn create_network(
        &self,
        spec: &NetworkSpec,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Removes a network; one already gone is not an error.
    fn remove_network(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Creates a named volume; one that exists is not an error.
    fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Named volumes carrying all of `labels`.
    fn volumes(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<VolumeInfo>, EngineError>> + Send;
    /// Removes a named volume; one already gone is not an error, one in use is.
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn container(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ContainerInfo>, EngineError>> + Send;
    fn containers(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<ContainerInfo>, EngineError>> + Send;
    /// Creates the container; `secret_env` are `NAME`/value pairs added to its environment.
    fn create_container(
        &self,
        spec: &ContainerSpec,
        secret_env: &[(String, SecretValue)],
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn start_container(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn restart_container(
        &self,
        name: &str,
        timeout_secs: i32,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// What a running container uses now: its memory in bytes, less the page cache it
    /// could give back (as `docker stats` counts it), and the CPU time it has had; `None`
    /// when there is no such container or Docker reports no figure. One call, no stream.
    fn usage(&self, name: &str) -> impl Future<Output = Result<Option<Usage>, EngineError>> + Send;
    /// Events about objects carrying all of `labels`, as they happen.
    fn events(
        &self,
        labels: &[(&str, &str)],
    ) -> BoxStream<'static, Result<EngineEvent, EngineError>>;
    /// Attaches to a running container's stdin, stdout and stderr.
    fn attach(&self, name: &str) -> impl Future<Output = Result<Attached, EngineError>> + Send;
    /// A container's log, stdout and stderr as written.
    fn logs(
        &self,
        name: &str,
        query: &LogsQuery,
    ) -> BoxStream<'static, Result<Output, EngineError>>;
    /// Stops a container (with a grace period); one stopped already is not an error.
    fn stop_container(
        &self,
        name: &str,
        timeout_secs: i32,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Renames a container in place: the same container, running or not, under `to`.
    fn rename_container(
        &self,
        name: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Stops (with a grace period) and removes a container; one already gone is not an error.
    fn remove_container(
        &self,
        name: &str,
        timeout_secs: i32,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
}
