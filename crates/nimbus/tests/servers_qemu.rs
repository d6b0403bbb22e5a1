//! Servers as real QEMU guests of the default image, driven by the real `openstack` CLI:
//! the user flow (key pair, create with user data, console log with the ready line
//! and the user data's output, stop, start, delete), a guest whose QEMU dies, and a `kill -9`
//! of `nimbus` while three servers build. Nothing may be left behind: no QEMU process, no
//! instance files.

mod common;

use common::{compute_region, qemu_pids, wait_console, Region};
use serde_json::{json, Value};
use std::process::Command;

use common::READY;

fn status_of(region: &Region, server: &str) -> Value {
    region.openstack_json(&["server", "show", server])
}

async fn wait_status(region: &Region, server: &str, want: &str, secs: u64) -> Value {
    region
        .wait_for(secs, &format!("{server} to be {want}"), || async {
            let s = status_of(region, server);
            assert_ne!(s["status"], "ERROR", "{server} failed: {s}");
            (s["status"] == want).then_some(s)
        })
        .await
}

/// Instance directories left (the base image cache aside).
fn instance_dirs(region: &Region) -> Vec<String> {
    std::fs::read_dir(region.data_dir.join("instances"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "_base").collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openstack_cli_runs_a_real_guest() {
    let Some(region) = compute_region(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(st.success());
    let boot = dir.path().join("boot.sh");
    std::fs::write(&boot, "#!/bin/sh\necho hello-from-user-data $(hostname)\n").unwrap();

    let images = region.openstack_json(&["image", "list"]);
    assert!(images.as_array().unwrap().iter().any(|i| i["Name"] == "nimbus-tiny"), "{images}");
    region.openstack_json(&["keypair", "create", "--public-key", key.with_extension("pub").to_str().unwrap(), "k1"]);
    let s = region.openstack_json(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--image",
        "nimbus-tiny",
        "--key-name",
        "k1",
        "--user-data",
        boot.to_str().unwrap(),
        "--wait",
        "vm1",
    ]);
    assert_eq!(s["status"], "ACTIVE", "{s}");
    assert_eq!(s["key_name"], "k1");
    let id = s["id"].as_str().unwrap().to_string();

    // The guest boots, reads its config drive, installs the key, runs the user data.
    let log = wait_console(&region, "vm1", READY, 1).await;
    assert!(log.contains("hello-from-user-data vm1"), "{log}");
    assert!(log.contains("1 SSH key(s) for root"), "{log}");
    assert!(log.contains("ready hostname=vm1"), "{log}");
    let (ok, tail, _) = region.openstack(&["console", "log", "show", "--lines", "3", "vm1"]);
    assert!(ok && tail.lines().count() <= 4, "{tail}");

    // Stop, start: a real ACPI power-off, then a fresh boot.
    let (ok, _, err) = region.openstack(&["server", "stop", "vm1"]);
    assert!(ok, "{err}");
    let stopped = wait_status(&region, "vm1", "SHUTOFF", 120).await;
    assert_eq!(stopped["OS-EXT-STS:power_state"], 4, "{stopped}");
    assert!(qemu_pids(&region.data_dir.join("instances")).is_empty(), "a stopped guest has no QEMU process");
    let (ok, _, err) = region.openstack(&["server", "start", "vm1"]);
    assert!(ok, "{err}");
    wait_status(&region, "vm1", "ACTIVE", 120).await;
    wait_console(&region, "vm1", READY, 2).await;

    // A guest whose QEMU dies is marked SHUTOFF with the reason, and starts again.
    let pids = qemu_pids(&region.data_dir.join("instances"));
    assert_eq!(pids.len(), 1);
    Command::new("kill").args(["-KILL", &pids[0].to_string()]).status().unwrap();
    let dead = wait_status(&region, "vm1", "SHUTOFF", 60).await;
    let fault = dead["fault"].to_string();
    assert!(fault.contains("QEMU process is gone"), "{dead}");
    region.openstack(&["server", "start", "vm1"]);
    let back = wait_status(&region, "vm1", "ACTIVE", 120).await;
    assert!(back["fault"].is_null() || back.get("fault").is_none(), "the fault clears on a good start: {back}");

    // Metering saw every billable change.
    let (token, body) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (code, events) =
        region.call("GET", &format!("/v1/{project}/metering/events?resource_id={id}"), Some(&token), None).await;
    assert_eq!(code, 200, "{events}");
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "started", "stopped", "started", "stopped", "started"], "{events}");

    // Reversibility: the server's disk exported as a standalone QCOW2 file (a snapshot image,
    // downloaded), which itself boots as a new server.
    let snap = region.openstack_json(&["server", "image", "create", "--wait", "--name", "vm1-export", "vm1"]);
    assert_eq!(snap["status"], "active", "{snap}");
    let exported = dir.path().join("vm1.qcow2");
    let (ok, _, err) = region.openstack(&["image", "save", "--file", exported.to_str().unwrap(), "vm1-export"]);
    assert!(ok, "{err}");
    let info = Command::new("qemu-img").args(["info", "--output=json"]).arg(&exported).output().unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["format"], "qcow2", "{info}");
    assert!(info.get("backing-filename").is_none(), "the export stands alone: {info}");

    // Another format: the export converted to VMDK, uploaded, and booted (the driver converts
    // it to QCOW2 once for its base cache).
    let vmdk = dir.path().join("vm1.vmdk");
    let st = Command::new("qemu-img").args(["convert", "-O", "vmdk"]).arg(&exported).arg(&vmdk).status().unwrap();
    assert!(st.success());
    let img = region.openstack_json(&[
        "image",
        "create",
        "--disk-format",
        "vmdk",
        "--container-format",
        "bare",
        "--file",
        vmdk.to_str().unwrap(),
        "from-vmdk",
    ]);
    assert_eq!(img["status"], "active", "{img}");
    let s2 =
        region.openstack_json(&["server", "create", "--flavor", "s3.small.1", "--image", "from-vmdk", "--wait", "vm2"]);
    assert_eq!(s2["status"], "ACTIVE", "{s2}");
    let log2 = wait_console(&region, "vm2", READY, 1).await;
    assert!(log2.contains("ready hostname=vm2"), "{log2}");
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "vm2"]);
    assert!(ok, "{err}");

    // Deleted while still building (as Tempest's test_delete_server_while_in_building_state
    // does): the build stops where it is and the delete removes everything it had made.
    let image = images.as_array().unwrap().iter().find(|i| i["Name"] == "nimbus-tiny").unwrap()["ID"].clone();
    let mut building = Vec::new();
    for n in 0..3 {
        let body =
            json!({"server": {"name": format!("short-lived-{n}"), "imageRef": image, "flavorRef": "s3.small.1"}});
        let (code, s) = region.call("POST", "/compute/v2.1/servers", Some(&token), Some(body)).await;
        assert_eq!(code, 202, "{s}");
        let id = s["server"]["id"].as_str().unwrap().to_string();
        let (code, _) = region.call("DELETE", &format!("/compute/v2.1/servers/{id}"), Some(&token), None).await;
        assert_eq!(code, 204);
        building.push(id);
    }
    for id in &building {
        region
            .wait_for(120, &format!("{id} to be deleted"), || async {
                let (code, s) = region.call("GET", &format!("/compute/v2.1/servers/{id}"), Some(&token), None).await;
                assert_ne!(s["server"]["status"], "ERROR", "{s}");
                (code == 404).then_some(())
            })
            .await;
    }

    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "vm1"]);
    assert!(ok, "{err}");
    let (ok, _, _) = region.openstack(&["server", "show", "vm1"]);
    assert!(!ok, "deleted");
    assert!(qemu_pids(&region.data_dir.join("instances")).is_empty());
    assert!(instance_dirs(&region).is_empty(), "{:?}", instance_dirs(&region));
    let (_, events) =
        region.call("GET", &format!("/v1/{project}/metering/events?resource_id={id}"), Some(&token), None).await;
    assert_eq!(events["events"].as_array().unwrap().last().unwrap()["event"], "deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_while_three_servers_build_leaves_no_orphans() {
    // Slow job steps so the crash lands in the middle of the builds.
    let Some(mut region) = compute_region(&[("NIMBUS_JOB_STEP_DELAY_MS", "1500")]) else { return };
    let token = region.admin_token().await;
    let (code, created) = region
        .call(
            "POST",
            "/compute/v2.1/servers",
            Some(&token),
            Some(json!({"server": {"name": "crash", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1",
                "min_count": 3, "max_count": 3, "networks": "none"}})),
        )
        .await;
    assert_eq!(code, 202, "{created}");
    let instances = region.data_dir.join("instances");
    region
        .wait_for(120, "a first guest to start", || async { (!qemu_pids(&instances).is_empty()).then_some(()) })
        .await;
    let before = qemu_pids(&instances);
    region.kill9();
    region.launch();
    let token = region.admin_token().await;

    let servers = region
        .wait_for(300, "every server to settle", || async {
            let (_, list) = region.call("GET", "/compute/v2.1/servers/detail?name=crash", Some(&token), None).await;
            let list = list["servers"].as_array().cloned().unwrap_or_default();
            (list.len() == 3 && list.iter().all(|s| s["status"] == "ACTIVE" || s["status"] == "ERROR")).then_some(list)
        })
        .await;
    for s in &servers {
        if s["status"] == "ERROR" {
            assert!(s["fault"]["message"].as_str().is_some_and(|m| !m.is_empty()), "an ERROR says why: {s}");
        }
    }
    let active: Vec<&Value> = servers.iter().filter(|s| s["status"] == "ACTIVE").collect();
    let after = qemu_pids(&instances);
    assert_eq!(after.len(), active.len(), "one QEMU per ACTIVE server, no orphans");
    for pid in &before {
        assert!(after.contains(pid), "guest {pid}, running before the crash, was adopted, not restarted");
    }
    if let Some(s) = active.first() {
        wait_console(&region, s["id"].as_str().unwrap(), READY, 1).await;
    }
    for s in &servers {
        let (code, _) = region
            .call("DELETE", &format!("/compute/v2.1/servers/{}", s["id"].as_str().unwrap()), Some(&token), None)
            .await;
        assert_eq!(code, 204);
    }
    region
        .wait_for(120, "the servers to be gone", || async {
            let (_, list) = region.call("GET", "/compute/v2.1/servers", Some(&token), None).await;
            list["servers"].as_array().is_some_and(|l| l.is_empty()).then_some(())
        })
        .await;
    assert!(qemu_pids(&instances).is_empty(), "no QEMU process left");
    assert!(instance_dirs(&region).is_empty(), "no instance files left: {:?}", instance_dirs(&region));
    let (_, q) = region.call("GET", "/compute/v2.1/limits", Some(&token), None).await;
    assert_eq!(q["limits"]["absolute"]["totalInstancesUsed"], 0, "{q}");
}
