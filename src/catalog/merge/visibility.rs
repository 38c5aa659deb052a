//! Per-user selection: which overlays apply to a user, which layered servers the user may
//! see, and the user's own custom servers laid on top.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::layers::{Layered, OverlayLayer};
use super::provenance::{pin_image, MergedServer, Provenance};
use crate::catalog::model::{ServerDef, UserProfile};
use crate::catalog::report::Diagnostics;
use crate::ids::ServerId;

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
