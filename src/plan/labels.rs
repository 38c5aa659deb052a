//! Names and labels of the objects the portal makes: how a container and a network are
//! called, and the labels that tie them to an instance, a user and a server.

use std::collections::BTreeMap;

use super::limits::Limits;
use super::model::{NetworkSpec, PortBinding};
use crate::ids::UserId;

/// Label prefix of every object the portal makes.
pub const LABEL: &str = "io.mcp-portal";
pub const LABEL_MANAGED_BY: &str = "io.mcp-portal.managed-by";
pub const LABEL_INSTANCE: &str = "io.mcp-portal.instance";
pub const LABEL_USER: &str = "io.mcp-portal.user";
pub const LABEL_SERVER: &str = "io.mcp-portal.server";
pub const LABEL_SPEC_HASH: &str = "io.mcp-portal.spec-hash";
pub const LABEL_PORT: &str = "io.mcp-portal.port";
pub const LABEL_BLOCK: &str = "io.mcp-portal.block";
pub const LABEL_MEMORY: &str = "io.mcp-portal.memory";
pub const LABEL_CPU_SHARES: &str = "io.mcp-portal.cpu-shares";
/// The data folder (as the Docker host sees it) of the portal that made a container. Not
/// hashed: it says whose the container is, not what it is, so a moved folder recreates
/// nothing.
pub const LABEL_DATA_DIR: &str = "io.mcp-portal.data-dir";
pub const MANAGED_BY: &str = "mcp-portal";
/// What a container or network is for, when it is not a server's own: `egress` for a
/// server's egress proxy and its user's internal network. Absent on servers' containers.
pub const LABEL_ROLE: &str = "io.mcp-portal.role";
pub const ROLE_EGRESS: &str = "egress";
/// On a server with `allow_hosts`: the name of its egress proxy, which must run beside it.
pub const LABEL_EGRESS: &str = "io.mcp-portal.egress";

/// `mcp-<user>.<server>`: neither a user id nor a server id may hold a `.`, so every
/// pair has a name of its own (with `-`, `a-b` + `c` and `a` + `b-c` met).
pub fn container_name(user: &UserId, server: &str) -> String {
    format!("mcp-{user}.{server}")
}

/// The name versions before `container_name` gave a pair's container; an upgraded portal
/// renames its containers from it (the labels, not the name, say whose one is).
pub fn legacy_container_name(user: &UserId, server: &str) -> String {
    format!("mcp-{user}-{server}")
}

/// The name a container's replacement is made under while the old one still holds the
/// real name. Its second `.` keeps it apart from every pair's own name.
pub fn replacement_name(name: &str) -> String {
    format!("{name}.next")
}

/// A user's network: one per user, and user ids are unique, so no two users' meet.
pub fn network_name(user: &UserId) -> String {
    format!("mcp-net-{user}")
}

/// A user's internal network (no route out), for their servers with `allow_hosts`. A
/// user id holds no `.`, so it is no user's own network.
pub fn egress_network_name(user: &UserId) -> String {
    format!("mcp-net-{user}.egress")
}

/// The egress proxy of a pair: the pair's name and a second `.`, like a replacement's,
/// so it is no pair's own name.
pub fn proxy_name(user: &UserId, server: &str) -> String {
    format!("{}.egress", container_name(user, server))
}

pub fn base_labels(instance: &str, user: &UserId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
        (LABEL_USER.to_string(), user.to_string()),
    ])
}

pub fn network_spec(
    instance: &str,
    user: &UserId,
    block: u32,
    subnet: crate::alloc::Ipv4Net,
) -> NetworkSpec {
    let mut labels = base_labels(instance, user);
    labels.insert(LABEL_BLOCK.to_string(), block.to_string());
    NetworkSpec {
        name: network_name(user),
        subnet: subnet.to_string(),
        gateway: subnet.gateway().to_string(),
        labels,
        internal: false,
        isolated: false,
    }
}

/// The user's internal network, from the egress pool's subnet of the user's block.
pub fn egress_network_spec(
    instance: &str,
    user: &UserId,
    block: u32,
    subnet: crate::alloc::Ipv4Net,
) -> NetworkSpec {
    let mut spec = network_spec(instance, user, block, subnet);
    spec.name = egress_network_name(user);
    spec.labels.insert(LABEL_ROLE.into(), ROLE_EGRESS.into());
    spec.internal = true;
    spec
}

