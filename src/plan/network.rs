//! Networking: whether a container joins its user's network (and under which alias),
//! and which host port its HTTP transport is published on.

use super::model::{PlanInput, PortBinding};
use super::{refuse, PlanError};
use crate::catalog::model::ServerDef;

/// The network to join, `None` for a definition that asks for none (stdio only: an
/// HTTP server without a network could not be reached).
pub(super) fn network(input: &PlanInput<'_>) -> Result<Option<String>, PlanError> {
    let s = input.server;
    if !s.disable_network {
        return Ok(Some(input.network.to_string()));
    }
    if s.transport.is_http() {
        return Err(refuse(
            s,
            "asks for no network but serves HTTP; remove disable_network or use stdio",
        ));
    }
    Ok(None)
}

/// On the network, a server is reachable by its id.
pub(super) fn aliases(s: &ServerDef, network: Option<&str>) -> Vec<String> {
    if network.is_some() {
        vec![s.id.to_string()]
    } else {
        Vec::new()
    }
}

/// The published port of an HTTP server; stdio servers publish none.
pub(super) fn publish(input: &PlanInput<'_>) -> Result<Option<PortBinding>, PlanError> {
    let s = input.server;
    match (s.transport.is_http(), s.port, input.host_port) {
        (true, Some(container_port), Some(host_port)) => Ok(Some(PortBinding {
            container_port,
            host_ip: input.bind_address.to_string(),
            host_port,
        })),
        (true, _, _) => Err(refuse(
            s,
            "serves HTTP but has no container port or no host port was allocated",
        )),
        (false, _, _) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, http_server, input};
    use super::super::plan;
    use super::*;
    use crate::ids::ServerId;

    #[test]
    fn no_network_for_stdio_servers_that_ask_for_none() {
        let f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.disable_network = true;
        let (spec, _) = plan(&input(&f, &s, None)).unwrap();
        assert_eq!(spec.network, None);
        assert!(spec.env.contains(&"MCP_NETWORK_NAME=none".to_string()));
        let mut h = http_server();
        h.disable_network = true;
        assert!(plan(&input(&f, &h, Some(1))).is_err());
    }

    #[test]
    fn a_server_on_the_network_is_reachable_by_its_id() {
        let f = fixture();
        let s = http_server();
        let net = network(&input(&f, &s, Some(1))).unwrap();
        assert_eq!(net.as_deref(), Some("mcp-net-u1"));
        assert_eq!(aliases(&s, net.as_deref()), ["echo"]);
        assert!(aliases(&s, None).is_empty());
    }

    #[test]
    fn an_http_server_is_published_on_its_host_port_and_stdio_is_not() {
        let f = fixture();
        let s = http_server();
        assert_eq!(
            publish(&input(&f, &s, Some(20001))).unwrap(),
            Some(PortBinding {
                container_port: 8080,
                host_ip: "127.0.0.1".into(),
                host_port: 20001,
            })
        );
        let stdio = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        assert_eq!(publish(&input(&f, &stdio, Some(20001))).unwrap(), None);
    }

    #[test]
    fn an_http_server_without_an_allocated_port_is_refused() {
        let f = fixture();
        let s = http_server();
        assert_eq!(
            publish(&input(&f, &s, None)).unwrap_err().to_string(),
            "server echo: serves HTTP but has no container port or no host port was allocated"
        );
        let mut portless = http_server();
        portless.port = None;
        assert!(publish(&input(&f, &portless, Some(1))).is_err());
    }
}
