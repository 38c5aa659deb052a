//! The one way in from bytes: size limit before parsing, UTF-8, one YAML (or JSON)
//! document with no duplicate keys, alias bombs and deep nesting refused by the parser's
//! limits; then the format is recognised and handed to its decoder (`native`, `docker`),
//! which knows nothing of files. Catalogs, registry folders, overlays and custom-server
//! files all enter here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

use crate::catalog::decode::sorted_unique;
use crate::catalog::model::{Catalog, Format, Overlay, ServerDef};
use crate::catalog::report::{Diagnostic, Diagnostics, Invalid, Severity};
use crate::catalog::validate::Policy;
use crate::catalog::{docker, native};

/// Files larger than this are refused before parsing (issue 2: 8 MiB by default).
pub const DEFAULT_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// What parsing depends on beyond the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub policy: Policy,
    /// Leave out the entries with errors instead of refusing the whole input
    /// (`--skip-invalid`); errors of the file itself still refuse it.
    pub skip_invalid: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            policy: Policy::default(),
            skip_invalid: false,
        }
    }
}

/// A catalog that passed validation, with what it could not honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub catalog: Catalog,
    pub format: Format,
    pub warnings: Vec<Diagnostic>,
    /// The errors of the entries left out under `skip_invalid`.
    pub left_out: Vec<Diagnostic>,
    /// How many entries of each `type` the input held (`server`, `remote`, `poci`).
    pub kinds: BTreeMap<String, usize>,
}

fn refuse(file: &str, message: String) -> Invalid {
    let mut d = Diagnostics::new();
    d.error(file, None, None, message);
    Invalid {
        file: file.to_string(),
        diagnostics: d,
    }
}

/// Refuses a file larger than `max_bytes`; callers check before reading it.
pub fn check_size(file: &str, len: u64, max_bytes: u64) -> Result<(), Invalid> {
    if len > max_bytes {
        return Err(refuse(
            file,
            format!("file is {len} bytes, over the {max_bytes}-byte limit (MCP_PORTAL_MAX_CATALOG_BYTES)"),
        ));
    }
    Ok(())
}

/// Size, encoding and syntax: the checks every input file goes through.
pub fn load_document(file: &str, bytes: &[u8], max_bytes: u64) -> Result<Value, Invalid> {
    check_size(file, bytes.len() as u64, max_bytes)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        refuse(
            file,
            format!(
                "file is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    if text.trim().is_empty() {
        return Err(refuse(file, "file is empty".into()));
    }
    // Before the parser: it takes time quadratic in the depth of nested brackets.
    if let Some(line) = too_deep(text) {
        return Err(refuse(
            file,
            format!("brackets nest deeper than {MAX_FLOW_DEPTH} levels (line {line}); a catalog needs a few"),
        ));
    }
    // JSON is read by the YAML parser too, so both get the same duplicate-key,
    // alias-expansion and nesting-depth checks.
    let yaml: Yaml = serde_yaml_ng::from_str(text)
        .map_err(|e| refuse(file, format!("not valid YAML or JSON: {e}")))?;
    to_json(yaml, "").map_err(|e| refuse(file, e))
}

/// How deep `[`/`{` may nest: far beyond any catalog, far below what costs the parser.
const MAX_FLOW_DEPTH: usize = 64;

/// The line where brackets outside quoted strings and comments first nest deeper than
/// `MAX_FLOW_DEPTH`, if they do. It over-counts brackets in plain scalars, which only
/// matters for a text that opens 64 of them, never a real catalog.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    let mut at_token_start = true;
    // The last character that is not blank on this line: a quote starts a quoted scalar
    // only at a line's start or after an indicator, never inside a plain word.
    let mut before: Option<char> = None;
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => {
                // '' is an escaped quote inside a single-quoted scalar.
                if q == '\'' && chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match c {
                '"' | '\''
                    if at_token_start
                        && before
                            .is_none_or(|b| matches!(b, '[' | '{' | ',' | ':' | '-' | '?')) =>
                {
                    quote = Some(c)
                }
                '#' if at_token_start => {
                    for n in chars.by_ref() {
                        if n == '\n' {
                            line += 1;
                            break;
                        }
                    }
                    before = None;
                    at_token_start = true;
                    continue;
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(line);
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        at_token_start = c.is_whitespace() || matches!(c, '[' | '{' | ',' | ':' | '-');
        if c == '\n' {
            before = None;
        } else if !c.is_whitespace() {
            before = Some(c);
        }
    }
    None
}

/// Catalog text reaches terminals: control characters other than tab and line breaks
/// (which could rewrite what a terminal shows) are refused wherever they are.
fn check_printable(s: &str, at: &str) -> Result<(), String> {
    match s
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some(c) => Err(format!(
            "{}: contains the control character U+{:04X}; catalogs hold printable text",
            if at.is_empty() { "document" } else { at },
            u32::from(c)
        )),
        None => Ok(()),
    }
}

fn to_json(yaml: Yaml, at: &str) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| format!("{at}: {f} is not a finite number"))?
            }
        }
        Yaml::String(s) => {
            check_printable(&s, at)?;
            Value::String(s)
        }
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| to_json(v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(format!("{at}: mapping key {other:?} must be a string")),
                };
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                check_printable(&key, &path)?;
                out.insert(key, to_json(v, &path)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(t) => {
            return Err(format!(
                "{}: YAML tag {} is not supported",
                if at.is_empty() { "document" } else { at },
                t.tag
            ))
        }
    })
}

