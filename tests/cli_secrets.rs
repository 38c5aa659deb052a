#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `portalctl secret ...` over a temporary data folder: values go in on stdin, never come
//! out, and never reach the data folder in plaintext.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{normalize, Env};
use mcp_portal::catalog::model::SecretRef;
use mcp_portal::config::Config;
use mcp_portal::ids::{SecretName, UserId};
use mcp_portal::manager::Portal;

const VALUE: &str = "ghp_TopSecretValue123";

fn set(env: &Env, name: &str, user: &str, value: &str) -> common::Out {
    let mut cmd = env.cmd();
    cmd.args(["secret", "set", name, "--user", user])
        .write_stdin(format!("{value}\n"));
    let out = cmd.output().unwrap();
    common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn open(env: &Env, user: &str, name: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let config = Config::from_lookup(env.data(), |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let portal = Portal::open(config).unwrap();
    let r = SecretRef {
        name: SecretName::parse(name).unwrap(),
        env: "X".into(),
        file: false,
    };
    portal
        .secrets_for(&UserId::parse(user).unwrap(), "s", &[r])
        .map(|v| v[0].value.expose().to_string())
        .map_err(|e| e.to_string())
}

#[test]
fn a_secret_is_set_from_stdin_listed_without_value_and_removed() {
    let env = Env::new();
    env.ok(&["user", "add", "u1"]);
    let out = set(&env, "github.personal_access_token", "u1", VALUE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "set secret github.personal_access_token for u1\n"
    );
    let ls = env.ok(&["secret", "ls", "--user", "u1"]);
    let key_id = ls
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert!(key_id.starts_with("k-"));
    assert_eq!(
        normalize(&ls),
        format!(
            "NAME                          CREATED               UPDATED               EXPIRES  KEY\n\
             github.personal_access_token  YYYY-MM-DDTHH:MM:SSZ  YYYY-MM-DDTHH:MM:SSZ  -        {}\n",
            normalize(&key_id)
        )
    );
    let json = env.ok(&["secret", "ls", "--user", "u1", "--json"]);
    assert!(
        !json.contains(VALUE) && !json.contains("ciphertext"),
        "{json}"
    );
    assert_eq!(
        open(&env, "u1", "github.personal_access_token", &[]).unwrap(),
        VALUE
    );
    assert_eq!(
        env.ok(&[
            "secret",
            "rm",
            "github.personal_access_token",
            "--user",
            "u1"
        ]),
        "removed secret github.personal_access_token of u1\n"
    );
    let again = env.run(&[
        "secret",
        "rm",
        "github.personal_access_token",
        "--user",
        "u1",
    ]);
    assert_eq!(again.code, 4);
}

#[test]
fn the_data_folder_holds_no_plaintext_and_private_files_are_0600() {
    let env = Env::new();
    env.ok(&["user", "add", "u1"]);
    assert_eq!(set(&env, "db.password", "u1", VALUE).code, 0);
    for f in all_files(&env.data()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(VALUE),
            "{} holds the plaintext",
            f.display()
        );
    }
    let mode = |p: &str| {
        std::fs::metadata(env.data().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("users/u1/secrets.json"), 0o600);
    assert_eq!(mode("secret.key"), 0o600);
}

#[test]
fn bad_input_is_refused_clearly() {
    let env = Env::new();
    env.ok(&["user", "add", "u1"]);
    let out = set(&env, "x", "nobody", VALUE);
    assert_eq!(out.code, 4);
    assert_eq!(
        out.stderr,
        "error: user nobody does not exist; add it with `portalctl user add nobody`\n"
    );
    let out = env.run(&["secret", "set", "bad name", "--user", "u1", "--value", "x"]);
    assert_eq!(out.code, 2);
    let out = set(&env, "x", "u1", "");
    assert_eq!(out.code, 3);
    assert_eq!(out.stderr, "error: invalid secret value: it is empty\n");
    let out = env.run(&["secret", "set", "x", "--user", "u1", "--value", VALUE]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stderr, "warning: a value given with --value stays in your shell history; pipe it on stdin instead\n");
    let out = env.run(&[
        "secret",
        "set",
        "x",
        "--user",
        "u1",
        "--value",
        "v",
        "--expires",
        "2001-01-01T00:00:00Z",
    ]);
    assert_eq!(out.code, 2, "a time in the past is a usage error");
    assert!(out.stderr.contains("is in the past"), "{}", out.stderr);
    let out = env.run_with(
        &["secret", "ls", "--user", "u1"],
        &[("MCP_PORTAL_SECRET_ENCRYPTION_KEY", VALUE)],
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: invalid MCP_PORTAL_SECRET_ENCRYPTION_KEY=\"<hidden>\": 32 bytes written as base64 (44 characters) or hex (64 characters)\n"
    );
}

#[test]
fn a_key_from_the_environment_seals_and_another_key_cannot_open() {
    let env = Env::new();
    env.ok(&["user", "add", "u1"]);
    let key_a = "a".repeat(64);
    let mut cmd = env.cmd();
    cmd.env("MCP_PORTAL_SECRET_ENCRYPTION_KEY", &key_a)
        .args(["secret", "set", "x", "--user", "u1"])
        .write_stdin(VALUE);
    assert!(cmd.output().unwrap().status.success());
    assert!(
        !env.data().join("secret.key").exists(),
        "no key file is made when the key comes from the environment"
    );
    assert_eq!(
        open(
            &env,
            "u1",
            "x",
            &[("MCP_PORTAL_SECRET_ENCRYPTION_KEY", &key_a)]
        )
        .unwrap(),
        VALUE
    );
    let err = open(
        &env,
        "u1",
        "x",
        &[("MCP_PORTAL_SECRET_ENCRYPTION_KEY", &"b".repeat(64))],
    )
    .unwrap_err();
    assert!(
        err.contains("is sealed with key k-") && err.contains("not with the current key"),
        "{err}"
    );
}

#[test]
fn rotate_key_reseals_every_secret_and_switches_the_key_file() {
    let env = Env::new();
    for u in ["u1", "u2"] {
        env.ok(&["user", "add", u]);
        assert_eq!(set(&env, "a.token", u, &format!("{VALUE}-{u}")).code, 0);
        assert_eq!(set(&env, "b.token", u, &format!("other-{u}")).code, 0);
    }
    let old_key = std::fs::read_to_string(env.data().join("secret.key")).unwrap();
    let new_file = env.dir.path().join("new.key");
    let out = env.ok(&[
        "secret",
        "rotate-key",
        "--new-key-file",
        &env.path(&new_file),
    ]);
    let new_key = std::fs::read_to_string(&new_file).unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(
        std::fs::read_to_string(env.data().join("secret.key")).unwrap(),
        new_key
    );
    assert!(
        out.starts_with("re-sealed 4 secrets of 2 users under key k-"),
        "{out}"
    );
    for u in ["u1", "u2"] {
        assert_eq!(
            open(&env, u, "a.token", &[]).unwrap(),
            format!("{VALUE}-{u}")
        );
        assert_eq!(open(&env, u, "b.token", &[]).unwrap(), format!("other-{u}"));
    }
    let again = env.run(&[
        "secret",
        "rotate-key",
        "--new-key-file",
        &env.path(&new_file),
    ]);
    assert_eq!(again.code, 5, "{}", again.stderr);
    assert!(again.stderr.contains("holds the current key"));
}

#[test]
fn a_user_keeps_at_most_the_configured_number_of_secrets() {
    let env = Env::new();
    env.ok(&["user", "add", "u1"]);
    let limit = [("MCP_PORTAL_USER_MAX_SECRETS", "2")];
    let set_as = |name: &str| {
        env.run_with(
            &["secret", "set", name, "--user", "u1", "--value", "v"],
            &limit,
        )
    };
    assert_eq!(set_as("a.one").code, 0);
    assert_eq!(set_as("a.two").code, 0);
    let third = set_as("a.three");
    assert_eq!(third.code, 5, "{}", third.stderr);
    assert!(
        third
            .stderr
            .contains("user u1 has 2 secrets, as many as MCP_PORTAL_USER_MAX_SECRETS allows"),
        "{}",
        third.stderr
    );
    assert_eq!(set_as("a.one").code, 0, "replacing one is not one more");
    env.ok(&["secret", "rm", "a.two", "--user", "u1"]);
    assert_eq!(set_as("a.three").code, 0);
    let big = "x".repeat(64 * 1024 + 1);
    let out = set(&env, "a.big", "u1", &big);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("longer than 64 KiB"), "{}", out.stderr);
}

#[test]
fn a_rotation_that_meets_a_damaged_secret_changes_nothing_and_names_it() {
    let env = Env::new();
    for u in ["u1", "u2"] {
        env.ok(&["user", "add", u]);
        assert_eq!(set(&env, "a.token", u, VALUE).code, 0);
    }
    // Damage u2's ciphertext (a flipped byte, as a bad disk or a hand edit makes it).
    let path = env.data().join("users/u2/secrets.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let ct = doc["secrets"]["a.token"]["ciphertext"].as_str().unwrap();
    let flipped = if ct.starts_with('A') { "B" } else { "A" };
    doc["secrets"]["a.token"]["ciphertext"] = format!("{flipped}{}", &ct[1..]).into();
    std::fs::write(&path, doc.to_string()).unwrap();
    let before_u1 = std::fs::read(env.data().join("users/u1/secrets.json")).unwrap();
    let before_key = std::fs::read(env.data().join("secret.key")).unwrap();

    let new_file = env.dir.path().join("new.key");
    let out = env.run(&[
        "secret",
        "rotate-key",
        "--new-key-file",
        &env.path(&new_file),
    ]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the key was not rotated and no secret was re-sealed")
            && out.stderr.contains("u2/a.token"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(env.data().join("users/u1/secrets.json")).unwrap(),
        before_u1,
        "u1's secrets were re-sealed under a key that was never switched to"
    );
    assert_eq!(
        std::fs::read(env.data().join("secret.key")).unwrap(),
        before_key
    );
    assert_eq!(open(&env, "u1", "a.token", &[]).unwrap(), VALUE);
}

#[test]
fn a_key_from_the_environment_keeps_opening_secrets_until_it_is_changed() {
    let env = Env::new();
    let old_key = "a".repeat(64);
    let old = [("MCP_PORTAL_SECRET_ENCRYPTION_KEY", old_key.as_str())];
    env.ok(&["user", "add", "u1"]);
    let args = ["secret", "set", "x", "--user", "u1", "--value", VALUE];
    assert_eq!(env.run_with(&args, &old).code, 0);
    let new_file = env.dir.path().join("new.key");
    let rotate = [
        "secret",
        "rotate-key",
        "--new-key-file",
        &env.path(&new_file),
    ];
    let out = env.run_with(&rotate, &old);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The admin has not changed the variable yet: the secret still opens.
    assert_eq!(open(&env, "u1", "x", &old).unwrap(), VALUE);
    assert!(
        out.stdout.contains("until then secrets open with"),
        "{}",
        out.stdout
    );
    let new_key = std::fs::read_to_string(&new_file).unwrap();
    let new = [("MCP_PORTAL_SECRET_ENCRYPTION_KEY", new_key.trim())];
    let out = env.run_with(&["secret", "ls", "--user", "u1"], &new);
    assert!(
        out.stderr
            .contains("is finished: removed the data folder's copy"),
        "{}",
        out.stderr
    );
    assert!(!env.data().join("secret.key.next").exists());
    assert_eq!(open(&env, "u1", "x", &new).unwrap(), VALUE);
}

#[test]
fn a_secret_stored_without_a_key_id_still_opens_and_gets_one_on_rotation() {
    let env = Env::new();
    env.ok(&["user", "add", "u1"]);
    assert_eq!(set(&env, "a.token", "u1", VALUE).code, 0);
    let path = env.data().join("users/u1/secrets.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["secrets"]["a.token"]
        .as_object_mut()
        .unwrap()
        .remove("key_id");
    std::fs::write(&path, doc.to_string()).unwrap();
    let ls = env.ok(&["secret", "ls", "--user", "u1"]);
    assert!(ls.lines().nth(1).unwrap().ends_with("  -"), "{ls}");
    assert_eq!(open(&env, "u1", "a.token", &[]).unwrap(), VALUE);
    let new_file = env.dir.path().join("new.key");
    let out = env.ok(&[
        "secret",
        "rotate-key",
        "--new-key-file",
        &env.path(&new_file),
    ]);
    assert!(out.starts_with("re-sealed 1 secrets of 1 users"), "{out}");
    let ls = env.ok(&["secret", "ls", "--user", "u1"]);
    assert!(ls.lines().nth(1).unwrap().contains("  k-"), "{ls}");
    assert_eq!(open(&env, "u1", "a.token", &[]).unwrap(), VALUE);
}
