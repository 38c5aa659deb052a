//! Migration of a Docker Desktop MCP Toolkit user (seed 004's "Data Migration Plan"):
//! the Toolkit's catalogs become base catalogs, and the servers it enabled are enabled
//! for one portal user with its settings and tools.
//!
//! It is planned first, and the plan is all a dry run does: every catalog is validated
//! and merged for every user as an upload would be, and every server's settings are
//! checked against its definition, without storing anything or calling Docker. Applying
//! refuses a plan with errors or missing secrets, so nothing changes until all of it can;
//! then it backs the records up, uploads the catalogs, enables the servers (the same
//! manager calls as `catalog upload` and `enable`, each audited), records the tool lists
//! (which the gateway applies, see `McpTarget::tools`), and checks that every server is
//! enabled with its settings and running.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::containers::{EnableReport, Runtime};
use super::servers::unknown_user;
use super::snapshot::Snapshot;
use super::{AuditAction, Portal, PortalError, Result};
use crate::catalog::docker::toolkit::{self, Toolkit, ToolkitFiles, CONFIG, REGISTRY, TOOLS};
use crate::catalog::merge::MergedServer;
use crate::catalog::model::{ParamKind, ParamValue};
use crate::catalog::parse::parse_catalog;
use crate::catalog::report::{Diagnostic, Diagnostics, Severity};
use crate::catalog::template::{self, PathMap};
use crate::catalog::volume::{Confined, HostPathPolicy};
use crate::engine::Engine;
use crate::ids::{CatalogName, SecretName, ServerId, UserId};
use crate::plan::Settings;
use crate::store::{sha256_hex, Loaded, StoredCatalog};

/// What to migrate, and whether to act.
#[derive(Debug, Clone)]
pub struct MigrationRequest {
    /// The folder, as the user named it, to report problems against.
    pub dir: String,
    pub user: UserId,
    pub files: ToolkitFiles,
    pub apply: bool,
}

/// What a migration will do (a dry run) or did (`applied`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MigrationReport {
    pub user: Option<UserId>,
    pub dir: String,
    pub applied: bool,
    pub catalogs: Vec<CatalogStep>,
    pub servers: Vec<ServerStep>,
    /// Every secret the servers need, set or not.
    pub secrets: Vec<SecretStep>,
    /// What is not migrated, and why.
    pub warnings: Vec<Diagnostic>,
    /// What must be fixed before `--apply` can act.
    pub errors: Vec<Diagnostic>,
    /// The backup of the records, relative to the data folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<EnableReport>,
}

/// A Toolkit catalog, to become a base catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogStep {
    pub name: CatalogName,
    pub file: String,
    pub servers: usize,
    /// `new`, `updated` (another revision of a stored catalog) or `unchanged`.
    pub change: String,
}

/// A server the Toolkit enabled, to be enabled for the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerStep {
    pub server: ServerId,
    /// Where the user's definition comes from, as `portalctl servers` says.
    pub source: String,
    /// Template parameters, from config.yaml.
    pub settings: BTreeMap<String, ParamValue>,
    /// The Toolkit's host paths among them, which now name folders of the user's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathStep>,
    /// The tools tools.yaml enables, the only ones the gateway will serve; `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Enabled in the portal already: its settings are replaced by the Toolkit's.
    pub already_enabled: bool,
}

/// A path a volume setting gives. On Docker Desktop it was a path of the user's host;
/// in the portal it names a folder inside the user's own data folder (unless the admin
/// allowed that host path), which starts empty: what the server should see is to be
/// copied there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathStep {
    pub param: String,
    /// As config.yaml gives it.
    pub given: String,
    /// The folder it now means, relative to the data folder (`volumes/U/data/...`), or
    /// the host path itself when the admin allows it.
    pub folder: String,
    /// Where the server sees it.
    pub mounted_at: String,
    /// The admin allows the host path itself (`MCP_PORTAL_ALLOWED_HOST_PATHS`).
    pub host_path_allowed: bool,
}

/// A secret the migrated servers need. Docker Desktop's cannot be read, so each one the
/// user has not set is a `portalctl secret set` to run before `--apply`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretStep {
    pub name: SecretName,
    pub servers: Vec<ServerId>,
    pub set: bool,
}

impl MigrationReport {
    /// The commands that set the secrets still missing.
    pub fn secret_commands(&self) -> Vec<String> {
        let user = self.user.as_ref().map_or("U", UserId::as_str);
        self.secrets
            .iter()
            .filter(|s| !s.set)
            .map(|s| format!("portalctl secret set {} --user {user}", s.name))
            .collect()
    }

    /// Whether `--apply` would act.
    pub fn ready(&self) -> bool {
        self.errors.is_empty() && self.secrets.iter().all(|s| s.set)
    }
}

