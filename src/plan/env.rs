//! A container's environment: the definition's variables (templates resolved), the
//! user's overrides where the definition allows them, where file secrets are found, and
//! the variables the portal itself sets. Secret values never enter it (the engine adds
//! them at create time).

use std::collections::BTreeMap;

use super::model::{PlanInput, SecretBinding, Settings};
use super::params::Params;
use super::{refuse, PlanError};
use crate::catalog::model::ServerDef;
use crate::catalog::validate::RESERVED_ENV;
use crate::ids::check_env_name;

/// Every variable but `MCP_SERVER_PORT`, which comes with the published port.
pub(super) fn environment(
    input: &PlanInput<'_>,
    params: &Params<'_>,
    network: Option<&str>,
) -> Result<BTreeMap<String, String>, PlanError> {
    let s = input.server;
    let mut env = BTreeMap::new();
    for (k, v) in &s.env {
        let value = params.resolve(&format!("env.{k}"), v)?;
        // As Docker's gateway does: a template that resolves to nothing sets no variable
        // (servers read an empty one differently from an absent one).
        if value.is_empty() && crate::catalog::template::has_template(v) {
            continue;
        }
        env.insert(k.clone(), value);
    }
    user_env(s, input.settings, &mut env)?;
    secret_env(s, input.secrets, &mut env)?;
    env.insert("MCP_USER_ID".into(), input.user.to_string());
    env.insert("MCP_SERVER_ID".into(), s.id.to_string());
    env.insert(
        "MCP_NETWORK_NAME".into(),
        network.map_or_else(|| "none".into(), str::to_string),
    );
    env.insert("MCP_TRANSPORT".into(), s.transport.as_str().into());
    Ok(env)
}

/// The user's `--env` values, over the definition's.
fn user_env(
    s: &ServerDef,
    settings: &Settings,
    env: &mut BTreeMap<String, String>,
) -> Result<(), PlanError> {
    if !settings.env.is_empty() && !s.user_configurable {
        return Err(refuse(
            s,
            "is not user-configurable: --env is not allowed (template parameters with --set are)",
        ));
    }
    for (k, v) in &settings.env {
        check_env_name(k).map_err(|e| refuse(s, e.to_string()))?;
        if RESERVED_ENV.contains(&k.as_str()) {
            return Err(refuse(s, format!("{k} is set by the portal itself")));
        }
        env.insert(k.clone(), v.clone());
    }
    Ok(())
}

/// A secret must not silently replace a variable; a file secret says where its file is.
fn secret_env(
    s: &ServerDef,
    secrets: &[SecretBinding],
    env: &mut BTreeMap<String, String>,
) -> Result<(), PlanError> {
    for b in secrets {
        if env.contains_key(&b.env) {
            return Err(refuse(
                s,
                format!(
                    "secret {} would replace the variable {}, which is already set",
                    b.name, b.env
                ),
            ));
        }
        if b.file {
            env.insert(format!("{}_FILE", b.env), format!("/run/secrets/{}", b.env));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, http_server, input};
    use super::*;

    fn env_of(i: &PlanInput<'_>, network: Option<&str>) -> Result<Vec<String>, PlanError> {
        let params = Params::new(i.server, &i.settings.params, &i.hardening.host_paths)?;
        let env = environment(i, &params, network)?;
        Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
    }

    #[test]
    fn the_portal_sets_who_what_and_how_for_every_container() {
        let f = fixture();
        let s = http_server();
        assert_eq!(
            env_of(&input(&f, &s, Some(1)), Some("mcp-net-u1")).unwrap(),
            [
                "MCP_NETWORK_NAME=mcp-net-u1",
                "MCP_SERVER_ID=echo",
                "MCP_TRANSPORT=streamable-http",
                "MCP_USER_ID=u1",
            ]
        );
        let none = env_of(&input(&f, &s, Some(1)), None).unwrap();
        assert!(none.contains(&"MCP_NETWORK_NAME=none".to_string()));
    }

    #[test]
    fn a_users_value_replaces_the_definitions_where_it_is_configurable() {
        let mut f = fixture();
        let mut s = http_server();
        s.user_configurable = true;
        s.env.insert("LEVEL".into(), "info".into());
        f.settings.env.insert("LEVEL".into(), "debug".into());
        let env = env_of(&input(&f, &s, Some(1)), None).unwrap();
        assert!(env.contains(&"LEVEL=debug".to_string()));
    }

    #[test]
    fn a_bad_variable_name_from_the_user_is_refused() {
        let mut f = fixture();
        let mut s = http_server();
        s.user_configurable = true;
        f.settings.env.insert("1=X".into(), "v".into());
        assert!(env_of(&input(&f, &s, Some(1)), None)
            .unwrap_err()
            .to_string()
            .starts_with("server echo: "));
    }

    #[test]
    fn a_secret_never_silently_replaces_a_variable() {
        let f = fixture();
        let mut s = http_server();
        s.env.insert("GH_TOKEN".into(), "plain".into());
        let secrets = [SecretBinding {
            name: "gh.token".into(),
            env: "GH_TOKEN".into(),
            version: "v1".into(),
            file: false,
        }];
        let mut i = input(&f, &s, Some(1));
        i.secrets = &secrets;
        assert_eq!(
            env_of(&i, None).unwrap_err().to_string(),
            "server echo: secret gh.token would replace the variable GH_TOKEN, which is already set"
        );
    }
}
