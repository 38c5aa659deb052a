//! The portal's own catalog and overlay format (the same schema in YAML and JSON).
//! Each server is read on its own, so one bad entry does not hide the errors of the next.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::model::{Catalog, Metadata, Overlay, ServerDef, ServerPatch, Visibility};
use crate::catalog::report::{Diagnostics, Invalid};
use crate::catalog::validate::{validate_server, Policy};
use crate::ids::ServerId;

const CATALOG_KEYS: &[&str] = &["version", "name", "source", "metadata", "servers"];
const OVERLAY_KEYS: &[&str] = &["name", "description", "applies_to", "servers"];

/// How a server entry is named in diagnostics before its id is known to be valid.
fn entry_name(v: &Value, index: usize) -> String {
    match v.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("#{}", index + 1),
    }
}

/// YAML writers put `PORT: 8080` and `DEBUG: true` in env maps; Docker takes them as text.
fn coerce_scalars_to_text(v: &mut Value) {
    let scalar_text = |x: &mut Value| match x {
        Value::Number(n) => *x = Value::String(n.to_string()),
        Value::Bool(b) => *x = Value::String(b.to_string()),
        _ => {}
    };
    if let Some(env) = v.get_mut("env").and_then(Value::as_object_mut) {
        env.values_mut().for_each(scalar_text);
    }
    if let Some(cmd) = v.get_mut("command").and_then(Value::as_array_mut) {
        cmd.iter_mut().for_each(scalar_text);
    }
    if let Some(params) = v.get_mut("parameters").and_then(Value::as_object_mut) {
        for p in params.values_mut() {
            if let Some(default) = p.get_mut("default") {
                scalar_text(default);
            }
        }
    }
    if let Some(version) = v.get_mut("version") {
        scalar_text(version);
    }
}

/// Reads one server entry into the model and validates it.
pub fn server(
    file: &str,
    index: usize,
    mut v: Value,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<ServerDef> {
    let name = entry_name(&v, index);
    coerce_scalars_to_text(&mut v);
    match serde_path_to_error::deserialize::<_, ServerDef>(v) {
        Ok(def) => {
            validate_server(&def, policy, file, d);
            Some(def)
        }
        Err(e) => {
            let path = e.path().to_string();
            let field = (path != ".").then_some(path);
            d.error(
                file,
                Some(&name),
                field.as_deref(),
                e.into_inner().to_string(),
            );
            None
        }
    }
}

/// Sorts servers by id and refuses duplicate ids.
pub fn sorted_unique(
    file: &str,
    mut servers: Vec<ServerDef>,
    d: &mut Diagnostics,
) -> Option<Vec<ServerDef>> {
    servers.sort_by(|a, b| a.id.cmp(&b.id));
    let before = d.len();
    for pair in servers.windows(2) {
        if pair[0].id == pair[1].id {
            d.error(
                file,
                Some(pair[0].id.as_str()),
                Some("id"),
                "is defined more than once; server ids must be unique",
            );
        }
    }
    servers.dedup_by(|a, b| a.id == b.id);
    (d.len() == before).then_some(servers)
}

fn check_top_level(file: &str, obj: &Map<String, Value>, allowed: &[&str], d: &mut Diagnostics) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            d.error(
                file,
                None,
                Some(key),
                format!("unknown field; expected one of {}", allowed.join(", ")),
            );
        }
    }
}

fn header<T: for<'de> Deserialize<'de>>(
    file: &str,
    field: &str,
    v: Option<Value>,
    d: &mut Diagnostics,
) -> Option<T> {
    let v = v.unwrap_or(Value::Null);
    let v = if v.is_null() {
        Value::Object(Map::new())
    } else {
        v
    };
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let path = e.path().to_string();
            let f = if path == "." {
                field.to_string()
            } else {
                format!("{field}.{path}")
            };
            d.error(file, None, Some(&f), e.into_inner().to_string());
            None
        }
    }
}

fn text_field(
    file: &str,
    obj: &mut Map<String, Value>,
    key: &str,
    d: &mut Diagnostics,
) -> Option<String> {
    match obj.remove(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            d.error(
                file,
                None,
                Some(key),
                format!("must be text, found {other}"),
            );
            None
        }
    }
}

fn server_list(file: &str, obj: &mut Map<String, Value>, d: &mut Diagnostics) -> Vec<Value> {
    match obj.remove("servers") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            d.error(
                file,
                None,
                Some("servers"),
                "must be a list of server definitions",
            );
            Vec::new()
        }
    }
}

