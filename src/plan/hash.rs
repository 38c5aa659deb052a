//! The spec hash: what tells a running container from the one its definition now asks
//! for. Any change to what is hashed recreates every running container, so the hashes of
//! representative specs are pinned by a test.

use sha2::{Digest, Sha256};

use super::labels::LABEL_SPEC_HASH;
use super::model::ContainerSpec;

/// SHA-256 over the spec's canonical JSON (maps are sorted, so equal specs hash equal).
pub fn spec_hash(spec: &ContainerSpec) -> String {
    // Serializing plain strings, numbers and sorted maps cannot fail.
    let bytes = serde_json::to_vec(spec).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))[..16].to_string()
}

/// The spec labelled with its own hash (taken before the label is added), and the hash.
///
/// The hash reads the container's name as `hashed_name`, the spelling earlier versions
/// gave it (`plan::legacy_container_name`): the name changed to keep pairs apart, not
/// what runs, so a container renamed on upgrade keeps its hash and is not recreated. The
/// labels, which are hashed, still tell one pair's spec from another's.
pub(super) fn seal(mut spec: ContainerSpec, hashed_name: &str) -> (ContainerSpec, String) {
    let name = std::mem::replace(&mut spec.name, hashed_name.to_string());
    let hash = spec_hash(&spec);
    spec.name = name;
    spec.labels.insert(LABEL_SPEC_HASH.into(), hash.clone());
    (spec, hash)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{everything, fixture, http_server, input};
    use super::super::{plan, SecretBinding};
    use super::*;
    use crate::catalog::model::ServerDef;
    use crate::ids::ServerId;

    #[test]
    fn the_same_input_gives_the_same_hash_and_a_change_another() {
        let f = fixture();
        let s = http_server();
        let (_, h1) = plan(&input(&f, &s, Some(20001))).unwrap();
        let (_, h2) = plan(&input(&f, &s, Some(20001))).unwrap();
        assert_eq!(h1, h2);
        let mut changed = s.clone();
        changed.env.insert("X".into(), "1".into());
        assert_ne!(plan(&input(&f, &changed, Some(20001))).unwrap().1, h1);
        assert_ne!(plan(&input(&f, &s, Some(20002))).unwrap().1, h1);
    }

    // Changed on purpose once (issue 11): every container now carries its user's own gid
    // and runs as the user's own uid where it named none, so an upgrade recreates each
    // container once, moving it off the uid that all users shared.
    #[test]
    fn spec_hashes_are_unchanged_so_running_containers_are_not_recreated() {
        let (f, s, secrets) = everything();
        let mut i = input(&f, &s, Some(20001));
        i.secrets = &secrets;
        let (spec, hash) = plan(&i).unwrap();
        assert_eq!(spec.labels[LABEL_SPEC_HASH], hash);
        assert_eq!(hash, "73be97af64dcabaf");

        let mut f = fixture();
        f.hardening.bounds.allow_writable_rootfs = true;
        let mut quiet = ServerDef::new(ServerId::parse("quiet").unwrap(), "mcp/quiet:1");
        quiet.disable_network = true;
        quiet.writable_rootfs = true;
        let mut i = input(&f, &quiet, None);
        i.image_user = Some("node");
        assert_eq!(plan(&i).unwrap().1, "f912d283ebeab6b2");

        let plain = http_server();
        assert_eq!(
            plan(&input(&f, &plain, Some(20001))).unwrap().1,
            "622f7cd90cc66f47"
        );
    }

    #[test]
    fn the_hash_is_taken_before_the_spec_carries_it() {
        let f = fixture();
        let s = http_server();
        let (spec, hash) = plan(&input(&f, &s, Some(20001))).unwrap();
        let mut unlabelled = spec.clone();
        unlabelled.labels.remove(LABEL_SPEC_HASH);
        assert_eq!(
            seal(unlabelled.clone(), "mcp-u1-echo"),
            (spec, hash.clone())
        );
        // As the name earlier versions gave it (see `seal`), not as it is called now.
        assert_ne!(spec_hash(&unlabelled), hash);
        unlabelled.name = "mcp-u1-echo".into();
        assert_eq!(spec_hash(&unlabelled), hash);
    }

    #[test]
    fn secrets_enter_the_hash_by_version_and_files_by_mount() {
        let f = fixture();
        let s = http_server();
        let v1 = [SecretBinding {
            name: "gh.token".into(),
            env: "GH_TOKEN".into(),
            version: "v1".into(),
            file: false,
        }];
        let v2 = [SecretBinding {
            version: "v2".into(),
            ..v1[0].clone()
        }];
        let mut i = input(&f, &s, Some(1));
        i.secrets = &v1;
        let (spec1, h1) = plan(&i).unwrap();
        assert!(
            !spec1.env.iter().any(|e| e.starts_with("GH_TOKEN")),
            "values are added by the engine, not planned"
        );
        i.secrets = &v2;
        assert_ne!(
            plan(&i).unwrap().1,
            h1,
            "a new secret version recreates the container"
        );
        let file = [SecretBinding {
            file: true,
            ..v1[0].clone()
        }];
        i.secrets = &file;
        let (spec, _) = plan(&i).unwrap();
        assert!(spec
            .env
            .contains(&"GH_TOKEN_FILE=/run/secrets/GH_TOKEN".to_string()));
        assert!(spec.binds.contains(
            &"/dev/shm/mcp-portal/default/u1/echo/GH_TOKEN:/run/secrets/GH_TOKEN:ro".to_string()
        ));
    }
}
