//! A Toolkit folder written here from docker/mcp-gateway's formats.

use serde_json::json;

use super::*;
use crate::catalog::model::ParamValue;

const MAX: u64 = 1 << 20;

fn folder(files: &[(&str, &str)]) -> ToolkitFiles {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
        .collect()
}

const REGISTRY_YAML: &str = "\
registry:
  github-official:
    ref: \"\"
  time:
    ref: \"\"
    config:
      ignored: true
";

#[test]
fn registry_yaml_gives_the_enabled_servers_sorted() {
    let kit = read("mcp", &folder(&[(REGISTRY, REGISTRY_YAML)]), MAX).unwrap();
    assert_eq!(kit.enabled, ["github-official", "time"]);
    assert!(
        kit.config.is_empty(),
        "registry.yaml's own config is not used"
    );
    assert_eq!(kit.tools, None, "no tools.yaml: no tool lists");
}

#[test]
fn a_folder_without_registry_yaml_is_refused_with_what_to_give() {
    let err = read("somewhere", &folder(&[(CONFIG, "time: {}\n")]), MAX).unwrap_err();
    let shown: Vec<String> = err.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        shown[0].starts_with("somewhere: has no registry.yaml"),
        "{shown:?}"
    );
}

#[test]
fn config_yaml_gives_each_servers_settings_and_flags_unenabled_ones() {
    let config = "\
time:
  timezone: Europe/Paris
  verbose: true
  retries: 3
orphan:
  key: v
";
    let kit = read(
        "mcp",
        &folder(&[(REGISTRY, REGISTRY_YAML), (CONFIG, config)]),
        MAX,
    )
    .unwrap();
    let (params, problems) = settings(&kit.config["time"]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        params.into_iter().collect::<Vec<_>>(),
        [
            ("retries".to_string(), ParamValue::text("3")),
            ("timezone".into(), ParamValue::text("Europe/Paris")),
            ("verbose".into(), ParamValue::text("true")),
        ]
    );
    let w: Vec<String> = kit.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        ["config.yaml: server orphan: has settings but is not enabled in registry.yaml; not migrated"]
    );
}

#[test]
fn nested_settings_become_dotted_keys_and_empty_ones_are_unset() {
    let values = json!({"confluence": {"url": "https://wiki", "token": ""}, "none": null});
    let (params, problems) = settings(values.as_object().unwrap());
    assert!(problems.is_empty());
    assert_eq!(params.len(), 1);
    assert_eq!(params["confluence.url"], ParamValue::text("https://wiki"));
}

#[test]
fn a_list_setting_is_a_list_value() {
    let config = "filesystem:\n  paths:\n    - /Users/me/src\n    - /Users/me/notes\n";
    let kit = read(
        "mcp",
        &folder(&[
            (REGISTRY, "registry: {filesystem: {ref: \"\"}}\n"),
            (CONFIG, config),
        ]),
        MAX,
    )
    .unwrap();
    let (params, problems) = settings(&kit.config["filesystem"]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        params["paths"],
        ParamValue::List(vec!["/Users/me/src".into(), "/Users/me/notes".into()])
    );
}

#[test]
fn a_list_of_mappings_is_reported_by_key_and_item() {
    let values = json!({"paths": ["/a", {"b": 1}], "deep": {"x": [[1]]}});
    let (params, problems) = settings(values.as_object().unwrap());
    assert!(params.is_empty());
    assert_eq!(
        problems,
        [
            (
                "deep.x".to_string(),
                "[0] is a list; a list setting holds text, numbers or true/false".to_string()
            ),
            (
                "paths".to_string(),
                "[1] is a mapping; a list setting holds text, numbers or true/false".to_string()
            ),
        ]
    );
}

#[test]
fn tools_yaml_gives_each_servers_enabled_tools() {
    let tools = "time:\n  - get_current_time\n  - convert_time\ngithub-official: []\n";
    let kit = read(
        "mcp",
        &folder(&[(REGISTRY, REGISTRY_YAML), (TOOLS, tools)]),
        MAX,
    )
    .unwrap();
    let t = kit.tools.unwrap();
    assert_eq!(t["time"], ["get_current_time", "convert_time"]);
    assert!(t["github-official"].is_empty());
}

#[test]
fn catalogs_are_docker_s_own_then_those_catalog_json_lists() {
    let catalog_json =
        r#"{"catalogs": {"My Team": {"displayName": "Team", "url": ""}, "gone": {}}}"#;
    let kit = read(
        "mcp",
        &folder(&[
            (REGISTRY, REGISTRY_YAML),
            (CATALOGS, catalog_json),
            ("catalogs/docker-mcp.yaml", "registry: {}\n"),
            ("catalogs/my team.yaml", "registry: {}\n"),
            ("catalogs/stray.yaml", "registry: {}\n"),
        ]),
        MAX,
    )
    .unwrap();
    let got: Vec<(&str, &str)> = kit
        .catalogs
        .iter()
        .map(|c| (c.name.as_str(), c.file.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("docker-mcp", "catalogs/docker-mcp.yaml"),
            ("My Team", "catalogs/my team.yaml")
        ]
    );
    let w: Vec<String> = kit.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "catalog.json: catalogs.gone: lists catalogs/gone.yaml, which is not in the folder; catalog not migrated",
            "catalogs/stray.yaml: is not listed in catalog.json, so the Toolkit does not use it; not migrated",
        ]
    );
}

#[test]
fn every_malformed_file_is_reported_together() {
    let err = read(
        "mcp",
        &folder(&[
            (REGISTRY, "registry: [a, b]\n"),
            (CONFIG, "time: 3\n"),
            (TOOLS, "time: get_current_time\n"),
        ]),
        MAX,
    )
    .unwrap_err();
    let shown: Vec<String> = err.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "registry.yaml: registry: must be a mapping, found a list",
            "config.yaml: server time: must be a mapping of settings, found a number",
            "tools.yaml: server time: must be a list of tool names, found text",
        ]
    );
}

#[test]
fn empty_files_mean_nothing_set() {
    let kit = read(
        "mcp",
        &folder(&[(REGISTRY, ""), (CONFIG, "\n"), (TOOLS, "")]),
        MAX,
    )
    .unwrap();
    assert!(kit.enabled.is_empty());
    assert!(kit.config.is_empty());
    assert_eq!(kit.tools, Some(BTreeMap::new()));
}

#[test]
fn catalog_file_names_are_sanitized_as_the_toolkit_does() {
    assert_eq!(catalog_file(" Team/A "), "catalogs/team_a.yaml");
    assert_eq!(catalog_file("docker-mcp"), "catalogs/docker-mcp.yaml");
}
