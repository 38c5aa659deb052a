//! Tests of the semantic checks and the order and text of what they report.

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
fn unknown_filters_and_undeclared_parameters_are_errors_naming_them() {
    let mut s = def();
    s.env.insert("P".into(), "{{demo.path|shout}}".into());
    s.env.insert("Q".into(), "{{other.level}}".into());
    s.command = vec!["{{level}}".into()];
    s.parameters.insert("path".into(), Default::default());
    let mut d = Diagnostics::new();
    validate_server(&s, &Policy::default(), "c.yaml", &mut d);
    let e: Vec<String> = d.errors().map(ToString::to_string).collect();
    assert_eq!(
        e,
        [
            "c.yaml: server demo: command[0]: template {{level}} names no parameter of this server; declare \"level\" under parameters",
            "c.yaml: server demo: env.P: unknown template filter \"shout\": use volume, volume-target, into, first, last, or:DEFAULT or mount_as:PATH",
            "c.yaml: server demo: env.Q: template {{other.level}} names no parameter of this server; declare \"level\" under parameters",
        ]
    );
    s.parameters.insert("level".into(), Default::default());
    let mut d = Diagnostics::new();
    validate_server(&s, &Policy::default(), "c.yaml", &mut d);
    let e: Vec<String> = d.errors().map(ToString::to_string).collect();
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[1].ends_with("write {{demo.level}}: a template names its own server"),
        "{e:?}"
    );
}

#[test]
fn a_whole_template_volume_may_be_a_list_and_is_checked_at_enable() {
    let mut s = def();
    s.volumes = vec!["{{demo.paths|volume|into}}".into()];
    s.parameters.insert("paths".into(), Default::default());
    let mut d = Diagnostics::new();
    validate_server(&s, &Policy::default(), "c.yaml", &mut d);
    assert!(!d.has_errors(), "{:?}", d.errors().collect::<Vec<_>>());
}

#[test]
fn checks_that_compare_an_undecoded_field_are_skipped() {
    let mut s = def();
    s.port = Some(8080);
    s.env.insert("1BAD".into(), "x".into());
    let mut d = Diagnostics::new();
    // `transport` did not decode, so its default (stdio) must not make the port an error;
    // the env check reads no undecoded field and still runs, under the entry's own name.
    let undecoded = BTreeSet::from(["transport".to_string()]);
    validate_decoded(
        &s,
        "bad id",
        &undecoded,
        &Policy::default(),
        "c.yaml",
        &mut d,
    );
    let errs: Vec<String> = d.errors().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].starts_with("c.yaml: server bad id: env.1BAD: invalid environment"));
}

#[test]
fn allow_hosts_entries_are_host_and_port_and_a_bad_one_is_refused_with_why() {
    let mut s = def();
    s.allow_hosts = vec!["api.github.com:443".into(), "db:5432/tcp".into()];
    assert!(errors(&s).is_empty(), "{:?}", errors(&s));
    let mut d = Diagnostics::new();
    validate_server(&s, &Policy::default(), "c.yaml", &mut d);
    assert_eq!(d.warnings().count(), 0, "enforced: no longer a warning");
    s.allow_hosts = vec![
        "api.github.com".into(),
        "ok.example:80".into(),
        "*.x.io:443".into(),
    ];
    let errs = errors(&s);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(
        errs[0],
        "c.yaml: server demo: allow_hosts[0]: \"api.github.com\" has no port; write host:port, as in api.example.com:443"
    );
    assert!(errs[1].contains("allow_hosts[2]: \"*.x.io:443\" holds a wildcard"));
}

#[test]
fn allow_hosts_beside_disable_network_are_said_to_have_no_effect() {
    let mut s = def();
    s.allow_hosts = vec!["api.github.com:443".into()];
    s.disable_network = true;
    let mut d = Diagnostics::new();
    validate_server(&s, &Policy::default(), "c.yaml", &mut d);
    let warnings: Vec<String> = d.warnings().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("allow_hosts: has no effect")),
        "{warnings:?}"
    );
}
