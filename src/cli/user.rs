//! `portalctl user ...`

use clap::Subcommand;

use super::backend::Backend;
use super::output::{self, table, time};
use crate::ids::{Label, UserId};
use crate::manager::{UserRemoved, UserSummary};
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
        /// Take over the data (volumes/U and Docker volumes) an earlier user of this id
        /// left; without it such a user is refused
        #[arg(long)]
        reuse_data: bool,
    },
    /// List users
    Ls,
    /// Remove a user with their custom servers, secrets, tokens and data (disable their
    /// servers first)
    Rm {
        id: UserId,
        /// Keep their data (volumes/U and Docker volumes); a new user of this id then
        /// needs --reuse-data
        #[arg(long)]
        keep_data: bool,
    },
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
        UserCmd::Add {
            id,
            roles,
            org,
            reuse_data,
        } => print_user_added(&backend.add_user(id, roles, org, reuse_data)?, json),
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
        UserCmd::Rm { id, keep_data } => {
            print_user_removed(&backend.remove_user(&id, keep_data)?, json)
        }
    }
}

pub(super) fn print_user_added(u: &UserSummary, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(u);
    }
    println!("added user {}", u.id);
    if !u.reused.is_empty() {
        println!(
            "took over the data an earlier user {} left: {}",
            u.id,
            u.reused.join(", ")
        );
    }
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

pub(super) fn print_user_removed(r: &UserRemoved, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    let id = &r.removed;
    if r.was_user {
        println!("removed user {id}");
    }
    if !r.containers.is_empty() {
        println!("removed their containers: {}", r.containers.join(", "));
    }
    if !r.data.is_empty() {
        let whose = if r.was_user { "their" } else { "the" };
        let left = if r.was_user {
            ""
        } else {
            " an earlier user of this id left"
        };
        println!("removed {whose} data{left}: {}", r.data.join(", "));
    }
    if !r.kept.is_empty() {
        println!(
            "kept their data: {}; a new user {id} takes it over only with `portalctl user add {id} --reuse-data`",
            r.kept.join(", ")
        );
    }
    Ok(())
}
