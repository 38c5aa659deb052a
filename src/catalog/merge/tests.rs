//! Tests of the merge as a whole: patch rules, layer order, visibility, provenance.

use serde_json::{json, Value};

use super::*;
use crate::catalog::model::{Catalog, Overlay, ServerPatch, Visibility};
use crate::ids::{CatalogName, Label, ServerId};

fn id(s: &str) -> ServerId {
    ServerId::parse(s).unwrap()
}

fn name(s: &str) -> CatalogName {
    CatalogName::parse(s).unwrap()
}

fn server(s: &str) -> ServerDef {
    let mut d = ServerDef::new(id(s), &format!("mcp/{s}"));
    d.env.insert("A".into(), "1".into());
    d.env.insert("B".into(), "2".into());
    d.command = vec!["--x".into()];
    d
}

fn catalog(servers: Vec<ServerDef>) -> Catalog {
    Catalog {
        version: "1.0".into(),
        name: None,
        source: None,
        metadata: Default::default(),
        servers,
    }
}

fn patch(s: &str, fields: Value) -> ServerPatch {
    let Value::Object(fields) = fields else {
        panic!()
    };
    ServerPatch { id: id(s), fields }
}

fn overlay(patches: Vec<ServerPatch>) -> Overlay {
    Overlay {
        description: None,
        applies_to: Visibility::default(),
        servers: patches,
    }
}

/// A merge that must have found nothing wrong.
trait Clean {
    fn clean(self) -> UserCatalog;
}

impl Clean for UserCatalog {
    fn clean(self) -> UserCatalog {
        assert!(self.errors.is_empty(), "{:?}", self.errors);
        self
    }
}

fn user(u: &str, roles: &[&str]) -> UserProfile {
    UserProfile {
        id: UserId::parse(u).unwrap(),
        roles: roles.iter().map(|r| Label::parse(r).unwrap()).collect(),
        organization: None,
    }
}

#[test]
fn merge_patch_follows_rfc_7396() {
    let mut t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "s": "x"});
    merge_patch(
        &mut t,
        &json!({"a": {"b": 9, "c": null}, "l": [3], "n": {"k": null}}),
    );
    assert_eq!(t, json!({"a": {"b": 9}, "l": [3], "s": "x", "n": {}}));
}

#[test]
fn overlay_changes_only_the_fields_it_names() {
    let base = catalog(vec![server("github")]);
    let o = overlay(vec![patch(
        "github",
        json!({"tag": "dev", "env": {"B": "debug", "C": "3"}, "command": ["--y"]}),
    )]);
    let bases = [BaseLayer {
        name: &name("official"),
        revision: 2,
        catalog: &base,
    }];
    let overlays = [OverlayLayer {
        name: &name("dev"),
        overlay: &o,
    }];
    let merged = merge_user(&bases, &overlays, &user("u1", &[]), &[], &Policy::default()).clean();
    let gh = &merged.servers[0];
    assert_eq!(gh.def.image, "mcp/github:dev");
    let env: Vec<(&str, &str)> = gh
        .def
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [("A", "1"), ("B", "debug"), ("C", "3")],
        "maps merge by key"
    );
    assert_eq!(gh.def.command, ["--y"], "lists replace");
    assert_eq!(gh.source.to_string(), "official@1.0 r2 +dev");
}

#[test]
fn an_overlay_may_remove_a_field_with_null() {
    let base = catalog(vec![server("github")]);
    let o = overlay(vec![patch(
        "github",
        json!({"env": {"A": null}, "command": null}),
    )]);
    let merged = merge_user(
        &[BaseLayer {
            name: &name("b"),
            revision: 1,
            catalog: &base,
        }],
        &[OverlayLayer {
            name: &name("o"),
            overlay: &o,
        }],
        &user("u1", &[]),
        &[],
        &Policy::default(),
    )
    .clean()
    .servers;
    assert_eq!(merged[0].def.env.keys().collect::<Vec<_>>(), ["B"]);
    assert!(merged[0].def.command.is_empty());
}

