//! Volume specs (`source:target[:ro|rw]`) and the rule that keeps them inside the user's
//! own folder: `{USER_DATA}`, `{USER_CACHE}` and `{USER_CONFIG}` (seed 004) and relative
//! paths resolve under the user's folder; an absolute host path is refused unless the
//! admin allowed it; a named volume becomes per-user when planned.
//!
//! A path that comes from a template (a user's setting) is the user's own: [`Confined`]
//! maps it into the user's data folder for the source and to the same path, made
//! absolute, inside the container, so `projects` is `{USER_DATA}/projects:/projects`.

use std::path::{Component, Path};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Under one of the user's folders: `{USER_DATA}/x` is `(UserDir::Data, "x")`.
    User(UserDir, String),
    /// An absolute host path; allowed only under an admin-configured prefix.
    Host(String),
    /// A Docker named volume, scoped to the user when planned.
    Named(String),
    /// Contains `{{...}}`: checked once resolved, at enable time.
    Template(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDir {
    Data,
    Cache,
    Config,
}

impl UserDir {
    pub fn placeholder(self) -> &'static str {
        match self {
            UserDir::Data => "{USER_DATA}",
            UserDir::Cache => "{USER_CACHE}",
            UserDir::Config => "{USER_CONFIG}",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: Source,
    pub target: String,
    pub read_only: bool,
}

/// Paths outside the user's folder that the admin allows catalogs to mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPathPolicy {
    pub allowed: Vec<String>,
}

impl HostPathPolicy {
    pub fn allows(&self, path: &str) -> bool {
        self.allowed
            .iter()
            .any(|prefix| Path::new(path).starts_with(Path::new(prefix)))
    }
}

fn check_relative(rest: &str, spec: &str) -> Result<String, String> {
    let rel = rest.trim_start_matches('/');
    for c in Path::new(rel).components() {
        if !matches!(c, Component::Normal(_) | Component::CurDir) {
            return Err(format!(
                "volume {spec:?} leaves the user's folder: remove '..' from its path"
            ));
        }
    }
    Ok(rel.trim_start_matches("./").to_string())
}

fn check_absolute(path: &str, what: &str, spec: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "volume {spec:?}: the {what} {path:?} must be an absolute path"
        ));
    }
    if Path::new(path)
        .components()
        .any(|c| c == Component::ParentDir)
    {
        return Err(format!("volume {spec:?}: the {what} must not contain '..'"));
    }
    Ok(())
}

/// Container paths a user's path may not be mounted over: the kernel's and the
/// portal's own secret files.
const RESERVED_TARGETS: &[&str] = &["proc", "sys", "dev", "run/secrets"];

/// The portal's [`PathMap`](crate::catalog::template::PathMap) for the volume filters: a
/// user's path names a folder inside their data folder, unless it is an absolute path
/// the admin allowed (`MCP_PORTAL_ALLOWED_HOST_PATHS`), which keeps Docker's meaning.
#[derive(Debug)]
pub struct Confined<'a> {
    pub policy: &'a HostPathPolicy,
}

impl Confined<'_> {
    /// `Ok(None)` for an admin-allowed host path, else the path inside the user's folder.
    fn inside(&self, given: &str) -> Result<Option<String>, String> {
        let path = crate::catalog::template::linux_path(given);
        if path.contains(':') || path.contains('\0') {
            return Err(format!("path {given:?} must not contain ':'"));
        }
        // `..` first: `/allowed/../../etc` starts with an allowed prefix, component-wise.
        if Path::new(&path)
            .components()
            .any(|c| c == Component::ParentDir)
        {
            return Err(format!(
                "path {given:?} leaves your folder: remove '..' from it"
            ));
        }
        if path.starts_with('/') && self.policy.allows(&path) {
            return Ok(None);
        }
        let mut parts = Vec::new();
        for c in Path::new(&path).components() {
            match c {
                Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                Component::CurDir | Component::RootDir => {}
                _ => {
                    return Err(format!(
                        "path {given:?} leaves your folder: remove '..' from it"
                    ))
                }
            }
        }
        let rel = parts.join("/");
        if rel.is_empty() {
            return Err(format!(
                "path {given:?} names your whole folder: name a folder inside it, such as projects"
            ));
        }
        Ok(Some(rel))
    }
}

impl crate::catalog::template::PathMap for Confined<'_> {
    fn source(&self, path: &str) -> Result<String, String> {
        Ok(match self.inside(path)? {
            Some(rel) => format!("{}/{rel}", UserDir::Data.placeholder()),
            None => path.to_string(),
        })
    }

    fn target(&self, path: &str) -> Result<String, String> {
        let Some(rel) = self.inside(path)? else {
            return Ok(path.to_string());
        };
        if let Some(r) = RESERVED_TARGETS
            .iter()
            .find(|r| rel == **r || rel.starts_with(&format!("{r}/")))
        {
            return Err(format!(
                "path {path:?} would cover the container's /{r}: choose another folder name"
            ));
        }
        Ok(format!("/{rel}"))
    }
}

/// Whether the source side of volume text `raw` holds a template: the part before the
/// first ':' outside `{{...}}`, or all of it when there is none.
pub fn source_is_templated(raw: &str) -> bool {
    let mut depth = 0usize;
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"{{") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"}}") && depth > 0 {
            depth -= 1;
            i += 2;
        } else if b[i] == b':' && depth == 0 {
            return raw[..i].contains("{{");
        } else {
            i += 1;
        }
    }
    raw.contains("{{")
}

