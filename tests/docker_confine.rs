#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! What one user's input and containers can reach of the host and of other users, with
//! real containers (issue 11, items 1, 3 and 4): a planted symbolic link is never
//! followed, and each user's files belong to the user's own group, which only their
//! containers carry.

mod common;

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::docker::{docker, DockerEnv};

const CATALOG: &str = r#"
name: confine
servers:
  - id: vol
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    parameters: {sub: {default: work}}
    volumes: ['{USER_DATA}/{{vol.sub}}:/work']
  - id: file
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    secrets:
      - {name: gh.token, env: GH_TOKEN, file: true}
  - id: own
    image: mcp-echo:latest
    resources: {memory: 32m, cpus: 0.25}
    parameters: {uid: {default: ''}}
    user: '{{own.uid}}'
    secrets:
      - {name: gh.token, env: GH_TOKEN, file: true}
"#;

fn setup(name: &str, slot: u16, users: &[&str]) -> DockerEnv {
    let d = DockerEnv::new(name, slot);
    let cat = d.env.file("confine.yaml", CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&cat)]);
    for u in users {
        d.ok(&["user", "add", u]);
    }
    d
}

/// The container of a user's server, found by its labels (not by how names are spelled).
fn container(d: &DockerEnv, user: &str, server: &str) -> String {
    let out = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.mcp-portal.instance={}", d.instance),
        "--filter",
        &format!("label=io.mcp-portal.user={user}"),
        "--filter",
        &format!("label=io.mcp-portal.server={server}"),
    ]);
    out.stdout.trim().to_string()
}

fn user_data(d: &DockerEnv, user: &str) -> PathBuf {
    d.env.data().join("volumes").join(user).join("data")
}

#[test]
fn a_link_planted_in_a_users_folder_is_never_followed() {
    let u = "cnf-link";
    let d = setup("cnflink", 27, &[u]);
    let outside = tempfile::tempdir().unwrap();
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = std::fs::metadata(outside.path()).unwrap();
    // What a container with `{USER_DATA}` mounted can write: a link to the host's folder.
    let data = user_data(&d, u);
    std::fs::create_dir_all(data.join("a")).unwrap();
    symlink(outside.path(), data.join("a/link")).unwrap();

    for sub in ["a/link", "a/link/deeper"] {
        let out = d.run(&["enable", "vol", "--user", u, "--set", &format!("sub={sub}")]);
        assert_eq!(out.code, 5, "refused as a conflict: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "refusing {u}/data/a/link in the users' volume folders: it is a symbolic link"
            )),
            "{}",
            out.stderr
        );
        assert!(
            !out.stderr.contains(&d.env.data().display().to_string()),
            "the error tells nothing of the host's layout: {}",
            out.stderr
        );
    }
    let after = std::fs::metadata(outside.path()).unwrap();
    assert_eq!(
        (after.uid(), after.gid(), after.mode()),
        (before.uid(), before.gid(), before.mode()),
        "the link's target was neither chowned nor chmodded"
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    assert_eq!(container(&d, u, "vol"), "", "nothing was created");

    // A real folder works; swapped for a link while stopped, it is refused at restart,
    // since Docker would follow the link when it starts the container again.
    d.ok(&["enable", "vol", "--user", u, "--set", "sub=b"]);
    let id = container(&d, u, "vol");
    assert_eq!(d.inspect(&id, "{{.State.Running}}").trim(), "true");
    docker(&["stop", "-t", "0", &id]);
    std::fs::remove_dir(data.join("b")).unwrap();
    symlink(outside.path(), data.join("b")).unwrap();
    let out = d.run(&["restart", "vol", "--user", u]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("b in the users' volume folders: it is a symbolic link"),
        "{}",
        out.stderr
    );
    assert_eq!(
        d.inspect(&id, "{{.State.Running}}").trim(),
        "false",
        "not started through the link"
    );
}

fn stat(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// The host file behind a container's `/run/secrets/GH_TOKEN`.
fn secret_file(d: &DockerEnv, id: &str) -> PathBuf {
    PathBuf::from(d.inspect(id, "{{range .Mounts}}{{if eq .Destination \"/run/secrets/GH_TOKEN\"}}{{.Source}}{{end}}{{end}}").trim())
}

fn read_as(user: &str, file: &Path) -> common::Out {
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        user,
        "-v",
        &format!("{}:/s:ro", file.display()),
        "mcp-echo:latest",
        "cat",
        "/s",
    ])
}

