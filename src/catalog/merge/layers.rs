//! Base catalogs, then overlays, laid over one another in name order into [`Layered`]
//! definitions shared by every user who sees the same overlays.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::patch::merge_patch;
use super::provenance::{pin_image, BaseRef, MergedServer, Provenance};
use crate::catalog::model::{Catalog, Overlay, ServerDef, ServerPatch};
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::{validate_server, Policy};
use crate::ids::{CatalogName, ServerId};

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

/// The definition `patch` makes of `existing`, or `None` (reported to `d`) when it does
/// not read back as one.
fn patched_def(
    existing: Option<&MergedServer>,
    patch: &ServerPatch,
    file: &str,
    d: &mut Diagnostics,
) -> Option<ServerDef> {
    let id = patch.id.as_str();
    let mut value = match existing {
        // A ServerDef always serializes: its fields are strings, numbers and maps with string keys.
        Some(m) => serde_json::to_value(&m.def).unwrap_or(Value::Null),
        None => serde_json::json!({ "id": id }),
    };
    merge_patch(&mut value, &Value::Object(patch.fields.clone()));
    match serde_path_to_error::deserialize(value) {
        Ok(def) => Some(def),
        Err(_) if existing.is_none() => {
            // Removing a base catalog must not break the overlays written for it.
            d.warning(
                file,
                Some(id),
                None,
                "changes a server that no base catalog defines; entry ignored",
            );
            None
        }
        Err(e) => {
            d.error(
                file,
                Some(id),
                Some(&e.path().to_string()),
                e.into_inner().to_string(),
            );
            None
        }
    }
}

fn apply_patch(
    existing: Option<&MergedServer>,
    patch: &ServerPatch,
    layer: &CatalogName,
    policy: &Policy,
    d: &mut Diagnostics,
) -> Option<MergedServer> {
    let file = format!("overlay {layer}");
    let def = patched_def(existing, patch, &file, d)?;
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
            d.error(&file, Some(patch.id.as_str()), Some("image"), e);
            None
        }
    }
}

fn add_base(b: &BaseLayer<'_>, out: &mut Layered, d: &mut Diagnostics) {
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
            Err(e) => {
                out.remove(&def.id);
                d.error(
                    &format!("catalog {}", b.name),
                    Some(def.id.as_str()),
                    Some("image"),
                    e,
                );
            }
        }
    }
}

/// Base catalogs then overlays, before visibility and custom servers. Problems go to `d`;
/// a server an error is about is left out of the result.
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
        add_base(b, &mut out, d);
    }
    for o in overlays {
        for patch in &o.overlay.servers {
            let existing = out.get(&patch.id).map(Arc::as_ref);
            let before = d.errors().count();
            match apply_patch(existing, patch, o.name, policy, d) {
                Some(m) => {
                    out.insert(patch.id.clone(), Arc::new(m));
                }
                // The server without the overlay's change would run what the overlay
                // meant to change (its limits, its mounts): it goes, alone.
                None if d.errors().count() > before => {
                    out.remove(&patch.id);
                }
                None => {}
            }
        }
    }
    out
}
