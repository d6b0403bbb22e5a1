//! Block storage through the unmodified `openstack` CLI on both stores: volume types, a data
//! disk created, listed, renamed, tagged with properties, extended and deleted (its QCOW2
//! file follows each step), a system disk made from an image, the seed's size limits, an
//! unknown type, the quota answer (413), another project's member refused, and a `kill -9`
//! in the middle of the create job; and volumes in real QEMU guests: hot-plugged, seen and
//! written by the guest, grown online, throttled, shared by two guests, detached, attached to
//! a stopped server and booted with it; snapshots (taken, copied into new volumes, reverted
//! to, also of a volume a running guest writes); backups (full and incremental, restored to
//! new and existing volumes, each independently of the others; one of a disk a guest wrote,
//! restored and read back by the guest; queued behind the project's limit; a `kill -9`
//! in the middle of one); Cinder's volume and snapshot actions, clones and sorted lists;
//! servers booted from volumes; and CBR server backups taking every disk of a running
//! guest at one instant; generic volume groups with group snapshots and copies, and retypes
//! between shareable and non-shareable types.

mod common;

use common::{compute_region, databases, serial, wait_console, Region, ADMIN_PASSWORD, READY};
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
/// job, show, list with filters, rename, resize, the seed's limits, snapshots, delete; on both
/// stores.
#[tokio::test(flavor = "multi_thread")]
async fn evs_with_the_huawei_sdk() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        common::run_sdk_check(&region, &db, "huawei_evs_check.py").await;
    }
}

/// Huawei's CBR SDK (`huaweicloudsdkcbr`), unmodified, through `tests/clients/huawei_cbr_check.py`:
/// a disk vault, a disk added, a policy bound, a backup made now, restored to a new disk and in
/// place, then everything removed; on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn cbr_with_the_huawei_sdk() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        common::run_sdk_check(&region, &db, "huawei_cbr_check.py").await;
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
        "volume_backend_name=local",
        "Gold",
    ]);
    assert!(ok, "{err}");
    let t = region.openstack_json(&["volume", "type", "show", "Gold"]);
    assert_eq!(t["properties"]["volume_backend_name"], "local", "{t}");
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

    // A type asking for a capability the back end lacks: its volume has nowhere to go, and
    // a message tells the project's users why (not other projects'); they may delete it.
    let (ok, _, err) =
        region.openstack(&["volume", "type", "create", "--property", "storage_protocol=iSCSI", "Remote"]);
    assert!(ok, "{err}");
    let remote = region.openstack_json(&["volume", "create", "--size", "10", "--type", "Remote", "v-remote"]);
    wait_status(&region, "v-remote", "error").await;
    let v33 = ["--os-volume-api-version", "3.3"];
    let messages = region.openstack_json(&[&v33[..], &["volume", "message", "list"]].concat());
    let message = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Resource UUID"] == remote["id"])
        .unwrap_or_else(|| panic!("no message about the volume: {messages}"))
        .clone();
    assert_eq!(
        message["User Message"], "schedule allocate volume: Could not find any available weighted backend.",
        "{message}"
    );
    assert_eq!(message["Event ID"], "VOLUME_VOLUME_001_003", "{message}");
    let id = message["ID"].as_str().unwrap();
    let (ok, _, err) = region.openstack_as(&tom, &[&v33[..], &["volume", "message", "show", id]].concat());
    assert!(!ok && err.contains("No Message found"), "{err}");
    let (ok, out, err) = region.openstack_as(&tom, &[&v33[..], &["volume", "message", "list", "-f", "json"]].concat());
    assert!(ok && out.trim() == "[]", "{out}{err}");
    let (ok, _, err) = region.openstack(&["volume", "message", "list"]);
    assert!(!ok, "messages need microversion 3.3: {err}");
    // (The CLI's `message show` reads a `messages` key that Cinder does not send: asked
    // directly, as Cinder's clients and Tempest do.)
    let project = admin_project_id(&region).await;
    let shown: Value = region
        .http
        .get(format!("{}/volume/v3/{project}/messages/{id}", region.url))
        .header("X-Auth-Token", &admin)
        .header("OpenStack-API-Version", "volume 3.3")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["message"]["resource_type"], "VOLUME", "{shown}");
    assert_eq!(shown["message"]["resource_uuid"], remote["id"], "{shown}");
    let (ok, _, err) = region.openstack(&[&v33[..], &["volume", "message", "delete", id]].concat());
    assert!(ok, "{err}");
    let (ok, _, _) = region.openstack(&[&v33[..], &["volume", "message", "show", id]].concat());
    assert!(!ok, "the message is gone");
}

/// Operators manage QoS specs and private volume types with the `openstack` CLI: the
/// built-in types come with specs of their limits; specs are created, changed, associated
/// with a type (one set per type), refused when invalid or still in use unless forced; a
/// private type is usable only by the projects it is shared with (404 for others, as for
/// anything they may not see), until the share is removed; members may not manage any of
/// it. On both stores.
#[tokio::test(flavor = "multi_thread")]
async fn operators_set_qos_specs_and_private_types() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let ssd = region.openstack_json(&["volume", "qos", "show", "SSD-qos"]);
        assert_eq!(ssd["consumer"], "front-end", "{ssd}");
        assert_eq!(ssd["properties"]["total_iops_sec"], "33000", "{ssd}");
        assert!(ssd["associations"].to_string().contains("SSD"), "{ssd}");

        let gold = region.openstack_json(&[
            "volume",
            "qos",
            "create",
            "--consumer",
            "front-end",
            "--property",
            "total_iops_sec=500",
            "--property",
            "read_bytes_sec=1048576",
            "gold",
        ]);
        let gold_id = gold["id"].as_str().unwrap().to_string();
        let (ok, _, err) = region.openstack(&["volume", "qos", "set", "--property", "write_bytes_sec=2097152", "gold"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "qos", "unset", "--property", "read_bytes_sec", "gold"]);
        assert!(ok, "{err}");
        let shown = region.openstack_json(&["volume", "qos", "show", "gold"]);
        assert_eq!(shown["properties"], json!({"total_iops_sec": "500", "write_bytes_sec": "2097152"}), "{shown}");
        // Refused, nothing changed: a bad consumer, a limit that is not a number, a
        // duplicate name, a second set of specs for a type.
        for (args, why) in [
            (vec!["volume", "qos", "create", "--consumer", "middle", "bad1"], "consumer"),
            (vec!["volume", "qos", "create", "--property", "total_iops_sec=fast", "bad2"], "number"),
            (vec!["volume", "qos", "create", "gold"], "already exists"),
            (vec!["volume", "qos", "associate", "gold", "SSD"], "already associated"),
            (vec!["volume", "qos", "set", "--property", "read_iops_sec=-3", "gold"], "number"),
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(!ok && err.contains(why), "{args:?}: {err}");
        }
        let listed = region.openstack_json(&["volume", "qos", "list"]);
        let names: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|q| q["Name"].as_str()).collect();
        assert!(!names.contains(&"bad1") && !names.contains(&"bad2"), "{names:?}");
        assert_eq!(region.openstack_json(&["volume", "qos", "show", "gold"])["properties"], shown["properties"]);

        // A private type with the specs, shared with one project.
        let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        region.tenant(&admin, "types-other", "tom", "tom-pw-1", "member").await;
        region.tenant(&admin, "types-third", "ann", "ann-pw-1", "member").await;
        let tom = region.os_env("tom", "tom-pw-1", "types-other");
        let ann = region.os_env("ann", "ann-pw-1", "types-third");
        let (ok, _, err) =
            region.openstack(&["volume", "type", "create", "--private", "--project", "types-other", "secret"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "qos", "associate", "gold", "secret"]);
        assert!(ok, "{err}");
        let t = region.openstack_json(&["volume", "type", "show", "secret"]);
        assert_eq!(t["is_public"], false, "{t}");
        let (admin_token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let admin_project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let type_path = format!("/volume/v3/{admin_project}/types/{}", t["id"].as_str().unwrap());
        let (_, api_type) = region.call("GET", &type_path, Some(&admin_token), None).await;
        assert_eq!(api_type["volume_type"]["qos_specs_id"], gold_id.as_str(), "{api_type}");
        assert!(t["access_project_ids"].to_string().len() > 10, "{t}");
        let shown = region.openstack_json(&["volume", "qos", "show", "gold"]);
        assert!(shown["associations"].to_string().contains("secret"), "{shown}");

        let (ok, out, err) = region.openstack_as(&tom, &["volume", "type", "list", "-f", "value", "-c", "Name"]);
        assert!(ok && out.lines().any(|l| l == "secret"), "{out}{err}");
        let (ok, _, err) =
            region.openstack_as(&tom, &["volume", "create", "--size", "10", "--type", "secret", "v-tom"]);
        assert!(ok, "{err}");
        let (ok, out, _) = region.openstack_as(&ann, &["volume", "type", "list", "-f", "value", "-c", "Name"]);
        assert!(ok && !out.lines().any(|l| l == "secret"), "{out}");
        let (ok, _, err) =
            region.openstack_as(&ann, &["volume", "create", "--size", "10", "--type", "secret", "v-ann"]);
        assert!(!ok && err.contains("404"), "{err}");
        let (ok, _, err) = region.openstack_as(&tom, &["volume", "qos", "list"]);
        assert!(!ok && err.contains("403"), "{err}");
        let (ok, _, err) = region.openstack_as(&tom, &["volume", "qos", "create", "mine"]);
        assert!(!ok && err.contains("403"), "{err}");

        // The share removed, the type is gone for that project too.
        let (ok, _, err) = region.openstack(&["volume", "type", "unset", "--project", "types-other", "secret"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack_as(&tom, &["volume", "type", "show", "secret"]);
        assert!(!ok && err.contains("No Type found for secret"), "{err}");

        // Specs in use go only when forced; the type then has none.
        let (ok, _, err) = region.openstack(&["volume", "qos", "delete", "gold"]);
        assert!(!ok && err.contains("still associated"), "{err}");
        let (ok, _, err) = region.openstack(&["volume", "qos", "delete", "--force", "gold"]);
        assert!(ok, "{err}");
        let (_, api_type) = region.call("GET", &type_path, Some(&admin_token), None).await;
        assert!(api_type["volume_type"]["qos_specs_id"].is_null(), "{api_type}");
    }
}

/// The admin's project id.
async fn admin_project_id(region: &Region) -> String {
    let (_, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    body["token"]["project"]["id"].as_str().unwrap().to_string()
}

/// Operators see the block-storage services, the back end's pool with its real capacity, its
/// capabilities and what each project holds, with the `openstack` CLI; changing a service's
/// state is refused with the reason (400), an unknown one is a 404; members see none of it;
/// on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn operators_see_the_block_storage_services() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let services = region.openstack_json(&["volume", "service", "list"]);
        let mut found: Vec<(String, String, String)> = services
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!((s["Status"].as_str(), s["State"].as_str()), (Some("enabled"), Some("up")), "{s}");
                (
                    s["Binary"].as_str().unwrap().into(),
                    s["Host"].as_str().unwrap().into(),
                    s["Zone"].as_str().unwrap().into(),
                )
            })
            .collect();
        found.sort();
        let zone = region.openstack_json(&["availability", "zone", "list", "--volume"])[0]["Zone Name"].clone();
        let zone = zone.as_str().unwrap();
        assert_eq!(
            found,
            [
                ("cinder-backup".into(), "nimbus".into(), zone.into()),
                ("cinder-scheduler".into(), "nimbus".into(), zone.into()),
                ("cinder-volume".into(), "nimbus@local".into(), zone.into()),
            ]
        );
        let only =
            region.openstack_json(&["volume", "service", "list", "--service", "cinder-volume", "--host", "nimbus"]);
        assert_eq!(only.as_array().unwrap().len(), 1, "{only}");
        let (ok, _, err) =
            region.openstack(&["volume", "service", "set", "--disable", "nimbus@local", "cinder-volume"]);
        assert!(!ok && err.contains("one of each"), "{err}");
        let (admin, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let services = format!("/volume/v3/{project}/os-services");
        let (code, b) = region
            .call(
                "PUT",
                &format!("{services}/enable"),
                Some(&admin),
                Some(json!({"host": "nowhere", "binary": "cinder-volume"})),
            )
            .await;
        assert_eq!(code, 404, "{b}");
        let (code, b) = region
            .call(
                "PUT",
                &format!("{services}/disable-log-reason"),
                Some(&admin),
                Some(json!({"host": "nimbus", "binary": "cinder-volume"})),
            )
            .await;
        assert_eq!(code, 400, "no reason given: {b}");
        let (code, b) =
            region.call("PUT", &format!("{services}/freeze"), Some(&admin), Some(json!({"host": "nowhere"}))).await;
        assert_eq!(code, 400, "{b}");

        // The pool's capacity is the volumes' file system's.
        let pools = region.openstack_json(&["volume", "backend", "pool", "list", "--long"]);
        assert_eq!(pools.as_array().unwrap().len(), 1, "{pools}");
        assert_eq!(pools[0]["Name"], "nimbus@local#local");
        let caps = &pools[0]["Capabilities"];
        let total = caps["total_capacity_gb"].as_f64().unwrap_or_else(|| panic!("a number: {pools}"));
        let free = caps["free_capacity_gb"].as_f64().unwrap_or_else(|| panic!("a number: {pools}"));
        assert_eq!(
            (caps["vendor_name"].as_str(), caps["volume_backend_name"].as_str()),
            (Some("Open Source"), Some("local"))
        );
        let df =
            std::process::Command::new("df").args(["-B1", "--output=size"]).arg(&region.data_dir).output().unwrap();
        let df_total: f64 = String::from_utf8_lossy(&df.stdout).lines().nth(1).unwrap().trim().parse().unwrap();
        assert!((total - df_total / (1u64 << 30) as f64).abs() < 0.02, "pool {total} GiB, df {df_total} bytes");
        assert!(free > 0.0 && free <= total, "{pools}");
        let caps = region.openstack_json(&["volume", "backend", "capability", "show", "nimbus@local#local"]);
        assert!(!caps.as_array().unwrap().is_empty(), "{caps}");

        // What the project holds on the volume host.
        region.openstack_json(&["volume", "create", "--size", "10", "held"]);
        wait_status(&region, "held", "available").await;
        let (code, host) =
            region.call("GET", &format!("/volume/v3/{project}/os-hosts/nimbus@local"), Some(&admin), None).await;
        assert_eq!(code, 200, "{host}");
        let rows = host["host"].as_array().unwrap();
        assert_eq!(rows[0]["resource"]["project"], "(total)", "{host}");
        assert_eq!(rows[0]["resource"]["volume_count"], "1", "{host}");
        assert!(
            rows.iter()
                .any(|r| r["resource"]["project"] == project.as_str() && r["resource"]["total_volume_gb"] == "10"),
            "{host}"
        );
        let (code, _) =
            region.call("GET", &format!("/volume/v3/{project}/os-hosts/elsewhere"), Some(&admin), None).await;
        assert_eq!(code, 404);

        region.tenant(&admin, "ops-other", "ann", "ann-pw-1", "member").await;
        let ann = region.os_env("ann", "ann-pw-1", "ops-other");
        let (ok, _, err) = region.openstack_as(&ann, &["volume", "service", "list"]);
        assert!(!ok && err.contains("403"), "{err}");
    }
}

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
        i = b["inserted"]
        print(json.dumps({"iops": i["iops"], "bps": i["bps"], "bps_wr": i["bps_wr"]}))
