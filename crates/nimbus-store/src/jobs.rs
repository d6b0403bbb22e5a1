//! Durable jobs: the record of every long operation (Huawei `/v1/{project_id}/jobs/{job_id}`).
//!
//! A job is written in the same transaction as the resource change that needs it, so an
//! acknowledged request always has its job. The job runner in the control plane claims
//! `INIT`/`RUNNING` jobs, advances `step`, and finishes them with `SUCCESS` or `FAIL`.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A job row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub project_id: String,
    pub parent_id: Option<String>,
    pub job_type: String,
    pub status: String,
    pub step: i64,
    pub params: String,
    pub entities: String,
    pub error_code: Option<String>,
    pub fail_reason: Option<String>,
    pub attempts: i64,
    pub begin_time: i64,
    pub end_time: Option<i64>,
    pub updated_at: i64,
}

pub const INIT: &str = "INIT";
pub const RUNNING: &str = "RUNNING";
pub const SUCCESS: &str = "SUCCESS";
pub const FAIL: &str = "FAIL";

pub async fn insert(c: &mut AnyConnection, j: &Job) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO jobs (id, project_id, parent_id, job_type, status, step, params, entities, error_code, fail_reason, \
         attempts, begin_time, end_time, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
    )
    .bind(&j.id)
    .bind(&j.project_id)
    .bind(&j.parent_id)
    .bind(&j.job_type)
    .bind(&j.status)
    .bind(j.step)
    .bind(&j.params)
    .bind(&j.entities)
    .bind(&j.error_code)
    .bind(&j.fail_reason)
    .bind(j.attempts)
    .bind(j.begin_time)
    .bind(j.end_time)
    .bind(j.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Job>, Error> {
    sqlx::query_as("SELECT * FROM jobs WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn children(c: &mut AnyConnection, parent_id: &str) -> Result<Vec<Job>, Error> {
    sqlx::query_as("SELECT * FROM jobs WHERE parent_id = $1 ORDER BY begin_time, id")
        .bind(parent_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Jobs not yet finished, oldest first: what the runner must (re)start.
pub async fn unfinished(c: &mut AnyConnection, limit: i64) -> Result<Vec<Job>, Error> {
    sqlx::query_as("SELECT * FROM jobs WHERE status IN ('INIT', 'RUNNING') ORDER BY begin_time, id LIMIT $1")
        .bind(limit)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Records progress: status, step and entities.
pub async fn update_progress(
    c: &mut AnyConnection,
    id: &str,
    status: &str,
    step: i64,
    entities: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query("UPDATE jobs SET status=$2, step=$3, entities=$4, updated_at=$5 WHERE id=$1")
        .bind(id)
        .bind(status)
        .bind(step)
        .bind(entities)
        .bind(now)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Counts one more start of the job (a restart after a crash counts too).
pub async fn bump_attempts(c: &mut AnyConnection, id: &str, now: i64) -> Result<i64, Error> {
    sqlx::query("UPDATE jobs SET attempts = attempts + 1, status = 'RUNNING', updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    sqlx::query_scalar("SELECT attempts FROM jobs WHERE id = $1").bind(id).fetch_one(c).await.map_err(db_error)
}

/// Ends a job.
pub async fn finish(
    c: &mut AnyConnection,
    id: &str,
    status: &str,
    error_code: Option<&str>,
    fail_reason: Option<&str>,
    now: i64,
) -> Result<(), Error> {
    sqlx::query("UPDATE jobs SET status=$2, error_code=$3, fail_reason=$4, end_time=$5, updated_at=$5 WHERE id=$1")
        .bind(id)
        .bind(status)
        .bind(error_code)
        .bind(fail_reason)
        .bind(now)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Runs one of the fixed purge statements (`DELETE ... WHERE project_id = $1`) of a
/// project-purge job step. The statement text comes from the job handler, never from input.
pub async fn purge_rows(c: &mut AnyConnection, statement: &'static str, project_id: &str) -> Result<u64, Error> {
    let r = sqlx::query(statement).bind(project_id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected())
}
