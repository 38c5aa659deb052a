//! From a user's merged server to its container spec: the planner's inputs gathered
//! (quota, secrets, paths as the Docker host sees them) and `plan::plan` called.

use super::super::servers::unknown_user;
use super::super::{OpenedSecret, Result};
use super::Runtime;
use crate::catalog::merge::MergedServer;
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};
use crate::plan::{self, network_name, ContainerSpec, PlanInput, SecretBinding, Settings};

impl<E: Engine> Runtime<E> {
    /// Plans the container for a user's server: the spec, its hash, and the opened secrets.
    pub(crate) fn spec_for(
        &self,
        user: &UserId,
        def: &MergedServer,
        settings: &Settings,
        port: Option<u16>,
        block: u32,
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
        let (mut spec, hash) = plan::plan(&PlanInput {
            instance: self.portal.instance(),
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
            user_uid: self.user_uid(block),
            secrets: &bindings,
            secret_dir: &secret_dir.display().to_string(),
            egress: &rt.egress,
        })?;
        spec.labels
            .insert(plan::LABEL_DATA_DIR.into(), self.host_data_dir());
        if let Some(proxy) = &mut spec.egress {
            proxy
                .labels
                .insert(plan::LABEL_DATA_DIR.into(), self.host_data_dir());
        }
        Ok((spec, hash, opened))
    }

    /// A user's folders as the Docker host sees them: under `MCP_PORTAL_HOST_DATA_DIR`
    /// when the portal runs in a container with the data folder mounted from there.
    pub(super) fn host_paths(&self, paths: plan::UserPaths) -> plan::UserPaths {
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

    /// The data folder as the Docker host sees it.
    pub(super) fn host_data_dir(&self) -> String {
        match &self.portal.config.runtime.host_data_dir {
            Some(host) => host.clone(),
            None => self.portal.store.root().display().to_string(),
        }
    }

    /// The inverse of `host_paths`: where a host folder of the data folder is, here.
    pub(super) fn local_path(&self, path: &str) -> String {
        let Some(host) = &self.portal.config.runtime.host_data_dir else {
            return path.to_string();
        };
        let root = self.portal.store.root().display().to_string();
        path.strip_prefix(host.as_str())
            .map_or(path.to_string(), |rest| format!("{root}{rest}"))
    }

    /// The user's own uid and gid, from the block they hold. The base is at most 2e9
    /// (its key's check) and blocks are far fewer than 2^31, so this cannot wrap.
    pub(super) fn user_uid(&self, block: u32) -> u32 {
        self.portal
            .config
            .runtime
            .hardening
            .uid_base
            .saturating_add(block)
    }

    /// The tmpfs folder holding one container's secret files.
    pub(super) fn secret_dir(&self, user: &UserId, server: &ServerId) -> std::path::PathBuf {
        self.portal
            .config
            .secrets
            .tmpfs_dir
            .join(self.instance())
            .join(user.as_str())
            .join(server.as_str())
    }
}
