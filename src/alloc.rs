//! Per-user port blocks and subnets, cut from the portal's configured pools (pure).
//!
//! User `n`'s block is ports `start + n*per_user ..` and subnet `n` of the subnet pool, so
//! one number per user says both, and both can be rebuilt from container and network
//! labels alone. Blocks go to the lowest free number whose subnet no other network on the
//! engine overlaps (whoever made it); ports to the lowest free port of the user's block
//! that the caller reports free on the host.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::ids::{ServerId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("no free port block for user {user}: all {blocks} blocks of the range {start}-{end} are taken; widen MCP_PORTAL_PORT_RANGE_START/_END or remove users")]
    NoBlock {
        user: UserId,
        blocks: u32,
        start: u16,
        end: u16,
    },
    #[error("no free subnet for user {user}: the free blocks' subnets of the pool {pool} overlap network {network} ({subnet}) on the engine; set MCP_PORTAL_USER_NETWORK_SUBNET_BASE to a range no network uses (see `docker network inspect {network}`)")]
    SubnetsTaken {
        user: UserId,
        pool: Ipv4Net,
        network: String,
        subnet: Ipv4Net,
    },
    #[error("no free port for user {user} in their block {first}-{last}: every port is taken; disable a server or raise MCP_PORTAL_PORTS_PER_USER")]
    NoPort { user: UserId, first: u16, last: u16 },
    #[error("invalid {what} {value:?}: {expected}")]
    Config {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// An IPv4 network `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn parse(text: &str) -> Result<Self, AllocError> {
        let bad = || AllocError::Config {
            what: "subnet",
            value: text.to_string(),
            expected: "an IPv4 network such as 10.201.0.0/16",
        };
        let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 30 {
            return Err(bad());
        }
        let net = Self { addr, prefix };
        if net.addr != net.network() {
            return Err(AllocError::Config {
                what: "subnet",
                value: text.to_string(),
                expected: "a network address (host bits zero)",
            });
        }
        Ok(net)
    }

    /// Reads a subnet as the engine reports it, host bits and all (`172.17.0.1/16` is
    /// taken as `172.17.0.0/16`); `None` for IPv6 or anything else that is not IPv4.
    pub fn parse_any(text: &str) -> Option<Self> {
        let (addr, prefix) = text.trim().split_once('/')?;
        let net = Self {
            addr: addr.parse().ok()?,
            prefix: prefix.parse().ok().filter(|p| *p <= 32)?,
        };
        Some(Self {
            addr: net.network(),
            prefix: net.prefix,
        })
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The last address of the network.
    fn broadcast(self) -> u32 {
        u32::from(self.network()) | !self.mask()
    }

    /// Whether the two networks share an address (one holds the other, or they are equal).
    pub fn overlaps(self, other: Ipv4Net) -> bool {
        u32::from(self.network()) <= other.broadcast()
            && u32::from(other.network()) <= self.broadcast()
    }

    /// The first host address, which Docker uses as the bridge's gateway.
    pub fn gateway(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) + 1)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A network on the engine that is not the user's own: its subnet is off limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignNet {
    pub name: String,
    pub subnet: Ipv4Net,
}

/// The configured pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pools {
    pub port_start: u16,
    pub port_end: u16,
    pub ports_per_user: u16,
    pub subnet_base: Ipv4Net,
    pub subnet_prefix: u8,
}

impl Pools {
    pub fn new(
        port_start: u16,
        port_end: u16,
        ports_per_user: u16,
        subnet_base: Ipv4Net,
        subnet_prefix: u8,
    ) -> Result<Self, AllocError> {
        if port_start == 0 || port_end < port_start {
            return Err(AllocError::Config {
                what: "port range",
                value: format!("{port_start}-{port_end}"),
                expected: "1 <= start <= end <= 65535",
            });
        }
        if ports_per_user == 0 || u32::from(ports_per_user) > u32::from(port_end - port_start) + 1 {
            return Err(AllocError::Config {
                what: "ports per user",
                value: ports_per_user.to_string(),
                expected: "between 1 and the size of the port range",
            });
        }
        if subnet_prefix < subnet_base.prefix || subnet_prefix > 29 {
            return Err(AllocError::Config {
                what: "subnet size",
                value: subnet_prefix.to_string(),
                expected: "a prefix length between the pool's and 29",
            });
        }
        Ok(Self {
            port_start,
            port_end,
            ports_per_user,
            subnet_base,
            subnet_prefix,
        })
    }

