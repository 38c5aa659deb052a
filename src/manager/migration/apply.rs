//! Applying a planned migration, in seed 004's order: back up, convert the catalogs,
//! migrate the user's settings, update the containers, validate. It acts only on a plan
//! with no errors and no missing secret, once every image is there (pulled if need be);
//! a step that fails after that stops it, saying what was done and where the backup is.

use std::collections::BTreeMap;

use super::super::containers::{blocking, Runtime};
use super::super::{AuditAction, Portal, PortalError, Result};
use super::{CatalogChange, MigrationReport, MigrationRequest};
use crate::catalog::report::{Diagnostics, Invalid};
use crate::engine::Engine;
use crate::ids::ServerId;
use crate::plan::Settings;

impl<E: Engine> Runtime<E> {
    /// Plans a migration and, with `apply`, carries it out on behalf of `by` (for the
    /// audit log); a dry run calls no Docker at all.
    pub async fn migrate_by(
        &self,
        by: &Portal,
        req: MigrationRequest,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<MigrationReport> {
        let portal = self.portal().clone();
        let planned = req.clone();
        let plan = blocking(move || portal.plan_migration(&planned)).await?;
        if !req.apply {
            return Ok(plan);
        }
        let r = self.apply_migration(by, &req, plan, progress).await;
        by.audited(
            Some(req.user.as_str()),
            AuditAction::SystemMigrate,
            &req.dir,
            r,
        )
    }

    async fn apply_migration(
        &self,
        by: &Portal,
        req: &MigrationRequest,
        mut plan: MigrationReport,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<MigrationReport> {
        let user = &req.user;
        if !plan.errors.is_empty() {
            let diagnostics: Diagnostics = plan.errors.iter().cloned().collect();
            return Err(Invalid {
                file: req.dir.clone(),
                diagnostics,
            }
            .into());
        }
        let missing = plan.secret_commands();
        if !missing.is_empty() {
            return Err(PortalError::MigrationSecretsMissing {
                user: user.clone(),
                commands: missing
                    .iter()
                    .map(|c| format!("  {c}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }
        // An image that cannot be had stops the migration before it changes anything.
        let mut images: Vec<&str> = plan.servers.iter().map(|s| s.image.as_str()).collect();
        images.sort_unstable();
        images.dedup();
        for image in images {
            self.ensure_image(image, progress).await?;
        }
        let store = self.portal().store.clone();
        let stamp = Portal::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
        let backup = blocking(move || {
            let _lock = store.lock()?;
            Ok(store.backup(&stamp, "migration")?)
        })
        .await?;
        let backup = backup.display().to_string();
        plan.backup = Some(backup.clone());
        let mut done: Vec<String> = Vec::new();
        let stopped = |cause: PortalError, done: &[String]| PortalError::MigrationStopped {
            dir: req.dir.clone(),
            backup: backup.clone(),
            done: if done.is_empty() {
                "nothing".into()
            } else {
                done.join(", ")
            },
            cause: Box::new(cause),
        };
        for c in plan
            .catalogs
            .iter()
            .filter(|c| c.change != CatalogChange::Unchanged)
        {
            let bytes = req.files.get(&c.file).cloned().unwrap_or_default();
            let (by, file, name) = (by.clone(), c.file.clone(), c.name.clone());
            let r = blocking(move || by.upload_catalog(&file, &bytes, Some(name))).await;
            if let Err(e) = r {
                return Err(stopped(e, &done));
            }
            done.push(format!("catalog {}", c.name));
        }
        for s in &plan.servers {
            let settings = Settings {
                env: BTreeMap::new(),
                params: s.settings.clone(),
            };
            match self
                .enable_by(by, user, &s.server, Some(settings), progress)
                .await
            {
                Ok(r) => {
                    plan.enabled.push(r);
                    done.push(format!("server {}", s.server));
                }
                Err(e) => return Err(stopped(e, &done)),
            }
        }
        // A migrated server has the Toolkit's tool list, or none (all its tools).
        let tools: Vec<(ServerId, Option<Vec<String>>)> = plan
            .servers
            .iter()
            .map(|s| (s.server.clone(), s.tools.clone()))
            .collect();
        let (store, u) = (self.portal().store.clone(), user.clone());
        let r = blocking(move || {
            let _lock = store.lock()?;
            let mut record = store.read_tools(&u)?;
            let before = record.clone();
            for (server, list) in tools {
                match list {
                    Some(list) => record.servers.insert(server, list),
                    None => record.servers.remove(&server),
                };
            }
            if record != before {
                store.write_tools(&u, &record)?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = r {
            return Err(stopped(e, &done));
        }
        if let Err(e) = self.verify_migration(&plan).await {
            return Err(stopped(e, &done));
        }
        plan.applied = true;
        Ok(plan)
    }

    /// The seed's last step: every migrated server is enabled with the Toolkit's
    /// settings and its container runs.
    async fn verify_migration(&self, plan: &MigrationReport) -> Result<()> {
        let user = plan.user.clone();
        let store = self.portal().store.clone();
        let u = user.clone();
        let enabled = blocking(move || Ok(store.read_enabled(&u)?)).await?;
        let rows = self.status(Some(&user)).await?;
        let mut wrong = Vec::new();
        for s in &plan.servers {
            match enabled.servers.get(&s.server) {
                Some(e) if e.settings.params == s.settings => {}
                Some(_) => wrong.push(format!("{} is enabled with other settings", s.server)),
                None => wrong.push(format!("{} is not enabled", s.server)),
            }
            let state = rows
                .iter()
                .find(|r| r.server == s.server.as_str())
                .map_or("missing", |r| r.state.as_str());
            if state != "running" {
                wrong.push(format!("{}'s container is {state}", s.server));
            }
        }
        if wrong.is_empty() {
            return Ok(());
        }
        Err(PortalError::MigrationUnverified {
            user,
            problems: wrong.join("; "),
        })
    }
}