"#;
    let out = std::process::Command::new("python3").args(["-c", script]).arg(&sock).arg(volume).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_in_real_guests() {
    let Some(region) = compute_region(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let watch = dir.path().join("watch.sh");
    std::fs::write(&watch, common::disk_watch(r"head -c 40 /dev/$n | tr -d '\000\n'")).unwrap();
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
    assert_eq!(limits, json!({"iops": 33_000, "bps": 350u64 << 20, "bps_wr": 0}), "SSD limits on the guest's disk");
    // An operator's QoS specs on another type: retyped, the attached disk gets its limits at
    // once; retyped back, the SSD ones again.
    region.openstack_json(&[
        "volume",
        "qos",
        "create",
        "--consumer",
        "front-end",
        "--property",
        "total_iops_sec=500",
        "--property",
        "write_bytes_sec=1048576",
        "slow",
    ]);
    region.openstack_json(&["volume", "type", "create", "Slow"]);
    let (ok, _, err) = region.openstack(&["volume", "qos", "associate", "slow", "Slow"]);
    assert!(ok, "{err}");
    for (vtype, want) in [
        ("Slow", json!({"iops": 500, "bps": 0, "bps_wr": 1u64 << 20})),
        ("SSD", json!({"iops": 33_000, "bps": 350u64 << 20, "bps_wr": 0})),
    ] {
        let (ok, _, err) = region.openstack(&["volume", "set", "--type", vtype, "--retype-policy", "never", "data1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the retype", || async {
                let v = region.openstack_json(&["volume", "show", "data1"]);
                (v["type"] == vtype && v["status"] == "in-use").then_some(())
            })
            .await;
        assert_eq!(qemu_throttle(&region, &vm1, &id), want, "{vtype} limits on the guest's disk");
    }

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

    // A backup of the disk in use (taken live, like a snapshot); a restore into it while it
    // is attached is refused.
    let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--force", "--name", "gb1", "data1"]);
    assert!(ok, "{err}");
    wait_backup(&region, "gb1", "available").await;
    let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "--force", "gb1", "data1"]);
    assert!(!ok && err.contains("400"), "restoring into a volume in use: {err}");

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

    // The disk is wiped, then restored from the backup while detached.
    let data1_file = vols.join(format!("{id}.qcow2"));
    qemu_io(&data1_file, "write -z 0 64k");
    assert_eq!(volume_head(&data1_file, "qcow2"), "");
    let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "--force", "gb1", "data1"]);
    assert!(ok, "{err}");
    wait_status(&region, "data1", "available").await;
    assert_eq!(volume_head(&data1_file, "qcow2"), format!("nimbus-pattern-{}", serial(&id)));

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
    // The guest reads the restored pattern back before writing anything (the disk's name
    // may differ from the first boot's: the shared volume, attached earlier, comes first).
    let want = format!(": nimbus-pattern-{}.", serial(&id));
    let mut seen = String::new();
    for _ in 0..120 {
        let (_, log, _) = region.openstack(&["console", "log", "show", "vm1"]);
        seen = log.lines().filter(|l| l.contains("head ") || l.contains("disks:")).collect::<Vec<_>>().join("\n");
        if seen.lines().any(|l| l.contains("head vd") && l.ends_with(&want)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert!(
        seen.lines().any(|l| l.contains("head vd") && l.ends_with(&want)),
        "the guest did not read the restored data back ({want}):\n{seen}"
    );
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

/// Runs one `qemu-io` command on a detached QCOW2 volume.
fn qemu_io(path: &std::path::Path, command: &str) {
    let out = std::process::Command::new("qemu-io").args(["-f", "qcow2", "-c", command]).arg(path).output().unwrap();
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Writes 64 KiB of `pattern` at the start of a detached volume's data.
fn write_pattern(path: &std::path::Path, pattern: &str) {
    qemu_io(path, &format!("write -P {pattern} 0 64k"));
}

/// Whether a volume's first 64 KiB are all `pattern`.
fn holds_pattern(path: &std::path::Path, pattern: &str) -> bool {
    holds_pattern_at(path, pattern, 0, 64 << 10)
}

/// Whether `len` bytes at `offset` of a volume are all `pattern`.
fn holds_pattern_at(path: &std::path::Path, pattern: &str, offset: u64, len: u64) -> bool {
    let out = std::process::Command::new("qemu-io")
        .args(["-r", "-f", "qcow2", "-c", &format!("read -P {pattern} {offset} {len}")])
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
        // (The CLI names the id `ID` or `id`, depending on the client path it takes.)
        let copy_id = copy["ID"].as_str().or(copy["id"].as_str()).unwrap_or_else(|| panic!("{copy}")).to_string();
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

/// Volume and snapshot actions with the `openstack` CLI on both stores: bootable and
/// read-only flags, image metadata, an operator resetting statuses and forcing deletes (a
/// member may not), a volume deleted with its snapshots (`--purge`), Cinder's sorted and
/// offset lists, the summary, zones, absolute limits and extensions.
#[tokio::test(flavor = "multi_thread")]
async fn volume_actions_with_the_openstack_cli() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let a1 = region.openstack_json(&["volume", "create", "--size", "10", "a1"]);
        let a1_id = a1["id"].as_str().unwrap().to_string();
        wait_status(&region, "a1", "available").await;

        // Flags: bootable, read-only (shown among the properties, as Cinder does).
        let (ok, _, err) = region.openstack(&["volume", "set", "--bootable", "--read-only", "a1"]);
        assert!(ok, "{err}");
        let v = region.openstack_json(&["volume", "show", "a1"]);
        assert_eq!((v["bootable"].clone(), v["properties"]["readonly"].clone()), (json!(true), json!("True")), "{v}");
        let (ok, _, err) = region.openstack(&["volume", "set", "--non-bootable", "--read-write", "a1"]);
        assert!(ok, "{err}");
        let v = region.openstack_json(&["volume", "show", "a1"]);
        assert_eq!((v["bootable"].clone(), v["properties"]["readonly"].clone()), (json!(false), json!("False")), "{v}");

        // Image metadata, set and unset.
        let (ok, _, err) = region.openstack(&["volume", "set", "--image-property", "os_distro=tiny", "a1"]);
        assert!(ok, "{err}");
        let v = region.openstack_json(&["volume", "show", "a1"]);
        assert_eq!(v["volume_image_metadata"]["os_distro"], "tiny", "{v}");
        let (ok, _, err) = region.openstack(&["volume", "unset", "--image-property", "os_distro", "a1"]);
        assert!(ok, "{err}");
        let v = region.openstack_json(&["volume", "show", "a1"]);
        assert!(v["volume_image_metadata"].get("os_distro").is_none(), "{v}");

        // The operator resets a status; a member of the project may not.
        let (admin, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        region.openstack_json(&["user", "create", "--password", "mo-pw-1", "mo"]);
        let (ok, _, err) = region.openstack(&["role", "add", "--project", "admin", "--user", "mo", "member"]);
        assert!(ok, "{err}");
        let mo = region.os_env("mo", "mo-pw-1", "admin");
        let (ok, _, err) = region.openstack_as(&mo, &["volume", "set", "--state", "error", "a1"]);
        assert!(!ok && err.contains("403"), "{err}");
        let (ok, _, err) = region.openstack(&["volume", "set", "--state", "error", "a1"]);
        assert!(ok, "{err}");
        assert_eq!(region.openstack_json(&["volume", "show", "a1"])["status"], "error");
        let (ok, _, err) = region.openstack(&["volume", "set", "--state", "available", "a1"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "set", "--state", "sideways", "a1"]);
        assert!(!ok, "an unknown status is refused: {err}");

        // A snapshot reset to error; the volume goes with its snapshots only when asked.
        region.openstack_json(&["volume", "snapshot", "create", "--volume", "a1", "s1"]);
        wait_snapshot(&region, "s1", "available").await;
        let (ok, _, err) = region.openstack(&["volume", "snapshot", "set", "--state", "error", "s1"]);
        assert!(ok, "{err}");
        assert_eq!(region.openstack_json(&["volume", "snapshot", "show", "s1"])["status"], "error");
        let (ok, _, err) = region.openstack(&["volume", "delete", "a1"]);
        assert!(!ok && err.contains("snapshot"), "{err}");
        let (ok, _, err) = region.openstack(&["volume", "delete", "--purge", "a1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the cascade", || async {
                let (v, s) = (
                    region.openstack_json(&["volume", "list"]),
                    region.openstack_json(&["volume", "snapshot", "list"]),
                );
                (v.as_array().unwrap().is_empty() && s.as_array().unwrap().is_empty()).then_some(())
            })
            .await;
        assert!(!volume_file(&region, &a1_id).exists(), "the volume's file is gone");
        let limits = region.openstack_json(&["limits", "show", "--absolute"]);
        let used = |name: &str| {
            let found = limits.as_array().unwrap().iter().find(|l| l["Name"] == name);
            found.map(|l| l["Value"].clone()).unwrap_or_else(|| panic!("no {name} in {limits}"))
        };
        assert_eq!((used("total_snapshots_used"), used("total_volumes_used")), (json!(0), json!(0)), "{limits}");

        // A volume stuck in `creating` is deleted only by force, by the operator.
        region.openstack_json(&["volume", "create", "--size", "10", "b1"]);
        wait_status(&region, "b1", "available").await;
        region.openstack(&["volume", "set", "--state", "creating", "b1"]);
        let (ok, _, err) = region.openstack(&["volume", "delete", "b1"]);
        assert!(!ok && err.contains("status"), "{err}");
        let (ok, _, err) = region.openstack(&["volume", "delete", "--force", "b1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the forced delete", || async {
                region.openstack_json(&["volume", "list"]).as_array().unwrap().is_empty().then_some(())
            })
            .await;

        // Lists sorted by any key, with an offset; an unknown key is a 400; limit=0 is empty.
        for (name, size) in [("c1", "12"), ("c2", "10"), ("c3", "11")] {
            region.openstack_json(&["volume", "create", "--size", size, name]);
        }
        for name in ["c1", "c2", "c3"] {
            wait_status(&region, name, "available").await;
        }
        let base = format!("/volume/v3/{project}/volumes/detail");
        let (code, l) = region.call("GET", &format!("{base}?sort=size:asc&offset=1&limit=1"), Some(&admin), None).await;
        assert_eq!(code, 200, "{l}");
        let names: Vec<&str> = l["volumes"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["c3"], "{l}");
        let (code, l) = region.call("GET", &format!("{base}?sort_key=name&sort_dir=desc"), Some(&admin), None).await;
        assert_eq!(code, 200, "{l}");
        let names: Vec<&str> = l["volumes"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["c3", "c2", "c1"], "{l}");
        let (code, e) = region.call("GET", &format!("{base}?sort_key=invalid"), Some(&admin), None).await;
        assert_eq!(code, 400, "{e}");
        let (code, l) = region.call("GET", &format!("{base}?limit=0"), Some(&admin), None).await;
        assert_eq!((code, l["volumes"].as_array().map(Vec::len)), (200, Some(0)), "{l}");

        // A clone holds its source's data at the time of the request; a missing source is a 404.
        let c1 = region.openstack_json(&["volume", "show", "c1"]);
        write_pattern(&volume_file(&region, c1["id"].as_str().unwrap()), "0x5a");
        region.openstack_json(&["volume", "create", "--source", "c1", "clone1"]);
        let clone = wait_status(&region, "clone1", "available").await;
        assert_eq!((clone["size"].as_i64(), clone["source_volid"].clone()), (Some(12), c1["id"].clone()), "{clone}");
        assert!(holds_pattern(&volume_file(&region, clone["id"].as_str().unwrap()), "0x5a"));
        let out = std::process::Command::new("qemu-img")
            .args(["snapshot", "-l"])
            .arg(volume_file(&region, c1["id"].as_str().unwrap()))
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains("clone-"), "the source keeps no snapshot");
        let (ok, _, err) = region.openstack(&["volume", "delete", "clone1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the clone's delete", || async {
                (region.openstack_json(&["volume", "list"]).as_array().unwrap().len() == 3).then_some(())
            })
            .await;
        let (code, e) = region
            .call(
                "POST",
                &format!("/volume/v3/{project}/volumes"),
                Some(&admin),
                Some(json!({"volume": {"source_volid": "00000000-0000-0000-0000-000000000000"}})),
            )
            .await;
        assert_eq!(code, 404, "{e}");

        // An image of a volume: its content at that moment, in the format asked for.
        let (ok, _, err) =
            region.openstack(&["image", "create", "--volume", "c1", "--disk-format", "qcow2", "from-c1"]);
        assert!(ok, "{err}");
        region
            .wait_for(120, "the volume's image", || async {
                let i = region.openstack_json(&["image", "show", "from-c1"]);
                (i["status"] == "active").then_some(())
            })
            .await;
        let saved = tempfile::tempdir().unwrap();
        let out = saved.path().join("from-c1.qcow2");
        let (ok, _, err) = region.openstack(&["image", "save", "--file", out.to_str().unwrap(), "from-c1"]);
        assert!(ok, "{err}");
        let same = std::process::Command::new("qemu-img")
            .args(["compare", "-q"])
            .arg(&out)
            .arg(volume_file(&region, c1["id"].as_str().unwrap()))
            .status()
            .unwrap();
        assert!(same.success(), "the image holds the volume's content");
        assert_eq!(region.openstack_json(&["volume", "show", "c1"])["status"], "available");

        // The summary (3.12), zones, absolute limits and extensions.
        let summary = region.openstack_json(&["--os-volume-api-version", "3.12", "volume", "summary"]);
        assert_eq!((summary["Total Count"].clone(), summary["Total Size"].clone()), (json!(3), json!(33)), "{summary}");
        let zones = region.openstack_json(&["availability", "zone", "list", "--volume"]);
        assert!(zones.as_array().unwrap().iter().any(|z| z["Zone Name"] == "eu-west-0a"), "{zones}");
        let limits = region.openstack_json(&["limits", "show", "--absolute"]);
        assert!(limits.as_array().unwrap().iter().any(|l| l["Name"] == "max_total_volumes"), "{limits}");
        let ext = region.openstack_json(&["extension", "list", "--volume"]);
        assert!(ext.as_array().unwrap().iter().any(|e| e["Alias"] == "backups"), "{ext}");

        // A transfer to another project: the volume waits, a wrong key is refused, the right
        // key moves it (and its quota) to the receiver.
        let c3 = region.openstack_json(&["volume", "show", "c3"])["id"].as_str().unwrap().to_string();
        let t = region.openstack_json(&["volume", "transfer", "request", "create", "--name", "gift", "c3"]);
        let (tid, key) = (t["id"].as_str().unwrap().to_string(), t["auth_key"].as_str().unwrap().to_string());
        assert_eq!(region.openstack_json(&["volume", "show", "c3"])["status"], "awaiting-transfer");
        let listed = region.openstack_json(&["volume", "transfer", "request", "list"]);
        assert_eq!(listed[0]["Volume"], c3.as_str(), "{listed}");
        let (ok, _, err) = region.openstack(&["volume", "delete", "c3"]);
        assert!(!ok, "a volume on offer is not deleted: {err}");
        region.tenant(&admin, "receiver", "rita", "rita-pw-1", "member").await;
        let rita = region.os_env("rita", "rita-pw-1", "receiver");
        let (ok, _, err) =
            region.openstack_as(&rita, &["volume", "transfer", "request", "accept", "--auth-key", "wrong", &tid]);
        assert!(!ok && err.contains("400"), "{err}");
        let (ok, _, err) =
            region.openstack_as(&rita, &["volume", "transfer", "request", "accept", "--auth-key", &key, &tid]);
        assert!(ok, "{err}");
        let (ok, out, err) = region.openstack_as(&rita, &["volume", "show", "c3", "-f", "json"]);
        assert!(ok, "{err}");
        let moved: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(moved["status"], "available", "{moved}");
        assert_eq!(moved["id"], c3.as_str());
        let (ok, _, _) = region.openstack_as(&mo, &["volume", "show", c3.as_str()]);
        assert!(!ok, "the giving project's members no longer see it");
        let limits = region.openstack_json(&["limits", "show", "--absolute"]);
        let mine =
            limits.as_array().unwrap().iter().find(|l| l["Name"] == "total_volumes_used").unwrap()["Value"].clone();
        assert_eq!(mine, json!(2), "{limits}");
        assert!(region.openstack_json(&["volume", "transfer", "request", "list"]).as_array().unwrap().is_empty());
    }
}

/// Waits until `openstack volume backup show` reports `status`; returns the backup.
async fn wait_backup(region: &Region, name: &str, status: &str) -> Value {
    region
        .wait_for(180, &format!("backup {name} {status}"), || async {
            let (ok, out, _) = region.openstack(&["volume", "backup", "show", name, "-f", "json"]);
            let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            assert_ne!(v["status"], "error", "backup {name} failed: {v}");
            (ok && v["status"] == status).then_some(v)
        })
        .await
}

fn volume_file(region: &Region, id: &str) -> std::path::PathBuf {
    region.data_dir.join("volumes").join(format!("{id}.qcow2"))
}

/// Backups with the `openstack` CLI on both stores: full, then incremental after a change;
/// each restored to a new volume holds its own point in time; one restored over an existing
/// volume; a volume made from a backup; the first backup deleted while the second stays
/// restorable; the data not on disk in clear; the per-volume limit; operations of a project
/// wait for one slot in the order they were asked for.
#[tokio::test(flavor = "multi_thread")]
async fn backups_with_the_openstack_cli() {
    for db in databases() {
        let region = Region::start_with(&db, &[], Some("backup_max_concurrent = 1\nbackups_per_volume = 3\n"));
        let src = region.openstack_json(&["volume", "create", "--size", "10", "src"]);
        let src_id = src["id"].as_str().unwrap().to_string();
        wait_status(&region, "src", "available").await;
        let src_file = volume_file(&region, &src_id);
        qemu_io(&src_file, "write -P 0x11 0 1M");
        qemu_io(&src_file, "write -P 0x12 5M 3M");
        qemu_io(&src_file, "write -P 0x13 9G 64k");

        let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--name", "b1", "src"]);
        assert!(ok, "{err}");
        let b1 = wait_backup(&region, "b1", "available").await;
        assert_eq!((b1["size"].as_i64(), b1["is_incremental"].as_bool()), (Some(10), Some(false)), "{b1}");
        assert!(b1["object_count"].as_i64().unwrap() > 0, "{b1}");

        // A change, then an incremental backup.
        qemu_io(&src_file, "write -P 0x22 0 64k");
        let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--incremental", "--name", "b2", "src"]);
        assert!(ok, "{err}");
        let b2 = wait_backup(&region, "b2", "available").await;
        assert_eq!(b2["is_incremental"], true, "{b2}");
        let b1 = region.openstack_json(&["volume", "backup", "show", "b1"]);
        assert_eq!(b1["has_dependent_backups"], true, "{b1}");
        // Only the newest backup's point in time stays in the volume, for the next one.
        let b2_snapshot = format!("bak-{}", b2["id"].as_str().unwrap());
        region
            .wait_for(60, "only b2's snapshot in the volume", || async {
                let out = std::process::Command::new("qemu-img")
                    .args(["snapshot", "-l", "-U"])
                    .arg(&src_file)
                    .output()
                    .unwrap();
                let list = String::from_utf8_lossy(&out.stdout).to_string();
                (list.matches("bak-").count() == 1 && list.contains(&b2_snapshot)).then_some(())
            })
            .await;

        // Each restores to a new volume holding its own point in time.
        for (backup, head) in [("b1", "0x11"), ("b2", "0x22")] {
            let name = format!("from-{backup}");
            let (ok, _, err) = region.openstack(&["volume", "backup", "restore", backup, &name]);
            assert!(ok, "{err}");
            let v = wait_status(&region, &name, "available").await;
            let file = volume_file(&region, v["id"].as_str().unwrap());
            assert!(holds_pattern_at(&file, head, 0, 64 << 10), "{backup}: head");
            assert!(
                holds_pattern_at(&file, "0x11", 64 << 10, (1 << 20) - (64 << 10)),
                "{backup}: rest of the first MiB"
            );
            assert!(holds_pattern_at(&file, "0x12", 5 << 20, 3 << 20), "{backup}: middle");
            assert!(holds_pattern_at(&file, "0x13", 9 << 30, 64 << 10), "{backup}: end");
            assert!(holds_pattern_at(&file, "0x00", 2 << 20, 1 << 20), "{backup}: a hole stays zero");
        }

        // Restored over the existing (detached) volume; a volume from a backup (3.47).
        qemu_io(&src_file, "write -P 0x33 0 1M");
        let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "--force", "b1", "src"]);
        assert!(ok, "{err}");
        wait_status(&region, "src", "available").await;
        assert!(holds_pattern(&src_file, "0x11"), "src is b1 again");
        let (ok, _, err) =
            region.openstack(&["--os-volume-api-version", "3.47", "volume", "create", "--backup", "b2", "made"]);
        assert!(ok, "{err}");
        let made = wait_status(&region, "made", "available").await;
        assert!(holds_pattern(&volume_file(&region, made["id"].as_str().unwrap()), "0x22"));

        // A backup beyond the volume's limit (3 here) is refused.
        let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--name", "b3", "src"]);
        assert!(ok, "{err}");
        wait_backup(&region, "b3", "available").await;
        let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--name", "b4", "src"]);
        assert!(!ok && err.contains("3 backups"), "{err}");

        // The first backup goes; the incremental one still restores alone.
        let (ok, _, err) = region.openstack(&["volume", "backup", "delete", "b1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "b1 deleted", || async {
                let (ok, _, _) = region.openstack(&["volume", "backup", "show", "b1"]);
                (!ok).then_some(())
            })
            .await;
        let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "b2", "again-b2"]);
        assert!(ok, "{err}");
        let v = wait_status(&region, "again-b2", "available").await;
        let file = volume_file(&region, v["id"].as_str().unwrap());
        assert!(holds_pattern(&file, "0x22") && holds_pattern_at(&file, "0x12", 5 << 20, 3 << 20));

        // The packs are not readable on disk.
        let objects_dir = region.data_dir.join("objects");
        let mut clear = 0;
        for entry in walk(&objects_dir) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            if bytes.windows(4096).any(|w| w.iter().all(|b| *b == 0x12)) {
                clear += 1;
            }
        }
        assert_eq!(clear, 0, "backup data is sealed at rest");

        // One slot: three backups asked for at once finish in the order asked.
        let mut order = Vec::new();
        for i in 0..3 {
            let name = format!("q{i}");
            region.openstack_json(&["volume", "create", "--size", "10", &name]);
            wait_status(&region, &name, "available").await;
            qemu_io(
                &volume_file(&region, region.openstack_json(&["volume", "show", &name])["id"].as_str().unwrap()),
                "write -P 0x44 0 4M",
            );
        }
        for i in 0..3 {
            let (ok, _, err) =
                region.openstack(&["volume", "backup", "create", "--name", &format!("qb{i}"), &format!("q{i}")]);
            assert!(ok, "{err}");
        }
        for i in 0..3 {
            let b = wait_backup(&region, &format!("qb{i}"), "available").await;
            order.push(b["updated_at"].as_str().unwrap().to_string());
        }
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "the queue keeps its order");

        // A backup of a snapshot holds the snapshot's point in time, not what the volume
        // holds now; the snapshot is not deletable meanwhile, and available again after.
        let (ok, _, err) = region.openstack(&["volume", "snapshot", "create", "--volume", "q0", "q0-snap"]);
        assert!(ok, "{err}");
        wait_snapshot(&region, "q0-snap", "available").await;
        let q0_file = volume_file(&region, region.openstack_json(&["volume", "show", "q0"])["id"].as_str().unwrap());
        qemu_io(&q0_file, "write -P 0x55 0 64k");
        let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--snapshot", "src-snap-none", "q0"]);
        assert!(!ok, "an unknown snapshot: {err}");
        let (ok, _, err) = region.openstack(&["volume", "snapshot", "create", "--volume", "q1", "q1-snap"]);
        assert!(ok, "{err}");
        wait_snapshot(&region, "q1-snap", "available").await;
        let (ok, _, err) =
            region.openstack(&["volume", "backup", "create", "--snapshot", "q1-snap", "--name", "wrong", "q0"]);
        assert!(!ok && err.contains("not a snapshot of volume"), "{err}");
        let (ok, _, err) =
            region.openstack(&["volume", "backup", "create", "--snapshot", "q0-snap", "--name", "sb", "q0"]);
        assert!(ok, "{err}");
        let sb = wait_backup(&region, "sb", "available").await;
        let snap = wait_snapshot(&region, "q0-snap", "available").await;
        assert_eq!(sb["snapshot_id"], snap["id"], "{sb}");
        let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "sb", "from-sb"]);
        assert!(ok, "{err}");
        let v = wait_status(&region, "from-sb", "available").await;
        let file = volume_file(&region, v["id"].as_str().unwrap());
        assert!(holds_pattern_at(&file, "0x44", 0, 4 << 20), "the snapshot's content, not the later write");

        // Once every backup is deleted, no chunk data is left: the project's packs,
        // manifests and their files on disk are all gone.
        for b in ["b2", "b3", "qb0", "qb1", "qb2", "sb"] {
            let (ok, _, err) = region.openstack(&["volume", "backup", "delete", b]);
            assert!(ok, "{b}: {err}");
        }
        region
            .wait_for(120, "every backup deleted and its data swept", || async {
                let listed = region.openstack_json(&["volume", "backup", "list"]);
                (listed.as_array().unwrap().is_empty() && walk(&objects_dir).is_empty()).then_some(())
            })
            .await;
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `kill -9` while a backup of 256 MiB of random data is being stored: after the restart
/// the backup completes (it was never `available` before), and a volume restored from it
/// is byte-identical to what was backed up.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_during_a_backup_resumes() {
    let mut region = Region::start();
    let v = region.openstack_json(&["volume", "create", "--size", "10", "big"]);
    let id = v["id"].as_str().unwrap().to_string();
    wait_status(&region, "big", "available").await;
    let dir = tempfile::tempdir().unwrap();
    let random = dir.path().join("random.raw");
    let st = std::process::Command::new("dd")
        // 1 GiB: the backup takes seconds, so the kill lands in its middle even when the
        // machine is busy and this poll is slow to run.
        .args(["if=/dev/urandom", "bs=1M", "count=1024", "status=none"])
        .arg(format!("of={}", random.display()))
        .status()
        .unwrap();
    assert!(st.success());
    let st = std::process::Command::new("qemu-img")
        .args(["convert", "-n", "-f", "raw", "-O", "qcow2"])
        .arg(&random)
        .arg(volume_file(&region, &id))
        .status()
        .unwrap();
    assert!(st.success());

    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let b = region.openstack_json(&["volume", "backup", "create", "--name", "kb", "big"]);
    let backup = format!("/volume/v3/{project}/backups/{}", b["id"].as_str().unwrap());
    // Polled closely (the API, not the CLI): the first pack appears a 32nd of the way
    // through, and the rest takes a few seconds.
    let objects = region.data_dir.join("objects");
    let start = std::time::Instant::now();
    while walk(&objects).is_empty() {
        assert!(start.elapsed() < std::time::Duration::from_secs(120), "no pack on disk");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let (_, b) = region.call("GET", &backup, Some(&token), None).await;
    assert_eq!(b["backup"]["status"], "creating", "killed too late: {b}");
    region.kill9();
    region.launch();
    wait_backup(&region, "kb", "available").await;
    let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "kb", "back"]);
    assert!(ok, "{err}");
    let back = wait_status(&region, "back", "available").await;
    let out = std::process::Command::new("qemu-img")
        .args(["compare", "-f", "raw", "-F", "qcow2"])
        .arg(&random)
        .arg(volume_file(&region, back["id"].as_str().unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success(), "restored data differs: {}", String::from_utf8_lossy(&out.stdout));
}

