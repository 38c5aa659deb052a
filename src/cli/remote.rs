//! `portalctl --remote URL --token T ...`: the same commands through the HTTP API, printed
//! by the same code as local runs, so the output is the same.

use std::time::Duration;

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{catalog, containers, input, secret, servers, token, user, Command};
use crate::catalog::merge::MergedServer;
use crate::config::Config;
use crate::ids::UserId;
use crate::manager::{
    CatalogSummary, DisableReport, EnableReport, RegenReport, SecretSummary, StatusRow,
    UploadReport, UserSummary,
};

/// An error the API answered, kept whole so the CLI can print and exit as in local mode.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Vec<String>,
}

impl RemoteError {
    /// The exit code the same failure has in local mode.
    pub fn exit_code(&self) -> u8 {
        match self.status {
            400 => 2,
            404 => 4,
            409 => 5,
            413 | 422 => 3,
            _ => 1,
        }
    }
}

#[derive(Debug)]
pub struct Remote {
    base: String,
    token: String,
    agent: ureq::Agent,
}

enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>),
}

fn enc(segment: &str) -> String {
    // Ids are validated to letters, digits, '-', '_' and '.', which need no escaping; the
    // rest (file labels in queries) is percent-encoded byte by byte.
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Remote {
    pub fn new(url: &str, token: &str) -> anyhow::Result<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--remote {url:?} must be an http:// or https:// URL");
        }
        if token.is_empty() {
            bail!("--remote needs a token: give --token or set MCP_PORTAL_TOKEN");
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build();
        Ok(Self {
            base: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            agent: config.into(),
        })
    }

    fn call<T: DeserializeOwned>(&self, method: &str, path: &str, body: Body) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            (m, b) => {
                let req = if m == "PUT" {
                    self.agent.put(&url)
                } else {
                    self.agent.post(&url)
                };
                let req = req.header("Authorization", &auth);
                match b {
                    Body::None => req.send_empty(),
                    Body::Json(v) => req.send_json(v),
                    Body::Raw(bytes) => req.send(&bytes[..]),
                }
            }
        };
        let mut response = sent
            .with_context(|| format!("cannot reach the portal at {}; check --remote", self.base))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .context("cannot read the portal's answer")?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text)
                .with_context(|| format!("unexpected answer from {url}"));
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let err = &v["error"];
        Err(RemoteError {
            status,
            code: err["code"].as_str().unwrap_or("error").to_string(),
            message: err["message"]
                .as_str()
                .map_or_else(|| format!("the portal answered {status}"), str::to_string),
            details: err["details"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }
        .into())
    }

    fn users(&self) -> anyhow::Result<Vec<UserId>> {
        let list: Vec<UserSummary> = self.call("GET", "/api/v1/admin/users", Body::None)?;
        Ok(list.into_iter().map(|u| u.id).collect())
    }
}

fn unsupported(what: &str) -> anyhow::Result<()> {
    bail!("`portalctl {what}` is not available with --remote; run it on the portal's host")
}

