//! A recording in-memory engine for tests that show the manager's logic without Docker:
//! containers, networks and volumes live in maps, creates and restarts are counted,
//! starts can be made to fail, and a container can be made to die. Lifecycle calls are
//! logged in order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use mcp_portal::engine::{
    Attached, ContainerInfo, Engine, EngineError, EngineEvent, LogsQuery, NetworkInfo, Output,
    Usage, VolumeInfo,
};
use mcp_portal::plan::{ContainerSpec, NetworkSpec};
use mcp_portal::secrets::SecretValue;

#[derive(Debug, Default)]
pub struct Fake {
    pub containers: Mutex<BTreeMap<String, ContainerInfo>>,
    pub networks: Mutex<BTreeMap<String, NetworkInfo>>,
    pub volumes: Mutex<BTreeMap<String, VolumeInfo>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub fail_start: Mutex<BTreeSet<String>>,
    /// Restarts asked of the engine, per container name.
    pub restarts: Mutex<BTreeMap<String, u32>>,
    /// `create NAME`, `stop NAME`, `start NAME`, `rename NAME TO`, `remove NAME`, in order.
    pub calls: Mutex<Vec<String>>,
}

impl Fake {
    /// The container exits with `code`, as a crashing server would.
    pub fn die(&self, name: &str, code: i64) {
        let mut all = self.containers.lock().unwrap();
        let c = all
            .get_mut(name)
            .unwrap_or_else(|| panic!("no container {name}"));
        c.state = "exited".into();
        c.exit_code = Some(code);
    }

    /// How often `name` was restarted.
    pub fn restarts_of(&self, name: &str) -> u32 {
        self.restarts
            .lock()
            .unwrap()
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// The lifecycle calls made so far, and forgets them.
    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    pub fn state_of(&self, name: &str) -> Option<String> {
        let all = self.containers.lock().unwrap();
        all.get(name).map(|c| c.state.clone())
    }
}

impl Engine for Fake {
    async fn image_user(&self, _image: &str) -> Result<Option<String>, EngineError> {
        Ok(Some(String::new()))
    }
    async fn pull(
        &self,
        _image: &str,
        _progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(), EngineError> {
        Ok(())
    }
    async fn network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        Ok(self.networks.lock().unwrap().get(name).cloned())
    }
    async fn networks(&self, _labels: &[(&str, &str)]) -> Result<Vec<NetworkInfo>, EngineError> {
        Ok(self.networks.lock().unwrap().values().cloned().collect())
    }
    async fn create_network(&self, spec: &NetworkSpec) -> Result<(), EngineError> {
        let info = NetworkInfo {
            name: spec.name.clone(),
            labels: spec.labels.clone(),
            subnets: vec![spec.subnet.clone()],
        };
        self.networks
            .lock()
            .unwrap()
            .insert(spec.name.clone(), info);
        Ok(())
    }
    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        self.networks.lock().unwrap().remove(name);
        Ok(())
    }
    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let info = VolumeInfo {
            name: name.into(),
            labels: labels.clone(),
        };
        self.volumes
            .lock()
            .unwrap()
            .entry(name.into())
            .or_insert(info);
        Ok(())
    }
    async fn volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<VolumeInfo>, EngineError> {
        let all = self.volumes.lock().unwrap();
        Ok(all
            .values()
            .filter(|v| {
                labels
                    .iter()
                    .all(|(k, val)| v.labels.get(*k).map(String::as_str) == Some(*val))
            })
            .cloned()
            .collect())
    }
    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        self.volumes.lock().unwrap().remove(name);
        Ok(())
    }
    async fn container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        Ok(self.containers.lock().unwrap().get(name).cloned())
    }
    async fn containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>, EngineError> {
        let all = self.containers.lock().unwrap();
        Ok(all
            .values()
            .filter(|c| labels.iter().all(|(k, v)| c.label(k) == Some(*v)))
            .cloned()
            .collect())
    }
    async fn create_container(
        &self,
        spec: &ContainerSpec,
        _secrets: &[(String, SecretValue)],
    ) -> Result<(), EngineError> {
        self.log(format!("create {}", spec.name));
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let info = ContainerInfo {
            id: spec.name.clone(),
            name: spec.name.clone(),
            labels: spec.labels.clone(),
            image: spec.image.clone(),
            state: "created".into(),
            exit_code: None,
            error: None,
            started_at: None,
            status: None,
            bind_sources: spec
                .binds
                .iter()
                .filter_map(|b| b.split(':').next().map(str::to_string))
                .collect(),
        };
        self.containers
            .lock()
            .unwrap()
            .insert(spec.name.clone(), info);
        Ok(())
    }
    async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        self.log(format!("start {name}"));
        if self.fail_start.lock().unwrap().contains(name) {
            return Err(EngineError::Docker {
                action: "start container",
                object: name.into(),
                detail: "exec format error".into(),
            });
        }
        if let Some(c) = self.containers.lock().unwrap().get_mut(name) {
            c.state = "running".into();
            c.exit_code = None;
        }
        Ok(())
    }
    async fn restart_container(&self, name: &str, _t: i32) -> Result<(), EngineError> {
        *self
            .restarts
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default() += 1;
        self.start_container(name).await
    }
    /// A running container uses 8 MiB and no CPU, as far as the fake knows.
    async fn usage(&self, name: &str) -> Result<Option<Usage>, EngineError> {
        let running = self.container(name).await?.is_some_and(|c| c.running());
        Ok(running.then_some(Usage {
            memory_bytes: 8 * 1024 * 1024,
            cpu_ns: 0,
        }))
    }
    fn events(
        &self,
        _labels: &[(&str, &str)],
    ) -> futures_util::stream::BoxStream<'static, Result<EngineEvent, EngineError>> {
        Box::pin(futures_util::stream::empty())
    }
    /// The manager's tests never speak to a server; the gateway's own tests attach to an
    /// in-memory pipe instead.
    async fn attach(&self, name: &str) -> Result<Attached, EngineError> {
        Err(EngineError::Docker {
            action: "attach to container",
            object: name.into(),
            detail: "fake engine cannot attach".into(),
        })
    }
    /// The fake's containers print nothing.
    fn logs(
        &self,
        _name: &str,
        _query: &LogsQuery,
    ) -> futures_util::stream::BoxStream<'static, Result<Output, EngineError>> {
        Box::pin(futures_util::stream::empty())
    }
    async fn stop_container(&self, name: &str, _t: i32) -> Result<(), EngineError> {
        self.log(format!("stop {name}"));
        if let Some(c) = self.containers.lock().unwrap().get_mut(name) {
            c.state = "exited".into();
            c.exit_code = Some(0);
        }
        Ok(())
    }
    async fn rename_container(&self, name: &str, to: &str) -> Result<(), EngineError> {
        self.log(format!("rename {name} {to}"));
        let mut all = self.containers.lock().unwrap();
        let not_found = || EngineError::Docker {
            action: "rename container",
            object: name.into(),
            detail: format!("No such container: {name}"),
        };
        if all.contains_key(to) {
            return Err(EngineError::Docker {
                action: "rename container",
                object: name.into(),
                detail: format!("the name {to} is already in use"),
            });
        }
        let mut c = all.remove(name).ok_or_else(not_found)?;
        c.name = to.to_string();
        all.insert(to.to_string(), c);
        Ok(())
    }
    async fn remove_container(&self, name: &str, _t: i32) -> Result<(), EngineError> {
        if self.containers.lock().unwrap().remove(name).is_some() {
            self.log(format!("remove {name}"));
        }
        Ok(())
    }
}
