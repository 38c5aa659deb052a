//! `portalctl token ...`: API tokens.

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::backend::Backend;
use super::output::{self, table, time};
use super::UserArg;
use crate::manager::{NewToken, TokenView};
use crate::store::{TokenRole, TokenScope};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    User,
    Admin,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scope {
    Api,
    Mcp,
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
        /// `mcp` tokens work only at the MCP gateway (`/mcp`): the one to paste into an IDE
        #[arg(long, value_enum, default_value = "api")]
        scope: Scope,
    },
    /// List tokens (ids, users, roles; never the tokens)
    Ls,
    /// Revoke a token by its id
    Revoke { id: String },
}

pub fn run(backend: &dyn Backend, cmd: TokenCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create { user, role, scope } => {
            let role = match role {
                Role::User => TokenRole::User,
                Role::Admin => TokenRole::Admin,
            };
            let scope = match scope {
                Scope::Api => TokenScope::Api,
                Scope::Mcp => TokenScope::Mcp,
            };
            print_new_token(&backend.create_token(&user.user, role, scope)?, json)
        }
        TokenCmd::Ls => print_tokens(&backend.list_tokens()?, json),
        TokenCmd::Revoke { id } => {
            backend.revoke_token(&id)?;
            print_revoked(&id, json)
        }
    }
}

fn role_name(role: TokenRole) -> &'static str {
    match role {
        TokenRole::Admin => "admin",
        TokenRole::User => "user",
    }
}

pub(super) fn print_new_token(t: &NewToken, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(t);
    }
    eprintln!(
        "created token {} for {}; it is shown only now:",
        t.id, t.user
    );
    println!("{}", t.token);
    Ok(())
}

pub(super) fn print_tokens(list: &[TokenView], json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(list);
    }
    let rows = list
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.user.to_string(),
                role_name(t.role).into(),
                t.scope.name().into(),
                time(&t.created_at),
            ]
        })
        .collect::<Vec<_>>();
    table(&["ID", "USER", "ROLE", "SCOPE", "CREATED"], &rows);
    Ok(())
}

pub(super) fn print_revoked(id: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&json!({ "revoked": id }));
    }
    println!("revoked token {id}");
    Ok(())
}
