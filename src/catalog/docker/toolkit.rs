//! Docker Desktop's MCP Toolkit folder (`~/.docker/mcp`), read from its files' bytes:
//! which catalogs it uses, which servers the user enabled, their settings and their
//! enabled tools. The catalogs themselves are not read here: they are Docker MCP
//! gateway catalogs, which `catalog::parse` reads like any upload.
//!
//! The formats are docker/mcp-gateway's:
//! - `catalog.json`: `{"catalogs": {NAME: {displayName, url, lastUpdate}}}`, whose names
//!   are the files `catalogs/NAME.yaml` (cmd/docker-mcp/catalog/config.go,
//!   pkg/config/readwrite.go `catalogFilename`); `catalogs/docker-mcp.yaml` is read
//!   whether listed or not (pkg/catalog/catalog.go `GetWithOptions`).
//! - `registry.yaml`: `registry: {SERVER: {ref: ...}}`, the enabled servers
//!   (pkg/config/registry.go). Its `config` is ignored, as the Toolkit ignores it
//!   (cmd/docker-mcp/server/registry_config.go: config.yaml is the one source of them).
//! - `config.yaml`: `SERVER: {KEY: VALUE}`, nested maps meaning dotted keys
//!   (pkg/config/config.go; `flattenMap` in cmd/docker-mcp/server/registry_config.go).
//! - `tools.yaml`: `SERVER: [TOOL, ...]`, the tools enabled per server
//!   (pkg/config/tools.go).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::catalog::model::ParamValue;
use crate::catalog::parse::load_document;
use crate::catalog::report::{Diagnostic, Diagnostics, Invalid};

/// A Toolkit folder's files: the path inside the folder (`registry.yaml`,
/// `catalogs/docker-mcp.yaml`) and the bytes.
pub type ToolkitFiles = BTreeMap<String, Vec<u8>>;

/// The file that lists the enabled servers, without which a folder is not a Toolkit's.
pub const REGISTRY: &str = "registry.yaml";
pub const CONFIG: &str = "config.yaml";
pub const TOOLS: &str = "tools.yaml";
pub const CATALOGS: &str = "catalog.json";
/// Docker's own catalog, which the Toolkit reads whether `catalog.json` lists it or not.
pub const DOCKER_CATALOG: &str = "docker-mcp";

/// What a Toolkit folder says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toolkit {
    /// The catalogs the Toolkit reads, in its order (a later one wins a server name).
    pub catalogs: Vec<ToolkitCatalog>,
    /// The servers the user enabled, sorted.
    pub enabled: Vec<String>,
    /// Each server's settings, as config.yaml holds them.
    pub config: BTreeMap<String, Map<String, Value>>,
    /// Each server's enabled tools; `None` when there is no tools.yaml.
    pub tools: Option<BTreeMap<String, Vec<String>>>,
    /// What the folder holds that is not migrated.
    pub warnings: Vec<Diagnostic>,
}

/// One catalog file of the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolkitCatalog {
    /// The name `catalog.json` gives it.
    pub name: String,
    /// Its path inside the folder.
    pub file: String,
}

/// The file name docker/mcp-gateway gives catalog NAME (pkg/config/readwrite.go
/// `sanitizeFilename`): trimmed, lower case, `<>:"/\|?*` and NUL as `_`.
pub fn catalog_file(name: &str) -> String {
    let clean: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if matches!(
                c,
                '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | '\0'
            ) {
                '_'
            } else {
                c
            }
        })
        .take(250)
        .collect();
    format!("catalogs/{clean}.yaml")
}

