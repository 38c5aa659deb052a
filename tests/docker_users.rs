#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Data does not outlive its user (issue 11, item 13), on the real Docker Engine: `user rm`
//! removes the user's folders and Docker volumes, `--keep-data` keeps them, and a new user
//! of the same id inherits kept data only with `user add --reuse-data`.

mod common;

use common::docker::{labelled, DockerEnv, ECHO_CATALOG};

/// `user` with server `web` enabled once (its folder and its volume `notes` made, a file
/// written into the folder), then disabled. Each test has its own user: container and
/// network names hold no instance.
fn used(user: &str, slot: u16) -> DockerEnv {
    let d = DockerEnv::new(user, slot);
    let catalog = d.env.file("catalog.yaml", ECHO_CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    d.ok(&["user", "add", user]);
    d.ok(&["enable", "web", "--user", user]);
    let file = format!("volumes/{user}/data/web/mine.txt");
    std::fs::write(d.env.data().join(file), "mine").unwrap();
    d.ok(&["disable", "web", "--user", user]);
    d
}

fn user_volumes(d: &DockerEnv) -> Vec<String> {
    labelled("volume", &d.label())
}

#[test]
fn user_rm_removes_the_users_folders_and_docker_volumes() {
    let d = used("urm", 36);
    assert_eq!(user_volumes(&d), ["mcp-urm_notes"]);
    assert_eq!(
        d.ok(&["user", "rm", "urm"]),
        "removed user urm\nremoved their data: volumes/urm, Docker volume mcp-urm_notes\n"
    );
    assert!(
        user_volumes(&d).is_empty(),
        "the Docker volume outlived its user"
    );
    assert!(!d.env.data().join("volumes/urm").exists());
    d.ok(&["user", "add", "urm"]);
    d.ok(&["enable", "web", "--user", "urm"]);
    assert!(!d.env.data().join("volumes/urm/data/web/mine.txt").exists());
    d.ok(&["disable", "web", "--user", "urm"]);
}

#[test]
fn kept_data_goes_to_a_new_user_of_the_id_only_when_asked() {
    let d = used("ukeep", 37);
    assert_eq!(
        d.ok(&["user", "rm", "ukeep", "--keep-data"]),
        "removed user ukeep\nkept their data: volumes/ukeep, Docker volume mcp-ukeep_notes; a new user ukeep takes it over only with `portalctl user add ukeep --reuse-data`\n"
    );
    assert_eq!(user_volumes(&d), ["mcp-ukeep_notes"]);
    let refused = d.run(&["user", "add", "ukeep"]);
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "an earlier user ukeep left data behind (volumes/ukeep, Docker volume mcp-ukeep_notes)"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(
        d.ok(&["user", "add", "ukeep", "--reuse-data"]),
        "added user ukeep\ntook over the data an earlier user ukeep left: volumes/ukeep, Docker volume mcp-ukeep_notes\n"
    );
    let file = d.env.data().join("volumes/ukeep/data/web/mine.txt");
    assert_eq!(std::fs::read_to_string(file).unwrap(), "mine");
}
