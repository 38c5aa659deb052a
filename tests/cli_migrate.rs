#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `portalctl migrate docker-mcp` refusing what it cannot migrate, before anything
//! changes: a folder that is not a Toolkit's, an unknown user, settings that do not fit
//! the definitions. (The migration itself runs against real Docker in
//! tests/docker_migrate.rs.)

mod common;

use common::Env;

const CATALOG: &str = r#"
version: 2
name: docker-mcp
registry:
  greeter:
    type: server
    image: mcp-echo:latest
    env:
      - {name: GREETING, value: '{{greeter.greeting}}'}
    config:
      - name: greeter
        type: object
        properties:
          greeting: {type: string}
          style: {type: string}
        required: [greeting, style]
  files:
    type: server
    image: mcp-echo:latest
    volumes: ['{{files.paths|volume|into}}']
    config:
      - name: files
        type: object
        properties:
          paths: {type: array, items: {type: string}}
"#;

fn toolkit(env: &Env, config: &str) {
    env.file("mcp/catalogs/docker-mcp.yaml", CATALOG);
    env.file(
        "mcp/registry.yaml",
        "registry:\n  greeter: {ref: \"\"}\n  files: {ref: \"\"}\n",
    );
    env.file("mcp/config.yaml", config);
}

#[test]
fn settings_that_do_not_fit_are_errors_of_the_plan_and_apply_changes_nothing() {
    let env = Env::new();
    env.ok(&["user", "add", "mig-u"]);
    toolkit(
        &env,
        "greeter:\n  greeting: [hi, hello]\nfiles:\n  paths: [../../etc]\n",
    );
    let expected = "\
error: config.yaml: server files: paths: path \"../../etc\" leaves your folder: remove '..' from it
error: config.yaml: server greeter: greeting: is a list of 2, but the parameter takes one value; give one in config.yaml
error: config.yaml: server greeter: style: is required and config.yaml gives it no value; set it in the Toolkit, or enable the server afterwards with `--set`
error: mcp refused with 3 error(s); nothing was stored
";
    for apply in [false, true] {
        let mut args = vec!["migrate", "docker-mcp", "mcp", "--user", "mig-u"];
        if apply {
            args.push("--apply");
        }
        let out = env.run(&args);
        assert_eq!(out.code, 3, "apply {apply}: {}", out.stderr);
        assert!(
            out.stderr.ends_with(expected),
            "apply {apply}:\n{}",
            out.stderr
        );
        assert_eq!(env.ok(&["catalog", "ls", "--json"]).trim(), "[]");
        assert!(!env.data().join("backups").exists());
    }
}

#[test]
fn a_folder_without_registry_yaml_and_an_unknown_user_are_refused() {
    let env = Env::new();
    env.ok(&["user", "add", "mig-u"]);
    env.file("notkit/config.yaml", "greeter: {}\n");
    let out = env.run(&["migrate", "docker-mcp", "notkit", "--user", "mig-u"]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.starts_with(
            "error: notkit: has no registry.yaml: give the Toolkit's folder (~/.docker/mcp), which holds it\n"
        ),
        "{}",
        out.stderr
    );
    toolkit(&env, "greeter: {greeting: hi, style: plain}\n");
    let out = env.run(&["migrate", "docker-mcp", "mcp", "--user", "nobody"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("user nobody does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_json_plan_names_each_step() {
    let env = Env::new();
    env.ok(&["user", "add", "mig-u"]);
    toolkit(
        &env,
        "greeter: {greeting: hi, style: plain}\nfiles: {paths: [projects]}\n",
    );
    let out = env.ok(&["--json", "migrate", "docker-mcp", "mcp", "--user", "mig-u"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["applied"], false);
    assert_eq!(plan["catalogs"][0]["name"], "docker-mcp");
    assert_eq!(plan["catalogs"][0]["change"], "new");
    let files = &plan["servers"][0];
    assert_eq!(files["server"], "files");
    assert_eq!(files["settings"]["paths"], serde_json::json!(["projects"]));
    assert_eq!(files["paths"][0]["folder"], "volumes/mig-u/data/projects");
    assert_eq!(files["paths"][0]["mounted_at"], "/projects");
    assert_eq!(plan["servers"][1]["settings"]["greeting"], "hi");
    assert_eq!(plan["errors"], serde_json::json!([]));
}