/// Which format a document is in, from its top-level keys.
pub fn detect(doc: &Value) -> Option<Format> {
    let obj = doc.as_object()?;
    if obj.contains_key("registry") {
        Some(Format::DockerCatalog)
    } else if obj.contains_key("servers") {
        Some(Format::Native)
    } else if obj.contains_key("name") && (obj.contains_key("image") || obj.contains_key("type")) {
        Some(Format::DockerRegistry)
    } else {
        None
    }
}

/// Parses and validates a catalog file in any supported format.
pub fn parse_catalog(file: &str, bytes: &[u8], limits: &Limits) -> Result<Parsed, Invalid> {
    let doc = load_document(file, bytes, limits.max_bytes)?;
    let format = detect(&doc).ok_or_else(|| {
        refuse(
            file,
            "unknown catalog format: expected a native catalog (servers:), a Docker MCP catalog \
             (registry:) or a Docker MCP registry server.yaml (name:, image:)"
                .into(),
        )
    })?;
    let mut d = Diagnostics::new();
    let mut kinds = BTreeMap::new();
    match format {
        Format::Native => {}
        Format::DockerCatalog => {
            for entry in doc
                .get("registry")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|r| r.values())
            {
                *kinds.entry(docker::kind(entry)).or_default() += 1;
            }
        }
        Format::DockerRegistry => *kinds.entry(docker::kind(&doc)).or_default() += 1,
    }
    let catalog = match format {
        Format::Native => native::catalog(file, doc, &limits.policy, &mut d),
        Format::DockerCatalog => docker::catalog(file, doc, &limits.policy, &mut d),
        Format::DockerRegistry => {
            let servers = docker::registry_server(file, doc, &limits.policy, &mut d)
                .into_iter()
                .collect();
            Some(Catalog {
                version: String::new(),
                name: None,
                source: None,
                metadata: Default::default(),
                servers,
            })
        }
    };
    finish(file, catalog, format, d, kinds, limits.skip_invalid)
}

/// A Docker MCP registry folder's entries: `(server folder name, server.yaml bytes)`.
pub type RegistryEntries = Vec<(String, Vec<u8>)>;

