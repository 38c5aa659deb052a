//! Merging base catalogs -> overlays -> a user's custom servers into the user's server
//! definitions (seed 004). Pure and deterministic: layers are applied in name order, so
//! the order files were found in never changes the result.
//!
//! An overlay entry is a JSON merge patch (RFC 7396) over the definition: maps merge by
//! key, lists and scalars replace, `null` removes a field. A custom server with the same
//! id replaces the merged one whole.
//!
//! This module owns the whole merge for a user; `layers` lays catalogs and overlays,
//! `visibility` picks what one user sees, `provenance` records where a definition came
//! from, and `patch` is the merge-patch rule itself.

mod layers;
mod patch;
mod provenance;
mod visibility;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use layers::{layer, BaseLayer, Layered, OverlayLayer};
pub use patch::merge_patch;
pub use provenance::{BaseRef, MergedServer, Provenance};
pub use visibility::for_user;

use crate::catalog::model::{ServerDef, UserProfile};
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::Policy;
use crate::ids::UserId;

/// One user's merged servers, sorted by id, with what the merge could not honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCatalog {
    pub servers: Vec<Arc<MergedServer>>,
    pub warnings: Vec<crate::catalog::report::Diagnostic>,
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
        let key = visibility::applicable(overlays, user);
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
mod tests;
