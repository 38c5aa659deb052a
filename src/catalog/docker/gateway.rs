//! The Docker MCP gateway catalog (`version: 2`, `registry:` name -> entry).

use serde_json::Value;

use super::entry::Entry;
use super::id_for;
use crate::catalog::decode::{sorted_unique, Decoded};
use crate::catalog::model::{Catalog, Metadata, ServerDef};
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::Policy;

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
    if e.skipped(obj, "remote") {
        return None;
    }
    let image = e.image(obj);
    let id = id_for(file, name, e.d);
    let mut decoded = Decoded::start(id, image)?;
    let def = &mut decoded.def;
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
    e.no_oauth(obj);
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
    decoded.validated(file, name, policy, d)
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
