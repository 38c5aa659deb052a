//! Reading typed fields off one Docker catalog entry: wrong types are reported with the
//! field's path, and fields the portal cannot honour are warned about by name.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::catalog::model::{ParamKind, ParamValue, Parameter, SecretRef};
use crate::catalog::report::Diagnostics;
use crate::ids::SecretName;

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

/// An entry's kind as Docker's catalogs give it: `remote` when it has a remote URL,
/// else its `type` (`server` when absent).
pub(super) fn kind_of(obj: &Map<String, Value>) -> String {
    if obj.get("remote").is_some_and(|r| !r.is_null()) {
        return "remote".into();
    }
    match obj.get("type") {
        Some(Value::String(t)) => t.clone(),
        _ => "server".into(),
    }
}

/// Reads fields off one entry, reporting wrong types with the field's path.
pub(super) struct Entry<'a> {
    pub(super) file: &'a str,
    pub(super) server: String,
    pub(super) d: &'a mut Diagnostics,
}

impl Entry<'_> {
    pub(super) fn error(&mut self, field: &str, msg: impl Into<String>) {
        self.d
            .error(self.file, Some(&self.server), Some(field), msg);
    }

    pub(super) fn warning(&mut self, field: &str, msg: impl Into<String>) {
        self.d
            .warning(self.file, Some(&self.server), Some(field), msg);
    }

    pub(super) fn text(&mut self, v: Option<&Value>, field: &str) -> Option<String> {
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

    pub(super) fn texts(&mut self, v: Option<&Value>, field: &str) -> Vec<String> {
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

    pub(super) fn flag(&mut self, v: Option<&Value>, field: &str) -> bool {
        match v {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.error(field, format!("must be true or false, found {other}"));
                false
            }
        }
    }

    pub(super) fn secrets(&mut self, v: Option<&Value>, field: &str) -> Vec<SecretRef> {
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
    pub(super) fn env_list(
        &mut self,
        v: Option<&Value>,
        field: &str,
        env: &mut BTreeMap<String, String>,
    ) {
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

    pub(super) fn list<'v>(&mut self, v: Option<&'v Value>, field: &str) -> Option<&'v Vec<Value>> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                self.error(field, format!("must be a list, found {other}"));
                None
            }
        }
    }

    /// A JSON-schema object (`properties`, `required`) as template parameters. An
    /// `object` property with its own `properties` gives dotted names (`jira.url`), as
    /// Docker's `{{atlassian.jira.url}}` digs into it.
    pub(super) fn parameters(
        &mut self,
        schema: &Value,
        field: &str,
        out: &mut BTreeMap<String, Parameter>,
    ) {
        self.parameters_under(schema, field, "", out);
    }

    fn parameters_under(
        &mut self,
        schema: &Value,
        field: &str,
        prefix: &str,
        out: &mut BTreeMap<String, Parameter>,
    ) {
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
            let kind = p.get("type").and_then(Value::as_str);
            if kind == Some("object") && p.get("properties").is_some() {
                self.parameters_under(p, &f, &format!("{prefix}{name}."), out);
                continue;
            }
            let default = match p.get("default") {
                Some(Value::Object(_)) => {
                    self.warning(
                        &format!("{f}.default"),
                        "a mapping default is not supported; set the parameter per user",
                    );
                    None
                }
                Some(Value::Array(items)) => Some(ParamValue::List(
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, x)| self.text(Some(x), &format!("{f}.default[{i}]")))
                        .collect(),
                )),
                other => self
                    .text(other, &format!("{f}.default"))
                    .map(ParamValue::Text),
            };
            let kind = if kind == Some("array") || matches!(default, Some(ParamValue::List(_))) {
                ParamKind::Array
            } else {
                ParamKind::String
            };
            let description = self.text(p.get("description"), &format!("{f}.description"));
            out.insert(
                format!("{prefix}{name}"),
                Parameter {
                    description,
                    default,
                    required: required.contains(name),
                    kind,
                },
            );
        }
    }

    /// Whether the portal skips the entry: remote and per-tool (`poci`) entries are
    /// reported, under `remote_field`, and not run.
    pub(super) fn skipped(&mut self, obj: &Map<String, Value>, remote_field: &str) -> bool {
        // Read for its type error; the kind itself is `kind`'s, as the import counts it.
        self.text(obj.get("type"), "type");
        let kind = kind_of(obj);
        if kind == "remote" {
            self.warning(
                remote_field,
                "remote servers are not run by the portal; server skipped",
            );
            return true;
        }
        if kind != "server" {
            self.warning(
                "type",
                format!("{kind:?} servers are not supported (only \"server\"); server skipped"),
            );
            return true;
        }
        false
    }

    /// The image of a server entry, which it needs.
    pub(super) fn image(&mut self, obj: &Map<String, Value>) -> Option<String> {
        let given = obj.get("image").is_some_and(|i| !i.is_null());
        // An image of the wrong type is reported by `text` already.
        let image = self.text(obj.get("image"), "image");
        if !given {
            self.error(
                "image",
                "is required for a server entry: add the image to run",
            );
        }
        image
    }

    pub(super) fn unknown_fields(
        &mut self,
        obj: &Map<String, Value>,
        known: &[&str],
        prefix: &str,
    ) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) && !INFORMATIONAL.contains(&key.as_str()) {
                self.warning(
                    &format!("{prefix}{key}"),
                    "is not supported by the portal and is ignored",
                );
            }
        }
    }

    /// Both shapes may ask for OAuth sign-in, which the portal cannot do for a user.
    pub(super) fn no_oauth(&mut self, obj: &Map<String, Value>) {
        if obj.contains_key("oauth") {
            self.warning(
                "oauth",
                "OAuth sign-in is not supported; set the token as a secret instead",
            );
        }
    }
}
