//! Containers: inspecting and listing them, building the create request from a
//! [`ContainerSpec`], and the start/restart/stop/rename/remove lifecycle.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointSettings, HostConfig,
    HostConfigLogConfig, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, RestartContainerOptionsBuilder, StatsOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::errors::{docker_err, status};
use super::{btree, label_filters};
use crate::engine::{ContainerInfo, EngineError, Usage};
use crate::plan::ContainerSpec;
use crate::secrets::SecretValue;

pub(super) async fn container(
    docker: &Docker,
    name: &str,
) -> Result<Option<ContainerInfo>, EngineError> {
    match docker.inspect_container(name, None).await {
        Ok(c) => Ok(Some(inspected(c))),
        Err(e) if status(&e) == Some(404) => Ok(None),
        Err(e) => Err(docker_err("inspect container", name)(e)),
    }
}

pub(super) async fn usage(docker: &Docker, name: &str) -> Result<Option<Usage>, EngineError> {
    // One sample, without the second one Docker waits a second for to work out CPU use.
    let options = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    match docker.stats(name, Some(options)).next().await {
        Some(Ok(s)) => {
            let memory = s.memory_stats.and_then(|m| {
                let usage = m.usage?;
                // cgroup v2 names the reclaimable cache `inactive_file`, v1 `total_inactive_file`.
                let cache = m
                    .stats
                    .as_ref()
                    .and_then(|st| st.get("inactive_file").or(st.get("total_inactive_file")))
                    .copied()
                    .unwrap_or(0);
                Some(usage.saturating_sub(cache))
            });
            let cpu_ns = s
                .cpu_stats
                .and_then(|c| c.cpu_usage)
                .and_then(|u| u.total_usage)
                .unwrap_or(0);
            Ok(memory.map(|memory_bytes| Usage {
                memory_bytes,
                cpu_ns,
            }))
        }
        Some(Err(e)) if status(&e) == Some(404) => Ok(None),
        Some(Err(e)) => Err(docker_err("read the resource use of container", name)(e)),
        None => Ok(None),
    }
}

fn inspected(c: ContainerInspectResponse) -> ContainerInfo {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    ContainerInfo {
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
        bind_sources: c
            .host_config
            .and_then(|h| h.binds)
            .unwrap_or_default()
            .iter()
            .filter_map(|b| b.split(':').next().map(str::to_string))
            .collect(),
    }
}

pub(super) async fn containers(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<Vec<ContainerInfo>, EngineError> {
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&label_filters(labels))
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(docker_err("list", "containers"))?;
    Ok(list.into_iter().map(listed).collect())
}

fn listed(c: ContainerSummary) -> ContainerInfo {
    ContainerInfo {
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
        bind_sources: Vec::new(),
    }
}

pub(super) async fn create_container(
    docker: &Docker,
    spec: &ContainerSpec,
    secret_env: &[(String, SecretValue)],
) -> Result<(), EngineError> {
    let options = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    docker
        .create_container(Some(options), body(spec, secret_env))
        .await
        .map(drop)
        .map_err(docker_err("create container", &spec.name))?;
    // API 1.41 takes one network at create; the others are joined before the start.
    for more in &spec.more_networks {
        let request = bollard::models::NetworkConnectRequest {
            container: spec.name.clone(),
            endpoint_config: Some(EndpointSettings {
                aliases: Some(more.aliases.clone()),
                ..Default::default()
            }),
        };
        docker
            .connect_network(&more.name, request)
            .await
            .map_err(docker_err(
                "connect container",
                &format!("{} to network {}", spec.name, more.name),
            ))?;
    }
    Ok(())
}

fn body(spec: &ContainerSpec, secret_env: &[(String, SecretValue)]) -> ContainerCreateBody {
    let port_key = spec
        .publish
        .as_ref()
        .map(|p| format!("{}/tcp", p.container_port));
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
        env: Some(env(spec, secret_env)),
        labels: Some(spec.labels.clone().into_iter().collect()),
        user: Some(spec.user.clone()),
        open_stdin: Some(spec.open_stdin),
        stdin_once: Some(false),
        attach_stdin: Some(false),
        tty: Some(false),
        exposed_ports: port_key.clone().map(|k| vec![k]),
        host_config: Some(host_config(spec, port_key)),
        networking_config: networking_config(spec),
        ..Default::default()
    }
}

/// The spec's environment with the secrets appended: the only place values are exposed.
fn env(spec: &ContainerSpec, secret_env: &[(String, SecretValue)]) -> Vec<String> {
    spec.env
        .iter()
        .cloned()
        .chain(
            secret_env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.expose())),
        )
        .collect()
}

/// Limits, confinement, logging and the published port.
fn host_config(spec: &ContainerSpec, port_key: Option<String>) -> HostConfig {
    let port_bindings = spec.publish.as_ref().zip(port_key).map(|(p, key)| {
        HashMap::from([(
            key,
            Some(vec![PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(p.host_port.to_string()),
            }]),
        )])
    });
    HostConfig {
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
        group_add: (!spec.group_add.is_empty()).then(|| spec.group_add.clone()),
        ..Default::default()
    }
}

/// The user's network with the server's aliases on it, when the server has a network.
fn networking_config(spec: &ContainerSpec) -> Option<NetworkingConfig> {
    spec.network.as_ref().map(|net| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            net.clone(),
            EndpointSettings {
                aliases: Some(spec.aliases.clone()),
                ..Default::default()
            },
        )])),
    })
}

pub(super) async fn start_container(docker: &Docker, name: &str) -> Result<(), EngineError> {
    docker
        .start_container(name, None)
        .await
        .map_err(docker_err("start container", name))
}

pub(super) async fn restart_container(
    docker: &Docker,
    name: &str,
    timeout_secs: i32,
) -> Result<(), EngineError> {
    let options = RestartContainerOptionsBuilder::default()
        .t(timeout_secs)
        .build();
    docker
        .restart_container(name, Some(options))
        .await
        .map_err(docker_err("restart container", name))
}

pub(super) async fn stop_container(
    docker: &Docker,
    name: &str,
    timeout_secs: i32,
) -> Result<(), EngineError> {
    let stop = StopContainerOptionsBuilder::default()
        .t(timeout_secs)
        .build();
    match docker.stop_container(name, Some(stop)).await {
        // 304: stopped already; 404: gone, which the caller's next step will find.
        Err(e) if matches!(status(&e), Some(304) | Some(404)) => Ok(()),
        r => r.map_err(docker_err("stop container", name)),
    }
}

pub(super) async fn rename_container(
    docker: &Docker,
    name: &str,
    to: &str,
) -> Result<(), EngineError> {
    let options = RenameContainerOptionsBuilder::default().name(to).build();
    docker
        .rename_container(name, options)
        .await
        .map_err(docker_err("rename container", name))
}

pub(super) async fn remove_container(
    docker: &Docker,
    name: &str,
    timeout_secs: i32,
) -> Result<(), EngineError> {
    stop_container(docker, name, timeout_secs).await?;
    let remove = RemoveContainerOptionsBuilder::default().force(true).build();
    match docker.remove_container(name, Some(remove)).await {
        Ok(()) => Ok(()),
        // Gone already, or another caller's removal is in progress.
        Err(e) if matches!(status(&e), Some(404) | Some(409)) => Ok(()),
        Err(e) => Err(docker_err("remove container", name)(e)),
    }
}