/// A container's labels before its spec hash is known: whose it is, and what it was
/// given (limits, port), so status can be told without re-planning.
pub(super) fn container_labels(
    instance: &str,
    user: &UserId,
    server: &str,
    limits: &Limits,
    publish: Option<&PortBinding>,
) -> BTreeMap<String, String> {
    let mut labels = base_labels(instance, user);
    labels.insert(LABEL_SERVER.into(), server.to_string());
    labels.insert(LABEL_MEMORY.into(), limits.memory_bytes.to_string());
    labels.insert(LABEL_CPU_SHARES.into(), limits.cpu_shares.to_string());
    if let Some(p) = publish {
        labels.insert(LABEL_PORT.into(), p.host_port.to_string());
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u1() -> UserId {
        UserId::parse("u1").unwrap()
    }

    fn limits() -> Limits {
        Limits {
            memory_bytes: 1 << 20,
            cpu_shares: 512,
            nano_cpus: 500_000_000,
            pids: 64,
        }
    }

    #[test]
    fn names_carry_the_user_and_the_server() {
        assert_eq!(container_name(&u1(), "echo"), "mcp-u1.echo");
        assert_eq!(legacy_container_name(&u1(), "echo"), "mcp-u1-echo");
        assert_eq!(replacement_name("mcp-u1.echo"), "mcp-u1.echo.next");
        assert_eq!(network_name(&u1()), "mcp-net-u1");
        assert_eq!(egress_network_name(&u1()), "mcp-net-u1.egress");
        assert_eq!(proxy_name(&u1(), "echo"), "mcp-u1.echo.egress");
    }

    #[test]
    fn pairs_whose_ids_hold_dashes_get_names_of_their_own() {
        let (a_b, a) = (UserId::parse("a-b").unwrap(), UserId::parse("a").unwrap());
        assert_eq!(
            legacy_container_name(&a_b, "c"),
            legacy_container_name(&a, "b-c")
        );
        assert_eq!(container_name(&a_b, "c"), "mcp-a-b.c");
        assert_eq!(container_name(&a, "b-c"), "mcp-a.b-c");
    }

    #[test]
    fn a_network_is_labelled_with_its_block_and_gets_the_first_host_as_gateway() {
        let subnet = crate::alloc::Ipv4Net::parse("10.201.3.0/24").unwrap();
        let n = network_spec("default", &u1(), 3, subnet);
        assert_eq!(n.name, "mcp-net-u1");
        assert_eq!(n.subnet, "10.201.3.0/24");
        assert_eq!(n.gateway, "10.201.3.1");
        assert_eq!(n.labels[LABEL_BLOCK], "3");
        assert_eq!(n.labels[LABEL_USER], "u1");
        assert!(!n.internal);
        let e = egress_network_spec("default", &u1(), 3, subnet);
        assert_eq!(e.name, "mcp-net-u1.egress");
        assert!(e.internal);
        assert_eq!(e.labels[LABEL_ROLE], ROLE_EGRESS);
        assert_eq!(e.labels[LABEL_BLOCK], "3");
    }

    #[test]
    fn container_labels_say_whose_it_is_and_what_it_was_given() {
        let port = PortBinding {
            container_port: 8080,
            host_ip: "127.0.0.1".into(),
            host_port: 20001,
        };
        let labels = container_labels("default", &u1(), "echo", &limits(), Some(&port));
        assert_eq!(labels[LABEL_MANAGED_BY], MANAGED_BY);
        assert_eq!(labels[LABEL_INSTANCE], "default");
        assert_eq!(labels[LABEL_USER], "u1");
        assert_eq!(labels[LABEL_SERVER], "echo");
        assert_eq!(labels[LABEL_MEMORY], "1048576");
        assert_eq!(labels[LABEL_CPU_SHARES], "512");
        assert_eq!(labels[LABEL_PORT], "20001");
        assert!(
            !labels.contains_key(LABEL_SPEC_HASH),
            "the hash is added last"
        );
    }

    #[test]
    fn a_container_without_a_published_port_has_no_port_label() {
        let labels = container_labels("default", &u1(), "echo", &limits(), None);
        assert!(!labels.contains_key(LABEL_PORT));
    }
}