/// Parses a Docker MCP registry folder.
pub fn parse_registry(
    dir: &str,
    entries: RegistryEntries,
    limits: &Limits,
) -> Result<Parsed, Invalid> {
    let mut d = Diagnostics::new();
    let mut servers = Vec::new();
    let mut kinds = BTreeMap::new();
    let mut total: u64 = 0;
    for (folder, bytes) in entries {
        let file = format!("{dir}/servers/{folder}/server.yaml");
        total += bytes.len() as u64;
        if total > limits.max_bytes {
            d.error(
                dir,
                None,
                None,
                format!(
                    "registry is over the {}-byte limit (MCP_PORTAL_MAX_CATALOG_BYTES)",
                    limits.max_bytes
                ),
            );
            break;
        }
        // Each file is an entry: a fault that names no server (a file that is not YAML,
        // not a mapping, or has no name) is its folder's, so --skip-invalid leaves the
        // file out rather than refusing the folder.
        let mut entry = Diagnostics::new();
        match load_document(&file, &bytes, limits.max_bytes) {
            Ok(doc) => {
                *kinds.entry(docker::kind(&doc)).or_default() += 1;
                servers.extend(docker::registry_server(
                    &file,
                    doc,
                    &limits.policy,
                    &mut entry,
                ))
            }
            Err(invalid) => {
                *kinds.entry("server".into()).or_default() += 1;
                entry.extend(invalid.diagnostics)
            }
        }
        entry.name_server(&folder);
        d.extend(entry);
    }
    if servers.is_empty() && !d.has_errors() {
        d.error(
            dir,
            None,
            None,
            "no servers/<name>/server.yaml entries found",
        );
    }
    let catalog = sorted_unique(dir, servers, &mut d).map(|servers| Catalog {
        version: String::new(),
        name: None,
        source: None,
        metadata: Default::default(),
        servers,
    });
    finish(
        dir,
        catalog,
        Format::DockerRegistry,
        d,
        kinds,
        limits.skip_invalid,
    )
}

/// The parsed catalog, or all of its errors. Under `skip_invalid`, an entry with errors
/// is left out and its errors kept as `left_out`; an error that names no entry still
/// refuses the input.
fn finish(
    file: &str,
    catalog: Option<Catalog>,
    format: Format,
    d: Diagnostics,
    kinds: BTreeMap<String, usize>,
    skip_invalid: bool,
) -> Result<Parsed, Invalid> {
    let entry_errors_only = d.errors().all(|e| e.server.is_some());
    match catalog {
        Some(catalog) if !d.has_errors() => Ok(Parsed {
            catalog,
            format,
            warnings: d.into_warnings(),
            left_out: Vec::new(),
            kinds,
        }),
        Some(mut catalog) if skip_invalid && entry_errors_only => {
            let bad: BTreeSet<String> = d.errors().filter_map(|e| e.server.clone()).collect();
            catalog.servers.retain(|s| !bad.contains(s.id.as_str()));
            let (left_out, warnings) = d
                .iter()
                .cloned()
                .partition(|x| x.severity == Severity::Error);
            Ok(Parsed {
                catalog,
                format,
                warnings,
                left_out,
                kinds,
            })
        }
        _ => Err(Invalid {
            file: file.to_string(),
            diagnostics: d,
        }),
    }
}

/// Parses an overlay file from bytes.
pub fn parse_overlay(file: &str, bytes: &[u8], max_bytes: u64) -> Result<Overlay, Invalid> {
    let doc = load_document(file, bytes, max_bytes)?;
    let mut d = Diagnostics::new();
    match native::overlay(file, doc, &mut d) {
        Some(o) if !d.has_errors() => Ok(o),
        _ => Err(Invalid {
            file: file.to_string(),
            diagnostics: d,
        }),
    }
}

/// Parses a custom-server file: one server entry, or a catalog in any supported format.
pub fn parse_custom(
    file: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Vec<ServerDef>, Vec<Diagnostic>), Invalid> {
    let doc = load_document(file, bytes, limits.max_bytes)?;
    let mut d = Diagnostics::new();
    if let Some(servers) = native::single_or_catalog(file, doc.clone(), &limits.policy, &mut d) {
        return if d.has_errors() {
            Err(Invalid {
                file: file.to_string(),
                diagnostics: d,
            })
        } else {
            Ok((servers, d.into_warnings()))
        };
    }
    let parsed = parse_catalog(file, bytes, limits)?;
    Ok((parsed.catalog.servers, parsed.warnings))
}

