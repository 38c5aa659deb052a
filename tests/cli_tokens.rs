#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Tokens end (issue 11, item 5): with their user, for a later user of the same name,
//! and at their expiry. What the API and the gateway accept is `Portal::authenticate`.

mod common;

use common::Env;
use mcp_portal::config::Config;
use mcp_portal::manager::Portal;

fn portal(env: &Env) -> Portal {
    let config = Config::from_lookup(env.data(), |k| {
        (k == "MCP_PORTAL_INSTANCE").then(|| "t-tokens".to_string())
    })
    .unwrap();
    Portal::open(config).unwrap()
}

fn accepted(env: &Env, token: &str) -> bool {
    portal(env).authenticate(token).unwrap().is_some()
}

#[test]
fn a_removed_users_tokens_stop_working_and_a_new_user_of_the_name_inherits_none() {
    let env = Env::new();
    env.ok(&["user", "add", "alice"]);
    let token = env.ok(&["token", "create", "--user", "alice", "--role", "admin"]);
    let token = token.trim();
    assert!(accepted(&env, token));

    // As an earlier version left it: the user removed, their token kept.
    let tokens = std::fs::read(env.data().join("tokens.json")).unwrap();
    env.ok(&["user", "rm", "alice"]);
    assert!(!accepted(&env, token), "a removed user's token still works");
    assert!(!env.ok(&["token", "ls"]).contains("alice"));
    env.ok(&["user", "add", "alice"]);
    assert!(!accepted(&env, token));
    std::fs::write(env.data().join("tokens.json"), tokens).unwrap();
    assert!(
        !accepted(&env, token),
        "a token made for an earlier alice works for the new one"
    );
    let fresh = env.ok(&["token", "create", "--user", "alice"]);
    assert!(accepted(&env, fresh.trim()));
}

#[test]
fn a_token_ends_at_its_expiry_and_the_listing_shows_it() {
    let env = Env::new();
    env.ok(&["user", "add", "bob"]);
    let token = env.ok(&["token", "create", "--user", "bob", "--expires", "30d"]);
    assert!(accepted(&env, token.trim()));
    let listing = env.ok(&["token", "ls"]);
    assert!(
        listing.lines().next().unwrap().ends_with("EXPIRES"),
        "{listing}"
    );
    let row = listing.lines().find(|l| l.contains("bob")).unwrap();
    assert!(!row.ends_with("never"), "{listing}");
    let forever = env.ok(&["token", "create", "--user", "bob", "--scope", "mcp"]);
    let listing = env.ok(&["token", "ls"]);
    assert!(listing.lines().any(|l| l.ends_with("never")), "{listing}");

    // The same token once its time has come.
    let path = env.data().join("tokens.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for t in doc["tokens"].as_array_mut().unwrap() {
        if t.get("expires_at").is_some() {
            t["expires_at"] = "2020-01-01T00:00:00Z".into();
        }
    }
    std::fs::write(&path, doc.to_string()).unwrap();
    assert!(
        !accepted(&env, token.trim()),
        "an expired token still works"
    );
    assert!(accepted(&env, forever.trim()));

    for bad in ["0d", "-3h", "soon", "2020-01-01T00:00:00Z"] {
        let flag = format!("--expires={bad}");
        let out = env.run(&["token", "create", "--user", "bob", &flag]);
        assert_eq!(out.code, 2, "--expires {bad}: {}", out.stderr);
        assert!(
            out.stderr.contains(bad.trim_start_matches('-')),
            "{}",
            out.stderr
        );
    }
}
