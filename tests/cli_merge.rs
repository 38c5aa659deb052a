#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Overlays, custom servers, users and `servers --user`: what a user sees after each
//! change, checked through the binary.

mod common;

use common::{Env, DEV, DOCKER, TEAM};
use serde_json::Value;

fn setup() -> Env {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    let docker = env.file("docker.yaml", DOCKER);
    env.ok(&["catalog", "upload", &env.path(&team)]);
    env.ok(&["catalog", "upload", &env.path(&docker)]);
    env.ok(&["user", "add", "u1", "--role", "developer"]);
    env.ok(&["user", "add", "boss", "--role", "admin", "--org", "acme"]);
    env
}

#[test]
fn servers_shows_the_merged_catalog_with_sources() {
    let env = setup();
    let dev = env.file("dev.yaml", DEV);
    assert_eq!(
        env.ok(&["overlay", "upload", &env.path(&dev), "--name", "dev"]),
        "stored overlay dev (1 server entry)\nregenerated the merged catalogs of 2 users\n"
    );
    assert_eq!(
        env.ok(&["servers", "--user", "u1"]),
        "ID         IMAGE                                    TRANSPORT        CATEGORY  SECRETS  SOURCE\n\
         echo-http  mcp-echo:dev                             streamable-http  demo      0        team@1.0.0 r1 +dev\n\
         github     ghcr.io/github/github-mcp-server:latest  stdio            devops    1        docker-mcp r1\n"
    );
    assert_eq!(
        env.ok(&["servers", "--user", "boss", "--category", "DEMO"]),
        "ID           IMAGE            TRANSPORT        CATEGORY  SECRETS  SOURCE\n\
         admin-tools  mcp-echo:latest  stdio            demo      0        team@1.0.0 r1\n\
         echo-http    mcp-echo:dev     streamable-http  demo      0        team@1.0.0 r1 +dev\n"
    );
}

#[test]
fn servers_json_has_the_contract_fields() {
    let env = setup();
    let dev = env.file("dev.yaml", DEV);
    env.ok(&["overlay", "upload", &env.path(&dev), "--name", "dev"]);
    let list: Vec<Value> =
        serde_json::from_str(&env.ok(&["servers", "--user", "u1", "--json"])).unwrap();
    assert_eq!(list.len(), 2);
    let echo = &list[0];
    assert_eq!(echo["id"], "echo-http");
    assert_eq!(echo["image"], "mcp-echo:dev");
    assert_eq!(echo["env"], serde_json::json!({"LOG_LEVEL": "debug"}));
    assert_eq!(echo["secrets"], serde_json::json!([]));
    assert_eq!(
        echo["resources"]["memory"], "64m",
        "overlay kept the fields it did not name"
    );
    assert_eq!(
        echo["source"],
        serde_json::json!({"base": {"name": "team", "version": "1.0.0", "revision": 1}, "overlays": ["dev"]})
    );
    let gh = &list[1];
    assert_eq!(
        gh["secrets"],
        serde_json::json!([{"name": "github.personal_access_token", "env": "GITHUB_PERSONAL_ACCESS_TOKEN"}])
    );
}

