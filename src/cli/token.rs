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
        /// When the token stops working: a duration from now (90m, 12h, 30d, 2w) or an
        /// RFC 3339 time; without it the token works until revoked
        #[arg(long, value_name = "DURATION|TIME", value_parser = expiry)]
        expires: Option<jiff::Timestamp>,
    },
    /// List tokens (ids, users, roles; never the tokens)
    Ls,
    /// Revoke a token by its id
    Revoke { id: String },
}

pub fn run(backend: &dyn Backend, cmd: TokenCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            user,
            role,
            scope,
            expires,
        } => {
            let role = match role {
                Role::User => TokenRole::User,
                Role::Admin => TokenRole::Admin,
            };
            let scope = match scope {
                Scope::Api => TokenScope::Api,
                Scope::Mcp => TokenScope::Mcp,
            };
            print_new_token(
                &backend.create_token(&user.user, role, scope, expires)?,
                json,
            )
        }
        TokenCmd::Ls => print_tokens(&backend.list_tokens()?, json),
        TokenCmd::Revoke { id } => {
            backend.revoke_token(&id)?;
            print_revoked(&id, json)
        }
    }
}

/// `--expires`: a duration from now (`90m`, `12h`, `30d`, `2w`) or an RFC 3339 time.
fn expiry(s: &str) -> Result<jiff::Timestamp, String> {
    let units = [('m', 60), ('h', 3600), ('d', 86_400), ('w', 604_800)];
    if let Some((unit, secs)) = units.iter().find(|(u, _)| s.ends_with(*u)) {
        let n: i64 = s[..s.len() - unit.len_utf8()]
            .parse()
            .map_err(|_| format!("{s:?} is not a duration such as 90m, 12h, 30d or 2w"))?;
        if n <= 0 {
            return Err(format!("{s:?}: a token's lifetime must be positive"));
        }
        let span = jiff::SignedDuration::from_secs(n.saturating_mul(*secs));
        return jiff::Timestamp::now()
            .checked_add(span)
            .map_err(|e| format!("{s:?} is too far away ({e})"));
    }
    s.parse::<jiff::Timestamp>().map_err(|e| {
        format!("{s:?} is neither a duration (90m, 12h, 30d, 2w) nor an RFC 3339 time ({e})")
    })
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
                t.expires_at.as_ref().map_or_else(|| "never".into(), time),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &["ID", "USER", "ROLE", "SCOPE", "CREATED", "EXPIRES"],
        &rows,
    );
    Ok(())
}

pub(super) fn print_revoked(id: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&json!({ "revoked": id }));
    }
    println!("revoked token {id}");
    Ok(())
}
