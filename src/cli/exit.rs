//! How a failed command ends: every diagnostic and the error chain printed once, and the
//! exit code of the failure's class.

use crate::catalog::report::{Diagnostic, Invalid, Severity};
use crate::config::ConfigError;
use crate::error::{Classify, ErrorClass};
use crate::ids::IdError;
use crate::manager::PortalError;
use crate::secrets::SecretError;

use super::backend::RemoteError;

/// The class of the first error in the chain that has one. An error of none of the
/// crate's types (a file the CLI could not read, say) is the machine's trouble.
pub fn class_of(err: &anyhow::Error) -> ErrorClass {
    err.chain()
        .find_map(|cause| {
            let c: &dyn Classify = if let Some(e) = cause.downcast_ref::<PortalError>() {
                e
            } else if let Some(e) = cause.downcast_ref::<RemoteError>() {
                e
            } else if let Some(e) = cause.downcast_ref::<Invalid>() {
                e
            } else if let Some(e) = cause.downcast_ref::<ConfigError>() {
                e
            } else if let Some(e) = cause.downcast_ref::<SecretError>() {
                e
            } else {
                cause.downcast_ref::<IdError>()?
            };
            Some(c.class())
        })
        .unwrap_or(ErrorClass::Internal)
}

pub fn exit_code(err: &anyhow::Error) -> u8 {
    class_of(err).exit_code()
}

/// The diagnostics an error carries: its own, or those a remote portal sent.
fn diagnostics(err: &anyhow::Error) -> Vec<&Diagnostic> {
    let invalid = err.chain().find_map(|c| {
        c.downcast_ref::<Invalid>()
            .or_else(|| match c.downcast_ref::<PortalError>() {
                Some(PortalError::Invalid(i)) => Some(i),
                _ => None,
            })
    });
    match invalid {
        Some(i) => i.diagnostics.iter().collect(),
        None => err
            .chain()
            .find_map(|c| c.downcast_ref::<RemoteError>())
            .map(|r| r.diagnostics.iter().collect())
            .unwrap_or_default(),
    }
}

/// The error chain on one line. Some errors show their cause in their own message:
/// each cause is said once.
fn chain(err: &anyhow::Error) -> String {
    let mut chain: Vec<String> = Vec::new();
    for cause in err.chain().map(ToString::to_string) {
        if !chain.last().is_some_and(|prev| prev.ends_with(&cause)) {
            chain.push(cause);
        }
    }
    chain.join(": ")
}

/// Prints a failed command's error on stderr: its diagnostics, then its chain on one
/// line; with `--json`, one object of the API's shape
/// (`{"error": {"code", "message", "details"?, "diagnostics"?}}`).
pub fn report(err: &anyhow::Error, json: bool) {
    let diagnostics = diagnostics(err);
    if json {
        let mut body = serde_json::json!({
            "error": {"code": class_of(err).api_code(), "message": chain(err)}
        });
        if !diagnostics.is_empty() {
            let details: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            body["error"]["details"] = serde_json::json!(details);
            body["error"]["diagnostics"] = serde_json::json!(diagnostics);
        }
        eprintln!("{body}");
        return;
    }
    for w in diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
    {
        eprintln!("warning: {w}");
    }
    for e in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
        eprintln!("error: {e}");
    }
    eprintln!("error: {}", chain(err));
}
