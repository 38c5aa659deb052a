//! Diagnostics: what a parse, validation or merge found wrong or could not honour.
//!
//! Every diagnostic names the file, the server id and the field, so that all problems of
//! one upload can be reported together and each points at the exact thing to fix.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input is refused; nothing is stored.
    Error,
    /// The input is accepted, but part of it is not honoured (reported, never dropped silently).
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(server) = &self.server {
            write!(f, ": server {server}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects diagnostics for one input file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(
        &mut self,
        severity: Severity,
        file: &str,
        server: Option<&str>,
        field: Option<&str>,
        message: impl Into<String>,
    ) {
        self.items.push(Diagnostic {
            severity,
            file: file.to_string(),
            server: server.map(str::to_string),
            field: field.map(str::to_string),
            message: message.into(),
        });
    }

    pub fn error(
        &mut self,
        file: &str,
        server: Option<&str>,
        field: Option<&str>,
        msg: impl Into<String>,
    ) {
        self.push(Severity::Error, file, server, field, msg);
    }

    pub fn warning(
        &mut self,
        file: &str,
        server: Option<&str>,
        field: Option<&str>,
        msg: impl Into<String>,
    ) {
        self.push(Severity::Warning, file, server, field, msg);
    }

    /// Names `server` in every diagnostic that names none.
    pub fn name_server(&mut self, server: &str) {
        for d in self.items.iter_mut().filter(|d| d.server.is_none()) {
            d.server = Some(server.to_string());
        }
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Only the warnings, for keeping beside an accepted input.
    pub fn into_warnings(self) -> Vec<Diagnostic> {
        self.items
            .into_iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect()
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(items: I) -> Self {
        Self {
            items: items.into_iter().collect(),
        }
    }
}

/// An input refused with all of its errors (and any warnings found on the way).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} refused with {} error(s); nothing was stored", file, diagnostics.errors().count())]
pub struct Invalid {
    pub file: String,
    pub diagnostics: Diagnostics,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_server_and_field() {
        let mut d = Diagnostics::new();
        d.error("c.yaml", Some("github"), Some("image"), "must not be empty");
        d.warning("c.yaml", None, None, "note");
        let shown: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "c.yaml: server github: image: must not be empty",
                "c.yaml: note"
            ]
        );
        assert!(d.has_errors());
        assert_eq!(d.into_warnings().len(), 1);
    }
}