    /// How many users the pools hold: the smaller of port blocks and subnets.
    pub fn blocks(&self) -> u32 {
        let port_blocks =
            (u32::from(self.port_end - self.port_start) + 1) / u32::from(self.ports_per_user);
        let subnets = 1u64 << (self.subnet_prefix - self.subnet_base.prefix);
        port_blocks.min(u32::try_from(subnets).unwrap_or(u32::MAX))
    }

    /// First and last port of a block.
    pub fn ports(&self, block: u32) -> (u16, u16) {
        let first = u32::from(self.port_start) + block * u32::from(self.ports_per_user);
        let last = first + u32::from(self.ports_per_user) - 1;
        // Blocks are below `blocks()`, so both ends lie inside the configured u16 range.
        (first as u16, last as u16)
    }

    pub fn subnet(&self, block: u32) -> Ipv4Net {
        let size = 1u32 << (32 - u32::from(self.subnet_prefix));
        let addr = Ipv4Addr::from(u32::from(self.subnet_base.network()) + block * size);
        Ipv4Net {
            addr,
            prefix: self.subnet_prefix,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAlloc {
    pub block: u32,
    #[serde(default)]
    pub ports: BTreeMap<ServerId, u16>,
}

/// Who holds which block and port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocations {
    #[serde(default)]
    pub users: BTreeMap<UserId, UserAlloc>,
}

impl Allocations {
    /// The user's block, assigning the lowest free one if they have none: free of other
    /// users, and with a subnet that none of the `foreign` networks overlaps.
    pub fn block(
        &mut self,
        pools: &Pools,
        user: &UserId,
        foreign: &[ForeignNet],
    ) -> Result<u32, AllocError> {
        if let Some(a) = self.users.get(user) {
            return Ok(a.block);
        }
        let taken: std::collections::BTreeSet<u32> = self.users.values().map(|a| a.block).collect();
        let clash = |b: u32| foreign.iter().find(|f| f.subnet.overlaps(pools.subnet(b)));
        let mut first_clash = None;
        let block = (0..pools.blocks())
            .filter(|b| !taken.contains(b))
            .find(|b| match clash(*b) {
                Some(f) => {
                    first_clash.get_or_insert(f);
                    false
                }
                None => true,
            });
        let Some(block) = block else {
            return Err(match first_clash {
                Some(f) => AllocError::SubnetsTaken {
                    user: user.clone(),
                    pool: pools.subnet_base,
                    network: f.name.clone(),
                    subnet: f.subnet,
                },
                None => AllocError::NoBlock {
                    user: user.clone(),
                    blocks: pools.blocks(),
                    start: pools.port_start,
                    end: pools.port_end,
                },
            });
        };
        self.users.insert(
            user.clone(),
            UserAlloc {
                block,
                ports: BTreeMap::new(),
            },
        );
        Ok(block)
    }

    /// The server's port, assigning the lowest port of the user's block that is free
    /// (and the block first, as `block` does, if the user has none).
    pub fn port(
        &mut self,
        pools: &Pools,
        user: &UserId,
        server: &ServerId,
        foreign: &[ForeignNet],
        is_free: impl Fn(u16) -> bool,
    ) -> Result<u16, AllocError> {
        let block = self.block(pools, user, foreign)?;
        let (first, last) = pools.ports(block);
        let alloc = self.users.entry(user.clone()).or_default();
        if let Some(p) = alloc.ports.get(server) {
            return Ok(*p);
        }
        let used: std::collections::BTreeSet<u16> = alloc.ports.values().copied().collect();
        let port = (first..=last)
            .find(|p| !used.contains(p) && is_free(*p))
            .ok_or_else(|| AllocError::NoPort {
                user: user.clone(),
                first,
                last,
            })?;
        alloc.ports.insert(server.clone(), port);
        Ok(port)
    }

    pub fn release_port(&mut self, user: &UserId, server: &ServerId) -> Option<u16> {
        self.users.get_mut(user)?.ports.remove(server)
    }

    /// Forgets the user's block (their network is gone).
    pub fn release_user(&mut self, user: &UserId) {
        self.users.remove(user);
    }

    /// Rebuilds the allocations from what the labels of networks and containers say.
    pub fn rebuild(
        blocks: impl IntoIterator<Item = (UserId, u32)>,
        ports: impl IntoIterator<Item = (UserId, ServerId, u16)>,
    ) -> Self {
        let mut a = Allocations::default();
        for (user, block) in blocks {
            a.users.entry(user).or_default().block = block;
        }
        for (user, server, port) in ports {
            if let Some(u) = a.users.get_mut(&user) {
                u.ports.insert(server, port);
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pools() -> Pools {
        Pools::new(
            20000,
            29999,
            100,
            Ipv4Net::parse("10.201.0.0/16").unwrap(),
            24,
        )
        .unwrap()
    }

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn s(x: &str) -> ServerId {
        ServerId::parse(x).unwrap()
    }

    #[test]
    fn blocks_map_to_ports_and_subnets() {
        let p = pools();
        assert_eq!(p.blocks(), 100);
        assert_eq!(p.ports(0), (20000, 20099));
        assert_eq!(p.ports(99), (29900, 29999));
        assert_eq!(p.subnet(3).to_string(), "10.201.3.0/24");
        assert_eq!(p.subnet(3).gateway().to_string(), "10.201.3.1");
    }

    #[test]
    fn users_get_distinct_blocks_and_ports_skip_taken_ones() {
        let p = pools();
        let mut a = Allocations::default();
        assert_eq!(a.block(&p, &u("u1"), &[]).unwrap(), 0);
        assert_eq!(a.block(&p, &u("u2"), &[]).unwrap(), 1);
        assert_eq!(
            a.port(&p, &u("u2"), &s("echo"), &[], |port| port != 20100)
                .unwrap(),
            20101
        );
        assert_eq!(
            a.port(&p, &u("u2"), &s("echo"), &[], |_| false).unwrap(),
            20101,
            "stable once assigned"
        );
        assert_eq!(
            a.port(&p, &u("u2"), &s("other"), &[], |_| true).unwrap(),
            20100
        );
        assert_eq!(a.release_port(&u("u2"), &s("echo")), Some(20101));
        assert_eq!(
            a.port(&p, &u("u2"), &s("third"), &[], |_| true).unwrap(),
            20101
        );
    }

    #[test]
    fn exhaustion_names_the_user_and_the_block() {
        let p = Pools::new(
            20000,
            20003,
            2,
            Ipv4Net::parse("10.201.0.0/16").unwrap(),
            24,
        )
        .unwrap();
        let mut a = Allocations::default();
        a.port(&p, &u("u1"), &s("a"), &[], |_| true).unwrap();
        a.port(&p, &u("u1"), &s("b"), &[], |_| true).unwrap();
        let e = a.port(&p, &u("u1"), &s("c"), &[], |_| true).unwrap_err();
        assert_eq!(e.to_string(), "no free port for user u1 in their block 20000-20001: every port is taken; disable a server or raise MCP_PORTAL_PORTS_PER_USER");
        a.block(&p, &u("u2"), &[]).unwrap();
        assert!(matches!(
            a.block(&p, &u("u3"), &[]).unwrap_err(),
            AllocError::NoBlock { .. }
        ));
    }

    fn net(name: &str, subnet: &str) -> ForeignNet {
        ForeignNet {
            name: name.into(),
            subnet: Ipv4Net::parse(subnet).unwrap(),
        }
    }

    #[test]
    fn subnets_overlap_when_they_share_an_address() {
        let n = |t| Ipv4Net::parse(t).unwrap();
        assert!(n("10.201.0.0/16").overlaps(n("10.201.3.0/24")));
        assert!(n("10.201.3.0/24").overlaps(n("10.201.0.0/16")));
        assert!(n("10.201.3.0/24").overlaps(n("10.201.3.0/24")));
        assert!(!n("10.201.3.0/24").overlaps(n("10.201.4.0/24")));
        assert!(!n("10.200.0.0/16").overlaps(n("10.201.0.0/16")));
        assert!(n("0.0.0.0/0").overlaps(n("192.168.1.0/30")));
        assert_eq!(
            Ipv4Net::parse_any("172.17.0.1/16"),
            Some(n("172.17.0.0/16"))
        );
        assert_eq!(Ipv4Net::parse_any("fd00::/64"), None);
        assert_eq!(Ipv4Net::parse_any("10.0.0.0/33"), None);
    }

    #[test]
    fn blocks_skip_subnets_that_other_networks_on_the_engine_hold() {
        let p = pools();
        let mut a = Allocations::default();
        let others = [
            net("other-portal", "10.201.0.0/24"),
            net("vpn", "10.201.2.0/23"),
        ];
        assert_eq!(a.block(&p, &u("u1"), &others).unwrap(), 1);
        assert_eq!(a.block(&p, &u("u2"), &others).unwrap(), 4);
        assert_eq!(p.subnet(4).to_string(), "10.201.4.0/24");
        // A user's block stays theirs, whatever appears on the engine later.
        assert_eq!(
            a.block(&p, &u("u1"), &[net("late", "10.201.1.0/24")])
                .unwrap(),
            1
        );
    }

    #[test]
    fn a_pool_covered_by_another_network_names_it_and_the_setting() {
        let p = pools();
        let mut a = Allocations::default();
        let e = a
            .block(&p, &u("u1"), &[net("bridge-wide", "10.0.0.0/8")])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no free subnet for user u1: the free blocks' subnets of the pool 10.201.0.0/16 overlap network bridge-wide (10.0.0.0/8) on the engine; set MCP_PORTAL_USER_NETWORK_SUBNET_BASE to a range no network uses (see `docker network inspect bridge-wide`)"
        );
        assert!(a.users.is_empty(), "nothing is recorded for a refused user");
    }

    #[test]
    fn bad_pools_are_refused() {
        assert!(Ipv4Net::parse("10.201.0.1/16").is_err());
        assert!(Ipv4Net::parse("10.201.0.0").is_err());
        assert!(Pools::new(
            30000,
            20000,
            100,
            Ipv4Net::parse("10.0.0.0/16").unwrap(),
            24
        )
        .is_err());
        assert!(Pools::new(
            20000,
            20010,
            100,
            Ipv4Net::parse("10.0.0.0/16").unwrap(),
            24
        )
        .is_err());
        assert!(Pools::new(20000, 29999, 100, Ipv4Net::parse("10.0.0.0/16").unwrap(), 8).is_err());
    }

    proptest! {
        #[test]
        fn rebuilding_from_labels_gives_the_same_allocations(ops in prop::collection::vec((0u8..6, 0u8..4, any::<bool>()), 0..60)) {
            let p = pools();
            let mut a = Allocations::default();
            for (user, server, enable) in ops {
                let (user, server) = (u(&format!("u{user}")), s(&format!("s{server}")));
                if enable { a.port(&p, &user, &server, &[], |_| true).unwrap(); } else { a.release_port(&user, &server); }
            }
            let blocks: Vec<_> = a.users.iter().map(|(u, x)| (u.clone(), x.block)).collect();
            let ports: Vec<_> = a.users.iter().flat_map(|(u, x)| x.ports.iter().map(move |(s, p)| (u.clone(), s.clone(), *p))).collect();
            prop_assert_eq!(Allocations::rebuild(blocks, ports), a.clone());
            let mut seen = std::collections::BTreeSet::new();
            for x in a.users.values() {
                let (first, last) = p.ports(x.block);
                for port in x.ports.values() {
                    prop_assert!((first..=last).contains(port));
                    prop_assert!(seen.insert(*port), "a port is held twice");
                }
            }
        }
    }
}
