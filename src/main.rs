//! `portalctl`: prints the whole error chain once and exits with the code of its class.

use std::process::ExitCode;

use mcp_portal::cli::{exit_code, parse, report, run};

fn main() -> ExitCode {
    match run(parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err);
            ExitCode::from(exit_code(&err))
        }
    }
}
