//! `portalctl servers --user U`

use clap::Args;

use super::output::{self, table};
use super::UserArg;
use crate::catalog::merge::MergedServer;
use crate::catalog::report::Diagnostic;
use crate::manager::Portal;

#[derive(Debug, Args)]
pub struct ServersArgs {
    #[command(flatten)]
    pub(super) user: UserArg,
    /// Only servers of this category (case-insensitive)
    #[arg(long, value_name = "C")]
    pub(super) category: Option<String>,
}

pub fn run(portal: &Portal, args: ServersArgs, json: bool) -> anyhow::Result<()> {
    let result = portal.servers(&args.user.user)?;
    let servers: Vec<_> = result
        .servers
        .iter()
        .filter(|s| {
            args.category.as_ref().is_none_or(|c| {
                s.def
                    .category
                    .as_ref()
                    .is_some_and(|sc| sc.eq_ignore_ascii_case(c))
            })
        })
        .map(|s| &**s)
        .collect();
    print_servers(&servers, &result.warnings, json)
}

/// The `servers` table (or JSON array), for local and remote runs alike.
pub(super) fn print_servers(
    servers: &[&MergedServer],
    warnings: &[Diagnostic],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return output::json(&servers);
    }
    output::warnings(warnings);
    let rows = servers
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
