//! Confinement every container gets: only the capabilities the admin allows, no new
//! privileges, a read-only root with a small `/tmp` unless the definition needs it
//! writable, and bounded logs.

use std::collections::BTreeMap;

use super::model::Hardening;
use super::{refuse, PlanError};
use crate::catalog::model::ServerDef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Confinement {
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    pub read_only: bool,
    pub tmpfs: BTreeMap<String, String>,
    pub log_opts: BTreeMap<String, String>,
}

pub(super) fn confinement(s: &ServerDef, h: &Hardening) -> Result<Confinement, PlanError> {
    for cap in &s.cap_add {
        if !h.allowed_caps.contains(cap) {
            return Err(refuse(
                s,
                format!(
                    "needs capability {cap}, which is not allowed here (MCP_PORTAL_ALLOWED_CAPS: {})",
                    h.allowed_caps.join(",")
                ),
            ));
        }
    }
    let read_only = !s.writable_rootfs;
    let tmpfs = if read_only {
        BTreeMap::from([(
            "/tmp".to_string(),
            format!("rw,noexec,nosuid,size={}m", h.tmp_size_mb),
        )])
    } else {
        BTreeMap::new()
    };
    Ok(Confinement {
        cap_add: s.cap_add.clone(),
        security_opt: vec!["no-new-privileges:true".into()],
        read_only,
        tmpfs,
        log_opts: BTreeMap::from([
            ("max-size".to_string(), h.log_max_size.clone()),
            ("max-file".to_string(), h.log_max_files.to_string()),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::fixture;
    use super::*;
    use crate::ids::ServerId;

    fn server() -> ServerDef {
        ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest")
    }

    #[test]
    fn a_container_gets_a_read_only_root_a_small_tmp_and_bounded_logs() {
        let c = confinement(&server(), &fixture().hardening).unwrap();
        assert!(c.read_only);
        assert_eq!(c.tmpfs["/tmp"], "rw,noexec,nosuid,size=64m");
        assert_eq!(c.security_opt, ["no-new-privileges:true"]);
        assert_eq!(c.log_opts["max-size"], "10m");
        assert_eq!(c.log_opts["max-file"], "3");
        assert!(c.cap_add.is_empty());
    }

    #[test]
    fn a_writable_root_needs_no_tmpfs() {
        let mut s = server();
        s.writable_rootfs = true;
        let c = confinement(&s, &fixture().hardening).unwrap();
        assert!(!c.read_only);
        assert!(c.tmpfs.is_empty());
    }

    #[test]
    fn only_allowed_capabilities_are_added_and_the_refusal_lists_them() {
        let mut s = server();
        s.cap_add = vec!["NET_BIND_SERVICE".into()];
        let h = fixture().hardening;
        assert_eq!(confinement(&s, &h).unwrap().cap_add, ["NET_BIND_SERVICE"]);
        s.cap_add.push("SYS_ADMIN".into());
        assert_eq!(
            confinement(&s, &h).unwrap_err().to_string(),
            "server x: needs capability SYS_ADMIN, which is not allowed here \
             (MCP_PORTAL_ALLOWED_CAPS: NET_BIND_SERVICE)"
        );
    }
}
