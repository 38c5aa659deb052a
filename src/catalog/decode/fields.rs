//! Reading one native server entry field by field, so that every fault of the entry is
//! reported, not only serde's first: each unknown key is named (with the key probably
//! meant), then each known field is decoded on its own over a minimal definition, and a
//! mapping with a fault inside is gone through key by key in the same way.
//!
//! A field is decoded on its own by laying just that field over `base`, a definition that
//! decodes by itself; whatever then fails is that field's fault. The known keys come from
//! the model's derive (`schema`), and the types from decoding the model itself, so no
//! second description of the model is kept here.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use serde_path_to_error::{Error, Segment};

use super::schema::fields_at;
use super::suggest::unknown_field;
use super::Decoded;
use crate::catalog::merge::merge_patch;
use crate::catalog::model::ServerDef;
use crate::catalog::report::Diagnostics;

/// How an entry is laid over the base definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The entry is a whole definition (a catalog entry, a custom server): its fields
    /// replace the base's, and the base's fields are ones the entry must have.
    Definition,
    /// The entry is an overlay's partial change, laid on as a JSON merge patch (`null`
    /// removes), as it will be at merge time.
    Patch,
}

/// Reads `entry` over `base` (a minimal definition that decodes by itself), reporting
/// every fault to `d` as `server name: field.path: what is wrong`. `None` only when the
/// fields that decoded one by one still fail together, which is reported too.
pub fn read(
    file: &str,
    name: &str,
    mode: Mode,
    base: &Map<String, Value>,
    entry: &Map<String, Value>,
    d: &mut Diagnostics,
) -> Option<Decoded> {
    let mut r = Reader {
        file,
        name,
        mode,
        base,
        undecoded: BTreeSet::new(),
        faults: 0,
        d,
    };
    let entry = r.required(entry);
    let good = r.mapping(&mut Vec::new(), &entry);
    let mut doc = Value::Object(base.clone());
    r.lay(&mut doc, Value::Object(good));
    match serde_path_to_error::deserialize::<_, ServerDef>(doc) {
        Ok(def) => Some(Decoded {
            def,
            undecoded: r.undecoded,
        }),
        Err(e) => {
            r.report(&[], e);
            None
        }
    }
}

struct Reader<'a> {
    file: &'a str,
    name: &'a str,
    mode: Mode,
    base: &'a Map<String, Value>,
    /// Top-level keys with a reported fault: their value in the result is a stand-in, a
    /// default or only the part that decoded.
    undecoded: BTreeSet<String>,
    /// Faults reported so far, to tell whether going into a mapping found any.
    faults: usize,
    d: &'a mut Diagnostics,
}

/// Where a decoding error lies, relative to the value that was laid on.
enum Blame {
    /// In the value, below its own key: in one of the keys of a mapping.
    Inside,
    /// The value itself.
    Here,
    /// A mapping that holds the value lacks another of its keys (a required one), which
    /// the value is laid on without: not the value's fault.
    Elsewhere,
}

