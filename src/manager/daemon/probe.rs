//! Health checks: which are due, running them against a container's host port, and
//! restarting a container that fails its check too often in a row.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::policy::{Decision, Seen};
use super::record::Health;
use super::Daemon;
use crate::catalog::model::{HealthCheck, HealthKind};
use crate::engine::Engine;
use crate::manager::AuditAction;
use crate::plan::{LABEL_SERVER, LABEL_USER};

/// A health check to run against a running container.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub(super) check: HealthCheck,
    pub(super) port: Option<u16>,
}

impl<E: Engine + 'static> Daemon<E> {
    /// Runs the health checks that are due; true when one turned a container unhealthy.
    pub(super) async fn probe_health(&self) -> bool {
        let bind = self.portal().config.runtime.bind_address.clone();
        let due: Vec<(String, Probe)> = {
            let tracked = self.tracked.lock().await;
            let now = Instant::now();
            tracked
                .iter()
                .filter(|(_, t)| !t.failed())
                .filter_map(|(n, t)| {
                    let p = t.probe.clone()?;
                    let interval = p
                        .check
                        .interval
                        .map_or(Duration::from_secs(30), |d| d.as_std());
                    let is_due = t
                        .last_probe
                        .is_none_or(|l| now.duration_since(l) >= interval);
                    (is_due && p.check.kind != HealthKind::Process && p.port.is_some())
                        .then(|| (n.clone(), p))
                })
                .collect()
        };
        let mut turned = false;
        for (name, p) in due {
            let ok = probe(&bind, &p).await;
            if self.note_probe(&name, &p, ok).await {
                self.restart_unhealthy(&name).await;
                turned = true;
            }
        }
        turned
    }

    /// Records one probe's result; true when the container is due a restart for it.
    async fn note_probe(&self, name: &str, p: &Probe, ok: bool) -> bool {
        let now = Instant::now();
        let mut tracked = self.tracked.lock().await;
        let t = tracked.entry(name.to_string()).or_default();
        t.last_probe = Some(now);
        if ok {
            t.failures = 0;
            t.health = Health::Healthy;
            return false;
        }
        t.failures += 1;
        self.portal().metrics().health_failure(name);
        if t.failures < p.check.retries.unwrap_or(3) {
            return false;
        }
        if t.health != Health::Unhealthy {
            t.health = Health::Unhealthy;
            t.last_error = Some(format!("health check failed {} times", t.failures));
        }
        // While its backoff lasts it stays unhealthy; a later failing probe tries again.
        !matches!(
            self.policy.decide(t, Seen::Unhealthy, now),
            Decision::Wait { .. } | Decision::LeaveAlone
        )
    }

    async fn restart_unhealthy(&self, name: &str) {
        tracing::warn!(container = %name, "unhealthy; restarting");
        let (user, server) = {
            let c = self.rt.engine().container(name).await.ok().flatten();
            let label = |k| {
                c.as_ref()
                    .and_then(|c| c.label(k).map(str::to_string))
                    .unwrap_or_default()
            };
            (label(LABEL_USER), label(LABEL_SERVER))
        };
        let r = self.restart(name, &user, &server, Seen::Unhealthy).await;
        if let Err(e) = &r {
            tracing::warn!(container = %name, error = %e.message, "restart failed");
        }
        if !matches!(r, Ok(false)) {
            let r = r.map(drop);
            self.audit(Some(&user), AuditAction::ReconcileRestart, &server, &r);
        }
    }
}

/// One health check against the host port of a container.
async fn probe(bind: &str, p: &Probe) -> bool {
    let Some(port) = p.port else { return false };
    let timeout = p
        .check
        .timeout
        .map_or(Duration::from_secs(5), |d| d.as_std());
    let host = if bind == "0.0.0.0" { "127.0.0.1" } else { bind };
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let request = match p.check.kind {
            HealthKind::Tcp | HealthKind::Process => return Some(true),
            HealthKind::Http => {
                let path = p.check.path.as_deref().unwrap_or("/");
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            }
            HealthKind::Mcp => {
                let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-portal-health","version":"1"}}}"#;
                format!(
                    "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
        };
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = vec![0u8; 512];
        let n = stream.read(&mut head).await.ok()?;
        let line = String::from_utf8_lossy(&head[..n]);
        let status = line.split_whitespace().nth(1)?.parse::<u16>().ok()?;
        let ok = (200..300).contains(&status);
        Some(ok && (p.check.kind != HealthKind::Mcp || line.contains("protocolVersion")))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
