//! What the MCP gateway may reach for a user: their enabled servers, each with its
//! container and transport. Never another user's: the list comes from the user's own
//! enabled file and merged catalog.

use super::{Portal, Result};
use crate::catalog::model::Transport;
use crate::ids::{ServerId, UserId};
use crate::plan::container_name;

/// One enabled server of a user, as the gateway connects to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpTarget {
    pub server: ServerId,
    pub container: String,
    pub transport: Transport,
}

impl Portal {
    /// The user's enabled servers that are still in their catalog, in id order.
    pub fn mcp_targets(&self, user: &UserId) -> Result<Vec<McpTarget>> {
        let enabled = self.store.read_enabled(user)?;
        if enabled.servers.is_empty() {
            return Ok(Vec::new());
        }
        let merged = self.servers(user)?;
        Ok(enabled
            .servers
            .keys()
            .filter_map(|id| {
                let def = merged.servers.iter().find(|s| &s.def.id == id)?;
                Some(McpTarget {
                    server: id.clone(),
                    container: container_name(user, id.as_str()),
                    transport: def.def.transport,
                })
            })
            .collect())
    }
}