impl VolumeSpec {
    /// A source that came from a template is the user's: a host path the admin did not
    /// allow, or a bare name, is a folder inside the user's data folder instead.
    pub fn confine_source(&mut self, policy: &HostPathPolicy) -> Result<(), String> {
        let inside = match &self.source {
            Source::Host(p) if !policy.allows(p) => p.clone(),
            Source::Named(n) => n.clone(),
            _ => return Ok(()),
        };
        if let Some(rel) = (Confined { policy }).inside(&inside)? {
            self.source = Source::User(UserDir::Data, rel);
        }
        Ok(())
    }

    pub fn parse(spec: &str) -> Result<Self, String> {
        if spec.contains('\0') || spec.contains('\n') {
            return Err(format!("volume {spec:?} contains a control character"));
        }
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, target, read_only) = match parts.as_slice() {
            [s, t] => (*s, *t, false),
            [s, t, "ro"] => (*s, *t, true),
            [s, t, "rw"] => (*s, *t, false),
            [_, _, mode] => {
                return Err(format!(
                    "volume {spec:?}: unknown mode {mode:?}, use ro or rw"
                ))
            }
            _ => {
                return Err(format!(
                    "volume {spec:?} must be source:target or source:target:ro|rw"
                ))
            }
        };
        if source.is_empty() || target.is_empty() {
            return Err(format!("volume {spec:?} needs both a source and a target"));
        }
        if !crate::catalog::template::has_template(target) {
            check_absolute(target, "target", spec)?;
            if target == "/" {
                return Err(format!("volume {spec:?}: the target must not be '/'"));
            }
        }
        let source = if crate::catalog::template::has_template(source) {
            Source::Template(source.to_string())
        } else if let Some(dir) = [UserDir::Data, UserDir::Cache, UserDir::Config]
            .into_iter()
            .find(|d| source.starts_with(d.placeholder()))
        {
            let rest = &source[dir.placeholder().len()..];
            if !(rest.is_empty() || rest.starts_with('/')) {
                return Err(format!(
                    "volume {spec:?}: write {}/<path>",
                    dir.placeholder()
                ));
            }
            Source::User(dir, check_relative(rest, spec)?)
        } else if source.starts_with('{') {
            return Err(format!(
                "volume {spec:?}: unknown placeholder, use {{USER_DATA}}, {{USER_CACHE}} or {{USER_CONFIG}}"
            ));
        } else if source.starts_with('/') {
            check_absolute(source, "source", spec)?;
            Source::Host(source.to_string())
        } else if source.contains('/') || source.starts_with('.') {
            Source::User(UserDir::Data, check_relative(source, spec)?)
        } else if source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            && source.len() <= 64
        {
            Source::Named(source.to_string())
        } else {
            return Err(format!(
                "volume {spec:?}: {source:?} is not a valid volume name"
            ));
        };
        Ok(Self {
            source,
            target: target.to_string(),
            read_only,
        })
    }

    /// Refuses a host path the admin has not allowed.
    pub fn check_policy(&self, policy: &HostPathPolicy, spec: &str) -> Result<(), String> {
        match &self.source {
            Source::Host(path) if !policy.allows(path) => Err(format!(
                "volume {spec:?} mounts host path {path:?} outside the user's folder; \
                 use {{USER_DATA}}/... or ask the admin to allow it in MCP_PORTAL_ALLOWED_HOST_PATHS"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_sources() {
        let v = VolumeSpec::parse("{USER_DATA}/github:/data:rw").unwrap();
        assert_eq!(v.source, Source::User(UserDir::Data, "github".into()));
        assert!(!v.read_only);
        let v = VolumeSpec::parse("{USER_CACHE}:/cache:ro").unwrap();
        assert_eq!(v.source, Source::User(UserDir::Cache, String::new()));
        assert!(v.read_only);
        assert_eq!(
            VolumeSpec::parse("mcp-sqlite:/mcp").unwrap().source,
            Source::Named("mcp-sqlite".into())
        );
        assert_eq!(
            VolumeSpec::parse("./notes:/notes").unwrap().source,
            Source::User(UserDir::Data, "notes".into())
        );
        assert!(matches!(
            VolumeSpec::parse("{{x.path|volume}}:/src").unwrap().source,
            Source::Template(_)
        ));
    }

    #[test]
    fn refuses_escapes_and_bad_shapes() {
        for (spec, why) in [
            ("{USER_DATA}/../other:/x", "leaves the user's folder"),
            ("../x:/x", "leaves the user's folder"),
            ("{USER_DATA}x:/x", "write {USER_DATA}/<path>"),
            ("{USER_DATAX}:/x", "unknown placeholder"),
            ("{HOME}:/x", "unknown placeholder"),
            ("data:relative", "absolute"),
            ("data:/", "must not be '/'"),
            ("data:/x:rx", "unknown mode"),
            ("data", "source:target"),
            ("a b:/x", "not a valid volume name"),
        ] {
            let err = VolumeSpec::parse(spec).unwrap_err();
            assert!(err.contains(why), "{spec}: {err}");
        }
    }

    #[test]
    fn host_paths_need_the_admins_permission() {
        let v = VolumeSpec::parse("/var/run/docker.sock:/var/run/docker.sock").unwrap();
        let none = HostPathPolicy::default();
        assert!(v
            .check_policy(&none, "s")
            .unwrap_err()
            .contains("MCP_PORTAL_ALLOWED_HOST_PATHS"));
        let allow = HostPathPolicy {
            allowed: vec!["/var/run".into()],
        };
        assert!(v.check_policy(&allow, "s").is_ok());
        let near_miss = HostPathPolicy {
            allowed: vec!["/var/ru".into()],
        };
        assert!(v.check_policy(&near_miss, "s").is_err());
    }
}