#[test]
fn each_users_files_belong_to_their_own_group_which_no_other_users_container_has() {
    let (u1, u2) = ("cnf-u1", "cnf-u2");
    let d = setup("cnfgid", 28, &[u1, u2]);
    for (u, v) in [(u1, "tok-one"), (u2, "tok-two")] {
        d.ok(&["secret", "set", "gh.token", "--user", u, "--value", v]);
        d.ok(&["enable", "file", "--user", u]);
        d.ok(&["enable", "vol", "--user", u]);
    }
    let gid = |u: &str| -> u32 {
        let id = container(&d, u, "file");
        let groups = d.inspect(&id, "{{json .HostConfig.GroupAdd}}");
        let groups: Vec<String> = serde_json::from_str(groups.trim()).unwrap();
        assert_eq!(groups.len(), 1, "{groups:?}");
        groups[0].parse().unwrap()
    };
    let (g1, g2) = (gid(u1), gid(u2));
    assert_ne!(g1, g2, "each user has a group of their own");
    assert!(
        g1 >= 200_000 && g2 >= 200_000,
        "from MCP_PORTAL_USER_UID_BASE"
    );
    assert_eq!(g1, gid(u1), "the same group for all of a user's containers");

    let (c1, c2) = (container(&d, u1, "file"), container(&d, u2, "file"));
    assert_eq!(
        docker(&["exec", &c1, "/mcp-echo", "cat", "/run/secrets/GH_TOKEN"]).stdout,
        "tok-one",
        "the image's own user (65534) reads the file through the user's group"
    );
    assert_eq!(d.inspect(&c1, "{{.Config.User}}").trim(), "65534:65534");
    let (f1, f2) = (secret_file(&d, &c1), secret_file(&d, &c2));
    assert_eq!(stat(&f1), (0, g1, 0o440));
    assert_eq!(stat(&f2), (0, g2, 0o440));
    let parent = f1.parent().unwrap();
    assert_eq!(stat(parent).2, 0o700, "only the portal opens the folder");
    let base = common::docker::secrets_tmpfs(&d.instance);
    assert_eq!(
        stat(&base),
        (0, 0, 0o700),
        "the tmpfs base is the portal's alone"
    );

    // Another user's container identity, given the file anyway, cannot read it.
    // The same uid as u1's container, without u1's group:
    let out = read_as("65534:65534", &f1);
    assert_ne!(
        out.code, 0,
        "u2's identity read u1's secret: {}",
        out.stdout
    );
    let out = read_as(&format!("{g2}:{g2}"), &f1);
    assert_ne!(out.code, 0, "u2's own uid read u1's secret: {}", out.stdout);
    let out = read_as(&format!("{g1}:{g1}"), &f1);
    assert_eq!(
        out.stdout, "tok-one",
        "u1's own group reads it: {}",
        out.stderr
    );

    // A server whose definition and image name no user of their own runs as the user's
    // own uid, not as a uid all users share.
    d.ok(&["enable", "own", "--user", u1]);
    let c = container(&d, u1, "own");
    assert_eq!(
        d.inspect(&c, "{{.Config.User}}").trim(),
        format!("{g1}:{g1}")
    );
    assert_eq!(
        docker(&["exec", &c, "/mcp-echo", "cat", "/run/secrets/GH_TOKEN"]).stdout,
        "tok-one"
    );

    // The user's folders carry the group too, and keep it for new files.
    let work = user_data(&d, u1).join("work");
    let (_, g, mode) = stat(&work);
    assert_eq!((g, mode), (g1, 0o2770));
}

/// An image of the test's own whose `USER` is a name, not a number.
struct NamedUserImage(String);

impl NamedUserImage {
    fn build(tag: &str) -> Self {
        let ctx = tempfile::tempdir().unwrap();
        std::fs::write(ctx.path().join("passwd"), "node:x:1000:1000::/:/mcp-echo\n").unwrap();
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM mcp-echo:latest\nCOPY passwd /etc/passwd\nUSER node\n",
        )
        .unwrap();
        let out = docker(&["build", "-q", "-t", tag, &ctx.path().display().to_string()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        Self(tag.to_string())
    }
}

impl Drop for NamedUserImage {
    fn drop(&mut self) {
        docker(&["rmi", "-f", &self.0]);
    }
}

#[test]
fn an_image_whose_user_is_a_name_keeps_it_and_reads_its_files_through_the_users_group() {
    let u = "cnf-named";
    let d = DockerEnv::new("cnfnamed", 29);
    let image = NamedUserImage::build(&format!("mcp-echo-named:{}", d.instance));
    let catalog = format!(
        "name: named\nservers:\n  - id: node\n    image: '{}'\n    resources: {{memory: 32m, cpus: 0.25}}\n    secrets:\n      - {{name: gh.token, env: GH_TOKEN, file: true}}\n",
        image.0
    );
    let cat = d.env.file("named.yaml", &catalog);
    d.ok(&["catalog", "upload", &d.env.path(&cat)]);
    d.ok(&["user", "add", u]);
    d.ok(&[
        "secret",
        "set",
        "gh.token",
        "--user",
        u,
        "--value",
        "tok-named",
    ]);
    d.ok(&["enable", "node", "--user", u]);
    let c = container(&d, u, "node");
    assert_eq!(d.inspect(&c, "{{.Config.User}}").trim(), "node");
    let groups = d.inspect(&c, "{{json .HostConfig.GroupAdd}}");
    let groups: Vec<String> = serde_json::from_str(groups.trim()).unwrap();
    let file = secret_file(&d, &c);
    assert_eq!(
        stat(&file).1.to_string(),
        groups[0],
        "the file is the user's group's"
    );
    assert_eq!(
        docker(&["exec", &c, "/mcp-echo", "cat", "/run/secrets/GH_TOKEN"]).stdout,
        "tok-named",
        "uid 1000 from the image's passwd reads a root-owned 0440 file through the group"
    );
}
