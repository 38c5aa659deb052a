#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Property tests of the merge (pure, no Docker, no files): the laws seed 004's merge
//! must keep, over generated catalogs, overlays and custom servers.

use std::collections::BTreeMap;

use mcp_portal::catalog::merge::{merge_user, BaseLayer, OverlayLayer};
use mcp_portal::catalog::model::{
    Catalog, Overlay, ServerDef, ServerPatch, UserProfile, Visibility,
};
use mcp_portal::catalog::validate::Policy;
use mcp_portal::ids::{CatalogName, Label, ServerId, UserId};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const IDS: &[&str] = &["github", "time", "sqlite", "echo", "fetch", "notion"];

fn server() -> impl Strategy<Value = ServerDef> {
    (
        prop::sample::select(IDS),
        prop::sample::select(&["mcp/a", "mcp/b", "ghcr.io/x/y"][..]),
        prop::option::of(prop::sample::select(&["v1", "v2", "dev"][..])),
        prop::collection::btree_map("[A-E]", "[a-z]{0,3}", 0..4),
        prop::collection::vec("--[a-z]{1,3}", 0..3),
        any::<bool>(),
    )
        .prop_map(|(id, image, tag, env, command, admin_only)| {
            let mut d = ServerDef::new(ServerId::parse(id).unwrap(), image);
            d.tag = tag.map(str::to_string);
            d.env = env;
            d.command = command;
            if admin_only {
                d.visibility.roles = vec![Label::parse("admin").unwrap()];
            }
            d
        })
}

fn catalog() -> impl Strategy<Value = Catalog> {
    prop::collection::vec(server(), 0..6).prop_map(|servers| {
        let mut by_id: BTreeMap<ServerId, ServerDef> = BTreeMap::new();
        for s in servers {
            by_id.insert(s.id.clone(), s);
        }
        Catalog {
            version: "1".into(),
            name: None,
            source: None,
            metadata: Default::default(),
            servers: by_id.into_values().collect(),
        }
    })
}

fn patch() -> impl Strategy<Value = ServerPatch> {
    (
        prop::sample::select(IDS),
        prop::option::of(prop::sample::select(&["v3", "beta"][..])),
        prop::collection::btree_map("[A-E]", prop::option::of("[a-z]{1,3}"), 0..3),
    )
        .prop_map(|(id, tag, env)| {
            let mut fields = Map::new();
            if let Some(tag) = tag {
                fields.insert("tag".into(), json!(tag));
            }
            if !env.is_empty() {
                let env: Map<String, Value> = env
                    .into_iter()
                    .map(|(k, v)| (k, v.map_or(Value::Null, Value::String)))
                    .collect();
                fields.insert("env".into(), Value::Object(env));
            }
            ServerPatch {
                id: ServerId::parse(id).unwrap(),
                fields,
            }
        })
}

fn overlay() -> impl Strategy<Value = Overlay> {
    prop::collection::vec(patch(), 0..4).prop_map(|patches| {
        let mut by_id: BTreeMap<ServerId, ServerPatch> = BTreeMap::new();
        for p in patches {
            by_id.insert(p.id.clone(), p);
        }
        Overlay {
            description: None,
            applies_to: Visibility::default(),
            servers: by_id.into_values().collect(),
        }
    })
}

fn user(admin: bool) -> UserProfile {
    UserProfile {
        id: UserId::parse("u1").unwrap(),
        roles: if admin {
            vec![Label::parse("admin").unwrap()]
        } else {
            Vec::new()
        },
        organization: None,
    }
}

fn names(prefix: &str, n: usize) -> Vec<CatalogName> {
    (0..n)
        .map(|i| CatalogName::parse(&format!("{prefix}{i}")).unwrap())
        .collect()
}

fn render(
    bases: &[(CatalogName, Catalog)],
    overlays: &[(CatalogName, Overlay)],
    custom: &[ServerDef],
    admin: bool,
) -> String {
    let b: Vec<BaseLayer<'_>> = bases
        .iter()
        .map(|(n, c)| BaseLayer {
            name: n,
            revision: 1,
            catalog: c,
        })
        .collect();
    let o: Vec<OverlayLayer<'_>> = overlays
        .iter()
        .map(|(n, o)| OverlayLayer {
            name: n,
            overlay: o,
        })
        .collect();
    let merged = merge_user(&b, &o, &user(admin), custom, &Policy::default());
    assert!(merged.errors.is_empty(), "generated inputs are valid");
    let servers: Vec<_> = merged.servers.iter().map(|s| &**s).collect();
    serde_json::to_string(&servers).unwrap()
}

