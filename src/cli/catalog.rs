//! `portalctl catalog ...`

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use super::backend::Backend;
use super::input::{read_file, read_registry};
use super::output::{self, plural, short, table, time};
use crate::catalog::report::Diagnostic;
use crate::ids::{CatalogName, UserId};
use crate::manager::{
    CatalogSummary, ImportOptions, PortalError, RegenReport, RemovedReport, RevisionSummary,
    UploadReport, ValidateReport,
};

/// How `upload` and `import` treat entries at fault and report what they could not honour.
#[derive(Debug, Clone, Copy, Args)]
pub struct ImportArgs {
    /// Leave out the entries with errors, each listed with its reason, and store the
    /// rest (default: any error refuses the whole input)
    #[arg(long)]
    skip_invalid: bool,
    /// Name every server of a warning shared by several (default: one line per kind)
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// Validate a catalog file and store it as the catalog's next revision
    Upload {
        /// Native, Docker MCP catalog or registry server.yaml, in YAML or JSON ('-' for stdin)
        file: PathBuf,
        /// Store under this name (default: the catalog's own name)
        #[arg(long)]
        name: Option<CatalogName>,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Import a Docker MCP registry folder (servers/<name>/server.yaml)
    Import {
        dir: PathBuf,
        /// Store under this name (default: the folder's name)
        #[arg(long)]
        name: Option<CatalogName>,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// List the stored catalogs with their current revision
    Ls,
    /// List every stored revision of a catalog, newest first (* marks the current one)
    History { name: CatalogName },
    /// Make an earlier revision current (default: the one before the current)
    Rollback {
        name: CatalogName,
        /// The revision to make current
        #[arg(long, value_name = "VERSION")]
        to: Option<u32>,
    },
    /// Remove a catalog with all its revisions
    Rm { name: CatalogName },
    /// Check a catalog file or registry folder and report; stores nothing
    Validate { file: PathBuf },
    /// Rebuild users' cached merged catalogs
    #[command(group(ArgGroup::new("who").required(true).args(["user", "all"])))]
    Regenerate(RegenerateArgs),
}

#[derive(Debug, Args)]
pub struct RegenerateArgs {
    /// Only this user
    #[arg(long, value_name = "U")]
    pub(super) user: Option<UserId>,
    /// Every user
    #[arg(long)]
    pub(super) all: bool,
}

/// What regenerating did, after a change: the users left out (as warnings), then one line.
pub fn print_regenerated(r: &RegenReport) {
    output::warnings(&r.skipped);
    if let Some(line) = regen_line(r) {
        println!("{line}");
    }
}

fn regen_line(r: &RegenReport) -> Option<String> {
    if r.regenerated.is_empty() && r.failed.is_empty() {
        return None;
    }
    let mut line = format!(
        "regenerated the merged catalogs of {}",
        plural(r.regenerated.len(), "user", "users")
    );
    if !r.failed.is_empty() {
        line.push_str(&format!(
            "; {} failed",
            plural(r.failed.len(), "error", "errors")
        ));
    }
    Some(line)
}

impl ImportArgs {
    fn options(self) -> ImportOptions {
        ImportOptions {
            skip_invalid: self.skip_invalid,
        }
    }
}

/// An upload or import: warnings shared by several servers as one line each unless
/// `verbose`, the entries left out with their reasons, then the counts by kind.
fn print_import(r: &UploadReport, verb: &str, verbose: bool, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    if verbose {
        output::warnings(&r.warnings);
    } else {
        for line in grouped(&r.warnings) {
            eprintln!("warning: {}", output::printable(&line));
        }
    }
    for e in &r.left_out {
        eprintln!("left out: {}", output::printable(&e.to_string()));
    }
    print_stored(r, verb);
    if let Some(line) = kinds_line(r) {
        println!("{line}");
    }
    Ok(())
}

/// One line per (field, message) shared by several servers, naming how many; a warning
/// of one server alone is shown whole.
fn grouped(warnings: &[Diagnostic]) -> Vec<String> {
    let mut groups: Vec<(&Diagnostic, Vec<&str>)> = Vec::new();
    for w in warnings {
        let same = groups
            .iter_mut()
            .find(|(g, _)| g.field == w.field && g.message == w.message && g.server.is_some());
        match (same, &w.server) {
            (Some((_, names)), Some(s)) => names.push(s),
            _ => groups.push((w, w.server.as_deref().into_iter().collect())),
        }
    }
    groups
        .into_iter()
        .map(|(w, names)| match names.len() {
            0 | 1 => w.to_string(),
            n => format!(
                "{n} servers: {}{} (--verbose names them)",
                w.field
                    .as_deref()
                    .map(|f| format!("{f}: "))
                    .unwrap_or_default(),
                w.message
            ),
        })
        .collect()
}

/// `imported 249 of 249 container servers; 76 remote and 3 poci listed`, for an input
/// whose entries have kinds (Docker's formats).
fn kinds_line(r: &UploadReport) -> Option<String> {
    if r.kinds.is_empty() {
        return None;
    }
    let total = r.kinds.get("server").copied().unwrap_or(0);
    let mut others: Vec<(&String, &usize)> = r
        .kinds
        .iter()
        .filter(|(k, _)| k.as_str() != "server")
        .collect();
    others.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let others: Vec<String> = others.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut line = format!("imported {} of {total} container servers", r.servers);
    if !others.is_empty() {
        let (last, rest) = others.split_last()?;
        let listed = if rest.is_empty() {
            last.clone()
        } else {
            format!("{} and {last}", rest.join(", "))
        };
        line.push_str(&format!("; {listed} listed"));
    }
    Some(line)
}

pub(super) fn print_upload(r: &UploadReport, verb: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    output::warnings(&r.warnings);
    print_stored(r, verb);
    Ok(())
}

fn print_stored(r: &UploadReport, verb: &str) {
    if r.changed {
        let version = if r.version.is_empty() {
            String::new()
        } else {
            format!("version {}, ", r.version)
        };
        println!(
            "{verb} catalog {} revision {} ({version}{}, sha256 {})",
            r.name,
            r.revision,
            plural(r.servers, "server", "servers"),
            short(&r.sha256)
        );
    } else {
        println!(
            "catalog {} unchanged: revision {} is current",
            r.name, r.revision
        );
    }
    print_regenerated(&r.regenerated);
    for f in &r.regenerated.failed {
        eprintln!("error: {f}");
    }
}

pub fn run(backend: &dyn Backend, cmd: CatalogCmd, json: bool) -> anyhow::Result<()> {
    let max = backend.max_upload_bytes();
    match cmd {
        CatalogCmd::Upload { file, name, import } => {
            let (file, bytes) = read_file(&file, max)?;
            let r = backend.upload_catalog(&file, bytes, name, import.options())?;
            print_import(&r, "stored", import.verbose, json)
        }
        CatalogCmd::Import { dir, name, import } => {
            let (shown, entries) = read_registry(&dir, max)?;
            let name = match name {
                Some(n) => n,
                None => folder_name(&dir)?,
            };
            let r = backend.import_registry(&shown, entries, name, import.options())?;
            print_import(&r, "imported", import.verbose, json)
        }
        CatalogCmd::Ls => print_catalogs(&backend.list_catalogs()?, json),
        CatalogCmd::History { name } => print_history(&backend.catalog_history(&name)?, json),
        CatalogCmd::Rollback { name, to } => print_upload(
            &backend.rollback_catalog(&name, to)?,
            "rolled back to",
            json,
        ),
        CatalogCmd::Rm { name } => print_removed("catalog", &backend.remove_catalog(&name)?, json),
        CatalogCmd::Validate { file } => {
            let report = if file.is_dir() {
                let (shown, entries) = read_registry(&file, max)?;
                backend.validate_registry(&shown, entries)?
            } else {
                let (shown, bytes) = read_file(&file, max)?;
                backend.validate_catalog(&shown, bytes)?
            };
            print_valid(&file, &report, json)
        }
        CatalogCmd::Regenerate(args) => print_regen(&backend.regenerate(args.user.as_ref())?, json),
    }
}

/// The catalog name a registry folder is imported under by default: its own name.
fn folder_name(dir: &std::path::Path) -> anyhow::Result<CatalogName> {
    let folder = dir.canonicalize().unwrap_or(dir.to_path_buf());
    let base = folder
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    CatalogName::parse(&base)
        .map_err(|e| PortalError::Usage(format!("{e}; give the catalog a name with --name")).into())
}

fn print_history(list: &[RevisionSummary], json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(list);
    }
    let rows = list
        .iter()
        .map(|r| {
            vec![
                format!("{}{}", if r.current { "*" } else { " " }, r.revision),
                output::or_dash(&r.version),
                r.servers.to_string(),
                short(&r.sha256).to_string(),
                time(&r.uploaded_at),
                r.file.clone(),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            " REVISION",
            "VERSION",
            "SERVERS",
            "SHA256",
            "UPLOADED",
            "FILE",
        ],
        &rows,
    );
    Ok(())
}

fn print_valid(file: &std::path::Path, r: &ValidateReport, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    output::warnings(&r.warnings);
    println!(
        "{} is valid: {} catalog, {}",
        file.display(),
        r.format.as_str(),
        plural(r.servers.len(), "server", "servers")
    );
    Ok(())
}

/// The `catalog ls` table (or JSON), for local and remote runs alike.
pub(super) fn print_catalogs(list: &[CatalogSummary], json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(list);
    }
    let rows = list
        .iter()
        .map(|c| {
            vec![
                c.name.to_string(),
                c.revision.to_string(),
                output::or_dash(&c.version),
                c.servers.to_string(),
                c.format.as_str().to_string(),
                time(&c.uploaded_at),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "NAME", "REVISION", "VERSION", "SERVERS", "FORMAT", "UPLOADED",
        ],
        &rows,
    );
    Ok(())
}

/// What `catalog rm` and `overlay rm` did (`what`: catalog or overlay).
pub(super) fn print_removed(what: &str, r: &RemovedReport, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    println!("removed {what} {}", r.removed);
    print_regenerated(&r.regenerated);
    Ok(())
}

/// What `catalog regenerate` did; fails when a user's catalog could not be rebuilt.
pub(super) fn print_regen(r: &RegenReport, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(r)?;
        if !r.failed.is_empty() {
            anyhow::bail!("some merged catalogs could not be regenerated");
        }
        return Ok(());
    }
    output::warnings(&r.skipped);
    for f in &r.failed {
        eprintln!("error: {f}");
    }
    println!(
        "{}",
        regen_line(r).unwrap_or_else(|| "no users to regenerate".into())
    );
    if !r.failed.is_empty() {
        anyhow::bail!("some merged catalogs could not be regenerated; fix the errors above");
    }
    Ok(())
}
