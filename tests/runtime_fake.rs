#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The container manager against a recording in-memory engine: what a real engine would
//! make slow or flaky to show (bounded starts, rollback after a failing start).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_portal::config::Config;
use mcp_portal::engine::{ContainerInfo, Engine, EngineError, EngineEvent, NetworkInfo};
use mcp_portal::ids::{ServerId, UserId};
use mcp_portal::manager::{Portal, Runtime};
use mcp_portal::plan::{ContainerSpec, NetworkSpec};
use mcp_portal::secrets::SecretValue;

#[derive(Debug, Default)]
struct Fake {
    containers: Mutex<BTreeMap<String, ContainerInfo>>,
    networks: Mutex<BTreeMap<String, NetworkInfo>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    fail_start: Mutex<BTreeSet<String>>,
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
        _name: &str,
        _labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
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
        };
        self.containers
            .lock()
            .unwrap()
            .insert(spec.name.clone(), info);
        Ok(())
    }
    async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        if self.fail_start.lock().unwrap().contains(name) {
            return Err(EngineError::Docker {
                action: "start container",
                object: name.into(),
                detail: "exec format error".into(),
            });
        }
        if let Some(c) = self.containers.lock().unwrap().get_mut(name) {
            c.state = "running".into();
        }
        Ok(())
    }
    async fn restart_container(&self, name: &str, _t: i32) -> Result<(), EngineError> {
        self.start_container(name).await
    }
    fn events(
        &self,
        _labels: &[(&str, &str)],
    ) -> futures_util::stream::BoxStream<'static, Result<EngineEvent, EngineError>> {
        Box::pin(futures_util::stream::empty())
    }
    async fn remove_container(&self, name: &str, _t: i32) -> Result<(), EngineError> {
        self.containers.lock().unwrap().remove(name);
        Ok(())
    }
}

fn portal(dir: &std::path::Path, max_starts: &str) -> Portal {
    let vars = BTreeMap::from([("MCP_PORTAL_MAX_CONCURRENT_STARTS", max_starts.to_string())]);
    let config = Config::from_lookup(dir.to_path_buf(), |k| vars.get(k).cloned()).unwrap();
    let portal = Portal::open(config).unwrap();
    let catalog = "name: t\nservers:\n  - {id: a, image: mcp-echo, resources: {memory: 32m, cpus: 0.1}}\n  - {id: b, image: mcp-echo, resources: {memory: 32m, cpus: 0.1}}\n";
    portal
        .upload_catalog("t.yaml", catalog.as_bytes(), None)
        .unwrap();
    portal
}

fn ids(user: &str, server: &str) -> (UserId, ServerId) {
    (
        UserId::parse(user).unwrap(),
        ServerId::parse(server).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_and_starts_are_bounded_and_the_rest_queue() {
    let dir = tempfile::tempdir().unwrap();
    let portal = portal(dir.path(), "3");
    for i in 0..10 {
        portal
            .add_user(UserId::parse(&format!("u{i}")).unwrap(), vec![], None)
            .unwrap();
    }
    let rt = Arc::new(Runtime::new(portal, Fake::default()));
    let mut tasks = Vec::new();
    for i in 0..10 {
        for s in ["a", "b"] {
            let rt = Arc::clone(&rt);
            tasks.push(tokio::spawn(async move {
                let (u, s) = ids(&format!("u{i}"), s);
                rt.enable(&u, &s, None, &|_| {}).await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let fake = rt.engine();
    assert_eq!(fake.containers.lock().unwrap().len(), 20);
    assert_eq!(
        fake.max_in_flight.load(Ordering::SeqCst),
        3,
        "at most MCP_PORTAL_MAX_CONCURRENT_STARTS at once"
    );
}

#[tokio::test]
async fn a_failing_start_is_undone_completely() {
    let dir = tempfile::tempdir().unwrap();
    let portal = portal(dir.path(), "5");
    let (u, a) = ids("u1", "a");
    portal.add_user(u.clone(), vec![], None).unwrap();
    let fake = Fake::default();
    fake.fail_start.lock().unwrap().insert("mcp-u1-a".into());
    let rt = Runtime::new(portal, fake);
    let err = rt.enable(&u, &a, None, &|_| {}).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "docker could not start container mcp-u1-a: exec format error"
    );
    assert!(rt.engine().containers.lock().unwrap().is_empty());
    assert!(rt.engine().networks.lock().unwrap().is_empty());
    assert!(rt
        .portal()
        .store()
        .read_enabled(&u)
        .unwrap()
        .servers
        .is_empty());
    assert_eq!(
        rt.portal()
            .store()
            .read_allocations()
            .unwrap()
            .unwrap()
            .users
            .len(),
        0
    );
}
