#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! File modes (issue 11, item 18): the data folder is private, the file of users' `--env`
//! values too (an earlier version's is made so, and that is said once), and a secret key
//! file that others may read is refused.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Env;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_data_folder_and_the_env_values_are_private_and_an_old_folder_is_made_so_once() {
    let env = Env::new();
    env.ok(&["user", "add", "alice"]);
    assert_eq!(mode(&env.data()), 0o700);
    assert_eq!(mode(&env.data().join("users")), 0o700);

    // As an earlier version left it.
    let enabled = env.data().join("users/alice/enabled.json");
    std::fs::write(&enabled, r#"{"servers": {}}"#).unwrap();
    std::fs::set_permissions(&enabled, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(env.data(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let first = env.run(&["user", "ls"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains("made 1 users' enabled.json private (mode 0600)"),
        "{}",
        first.stderr
    );
    assert_eq!(mode(&enabled), 0o600);
    assert_eq!(mode(&env.data()), 0o700);
    let second = env.run(&["user", "ls"]);
    assert!(!second.stderr.contains("private"), "{}", second.stderr);
}

#[test]
fn a_secret_key_file_others_can_read_is_refused_with_the_fix() {
    let env = Env::new();
    env.ok(&["user", "add", "bob"]);
    let key = env.data().join("secret.key");
    env.ok(&["secret", "set", "x.token", "--user", "bob", "--value", "v"]);
    assert_eq!(mode(&key), 0o600);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["secret", "set", "x.token", "--user", "bob", "--value", "w"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("mode 644") && out.stderr.contains("chmod 600"),
        "{}",
        out.stderr
    );
}
