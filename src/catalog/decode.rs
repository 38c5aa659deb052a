//! What the format decoders (native, docker) share: reading an entry field by field, the
//! stand-ins that let the rest of an entry be read when its id or image is wrong, and the
//! catalog-wide id check. It imports neither decoder, so each stays a leaf that `parse`
//! alone dispatches to.

pub mod fields;
pub mod schema;
pub mod suggest;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::catalog::model::ServerDef;
use crate::catalog::report::Diagnostics;
use crate::catalog::validate::{validate_decoded, Policy};
use crate::ids::ServerId;

/// An id and an image that parse, put in place of an entry's own when those are missing
/// or wrong, so that its other fields are still read and checked. A definition holding
/// one never leaves the decoder (`Decoded::validated`).
pub const STAND_IN_ID: &str = "stand-in";
pub const STAND_IN_IMAGE: &str = "stand-in/stand-in";

/// The fields a definition cannot do without: `id` (given) and a stand-in image. It
/// decodes by itself, so a field laid over it decodes exactly when that field is right.
pub fn minimal(id: &str) -> Map<String, Value> {
    Map::from_iter([
        ("id".to_string(), Value::from(id)),
        ("image".to_string(), Value::from(STAND_IN_IMAGE)),
    ])
}

/// A definition read from one entry, with what of it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub def: ServerDef,
    /// Fields whose value here is a stand-in, a default or only part of what the entry
    /// says, because what it says is wrong (and reported).
    pub undecoded: BTreeSet<String>,
}

impl Decoded {
    /// Starts a definition from an entry's id and image, with stand-ins for either that
    /// did not parse. `None` only if a stand-in did not parse either (a test guards that).
    pub fn start(id: Option<ServerId>, image: Option<String>) -> Option<Self> {
        let mut undecoded = BTreeSet::new();
        let id = match id {
            Some(id) => id,
            None => {
                undecoded.insert("id".to_string());
                ServerId::parse(STAND_IN_ID).ok()?
            }
        };
        let image = image.unwrap_or_else(|| {
            undecoded.insert("image".to_string());
            STAND_IN_IMAGE.to_string()
        });
        Some(Self {
            def: ServerDef::new(id, &image),
            undecoded,
        })
    }

    /// Runs the semantic checks on what decoded, naming the server `name`. The definition
    /// comes back only when all of it decoded, so no stand-in or partial field is kept.
    pub fn validated(
        self,
        file: &str,
        name: &str,
        policy: &Policy,
        d: &mut Diagnostics,
    ) -> Option<ServerDef> {
        validate_decoded(&self.def, name, &self.undecoded, policy, file, d);
        self.undecoded.is_empty().then_some(self.def)
    }
}

/// Sorts servers by id and refuses duplicate ids.
pub fn sorted_unique(
    file: &str,
    mut servers: Vec<ServerDef>,
    d: &mut Diagnostics,
) -> Option<Vec<ServerDef>> {
    servers.sort_by(|a, b| a.id.cmp(&b.id));
    let before = d.len();
    for pair in servers.windows(2) {
        if pair[0].id == pair[1].id {
            d.error(
                file,
                Some(pair[0].id.as_str()),
                Some("id"),
                "is defined more than once; server ids must be unique",
            );
        }
    }
    servers.dedup_by(|a, b| a.id == b.id);
    (d.len() == before).then_some(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_ins_parse_and_are_marked_undecoded() {
        let d = Decoded::start(None, None).unwrap();
        assert_eq!(d.def.id.as_str(), STAND_IN_ID);
        assert_eq!(d.def.image, STAND_IN_IMAGE);
        assert_eq!(d.undecoded, BTreeSet::from(["id".into(), "image".into()]));
        let minimal: ServerDef = serde_json::from_value(Value::Object(minimal("x"))).unwrap();
        assert_eq!(
            minimal,
            ServerDef::new(ServerId::parse("x").unwrap(), STAND_IN_IMAGE)
        );
    }

    #[test]
    fn a_definition_with_a_stand_in_is_checked_but_not_kept() {
        let mut d = Diagnostics::new();
        let mut decoded = Decoded::start(ServerId::parse("a").ok(), None).unwrap();
        decoded.def.env.insert("1X".into(), "y".into());
        assert_eq!(
            decoded.validated("c.yaml", "a", &Policy::default(), &mut d),
            None
        );
        let errs: Vec<String> = d.errors().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(errs[0].starts_with("c.yaml: server a: env.1X: invalid environment"));
    }
}
