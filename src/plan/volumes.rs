//! Mounts: a definition's volumes (templates resolved, checked against the admin's
//! host-path policy) turned into binds, the host folders and per-user named volumes
//! they need, and the read-only mounts of file secrets.

use super::model::{PlanInput, UserPaths};
use super::params::Params;
use super::{refuse, PlanError};
use crate::catalog::model::ServerDef;
use crate::catalog::volume::{Source, UserDir, VolumeSpec};
use crate::ids::UserId;

impl UserPaths {
    fn of(&self, dir: UserDir) -> &str {
        match dir {
            UserDir::Data => &self.data,
            UserDir::Cache => &self.cache,
            UserDir::Config => &self.config,
        }
    }
}

/// What a container mounts, and what must exist before it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Mounts {
    /// `source:target[:ro]`, in the definition's order, then the secret files.
    pub binds: Vec<String>,
    pub host_dirs: Vec<String>,
    pub named_volumes: Vec<String>,
}

pub(super) fn mounts(input: &PlanInput<'_>, params: &Params<'_>) -> Result<Mounts, PlanError> {
    let s = input.server;
    let mut m = Mounts::default();
    for (i, raw) in s.volumes.iter().enumerate() {
        let spec_text = params.resolve(&format!("volumes[{i}]"), raw)?;
        let v = VolumeSpec::parse(&spec_text).map_err(|e| refuse(s, e))?;
        v.check_policy(&input.hardening.host_paths, &spec_text)
            .map_err(|e| refuse(s, e))?;
        let source = source(s, i, &v.source, input, &mut m)?;
        m.binds.push(format!(
            "{source}:{}{}",
            v.target,
            if v.read_only { ":ro" } else { "" }
        ));
    }
    for b in input.secrets.iter().filter(|b| b.file) {
        m.binds.push(format!(
            "{}/{}:/run/secrets/{}:ro",
            input.secret_dir.trim_end_matches('/'),
            b.env,
            b.env
        ));
    }
    Ok(m)
}

/// The host side of volume `i`, noting in `m` what must be made for it.
fn source(
    s: &ServerDef,
    i: usize,
    source: &Source,
    input: &PlanInput<'_>,
    m: &mut Mounts,
) -> Result<String, PlanError> {
    match source {
        Source::User(dir, rel) => {
            let base = input.paths.of(*dir).trim_end_matches('/');
            let path = if rel.is_empty() {
                base.to_string()
            } else {
                format!("{base}/{rel}")
            };
            m.host_dirs.push(path.clone());
            Ok(path)
        }
        Source::Host(path) => Ok(path.clone()),
        Source::Named(name) => {
            let scoped = named_volume(input.user, name);
            m.named_volumes.push(scoped.clone());
            Ok(scoped)
        }
        Source::Template(t) => Err(refuse(
            s,
            format!("volumes[{i}]: {t:?} is still a template after resolving"),
        )),
    }
}

fn named_volume(user: &UserId, name: &str) -> String {
    // '_' cannot occur in a user id, so no two users' volumes share a name.
    format!("mcp-{user}_{name}")
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, http_server, input};
    use super::super::SecretBinding;
    use super::*;

    fn mounts_of(i: &PlanInput<'_>) -> Result<Mounts, PlanError> {
        mounts(i, &Params::new(i.server, &i.settings.params)?)
    }

    #[test]
    fn user_folders_are_made_first_and_named_volumes_are_scoped_to_the_user() {
        let f = fixture();
        let mut s = http_server();
        s.volumes.push("{USER_CACHE}:/c".into());
        let m = mounts_of(&input(&f, &s, Some(1))).unwrap();
        assert_eq!(
            m,
            Mounts {
                binds: vec![
                    "/d/u1/data/echo:/data".into(),
                    "mcp-u1_cache:/cache:ro".into(),
                    "/d/u1/cache:/c".into(),
                ],
                host_dirs: vec!["/d/u1/data/echo".into(), "/d/u1/cache".into()],
                named_volumes: vec!["mcp-u1_cache".into()],
            }
        );
    }

    #[test]
    fn a_host_path_is_mounted_only_where_the_admin_allows() {
        let mut f = fixture();
        let mut s = http_server();
        s.volumes = vec!["/srv/shared/x:/x:ro".into()];
        assert!(mounts_of(&input(&f, &s, Some(1)))
            .unwrap_err()
            .to_string()
            .contains("mounts host path \"/srv/shared/x\""));
        f.hardening.host_paths.allowed = vec!["/srv/shared".into()];
        let m = mounts_of(&input(&f, &s, Some(1))).unwrap();
        assert_eq!(m.binds, ["/srv/shared/x:/x:ro"]);
        assert!(m.host_dirs.is_empty(), "the admin's folders are not made");
    }

    #[test]
    fn file_secrets_are_mounted_read_only_after_the_volumes() {
        let f = fixture();
        let s = http_server();
        let secrets = [
            SecretBinding {
                name: "a".into(),
                env: "A".into(),
                version: "v1".into(),
                file: false,
            },
            SecretBinding {
                name: "b".into(),
                env: "B".into(),
                version: "v1".into(),
                file: true,
            },
        ];
        let mut i = input(&f, &s, Some(1));
        i.secrets = &secrets;
        i.secret_dir = "/run/s/";
        let m = mounts_of(&i).unwrap();
        assert_eq!(m.binds.last().unwrap(), "/run/s/B:/run/secrets/B:ro");
        assert_eq!(m.binds.len(), 3, "only file secrets are mounted");
    }
}
