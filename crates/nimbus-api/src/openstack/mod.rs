//! The OpenStack service APIs other than identity: Glance v2 images (`image.rs`), Nova
//! (`compute/`: microversions, flavors, key pairs, zones), Cinder (`volume.rs`), and the
//! quota views (`os-quota-sets`, Neutron `quotas`).

pub mod compute;
pub mod image;
mod network;
mod quotas;
mod volume;
mod volume_backends;
mod volume_backups;
mod volume_encryption;
mod volume_groups;
mod volume_listing;
mod volume_messages;
mod volume_qos;
mod volume_region;
mod volume_snapshots;
mod volume_transfers;

use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

/// The compute (Nova-style errors) routes.
pub fn compute_routes() -> Routes {
    let r = Routes::default()
        .add("GET", "/compute/v2.1", Access::Public, compute_version)
        .add("GET", "/compute/v2.1/", Access::Public, compute_version)
        .add("GET", "/compute", Access::Public, compute_versions)
        .add("GET", "/compute/", Access::Public, compute_versions)
        .add("GET", "/compute/v2", Access::Public, compute_legacy_version)
        .add("GET", "/compute/v2/", Access::Public, compute_legacy_version);
    compute::routes(quotas::compute_routes(r))
}

fn version_docs(base: &str) -> (serde_json::Value, serde_json::Value) {
    let media = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    let v20 = json!({"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
        "updated": "2011-01-21T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/compute/v2/")}],
        "media-types": media});
    let v21 = json!({"id": "v2.1", "status": "CURRENT", "version": COMPUTE_MAX_VERSION, "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}],
        "media-types": media});
    (v20, v21)
}

/// `GET /compute/`: both versions, 200 as Nova answers (not 300).
async fn compute_versions(State(s): State<AppState>) -> impl IntoResponse {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    let (v20, v21) = version_docs(&base);
    Json(json!({"versions": [v20, v21]}))
}

/// `GET /compute/v2/`: the legacy v2.0 entry point's description (its calls are not served).
async fn compute_legacy_version(State(s): State<AppState>) -> impl IntoResponse {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    Json(json!({"version": version_docs(&base).0}))
}

/// The block-storage (Cinder) routes.
pub fn volume_routes() -> Routes {
    let r = volume_backends::routes(volume_region::routes(volume::routes(quotas::volume_routes(Routes::default()))));
    let r = volume_groups::routes(r);
    volume_encryption::routes(volume_messages::routes(volume_qos::routes(volume_transfers::routes(
        volume_backups::routes(volume_snapshots::routes(r)),
    ))))
}

/// The network (Neutron-style errors) routes.
pub fn network_routes() -> Routes {
    network::routes(quotas::network_routes(Routes::default()))
}

/// Highest compute microversion Nimbus understands.
pub const COMPUTE_MAX_VERSION: &str = "2.96";
const _: () = assert!(compute::microversion::MAX == 96, "COMPUTE_MAX_VERSION must match the microversion range");

async fn compute_version(State(s): State<AppState>) -> impl IntoResponse {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    Json(json!({"version": {
        "id": "v2.1", "status": "CURRENT", "version": COMPUTE_MAX_VERSION, "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    }}))
}
