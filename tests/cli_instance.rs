#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The data folder's instance id: made once and kept, adopted as `default` for a folder
//! an earlier portal made, overridden by MCP_PORTAL_INSTANCE, refused when damaged.

mod common;

use common::Env;

fn recorded(env: &Env) -> String {
    std::fs::read_to_string(env.data().join("instance"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_new_folder_records_a_random_id_once() {
    let (one, two) = (Env::new(), Env::new());
    one.run(&["user", "ls"]).expect_ok(&["user", "ls"]);
    two.run(&["user", "ls"]).expect_ok(&["user", "ls"]);
    let id = recorded(&one);
    assert!(id.starts_with("p-") && id.len() == 12, "{id}");
    assert_ne!(id, recorded(&two), "two folders, two instances");
    let out = one.run(&["user", "add", "u1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "", "nothing to say about a folder's own id");
    assert_eq!(recorded(&one), id, "kept across runs");
}

#[test]
fn a_folder_from_before_instance_ids_keeps_default_and_says_so_once() {
    let env = Env::new();
    env.run(&["user", "add", "u1"]).expect_ok(&["user", "add"]);
    // What an earlier portal left: users and all, but no recorded id.
    std::fs::remove_file(env.data().join("instance")).unwrap();

    let out = env.run(&["user", "ls"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let root = env.data().canonicalize().unwrap();
    assert_eq!(
        out.stderr,
        format!("warning: data folder {} predates per-folder instance ids: recorded its instance as `default`, which its containers and networks carry, so they stay this portal's\n", root.display())
    );
    assert_eq!(recorded(&env), "default");
    let again = env.run(&["user", "ls"]);
    assert_eq!(again.stderr, "", "said once");
}

#[test]
fn the_environment_overrides_the_recorded_id() {
    let env = Env::new();
    let out = env.run_with(&["user", "ls"], &[("MCP_PORTAL_INSTANCE", "team-a")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        recorded(&env),
        "team-a",
        "a new folder records the given id"
    );
    env.run_with(&["user", "ls"], &[("MCP_PORTAL_INSTANCE", "other")]);
    assert_eq!(recorded(&env), "team-a", "the record stays as made");
}

#[test]
fn a_damaged_id_is_refused_naming_the_file() {
    let env = Env::new();
    env.run(&["user", "ls"]).expect_ok(&["user", "ls"]);
    std::fs::write(env.data().join("instance"), "no spaces allowed\n").unwrap();
    let out = env.run(&["user", "ls"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let path = env.data().canonicalize().unwrap().join("instance");
    assert_eq!(
        out.stderr,
        format!("error: {} holds \"no spaces allowed\", not an instance id (1-64 letters, digits, '.', '_' or '-'); write into it the id this folder's containers carry (their label io.mcp-portal.instance)\n", path.display())
    );
}
