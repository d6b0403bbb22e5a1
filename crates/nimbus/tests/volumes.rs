//! Block storage through the unmodified `openstack` CLI on both stores: volume types, a data
//! disk created, listed, renamed, tagged with properties, extended and deleted (its QCOW2
//! file follows each step), a system disk made from an image, the seed's size limits, an
//! unknown type, the quota answer (413), another project's member refused, and a `kill -9`
//! in the middle of the create job; and volumes in real QEMU guests: hot-plugged, seen and
//! written by the guest, grown online, throttled, shared by two guests, detached, attached to
//! a stopped server and booted with it; snapshots (taken, copied into new volumes, reverted
//! to, also of a volume a running guest writes).

mod common;

use common::{compute_region, databases, wait_console, Region, ADMIN_PASSWORD, READY};
use serde_json::{json, Value};

/// Waits until `openstack volume show` reports `status`; returns the volume.
async fn wait_status(region: &Region, name: &str, status: &str) -> Value {
    region
        .wait_for(120, &format!("volume {name} {status}"), || async {
            let (ok, out, _) = region.openstack(&["volume", "show", name, "-f", "json"]);
            let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            (ok && v["status"] == status).then_some(v)
        })
        .await
}

fn virtual_size(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("qemu-img").arg("info").arg("--output=json").arg(path).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["virtual-size"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_with_the_openstack_cli() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let types = region.openstack_json(&["volume", "type", "list"]);
        let names: Vec<&str> = types.as_array().unwrap().iter().map(|t| t["Name"].as_str().unwrap()).collect();
        for t in ["SATA", "SAS", "SSD"] {
            assert!(names.contains(&t), "{names:?}");
        }

        // A data disk: created, listed, shown.
        let created = region.openstack_json(&[
            "volume",
            "create",
            "--size",
            "10",
            "--type",
            "SSD",
            "--description",
            "first",
            "--property",
            "a=1",
            "data1",
        ]);
        let id = created["id"].as_str().unwrap().to_string();
        let v = wait_status(&region, "data1", "available").await;
        assert_eq!((v["size"].as_i64(), v["type"].as_str()), (Some(10), Some("SSD")), "{v}");
        assert_eq!(v["bootable"], false, "{v}");
        let file = region.data_dir.join("volumes").join(format!("{id}.qcow2"));
        assert_eq!(virtual_size(&file), 10 << 30);
        let list = region.openstack_json(&["volume", "list"]);
        assert!(list.as_array().unwrap().iter().any(|x| x["ID"] == id.as_str()), "{list}");

        // Renamed, a property set, extended: the file grows.
        let (ok, _, err) = region.openstack(&["volume", "set", "--name", "data1b", "--property", "b=2", "data1"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "set", "--size", "20", "data1b"]);
        assert!(ok, "{err}");
        let v = region
            .wait_for(120, "the extend", || async {
                let v = wait_status(&region, "data1b", "available").await;
                (v["size"] == 20).then_some(v)
            })
            .await;
        assert_eq!(v["properties"], json!({"a": "1", "b": "2"}), "{v}");
        assert_eq!(virtual_size(&file), 20 << 30);

        // Bad input, each with the API's message and nothing created.
        let before = region.openstack_json(&["volume", "list"]).as_array().unwrap().len();
        for (args, want) in [
            (vec!["volume", "create", "--size", "5", "tiny"], "10 to 32768"),
            (vec!["volume", "create", "--size", "40000", "huge"], "10 to 32768"),
            (vec!["volume", "create", "--size", "10", "--type", "NOPE", "typo"], "NOPE"),
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(!ok && err.contains(want), "{args:?}: {err}");
        }
        let (ok, _, err) = region.openstack(&["volume", "set", "--size", "15", "data1b"]);
        assert!(!ok, "shrinking is refused: {err}");
        assert_eq!(region.openstack_json(&["volume", "list"]).as_array().unwrap().len(), before);

        // A system disk from an image: bootable, 1 GB allowed.
        let img = region.data_dir.parent().unwrap().join("img.qcow2");
        let st =
            std::process::Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&img).arg("64M").status();
        assert!(st.unwrap().success());
        let img_arg = img.to_string_lossy().to_string();
        region.openstack_json(&["image", "create", "--disk-format", "qcow2", "--file", &img_arg, "small-img"]);
        region.openstack_json(&["volume", "create", "--size", "1", "--image", "small-img", "boot1"]);
        let b = wait_status(&region, "boot1", "available").await;
        assert_eq!(b["bootable"], true, "{b}");
        assert!(b["volume_image_metadata"]["image_id"].is_string(), "{b}");

        // Another project's member sees nothing of them.
        let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        region.tenant(&admin, "vol-other", "eve", "eve-pw-1", "member").await;
        let eve = region.os_env("eve", "eve-pw-1", "vol-other");
        let (ok, _, err) = region.openstack_as(&eve, &["volume", "show", &id]);
        assert!(!ok && err.to_lowercase().contains("no volume"), "{err}");
        let (ok, out, _) = region.openstack_as(&eve, &["volume", "list", "-f", "json"]);
        assert!(ok && out.trim() == "[]", "{out}");

        // The quota answers are Cinder's 413: the largest volume, then the count.
        let (ok, _, err) = region.openstack(&["quota", "set", "--per-volume-gigabytes", "15", "admin"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "16", "too-big"]);
        assert!(!ok && err.contains("413"), "{err}");
        let (ok, _, err) =
            region.openstack(&["quota", "set", "--per-volume-gigabytes", "-1", "--volumes", "2", "admin"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "third"]);
        assert!(!ok && err.contains("413"), "{err}");

        // Deleted: gone from the API, its file removed, its quota back.
        for name in ["data1b", "boot1"] {
            let (ok, _, err) = region.openstack(&["volume", "delete", name]);
            assert!(ok, "{err}");
        }
        region
            .wait_for(120, "the deletes", || async {
                let list = region.openstack_json(&["volume", "list"]);
                list.as_array().unwrap().is_empty().then_some(())
            })
            .await;
        assert!(!file.exists(), "the volume's data is gone");
        region.openstack_json(&["volume", "create", "--size", "10", "again"]);
        wait_status(&region, "again", "available").await;
    }
}

