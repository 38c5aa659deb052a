//! `portalctl`: the command line. Arguments are parsed and validated once by clap (ids
//! through their own types); the command then runs against a [`Backend`], the local data
//! folder or a remote portal, and its report is printed by the same function either way.

pub mod backend;
mod catalog;
mod connect;
mod containers;
mod custom;
mod exit;
mod input;
mod logs;
mod mcp_config;
mod migrate;
mod output;
mod overlay;
mod secret;
mod serve;
mod servers;
mod token;
mod transport;
mod user;

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::Config;
use crate::manager::Portal;
use backend::{Backend, Local, Remote};
use transport::Transport;

pub use exit::{exit_code, report};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (Docker or a container failed; the data folder could not be read or
     written, a file is damaged)
  2  usage error (bad arguments or ids, or a bad MCP_PORTAL_* value)
  3  invalid input refused (every error is listed; nothing was stored)
  4  not found (no such catalog, revision, overlay, user, server, secret or token)
  5  refused in the current state (already exists, over quota, a name taken)
  6  not allowed (--remote: no valid token, the wrong role, or rate limited)";

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

    /// Print data as JSON, and errors on stderr as the API's JSON error object
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
        hide_env_values = true,
        value_parser = input::hidden
    )]
    pub token: Option<input::Hidden>,

    /// Trust this CA certificate (PEM) for an https:// portal, instead of the public roots
    #[arg(long, global = true, env = "MCP_PORTAL_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Allow --remote or --url http:// to a host other than this machine, although the
    /// token then crosses the network in cleartext
    #[arg(long, global = true)]
    pub insecure: bool,

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
    /// What a user's server printed (stdout and stderr), with the user's secret values masked
    Logs(logs::LogsArgs),
    /// Move a user to the portal from elsewhere (docker-mcp: Docker Desktop's MCP Toolkit)
    #[command(subcommand)]
    Migrate(migrate::MigrateCmd),
    /// Run the daemon: reconcile, watch, check health, restart what fails
    Serve(serve::ServeArgs),
    /// What to paste into an MCP client (IDE, agent) to reach a user's servers
    McpConfig(mcp_config::McpConfigArgs),
    /// A stdio MCP server relaying to a portal's gateway (--remote URL --token T)
    Connect(connect::ConnectArgs),
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

/// The login name behind a CLI call, for the audit log.
fn cli_actor() -> String {
    ["MCP_PORTAL_ACTOR", "SUDO_USER", "USER"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .map_or_else(|| "cli".to_string(), |u| format!("cli:{u}"))
}

/// Shows the manager's warnings (an audit log that cannot be written, say) on stderr as
/// `warning: ...` lines; `serve` sets up its own, fuller log instead.
fn warnings_to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("mcp_portal=warn"))
        .without_time()
        .with_target(false)
        .with_level(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .event_format(WarningLine)
        .try_init();
}

/// One `warning: MESSAGE (field=value ...)` line per event.
struct WarningLine;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for WarningLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "warning: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// GETs `URL/healthz`; an error unless it answers 200.
fn check_health(url: &str, transport: &Transport) -> anyhow::Result<()> {
    let target = format!("{}/healthz", url.trim_end_matches('/'));
    let response = transport
        .agent(std::time::Duration::from_secs(10))?
        .get(&target)
        .call()
        .map_err(|e| anyhow::anyhow!("{target}: {e}"))?;
    if response.status() != 200 {
        anyhow::bail!("{target} answered {}", response.status());
    }
    Ok(())
}

/// Runs a parsed command line: resolves the backend (the local data folder, or the
/// portal at `--remote`), then runs the command against it.
pub fn run(mut cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    let transport = Transport {
        ca_cert: cli.ca_cert.clone(),
        insecure: cli.insecure,
    };
    if let Command::CheckHealth { url } = &cli.command {
        return check_health(url, &transport);
    }
    if let Command::Connect(args) = &cli.command {
        warnings_to_stderr();
        let token = cli.token.as_ref().map(|t| t.0.as_str());
        return connect::run(cli.remote.as_deref(), token, args, &transport);
    }
    if let Command::McpConfig(args) = &mut cli.command {
        args.check_url(&transport)?;
        args.default_url(cli.remote.as_deref());
    }
    if let Some(url) = &cli.remote {
        let token = cli.token.as_ref().map_or("", |t| t.0.as_str());
        let remote = Remote::new(url, token, &transport)?;
        return match cli.command {
            Command::Serve(_) => backend::host_only("serve"),
            Command::Secret(secret::SecretCmd::RotateKey { .. }) => {
                backend::host_only("secret rotate-key")
            }
            command => dispatch(&remote, command, json),
        };
    }
    let config = Config::from_env(cli.data_dir.clone())?;
    let portal = Portal::open(config)?.with_actor(&cli_actor());
    if !matches!(cli.command, Command::Serve(_)) {
        warnings_to_stderr();
        for m in portal.migrated() {
            tracing::warn!("{m}");
        }
    }
    let local = Local::new(portal);
    match cli.command {
        Command::Serve(args) => serve::run(local.portal(), args, json),
        Command::Secret(secret::SecretCmd::RotateKey { new_key_file }) => {
            secret::rotate_key(local.portal(), &new_key_file, json)
        }
        command => dispatch(&local, command, json),
    }
}

/// Runs a command that both backends serve.
fn dispatch(backend: &dyn Backend, command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Catalog(cmd) => catalog::run(backend, cmd, json),
        Command::Overlay(cmd) => overlay::run(backend, cmd, json),
        Command::Custom(cmd) => custom::run(backend, cmd, json),
        Command::User(cmd) => user::run(backend, cmd, json),
        Command::Secret(cmd) => secret::run(backend, cmd, json),
        Command::Token(cmd) => token::run(backend, cmd, json),
        Command::Servers(args) => servers::run(backend, args, json),
        Command::Enable(args) => containers::enable(backend, args, json),
        Command::Disable(args) => containers::disable(backend, args, json),
        Command::Restart(args) => containers::restart(backend, args, json),
        Command::Status(args) => containers::status(backend, args, json),
        Command::Logs(args) => logs::run(backend, args, json),
        Command::Migrate(cmd) => migrate::run(backend, cmd, json),
        Command::McpConfig(args) => mcp_config::run(backend, args, json),
        Command::Serve(_) | Command::CheckHealth { .. } | Command::Connect(_) => {
            unreachable_host_only()
        }
    }
}

/// `run` hands `serve` and `check-health` to their own functions before `dispatch`.
fn unreachable_host_only() -> anyhow::Result<()> {
    anyhow::bail!("internal error: a host-only command reached the shared command path")
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
