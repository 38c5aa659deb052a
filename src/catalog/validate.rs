//! Semantic checks of a server definition, after its shape has been parsed: image,
//! transport and port, env names, templates, volumes against the host-path policy,
//! limits, health check, secrets. All problems of a definition are reported together.

use std::collections::BTreeSet;

use crate::catalog::image::ImageRef;
use crate::catalog::model::{HealthKind, ServerDef};
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

fn check_text(d: &mut Diagnostics, file: &str, id: &str, field: &str, value: &str) {
    if value.contains('\0') {
        d.error(file, Some(id), Some(field), "contains a NUL character");
        return;
    }
    match template::unknown_filters(value) {
        Ok(unknown) => {
            for f in unknown {
                d.warning(
                    file,
                    Some(id),
                    Some(field),
                    format!("unknown template filter {f:?} is not honoured; enabling this server will fail until it is removed"),
                );
            }
        }
        Err(e) => d.error(file, Some(id), Some(field), e),
    }
}

pub fn validate_server(def: &ServerDef, policy: &Policy, file: &str, d: &mut Diagnostics) {
    let id = def.id.as_str();
    let err =
        |d: &mut Diagnostics, field: &str, msg: String| d.error(file, Some(id), Some(field), msg);

    if let Err(e) = image_ref(def) {
        let field = if def.tag.is_some() && ImageRef::parse(&def.image).is_ok() {
            "tag"
        } else {
            "image"
        };
        err(d, field, e);
    }
    for (field, value, max) in [
        ("display_name", &def.display_name, 256),
        ("description", &def.description, 16 * 1024),
        ("category", &def.category, 64),
    ] {
        if let Some(v) = value {
            if v.len() > max {
                err(d, field, format!("is longer than {max} characters"));
            }
        }
    }

    match (def.transport.is_http(), def.port) {
        (true, None) => err(
            d,
            "port",
            format!(
                "transport {} needs the container port the server listens on",
                def.transport.as_str()
            ),
        ),
        (true, Some(0)) => err(d, "port", "must be between 1 and 65535".into()),
        (false, Some(_)) => err(
            d,
            "port",
            "a stdio server has no port; remove it or set transport: streamable-http".into(),
        ),
        _ => {}
    }

    for (i, arg) in def.command.iter().enumerate() {
        check_text(d, file, id, &format!("command[{i}]"), arg);
    }

    let mut env_names: BTreeSet<&str> = BTreeSet::new();
    for (name, value) in &def.env {
        let field = format!("env.{name}");
        if let Err(e) = check_env_name(name) {
            err(d, &field, e.to_string());
        } else if RESERVED_ENV.contains(&name.as_str()) {
            err(d, &field, "is set by the portal itself; remove it".into());
        }
        check_text(d, file, id, &field, value);
        env_names.insert(name);
    }

    let mut secret_names = BTreeSet::new();
    for (i, s) in def.secrets.iter().enumerate() {
        let field = format!("secrets[{i}]");
        if let Err(e) = check_env_name(&s.env) {
            err(d, &format!("{field}.env"), e.to_string());
        } else if env_names.contains(s.env.as_str()) {
            err(
                d,
                &format!("{field}.env"),
                format!("{} is also set in env; keep one", s.env),
            );
        } else if RESERVED_ENV.contains(&s.env.as_str()) {
            err(
                d,
                &format!("{field}.env"),
                format!("{} is set by the portal itself", s.env),
            );
        }
        if !secret_names.insert(s.name.as_str()) {
            err(
                d,
                &format!("{field}.name"),
                format!("secret {} is listed twice", s.name),
            );
        }
        env_names.insert(&s.env);
    }

    for (i, spec) in def.volumes.iter().enumerate() {
        let field = format!("volumes[{i}]");
        match VolumeSpec::parse(spec) {
            Ok(v) => {
                if let Err(e) = v.check_policy(&policy.host_paths, spec) {
                    err(d, &field, e);
                }
            }
            Err(e) => err(d, &field, e),
        }
        check_text(d, file, id, &field, spec);
    }

    if def.resources.pids == Some(0) {
        err(d, "resources.pids", "must be at least 1".into());
    }

    if let Some(h) = &def.health_check {
        let needs_port = matches!(h.kind, HealthKind::Tcp | HealthKind::Http | HealthKind::Mcp);
        if needs_port && !def.transport.is_http() {
            err(
                d,
                "health_check.type",
                "tcp, http and mcp checks need an HTTP transport; use process for stdio servers"
                    .into(),
            );
        }
        match (&h.kind, &h.path) {
            (HealthKind::Http, None) => err(
                d,
                "health_check.path",
                "an http check needs a path such as /healthz".into(),
            ),
            (HealthKind::Http, Some(p)) if !p.starts_with('/') => {
                err(d, "health_check.path", format!("{p:?} must start with '/'"))
            }
            (HealthKind::Http, Some(_)) => {}
            (_, Some(_)) => err(
                d,
                "health_check.path",
                "only http checks take a path".into(),
            ),
            (_, None) => {}
        }
        if let (Some(i), Some(t)) = (h.interval, h.timeout) {
            if t > i {
                err(
                    d,
                    "health_check.timeout",
                    format!("{t} is longer than the interval {i}"),
                );
            }
        }
        if matches!(h.retries, Some(0) | Some(101..)) {
            err(
                d,
                "health_check.retries",
                "must be between 1 and 100".into(),
            );
        }
    }

    for name in def.parameters.keys() {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            err(
                d,
                &format!("parameters.{name}"),
                "use 1-64 letters, digits, '_', '-' or '.'".into(),
            );
        }
    }

    if let Some(user) = &def.user {
        let plain = !user.is_empty()
            && user.len() <= 64
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if template::has_template(user) {
            check_text(d, file, id, "user", user);
        } else if !plain {
            err(
                d,
                "user",
                format!("{user:?} is not a user name or uid[:gid]"),
            );
        }
    }

    for (i, cap) in def.cap_add.iter().enumerate() {
        let ok = !cap.is_empty()
            && cap.len() <= 32
            && cap.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if !ok {
            err(
                d,
                &format!("cap_add[{i}]"),
                format!("{cap:?} is not a capability name such as NET_BIND_SERVICE"),
            );
        }
    }

    if !def.allow_hosts.is_empty() {
        d.warning(
            file,
            Some(id),
            Some("allow_hosts"),
            "is recorded but not enforced: a bridge network cannot limit outbound hosts",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{HealthCheck, SecretRef, Transport};
    use crate::ids::{SecretName, ServerId};

    fn def() -> ServerDef {
        ServerDef::new(ServerId::parse("demo").unwrap(), "mcp/demo")
    }

    fn errors(def: &ServerDef) -> Vec<String> {
        let mut d = Diagnostics::new();
        validate_server(def, &Policy::default(), "c.yaml", &mut d);
        d.errors().map(ToString::to_string).collect()
    }

    #[test]
    fn a_minimal_definition_is_valid() {
        assert!(errors(&def()).is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut s = def();
        s.image = "Bad Image".into();
        s.transport = Transport::StreamableHttp;
        s.env.insert("1BAD".into(), "x".into());
        s.env.insert("MCP_USER_ID".into(), "x".into());
        s.volumes.push("/etc:/host-etc".into());
        s.resources.pids = Some(0);
        let errs = errors(&s);
        assert_eq!(errs.len(), 6, "{errs:#?}");
        assert!(errs[0].starts_with("c.yaml: server demo: image: invalid image reference"));
        assert!(errs
            .iter()
            .any(|e| e.contains(": port: transport streamable-http needs")));
        assert!(errs
            .iter()
            .any(|e| e.contains(": env.1BAD: invalid environment variable name")));
        assert!(errs
            .iter()
            .any(|e| e.contains(": env.MCP_USER_ID: is set by the portal")));
        assert!(errs
            .iter()
            .any(|e| e.contains(": volumes[0]: volume \"/etc:/host-etc\" mounts host path")));
        assert!(errs
            .iter()
            .any(|e| e.contains(": resources.pids: must be at least 1")));
    }

    #[test]
    fn stdio_servers_take_no_port_or_network_health_check() {
        let mut s = def();
        s.port = Some(8080);
        s.health_check = Some(HealthCheck {
            kind: HealthKind::Tcp,
            path: None,
            interval: None,
            timeout: None,
            retries: None,
        });
        let errs = errors(&s);
        assert_eq!(errs.len(), 2, "{errs:#?}");
    }

    #[test]
    fn secrets_must_not_collide_with_env() {
        let mut s = def();
        s.env.insert("TOKEN".into(), "x".into());
        s.secrets.push(SecretRef {
            name: SecretName::parse("a.token").unwrap(),
            env: "TOKEN".into(),
            file: false,
        });
        s.secrets.push(SecretRef {
            name: SecretName::parse("a.token").unwrap(),
            env: "OTHER".into(),
            file: false,
        });
        let errs = errors(&s);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].contains("secrets[0].env: TOKEN is also set in env"));
        assert!(errs[1].contains("secrets[1].name: secret a.token is listed twice"));
    }

    #[test]
    fn tag_replaces_the_images_tag() {
        let mut s = def();
        s.image = "ghcr.io/x/y:v1".into();
        s.tag = Some("v2".into());
        assert_eq!(image_ref(&s).unwrap().to_string(), "ghcr.io/x/y:v2");
        s.tag = None;
        s.image = "mcp/x".into();
        assert_eq!(image_ref(&s).unwrap().to_string(), "mcp/x:latest");
    }

    #[test]
    fn unknown_template_filters_are_warnings_naming_the_filter() {
        let mut s = def();
        s.env.insert("P".into(), "{{demo.path|shout}}".into());
        let mut d = Diagnostics::new();
        validate_server(&s, &Policy::default(), "c.yaml", &mut d);
        assert!(!d.has_errors());
        let w: Vec<String> = d.warnings().map(ToString::to_string).collect();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("env.P: unknown template filter \"shout\""),
            "{w:?}"
        );
    }
}