/// `kill -9` while volumes are being created: after the restart every one is `available`
/// with its data, and no partial file is left.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_during_volume_creates_resumes() {
    let mut region = Region::start();
    let (admin, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for i in 0..4 {
        let (s, v) = region
            .call(
                "POST",
                &format!("/volume/v3/{project}/volumes"),
                Some(&admin),
                Some(json!({"volume": {"size": 10, "name": format!("crash-{i}")}})),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        ids.push(v["volume"]["id"].as_str().unwrap().to_string());
    }
    region.kill9();
    region.launch();
    let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    for id in &ids {
        region
            .wait_for(120, "the volume after the restart", || async {
                let (s, v) =
                    region.call("GET", &format!("/volume/v3/{project}/volumes/{id}"), Some(&admin), None).await;
                (s == 200 && v["volume"]["status"] == "available").then_some(())
            })
            .await;
        let file = region.data_dir.join("volumes").join(format!("{id}.qcow2"));
        assert_eq!(virtual_size(&file), 10 << 30);
    }
    let partial = std::fs::read_dir(region.data_dir.join("volumes"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .count();
    assert_eq!(partial, 0);
}

/// Huawei's EVS SDK (`huaweicloudsdkevs`), unmodified, through `tests/clients/huawei_evs_check.py`:
/// zones and types, a create with `X-Client-Token` (a retry answers the same job and disk), the
/// job, show, list with filters, rename, resize, the seed's limits, delete; on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn evs_with_the_huawei_sdk() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let (_, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let (ak, sk) = region.admin_keys();
        let out = std::process::Command::new(common::venv_bin("python"))
            .arg(common::repo_root().join("tests/clients/huawei_evs_check.py"))
            .env("NIMBUS_ENDPOINT", &region.url)
            .env("NIMBUS_ACCESS_KEY", ak)
            .env("NIMBUS_SECRET_KEY", sk)
            .env("NIMBUS_PROJECT_ID", &project)
            .env("NIMBUS_POLL_INTERVAL", "0.3")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && stdout.contains(" passed, 0 failed"), "EVS checks failed on {db:?}:\n{stdout}");
    }
}

