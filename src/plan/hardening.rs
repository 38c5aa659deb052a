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

pub(super) fn confinement(
    s: &ServerDef,
    h: &Hardening,
    memory_bytes: u64,
) -> Result<Confinement, PlanError> {
    // Checked at upload too; again here, as the admin may have tightened them since.
    if let Some((field, why)) = h.bounds.check(s).into_iter().next() {
        return Err(refuse(s, format!("{field}: {why}")));
    }
    let read_only = !s.writable_rootfs;
    let tmpfs = if read_only {
        // Its pages are charged to the container's memory limit (the user's quota)
        // anyway; no larger than that limit, a full /tmp is "no space", not a kill.
        let mib = u64::from(h.tmp_size_mb).min(memory_bytes >> 20).max(1);
        BTreeMap::from([("/tmp".to_string(), format!("rw,noexec,nosuid,size={mib}m"))])
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

    const MEM: u64 = 256 << 20;

    #[test]
    fn a_container_gets_a_read_only_root_a_small_tmp_and_bounded_logs() {
        let c = confinement(&server(), &fixture().hardening, MEM).unwrap();
        assert!(c.read_only);
        assert_eq!(c.tmpfs["/tmp"], "rw,noexec,nosuid,size=64m");
        assert_eq!(c.security_opt, ["no-new-privileges:true"]);
        assert_eq!(c.log_opts["max-size"], "10m");
        assert_eq!(c.log_opts["max-file"], "3");
        assert!(c.cap_add.is_empty());
    }

    #[test]
    fn tmp_is_no_larger_than_the_containers_memory_which_it_is_charged_to() {
        let c = confinement(&server(), &fixture().hardening, 32 << 20).unwrap();
        assert_eq!(c.tmpfs["/tmp"], "rw,noexec,nosuid,size=32m");
    }

    #[test]
    fn a_writable_root_needs_no_tmpfs_but_the_admins_leave() {
        let mut s = server();
        s.writable_rootfs = true;
        let mut h = fixture().hardening;
        assert_eq!(
            confinement(&s, &h, MEM).unwrap_err().to_string(),
            "server x: writable_rootfs: needs a writable root filesystem, which this portal \
             does not allow (MCP_PORTAL_ALLOW_WRITABLE_ROOTFS)"
        );
        h.bounds.allow_writable_rootfs = true;
        let c = confinement(&s, &h, MEM).unwrap();
        assert!(!c.read_only);
        assert!(c.tmpfs.is_empty());
    }

    #[test]
    fn only_allowed_capabilities_are_added_and_the_refusal_lists_them() {
        let mut s = server();
        s.cap_add = vec!["NET_BIND_SERVICE".into()];
        let h = fixture().hardening;
        assert_eq!(
            confinement(&s, &h, MEM).unwrap().cap_add,
            ["NET_BIND_SERVICE"]
        );
        s.cap_add.push("SYS_ADMIN".into());
        assert_eq!(
            confinement(&s, &h, MEM).unwrap_err().to_string(),
            "server x: cap_add[1]: needs capability SYS_ADMIN, which is not allowed here \
             (MCP_PORTAL_ALLOWED_CAPS: NET_BIND_SERVICE)"
        );
    }

    #[test]
    fn limits_over_the_admins_bounds_are_refused_at_enable_too() {
        let mut s = server();
        s.resources.pids = Some(5000);
        assert!(confinement(&s, &fixture().hardening, MEM)
            .unwrap_err()
            .to_string()
            .contains("resources.pids: asks for 5000 processes, more than one server may have here: 4096 (MCP_PORTAL_MAX_SERVER_PIDS)"));
    }
}
