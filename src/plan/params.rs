//! Template parameters: a definition's declared defaults overlaid with the user's
//! values, checked against what the definition declares, and the `{{server.param}}`
//! resolution of the fields that may use them.

use std::collections::BTreeMap;

use super::{refuse, PlanError};
use crate::catalog::model::ServerDef;
use crate::catalog::template;

/// A definition's parameters, resolved for one user.
#[derive(Debug, Clone)]
pub(super) struct Params<'a> {
    server: &'a ServerDef,
    values: BTreeMap<String, String>,
}

impl<'a> Params<'a> {
    /// The declared defaults, then the user's values; refuses a value for a parameter
    /// the definition does not declare, and a required parameter left without one.
    pub fn new(server: &'a ServerDef, given: &BTreeMap<String, String>) -> Result<Self, PlanError> {
        let mut values: BTreeMap<String, String> = server
            .parameters
            .iter()
            .filter_map(|(k, p)| p.default.clone().map(|d| (k.clone(), d)))
            .collect();
        for (k, v) in given {
            if !server.parameters.contains_key(k) {
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
            }
            values.insert(k.clone(), v.clone());
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
        Ok(Self { server, values })
    }

    /// `text` with its parameters filled in; `field` names it in the refusal.
    pub fn resolve(&self, field: &str, text: &str) -> Result<String, PlanError> {
        template::resolve(text, &self.values)
            .map_err(|e| refuse(self.server, format!("{field}: {e}; give it with --set")))
    }

    /// Each item resolved, named `field[i]` in a refusal.
    pub fn resolve_each(&self, field: &str, items: &[String]) -> Result<Vec<String>, PlanError> {
        items
            .iter()
            .enumerate()
            .map(|(i, a)| self.resolve(&format!("{field}[{i}]"), a))
            .collect()
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
        let given = BTreeMap::from([("level".to_string(), "debug".to_string())]);
        let p = Params::new(&s, &given).unwrap();
        assert_eq!(p.resolve("env.L", "{{p.level}}").unwrap(), "debug");
        let p = Params::new(&s, &BTreeMap::new()).unwrap();
        assert_eq!(p.resolve("env.L", "{{p.level}}").unwrap(), "info");
    }

    #[test]
    fn a_value_for_a_server_without_parameters_says_it_has_none() {
        let s = server_with(&[]);
        let given = BTreeMap::from([("x".to_string(), "1".to_string())]);
        assert_eq!(
            Params::new(&s, &given).unwrap_err().to_string(),
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
            Params::new(&s, &BTreeMap::new()).unwrap_err().to_string(),
            "server p: missing required parameter(s) a, b: give --set a=VALUE --set b=VALUE"
        );
    }

    #[test]
    fn an_unresolvable_field_is_named_by_its_index() {
        let s = server_with(&[("a", Parameter::default())]);
        let p = Params::new(&s, &BTreeMap::new()).unwrap();
        let items = vec!["ok".to_string(), "{{p.a}}".to_string()];
        let err = p.resolve_each("command", &items).unwrap_err().to_string();
        assert!(err.starts_with("server p: command[1]: "), "{err}");
        assert!(err.ends_with("; give it with --set"), "{err}");
    }
}
