//! Reconciliation planning (pure): what should run (`Want`) against what runs (`Have`),
//! in, the actions that close the gap, out. Applying the actions and planning again
//! yields none, under either update policy; a property test holds the planner to that.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A container that should exist. `spec_hash` is `None` when it cannot be planned (a
/// missing secret, a server gone from the catalog): then nothing is done for it and
/// `error` says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub user: String,
    pub server: String,
    pub spec_hash: Option<String>,
    pub error: Option<String>,
}

/// A managed container as Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Have {
    pub user: String,
    pub server: String,
    pub spec_hash: String,
    pub running: bool,
    /// Already shown as outdated: a `MarkOutdated` for it was applied.
    pub outdated: bool,
}

/// What to do when a definition changed under a running container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdatePolicy {
    /// Recreate the container with the new definition.
    #[default]
    Recreate,
    /// Leave it, and show it as outdated in status.
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// An enabled server has no container.
    Create {
        name: String,
        user: String,
        server: String,
    },
    /// The container's spec hash differs from the plan.
    Recreate {
        name: String,
        user: String,
        server: String,
    },
    /// The container is there with the right spec but not running.
    Restart {
        name: String,
        user: String,
        server: String,
    },
    /// A managed container nobody wants (disabled, deleted user, removed server).
    Remove { name: String },
    /// With the `manual` policy: the container runs an old definition.
    MarkOutdated { name: String },
    /// A container shown as outdated runs what its definition asks for again (the
    /// definition was reverted): status stops calling it outdated.
    ClearOutdated { name: String },
}

impl Action {
    /// The action's kind, as metrics count it.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Recreate { .. } => "recreate",
            Action::Restart { .. } => "restart",
            Action::Remove { .. } => "remove",
            Action::MarkOutdated { .. } => "mark_outdated",
            Action::ClearOutdated { .. } => "clear_outdated",
        }
    }
}

/// The actions that make `have` match `want`. Containers in `hold` (failed, or waiting
/// out a restart backoff) are not created, restarted or recreated. With the `manual`
/// policy an outdated container is marked once, and kept running as it is.
pub fn plan(
    want: &BTreeMap<String, Want>,
    have: &BTreeMap<String, Have>,
    policy: UpdatePolicy,
    hold: &BTreeSet<String>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for (name, w) in want {
        let Some(hash) = &w.spec_hash else { continue };
        let held = hold.contains(name);
        let ids = || (name.clone(), w.user.clone(), w.server.clone());
        let Some(h) = have.get(name) else {
            if !held {
                let (name, user, server) = ids();
                actions.push(Action::Create { name, user, server });
            }
            continue;
        };
        let current = &h.spec_hash == hash;
        match policy {
            UpdatePolicy::Recreate if !current => {
                if !held {
                    let (name, user, server) = ids();
                    actions.push(Action::Recreate { name, user, server });
                }
                continue;
            }
            UpdatePolicy::Manual if !current && !h.outdated => {
                actions.push(Action::MarkOutdated { name: name.clone() });
            }
            _ if current && h.outdated => {
                actions.push(Action::ClearOutdated { name: name.clone() });
            }
            _ => {}
        }
        if !h.running && !held {
            let (name, user, server) = ids();
            actions.push(Action::Restart { name, user, server });
        }
    }
    for name in have.keys() {
        if !want.contains_key(name) {
            actions.push(Action::Remove { name: name.clone() });
        }
    }
    actions
}

/// Why a pass made none of its removals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withheld {
    /// The desired state could not be read whole (a data folder deleted or unmounted
    /// reads as "nobody wants anything").
    Blind,
    /// More removals than the limit: likelier a damaged folder than that many disables.
    TooMany { count: usize, max: usize },
}

