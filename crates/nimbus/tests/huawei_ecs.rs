//! The native ECS API driven by the unmodified `huaweicloudsdkecs` against real QEMU guests:
//! batch create with `count` and `X-Client-Token`, the job with one sub-job per server, show,
//! list, batch stop/start/reboot, bad input, delete. The checks live in
//! `tests/clients/huawei_ecs_check.py`; this test adds what the SDK cannot see: the audit
//! trail, and that nothing is left on the host afterwards.

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
