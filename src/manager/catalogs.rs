//! Base catalogs: validate, upload (a new revision), import a Docker MCP registry folder,
//! list, history, rollback and removal.

use std::collections::BTreeMap;

use jiff::Timestamp;

use serde::{Deserialize, Serialize};

use super::servers::RegenReport;
use super::snapshot::Snapshot;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::catalog::model::Format;
use crate::catalog::parse::{parse_catalog, parse_registry, Parsed, RegistryEntries};
use crate::catalog::report::{Diagnostic, Invalid};
use crate::ids::{CatalogName, ServerId};
use crate::store::{sha256_hex, Loaded, StoredCatalog};

/// What an upload, import or rollback did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadReport {
    pub name: CatalogName,
    pub revision: u32,
    pub version: String,
    pub servers: usize,
    pub sha256: String,
    /// False when the same bytes were already the current revision.
    pub changed: bool,
    pub warnings: Vec<Diagnostic>,
    /// The entries left out for their errors (`--skip-invalid`), with those errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<Diagnostic>,
    /// How many entries of each kind the input held (`server`, `remote`, `poci`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kinds: BTreeMap<String, usize>,
    pub regenerated: RegenReport,
}

/// How an upload or import treats entries with errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ImportOptions {
    /// Leave them out, listed with their reasons, and store the rest.
    #[serde(default)]
    pub skip_invalid: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogSummary {
    pub name: CatalogName,
    pub revision: u32,
    pub version: String,
    pub servers: usize,
    pub format: Format,
    pub uploaded_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisionSummary {
    pub revision: u32,
    pub current: bool,
    pub version: String,
    pub servers: usize,
    pub sha256: String,
    pub file: String,
    pub uploaded_at: Timestamp,
}

fn not_found(name: &CatalogName) -> PortalError {
    PortalError::NotFound {
        what: "catalog",
        name: name.to_string(),
        hint: "see the stored catalogs with `portalctl catalog ls`".into(),
    }
}

/// What `catalog validate` found: the file is valid, in this format, with these servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidateReport {
    pub valid: bool,
    pub format: Format,
    pub servers: Vec<ServerId>,
    pub warnings: Vec<Diagnostic>,
}

impl From<Parsed> for ValidateReport {
    fn from(p: Parsed) -> Self {
        Self {
            valid: true,
            format: p.format,
            servers: p.catalog.servers.into_iter().map(|s| s.id).collect(),
            warnings: p.warnings,
        }
    }
}

impl Portal {
    /// Parses and validates a catalog file; stores nothing.
    pub fn validate_catalog(
        &self,
        file: &str,
        bytes: &[u8],
    ) -> std::result::Result<Parsed, Invalid> {
        parse_catalog(file, bytes, &self.config.limits())
    }

    /// Parses and validates a Docker MCP registry folder; stores nothing.
    pub fn validate_registry(
        &self,
        dir: &str,
        entries: RegistryEntries,
    ) -> std::result::Result<Parsed, Invalid> {
        parse_registry(dir, entries, &self.config.limits())
    }

    /// Validates a catalog file and stores it as the catalog's next revision.
    pub fn upload_catalog(
        &self,
        file: &str,
        bytes: &[u8],
        name: Option<CatalogName>,
    ) -> Result<UploadReport> {
        self.upload_catalog_with(file, bytes, name, ImportOptions::default())
    }

    /// [`Self::upload_catalog`], with entries at fault left out if `opts` says so.
    pub fn upload_catalog_with(
        &self,
        file: &str,
        bytes: &[u8],
        name: Option<CatalogName>,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        let r = self.upload_catalog_unaudited(file, bytes, name, opts);
        // Uploading the same bytes again changes nothing: not an entry (the daemon's
        // folder sync uploads every file it watches on each change).
        if matches!(&r, Ok(rep) if !rep.changed) {
            return r;
        }
        self.audited(None, AuditAction::CatalogUpload, file, r)
    }