/// A native catalog document.
pub fn catalog(file: &str, doc: Value, policy: &Policy, d: &mut Diagnostics) -> Option<Catalog> {
    let Value::Object(mut obj) = doc else {
        d.error(
            file,
            None,
            None,
            "a catalog must be a mapping with a servers list",
        );
        return None;
    };
    check_top_level(file, &obj, CATALOG_KEYS, d);
    let version = text_field(file, &mut obj, "version", d).unwrap_or_default();
    if version.len() > 64 {
        d.error(file, None, Some("version"), "is longer than 64 characters");
    }
    let name = text_field(file, &mut obj, "name", d);
    let source = text_field(file, &mut obj, "source", d);
    let metadata: Option<Metadata> = header(file, "metadata", obj.remove("metadata"), d);
    let items = server_list(file, &mut obj, d);
    let servers: Vec<ServerDef> = items
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| server(file, i, v, policy, d))
        .collect();
    let servers = sorted_unique(file, servers, d)?;
    Some(Catalog {
        version,
        name,
        source,
        metadata: metadata?,
        servers,
    })
}

/// The servers of a custom-server file: a catalog in any format, or a single server entry.
pub fn single_or_catalog(
    file: &str,
    doc: Value,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<Vec<ServerDef>> {
    if doc.get("id").is_some() && doc.get("servers").is_none() {
        let def = server(file, 0, doc, policy, d)?;
        return Some(vec![def]);
    }
    None
}

/// A minimal valid definition that an overlay entry is laid over to check its field types.
fn patch_probe(id: &ServerId) -> Value {
    serde_json::json!({ "id": id.as_str(), "image": "probe/probe" })
}

/// An overlay document: partial server entries that change only the fields they name.
pub fn overlay(file: &str, doc: Value, d: &mut Diagnostics) -> Option<Overlay> {
    let Value::Object(mut obj) = doc else {
        d.error(
            file,
            None,
            None,
            "an overlay must be a mapping with a servers list",
        );
        return None;
    };
    check_top_level(file, &obj, OVERLAY_KEYS, d);
    obj.remove("name");
    let description = text_field(file, &mut obj, "description", d);
    let applies_to: Option<Visibility> = header(file, "applies_to", obj.remove("applies_to"), d);
    let items = server_list(file, &mut obj, d);
    let mut patches = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let name = entry_name(&item, i);
        let Value::Object(mut fields) = item else {
            d.error(
                file,
                Some(&name),
                None,
                "an overlay entry must be a mapping with an id",
            );
            continue;
        };
        let id = match fields
            .remove("id")
            .as_ref()
            .and_then(Value::as_str)
            .map(ServerId::parse)
        {
            Some(Ok(id)) => id,
            Some(Err(e)) => {
                d.error(file, Some(&name), Some("id"), e.to_string());
                continue;
            }
            None => {
                d.error(
                    file,
                    Some(&name),
                    Some("id"),
                    "is required: name the server this entry changes",
                );
                continue;
            }
        };
        let mut probe = patch_probe(&id);
        let mut typed = Value::Object(fields.clone());
        coerce_scalars_to_text(&mut typed);
        crate::catalog::merge::merge_patch(&mut probe, &typed);
        if let Err(e) = serde_path_to_error::deserialize::<_, ServerDef>(probe) {
            let path = e.path().to_string();
            let field = (path != ".").then_some(path);
            d.error(
                file,
                Some(id.as_str()),
                field.as_deref(),
                e.into_inner().to_string(),
            );
            continue;
        }
        let Value::Object(fields) = typed else {
            continue;
        };
        patches.push(ServerPatch { id, fields });
    }
    patches.sort_by(|a, b| a.id.cmp(&b.id));
    for pair in patches.windows(2) {
        if pair[0].id == pair[1].id {
            d.error(
                file,
                Some(pair[0].id.as_str()),
                Some("id"),
                "appears more than once in this overlay",
            );
        }
    }
    if d.has_errors() {
        return None;
    }
    Some(Overlay {
        description,
        applies_to: applies_to?,
        servers: patches,
    })
}

/// Parses an overlay file from bytes.
pub fn parse_overlay(file: &str, bytes: &[u8], max_bytes: u64) -> Result<Overlay, Invalid> {
    let doc = crate::catalog::parse::load_document(file, bytes, max_bytes)?;
    let mut d = Diagnostics::new();
    match overlay(file, doc, &mut d) {
        Some(o) if !d.has_errors() => Ok(o),
        _ => Err(Invalid {
            file: file.to_string(),
            diagnostics: d,
        }),
    }
}