#[test]
fn an_overlay_that_breaks_a_server_is_refused_and_not_stored() {
    let env = setup();
    let bad = env.file("bad.yaml", "servers:\n  - id: github\n    transport: sse\n");
    let out = env.run(&["overlay", "upload", &env.path(&bad), "--name", "bad"]);
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!(
            "error: overlay bad: server github: port: transport sse needs the container port the server listens on\n\
             error: {} refused with 1 error(s); nothing was stored\n",
            env.path(&bad)
        )
    );
    assert_eq!(
        env.ok(&["overlay", "ls"]),
        "NAME  SERVERS  APPLIES TO  UPLOADED\n"
    );
    let typo = env.file("typo.yaml", "servers:\n  - id: github\n    imagee: x\n");
    let out = env.run(&["overlay", "upload", &env.path(&typo), "--name", "typo"]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.starts_with(&format!(
            "error: {}: server github: imagee: unknown field, did you mean image?\n",
            env.path(&typo)
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn an_overlay_can_target_roles_and_be_removed() {
    let env = setup();
    let beta = env.file(
        "beta.yaml",
        "applies_to: {roles: [admin]}\nservers:\n  - id: github\n    tag: beta\n",
    );
    env.ok(&["overlay", "upload", &env.path(&beta), "--name", "beta"]);
    assert!(env
        .ok(&["servers", "--user", "boss"])
        .contains("github-mcp-server:beta"));
    assert!(env
        .ok(&["servers", "--user", "u1"])
        .contains("github-mcp-server:latest"));
    assert!(env
        .ok(&["overlay", "ls"])
        .contains("beta  1        role:admin"));
    assert_eq!(
        env.ok(&["overlay", "rm", "beta"]),
        "removed overlay beta\nregenerated the merged catalogs of 1 user\n"
    );
    assert!(env
        .ok(&["servers", "--user", "boss"])
        .contains("github-mcp-server:latest"));
    assert_eq!(env.run(&["overlay", "rm", "beta"]).code, 4);
}

#[test]
fn a_custom_server_replaces_the_catalog_one_for_its_user_only() {
    let env = setup();
    let mine = env.file(
        "mine.yaml",
        "id: github\nimage: me/github\ntag: fork\nenv: {X: '1'}\n",
    );
    assert_eq!(
        env.ok(&["custom", "add", &env.path(&mine), "--user", "u1"]),
        "added custom server github for u1\n"
    );
    assert_eq!(
        env.ok(&["custom", "add", &env.path(&mine), "--user", "u1"]),
        "replaced custom server github for u1\n"
    );
    let u1 = env.ok(&["servers", "--user", "u1"]);
    assert!(u1.contains("github     me/github:fork"), "{u1}");
    assert!(u1.contains("custom"), "{u1}");
    assert!(env
        .ok(&["servers", "--user", "boss"])
        .contains("ghcr.io/github/github-mcp-server:latest"));
    assert_eq!(
        env.ok(&["custom", "ls", "--user", "u1"]),
        "ID      IMAGE           TRANSPORT\ngithub  me/github:fork  stdio\n"
    );
    assert_eq!(
        env.ok(&["custom", "rm", "github", "--user", "u1"]),
        "removed custom server github of u1\n"
    );
    assert!(env
        .ok(&["servers", "--user", "u1"])
        .contains("ghcr.io/github/github-mcp-server:latest"));
    let out = env.run(&["custom", "rm", "github", "--user", "u1"]);
    assert_eq!(out.code, 4);
    assert_eq!(out.stderr, "error: custom server github of user u1 does not exist; see them with `portalctl custom ls --user u1`\n");
}

#[test]
fn a_bad_custom_server_is_refused() {
    let env = setup();
    let bad = env.file(
        "bad.yaml",
        "id: mine\nimage: me/mine\nvolumes: ['{USER_DATA}/../../etc:/etc']\n",
    );
    let out = env.run(&["custom", "add", &env.path(&bad), "--user", "u1"]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("server mine: volumes[0]: volume \"{USER_DATA}/../../etc:/etc\" leaves the user's folder"), "{}", out.stderr);
    assert_eq!(
        env.ok(&["custom", "ls", "--user", "u1"]),
        "ID  IMAGE  TRANSPORT\n"
    );
}

#[test]
fn users_are_validated_listed_and_removed() {
    let env = setup();
    assert_eq!(
        common::normalize(&env.ok(&["user", "ls"])),
        "USER  STATE  ROLES      ORG   CUSTOM  CREATED\n\
         boss  ok     admin      acme  0       YYYY-MM-DDTHH:MM:SSZ\n\
         u1    ok     developer  -     0       YYYY-MM-DDTHH:MM:SSZ\n"
    );
    let out = env.run(&["user", "add", "u1"]);
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "error: user u1 already exists; remove it first with `portalctl user rm u1`\n"
    );
    let out = env.run(&["user", "add", "bad_id"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("invalid user id \"bad_id\": use 1-32 letters, digits or '-'"),
        "{}",
        out.stderr
    );
    assert_eq!(env.ok(&["user", "rm", "u1"]), "removed user u1\n");
    let out = env.run(&["servers", "--user", "u1"]);
    assert_eq!(out.code, 4);
    assert_eq!(
        out.stderr,
        "error: user u1 does not exist; add it with `portalctl user add u1`\n"
    );
    assert!(
        !env.data().join("cache/merged-u1.json").exists(),
        "the user's cache went with them"
    );
}

#[test]
fn the_cache_is_never_the_source_of_truth() {
    let env = setup();
    let before = env.ok(&["servers", "--user", "u1", "--json"]);
    let cache = env.data().join("cache/merged-u1.json");
    assert!(cache.exists());
    std::fs::write(&cache, "{broken").unwrap();
    assert_eq!(env.ok(&["servers", "--user", "u1", "--json"]), before);
    std::fs::remove_file(&cache).unwrap();
    assert_eq!(env.ok(&["servers", "--user", "u1", "--json"]), before);
    let stale = serde_json::json!({"inputs": "stale", "servers": []});
    std::fs::write(&cache, stale.to_string()).unwrap();
    assert_eq!(env.ok(&["servers", "--user", "u1", "--json"]), before);
}

#[test]
fn the_cache_is_rewritten_only_when_an_input_changes() {
    let env = setup();
    env.ok(&["servers", "--user", "u1"]);
    let cache = env.data().join("cache/merged-u1.json");
    let modified = || std::fs::metadata(&cache).unwrap().modified().unwrap();
    let first = modified();
    std::thread::sleep(std::time::Duration::from_millis(20));
    env.ok(&["servers", "--user", "u1"]);
    env.ok(&["user", "add", "u3"]);
    assert_eq!(modified(), first, "nothing u1 depends on changed");
    let mine = env.file("mine.yaml", "id: mine\nimage: me/mine\n");
    env.ok(&["custom", "add", &env.path(&mine), "--user", "u1"]);
    assert_ne!(modified(), first);
}

#[test]
fn the_merged_catalog_is_the_same_bytes_whatever_the_upload_order() {
    let a = setup();
    let b = Env::new();
    let team = b.file("team.yaml", TEAM);
    let docker = b.file("docker.yaml", DOCKER);
    b.ok(&["user", "add", "u1", "--role", "developer"]);
    b.ok(&["catalog", "upload", &b.path(&docker)]);
    b.ok(&["catalog", "upload", &b.path(&team)]);
    assert_eq!(
        a.ok(&["servers", "--user", "u1", "--json"]),
        b.ok(&["servers", "--user", "u1", "--json"])
    );
}

#[test]
fn an_unreachable_docker_engine_is_named_with_the_fix() {
    let env = setup();
    let out = env.run_with(
        &["status"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("error: cannot reach the Docker Engine ("),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("start it (dockerd, or systemctl start docker) or point DOCKER_HOST at it"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_remote_is_refused_with_the_fix() {
    let env = Env::new();
    let out = env.run(&["--remote", "ftp://portal", "--token", "t", "user", "ls"]);
    assert_eq!(out.code, 2, "a bad --remote is a usage error");
    assert_eq!(
        out.stderr,
        "error: --remote \"ftp://portal\" must be an http:// or https:// URL\n"
    );
    let out = env.run_with(
        &["--remote", "http://127.0.0.1:9", "user", "ls"],
        &[("MCP_PORTAL_TOKEN", "")],
    );
    assert_eq!(
        out.stderr,
        "error: --remote needs a token: give --token or set MCP_PORTAL_TOKEN\n"
    );
    let out = env.run(&[
        "--remote",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "user",
        "ls",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("error: cannot reach the portal at http://127.0.0.1:9; check --remote"),
        "{}",
        out.stderr
    );
    let out = env.run(&["--remote", "http://127.0.0.1:9", "--token", "t", "serve"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: `portalctl serve` is not available with --remote; run it on the portal's host\n"
    );
}
