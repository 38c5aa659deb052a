//! The native catalog model: a catalog of server definitions (seed 004's
//! ServerDefinition plus seed 000's visibility rule), overlays that patch them, and the
//! user profile that visibility is decided on.

use std::collections::BTreeMap;

use serde::{de, Deserialize, Serialize};

use crate::catalog::units::{Cpus, Duration, Memory};
use crate::ids::{Label, SecretName, ServerId, UserId};

/// How a client talks to the server.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    #[default]
    Stdio,
    Sse,
    StreamableHttp,
}

impl Transport {
    pub fn is_http(self) -> bool {
        !matches!(self, Transport::Stdio)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Sse => "sse",
            Transport::StreamableHttp => "streamable-http",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u32>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self == &Resources::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKind {
    /// The container's process is running (the only check for stdio servers).
    Process,
    /// A TCP connect to the container port.
    Tcp,
    /// An HTTP GET of `path` answering 2xx.
    Http,
    /// An MCP `initialize` over the server's HTTP transport.
    Mcp,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(rename = "type")]
    pub kind: HealthKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// A secret the server needs, and the environment variable it becomes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub name: SecretName,
    pub env: String,
    /// Deliver the value as the read-only file `/run/secrets/<env>` (and `<env>_FILE` names
    /// it) instead of as the variable itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file: bool,
}

/// A per-user setting that templates (`{{server.param}}`) refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Text, or a list for an `array` parameter (Docker's schemas give lists defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ParamValue>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(rename = "type", default, skip_serializing_if = "ParamKind::is_string")]
    pub kind: ParamKind,
}

/// A parameter's value, as settings store it: see [`crate::catalog::template::Value`].
pub type ParamValue = crate::catalog::template::Value;

/// Whether a parameter takes one value or a list (`filesystem.paths`), in the words of
/// the JSON schemas Docker's catalogs declare them with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    #[default]
    String,
    Array,
}

impl ParamKind {
    pub fn is_string(&self) -> bool {
        *self == ParamKind::String
    }
}

/// Who may see a server. Every non-empty list must match (any entry of it); empty = everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visibility {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Label>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<Label>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserId>,
}

impl Visibility {
    pub fn is_empty(&self) -> bool {
        self == &Visibility::default()
    }

    pub fn admits(&self, user: &UserProfile) -> bool {
        let roles = self.roles.is_empty() || self.roles.iter().any(|r| user.roles.contains(r));
        let orgs = self.organizations.is_empty()
            || user
                .organization
                .as_ref()
                .is_some_and(|o| self.organizations.contains(o));
        let users = self.users.is_empty() || self.users.contains(&user.id);
        roles && orgs && users
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Port errors say the range, where serde would say `expected u16`. Port 0 decodes, and
/// validation refuses it with the other port rules.
fn port_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    d.deserialize_option(PortVisitor)
}

struct PortVisitor;

impl<'de> de::Visitor<'de> for PortVisitor {
    type Value = Option<u16>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a port number from 1 to 65535")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_u64(self)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        u16::try_from(n)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::invalid_value(de::Unexpected::Signed(n), &self)),
        }
    }
}

/// One MCP server a user can enable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDef {
    pub id: ServerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Image reference; a `tag` below replaces its tag.
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default)]
    pub transport: Transport,
    /// Container port of an HTTP transport.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "port_number"
    )]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// Stopped after this long without an MCP request, started again by the next one;
    /// `MCP_PORTAL_IDLE_TIMEOUT` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub user_configurable: bool,
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Parameter>,
    #[serde(default, skip_serializing_if = "Visibility::is_empty")]
    pub visibility: Visibility,
    /// Container user (`uid[:gid]` or name); the portal's own non-root default otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_network: bool,
    /// The only `host:port` destinations the server may reach, through its egress proxy
    /// (`plan::egress`); empty: its user's network, unrestricted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    /// Capabilities the server needs back after all are dropped (admin allow-list applies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// The server writes outside /tmp and its volumes, so its root filesystem stays writable.
    #[serde(default, skip_serializing_if = "is_false")]
    pub writable_rootfs: bool,
    /// What the server needs that the portal does not start or provide (Docker's
    /// `requirement:` companion services, `run.ports`), shown where servers are listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<String>,
}

