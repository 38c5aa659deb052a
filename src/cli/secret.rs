//! `portalctl secret ...`: users' secrets, sealed at rest.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use jiff::Timestamp;
use serde_json::json;

use super::backend::Backend;
use super::output::{self, table, time};
use super::UserArg;
use crate::ids::{SecretName, UserId};
use crate::manager::{Portal, SecretSummary};
use crate::secrets::{SecretValue, MAX_VALUE_BYTES};

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Set a secret: the value is read from stdin, or asked for without echo on a terminal
    Set {
        /// e.g. github.personal_access_token
        name: SecretName,
        #[command(flatten)]
        user: UserArg,
        /// The value itself, for scripts (it stays in shell history: prefer stdin)
        #[arg(long, value_name = "V", value_parser = super::input::hidden)]
        value: Option<super::input::Hidden>,
        /// When the secret stops being injected, as an RFC 3339 time (2027-01-31T00:00:00Z)
        #[arg(long, value_name = "TIME")]
        expires: Option<Timestamp>,
    },
    /// List a user's secrets: names and dates, never values
    Ls {
        #[command(flatten)]
        user: UserArg,
    },
    /// Remove a user's secret
    Rm {
        name: SecretName,
        #[command(flatten)]
        user: UserArg,
    },
    /// Re-seal every secret under the key in FILE (made if missing) and make it current
    RotateKey {
        /// A key file (32 bytes as base64 or hex), or a path where a new key is made
        #[arg(long, value_name = "F")]
        new_key_file: PathBuf,
    },
}

pub(super) fn read_value(
    name: &SecretName,
    given: Option<super::input::Hidden>,
) -> anyhow::Result<SecretValue> {
    let text = match given {
        Some(super::input::Hidden(v)) => {
            eprintln!("warning: a value given with --value stays in your shell history; pipe it on stdin instead");
            v
        }
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("value of {name}: "))
                .context("cannot read the value from the terminal")?
        }
        None => {
            let mut buf = String::new();
            std::io::stdin()
                .take(MAX_VALUE_BYTES as u64 + 2)
                .read_to_string(&mut buf)
                .context("cannot read the value from stdin (it must be UTF-8)")?;
            let trimmed = buf
                .strip_suffix('\n')
                .map(|b| b.strip_suffix('\r').unwrap_or(b))
                .unwrap_or(&buf);
            trimmed.to_string()
        }
    };
    Ok(SecretValue::new(text)?)
}

pub fn run(backend: &dyn Backend, cmd: SecretCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        SecretCmd::Set {
            name,
            user,
            value,
            expires,
        } => {
            let value = read_value(&name, value)?;
            let s = backend.set_secret(&user.user, &name, &value, expires)?;
            print_secret_set(&s, &user.user, json)
        }
        SecretCmd::Ls { user } => print_secrets(&backend.list_secrets(&user.user)?, json),
        SecretCmd::Rm { name, user } => {
            backend.remove_secret(&user.user, &name)?;
            print_secret_removed(&name, &user.user, json)
        }
        // Host-only: `cli::run` sends it to `rotate_key` before a backend is chosen.
        SecretCmd::RotateKey { new_key_file } => super::backend::host_only(&format!(
            "secret rotate-key --new-key-file {}",
            new_key_file.display()
        )),
    }
}

/// `secret rotate-key`: on the portal's host only, since it rewrites the key file.
pub fn rotate_key(portal: &Portal, new_key_file: &Path, json: bool) -> anyhow::Result<()> {
    let r = portal.rotate_key(new_key_file)?;
    if json {
        return output::json(&r);
    }
    println!(
        "re-sealed {} secrets of {} users under key {} (was {})",
        r.resealed, r.users, r.new_key, r.old_key
    );
    match &r.key_file {
        Some(f) => println!("the key file {f} now holds the new key"),
        None => println!(
            "now set MCP_PORTAL_SECRET_ENCRYPTION_KEY to the key in {}; until then secrets open with the data folder's copy of it (secret.key.next), removed once the new key is set",
            new_key_file.display()
        ),
    }
    Ok(())
}

pub(super) fn print_secret_set(s: &SecretSummary, user: &UserId, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(s);
    }
    println!("set secret {} for {user}", s.name);
    Ok(())
}

/// The `secret ls` table (or JSON): names and dates, never values.
pub(super) fn print_secrets(list: &[SecretSummary], json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(list);
    }
    let rows = list
        .iter()
        .map(|s| {
            let expires = match (s.expires_at, s.expired) {
                (Some(e), true) => format!("{} (expired)", time(&e)),
                (Some(e), false) => time(&e),
                (None, _) => "-".into(),
            };
            vec![
                s.name.to_string(),
                time(&s.created_at),
                time(&s.updated_at),
                expires,
                s.key_id.clone(),
            ]
        })
        .collect::<Vec<_>>();
    table(&["NAME", "CREATED", "UPDATED", "EXPIRES", "KEY"], &rows);
    Ok(())
}

pub(super) fn print_secret_removed(
    name: &SecretName,
    user: &UserId,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return output::json(&json!({ "removed": name, "user": user }));
    }
    println!("removed secret {name} of {user}");
    Ok(())
}
