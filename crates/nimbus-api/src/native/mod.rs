//! Huawei-style native APIs at the listener's root: CTS traces and trackers, IAM access
//! keys, jobs, plus the OpenAPI document and the region's own `/healthz`.
//!
//! The response types derive `utoipa::ToSchema`, and `/openapi.json` is generated from the
//! handlers' `#[utoipa::path]` annotations, so the document cannot drift from the code.

mod cts;
mod iam;
mod jobs;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::Error;
use utoipa::OpenApi;

use Access::{Authenticated as A, Public as P};

/// Every native route.
pub fn routes() -> Routes {
    let r = Routes::default().add("GET", "/healthz", P, healthz).add("GET", "/openapi.json", P, openapi).add(
        "GET",
        "/_nimbus/endpoints",
        A,
        endpoints,
    );
    let r = cts::routes(r);
    let r = iam::routes(r);
    jobs::routes(r)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Nimbus native APIs", description = "Huawei Cloud compatible native APIs of a Nimbus region."),
    paths(
        cts::list_traces,
        cts::list_trackers,
        cts::create_tracker,
        cts::list_quotas,
        iam::create_access_key,
        iam::list_access_keys,
        iam::show_access_key,
        iam::update_access_key,
        iam::delete_access_key,
        jobs::show_job,
    ),
    components(schemas(crate::native::ErrorBody))
)]
struct NativeApi;

/// The native APIs' error body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable error code, e.g. `Nimbus.0404`.
    pub error_code: String,
    /// Human-readable message.
    pub error_msg: String,
    /// The request id (also in the `X-Request-Id` header).
    pub request_id: Option<String>,
}

/// The OpenAPI document of the native APIs.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    NativeApi::openapi()
}

async fn openapi() -> impl IntoResponse {
    Json(openapi_document())
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// Every registered endpoint, for operators and tooling (admin only).
async fn endpoints(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    if !ctx.principal.is_admin() {
        return Err(Error::Forbidden("Only administrators may list the endpoints.".into()).into());
    }
    Ok(Json(serde_json::json!({"endpoints": *s.endpoints})).into_response())
}
