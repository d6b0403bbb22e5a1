//! The Keystone v3 API (identity), mounted at `/identity/v3` and at `/v3`.
//!
//! `tokens.rs` handles authentication; `resources.rs` the identity resources. Both only
//! translate between Keystone JSON and the control plane's types.

mod render;
mod resources;
mod tokens;

use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use Access::Public as P;

/// Keystone's API version as Nimbus serves it.
pub const VERSION: &str = "v3.14";

/// Every Keystone route.
pub fn routes() -> Routes {
    let r = Routes::default().add("GET", "/", P, versions).add("GET", "/v3", P, version).add("GET", "/v3/", P, version);
    let r = tokens::routes(r);
    resources::routes(r)
}

fn version_doc(state: &AppState) -> serde_json::Value {
    let base = state.control.config().public_url.trim_end_matches('/').to_string();
    json!({
        "id": VERSION,
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// `GET /identity`: the version list (300 Multiple Choices, as Keystone answers).
pub async fn versions(State(state): State<AppState>) -> Response {
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": {"values": [version_doc(&state)]}}))).into_response()
}

async fn version(State(state): State<AppState>) -> Response {
    Json(json!({"version": version_doc(&state)})).into_response()
}

/// The base URL for `links` in Keystone documents.
pub(crate) fn links_base(state: &AppState) -> String {
    format!("{}/identity/v3", state.control.config().public_url.trim_end_matches('/'))
}
