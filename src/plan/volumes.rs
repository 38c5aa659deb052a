//! Mounts: a definition's volumes (templates resolved, checked against the admin's
//! host-path policy) turned into binds, the host folders and per-user named volumes
//! they need, and the read-only mounts of file secrets.

use super::model::{PlanInput, UserPaths};
use super::params::Params;
use super::{refuse, PlanError};
use crate::catalog::model::{ParamValue, ServerDef};
use crate::catalog::volume::{source_is_templated, Source, UserDir, VolumeSpec};
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
    let policy = &input.hardening.host_paths;
    let mut m = Mounts::default();
    for (i, raw) in s.volumes.iter().enumerate() {
        let field = format!("volumes[{i}]");
        let items = match params.evaluate(&field, raw)? {
            ParamValue::Text(t) => vec![t],
            ParamValue::List(l) => l,
        };
        let from_user = source_is_templated(raw);
        for spec_text in items {
            // An optional path left unset mounts nothing, as an empty list does.
            if spec_text.is_empty() || (from_user && spec_text.starts_with(':')) {
                continue;
            }
            let mut v =
                VolumeSpec::parse(&spec_text).map_err(|e| refuse(s, format!("{field}: {e}")))?;
            if from_user {
                v.confine_source(policy)
                    .map_err(|e| refuse(s, format!("{field}: {e}; give another with --set")))?;
            }
            v.check_policy(policy, &spec_text)
                .map_err(|e| refuse(s, e))?;
            let source = source(s, i, &v.source, input, &mut m)?;
            m.binds.push(format!(
                "{source}:{}{}",
                v.target,
                if v.read_only { ":ro" } else { "" }
            ));
        }
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
        mounts(
            i,
            &Params::new(i.server, &i.settings.params, &i.hardening.host_paths)?,
        )
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

    /// Docker's filesystem server, as its registry entry declares it.
    fn filesystem() -> ServerDef {
        use crate::catalog::model::{ParamKind, Parameter};
        let mut s = ServerDef::new(
            crate::ids::ServerId::parse("filesystem").unwrap(),
            "mcp/filesystem",
        );
        s.command = vec!["{{filesystem.paths|volume-target|into}}".into()];
        s.volumes = vec!["{{filesystem.paths|volume|into}}".into()];
        s.parameters.insert(
            "paths".into(),
            Parameter {
                kind: ParamKind::Array,
                ..Default::default()
            },
        );
        s
    }

    fn plan_paths(
        f: &mut super::super::fixture::Fixture,
        given: ParamValue,
    ) -> (Vec<String>, Vec<String>) {
        f.settings.params.insert("filesystem.paths".into(), given);
        let s = filesystem();
        let (spec, _) = super::super::plan(&input(f, &s, None)).unwrap();
        (spec.binds, spec.cmd)
    }

    #[test]
    fn a_users_paths_are_folders_inside_their_own_and_the_command_sees_the_same_targets() {
        let mut f = fixture();
        let (binds, cmd) = plan_paths(
            &mut f,
            ParamValue::List(vec!["projects".into(), "/notes/2026".into()]),
        );
        assert_eq!(
            binds,
            [
                "/d/u1/data/projects:/projects",
                "/d/u1/data/notes/2026:/notes/2026"
            ]
        );
        assert_eq!(cmd, ["/projects", "/notes/2026"]);
        // One `--set filesystem.paths=projects` is a list of one.
        let (binds, cmd) = plan_paths(&mut f, ParamValue::text("projects"));
        assert_eq!(binds, ["/d/u1/data/projects:/projects"]);
        assert_eq!(cmd, ["/projects"]);
    }

    #[test]
    fn no_paths_mount_nothing_and_pass_no_arguments() {
        let mut f = fixture();
        let (binds, cmd) = plan_paths(&mut f, ParamValue::List(Vec::new()));
        assert!(binds.is_empty() && cmd.is_empty(), "{binds:?} {cmd:?}");
    }

    #[test]
    fn only_an_admin_allowed_host_path_keeps_dockers_meaning() {
        let mut f = fixture();
        f.hardening.host_paths.allowed = vec!["/srv/shared".into()];
        let (binds, cmd) = plan_paths(
            &mut f,
            ParamValue::List(vec!["/srv/shared/docs".into(), "/srv/other".into()]),
        );
        assert_eq!(
            binds,
            [
                "/srv/shared/docs:/srv/shared/docs",
                "/d/u1/data/srv/other:/srv/other"
            ]
        );
        assert_eq!(cmd, ["/srv/shared/docs", "/srv/other"]);
    }

    #[test]
    fn a_path_that_leaves_the_folder_or_covers_the_kernels_is_refused_by_name() {
        for (given, why) in [
            ("../u2/data", "path \"../u2/data\" leaves your folder"),
            ("/", "names your whole folder"),
            ("proc/self", "would cover the container's /proc"),
            ("run/secrets", "would cover the container's /run/secrets"),
            ("a:b", "must not contain ':'"),
        ] {
            let mut f = fixture();
            f.settings
                .params
                .insert("paths".into(), ParamValue::List(vec![given.into()]));
            let s = filesystem();
            let err = super::super::plan(&input(&f, &s, None))
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{given}: {err}");
            assert!(err.starts_with("server filesystem: "), "{err}");
        }
    }

    #[test]
    fn a_templated_source_that_names_a_host_path_or_a_volume_is_a_folder_of_the_user() {
        use crate::catalog::model::Parameter;
        let mut f = fixture();
        let mut s = http_server();
        // ast-grep's entry: the path's target used as the source.
        s.volumes = vec![
            "{{echo.path|volume-target}}:/src".into(),
            "{{echo.store}}:/papers".into(),
            "{{echo.unset}}:/opt".into(),
        ];
        for p in ["path", "store", "unset"] {
            s.parameters.insert(p.into(), Parameter::default());
        }
        f.settings
            .params
            .insert("path".into(), "/Users/demo/sources".into());
        f.settings.params.insert("store".into(), "papers".into());
        let m = mounts_of(&input(&f, &s, Some(1))).unwrap();
        assert_eq!(
            m.binds,
            [
                "/d/u1/data/Users/demo/sources:/src",
                "/d/u1/data/papers:/papers"
            ],
            "an unset optional path mounts nothing"
        );
    }
}
