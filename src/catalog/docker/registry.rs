//! One `servers/<name>/server.yaml` of Docker's MCP registry, read section by section
//! (`about`/`meta`, `run`, `config`) in the order its diagnostics are reported.

use serde_json::{Map, Value};

use super::entry::Entry;
use super::id_for;
use crate::catalog::decode::Decoded;
use crate::catalog::model::{ServerDef, Transport};
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::Policy;

/// One `servers/<name>/server.yaml` of Docker's MCP registry.
pub fn registry_server(
    file: &str,
    doc: Value,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<ServerDef> {
    let Value::Object(obj) = doc else {
        d.error(file, None, None, "server.yaml must be a mapping");
        return None;
    };
    let Some(name) = obj.get("name").and_then(Value::as_str) else {
        d.error(file, None, Some("name"), "is required");
        return None;
    };
    let mut e = Entry {
        file,
        server: name.to_string(),
        d,
    };
    if e.skipped(&obj, "type") {
        return None;
    }
    let image = e.image(&obj);
    let id = id_for(file, name, e.d);
    let mut decoded = Decoded::start(id, image)?;
    let def = &mut decoded.def;
    def.transport = Transport::Stdio;
    describe(&mut e, &obj, def);
    if let Some(run) = obj.get("run") {
        read_run(&mut e, run, def);
    }
    if let Some(config) = obj.get("config") {
        read_config(&mut e, config, def);
    }
    e.no_oauth(&obj);
    if let Some(req) = obj.get("requirement") {
        e.warning(
            "requirement",
            "companion services are not started by the portal",
        );
        let what = e.text(Some(req), "requirement").unwrap_or_default();
        def.requirements.push(format!("{what} (companion service)"));
    }
    e.unknown_fields(
        &obj,
        &[
            "name",
            "image",
            "type",
            "run",
            "config",
            "oauth",
            "requirement",
            "remote",
        ],
        "",
    );
    decoded.validated(file, name, policy, d)
}

/// The descriptive fields shown in listings: `about.title`, `about.description`,
/// `meta.category`.
fn describe(e: &mut Entry<'_>, obj: &Map<String, Value>, def: &mut ServerDef) {
    let about = obj.get("about");
    def.display_name = e.text(about.and_then(|a| a.get("title")), "about.title");
    def.description = e.text(
        about.and_then(|a| a.get("description")),
        "about.description",
    );
    def.category = e.text(
        obj.get("meta").and_then(|m| m.get("category")),
        "meta.category",
    );
}

/// The `run` section: how the container is started.
fn read_run(e: &mut Entry<'_>, run: &Value, def: &mut ServerDef) {
    let Some(run) = run.as_object() else {
        e.error(
            "run",
            "must be a mapping of command, volumes, env and the like",
        );
        return;
    };
    def.command = e.texts(run.get("command"), "run.command");
    def.volumes = e.texts(run.get("volumes"), "run.volumes");
    def.user = e.text(run.get("user"), "run.user");
    def.disable_network = e.flag(run.get("disableNetwork"), "run.disableNetwork");
    def.allow_hosts = e.texts(run.get("allowHosts"), "run.allowHosts");
    run_env(e, run.get("env"), def);
    if let Some(ports) = run.get("ports") {
        e.warning(
            "run.ports",
            "published ports are not honoured: the portal reaches a server through its transport",
        );
        let ports = e.texts(Some(ports), "run.ports");
        def.requirements.push(format!("ports {}", ports.join(", ")));
    }
    e.unknown_fields(
        run,
        &[
            "command",
            "volumes",
            "user",
            "disableNetwork",
            "allowHosts",
            "env",
            "ports",
        ],
        "run.",
    );
}

/// `run.env`, a `NAME: value` mapping (unlike the `[{name, value}]` lists of `config`).
fn run_env(e: &mut Entry<'_>, env: Option<&Value>, def: &mut ServerDef) {
    match env {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if let Some(v) = e.text(Some(v), &format!("run.env.{k}")) {
                    def.env.insert(k.clone(), v);
                }
            }
        }
        Some(_) => e.error("run.env", "must be a mapping of NAME: value"),
    }
}

/// The `config` section: what a user supplies (secrets, env, template parameters).
fn read_config(e: &mut Entry<'_>, config: &Value, def: &mut ServerDef) {
    def.secrets = e.secrets(config.get("secrets"), "config.secrets");
    e.env_list(config.get("env"), "config.env", &mut def.env);
    if let Some(schema) = config.get("parameters") {
        e.parameters(schema, "config.parameters", &mut def.parameters);
    }
}