/// Reads a Toolkit folder's files, reporting every problem of every file together.
pub fn read(dir: &str, files: &ToolkitFiles, max_bytes: u64) -> Result<Toolkit, Invalid> {
    let mut d = Diagnostics::new();
    let mut kit = Toolkit::default();
    let doc = |name: &str, d: &mut Diagnostics| -> Option<Value> {
        let bytes = files.get(name)?;
        // An empty file is what the Toolkit leaves when nothing is set.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        match load_document(name, bytes, max_bytes) {
            Ok(Value::Null) => None,
            Ok(v) => Some(v),
            Err(e) => {
                d.extend(e.diagnostics);
                None
            }
        }
    };
    if !files.contains_key(REGISTRY) {
        d.error(
            dir,
            None,
            None,
            format!("has no {REGISTRY}: give the Toolkit's folder (~/.docker/mcp), which holds it"),
        );
    }
    if let Some(v) = doc(REGISTRY, &mut d) {
        kit.enabled = enabled(&v, &mut d);
    }
    if let Some(v) = doc(CONFIG, &mut d) {
        kit.config = config(&v, &mut d);
    }
    if files.contains_key(TOOLS) {
        kit.tools = Some(doc(TOOLS, &mut d).map_or_else(BTreeMap::new, |v| tools(&v, &mut d)));
    }
    let listed = doc(CATALOGS, &mut d).map_or_else(Vec::new, |v| listed(&v, &mut d));
    kit.catalogs = catalogs(files, listed, &mut d);
    for name in kit.config.keys() {
        // Without registry.yaml the folder is refused: nothing is enabled to compare with.
        if files.contains_key(REGISTRY) && !kit.enabled.contains(name) {
            d.warning(
                CONFIG,
                Some(name),
                None,
                "has settings but is not enabled in registry.yaml; not migrated",
            );
        }
    }
    if d.has_errors() {
        return Err(Invalid {
            file: dir.to_string(),
            diagnostics: d,
        });
    }
    kit.warnings = d.into_warnings();
    Ok(kit)
}

fn mapping<'v>(
    v: &'v Value,
    file: &str,
    field: Option<&str>,
    d: &mut Diagnostics,
) -> Option<&'v Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        Value::Null => None,
        other => {
            d.error(
                file,
                None,
                field,
                format!("must be a mapping, found {}", kind(other)),
            );
            None
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// `registry: {SERVER: {ref: ...}}`: the enabled servers' names.
fn enabled(v: &Value, d: &mut Diagnostics) -> Vec<String> {
    let Some(top) = mapping(v, REGISTRY, None, d) else {
        return Vec::new();
    };
    let Some(registry) = top.get("registry") else {
        d.error(
            REGISTRY,
            None,
            Some("registry"),
            "is missing: the file lists the enabled servers under registry:",
        );
        return Vec::new();
    };
    let Some(servers) = mapping(registry, REGISTRY, Some("registry"), d) else {
        return Vec::new();
    };
    for (name, tile) in servers {
        if !matches!(tile, Value::Object(_) | Value::Null) {
            d.error(
                REGISTRY,
                Some(name),
                None,
                format!(
                    "must be a mapping such as {{ref: \"\"}}, found {}",
                    kind(tile)
                ),
            );
        }
    }
    // A serde_json map keeps its keys sorted.
    servers.keys().cloned().collect()
}

/// `SERVER: {KEY: VALUE}`.
fn config(v: &Value, d: &mut Diagnostics) -> BTreeMap<String, Map<String, Value>> {
    let mut out = BTreeMap::new();
    let Some(top) = mapping(v, CONFIG, None, d) else {
        return out;
    };
    for (server, settings) in top {
        match settings {
            Value::Object(m) => {
                out.insert(server.clone(), m.clone());
            }
            Value::Null => {}
            other => d.error(
                CONFIG,
                Some(server),
                None,
                format!("must be a mapping of settings, found {}", kind(other)),
            ),
        }
    }
    out
}

/// `SERVER: [TOOL, ...]`.
fn tools(v: &Value, d: &mut Diagnostics) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(top) = mapping(v, TOOLS, None, d) else {
        return out;
    };
    for (server, list) in top {
        let names = match list {
            Value::Null => Vec::new(),
            Value::Array(items) => items
                .iter()
                .filter_map(|t| match t {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        d.error(
                            TOOLS,
                            Some(server),
                            None,
                            format!("a tool must be a name, found {}", kind(other)),
                        );
                        None
                    }
                })
                .collect(),
            other => {
                d.error(
                    TOOLS,
                    Some(server),
                    None,
                    format!("must be a list of tool names, found {}", kind(other)),
                );
                continue;
            }
        };
        out.insert(server.clone(), names);
    }
    out
}

