//! `GET /v1/{project_id}/jobs/{job_id}`: the status of a durable job and its sub-jobs, as
//! the ECS/EVS SDKs poll it.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::time::iso_time;
use nimbus_store::jobs::Job;
use serde::Serialize;
use utoipa::ToSchema;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/v1/{project_id}/jobs/{job_id}", Access::Authenticated, show_job)
}

/// The fields every job and sub-job has.
#[derive(Serialize, ToSchema)]
pub struct JobFields {
    pub job_id: String,
    pub job_type: String,
    /// INIT, RUNNING, SUCCESS or FAIL.
    pub status: String,
    pub begin_time: String,
    pub end_time: Option<String>,
    pub error_code: Option<String>,
    pub fail_reason: Option<String>,
}

/// A sub-job (one per resource of a batch).
#[derive(Serialize, ToSchema)]
pub struct SubJob {
    #[serde(flatten)]
    pub fields: JobFields,
    pub entities: serde_json::Value,
}

/// Job entities: its sub-jobs plus whatever the job type records.
#[derive(Serialize, ToSchema)]
pub struct JobEntities {
    pub sub_jobs: Vec<SubJob>,
    pub sub_jobs_total: usize,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A job.
#[derive(Serialize, ToSchema)]
pub struct JobBody {
    #[serde(flatten)]
    pub fields: JobFields,
    pub entities: JobEntities,
}

fn entities_of(j: &Job) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&j.entities).unwrap_or_default()
}

fn fields(j: &Job) -> JobFields {
    JobFields {
        job_id: j.id.clone(),
        job_type: j.job_type.clone(),
        status: j.status.clone(),
        begin_time: iso_time(j.begin_time),
        end_time: j.end_time.map(iso_time),
        error_code: j.error_code.clone(),
        fail_reason: j.fail_reason.clone(),
    }
}

/// Shows a job.
#[utoipa::path(get, path = "/v1/{project_id}/jobs/{job_id}", tag = "Jobs",
    params(("project_id" = String, Path), ("job_id" = String, Path)),
    responses((status = 200, body = JobBody), (status = 404, body = super::ErrorBody)))]
pub async fn show_job(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, job_id)): Path<(String, String)>,
) -> ApiResult {
    let view = s.control.get_job(&ctx, &project_id, &job_id).await?;
    let sub_jobs: Vec<SubJob> = view
        .sub_jobs
        .iter()
        .map(|j| SubJob { fields: fields(j), entities: serde_json::Value::Object(entities_of(j)) })
        .collect();
    let body = JobBody {
        fields: fields(&view.job),
        entities: JobEntities { sub_jobs_total: sub_jobs.len(), sub_jobs, extra: entities_of(&view.job) },
    };
    Ok(Json(body).into_response())
}
