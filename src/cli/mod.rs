//! `portalctl`: the command line. Arguments are parsed and validated by clap (ids through
//! their own types), then each command calls one manager operation and prints its result.

mod catalog;
mod containers;
mod custom;
mod input;
mod output;
mod overlay;
pub mod remote;
mod secret;
mod serve;
mod servers;
mod token;
mod user;

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::Config;
use crate::manager::Portal;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (the data folder could not be read or written, a file is damaged)
  2  usage error (bad arguments or ids, or a bad MCP_PORTAL_* value)
  3  invalid input refused (every error is listed; nothing was stored)
  4  not found (no such catalog, overlay, user or server)
  5  refused in the current state (already exists, nothing to roll back to)";

#[derive(Debug, Parser)]
#[command(
    name = "portalctl",
    version,
    about = "Run MCP servers for many users on a plain Docker Engine"
)]
pub struct Cli {
    /// The portal's data folder
    #[arg(
        long,
        global = true,
        env = "MCP_PORTAL_DATA_DIR",
        default_value = "./data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// Print data as JSON
    #[arg(long, global = true)]
    pub json: bool,

    /// Run the command through a portal's HTTP API instead of a local data folder
    #[arg(long, global = true, env = "MCP_PORTAL_URL", value_name = "URL")]
    pub remote: Option<String>,

    /// The API token for --remote
    #[arg(
        long,
        global = true,
        env = "MCP_PORTAL_TOKEN",
        value_name = "T",
        hide_env_values = true
    )]
    pub token: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Base catalogs (admin): upload, import, list, history, rollback, remove, validate
    #[command(subcommand)]
    Catalog(catalog::CatalogCmd),
    /// Overlays (admin): environment-specific changes applied over the base catalogs
    #[command(subcommand)]
    Overlay(overlay::OverlayCmd),
    /// A user's own server definitions, which replace catalog servers of the same id
    #[command(subcommand)]
    Custom(custom::CustomCmd),
    /// Portal users and the roles and organization that decide what they see
    #[command(subcommand)]
    User(user::UserCmd),
    /// Users' secrets, encrypted at rest and injected into the servers that ask for them
    #[command(subcommand)]
    Secret(secret::SecretCmd),
    /// API tokens (admin)
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// A user's merged servers: base catalogs, then overlays, then their custom servers
    Servers(servers::ServersArgs),
    /// Run a server for a user: their network, a port from their block, limits, hardening
    Enable(containers::EnableArgs),
    /// Stop and remove a user's server container and release its port
    Disable(containers::ServerUserArgs),
    /// Restart a user's server container (recreating it if it is gone)
    Restart(containers::ServerUserArgs),
    /// The state of users' servers: container state, health, port, image, limits, uptime, last error
    Status(containers::StatusArgs),
    /// Run the daemon: reconcile, watch, check health, restart what fails
    Serve(serve::ServeArgs),
    /// Exit 0 when the portal at URL answers its /healthz (for container health checks)
    #[command(hide = true)]
    CheckHealth { url: String },
}

/// `--user U`, shared by the commands that act for one user.
#[derive(Debug, Args)]
pub struct UserArg {
    /// The user (1-32 letters, digits or '-')
    #[arg(long, value_name = "U")]
    pub user: crate::ids::UserId,
}

/// The command line definition, with the exit codes in every command's help.
pub fn command() -> clap::Command {
    fn with_exit_codes(cmd: clap::Command) -> clap::Command {
        cmd.after_help(EXIT_CODES).mut_subcommands(with_exit_codes)
    }
    with_exit_codes(Cli::command())
}

