//! One `MCP_PORTAL_*` variable described as data: its name, default, parser, check and
//! documentation. Reading a value and writing the README's row both start from here, so
//! what is validated and what is documented cannot drift apart.

use super::ConfigError;

/// A variable the configuration reads into a `T`.
pub struct Key<T: 'static> {
    pub name: &'static str,
    /// Used when the variable is unset; `None` for a variable that may be absent.
    pub default: Option<&'static str>,
    /// Reads the raw text (untrimmed: each parser trims as its values need).
    pub parse: fn(&str) -> Option<T>,
    /// What a parsed value must also satisfy.
    pub check: fn(&T) -> bool,
    /// What a good value looks like, for the error message.
    pub expected: &'static str,
    /// The README's default column, when the default alone does not say it.
    pub shown: Option<&'static str>,
    pub doc: &'static str,
    /// A bad value is reported as `<hidden>`: it may be key material.
    pub secret: bool,
}

// By hand: a derived `Debug` would ask `T: Debug` of every key, keys of secrets included.
impl<T> std::fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("name", &self.name).finish()
    }
}

impl<T> Key<T> {
    /// A key with no default, no extra check and nothing to hide; the table's entries
    /// start here and add what they need.
    pub const fn new(name: &'static str, parse: fn(&str) -> Option<T>, doc: &'static str) -> Self {
        Self {
            name,
            default: None,
            parse,
            check: |_| true,
            expected: "",
            shown: None,
            doc,
            secret: false,
        }
    }

    pub const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    pub const fn check(mut self, check: fn(&T) -> bool, expected: &'static str) -> Self {
        self.check = check;
        self.expected = expected;
        self
    }

    pub const fn shown(mut self, shown: &'static str) -> Self {
        self.shown = Some(shown);
        self
    }

    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// The value, or the default's when unset (a key without default parses "").
    pub fn value(&self, lookup: &impl Fn(&str) -> Option<String>) -> Result<T, ConfigError> {
        self.value_and(lookup, |_| true)
    }

    /// Like `value`, with a check that depends on other keys, applied to a set value only.
    pub fn value_and(
        &self,
        lookup: &impl Fn(&str) -> Option<String>,
        also: impl Fn(&T) -> bool,
    ) -> Result<T, ConfigError> {
        match lookup(self.name) {
            Some(text) => self.parsed(text, also),
            None => self.parsed(self.default.unwrap_or_default().to_string(), |_| true),
        }
    }

    /// The value, the default's when unset, or `None` when unset without a default.
    pub fn read(&self, lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<T>, ConfigError> {
        match lookup(self.name) {
            Some(text) => self.parsed(text, |_| true).map(Some),
            None => self
                .default
                .map(|d| self.parsed(d.to_string(), |_| true))
                .transpose(),
        }
    }

    fn parsed(&self, text: String, also: impl Fn(&T) -> bool) -> Result<T, ConfigError> {
        match (self.parse)(&text) {
            Some(v) if (self.check)(&v) && also(&v) => Ok(v),
            _ => Err(ConfigError {
                key: self.name,
                // Never echo key material, even a malformed one.
                value: if self.secret { "<hidden>".into() } else { text },
                expected: self.expected,
            }),
        }
    }
}

/// A README row: every key in the table has one, whether the configuration reads it or
/// another part of the portal does.
pub trait Documented: Sync {
    fn name(&self) -> &'static str;
    /// The default column, already in Markdown.
    fn shown_default(&self) -> String;
    fn doc(&self) -> &'static str;
    /// Whether `Config::from_lookup` reads it (the rest are read where they are used).
    fn read_by_config(&self) -> bool;
}

impl<T> Documented for Key<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn shown_default(&self) -> String {
        match (self.shown, self.default) {
            (Some(shown), _) => shown.to_string(),
            (None, Some(d)) if !d.is_empty() => format!("`{d}`"),
            _ => "none".to_string(),
        }
    }

    fn doc(&self) -> &'static str {
        self.doc
    }

    fn read_by_config(&self) -> bool {
        true
    }
}

/// A variable read outside the configuration (by the command line, the logger or the
/// Docker client), listed so the README's table is complete.
#[derive(Debug, Clone, Copy)]
pub struct Elsewhere {
    pub name: &'static str,
    pub shown: &'static str,
    pub doc: &'static str,
}

impl Documented for Elsewhere {
    fn name(&self) -> &'static str {
        self.name
    }

    fn shown_default(&self) -> String {
        self.shown.to_string()
    }

    fn doc(&self) -> &'static str {
        self.doc
    }

    fn read_by_config(&self) -> bool {
        false
    }
}

/// Reads a number (or `true`/`false`), ignoring surrounding blanks.
pub fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.trim().parse().ok()
}

/// Splits on commas, dropping blanks around and between items.
pub(super) fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether a path climbs out of where it claims to be.
pub(super) fn has_dot_dot(path: &str) -> bool {
    path.split('/').any(|c| c == "..")
}

/// The configuration table in Markdown, as the README holds it.
pub fn markdown_table(keys: &[&dyn Documented]) -> String {
    let mut out = String::from("| variable | default | meaning |\n| --- | --- | --- |\n");
    for key in keys {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            key.name(),
            key.shown_default(),
            key.doc()
        ));
    }
    out
}
