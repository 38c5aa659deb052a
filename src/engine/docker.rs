//! The [`Engine`] over bollard: connects through `DOCKER_HOST` or the default socket,
//! negotiates the API version, and maps 404/409 answers to idempotent outcomes.

use std::collections::{BTreeMap, HashMap};

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, HostConfigLogConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::{ContainerInfo, Engine, EngineError, EngineEvent, NetworkInfo, MIN_API};
use crate::plan::{ContainerSpec, NetworkSpec};
use crate::secrets::SecretValue;

#[derive(Debug, Clone)]
pub struct DockerEngine {
    docker: Docker,
}

fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn detail(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => other.to_string(),
    }
}

fn docker_err<'a>(
    action: &'static str,
    object: &'a str,
) -> impl FnOnce(BollardError) -> EngineError + 'a {
    move |e| match e {
        BollardError::DockerResponseServerError { .. } | BollardError::DockerStreamError { .. } => {
            EngineError::Docker {
                action,
                object: object.to_string(),
                detail: detail(&e),
            }
        }
        other => EngineError::Unreachable {
            detail: other.to_string(),
        },
    }
}

fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    )])
}

fn network_info(
    name: Option<String>,
    labels: Option<HashMap<String, String>>,
    ipam: Option<Ipam>,
) -> NetworkInfo {
    let subnets = ipam
        .and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.subnet)
        .collect();
    NetworkInfo {
        name: name.unwrap_or_default(),
        labels: btree(labels),
        subnets,
    }
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

    fn body(spec: &ContainerSpec, secret_env: &[(String, SecretValue)]) -> ContainerCreateBody {
        let port_key = spec
            .publish
            .as_ref()
            .map(|p| format!("{}/tcp", p.container_port));
        let port_bindings = spec.publish.as_ref().zip(port_key.clone()).map(|(p, key)| {
            HashMap::from([(
                key,
                Some(vec![PortBinding {
                    host_ip: Some(p.host_ip.clone()),
                    host_port: Some(p.host_port.to_string()),
                }]),
            )])
        });
        let host_config = HostConfig {
            memory: Some(spec.memory_bytes as i64),
            memory_swap: Some(spec.memory_bytes as i64),
            nano_cpus: Some(spec.nano_cpus as i64),
            cpu_shares: Some(spec.cpu_shares as i64),
            pids_limit: Some(i64::from(spec.pids_limit)),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
            security_opt: Some(spec.security_opt.clone()),
            readonly_rootfs: Some(spec.read_only),
            tmpfs: (!spec.tmpfs.is_empty()).then(|| spec.tmpfs.clone().into_iter().collect()),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(spec.log_opts.clone().into_iter().collect()),
            }),
            network_mode: Some(spec.network.clone().unwrap_or_else(|| "none".into())),
            port_bindings,
            binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
            ..Default::default()
        };
        let networking_config = spec.network.as_ref().map(|net| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.clone(),
                EndpointSettings {
                    aliases: Some(spec.aliases.clone()),
                    ..Default::default()
                },
            )])),
        });
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
            env: Some(
                spec.env
                    .iter()
                    .cloned()
                    .chain(
                        secret_env
                            .iter()
                            .map(|(k, v)| format!("{k}={}", v.expose())),
                    )
                    .collect(),
            ),
            labels: Some(spec.labels.clone().into_iter().collect()),
            user: Some(spec.user.clone()),
            open_stdin: Some(spec.open_stdin),
            stdin_once: Some(false),
            attach_stdin: Some(false),
            tty: Some(false),
            exposed_ports: port_key.map(|k| vec![k]),
            host_config: Some(host_config),
            networking_config,
            ..Default::default()
        }
    }
}