proptest! {
    #[test]
    fn file_order_does_not_change_the_result(
        cats in prop::collection::vec(catalog(), 1..4),
        ovs in prop::collection::vec(overlay(), 0..3),
        admin in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let bases: Vec<_> = names("base", cats.len()).into_iter().zip(cats).collect();
        let overlays: Vec<_> = names("ov", ovs.len()).into_iter().zip(ovs).collect();
        let expected = render(&bases, &overlays, &[], admin);
        let mut shuffled_b = bases.clone();
        let mut shuffled_o = overlays.clone();
        // A deterministic shuffle from the seed: rotate and reverse.
        let rb = (seed as usize) % shuffled_b.len();
        shuffled_b.rotate_left(rb);
        if seed & 1 == 1 { shuffled_b.reverse(); shuffled_o.reverse(); }
        prop_assert_eq!(render(&shuffled_b, &shuffled_o, &[], admin), expected);
    }

    #[test]
    fn an_empty_overlay_changes_nothing(cat in catalog(), admin in any::<bool>()) {
        let bases = vec![(CatalogName::parse("base").unwrap(), cat)];
        let empty = vec![(CatalogName::parse("empty").unwrap(), Overlay { description: None, applies_to: Visibility::default(), servers: vec![] })];
        prop_assert_eq!(render(&bases, &empty, &[], admin), render(&bases, &[], &[], admin));
    }

    #[test]
    fn custom_servers_always_win(
        cat in catalog(),
        ov in overlay(),
        custom in prop::collection::vec(server(), 1..4),
        admin in any::<bool>(),
    ) {
        let mut custom_by_id: BTreeMap<ServerId, ServerDef> = BTreeMap::new();
        for s in custom { custom_by_id.insert(s.id.clone(), s); }
        let custom: Vec<ServerDef> = custom_by_id.into_values().collect();
        let bases = [(CatalogName::parse("base").unwrap(), cat)];
        let overlays = [(CatalogName::parse("ov").unwrap(), ov)];
        let b: Vec<BaseLayer<'_>> = bases.iter().map(|(n, c)| BaseLayer { name: n, revision: 1, catalog: c }).collect();
        let o: Vec<OverlayLayer<'_>> = overlays.iter().map(|(n, o)| OverlayLayer { name: n, overlay: o }).collect();
        let merged = merge_user(&b, &o, &user(admin), &custom, &Policy::default());
        for c in &custom {
            let got = merged.servers.iter().find(|s| s.def.id == c.id).expect("custom server present, whatever its visibility");
            prop_assert!(got.source.custom);
            prop_assert_eq!(&got.def.env, &c.env);
            prop_assert_eq!(&got.def.command, &c.command);
        }
    }

    #[test]
    fn an_overlay_changes_only_the_fields_it_names(cat in catalog(), p in patch()) {
        prop_assume!(cat.servers.iter().any(|s| s.id == p.id));
        let bases = [(CatalogName::parse("base").unwrap(), cat.clone())];
        let ov = Overlay { description: None, applies_to: Visibility::default(), servers: vec![p.clone()] };
        let overlays = [(CatalogName::parse("ov").unwrap(), ov)];
        let b: Vec<BaseLayer<'_>> = bases.iter().map(|(n, c)| BaseLayer { name: n, revision: 1, catalog: c }).collect();
        let o: Vec<OverlayLayer<'_>> = overlays.iter().map(|(n, o)| OverlayLayer { name: n, overlay: o }).collect();
        let merged = merge_user(&b, &o, &user(true), &[], &Policy::default());
        let before = cat.servers.iter().find(|s| s.id == p.id).unwrap();
        let after = &merged.servers.iter().find(|s| s.def.id == p.id).unwrap().def;
        prop_assert_eq!(&after.command, &before.command);
        prop_assert_eq!(&after.visibility, &before.visibility);
        let patched_env = p.fields.get("env").and_then(Value::as_object);
        for (k, v) in &before.env {
            match patched_env.and_then(|e| e.get(k)) {
                None => prop_assert_eq!(after.env.get(k), Some(v)),
                Some(Value::Null) => prop_assert!(!after.env.contains_key(k)),
                Some(new) => prop_assert_eq!(after.env.get(k).map(String::as_str), new.as_str()),
            }
        }
        if !p.fields.contains_key("tag") {
            let expected_tag = before.tag.clone().unwrap_or_else(|| "latest".into());
            prop_assert!(after.image.ends_with(&format!(":{expected_tag}")), "{} {:?}", after.image, before.tag);
        }
    }
}
