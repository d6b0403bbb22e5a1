//! Boots the default image (`nimbus-tiny`, built by `scripts/build-default-image.sh` into
//! `NIMBUS_TINY_DIR`) as a real QEMU guest through the driver: config drive, user data,
//! console log, reboot, stop, start, destroy. KVM is used only if it really runs a guest.

use nimbus_drivers::hypervisor::qemu::{probe_kvm, Accel, Qemu};
use nimbus_drivers::hypervisor::{BaseImage, ConfigData, GuestSpec, GuestState, Hypervisor};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn tiny_dir() -> Option<PathBuf> {
    match std::env::var("NIMBUS_TINY_DIR") {
        Ok(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true but NIMBUS_TINY_DIR is unset"),
        _ => None,
    }
}

async fn wait_console(q: &Qemu, id: &str, needle: &str, count: usize, within: Duration) -> String {
    let start = Instant::now();
    loop {
        let log = q.console_log(id, 1 << 20).await.unwrap();
        if log.matches(needle).count() >= count {
            return log;
        }
        assert!(start.elapsed() < within, "no {needle:?} (x{count}) on the console within {within:?}:\n{log}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_image_boots_under_the_qemu_driver() {
    let Some(tiny) = tiny_dir() else {
        eprintln!("NIMBUS_TINY_DIR unset: build the image with scripts/build-default-image.sh to run this test");
        return;
    };
    let image = tiny.join("nimbus-tiny.qcow2");
    assert!(image.exists(), "{} missing", image.display());
    let accel = if probe_kvm(&tiny.join("vmlinuz"), Duration::from_secs(10)).await { Accel::Kvm } else { Accel::Tcg };
    let tmp = tempfile::tempdir().unwrap();
    let q = Qemu::new(tmp.path().join("instances"), accel).unwrap();
    let id = "0123456789abcdef0123456789abcdef";
    let dir = q.dir(id);
    let meta =
        json!({"uuid": id, "name": "vm1", "hostname": "vm1", "public_keys": {"k1": "ssh-ed25519 AAAAC3Nza test"}});
    let spec = GuestSpec {
        id: id.into(),
        vcpus: 1,
        memory_mb: 256,
        mac: "fa:16:3e:00:00:01".into(),
        image: BaseImage {
            id: "tiny".into(),
            path: image.clone(),
            format: "qcow2".into(),
            virtual_size: nimbus_drivers::image_files::inspect_file(&image).await.unwrap().virtual_size,
        },
        disk_gb: 2,
        root_volume: None,
        config: ConfigData {
            meta_data: meta,
            network_data: json!({"links": [], "networks": [], "services": []}),
            user_data: Some(b"#!/bin/sh\necho hello from user-data\n".to_vec()),
        },
        volumes: vec![],
        nics: Vec::new(),
    };
    q.prepare(&spec).await.unwrap();
    q.prepare(&spec).await.unwrap(); // idempotent: the disk is kept, the config drive rewritten
    let disk = nimbus_drivers::image_files::inspect_file(&dir.join("disk.qcow2")).await.unwrap();
    assert_eq!(disk.virtual_size, 2 << 30, "the overlay has the flavor's size");
    assert!(disk.backing_file.is_some(), "the boot disk is an overlay on the cached base");
    q.start(&spec).await.unwrap();
    q.start(&spec).await.unwrap(); // idempotent: the running guest is left alone
    let log = wait_console(&q, id, "nimbus-tiny: ready", 1, Duration::from_secs(240)).await;
    assert!(log.contains("hello from user-data"), "{log}");
    assert!(log.contains("hostname=vm1"), "{log}");
    assert_eq!(q.state(id).await.unwrap(), GuestState::Running);
    assert_eq!(q.guests().await.unwrap(), vec![id.to_string()]);

    q.reboot(id, true).await.unwrap();
    wait_console(&q, id, "nimbus-tiny: ready", 2, Duration::from_secs(240)).await;

    q.stop(id, Duration::from_secs(30)).await.unwrap();
    assert_eq!(q.state(id).await.unwrap(), GuestState::Missing);
    let exported = tmp.path().join("export.qcow2");
    q.export_disk(id, &exported).await.unwrap();
    let info = nimbus_drivers::image_files::inspect_file(&exported).await.unwrap();
    assert_eq!((info.format.as_str(), info.backing_file), ("qcow2", None), "an export stands alone");
    q.grow_disk(id, 3).await.unwrap();
    let grown = nimbus_drivers::image_files::inspect_file(&dir.join("disk.qcow2")).await.unwrap();
    assert_eq!(grown.virtual_size, 3 << 30);
    q.start(&spec).await.unwrap();
    wait_console(&q, id, "nimbus-tiny: ready", 3, Duration::from_secs(240)).await;

    q.destroy(id).await.unwrap();
    assert_eq!(q.state(id).await.unwrap(), GuestState::Missing);
    assert!(!dir.exists(), "the instance directory is removed");
    assert!(q.guests().await.unwrap().is_empty());
    let exported = tmp.path().join("export.qcow2");
    assert!(q.export_disk(id, &exported).await.is_err(), "nothing left to export");
}
