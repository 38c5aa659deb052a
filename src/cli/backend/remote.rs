//! The remote backend: every command through a portal's HTTP API. Answers decode into
//! the same report types as local runs, and errors keep the class the portal gave them
//! (from the status), so output and exit codes are the same as on the host.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Backend;
use crate::api::{MigrationBody, RegistryBody};
use crate::catalog::model::ServerDef;
use crate::catalog::parse::RegistryEntries;
use crate::catalog::report::Diagnostic;
use crate::cli::transport::Transport;
use crate::engine::LogsQuery;
use crate::error::{Classify, ErrorClass};
use crate::ids::{CatalogName, Label, SecretName, ServerId, UserId};
use crate::manager::{
    CatalogSummary, CustomReport, DisableReport, EnableReport, ImportOptions, LogLine,
    MigrationReport, MigrationRequest, NewToken, OverlayReport, OverlaySummary, RegenReport,
    RemovedReport, RevisionSummary, SecretSummary, ServersView, StatusRow, TokenView, UploadReport,
    UserRemoved, UserSummary, ValidateReport,
};
use crate::plan::{Quota, Settings};
use crate::secrets::SecretValue;
use crate::store::{QuotaOverride, TokenRole, TokenScope};

/// An error the API answered, kept whole so the CLI prints and exits as in local mode.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub class: ErrorClass,
    pub message: String,
    /// An invalid input's diagnostics, printed as a local run prints them.
    pub diagnostics: Vec<Diagnostic>,
}

impl Classify for RemoteError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

pub struct Remote {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>),
}

/// Percent-encodes a query value byte by byte (ids need no escaping; file labels may).
fn enc(segment: &str) -> String {
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

/// The API's error body.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorFields,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorFields {
    /// The class's `api_code`; read where no status tells the class (a stream's error).
    code: Option<String>,
    message: Option<String>,
    #[serde(default)]
    diagnostics: Vec<Diagnostic>,
}

impl Remote {
    pub fn new(url: &str, token: &str, transport: &Transport) -> Result<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(crate::manager::PortalError::Usage(format!(
                "--remote {url:?} must be an http:// or https:// URL"
            ))
            .into());
        }
        if token.is_empty() {
            return Err(crate::manager::PortalError::Usage(
                "--remote needs a token: give --token or set MCP_PORTAL_TOKEN".into(),
            )
            .into());
        }
        transport.check_cleartext("--remote", url)?;
        Ok(Self {
            base: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            agent: transport.agent(Duration::from_secs(300))?,
        })
    }

    fn call<T: DeserializeOwned>(&self, method: &str, path: &str, body: Body) -> Result<T> {
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
        Err(self.error_of(status, &text))
    }

    /// The error an API answer with `status` and body `text` stands for. Inside a stream
    /// (status 200 sent already) the body's `code` names the class.
    fn error_of(&self, status: u16, text: &str) -> anyhow::Error {
        let body: ErrorBody = serde_json::from_str(text).unwrap_or_default();
        let class = body
            .error
            .code
            .as_deref()
            .and_then(|c| {
                crate::error::CLASSES
                    .into_iter()
                    .find(|k| k.api_code() == c)
            })
            .filter(|_| (200..300).contains(&status))
            .unwrap_or_else(|| ErrorClass::from_status(status));
        RemoteError {
            class,
            message: body
                .error
                .message
                .unwrap_or_else(|| format!("the portal answered {status}")),
            diagnostics: body.error.diagnostics,
        }
        .into()
    }

    /// Reads a server-sent event stream at `path`, handing each event's name and data to
    /// `each` until it answers `false` or the stream ends.
    fn sse(&self, path: &str, each: &mut dyn FnMut(&str, &str) -> Result<bool>) -> Result<()> {
        use std::io::BufRead;
        let url = format!("{}{path}", self.base);
        // A followed stream lasts as long as the server runs: no overall time limit.
        let mut response = self
            .agent
            .get(&url)
            .config()
            .timeout_global(None)
            .build()
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Accept", "text/event-stream")
            .call()
            .with_context(|| format!("cannot reach the portal at {}; check --remote", self.base))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.body_mut().read_to_string().unwrap_or_default();
            return Err(self.error_of(status, &text));
        }
        let reader = std::io::BufReader::new(response.body_mut().as_reader());
        let (mut event, mut data) = (String::new(), String::new());
        for line in reader.lines() {
            let line = line.context("the portal's event stream broke off")?;
            if line.is_empty() {
                if !data.is_empty()
                    && !each(if event.is_empty() { "message" } else { &event }, &data)?
                {
                    return Ok(());
                }
                event.clear();
                data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim_start().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        Ok(())
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call("GET", path, Body::None)
    }

    fn delete(&self, path: &str) -> Result<()> {
        self.call::<Value>("DELETE", path, Body::None).map(drop)
    }
}

