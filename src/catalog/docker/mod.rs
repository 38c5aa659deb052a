//! Docker's two catalog shapes, mapped onto the native model: the MCP gateway catalog
//! (`version: 2`, `registry:` name -> entry) and the MCP registry's
//! `servers/<name>/server.yaml`. What the portal cannot honour (remote and poci servers,
//! OAuth, unknown fields) is reported by name as a warning, never dropped silently.
//! A wrong name or a missing image does not stop the rest of an entry from being read,
//! so all of its errors are reported together.

mod entry;
mod gateway;
mod registry;
pub mod toolkit;

pub use gateway::catalog;
pub use registry::registry_server;

/// The kind of a catalog entry (`server`, `remote`, `poci`), for counting what an
/// import held; an entry that is not a mapping counts as `server`, whose error it gets.
pub fn kind(entry: &serde_json::Value) -> String {
    entry
        .as_object()
        .map_or_else(|| "server".into(), entry::kind_of)
}

use crate::catalog::report::Diagnostics;
use crate::ids::ServerId;

/// The entry's name as a server id; a name that is not one is reported on `name`.
fn id_for(file: &str, name: &str, d: &mut Diagnostics) -> Option<ServerId> {
    match ServerId::parse(name) {
        Ok(id) => Some(id),
        Err(e) => {
            d.error(file, Some(name), Some("name"), e.to_string());
            None
        }
    }
}
