//! Docker's two catalog shapes, mapped onto the native model: the MCP gateway catalog
//! (`version: 2`, `registry:` name -> entry) and the MCP registry's
//! `servers/<name>/server.yaml`. What the portal cannot honour (remote and poci servers,
//! OAuth, unknown fields) is reported by name as a warning, never dropped silently.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::catalog::decode::sorted_unique;
use crate::catalog::model::{Catalog, Metadata, Parameter, SecretRef, ServerDef, Transport};
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::{validate_server, Policy};
use crate::ids::{SecretName, ServerId};

/// Descriptive fields: kept out of the container, so there is nothing to honour.
const INFORMATIONAL: &[&str] = &[
    "icon",
    "readme",
    "toolsUrl",
    "tools",
    "prompts",
    "resources",
    "upstream",
    "source",
    "dateAdded",
    "longLived",
    "dynamic",
    "meta",
    "about",
    "metadata",
    "title",
    "description",
];

/// Reads fields off one entry, reporting wrong types with the field's path.
struct Entry<'a> {
    file: &'a str,
    server: String,
    d: &'a mut Diagnostics,
}

impl Entry<'_> {
    fn error(&mut self, field: &str, msg: impl Into<String>) {
        self.d
            .error(self.file, Some(&self.server), Some(field), msg);
    }

    fn warning(&mut self, field: &str, msg: impl Into<String>) {
        self.d
            .warning(self.file, Some(&self.server), Some(field), msg);
    }

    fn text(&mut self, v: Option<&Value>, field: &str) -> Option<String> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(other) => {
                self.error(field, format!("must be text, found {other}"));
                None
            }
        }
    }

    fn texts(&mut self, v: Option<&Value>, field: &str) -> Vec<String> {
        match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, x)| self.text(Some(x), &format!("{field}[{i}]")))
                .collect(),
            Some(other) => {
                self.error(field, format!("must be a list, found {other}"));
                Vec::new()
            }
        }
    }

    fn flag(&mut self, v: Option<&Value>, field: &str) -> bool {
        match v {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.error(field, format!("must be true or false, found {other}"));
                false
            }
        }
    }

    fn secrets(&mut self, v: Option<&Value>, field: &str) -> Vec<SecretRef> {
        let mut out = Vec::new();
        let Some(items) = self.list(v, field) else {
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let name = self.text(item.get("name"), &format!("{f}.name"));
            let env = self.text(item.get("env"), &format!("{f}.env"));
            match (name, env) {
                (Some(name), Some(env)) => match SecretName::parse(&name) {
                    Ok(name) => out.push(SecretRef {
                        name,
                        env,
                        file: false,
                    }),
                    Err(e) => self.error(&format!("{f}.name"), e.to_string()),
                },
                _ => self.error(&f, "a secret needs both name and env"),
            }
        }
        out
    }

    /// `[{name, value}]` env lists; an item without a value is only an example.
    fn env_list(&mut self, v: Option<&Value>, field: &str, env: &mut BTreeMap<String, String>) {
        let Some(items) = self.list(v, field) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let Some(name) = self.text(item.get("name"), &format!("{f}.name")) else {
                self.error(&f, "an env entry needs a name");
                continue;
            };
            match self.text(item.get("value"), &format!("{f}.value")) {
                Some(value) => {
                    env.insert(name, value);
                }
                None => self.warning(
                    &f,
                    format!("{name} has no value and is not set; give it a value in an overlay"),
                ),
            }
        }
    }

    fn list<'v>(&mut self, v: Option<&'v Value>, field: &str) -> Option<&'v Vec<Value>> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                self.error(field, format!("must be a list, found {other}"));
                None
            }
        }
    }

    /// A JSON-schema object (`properties`, `required`) as template parameters.
    fn parameters(&mut self, schema: &Value, field: &str, out: &mut BTreeMap<String, Parameter>) {
        let required: Vec<String> =
            self.texts(schema.get("required"), &format!("{field}.required"));
        let Some(props) = schema.get("properties") else {
            return;
        };
        let Some(props) = props.as_object() else {
            self.error(&format!("{field}.properties"), "must be a mapping");
            return;
        };
        for (name, p) in props {
            let f = format!("{field}.properties.{name}");
            let default = match p.get("default") {
                Some(Value::Array(_) | Value::Object(_)) => {
                    self.warning(
                        &format!("{f}.default"),
                        "a list or mapping default is not supported; set the parameter per user",
                    );
                    None
                }
                other => self.text(other, &format!("{f}.default")),
            };
            let description = self.text(p.get("description"), &format!("{f}.description"));
            out.insert(
                name.clone(),
                Parameter {
                    description,
                    default,
                    required: required.contains(name),
                },
            );
        }
    }

    /// The image of an entry the portal can run: remote and per-tool (`poci`) entries are
    /// reported, under `remote_field`, and skipped; a server entry needs an image.
    fn runnable_image(&mut self, obj: &Map<String, Value>, remote_field: &str) -> Option<String> {
        let kind = self
            .text(obj.get("type"), "type")
            .unwrap_or_else(|| "server".into());
        if obj.get("remote").is_some_and(|r| !r.is_null()) || kind == "remote" {
            self.warning(
                remote_field,
                "remote servers are not run by the portal; server skipped",
            );
            return None;
        }
        if kind != "server" {
            self.warning(
                "type",
                format!("{kind:?} servers are not supported (only \"server\"); server skipped"),
            );
            return None;
        }
        let image = self.text(obj.get("image"), "image");
        if image.is_none() {
            self.error("image", "is required for a server entry");
        }
        image
    }

    fn unknown_fields(&mut self, obj: &Map<String, Value>, known: &[&str], prefix: &str) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) && !INFORMATIONAL.contains(&key.as_str()) {
                self.warning(
                    &format!("{prefix}{key}"),
                    "is not supported by the portal and is ignored",
                );
            }
        }
    }
}

