//! `portalctl servers --user U`

use clap::Args;

use super::backend::Backend;
use super::output::{self, table};
use super::UserArg;
use crate::manager::ServersView;

#[derive(Debug, Args)]
pub struct ServersArgs {
    #[command(flatten)]
    pub(super) user: UserArg,
    /// Only servers of this category (case-insensitive)
    #[arg(long, value_name = "C")]
    pub(super) category: Option<String>,
}

pub fn run(backend: &dyn Backend, args: ServersArgs, json: bool) -> anyhow::Result<()> {
    let view = backend.servers(&args.user.user, args.category.as_deref())?;
    print_servers(&view, json)
}

/// The `servers` table (or JSON array), for local and remote runs alike.
pub(super) fn print_servers(view: &ServersView, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&view.servers);
    }
    output::warnings(&view.warnings);
    let rows = view
        .servers
        .iter()
        .map(|s| {
            vec![
                s.def.id.to_string(),
                s.def.image.clone(),
                s.def.transport.as_str().to_string(),
                s.def.category.clone().unwrap_or_else(|| "-".into()),
                s.def.secrets.len().to_string(),
                s.source.to_string(),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &["ID", "IMAGE", "TRANSPORT", "CATEGORY", "SECRETS", "SOURCE"],
        &rows,
    );
    Ok(())
}