impl Reader<'_> {
    /// The base's keys are the ones a definition cannot do without: a definition must
    /// have them, and a patch must not remove them. Returns the entry without the keys
    /// found at fault here, so they are not reported a second time.
    fn required(&mut self, entry: &Map<String, Value>) -> Map<String, Value> {
        let mut rest = entry.clone();
        for key in self.base.keys() {
            let fault = match (self.mode, entry.get(key)) {
                (Mode::Definition, None) => "is required: add it to the entry",
                (Mode::Patch, Some(Value::Null)) => "is required, so an overlay cannot remove it",
                _ => continue,
            };
            rest.remove(key);
            self.fault(std::slice::from_ref(key), key, fault.into());
        }
        rest
    }

    /// Checks the keys of the mapping at `path`, unknown ones first; returns the keys that
    /// decoded, with what of each decoded.
    fn mapping(&mut self, path: &mut Vec<String>, map: &Map<String, Value>) -> Map<String, Value> {
        // Only a struct has a fixed set of keys; a map (env, parameters) takes any key.
        let known = fields_at::<ServerDef>(path);
        let is_known = |key: &str| known.is_none_or(|k| k.contains(&key));
        if let Some(known) = known {
            for key in map.keys().filter(|k| !is_known(k)) {
                path.push(key.clone());
                self.fault(path, &path.join("."), unknown_field(key, known));
                path.pop();
            }
        }
        let mut good = Map::new();
        for (key, value) in map.iter().filter(|(k, _)| is_known(k)) {
            path.push(key.clone());
            if let Some(value) = self.field(path, value) {
                good.insert(key.clone(), value);
            }
            path.pop();
        }
        good
    }

    /// Checks the value at `path`; returns what of it decoded: all of it, the keys of a
    /// mapping that decoded (if they still decode together), or nothing.
    fn field(&mut self, path: &mut Vec<String>, value: &Value) -> Option<Value> {
        let Err(e) = self.probe(path, value) else {
            return Some(value.clone());
        };
        match (blame(&e, path), value) {
            (Blame::Elsewhere, _) => Some(value.clone()),
            (Blame::Inside, Value::Object(map)) => {
                let before = self.faults;
                let good = self.mapping(path, map);
                if self.faults == before {
                    // Every key decoded on its own: the fault is the mapping's as a whole.
                    self.report(path, e);
                    return None;
                }
                // The rest may lack a required key whose value was at fault. That key is
                // reported already, so the rest is dropped without a second error.
                let good = Value::Object(good);
                self.probe(path, &good).is_ok().then_some(good)
            }
            _ => {
                self.report(path, e);
                None
            }
        }
    }

    /// Decodes the base with `value` laid on at `path`.
    fn probe(&self, path: &[String], value: &Value) -> Result<(), Error<serde_json::Error>> {
        let patch = path.iter().rev().fold(value.clone(), |inner, key| {
            Value::Object(Map::from_iter([(key.clone(), inner)]))
        });
        let mut doc = Value::Object(self.base.clone());
        self.lay(&mut doc, patch);
        serde_path_to_error::deserialize::<_, ServerDef>(doc).map(drop)
    }

    fn lay(&self, doc: &mut Value, patch: Value) {
        match (self.mode, doc, patch) {
            (Mode::Definition, Value::Object(doc), Value::Object(patch)) => doc.extend(patch),
            (_, doc, patch) => merge_patch(doc, &patch),
        }
    }

    fn report(&mut self, path: &[String], e: Error<serde_json::Error>) {
        // serde names the root `.`; a fault found there is the laid-on value's.
        let at = e.path().to_string();
        let field = if at == "." { path.join(".") } else { at };
        self.fault(path, &field, e.into_inner().to_string());
    }

    /// Records a fault of the value at `path`, reported on `field` (none when empty).
    fn fault(&mut self, path: &[String], field: &str, message: String) {
        if let Some(top) = path.first() {
            self.undecoded.insert(top.clone());
        }
        self.faults += 1;
        let field = (!field.is_empty()).then_some(field);
        self.d.error(self.file, Some(self.name), field, message);
    }
}

/// Compares the error's path with `path`, where the value was laid on.
fn blame(e: &Error<serde_json::Error>, path: &[String]) -> Blame {
    let at: Vec<Option<&str>> = e
        .path()
        .iter()
        .map(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    let common = at
        .iter()
        .zip(path)
        .take_while(|(a, p)| **a == Some(p.as_str()))
        .count();
    if at.is_empty() {
        // The base decodes by itself, so a fault at the root is the laid-on value's.
        Blame::Here
    } else if common == path.len() && at.len() > path.len() {
        Blame::Inside
    } else if common == at.len() && at.len() < path.len() {
        Blame::Elsewhere
    } else {
        Blame::Here
    }
}
