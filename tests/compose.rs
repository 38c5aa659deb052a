#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The compose file hands the portal every setting it reads: with no `env_file` (so that
//! no `.env` is needed), a variable reaches the container only if the file names it.

use std::collections::BTreeSet;

fn environment() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/compose/docker-compose.yml"
    ))
    .unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let list = doc["services"]["portal"]["environment"]
        .as_sequence()
        .expect("the portal's environment is a list");
    list.iter()
        .map(|v| {
            let entry = v.as_str().expect("each entry is NAME or NAME=VALUE");
            entry.split('=').next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn the_compose_file_passes_on_every_setting_the_portal_reads() {
    let listed: BTreeSet<String> = environment().into_iter().collect();
    let table = mcp_portal::config::keys::TABLE;
    let mut wanted: BTreeSet<String> = table
        .iter()
        .filter(|k| k.read_by_config())
        .map(|k| k.name().to_string())
        .collect();
    // Read outside the configuration, but by the daemon itself.
    wanted.extend(["MCP_PORTAL_DATA_DIR", "MCP_PORTAL_LOG"].map(String::from));
    let missing: Vec<_> = wanted.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "compose/docker-compose.yml misses {missing:?}"
    );
    let known: BTreeSet<&str> = table.iter().map(|k| k.name()).collect();
    let unknown: Vec<_> = listed
        .iter()
        .filter(|n| !known.contains(n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "compose/docker-compose.yml names unknown {unknown:?}"
    );
}
