//! The cases of docker/mcp-gateway's `pkg/eval/eval_test.go`, as facts about the portal's
//! evaluator with Docker's own path meaning ([`Identity`]). The portal's differences are
//! the tests whose names say `portal_`.

use super::*;

fn p(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| s.to_string()).collect())
}

fn eval(text: &str, params: &BTreeMap<String, Value>) -> Value {
    evaluate(text, params, &Identity).unwrap()
}

fn eval_list(items: &[&str], params: &BTreeMap<String, Value>) -> Vec<String> {
    let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    resolve_list(&items, params, &Identity).unwrap()
}

#[test]
fn a_constant_is_itself_and_nothing_is_empty() {
    assert_eq!(eval("constant", &p(&[])), Value::text("constant"));
    assert_eq!(eval("", &p(&[])), Value::text(""));
}

#[test]
fn references_are_replaced_spaces_and_all() {
    let params = p(&[
        ("key0", "value0".into()),
        ("k1", "v1".into()),
        ("k2", "v2".into()),
    ]);
    assert_eq!(eval("{{key0}}", &params), Value::text("value0"));
    assert_eq!(eval("{{ key0 }}", &params), Value::text("value0"));
    assert_eq!(eval("{{k1}}:{{k2}}", &params), Value::text("v1:v2"));
}

#[test]
fn a_dotted_path_names_the_servers_parameter() {
    let params = p(&[("key", "child_value0".into())]);
    assert_eq!(eval("{{top.key}}", &params), Value::text("child_value0"));
    assert_eq!(eval("{{top . key}}", &params), Value::text("child_value0"));
    let jira = p(&[
        ("jira.url", "URL".into()),
        ("jira.username", "USERNAME".into()),
    ]);
    assert_eq!(eval("{{atlassian.jira.url}}", &jira), Value::text("URL"));
}

#[test]
fn a_missing_value_is_empty() {
    assert_eq!(eval("{{unknown}}", &p(&[])), Value::text(""));
    assert_eq!(eval("{{top.unknown}}", &p(&[])), Value::text(""));
}

#[test]
fn volumes_mount_each_path_at_itself() {
    let params = p(&[("paths", list(&["path1", "path2"]))]);
    assert_eq!(
        eval_list(&["/var/run/docker.sock:/var/run/docker.sock"], &p(&[])),
        ["/var/run/docker.sock:/var/run/docker.sock"]
    );
    assert_eq!(
        eval_list(&["{{paths|volume|into}}"], &params),
        ["path1:path1", "path2:path2"]
    );
    assert_eq!(
        eval("{{paths|volume}}", &p(&[("paths", "v".into())])),
        Value::text("v:v")
    );
    assert_eq!(
        eval(
            "{{paths|volume}}",
            &p(&[("paths", r"C:\test\folder".into())])
        ),
        Value::text(r"C:\test\folder:/C/test/folder")
    );
}

#[test]
fn volume_target_is_the_container_side() {
    for (given, target) in [
        ("path", "path"),
        ("/var/run/docker.sock", "/var/run/docker.sock"),
        ("/file", "/file"),
        (r"C:\file", "/C/file"),
        (r"D:\parent\file", "/D/parent/file"),
    ] {
        let params = p(&[("paths", given.into())]);
        assert_eq!(
            eval("{{paths|volume-target}}", &params),
            Value::text(target)
        );
    }
}

#[test]
fn a_whole_reference_keeps_its_type_and_into_makes_a_list() {
    assert_eq!(eval("{{k}}", &p(&[("k", "v".into())])), Value::text("v"));
    let two = p(&[("k", list(&["v1", "v2"]))]);
    assert_eq!(eval("{{k}}", &two), list(&["v1", "v2"]));
    assert_eq!(eval("{{k|into}}", &p(&[("k", "v".into())])), list(&["v"]));
    assert_eq!(eval("{{k|into}}", &two), list(&["v1", "v2"]));
}

#[test]
fn first_and_last_pick_from_a_list() {
    let one = p(&[("k", "v".into())]);
    let two = p(&[("k", list(&["v1", "v2"]))]);
    let none = p(&[("k", list(&[]))]);
    assert_eq!(eval("{{k|first}}", &one), Value::text("v"));
    assert_eq!(eval("{{k|first}}", &two), Value::text("v1"));
    assert_eq!(eval("{{k|first}}", &none), Value::text(""));
    assert_eq!(eval("{{k|first}}", &p(&[])), Value::text(""));
    assert_eq!(eval("{{k|first|into}}", &one), list(&["v"]));
    assert_eq!(eval("{{k|first|into}}", &two), list(&["v1"]));
    assert_eq!(eval("{{k|last}}", &one), Value::text("v"));
    assert_eq!(eval("{{k|last}}", &two), Value::text("v2"));
    assert_eq!(eval("{{k|last}}", &none), Value::text(""));
    assert_eq!(eval("{{k|last}}", &p(&[])), Value::text(""));
    assert_eq!(eval("{{k|last|into}}", &one), list(&["v"]));
    assert_eq!(eval("{{k|last|into}}", &two), list(&["v2"]));
}

#[test]
fn or_gives_a_default_for_empty_values() {
    assert_eq!(eval("{{k|or:default}}", &p(&[])), Value::text("default"));
    assert_eq!(
        eval("{{k|or:default}}", &p(&[("k", "".into())])),
        Value::text("default")
    );
    assert_eq!(
        eval("{{k|or:default}}", &p(&[("k", "v".into())])),
        Value::text("v")
    );
    let none = p(&[("k", list(&[]))]);
    assert_eq!(eval("{{k|or:v}}", &none), Value::text("v"));
    assert_eq!(eval("{{k|or:[]}}", &none), list(&[]));
    assert_eq!(eval("{{k|or:[default]}}", &none), list(&["default"]));
    assert_eq!(eval("{{k|or:[a,b]}}", &none), list(&["a", "b"]));
}

