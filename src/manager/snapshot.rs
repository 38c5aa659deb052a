//! A consistent read of every merge input, taken under the data folder's lock, and the
//! check that a proposed change still merges cleanly for every user.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::servers::unknown_user;
use super::{Portal, PortalError};
use crate::catalog::merge::{layer, merge_all, BaseLayer, OverlayLayer, UserCatalog};
use crate::catalog::model::ServerDef;
use crate::catalog::report::{Diagnostic, Diagnostics, Invalid, Severity};
use crate::catalog::validate::Policy;
use crate::ids::{CatalogName, UserId};
use crate::store::{
    Loaded, Store, StoreError, StoredCatalog, StoredCustom, StoredOverlay, StoredUser,
};

#[derive(Debug, Clone)]
pub(super) struct UserInputs {
    pub user: Loaded<StoredUser>,
    pub custom: Option<Loaded<StoredCustom>>,
}

impl UserInputs {
    pub fn custom_servers(&self) -> &[ServerDef] {
        self.custom.as_ref().map_or(&[], |c| &c.value.servers)
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    pub bases: BTreeMap<CatalogName, Loaded<StoredCatalog>>,
    pub overlays: BTreeMap<CatalogName, Loaded<StoredOverlay>>,
    pub users: BTreeMap<UserId, UserInputs>,
    /// Users whose profile or custom servers cannot be read, with what is wrong (paths
    /// relative to the data folder): left out, so that they affect no one but themselves.
    pub damaged: BTreeMap<UserId, String>,
}

impl Snapshot {
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let mut s = Snapshot::default();
        for name in store.base_names()? {
            if let Some(rev) = store.current_revision(&name)? {
                if let Some(loaded) = store.read_base(&name, rev)? {
                    s.bases.insert(name, loaded);
                }
            }
        }
        for name in store.overlay_names()? {
            if let Some(loaded) = store.read_overlay(&name)? {
                s.overlays.insert(name, loaded);
            }
        }
        for id in store.user_ids()? {
            let inputs = store.read_user(&id).and_then(|user| {
                let custom = store.read_custom(&id)?;
                Ok(user.map(|user| UserInputs { user, custom }))
            });
            match inputs {
                Ok(Some(inputs)) => {
                    s.users.insert(id, inputs);
                }
                Ok(None) => {}
                Err(e) => {
                    s.damaged.insert(id, store.describe(&e));
                }
            }
        }
        Ok(s)
    }

    /// Why `user` is not in the snapshot: damaged, or no such user.
    pub fn missing(&self, user: &UserId) -> PortalError {
        match self.damaged.get(user) {
            Some(detail) => PortalError::UserDamaged {
                user: user.clone(),
                detail: detail.clone(),
            },
            None => unknown_user(user),
        }
    }

    /// One warning per damaged user (among `only`, or all), for the admin's answers: the
    /// change went ahead without them.
    pub fn damaged_warnings(&self, only: Option<&UserId>) -> Vec<Diagnostic> {
        self.damaged
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o == *id))
            .map(|(id, detail)| Diagnostic {
                severity: Severity::Warning,
                file: format!("user {id}"),
                server: None,
                field: None,
                message: format!("left out: {detail}; restore the file from a backup, or remove the user with `portalctl user rm {id}`"),
            })
            .collect()
    }

    fn layers(&self) -> (Vec<BaseLayer<'_>>, Vec<OverlayLayer<'_>>) {
        let bases = self
            .bases
            .iter()
            .map(|(name, l)| BaseLayer {
                name,
                revision: l.value.revision,
                catalog: &l.value.catalog,
            })
            .collect();
        let overlays = self
            .overlays
            .iter()
            .map(|(name, l)| OverlayLayer {
                name,
                overlay: &l.value.overlay,
            })
            .collect();
        (bases, overlays)
    }

    /// Merges for the given users (all when `only` is None).
    pub fn merge(&self, only: Option<&UserId>, policy: &Policy) -> BTreeMap<UserId, UserCatalog> {
        let (bases, overlays) = self.layers();
        let users = self
            .users
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o == *id))
            .map(|(_, u)| (&u.user.value.profile, u.custom_servers()));
        merge_all(&bases, &overlays, users, policy)
    }

    /// Every error and warning of this state, once each: of the merge of every overlay
    /// at once, and of each user's merge (of `only`, or all).
    fn problems(&self, policy: &Policy, only: Option<&UserId>) -> Vec<Diagnostic> {
        let (bases, overlays) = self.layers();
        let mut every_overlay = Diagnostics::new();
        layer(&bases, &overlays, policy, &mut every_overlay);
        let mut found: Vec<Diagnostic> = every_overlay.iter().cloned().collect();
        for c in self.merge(only, policy).into_values() {
            found.extend(c.warnings);
            found.extend(c.errors);
        }
        let mut seen = BTreeSet::new();
        found.retain(|d| seen.insert(d.to_string()));
        found
    }

    /// What a user's merged catalog depends on; the cache is valid while this is unchanged.
    pub fn inputs_digest(&self, user: &UserInputs, policy: &Policy) -> String {
        let mut h = Sha256::new();
        let mut part = |tag: &str, value: &str| {
            h.update(tag.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        };
        part("portal", env!("CARGO_PKG_VERSION"));
        part("policy", &policy.host_paths.allowed.join(","));
        for (name, l) in &self.bases {
            part("base", name.as_str());
            part("sha", &l.sha256);
        }
        for (name, l) in &self.overlays {
            if l.value.overlay.applies_to.admits(&user.user.value.profile) {
                part("overlay", name.as_str());
                part("sha", &l.sha256);
            }
        }
        part("user", &user.user.sha256);
        part(
            "custom",
            user.custom.as_ref().map_or("", |c| c.sha256.as_str()),
        );
        hex::encode(h.finalize())
    }
}

impl Portal {
    /// Refuses a proposed state that brings errors of its own to any user's merge (of
    /// `only`, or all) or to the merge of every overlay at once; returns the warnings
    /// otherwise. An error the stored state has already is not this change's doing: it
    /// stays a warning, as the merge already leaves its server out, so one input that
    /// became invalid does not block every later change.
    pub(super) fn check_change(
        &self,
        proposed: &Snapshot,
        file: &str,
        only: Option<&UserId>,
    ) -> Result<Vec<Diagnostic>, PortalError> {
        let policy = self.config.limits().policy;
        let found = proposed.problems(&policy, only);
        let is_error = |d: &Diagnostic| d.severity == Severity::Error;
        if !found.iter().any(is_error) {
            return Ok(found);
        }
        // The caller holds the lock and has stored nothing yet: this is the state before.
        let known: BTreeSet<String> = Snapshot::load(&self.store)?
            .problems(&policy, only)
            .iter()
            .filter(|d| is_error(d))
            .map(ToString::to_string)
            .collect();
        let mut all = Diagnostics::new();
        for d in found {
            let (severity, message) = if is_error(&d) && known.contains(&d.to_string()) {
                let note =
                    "already so before this change; the server is left out until it is fixed";
                (Severity::Warning, format!("{} ({note})", d.message))
            } else {
                (d.severity, d.message)
            };
            all.push(
                severity,
                &d.file,
                d.server.as_deref(),
                d.field.as_deref(),
                message,
            );
        }
        if all.has_errors() {
            return Err(Invalid {
                file: file.to_string(),
                diagnostics: all,
            }
            .into());
        }
        Ok(all.into_warnings())
    }
}
