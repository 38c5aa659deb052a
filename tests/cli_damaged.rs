#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! One damaged file affects its own user alone (issue 11, item 9): a corrupt
//! `users/a2/user.json` leaves `servers --user a1`, `user ls`, `catalog upload` and
//! `user rm a2` working, each saying which file is damaged where it is the caller's to see;
//! an overlay that became invalid costs only the server it breaks.

mod common;

use common::{Env, DOCKER, TEAM};

fn damaged() -> Env {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    env.ok(&["catalog", "upload", &env.path(&team)]);
    env.ok(&["user", "add", "a1"]);
    env.ok(&["user", "add", "a2"]);
    std::fs::write(
        env.data().join("users/a2/user.json"),
        "{\"id\": \"a2\", oops",
    )
    .unwrap();
    env
}

#[test]
fn another_users_damaged_record_leaves_my_servers_alone() {
    let env = damaged();
    let out = env.run(&["servers", "--user", "a1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("echo-http"), "{}", out.stdout);
    assert!(
        !out.stderr.contains("a2"),
        "a1 is told of a2: {}",
        out.stderr
    );

    let own = env.run(&["servers", "--user", "a2"]);
    assert_eq!(own.code, 1, "{}", own.stderr);
    assert!(
        own.stderr.contains(
            "user a2 cannot be read: users/a2/user.json is damaged (key must be a string"
        ) && own.stderr.contains("`portalctl user rm a2`"),
        "{}",
        own.stderr
    );
}

#[test]
fn user_ls_lists_a_damaged_user_as_damaged_naming_the_file() {
    let env = damaged();
    let out = env.run(&["user", "ls"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        common::normalize(&out.stdout),
        "USER  STATE    ROLES  ORG  CUSTOM  CREATED\n\
         a1    ok       -      -    0       YYYY-MM-DDTHH:MM:SSZ\n\
         a2    damaged  -      -    -       -\n"
    );
    assert!(
        out.stderr
            .starts_with("warning: user a2 is damaged: users/a2/user.json is damaged ("),
        "{}",
        out.stderr
    );
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["user", "ls", "--json"])).unwrap();
    assert!(json[1]["damaged"]
        .as_str()
        .unwrap()
        .starts_with("users/a2/user.json is damaged"));
}

#[test]
fn a_catalog_upload_goes_ahead_and_says_who_was_left_out() {
    let env = damaged();
    let docker = env.file("docker.yaml", DOCKER);
    let out = env.run(&["catalog", "upload", &env.path(&docker)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("regenerated the merged catalogs of 1 user"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("warning: user a2: left out: users/a2/user.json is damaged ("),
        "{}",
        out.stderr
    );
    let mine = env.ok(&["servers", "--user", "a1"]);
    assert!(mine.contains("github"), "a1 got the new catalog: {mine}");
}

#[test]
fn a_damaged_user_can_be_removed() {
    let env = damaged();
    let out = env.run(&["user", "rm", "a2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "removed user a2\n");
    assert!(!env.data().join("users/a2").exists());
    let ls = env.run(&["user", "ls"]);
    assert_eq!((ls.code, ls.stderr.as_str()), (0, ""));
    assert!(!ls.stdout.contains("a2"), "{}", ls.stdout);
}

#[test]
fn an_overlay_that_became_invalid_drops_only_the_server_it_breaks() {
    let env = Env::new();
    let team = env.file("team.yaml", TEAM);
    let docker = env.file("docker.yaml", DOCKER);
    env.ok(&["catalog", "upload", &env.path(&team)]);
    env.ok(&["user", "add", "a1"]);
    let shared = env.file(
        "shared.yaml",
        "servers:\n  - {id: echo-http, volumes: [\"/srv/shared:/shared:ro\"]}\n",
    );
    let allowed = [("MCP_PORTAL_ALLOWED_HOST_PATHS", "/srv/shared")];
    let args = ["overlay", "upload", &env.path(&shared), "--name", "shared"];
    assert_eq!(env.run_with(&args, &allowed).code, 0);
    // The admin narrows the setting afterwards: the overlay's mount is no longer allowed.
    let out = env.run(&["catalog", "upload", &env.path(&docker)]);
    assert_eq!(
        out.code, 0,
        "an unrelated upload was refused: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("(already so before this change; the server is left out until it is fixed)"),
        "{}",
        out.stderr
    );
    let out = env.run(&["servers", "--user", "a1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("github"), "{}", out.stdout);
    assert!(!out.stdout.contains("echo-http"), "{}", out.stdout);
    assert!(
        out.stderr
            .starts_with("warning: overlay shared: server echo-http: volumes")
            && out
                .stderr
                .contains("; the server is left out until this is fixed"),
        "{}",
        out.stderr
    );
    let back = env.run_with(&["servers", "--user", "a1"], &allowed);
    assert!(back.stdout.contains("echo-http"), "{}", back.stdout);
}