/// Operators manage volume types with the `openstack` CLI: create with extra specs, rename,
/// a duplicate name (409), a type in use not deletable, deleted once unused; members may not.
#[tokio::test(flavor = "multi_thread")]
async fn operators_manage_volume_types() {
    let region = Region::start();
    let (ok, _, err) = region.openstack(&[
        "volume",
        "type",
        "create",
        "--description",
        "fast",
        "--property",
        "volume_backend_name=lvm",
        "Gold",
    ]);
    assert!(ok, "{err}");
    let t = region.openstack_json(&["volume", "type", "show", "Gold"]);
    assert_eq!(t["properties"]["volume_backend_name"], "lvm", "{t}");
    assert_eq!(t["description"], "fast", "{t}");
    let (ok, _, err) = region.openstack(&["volume", "type", "set", "--name", "Gold2", "Gold"]);
    assert!(ok, "{err}");
    let (ok, _, err) = region.openstack(&["volume", "type", "create", "Gold2"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    region.openstack_json(&["volume", "create", "--size", "10", "--type", "Gold2", "v-gold"]);
    wait_status(&region, "v-gold", "available").await;
    let (ok, _, err) = region.openstack(&["volume", "type", "delete", "Gold2"]);
    assert!(!ok && err.contains("in use"), "{err}");
    let (ok, _, err) = region.openstack(&["volume", "delete", "v-gold"]);
    assert!(ok, "{err}");
    region
        .wait_for(60, "the volume's delete", || async {
            let (ok, _, _) = region.openstack(&["volume", "show", "v-gold"]);
            (!ok).then_some(())
        })
        .await;
    let (ok, _, err) = region.openstack(&["volume", "type", "delete", "Gold2"]);
    assert!(ok, "{err}");
    let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    region.tenant(&admin, "types-other", "tom", "tom-pw-1", "member").await;
    let tom = region.os_env("tom", "tom-pw-1", "types-other");
    let (ok, _, err) = region.openstack_as(&tom, &["volume", "type", "create", "Mine"]);
    assert!(!ok && err.contains("403"), "{err}");
}

/// Guest user data: reports the data disks it sees (`disks: vdc:<serial>:<sectors>.`) each
/// time they change, and writes `nimbus-pattern-<serial>` at the start of each new one.
const DISK_WATCH: &str = r#"#!/bin/sh
(
last=""
while :; do
  now=""
  for d in /sys/block/vd[c-z]; do
    [ -e "$d" ] || continue
    n=${d##*/}; serial=$(cat $d/serial)
    now="$now $n:$serial:$(cat $d/size)"
    if [ ! -e /run/seen-$n-$serial ]; then
      echo "nimbus-pattern-$serial" | dd of=/dev/$n conv=fsync 2>/dev/null && echo "wrote $n"
      touch /run/seen-$n-$serial
    fi
  done
  if [ "$now" != "$last" ]; then echo "disks:$now."; last="$now"; fi
  sleep 1
done
) &
"#;

/// The first bytes of a volume's data, read on the host.
fn volume_head(path: &std::path::Path, format: &str) -> String {
    let out = tempfile::NamedTempFile::new().unwrap();
    let st = std::process::Command::new("qemu-img")
        .args(["dd", "-f", format, "-O", "raw", "bs=512", "count=1"])
        .arg(format!("if={}", path.display()))
        .arg(format!("of={}", out.path().display()))
        .status()
        .unwrap();
    assert!(st.success());
    String::from_utf8_lossy(&std::fs::read(out.path()).unwrap()).trim_end_matches('\0').trim_end().to_string()
}

/// A volume's I/O limits as the guest's QEMU applies them (`query-block` over QMP).
fn qemu_throttle(region: &Region, server: &str, volume: &str) -> Value {
    let sock = region.data_dir.join("instances").join(server).join("qmp.sock");
    let script = r#"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1]); f = s.makefile('rw')
def cmd(c):
    f.write(json.dumps({"execute": c}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if 'event' not in m: return m
f.readline(); cmd("qmp_capabilities")
for b in cmd("query-block")["return"]:
    if b.get("qdev", "").startswith("/machine/peripheral/vol-" + sys.argv[2]):
        print(json.dumps({"iops": b["inserted"]["iops"], "bps": b["inserted"]["bps"]}))
"#;
    let out = std::process::Command::new("python3").args(["-c", script]).arg(&sock).arg(volume).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn serial(volume_id: &str) -> &str {
    &volume_id[..20]
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_in_real_guests() {
    let Some(region) = compute_region(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let watch = dir.path().join("watch.sh");
    std::fs::write(&watch, DISK_WATCH).unwrap();
    let vols = region.data_dir.join("volumes");
    for name in ["vm1", "vm2"] {
        let (ok, _, err) = region.openstack(&[
            "server",
            "create",
            "--flavor",
            "s3.small.1",
            "--image",
            "nimbus-tiny",
            "--user-data",
            watch.to_str().unwrap(),
            name,
        ]);
        assert!(ok, "{err}");
    }
    let data1 = region.openstack_json(&["volume", "create", "--size", "10", "--type", "SSD", "data1"]);
    let id = data1["id"].as_str().unwrap().to_string();
    wait_status(&region, "data1", "available").await;
    wait_console(&region, "vm1", READY, 1).await;
    wait_console(&region, "vm2", READY, 1).await;

    // Hot-plug: the guest sees a new virtio disk with the volume's serial and writes to it.
    let (ok, _, err) = region.openstack(&["server", "add", "volume", "vm1", "data1"]);
    assert!(ok, "{err}");
    let v = wait_status(&region, "data1", "in-use").await;
    assert_eq!(v["attachments"][0]["device"], "/dev/vdc", "{v}");
    let seen = format!("disks: vdc:{}:{}.", serial(&id), 10u64 << 21);
    wait_console(&region, "vm1", &seen, 1).await;
    wait_console(&region, "vm1", "wrote vdc", 1).await;
    let server = region.openstack_json(&["server", "show", "vm1"]);
    let vm1 = server["id"].as_str().unwrap().to_string();
    assert!(server["volumes_attached"].to_string().contains(&id), "{server}");
    let listed = region.openstack_json(&["server", "volume", "list", "vm1"]);
    assert_eq!(listed[0]["Volume ID"], id.as_str(), "{listed}");

    // The type's QoS is QEMU's throttle on that disk.
    let limits = qemu_throttle(&region, &vm1, &id);
    assert_eq!(limits, json!({"iops": 33_000, "bps": 350u64 << 20}), "SSD limits on the guest's disk");

    // Refused, nothing changed: a second attach, an in-use volume to another server, a
    // shrink, an extend of an attached volume without microversion 3.42, a delete.
    let (ok, _, err) = region.openstack(&["server", "add", "volume", "vm1", "data1"]);
    assert!(!ok && err.contains("400"), "{err}");
    let (ok, _, err) = region.openstack(&["server", "add", "volume", "vm2", "data1"]);
    assert!(!ok && err.contains("in-use"), "{err}");
    let (ok, _, err) = region.openstack(&["--os-volume-api-version", "3.42", "volume", "set", "--size", "5", "data1"]);
    assert!(!ok, "shrinking must fail: {err}");
    let (admin, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (code, e) = region
        .call(
            "POST",
            &format!("/volume/v3/{project}/volumes/{id}/action"),
            Some(&admin),
            Some(json!({"os-extend": {"new_size": 20}})),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    let (ok, _, err) = region.openstack(&["volume", "delete", "data1"]);
    assert!(!ok, "an attached volume cannot be deleted: {err}");
    let v = wait_status(&region, "data1", "in-use").await;
    assert_eq!(v["size"], 10, "{v}");

    // Online extend: the running guest sees the new size at once.
    let (ok, _, err) = region.openstack(&["--os-volume-api-version", "3.42", "volume", "set", "--size", "20", "data1"]);
    assert!(ok, "{err}");
    let v = region
        .wait_for(120, "data1 grown", || async {
            let v = region.openstack_json(&["volume", "show", "data1"]);
            (v["size"] == 20 && v["status"] == "in-use").then_some(v)
        })
        .await;
    assert_eq!(v["attachments"][0]["server_id"], vm1.as_str(), "{v}");
    wait_console(&region, "vm1", &format!("disks: vdc:{}:{}.", serial(&id), 20u64 << 21), 1).await;

    // A snapshot of the volume in use, taken by the guest's QEMU while it runs, and a new
    // volume made from it holds what the guest wrote.
    // (At 3.66+ the CLI leaves `force` out while its SDK still sends 3.65, which Cinder
    // answers with a refusal for a volume in use: pin 3.65 so the CLI sends --force.)
    let (ok, _, err) = region.openstack(&[
        "--os-volume-api-version",
        "3.65",
        "volume",
        "snapshot",
        "create",
        "--force",
        "--volume",
        "data1",
        "live1",
    ]);
    assert!(ok, "{err}");
    wait_snapshot(&region, "live1", "available").await;
    let from_live = region.openstack_json(&["volume", "create", "--snapshot", "live1", "from-live"]);
    let from_live_id = from_live["id"].as_str().unwrap().to_string();
    let v = wait_status(&region, "from-live", "available").await;
    assert_eq!(v["size"], 20, "{v}");
    assert_eq!(
        volume_head(&vols.join(format!("{from_live_id}.qcow2")), "qcow2"),
        format!("nimbus-pattern-{}", serial(&id))
    );
    let (ok, _, err) = region.openstack(&["volume", "snapshot", "delete", "live1"]);
    assert!(ok, "{err}");

    // A shareable volume (a type with Cinder's multiattach spec) in both guests at once.
    let (ok, _, err) = region.openstack(&["volume", "type", "create", "--property", "multiattach=<is> True", "shared"]);
    assert!(ok, "{err}");
    let shared = region.openstack_json(&["volume", "create", "--size", "10", "--type", "shared", "shared1"]);
    let shared_id = shared["id"].as_str().unwrap().to_string();
    wait_status(&region, "shared1", "available").await;
    for vm in ["vm1", "vm2"] {
        let (ok, _, err) = region.openstack(&["server", "add", "volume", vm, "shared1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "shared1 attached", || async {
                let v = region.openstack_json(&["volume", "show", "shared1"]);
                (v["status"] == "in-use" && v["attachments"].to_string().matches("server_id").count() >= 1)
                    .then_some(())
            })
            .await;
        wait_console(&region, vm, &format!("{}:{}", serial(&shared_id), 10u64 << 21), 1).await;
    }
    let v = region.openstack_json(&["volume", "show", "shared1"]);
    assert_eq!(v["attachments"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(
        volume_head(&vols.join(format!("{shared_id}.raw")), "raw"),
        format!("nimbus-pattern-{}", serial(&shared_id))
    );

    // Detach: the guest releases the disk; what it wrote is in the volume's data.
    let (ok, _, err) = region.openstack(&["server", "remove", "volume", "vm1", "data1"]);
    assert!(ok, "{err}");
    let v = wait_status(&region, "data1", "available").await;
    assert_eq!(v["attachments"], json!([]), "{v}");
    wait_console(&region, "vm1", &format!("disks: vdd:{}:{}.", serial(&shared_id), 10u64 << 21), 1).await;
    assert_eq!(volume_head(&vols.join(format!("{id}.qcow2")), "qcow2"), format!("nimbus-pattern-{}", serial(&id)));
    let (ok, _, err) = region.openstack(&["server", "remove", "volume", "vm2", "shared1"]);
    assert!(ok, "{err}");
    region
        .wait_for(60, "shared1 on vm1 only", || async {
            let v = region.openstack_json(&["volume", "show", "shared1"]);
            (v["status"] == "in-use" && v["attachments"].as_array().is_some_and(|a| a.len() == 1)).then_some(())
        })
        .await;

    // A stopped server takes a volume and boots with it (behind its boot disk).
    let (ok, _, err) = region.openstack(&["server", "stop", "vm1"]);
    assert!(ok, "{err}");
    region
        .wait_for(120, "vm1 stopped", || async {
            (region.openstack_json(&["server", "show", "vm1"])["status"] == "SHUTOFF").then_some(())
        })
        .await;
    let (ok, _, err) = region.openstack(&["server", "add", "volume", "vm1", "data1"]);
    assert!(ok, "{err}");
    wait_status(&region, "data1", "in-use").await;
    let (ok, _, err) = region.openstack(&["server", "start", "vm1"]);
    assert!(ok, "{err}");
    let log = wait_console(&region, "vm1", READY, 2).await;
    assert!(log.contains("hostname=vm1"), "{log}");
    wait_console(&region, "vm1", &format!("vdc:{}:{}", serial(&id), 20u64 << 21), 2).await;
    assert_eq!(qemu_throttle(&region, &vm1, &id)["iops"], 33_000, "limits are set again after a boot");

    // Deleting the server frees its volumes; their data stays.
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "vm1"]);
    assert!(ok, "{err}");
    wait_status(&region, "data1", "available").await;
    wait_status(&region, "shared1", "available").await;
    assert_eq!(volume_head(&vols.join(format!("{id}.qcow2")), "qcow2"), format!("nimbus-pattern-{}", serial(&id)));
}

/// Waits until `openstack volume snapshot show` reports `status`; returns the snapshot.
async fn wait_snapshot(region: &Region, name: &str, status: &str) -> Value {
    region
        .wait_for(120, &format!("snapshot {name} {status}"), || async {
            let (ok, out, _) = region.openstack(&["volume", "snapshot", "show", name, "-f", "json"]);
            let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            (ok && v["status"] == status).then_some(v)
        })
        .await
}

/// Writes 64 KiB of `pattern` at the start of a detached volume's data.
fn write_pattern(path: &std::path::Path, pattern: &str) {
    let out = std::process::Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", &format!("write -P {pattern} 0 64k")])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Whether a volume's first 64 KiB are all `pattern`.
fn holds_pattern(path: &std::path::Path, pattern: &str) -> bool {
    let out = std::process::Command::new("qemu-io")
        .args(["-r", "-f", "qcow2", "-c", &format!("read -P {pattern} 0 64k")])
        .arg(path)
        .output()
        .unwrap();
    out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("verification failed")
}

/// Snapshots with the `openstack` CLI on both stores: taken, listed, renamed with a property,
/// a new volume made from one (holding the snapshot's data, not the volume's later writes),
/// the volume reverted to its latest snapshot (3.40) but not to an older one, a volume with
/// snapshots not deletable, the snapshots quota (413), deleted.
#[tokio::test(flavor = "multi_thread")]
async fn snapshots_with_the_openstack_cli() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let src = region.openstack_json(&["volume", "create", "--size", "10", "--type", "SAS", "src"]);
        let src_id = src["id"].as_str().unwrap().to_string();
        wait_status(&region, "src", "available").await;
        let src_file = region.data_dir.join("volumes").join(format!("{src_id}.qcow2"));
        write_pattern(&src_file, "0x11");

        let (ok, _, err) =
            region.openstack(&["volume", "snapshot", "create", "--volume", "src", "--property", "k=v", "s1"]);
        assert!(ok, "{err}");
        let s1 = wait_snapshot(&region, "s1", "available").await;
        assert_eq!((s1["size"].as_i64(), s1["volume_id"].as_str()), (Some(10), Some(src_id.as_str())), "{s1}");
        let (ok, _, err) =
            region.openstack(&["volume", "snapshot", "set", "--name", "s1b", "--property", "k2=v2", "s1"]);
        assert!(ok, "{err}");
        let s1 = region.openstack_json(&["volume", "snapshot", "show", "s1b"]);
        assert_eq!(s1["properties"], json!({"k": "v", "k2": "v2"}), "{s1}");
        let listed = region.openstack_json(&["volume", "snapshot", "list", "--volume", "src"]);
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        write_pattern(&src_file, "0x22");

        // A volume from the snapshot: its data, its source's type, at least its size.
        // (The CLI raises a smaller size to the snapshot's itself; the API refuses it.)
        let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let (code, e) = region
            .call(
                "POST",
                &format!("/volume/v3/{project}/volumes"),
                Some(&token),
                Some(json!({"volume": {"snapshot_id": s1["id"], "size": 5}})),
            )
            .await;
        assert_eq!(code, 400, "smaller than the snapshot: {e}");
        let copy = region.openstack_json(&["volume", "create", "--snapshot", "s1b", "copy"]);
        let copy_id = copy["id"].as_str().unwrap().to_string();
        let c = wait_status(&region, "copy", "available").await;
        assert_eq!((c["size"].as_i64(), c["type"].as_str()), (Some(10), Some("SAS")), "{c}");
        assert_eq!(c["snapshot_id"], s1["id"], "{c}");
        let copy_file = region.data_dir.join("volumes").join(format!("{copy_id}.qcow2"));
        assert!(holds_pattern(&copy_file, "0x11"), "the copy holds the snapshot's data");
        assert!(holds_pattern(&src_file, "0x22"), "the source keeps its own");

        // A volume with snapshots is not deleted.
        let (ok, _, err) = region.openstack(&["volume", "delete", "src"]);
        assert!(!ok && err.contains("snapshot"), "{err}");

        // Revert to the latest snapshot; an older one is refused.
        let (ok, _, err) = region.openstack(&["--os-volume-api-version", "3.40", "volume", "revert", "s1b"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the revert", || async {
                let v = region.openstack_json(&["volume", "show", "src"]);
                (v["status"] == "available" && holds_pattern(&src_file, "0x11")).then_some(())
            })
            .await;
        let (ok, _, err) = region.openstack(&["volume", "snapshot", "create", "--volume", "src", "s2"]);
        assert!(ok, "{err}");
        wait_snapshot(&region, "s2", "available").await;
        let (ok, _, err) = region.openstack(&["--os-volume-api-version", "3.40", "volume", "revert", "s1b"]);
        assert!(!ok && err.contains("latest"), "{err}");

        // The snapshots quota answers 413.
        let (ok, _, err) = region.openstack(&["quota", "set", "--snapshots", "2", "admin"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "snapshot", "create", "--volume", "copy", "s3"]);
        assert!(!ok && err.contains("413"), "{err}");

        // Deleted: gone, and the volume is deletable again.
        for name in ["s1b", "s2"] {
            let (ok, _, err) = region.openstack(&["volume", "snapshot", "delete", name]);
            assert!(ok, "{err}");
        }
        region
            .wait_for(60, "the snapshot deletes", || async {
                let list = region.openstack_json(&["volume", "snapshot", "list"]);
                list.as_array().unwrap().is_empty().then_some(())
            })
            .await;
        let out = std::process::Command::new("qemu-img").args(["snapshot", "-l"]).arg(&src_file).output().unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains("snap-"), "the file keeps no snapshot");
        let (ok, _, err) = region.openstack(&["volume", "delete", "src"]);
        assert!(ok, "{err}");
    }
}
