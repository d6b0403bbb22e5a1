//! Audit traces (Cloud Trace Service, seed 6.9.2): immutable, hash-chained per project.
//!
//! Each trace's `hash` is SHA-256 over the previous trace's hash and this trace's fields, so
//! editing or deleting a stored trace breaks the chain at that point ([`verify_chain`]).
//! Appends are ordered through the `trace_heads` row of the project.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::Error;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// A stored trace.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Trace {
    pub id: String,
    pub project_id: String,
    pub seq: i64,
    pub time_ms: i64,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub domain_id: Option<String>,
    pub source_ip: Option<String>,
    pub service_type: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub trace_name: String,
    pub trace_rating: String,
    pub trace_type: String,
    pub request_id: Option<String>,
    pub code: Option<String>,
    pub api_version: Option<String>,
    pub message: Option<String>,
    pub request: Option<String>,
    pub response: Option<String>,
    pub resource_url: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl Trace {
    /// The chain hash of this trace given its predecessor's hash.
    pub fn compute_hash(&self, prev_hash: &str) -> String {
        let fields = serde_json::json!([
            prev_hash,
            self.id,
            self.project_id,
            self.seq,
            self.time_ms,
            self.user_id,
            self.user_name,
            self.domain_id,
            self.source_ip,
            self.service_type,
            self.resource_type,
            self.resource_id,
            self.resource_name,
            self.trace_name,
            self.trace_rating,
            self.trace_type,
            self.request_id,
            self.code,
            self.api_version,
            self.message,
            self.request,
            self.response,
            self.resource_url,
        ]);
        hex::encode(Sha256::digest(fields.to_string().as_bytes()))
    }
}

/// Appends a trace: assigns its sequence number and chain hashes, then inserts it.
pub async fn append(c: &mut AnyConnection, mut t: Trace) -> Result<Trace, Error> {
    sqlx::query(
        "INSERT INTO trace_heads (project_id, seq, hash) VALUES ($1, 0, '') ON CONFLICT (project_id) DO NOTHING",
    )
    .bind(&t.project_id)
    .execute(&mut *c)
    .await
    .map_err(db_error)?;
    let (seq, prev): (i64, String) =
        sqlx::query_as("UPDATE trace_heads SET seq = seq + 1 WHERE project_id = $1 RETURNING seq, hash")
            .bind(&t.project_id)
            .fetch_one(&mut *c)
            .await
            .map_err(db_error)?;
    t.seq = seq;
    t.prev_hash = prev.clone();
    t.hash = t.compute_hash(&prev);
    sqlx::query(
        "INSERT INTO traces (id, project_id, seq, time_ms, user_id, user_name, domain_id, source_ip, service_type, \
         resource_type, resource_id, resource_name, trace_name, trace_rating, trace_type, request_id, code, \
         api_version, message, request, response, resource_url, prev_hash, hash) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)",
    )
    .bind(&t.id)
    .bind(&t.project_id)
    .bind(t.seq)
    .bind(t.time_ms)
    .bind(&t.user_id)
    .bind(&t.user_name)
    .bind(&t.domain_id)
    .bind(&t.source_ip)
    .bind(&t.service_type)
    .bind(&t.resource_type)
    .bind(&t.resource_id)
    .bind(&t.resource_name)
    .bind(&t.trace_name)
    .bind(&t.trace_rating)
    .bind(&t.trace_type)
    .bind(&t.request_id)
    .bind(&t.code)
    .bind(&t.api_version)
    .bind(&t.message)
    .bind(&t.request)
    .bind(&t.response)
    .bind(&t.resource_url)
    .bind(&t.prev_hash)
    .bind(&t.hash)
    .execute(&mut *c)
    .await
    .map_err(db_error)?;
    sqlx::query("UPDATE trace_heads SET hash = $2 WHERE project_id = $1")
        .bind(&t.project_id)
        .bind(&t.hash)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    Ok(t)
}

