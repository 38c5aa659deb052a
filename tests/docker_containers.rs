#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
//! Users' containers on the real Docker Engine: isolation, limits, hardening, ports,
//! quotas, concurrency and clean failure. Each test has its own instance label, users,
//! port range and subnets, and removes what it made even when it fails.

mod common;

use common::docker::{call_echo, docker, with_echo_catalog as setup, DockerEnv, OutputAsync};
use serde_json::Value;

fn allocations(d: &DockerEnv) -> Value {
    serde_json::from_slice(&std::fs::read(d.env.data().join("state/allocations.json")).unwrap())
        .unwrap()
}

#[test]
fn two_users_get_isolated_limited_hardened_containers() {
    let d = setup("iso", 0, &["iso-a", "iso-b"]);
    let a = d.ok(&["enable", "web", "--user", "iso-a"]);
    let p0 = d.port_start;
    assert_eq!(
        a,
        format!(
            "enabled web for iso-a: container mcp-iso-a.web (mcp-echo:latest) on 127.0.0.1:{p0}\n"
        )
    );
    let b = d.ok(&["enable", "web", "--user", "iso-b"]);
    assert_eq!(
        b,
        format!(
            "enabled web for iso-b: container mcp-iso-b.web (mcp-echo:latest) on 127.0.0.1:{}\n",
            p0 + 20
        )
    );
    d.ok(&["enable", "cli", "--user", "iso-a"]);
    assert_eq!(
        d.containers(),
        ["mcp-iso-a.cli", "mcp-iso-a.web", "mcp-iso-b.web"]
    );
    assert_eq!(d.networks(), ["mcp-net-iso-a", "mcp-net-iso-b"]);

    let slot_net = |n: &str| d.inspect(n, "{{range .IPAM.Config}}{{.Subnet}}{{end}}");
    assert_eq!(slot_net("mcp-net-iso-a"), "10.210.0.0/24");
    assert_eq!(slot_net("mcp-net-iso-b"), "10.210.1.0/24");

    let web = "mcp-iso-a.web";
    assert_eq!(
        d.inspect(web, "{{index .Config.Labels \"io.mcp-portal.user\"}} {{index .Config.Labels \"io.mcp-portal.server\"}} {{index .Config.Labels \"io.mcp-portal.port\"}} {{index .Config.Labels \"io.mcp-portal.managed-by\"}}"),
        format!("iso-a web {p0} mcp-portal")
    );
    assert_eq!(
        d.inspect(
            web,
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"
        ),
        "67108864 250000000 32"
    );
    assert_eq!(
        d.inspect(web, "{{.Config.User}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.Tmpfs}}"),
        "65534:65534 [\"ALL\"] [\"no-new-privileges:true\"] true {\"/tmp\":\"rw,noexec,nosuid,size=64m\"}"
    );
    assert_eq!(
        d.inspect(
            web,
            "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}}"
        ),
        "json-file 10m"
    );
    assert_eq!(
        d.inspect("mcp-iso-a.cli", "{{.Config.OpenStdin}} {{.State.Running}}"),
        "true true",
        "a stdio server waits on stdin"
    );
    let env = d.inspect(web, "{{json .Config.Env}}");
    for var in [
        "MCP_USER_ID=iso-a",
        "MCP_SERVER_ID=web",
        "MCP_NETWORK_NAME=mcp-net-iso-a",
        "MCP_TRANSPORT=streamable-http",
        "MCP_SERVER_PORT=8080",
    ] {
        assert!(env.contains(var), "{var} missing from {env}");
    }
    let binds = d.inspect(web, "{{json .HostConfig.Binds}}");
    let data = d.env.data().canonicalize().unwrap();
    assert!(
        binds.contains(&format!("{}/volumes/iso-a/data/web:/data", data.display())),
        "{binds}"
    );
    assert!(binds.contains("mcp-iso-a_notes:/notes"), "{binds}");

    // Real packets: a sibling by its server name answers; the other user's container does not.
    let ok = docker(&["exec", "mcp-iso-a.cli", "/mcp-echo", "probe", "web", "8080"]);
    assert_eq!(ok.code, 0, "sibling unreachable: {}", ok.stderr);
    let b_ip = d.inspect(
        "mcp-iso-b.web",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert!(b_ip.starts_with("10.210.1."), "{b_ip}");
    let cross = docker(&["exec", "mcp-iso-a.cli", "/mcp-echo", "probe", &b_ip, "8080"]);
    assert_eq!(cross.code, 1, "iso-a reached iso-b's container");
    let by_name = docker(&[
        "exec",
        "mcp-iso-a.cli",
        "/mcp-echo",
        "probe",
        "mcp-iso-b.web",
        "8080",
    ]);
    assert_eq!(by_name.code, 1, "iso-a resolved iso-b's container");

    // The published port answers MCP on the host's loopback.
    let reply = call_echo(p0, "hi");
    assert!(reply.contains(r#""text":"hi""#), "{reply}");

    let status: Vec<Value> = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    assert_eq!(status.len(), 3);
    assert!(status.iter().all(|r| r["state"] == "running"), "{status:?}");
    assert_eq!(status[1]["port"], p0);
    assert_eq!(status[1]["memory_bytes"], 64 << 20);
}

#[test]
fn disable_removes_the_container_and_frees_the_port() {
    let d = setup("dis", 1, &["dis-a"]);
    d.ok(&["enable", "web", "--user", "dis-a"]);
    let out = d.ok(&["disable", "web", "--user", "dis-a"]);
    assert_eq!(
        out,
        format!(
            "disabled web for dis-a: container mcp-dis-a.web removed, port {} released\n",
            d.port_start
        )
    );
    assert!(d.containers().is_empty());
    assert!(
        d.networks().is_empty(),
        "the user's last container took the network with it"
    );
    assert_eq!(allocations(&d)["users"], serde_json::json!({}));
    // Disabling twice is done already, as enabling twice is (issue 12, point 10); an
    // unknown user is still named.
    let again = d.ok(&["disable", "web", "--user", "dis-a"]);
    assert_eq!(again, "web was not enabled for dis-a: nothing to disable\n");
    let nobody = d.run(&["disable", "web", "--user", "nobody"]);
    assert_eq!(nobody.code, 4);
    assert_eq!(
        nobody.stderr,
        "error: user nobody does not exist; add it with `portalctl user add nobody`\n"
    );
    d.ok(&["enable", "web", "--user", "dis-a"]);
    assert_eq!(
        d.inspect(
            "mcp-dis-a.web",
            "{{index .Config.Labels \"io.mcp-portal.port\"}}"
        ),
        d.port_start.to_string()
    );
}

#[test]
fn a_quota_refusal_names_the_numbers_and_creates_nothing() {
    let d = setup("quota", 2, &["quota-a"]);
    assert_eq!(
        d.ok(&["user", "limits", "quota-a", "--max-memory-mb", "80"]),
        "user quota-a: at most 10 containers, 80MB of memory, 5120 CPU shares\n"
    );
    d.ok(&["enable", "web", "--user", "quota-a"]);
    let out = d.run(&["enable", "cli", "--user", "quota-a"]);
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "error: memory limit exceeded: 96MB/80MB for user quota-a; disable one of their servers, or raise the limit with `portalctl user limits quota-a --max-memory-mb N`\n"
    );
    assert_eq!(d.containers(), ["mcp-quota-a.web"]);
    d.ok(&[
        "user",
        "limits",
        "quota-a",
        "--max-memory-mb",
        "2048",
        "--max-containers",
        "1",
    ]);
    let out = d.run(&["enable", "cli", "--user", "quota-a"]);
    assert_eq!(
        out.stderr,
        "error: container limit exceeded: 2/1 containers for user quota-a; disable one of their servers, or raise the limit with `portalctl user limits quota-a --max-containers N`\n"
    );
}

#[test]
fn twenty_parallel_enables_of_one_pair_end_with_one_container() {
    let d = setup("par", 3, &["par-a"]);
    let children: Vec<_> = (0..20)
        .map(|_| {
            d.command(&["enable", "web", "--user", "par-a"])
                .output_async()
        })
        .collect();
    let codes: Vec<i32> = children.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(codes.iter().all(|c| *c == 0), "{codes:?}");
    assert_eq!(d.containers(), ["mcp-par-a.web"]);
    assert_eq!(
        allocations(&d)["users"]["par-a"]["ports"],
        serde_json::json!({"web": d.port_start})
    );
}

#[test]
fn ten_users_with_three_servers_each_in_parallel() {
    let d = setup("many", 4, &[]);
    let users: Vec<String> = (0..10).map(|i| format!("many-{i}")).collect();
    for u in &users {
        d.ok(&["user", "add", u]);
    }
    let mut children = Vec::new();
    for u in &users {
        for s in ["web", "cli"] {
            children.push(d.command(&["enable", s, "--user", u]).output_async());
        }
        children.push(
            d.command(&["enable", "tz", "--user", u, "--set", "timezone=UTC"])
                .output_async(),
        );
    }
    let codes: Vec<i32> = children.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(codes.iter().all(|c| *c == 0), "{codes:?}");
    assert_eq!(d.containers().len(), 30);
    assert_eq!(d.networks().len(), 10);
    let status: Vec<Value> = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    assert_eq!(status.len(), 30);
    assert!(status.iter().all(|r| r["state"] == "running"));
    let a = allocations(&d);
    for u in &users {
        let block = a["users"][u]["block"].as_u64().unwrap() as u16;
        let port = a["users"][u]["ports"]["web"].as_u64().unwrap() as u16;
        let first = d.port_start + block * 20;
        assert!(
            (first..first + 20).contains(&port),
            "{u}: port {port} outside its block"
        );
        let subnet = d.inspect(
            &format!("mcp-net-{u}"),
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        );
        assert_eq!(subnet, format!("10.214.{block}.0/24"));
    }
    assert!(d
        .inspect("mcp-many-3.tz", "{{json .Config.Env}}")
        .contains("TZ_NAME=UTC"));
}

#[test]
fn a_failure_half_way_leaves_nothing_behind() {
    let d = setup("fail", 5, &["fail-a"]);
    let out = d.run_with(
        &["enable", "crash", "--user", "fail-a"],
        &[("MCP_PORTAL_START_GRACE_MS", "1500")],
    );
    // A container that crashes is the machine's failure, not a refusal: exit 1
    // (issue 9: it used to exit 5 and be audited as refused).
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "error: container mcp-fail-a.crash stopped right after starting (exit code 3); see `docker logs mcp-fail-a.crash`\n");
    assert!(d.containers().is_empty());
    assert!(d.networks().is_empty());
    assert_eq!(allocations(&d)["users"], serde_json::json!({}));
    let missing = d.run(&["enable", "missing", "--user", "fail-a"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains(
            "image mcp-portal-test/never-built:none is not present and could not be pulled"
        ) && missing.stderr.contains("scripts/build-images.sh"),
        "{}",
        missing.stderr
    );
    assert!(d.containers().is_empty());
    let status = d.ok(&["status", "--user", "fail-a"]);
    assert_eq!(status.lines().count(), 1, "nothing is enabled: {status}");
    let param = d.run(&["enable", "tz", "--user", "fail-a"]);
    assert_eq!(param.code, 3);
    assert_eq!(
        param.stderr,
        "error: server tz: missing required parameter(s) timezone: give --set timezone=VALUE\n"
    );
    let env = d.run(&["enable", "cli", "--user", "fail-a", "--env", "X=1"]);
    assert_eq!(env.code, 3);
    assert!(
        env.stderr.contains("not user-configurable"),
        "{}",
        env.stderr
    );
    assert!(d.containers().is_empty());
}

#[test]
fn allocations_are_rebuilt_from_labels_when_the_state_file_is_lost() {
    let d = setup("rebuild", 6, &["reb-a", "reb-b"]);
    d.ok(&["enable", "web", "--user", "reb-a"]);
    d.ok(&["enable", "web", "--user", "reb-b"]);
    let before = allocations(&d);
    std::fs::remove_file(d.env.data().join("state/allocations.json")).unwrap();
    d.ok(&["enable", "cli", "--user", "reb-a"]);
    assert_eq!(
        allocations(&d),
        before,
        "rebuilt from labels, and a stdio server takes no port"
    );
    std::fs::remove_file(d.env.data().join("state/allocations.json")).unwrap();
    d.ok(&["user", "add", "reb-c"]);
    d.ok(&["enable", "web", "--user", "reb-c"]);
    let after = allocations(&d);
    assert_eq!(
        after["users"]["reb-c"]["block"], 2,
        "blocks 0 and 1 are still taken"
    );
    assert_eq!(after["users"]["reb-a"], before["users"]["reb-a"]);
}

#[test]
fn a_changed_definition_or_setting_recreates_the_container() {
    let d = setup("recreate", 7, &["rec-a"]);
    d.ok(&["enable", "web", "--user", "rec-a"]);
    let id = d.inspect("mcp-rec-a.web", "{{.Id}}");
    assert!(d
        .ok(&["enable", "web", "--user", "rec-a"])
        .starts_with("already running, unchanged: web"));
    let out = d.ok(&[
        "enable",
        "web",
        "--user",
        "rec-a",
        "--env",
        "GREETING=hello",
    ]);
    assert!(
        out.starts_with("recreated (definition or settings changed) web for rec-a"),
        "{out}"
    );
    assert_ne!(d.inspect("mcp-rec-a.web", "{{.Id}}"), id);
    assert!(d
        .inspect("mcp-rec-a.web", "{{json .Config.Env}}")
        .contains("GREETING=hello"));
    let overlay = d.env.file(
        "bigger.yaml",
        "servers:\n  - id: web\n    resources: {memory: 96m}\n",
    );
    d.ok(&[
        "overlay",
        "upload",
        &d.env.path(&overlay),
        "--name",
        "bigger",
    ]);
    let out = d.ok(&["enable", "web", "--user", "rec-a"]);
    assert!(out.starts_with("recreated"), "{out}");
    assert_eq!(
        d.inspect("mcp-rec-a.web", "{{.HostConfig.Memory}}"),
        (96u64 << 20).to_string()
    );
    assert!(
        d.inspect("mcp-rec-a.web", "{{json .Config.Env}}")
            .contains("GREETING=hello"),
        "settings are kept"
    );
    docker(&["stop", "-t", "1", "mcp-rec-a.web"]);
    assert!(d
        .ok(&["restart", "web", "--user", "rec-a"])
        .starts_with("restarted web for rec-a"));
    assert_eq!(d.inspect("mcp-rec-a.web", "{{.State.Running}}"), "true");
}

#[test]
fn a_relative_data_folder_still_mounts_absolute_host_paths() {
    let d = setup("relative", 8, &["rel-a"]);
    let cmd = d.command(&["enable", "web", "--user", "rel-a"]);
    // Regression: a relative --data-dir reached Docker as a relative bind source.
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(args[0], "--data-dir");
    let mut rel = std::process::Command::new(cmd.get_program());
    rel.current_dir(d.env.dir.path())
        .arg("--data-dir")
        .arg("data")
        .args(&args[2..]);
    rel.envs(
        cmd.get_envs()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
    );
    let out = rel.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binds = d.inspect("mcp-rel-a.web", "{{json .HostConfig.Binds}}");
    assert!(
        binds.contains(&format!(
            "{}/volumes/rel-a/data/web:/data",
            d.env.data().canonicalize().unwrap().display()
        )),
        "{binds}"
    );
}

#[test]
fn another_portal_instance_never_touches_this_ones_network() {
    let a = setup("insta", 13, &["inst-u"]);
    let b = setup("instb", 14, &["inst-u"]);
    a.ok(&["enable", "cli", "--user", "inst-u"]);
    let out = b.run(&["enable", "cli", "--user", "inst-u"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "error: container name mcp-inst-u.cli for inst-u's server cli is taken by portal instance {} (data folder {}); disable it there, remove that portal's containers (for the demo: `scripts/demo.sh clean`), or use another user name\n",
            a.instance,
            a.env.data().canonicalize().unwrap().display()
        )
    );
    let out = b.run(&["enable", "web", "--user", "inst-u"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: network mcp-net-inst-u exists but was not made by this portal for inst-u; remove it with `docker network rm mcp-net-inst-u`\n"
    );
    assert_eq!(
        a.networks(),
        ["mcp-net-inst-u"],
        "the first instance's network is untouched"
    );
    assert_eq!(a.inspect("mcp-inst-u.cli", "{{.State.Running}}"), "true");
}
