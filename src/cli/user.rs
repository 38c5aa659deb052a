//! `portalctl user ...`

use clap::Subcommand;
use serde_json::json;

use super::backend::Backend;
use super::output::{self, table, time};
use crate::ids::{Label, UserId};
use crate::manager::UserSummary;
use crate::plan::Quota;
use crate::store::QuotaOverride;

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user
    Add {
        id: UserId,
        /// A role the user has (repeat for several); visibility rules match on roles
        #[arg(long = "role", value_name = "R")]
        roles: Vec<Label>,
        /// The user's organization
        #[arg(long = "org", value_name = "O")]
        org: Option<Label>,
    },
    /// List users
    Ls,
    /// Remove a user with their custom servers (disable their servers first)
    Rm { id: UserId },
    /// Show a user's quota, or override parts of it
    Limits {
        id: UserId,
        /// Most containers the user may run
        #[arg(long, value_name = "N")]
        max_containers: Option<u32>,
        /// Most memory, in MiB, all their containers may have together
        #[arg(long, value_name = "N")]
        max_memory_mb: Option<u64>,
        /// Most CPU shares (1024 = one CPU) all their containers may have together
        #[arg(long, value_name = "N")]
        max_cpu_shares: Option<u64>,
    },
}

pub fn run(backend: &dyn Backend, cmd: UserCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Add { id, roles, org } => {
            print_user_added(&backend.add_user(id, roles, org)?, json)
        }
        UserCmd::Ls => print_users(&backend.list_users()?, json),
        UserCmd::Limits {
            id,
            max_containers,
            max_memory_mb,
            max_cpu_shares,
        } => {
            let change = QuotaOverride {
                max_containers,
                max_memory_mb,
                max_cpu_shares,
            };
            let q = backend.user_limits(&id, (!change.is_empty()).then_some(change))?;
            print_limits(&id, &q, json)
        }
        UserCmd::Rm { id } => {
            backend.remove_user(&id)?;
            print_user_removed(&id, json)
        }
    }
}

pub(super) fn print_user_added(u: &UserSummary, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(u);
    }
    println!("added user {}", u.id);
    Ok(())
}

/// The `user ls` table (or JSON), for local and remote runs alike.
pub(super) fn print_users(list: &[UserSummary], json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(list);
    }
    for u in list {
        if let Some(why) = &u.damaged {
            eprintln!("warning: user {} is damaged: {why}", u.id);
        }
    }
    let rows = list
        .iter()
        .map(|u| {
            let roles: Vec<&str> = u.roles.iter().map(Label::as_str).collect();
            vec![
                u.id.to_string(),
                u.state().to_string(),
                output::or_dash(&roles.join(",")),
                u.organization
                    .as_ref()
                    .map_or("-".into(), ToString::to_string),
                if u.damaged.is_some() {
                    "-".into()
                } else {
                    u.custom_servers.to_string()
                },
                u.created_at.as_ref().map_or("-".into(), time),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &["USER", "STATE", "ROLES", "ORG", "CUSTOM", "CREATED"],
        &rows,
    );
    Ok(())
}

pub(super) fn print_limits(id: &UserId, q: &Quota, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(q);
    }
    println!(
        "user {id}: at most {} containers, {}MB of memory, {} CPU shares",
        q.max_containers, q.max_memory_mb, q.max_cpu_shares
    );
    Ok(())
}

pub(super) fn print_user_removed(id: &UserId, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&json!({ "removed": id }));
    }
    println!("removed user {id}");
    Ok(())
}