/// The actions a pass may take: removals of orphans only when the desired state was read
/// whole, never of containers of users whose records could not be read, and none at all
/// when more than `max` remain. The withheld removals, if any, and why.
pub fn guard_removals(
    actions: Vec<Action>,
    have: &BTreeMap<String, Have>,
    unreadable: &BTreeSet<String>,
    blind: bool,
    max: usize,
) -> (Vec<Action>, Option<Withheld>) {
    let (removals, mut kept): (Vec<Action>, Vec<Action>) = actions
        .into_iter()
        .partition(|a| matches!(a, Action::Remove { .. }));
    let removals: Vec<Action> = removals
        .into_iter()
        .filter(|a| match a {
            Action::Remove { name } => have.get(name).is_none_or(|h| !unreadable.contains(&h.user)),
            _ => true,
        })
        .collect();
    if removals.is_empty() {
        return (kept, None);
    }
    if blind {
        return (kept, Some(Withheld::Blind));
    }
    if removals.len() > max {
        let count = removals.len();
        return (kept, Some(Withheld::TooMany { count, max }));
    }
    kept.extend(removals);
    (kept, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn want(user: &str, server: &str, hash: Option<&str>) -> Want {
        Want {
            user: user.into(),
            server: server.into(),
            spec_hash: hash.map(Into::into),
            error: None,
        }
    }

    fn have(user: &str, server: &str, hash: &str, running: bool) -> Have {
        Have {
            user: user.into(),
            server: server.into(),
            spec_hash: hash.into(),
            running,
            outdated: false,
        }
    }

    fn name(u: &str, s: &str) -> String {
        format!("mcp-{u}-{s}")
    }

    /// What Docker would look like after the actions, as `Runtime` applies them.
    fn apply(want: &BTreeMap<String, Want>, have: &mut BTreeMap<String, Have>, actions: &[Action]) {
        for a in actions {
            match a {
                Action::Create { name, .. } | Action::Recreate { name, .. } => {
                    let w = &want[name];
                    have.insert(name.clone(), have_for(w));
                }
                Action::Restart { name, .. } => {
                    if let Some(h) = have.get_mut(name) {
                        h.running = true;
                    }
                }
                Action::Remove { name } => {
                    have.remove(name);
                }
                Action::MarkOutdated { name } | Action::ClearOutdated { name } => {
                    if let Some(h) = have.get_mut(name) {
                        h.outdated = matches!(a, Action::MarkOutdated { .. });
                    }
                }
            }
        }
    }

    fn have_for(w: &Want) -> Have {
        have(
            &w.user,
            &w.server,
            w.spec_hash.as_deref().unwrap_or_default(),
            true,
        )
    }

    #[test]
    fn in_sync_means_no_actions() {
        let w = BTreeMap::from([(name("u1", "a"), want("u1", "a", Some("h1")))]);
        let h = BTreeMap::from([(name("u1", "a"), have("u1", "a", "h1", true))]);
        assert!(plan(&w, &h, UpdatePolicy::Recreate, &BTreeSet::new()).is_empty());
    }

    #[test]
    fn each_gap_has_its_action() {
        let w = BTreeMap::from([
            (name("u1", "missing"), want("u1", "missing", Some("h"))),
            (name("u1", "drifted"), want("u1", "drifted", Some("new"))),
            (name("u1", "stopped"), want("u1", "stopped", Some("h"))),
            (name("u1", "broken"), want("u1", "broken", None)),
        ]);
        let h = BTreeMap::from([
            (name("u1", "drifted"), have("u1", "drifted", "old", true)),
            (name("u1", "stopped"), have("u1", "stopped", "h", false)),
            (name("gone", "x"), have("gone", "x", "h", true)),
        ]);
        let actions = plan(&w, &h, UpdatePolicy::Recreate, &BTreeSet::new());
        assert_eq!(
            actions,
            [
                Action::Recreate {
                    name: name("u1", "drifted"),
                    user: "u1".into(),
                    server: "drifted".into()
                },
                Action::Create {
                    name: name("u1", "missing"),
                    user: "u1".into(),
                    server: "missing".into()
                },
                Action::Restart {
                    name: name("u1", "stopped"),
                    user: "u1".into(),
                    server: "stopped".into()
                },
                Action::Remove {
                    name: name("gone", "x")
                },
            ]
        );
        let manual = plan(
            &w,
            &h,
            UpdatePolicy::Manual,
            &BTreeSet::from([name("u1", "stopped")]),
        );
        assert!(manual.contains(&Action::MarkOutdated {
            name: name("u1", "drifted")
        }));
        assert!(
            !manual.iter().any(|a| matches!(a, Action::Restart { .. })),
            "held containers wait"
        );
    }

    #[test]
    fn an_outdated_container_is_marked_once_under_the_manual_policy() {
        let w = BTreeMap::from([(name("u1", "a"), want("u1", "a", Some("new")))]);
        let mut h = BTreeMap::from([(name("u1", "a"), have("u1", "a", "old", true))]);
        let none = BTreeSet::new();
        assert_eq!(
            plan(&w, &h, UpdatePolicy::Manual, &none),
            [Action::MarkOutdated {
                name: name("u1", "a")
            }]
        );
        h.get_mut(&name("u1", "a")).unwrap().outdated = true;
        assert_eq!(plan(&w, &h, UpdatePolicy::Manual, &none), []);
    }

    #[test]
    fn a_reverted_definition_clears_the_outdated_mark_under_either_policy() {
        let w = BTreeMap::from([(name("u1", "a"), want("u1", "a", Some("h1")))]);
        let mut marked = have("u1", "a", "h1", true);
        marked.outdated = true;
        let h = BTreeMap::from([(name("u1", "a"), marked)]);
        for policy in [UpdatePolicy::Manual, UpdatePolicy::Recreate] {
            assert_eq!(
                plan(&w, &h, policy, &BTreeSet::new()),
                [Action::ClearOutdated {
                    name: name("u1", "a")
                }]
            );
        }
    }

    #[test]
    fn a_stopped_outdated_container_is_restarted_as_it_is_under_the_manual_policy() {
        let w = BTreeMap::from([(name("u1", "a"), want("u1", "a", Some("new")))]);
        let h = BTreeMap::from([(name("u1", "a"), have("u1", "a", "old", false))]);
        let restart = Action::Restart {
            name: name("u1", "a"),
            user: "u1".into(),
            server: "a".into(),
        };
        assert_eq!(
            plan(&w, &h, UpdatePolicy::Manual, &BTreeSet::new()),
            [
                Action::MarkOutdated {
                    name: name("u1", "a")
                },
                restart
            ]
        );
        let held = BTreeSet::from([name("u1", "a")]);
        assert_eq!(
            plan(&w, &h, UpdatePolicy::Manual, &held),
            [Action::MarkOutdated {
                name: name("u1", "a")
            }],
            "held containers wait, but are still shown as outdated"
        );
    }

    fn wants() -> impl Strategy<Value = BTreeMap<String, Want>> {
        prop::collection::btree_map(
            (0u8..4, 0u8..4),
            prop::option::of(prop::sample::select(&["h1", "h2"][..])),
            0..10,
        )
        .prop_map(|m| {
            m.into_iter()
                .map(|((u, s), hash)| {
                    let (u, s) = (format!("u{u}"), format!("s{s}"));
                    (name(&u, &s), want(&u, &s, hash))
                })
                .collect()
        })
    }

    fn haves() -> impl Strategy<Value = BTreeMap<String, Have>> {
        prop::collection::btree_map(
            (0u8..4, 0u8..4),
            (
                prop::sample::select(&["h1", "h2", "h3"][..]),
                any::<bool>(),
                any::<bool>(),
            ),
            0..10,
        )
        .prop_map(|m| {
            m.into_iter()
                .map(|((u, s), (hash, running, outdated))| {
                    let (u, s) = (format!("u{u}"), format!("s{s}"));
                    let mut h = have(&u, &s, hash, running);
                    h.outdated = outdated;
                    (name(&u, &s), h)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn planning_again_after_applying_yields_nothing(
            w in wants(),
            mut h in haves(),
            policy in prop::sample::select(&[UpdatePolicy::Recreate, UpdatePolicy::Manual][..]),
        ) {
            let actions = plan(&w, &h, policy, &BTreeSet::new());
            apply(&w, &mut h, &actions);
            prop_assert_eq!(plan(&w, &h, policy, &BTreeSet::new()), vec![]);
            for (n, x) in &w {
                if let Some(hash) = &x.spec_hash {
                    prop_assert!(h[n].running);
                    prop_assert_eq!(
                        h[n].outdated,
                        &h[n].spec_hash != hash,
                        "shown as outdated exactly when it runs an old definition"
                    );
                }
            }
            prop_assert!(h.keys().all(|n| w.contains_key(n)), "no orphan survives");
        }
    }

    fn orphans(n: usize) -> (Vec<Action>, BTreeMap<String, Have>) {
        let mut have = BTreeMap::new();
        let mut actions = vec![Action::Create {
            name: name("keep", "a"),
            user: "keep".into(),
            server: "a".into(),
        }];
        for i in 0..n {
            let user = format!("u{i}");
            have.insert(name(&user, "s"), have_of(&user));
            actions.push(Action::Remove {
                name: name(&user, "s"),
            });
        }
        (actions, have)
    }

    fn have_of(user: &str) -> Have {
        have(user, "s", "h", true)
    }

    fn removals(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Remove { .. }))
            .count()
    }

    #[test]
    fn a_blind_pass_removes_nothing_and_keeps_everything_else() {
        let (actions, have) = orphans(3);
        let (kept, why) = guard_removals(actions, &have, &BTreeSet::new(), true, 20);
        assert_eq!(why, Some(Withheld::Blind));
        assert_eq!((kept.len(), removals(&kept)), (1, 0));
    }

    #[test]
    fn more_removals_than_the_limit_are_all_withheld_and_up_to_it_all_made() {
        let (actions, have) = orphans(21);
        let (kept, why) = guard_removals(actions, &have, &BTreeSet::new(), false, 20);
        assert_eq!(why, Some(Withheld::TooMany { count: 21, max: 20 }));
        assert_eq!(removals(&kept), 0);
        let (actions, have) = orphans(20);
        let (kept, why) = guard_removals(actions, &have, &BTreeSet::new(), false, 20);
        assert_eq!((why, removals(&kept)), (None, 20));
    }

    #[test]
    fn a_user_whose_records_cannot_be_read_keeps_their_containers() {
        let (actions, have) = orphans(3);
        let unreadable: BTreeSet<String> = ["u1".to_string()].into();
        let (kept, why) = guard_removals(actions, &have, &unreadable, false, 20);
        assert_eq!(why, None);
        assert_eq!(removals(&kept), 2);
        assert!(!kept.contains(&Action::Remove {
            name: name("u1", "s")
        }));
    }
}
