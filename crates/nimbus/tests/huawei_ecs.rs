//! The native ECS API driven by the unmodified `huaweicloudsdkecs` against real QEMU guests:
//! batch create with `count` and `X-Client-Token`, the job with one sub-job per server, show,
//! list, batch stop/start/reboot, bad input, delete. The checks live in
//! `tests/clients/huawei_ecs_check.py`; this test adds what the SDK cannot see: the audit
//! trail, the EVS volumes the servers got (an SSD system disk made from the image, a SATA
//! data disk) and that they went with the servers, and that nothing is left on the host.

mod common;

use common::{qemu_pids, tiny_dir, Db, Region, ADMIN_PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn the_huawei_ecs_sdk_drives_real_servers() {
    let Some(tiny) = tiny_dir() else { return };
    let region = Region::start_with(&Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.to_str().unwrap())], None);
    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (code, images) = region.call("GET", "/image/v2/images?name=nimbus-tiny", Some(&token), None).await;
    assert_eq!(code, 200);
    let image = images["images"][0]["id"].as_str().unwrap().to_string();
    let (ak, sk) = region.admin_keys();
    let out = std::process::Command::new(common::venv_bin("python"))
        .arg(common::repo_root().join("tests/clients/huawei_ecs_check.py"))
        .env("NIMBUS_ENDPOINT", &region.url)
        .env("NIMBUS_ACCESS_KEY", ak)
        .env("NIMBUS_SECRET_KEY", sk)
        .env("NIMBUS_PROJECT_ID", &project)
        .env("NIMBUS_IMAGE_ID", &image)
        .env("NIMBUS_FLAVOR", "s3.small.1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Huawei ECS SDK checks failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    // Every server the SDK created and deleted is traced.
    let (code, traces) =
        region.call("GET", &format!("/v3/{project}/traces?resource_type=ecs&limit=200"), Some(&token), None).await;
    assert_eq!(code, 200, "{traces}");
    let names: Vec<&str> =
        traces["traces"].as_array().unwrap().iter().filter_map(|t| t["trace_name"].as_str()).collect();
    for action in ["createServer", "stopServer", "startServer", "rebootServer", "deleteServer"] {
        assert!(names.iter().filter(|n| **n == action).count() >= 2, "{action} traced per server: {names:?}");
    }
    // Each server had an SSD system disk made from the image and a 10 GB SATA data disk (so
    // metering says), and the delete took both (`delete_volume`).
    let (code, usage) = region.call("GET", &format!("/v1/{project}/metering/events"), Some(&token), None).await;
    assert_eq!(code, 200, "{usage}");
    let mut types: Vec<String> = usage["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource_type"] == "evs" && e["event"] == "created")
        .map(|e| e["flavor"].as_str().unwrap_or_default().to_string())
        .collect();
    types.sort();
    assert_eq!(types, ["SATA", "SATA", "SSD", "SSD"], "{usage}");
    region
        .wait_for(120, "the servers' volumes to go", || async {
            let (code, v) = region.call("GET", &format!("/volume/v3/{project}/volumes"), Some(&token), None).await;
            assert_eq!(code, 200, "{v}");
            v["volumes"].as_array().unwrap().is_empty().then_some(())
        })
        .await;
    // Nothing left behind once the delete job finished.
    assert!(qemu_pids(&region.data_dir.join("instances")).is_empty(), "no QEMU process left");
    let left: Vec<_> = std::fs::read_dir(region.data_dir.join("instances"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "_base")
        .collect();
    assert!(left.is_empty(), "instance files left: {left:?}");
}
