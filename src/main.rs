//! `portalctl`: prints the whole error chain once and exits with a documented code.

use std::process::ExitCode;

use mcp_portal::catalog::report::Invalid;
use mcp_portal::cli::{parse, run};
use mcp_portal::manager::PortalError;

fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(r) = cause.downcast_ref::<mcp_portal::cli::remote::RemoteError>() {
            return r.exit_code();
        }
        if cause
            .downcast_ref::<mcp_portal::config::ConfigError>()
            .is_some()
        {
            return 2;
        }
        if cause.downcast_ref::<Invalid>().is_some()
            || cause
                .downcast_ref::<mcp_portal::secrets::SecretError>()
                .is_some()
        {
            return 3;
        }
        if let Some(e) = cause.downcast_ref::<PortalError>() {
            return match e.primary() {
                PortalError::Invalid(_) | PortalError::Plan(_) => 3,
                PortalError::NotFound { .. } => 4,
                PortalError::Exists { .. } | PortalError::Refused(_) | PortalError::Alloc(_) => 5,
                PortalError::Usage(_) => 2,
                PortalError::Store(_) | PortalError::Engine(_) | PortalError::Cleanup { .. } => 1,
            };
        }
    }
    1
}

fn report(err: &anyhow::Error) {
    let invalid = err.chain().find_map(|c| {
        c.downcast_ref::<Invalid>()
            .or_else(|| match c.downcast_ref::<PortalError>() {
                Some(PortalError::Invalid(i)) => Some(i),
                _ => None,
            })
    });
    if let Some(invalid) = invalid {
        for w in invalid.diagnostics.warnings() {
            eprintln!("warning: {w}");
        }
        for e in invalid.diagnostics.errors() {
            eprintln!("error: {e}");
        }
    }
    if let Some(r) = err
        .chain()
        .find_map(|c| c.downcast_ref::<mcp_portal::cli::remote::RemoteError>())
    {
        for d in &r.details {
            eprintln!("error: {d}");
        }
    }
    // Some errors show their cause in their own message: print each cause once.
    let mut chain: Vec<String> = Vec::new();
    for cause in err.chain().map(ToString::to_string) {
        if !chain.last().is_some_and(|prev| prev.ends_with(&cause)) {
            chain.push(cause);
        }
    }
    eprintln!("error: {}", chain.join(": "));
}

fn main() -> ExitCode {
    let cli = parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err);
            ExitCode::from(exit_code(&err))
        }
    }
}
