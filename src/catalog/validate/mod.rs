//! Semantic checks of a server definition, after its shape has been parsed: image,
//! transport and port, env names, templates, volumes against the host-path policy,
//! limits, health check, secrets. All problems of a definition are reported together,
//! also for a definition whose shape was only partly right (`validate_decoded`).

use std::collections::BTreeSet;

use crate::catalog::bounds::Bounds;
use crate::catalog::image::ImageRef;
use crate::catalog::model::{HealthCheck, HealthKind, ServerDef};
use crate::catalog::report::Diagnostics;
use crate::catalog::template;
use crate::catalog::volume::{HostPathPolicy, VolumeSpec};
use crate::ids::check_env_name;

/// Environment variables the portal sets itself (issue 3); a catalog may not override them.
pub const RESERVED_ENV: &[&str] = &[
    "MCP_USER_ID",
    "MCP_SERVER_ID",
    "MCP_NETWORK_NAME",
    "MCP_TRANSPORT",
    "MCP_SERVER_PORT",
];

/// What validation depends on beyond the definition itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub host_paths: HostPathPolicy,
    pub bounds: Bounds,
}

/// The full reference Docker will run for this definition (`image` with `tag` applied).
pub fn image_ref(def: &ServerDef) -> Result<ImageRef, String> {
    let image = ImageRef::parse(&def.image)?;
    let image = match &def.tag {
        Some(tag) => image.with_tag(tag)?,
        None => image,
    };
    Ok(image.pinned())
}

/// A text field's templates: their syntax, their filters (Docker's), and that each names
/// a parameter the server declares, by its own name (`{{server.param}}`).
fn check_text(r: &mut Report<'_>, field: &str, value: &str) {
    if value.contains('\0') {
        r.err(field, "contains a NUL character");
        return;
    }
    let (refs, unknown) = match template::references(value) {
        Ok(found) => found,
        Err(e) => return r.err(field, e),
    };
    for f in unknown {
        r.err(
            field,
            format!(
                "unknown template filter {f:?}: use volume, volume-target, into, first, last, or:DEFAULT or mount_as:PATH"
            ),
        );
    }
    for path in refs {
        let (prefix, param) = path.split_once('.').unwrap_or(("", path.as_str()));
        if r.declared.contains(&path) || (prefix == r.id && r.declared.contains(param)) {
            continue;
        }
        let hint = if r.declared.contains(param) {
            format!(
                "write {{{{{}.{param}}}}}: a template names its own server",
                r.id
            )
        } else {
            format!("declare {param:?} under parameters")
        };
        r.err(
            field,
            format!("template {{{{{path}}}}} names no parameter of this server; {hint}"),
        );
    }
}

/// Where the checks of one definition report to.
struct Report<'a> {
    file: &'a str,
    id: &'a str,
    /// The parameters the definition declares, which its templates may name.
    declared: BTreeSet<String>,
    undecoded: &'a BTreeSet<String>,
    d: &'a mut Diagnostics,
}

impl Report<'_> {
    /// Whether all of `fields` hold what the file says.
    fn decoded(&self, fields: &[&str]) -> bool {
        fields.iter().all(|f| !self.undecoded.contains(*f))
    }

    fn err(&mut self, field: &str, msg: impl Into<String>) {
        self.d.error(self.file, Some(self.id), Some(field), msg);
    }

    fn text(&mut self, field: &str, value: &str) {
        check_text(self, field, value);
    }
}

/// Every semantic check of `def`, reported to `d`. The groups run in a fixed order so the
/// same definition always yields the same diagnostics in the same order.
pub fn validate_server(def: &ServerDef, policy: &Policy, file: &str, d: &mut Diagnostics) {
    validate_decoded(def, def.id.as_str(), &BTreeSet::new(), policy, file, d);
}

