//! Container image references, checked against Docker's reference grammar
//! (`[domain[:port]/]path[:tag][@digest]`) so a bad image fails at upload, not at enable.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    /// Repository with optional registry domain, e.g. `ghcr.io/github/github-mcp-server`.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    // A constant, checked by the unit tests: it cannot fail to compile.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]{1,5})?$").unwrap()
});
static PATH_COMPONENT: LazyLock<Regex> = LazyLock::new(|| {
    // A constant, checked by the unit tests: it cannot fail to compile.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").unwrap()
});
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    // A constant, checked by the unit tests: it cannot fail to compile.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap()
});
static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    // A constant, checked by the unit tests: it cannot fail to compile.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$").unwrap()
});

impl ImageRef {
    pub fn parse(reference: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid image reference {reference:?}: {why}");
        if reference.is_empty() {
            return Err(bad("it is empty"));
        }
        if reference.len() > 512 {
            return Err(bad("it is longer than 512 characters"));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                if !DIGEST.is_match(digest) {
                    return Err(bad("the digest must be sha256:<64 hex digits>"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (reference, None),
        };
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag {
            if !TAG.is_match(tag) {
                return Err(bad(
                    "the tag must be 1-128 letters, digits, '_', '.' or '-'",
                ));
            }
        }
        if name.len() > 255 {
            return Err(bad("the repository name is longer than 255 characters"));
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let first = parts[0];
        let has_domain = parts.len() > 1
            && (first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()));
        if has_domain {
            if !DOMAIN.is_match(first) {
                return Err(bad(&format!("{first:?} is not a valid registry host")));
            }
            parts.remove(0);
        }
        for part in &parts {
            if !PATH_COMPONENT.is_match(part) {
                return Err(bad(&format!(
                    "{part:?} is not a valid repository path component (lower-case letters, digits and single separators)"
                )));
            }
        }
        Ok(Self {
            name: name.to_string(),
            tag,
            digest,
        })
    }

    /// This reference with `tag` in place of its own.
    pub fn with_tag(mut self, tag: &str) -> Result<Self, String> {
        if !TAG.is_match(tag) {
            return Err(format!(
                "invalid image tag {tag:?}: use 1-128 letters, digits, '_', '.' or '-'"
            ));
        }
        self.tag = Some(tag.to_string());
        Ok(self)
    }

    /// The reference Docker will run: `latest` is written out when neither tag nor digest is given.
    pub fn pinned(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".to_string());
        }
        self
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_references() {
        for r in [
            "mcp/github",
            "ghcr.io/github/github-mcp-server",
            "ghcr.io/github/github-mcp-server:v0.4.0",
            "localhost:5000/team/echo:dev",
            "mcr.microsoft.com/azure-sdk/azure-mcp",
            "busybox",
            "mcp-echo:latest",
            "registry.example.com:443/a/b/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let parsed = ImageRef::parse(r).unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!(parsed.to_string(), r);
        }
    }

    #[test]
    fn refuses_bad_references_with_reason() {
        for (r, why) in [
            ("", "empty"),
            ("Mcp/GitHub", "path component"),
            ("mcp//github", "path component"),
            ("mcp/github:", "tag"),
            ("mcp/github:bad tag", "tag"),
            ("mcp/github@sha256:xyz", "digest"),
            ("-bad.io/x", "registry host"),
            ("a/b;rm -rf", "path component"),
        ] {
            let err = ImageRef::parse(r).unwrap_err();
            assert!(err.contains(why), "{r}: {err}");
        }
    }

    #[test]
    fn port_colon_is_not_a_tag() {
        let r = ImageRef::parse("localhost:5000/echo").unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.pinned().to_string(), "localhost:5000/echo:latest");
    }

    #[test]
    fn with_tag_replaces_the_tag() {
        let r = ImageRef::parse("ghcr.io/x/y:v1")
            .unwrap()
            .with_tag("v2")
            .unwrap();
        assert_eq!(r.to_string(), "ghcr.io/x/y:v2");
    }
}
