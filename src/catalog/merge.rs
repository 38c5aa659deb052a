//! Merging base catalogs -> overlays -> a user's custom servers into the user's server
//! definitions (seed 004). Pure and deterministic: layers are applied in name order, so
//! the order files were found in never changes the result.
//!
//! An overlay entry is a JSON merge patch (RFC 7396) over the definition: maps merge by
//! key, lists and scalars replace, `null` removes a field. A custom server with the same
//! id replaces the merged one whole.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::model::{Catalog, Overlay, ServerDef, ServerPatch, UserProfile};
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::{image_ref, validate_server, Policy};
use crate::ids::{CatalogName, ServerId, UserId};

/// RFC 7396: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = strip_nulls(p),
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where a merged definition came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlays: Vec<CatalogName>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRef {
    pub name: CatalogName,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    pub revision: u32,
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.custom {
            return f.write_str("custom");
        }
        let mut parts = Vec::new();
        if let Some(b) = &self.base {
            let version = if b.version.is_empty() {
                String::new()
            } else {
                format!("@{}", b.version)
            };
            parts.push(format!("{}{version} r{}", b.name, b.revision));
        }
        parts.extend(self.overlays.iter().map(|o| format!("+{o}")));
        f.write_str(&parts.join(" "))
    }
}

/// A definition ready for a user: `image` is the full reference (tag folded in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedServer {
    #[serde(flatten)]
    pub def: ServerDef,
    pub source: Provenance,
}

impl MergedServer {
    /// Whether the server is of `category`, compared case-insensitively.
    pub fn in_category(&self, category: &str) -> bool {
        self.def
            .category
            .as_ref()
            .is_some_and(|c| c.eq_ignore_ascii_case(category))
    }
}

/// A stored base catalog as the merge sees it.
#[derive(Debug, Clone, Copy)]
pub struct BaseLayer<'a> {
    pub name: &'a CatalogName,
    pub revision: u32,
    pub catalog: &'a Catalog,
}

#[derive(Debug, Clone, Copy)]
pub struct OverlayLayer<'a> {
    pub name: &'a CatalogName,
    pub overlay: &'a Overlay,
}

pub type Layered = BTreeMap<ServerId, Arc<MergedServer>>;

fn pin_image(mut def: ServerDef) -> Result<ServerDef, String> {
    def.image = image_ref(&def)?.to_string();
    def.tag = None;
    Ok(def)
}

fn apply_patch(
    existing: Option<&MergedServer>,
    patch: &ServerPatch,
    layer: &CatalogName,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<MergedServer> {
    let file = format!("overlay {layer}");
    let id = patch.id.as_str();
    let mut value = match existing {
        // A ServerDef always serializes: its fields are strings, numbers and maps with string keys.
        Some(m) => serde_json::to_value(&m.def).unwrap_or(Value::Null),
        None => serde_json::json!({ "id": id }),
    };
    merge_patch(&mut value, &Value::Object(patch.fields.clone()));
    let def: ServerDef = match serde_path_to_error::deserialize(value) {
        Ok(def) => def,
        Err(_) if existing.is_none() => {
            // Removing a base catalog must not break the overlays written for it.
            d.warning(
                &file,
                Some(id),
                None,
                "changes a server that no base catalog defines; entry ignored",
            );
            return None;
        }
        Err(e) => {
            d.error(
                &file,
                Some(id),
                Some(&e.path().to_string()),
                e.into_inner().to_string(),
            );
            return None;
        }
    };
    let before = d.errors().count();
    validate_server(&def, policy, &file, d);
    if d.errors().count() > before {
        return None;
    }
    let mut source = existing.map(|m| m.source.clone()).unwrap_or(Provenance {
        base: None,
        overlays: Vec::new(),
        custom: false,
    });
    source.overlays.push(layer.clone());
    match pin_image(def) {
        Ok(def) => Some(MergedServer { def, source }),
        Err(e) => {
            d.error(&file, Some(id), Some("image"), e);
            None
        }
    }
}

/// Base catalogs then overlays, before visibility and custom servers. Problems go to `d`;
/// the result is usable only when `d` holds no errors.
pub fn layer(
    bases: &[BaseLayer<'_>],
    overlays: &[OverlayLayer<'_>],
    policy: &Policy,
    d: &mut Diagnostics,
) -> Layered {
    let mut bases: Vec<&BaseLayer<'_>> = bases.iter().collect();
    bases.sort_by(|a, b| a.name.cmp(b.name));
    let mut overlays: Vec<&OverlayLayer<'_>> = overlays.iter().collect();
    overlays.sort_by(|a, b| a.name.cmp(b.name));

    let mut out: Layered = BTreeMap::new();
    for b in bases {
        for def in &b.catalog.servers {
            let source = Provenance {
                base: Some(BaseRef {
                    name: b.name.clone(),
                    version: b.catalog.version.clone(),
                    revision: b.revision,
                }),
                overlays: Vec::new(),
                custom: false,
            };
            match pin_image(def.clone()) {
                Ok(def) => {
                    out.insert(def.id.clone(), Arc::new(MergedServer { def, source }));
                }
                Err(e) => d.error(
                    &format!("catalog {}", b.name),
                    Some(def.id.as_str()),
                    Some("image"),
                    e,
                ),
            }
        }
    }
    for o in overlays {
        for patch in &o.overlay.servers {
            let existing = out.get(&patch.id).map(Arc::as_ref);
            if let Some(m) = apply_patch(existing, patch, o.name, policy, d) {
                out.insert(patch.id.clone(), Arc::new(m));
            }
        }
    }
    out
}

/// One user's merged servers, sorted by id, with what the merge could not honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCatalog {
    pub servers: Vec<Arc<MergedServer>>,
    pub warnings: Vec<crate::catalog::report::Diagnostic>,
}

/// What one user sees: visible layered servers, with their custom servers on top.
pub fn for_user(
    layered: &Layered,
    user: &UserProfile,
    custom: &[ServerDef],
) -> Result<Vec<Arc<MergedServer>>, Diagnostics> {
    let mut d = Diagnostics::new();
    let mut out: BTreeMap<ServerId, Arc<MergedServer>> = layered
        .iter()
        .filter(|(_, m)| m.def.visibility.admits(user))
        .map(|(id, m)| (id.clone(), Arc::clone(m)))
        .collect();
    for def in custom {
        let source = Provenance {
            base: None,
            overlays: Vec::new(),
            custom: true,
        };
        match pin_image(def.clone()) {
            Ok(def) => {
                out.insert(def.id.clone(), Arc::new(MergedServer { def, source }));
            }
            Err(e) => d.error(
                &format!("custom servers of {}", user.id),
                Some(def.id.as_str()),
                Some("image"),
                e,
            ),
        }
    }
    if d.has_errors() {
        return Err(d);
    }
    Ok(out.into_values().collect())
}

fn applicable<'a>(overlays: &[OverlayLayer<'a>], user: &UserProfile) -> Vec<usize> {
    overlays
        .iter()
        .enumerate()
        .filter(|(_, o)| o.overlay.applies_to.admits(user))
        .map(|(i, _)| i)
        .collect()
}

