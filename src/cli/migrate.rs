//! `portalctl migrate docker-mcp DIR --user U [--apply]`: a Docker Desktop MCP Toolkit
//! folder moved to the portal. The folder is read here and handed to the backend, so a
//! remote run sends the same files; the plan is printed the same way for both.

use std::path::PathBuf;

use clap::Subcommand;

use super::backend::Backend;
use super::input::read_toolkit;
use super::output::{self, plural, printable, table};
use super::UserArg;
use crate::catalog::model::ParamValue;
use crate::catalog::report::{Diagnostics, Invalid};
use crate::manager::{CatalogChange, MigrationReport, MigrationRequest, PortalError};

#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// From Docker Desktop's MCP Toolkit: its catalogs become base catalogs, and the
    /// servers it enabled are enabled for U with its settings (a dry run unless --apply)
    DockerMcp {
        /// The Toolkit's folder (~/.docker/mcp): registry.yaml, config.yaml, tools.yaml,
        /// catalog.json and catalogs/
        dir: PathBuf,
        #[command(flatten)]
        user: UserArg,
        /// Act: back up the portal's records, store the catalogs, enable the servers
        #[arg(long)]
        apply: bool,
    },
}

pub fn run(backend: &dyn Backend, cmd: MigrateCmd, json: bool) -> anyhow::Result<()> {
    let MigrateCmd::DockerMcp { dir, user, apply } = cmd;
    let (shown, files) = read_toolkit(&dir, backend.max_upload_bytes())?;
    let report = backend.migrate(MigrationRequest {
        dir: shown,
        user: user.user,
        files,
        apply,
    })?;
    print_report(&report, json)
}

pub(super) fn print_report(r: &MigrationReport, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(r)?;
    } else {
        print_text(r);
    }
    if r.errors.is_empty() {
        return Ok(());
    }
    // Printed once, with the exit code of invalid input, by the CLI's error report.
    let diagnostics: Diagnostics = r.errors.iter().cloned().collect();
    Err(PortalError::Invalid(Invalid {
        file: r.dir.clone(),
        diagnostics,
    })
    .into())
}

fn print_text(r: &MigrationReport) {
    let user = r.user.as_str();
    output::warnings(&r.warnings);
    if r.applied {
        if let Some(b) = &r.backup {
            println!("backed up the portal's records to {b}");
        }
    } else {
        println!(
            "migration of {} for {user}: a dry run, nothing was changed",
            printable(&r.dir)
        );
    }
    println!("catalogs, as base catalogs:");
    let rows: Vec<Vec<String>> = r
        .catalogs
        .iter()
        .map(|c| {
            vec![
                c.name.to_string(),
                c.file.clone(),
                c.servers.to_string(),
                c.change.as_str().to_string(),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("  none");
    } else {
        table(&["  NAME", "FILE", "SERVERS", "CHANGE"], &indent(rows));
    }
    println!("servers, enabled for {user}:");
    let rows: Vec<Vec<String>> = r
        .servers
        .iter()
        .map(|s| {
            let settings: Vec<String> = s
                .settings
                .iter()
                .map(|(k, v)| match v {
                    ParamValue::Text(t) => format!("{k}={t}"),
                    ParamValue::List(l) => format!("{k}=[{}]", l.join(", ")),
                })
                .collect();
            vec![
                s.server.to_string(),
                s.source.clone(),
                output::or_dash(&settings.join(" ")),
                s.tools
                    .as_ref()
                    .map_or_else(|| "all".to_string(), |t| output::or_dash(&t.join(","))),
                if s.already_enabled { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("  none");
    } else {
        table(
            &["  SERVER", "SOURCE", "SETTINGS", "TOOLS", "ENABLED BEFORE"],
            &indent(rows),
        );
    }
    print_paths(r, user);
    let missing = r.secret_commands();
    if !missing.is_empty() {
        println!("secrets to set first (Docker Desktop's secrets cannot be read):");
        for line in &missing {
            println!("  {line}");
        }
    }
    if r.applied {
        println!(
            "migrated for {user}: {} stored, {} enabled",
            plural(
                r.catalogs
                    .iter()
                    .filter(|c| c.change != CatalogChange::Unchanged)
                    .count(),
                "catalog",
                "catalogs"
            ),
            plural(r.enabled.len(), "server", "servers")
        );
    } else if !r.errors.is_empty() {
        println!("not ready: fix the errors below, then run again");
    } else if !missing.is_empty() {
        println!("not ready: set the secrets above, then run again with --apply");
    } else {
        println!("ready: run again with --apply to migrate");
    }
}

/// The Toolkit's host paths, and the folders of the user's own they now mean.
fn print_paths(r: &MigrationReport, user: &str) {
    let rows: Vec<Vec<String>> = r
        .servers
        .iter()
        .flat_map(|s| {
            s.paths.iter().map(move |p| {
                vec![
                    format!("{}.{}", s.server, p.param),
                    p.given.clone(),
                    if p.host_path_allowed {
                        format!("{} (a host path the admin allows)", p.folder)
                    } else {
                        p.folder.clone()
                    },
                    p.mounted_at.clone(),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    println!("paths: each now names a folder of {user}'s own in the portal's data folder, which starts empty; copy there what the server should see:");
    table(
        &[
            "  SETTING",
            "ON DOCKER DESKTOP",
            "FOLDER",
            "THE SERVER SEES",
        ],
        &indent(rows),
    );
}

/// The rows of a table printed under a heading, two spaces in.
fn indent(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|mut r| {
            if let Some(first) = r.first_mut() {
                first.insert_str(0, "  ");
            }
            r
        })
        .collect()
}