/// A CBR policy on a fast schedule clock (one real second is an hour): a daily rule at four
/// hours of the day backs the vault's disk up by itself, again and again, and its retention
/// (`max_backups` 1) keeps only the newest of those backups; a manual backup is kept.
#[tokio::test(flavor = "multi_thread")]
async fn cbr_policies_run_on_schedule() {
    let region = Region::start_with(
        &common::Db::Sqlite,
        &[],
        Some("cbr_time_scale = 3600\ncbr_schedule_interval_secs = 1\nbackup_max_concurrent = 5\n"),
    );
    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let disk = region.openstack_json(&["volume", "create", "--size", "10", "sched"]);
    let disk = disk["id"].as_str().unwrap().to_string();
    wait_status(&region, "sched", "available").await;
    qemu_io(&volume_file(&region, &disk), "write -P 0x21 0 1M");
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (region, token) = (&region, token.clone());
        async move { region.call(method, &path, Some(&token), body).await }
    };
    let (s, v) = call(
        "POST",
        format!("/v3/{project}/vaults"),
        Some(json!({"vault": {"name": "sched-vault", "resources": [{"id": disk, "type": "OS::Cinder::Volume"}],
            "billing": {"object_type": "disk", "protect_type": "backup", "consistent_level": "crash_consistent",
                        "size": 100}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let vault = v["vault"]["id"].as_str().unwrap().to_string();
    // A manual backup first: retention leaves it alone.
    let (s, k) =
        call("POST", format!("/v3/{project}/checkpoints"), Some(json!({"checkpoint": {"vault_id": vault}}))).await;
    assert_eq!(s, 200, "{k}");
    let (s, p) = call(
        "POST",
        format!("/v3/{project}/policies"),
        Some(json!({"policy": {"name": "fast", "operation_type": "backup", "enabled": true,
            "operation_definition": {"max_backups": 1},
            "trigger": {"properties": {"pattern": ["FREQ=DAILY;INTERVAL=1;BYHOUR=0,6,12,18;BYMINUTE=00"]}}}})),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let policy = p["policy"]["id"].as_str().unwrap().to_string();
    let (s, a) =
        call("POST", format!("/v3/{project}/vaults/{vault}/associatepolicy"), Some(json!({"policy_id": policy}))).await;
    assert_eq!(s, 200, "{a}");
    // Every 6 s a scheduled backup; wait for the third, then for retention to leave one.
    let made = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let auto = region
        .wait_for(120, "three scheduled backups, one kept", || {
            let call = &call;
            let made = &made;
            let (project, vault) = (project.clone(), vault.clone());
            async move {
                let (_, l) = call("GET", format!("/v3/{project}/backups?vault_id={vault}"), None).await;
                let list = l["backups"].as_array().cloned().unwrap_or_default();
                let autos: Vec<&Value> = list.iter().filter(|b| b["extend_info"]["auto_trigger"] == true).collect();
                let mut made = made.lock().unwrap();
                for b in &autos {
                    made.insert(b["id"].as_str().unwrap().to_string());
                }
                let available = autos.iter().filter(|b| b["status"] == "available").count();
                let manual = list.iter().filter(|b| b["extend_info"]["auto_trigger"] == false).count();
                (made.len() >= 3 && available == 1 && autos.len() == 1 && manual == 1).then(|| autos[0].clone())
            }
        })
        .await;
    assert_eq!(auto["resource_id"], disk.as_str(), "{auto}");
    // The kept scheduled backup restores.
    let id = auto["id"].as_str().unwrap();
    let (ok, _, err) = region.openstack(&["volume", "backup", "restore", id, "from-schedule"]);
    assert!(ok, "{err}");
    let v = wait_status(&region, "from-schedule", "available").await;
    assert!(holds_pattern_at(&volume_file(&region, v["id"].as_str().unwrap()), "0x21", 0, 1 << 20));
}

/// Servers booted from volumes, with the `openstack` CLI and real guests: a new volume made
/// from the image (`--boot-from-volume`), the guest's root disk being that volume (its
/// serial), a stop and start, what a volume-backed server refuses (detaching its root disk,
/// an image snapshot), the volume kept after the server is deleted and booting a second
/// server (`--volume`), and a boot volume deleted with its server when asked.
#[tokio::test(flavor = "multi_thread")]
async fn servers_boot_from_volumes() {
    let Some(region) = compute_region(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let show_root = dir.path().join("root.sh");
    std::fs::write(&show_root, "#!/bin/sh\necho \"root disk serial: $(cat /sys/block/vda/serial).\"\n").unwrap();
    let user_data = show_root.to_str().unwrap();
    let s = region.openstack_json(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--image",
        "nimbus-tiny",
        "--boot-from-volume",
        "1",
        "--user-data",
        user_data,
        "--wait",
        "bfv1",
    ]);
    assert_eq!(s["status"], "ACTIVE", "{s}");
    let server_id = s["id"].as_str().unwrap().to_string();
    let vols = region.openstack_json(&["volume", "list", "--long"]);
    assert_eq!(vols.as_array().unwrap().len(), 1, "{vols}");
    let vol = vols[0]["ID"].as_str().unwrap().to_string();
    let v = region.openstack_json(&["volume", "show", &vol]);
    assert_eq!(
        (v["status"].as_str(), v["bootable"].clone(), v["size"].as_i64()),
        (Some("in-use"), json!(true), Some(1))
    );
    assert_eq!(v["attachments"][0]["device"], "/dev/vda", "{v}");
    assert_eq!(v["attachments"][0]["server_id"], server_id.as_str(), "{v}");
    assert_eq!(v["volume_image_metadata"]["image_name"], "nimbus-tiny", "{v}");
    let (token, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let (_, nova) = region.call("GET", &format!("/compute/v2.1/servers/{server_id}"), Some(&token), None).await;
    assert_eq!(nova["server"]["image"], "", "a volume-backed server has no image: {nova}");

    // The guest's root disk is the volume: no overlay on the host, the volume's serial inside.
    wait_console(&region, "bfv1", READY, 1).await;
    wait_console(&region, "bfv1", &format!("root disk serial: {}.", serial(&vol)), 1).await;
    let instance = region.data_dir.join("instances").join(&server_id);
    assert!(!instance.join("disk.qcow2").exists(), "no local boot disk");

    // Refused, nothing changed: detaching the root disk, an image snapshot, a rebuild.
    let (ok, _, err) = region.openstack(&["server", "remove", "volume", "bfv1", &vol]);
    assert!(!ok && err.contains("root"), "{err}");
    let (ok, _, err) = region.openstack(&["server", "image", "create", "--name", "img", "bfv1"]);
    assert!(!ok, "{err}");
    let (ok, _, err) = region.openstack(&["server", "rebuild", "--image", "nimbus-tiny", "bfv1"]);
    assert!(!ok, "{err}");
    assert_eq!(region.openstack_json(&["volume", "show", &vol])["status"], "in-use");

    // Stopped and started: it boots from the volume again.
    let (ok, _, err) = region.openstack(&["server", "stop", "bfv1"]);
    assert!(ok, "{err}");
    region
        .wait_for(120, "bfv1 stopped", || async {
            (region.openstack_json(&["server", "show", "bfv1"])["status"] == "SHUTOFF").then_some(())
        })
        .await;
    let (ok, _, err) = region.openstack(&["server", "start", "bfv1"]);
    assert!(ok, "{err}");
    wait_console(&region, "bfv1", READY, 2).await;

    // Deleted: the volume stays, available, and boots another server.
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "bfv1"]);
    assert!(ok, "{err}");
    wait_status(&region, &vol, "available").await;
    let s2 = region.openstack_json(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--volume",
        &vol,
        "--user-data",
        user_data,
        "--wait",
        "bfv2",
    ]);
    assert_eq!(s2["status"], "ACTIVE", "{s2}");
    wait_console(&region, "bfv2", "ready hostname=bfv2", 1).await;
    wait_console(&region, "bfv2", &format!("root disk serial: {}.", serial(&vol)), 1).await;
    // A volume in use boots nothing else.
    let (ok, _, err) = region.openstack(&["server", "create", "--flavor", "s3.small.1", "--volume", &vol, "bfv3"]);
    assert!(!ok && err.contains("available"), "{err}");
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "bfv2"]);
    assert!(ok, "{err}");
    wait_status(&region, &vol, "available").await;

    // With --delete-on-termination the volume goes with the server; so does a new blank
    // data volume made with it, which the guest sees on vdc.
    let show_data = dir.path().join("data.sh");
    std::fs::write(&show_data, "#!/bin/sh\necho \"data disk sectors: $(cat /sys/block/vdc/size).\"\n").unwrap();
    let s3 = region.openstack_json(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--image",
        "nimbus-tiny",
        "--boot-from-volume",
        "2",
        "--delete-on-termination",
        "--block-device",
        "source_type=blank,destination_type=volume,volume_size=10,delete_on_termination=true",
        "--user-data",
        show_data.to_str().unwrap(),
        "--wait",
        "bfv4",
    ]);
    assert_eq!(s3["status"], "ACTIVE", "{s3}");
    let vols = region.openstack_json(&["volume", "list", "--long"]);
    assert_eq!(vols.as_array().unwrap().len(), 3, "{vols}");
    let data = vols.as_array().unwrap().iter().find(|v| v["Size"] == 10).expect("the data volume").clone();
    let data = region.openstack_json(&["volume", "show", data["ID"].as_str().unwrap()]);
    assert_eq!((data["status"].as_str(), data["bootable"].clone()), (Some("in-use"), json!(false)), "{data}");
    assert_eq!(data["attachments"][0]["device"], "/dev/vdc", "{data}");
    wait_console(&region, "bfv4", "data disk sectors: 20971520.", 1).await;
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "bfv4"]);
    assert!(ok, "{err}");
    region
        .wait_for(60, "the boot volume's delete", || async {
            let list = region.openstack_json(&["volume", "list"]);
            (list.as_array().unwrap().len() == 1 && list[0]["ID"] == vol.as_str()).then_some(())
        })
        .await;
}

