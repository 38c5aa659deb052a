//! What the admin lets one definition ask for: root, capabilities, a writable root
//! filesystem, and the most memory, CPU and processes a container may have. Checked at
//! upload, so a catalog cannot exceed them, and again at enable, since the admin may
//! have tightened them since.

use super::model::ServerDef;
use super::template;
use super::units::{Cpus, Memory, DEFAULT_MAX_SERVER_CPUS, DEFAULT_MAX_SERVER_MEMORY};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    pub allow_root: bool,
    pub allowed_caps: Vec<String>,
    pub allow_writable_rootfs: bool,
    pub max_memory: Memory,
    pub max_cpus: Cpus,
    pub max_pids: u32,
}

impl Default for Bounds {
    /// The configuration's defaults (`config::keys`).
    fn default() -> Self {
        Self {
            allow_root: false,
            allowed_caps: vec!["NET_BIND_SERVICE".into()],
            allow_writable_rootfs: false,
            max_memory: DEFAULT_MAX_SERVER_MEMORY,
            max_cpus: DEFAULT_MAX_SERVER_CPUS,
            max_pids: 4096,
        }
    }
}

/// Whether a container user is (or may become) uid 0. A numeric user is read as a
/// number, so `00`, `+0` and `-0` are root too; one that is not a plain uid between 1 and
/// 2^32-2 is counted as root as well, since a runtime may wrap it to 0 (4294967296).
pub fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default().trim();
    // An empty user part (`:1000`) leaves the uid to the image's default: root.
    if name == "root" || name.is_empty() {
        return true;
    }
    let digits = name.trim_start_matches(['+', '-']);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if !numeric {
        return false;
    }
    let plain = digits.len() == name.len();
    !(plain && matches!(name.parse::<u32>(), Ok(n) if n != 0 && n != u32::MAX))
}

pub const ROOT_REFUSED: &str =
    "runs as root, which this portal does not allow (MCP_PORTAL_ALLOW_ROOT)";

impl Bounds {
    /// What `def` asks beyond these bounds, as (field, why). A templated user is
    /// known only per user: the planner checks it once resolved.
    pub fn check(&self, def: &ServerDef) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(u) = &def.user {
            if !u.is_empty() && !template::has_template(u) && is_root(u) && !self.allow_root {
                out.push(("user".into(), ROOT_REFUSED.into()));
            }
        }
        for (i, cap) in def.cap_add.iter().enumerate() {
            if !self.allowed_caps.contains(cap) {
                out.push((
                    format!("cap_add[{i}]"),
                    format!(
                        "needs capability {cap}, which is not allowed here (MCP_PORTAL_ALLOWED_CAPS: {})",
                        self.allowed_caps.join(",")
                    ),
                ));
            }
        }
        if def.writable_rootfs && !self.allow_writable_rootfs {
            out.push((
                "writable_rootfs".into(),
                "needs a writable root filesystem, which this portal does not allow (MCP_PORTAL_ALLOW_WRITABLE_ROOTFS)".into(),
            ));
        }
        let r = &def.resources;
        // (field, what, asked when over the bound, the bound, its setting)
        let over = [
            (
                "resources.memory",
                "of memory",
                r.memory
                    .filter(|m| *m > self.max_memory)
                    .map(|m| m.to_string()),
                self.max_memory.to_string(),
                "MCP_PORTAL_MAX_SERVER_MEMORY",
            ),
            (
                "resources.cpus",
                "CPUs",
                r.cpus.filter(|c| *c > self.max_cpus).map(|c| c.to_string()),
                self.max_cpus.to_string(),
                "MCP_PORTAL_MAX_SERVER_CPUS",
            ),
            (
                "resources.pids",
                "processes",
                r.pids.filter(|p| *p > self.max_pids).map(|p| p.to_string()),
                self.max_pids.to_string(),
                "MCP_PORTAL_MAX_SERVER_PIDS",
            ),
        ];
        for (field, what, asked, max, key) in over {
            if let Some(asked) = asked {
                out.push((
                    field.into(),
                    format!("asks for {asked} {what}, more than one server may have here: {max} ({key})"),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerId;

    fn server() -> ServerDef {
        ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest")
    }

    #[test]
    fn root_is_recognised_by_name_or_id_with_or_without_a_group() {
        assert!(is_root("root"));
        assert!(is_root("0"));
        assert!(is_root("0:1000"));
        assert!(is_root("root:root"));
        assert!(!is_root("1000:0"));
        // Issue 11: numbers are numbers.
        for root in [
            "00",
            "000:000",
            "-0",
            "+0",
            " 0",
            "4294967296",
            "4294967295",
            "-1",
            "+1000",
            ":0",
            ":1000",
        ] {
            assert!(is_root(root), "{root:?} counts as root");
        }
        for user in ["1", "65534:65534", "1000", "node", "app:app"] {
            assert!(!is_root(user), "{user:?} is not root");
        }
        assert!(!is_root("rooty"));
    }

    #[test]
    fn a_definition_within_the_bounds_passes() {
        let mut s = server();
        s.user = Some("1000".into());
        s.cap_add = vec!["NET_BIND_SERVICE".into()];
        s.resources.memory = Some(Memory::parse("4g").unwrap());
        s.resources.pids = Some(4096);
        assert_eq!(Bounds::default().check(&s), []);
        s.user = Some("{{x.uid}}".into());
        assert_eq!(Bounds::default().check(&s), [], "checked once resolved");
    }

    #[test]
    fn each_thing_beyond_the_bounds_is_named_with_the_setting_that_allows_it() {
        let mut s = server();
        s.user = Some("00".into());
        s.cap_add = vec!["SYS_ADMIN".into()];
        s.writable_rootfs = true;
        s.resources.memory = Some(Memory::parse("5g").unwrap());
        s.resources.cpus = Some(Cpus::from_millis(8000).unwrap());
        s.resources.pids = Some(100_000);
        let found: Vec<String> = Bounds::default()
            .check(&s)
            .into_iter()
            .map(|(f, why)| format!("{f}: {why}"))
            .collect();
        assert_eq!(
            found,
            [
                "user: runs as root, which this portal does not allow (MCP_PORTAL_ALLOW_ROOT)",
                "cap_add[0]: needs capability SYS_ADMIN, which is not allowed here (MCP_PORTAL_ALLOWED_CAPS: NET_BIND_SERVICE)",
                "writable_rootfs: needs a writable root filesystem, which this portal does not allow (MCP_PORTAL_ALLOW_WRITABLE_ROOTFS)",
                "resources.memory: asks for 5g of memory, more than one server may have here: 4g (MCP_PORTAL_MAX_SERVER_MEMORY)",
                "resources.cpus: asks for 8 CPUs, more than one server may have here: 4 (MCP_PORTAL_MAX_SERVER_CPUS)",
                "resources.pids: asks for 100000 processes, more than one server may have here: 4096 (MCP_PORTAL_MAX_SERVER_PIDS)",
            ]
        );
        let open = Bounds {
            allow_root: true,
            allowed_caps: vec!["SYS_ADMIN".into()],
            allow_writable_rootfs: true,
            ..Bounds::default()
        };
        assert_eq!(open.check(&s).len(), 3, "only the limits remain");
    }
}