fn registry_body(dir: &str, entries: RegistryEntries) -> Result<Value> {
    Ok(serde_json::to_value(RegistryBody::new(dir, entries))?)
}

impl Backend for Remote {
    fn max_upload_bytes(&self) -> u64 {
        crate::api::BODY_LIMIT as u64
    }

    fn upload_catalog(
        &self,
        file: &str,
        bytes: Vec<u8>,
        name: Option<CatalogName>,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        let mut path = format!("/api/v1/admin/catalogs?file={}", enc(file));
        if let Some(n) = name {
            path.push_str(&format!("&name={n}"));
        }
        if opts.skip_invalid {
            path.push_str("&skip_invalid=true");
        }
        self.call("POST", &path, Body::Raw(bytes))
    }

    fn import_registry(
        &self,
        dir: &str,
        entries: RegistryEntries,
        name: CatalogName,
        opts: ImportOptions,
    ) -> Result<UploadReport> {
        let body = registry_body(dir, entries)?;
        let mut path = format!("/api/v1/admin/registry/import?name={name}");
        if opts.skip_invalid {
            path.push_str("&skip_invalid=true");
        }
        self.call("POST", &path, Body::Json(body))
    }

    fn validate_catalog(&self, file: &str, bytes: Vec<u8>) -> Result<ValidateReport> {
        let path = format!("/api/v1/admin/validate?file={}", enc(file));
        self.call("POST", &path, Body::Raw(bytes))
    }

    fn validate_registry(&self, dir: &str, entries: RegistryEntries) -> Result<ValidateReport> {
        let body = registry_body(dir, entries)?;
        self.call("POST", "/api/v1/admin/registry/validate", Body::Json(body))
    }

    fn list_catalogs(&self) -> Result<Vec<CatalogSummary>> {
        self.get("/api/v1/admin/catalogs")
    }

    fn catalog_history(&self, name: &CatalogName) -> Result<Vec<RevisionSummary>> {
        self.get(&format!("/api/v1/admin/catalogs/{name}/history"))
    }

    fn rollback_catalog(&self, name: &CatalogName, to: Option<u32>) -> Result<UploadReport> {
        let q = to.map(|t| format!("?to={t}")).unwrap_or_default();
        let path = format!("/api/v1/admin/catalogs/{name}/rollback{q}");
        self.call("POST", &path, Body::None)
    }

    fn remove_catalog(&self, name: &CatalogName) -> Result<RemovedReport> {
        let path = format!("/api/v1/admin/catalogs/{name}");
        self.call("DELETE", &path, Body::None)
    }

    fn regenerate(&self, user: Option<&UserId>) -> Result<RegenReport> {
        let path = match user {
            Some(u) => format!("/api/v1/admin/users/{u}/regenerate"),
            None => "/api/v1/admin/regenerate".into(),
        };
        self.call("POST", &path, Body::None)
    }

    fn upload_overlay(
        &self,
        file: &str,
        bytes: Vec<u8>,
        name: CatalogName,
    ) -> Result<OverlayReport> {
        let path = format!("/api/v1/admin/overlays/{name}?file={}", enc(file));
        self.call("PUT", &path, Body::Raw(bytes))
    }

    fn list_overlays(&self) -> Result<Vec<OverlaySummary>> {
        self.get("/api/v1/admin/overlays")
    }

    fn remove_overlay(&self, name: &CatalogName) -> Result<RemovedReport> {
        let path = format!("/api/v1/admin/overlays/{name}");
        self.call("DELETE", &path, Body::None)
    }

    fn add_custom(&self, user: &UserId, file: &str, bytes: Vec<u8>) -> Result<CustomReport> {
        let path = format!("/api/v1/users/{user}/custom?file={}", enc(file));
        self.call("POST", &path, Body::Raw(bytes))
    }

    fn list_custom(&self, user: &UserId) -> Result<Vec<ServerDef>> {
        self.get(&format!("/api/v1/users/{user}/custom"))
    }

    fn remove_custom(&self, user: &UserId, id: &ServerId) -> Result<()> {
        self.delete(&format!("/api/v1/users/{user}/custom/{id}"))
    }

    fn add_user(
        &self,
        id: UserId,
        roles: Vec<Label>,
        org: Option<Label>,
        reuse_data: bool,
    ) -> Result<UserSummary> {
        let body = json!({"id": id, "roles": roles, "organization": org, "reuse_data": reuse_data});
        self.call("POST", "/api/v1/admin/users", Body::Json(body))
    }