#[test]
fn mount_as_mounts_the_first_path_at_a_fixed_target() {
    assert_eq!(eval("{{key|mount_as:/path}}", &p(&[])), Value::text(""));
    let one = p(&[("key", "/local/path".into())]);
    assert_eq!(
        eval("{{key|mount_as:/path}}", &one),
        Value::text("/local/path:/path")
    );
    assert_eq!(
        eval("{{key|mount_as: /path }}", &one),
        Value::text("/local/path:/path")
    );
    let logs = p(&[("key", "/local/logs".into())]);
    assert_eq!(
        eval("{{key|mount_as:/logs:ro}}", &logs),
        Value::text("/local/logs:/logs:ro")
    );
    assert_eq!(
        eval("{{key|mount_as:/path}}", &p(&[("key", list(&[]))])),
        Value::text("")
    );
    let two = p(&[("key", list(&["/local/path", "/ignored/path"]))]);
    assert_eq!(
        eval("{{key|mount_as:/path}}", &two),
        Value::text("/local/path:/path")
    );
}

#[test]
fn in_a_list_field_lists_expand_and_empty_items_vanish() {
    let params = p(&[("paths", list(&["a", "b"])), ("empty", list(&[]))]);
    assert_eq!(
        eval_list(
            &["--x", "{{paths|into}}", "{{empty|into}}", "{{missing}}"],
            &params
        ),
        ["--x", "a", "b"]
    );
}

#[test]
fn mixed_text_prints_a_list_as_docker_does() {
    let params = p(&[("paths", list(&["a", "b"]))]);
    assert_eq!(
        eval("--dirs={{paths}}", &params),
        Value::text("--dirs=[a b]")
    );
}

#[test]
fn portal_refuses_a_filter_docker_would_ignore() {
    // Docker evaluates `{{top.key|ignored}}` as `{{top.key}}`: a typo there passes silently.
    let params = p(&[("key", "v".into())]);
    assert_eq!(
        evaluate("{{top.key|ignored}}", &params, &Identity).unwrap_err(),
        ResolveError::UnknownFilter("ignored".into())
    );
    assert_eq!(
        references("{{paths|volume-targe|into}}").unwrap().1,
        ["volume-targe"]
    );
}

#[test]
fn portal_or_of_a_missing_value_with_a_list_default_is_that_list() {
    // Docker returns the text "[]" here, which `volume` would turn into "[]:[]".
    assert_eq!(eval("{{k|or:[]|volume|into}}", &p(&[])), list(&[]));
}

#[test]
fn portal_path_map_decides_both_sides_of_a_volume() {
    struct Under;
    impl PathMap for Under {
        fn source(&self, p: &str) -> Result<String, String> {
            Ok(format!("{{USER_DATA}}/{}", p.trim_start_matches('/')))
        }
        fn target(&self, p: &str) -> Result<String, String> {
            if p.contains("..") {
                return Err(format!("{p:?} leaves the folder"));
            }
            Ok(format!("/{}", p.trim_start_matches('/')))
        }
    }
    let params = p(&[("paths", list(&["projects", "/notes"]))]);
    let items = vec!["{{x.paths|volume|into}}".to_string()];
    assert_eq!(
        resolve_list(&items, &params, &Under).unwrap(),
        ["{USER_DATA}/projects:/projects", "{USER_DATA}/notes:/notes"]
    );
    let cmd = vec!["{{x.paths|volume-target|into}}".to_string()];
    assert_eq!(
        resolve_list(&cmd, &params, &Under).unwrap(),
        ["/projects", "/notes"]
    );
    let bad = p(&[("paths", list(&["../x"]))]);
    assert_eq!(
        resolve_list(&items, &bad, &Under).unwrap_err(),
        (0, ResolveError::Path("\"../x\" leaves the folder".into()))
    );
}

#[test]
fn parses_text_and_references() {
    let segs = parse("--tz={{time.timezone|or:UTC}} x").unwrap();
    assert_eq!(segs.len(), 3);
    assert_eq!(
        segs[1],
        Segment::Ref(Reference {
            path: "time.timezone".into(),
            filters: vec!["or:UTC"]
        })
    );
    assert!(is_whole_reference("{{a.b|volume|into}}"));
    assert!(!is_whole_reference("{{a.b}}:/x"));
}

#[test]
fn refuses_unclosed_and_empty_templates() {
    assert!(parse("{{a.b").unwrap_err().contains("unclosed"));
    assert!(parse("{{}}").unwrap_err().contains("invalid template"));
    assert!(parse("{{a b}}").is_err());
    assert!(parse("{{a.b|}}").unwrap_err().contains("empty filter"));
}

#[test]
fn reports_referenced_parameters_and_unknown_filters() {
    let (params, unknown) = references("{{a.b|volume|shout}} {{a.c|mount_as:/x|or:y}}").unwrap();
    assert_eq!(params, ["a.b", "a.c"]);
    assert_eq!(unknown, ["shout"]);
}

#[test]
fn stored_settings_read_as_text_or_list() {
    let v: BTreeMap<String, Value> =
        serde_json::from_str(r#"{"tz":"UTC","paths":["a","b"]}"#).unwrap();
    assert_eq!(v["tz"], Value::text("UTC"));
    assert_eq!(v["paths"], list(&["a", "b"]));
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"paths":["a","b"],"tz":"UTC"}"#
    );
}
