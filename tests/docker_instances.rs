#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Sharing one engine with other portals and other networks: each data folder is its own
//! instance, a name another instance holds is refused naming it, and users' subnets keep
//! clear of every network on the engine.

mod common;

use common::docker::{docker, DockerEnv, ECHO_CATALOG};

fn setup(d: &DockerEnv, users: &[&str]) {
    let catalog = d.env.file("catalog.yaml", ECHO_CATALOG);
    d.ok(&["catalog", "upload", &d.env.path(&catalog)]);
    for u in users {
        d.ok(&["user", "add", u]);
    }
}

#[test]
fn two_data_folders_are_two_instances_that_never_touch_each_other() {
    let a = DockerEnv::own_instance("owna", 20);
    let b = DockerEnv::own_instance("ownb", 21);
    let id = regex::Regex::new("^p-[0-9a-f]{10}$").unwrap();
    assert!(id.is_match(&a.instance), "{}", a.instance);
    assert!(id.is_match(&b.instance), "{}", b.instance);
    assert_ne!(a.instance, b.instance);
    setup(&a, &["own-u"]);
    setup(&b, &["own-u"]);

    a.ok(&["enable", "cli", "--user", "own-u"]);
    let status = b.ok(&["status"]);
    assert!(
        !status.contains("mcp-own-u.cli") && !status.contains("orphan"),
        "another folder's container is not this one's orphan:\n{status}"
    );

    let out = b.run(&["enable", "cli", "--user", "own-u"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    let a_data = a.env.data().canonicalize().unwrap();
    assert_eq!(
        out.stderr,
        format!(
            "error: container name mcp-own-u.cli for own-u's server cli is taken by portal instance {} (data folder {}); disable it there, remove that portal's containers (for the demo: `scripts/demo.sh clean`), or use another user name\n",
            a.instance,
            a_data.display()
        )
    );
    assert_eq!(a.inspect("mcp-own-u.cli", "{{.State.Running}}"), "true");
    assert!(b.containers().is_empty(), "the refusal left nothing of b's");

    // The id is the folder's: a later run finds the same one.
    b.ok(&["user", "ls"]);
    let again = std::fs::read_to_string(b.env.data().join("instance")).unwrap();
    assert_eq!(again.trim(), b.instance);
}

#[test]
fn a_subnet_that_another_network_holds_is_skipped() {
    let d = DockerEnv::new("skipnet", 22);
    setup(&d, &["skip-u"]);
    let foreign = format!("{}-foreign", d.instance);
    let made = docker(&[
        "network",
        "create",
        "--subnet",
        "10.232.0.0/24",
        "--label",
        &d.label(),
        &foreign,
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);

    d.ok(&["enable", "web", "--user", "skip-u"]);
    assert_eq!(
        d.inspect("mcp-net-skip-u", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"),
        "10.232.1.0/24"
    );
    assert_eq!(d.inspect("mcp-skip-u.web", "{{.State.Running}}"), "true");
}

#[test]
fn a_pool_that_another_network_covers_is_refused_naming_it_and_the_setting() {
    let d = DockerEnv::new("fullnet", 23);
    setup(&d, &["full-u"]);
    let foreign = format!("{}-wide", d.instance);
    let made = docker(&[
        "network",
        "create",
        "--subnet",
        "10.233.0.0/16",
        "--label",
        &d.label(),
        &foreign,
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);

    let out = d.run(&["enable", "web", "--user", "full-u"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!("error: no free subnet for user full-u: the free blocks' subnets of the pool 10.233.0.0/16 overlap network {foreign} (10.233.0.0/16) on the engine; set MCP_PORTAL_USER_NETWORK_SUBNET_BASE to a range no network uses (see `docker network inspect {foreign}`)\n")
    );
    assert_eq!(d.networks(), [foreign], "no network of the user's was made");
    assert!(d.containers().is_empty());
    let status = d.ok(&["status", "--user", "full-u"]);
    assert!(
        !status.contains("web"),
        "nothing is left enabled:\n{status}"
    );
}