impl Portal {
    /// Plans a migration: reads the folder, validates its catalogs as uploads and its
    /// servers' settings against their definitions. Stores nothing.
    pub fn plan_migration(&self, req: &MigrationRequest) -> Result<MigrationReport> {
        let limits = self.config.limits();
        let kit = toolkit::read(&req.dir, &req.files, limits.max_bytes)?;
        let mut report = MigrationReport {
            user: Some(req.user.clone()),
            dir: req.dir.clone(),
            warnings: kit.warnings.clone(),
            ..MigrationReport::default()
        };
        let mut errors = Diagnostics::new();
        let _lock = self.store.lock()?;
        let mut snapshot = Snapshot::load(&self.store)?;
        if !snapshot.users.contains_key(&req.user) {
            return Err(snapshot.missing(&req.user));
        }
        for c in &kit.catalogs {
            let Some(bytes) = req.files.get(&c.file) else {
                continue;
            };
            let name = match CatalogName::parse(&c.name) {
                Ok(n) => n,
                Err(e) => {
                    errors.error(
                        &c.file,
                        None,
                        None,
                        format!("{e}; rename the catalog in the Toolkit to migrate it"),
                    );
                    continue;
                }
            };
            let parsed = match parse_catalog(&c.file, bytes, &limits) {
                Ok(p) => p,
                Err(invalid) => {
                    errors.extend(invalid.diagnostics);
                    continue;
                }
            };
            let sha256 = sha256_hex(bytes);
            let current = snapshot.bases.get(&name).map(|l| &l.value);
            let change = match current {
                None => "new",
                Some(s) if s.sha256 == sha256 => "unchanged",
                Some(_) => "updated",
            };
            report.warnings.extend(parsed.warnings.iter().cloned());
            report.catalogs.push(CatalogStep {
                name: name.clone(),
                file: c.file.clone(),
                servers: parsed.catalog.servers.len(),
                change: change.into(),
            });
            if change == "unchanged" {
                continue;
            }
            let record = StoredCatalog {
                revision: current.map_or(1, |s| s.revision + 1),
                uploaded_at: Self::now(),
                file: c.file.clone(),
                format: parsed.format,
                sha256,
                warnings: parsed.warnings,
                catalog: parsed.catalog,
            };
            snapshot.bases.insert(
                name,
                Loaded {
                    value: record,
                    sha256: String::new(),
                },
            );
        }
        match self.check_change(&snapshot, &req.dir, None) {
            Ok(w) => report.warnings.extend(w),
            Err(PortalError::Invalid(invalid)) => errors.extend(invalid.diagnostics),
            Err(e) => return Err(e),
        }
        let policy = limits.policy;
        let merged = snapshot
            .merge(Some(&req.user), &policy)
            .remove(&req.user)
            .ok_or_else(|| unknown_user(&req.user))?;
        let enabled = self.store.read_enabled(&req.user)?;
        let stored_secrets = self.store.read_secrets(&req.user)?;
        let now = Self::now();
        let mut secrets: BTreeMap<SecretName, Vec<ServerId>> = BTreeMap::new();
        for name in &kit.enabled {
            let Some(def) = find(&merged.servers, name) else {
                report.warnings.push(Diagnostic {
                    severity: Severity::Warning,
                    file: REGISTRY.into(),
                    server: Some(name.clone()),
                    field: None,
                    message: "is in none of the user's merged servers (the portal runs no remote or poci servers, nor one a catalog error leaves out); not migrated".into(),
                });
                continue;
            };
            let settings = server_settings(&kit, def, &mut report.warnings, &mut errors);
            let paths = path_steps(&req.user, def, &settings, &policy.host_paths, &mut errors);
            for s in &def.def.secrets {
                secrets
                    .entry(s.name.clone())
                    .or_default()
                    .push(def.def.id.clone());
            }
            report.servers.push(ServerStep {
                server: def.def.id.clone(),
                source: def.source.to_string(),
                settings,
                paths,
                tools: tools_of(&kit, name, &mut report.warnings),
                already_enabled: enabled.servers.contains_key(&def.def.id),
            });
        }
        report.secrets = secrets
            .into_iter()
            .map(|(name, servers)| SecretStep {
                set: stored_secrets
                    .secrets
                    .get(&name)
                    .is_some_and(|s| s.expires_at.is_none_or(|e| e > now)),
                name,
                servers,
            })
            .collect();
        report.errors = errors.errors().cloned().collect();
        report.warnings.extend(errors.into_warnings());
        Ok(report)
    }
}

fn find<'a>(servers: &'a [Arc<MergedServer>], name: &str) -> Option<&'a MergedServer> {
    servers
        .iter()
        .find(|s| s.def.id.as_str() == name)
        .map(Arc::as_ref)
}