/// The guest counts on two disks, always the first then the second: at any instant the
/// first holds the same number as the second or one more.
const TWO_DISK_COUNTER: &str = r#"#!/bin/sh
(
while [ ! -e /sys/block/vdd ]; do sleep 1; done
echo "counting on vdc and vdd."
i=0
while :; do
  i=$((i+1))
  echo "n=$i." | dd of=/dev/vdc conv=fsync 2>/dev/null
  echo "n=$i." | dd of=/dev/vdd conv=fsync 2>/dev/null
done
) &
"#;

fn counter_of(head: &str) -> u64 {
    head.strip_prefix("n=").and_then(|r| r.split('.').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| {
        panic!("no counter in {head:?}");
    })
}

/// CSBS through CBR: a server vault, a checkpoint of a running server whose guest keeps
/// writing to its two volumes: both disks are backed up at one instant (the counters in
/// the restored volumes are consistent with the guest's write order), listed as one server
/// backup whose children are the disks' backups, renamed as a whole, each child restorable
/// to a new volume, the whole server restored in place (stopped, both disks rewritten to
/// the checkpoint, started again by its user), and the server backup deleted with its
/// children.
#[tokio::test(flavor = "multi_thread")]
async fn server_backups_take_every_disk_at_one_instant() {
    let Some(region) = compute_region(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("count.sh");
    std::fs::write(&script, TWO_DISK_COUNTER).unwrap();
    let s = region.openstack_json(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--image",
        "nimbus-tiny",
        "--user-data",
        script.to_str().unwrap(),
        "--wait",
        "vm1",
    ]);
    let server = s["id"].as_str().unwrap().to_string();
    for name in ["d1", "d2"] {
        region.openstack_json(&["volume", "create", "--size", "10", name]);
        wait_status(&region, name, "available").await;
        let (ok, _, err) = region.openstack(&["server", "add", "volume", "vm1", name]);
        assert!(ok, "{err}");
        wait_status(&region, name, "in-use").await;
    }
    wait_console(&region, "vm1", "counting on vdc and vdd.", 1).await;
    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();

    // A server vault holding the server; a disk is refused in it.
    let vault = json!({"vault": {"name": "servers", "billing": {"object_type": "server", "protect_type": "backup",
        "consistent_level": "crash_consistent", "size": 100}, "resources": [{"id": server, "type": "OS::Nova::Server"}]}});
    let (code, v) = region.call("POST", &format!("/v3/{project}/vaults"), Some(&token), Some(vault)).await;
    assert_eq!(code, 200, "{v}");
    let vault_id = v["vault"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["vault"]["resources"][0]["size"], 20, "a server's size is its disks': {v}");
    let d1 = region.openstack_json(&["volume", "show", "d1"])["id"].as_str().unwrap().to_string();
    let add = json!({"resources": [{"id": d1, "type": "OS::Cinder::Volume"}]});
    let (code, e) =
        region.call("POST", &format!("/v3/{project}/vaults/{vault_id}/addresources"), Some(&token), Some(add)).await;
    assert_eq!(code, 400, "{e}");

    // Back up now: one backup per disk, made from snapshots taken together.
    let k = json!({"checkpoint": {"vault_id": vault_id, "parameters": {}}});
    let (code, c) = region.call("POST", &format!("/v3/{project}/checkpoints"), Some(&token), Some(k)).await;
    assert_eq!(code, 200, "{c}");
    let checkpoint = c["checkpoint"]["id"].as_str().unwrap().to_string();
    // One server backup in the checkpoint, its disks' backups as its children.
    let server_backup = region
        .wait_for(300, "the server's backup", || async {
            let (_, l) = region
                .call("GET", &format!("/v3/{project}/backups?checkpoint_id={checkpoint}"), Some(&token), None)
                .await;
            let list = l["backups"].as_array().cloned().unwrap_or_default();
            assert_eq!(list.len(), 1, "{l}");
            assert_ne!(list[0]["status"], "error", "{l}");
            (list[0]["status"] == "available").then(|| list[0].clone())
        })
        .await;
    assert_eq!(server_backup["resource_type"], "OS::Nova::Server", "{server_backup}");
    assert_eq!(server_backup["resource_id"], server.as_str(), "{server_backup}");
    assert_eq!(server_backup["resource_name"], "vm1", "{server_backup}");
    assert_eq!(server_backup["resource_size"], 20, "{server_backup}");
    let sb_id = server_backup["id"].as_str().unwrap().to_string();
    let sb_url = format!("/v3/{project}/backups/{sb_id}");
    let (code, shown) = region.call("GET", &sb_url, Some(&token), None).await;
    assert_eq!(code, 200, "{shown}");
    let backups = shown["backup"]["children"].as_array().cloned().unwrap_or_default();
    assert_eq!(backups.len(), 2, "{shown}");
    for b in &backups {
        assert_eq!(b["extend_info"]["server_id"], server.as_str(), "{b}");
        assert_eq!(b["resource_type"], "OS::Cinder::Volume", "{b}");
        assert_eq!(b["status"], "available", "{b}");
    }
    // Listed, shown, renamed and refused as a disk restore through Huawei's CBR SDK.
    let d2 = region.openstack_json(&["volume", "show", "d2"])["id"].as_str().unwrap().to_string();
    let disks = format!("{d1},{d2}");
    let env = [("NIMBUS_SERVER_ID", server.as_str()), ("NIMBUS_VOLUME_IDS", disks.as_str())];
    common::run_sdk_check_with(&region, &common::Db::Sqlite, "huawei_cbr_server_check.py", &env).await;

    // Restored to new volumes: the first disk holds the second's count or the next one.
    let mut counters = std::collections::HashMap::new();
    for b in &backups {
        let source = b["resource_id"].as_str().unwrap().to_string();
        let name = format!("from-{}", &source[..8]);
        let (ok, _, err) =
            region.openstack(&["volume", "create", "--backup", b["id"].as_str().unwrap(), "--size", "10", &name]);
        assert!(ok, "{err}");
        let restored = wait_status(&region, &name, "available").await;
        let head = volume_head(&volume_file(&region, restored["id"].as_str().unwrap()), "qcow2");
        counters.insert(source, counter_of(&head));
    }
    let (a, b) = (counters[&d1], counters[&d2]);
    assert!(a == b || a == b + 1, "disks backed up at one instant: vdc has {a}, vdd has {b}");
    assert!(b > 0);

    // The whole server restored in place. Refused first, nothing changed: another server,
    // a volume the server does not have.
    let restore_url = format!("{sb_url}/restore");
    let other = json!({"restore": {"server_id": uuid_like(), "power_on": false}});
    let (code, e) = region.call("POST", &restore_url, Some(&token), Some(other)).await;
    assert_eq!(code, 400, "{e}");
    region.openstack_json(&["volume", "create", "--size", "10", "d3"]);
    let d3 = wait_status(&region, "d3", "available").await["id"].as_str().unwrap().to_string();
    let wrong = json!({"restore": {"server_id": server, "power_on": false,
        "mappings": [{"backup_id": backups[0]["id"], "volume_id": d3}]}});
    let (code, e) = region.call("POST", &restore_url, Some(&token), Some(wrong)).await;
    assert_eq!(code, 400, "{e}");
    assert_eq!(region.openstack_json(&["volume", "show", "d3"])["status"], "available");
    // The guest is stopped, both disks go back to the counts backed up together (the guest
    // has counted far beyond them since), and the server stays off as asked.
    let (code, r) = region
        .call("POST", &restore_url, Some(&token), Some(json!({"restore": {"server_id": server, "power_on": false}})))
        .await;
    assert_eq!(code, 202, "{r}");
    region
        .wait_for(300, "the server restored", || async {
            let s = region.openstack_json(&["server", "show", "vm1"]);
            let disks_back =
                ["d1", "d2"].iter().all(|d| region.openstack_json(&["volume", "show", d])["status"] == "in-use");
            (s["status"] == "SHUTOFF" && s["OS-EXT-STS:task_state"].is_null() && disks_back).then_some(())
        })
        .await;
    for (disk, want) in [(&d1, a), (&d2, b)] {
        let head = volume_head(&volume_file(&region, disk), "qcow2");
        assert_eq!(counter_of(&head), want, "disk {disk} holds the backed-up count");
    }
    let shown = region.openstack_json(&["volume", "backup", "show", backups[0]["id"].as_str().unwrap()]);
    assert_eq!(shown["status"], "available", "{shown}");
    // Started again, the guest finds its disks and counts on.
    let (ok, _, err) = region.openstack(&["server", "start", "vm1"]);
    assert!(ok, "{err}");
    wait_console(&region, "vm1", "counting on vdc and vdd.", 2).await;
    // Deleted as a whole: both disks' backups go.
    let (code, e) = region.call("DELETE", &sb_url, Some(&token), None).await;
    assert_eq!(code, 204, "{e}");
    region
        .wait_for(120, "the server backup's children deleted", || async {
            let left = region.openstack_json(&["volume", "backup", "list"]);
            let left = left.as_array().cloned().unwrap_or_default();
            backups.iter().all(|b| !left.iter().any(|l| l["ID"] == b["id"])).then_some(())
        })
        .await;
    let (code, _) = region.call("GET", &sb_url, Some(&token), None).await;
    assert_eq!(code, 404);
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "vm1"]);
    assert!(ok, "{err}");
}