    fn list_users(&self) -> Result<Vec<UserSummary>> {
        self.get("/api/v1/admin/users")
    }

    fn remove_user(&self, id: &UserId, keep_data: bool) -> Result<UserRemoved> {
        let path = format!("/api/v1/admin/users/{id}?keep_data={keep_data}");
        self.call("DELETE", &path, Body::None)
    }

    fn user_limits(&self, id: &UserId, change: Option<QuotaOverride>) -> Result<Quota> {
        let path = format!("/api/v1/admin/users/{id}/limits");
        match change {
            Some(c) => self.call("PUT", &path, Body::Json(serde_json::to_value(c)?)),
            None => self.get(&path),
        }
    }

    fn set_secret(
        &self,
        user: &UserId,
        name: &SecretName,
        value: &SecretValue,
        expires: Option<Timestamp>,
    ) -> Result<SecretSummary> {
        let body = json!({"value": value.expose(), "expires_at": expires});
        let path = format!("/api/v1/users/{user}/secrets/{name}");
        self.call("PUT", &path, Body::Json(body))
    }

    fn list_secrets(&self, user: &UserId) -> Result<Vec<SecretSummary>> {
        self.get(&format!("/api/v1/users/{user}/secrets"))
    }

    fn remove_secret(&self, user: &UserId, name: &SecretName) -> Result<()> {
        self.delete(&format!("/api/v1/users/{user}/secrets/{name}"))
    }

    fn create_token(
        &self,
        user: &UserId,
        role: TokenRole,
        scope: TokenScope,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<NewToken> {
        let body = json!({"user": user, "role": role, "scope": scope, "expires_at": expires_at});
        self.call("POST", "/api/v1/admin/tokens", Body::Json(body))
    }

    fn list_tokens(&self) -> Result<Vec<TokenView>> {
        self.get("/api/v1/admin/tokens")
    }

    fn revoke_token(&self, id: &str) -> Result<()> {
        self.delete(&format!("/api/v1/admin/tokens/{}", enc(id)))
    }

    fn servers(&self, user: &UserId, category: Option<&str>) -> Result<ServersView> {
        let q = category
            .map(|c| format!("?category={}", enc(c)))
            .unwrap_or_default();
        self.get(&format!("/api/v1/users/{user}/servers{q}"))
    }

    fn enable(
        &self,
        user: &UserId,
        server: &ServerId,
        settings: Option<Settings>,
        lazy: bool,
    ) -> Result<EnableReport> {
        let mut body =
            settings.map_or_else(|| json!({}), |s| json!({"env": s.env, "set": s.params}));
        if lazy {
            body["lazy"] = json!(true);
        }
        let path = format!("/api/v1/users/{user}/servers/{server}/enable");
        self.call("POST", &path, Body::Json(body))
    }

    fn disable(&self, user: &UserId, server: &ServerId) -> Result<DisableReport> {
        let path = format!("/api/v1/users/{user}/servers/{server}/disable");
        self.call("POST", &path, Body::None)
    }

    fn restart(&self, user: &UserId, server: &ServerId) -> Result<EnableReport> {
        let path = format!("/api/v1/users/{user}/servers/{server}/restart");
        self.call("POST", &path, Body::None)
    }

    fn status(&self, user: Option<&UserId>) -> Result<Vec<StatusRow>> {
        match user {
            Some(u) => self.get(&format!("/api/v1/users/{u}/status")),
            None => self.get("/api/v1/admin/status"),
        }
    }

    fn logs(
        &self,
        user: &UserId,
        server: &ServerId,
        query: LogsQuery,
        each: &mut dyn FnMut(&LogLine),
    ) -> Result<()> {
        let mut path = format!(
            "/api/v1/users/{user}/servers/{server}/logs?follow={}",
            query.follow
        );
        if let Some(n) = query.tail {
            path.push_str(&format!("&tail={n}"));
        }
        if let Some(t) = query.since {
            path.push_str(&format!("&since={t}"));
        }
        self.sse(&path, &mut |event, data| match event {
            "log" => {
                each(&serde_json::from_str(data).context("unexpected log line from the portal")?);
                Ok(true)
            }
            "error" => Err(self.error_of(500, data)),
            _ => Ok(event != "end"),
        })
    }

    fn migrate(&self, req: MigrationRequest) -> Result<MigrationReport> {
        let body = serde_json::to_value(MigrationBody::new(&req))?;
        self.call("POST", "/api/v1/admin/system/migration", Body::Json(body))
    }
}

/// Refuses a host-only command under `--remote`.
pub fn host_only(what: &str) -> Result<()> {
    bail!(crate::manager::PortalError::Usage(format!(
        "`portalctl {what}` is not available with --remote; run it on the portal's host"
    )))
}