#[test]
fn an_overlay_that_breaks_a_definition_drops_that_server_alone() {
    let base = catalog(vec![server("github"), server("time")]);
    let o = overlay(vec![
        patch("github", json!({"transport": "sse"})),
        patch("newone", json!({"tag": "x"})),
        patch("time", json!({"tag": "2"})),
    ]);
    let merged = merge_user(
        &[BaseLayer {
            name: &name("b"),
            revision: 1,
            catalog: &base,
        }],
        &[OverlayLayer {
            name: &name("dev"),
            overlay: &o,
        }],
        &user("u1", &[]),
        &[],
        &Policy::default(),
    );
    let errs: Vec<String> = merged.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errs, ["overlay dev: server github: port: transport sse needs the container port the server listens on"]);
    let warnings: Vec<String> = merged.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings, ["overlay dev: server newone: changes a server that no base catalog defines; entry ignored"]);
    let ids: Vec<&str> = merged.servers.iter().map(|s| s.def.id.as_str()).collect();
    assert_eq!(
        ids,
        ["time"],
        "github without the overlay's change was kept"
    );
    assert_eq!(merged.servers[0].def.image, "mcp/time:2");
    let shown: Vec<String> = merged
        .served_warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown[1].ends_with("listens on; the server is left out until this is fixed"),
        "{shown:?}"
    );
}

#[test]
fn custom_replaces_and_visibility_filters() {
    let mut secret = server("admin-tools");
    secret.visibility.roles = vec![Label::parse("admin").unwrap()];
    let base = catalog(vec![server("github"), secret]);
    let mut mine = ServerDef::new(id("github"), "me/github");
    mine.tag = Some("mine".into());
    let bases = [BaseLayer {
        name: &name("b"),
        revision: 1,
        catalog: &base,
    }];
    let plain = merge_user(
        &bases,
        &[],
        &user("u1", &[]),
        std::slice::from_ref(&mine),
        &Policy::default(),
    )
    .clean()
    .servers;
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].def.image, "me/github:mine");
    assert!(plain[0].source.custom);
    let admin = merge_user(
        &bases,
        &[],
        &user("u2", &["admin"]),
        &[],
        &Policy::default(),
    )
    .clean();
    assert_eq!(admin.servers.len(), 2);
}

#[test]
fn overlays_apply_only_to_the_users_they_name() {
    let base = catalog(vec![server("github")]);
    let mut o = overlay(vec![patch("github", json!({"tag": "beta"}))]);
    o.applies_to.roles = vec![Label::parse("beta").unwrap()];
    let bases = [BaseLayer {
        name: &name("b"),
        revision: 1,
        catalog: &base,
    }];
    let overlays = [OverlayLayer {
        name: &name("beta"),
        overlay: &o,
    }];
    let u1 = user("u1", &["beta"]);
    let u2 = user("u2", &[]);
    let all = merge_all(
        &bases,
        &overlays,
        [(&u1, &[][..]), (&u2, &[][..])],
        &Policy::default(),
    );
    assert_eq!(all[&u1.id].servers[0].def.image, "mcp/github:beta");
    assert_eq!(all[&u2.id].servers[0].def.image, "mcp/github:latest");
}

#[test]
fn later_base_catalog_by_name_wins_whatever_the_input_order() {
    let a = catalog(vec![ServerDef::new(id("x"), "mcp/from-a")]);
    let z = catalog(vec![ServerDef::new(id("x"), "mcp/from-z")]);
    let (na, nz) = (name("a"), name("z"));
    let one = [
        BaseLayer {
            name: &na,
            revision: 1,
            catalog: &a,
        },
        BaseLayer {
            name: &nz,
            revision: 1,
            catalog: &z,
        },
    ];
    let two = [one[1], one[0]];
    for bases in [&one[..], &two[..]] {
        let m = merge_user(bases, &[], &user("u1", &[]), &[], &Policy::default()).clean();
        assert_eq!(m.servers[0].def.image, "mcp/from-z:latest");
    }
}

#[test]
fn merged_servers_round_trip_through_json() {
    let base = catalog(vec![server("github")]);
    let m = merge_user(
        &[BaseLayer {
            name: &name("b"),
            revision: 1,
            catalog: &base,
        }],
        &[],
        &user("u1", &[]),
        &[],
        &Policy::default(),
    )
    .clean()
    .servers;
    let text = serde_json::to_string(&*m[0]).unwrap();
    assert!(
        text.contains("\"source\":{\"base\":{\"name\":\"b\""),
        "{text}"
    );
    let back: MergedServer = serde_json::from_str(&text).unwrap();
    assert_eq!(back, *m[0]);
}
