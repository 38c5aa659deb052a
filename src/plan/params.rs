//! Template parameters: a definition's declared defaults overlaid with the user's
//! values, checked against what the definition declares, and the `{{server.param}}`
//! evaluation of the fields that may use them, with the user's paths confined to their
//! folder (`catalog::volume::Confined`).

use std::collections::BTreeMap;

use super::{refuse, PlanError};
use crate::catalog::model::{ParamKind, ParamValue, ServerDef};
use crate::catalog::template::{self, ResolveError};
use crate::catalog::volume::{Confined, HostPathPolicy};

/// A definition's parameters, resolved for one user.
#[derive(Debug)]
pub(super) struct Params<'a> {
    server: &'a ServerDef,
    values: BTreeMap<String, ParamValue>,
    paths: Confined<'a>,
}

impl<'a> Params<'a> {
    /// The declared defaults, then the user's values; refuses a value for a parameter
    /// the definition does not declare, and a required parameter left without one. A
    /// value may name its parameter as templates do, `server.param`.
    pub fn new(
        server: &'a ServerDef,
        given: &BTreeMap<String, ParamValue>,
        host_paths: &'a HostPathPolicy,
    ) -> Result<Self, PlanError> {
        let mut values: BTreeMap<String, ParamValue> = server
            .parameters
            .iter()
            .filter_map(|(k, p)| p.default.clone().map(|d| (k.clone(), d)))
            .collect();
        let prefix = format!("{}.", server.id);
        let mut spelled: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in given {
            let name = match k.strip_prefix(&prefix) {
                Some(rest) if !server.parameters.contains_key(k) => rest,
                _ => k.as_str(),
            };
            let Some(declared) = server.parameters.get(name) else {
                let declared: Vec<&str> = server.parameters.keys().map(String::as_str).collect();
                return Err(refuse(
                    server,
                    format!(
                        "has no parameter {k:?}; its parameters are: {}",
                        if declared.is_empty() {
                            "none".to_string()
                        } else {
                            declared.join(", ")
                        }
                    ),
                ));
            };
            let value = match (declared.kind, v) {
                // One value given for a list is a list of one; none is an empty list.
                (ParamKind::Array, ParamValue::Text(t)) if t.is_empty() => {
                    ParamValue::List(Vec::new())
                }
                (ParamKind::Array, ParamValue::Text(t)) => ParamValue::List(vec![t.clone()]),
                (ParamKind::String, ParamValue::List(l)) => {
                    return Err(refuse(
                        server,
                        format!(
                            "parameter {name:?} takes one value, not the {} given",
                            l.len()
                        ),
                    ))
                }
                (_, v) => v.clone(),
            };
            if let Some(first) = spelled.insert(name, k) {
                return Err(refuse(
                    server,
                    format!(
                        "parameter {name:?} is given twice, as {first:?} and {k:?}; give it one way"
                    ),
                ));
            }
            values.insert(name.to_string(), value);
        }
        let missing: Vec<&str> = server
            .parameters
            .iter()
            .filter(|(k, p)| p.required && !values.contains_key(*k))
            .map(|(k, _)| k.as_str())
            .collect();
        if !missing.is_empty() {
            let sets: Vec<String> = missing.iter().map(|m| format!("--set {m}=VALUE")).collect();
            return Err(refuse(
                server,
                format!(
                    "missing required parameter(s) {}: give {}",
                    missing.join(", "),
                    sets.join(" ")
                ),
            ));
        }
        for (k, p) in &server.parameters {
            if p.kind == ParamKind::Array {
                values
                    .entry(k.clone())
                    .or_insert_with(|| ParamValue::List(Vec::new()));
            }
        }
        Ok(Self {
            server,
            values,
            paths: Confined { policy: host_paths },
        })
    }

    fn refuse(&self, field: &str, e: ResolveError) -> PlanError {
        let hint = match e {
            ResolveError::Path(_) => "; give another with --set",
            _ => "",
        };
        refuse(self.server, format!("{field}: {e}{hint}"))
    }

    /// `text` with its parameters filled in, as one string; `field` names it in a refusal.
    pub fn resolve(&self, field: &str, text: &str) -> Result<String, PlanError> {
        template::resolve(text, &self.values, &self.paths).map_err(|e| self.refuse(field, e))
    }

    /// `text` evaluated with its type: a whole `{{...}}` may be a list.
    pub fn evaluate(&self, field: &str, text: &str) -> Result<ParamValue, PlanError> {
        template::evaluate(text, &self.values, &self.paths).map_err(|e| self.refuse(field, e))
    }