    fn upload_catalog_unaudited(
        &self,
        file: &str,
        bytes: &[u8],
        name: Option<CatalogName>,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        let parsed = parse_catalog(file, bytes, &self.limits_for(opts))?;
        self.store_catalog(file, sha256_hex(bytes), parsed, name)
    }

    /// Imports a Docker MCP registry folder given as `(server name, server.yaml bytes)` pairs.
    pub fn import_registry(
        &self,
        dir: &str,
        entries: RegistryEntries,
        name: Option<CatalogName>,
    ) -> Result<UploadReport> {
        self.import_registry_with(dir, entries, name, ImportOptions::default())
    }

    /// [`Self::import_registry`], with entries at fault left out if `opts` says so.
    pub fn import_registry_with(
        &self,
        dir: &str,
        entries: RegistryEntries,
        name: Option<CatalogName>,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        let r = self.import_registry_unaudited(dir, entries, name, opts);
        self.audited(None, AuditAction::CatalogImport, dir, r)
    }

    fn limits_for(&self, opts: ImportOptions) -> crate::catalog::parse::Limits {
        let mut limits = self.config.limits();
        limits.skip_invalid = opts.skip_invalid;
        limits
    }

    fn import_registry_unaudited(
        &self,
        dir: &str,
        entries: RegistryEntries,
        name: Option<CatalogName>,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        let mut digest_input = Vec::new();
        for (n, bytes) in &entries {
            digest_input.extend_from_slice(n.as_bytes());
            digest_input.push(0);
            digest_input.extend_from_slice(sha256_hex(bytes).as_bytes());
        }
        let parsed = parse_registry(dir, entries, &self.limits_for(opts))?;
        self.store_catalog(dir, sha256_hex(&digest_input), parsed, name)
    }

    fn store_catalog(
        &self,
        file: &str,
        sha256: String,
        parsed: Parsed,
        name: Option<CatalogName>,
    ) -> Result<UploadReport> {
        let name = match name {
            Some(n) => n,
            None => {
                let declared = parsed.catalog.name.as_deref().ok_or_else(|| {
                    PortalError::Usage(format!("{file} has no name: give one with --name"))
                })?;
                CatalogName::parse(declared).map_err(|e| {
                    PortalError::Usage(format!("{file}: {e}; give another name with --name"))
                })?
            }
        };
        let _lock = self.store.lock()?;
        let mut snapshot = Snapshot::load(&self.store)?;
        if let Some(current) = snapshot.bases.get(&name) {
            if current.value.sha256 == sha256 {
                let c = &current.value;
                return Ok(UploadReport {
                    name,
                    revision: c.revision,
                    version: c.catalog.version.clone(),
                    servers: c.catalog.servers.len(),
                    sha256,
                    changed: false,
                    warnings: c.warnings.clone(),
                    left_out: parsed.left_out,
                    kinds: parsed.kinds,
                    regenerated: RegenReport::default(),
                });
            }
        }
        let revision = self
            .store
            .base_revisions(&name)?
            .last()
            .copied()
            .unwrap_or(0)
            + 1;
        let (left_out, kinds) = (parsed.left_out, parsed.kinds);
        let record = StoredCatalog {
            revision,
            uploaded_at: Self::now(),
            file: file.to_string(),
            format: parsed.format,
            sha256: sha256.clone(),
            warnings: parsed.warnings.clone(),
            catalog: parsed.catalog,
        };
        snapshot.bases.insert(
            name.clone(),
            Loaded {
                value: record.clone(),
                sha256: String::new(),
            },
        );
        let merge_warnings = self.check_change(&snapshot, file, None)?;
        self.store.write_base(&name, &record)?;
        let regenerated = self.regenerate_locked(None, false)?;
        let mut warnings = record.warnings;
        warnings.extend(merge_warnings);
        Ok(UploadReport {
            name,
            revision,
            version: record.catalog.version,
            servers: record.catalog.servers.len(),
            sha256,
            changed: true,
            warnings,
            left_out,
            kinds,
            regenerated,
        })
    }

