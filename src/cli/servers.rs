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
    // NEEDS only when a server has needs the portal does not meet, as most have none.
    let needs = view.servers.iter().any(|s| !s.def.requirements.is_empty());
    let rows = view
        .servers
        .iter()
        .map(|s| {
            let mut row = vec![
                s.def.id.to_string(),
                s.def.image.clone(),
                s.def.transport.as_str().to_string(),
                s.def.category.clone().unwrap_or_else(|| "-".into()),
                s.def.secrets.len().to_string(),
                s.source.to_string(),
            ];
            if needs {
                row.push(output::or_dash(&s.def.requirements.join("; ")));
            }
            row
        })
        .collect::<Vec<_>>();
    let mut head = vec!["ID", "IMAGE", "TRANSPORT", "CATEGORY", "SECRETS", "SOURCE"];
    if needs {
        head.push("NEEDS");
    }
    table(&head, &rows);
    Ok(())
}