/// The semantic checks of an entry read in part: the server is named `name` (its own id
/// may be a stand-in), and the fields in `undecoded` hold a stand-in, a default or a part
/// in place of a value whose fault is reported already.
///
/// A check of one field runs on whatever of it decoded, since a default or a part has
/// nothing wrong to report. Only the checks that weigh fields against each other are
/// skipped when one of those fields is undecoded: a default transport with a real port,
/// or an http check whose path was the fault, would report errors the file does not have.
pub fn validate_decoded(
    def: &ServerDef,
    name: &str,
    undecoded: &BTreeSet<String>,
    policy: &Policy,
    file: &str,
    d: &mut Diagnostics,
) {
    let mut r = Report {
        file,
        id: name,
        declared: def.parameters.keys().cloned().collect(),
        undecoded,
        d,
    };
    check_image(def, &mut r);
    check_lengths(def, &mut r);
    if r.decoded(&["transport", "port"]) {
        check_port(def, &mut r);
    }
    check_command(def, &mut r);
    let env_names = check_env(def, &mut r);
    check_secrets(def, env_names, &mut r);
    check_volumes(def, policy, &mut r);
    check_limits(def, &mut r);
    if let Some(h) = def.health_check.as_ref() {
        if r.decoded(&["transport", "health_check"]) {
            check_health(def, h, &mut r);
        }
    }
    check_parameters(def, &mut r);
    check_user(def, &mut r);
    check_caps(def, &mut r);
    for (field, why) in policy.bounds.check(def) {
        r.err(&field, why);
    }
    check_allow_hosts(def, &mut r);
}

/// The error names `tag` when only the tag is at fault, so the user fixes the right field.
fn check_image(def: &ServerDef, r: &mut Report<'_>) {
    if let Err(e) = image_ref(def) {
        let field = if def.tag.is_some() && ImageRef::parse(&def.image).is_ok() {
            "tag"
        } else {
            "image"
        };
        r.err(field, e);
    }
}

fn check_lengths(def: &ServerDef, r: &mut Report<'_>) {
    for (field, value, max) in [
        ("display_name", &def.display_name, 256),
        ("description", &def.description, 16 * 1024),
        ("category", &def.category, 64),
    ] {
        if let Some(v) = value {
            if v.len() > max {
                r.err(field, format!("is longer than {max} characters"));
            }
        }
    }
}

fn check_port(def: &ServerDef, r: &mut Report<'_>) {
    match (def.transport.is_http(), def.port) {
        (true, None) => r.err(
            "port",
            format!(
                "transport {} needs the container port the server listens on",
                def.transport.as_str()
            ),
        ),
        (true, Some(0)) => r.err("port", "must be between 1 and 65535"),
        (false, Some(_)) => r.err(
            "port",
            "a stdio server has no port; remove it or set transport: streamable-http",
        ),
        _ => {}
    }
}

fn check_command(def: &ServerDef, r: &mut Report<'_>) {
    for (i, arg) in def.command.iter().enumerate() {
        r.text(&format!("command[{i}]"), arg);
    }
}

/// Returns the env names set, which secrets must not set again.
fn check_env<'a>(def: &'a ServerDef, r: &mut Report<'_>) -> BTreeSet<&'a str> {
    let mut env_names: BTreeSet<&str> = BTreeSet::new();
    for (name, value) in &def.env {
        let field = format!("env.{name}");
        if let Err(e) = check_env_name(name) {
            r.err(&field, e.to_string());
        } else if RESERVED_ENV.contains(&name.as_str()) {
            r.err(&field, "is set by the portal itself; remove it");
        }
        r.text(&field, value);
        env_names.insert(name);
    }
    env_names
}

/// Each secret's variable is added to `env_names` as it is checked, so two secrets may not
/// set the same variable either.
fn check_secrets<'a>(def: &'a ServerDef, mut env_names: BTreeSet<&'a str>, r: &mut Report<'_>) {
    let mut secret_names = BTreeSet::new();
    for (i, s) in def.secrets.iter().enumerate() {
        let field = format!("secrets[{i}]");
        if let Err(e) = check_env_name(&s.env) {
            r.err(&format!("{field}.env"), e.to_string());
        } else if env_names.contains(s.env.as_str()) {
            r.err(
                &format!("{field}.env"),
                format!("{} is also set in env; keep one", s.env),
            );
        } else if RESERVED_ENV.contains(&s.env.as_str()) {
            r.err(
                &format!("{field}.env"),
                format!("{} is set by the portal itself", s.env),
            );
        }
        if !secret_names.insert(s.name.as_str()) {
            r.err(
                &format!("{field}.name"),
                format!("secret {} is listed twice", s.name),
            );
        }
        env_names.insert(&s.env);
    }
}

