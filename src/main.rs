//! `portalctl`: prints the whole error chain once (as JSON with `--json`) and exits with
//! the code of its class.

use std::process::ExitCode;

use mcp_portal::cli::{exit_code, parse, report, run};

fn main() -> ExitCode {
    let cli = parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err, json);
            ExitCode::from(exit_code(&err))
        }
    }
}
