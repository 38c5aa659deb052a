#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark, like a test, fails loudly
//! Regeneration of merged catalogs at the scale issue 2 names: 100 users, a 500-server
//! base catalog, one overlay touching 50 servers, 5 custom servers per user.
//! `merge_all` is the pure merge; `regenerate_all` adds reading the data folder and
//! writing 100 cache files (fsynced) through the manager.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_portal::catalog::merge::{merge_all, BaseLayer, OverlayLayer};
use mcp_portal::catalog::model::{
    Catalog, Overlay, ServerDef, ServerPatch, UserProfile, Visibility,
};
use mcp_portal::catalog::validate::Policy;
use mcp_portal::config::Config;
use mcp_portal::ids::{CatalogName, Label, ServerId, UserId};
use mcp_portal::manager::Portal;
use serde_json::json;

fn base() -> Catalog {
    let servers = (0..500)
        .map(|i| {
            let mut d = ServerDef::new(
                ServerId::parse(&format!("server-{i:03}")).unwrap(),
                &format!("mcp/server-{i}"),
            );
            d.display_name = Some(format!("Server {i}"));
            d.description =
                Some("A server of the benchmark catalog with a realistic description.".into());
            d.category = Some(["devops", "database", "search", "productivity"][i % 4].into());
            d.env = (0..4)
                .map(|k| (format!("VAR_{k}"), format!("value-{i}-{k}")))
                .collect();
            d.command = vec!["--flag".into(), format!("--id={i}")];
            d.volumes = vec![format!("{{USER_DATA}}/server-{i}:/data")];
            if i % 10 == 0 {
                d.visibility.roles = vec![Label::parse("admin").unwrap()];
            }
            d
        })
        .collect();
    Catalog {
        version: "1.0.0".into(),
        name: Some("bench".into()),
        source: None,
        metadata: Default::default(),
        servers,
    }
}

fn overlay() -> Overlay {
    let servers = (0..50)
        .map(|i| {
            let serde_json::Value::Object(fields) =
                json!({"tag": "dev", "env": {"VAR_0": "overridden", "LOG_LEVEL": "debug"}})
            else {
                unreachable!()
            };
            ServerPatch {
                id: ServerId::parse(&format!("server-{:03}", i * 10)).unwrap(),
                fields,
            }
        })
        .collect();
    Overlay {
        description: None,
        applies_to: Visibility::default(),
        servers,
    }
}

fn users() -> Vec<(UserProfile, Vec<ServerDef>)> {
    (0..100)
        .map(|u| {
            let profile = UserProfile {
                id: UserId::parse(&format!("user-{u:03}")).unwrap(),
                roles: if u % 5 == 0 {
                    vec![Label::parse("admin").unwrap()]
                } else {
                    Vec::new()
                },
                organization: None,
            };
            let custom = (0..5)
                .map(|c| {
                    ServerDef::new(
                        ServerId::parse(&format!("custom-{c}")).unwrap(),
                        &format!("me/custom-{u}-{c}"),
                    )
                })
                .collect();
            (profile, custom)
        })
        .collect()
}

fn bench_merge(c: &mut Criterion) {
    let base = base();
    let overlay = overlay();
    let users = users();
    let base_name = CatalogName::parse("bench").unwrap();
    let ov_name = CatalogName::parse("dev").unwrap();
    let bases = [BaseLayer {
        name: &base_name,
        revision: 1,
        catalog: &base,
    }];
    let overlays = [OverlayLayer {
        name: &ov_name,
        overlay: &overlay,
    }];
    let policy = Policy::default();
    c.bench_function("merge_all 100 users x 500 servers", |b| {
        b.iter(|| {
            let out: BTreeMap<_, _> = merge_all(
                &bases,
                &overlays,
                users.iter().map(|(p, c)| (p, &c[..])),
                &policy,
            );
            assert_eq!(out.len(), 100);
            out
        })
    });
}

fn bench_regenerate(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let portal =
        Portal::open(Config::from_lookup(dir.path().to_path_buf(), |_| None).unwrap()).unwrap();
    let catalog = serde_json::to_vec(
        &json!({"name": "bench", "version": "1.0.0", "servers": base().servers}),
    )
    .unwrap();
    portal.upload_catalog("bench.json", &catalog, None).unwrap();
    let ov = serde_json::to_vec(&json!({"servers": overlay().servers.iter().map(|p| {
        let mut m = p.fields.clone();
        m.insert("id".into(), json!(p.id));
        m
    }).collect::<Vec<_>>()}))
    .unwrap();
    portal
        .upload_overlay("dev.json", &ov, CatalogName::parse("dev").unwrap())
        .unwrap();
    for (profile, custom) in users() {
        portal
            .add_user(profile.id.clone(), profile.roles.clone(), None)
            .unwrap();
        let file = serde_json::to_vec(&json!({"servers": custom})).unwrap();
        portal
            .add_custom(&profile.id, "custom.json", &file)
            .unwrap();
    }
    let mut group = c.benchmark_group("regenerate_all");
    group.sample_size(10);
    group.bench_function("100 users x 500 servers, with data folder I/O", |b| {
        b.iter(|| {
            let r = portal.regenerate(None, true).unwrap();
            assert_eq!(r.regenerated.len(), 100);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_merge, bench_regenerate);
criterion_main!(benches);
