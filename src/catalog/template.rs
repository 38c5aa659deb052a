//! `{{server.param|filter}}` templates in env values, commands, volumes and the container
//! user, in the syntax of Docker's MCP catalogs. Parsed and checked at upload; resolved
//! from the user's per-server settings at enable time.

use std::collections::BTreeMap;

/// The filters Docker's MCP gateway understands. Anything else is reported by name.
const KNOWN_FILTERS: &[&str] = &["volume", "volume-target", "into", "safe", "first", "last"];
const KNOWN_FILTER_PREFIXES: &[&str] = &["or:", "mount_as:"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Ref(Reference<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Dotted path such as `time.timezone`.
    pub path: &'a str,
    pub filters: Vec<&'a str>,
}

impl Reference<'_> {
    /// The parameter name: the path without its leading `<server>.` prefix.
    pub fn param(&self) -> &str {
        self.path.split_once('.').map_or(self.path, |(_, p)| p)
    }
}

/// Splits `text` into literal text and template references.
pub fn parse(text: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Segment::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed template in {text:?}: add the closing '}}}}'"))?;
        let inner = &after[..end];
        let mut pieces = inner.split('|').map(str::trim);
        let path = pieces.next().unwrap_or_default();
        let path_ok = !path.is_empty()
            && path.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !path_ok {
            return Err(format!(
                "invalid template {{{{{inner}}}}} in {text:?}: use {{{{server.parameter}}}}"
            ));
        }
        let filters: Vec<&str> = pieces.collect();
        if filters.iter().any(|f| f.is_empty()) {
            return Err(format!("empty filter in template {{{{{inner}}}}}"));
        }
        out.push(Segment::Ref(Reference { path, filters }));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    Ok(out)
}

/// Filters in `text` that the portal does not know; an error if the template is malformed.
pub fn unknown_filters(text: &str) -> Result<Vec<String>, String> {
    let mut unknown = Vec::new();
    for seg in parse(text)? {
        if let Segment::Ref(r) = seg {
            for f in r.filters {
                let known = KNOWN_FILTERS.contains(&f)
                    || KNOWN_FILTER_PREFIXES.iter().any(|p| f.starts_with(p));
                if !known {
                    unknown.push(f.to_string());
                }
            }
        }
    }
    Ok(unknown)
}

pub fn has_template(text: &str) -> bool {
    text.contains("{{")
}

/// Why a template could not be resolved at enable time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("missing parameter {0:?}: set it with --env or the server's settings")]
    Missing(String),
    #[error("unknown template filter {0:?}")]
    UnknownFilter(String),
    #[error("{0}")]
    Syntax(String),
}

/// Replaces every reference in `text` with the named parameter's value.
///
/// `volume` and `volume-target` pick the host or container side of a `host:container`
/// value, `or:X` supplies a default; `into`, `safe`, `first` and `last` act on lists in
/// Docker's gateway and leave a single string as it is.
pub fn resolve(text: &str, params: &BTreeMap<String, String>) -> Result<String, ResolveError> {
    let mut out = String::with_capacity(text.len());
    for seg in parse(text).map_err(ResolveError::Syntax)? {
        match seg {
            Segment::Text(t) => out.push_str(t),
            Segment::Ref(r) => {
                let mut value = params.get(r.param()).cloned();
                for f in &r.filters {
                    value = match (*f, value) {
                        ("volume", v) => {
                            v.map(|v| v.split(':').next().unwrap_or_default().to_string())
                        }
                        ("volume-target", v) => {
                            v.map(|v| v.rsplit(':').next().unwrap_or_default().to_string())
                        }
                        ("into" | "safe" | "first" | "last", v) => v,
                        (f, None) if f.starts_with("or:") => Some(f["or:".len()..].to_string()),
                        (f, v) if f.starts_with("or:") || f.starts_with("mount_as:") => v,
                        (f, _) => return Err(ResolveError::UnknownFilter(f.to_string())),
                    };
                }
                let value = value.ok_or_else(|| ResolveError::Missing(r.param().to_string()))?;
                out.push_str(&value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_text_and_references() {
        let segs = parse("--tz={{time.timezone|or:UTC}} x").unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(
            segs[1],
            Segment::Ref(Reference {
                path: "time.timezone",
                filters: vec!["or:UTC"]
            })
        );
    }

    #[test]
    fn refuses_unclosed_and_empty_templates() {
        assert!(parse("{{a.b").unwrap_err().contains("unclosed"));
        assert!(parse("{{}}").unwrap_err().contains("invalid template"));
        assert!(parse("{{a b}}").is_err());
        assert!(parse("{{a.b|}}").unwrap_err().contains("empty filter"));
    }

    #[test]
    fn reports_unknown_filters_by_name() {
        assert_eq!(unknown_filters("{{a.b|volume|shout}}").unwrap(), ["shout"]);
        assert!(unknown_filters("{{a.b|mount_as:/x|or:y}}")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn resolves_parameters_and_defaults() {
        let p = params(&[("timezone", "Europe/Paris"), ("path", "/src:/work")]);
        assert_eq!(
            resolve("TZ={{time.timezone}}", &p).unwrap(),
            "TZ=Europe/Paris"
        );
        assert_eq!(resolve("{{x.path|volume-target}}", &p).unwrap(), "/work");
        assert_eq!(resolve("{{x.path|volume}}", &p).unwrap(), "/src");
        assert_eq!(resolve("{{x.level|or:info}}", &p).unwrap(), "info");
        assert_eq!(
            resolve("{{x.level}}", &p).unwrap_err(),
            ResolveError::Missing("level".into())
        );
        assert_eq!(
            resolve("{{x.path|shout}}", &p).unwrap_err(),
            ResolveError::UnknownFilter("shout".into())
        );
    }
}
