//! Encrypted volumes (issue 5, seed 6.2.1: "delete leaves no readable data ... for encrypted
//! volumes, the key is destroyed"): Cinder encryption types made and refused with the
//! `openstack` CLI, LUKS volumes whose files hold no plaintext, copies (image, clone, backup,
//! restore) that open with their own copy of the key, EVS's encryption flag, the rules that
//! keep encryption fixed, and the keys destroyed with what they open. Then real guests: one
//! booted from an encrypted volume, writing to an encrypted data disk, which is grown online,
//! backed up, restored and read back by the guest.

mod common;

use common::{compute_region, databases, serial, wait_console, Region, ADMIN_PASSWORD, READY};
use serde_json::{json, Value};

async fn wait_volume(region: &Region, name: &str, status: &str) -> Value {
    region
        .wait_for(180, &format!("volume {name} {status}"), || async {
            let (ok, out, _) = region.openstack(&["volume", "show", name, "-f", "json"]);
            let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            (ok && v["status"] == status).then_some(v)
        })
        .await
}

async fn wait_backup(region: &Region, name: &str) -> Value {
    region
        .wait_for(180, &format!("backup {name} available"), || async {
            let (ok, out, _) = region.openstack(&["volume", "backup", "show", name, "-f", "json"]);
            let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            (ok && v["status"] == "available").then_some(v)
        })
        .await
}

fn volume_file(region: &Region, id: &str) -> std::path::PathBuf {
    region.data_dir.join("volumes").join(format!("{id}.qcow2"))
}

/// Whether `needle` appears anywhere in a file's bytes.
fn file_contains(path: &std::path::Path, needle: &[u8]) -> bool {
    let data = std::fs::read(path).unwrap();
    data.windows(needle.len()).any(|w| w == needle)
}

/// The first bytes of the content a QCOW2 container holds (for an encrypted volume: the
/// LUKS header, not what the guest sees).
fn container_head(path: &std::path::Path) -> Vec<u8> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let st = std::process::Command::new("qemu-img")
        .args(["dd", "-U", "-f", "qcow2", "-O", "raw", "bs=512", "count=1"])
        .arg(format!("if={}", path.display()))
        .arg(format!("of={}", out.path().display()))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(out.path()).unwrap()
}

/// Key rows in the store (each a volume's or a backup's own copy).
async fn key_rows(region: &Region) -> i64 {
    sqlx::any::install_default_drivers();
    let url = region
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", region.data_dir.join("nimbus.db").display()));
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM volume_keys").fetch_one(&mut c).await.unwrap()
}

/// An image uploaded from a volume, downloaded: the bytes the guest sees.
async fn volume_as_image(region: &Region, volume: &str, dir: &std::path::Path) -> Vec<u8> {
    let name = format!("img-{volume}");
    let (ok, _, err) = region.openstack(&["image", "create", "--volume", volume, "--disk-format", "raw", &name]);
    assert!(ok, "{err}");
    region
        .wait_for(180, "the volume's image", || async {
            let i = region.openstack_json(&["image", "show", &name]);
            (i["status"] == "active").then_some(())
        })
        .await;
    let out = dir.join(format!("{name}.raw"));
    let (ok, _, err) = region.openstack(&["image", "save", "--file", out.to_str().unwrap(), &name]);
    assert!(ok, "{err}");
    let (ok, _, err) = region.openstack(&["image", "delete", &name]);
    assert!(ok, "{err}");
    let mut head = vec![0u8; 1 << 20];
    use std::io::Read;
    std::fs::File::open(&out).unwrap().read_exact(&mut head).unwrap();
    std::fs::remove_file(&out).unwrap();
    head
}

const PATTERN: &[u8] = b"nimbus-plaintext-0123456789abcdef";