/// Filters of the CTS query API.
#[derive(Debug, Default, Clone)]
pub struct TraceFilter {
    pub project_id: String,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub service_type: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub trace_name: Option<String>,
    pub trace_id: Option<String>,
    pub user: Option<String>,
    pub trace_rating: Option<String>,
    /// Return traces with a sequence number below this one (newest first paging).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Lists traces newest first.
pub async fn list(c: &mut AnyConnection, f: &TraceFilter) -> Result<Vec<Trace>, Error> {
    let mut sql = Sql::new("SELECT * FROM traces WHERE project_id = ");
    sql.bind(f.project_id.as_str().into());
    if let Some(from) = f.from_ms {
        sql.push(" AND time_ms >= ").bind(Arg::Int(from));
    }
    if let Some(to) = f.to_ms {
        sql.push(" AND time_ms <= ").bind(Arg::Int(to));
    }
    if let Some(before) = f.before_seq {
        sql.push(" AND seq < ").bind(Arg::Int(before));
    }
    sql.and_eq("service_type", f.service_type.clone().map(Arg::from))
        .and_eq("resource_type", f.resource_type.clone().map(Arg::from))
        .and_eq("resource_id", f.resource_id.clone().map(Arg::from))
        .and_eq("resource_name", f.resource_name.clone().map(Arg::from))
        .and_eq("trace_name", f.trace_name.clone().map(Arg::from))
        .and_eq("id", f.trace_id.clone().map(Arg::from))
        .and_eq("trace_rating", f.trace_rating.clone().map(Arg::from));
    if let Some(user) = &f.user {
        sql.push(" AND (user_name = ").bind(user.as_str().into());
        sql.push(" OR user_id = ").bind(user.as_str().into()).push(")");
    }
    sql.push(" ORDER BY seq DESC LIMIT ").bind(Arg::Int(f.limit));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// Walks a project's chain in order; returns the sequence number of the first trace whose
/// stored hash does not match, or `None` when the chain is intact.
pub async fn verify_chain(c: &mut AnyConnection, project_id: &str) -> Result<Option<i64>, Error> {
    let traces: Vec<Trace> = sqlx::query_as("SELECT * FROM traces WHERE project_id = $1 ORDER BY seq")
        .bind(project_id)
        .fetch_all(&mut *c)
        .await
        .map_err(db_error)?;
    let mut prev = String::new();
    let mut expected_seq = 1;
    for t in &traces {
        if t.seq != expected_seq || t.prev_hash != prev || t.compute_hash(&prev) != t.hash {
            return Ok(Some(t.seq));
        }
        prev = t.hash.clone();
        expected_seq += 1;
    }
    let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM trace_heads WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)?;
    // A deleted tail shows as a head ahead of the last stored trace.
    match head {
        Some((seq, hash)) if seq != expected_seq - 1 || hash != prev => Ok(Some(expected_seq)),
        _ => Ok(None),
    }
}

/// A CTS tracker: each project has its `system` tracker, and may add `data` trackers that
/// record object-level events of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tracker {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub tracker_type: String,
    pub status: String,
    pub created_at: i64,
    /// For data trackers: the bucket's name and its events (`READ,WRITE`).
    pub data_bucket: Option<String>,
    pub data_events: Option<String>,
}

/// Inserts a tracker unless the project already has one of that name; true when inserted.
pub async fn insert_tracker(c: &mut AnyConnection, t: &Tracker) -> Result<bool, Error> {
    let r = sqlx::query(
        "INSERT INTO trackers (id, project_id, name, tracker_type, status, created_at, data_bucket, data_events) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (project_id, name) DO NOTHING",
    )
    .bind(&t.id)
    .bind(&t.project_id)
    .bind(&t.name)
    .bind(&t.tracker_type)
    .bind(&t.status)
    .bind(t.created_at)
    .bind(&t.data_bucket)
    .bind(&t.data_events)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(r.rows_affected() == 1)
}

/// A project's trackers, the system one first.
pub async fn list_trackers(c: &mut AnyConnection, project_id: &str) -> Result<Vec<Tracker>, Error> {
    sqlx::query_as("SELECT * FROM trackers WHERE project_id = $1 ORDER BY tracker_type DESC, name")
        .bind(project_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Updates a tracker's status and data events.
pub async fn update_tracker(c: &mut AnyConnection, t: &Tracker) -> Result<(), Error> {
    sqlx::query("UPDATE trackers SET status = $2, data_events = $3 WHERE id = $1")
        .bind(&t.id)
        .bind(&t.status)
        .bind(&t.data_events)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn delete_tracker(c: &mut AnyConnection, id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM trackers WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(())
}

/// A project's enabled data trackers of a bucket (by name).
pub async fn bucket_data_trackers(
    c: &mut AnyConnection,
    project_id: &str,
    bucket: &str,
) -> Result<Vec<Tracker>, Error> {
    sqlx::query_as(
        "SELECT * FROM trackers WHERE project_id = $1 AND tracker_type = 'data' AND data_bucket = $2 \
         AND status = 'enabled'",
    )
    .bind(project_id)
    .bind(bucket)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// The project's `system` tracker.
pub async fn system_tracker(c: &mut AnyConnection, project_id: &str) -> Result<Option<Tracker>, Error> {
    sqlx::query_as("SELECT * FROM trackers WHERE project_id = $1 AND name = 'system'")
        .bind(project_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}
