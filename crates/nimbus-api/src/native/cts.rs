//! Cloud Trace Service v3: `GET /v3/{project_id}/traces`, trackers and quotas, shaped as
//! `huaweicloudsdkcts` expects (times in milliseconds, `request`/`response`/`code` as strings,
//! paging through `meta_data.marker` and `next`).

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::audit::Tracker;
use nimbus_store::audit::{Trace, TraceFilter};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/v3/{project_id}/traces", Access::Authenticated, list_traces)
        .add("GET", "/v3/{project_id}/trackers", Access::Authenticated, list_trackers)
        .add("POST", "/v3/{project_id}/tracker", Access::Authenticated, create_tracker)
        .add("PUT", "/v3/{project_id}/tracker", Access::Authenticated, update_tracker)
        .add("DELETE", "/v3/{project_id}/trackers", Access::Authenticated, delete_tracker)
        .add("GET", "/v3/{project_id}/quotas", Access::Authenticated, list_quotas)
        .add("GET", "/v3/{project_id}/traces/verification", Access::Authenticated, verify_traces)
}

/// The domain a trace's user belongs to.
#[derive(Serialize, ToSchema)]
pub struct TraceDomain {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// Who performed the traced operation.
#[derive(Serialize, ToSchema)]
pub struct TraceUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub user_name: Option<String>,
    pub domain: TraceDomain,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    #[serde(rename = "type")]
    pub user_type: String,
}

/// One trace.
#[derive(Serialize, ToSchema)]
pub struct TraceBody {
    pub trace_id: String,
    pub trace_name: String,
    pub trace_rating: String,
    pub trace_type: String,
    /// Time of the operation, ms since the epoch.
    pub time: i64,
    /// Time the trace was recorded, ms since the epoch.
    pub record_time: i64,
    pub request: Option<String>,
    pub response: Option<String>,
    pub code: Option<String>,
    pub api_version: Option<String>,
    pub message: Option<String>,
    pub service_type: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub resource_url: Option<String>,
    pub tracker_name: String,
    pub read_only: bool,
    pub user: TraceUser,
    /// Position in the project's hash chain.
    pub sequence: i64,
    /// SHA-256 chaining this trace to the previous one.
    pub hash: String,
}

/// Paging information.
#[derive(Serialize, ToSchema)]
pub struct MetaData {
    pub count: usize,
    /// Pass as `next` to get older traces; null on the last page.
    pub marker: Option<String>,
}

/// `ListTraces` response.
#[derive(Serialize, ToSchema)]
pub struct TraceList {
    pub traces: Vec<TraceBody>,
    pub meta_data: MetaData,
}

fn trace_body(t: Trace, domain_names: &HashMap<String, String>) -> TraceBody {
    let domain_name = t.domain_id.as_ref().and_then(|d| domain_names.get(d).cloned());
    TraceBody {
        trace_id: t.id,
        trace_name: t.trace_name,
        trace_rating: t.trace_rating,
        trace_type: t.trace_type,
        time: t.time_ms,
        record_time: t.time_ms,
        request: t.request,
        response: t.response,
        code: t.code,
        api_version: t.api_version,
        message: t.message,
        service_type: t.service_type,
        resource_type: t.resource_type,
        resource_id: t.resource_id,
        resource_name: t.resource_name,
        source_ip: t.source_ip,
        request_id: t.request_id,
        resource_url: t.resource_url,
        tracker_name: "system".into(),
        read_only: false,
        user: TraceUser {
            id: t.user_id,
            name: t.user_name.clone(),
            user_name: t.user_name,
            domain: TraceDomain { id: t.domain_id.clone(), name: domain_name },
            account_id: t.domain_id,
            access_key_id: None,
            user_type: "User".into(),
        },
        sequence: t.seq,
        hash: t.hash,
    }
}

fn int_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Error> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Error::bad_request(format!("Query parameter '{name}' must be an integer."))),
    }
}

