//! `portalctl enable | disable | restart | status`: users' containers.

use std::collections::BTreeMap;

use clap::Args;

use super::backend::Backend;
use super::output::{self, table};
use super::UserArg;
use crate::catalog::model::ParamValue;
use crate::ids::{ServerId, UserId};
use crate::manager::{DisableReport, EnableOutcome, EnableReport, StatusRow};
use crate::plan::Settings;

#[derive(Debug, Args)]
pub struct EnableArgs {
    /// The server's id in the user's merged catalog
    server: ServerId,
    #[command(flatten)]
    user: UserArg,
    /// An environment variable for the container (user-configurable servers; repeatable)
    #[arg(long = "env", value_name = "K=V", value_parser = key_value)]
    env: Vec<(String, String)>,
    /// A value for a `{{server.param}}` template parameter, named `param` or
    /// `server.param`; give a list parameter once per item (repeatable)
    #[arg(long = "set", value_name = "PARAM=V", value_parser = key_value)]
    set: Vec<(String, String)>,
    /// Make the container but do not start it: the first MCP request through the
    /// gateway starts it (status shows `idle` until then)
    #[arg(long)]
    lazy: bool,
}

#[derive(Debug, Args)]
pub struct ServerUserArgs {
    server: ServerId,
    #[command(flatten)]
    user: UserArg,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this user's servers
    #[arg(long, value_name = "U")]
    user: Option<UserId>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// `--set` values by parameter: a parameter given twice or more is a list.
fn params_of(set: Vec<(String, String)>) -> BTreeMap<String, ParamValue> {
    let mut out: BTreeMap<String, ParamValue> = BTreeMap::new();
    for (k, v) in set {
        match out.remove(&k) {
            None => out.insert(k, ParamValue::Text(v)),
            Some(ParamValue::Text(first)) => out.insert(k, ParamValue::List(vec![first, v])),
            Some(ParamValue::List(mut l)) => {
                l.push(v);
                out.insert(k, ParamValue::List(l))
            }
        };
    }
    out
}

pub(super) fn print_enable(r: &EnableReport, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    let what = match r.outcome {
        EnableOutcome::Created => "enabled",
        EnableOutcome::Recreated => "recreated (definition or settings changed)",
        EnableOutcome::Started => "started",
        EnableOutcome::Unchanged => "already running, unchanged:",
        EnableOutcome::Idle => "registered (idle until its first MCP request)",
    };
    let port = r
        .port
        .map(|p| format!(" on {}:{p}", r.bind_address))
        .unwrap_or_default();
    println!(
        "{what} {} for {}: container {} ({}){port}",
        r.server, r.user, r.container, r.image
    );
    Ok(())
}

pub fn enable(backend: &dyn Backend, args: EnableArgs, json: bool) -> anyhow::Result<()> {
    let settings = (!args.env.is_empty() || !args.set.is_empty()).then(|| Settings {
        env: args.env.into_iter().collect(),
        params: params_of(args.set),
    });
    print_enable(
        &backend.enable(&args.user.user, &args.server, settings, args.lazy)?,
        json,
    )
}

pub fn disable(backend: &dyn Backend, args: ServerUserArgs, json: bool) -> anyhow::Result<()> {
    print_disable(&backend.disable(&args.user.user, &args.server)?, json)
}

pub(super) fn print_disable(r: &DisableReport, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    if !r.was_enabled {
        println!(
            "{} was not enabled for {}: nothing to disable",
            r.server, r.user
        );
        return Ok(());
    }
    let port = r
        .released_port
        .map(|p| format!(", port {p} released"))
        .unwrap_or_default();
    let container = if r.removed {
        format!("container {} removed", r.container)
    } else {
        "no container was left".into()
    };
    println!("disabled {} for {}: {container}{port}", r.server, r.user);
    Ok(())
}

pub fn restart(backend: &dyn Backend, args: ServerUserArgs, json: bool) -> anyhow::Result<()> {
    print_restart(&backend.restart(&args.user.user, &args.server)?, json)
}

pub(super) fn print_restart(r: &EnableReport, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    println!(
        "restarted {} for {}: container {}",
        r.server, r.user, r.container
    );
    Ok(())
}

pub fn status(backend: &dyn Backend, args: StatusArgs, json: bool) -> anyhow::Result<()> {
    print_status(&backend.status(args.user.as_ref())?, json)
}

pub(super) fn print_status(rows: &[StatusRow], json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(rows);
    }
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                r.user.clone(),
                r.server.clone(),
                if r.outdated {
                    format!("{} (outdated)", r.state)
                } else {
                    r.state.clone()
                },
                r.health.clone().unwrap_or_else(|| "-".into()),
                r.restarts.to_string(),
                r.port.map_or("-".into(), |p| p.to_string()),
                output::or_dash(&r.image),
                r.memory_bytes
                    .map_or("-".into(), |m| format!("{}m", m / (1024 * 1024))),
                r.cpus.map_or("-".into(), |c| format!("{c:.2}")),
                r.uptime.clone().unwrap_or_else(|| "-".into()),
                r.last_error.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "USER",
            "SERVER",
            "STATE",
            "HEALTH",
            "RESTARTS",
            "PORT",
            "IMAGE",
            "MEMORY",
            "CPUS",
            "UPTIME",
            "LAST ERROR",
        ],
        &rows,
    );
    Ok(())
}
