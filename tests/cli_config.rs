#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Bad `MCP_PORTAL_*` values stop a command before it does anything: usage error (2),
//! with the key and the value named.

mod common;

use common::Env;

#[test]
fn a_bad_api_rate_stops_serve_with_a_usage_error_naming_key_and_value() {
    let env = Env::new();
    let out = env.run_with(
        &["serve", "--once"],
        &[("MCP_PORTAL_API_RATE_PER_SEC", "abc")],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: invalid MCP_PORTAL_API_RATE_PER_SEC=\"abc\": a positive number of requests per second, such as 50\n"
    );
}

#[test]
fn a_rate_that_is_not_positive_is_refused_too() {
    let env = Env::new();
    for bad in ["0", "-5", "inf"] {
        let out = env.run_with(&["catalog", "ls"], &[("MCP_PORTAL_API_RATE_PER_SEC", bad)]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("invalid MCP_PORTAL_API_RATE_PER_SEC={bad:?}")),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn the_settings_this_portal_added_refuse_what_they_cannot_mean() {
    let env = Env::new();
    for (key, bad) in [
        ("MCP_PORTAL_USER_MAX_SECRETS", "0"),
        ("MCP_PORTAL_USER_MAX_SECRETS", "many"),
        ("MCP_PORTAL_MAX_REMOVALS_PER_PASS", "0"),
        ("MCP_PORTAL_MAX_REMOVALS_PER_PASS", "-1"),
    ] {
        let out = env.run_with(&["catalog", "ls"], &[(key, bad)]);
        assert_eq!(out.code, 2, "{key}={bad}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("invalid {key}={bad:?}")),
            "{}",
            out.stderr
        );
    }
}
