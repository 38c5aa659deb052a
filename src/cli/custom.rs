//! `portalctl custom ...`

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::backend::Backend;
use super::input::read_file;
use super::output::{self, table};
use super::UserArg;
use crate::catalog::validate::image_ref;
use crate::ids::ServerId;

#[derive(Debug, Subcommand)]
pub enum CustomCmd {
    /// Add the servers of a file to a user's custom servers (same id: replaced)
    Add {
        /// One server entry, or a catalog in any supported format ('-' for stdin)
        file: PathBuf,
        #[command(flatten)]
        user: UserArg,
    },
    /// List a user's custom servers
    Ls {
        #[command(flatten)]
        user: UserArg,
    },
    /// Remove one of a user's custom servers
    Rm {
        id: ServerId,
        #[command(flatten)]
        user: UserArg,
    },
}

pub fn run(backend: &dyn Backend, cmd: CustomCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        CustomCmd::Add { file, user } => {
            let (file, bytes) = read_file(&file, backend.max_upload_bytes())?;
            let r = backend.add_custom(&user.user, &file, bytes)?;
            if json {
                return output::json(&r);
            }
            output::warnings(&r.warnings);
            for id in &r.added {
                println!("added custom server {id} for {}", r.user);
            }
            for id in &r.replaced {
                println!("replaced custom server {id} for {}", r.user);
            }
            Ok(())
        }
        CustomCmd::Ls { user } => {
            let list = backend.list_custom(&user.user)?;
            if json {
                return output::json(&list);
            }
            let rows = list
                .iter()
                .map(|s| {
                    let image = image_ref(s).map_or_else(|_| s.image.clone(), |r| r.to_string());
                    vec![s.id.to_string(), image, s.transport.as_str().to_string()]
                })
                .collect::<Vec<_>>();
            table(&["ID", "IMAGE", "TRANSPORT"], &rows);
            Ok(())
        }
        CustomCmd::Rm { id, user } => {
            backend.remove_custom(&user.user, &id)?;
            if json {
                return output::json(&json!({ "removed": id, "user": user.user }));
            }
            println!("removed custom server {id} of {}", user.user);
            Ok(())
        }
    }
}