/// Parses a custom-server file: one server entry, or a catalog in any supported format.
pub fn parse_custom(
    file: &str,
    bytes: &[u8],
    limits: &crate::catalog::parse::Limits,
) -> Result<(Vec<ServerDef>, Vec<crate::catalog::report::Diagnostic>), Invalid> {
    let doc = crate::catalog::parse::load_document(file, bytes, limits.max_bytes)?;
    let mut d = Diagnostics::new();
    if let Some(servers) = single_or_catalog(file, doc.clone(), &limits.policy, &mut d) {
        return if d.has_errors() {
            Err(Invalid {
                file: file.to_string(),
                diagnostics: d,
            })
        } else {
            Ok((servers, d.into_warnings()))
        };
    }
    let parsed = crate::catalog::parse::parse_catalog(file, bytes, limits)?;
    Ok((parsed.catalog.servers, parsed.warnings))
}

/// Servers of a stored list keyed by id (used for custom servers).
pub fn by_id(servers: Vec<ServerDef>) -> BTreeMap<ServerId, ServerDef> {
    servers.into_iter().map(|s| (s.id.clone(), s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse::{parse_catalog, Limits};

    fn errors(yaml: &str) -> Vec<String> {
        match parse_catalog("c.yaml", yaml.as_bytes(), &Limits::default()) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics.errors().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn reads_a_full_native_catalog() {
        let yaml = r#"
version: 1.2.3
name: official
metadata: {name: Official, description: Curated, maintainer: admin@example.com}
servers:
  - id: github
    display_name: GitHub
    image: ghcr.io/github/github-mcp-server
    tag: v0.4.0
    category: development
    env: {LOG_LEVEL: info, PORT: 8080}
    secrets: [{name: github.personal_access_token, env: GITHUB_PERSONAL_ACCESS_TOKEN}]
    resources: {memory: 256m, cpus: 0.5, pids: 128}
    visibility: {roles: [developer]}
  - id: echo
    image: mcp-echo
    transport: streamable-http
    port: 8080
    health_check: {type: mcp, interval: 30s, timeout: 5s, retries: 3}
"#;
        let p = parse_catalog("c.yaml", yaml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(p.catalog.version, "1.2.3");
        let ids: Vec<&str> = p.catalog.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["echo", "github"], "sorted by id");
        assert_eq!(p.catalog.servers[1].env["PORT"], "8080");
        assert_eq!(
            p.catalog.servers[1].resources.memory.unwrap().bytes(),
            256 << 20
        );
    }

    #[test]
    fn all_errors_of_a_file_are_reported_together() {
        let errs = errors(
            r#"
servers:
  - id: ok
    image: mcp/ok
  - id: bad id
    image: mcp/x
  - id: typo
    image: mcp/x
    imgae: oops
  - id: mem
    image: mcp/x
    resources: {memory: 1t}
  - id: ok
    image: mcp/ok2
"#,
        );
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs
            .iter()
            .any(|e| e.starts_with("c.yaml: server bad id: id: invalid server id")));
        assert!(errs
            .iter()
            .any(|e| e.starts_with("c.yaml: server typo: imgae: unknown field `imgae`")));
        assert!(errs
            .iter()
            .any(|e| e.starts_with("c.yaml: server mem: resources.memory: invalid memory unit")));
        assert!(errs
            .iter()
            .any(|e| e.starts_with("c.yaml: server ok: id: is defined more than once")));
    }

    #[test]
    fn unknown_top_level_fields_are_named() {
        let errs = errors("servers: []\nserverz: []\n");
        assert_eq!(errs, ["c.yaml: serverz: unknown field; expected one of version, name, source, metadata, servers"]);
    }

    #[test]
    fn overlay_entries_are_type_checked_but_may_be_partial() {
        let ok = parse_overlay(
            "o.yaml",
            b"servers:\n  - id: github\n    tag: dev\n    env: {LOG_LEVEL: debug}\n",
            1 << 20,
        )
        .unwrap();
        assert_eq!(ok.servers.len(), 1);
        assert_eq!(ok.servers[0].fields.len(), 2);
        let err = parse_overlay(
            "o.yaml",
            b"servers:\n  - id: github\n    resources: {cpus: lots}\n  - tag: x\n",
            1 << 20,
        )
        .unwrap_err();
        let errs: Vec<String> = err.diagnostics.errors().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].starts_with("o.yaml: server github: resources.cpus: invalid cpus"));
        assert!(errs[1].starts_with("o.yaml: server #2: id: is required"));
    }

    #[test]
    fn a_custom_file_may_hold_one_server() {
        let (servers, _) =
            parse_custom("s.yaml", b"id: mine\nimage: mcp/mine\n", &Limits::default()).unwrap();
        assert_eq!(servers[0].id.as_str(), "mine");
    }
}
