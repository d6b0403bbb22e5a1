//! The native ECS API driven by the unmodified `huaweicloudsdkecs` against real QEMU guests:
//! batch create with `count` and `X-Client-Token`, the job with one sub-job per server, show,
//! list, batch stop/start/reboot, bad input, delete. The checks live in
//! `tests/clients/huawei_ecs_check.py`; this test adds what the SDK cannot see: the audit
//! trail, the EVS volumes the servers got (an SSD system disk made from the image, a SATA
//! data disk) and that they went with the servers, and that nothing is left on the host. The
//! servers are created in a VPC subnet made with the native VPC API: each gets a port there,
//! which goes with it.

mod common;

use common::{qemu_pids, tiny_dir, Db, Region, ADMIN_PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_huawei_ecs_sdk_drives_real_servers() {
    let Some(tiny) = tiny_dir() else { return };
    let region = Region::start_with(&Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.to_str().unwrap())], None);
    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (code, images) = region.call("GET", "/image/v2/images?name=nimbus-tiny", Some(&token), None).await;
    assert_eq!(code, 200);
    let image = images["images"][0]["id"].as_str().unwrap().to_string();
    let (code, vpc) = region
        .call(
            "POST",
            &format!("/v1/{project}/vpcs"),
            Some(&token),
            Some(json!({"vpc": {"name": "ecs-vpc", "cidr": "192.168.0.0/16"}})),
        )
        .await;
    assert_eq!(code, 200, "{vpc}");
    let vpc_id = vpc["vpc"]["id"].as_str().unwrap().to_string();
    let (code, subnet) = region
        .call(
            "POST",
            &format!("/v1/{project}/subnets"),
            Some(&token),
            Some(json!({"subnet": {"name": "ecs-sub", "cidr": "192.168.7.0/24", "gateway_ip": "192.168.7.1",
                "vpc_id": vpc_id}})),
        )
        .await;
    assert_eq!(code, 200, "{subnet}");
    let subnet_id = subnet["subnet"]["id"].as_str().unwrap().to_string();
    // A subnet of another VPC is refused, nothing made.
    let (code, other) = region
        .call("POST", &format!("/v1/{project}/vpcs"), Some(&token), Some(json!({"vpc": {"name": "other-vpc"}})))
        .await;
    assert_eq!(code, 200, "{other}");
    let (code, e) = region
        .call(
            "POST",
            &format!("/v1/{project}/cloudservers"),
            Some(&token),
            Some(json!({"server": {"name": "misplaced", "imageRef": image, "flavorRef": "s3.small.1",
                "vpcid": other["vpc"]["id"], "nics": [{"subnet_id": subnet_id}],
                "root_volume": {"volumetype": "SSD"}}})),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    assert!(e["error_msg"].as_str().unwrap().contains("is not a subnet of VPC"), "{e}");
    let (ak, sk) = region.admin_keys();
    let out = std::process::Command::new(common::venv_bin("python"))
        .arg(common::repo_root().join("tests/clients/huawei_ecs_check.py"))
        .env("NIMBUS_ENDPOINT", &region.url)
        .env("NIMBUS_ACCESS_KEY", ak)
        .env("NIMBUS_SECRET_KEY", sk)
        .env("NIMBUS_PROJECT_ID", &project)
        .env("NIMBUS_IMAGE_ID", &image)
        .env("NIMBUS_FLAVOR", "s3.small.1")
        .env("NIMBUS_VPC_ID", &vpc_id)
        .env("NIMBUS_SUBNET_ID", &subnet_id)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Huawei ECS SDK checks failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    // Each server had a port in the VPC subnet (so the audit trail says), gone with it.
    let (code, ports) =
        region.call("GET", &format!("/v3/{project}/traces?resource_type=port&limit=200"), Some(&token), None).await;
    assert_eq!(code, 200, "{ports}");
    let made = ports["traces"].as_array().unwrap().iter().filter(|t| t["trace_name"] == "createPort").count();
    assert_eq!(made, 2, "a port for each of the two servers: {ports}");
    let (code, left) =
        region.call("GET", &format!("/v1/{project}/ports?network_id={subnet_id}"), Some(&token), None).await;
    assert_eq!(code, 200, "{left}");
    let owners: Vec<&str> =
        left["ports"].as_array().unwrap().iter().filter_map(|p| p["device_owner"].as_str()).collect();
    assert_eq!(owners, ["network:router_interface"], "only the VPC's interface is left: {left}");

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
