#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! The README's command reference covers every command `portalctl --help` lists, with
//! each of its options.

fn leaves(cmd: &clap::Command, prefix: String, out: &mut Vec<(String, clap::Command)>) {
    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|c| c.get_name() != "help" && !c.is_hide_set())
        .collect();
    if subs.is_empty() {
        out.push((prefix.clone(), cmd.clone()));
    }
    for sub in subs {
        leaves(sub, format!("{prefix} {}", sub.get_name()), out);
    }
}

#[test]
fn the_readme_documents_every_command_and_option() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut all = Vec::new();
    leaves(&mcp_portal::cli::command(), "portalctl".into(), &mut all);
    assert!(all.len() > 10);
    for (path, cmd) in all {
        let row = readme
            .lines()
            .find(|l| {
                l.starts_with(&format!("| `{path} ")) || l.starts_with(&format!("| `{path}`"))
            })
            .unwrap_or_else(|| panic!("README has no reference row for `{path}`"));
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                if ["data-dir", "json", "help"].contains(&long) {
                    continue;
                }
                assert!(
                    row.contains(&format!("--{long}")),
                    "README row for `{path}` misses --{long}"
                );
            }
        }
    }
}