/// An id no server has.
fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_string()
}

/// A Cinder call at microversion 3.20 (groups), as the admin.
async fn cinder_3_20(region: &Region, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = region
        .http
        .request(method.parse().unwrap(), format!("{}{path}", region.url))
        .header("X-Auth-Token", token)
        .header("OpenStack-API-Version", "volume 3.20");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Generic volume groups with the `openstack` CLI and the Cinder API: a group type, a group
/// whose volumes can only be deleted with it, members added and removed under the group's
/// rules, a group snapshot whose snapshots live in each member's file and go only with it, a
/// group copied from the snapshot (new volumes with their own files), and a retype between a
/// shareable and a non-shareable type that rewrites the data's format; on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn volume_groups_and_group_snapshots() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let gv = ["--os-volume-api-version", "3.20"];
        let with =
            |args: &[&'static str]| -> Vec<&'static str> { gv.iter().copied().chain(args.iter().copied()).collect() };
        let gt = region.openstack_json(&with(&["volume", "group", "type", "create", "apps"]));
        let grp = region.openstack_json(&with(&[
            "volume",
            "group",
            "create",
            "--volume-group-type",
            "apps",
            "--volume-type",
            "SSD",
            "--name",
            "app1",
        ]));
        assert_eq!(grp["Status"], "available", "{grp}");
        let gid = grp["ID"].as_str().unwrap().to_string();
        let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let vols = format!("/volume/v3/{project}/volumes");

        // Members: made in the group (its type only), or added (SSD only).
        let (s, v) = cinder_3_20(
            &region,
            &token,
            "POST",
            &vols,
            Some(json!({"volume": {"size": 10, "name": "m1", "volume_type": "SSD", "group_id": gid}})),
        )
        .await;
        assert_eq!(s, 202, "{v}");
        let m1 = v["volume"]["id"].as_str().unwrap().to_string();
        let (s, v) = cinder_3_20(
            &region,
            &token,
            "POST",
            &vols,
            Some(json!({"volume": {"size": 10, "name": "m-sata", "volume_type": "SATA", "group_id": gid}})),
        )
        .await;
        assert_eq!(s, 400, "a volume of a type the group does not take: {v}");
        assert!(v["badRequest"]["message"].as_str().unwrap().contains("volume types"), "{v}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "--type", "SSD", "m2"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "--type", "SATA", "sata1"]);
        assert!(ok, "{err}");
        wait_status(&region, "m1", "available").await;
        let m2 = wait_status(&region, "m2", "available").await["id"].as_str().unwrap().to_string();
        let sata = wait_status(&region, "sata1", "available").await["id"].as_str().unwrap().to_string();
        let group_path = format!("/volume/v3/{project}/groups/{gid}");
        let (s, v) =
            cinder_3_20(&region, &token, "PUT", &group_path, Some(json!({"group": {"add_volumes": sata}}))).await;
        assert_eq!(s, 400, "{v}");
        let (s, v) =
            cinder_3_20(&region, &token, "PUT", &group_path, Some(json!({"group": {"add_volumes": m2}}))).await;
        assert_eq!(s, 202, "{v}");
        let (_, v) = cinder_3_20(&region, &token, "GET", &format!("{vols}/{m2}"), None).await;
        assert_eq!(v["volume"]["group_id"], gid.as_str(), "{v}");
        // A member is deleted only with its group.
        let (ok, _, err) = region.openstack(&["volume", "delete", "m1"]);
        assert!(!ok && err.contains("belongs to group"), "{err}");
        let (_, g) = cinder_3_20(&region, &token, "GET", &group_path, None).await;
        assert_eq!(g["group"]["status"], "available", "{g}");

        // A group snapshot: one snapshot per member, inside each member's file.
        let gs = region.openstack_json(&with(&["volume", "group", "snapshot", "create", "--name", "gs1", "app1"]));
        let gs_id = gs["ID"].as_str().unwrap().to_string();
        let snaps: Vec<Value> = region
            .wait_for(60, "the group snapshot", || async {
                let (_, l) =
                    cinder_3_20(&region, &token, "GET", &format!("/volume/v3/{project}/snapshots/detail"), None).await;
                let mine: Vec<Value> = l["snapshots"]
                    .as_array()?
                    .iter()
                    .filter(|s| s["group_snapshot_id"] == gs_id.as_str())
                    .cloned()
                    .collect();
                (mine.len() == 2 && mine.iter().all(|s| s["status"] == "available")).then_some(mine)
            })
            .await;
        let mut of: Vec<&str> = snaps.iter().filter_map(|s| s["volume_id"].as_str()).collect();
        of.sort();
        let mut members = vec![m1.as_str(), m2.as_str()];
        members.sort();
        assert_eq!(of, members);
        for s in &snaps {
            let vid = s["volume_id"].as_str().unwrap();
            let file = region.data_dir.join("volumes").join(format!("{vid}.qcow2"));
            let out =
                std::process::Command::new("qemu-img").args(["snapshot", "-U", "-l"]).arg(&file).output().unwrap();
            let listing = String::from_utf8_lossy(&out.stdout);
            assert!(listing.contains(&format!("snap-{}", s["id"].as_str().unwrap())), "{listing}");
        }
        let one = snaps[0]["id"].as_str().unwrap();
        let (ok, _, err) = region.openstack(&["volume", "snapshot", "delete", one]);
        assert!(!ok && err.contains("group snapshot"), "{err}");
        // The group cannot go while it has group snapshots.
        let (ok, _, err) = region.openstack(&with(&["volume", "group", "delete", "--force", "app1"]));
        assert!(!ok && err.contains("group snapshots"), "{err}");

        // A group copied from the snapshot: two new volumes with their own files.
        let copy = region.openstack_json(&with(&[
            "volume",
            "group",
            "create",
            "--group-snapshot",
            "gs1",
            "--name",
            "app1-copy",
        ]));
        let copy_id = copy["ID"].as_str().unwrap_or_else(|| panic!("{copy}")).to_string();
        let copy_path = format!("/volume/v3/{project}/groups/{copy_id}");
        region
            .wait_for(120, "the copied group", || async {
                let (_, g) = cinder_3_20(&region, &token, "GET", &copy_path, None).await;
                (g["group"]["status"] == "available").then_some(())
            })
            .await;
        let (_, l) = cinder_3_20(&region, &token, "GET", &format!("{vols}/detail?group_id={copy_id}"), None).await;
        let copies = l["volumes"].as_array().unwrap();
        assert_eq!(copies.len(), 2, "{l}");
        for c in copies {
            assert_eq!(c["status"], "available", "{c}");
            let file = region.data_dir.join("volumes").join(format!("{}.qcow2", c["id"].as_str().unwrap()));
            assert_eq!(virtual_size(&file), 10 << 30);
        }

        // Deleting: the snapshot with its members' snapshots, then each group with its volumes.
        let (ok, _, err) = region.openstack(&with(&["volume", "group", "snapshot", "delete", "gs1"]));
        assert!(ok, "{err}");
        region
            .wait_for(60, "the group snapshot gone", || async {
                let (s, _) =
                    cinder_3_20(&region, &token, "GET", &format!("/volume/v3/{project}/group_snapshots/{gs_id}"), None)
                        .await;
                let (_, l) =
                    cinder_3_20(&region, &token, "GET", &format!("/volume/v3/{project}/snapshots"), None).await;
                (s == 404 && l["snapshots"].as_array().is_some_and(|a| a.is_empty())).then_some(())
            })
            .await;
        for (name, path) in [("app1", &group_path), ("app1-copy", &copy_path)] {
            let (ok, _, err) = region.openstack(&with(&["volume", "group", "delete", "--force", name]));
            assert!(ok, "{err}");
            region
                .wait_for(60, "the group gone", || async {
                    let (s, _) = cinder_3_20(&region, &token, "GET", path, None).await;
                    (s == 404).then_some(())
                })
                .await;
        }
        let (_, l) = cinder_3_20(&region, &token, "GET", &vols, None).await;
        let left: Vec<&str> = l["volumes"].as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
        assert_eq!(left, vec!["sata1"], "{l}");
        let (ok, _, err) = region.openstack(&with(&["volume", "group", "type", "delete", "apps"]));
        assert!(ok, "{err} ({gt})");

        // A retype to a shareable type rewrites the data as a raw file, and back.
        let (ok, _, err) =
            region.openstack(&["volume", "type", "create", "--property", "multiattach=<is> True", "shared"]);
        assert!(ok, "{err}");
        let (ok, _, err) =
            region.openstack(&["volume", "set", "--type", "shared", "--retype-policy", "never", "sata1"]);
        assert!(ok, "{err}");
        let v = region
            .wait_for(120, "the retype", || async {
                let (ok, out, _) = region.openstack(&["volume", "show", "sata1", "-f", "json"]);
                let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
                (ok && v["status"] == "available" && v["type"] == "shared").then_some(v)
            })
            .await;
        assert_eq!(v["multiattach"], true, "{v}");
        let dir = region.data_dir.join("volumes");
        assert!(dir.join(format!("{sata}.raw")).exists() && !dir.join(format!("{sata}.qcow2")).exists());
        let (ok, _, err) = region.openstack(&["volume", "set", "--type", "SATA", "--retype-policy", "never", "sata1"]);
        assert!(ok, "{err}");
        region
            .wait_for(120, "the retype back", || async {
                let (ok, out, _) = region.openstack(&["volume", "show", "sata1", "-f", "json"]);
                let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
                (ok && v["status"] == "available" && v["type"] == "SATA" && v["multiattach"] == false).then_some(())
            })
            .await;
        assert!(dir.join(format!("{sata}.qcow2")).exists() && !dir.join(format!("{sata}.raw")).exists());
        assert_eq!(virtual_size(&dir.join(format!("{sata}.qcow2"))), 10 << 30);
    }
}

/// Quotas per volume type and the default quota class, with the `openstack` CLI: a type's own
/// volume count refuses a second volume of it (413) but not one of another type, a retype into
/// the full type is refused with nothing changed, deletes give the type's quota back; the
/// default class raises every project's default at once; on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn quotas_per_volume_type_and_the_default_class() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let quotas = format!("/volume/v3/{project}/os-quota-sets/{project}");
        let (_, q) = region.call("GET", &quotas, Some(&token), None).await;
        assert_eq!(q["quota_set"]["volumes_SSD"], -1, "{q}");
        let (ok, _, err) = region.openstack(&["quota", "set", "--volume-type", "SSD", "--volumes", "1", "admin"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "--type", "SSD", "fast1"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "--type", "SSD", "fast2"]);
        assert!(!ok && err.contains("413") && err.contains("volumes_SSD"), "{err}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "--type", "SATA", "slow1"]);
        assert!(ok, "{err}");
        wait_status(&region, "fast1", "available").await;
        wait_status(&region, "slow1", "available").await;
        let (_, q) = region.call("GET", &format!("{quotas}?usage=true"), Some(&token), None).await;
        assert_eq!(q["quota_set"]["volumes_SSD"]["in_use"], 1, "{q}");
        assert_eq!(q["quota_set"]["gigabytes_SSD"]["in_use"], 10, "{q}");
        assert_eq!(q["quota_set"]["volumes_SATA"]["in_use"], 1, "{q}");
        assert_eq!(q["quota_set"]["volumes"]["in_use"], 2, "{q}");
        // Into the full type: refused, the volume keeps its type.
        let (ok, _, err) = region.openstack(&["volume", "set", "--type", "SSD", "slow1"]);
        assert!(!ok && err.contains("volumes_SSD"), "{err}");
        let v = wait_status(&region, "slow1", "available").await;
        assert_eq!(v["type"], "SATA", "{v}");
        // Another type's room follows a retype.
        let (ok, _, err) = region.openstack(&["volume", "set", "--type", "SAS", "slow1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the retype to SAS", || async {
                let (_, q) = region.call("GET", &format!("{quotas}?usage=true"), Some(&token), None).await;
                (q["quota_set"]["volumes_SAS"]["in_use"] == 1 && q["quota_set"]["volumes_SATA"]["in_use"] == 0)
                    .then_some(())
            })
            .await;
        let (ok, _, err) = region.openstack(&["volume", "delete", "fast1"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the SSD quota back", || async {
                let (_, q) = region.call("GET", &format!("{quotas}?usage=true"), Some(&token), None).await;
                (q["quota_set"]["volumes_SSD"]["in_use"] == 0).then_some(())
            })
            .await;
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "--type", "SSD", "fast2"]);
        assert!(ok, "{err}");

        // The default class: a new project's defaults, at once; an unknown resource refused.
        let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        region.tenant(&admin, "quota-new", "nina", "nina-pw-1", "member").await;
        let (ok, _, err) =
            region.openstack(&["quota", "set", "--class", "--volumes", "33", "--snapshots", "7", "default"]);
        assert!(ok, "{err}");
        let (ok, out, err) = region.openstack(&["quota", "show", "-f", "json", "quota-new"]);
        assert!(ok, "{err}");
        let shown: Value = serde_json::from_str(&out).unwrap();
        let limit =
            |name: &str| shown.as_array().unwrap().iter().find(|r| r["Resource"] == name).map(|r| r["Limit"].clone());
        assert_eq!(limit("volumes"), Some(json!(33)), "{shown}");
        assert_eq!(limit("snapshots"), Some(json!(7)), "{shown}");
        // The admin project's own limit stays its own.
        let (_, q) = region.call("GET", &quotas, Some(&token), None).await;
        assert_eq!(q["quota_set"]["volumes_SSD"], 1, "{q}");
        assert_eq!(q["quota_set"]["volumes"], 33, "{q}");
        let (s, e) = region
            .call(
                "PUT",
                &format!("/volume/v3/{project}/os-quota-class-sets/default"),
                Some(&token),
                Some(json!({"quota_class_set": {"volumes_NOPE": 3}})),
            )
            .await;
        assert_eq!(s, 400, "{e}");
        let (_, c) =
            region.call("GET", &format!("/volume/v3/{project}/os-quota-class-sets/default"), Some(&token), None).await;
        assert_eq!(c["quota_class_set"]["volumes"], 33, "{c}");
        assert!(c["quota_class_set"].get("volumes_NOPE").is_none(), "{c}");
        // Members may not change it.
        let nina = region.os_env("nina", "nina-pw-1", "quota-new");
        let (ok, _, err) = region.openstack_as(&nina, &["quota", "set", "--class", "--volumes", "99", "default"]);
        assert!(!ok && err.contains("403"), "{err}");
    }
}

