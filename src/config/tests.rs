//! Validation, defaults and the key table, through `Config::from_lookup` with a map.

use super::*;
use std::collections::HashMap;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup("data".into(), |k| map.get(k).cloned())
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let c = config(&[]).unwrap();
    assert_eq!(c.max_catalog_bytes, 8 * 1024 * 1024);
    assert!(c.allowed_host_paths.is_empty());
}

#[test]
fn bad_values_name_the_key_and_the_value() {
    let e = config(&[(MAX_CATALOG_BYTES, "lots")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid MCP_PORTAL_MAX_CATALOG_BYTES=\"lots\": a positive number of bytes, e.g. 8388608"
    );
    assert!(config(&[(ALLOWED_HOST_PATHS, "/srv,relative")]).is_err());
    assert!(config(&[(ALLOWED_HOST_PATHS, "/srv/../etc")]).is_err());
}

#[test]
fn runtime_defaults_follow_the_seed() {
    let r = config(&[]).unwrap().runtime;
    assert_eq!(
        (r.pools.port_start, r.pools.port_end, r.pools.ports_per_user),
        (20000, 29999, 100)
    );
    assert_eq!(r.pools.subnet(0).to_string(), "10.201.0.0/24");
    assert_eq!(
        r.quota,
        Quota {
            max_containers: 10,
            max_memory_mb: 2560,
            max_cpu_shares: 5120
        }
    );
    // Issue 12, point 6: the default quota fits as many default-sized servers as it
    // allows containers (it once fitted two, by CPU).
    let n = u64::from(r.quota.max_containers);
    assert!(r.quota.max_memory_mb * 1024 * 1024 >= n * r.defaults.memory.bytes());
    assert!(r.quota.max_cpu_shares >= n * u64::from(r.defaults.cpus.millis()) * 1024 / 1000);
    assert_eq!(r.bind_address, "127.0.0.1");
    assert_eq!(r.max_concurrent_starts, 5);
    assert!(!r.hardening.bounds.allow_root);
}

#[test]
fn bad_runtime_values_name_their_key() {
    for (key, value) in [
        ("MCP_PORTAL_PORT_RANGE_START", "0"),
        ("MCP_PORTAL_PORT_RANGE_END", "100"),
        ("MCP_PORTAL_USER_NETWORK_SUBNET_BASE", "10.0.0.1/16"),
        ("MCP_PORTAL_BIND_ADDRESS", "localhost"),
        ("MCP_PORTAL_USER_MAX_MEMORY_MB", "lots"),
        ("MCP_PORTAL_ALLOW_ROOT", "yes"),
        ("MCP_PORTAL_DEFAULT_MEMORY", "1x"),
        ("MCP_PORTAL_INSTANCE", "a b"),
    ] {
        let e = config(&[(key, value)]).unwrap_err();
        assert_eq!(e.key, key, "{e}");
    }
}

#[test]
fn a_bad_secret_key_is_refused_without_echoing_it() {
    let e = config(&[(SECRET_KEY, "tooshort")]).unwrap_err().to_string();
    assert_eq!(
            e,
            "invalid MCP_PORTAL_SECRET_ENCRYPTION_KEY=\"<hidden>\": 32 bytes written as base64 (44 characters) or hex (64 characters)"
        );
    let good = "0".repeat(64);
    assert!(matches!(
        config(&[(SECRET_KEY, &good)]).unwrap().secrets.key,
        KeySource::Env(_)
    ));
    assert_eq!(
        config(&[]).unwrap().secrets.key,
        KeySource::File(PathBuf::from("data/secret.key"))
    );
}

#[test]
fn the_api_rate_must_be_a_positive_finite_number() {
    assert_eq!(config(&[]).unwrap().api_rate_per_sec, 50.0);
    let c = config(&[("MCP_PORTAL_API_RATE_PER_SEC", " 2.5 ")]).unwrap();
    assert_eq!(c.api_rate_per_sec, 2.5);
    for bad in ["abc", "0", "-1", "inf", "NaN", ""] {
        let e = config(&[("MCP_PORTAL_API_RATE_PER_SEC", bad)]).unwrap_err();
        assert_eq!(
                e.to_string(),
                format!("invalid MCP_PORTAL_API_RATE_PER_SEC={bad:?}: a positive number of requests per second, such as 50")
            );
    }
}

#[test]
fn the_pre_authentication_limits_have_defaults_and_refuse_nonsense() {
    let c = config(&[]).unwrap().api;
    assert_eq!(c.auth_failures_per_min, 30.0);
    assert!(c.trusted_proxies.is_empty());
    assert_eq!(c.event_streams_per_token, 4);
    let c = config(&[("MCP_PORTAL_TRUSTED_PROXIES", " 127.0.0.1, ::1 ")]).unwrap();
    assert_eq!(c.api.trusted_proxies.len(), 2);
    for (key, bad) in [
        ("MCP_PORTAL_AUTH_FAILURES_PER_MIN", "0"),
        ("MCP_PORTAL_TRUSTED_PROXIES", "proxy.example.com"),
        ("MCP_PORTAL_EVENT_STREAMS_PER_TOKEN", "0"),
    ] {
        let e = config(&[(key, bad)]).unwrap_err().to_string();
        assert!(e.starts_with(&format!("invalid {key}={bad:?}: ")), "{e}");
    }
}

#[test]
fn the_table_lists_exactly_the_keys_the_config_reads() {
    let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
    Config::from_lookup("data".into(), |k| {
        asked.borrow_mut().insert(k.to_string());
        None
    })
    .unwrap();
    let listed: std::collections::BTreeSet<String> = keys::TABLE
        .iter()
        .filter(|k| k.read_by_config())
        .map(|k| k.name().to_string())
        .collect();
    assert_eq!(asked.into_inner(), listed);
}

#[test]
fn every_key_is_listed_once() {
    let mut names: Vec<&str> = keys::TABLE.iter().map(|k| k.name()).collect();
    let all = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all);
}