/// Lists the project's traces, newest first.
#[utoipa::path(get, path = "/v3/{project_id}/traces", tag = "CTS",
    params(("project_id" = String, Path, description = "Project id"),
        ("trace_type" = Option<String>, Query, description = "`system` (default)"),
        ("limit" = Option<i64>, Query, description = "1-200, default 10"),
        ("from" = Option<i64>, Query, description = "Start, ms since the epoch (default: now - 1 h)"),
        ("to" = Option<i64>, Query, description = "End, ms since the epoch (default: now)"),
        ("next" = Option<String>, Query, description = "The `meta_data.marker` of the previous page"),
        ("service_type" = Option<String>, Query), ("user" = Option<String>, Query),
        ("resource_id" = Option<String>, Query), ("resource_name" = Option<String>, Query),
        ("resource_type" = Option<String>, Query), ("trace_id" = Option<String>, Query),
        ("trace_name" = Option<String>, Query), ("trace_rating" = Option<String>, Query)),
    responses((status = 200, body = TraceList), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn list_traces(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    match q.get("trace_type").map(String::as_str) {
        None | Some("system") => {}
        Some("data") => {
            return Ok(
                Json(TraceList { traces: vec![], meta_data: MetaData { count: 0, marker: None } }).into_response()
            )
        }
        Some(other) => {
            return Err(Error::bad_request(format!("Unknown trace_type {other:?}: use 'system' or 'data'.")).into())
        }
    }
    let limit = int_param(&q, "limit")?.unwrap_or(10);
    if !(1..=200).contains(&limit) {
        return Err(Error::bad_request("limit must be between 1 and 200.").into());
    }
    let now = now_ms();
    let to = int_param(&q, "to")?.unwrap_or(now);
    let from = int_param(&q, "from")?.unwrap_or(to - 3_600_000);
    if from > to {
        return Err(Error::bad_request("'from' must not be after 'to'.").into());
    }
    if let Some(rating) = q.get("trace_rating") {
        if !["normal", "warning", "incident"].contains(&rating.as_str()) {
            return Err(Error::bad_request("trace_rating must be normal, warning or incident.").into());
        }
    }
    let mut filter = TraceFilter {
        project_id: project_id.clone(),
        from_ms: Some(from),
        to_ms: Some(to),
        service_type: q.get("service_type").cloned(),
        resource_type: q.get("resource_type").cloned(),
        resource_id: q.get("resource_id").cloned(),
        resource_name: q.get("resource_name").cloned(),
        trace_name: q.get("trace_name").cloned(),
        trace_id: q.get("trace_id").cloned(),
        user: q.get("user").cloned(),
        trace_rating: q.get("trace_rating").cloned(),
        before_seq: None,
        limit: limit + 1,
    };
    if filter.trace_id.is_some() {
        // Huawei: a trace_id ignores every other filter.
        filter =
            TraceFilter { project_id: project_id.clone(), trace_id: filter.trace_id, limit: 2, ..Default::default() };
    }
    if let Some(next) = q.get("next").filter(|n| !n.is_empty()) {
        let marker = TraceFilter {
            project_id: project_id.clone(),
            trace_id: Some(next.clone()),
            limit: 1,
            ..Default::default()
        };
        let found = s.control.list_traces(&ctx, marker).await?;
        let first =
            found.first().ok_or_else(|| Error::bad_request("The 'next' marker is not a trace of this project."))?;
        filter.before_seq = Some(first.seq);
    }
    let mut traces = s.control.list_traces(&ctx, filter).await?;
    let more = traces.len() as i64 > limit;
    traces.truncate(limit as usize);
    let marker = if more { traces.last().map(|t| t.id.clone()) } else { None };
    let domain_names = s.control.domain_names().await?;
    let traces: Vec<TraceBody> = traces.into_iter().map(|t| trace_body(t, &domain_names)).collect();
    Ok(Json(TraceList { meta_data: MetaData { count: traces.len(), marker }, traces }).into_response())
}

/// The result of checking a project's trace chain.
#[derive(Serialize, ToSchema)]
pub struct Verification {
    /// True when every stored trace matches its hash and follows its predecessor.
    pub valid: bool,
    /// The sequence number of the first trace that fails the check.
    pub first_invalid_sequence: Option<i64>,
}

/// Verifies the hash chain of the project's traces (a Nimbus extension: tampering with a
/// stored trace, or deleting one, breaks the chain at that point).
#[utoipa::path(get, path = "/v3/{project_id}/traces/verification", tag = "CTS", params(("project_id" = String, Path)),
    responses((status = 200, body = Verification), (status = 404, body = super::ErrorBody)))]
pub async fn verify_traces(State(s): State<AppState>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult {
    let broken = s.control.verify_trace_chain(&ctx, &project_id).await?;
    Ok(Json(Verification { valid: broken.is_none(), first_invalid_sequence: broken }).into_response())
}

/// A tracker.
#[derive(Serialize, ToSchema)]
pub struct TrackerBody {
    pub id: String,
    pub tracker_name: String,
    pub tracker_type: String,
    pub status: String,
    /// Creation time, ms since the epoch.
    pub create_time: i64,
    pub project_id: String,
    pub domain_id: Option<String>,
    pub is_support_validate: bool,
    /// For data trackers: the bucket and its recorded events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_bucket: Option<DataBucket>,
}

/// The bucket of a data tracker and the object events it records (`READ`, `WRITE`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DataBucket {
    pub data_bucket_name: String,
    #[serde(default)]
    pub data_event: Vec<String>,
}

/// `ListTrackers` response.
#[derive(Serialize, ToSchema)]
pub struct TrackerList {
    pub trackers: Vec<TrackerBody>,
}

