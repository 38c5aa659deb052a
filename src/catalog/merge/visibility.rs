//! Per-user selection: which overlays apply to a user, which layered servers the user may
//! see, and the user's own custom servers laid on top.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::layers::{Layered, OverlayLayer};
use super::provenance::{pin_image, MergedServer, Provenance};
use crate::catalog::model::{ServerDef, UserProfile};
use crate::catalog::report::Diagnostics;
use crate::ids::ServerId;

/// What one user sees: visible layered servers, with their custom servers on top. A
/// custom server that cannot be used is left out, and said in the diagnostics.
pub fn for_user(
    layered: &Layered,
    user: &UserProfile,
    custom: &[ServerDef],
) -> (Vec<Arc<MergedServer>>, Diagnostics) {
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
            Err(e) => {
                // Not the catalog's server of that id either: the user asked for their own.
                out.remove(&def.id);
                d.error(
                    &format!("custom servers of {}", user.id),
                    Some(def.id.as_str()),
                    Some("image"),
                    e,
                );
            }
        }
    }
    (out.into_values().collect(), d)
}

/// The indexes of the overlays that apply to `user`: users with the same set share a
/// layering pass.
pub(super) fn applicable(overlays: &[OverlayLayer<'_>], user: &UserProfile) -> Vec<usize> {
    overlays
        .iter()
        .enumerate()
        .filter(|(_, o)| o.overlay.applies_to.admits(user))
        .map(|(i, _)| i)
        .collect()
}
