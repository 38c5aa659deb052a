//! `portalctl logs SERVER --user U`: what a user's server printed, its secrets masked.

use std::io::Write;

use clap::Args;

use super::backend::Backend;
use super::output;
use super::UserArg;
use crate::engine::LogsQuery;
use crate::ids::ServerId;
use crate::manager::{LogLine, LogStream};

#[derive(Debug, Args)]
pub struct LogsArgs {
    server: ServerId,
    #[command(flatten)]
    user: UserArg,
    /// Keep printing what the server writes, until it stops or ctrl-c
    #[arg(long, short)]
    follow: bool,
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    tail: Option<u64>,
    /// Only lines written since TIME: a duration back from now (90s, 10m, 2h, 1d) or an
    /// RFC 3339 time
    #[arg(long, value_name = "TIME", value_parser = since)]
    since: Option<i64>,
}

/// `--since`: seconds since the Unix epoch.
fn since(s: &str) -> Result<i64, String> {
    let units = [('s', 1), ('m', 60), ('h', 3600), ('d', 86_400)];
    if let Some((unit, secs)) = units.iter().find(|(u, _)| s.ends_with(*u)) {
        if let Ok(n) = s[..s.len() - unit.len_utf8()].parse::<i64>() {
            if n < 0 {
                return Err(format!(
                    "{s:?}: a duration back from now cannot be negative"
                ));
            }
            return Ok(jiff::Timestamp::now().as_second() - n.saturating_mul(*secs));
        }
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| {
            format!("{s:?} is neither a duration (90s, 10m, 2h, 1d) nor an RFC 3339 time ({e})")
        })
}

pub fn run(backend: &dyn Backend, args: LogsArgs, json: bool) -> anyhow::Result<()> {
    let query = LogsQuery {
        follow: args.follow,
        tail: args.tail,
        since: args.since,
    };
    let mut out = std::io::stdout().lock();
    let mut print = |l: &LogLine| {
        // A reader that went away (a closed pipe) ends the command, not with an error.
        let _ = if json {
            serde_json::to_string(l).map_or(Ok(()), |s| writeln!(out, "{s}"))
        } else {
            match l.stream {
                LogStream::Stdout => writeln!(out, "{}", output::printable(&l.line)),
                LogStream::Stderr => {
                    let _ = out.flush();
                    writeln!(std::io::stderr(), "{}", output::printable(&l.line))
                }
            }
        };
        let _ = out.flush();
    };
    backend.logs(&args.user.user, &args.server, query, &mut print)
}
