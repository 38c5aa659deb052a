//! `portalctl mcp-config`: what to paste into an MCP client so that it reaches a user's
//! servers through the gateway. The token is a placeholder: it is made (and shown once)
//! by `token create --scope mcp`, never printed here.

use clap::{Args, ValueEnum};
use serde_json::json;

use super::backend::Backend;
use super::output;
use super::transport::Transport;
use crate::ids::{ServerId, UserId};
use crate::manager::PortalError;

/// Where a local portal's daemon listens unless `--listen` says otherwise in the README.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";
const TOKEN: &str = "<token from: portalctl token create --user USER --scope mcp>";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum McpClient {
    /// Claude Desktop: it starts stdio servers only, so through `portalctl connect`
    ClaudeDesktop,
    /// VS Code (.vscode/mcp.json): the URL, with the token asked for once and kept secret
    Vscode,
    /// Cursor (~/.cursor/mcp.json): the URL and the header
    Cursor,
    /// Any client: the URL and the header, as text
    Generic,
}

#[derive(Debug, Args)]
pub struct McpConfigArgs {
    /// The user whose servers the client reaches (the token must be theirs)
    #[arg(long, value_name = "U")]
    user: UserId,
    /// The client to print the configuration for
    #[arg(long, value_enum, default_value = "generic")]
    client: McpClient,
    /// The portal's URL as the client reaches it [default: --remote, else http://127.0.0.1:8080]
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// One server alone (its own URL, /mcp/SERVER) instead of all of them aggregated
    #[arg(long, value_name = "SERVER")]
    server: Option<ServerId>,
    /// What `portalctl connect` needs to reach the same URL: `--insecure` or `--ca-cert`,
    /// as given to this command.
    #[arg(skip)]
    relay_flags: Vec<String>,
}

impl McpConfigArgs {
    /// `--remote` is where this portal is reached, unless `--url` says otherwise.
    pub(super) fn default_url(&mut self, remote: Option<&str>) {
        if self.url.is_none() {
            self.url = remote.map(str::to_string);
        }
    }

    /// A URL the client can use: http(s), and cleartext only to this machine (the client
    /// would send its token there), unless `--insecure`.
    pub(super) fn check_url(&mut self, transport: &Transport) -> Result<(), PortalError> {
        if transport.insecure {
            self.relay_flags.push("--insecure".into());
        }
        if let Some(ca) = &transport.ca_cert {
            self.relay_flags
                .extend(["--ca-cert".into(), ca.display().to_string()]);
        }
        let Some(url) = &self.url else {
            return Ok(());
        };
        let scheme = url.starts_with("http://") || url.starts_with("https://");
        if !scheme || url.contains(char::is_whitespace) {
            return Err(PortalError::Usage(format!(
                "--url {url:?} is not a portal address such as http://127.0.0.1:8080"
            )));
        }
        transport.check_cleartext("--url", url)
    }
}

pub fn run(backend: &dyn Backend, args: McpConfigArgs, json: bool) -> anyhow::Result<()> {
    let enabled: Vec<String> = backend
        .status(Some(&args.user))?
        .into_iter()
        .filter(|row| row.state != "orphan")
        .map(|row| row.server)
        .collect();
    if let Some(s) = &args.server {
        if !enabled.iter().any(|e| e == s.as_str()) {
            anyhow::bail!(
                "server {s} is not enabled for {}; enable it first (portalctl enable {s} --user {})",
                args.user,
                args.user
            );
        }
    }
    let base = args
        .url
        .as_deref()
        .unwrap_or(DEFAULT_URL)
        .trim_end_matches('/');
    let url = match &args.server {
        Some(s) => format!("{base}/mcp/{s}"),
        None => format!("{base}/mcp"),
    };
    let token = TOKEN.replace("USER", args.user.as_str());
    let name = args
        .server
        .as_ref()
        .map_or("mcp-portal".to_string(), |s| format!("mcp-portal-{s}"));
    let config = match args.client {
        McpClient::ClaudeDesktop => {
            let mut cmd = vec!["connect".to_string(), "--remote".into(), base.into()];
            cmd.extend(args.relay_flags.iter().cloned());
            cmd.extend(args.server.iter().map(ToString::to_string));
            json!({"mcpServers": {name: {
                "command": "portalctl",
                "args": cmd,
                "env": {"MCP_PORTAL_TOKEN": token},
            }}})
        }
        McpClient::Vscode => json!({
            "inputs": [{
                "type": "promptString",
                "id": "mcp-portal-token",
                "description": format!("mcp-portal token of {} (portalctl token create --user {} --scope mcp)", args.user, args.user),
                "password": true,
            }],
            "servers": {name: {
                "type": "http",
                "url": url,
                "headers": {"Authorization": "Bearer ${input:mcp-portal-token}"},
            }},
        }),
        McpClient::Cursor => json!({"mcpServers": {name: {
            "url": url,
            "headers": {"Authorization": format!("Bearer {token}")},
        }}}),
        McpClient::Generic => {
            return generic(&url, &token, &enabled, args.server.is_some(), json);
        }
    };
    output::json(&config)
}

fn generic(
    url: &str,
    token: &str,
    enabled: &[String],
    alone: bool,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return output::json(&json!({
            "url": url,
            "headers": {"Authorization": format!("Bearer {token}")},
            "servers": enabled,
        }));
    }
    println!("URL:     {url}");
    println!("Header:  Authorization: Bearer {token}");
    if enabled.is_empty() {
        println!("Servers: none enabled yet (portalctl enable SERVER --user ...)");
    } else if alone {
        println!("Server:  {}", url.rsplit('/').next().unwrap_or_default());
    } else {
        println!(
            "Servers: {} (tools named SERVER__TOOL; one alone at {url}/SERVER)",
            enabled.join(", ")
        );
    }
    println!("Transport: Streamable HTTP; protocol versions 2025-03-26 to 2026-07-28");
    Ok(())
}