/// Runs one command through the API.
pub fn dispatch(remote: &Remote, command: Command, json: bool) -> anyhow::Result<()> {
    use catalog::CatalogCmd as C;
    let max = crate::api::BODY_LIMIT as u64;
    match command {
        Command::Catalog(C::Upload { file, name }) => {
            let (shown, bytes) = input::read_file(&file, max)?;
            let mut path = format!("/api/v1/admin/catalogs?file={}", enc(&shown));
            if let Some(n) = name {
                path.push_str(&format!("&name={}", enc(n.as_str())));
            }
            let r: UploadReport = remote.call("POST", &path, Body::Raw(bytes))?;
            catalog::print_upload(&r, "stored", json)
        }
        Command::Catalog(C::Ls) => {
            let list: Vec<CatalogSummary> =
                remote.call("GET", "/api/v1/admin/catalogs", Body::None)?;
            catalog::print_catalogs(&list, json)
        }
        Command::Catalog(C::Rollback { name, to }) => {
            let q = to.map(|t| format!("?to={t}")).unwrap_or_default();
            let r: UploadReport = remote.call(
                "POST",
                &format!("/api/v1/admin/catalogs/{name}/rollback{q}"),
                Body::None,
            )?;
            catalog::print_upload(&r, "rolled back to", json)
        }
        Command::Catalog(C::Regenerate(args)) => {
            let users = match args.user {
                Some(u) => vec![u],
                None => remote.users()?,
            };
            let mut all = RegenReport::default();
            for u in users {
                let r: RegenReport = remote.call(
                    "POST",
                    &format!("/api/v1/admin/users/{u}/regenerate"),
                    Body::None,
                )?;
                all.regenerated.extend(r.regenerated);
                all.unchanged.extend(r.unchanged);
                all.failed.extend(r.failed);
            }
            catalog::print_regen(&all, json)
        }
        Command::Catalog(C::Validate { file }) => {
            // Validation is local and pure: no need to send the file anywhere.
            let config = Config::from_env(std::path::PathBuf::from("."))?;
            let (shown, bytes) = input::read_file(&file, config.max_catalog_bytes)?;
            let parsed = crate::catalog::parse::parse_catalog(&shown, &bytes, &config.limits())?;
            crate::cli::output::warnings(&parsed.warnings);
            println!(
                "{} is valid: {} catalog, {}",
                file.display(),
                parsed.format.as_str(),
                crate::cli::output::plural(parsed.catalog.servers.len(), "server", "servers")
            );
            Ok(())
        }
        Command::Catalog(C::Import { .. }) => unsupported("catalog import"),
        Command::Catalog(C::History { .. }) => unsupported("catalog history"),
        Command::Catalog(C::Rm { .. }) => unsupported("catalog rm"),
        Command::Overlay(_) => unsupported("overlay"),
        Command::Custom(_) => unsupported("custom"),
        Command::Serve(_) => unsupported("serve"),
        Command::CheckHealth { .. } => unsupported("check-health"),
        Command::User(user::UserCmd::Add { id, roles, org }) => {
            let u: UserSummary = remote.call(
                "POST",
                "/api/v1/admin/users",
                Body::Json(json!({"id": id, "roles": roles, "organization": org})),
            )?;
            user::print_user_added(&u, json)
        }
        Command::User(user::UserCmd::Ls) => {
            let list: Vec<UserSummary> = remote.call("GET", "/api/v1/admin/users", Body::None)?;
            user::print_users(&list, json)
        }
        Command::User(user::UserCmd::Rm { id }) => {
            let _: Value =
                remote.call("DELETE", &format!("/api/v1/admin/users/{id}"), Body::None)?;
            user::print_user_removed(&id, json)
        }
        Command::User(user::UserCmd::Limits {
            id,
            max_containers,
            max_memory_mb,
            max_cpu_shares,
        }) => {
            let body = json!({"max_containers": max_containers, "max_memory_mb": max_memory_mb, "max_cpu_shares": max_cpu_shares});
            let q: crate::plan::Quota = remote.call(
                "PUT",
                &format!("/api/v1/admin/users/{id}/limits"),
                Body::Json(body),
            )?;
            user::print_limits(&id, &q, json)
        }
        Command::Secret(secret::SecretCmd::Set {
            name,
            user,
            value,
            expires,
        }) => {
            let v = secret::read_value(&name, value)?;
            let body = json!({"value": v.expose(), "expires_at": expires});
            let s: SecretSummary = remote.call(
                "PUT",
                &format!("/api/v1/users/{}/secrets/{name}", user.user),
                Body::Json(body),
            )?;
            secret::print_secret_set(&s, &user.user, json)
        }
        Command::Secret(secret::SecretCmd::Ls { user }) => {
            let list: Vec<SecretSummary> = remote.call(
                "GET",
                &format!("/api/v1/users/{}/secrets", user.user),
                Body::None,
            )?;
            secret::print_secrets(&list, json)
        }
        Command::Secret(secret::SecretCmd::Rm { name, user }) => {
            let _: Value = remote.call(
                "DELETE",
                &format!("/api/v1/users/{}/secrets/{name}", user.user),
                Body::None,
            )?;
            secret::print_secret_removed(&name, &user.user, json)
        }
        Command::Secret(secret::SecretCmd::RotateKey { .. }) => unsupported("secret rotate-key"),
        Command::Token(token::TokenCmd::Create { user, role }) => {
            let role = match role {
                token::Role::User => "user",
                token::Role::Admin => "admin",
            };
            let t: crate::manager::NewToken = remote.call(
                "POST",
                "/api/v1/admin/tokens",
                Body::Json(json!({"user": user.user, "role": role})),
            )?;
            token::print_new_token(&t, json)
        }
        Command::Token(token::TokenCmd::Ls) => {
            let list: Vec<token::TokenView> =
                remote.call("GET", "/api/v1/admin/tokens", Body::None)?;
            token::print_tokens(&list, json)
        }
        Command::Token(token::TokenCmd::Revoke { id }) => {
            let _: Value = remote.call(
                "DELETE",
                &format!("/api/v1/admin/tokens/{}", enc(&id)),
                Body::None,
            )?;
            token::print_revoked(&id, json)
        }
        Command::Enable(a) => {
            let body = json!({"env": a.env_map(), "set": a.set_map()});
            let r: EnableReport = remote.call(
                "POST",
                &format!("/api/v1/users/{}/servers/{}/enable", a.user(), a.server()),
                Body::Json(body),
            )?;
            containers::print_enable(&r, json)
        }
        Command::Disable(a) => {
            let r: DisableReport = remote.call(
                "POST",
                &format!("/api/v1/users/{}/servers/{}/disable", a.user(), a.server()),
                Body::None,
            )?;
            containers::print_disable(&r, json)
        }
        Command::Restart(a) => {
            let r: EnableReport = remote.call(
                "POST",
                &format!("/api/v1/users/{}/servers/{}/restart", a.user(), a.server()),
                Body::None,
            )?;
            containers::print_restart(&r, json)
        }
        Command::Status(a) => {
            let users = match a.user() {
                Some(u) => vec![u.clone()],
                None => remote.users()?,
            };
            let mut rows: Vec<StatusRow> = Vec::new();
            for u in users {
                rows.extend(remote.call::<Vec<StatusRow>>(
                    "GET",
                    &format!("/api/v1/users/{u}/status"),
                    Body::None,
                )?);
            }
            rows.sort_by(|a, b| (&a.user, &a.server).cmp(&(&b.user, &b.server)));
            containers::print_status(&rows, json)
        }
        Command::Servers(a) => {
            let q = a
                .category
                .as_ref()
                .map(|c| format!("?category={}", enc(c)))
                .unwrap_or_default();
            let list: Vec<MergedServer> = remote.call(
                "GET",
                &format!("/api/v1/users/{}/catalog{q}", a.user.user),
                Body::None,
            )?;
            let refs: Vec<&MergedServer> = list.iter().collect();
            servers::print_servers(&refs, &[], json)
        }
    }
}
