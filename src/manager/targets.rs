//! What the MCP gateway may reach for a user: their enabled servers, each with its
//! container, transport and the tools the user enabled. Never another user's: the list
//! comes from the user's own enabled file, tool lists and merged catalog.

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
    /// The only tools the user enabled (a migrated Toolkit's tools.yaml); `None`: all.
    pub tools: Option<Vec<String>>,
}

impl McpTarget {
    /// Whether the user enabled the server's tool `name`.
    pub fn offers_tool(&self, name: &str) -> bool {
        self.tools
            .as_ref()
            .is_none_or(|t| t.iter().any(|n| n == name))
    }
}

impl Portal {
    /// The user's enabled servers that are still in their catalog, in id order.
    pub fn mcp_targets(&self, user: &UserId) -> Result<Vec<McpTarget>> {
        let enabled = self.store.read_enabled(user)?;
        if enabled.servers.is_empty() {
            return Ok(Vec::new());
        }
        let mut tools = self.store.read_tools(user)?.servers;
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
                    tools: tools.remove(id),
                })
            })
            .collect())
    }
}