/// Parses the process's arguments; on a usage error prints it and exits with code 2.
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// What a command changes, for the audit log: (user, action, resource). Reads are not audited.
fn audit_target(cmd: &Command) -> Option<(Option<String>, &'static str, String)> {
    use catalog::CatalogCmd as C;
    let path = |p: &std::path::Path| p.display().to_string();
    Some(match cmd {
        Command::Catalog(C::Upload { file, .. }) => (None, "catalog.upload", path(file)),
        Command::Catalog(C::Import { dir, .. }) => (None, "catalog.import", path(dir)),
        Command::Catalog(C::Rollback { name, .. }) => (None, "catalog.rollback", name.to_string()),
        Command::Catalog(C::Rm { name }) => (None, "catalog.remove", name.to_string()),
        Command::Catalog(C::Regenerate(_)) => {
            (None, "catalog.regenerate", "merged catalogs".into())
        }
        Command::Catalog(_) => return None,
        Command::Overlay(overlay::OverlayCmd::Upload { name, .. }) => {
            (None, "overlay.upload", name.to_string())
        }
        Command::Overlay(overlay::OverlayCmd::Rm { name }) => {
            (None, "overlay.remove", name.to_string())
        }
        Command::Overlay(_) => return None,
        Command::Custom(custom::CustomCmd::Add { file, user }) => {
            (Some(user.user.to_string()), "custom.add", path(file))
        }
        Command::Custom(custom::CustomCmd::Rm { id, user }) => {
            (Some(user.user.to_string()), "custom.remove", id.to_string())
        }
        Command::Custom(_) => return None,
        Command::User(user::UserCmd::Add { id, .. }) => {
            (Some(id.to_string()), "user.add", id.to_string())
        }
        Command::User(user::UserCmd::Rm { id }) => {
            (Some(id.to_string()), "user.remove", id.to_string())
        }
        Command::User(user::UserCmd::Limits {
            max_containers: None,
            max_memory_mb: None,
            max_cpu_shares: None,
            ..
        }) => return None,
        Command::User(user::UserCmd::Limits { id, .. }) => {
            (Some(id.to_string()), "user.limits", id.to_string())
        }
        Command::User(_) => return None,
        Command::Secret(secret::SecretCmd::Set { name, user, .. }) => {
            (Some(user.user.to_string()), "secret.set", name.to_string())
        }
        Command::Secret(secret::SecretCmd::Rm { name, user }) => (
            Some(user.user.to_string()),
            "secret.remove",
            name.to_string(),
        ),
        Command::Secret(secret::SecretCmd::RotateKey { .. }) => {
            (None, "secret.rotate-key", "secret key".into())
        }
        Command::Secret(_) => return None,
        Command::Token(token::TokenCmd::Create { user, .. }) => (
            Some(user.user.to_string()),
            "token.create",
            user.user.to_string(),
        ),
        Command::Token(token::TokenCmd::Revoke { id }) => (None, "token.revoke", id.clone()),
        Command::Token(_) => return None,
        Command::Enable(a) => (
            Some(a.user().to_string()),
            "server.enable",
            a.server().to_string(),
        ),
        Command::Disable(a) => (
            Some(a.user().to_string()),
            "server.disable",
            a.server().to_string(),
        ),
        Command::Restart(a) => (
            Some(a.user().to_string()),
            "server.restart",
            a.server().to_string(),
        ),
        Command::Servers(_)
        | Command::Status(_)
        | Command::Serve(_)
        | Command::CheckHealth { .. } => return None,
    })
}

/// `refused` for bad input and state, `failed` for the machine's own trouble.
fn outcome(err: &anyhow::Error) -> &'static str {
    err.chain()
        .find_map(|c| c.downcast_ref::<crate::manager::PortalError>())
        .map_or("refused", crate::manager::PortalError::audit_result)
}

/// The login name behind a CLI call, for the audit log.
fn cli_actor() -> String {
    ["MCP_PORTAL_ACTOR", "SUDO_USER", "USER"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .map_or_else(|| "cli".to_string(), |u| format!("cli:{u}"))
}

/// Runs a parsed command line.
/// GETs `URL/healthz`; an error unless it answers 200.
fn check_health(url: &str) -> anyhow::Result<()> {
    let target = format!("{}/healthz", url.trim_end_matches('/'));
    let response = ureq::get(&target)
        .call()
        .map_err(|e| anyhow::anyhow!("{target}: {e}"))?;
    if response.status() != 200 {
        anyhow::bail!("{target} answered {}", response.status());
    }
    Ok(())
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::CheckHealth { url } = &cli.command {
        return check_health(url);
    }
    if let Some(url) = &cli.remote {
        let remote = remote::Remote::new(url, cli.token.as_deref().unwrap_or_default())?;
        return remote::dispatch(&remote, cli.command, cli.json);
    }
    let config = Config::from_env(cli.data_dir.clone())?;
    let portal = Portal::open(config)?.with_actor(&cli_actor());
    let json = cli.json;
    let target = audit_target(&cli.command);
    let result = dispatch(&portal, cli.command, json);
    if let Some((user, action, resource)) = target {
        let (kind, detail) = match &result {
            Ok(()) => ("ok", None),
            Err(e) => (
                outcome(e),
                Some(
                    e.chain()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(": "),
                ),
            ),
        };
        if let Err(e) = portal.audit_outcome(user.as_deref(), action, &resource, kind, detail) {
            eprintln!("warning: cannot write the audit log: {e}");
        }
    }
    result
}

fn dispatch(portal: &Portal, command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Catalog(cmd) => catalog::run(portal, cmd, json),
        Command::Overlay(cmd) => overlay::run(portal, cmd, json),
        Command::Custom(cmd) => custom::run(portal, cmd, json),
        Command::User(cmd) => user::run(portal, cmd, json),
        Command::Secret(cmd) => secret::run(portal, cmd, json),
        Command::Token(cmd) => token::run(portal, cmd, json),
        Command::Servers(args) => servers::run(portal, args, json),
        Command::Enable(args) => containers::enable(portal, args, json),
        Command::Disable(args) => containers::disable(portal, args, json),
        Command::Restart(args) => containers::restart(portal, args, json),
        Command::Status(args) => containers::status(portal, args, json),
        Command::Serve(args) => serve::run(portal, args, json),
        Command::CheckHealth { url } => check_health(&url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn ids_are_validated_while_parsing() {
        let err = Cli::try_parse_from(["portalctl", "servers", "--user", "bad/id"]).unwrap_err();
        assert!(
            err.to_string().contains("invalid user id \"bad/id\""),
            "{err}"
        );
    }
}
