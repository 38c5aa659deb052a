//! What the format decoders (native, docker) share. It imports neither of them, so each
//! decoder stays a leaf that `parse` alone dispatches to.

use crate::catalog::model::ServerDef;
use crate::catalog::report::Diagnostics;

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