    pub fn list_catalogs(&self) -> Result<Vec<CatalogSummary>> {
        let _lock = self.store.lock()?;
        let snapshot = Snapshot::load(&self.store)?;
        Ok(snapshot
            .bases
            .into_iter()
            .map(|(name, l)| CatalogSummary {
                name,
                revision: l.value.revision,
                version: l.value.catalog.version,
                servers: l.value.catalog.servers.len(),
                format: l.value.format,
                uploaded_at: l.value.uploaded_at,
            })
            .collect())
    }

    /// Every stored revision of a catalog, newest first.
    pub fn catalog_history(&self, name: &CatalogName) -> Result<Vec<RevisionSummary>> {
        let _lock = self.store.lock()?;
        let current = self
            .store
            .current_revision(name)?
            .ok_or_else(|| not_found(name))?;
        let mut out = Vec::new();
        for rev in self.store.base_revisions(name)?.into_iter().rev() {
            if let Some(l) = self.store.read_base(name, rev)? {
                out.push(RevisionSummary {
                    revision: rev,
                    current: rev == current,
                    version: l.value.catalog.version,
                    servers: l.value.catalog.servers.len(),
                    sha256: l.value.sha256,
                    file: l.value.file,
                    uploaded_at: l.value.uploaded_at,
                });
            }
        }
        Ok(out)
    }

    /// Makes an earlier revision current: `to`, or the newest one before the current.
    pub fn rollback_catalog(&self, name: &CatalogName, to: Option<u32>) -> Result<UploadReport> {
        let r = self.rollback_catalog_unaudited(name, to);
        self.audited(None, AuditAction::CatalogRollback, name.as_str(), r)
    }

    fn rollback_catalog_unaudited(
        &self,
        name: &CatalogName,
        to: Option<u32>,
    ) -> Result<UploadReport> {
        let _lock = self.store.lock()?;
        let current = self
            .store
            .current_revision(name)?
            .ok_or_else(|| not_found(name))?;
        let revisions = self.store.base_revisions(name)?;
        let target = match to {
            Some(t) if revisions.contains(&t) => t,
            Some(t) => {
                return Err(PortalError::NotFound {
                    what: "revision",
                    name: format!("{t} of catalog {name}"),
                    hint: format!("see the revisions with `portalctl catalog history {name}`"),
                })
            }
            None => revisions
                .iter()
                .rev()
                .copied()
                .find(|r| *r < current)
                .ok_or_else(|| PortalError::NoEarlierRevision {
                    name: name.to_string(),
                    current,
                })?,
        };
        let record = self
            .store
            .read_base(name, target)?
            .ok_or_else(|| not_found(name))?;
        let mut snapshot = Snapshot::load(&self.store)?;
        snapshot.bases.insert(name.clone(), record.clone());
        let merge_warnings = self.check_change(
            &snapshot,
            &format!("catalog {name} revision {target}"),
            None,
        )?;
        let changed = target != current;
        self.store.set_current(name, target)?;
        let regenerated = self.regenerate_locked(None, false)?;
        let mut warnings = record.value.warnings;
        warnings.extend(merge_warnings);
        Ok(UploadReport {
            name: name.clone(),
            revision: target,
            version: record.value.catalog.version,
            servers: record.value.catalog.servers.len(),
            sha256: record.value.sha256,
            changed,
            warnings,
            left_out: Vec::new(),
            kinds: BTreeMap::new(),
            regenerated,
        })
    }

    /// Removes a catalog with all its revisions.
    pub fn remove_catalog(&self, name: &CatalogName) -> Result<RegenReport> {
        let r = self.remove_catalog_unaudited(name);
        self.audited(None, AuditAction::CatalogRemove, name.as_str(), r)
    }

    fn remove_catalog_unaudited(&self, name: &CatalogName) -> Result<RegenReport> {
        let _lock = self.store.lock()?;
        if self.store.current_revision(name)?.is_none() {
            return Err(not_found(name));
        }
        self.store.remove_base(name)?;
        self.regenerate_locked(None, false)
    }
}