#[tokio::test(flavor = "multi_thread")]
async fn encrypted_volume_types_with_the_openstack_cli() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let dir = tempfile::tempdir().unwrap();
        let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let cinder = format!("/volume/v3/{project}");

        // An operator makes an encrypted type, as the CLI does it.
        let (ok, _, err) = region.openstack(&[
            "volume",
            "type",
            "create",
            "--encryption-provider",
            "luks",
            "--encryption-cipher",
            "aes-xts-plain64",
            "--encryption-key-size",
            "256",
            "--encryption-control-location",
            "front-end",
            "LUKS",
        ]);
        assert!(ok, "{err}");
        let (ok, out, err) = region.openstack(&["volume", "type", "show", "--encryption-type", "LUKS", "-f", "json"]);
        assert!(ok, "{err}");
        assert!(out.contains("luks") && out.contains("aes-xts-plain64") && out.contains("256"), "{out}");
        let luks = region.openstack_json(&["volume", "type", "show", "LUKS"]);
        let luks_id = luks["id"].as_str().unwrap().to_string();
        let (code, enc) = region.call("GET", &format!("{cinder}/types/{luks_id}/encryption"), Some(&token), None).await;
        assert_eq!((code, enc["provider"].as_str(), enc["key_size"].as_i64()), (200, Some("luks"), Some(256)), "{enc}");
        let encryption_id = enc["encryption_id"].as_str().unwrap().to_string();

        // Refused, nothing changed: a second encryption, a key size that is no number, a
        // location not Cinder's, no provider, a field Cinder does not have.
        let plain = region.openstack_json(&["volume", "type", "create", "Plain2"]);
        let plain_id = plain["id"].as_str().unwrap().to_string();
        for (type_id, body, says) in [
            (&luks_id, json!({"encryption": {"provider": "luks"}}), "already exists"),
            (&plain_id, json!({"encryption": {"provider": "luks", "key_size": "big"}}), "key_size"),
            (&plain_id, json!({"encryption": {"provider": "luks", "key_size": -1}}), "key_size"),
            (&plain_id, json!({"encryption": {"provider": "luks", "control_location": "middle"}}), "control location"),
            (&plain_id, json!({"encryption": {"cipher": "aes-xts-plain64"}}), "provider"),
            (&plain_id, json!({"encryption": {"provider": "luks", "evil": 1}}), "evil"),
        ] {
            let path = format!("{cinder}/types/{type_id}/encryption");
            let (code, e) = region.call("POST", &path, Some(&token), Some(body.clone())).await;
            assert_eq!(code, 400, "{body}: {e}");
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
        let (_, none) = region.call("GET", &format!("{cinder}/types/{plain_id}/encryption"), Some(&token), None).await;
        assert_eq!(none, json!({}), "a refused encryption leaves the type plain");
        // Cinder keeps any provider and cipher; a volume of a type this region cannot encrypt
        // is refused with the reason, and none is made.
        let path = format!("{cinder}/types/{plain_id}/encryption");
        let (code, e) =
            region.call("POST", &path, Some(&token), Some(json!({"encryption": {"provider": "plain"}}))).await;
        assert_eq!(code, 200, "{e}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--size", "10", "--type", "Plain2", "dm"]);
        assert!(!ok && err.contains("cannot do"), "{err}");
        assert!(region.openstack_json(&["volume", "list"]).as_array().unwrap().is_empty());

        // An encrypted volume: its container holds a LUKS header, not what the guest sees.
        let v = region.openstack_json(&["volume", "create", "--size", "10", "--type", "LUKS", "enc1"]);
        let enc1 = v["id"].as_str().unwrap().to_string();
        let v = wait_volume(&region, "enc1", "available").await;
        assert_eq!(v["encrypted"], true, "{v}");
        assert!(container_head(&volume_file(&region, &enc1)).starts_with(b"LUKS\xba\xbe"), "a LUKS header");
        let (_, shown) = region.call("GET", &format!("{cinder}/volumes/{enc1}"), Some(&token), None).await;
        assert_eq!(shown["volume"]["encrypted"], true, "{shown}");

        // A plaintext image written into an encrypted volume: the file holds ciphertext, the
        // image made back from it the plaintext.
        let raw = dir.path().join("pattern.raw");
        let mut data = vec![0u8; 1 << 20];
        for (i, chunk) in data.chunks_mut(4096).enumerate() {
            chunk[..PATTERN.len()].copy_from_slice(PATTERN);
            chunk[PATTERN.len()] = i as u8;
        }
        std::fs::write(&raw, &data).unwrap();
        let (ok, _, err) = region.openstack(&[
            "image",
            "create",
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "--file",
            raw.to_str().unwrap(),
            "pattern",
        ]);
        assert!(ok, "{err}");
        region.openstack_json(&["volume", "create", "--image", "pattern", "--type", "LUKS", "--size", "1", "fromimg"]);
        let fromimg = wait_volume(&region, "fromimg", "available").await;
        let fromimg_id = fromimg["id"].as_str().unwrap().to_string();
        assert_eq!(fromimg["encrypted"], true, "{fromimg}");
        assert!(!file_contains(&volume_file(&region, &fromimg_id), PATTERN), "no plaintext in the volume's file");
        assert_eq!(volume_as_image(&region, "fromimg", dir.path()).await, data, "the guest's view is the image");

        // A clone and a backup's restore are encrypted and open with their own key copies.
        region.openstack_json(&["volume", "create", "--source", "fromimg", "--size", "10", "clone1"]);
        let clone1 = wait_volume(&region, "clone1", "available").await;
        assert_eq!(clone1["encrypted"], true, "{clone1}");
        let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--name", "eb1", "fromimg"]);
        assert!(ok, "{err}");
        wait_backup(&region, "eb1").await;
        let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "eb1", "restored1"]);
        assert!(ok, "{err}");
        let restored = wait_volume(&region, "restored1", "available").await;
        assert_eq!(restored["encrypted"], true, "{restored}");
        let restored_id = restored["id"].as_str().unwrap().to_string();
        assert!(!file_contains(&volume_file(&region, &restored_id), PATTERN), "no plaintext in the restore");
        // fromimg, clone1, eb1, restored1 (enc1 too): one key each.
        assert_eq!(key_rows(&region).await, 5);
        // The source gone (its key destroyed), the backup still restores: its own copy.
        let (ok, _, err) = region.openstack(&["volume", "delete", "fromimg", "clone1"]);
        assert!(ok, "{err}");
        region
            .wait_for(120, "fromimg and clone1 deleted", || async {
                let list = region.openstack_json(&["volume", "list"]);
                (list.as_array().unwrap().len() == 2).then_some(())
            })
            .await;
        assert_eq!(key_rows(&region).await, 3, "the deleted volumes' keys are destroyed");
        assert_eq!(volume_as_image(&region, "restored1", dir.path()).await, data, "the restore reads back");

        // Encryption stays fixed. Refused, nothing changed: a retype to a plain type, a clone
        // asking for a plain type, a restore onto a plain volume, the type's encryption
        // changed or removed while volumes use it, a KMS key for an EVS volume.
        let (ok, _, err) = region.openstack(&["volume", "set", "--type", "SSD", "--retype-policy", "never", "enc1"]);
        assert!(!ok && err.contains("encryption"), "{err}");
        let (ok, _, err) = region.openstack(&["volume", "create", "--source", "enc1", "--type", "SSD", "x"]);
        assert!(!ok && err.contains("encrypt"), "{err}");
        region.openstack_json(&["volume", "create", "--size", "10", "--type", "SSD", "plain1"]);
        wait_volume(&region, "plain1", "available").await;
        let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "--force", "eb1", "plain1"]);
        assert!(!ok && err.contains("encrypt"), "{err}");
        let enc_path = format!("{cinder}/types/{luks_id}/encryption/{encryption_id}");
        let (code, e) =
            region.call("PUT", &enc_path, Some(&token), Some(json!({"encryption": {"key_size": 512}}))).await;
        assert_eq!(code, 400, "{e}");
        let (code, e) = region.call("DELETE", &enc_path, Some(&token), None).await;
        assert!(code == 400 && e.to_string().contains("in use"), "{e}");
        let evs = format!("/v2.1/{project}/cloudvolumes");
        let (code, e) = region
            .call(
                "POST",
                &evs,
                Some(&token),
                Some(json!({"volume": {"name": "kms", "size": 10, "volume_type": "SSD",
                    "metadata": {"__system__encrypted": "1",
                    "__system__cmkid": "00000000-0000-0000-0000-000000000000"}}})),
            )
            .await;
        assert!(code == 400 && e.to_string().contains("__system__cmkid"), "{code} {e}");
        assert_eq!(region.openstack_json(&["volume", "show", "enc1"])["type"], "LUKS");
        assert_eq!(region.openstack_json(&["volume", "list"]).as_array().unwrap().len(), 3);
        assert_eq!(key_rows(&region).await, 3);

        // EVS's flag encrypts a volume of any type with a key the region keeps.
        let (code, e) = region
            .call(
                "POST",
                &evs,
                Some(&token),
                Some(json!({"volume": {"name": "evs-enc", "size": 10, "volume_type": "SSD",
                    "metadata": {"__system__encrypted": "1"}}})),
            )
            .await;
        assert!(code < 300, "{e}");
        let v = wait_volume(&region, "evs-enc", "available").await;
        assert_eq!(v["encrypted"], true, "{v}");
        assert_eq!(key_rows(&region).await, 4);

        // Everything deleted: every key destroyed; the type's encryption can go.
        let (ok, _, err) = region.openstack(&["volume", "backup", "delete", "eb1"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["volume", "delete", "enc1", "restored1", "plain1", "evs-enc"]);
        assert!(ok, "{err}");
        region
            .wait_for(120, "every volume and backup deleted", || async {
                let vols = region.openstack_json(&["volume", "list"]);
                let backups = region.openstack_json(&["volume", "backup", "list"]);
                (vols.as_array().unwrap().is_empty() && backups.as_array().unwrap().is_empty()).then_some(())
            })
            .await;
        assert_eq!(key_rows(&region).await, 0, "no key outlives what it opened");
        let (code, e) = region.call("DELETE", &enc_path, Some(&token), None).await;
        assert_eq!(code, 202, "{e}");
        let (_, none) = region.call("GET", &format!("{cinder}/types/{luks_id}/encryption"), Some(&token), None).await;
        assert_eq!(none, json!({}));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypted_volumes_in_real_guests() {
    let Some(region) = compute_region(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let watch = dir.path().join("watch.sh");
    // The first 35 bytes: a marker's length (what follows it on a LUKS disk never written is
    // noise), letters, digits and dashes only.
    std::fs::write(&watch, common::disk_watch("head -c 35 /dev/$n | tr -dc 'a-z0-9-'")).unwrap();
    let (ok, _, err) = region.openstack(&[
        "volume",
        "type",
        "create",
        "--encryption-provider",
        "luks",
        "--encryption-control-location",
        "front-end",
        "LUKS",
    ]);
    assert!(ok, "{err}");

    // A server booted from an encrypted volume made from the image: QEMU opens it with its
    // key at start.
    region.openstack_json(&["volume", "create", "--image", "nimbus-tiny", "--type", "LUKS", "--size", "1", "boot"]);
    let boot = wait_volume(&region, "boot", "available").await;
    assert_eq!(boot["encrypted"], true, "{boot}");
    let s = region.openstack_json(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--volume",
        "boot",
        "--user-data",
        watch.to_str().unwrap(),
        "--wait",
        "vm1",
    ]);
    assert_eq!(s["status"], "ACTIVE", "{s}");
    let vm1 = s["id"].as_str().unwrap().to_string();
    wait_console(&region, "vm1", READY, 1).await;
    // No passphrase on QEMU's command line.
    let cmdlines: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&vm1))
        .collect();
    assert!(!cmdlines.is_empty() && cmdlines.iter().all(|c| c.contains("file=/dev/fd/") && !c.contains("data=")));

    // An encrypted data disk hot-plugged: the guest writes to it; the file holds no
    // plaintext.
    let d = region.openstack_json(&["volume", "create", "--size", "10", "--type", "LUKS", "data1"]);
    let data1 = d["id"].as_str().unwrap().to_string();
    wait_volume(&region, "data1", "available").await;
    let (ok, _, err) = region.openstack(&["server", "add", "volume", "vm1", "data1"]);
    assert!(ok, "{err}");
    wait_volume(&region, "data1", "in-use").await;
    wait_console(&region, "vm1", &format!("disks: vdc:{}:{}.", serial(&data1), 10u64 << 21), 1).await;
    wait_console(&region, "vm1", "wrote vdc", 1).await;
    let marker = format!("nimbus-pattern-{}", serial(&data1));
    assert!(!file_contains(&volume_file(&region, &data1), marker.as_bytes()), "no plaintext in the file");

    // Grown online: the guest sees the new size at once.
    let (ok, _, err) = region.openstack(&["--os-volume-api-version", "3.42", "volume", "set", "--size", "20", "data1"]);
    assert!(ok, "{err}");
    wait_console(&region, "vm1", &format!("disks: vdc:{}:{}.", serial(&data1), 20u64 << 21), 1).await;

    // Backed up while in use, restored to a new volume, plugged into the guest: it reads
    // what it wrote to data1.
    let (ok, _, err) = region.openstack(&["volume", "backup", "create", "--force", "--name", "b1", "data1"]);
    assert!(ok, "{err}");
    wait_backup(&region, "b1").await;
    let (ok, _, err) = region.openstack(&["volume", "backup", "restore", "b1", "restored"]);
    assert!(ok, "{err}");
    let r = wait_volume(&region, "restored", "available").await;
    assert_eq!((r["encrypted"].clone(), r["size"].as_i64()), (json!(true), Some(20)), "{r}");
    let (ok, _, err) = region.openstack(&["server", "add", "volume", "vm1", "restored"]);
    assert!(ok, "{err}");
    wait_console(&region, "vm1", &format!("head vdd: {marker}."), 1).await;

    // Detached and deleted with the server: the keys go with what they open.
    let (ok, _, err) = region.openstack(&["server", "remove", "volume", "vm1", "restored"]);
    assert!(ok, "{err}");
    wait_volume(&region, "restored", "available").await;
    let (ok, _, err) = region.openstack(&["volume", "delete", "restored"]);
    assert!(ok, "{err}");
    region
        .wait_for(120, "restored deleted", || async {
            let (ok, _, _) = region.openstack(&["volume", "show", "restored"]);
            (!ok).then_some(())
        })
        .await;
    // boot, data1 and b1 keep theirs.
    assert_eq!(key_rows(&region).await, 3);

    // The region's volume key lost: the region refuses to start rather than make a new one
    // (the keys it wraps would never open again); put back, the volumes open.
    let mut region = region;
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "vm1"]);
    assert!(ok, "{err}");
    region.stop();
    let key = region.data_dir.join("keys/evs.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let out = region.command().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the region refused to start");
    assert!(stderr.contains("evs.key"), "the error names the key: {stderr}");
    assert!(!key.exists(), "no new key was left in its place");
    std::fs::write(&key, saved).unwrap();
    region.launch();
    let (ok, _, err) = region.openstack(&["volume", "set", "--size", "30", "data1"]);
    assert!(ok, "{err}");
    region
        .wait_for(120, "data1 grown offline through its key", || async {
            let v = region.openstack_json(&["volume", "show", "data1"]);
            (v["size"] == 30 && v["status"] == "available").then_some(())
        })
        .await;
}