    /// The items of a list field, lists expanded and empty items dropped; a refusal
    /// names the item `field[i]`.
    pub fn resolve_each(&self, field: &str, items: &[String]) -> Result<Vec<String>, PlanError> {
        template::resolve_list(items, &self.values, &self.paths)
            .map_err(|(i, e)| self.refuse(&format!("{field}[{i}]"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, input};
    use super::super::plan;
    use super::*;
    use crate::catalog::model::Parameter;
    use crate::ids::ServerId;

    #[test]
    fn templates_resolve_from_settings_and_defaults() {
        let mut f = fixture();
        let mut s = ServerDef::new(ServerId::parse("time").unwrap(), "mcp/time:latest");
        s.command = vec!["--tz={{time.timezone}}".into()];
        s.env.insert("LEVEL".into(), "{{time.level}}".into());
        s.parameters.insert(
            "timezone".into(),
            Parameter {
                required: true,
                ..Default::default()
            },
        );
        s.parameters.insert(
            "level".into(),
            Parameter {
                default: Some("info".into()),
                ..Default::default()
            },
        );
        let err = plan(&input(&f, &s, None)).unwrap_err().to_string();
        assert_eq!(
            err,
            "server time: missing required parameter(s) timezone: give --set timezone=VALUE"
        );
        f.settings.params.insert("timezone".into(), "UTC".into());
        let (spec, _) = plan(&input(&f, &s, None)).unwrap();
        assert_eq!(spec.cmd, ["--tz=UTC"]);
        assert!(spec.env.contains(&"LEVEL=info".to_string()));
        assert!(spec.open_stdin);
        assert_eq!(spec.network.as_deref(), Some("mcp-net-u1"));
        f.settings.params.insert("nope".into(), "x".into());
        assert!(plan(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("has no parameter \"nope\"; its parameters are: level, timezone"));
    }

    static NO_HOST_PATHS: HostPathPolicy = HostPathPolicy {
        allowed: Vec::new(),
    };

    fn server_with(params: &[(&str, Parameter)]) -> ServerDef {
        let mut s = ServerDef::new(ServerId::parse("p").unwrap(), "mcp/p:1");
        for (k, p) in params {
            s.parameters.insert((*k).into(), p.clone());
        }
        s
    }

    #[test]
    fn a_users_value_wins_over_the_declared_default() {
        let s = server_with(&[(
            "level",
            Parameter {
                default: Some("info".into()),
                ..Default::default()
            },
        )]);
        let given = BTreeMap::from([("level".to_string(), ParamValue::text("debug"))]);
        let p = Params::new(&s, &given, &NO_HOST_PATHS).unwrap();
        assert_eq!(p.resolve("env.L", "{{p.level}}").unwrap(), "debug");
        let p = Params::new(&s, &BTreeMap::new(), &NO_HOST_PATHS).unwrap();
        assert_eq!(p.resolve("env.L", "{{p.level}}").unwrap(), "info");
    }

    #[test]
    fn a_parameter_given_under_both_its_names_is_refused() {
        let s = server_with(&[("level", Parameter::default())]);
        let given = BTreeMap::from([
            ("level".to_string(), ParamValue::text("a")),
            ("p.level".to_string(), ParamValue::text("b")),
        ]);
        assert_eq!(
            Params::new(&s, &given, &NO_HOST_PATHS).unwrap_err().to_string(),
            "server p: parameter \"level\" is given twice, as \"level\" and \"p.level\"; give it one way"
        );
    }

    #[test]
    fn a_value_for_a_server_without_parameters_says_it_has_none() {
        let s = server_with(&[]);
        let given = BTreeMap::from([("x".to_string(), ParamValue::text("1"))]);
        assert_eq!(
            Params::new(&s, &given, &NO_HOST_PATHS)
                .unwrap_err()
                .to_string(),
            "server p: has no parameter \"x\"; its parameters are: none"
        );
    }

    #[test]
    fn every_missing_required_parameter_is_named_with_how_to_give_it() {
        let req = Parameter {
            required: true,
            ..Default::default()
        };
        let s = server_with(&[("a", req.clone()), ("b", req)]);
        assert_eq!(
            Params::new(&s, &BTreeMap::new(), &NO_HOST_PATHS)
                .unwrap_err()
                .to_string(),
            "server p: missing required parameter(s) a, b: give --set a=VALUE --set b=VALUE"
        );
    }

    #[test]
    fn an_unresolvable_field_is_named_by_its_index() {
        let s = server_with(&[("a", Parameter::default())]);
        let given = BTreeMap::from([("a".to_string(), ParamValue::text("../up"))]);
        let p = Params::new(&s, &given, &NO_HOST_PATHS).unwrap();
        let items = vec!["ok".to_string(), "{{p.a|volume-target}}".to_string()];
        let err = p.resolve_each("command", &items).unwrap_err().to_string();
        assert_eq!(
            err,
            "server p: command[1]: path \"../up\" leaves your folder: remove '..' from it; give another with --set"
        );
    }
}
