//! `portalctl overlay ...`

use std::path::PathBuf;

use clap::Subcommand;

use super::backend::Backend;
use super::catalog::print_regenerated;
use super::input::read_file;
use super::output::{self, plural, table, time};
use crate::ids::CatalogName;

#[derive(Debug, Subcommand)]
pub enum OverlayCmd {
    /// Validate an overlay file and store it (replacing the overlay of the same name)
    Upload {
        /// Overlay file in YAML or JSON ('-' for stdin)
        file: PathBuf,
        /// The overlay's name, e.g. dev, staging, prod
        #[arg(long)]
        name: CatalogName,
    },
    /// List the stored overlays
    Ls,
    /// Remove an overlay
    Rm { name: CatalogName },
}

pub fn run(backend: &dyn Backend, cmd: OverlayCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        OverlayCmd::Upload { file, name } => {
            let (file, bytes) = read_file(&file, backend.max_upload_bytes())?;
            let r = backend.upload_overlay(&file, bytes, name)?;
            if json {
                return output::json(&r);
            }
            output::warnings(&r.warnings);
            let verb = if r.replaced { "replaced" } else { "stored" };
            println!(
                "{verb} overlay {} ({})",
                r.name,
                plural(r.servers, "server entry", "server entries")
            );
            print_regenerated(&r.regenerated);
            Ok(())
        }
        OverlayCmd::Ls => {
            let list = backend.list_overlays()?;
            if json {
                return output::json(&list);
            }
            let rows = list
                .iter()
                .map(|o| {
                    let who = &o.applies_to;
                    let mut applies: Vec<String> = Vec::new();
                    applies.extend(who.roles.iter().map(|r| format!("role:{r}")));
                    applies.extend(who.organizations.iter().map(|r| format!("org:{r}")));
                    applies.extend(who.users.iter().map(|r| format!("user:{r}")));
                    let applies = if applies.is_empty() {
                        "everyone".to_string()
                    } else {
                        applies.join(",")
                    };
                    vec![
                        o.name.to_string(),
                        o.servers.to_string(),
                        applies,
                        time(&o.uploaded_at),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["NAME", "SERVERS", "APPLIES TO", "UPLOADED"], &rows);
            Ok(())
        }
        OverlayCmd::Rm { name } => {
            super::catalog::print_removed("overlay", &backend.remove_overlay(&name)?, json)
        }
    }
}
