//! Planning a migration: everything checked, nothing changed. The catalogs are
//! validated and merged for every user as uploads are, and each enabled server's
//! settings checked against the definition the user will have.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::servers::unknown_user;
use super::super::snapshot::Snapshot;
use super::super::{Portal, PortalError, Result};
use super::{
    CatalogChange, CatalogStep, MigrationReport, MigrationRequest, PathStep, SecretStep, ServerStep,
};
use crate::catalog::docker::toolkit::{self, Toolkit, CONFIG, REGISTRY, TOOLS};
use crate::catalog::merge::MergedServer;
use crate::catalog::model::{ParamKind, ParamValue};
use crate::catalog::parse::parse_catalog;
use crate::catalog::report::{Diagnostic, Diagnostics, Severity};
use crate::catalog::template::{self, PathMap};
use crate::catalog::volume::{Confined, HostPathPolicy};
use crate::ids::{CatalogName, SecretName, ServerId, UserId};
use crate::store::{sha256_hex, Loaded, StoredCatalog};

impl Portal {
    /// Plans a migration: reads the folder, validates its catalogs as uploads and its
    /// servers' settings against their definitions. Stores nothing.
    pub fn plan_migration(&self, req: &MigrationRequest) -> Result<MigrationReport> {
        let limits = self.config.limits();
        let kit = toolkit::read(&req.dir, &req.files, limits.max_bytes)?;
        let mut report = MigrationReport {
            user: req.user.clone(),
            dir: req.dir.clone(),
            applied: false,
            catalogs: Vec::new(),
            servers: Vec::new(),
            secrets: Vec::new(),
            warnings: kit.warnings.clone(),
            errors: Vec::new(),
            backup: None,
            enabled: Vec::new(),
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
                None => CatalogChange::New,
                Some(s) if s.sha256 == sha256 => CatalogChange::Unchanged,
                Some(_) => CatalogChange::Updated,
            };
            report.warnings.extend(parsed.warnings.iter().cloned());
            report.catalogs.push(CatalogStep {
                name: name.clone(),
                file: c.file.clone(),
                servers: parsed.catalog.servers.len(),
                change,
            });
            if change == CatalogChange::Unchanged {
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
                image: def.def.image.clone(),
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
