//! The native APIs are described in `/openapi.json`, and the description covers every native
//! endpoint the region registers (so it cannot drift from the routes).

mod common;

use common::Region;

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_covers_every_native_endpoint() {
    let region = Region::start();
    let (s, doc) = region.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let admin = region.admin_token().await;
    let (_, listing) = region.call("GET", "/_nimbus/endpoints", Some(&admin), None).await;
    let mut missing = Vec::new();
    for e in listing["endpoints"].as_array().unwrap() {
        let path = e["path"].as_str().unwrap();
        let method = e["method"].as_str().unwrap().to_lowercase();
        let native = (path.starts_with("/v1/")
            || path.starts_with("/v3/{project_id}")
            || path.starts_with("/v3.0/")
            || path.starts_with("/v1.0/")
            || path.starts_with("/v2.0/")
            || path.starts_with("/v2/cloudimages"))
            && !path.starts_with("/identity");
        if !native {
            continue;
        }
        if doc["paths"][path][&method].is_null() {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "native endpoints missing from /openapi.json: {missing:?}");
}