impl ServerDef {
    /// A minimal definition, for tests and builders.
    pub fn new(id: ServerId, image: &str) -> Self {
        Self {
            id,
            display_name: None,
            description: None,
            image: image.to_string(),
            tag: None,
            category: None,
            transport: Transport::Stdio,
            port: None,
            command: Vec::new(),
            env: BTreeMap::new(),
            volumes: Vec::new(),
            resources: Resources::default(),
            health_check: None,
            idle_timeout: None,
            user_configurable: false,
            secrets: Vec::new(),
            parameters: BTreeMap::new(),
            visibility: Visibility::default(),
            user: None,
            disable_network: false,
            allow_hosts: Vec::new(),
            cap_add: Vec::new(),
            writable_rootfs: false,
            requirements: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintainer: Option<String>,
}

/// Which input format a catalog file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Native,
    DockerCatalog,
    DockerRegistry,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::DockerCatalog => "docker-catalog",
            Format::DockerRegistry => "docker-registry",
        }
    }
}

/// A parsed, validated catalog in the native model, whatever format it came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The catalog's own version, e.g. "1.2.3" (empty when the source has none).
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    /// Sorted by id, ids unique.
    pub servers: Vec<ServerDef>,
}

/// One overlay entry: the server it changes and the fields it names (JSON merge patch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPatch {
    pub id: ServerId,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// An environment overlay (dev, staging, prod): patches applied over the base catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which users the overlay applies to; everyone when empty.
    #[serde(default, skip_serializing_if = "Visibility::is_empty")]
    pub applies_to: Visibility,
    /// Sorted by id, ids unique.
    pub servers: Vec<ServerPatch>,
}

/// What visibility and overlay selection are decided on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    pub id: UserId,
    #[serde(default)]
    pub roles: Vec<Label>,
    #[serde(default)]
    pub organization: Option<Label>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[&str], org: Option<&str>) -> UserProfile {
        UserProfile {
            id: UserId::parse("u1").unwrap(),
            roles: roles.iter().map(|r| Label::parse(r).unwrap()).collect(),
            organization: org.map(|o| Label::parse(o).unwrap()),
        }
    }

    fn rule(roles: &[&str], orgs: &[&str], users: &[&str]) -> Visibility {
        Visibility {
            roles: roles.iter().map(|r| Label::parse(r).unwrap()).collect(),
            organizations: orgs.iter().map(|r| Label::parse(r).unwrap()).collect(),
            users: users.iter().map(|r| UserId::parse(r).unwrap()).collect(),
        }
    }

    #[test]
    fn an_empty_rule_admits_everyone() {
        assert!(Visibility::default().admits(&user(&[], None)));
    }

    #[test]
    fn every_non_empty_list_must_match() {
        let v = rule(&["admin", "dev"], &["acme"], &[]);
        assert!(v.admits(&user(&["dev"], Some("acme"))));
        assert!(!v.admits(&user(&["dev"], Some("other"))));
        assert!(!v.admits(&user(&["dev"], None)));
        assert!(!v.admits(&user(&["standard"], Some("acme"))));
        assert!(rule(&[], &[], &["u1"]).admits(&user(&[], None)));
        assert!(!rule(&[], &[], &["u2"]).admits(&user(&[], None)));
    }

    #[test]
    fn transport_spells_like_the_catalog() {
        let t: Transport = serde_json::from_str("\"streamable-http\"").unwrap();
        assert_eq!(t, Transport::StreamableHttp);
        assert!(t.is_http());
        assert!(serde_json::from_str::<Transport>("\"http\"").is_err());
    }

    #[test]
    fn a_port_error_says_the_range() {
        let port = |json: &str| {
            let mut v: serde_json::Value =
                serde_json::from_str(r#"{"id": "a", "image": "x"}"#).unwrap();
            v["port"] = serde_json::from_str(json).unwrap();
            serde_json::from_value::<ServerDef>(v).map(|s| s.port)
        };
        assert_eq!(port("8080").unwrap(), Some(8080));
        assert_eq!(port("null").unwrap(), None);
        for bad in ["99999", "-1", "\"x\"", "80.5"] {
            let e = port(bad).unwrap_err().to_string();
            assert!(e.contains("expected a port number from 1 to 65535"), "{e}");
        }
    }
}
