//! Block storage through the unmodified `openstack` CLI on both stores: volume types, a data
//! disk created, listed, renamed, tagged with properties, extended and deleted (its QCOW2
//! file follows each step), a system disk made from an image, the seed's size limits, an
//! unknown type, the quota answer (413), another project's member refused, and a `kill -9`
//! in the middle of the create job.

mod common;

use common::{databases, Region, ADMIN_PASSWORD};
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