/// One user's merged servers.
pub fn merge_user(
    bases: &[BaseLayer<'_>],
    overlays: &[OverlayLayer<'_>],
    user: &UserProfile,
    custom: &[ServerDef],
    policy: &Policy,
) -> Result<UserCatalog, Diagnostics> {
    let mut all = merge_all(bases, overlays, [(user, custom)], policy);
    // merge_all answers for every user it is given, and it was given this one.
    all.remove(&user.id)
        .unwrap_or_else(|| Err(Diagnostics::new()))
}

/// Every user's merged servers; users that see the same overlays share one layering pass.
pub fn merge_all<'u>(
    bases: &[BaseLayer<'_>],
    overlays: &[OverlayLayer<'_>],
    users: impl IntoIterator<Item = (&'u UserProfile, &'u [ServerDef])>,
    policy: &Policy,
) -> BTreeMap<UserId, Result<UserCatalog, Diagnostics>> {
    let mut memo: BTreeMap<Vec<usize>, (Layered, Diagnostics)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (user, custom) in users {
        let key = applicable(overlays, user);
        let (layered, d) = memo.entry(key.clone()).or_insert_with(|| {
            let chosen: Vec<OverlayLayer<'_>> = key.iter().map(|&i| overlays[i]).collect();
            let mut d = Diagnostics::new();
            let layered = layer(bases, &chosen, policy, &mut d);
            (layered, d)
        });
        let result = if d.has_errors() {
            Err(d.clone())
        } else {
            for_user(layered, user, custom).map(|servers| UserCatalog {
                servers,
                warnings: d.clone().into_warnings(),
            })
        };
        out.insert(user.id.clone(), result);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::Visibility;
    use crate::ids::Label;
    use serde_json::json;

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
        let merged =
            merge_user(&bases, &overlays, &user("u1", &[]), &[], &Policy::default()).unwrap();
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
        .unwrap()
        .servers;
        assert_eq!(merged[0].def.env.keys().collect::<Vec<_>>(), ["B"]);
        assert!(merged[0].def.command.is_empty());
    }

    #[test]
    fn an_overlay_that_breaks_a_definition_is_reported() {
        let base = catalog(vec![server("github")]);
        let o = overlay(vec![
            patch("github", json!({"transport": "sse"})),
            patch("newone", json!({"tag": "x"})),
        ]);
        let err = merge_user(
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
        )
        .unwrap_err();
        let errs: Vec<String> = err.errors().map(ToString::to_string).collect();
        assert_eq!(errs, ["overlay dev: server github: port: transport sse needs the container port the server listens on"]);
        let warnings: Vec<String> = err.warnings().map(ToString::to_string).collect();
        assert_eq!(warnings, ["overlay dev: server newone: changes a server that no base catalog defines; entry ignored"]);
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
        .unwrap()
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
        .unwrap();
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
        assert_eq!(
            all[&u1.id].as_ref().unwrap().servers[0].def.image,
            "mcp/github:beta"
        );
        assert_eq!(
            all[&u2.id].as_ref().unwrap().servers[0].def.image,
            "mcp/github:latest"
        );
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
            let m = merge_user(bases, &[], &user("u1", &[]), &[], &Policy::default()).unwrap();
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
        .unwrap()
        .servers;
        let text = serde_json::to_string(&*m[0]).unwrap();
        assert!(
            text.contains("\"source\":{\"base\":{\"name\":\"b\""),
            "{text}"
        );
        let back: MergedServer = serde_json::from_str(&text).unwrap();
        assert_eq!(back, *m[0]);
    }
}
