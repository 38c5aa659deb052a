#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! `GET /metrics` over the API on the recording fake engine: admin only on the API's
//! address, in the Prometheus text format, and its counters move by exactly what the
//! requests before the scrape did.

mod common;

use common::api::{call, request, start};

fn scrape(api: &common::api::Api) -> String {
    let auth = format!("Bearer {}", api.admin);
    let r = request(api, "GET", "/metrics", &[("Authorization", &auth)], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        r.header("content-type")
    );
    r.body
}

/// The value of the sample `name{labels}`, or 0 when it has not been counted yet.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn metrics_need_an_admin_token_on_the_api_address() {
    let api = start(1000.0);
    assert_eq!(call(&api, "GET", "/metrics", None, b"").0, 401);
    let (code, body) = call(&api, "GET", "/metrics", Some(&api.u1), b"");
    assert_eq!(code, 403, "{body}");
    assert!(scrape(&api).ends_with("# EOF\n"));
}

#[test]
fn counters_move_by_exactly_what_happened() {
    let api = start(1000.0);
    let before = scrape(&api);
    let enable = "/api/v1/users/u1/servers/echo-http/enable";
    assert_eq!(call(&api, "POST", enable, Some(&api.u1), b"{}").0, 200);
    assert_eq!(call(&api, "POST", enable, Some(&api.u1), b"{}").0, 200);
    let refused = call(
        &api,
        "POST",
        "/api/v1/users/u1/servers/nope/enable",
        Some(&api.u1),
        b"{}",
    );
    assert_eq!(refused.0, 404, "{}", refused.1);
    let disable = "/api/v1/users/u1/servers/echo-http/disable";
    let after_enables = scrape(&api);
    assert_eq!(call(&api, "POST", disable, Some(&api.u1), b"{}").0, 200);
    let after = scrape(&api);

    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        moved("mcp_portal_actions_total{action=\"server.enable\",result=\"ok\"}"),
        2.0
    );
    assert_eq!(
        moved("mcp_portal_actions_total{action=\"server.enable\",result=\"refused\"}"),
        1.0
    );
    assert_eq!(
        moved("mcp_portal_actions_total{action=\"server.disable\",result=\"ok\"}"),
        1.0
    );
    let route = "route=\"/api/v1/users/{user}/servers/{server}/enable\"";
    assert_eq!(
        moved(&format!(
            "mcp_portal_api_requests_total{{{route},status=\"200\"}}"
        )),
        2.0
    );
    assert_eq!(
        moved(&format!(
            "mcp_portal_api_requests_total{{{route},status=\"404\"}}"
        )),
        1.0
    );
    assert_eq!(
        moved(&format!(
            "mcp_portal_api_request_duration_seconds_count{{{route}}}"
        )),
        3.0
    );
    // The scrapes themselves are requests too: the two before this one.
    assert_eq!(
        moved("mcp_portal_api_requests_total{route=\"/metrics\",status=\"200\"}"),
        2.0
    );
    // Gauges are what is, at each scrape: one container while enabled, none after.
    assert_eq!(
        sample(
            &after_enables,
            "mcp_portal_containers{user=\"u1\",state=\"running\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after_enables,
            "mcp_portal_user_usage{user=\"u1\",what=\"containers\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after_enables,
            "mcp_portal_user_usage{user=\"u1\",what=\"memory_reserved_bytes\"}"
        ),
        64.0 * 1024.0 * 1024.0
    );
    assert!(
        !after.contains("mcp_portal_containers{user=\"u1\""),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            "mcp_portal_user_usage{user=\"u1\",what=\"containers\"}"
        ),
        0.0
    );
    assert!(
        sample(
            &after,
            "mcp_portal_user_usage{user=\"u1\",what=\"max_containers\"}"
        ) > 0.0
    );
    // No user's id appears in a route label.
    assert!(!after.contains("route=\"/api/v1/users/u1"), "{after}");
}
