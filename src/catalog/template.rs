//! `{{server.param|filter}}` templates in env values, commands, volumes and the container
//! user, evaluated as docker/mcp-gateway's `pkg/eval` evaluates them: an expression that
//! is one `{{...}}` keeps its type (text or a list), one that mixes text and templates is
//! text, a missing value is `""`. Parsed and checked at upload; evaluated from the user's
//! per-server settings at enable time.
//!
//! The portal differs from Docker in two places only. Paths that the volume filters see
//! are the user's, so they go through a [`PathMap`] (the portal's confines them to the
//! user's folder, see `catalog::volume::Confined`). And a filter Docker would ignore
//! silently is refused, at upload, by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The filters Docker's gateway evaluates, plus `safe`, which the portal accepted as a
/// no-op before and keeps accepting so that stored catalogs stay valid.
const KNOWN_FILTERS: &[&str] = &["volume", "volume-target", "into", "safe", "first", "last"];
const KNOWN_FILTER_PREFIXES: &[&str] = &["or:", "mount_as:"];

/// A parameter's value: text, or a list (`filesystem.paths`). Stored settings written
/// before lists existed are plain strings, which this reads unchanged.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Text(String),
    List(Vec<String>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(t) => t.fmt(f),
            Value::List(l) => l.fmt(f),
        }
    }
}

impl Value {
    pub fn text(s: impl Into<String>) -> Self {
        Value::Text(s.into())
    }

