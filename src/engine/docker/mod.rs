//! The [`Engine`] over bollard: connects through `DOCKER_HOST` or the default socket,
//! negotiates the API version, and maps 404/409 answers to idempotent outcomes.
//!
//! This module owns the connection and the [`Engine`] impl, which hands each call to the
//! part that owns it: `containers`, `networks` (and volumes), `images` (and pulls),
//! `events`, `attach` (a container's stdio); `errors` maps bollard's failures.

mod attach;
mod containers;
mod errors;
mod events;
mod images;
mod logs;
mod networks;

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use futures_util::stream::BoxStream;

use super::{
    Attached, ContainerInfo, Engine, EngineError, EngineEvent, LogsQuery, NetworkInfo, Output,
    Usage, VolumeInfo, MIN_API,
};
use crate::plan::{ContainerSpec, NetworkSpec};
use crate::secrets::SecretValue;

#[derive(Debug, Clone)]
pub struct DockerEngine {
    docker: Docker,
}

fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    )])
}

fn btree(m: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().collect()
}

impl DockerEngine {
    /// Connects and negotiates the API version; says how to fix it when Docker is away.
    pub async fn connect() -> Result<Self, EngineError> {
        let docker = Docker::connect_with_defaults().map_err(|e| EngineError::Unreachable {
            detail: e.to_string(),
        })?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| EngineError::Unreachable {
                detail: e.to_string(),
            })?;
        let v = docker.client_version();
        let found = (v.major_version as u32, v.minor_version as u32);
        if found < MIN_API {
            return Err(EngineError::TooOld {
                found: format!("{}.{}", found.0, found.1),
            });
        }
        Ok(Self { docker })
    }
}

impl Engine for DockerEngine {
    async fn image_user(&self, image: &str) -> Result<Option<String>, EngineError> {
        images::image_user(&self.docker, image).await
    }

    async fn pull(&self, image: &str, progress: &(dyn Fn(&str) + Sync)) -> Result<(), EngineError> {
        images::pull(&self.docker, image, progress).await
    }

    async fn network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        networks::network(&self.docker, name).await
    }

    async fn networks(&self, labels: &[(&str, &str)]) -> Result<Vec<NetworkInfo>, EngineError> {
        networks::networks(&self.docker, labels).await
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<(), EngineError> {
        networks::create_network(&self.docker, spec).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        networks::remove_network(&self.docker, name).await
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        networks::create_volume(&self.docker, name, labels).await
    }

    async fn volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<VolumeInfo>, EngineError> {
        networks::volumes(&self.docker, labels).await
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        networks::remove_volume(&self.docker, name).await
    }

    async fn usage(&self, name: &str) -> Result<Option<Usage>, EngineError> {
        containers::usage(&self.docker, name).await
    }

    async fn container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        containers::container(&self.docker, name).await
    }

    async fn containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>, EngineError> {
        containers::containers(&self.docker, labels).await
    }

    async fn create_container(
        &self,
        spec: &ContainerSpec,
        secret_env: &[(String, SecretValue)],
    ) -> Result<(), EngineError> {
        containers::create_container(&self.docker, spec, secret_env).await
    }

    async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        containers::start_container(&self.docker, name).await
    }

    async fn restart_container(&self, name: &str, timeout_secs: i32) -> Result<(), EngineError> {
        containers::restart_container(&self.docker, name, timeout_secs).await
    }

    fn events(
        &self,
        labels: &[(&str, &str)],
    ) -> BoxStream<'static, Result<EngineEvent, EngineError>> {
        events::events(&self.docker, labels)
    }

    async fn attach(&self, name: &str) -> Result<Attached, EngineError> {
        attach::attach(&self.docker, name).await
    }

    fn logs(
        &self,
        name: &str,
        query: &LogsQuery,
    ) -> BoxStream<'static, Result<Output, EngineError>> {
        logs::logs(&self.docker, name, query)
    }

    async fn stop_container(&self, name: &str, timeout_secs: i32) -> Result<(), EngineError> {
        containers::stop_container(&self.docker, name, timeout_secs).await
    }

    async fn rename_container(&self, name: &str, to: &str) -> Result<(), EngineError> {
        containers::rename_container(&self.docker, name, to).await
    }

    async fn remove_container(&self, name: &str, timeout_secs: i32) -> Result<(), EngineError> {
        containers::remove_container(&self.docker, name, timeout_secs).await
    }
}
