//! Networks and volumes: the per-user bridge networks and the named volumes servers mount
//! (listed by label and removed with their user).

use std::collections::{BTreeMap, HashMap};

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    InspectNetworkOptions, ListNetworksOptionsBuilder, ListVolumesOptions, RemoveVolumeOptions,
};
use bollard::Docker;

use super::errors::{detail, docker_err, status};
use super::{btree, label_filters};
use crate::engine::{EngineError, NetworkInfo, VolumeInfo};
use crate::plan::NetworkSpec;

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

pub(super) async fn network(
    docker: &Docker,
    name: &str,
) -> Result<Option<NetworkInfo>, EngineError> {
    match docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(n) => Ok(Some(network_info(n.name, n.labels, n.ipam))),
        Err(e) if status(&e) == Some(404) => Ok(None),
        Err(e) => Err(docker_err("inspect network", name)(e)),
    }
}

pub(super) async fn networks(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<Vec<NetworkInfo>, EngineError> {
    let options = ListNetworksOptionsBuilder::default()
        .filters(&label_filters(labels))
        .build();
    let list = docker
        .list_networks(Some(options))
        .await
        .map_err(docker_err("list", "networks"))?;
    Ok(list
        .into_iter()
        .map(|n| network_info(n.name, n.labels, n.ipam))
        .collect())
}

pub(super) async fn create_network(docker: &Docker, spec: &NetworkSpec) -> Result<(), EngineError> {
    let request = NetworkCreateRequest {
        name: spec.name.clone(),
        driver: Some("bridge".into()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        internal: spec.internal.then_some(true),
        options: spec.isolated.then(|| {
            [(
                "com.docker.network.bridge.enable_icc".to_string(),
                "false".to_string(),
            )]
            .into_iter()
            .collect()
        }),
        // No subnet: Docker picks one from its pools (the one shared outbound network).
        ipam: (!spec.subnet.is_empty()).then(|| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(spec.subnet.clone()),
                gateway: Some(spec.gateway.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        // Another enable made it first: the caller checks it is ours.
        Err(e) if status(&e) == Some(409) => Ok(()),
        // Docker's words for a subnet some other network holds ("Pool overlaps with
        // other one on this address space"), answered with 403.
        Err(e) if detail(&e).contains("overlaps") => Err(EngineError::SubnetOverlap {
            network: spec.name.clone(),
            subnet: spec.subnet.clone(),
            detail: detail(&e),
        }),
        Err(e) => Err(docker_err("create network", &spec.name)(e)),
    }
}

pub(super) async fn remove_network(docker: &Docker, name: &str) -> Result<(), EngineError> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(e) if status(&e) == Some(404) => Ok(()),
        Err(e) => Err(docker_err("remove network", name)(e)),
    }
}

pub(super) async fn create_volume(
    docker: &Docker,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let request = VolumeCreateRequest {
        name: Some(name.to_string()),
        labels: Some(labels.clone().into_iter().collect()),
        ..Default::default()
    };
    docker
        .create_volume(request)
        .await
        .map(drop)
        .map_err(docker_err("create volume", name))
}

pub(super) async fn volumes(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<Vec<VolumeInfo>, EngineError> {
    let options = ListVolumesOptions {
        filters: Some(label_filters(labels)),
    };
    let list = docker
        .list_volumes(Some(options))
        .await
        .map_err(docker_err("list", "volumes"))?;
    Ok(list
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| VolumeInfo {
            name: v.name,
            labels: v.labels.into_iter().collect(),
        })
        .collect())
}

pub(super) async fn remove_volume(docker: &Docker, name: &str) -> Result<(), EngineError> {
    match docker
        .remove_volume(name, Some(RemoveVolumeOptions { force: false }))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if status(&e) == Some(404) => Ok(()),
        Err(e) => Err(docker_err("remove volume", name)(e)),
    }
}