impl Engine for DockerEngine {
    async fn image_user(&self, image: &str) -> Result<Option<String>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i.config.and_then(|c| c.user).unwrap_or_default())),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(docker_err("inspect image", image)(e)),
        }
    }

    async fn pull(&self, image: &str, progress: &(dyn Fn(&str) + Sync)) -> Result<(), EngineError> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let done = info
                        .progress_detail
                        .as_ref()
                        .and_then(|p| p.current.zip(p.total));
                    let pct = done
                        .filter(|(_, t)| *t > 0)
                        .map(|(c, t)| format!("{}%", c * 100 / t));
                    let line = [info.id.as_deref(), info.status.as_deref(), pct.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    if !line.is_empty() {
                        progress(&line);
                    }
                }
                Err(e) => {
                    return Err(EngineError::Pull {
                        image: image.to_string(),
                        detail: detail(&e),
                    })
                }
            }
        }
        Ok(())
    }

    async fn network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        match self
            .docker
            .inspect_network(
                name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(n) => Ok(Some(network_info(n.name, n.labels, n.ipam))),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(docker_err("inspect network", name)(e)),
        }
    }

    async fn networks(&self, labels: &[(&str, &str)]) -> Result<Vec<NetworkInfo>, EngineError> {
        let options = ListNetworksOptionsBuilder::default()
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(docker_err("list", "networks"))?;
        Ok(list
            .into_iter()
            .map(|n| network_info(n.name, n.labels, n.ipam))
            .collect())
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<(), EngineError> {
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".into()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(spec.subnet.clone()),
                    gateway: Some(spec.gateway.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            // Another enable made it first: the caller checks it is ours.
            Err(e) if status(&e) == Some(409) => Ok(()),
            Err(e) => Err(docker_err("create network", &spec.name)(e)),
        }
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(docker_err("remove network", name)(e)),
        }
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(drop)
            .map_err(docker_err("create volume", name))
    }

    async fn container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => {
                let state = c.state.unwrap_or_default();
                let config = c.config.unwrap_or_default();
                Ok(Some(ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .name
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                    labels: btree(config.labels),
                    image: config.image.unwrap_or_default(),
                    state: state.status.map(|s| s.to_string()).unwrap_or_default(),
                    exit_code: state.exit_code,
                    error: state.error.filter(|e| !e.is_empty()),
                    started_at: state.started_at,
                    status: None,
                }))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(docker_err("inspect container", name)(e)),
        }
    }

    async fn containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>, EngineError> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(docker_err("list", "containers"))?;
        Ok(list
            .into_iter()
            .map(|c| ContainerInfo {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                labels: btree(c.labels),
                image: c.image.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                exit_code: None,
                error: None,
                started_at: None,
                status: c.status,
            })
            .collect())
    }

    async fn create_container(
        &self,
        spec: &ContainerSpec,
        secret_env: &[(String, SecretValue)],
    ) -> Result<(), EngineError> {
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        self.docker
            .create_container(Some(options), Self::body(spec, secret_env))
            .await
            .map(drop)
            .map_err(docker_err("create container", &spec.name))
    }

    async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(name, None)
            .await
            .map_err(docker_err("start container", name))
    }

    async fn restart_container(&self, name: &str, timeout_secs: i32) -> Result<(), EngineError> {
        let options = RestartContainerOptionsBuilder::default()
            .t(timeout_secs)
            .build();
        self.docker
            .restart_container(name, Some(options))
            .await
            .map_err(docker_err("restart container", name))
    }

    fn events(
        &self,
        labels: &[(&str, &str)],
    ) -> BoxStream<'static, Result<EngineEvent, EngineError>> {
        let mut filters = label_filters(labels);
        filters.insert("type".into(), vec!["container".into(), "network".into()]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        self.docker
            .events(Some(options))
            .map(|item| {
                let e = item.map_err(|e| EngineError::Unreachable {
                    detail: e.to_string(),
                })?;
                let attributes = e.actor.and_then(|a| a.attributes).unwrap_or_default();
                Ok(EngineEvent {
                    kind: e.typ.map(|t| t.to_string()).unwrap_or_default(),
                    action: e.action.unwrap_or_default(),
                    name: attributes.get("name").cloned().unwrap_or_default(),
                })
            })
            .boxed()
    }

    async fn remove_container(&self, name: &str, timeout_secs: i32) -> Result<(), EngineError> {
        let stop = StopContainerOptionsBuilder::default()
            .t(timeout_secs)
            .build();
        match self.docker.stop_container(name, Some(stop)).await {
            Ok(()) => {}
            Err(e) if matches!(status(&e), Some(304) | Some(404)) => {}
            Err(e) => return Err(docker_err("stop container", name)(e)),
        }
        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker.remove_container(name, Some(remove)).await {
            Ok(()) => Ok(()),
            // Gone already, or another caller's removal is in progress.
            Err(e) if matches!(status(&e), Some(404) | Some(409)) => Ok(()),
            Err(e) => Err(docker_err("remove container", name)(e)),
        }
    }
}
