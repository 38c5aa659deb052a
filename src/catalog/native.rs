//! The portal's own catalog and overlay format (the same schema in YAML and JSON).
//! Each server is read on its own, and each of its fields too (`decode::fields`), so
//! neither a bad entry nor a bad field hides the errors of the next.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::decode::fields::{self, Mode};
use crate::catalog::decode::schema::fields_at;
use crate::catalog::decode::suggest::unknown_field;
use crate::catalog::decode::{minimal, sorted_unique, STAND_IN_ID};
use crate::catalog::model::{Catalog, Metadata, Overlay, ServerDef, ServerPatch, Visibility};
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::Policy;
use crate::ids::ServerId;

/// An overlay file's keys: the `Overlay` model's, and the `name` it may be uploaded under
/// (the model keeps the name apart, as the key it is stored by).
const OVERLAY_KEYS: &[&str] = &["name", "description", "applies_to", "servers"];

/// How a server entry is named in diagnostics before its id is known to be valid.
fn entry_name(v: &Value, index: usize) -> String {
    match v.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("#{}", index + 1),
    }
}

/// YAML writers put `PORT: 8080` and `DEBUG: true` in env maps; Docker takes them as text.
fn coerce_scalars_to_text(v: &mut Map<String, Value>) {
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
            match p.get_mut("default") {
                Some(Value::Array(items)) => items.iter_mut().for_each(scalar_text),
                Some(default) => scalar_text(default),
                None => {}
            }
        }
    }
    if let Some(version) = v.get_mut("version") {
        scalar_text(version);
    }
}

/// Reads one server entry into the model and validates it, reporting every fault of it.
pub fn server(
    file: &str,
    index: usize,
    v: Value,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<ServerDef> {
    let name = entry_name(&v, index);
    let Value::Object(mut entry) = v else {
        d.error(
            file,
            Some(&name),
            None,
            "a server entry must be a mapping with an id and an image",
        );
        return None;
    };
    coerce_scalars_to_text(&mut entry);
    let base = minimal(STAND_IN_ID);
    fields::read(file, &name, Mode::Definition, &base, &entry, d)?.validated(file, &name, policy, d)
}

fn check_top_level(file: &str, obj: &Map<String, Value>, allowed: &[&str], d: &mut Diagnostics) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            d.error(file, None, Some(key), unknown_field(key, allowed));
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
    check_top_level(file, &obj, fields_at::<Catalog>(&[]).unwrap_or_default(), d);
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

/// The servers of a custom-server file that holds a single server entry; `None` when the
/// file is not one (it may be a catalog in any format). An entry at fault is reported to
/// `d` and yields no server, rather than being taken for some other format.
pub fn single_or_catalog(
    file: &str,
    doc: Value,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<Vec<ServerDef>> {
    if doc.get("id").is_some() && doc.get("servers").is_none() {
        return Some(server(file, 0, doc, policy, d).into_iter().collect());
    }
    None
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
    let mut patches: Vec<ServerPatch> = items
        .into_iter()
        .enumerate()
        .filter_map(|(i, item)| overlay_entry(file, i, item, d))
        .collect();
    patches.sort_by(|a, b| a.id.cmp(&b.id));
    report_duplicates(file, &patches, d);
    if d.has_errors() {
        return None;
    }
    Some(Overlay {
        description,
        applies_to: applies_to?,
        servers: patches,
    })
}

/// One overlay entry: an id and the fields it changes, each type-checked as it will be
/// laid over a definition, so that a wrong type is caught here rather than later at each
/// user's merge. A wrong id does not stop the other fields from being checked.
fn overlay_entry(
    file: &str,
    index: usize,
    item: Value,
    d: &mut Diagnostics,
) -> Option<ServerPatch> {
    let name = entry_name(&item, index);
    let Value::Object(mut fields) = item else {
        d.error(
            file,
            Some(&name),
            None,
            "an overlay entry must be a mapping with an id",
        );
        return None;
    };
    let id = patch_id(file, &name, &mut fields, d);
    coerce_scalars_to_text(&mut fields);
    let base = minimal(id.as_ref().map_or(STAND_IN_ID, ServerId::as_str));
    let decoded = fields::read(file, &name, Mode::Patch, &base, &fields, d)?;
    if !decoded.undecoded.is_empty() {
        return None;
    }
    Some(ServerPatch { id: id?, fields })
}

/// Takes the entry's `id` out of its fields: it names the server, it is not a change.
fn patch_id(
    file: &str,
    name: &str,
    fields: &mut Map<String, Value>,
    d: &mut Diagnostics,
) -> Option<ServerId> {
    match fields
        .remove("id")
        .as_ref()
        .and_then(Value::as_str)
        .map(ServerId::parse)
    {
        Some(Ok(id)) => Some(id),
        Some(Err(e)) => {
            d.error(file, Some(name), Some("id"), e.to_string());
            None
        }
        None => {
            d.error(
                file,
                Some(name),
                Some("id"),
                "is required: name the server this entry changes",
            );
            None
        }
    }
}

/// `patches` is sorted by id, so duplicates sit side by side.
fn report_duplicates(file: &str, patches: &[ServerPatch], d: &mut Diagnostics) {
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
}

/// Servers of a stored list keyed by id (used for custom servers).
pub fn by_id(servers: Vec<ServerDef>) -> BTreeMap<ServerId, ServerDef> {
    servers.into_iter().map(|s| (s.id.clone(), s)).collect()
}
