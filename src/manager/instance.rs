//! Which instance a portal is: the id its Docker objects are labelled with. Each data
//! folder gets its own, so two folders on one engine never touch each other's objects.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;

use super::Result;
use crate::store::Store;

/// What folders made before ids were recorded ran as; their containers carry it.
const LEGACY: &str = "default";

/// The instance of the folder: `requested` (MCP_PORTAL_INSTANCE) when given, else the id
/// the folder records. A folder without one records `requested`, or a random id when it
/// is new, or `default` when it predates recorded ids (so the portal adopts the objects
/// it already made, and returns what it migrated to be said).
pub(super) fn resolve(store: &Store, requested: Option<&str>) -> Result<(String, Option<String>)> {
    if let Some(recorded) = store.read_instance()? {
        return Ok((requested.map_or(recorded, str::to_string), None));
    }
    let legacy = requested.is_none() && store.has_content()?;
    let id = match requested {
        Some(r) => r.to_string(),
        None if legacy => LEGACY.to_string(),
        None => random_id(),
    };
    if !store.record_instance(&id)? {
        // Another command made the folder's id at the same moment: use that one.
        let recorded = store.read_instance()?.unwrap_or(id);
        return Ok((requested.map_or(recorded, str::to_string), None));
    }
    let said = legacy.then(|| {
        format!(
            "data folder {} predates per-folder instance ids: recorded its instance as `{LEGACY}`, which its containers and networks carry, so they stay this portal's",
            store.root().display()
        )
    });
    Ok((id, said))
}

/// `p-` and 10 random hex digits: short enough to read in `docker ps`, and with 40 bits
/// no two folders on one engine will meet.
fn random_id() -> String {
    let mut bytes = [0u8; 5];
    OsRng.fill_bytes(&mut bytes);
    format!("p-{}", hex::encode(bytes))
}
