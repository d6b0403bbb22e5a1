//! `GET /v1/{project_id}/metering/events`: the usage events metering prices (created,
//! started, stopped, resized, deleted, with the flavor), in time order.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::time::iso_time;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/v1/{project_id}/metering/events", Access::Authenticated, list_usage_events).add(
        "GET",
        "/v1/{project_id}/metering/obs-requests",
        Access::Authenticated,
        list_obs_requests,
    )
}

/// Object-storage requests of one operation on a bucket in one hour.
#[derive(Serialize, ToSchema)]
pub struct ObsRequestsBody {
    pub bucket: String,
    /// The hour's start (ISO 8601).
    pub hour: String,
    /// The S3 operation (`GetObject`, `PutObject`, `ListObjectsV2`...).
    pub operation: String,
    pub requests: i64,
    /// Bytes sent to clients.
    pub bytes_out: i64,
}

/// The list.
#[derive(Serialize, ToSchema)]
pub struct ObsRequestList {
    pub requests: Vec<ObsRequestsBody>,
}

/// Lists a project's object-storage request counters.
#[utoipa::path(get, path = "/v1/{project_id}/metering/obs-requests", tag = "Metering",
    params(("project_id" = String, Path)),
    responses((status = 200, body = ObsRequestList), (status = 404, body = super::ErrorBody)))]
pub async fn list_obs_requests(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
) -> ApiResult {
    let rows = s.control.obs_request_counts(&ctx, &project_id).await?;
    let requests = rows
        .into_iter()
        .map(|r| ObsRequestsBody {
            bucket: r.bucket,
            hour: iso_time(r.hour),
            operation: r.operation,
            requests: r.requests,
            bytes_out: r.bytes_out,
        })
        .collect();
    Ok(Json(ObsRequestList { requests }).into_response())
}

/// One billable change of a resource.
#[derive(Serialize, ToSchema)]
pub struct UsageEventBody {
    pub id: String,
    /// `ecs`, later `evs`, `obs`...
    pub resource_type: String,
    pub resource_id: String,
    /// created, started, stopped, resized or deleted.
    pub event: String,
    pub flavor: Option<String>,
    /// Sizes at the time of the event (vCPUs, RAM, disk).
    pub detail: serde_json::Value,
    pub time: String,
    /// Milliseconds since the epoch, for per-second pricing.
    pub time_ms: i64,
}

/// The list.
#[derive(Serialize, ToSchema)]
pub struct UsageEventList {
    pub events: Vec<UsageEventBody>,
}

/// Lists a project's usage events.
#[utoipa::path(get, path = "/v1/{project_id}/metering/events", tag = "Metering",
    params(("project_id" = String, Path), ("resource_id" = Option<String>, Query)),
    responses((status = 200, body = UsageEventList), (status = 404, body = super::ErrorBody)))]
pub async fn list_usage_events(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let events = s.control.list_usage_events(&ctx, &project_id, q.get("resource_id").map(String::as_str)).await?;
    let events = events
        .into_iter()
        .map(|e| UsageEventBody {
            id: e.id,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            event: e.event,
            flavor: e.flavor,
            detail: serde_json::from_str(&e.detail).unwrap_or_default(),
            time: iso_time(e.at),
            time_ms: e.at,
        })
        .collect();
    Ok(Json(UsageEventList { events }).into_response())
}