    /// As Go's `%v` prints it, which is what Docker puts in mixed text: `[a b]` for a list.
    pub fn to_text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::List(l) => format!("[{}]", l.join(" ")),
        }
    }

    fn map(self, f: impl Fn(&str) -> Result<String, String>) -> Result<Value, String> {
        Ok(match self {
            Value::Text(t) => Value::Text(f(&t)?),
            Value::List(l) => Value::List(l.iter().map(|v| f(v)).collect::<Result<_, _>>()?),
        })
    }

    fn first(self) -> String {
        match self {
            Value::Text(t) => t,
            Value::List(l) => l.into_iter().next().unwrap_or_default(),
        }
    }

    fn last(self) -> String {
        match self {
            Value::Text(t) => t,
            Value::List(l) => l.into_iter().next_back().unwrap_or_default(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

/// How a path that reaches `volume`, `volume-target` or `mount_as` becomes a mount's
/// source and target. `Err` refuses the path, with the reason.
pub trait PathMap {
    fn source(&self, path: &str) -> Result<String, String>;
    fn target(&self, path: &str) -> Result<String, String>;
}

/// Docker's own meaning, `p` mounted at `p` (Windows paths made Linux ones for the
/// target): what the portal's confinement is measured against in the tests.
#[derive(Debug)]
pub struct Identity;

impl PathMap for Identity {
    fn source(&self, path: &str) -> Result<String, String> {
        Ok(path.to_string())
    }
    fn target(&self, path: &str) -> Result<String, String> {
        Ok(linux_path(path))
    }
}

/// `C:\a\b` as `/C/a/b`, as Docker writes a Windows path's container side.
pub fn linux_path(path: &str) -> String {
    let b = path.as_bytes();
    let windows = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
    if !windows && !path.starts_with("\\\\") {
        return path.to_string();
    }
    let p = path.replace('\\', "/");
    if windows {
        format!("/{}/{}", &p[..1], &p[3..])
    } else {
        p
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Ref(Reference<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Dotted path such as `time.timezone`, each part trimmed as Docker trims it.
    pub path: String,
    pub filters: Vec<&'a str>,
}

impl Reference<'_> {
    /// The parameter name: the path without its leading `<server>.` prefix.
    pub fn param(&self) -> &str {
        self.path.split_once('.').map_or(&self.path, |(_, p)| p)
    }
}

/// Splits `text` into literal text and template references.
pub fn parse(text: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Segment::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed template in {text:?}: add the closing '}}}}'"))?;
        let inner = &after[..end];
        let mut pieces = inner.split('|');
        let raw_path = pieces.next().unwrap_or_default();
        let parts: Vec<&str> = raw_path.split('.').map(str::trim).collect();
        let path_ok = parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !path_ok {
            return Err(format!(
                "invalid template {{{{{inner}}}}} in {text:?}: use {{{{server.parameter}}}}"
            ));
        }
        let filters: Vec<&str> = pieces.map(str::trim).collect();
        if filters.iter().any(|f| f.is_empty()) {
            return Err(format!("empty filter in template {{{{{inner}}}}}"));
        }
        out.push(Segment::Ref(Reference {
            path: parts.join("."),
            filters,
        }));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    Ok(out)
}

fn known(filter: &str) -> bool {
    KNOWN_FILTERS.contains(&filter) || KNOWN_FILTER_PREFIXES.iter().any(|p| filter.starts_with(p))
}

/// The paths `text` refers to (`server.param`) and the filters in it that Docker's gateway does not
/// know; an error if the template is malformed.
pub fn references(text: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let mut params = Vec::new();
    let mut unknown = Vec::new();
    for seg in parse(text)? {
        if let Segment::Ref(r) = seg {
            params.push(r.path.clone());
            unknown.extend(
                r.filters
                    .iter()
                    .filter(|f| !known(f))
                    .map(|f| f.to_string()),
            );
        }
    }
    Ok((params, unknown))
}

pub fn has_template(text: &str) -> bool {
    text.contains("{{")
}

/// Whether `text` is one `{{...}}` and nothing else: the only kind that can be a list.
pub fn is_whole_reference(text: &str) -> bool {
    matches!(parse(text).as_deref(), Ok([Segment::Ref(_)]))
}

/// Why a template could not be evaluated at enable time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown template filter {0:?}")]
    UnknownFilter(String),
    #[error("{0}")]
    Syntax(String),
    /// A path the [`PathMap`] refused.
    #[error("{0}")]
    Path(String),
}

/// Evaluates `text`: a whole `{{...}}` keeps its type, anything else is text.
pub fn evaluate(
    text: &str,
    params: &BTreeMap<String, Value>,
    paths: &dyn PathMap,
) -> Result<Value, ResolveError> {
    let segs = parse(text).map_err(ResolveError::Syntax)?;
    if let [Segment::Ref(r)] = segs.as_slice() {
        return term(r, params, paths);
    }
    let mut out = String::with_capacity(text.len());
    for seg in &segs {
        match seg {
            Segment::Text(t) => out.push_str(t),
            Segment::Ref(r) => out.push_str(&term(r, params, paths)?.to_text()),
        }
    }
    Ok(Value::Text(out))
}

/// `text` evaluated as one string (env values): a list is printed as Docker prints it.
pub fn resolve(
    text: &str,
    params: &BTreeMap<String, Value>,
    paths: &dyn PathMap,
) -> Result<String, ResolveError> {
    Ok(evaluate(text, params, paths)?.to_text())
}

/// Each item evaluated, lists expanded in place, empty items dropped: how `command` and
/// `volumes` are read. `Err` carries the index of the item at fault.
pub fn resolve_list(
    items: &[String],
    params: &BTreeMap<String, Value>,
    paths: &dyn PathMap,
) -> Result<Vec<String>, (usize, ResolveError)> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match evaluate(item, params, paths).map_err(|e| (i, e))? {
            Value::Text(t) => out.push(t),
            Value::List(l) => out.extend(l),
        }
    }
    out.retain(|s| !s.is_empty());
    Ok(out)
}

fn term(
    r: &Reference<'_>,
    params: &BTreeMap<String, Value>,
    paths: &dyn PathMap,
) -> Result<Value, ResolveError> {
    let mut value = params
        .get(r.param())
        .cloned()
        .unwrap_or_else(|| Value::text(""));
    let path = ResolveError::Path;
    for f in &r.filters {
        value = match *f {
            "volume" => value
                .map(|p| {
                    if p.is_empty() {
                        return Ok(String::new());
                    }
                    Ok(format!("{}:{}", paths.source(p)?, paths.target(p)?))
                })
                .map_err(path)?,
            "volume-target" => value
                .map(|p| {
                    if p.is_empty() {
                        Ok(String::new())
                    } else {
                        paths.target(p)
                    }
                })
                .map_err(path)?,
            "into" => match value {
                Value::Text(t) => Value::List(vec![t]),
                list => list,
            },
            "first" => Value::Text(value.first()),
            "last" => Value::Text(value.last()),
            "safe" => value,
            f if f.starts_with("or:") => or(value, &f["or:".len()..]),
            f if f.starts_with("mount_as:") => {
                let p = value.first();
                if p.is_empty() {
                    Value::text("")
                } else {
                    let at = f["mount_as:".len()..].trim();
                    Value::Text(format!("{}:{at}", paths.source(&p).map_err(path)?))
                }
            }
            f => return Err(ResolveError::UnknownFilter(f.to_string())),
        };
    }
    Ok(value)
}

/// `or:X` gives `X` for an empty value; `or:[a,b]` is a list default and `or:[]` an
/// empty list. Docker returns a bracketed default as text when the value is an empty
/// string (a missing one); the portal makes it the list it spells, as it does for an
/// empty list, so that `{{x|or:[]|volume|into}}` of a missing `x` mounts nothing.
fn or(value: Value, default: &str) -> Value {
    let list = || {
        default
            .strip_prefix('[')
            .and_then(|d| d.strip_suffix(']'))
            .map(|items| match items {
                "" => Value::List(Vec::new()),
                items => Value::List(items.split(',').map(str::to_string).collect()),
            })
    };
    match value {
        Value::List(l) if !l.is_empty() => Value::List(l),
        Value::List(_) => list().unwrap_or_else(|| Value::text(default)),
        Value::Text(t) if t.is_empty() => list().unwrap_or_else(|| Value::text(default)),
        text => text,
    }
}

#[cfg(test)]
mod tests;
