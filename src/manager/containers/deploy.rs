//! `auto_deploy` of seed 004's catalog upload: once a catalog change is stored, the
//! enabled servers of the users whose merged catalog it changed are brought in line at
//! once, through the same `converge` the daemon's reconcile pass uses (so an unchanged
//! container stays as it is, and a server disabled meanwhile is left alone). Each is
//! audited as an enable by the caller.

use serde::Serialize;

use super::super::{AuditAction, Portal};
use super::enable::EnableReport;
use super::Runtime;
use crate::engine::Engine;
use crate::ids::{ServerId, UserId};

/// What bringing the affected containers in line did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeployReport {
    pub deployed: Vec<EnableReport>,
    pub failed: Vec<DeployFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployFailure {
    pub user: UserId,
    /// None when the user's enabled servers could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerId>,
    pub error: String,
}

impl<E: Engine> Runtime<E> {
    /// Brings every enabled server of `users` in line with their merged catalog now.
    pub async fn deploy_by(&self, by: &Portal, users: &[UserId]) -> DeployReport {
        let mut report = DeployReport::default();
        for user in users {
            let enabled = match self.portal.store.read_enabled(user) {
                Ok(e) => e,
                Err(e) => {
                    report.failed.push(DeployFailure {
                        user: user.clone(),
                        server: None,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            for server in enabled.servers.keys() {
                let r = self.converge(user, server).await;
                let r = by.audited(
                    Some(user.as_str()),
                    AuditAction::ServerEnable,
                    server.as_str(),
                    r,
                );
                match r {
                    Ok(Some(done)) => report.deployed.push(done),
                    // Disabled meanwhile: nothing to bring in line.
                    Ok(None) => {}
                    Err(e) => report.failed.push(DeployFailure {
                        user: user.clone(),
                        server: Some(server.clone()),
                        error: e.to_string(),
                    }),
                }
            }
        }
        report
    }
}
