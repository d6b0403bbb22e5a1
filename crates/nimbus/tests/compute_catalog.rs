//! The compute catalogue through the real `openstack` CLI: flavors named like the seed's
//! provider, key pairs (fingerprints as ssh-keygen computes them), availability zones,
//! private flavors, and microversion negotiation.

mod common;

use common::Region;
use serde_json::json;
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn flavors_keypairs_and_zones() {
    let region = Region::start();
    let flavors = region.openstack_json(&["flavor", "list"]);
    let find = |name: &str| flavors.as_array().unwrap().iter().find(|f| f["Name"] == name).cloned();
    let small = find("s3.small.1").expect("s3.small.1 is in the catalogue");
    assert_eq!((small["VCPUs"].as_i64(), small["RAM"].as_i64()), (Some(1), Some(1024)));
    let large = find("m3.large.8").expect("m3.large.8 is in the catalogue");
    assert_eq!((large["VCPUs"].as_i64(), large["RAM"].as_i64()), (Some(2), Some(16384)));
    assert!(find("d3.xlarge.8").unwrap()["Ephemeral"].as_i64().unwrap() > 0, "d3 flavors have local disks");
    assert!(find("c3.large.2").is_some() && find("s3.large.4").is_some());

    // Key pairs: imported public keys, fingerprinted like ssh-keygen.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k1");
    let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(st.success());
    let pubkey = key.with_extension("pub");
    let kp = region.openstack_json(&["keypair", "create", "--public-key", pubkey.to_str().unwrap(), "k1"]);
    let out = Command::new("ssh-keygen").args(["-E", "md5", "-lf"]).arg(&pubkey).output().unwrap();
    let expected =
        String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).unwrap().trim_start_matches("MD5:").to_string();
    assert_eq!(kp["fingerprint"], expected.as_str());
    let (ok, _, err) = region.openstack(&["keypair", "create", "--public-key", pubkey.to_str().unwrap(), "k1"]);
    assert!(!ok && err.contains("409"), "{err}");
    let bad = dir.path().join("bad.pub");
    std::fs::write(&bad, "ssh-ed25519 not-a-key").unwrap();
    let (ok, _, err) = region.openstack(&["keypair", "create", "--public-key", bad.to_str().unwrap(), "k2"]);
    assert!(!ok && err.contains("400"), "{err}");
    let list = region.openstack_json(&["keypair", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Another user sees none of it, and cannot manage flavors.
    let admin = region.admin_token().await;
    let (pid, _) = region.tenant(&admin, "other", "otto", "otto-pw", "member").await;
    let (otto, _) = region.token("otto", "otto-pw", "other").await;
    let (s, v) = region.call("GET", "/compute/v2.1/os-keypairs", Some(&otto), None).await;
    assert_eq!((s, v["keypairs"].clone()), (200, json!([])));
    let (s, _) = region.call("GET", "/compute/v2.1/os-keypairs/k1", Some(&otto), None).await;
    assert_eq!(s, 404);
    let (s, _) = region.call("DELETE", "/compute/v2.1/os-keypairs/k1", Some(&otto), None).await;
    assert_eq!(s, 404);
    let body = json!({"flavor": {"name": "mine", "vcpus": 1, "ram": 128, "disk": 1}});
    let (s, _) = region.call("POST", "/compute/v2.1/flavors", Some(&otto), Some(body)).await;
    assert_eq!(s, 403);

    // Private flavors: invisible until the project is given access.
    let (ok, _, err) = region.openstack(&[
        "flavor",
        "create",
        "--vcpus",
        "1",
        "--ram",
        "256",
        "--disk",
        "1",
        "--private",
        "tiny.private",
    ]);
    assert!(ok, "{err}");
    let (s, _) = region.call("GET", "/compute/v2.1/flavors/tiny.private", Some(&otto), None).await;
    assert_eq!(s, 404);
    let (ok, _, err) = region.openstack(&["flavor", "set", "--project", &pid, "tiny.private"]);
    assert!(ok, "{err}");
    let (s, v) = region.call("GET", "/compute/v2.1/flavors/tiny.private", Some(&otto), None).await;
    assert_eq!(s, 200, "{v}");

    // Zones.
    let zones = region.openstack_json(&["availability", "zone", "list", "--compute"]);
    let names: Vec<&str> = zones.as_array().unwrap().iter().map(|z| z["Zone Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["eu-west-0a", "eu-west-0b", "eu-west-0c"]);

    // Microversions: echoed when served, 406 when not, 400 when malformed.
    let r = region
        .http
        .get(format!("{}/compute/v2.1/flavors/s3.small.1", region.url))
        .header("X-Auth-Token", &admin)
        .header("OpenStack-API-Version", "compute 2.75")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["openstack-api-version"], "compute 2.75");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["flavor"]["swap"], 0);
    assert!(v["flavor"].get("extra_specs").is_some(), "2.61+ shows extra_specs");
    let (s, v) = region.call("GET", "/compute/v2.1/flavors/s3.small.1", Some(&admin), None).await;
    assert_eq!((s, v["flavor"]["swap"].clone()), (200, json!("")), "2.1 renders an empty swap as \"\"");
    assert!(v["flavor"].get("description").is_none(), "2.1 has no description");
    let r = region
        .http
        .get(format!("{}/compute/v2.1/flavors", region.url))
        .header("X-Auth-Token", &admin)
        .header("OpenStack-API-Version", "compute 2.999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["notAcceptable"]["message"].as_str().unwrap().contains("2.999"), "{v}");
}