/// `{"catalogs": {NAME: {...}}}`: the names of the catalogs the Toolkit reads.
fn listed(v: &Value, d: &mut Diagnostics) -> Vec<String> {
    let Some(top) = mapping(v, CATALOGS, None, d) else {
        return Vec::new();
    };
    match top.get("catalogs") {
        None => Vec::new(),
        Some(c) => mapping(c, CATALOGS, Some("catalogs"), d)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    }
}

/// Docker's own catalog first, then those `catalog.json` lists; files of `catalogs/`
/// that nothing lists are reported, since the Toolkit does not read them either.
fn catalogs(files: &ToolkitFiles, listed: Vec<String>, d: &mut Diagnostics) -> Vec<ToolkitCatalog> {
    let mut names = vec![DOCKER_CATALOG.to_string()];
    names.extend(listed.into_iter().filter(|n| n != DOCKER_CATALOG));
    let mut out = Vec::new();
    for name in names {
        let file = catalog_file(&name);
        if files.contains_key(&file) {
            out.push(ToolkitCatalog { name, file });
        } else if name != DOCKER_CATALOG {
            d.warning(
                CATALOGS,
                None,
                Some(&format!("catalogs.{name}")),
                format!("lists {file}, which is not in the folder; catalog not migrated"),
            );
        }
    }
    for file in files.keys().filter(|f| f.starts_with("catalogs/")) {
        if !out.iter().any(|c| &c.file == file) {
            d.warning(
                file,
                None,
                None,
                format!(
                    "is not listed in {CATALOGS}, so the Toolkit does not use it; not migrated"
                ),
            );
        }
    }
    out
}

/// The parameters of one server, as config.yaml sets them.
pub type Settings = BTreeMap<String, ParamValue>;

/// A server's config.yaml settings as template parameters (`KEY`, nested maps as
/// `A.B`, as the portal names the parameters of nested schemas), each value converted
/// by [`setting_value`]; the problems name their key.
pub fn settings(values: &Map<String, Value>) -> (Settings, Vec<(String, String)>) {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    flatten("", values, &mut out, &mut problems);
    (out, problems)
}

fn flatten(
    prefix: &str,
    values: &Map<String, Value>,
    out: &mut Settings,
    problems: &mut Vec<(String, String)>,
) {
    for (k, v) in values {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(m) => flatten(&key, m, out, problems),
            other => match setting_value(other) {
                Ok(Some(value)) => {
                    out.insert(key, value);
                }
                Ok(None) => {}
                Err(e) => problems.push((key, e)),
            },
        }
    }
}

/// The one conversion of a config.yaml value into a parameter value: text, numbers and
/// true/false as text, a list of them as a list; nothing (`~`, `""`) as no value, which
/// the Toolkit treats as unset (`isEmptyValue` in cmd/docker-mcp/server/registry_config.go).
pub fn setting_value(v: &Value) -> Result<Option<ParamValue>, String> {
    Ok(match v {
        Value::Array(items) => Some(ParamValue::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    scalar(item).map_err(|found| {
                        format!(
                            "[{i}] is {found}; a list setting holds text, numbers or true/false"
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect(),
        )),
        Value::Object(_) => return Err("is a mapping; give its keys one by one".into()),
        other => scalar(other)
            .map_err(|found| format!("is {found}"))?
            .map(ParamValue::Text),
    })
}

/// A scalar as text (`None` for nothing), or what was found instead.
fn scalar(v: &Value) -> Result<Option<String>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(kind(other)),
    }
}

#[cfg(test)]
mod tests;