fn id_for(file: &str, name: &str, d: &mut Diagnostics) -> Option<ServerId> {
    match ServerId::parse(name) {
        Ok(id) => Some(id),
        Err(e) => {
            d.error(file, Some(name), Some("name"), e.to_string());
            None
        }
    }
}

fn finish(file: &str, def: ServerDef, policy: &Policy, d: &mut Diagnostics) -> ServerDef {
    validate_server(&def, policy, file, d);
    def
}

/// One entry of a Docker MCP gateway catalog's `registry:` mapping.
fn gateway_entry(
    file: &str,
    name: &str,
    v: &Value,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<ServerDef> {
    let Some(obj) = v.as_object() else {
        d.error(file, Some(name), None, "a registry entry must be a mapping");
        return None;
    };
    let mut e = Entry {
        file,
        server: name.to_string(),
        d,
    };
    let image = e.runnable_image(obj, "remote")?;
    let id = id_for(file, name, e.d)?;
    let mut def = ServerDef::new(id, &image);
    def.display_name = e.text(obj.get("title"), "title");
    def.description = e.text(obj.get("description"), "description");
    def.category = e.text(
        obj.get("metadata").and_then(|m| m.get("category")),
        "metadata.category",
    );
    def.command = e.texts(obj.get("command"), "command");
    def.volumes = e.texts(obj.get("volumes"), "volumes");
    def.user = e.text(obj.get("user"), "user");
    def.disable_network = e.flag(obj.get("disableNetwork"), "disableNetwork");
    def.allow_hosts = e.texts(obj.get("allowHosts"), "allowHosts");
    def.secrets = e.secrets(obj.get("secrets"), "secrets");
    e.env_list(obj.get("env"), "env", &mut def.env);
    if let Some(configs) = e.list(obj.get("config"), "config") {
        for (i, c) in configs.iter().enumerate() {
            e.parameters(c, &format!("config[{i}]"), &mut def.parameters);
        }
    }
    if obj.contains_key("oauth") {
        e.warning(
            "oauth",
            "OAuth sign-in is not supported; set the token as a secret instead",
        );
    }
    e.unknown_fields(
        obj,
        &[
            "type",
            "image",
            "command",
            "volumes",
            "user",
            "disableNetwork",
            "allowHosts",
            "secrets",
            "env",
            "config",
            "oauth",
            "remote",
        ],
        "",
    );
    Some(finish(file, def, policy, d))
}

/// A Docker MCP gateway catalog (`version: 2`, `registry:`).
pub fn catalog(file: &str, doc: Value, policy: &Policy, d: &mut Diagnostics) -> Option<Catalog> {
    let Value::Object(obj) = doc else { return None };
    for key in obj.keys() {
        if !["version", "name", "displayName", "registry"].contains(&key.as_str()) {
            d.warning(
                file,
                None,
                Some(key),
                "is not supported by the portal and is ignored",
            );
        }
    }
    match obj.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(2) => {}
        None => {}
        Some(other) => d.error(
            file,
            None,
            Some("version"),
            format!("Docker catalog version {other} is not supported; expected 2"),
        ),
    }
    let Some(registry) = obj.get("registry").and_then(Value::as_object) else {
        d.error(
            file,
            None,
            Some("registry"),
            "must be a mapping from server name to entry",
        );
        return None;
    };
    let servers: Vec<ServerDef> = registry
        .iter()
        .filter_map(|(name, v)| gateway_entry(file, name, v, policy, d))
        .collect();
    let servers = sorted_unique(file, servers, d)?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Catalog {
        version: String::new(),
        name: text("name"),
        source: Some("docker-catalog".into()),
        metadata: Metadata {
            name: text("displayName").or_else(|| text("name")),
            description: None,
            maintainer: None,
        },
        servers,
    })
}

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
    let image = e.runnable_image(&obj, "type")?;
    let id = id_for(file, name, e.d)?;
    let mut def = ServerDef::new(id, &image);
    def.transport = Transport::Stdio;
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

    if let Some(run) = obj.get("run") {
        let Some(run) = run.as_object() else {
            e.error("run", "must be a mapping");
            return None;
        };
        def.command = e.texts(run.get("command"), "run.command");
        def.volumes = e.texts(run.get("volumes"), "run.volumes");
        def.user = e.text(run.get("user"), "run.user");
        def.disable_network = e.flag(run.get("disableNetwork"), "run.disableNetwork");
        def.allow_hosts = e.texts(run.get("allowHosts"), "run.allowHosts");
        match run.get("env") {
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
        e.unknown_fields(
            run,
            &[
                "command",
                "volumes",
                "user",
                "disableNetwork",
                "allowHosts",
                "env",
            ],
            "run.",
        );
    }
    if let Some(config) = obj.get("config") {
        def.secrets = e.secrets(config.get("secrets"), "config.secrets");
        e.env_list(config.get("env"), "config.env", &mut def.env);
        if let Some(schema) = config.get("parameters") {
            e.parameters(schema, "config.parameters", &mut def.parameters);
        }
    }
    if obj.contains_key("oauth") {
        e.warning(
            "oauth",
            "OAuth sign-in is not supported; set the token as a secret instead",
        );
    }
    if obj.contains_key("requirement") {
        e.warning(
            "requirement",
            "companion services are not started by the portal",
        );
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
    Some(finish(file, def, policy, d))
}
