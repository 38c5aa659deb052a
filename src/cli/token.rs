//! `portalctl token ...`: API tokens.

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::output::{self, table, time};
use super::UserArg;
use crate::manager::Portal;
use crate::store::TokenRole;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    User,
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an API token for a user; it is printed once and stored only as a hash
    Create {
        #[command(flatten)]
        user: UserArg,
        /// `admin` tokens may use the admin endpoints and act for any user
        #[arg(long, value_enum, default_value = "user")]
        role: Role,
    },
    /// List tokens (ids, users, roles; never the tokens)
    Ls,
    /// Revoke a token by its id
    Revoke { id: String },
}

pub fn run(portal: &Portal, cmd: TokenCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create { user, role } => {
            let role = match role {
                Role::User => TokenRole::User,
                Role::Admin => TokenRole::Admin,
            };
            let t = portal.create_token(&user.user, role)?;
            if json {
                return output::json(&t);
            }
            eprintln!(
                "created token {} for {}; it is shown only now:",
                t.id, t.user
            );
            println!("{}", t.token);
            Ok(())
        }
        TokenCmd::Ls => {
            let list = portal.list_tokens()?;
            if json {
                let view: Vec<_> = list
                    .iter()
                    .map(|t| json!({"id": t.id, "user": t.user, "role": t.role, "created_at": t.created_at}))
                    .collect();
                return output::json(&view);
            }
            let rows = list
                .iter()
                .map(|t| {
                    let role = match t.role {
                        TokenRole::Admin => "admin",
                        TokenRole::User => "user",
                    };
                    vec![
                        t.id.clone(),
                        t.user.to_string(),
                        role.into(),
                        time(&t.created_at),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["ID", "USER", "ROLE", "CREATED"], &rows);
            Ok(())
        }
        TokenCmd::Revoke { id } => {
            portal.revoke_token(&id)?;
            if json {
                return output::json(&json!({ "revoked": id }));
            }
            println!("revoked token {id}");
            Ok(())
        }
    }
}
