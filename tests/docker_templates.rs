#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Docker's list-valued templates on the real Docker Engine: the filesystem server of the
//! public registry, enabled with `--set filesystem.paths=...`, mounts folders inside the
//! user's own folder only, and its command names the same container paths.

mod common;

use common::docker::{docker, DockerEnv};

/// The registry's filesystem entry, with the local test image in place of mcp/filesystem.
const FILESYSTEM: &str = r#"
name: filesystem
image: mcp-echo:latest
type: server
meta: {category: devops}
run:
  command: ['{{filesystem.paths|volume-target|into}}']
  volumes: ['{{filesystem.paths|volume|into}}']
config:
  description: The directories the server may use
  parameters:
    type: object
    properties:
      paths:
        type: array
        items: {type: string}
        default: [/Users/local-test]
    required: [paths]
"#;

fn setup(name: &str, slot: u16) -> DockerEnv {
    let d = DockerEnv::new(name, slot);
    d.env.file("reg/servers/filesystem/server.yaml", FILESYSTEM);
    let reg = d.env.dir.path().join("reg");
    d.ok(&["catalog", "import", &d.env.path(&reg)]);
    d.ok(&["user", "add", "fs-a"]);
    d.ok(&["user", "add", "fs-b"]);
    d
}

#[test]
fn a_users_paths_mount_folders_inside_their_own_and_nothing_else() {
    let d = setup("templates", 44);
    let data = d.env.data().join("volumes/fs-a/data");
    let out = d.ok(&[
        "enable",
        "filesystem",
        "--user",
        "fs-a",
        "--set",
        "filesystem.paths=projects",
        "--set",
        "filesystem.paths=/notes",
    ]);
    assert!(out.starts_with("enabled filesystem for fs-a"), "{out}");
    let c = "mcp-fs-a.filesystem";
    assert_eq!(
        d.inspect(c, "{{json .HostConfig.Binds}}").trim(),
        format!(
            "[\"{0}/projects:/projects\",\"{0}/notes:/notes\"]",
            data.display()
        )
    );
    assert_eq!(
        d.inspect(c, "{{json .Config.Cmd}}").trim(),
        "[\"/projects\",\"/notes\"]"
    );
    // What the user puts in their folder, the server reads at the path its command names.
    std::fs::write(data.join("projects/hello.txt"), "from fs-a").unwrap();
    let read = docker(&["exec", c, "/mcp-echo", "cat", "/projects/hello.txt"]);
    assert_eq!(read.code, 0, "{}", read.stderr);
    assert_eq!(read.stdout, "from fs-a");

    // Another user's folder, or the host's, is out of reach whatever the value says.
    let escape = d.run(&[
        "enable",
        "filesystem",
        "--user",
        "fs-b",
        "--set",
        "filesystem.paths=../../fs-a/data/projects",
    ]);
    assert_eq!(escape.code, 3, "{}", escape.stderr);
    assert!(
        escape
            .stderr
            .contains("leaves your folder: remove '..' from it"),
        "{}",
        escape.stderr
    );
    assert_eq!(d.containers(), [c], "a refused enable creates nothing");
    d.ok(&[
        "enable",
        "filesystem",
        "--user",
        "fs-b",
        "--set",
        "filesystem.paths=/etc",
    ]);
    let b_data = d.env.data().join("volumes/fs-b/data");
    assert_eq!(
        d.inspect("mcp-fs-b.filesystem", "{{json .HostConfig.Binds}}")
            .trim(),
        format!("[\"{}/etc:/etc\"]", b_data.display()),
        "the host's /etc is never mounted"
    );
}