/// config.yaml's settings of one server, checked against the parameters its portal
/// definition declares: an undeclared one is left out (the Toolkit keeps settings of
/// older definitions), a required one without a value is an error.
fn server_settings(
    kit: &Toolkit,
    server: &MergedServer,
    warnings: &mut Vec<Diagnostic>,
    errors: &mut Diagnostics,
) -> BTreeMap<String, ParamValue> {
    let id = server.def.id.as_str();
    let (mut values, problems) = kit
        .config
        .get(id)
        .map(toolkit::settings)
        .unwrap_or_default();
    for (key, problem) in problems {
        errors.error(CONFIG, Some(id), Some(&key), problem);
    }
    let params = &server.def.parameters;
    values.retain(|key, value| {
        let Some(p) = params.get(key) else {
            warnings.push(Diagnostic {
                severity: Severity::Warning,
                file: CONFIG.into(),
                server: Some(id.into()),
                field: Some(key.clone()),
                message: "is not a parameter of the server's definition in the portal; left out"
                    .into(),
            });
            return false;
        };
        if let (ParamKind::String, ParamValue::List(l)) = (p.kind, &*value) {
            errors.error(
                CONFIG,
                Some(id),
                Some(key),
                format!(
                    "is a list of {}, but the parameter takes one value; give one in config.yaml",
                    l.len()
                ),
            );
        }
        true
    });
    for (key, p) in params {
        if p.required && p.default.is_none() && !values.contains_key(key) {
            errors.error(
                CONFIG,
                Some(id),
                Some(key),
                "is required and config.yaml gives it no value; set it in the Toolkit, or enable the server afterwards with `--set`",
            );
        }
    }
    values
}

/// The values of the parameters the definition's volumes take from templates, each
/// with the folder it now means: a template's path is the user's, never the host's.
fn path_steps(
    user: &UserId,
    server: &MergedServer,
    settings: &BTreeMap<String, ParamValue>,
    policy: &HostPathPolicy,
    errors: &mut Diagnostics,
) -> Vec<PathStep> {
    let id = server.def.id.as_str();
    let mut mounted: Vec<String> = Vec::new();
    for v in &server.def.volumes {
        for seg in template::parse(v).unwrap_or_default() {
            if let template::Segment::Ref(r) = seg {
                mounted.push(r.param().to_string());
            }
        }
    }
    mounted.sort();
    mounted.dedup();
    let confined = Confined { policy };
    let data = format!("volumes/{user}/data");
    let mut out = Vec::new();
    for param in mounted {
        let given = match settings.get(&param) {
            Some(ParamValue::Text(t)) => vec![t.clone()],
            Some(ParamValue::List(l)) => l.clone(),
            None => continue,
        };
        for path in given {
            let mapped = confined
                .source(&path)
                .and_then(|s| confined.target(&path).map(|t| (s, t)));
            match mapped {
                Ok((source, target)) => {
                    let allowed = !source.starts_with("{USER_DATA}");
                    out.push(PathStep {
                        param: param.clone(),
                        folder: source.replacen("{USER_DATA}", &data, 1),
                        mounted_at: target,
                        host_path_allowed: allowed,
                        given: path,
                    });
                }
                Err(e) => errors.error(CONFIG, Some(id), Some(&param), e),
            }
        }
    }
    out
}

fn tools_of(kit: &Toolkit, server: &str, warnings: &mut Vec<Diagnostic>) -> Option<Vec<String>> {
    let list = kit.tools.as_ref()?.get(server)?.clone();
    if list.is_empty() {
        warnings.push(Diagnostic {
            severity: Severity::Warning,
            file: TOOLS.into(),
            server: Some(server.into()),
            field: None,
            message:
                "enables no tools: the server is migrated, and the gateway serves none of its tools"
                    .into(),
        });
    }
    Some(list)
}

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
        let plan = super::containers::blocking(move || portal.plan_migration(&planned)).await?;
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
        if !plan.ready() {
            let mut reasons: Vec<String> = plan.errors.iter().map(ToString::to_string).collect();
            reasons.extend(plan.secret_commands());
            return Err(PortalError::MigrationNotReady {
                dir: req.dir.clone(),
                reasons: reasons.join("\n"),
            });
        }
        let store = self.portal().store.clone();
        let stamp = Portal::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
        let backup = super::containers::blocking(move || {
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
        for c in plan.catalogs.iter().filter(|c| c.change != "unchanged") {
            let bytes = req.files.get(&c.file).cloned().unwrap_or_default();
            let (by, file, name) = (by.clone(), c.file.clone(), c.name.clone());
            let r =
                super::containers::blocking(move || by.upload_catalog(&file, &bytes, Some(name)))
                    .await;
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
        let r = super::containers::blocking(move || {
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
        let Some(user) = plan.user.clone() else {
            return Ok(());
        };
        let store = self.portal().store.clone();
        let u = user.clone();
        let enabled = super::containers::blocking(move || Ok(store.read_enabled(&u)?)).await?;
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