#[test]
fn the_catalog_size_default_is_the_parsers_default() {
    assert_eq!(
        keys::MAX_CATALOG_BYTES.default,
        Some(
            crate::catalog::parse::DEFAULT_MAX_BYTES
                .to_string()
                .as_str()
        )
    );
}

#[test]
fn unset_keys_without_a_default_read_as_absent_and_blank_as_set() {
    assert!(matches!(
        config(&[(SECRET_KEY, "")]).unwrap_err().key,
        SECRET_KEY
    ));
    assert_eq!(
        config(&[(SECRET_KEY_FILE, "  ")]).unwrap().secrets.key,
        KeySource::File(PathBuf::from("data/secret.key"))
    );
    assert_eq!(
        config(&[(SECRET_KEY_FILE, " /k ")]).unwrap().secrets.key,
        KeySource::File(PathBuf::from("/k"))
    );
    let r = config(&[("MCP_PORTAL_HOST_DATA_DIR", "/srv/data/")]).unwrap();
    assert_eq!(r.runtime.host_data_dir.as_deref(), Some("/srv/data"));
    assert_eq!(config(&[]).unwrap().runtime.host_data_dir, None);
    assert!(config(&[("MCP_PORTAL_HOST_DATA_DIR", "rel")]).is_err());
}

#[test]
fn the_range_end_is_checked_against_the_start_only_when_set() {
    let e = config(&[("MCP_PORTAL_PORT_RANGE_START", "30000")]).unwrap_err();
    assert_eq!(e.key, "MCP_PORTAL_PORT_RANGE_START");
    let e = config(&[("MCP_PORTAL_PORT_RANGE_END", "100")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid MCP_PORTAL_PORT_RANGE_END=\"100\": a port number not below the range start"
    );
}

#[test]
fn host_paths_are_a_comma_list() {
    let c = config(&[(ALLOWED_HOST_PATHS, "/srv/shared, /var/run/docker.sock")]).unwrap();
    assert_eq!(
        c.allowed_host_paths,
        ["/srv/shared", "/var/run/docker.sock"]
    );
}

#[test]
fn the_idle_timeout_is_never_unless_set_and_takes_a_duration() {
    let idle = |v: &str| config(&[("MCP_PORTAL_IDLE_TIMEOUT", v)]).map(|c| c.daemon.idle_timeout);
    assert_eq!(config(&[]).unwrap().daemon.idle_timeout, None);
    assert_eq!(idle("0").unwrap(), None);
    assert_eq!(
        idle("15m").unwrap(),
        Some(std::time::Duration::from_secs(900))
    );
    assert_eq!(
        idle("soon").unwrap_err().to_string(),
        "invalid MCP_PORTAL_IDLE_TIMEOUT=\"soon\": `0` (never) or a duration such as 30s, 15m or 2h (at most 24h)"
    );
}
