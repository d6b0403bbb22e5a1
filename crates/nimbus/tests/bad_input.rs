//! Bad input gets a clear 4xx in the API family's own format, never a 5xx.

mod common;

use common::Region;
use serde_json::{json, Value};

fn keystone_error(v: &Value, code: u16) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

fn huawei_error(v: &Value) {
    assert!(v["error_code"].as_str().is_some_and(|c| !c.is_empty()), "{v}");
    assert!(v["error_msg"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

async fn raw(region: &Region, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = region.http.request(method.parse().unwrap(), format!("{}{path}", region.url)).body(body);
    req = req.header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("X-Auth-Token", t);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_errors_in_each_family_format() {
    let region = Region::start();
    let admin = region.admin_token().await;
    let (_, tok) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    let project = tok["token"]["project"]["id"].as_str().unwrap().to_string();

    // Malformed JSON and wrong types (Keystone).
    let (s, v) = raw(&region, "POST", "/identity/v3/projects", Some(&admin), b"{\"project\": ".to_vec()).await;
    assert_eq!(s, 400);
    keystone_error(&v, 400);
    let (s, v) =
        region.call("POST", "/identity/v3/projects", Some(&admin), Some(json!({"project": {"name": 5}}))).await;
    assert_eq!(s, 400);
    keystone_error(&v, 400);
    let (s, v) = region
        .call("POST", "/identity/v3/users", Some(&admin), Some(json!({"user": {"name": "x", "enabled": "yes"}})))
        .await;
    assert_eq!(s, 400);
    keystone_error(&v, 400);
    let (s, v) = region.call("POST", "/identity/v3/auth/tokens", None, Some(json!({"auth": {"identity": 1}}))).await;
    assert_eq!(s, 400);
    keystone_error(&v, 400);

    // Unknown ids.
    let (s, v) = region.call("GET", "/identity/v3/users/0123456789abcdef0123456789abcdef", Some(&admin), None).await;
    assert_eq!(s, 404);
    keystone_error(&v, 404);
    let (s, v) = region.call("GET", &format!("/v1/{project}/jobs/nope"), Some(&admin), None).await;
    assert_eq!(s, 404);
    huawei_error(&v);
    let (s, v) = region.call("GET", "/compute/v2.1/os-quota-sets/nope", Some(&admin), None).await;
    assert_eq!(s, 404);
    assert_eq!(v["itemNotFound"]["code"], 404, "{v}");
    let (s, v) = region.call("GET", "/network/v2.0/quotas/nope", Some(&admin), None).await;
    assert_eq!(s, 404);
    assert_eq!(v["NeutronError"]["type"], "HTTPNotFound", "{v}");

    // Oversize bodies: 413 in the family's format.
    let big = format!("{{\"project\": {{\"name\": \"{}\"}}}}", "a".repeat(2 << 20)).into_bytes();
    let (s, v) = raw(&region, "POST", "/identity/v3/projects", Some(&admin), big.clone()).await;
    assert_eq!(s, 413);
    keystone_error(&v, 413);
    let (s, v) = raw(&region, "POST", "/v3.0/OS-CREDENTIAL/credentials", Some(&admin), big).await;
    assert_eq!(s, 413);
    huawei_error(&v);

    // Missing, garbage and revoked tokens.
    let (s, v) = region.call("GET", "/identity/v3/users", None, None).await;
    assert_eq!(s, 401);
    keystone_error(&v, 401);
    let (s, v) = region.call("GET", &format!("/v3/{project}/traces"), Some("garbage"), None).await;
    assert_eq!(s, 401);
    huawei_error(&v);
    let (victim, _) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    let r = region
        .http
        .delete(format!("{}/identity/v3/auth/tokens", region.url))
        .header("X-Auth-Token", &admin)
        .header("X-Subject-Token", &victim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, _) = region.call("GET", "/identity/v3/users", Some(&victim), None).await;
    assert_eq!(s, 401, "a revoked token is refused");

    // Bad query values and methods.
    let (s, v) = region.call("GET", "/identity/v3/projects?limit=abc", Some(&admin), None).await;
    assert_eq!(s, 400);
    keystone_error(&v, 400);
    let (s, v) = region.call("GET", &format!("/v3/{project}/traces?from=yesterday"), Some(&admin), None).await;
    assert_eq!(s, 400);
    huawei_error(&v);
    let (s, v) = region.call("GET", &format!("/v3/{project}/traces?limit=0"), Some(&admin), None).await;
    assert_eq!(s, 400);
    huawei_error(&v);
    let (s, v) = region.call("PUT", "/identity/v3/users", Some(&admin), Some(json!({}))).await;
    assert_eq!(s, 405);
    keystone_error(&v, 405);
    let (s, v) = region.call("GET", "/v9/nothing/here", Some(&admin), None).await;
    assert_eq!(s, 404);
    huawei_error(&v);

    // A signed request with a wrong signature.
    let (ak, _) = region.admin_keys();
    let r = region
        .http
        .get(format!("{}/v3/{project}/traces", region.url))
        .header("X-Sdk-Date", chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())
        .header("Authorization", format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature=00"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    huawei_error(&r.json().await.unwrap());

    // Lockout after repeated failures (default: 5), with a clear message.
    region.tenant(&admin, "lockers", "locky", "right-pw", "member").await;
    for _ in 0..5 {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "locky", "domain": {"id": "default"}, "password": "wrong"}}}}});
        let (s, _) = region.call("POST", "/identity/v3/auth/tokens", None, Some(body)).await;
        assert_eq!(s, 401);
    }
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "locky", "domain": {"id": "default"}, "password": "right-pw"}}}}});
    let (s, v) = region.call("POST", "/identity/v3/auth/tokens", None, Some(body)).await;
    assert_eq!(s, 401);
    assert!(v["error"]["message"].as_str().unwrap().contains("locked"), "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_tokens_are_refused() {
    let region = Region::start_with(&common::Db::Sqlite, &[], Some("token_ttl_secs = 1\n"));
    let (token, body) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    assert!(body["token"]["expires_at"].as_str().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (s, v) = region.call("GET", "/identity/v3/auth/catalog", Some(&token), None).await;
    assert_eq!(s, 401);
    assert!(v["error"]["message"].as_str().unwrap().contains("expired"), "{v}");
}

/// Every endpoint, fed garbage as the admin: a 4xx (or a success) but never a 5xx.
#[tokio::test(flavor = "multi_thread")]
async fn garbage_never_causes_a_server_error() {
    let region = Region::start();
    let admin = region.admin_token().await;
    let (_, listing) = region.call("GET", "/_nimbus/endpoints", Some(&admin), None).await;
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not json".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        br#"{"a": {"b": [1, 2, {"c": null}]}}"#.to_vec(),
        "[".repeat(10_000).into_bytes(),
        b"\xff\xfe\x00".to_vec(),
    ];
    let weird_ids = ["does-not-exist", "%00", &"x".repeat(5000), "..%2F..%2Fetc", "' OR 1=1 --"];
    let mut failures = Vec::new();
    for e in listing["endpoints"].as_array().unwrap() {
        let method = e["method"].as_str().unwrap();
        let path = e["path"].as_str().unwrap();
        if path.ends_with("/auth/tokens") && method == "DELETE" {
            continue; // would revoke the admin token used for the rest of the test
        }
        for id in weird_ids {
            let url = fill_all(path, id);
            for body in &bodies {
                let (s, _) = raw(&region, method, &url, Some(&admin), body.clone()).await;
                if s >= 500 {
                    failures.push(format!(
                        "{method} {url} body {:?}: {s}",
                        String::from_utf8_lossy(&body[..body.len().min(20)])
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn fill_all(path: &str, id: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push_str(id);
            }
            _ if !in_param => out.push(ch),
            _ => {}
        }
    }
    out
}

/// Issuing and validating a token show the same token (same times, same roles).
#[tokio::test(flavor = "multi_thread")]
async fn validation_shows_the_issued_token() {
    let region = Region::start();
    for _ in 0..20 {
        let (token, issued) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
        let r = region
            .http
            .get(format!("{}/identity/v3/auth/tokens", region.url))
            .header("X-Auth-Token", &token)
            .header("X-Subject-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let shown: Value = r.json().await.unwrap();
        for field in ["issued_at", "expires_at", "audit_ids", "roles", "project", "user"] {
            assert_eq!(issued["token"][field], shown["token"][field], "{field}");
        }
    }
}
