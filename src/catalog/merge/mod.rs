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
use crate::catalog::report::{Diagnostic, Diagnostics, Severity};
use crate::catalog::validate::Policy;
use crate::ids::UserId;

/// One user's merged servers, sorted by id, with what the merge could not honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCatalog {
    pub servers: Vec<Arc<MergedServer>>,
    pub warnings: Vec<Diagnostic>,
    /// What made a server unusable; each such server is left out of `servers`. A change
    /// that brings one is refused before it is stored, but an input that became invalid
    /// later (a narrower setting, a stricter version) costs only the servers it breaks.
    pub errors: Vec<Diagnostic>,
}

impl UserCatalog {
    /// The warnings to show the user: the merge's, then each error as a warning that the
    /// server it names is left out.
    pub fn served_warnings(&self) -> Vec<Diagnostic> {
        let left_out = self.errors.iter().map(|e| Diagnostic {
            severity: Severity::Warning,
            message: format!("{}; the server is left out until this is fixed", e.message),
            ..e.clone()
        });
        self.warnings.iter().cloned().chain(left_out).collect()
    }
}

/// One user's merged servers.
pub fn merge_user(
    bases: &[BaseLayer<'_>],
    overlays: &[OverlayLayer<'_>],
    user: &UserProfile,
    custom: &[ServerDef],
    policy: &Policy,
) -> UserCatalog {
    let mut all = merge_all(bases, overlays, [(user, custom)], policy);
    // merge_all answers for every user it is given, and it was given this one.
    all.remove(&user.id).unwrap_or(UserCatalog {
        servers: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    })
}

/// Every user's merged servers; users that see the same overlays share one layering pass.
pub fn merge_all<'u>(
    bases: &[BaseLayer<'_>],
    overlays: &[OverlayLayer<'_>],
    users: impl IntoIterator<Item = (&'u UserProfile, &'u [ServerDef])>,
    policy: &Policy,
) -> BTreeMap<UserId, UserCatalog> {
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
        let (servers, own) = for_user(layered, user, custom);
        let errors = d.errors().chain(own.errors()).cloned().collect();
        out.insert(
            user.id.clone(),
            UserCatalog {
                servers,
                warnings: d.warnings().cloned().collect(),
                errors,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests;
