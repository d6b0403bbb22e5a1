//! Images (Glance v2) through the real `openstack` CLI and over HTTP: upload, download with
//! checksums, properties, tags, visibility and sharing, format checks, quota, deletion.

mod common;

use common::Region;
use serde_json::{json, Value};
use std::process::Command;

fn qemu_img(args: &[&str]) {
    let st = Command::new("qemu-img").args(args).output().expect("qemu-img");
    assert!(st.status.success(), "qemu-img {args:?}: {}", String::from_utf8_lossy(&st.stderr));
}

/// `openstack image create` of a qcow2 file; returns the CLI's outcome.
fn create_qcow2_image(region: &Region, file: &std::path::Path, name: &str) -> (bool, String, String) {
    region.openstack(&[
        "image",
        "create",
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        "--file",
        file.to_str().unwrap(),
        name,
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn images_round_trip_and_respect_visibility() {
    let region = Region::start();
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.qcow2");
    let disk_s = disk.to_str().unwrap();
    qemu_img(&["create", "-f", "qcow2", disk_s, "32M"]);

    // Upload through the CLI; size, checksums and virtual size are computed by the region.
    let img = region.openstack_json(&[
        "image",
        "create",
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        "--file",
        disk_s,
        "--property",
        "os_distro=tiny",
        "--tag",
        "t1",
        "img1",
    ]);
    assert_eq!(img["status"], "active", "{img}");
    let id = img["id"].as_str().unwrap().to_string();
    let bytes = std::fs::read(&disk).unwrap();
    assert_eq!(img["size"], bytes.len() as u64);
    assert_eq!(img["virtual_size"], 32u64 << 20);
    let md5 = Command::new("md5sum").arg(&disk).output().unwrap();
    assert_eq!(img["checksum"].as_str().unwrap(), String::from_utf8_lossy(&md5.stdout).split(' ').next().unwrap());
    assert!(region.data_dir.join("images").join(&id).exists());

    // Download gives the same bytes.
    let out = dir.path().join("back.qcow2");
    let (ok, _, err) = region.openstack(&["image", "save", "--file", out.to_str().unwrap(), "img1"]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    // Properties and tags.
    let (ok, _, err) = region.openstack(&["image", "set", "--property", "hw_disk_bus=virtio", "--tag", "t2", "img1"]);
    assert!(ok, "{err}");
    let shown = region.openstack_json(&["image", "show", "img1"]);
    assert_eq!(shown["properties"]["hw_disk_bus"], "virtio", "{shown}");
    let mut tags: Vec<&str> = shown["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    tags.sort();
    assert_eq!(tags, ["t1", "t2"]);

    // Another tenant cannot see the (shared-visibility) image until it is shared and accepted.
    let admin = region.admin_token().await;
    let (other_project, _) = region.tenant(&admin, "other", "olga", "olga-pw", "member").await;
    let (olga, _) = region.token("olga", "olga-pw", "other").await;
    let (s, _) = region.call("GET", &format!("/image/v2/images/{id}"), Some(&olga), None).await;
    assert_eq!(s, 404);
    let (s, v) = region.call("GET", "/image/v2/images", Some(&olga), None).await;
    assert_eq!(s, 200);
    assert_eq!(v["images"], json!([]));
    let (s, _) = region
        .call(
            "PATCH",
            &format!("/image/v2/images/{id}"),
            Some(&olga),
            Some(json!([{"op": "replace", "path": "/name", "value": "stolen"}])),
        )
        .await;
    assert_eq!(s, 404);

    let (s, m) = region
        .call("POST", &format!("/image/v2/images/{id}/members"), Some(&admin), Some(json!({"member": other_project})))
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["status"], "pending");
    let (s, _) = region.call("GET", &format!("/image/v2/images/{id}"), Some(&olga), None).await;
    assert_eq!(s, 200, "a member sees the image by id");
    let (_, v) = region.call("GET", "/image/v2/images", Some(&olga), None).await;
    assert_eq!(v["images"], json!([]), "pending shares are not listed");
    let (s, _) = region
        .call(
            "PUT",
            &format!("/image/v2/images/{id}/members/{other_project}"),
            Some(&olga),
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = region.call("GET", "/image/v2/images", Some(&olga), None).await;
    assert_eq!(v["images"][0]["id"], id);
    // A member may not change or delete the image.
    let (s, _) = region.call("DELETE", &format!("/image/v2/images/{id}"), Some(&olga), None).await;
    assert_eq!(s, 403);

    // A deactivated image: its data only for operators, no volume made from it, and back
    // once reactivated; only the owner's members (or an operator) may do either.
    let (s, _) = region.call("POST", &format!("/image/v2/images/{id}/actions/deactivate"), Some(&olga), None).await;
    assert_eq!(s, 403);
    let (ok, _, err) = region.openstack(&["image", "set", "--deactivate", "img1"]);
    assert!(ok, "{err}");
    assert_eq!(region.openstack_json(&["image", "show", "img1"])["status"], "deactivated");
    let (s, v) = region.call("GET", &format!("/image/v2/images/{id}/file"), Some(&olga), None).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = region
        .call(
            "POST",
            &format!("/volume/v3/{other_project}/volumes"),
            Some(&olga),
            Some(json!({"volume": {"size": 10, "imageRef": id}})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("is not active"), "{v}");
    let (ok, _, err) = region.openstack(&["image", "save", "--file", out.to_str().unwrap(), "img1"]);
    assert!(ok, "operators still read it: {err}");
    let (ok, _, err) = region.openstack(&["image", "set", "--activate", "img1"]);
    assert!(ok, "{err}");
    let (s, _) = region.call("GET", &format!("/image/v2/images/{id}/file"), Some(&olga), None).await;
    assert_eq!(s, 200);
    let (s, queued) = region.call("POST", "/image/v2/images", Some(&admin), Some(json!({"name": "empty"}))).await;
    assert_eq!(s, 201);
    let url = format!("/image/v2/images/{}/actions/deactivate", queued["id"].as_str().unwrap());
    let (s, v) = region.call("POST", &url, Some(&admin), None).await;
    assert_eq!(s, 403, "a queued image has nothing to withdraw: {v}");

    // Only the cloud admin publishes images.
    let (s, v) = region
        .call("POST", "/image/v2/images", Some(&olga), Some(json!({"name": "pub", "visibility": "public"})))
        .await;
    assert_eq!(s, 403, "{v}");

    // Data that is not what the image declares is refused, and so is a backing file.
    let raw = dir.path().join("raw.img");
    std::fs::write(&raw, vec![0u8; 4096]).unwrap();
    let (ok, _, err) = create_qcow2_image(&region, &raw, "liar");
    assert!(!ok && err.contains("400"), "{err}");
    let backed = dir.path().join("backed.qcow2");
    qemu_img(&["create", "-f", "qcow2", "-F", "qcow2", "-b", disk_s, backed.to_str().unwrap()]);
    let (ok, _, err) = create_qcow2_image(&region, &backed, "sneaky");
    assert!(!ok && err.contains("backing file"), "{err}");

    // Quota: a project at its image limit cannot create more.
    let (s, _) = region
        .call(
            "PUT",
            &format!("/compute/v2.1/os-quota-sets/{other_project}"),
            Some(&admin),
            Some(json!({"quota_set": {}})),
        )
        .await;
    assert_eq!(s, 200);
    let me = region.call("GET", "/identity/v3/auth/catalog", Some(&olga), None).await;
    assert_eq!(me.0, 200);
    let (s, _) = region.call("POST", "/image/v2/images", Some(&olga), Some(json!({"name": "one"}))).await;
    assert_eq!(s, 201);
    let mut created = 1;
    let status = loop {
        let (s, v) = region.call("POST", "/image/v2/images", Some(&olga), Some(json!({"name": "more"}))).await;
        if s != 201 {
            break (s, v);
        }
        created += 1;
        assert!(created <= 20, "the default image quota is 20");
    };
    assert_eq!(status.0, 403, "{}", status.1);
    assert!(status.1["forbidden"]["message"].as_str().unwrap().contains("images"), "{}", status.1);

    // Bad input.
    let (s, _) = region.call("POST", "/image/v2/images", Some(&admin), Some(json!({"disk_format": "floppy"}))).await;
    assert_eq!(s, 400);
    let (s, _) = region.call("POST", "/image/v2/images", Some(&admin), Some(json!({"min_ram": "lots"}))).await;
    assert_eq!(s, 400);
    let (s, v): (u16, Value) = region
        .call(
            "PATCH",
            &format!("/image/v2/images/{id}"),
            Some(&admin),
            Some(json!([{"op": "replace", "path": "/size", "value": 1}])),
        )
        .await;
    assert_eq!(s, 403, "{v}");

    // Protected images refuse deletion; deleting removes the data.
    let (ok, _, err) = region.openstack(&["image", "set", "--protected", "img1"]);
    assert!(ok, "{err}");
    let (ok, _, _) = region.openstack(&["image", "delete", "img1"]);
    assert!(!ok);
    let (ok, _, err) = region.openstack(&["image", "set", "--unprotected", "img1"]);
    assert!(ok, "{err}");
    let (ok, _, err) = region.openstack(&["image", "delete", "img1"]);
    assert!(ok, "{err}");
    assert!(!region.data_dir.join("images").join(&id).exists(), "image data left behind");
}

/// `nimbus up --default-image-dir` registers the project-built `nimbus-tiny` as a public
/// image every tenant can use; restarting does not register it twice.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_image_is_public_and_ready() {
    let tiny = match std::env::var("NIMBUS_TINY_DIR") {
        Ok(d) if !d.is_empty() => d,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true but NIMBUS_TINY_DIR is unset"),
        _ => {
            eprintln!("NIMBUS_TINY_DIR unset: build it with scripts/build-default-image.sh to run this test");
            return;
        }
    };
    let mut region = Region::start_with(&common::Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.as_str())], None);
    let admin = region.admin_token().await;
    region.tenant(&admin, "users", "uma", "uma-pw", "member").await;
    let uma = region.os_env("uma", "uma-pw", "users");
    let (ok, out, err) = region.openstack_as(&uma, &["image", "show", "nimbus-tiny", "-f", "json"]);
    assert!(ok, "{err}");
    let img: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((img["status"].as_str(), img["visibility"].as_str()), (Some("active"), Some("public")), "{img}");
    assert_eq!(img["disk_format"], "qcow2");
    let file = std::path::Path::new(&tiny).join("nimbus-tiny.qcow2");
    assert_eq!(img["size"], std::fs::metadata(&file).unwrap().len());
    let md5 = Command::new("md5sum").arg(&file).output().unwrap();
    assert_eq!(img["checksum"].as_str().unwrap(), String::from_utf8_lossy(&md5.stdout).split(' ').next().unwrap());
    // A tenant cannot delete or change the public image.
    let (ok, _, err) = region.openstack_as(&uma, &["image", "delete", "nimbus-tiny"]);
    assert!(!ok && err.contains("403"), "{err}");

    region.kill9();
    region.launch();
    let list = region.openstack_json(&["image", "list", "--name", "nimbus-tiny"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "registered once: {list}");
}
