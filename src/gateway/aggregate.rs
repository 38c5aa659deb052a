//! One list from many servers (pure): `/mcp` offers every enabled server's tools and
//! prompts as `<server>__<name>`, the docker/mcp-gateway convention, and its resources
//! under their own URIs. A name two servers would share goes to the first in server
//! order; the other is renamed with a numbered suffix and reported, and the list still
//! comes back whole. The same table routes calls back to the server and original name.

use std::collections::BTreeMap;

use serde_json::Value;

/// What separates the server from the item's own name.
pub const SEPARATOR: &str = "__";

/// The kinds of items a server lists, with the field that names each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Tools,
    Prompts,
    Resources,
    ResourceTemplates,
}

impl Kind {
    pub fn from_list_method(method: &str) -> Option<Self> {
        Some(match method {
            "tools/list" => Self::Tools,
            "prompts/list" => Self::Prompts,
            "resources/list" => Self::Resources,
            "resources/templates/list" => Self::ResourceTemplates,
            _ => return None,
        })
    }

    /// The result field holding the items.
    pub fn field(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Prompts => "prompts",
            Self::Resources => "resources",
            Self::ResourceTemplates => "resourceTemplates",
        }
    }

    /// The item field that names it.
    pub fn key(self) -> &'static str {
        match self {
            Self::Tools | Self::Prompts => "name",
            Self::Resources => "uri",
            Self::ResourceTemplates => "uriTemplate",
        }
    }

    /// Whether names are prefixed with the server (URIs already say where they lead).
    fn prefixed(self) -> bool {
        matches!(self, Self::Tools | Self::Prompts)
    }
}

/// Where a name the client sees leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub server: String,
    pub name: String,
}

/// The merged list, its routes, and the collisions that were resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged {
    pub items: Vec<Value>,
    pub routes: BTreeMap<String, Route>,
    pub collisions: Vec<String>,
}

/// Merges what each server listed, in the order given (the caller sorts by server id).
pub fn merge(kind: Kind, lists: &[(String, Vec<Value>)]) -> Merged {
    let mut merged = Merged::default();
    for (server, items) in lists {
        for item in items {
            let Some(own) = item.get(kind.key()).and_then(Value::as_str) else {
                continue;
            };
            let wanted = if kind.prefixed() {
                format!("{server}{SEPARATOR}{own}")
            } else {
                own.to_string()
            };
            let mut shown = wanted.clone();
            let mut n = 2;
            while merged.routes.contains_key(&shown) {
                shown = format!("{wanted}_{n}");
                n += 1;
            }
            if shown != wanted {
                let first = &merged.routes[&wanted].server;
                merged.collisions.push(format!(
                    "{} {wanted:?} of server {server} is also offered by server {first}; it is listed as {shown:?}",
                    kind.key()
                ));
            }
            let mut item = item.clone();
            if let Some(o) = item.as_object_mut() {
                o.insert(kind.key().into(), Value::String(shown.clone()));
            }
            merged.routes.insert(
                shown,
                Route {
                    server: server.clone(),
                    name: own.to_string(),
                },
            );
            merged.items.push(item);
        }
    }
    merged
}

/// Where a prefixed name leads when no listing has been seen yet: the longest server id
/// among `servers` that the name starts with, followed by the separator.
pub fn route_by_prefix<'a>(
    name: &str,
    servers: impl IntoIterator<Item = &'a str>,
) -> Option<Route> {
    servers
        .into_iter()
        .filter_map(|s| {
            let rest = name.strip_prefix(s)?.strip_prefix(SEPARATOR)?;
            (!rest.is_empty()).then(|| Route {
                server: s.to_string(),
                name: rest.to_string(),
            })
        })
        .max_by_key(|r| r.server.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tools(names: &[&str]) -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({"name": n, "inputSchema": {}}))
            .collect()
    }

    #[test]
    fn tools_of_two_servers_are_prefixed_and_routed_back() {
        let m = merge(
            Kind::Tools,
            &[
                ("echo".into(), tools(&["echo", "sleep"])),
                ("git".into(), tools(&["log"])),
            ],
        );
        let names: Vec<&str> = m
            .items
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["echo__echo", "echo__sleep", "git__log"]);
        assert_eq!(
            m.routes["git__log"],
            Route {
                server: "git".into(),
                name: "log".into()
            }
        );
        assert!(m.collisions.is_empty());
    }

    #[test]
    fn a_collision_keeps_the_first_renames_the_other_and_is_reported() {
        let m = merge(
            Kind::Tools,
            &[
                ("a".into(), tools(&["b__c"])),
                ("a__b".into(), tools(&["c"])),
            ],
        );
        let names: Vec<&str> = m
            .items
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a__b__c", "a__b__c_2"]);
        assert_eq!(m.routes["a__b__c"].server, "a");
        assert_eq!(m.routes["a__b__c_2"].server, "a__b");
        assert_eq!(m.routes["a__b__c_2"].name, "c");
        assert_eq!(m.collisions.len(), 1);
        assert!(
            m.collisions[0].contains("server a__b"),
            "{:?}",
            m.collisions
        );
    }

    #[test]
    fn resources_keep_their_uris_and_duplicates_are_numbered() {
        let r = |u: &str| json!({"uri": u, "name": "x"});
        let m = merge(
            Kind::Resources,
            &[
                ("a".into(), vec![r("file:///x")]),
                ("b".into(), vec![r("file:///x"), r("db://t")]),
            ],
        );
        assert_eq!(m.routes["file:///x"].server, "a");
        assert_eq!(m.routes["file:///x_2"].server, "b");
        assert_eq!(m.routes["db://t"].name, "db://t");
    }

    #[test]
    fn without_a_listing_the_longest_matching_server_wins() {
        let servers = ["a", "a__b", "echo"];
        assert_eq!(route_by_prefix("a__b__c", servers).unwrap().server, "a__b");
        assert_eq!(route_by_prefix("echo__echo", servers).unwrap().name, "echo");
        assert_eq!(route_by_prefix("nope__x", servers), None);
        assert_eq!(route_by_prefix("echo__", servers), None);
    }
}
