//! The Nova server API over HTTP with the simulated hypervisor (no guests boot, so this runs
//! in seconds, on SQLite and on PostgreSQL): responses per microversion, bad input in Nova's
//! error format, quotas, the scheduler's "No valid host", server groups, resize with confirm
//! and revert, rebuild, snapshots to images, metadata, tags, and tenant isolation.

mod common;

use common::{databases, Db, Region};
use serde_json::{json, Value};

/// A small host (2 CPUs, no over-commit) so capacity runs out on purpose.
const CONFIG: &str = r#"
hypervisor = "simulated"
host_vcpus = 4
host_memory_mb = 16384
cpu_allocation_ratio = 1.0
ram_allocation_ratio = 1.0
"#;

async fn call_mv(
    region: &Region,
    method: &str,
    path: &str,
    token: &str,
    mv: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = region
        .http
        .request(method.parse().unwrap(), format!("{}{}", region.url, path))
        .header("X-Auth-Token", token)
        .header("OpenStack-API-Version", format!("compute {mv}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create(region: &Region, token: &str, body: Value) -> (u16, Value) {
    call_mv(region, "POST", "/compute/v2.1/servers", token, "2.1", Some(json!({"server": body}))).await
}

async fn wait_status(region: &Region, token: &str, id: &str, want: &str) -> Value {
    region
        .wait_for(60, &format!("{id} to be {want}"), || async {
            let (_, s) = call_mv(region, "GET", &format!("/compute/v2.1/servers/{id}"), token, "2.96", None).await;
            (s["server"]["status"] == want).then(|| s["server"].clone())
        })
        .await
}

async fn action(region: &Region, token: &str, id: &str, body: Value) -> (u16, Value) {
    call_mv(region, "POST", &format!("/compute/v2.1/servers/{id}/action"), token, "2.96", Some(body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_api_with_the_simulated_hypervisor() {
    for db in databases() {
        run(&db).await;
    }
}

async fn run(db: &Db) {
    let tiny = tempfile::tempdir().unwrap();
    // A small disk image stands in for nimbus-tiny: the simulated hypervisor boots nothing.
    let qcow2 = tiny.path().join("nimbus-tiny.qcow2");
    let st =
        std::process::Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&qcow2).arg("64M").status();
    assert!(st.unwrap().success());
    let region = Region::start_with(db, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.path().to_str().unwrap())], Some(CONFIG));
    let admin = region.admin_token().await;
    let (project, _) = region.tenant(&admin, "p1", "alice", "alice-pw-1", "member").await;
    let (alice, _) = region.token("alice", "alice-pw-1", "p1").await;

    // Create: 202 with Nova's create document; the server goes ACTIVE.
    let (code, created) = create(
        &region,
        &alice,
        json!({"name": "web", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1",
        "metadata": {"role": "web"}}),
    )
    .await;
    assert_eq!(code, 202, "{created}");
    let id = created["server"]["id"].as_str().unwrap().to_string();
    assert!(created["server"]["adminPass"].is_string() && created["server"]["links"].is_array());
    let s = wait_status(&region, &alice, &id, "ACTIVE").await;
    assert_eq!(s["tenant_id"], project);
    assert_eq!(s["metadata"]["role"], "web");
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert!(s.get("OS-EXT-SRV-ATTR:host").is_none(), "host attributes are for admins only: {s}");

    // Microversions shape the document: 2.1 has the flavor's id, 2.47 embeds it.
    let (_, old) = call_mv(&region, "GET", &format!("/compute/v2.1/servers/{id}"), &alice, "2.1", None).await;
    assert_eq!(old["server"]["flavor"]["id"], "s3.small.1");
    assert!(old["server"].get("description").is_none() && old["server"].get("tags").is_none());
    let (_, new) = call_mv(&region, "GET", &format!("/compute/v2.1/servers/{id}"), &alice, "2.47", None).await;
    assert_eq!(new["server"]["flavor"]["original_name"], "s3.small.1");
    assert_eq!(new["server"]["flavor"]["vcpus"], 1);
    assert!(new["server"]["flavor"].get("id").is_none());
    let (_, adm) = call_mv(&region, "GET", &format!("/compute/v2.1/servers/{id}"), &admin, "2.3", None).await;
    assert_eq!(adm["server"]["OS-EXT-SRV-ATTR:host"], "nimbus-local");

    // Bad input: Nova's error format, 4xx, nothing created.
    let bad = [
        (json!({"name": "x", "imageRef": "nimbus-tiny", "flavorRef": "no-such-flavor"}), 400, "badRequest"),
        (json!({"name": "x", "imageRef": "no-such-image", "flavorRef": "s3.small.1"}), 400, "badRequest"),
        (
            json!({"name": "x", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1", "user_data": "not base64!!"}),
            400,
            "badRequest",
        ),
        (
            json!({"name": "x", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1", "availability_zone": "mars-1a"}),
            400,
            "badRequest",
        ),
        (
            json!({"name": "x", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1", "key_name": "nope"}),
            400,
            "badRequest",
        ),
        (json!({"name": "", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1"}), 400, "badRequest"),
        (json!({"name": "x", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1", "min_count": 0}), 400, "badRequest"),
        (json!({"name": "x", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1", "min_count": 11}), 403, "forbidden"),
    ];
    for (body, code, key) in bad {
        let (c, e) = create(&region, &alice, body.clone()).await;
        assert_eq!(c, code, "{body} -> {e}");
        assert!(e[key]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body} -> {e}");
    }
    let (code, e) = call_mv(&region, "POST", "/compute/v2.1/servers", &alice, "2.1", Some(json!({"server": 5}))).await;
    assert_eq!(code, 400, "{e}");
    let (_, list) = call_mv(&region, "GET", "/compute/v2.1/servers", &alice, "2.1", None).await;
    assert_eq!(list["servers"].as_array().unwrap().len(), 1, "nothing half-created: {list}");

    // The scheduler: the host holds 4 vCPUs; c3.xlarge.2 (4) fits next to web (1)? no.
    let (code, big) =
        create(&region, &alice, json!({"name": "big", "imageRef": "nimbus-tiny", "flavorRef": "c3.xlarge.2"})).await;
    assert_eq!(code, 202, "{big}");
    let big_id = big["server"]["id"].as_str().unwrap().to_string();
    let failed = wait_status(&region, &alice, &big_id, "ERROR").await;
    assert!(failed["fault"]["message"].as_str().unwrap().starts_with("No valid host was found"), "{failed}");
    let (code, _) = call_mv(&region, "DELETE", &format!("/compute/v2.1/servers/{big_id}"), &alice, "2.1", None).await;
    assert_eq!(code, 204);

    // Server groups: anti-affinity on one host admits one member only.
    let (code, g) = call_mv(
        &region,
        "POST",
        "/compute/v2.1/os-server-groups",
        &alice,
        "2.64",
        Some(json!({"server_group": {"name": "spread", "policy": "anti-affinity"}})),
    )
    .await;
    assert_eq!(code, 200, "{g}");
    let gid = g["server_group"]["id"].as_str().unwrap().to_string();
    let mut members = Vec::new();
    for n in ["g1", "g2"] {
        let (code, c) = call_mv(
            &region,
            "POST",
            "/compute/v2.1/servers",
            &alice,
            "2.1",
            Some(json!({
            "server": {"name": n, "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1"},
            "os:scheduler_hints": {"group": gid}})),
        )
        .await;
        assert_eq!(code, 202, "{c}");
        members.push(c["server"]["id"].as_str().unwrap().to_string());
    }
    wait_status(&region, &alice, &members[0], "ACTIVE").await;
    let second = wait_status(&region, &alice, &members[1], "ERROR").await;
    assert!(second["fault"]["message"].as_str().unwrap().contains("anti-affinity"), "{second}");
    let (_, g) = call_mv(&region, "GET", &format!("/compute/v2.1/os-server-groups/{gid}"), &alice, "2.64", None).await;
    assert_eq!(g["server_group"]["members"].as_array().unwrap().len(), 2, "{g}");
    for m in &members {
        call_mv(&region, "DELETE", &format!("/compute/v2.1/servers/{m}"), &alice, "2.1", None).await;
    }

    // Power actions and their state rules.
    let (code, e) = action(&region, &alice, &id, json!({"os-start": null})).await;
    assert_eq!(code, 409, "starting an ACTIVE server conflicts: {e}");
    assert!(e["conflictingRequest"]["message"].is_string());
    assert_eq!(action(&region, &alice, &id, json!({"os-stop": null})).await.0, 202);
    wait_status(&region, &alice, &id, "SHUTOFF").await;
    assert_eq!(action(&region, &alice, &id, json!({"os-start": null})).await.0, 202);
    wait_status(&region, &alice, &id, "ACTIVE").await;
    assert_eq!(action(&region, &alice, &id, json!({"reboot": {"type": "HARD"}})).await.0, 202);
    wait_status(&region, &alice, &id, "ACTIVE").await;
    assert_eq!(action(&region, &alice, &id, json!({"reboot": {"type": "SIDEWAYS"}})).await.0, 400);
    assert_eq!(action(&region, &alice, &id, json!({"fly": {}})).await.0, 400);

    // Resize: quota follows the flavor; revert gives it back, confirm keeps it.
    let used = |q: &Value, k: &str| q["limits"]["absolute"][k].as_i64().unwrap();
    let (code, e) = action(&region, &alice, &id, json!({"resize": {"flavorRef": "s3.small.1"}})).await;
    assert_eq!(code, 400, "same flavor: {e}");
    assert_eq!(action(&region, &alice, &id, json!({"resize": {"flavorRef": "s3.large.2"}})).await.0, 202);
    let r = wait_status(&region, &alice, &id, "VERIFY_RESIZE").await;
    assert_eq!(r["flavor"]["original_name"], "s3.large.2");
    let (_, q) = call_mv(&region, "GET", "/compute/v2.1/limits", &alice, "2.1", None).await;
    assert_eq!(used(&q, "totalCoresUsed"), 1 + 1, "{q}");
    assert_eq!(action(&region, &alice, &id, json!({"revertResize": null})).await.0, 202);
    let r = wait_status(&region, &alice, &id, "ACTIVE").await;
    assert_eq!(r["flavor"]["original_name"], "s3.small.1");
    let (_, q) = call_mv(&region, "GET", "/compute/v2.1/limits", &alice, "2.1", None).await;
    assert_eq!(used(&q, "totalCoresUsed"), 1, "{q}");
    assert_eq!(action(&region, &alice, &id, json!({"resize": {"flavorRef": "s3.large.2"}})).await.0, 202);
    wait_status(&region, &alice, &id, "VERIFY_RESIZE").await;
    assert_eq!(action(&region, &alice, &id, json!({"confirmResize": null})).await.0, 204);
    let r = wait_status(&region, &alice, &id, "ACTIVE").await;
    assert_eq!(r["flavor"]["vcpus"], 2);

    // Rebuild, snapshot to an image, console output.
    let (code, rb) =
        action(&region, &alice, &id, json!({"rebuild": {"imageRef": "nimbus-tiny", "name": "web2"}})).await;
    assert_eq!(code, 202, "{rb}");
    assert_eq!(rb["server"]["name"], "web2");
    wait_status(&region, &alice, &id, "ACTIVE").await;
    let (code, snap) =
        action(&region, &alice, &id, json!({"createImage": {"name": "web-snap", "metadata": {"k": "v"}}})).await;
    assert_eq!(code, 202, "{snap}");
    let image_id = snap["image_id"].as_str().unwrap().to_string();
    let image = region
        .wait_for(60, "the snapshot image", || async {
            let (_, i) = region.call("GET", &format!("/image/v2/images/{image_id}"), Some(&alice), None).await;
            (i["status"] == "active").then_some(i)
        })
        .await;
    assert_eq!(image["instance_uuid"], id);
    assert_eq!(image["image_type"], "snapshot");
    assert_eq!(image["disk_format"], "qcow2");
    let (code, out) = action(&region, &alice, &id, json!({"os-getConsoleOutput": {"length": 5}})).await;
    assert_eq!(code, 200, "{out}");
    assert!(out["output"].as_str().unwrap().contains("nimbus-tiny: ready"), "{out}");

    // Metadata and tags.
    let base = format!("/compute/v2.1/servers/{id}");
    let (code, m) =
        call_mv(&region, "POST", &format!("{base}/metadata"), &alice, "2.1", Some(json!({"metadata": {"a": "1"}})))
            .await;
    assert_eq!(code, 200);
    assert_eq!(m["metadata"], json!({"a": "1", "role": "web"}));
    let (code, _) = call_mv(&region, "DELETE", &format!("{base}/metadata/role"), &alice, "2.1", None).await;
    assert_eq!(code, 204);
    let (code, _) = call_mv(&region, "GET", &format!("{base}/metadata/role"), &alice, "2.1", None).await;
    assert_eq!(code, 404);
    let (code, t) =
        call_mv(&region, "PUT", &format!("{base}/tags"), &alice, "2.26", Some(json!({"tags": ["b", "a"]}))).await;
    assert_eq!(code, 200, "{t}");
    assert_eq!(t["tags"], json!(["a", "b"]));
    assert_eq!(call_mv(&region, "PUT", &format!("{base}/tags/c"), &alice, "2.26", None).await.0, 201);
    let (_, l) = call_mv(&region, "GET", "/compute/v2.1/servers/detail?tags=a,c", &alice, "2.26", None).await;
    assert_eq!(l["servers"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(call_mv(&region, "GET", &format!("{base}/tags"), &alice, "2.1", None).await.0, 404);

    // Another tenant sees nothing: 404, not 403.
    region.tenant(&admin, "p2", "bob", "bob-pw-1", "member").await;
    let (bob, _) = region.token("bob", "bob-pw-1", "p2").await;
    for (method, path) in [("GET", base.clone()), ("DELETE", base.clone()), ("GET", format!("{base}/metadata"))] {
        let (code, e) = call_mv(&region, method, &path, &bob, "2.1", None).await;
        assert_eq!(code, 404, "{method} {path}: {e}");
    }
    assert_eq!(action(&region, &bob, &id, json!({"os-stop": null})).await.0, 404);
    let (_, l) = call_mv(&region, "GET", "/compute/v2.1/servers?all_tenants=1", &bob, "2.1", None).await;
    assert!(l["servers"].as_array().unwrap().is_empty(), "{l}");
    let (_, l) = call_mv(&region, "GET", "/compute/v2.1/servers?all_tenants=1", &admin, "2.1", None).await;
    assert!(l["servers"].as_array().unwrap().iter().any(|s| s["id"] == id.as_str()), "{l}");

    // Delete: gone, quota back.
    assert_eq!(call_mv(&region, "DELETE", &base, &alice, "2.1", None).await.0, 204);
    region
        .wait_for(60, "the server to go", || async {
            (call_mv(&region, "GET", &base, &alice, "2.1", None).await.0 == 404).then_some(())
        })
        .await;
    let (_, q) = call_mv(&region, "GET", "/compute/v2.1/limits", &alice, "2.1", None).await;
    assert_eq!(used(&q, "totalInstancesUsed"), 0, "{q}");
    assert_eq!(used(&q, "totalCoresUsed"), 0, "{q}");
}