#[cfg(test)]
mod docker_tests;
#[cfg(test)]
mod native_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_nested_past_the_limit_are_refused_before_the_parser_runs() {
        // 40,000 of them took the parser 3 s (issue 11, item 10).
        let deep = "[".repeat(40_000);
        let e = first_error(deep.as_bytes());
        assert!(
            e.contains("brackets nest deeper than 64 levels (line 1)"),
            "{e}"
        );
        let json = format!("{{\n\"a\":\n{}1{}}}", "[".repeat(70), "]".repeat(70));
        let e = first_error(json.as_bytes());
        assert!(e.contains("(line 3)"), "{e}");
        // A quote inside a plain word opens no string to hide brackets in.
        let hidden = format!("a: [x \"y, {}", "[".repeat(40_000));
        let e = first_error(hidden.as_bytes());
        assert!(e.contains("brackets nest deeper"), "{e}");
    }

    #[test]
    fn control_characters_are_refused_in_any_text_and_key() {
        let e = first_error(b"version: \"1.0\\u001b[2J\"\nservers: []\n");
        assert!(
            e.contains("version: contains the control character U+001B"),
            "{e}"
        );
        let e =
            first_error("servers:\n  - {id: a, image: x, description: \"a\\u0007\"}\n".as_bytes());
        assert!(
            e.contains("servers[0].description: contains the control character U+0007"),
            "{e}"
        );
        let ok =
            "servers:\n  - {id: a, image: 'mcp/a:1', description: \"two\\nlines\\tand a tab\"}\n";
        assert!(parse_catalog("c.yaml", ok.as_bytes(), &Limits::default()).is_ok());
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let many = "[".repeat(100);
        for text in [
            format!("{{\"a\": \"{many}\"}}"),
            format!("a: '{many} it''s'\n"),
            format!("a: 1 # {many}\n"),
            format!("a: it's {}\n", "[]".repeat(100)),
            format!("a: {}1{}\n", "[".repeat(64), "]".repeat(64)),
        ] {
            assert!(
                load_document("ok.yaml", text.as_bytes(), DEFAULT_MAX_BYTES).is_ok(),
                "{text}"
            );
        }
    }

    fn first_error(bytes: &[u8]) -> String {
        let err = parse_catalog("c.yaml", bytes, &Limits::default()).unwrap_err();
        let first = err.diagnostics.errors().next().unwrap().to_string();
        first
    }

    #[test]
    fn refuses_oversized_files_before_parsing() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let err = parse_catalog("c.yaml", b"servers: []\n# padding", &limits).unwrap_err();
        let msg = err.diagnostics.errors().next().unwrap().to_string();
        assert!(msg.contains("over the 10-byte limit"), "{msg}");
    }

    #[test]
    fn refuses_non_utf8() {
        assert!(first_error(b"servers: [\xff]").contains("not UTF-8 (invalid byte at offset 10)"));
    }

    #[test]
    fn refuses_duplicate_keys() {
        let e = first_error(b"servers:\n  - id: a\n    image: x\n    image: y\n");
        assert!(e.contains("duplicate entry with key \"image\""), "{e}");
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut doc = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let refs = vec![format!("*{}", w[0]); 9].join(",");
            doc.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
        }
        doc.push_str("servers: []\n");
        assert!(first_error(doc.as_bytes()).contains("repetition limit exceeded"));
    }

    #[test]
    fn refuses_deep_nesting_and_tags_and_multiple_documents() {
        assert!(first_error("[".repeat(5000).as_bytes()).contains("brackets nest deeper"));
        assert!(first_error(b"servers: !custom []").contains("YAML tag"));
        assert!(first_error(b"servers: []\n---\nservers: []\n").contains("more than one document"));
    }

    #[test]
    fn refuses_unknown_formats_and_empty_files() {
        assert!(first_error(b"hello: world").contains("unknown catalog format"));
        assert!(first_error(b"  \n").contains("file is empty"));
    }

    #[test]
    fn json_and_yaml_give_the_same_catalog() {
        let yaml = b"version: '1'\nservers:\n  - id: a\n    image: mcp/a\n    env: {X: '1'}\n";
        let json =
            br#"{"version": "1", "servers": [{"id": "a", "image": "mcp/a", "env": {"X": "1"}}]}"#;
        let a = parse_catalog("c.yaml", yaml, &Limits::default()).unwrap();
        let b = parse_catalog("c.json", json, &Limits::default()).unwrap();
        assert_eq!(a, b);
    }
}