fn check_volumes(def: &ServerDef, policy: &Policy, r: &mut Report<'_>) {
    for (i, spec) in def.volumes.iter().enumerate() {
        let field = format!("volumes[{i}]");
        // One whole `{{...}}` may be a list of mounts: its items are checked at enable.
        if template::is_whole_reference(spec) {
            r.text(&field, spec);
            continue;
        }
        match VolumeSpec::parse(spec) {
            Ok(v) => {
                if let Err(e) = v.check_policy(&policy.host_paths, spec) {
                    r.err(&field, e);
                }
            }
            Err(e) => r.err(&field, e),
        }
        r.text(&field, spec);
    }
}

fn check_limits(def: &ServerDef, r: &mut Report<'_>) {
    if def.resources.pids == Some(0) {
        r.err("resources.pids", "must be at least 1");
    }
}

fn check_health(def: &ServerDef, h: &HealthCheck, r: &mut Report<'_>) {
    let needs_port = matches!(h.kind, HealthKind::Tcp | HealthKind::Http | HealthKind::Mcp);
    if needs_port && !def.transport.is_http() {
        r.err(
            "health_check.type",
            "tcp, http and mcp checks need an HTTP transport; use process for stdio servers",
        );
    }
    match (&h.kind, &h.path) {
        (HealthKind::Http, None) => r.err(
            "health_check.path",
            "an http check needs a path such as /healthz",
        ),
        (HealthKind::Http, Some(p)) if !p.starts_with('/') => {
            r.err("health_check.path", format!("{p:?} must start with '/'"))
        }
        (HealthKind::Http, Some(_)) => {}
        (_, Some(_)) => r.err("health_check.path", "only http checks take a path"),
        (_, None) => {}
    }
    if let (Some(i), Some(t)) = (h.interval, h.timeout) {
        if t > i {
            r.err(
                "health_check.timeout",
                format!("{t} is longer than the interval {i}"),
            );
        }
    }
    if matches!(h.retries, Some(0) | Some(101..)) {
        r.err("health_check.retries", "must be between 1 and 100");
    }
}

fn check_parameters(def: &ServerDef, r: &mut Report<'_>) {
    for name in def.parameters.keys() {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            r.err(
                &format!("parameters.{name}"),
                "use 1-64 letters, digits, '_', '-' or '.'",
            );
        }
    }
}

/// A templated user is checked as text: its value is known only per user.
fn check_user(def: &ServerDef, r: &mut Report<'_>) {
    let Some(user) = &def.user else {
        return;
    };
    let plain = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if template::has_template(user) {
        r.text("user", user);
    } else if !plain {
        r.err("user", format!("{user:?} is not a user name or uid[:gid]"));
    }
}

fn check_caps(def: &ServerDef, r: &mut Report<'_>) {
    for (i, cap) in def.cap_add.iter().enumerate() {
        let ok = !cap.is_empty()
            && cap.len() <= 32
            && cap.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if !ok {
            r.err(
                &format!("cap_add[{i}]"),
                format!("{cap:?} is not a capability name such as NET_BIND_SERVICE"),
            );
        }
    }
}

/// Each entry as the egress proxy reads it (`host:port`); a server with no network at
/// all has no use for them, which is said.
fn check_allow_hosts(def: &ServerDef, r: &mut Report<'_>) {
    for (i, entry) in def.allow_hosts.iter().enumerate() {
        if let Err(e) = egress_proxy::parse_entry(entry) {
            r.err(&format!("allow_hosts[{i}]"), e.to_string());
        }
    }
    if def.disable_network && !def.allow_hosts.is_empty() {
        r.d.warning(
            r.file,
            Some(r.id),
            Some("allow_hosts"),
            "has no effect: disable_network gives the server no network at all",
        );
    }
}

#[cfg(test)]
mod tests;
