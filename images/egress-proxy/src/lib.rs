//! The allow-list of mcp-portal's egress proxy: what an `allow_hosts` entry means, and
//! whether a request's `host:port` is on the list. Pure (no I/O), so the portal checks
//! catalog entries at upload with the very parser the proxy enforces them with.
//!
//! An entry is `host:port`, as in Docker's catalogs (`api.github.com:443`), optionally
//! followed by `/http`, `/https` or `/tcp` (accepted and ignored: the proxy forwards
//! plain HTTP and CONNECT tunnels alike to an allowed `host:port`). The host is a DNS
//! name or an IP address (`[...]` for IPv6). A bare host has no port and is refused, as
//! docker/mcp-gateway refuses it; wildcards are refused. Loopback, unspecified and
//! multicast addresses and `localhost` are refused: they would name the proxy itself.
//! Matching is exact: the same host (case-insensitive, a trailing dot ignored) and the
//! same port.

use std::fmt;
use std::net::IpAddr;

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    /// Lower case, no trailing dot, IPv6 without brackets.
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why an entry is not a destination, said so that the catalog's author can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError(pub String);

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EntryError {}

fn refuse(entry: &str, why: &str) -> EntryError {
    EntryError(format!("{entry:?} {why}"))
}

/// Parses one `allow_hosts` entry.
pub fn parse_entry(entry: &str) -> Result<Rule, EntryError> {
    let text = entry.trim();
    if text.is_empty() {
        return Err(refuse(
            entry,
            "is empty; write host:port, as in api.example.com:443",
        ));
    }
    let target = match text.split_once('/') {
        Some((t, "http" | "https" | "tcp")) => t,
        Some((_, other)) => {
            return Err(refuse(
                entry,
                &format!("names protocol {other:?}; use http, https or tcp, or none"),
            ))
        }
        None => text,
    };
    if target.contains('*') {
        return Err(refuse(entry, "holds a wildcard; name each host:port"));
    }
    let (host, port) = split_host_port(target).ok_or_else(|| {
        refuse(
            entry,
            "has no port; write host:port, as in api.example.com:443",
        )
    })?;
    let port: u16 = match port.parse() {
        Ok(p) if p > 0 => p,
        _ => return Err(refuse(entry, "has no valid port (1 to 65535)")),
    };
    let host = normalize_host(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
            return Err(refuse(
                entry,
                "is a loopback, unspecified or multicast address; name a host outside",
            ));
        }
    } else if !is_dns_name(&host) {
        return Err(refuse(entry, "has no valid host name or IP address"));
    } else if host == "localhost" || host.ends_with(".localhost") {
        return Err(refuse(entry, "names localhost; name a host outside"));
    }
    Ok(Rule { host, port })
}

/// `host:port` or `[v6]:port`; `None` without a port.
fn split_host_port(target: &str) -> Option<(&str, &str)> {
    if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = target.rsplit_once(':')?;
    // More than one ':' without brackets is a bare IPv6 address, which has no port.
    if host.contains(':') {
        return None;
    }
    Some((host, port))
}

/// How hosts are compared: lower case, no trailing dot, no IPv6 brackets.
pub fn normalize_host(host: &str) -> String {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase()
}

fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A server's allowed destinations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    rules: Vec<Rule>,
}

impl AllowList {
    /// Every entry parsed, sorted and without duplicates; the first bad entry refuses all.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, EntryError> {
        let mut rules = entries
            .iter()
            .map(|e| parse_entry(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        rules.sort();
        rules.dedup();
        Ok(Self { rules })
    }

    /// Whether `host:port` is allowed: exactly the same host and port.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = normalize_host(host);
        self.rules.iter().any(|r| r.host == host && r.port == port)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The list as the proxy takes it on its command line: `host:port,...`.
    pub fn to_arg(&self) -> String {
        self.rules
            .iter()
            .map(Rule::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(host: &str, port: u16) -> Rule {
        Rule {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn an_entry_is_a_host_and_a_port_with_an_optional_protocol() {
        assert_eq!(
            parse_entry("api.github.com:443").unwrap(),
            rule("api.github.com", 443)
        );
        assert_eq!(
            parse_entry("API.GitHub.com.:443/https").unwrap(),
            rule("api.github.com", 443)
        );
        assert_eq!(parse_entry("db:5432/tcp").unwrap(), rule("db", 5432));
        assert_eq!(
            parse_entry("203.0.113.7:80").unwrap(),
            rule("203.0.113.7", 80)
        );
        assert_eq!(
            parse_entry("[2001:db8::1]:8443").unwrap(),
            rule("2001:db8::1", 8443)
        );
        assert_eq!(rule("2001:db8::1", 8443).to_string(), "[2001:db8::1]:8443");
    }

    #[test]
    fn a_bare_host_is_refused_for_want_of_a_port_as_docker_refuses_it() {
        let e = parse_entry("api.github.com").unwrap_err().to_string();
        assert_eq!(
            e,
            "\"api.github.com\" has no port; write host:port, as in api.example.com:443"
        );
        assert!(parse_entry("2001:db8::1").is_err());
        assert!(parse_entry("[2001:db8::1]").is_err());
    }

    #[test]
    fn malformed_entries_are_refused_with_the_reason() {
        let why = |e: &str| parse_entry(e).unwrap_err().to_string();
        assert!(why("").contains("is empty"));
        assert!(why("*.github.com:443").contains("wildcard"));
        assert!(why("github.com:0").contains("no valid port"));
        assert!(why("github.com:65536").contains("no valid port"));
        assert!(why("github.com:https").contains("no valid port"));
        assert!(why("github.com:443/udp").contains("protocol \"udp\""));
        assert!(why("git hub.com:443").contains("no valid host"));
        assert!(why("-x.com:443").contains("no valid host"));
        assert!(why("user@github.com:443").contains("no valid host"));
        assert!(why(":443").contains("no valid host"));
        assert!(why("localhost:80").contains("localhost"));
        assert!(why("127.0.0.1:80").contains("loopback"));
        assert!(why("[::1]:80").contains("loopback"));
        assert!(why("0.0.0.0:80").contains("loopback"));
        assert!(why("224.0.0.1:80").contains("multicast"));
    }

    #[test]
    fn matching_is_exact_on_host_and_port_and_ignores_case() {
        let list = AllowList::parse(&["api.example.com:443", "files.example.com:80"]).unwrap();
        assert!(list.allows("api.example.com", 443));
        assert!(list.allows("API.Example.COM.", 443));
        assert!(!list.allows("api.example.com", 80), "another port");
        assert!(!list.allows("evil.api.example.com", 443), "a subdomain");
        assert!(!list.allows("example.com", 443), "a parent domain");
        assert!(!list.allows("api.example.com.evil", 443));
        assert!(list.allows("files.example.com", 80));
        assert!(!AllowList::default().allows("api.example.com", 443));
    }

    #[test]
    fn a_list_is_sorted_without_duplicates_and_one_bad_entry_refuses_it() {
        let list = AllowList::parse(&["b:1", "A:2", "a:2/http"]).unwrap();
        assert_eq!(list.to_arg(), "a:2,b:1");
        assert!(AllowList::parse(&["a:1", "nope"]).is_err());
    }
}
