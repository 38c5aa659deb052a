//! `portalctl serve`: the daemon.

use std::path::PathBuf;

use clap::Args;

use super::output;
use crate::api::ApiState;
use crate::engine::DockerEngine;
use crate::manager::{Daemon, Portal, PortalError};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A folder of catalog files to keep in force: DIR/*.yaml|yml|json are base catalogs
    /// named by file name, DIR/overlays/* are overlays; a changed file is validated and
    /// applied, an invalid one refused (the last good version stays)
    #[arg(long, value_name = "DIR")]
    watch_catalogs: Option<PathBuf>,
    /// Reconcile once, print what was done, and exit
    #[arg(long)]
    once: bool,
    /// Also serve the HTTP API on this address, e.g. 127.0.0.1:8080
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Serve GET /metrics (Prometheus) open on this address, e.g. 127.0.0.1:9464; on the
    /// --listen address it needs an admin token
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Serve the API over TLS with this certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key", requires = "listen")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// Installs the SIGTERM and SIGINT handlers now (a handler installed lazily, on first
/// poll, could miss an early signal) and returns the future that waits for either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Sets up logging to stderr. bollard logs whole create requests and inspect answers at
/// debug level, container environments (and so secret values) included: those crates
/// stay at `warn` whatever `MCP_PORTAL_LOG` asks for.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MCP_PORTAL_LOG")
        .unwrap_or_else(|_| "info".into());
    let filter = ["bollard=warn", "hyper=warn", "hyper_util=warn"]
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, tracing_subscriber::EnvFilter::add_directive);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(portal: &Portal, args: ServeArgs, json: bool) -> anyhow::Result<()> {
    init_logging();
    for m in portal.migrated() {
        tracing::warn!("{m}");
    }
    if let Some(dir) = &args.watch_catalogs {
        if !dir.is_dir() {
            return Err(PortalError::Usage(format!(
                "{} is not a folder; give the folder that holds the catalog files",
                dir.display()
            ))
            .into());
        }
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            crate::api::tls::server_config(cert, key)
                .map_err(|e| PortalError::Usage(e.to_string()))?,
        ),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let engine = DockerEngine::connect().await?;
        let daemon = Daemon::new(portal.clone(), engine, args.watch_catalogs.clone());
        if args.once {
            return once(&daemon, json).await;
        }
        serve_until_stopped(portal, &daemon, args.listen, args.metrics_listen, tls).await
    })
}

/// `serve --once`: one catalog-folder sync and one reconcile pass, reported.
async fn once(daemon: &Daemon<DockerEngine>, json: bool) -> anyhow::Result<()> {
    daemon.sync_catalog_folder().await;
    let report = daemon.reconcile().await?;
    if json {
        output::json(&report)?;
    } else {
        for a in &report.actions {
            println!("{}", serde_json::to_string(a)?);
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        println!(
            "reconciled in {} ms: {} actions, {} errors",
            report.millis,
            report.actions.len(),
            report.errors.len()
        );
    }
    if !report.errors.is_empty() {
        anyhow::bail!(
            "the reconcile pass had {} errors; see them above",
            report.errors.len()
        );
    }
    Ok(())
}

/// The daemon (and the API on `listen`) until SIGTERM or SIGINT.
async fn serve_until_stopped(
    portal: &Portal,
    daemon: &Daemon<DockerEngine>,
    listen: Option<std::net::SocketAddr>,
    metrics_listen: Option<std::net::SocketAddr>,
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    let signal = shutdown_signal()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let per_sec = portal.config().api_rate_per_sec;
    let state = std::sync::Arc::new(ApiState::new(portal.clone(), daemon.runtime(), per_sec));
    let metrics = match metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                PortalError::Usage(format!(
                    "cannot listen on {addr}: {e}; choose another address with --metrics-listen"
                ))
            })?;
            tracing::info!(%addr, "metrics listening (open: no token)");
            Some(tokio::spawn(crate::api::serve_metrics(
                listener,
                std::sync::Arc::clone(&state),
                stopped(stop_rx.clone()),
            )))
        }
        None => None,
    };
    let api = match listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                PortalError::Usage(format!(
                    "cannot listen on {addr}: {e}; choose another address with --listen"
                ))
            })?;
            if tls.is_some() {
                tracing::info!(%addr, "HTTP API listening with TLS");
            } else if addr.ip().is_loopback() {
                tracing::info!(%addr, "HTTP API listening");
            } else {
                tracing::warn!(%addr, "HTTP API listening without TLS on an address other hosts reach: tokens cross the network in cleartext; give --tls-cert and --tls-key");
            }
            Some(tokio::spawn(crate::api::serve(
                crate::api::Listener::new(listener, tls),
                state,
                stopped(stop_rx.clone()),
            )))
        }
        None => None,
    };
    tracing::info!(data = %portal.store().root().display(), "mcp-portal daemon started");
    daemon.run(stopped(stop_rx)).await?;
    if let Some(api) = api {
        api.await??;
    }
    if let Some(metrics) = metrics {
        metrics.await??;
    }
    Ok(())
}