/// Backup records with the `openstack` CLI: a member's backup exported by the operator and
/// imported into the operator's project under a new id is a backup of its own (its data
/// copied into that project's store), restored to the same bytes even after the original is
/// deleted; a record imported twice, another service's record, a damaged one and a member's
/// export or import are refused; on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn backup_records_export_and_import() {
    use base64::Engine;
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        region.tenant(&admin, "rec-owner", "olga", "olga-pw-1", "member").await;
        let olga = region.os_env("olga", "olga-pw-1", "rec-owner");
        let (ok, out, err) = region.openstack_as(&olga, &["volume", "create", "--size", "10", "-f", "json", "data"]);
        assert!(ok, "{err}");
        let src_id = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
        region
            .wait_for(60, "olga's volume", || async {
                let (ok, out, _) = region.openstack_as(&olga, &["volume", "show", "data", "-f", "json"]);
                let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
                (ok && v["status"] == "available").then_some(())
            })
            .await;
        let src_file = volume_file(&region, &src_id);
        qemu_io(&src_file, "write -P 0x5a 0 2M");
        qemu_io(&src_file, "write -P 0x5b 7G 1M");
        let (ok, out, err) =
            region.openstack_as(&olga, &["volume", "backup", "create", "--name", "ob", "-f", "json", "data"]);
        assert!(ok, "{err}");
        let backup_id = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
        region
            .wait_for(120, "olga's backup", || async {
                let (ok, out, _) = region.openstack_as(&olga, &["volume", "backup", "show", "ob", "-f", "json"]);
                let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
                (ok && v["status"] == "available").then_some(())
            })
            .await;
        // Members neither export nor import.
        let (ok, _, err) = region.openstack_as(&olga, &["volume", "backup", "record", "export", "ob"]);
        assert!(!ok && err.contains("403"), "{err}");

        let record = region.openstack_json(&["volume", "backup", "record", "export", &backup_id]);
        let service = record["backup_service"].as_str().unwrap_or_else(|| panic!("{record}")).to_string();
        let url = record["backup_url"].as_str().unwrap().to_string();
        assert!(service.starts_with("cinder.backup.drivers."), "{record}");
        // Imports through the API (the SDK behind the CLI posts them to the wrong path).
        let (admin_token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let admin_project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let (olga_token, body) = region.token("olga", "olga-pw-1", "rec-owner").await;
        let olga_project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let import = |token: String, project: String, service: String, url: String| {
            let region = &region;
            async move {
                region
                    .call(
                        "POST",
                        &format!("/volume/v3/{project}/backups/import_record"),
                        Some(&token),
                        Some(json!({"backup-record": {"backup_service": service, "backup_url": url}})),
                    )
                    .await
            }
        };
        let (s, e) = import(olga_token.clone(), olga_project.clone(), service.clone(), url.clone()).await;
        assert_eq!(s, 403, "{e}");
        // The same id twice: refused.
        let (s, e) = import(admin_token.clone(), admin_project.clone(), service.clone(), url.clone()).await;
        assert!(s == 400 && e.to_string().contains("already exists"), "{e}");
        // Another service's, or damaged: refused.
        let (s, e) =
            import(admin_token.clone(), admin_project.clone(), "cinder.backup.drivers.swift".into(), url.clone()).await;
        assert_eq!(s, 400, "{e}");
        let (s, e) = import(admin_token.clone(), admin_project.clone(), service.clone(), "bm90IGpzb24=".into()).await;
        assert_eq!(s, 400, "{e}");

        // Under a new id, into the operator's project.
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut r: Value = serde_json::from_slice(&b64.decode(&url).unwrap()).unwrap();
        let new_id = "7d1b6f5e-1c1a-4f53-9a51-3c8f2a7e0b11";
        r["id"] = json!(new_id);
        let new_url = b64.encode(r.to_string());
        let (s, imported) = import(admin_token.clone(), admin_project.clone(), service.clone(), new_url).await;
        assert_eq!(s, 201, "{imported}");
        assert_eq!(imported["backup"]["id"], new_id, "{imported}");
        let b = wait_backup(&region, new_id, "available").await;
        assert_eq!(b["size"], 10, "{b}");
        // The original goes; the imported one keeps its own copy of the data.
        let (ok, _, err) = region.openstack_as(&olga, &["volume", "backup", "delete", "ob"]);
        assert!(ok, "{err}");
        region
            .wait_for(60, "the original backup gone", || async {
                let (ok, _, _) = region.openstack_as(&olga, &["volume", "backup", "show", "ob"]);
                (!ok).then_some(())
            })
            .await;
        let (ok, _, err) = region.openstack(&["volume", "backup", "restore", new_id, "from-record"]);
        assert!(ok, "{err}");
        let v = wait_status(&region, "from-record", "available").await;
        let file = volume_file(&region, v["id"].as_str().unwrap());
        assert!(holds_pattern_at(&file, "0x5a", 0, 2 << 20));
        assert!(holds_pattern_at(&file, "0x5b", 7 << 30, 1 << 20));
        assert!(holds_pattern_at(&file, "0x00", 3 << 20, 1 << 20));
    }
}