fn tracker_body(t: Tracker, domain_id: Option<String>) -> TrackerBody {
    TrackerBody {
        id: t.id,
        tracker_name: t.name,
        tracker_type: t.tracker_type,
        status: t.status,
        create_time: t.created_at,
        project_id: t.project_id,
        domain_id,
        // Traces are hash-chained, so their integrity can be verified.
        is_support_validate: true,
        data_bucket: t.data_bucket.map(|b| DataBucket {
            data_bucket_name: b,
            data_event: t.data_events.unwrap_or_default().split(',').map(str::to_string).collect(),
        }),
    }
}

/// Lists the project's trackers (its `system` tracker, created on first use).
#[utoipa::path(get, path = "/v3/{project_id}/trackers", tag = "CTS",
    params(("project_id" = String, Path), ("tracker_name" = Option<String>, Query), ("tracker_type" = Option<String>, Query)),
    responses((status = 200, body = TrackerList), (status = 404, body = super::ErrorBody)))]
pub async fn list_trackers(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let domain = ctx.principal.scope_domain_id().map(str::to_string);
    let mut list = s.control.list_trackers(&ctx, &project_id).await?;
    list.retain(|t| {
        q.get("tracker_name").is_none_or(|n| *n == t.name) && q.get("tracker_type").is_none_or(|n| *n == t.tracker_type)
    });
    Ok(Json(TrackerList { trackers: list.into_iter().map(|t| tracker_body(t, domain.clone())).collect() })
        .into_response())
}

/// `CreateTracker` / `UpdateTracker` request.
#[derive(Deserialize, ToSchema)]
pub struct CreateTrackerBody {
    pub tracker_type: String,
    pub tracker_name: String,
    /// `enabled` or `disabled` (updates only).
    pub status: Option<String>,
    /// A data tracker's bucket and events.
    pub data_bucket: Option<DataBucket>,
}

/// Creates the project's `system` tracker (one per project; a second is a 409), or a data
/// tracker recording object events of one of the project's buckets.
#[utoipa::path(post, path = "/v3/{project_id}/tracker", tag = "CTS", request_body = CreateTrackerBody,
    params(("project_id" = String, Path)),
    responses((status = 201, body = TrackerBody), (status = 400, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn create_tracker(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: CreateTrackerBody = parse_json(&body)?;
    let data = req.data_bucket.as_ref().map(|d| (d.data_bucket_name.as_str(), d.data_event.as_slice()));
    let t = s.control.create_tracker(&ctx, &project_id, &req.tracker_name, &req.tracker_type, data).await?;
    let domain = ctx.principal.scope_domain_id().map(str::to_string);
    Ok((StatusCode::CREATED, Json(tracker_body(t, domain))).into_response())
}

/// Enables or disables a tracker, or changes a data tracker's events.
#[utoipa::path(put, path = "/v3/{project_id}/tracker", tag = "CTS", request_body = CreateTrackerBody,
    params(("project_id" = String, Path)),
    responses((status = 200, body = TrackerBody), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn update_tracker(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: CreateTrackerBody = parse_json(&body)?;
    let events = req.data_bucket.as_ref().map(|d| d.data_event.as_slice());
    let t = s.control.update_tracker(&ctx, &project_id, &req.tracker_name, req.status.as_deref(), events).await?;
    let domain = ctx.principal.scope_domain_id().map(str::to_string);
    Ok(Json(tracker_body(t, domain)).into_response())
}

/// Deletes a data tracker (`?tracker_name=`).
#[utoipa::path(delete, path = "/v3/{project_id}/trackers", tag = "CTS",
    params(("project_id" = String, Path), ("tracker_name" = String, Query), ("tracker_type" = Option<String>, Query)),
    responses((status = 204), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn delete_tracker(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let name = q.get("tracker_name").map(String::as_str).unwrap_or_default();
    s.control.delete_tracker(&ctx, &project_id, name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One CTS quota.
#[derive(Serialize, ToSchema)]
pub struct QuotaBody {
    #[serde(rename = "type")]
    pub quota_type: String,
    pub used: i64,
    pub quota: i64,
}

/// `ListQuotas` response.
#[derive(Serialize, ToSchema)]
pub struct QuotaList {
    pub resources: Vec<QuotaBody>,
}

/// The project's tracker quotas.
#[utoipa::path(get, path = "/v3/{project_id}/quotas", tag = "CTS", params(("project_id" = String, Path)),
    responses((status = 200, body = QuotaList)))]
pub async fn list_quotas(State(s): State<AppState>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult {
    let trackers = s.control.list_trackers(&ctx, &project_id).await?;
    Ok(Json(QuotaList {
        resources: vec![
            QuotaBody { quota_type: "system_tracker".into(), used: trackers.len() as i64, quota: 1 },
            QuotaBody { quota_type: "data_tracker".into(), used: 0, quota: 0 },
        ],
    })
    .into_response())
}
