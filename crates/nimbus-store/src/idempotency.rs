//! Idempotency keys (`X-Client-Token`): a retry returns the first answer.
//!
//! The key is claimed (`pending`) before the request runs; the unique key makes a concurrent
//! duplicate lose the race instead of creating a second resource. When the request ends its
//! answer is stored (`done`) and replayed to every retry.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A stored idempotency record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdempotencyKey {
    pub project_id: String,
    pub client_token: String,
    pub fingerprint: String,
    pub state: String,
    pub status: Option<i64>,
    pub body: Option<String>,
    pub created_at: i64,
}

/// Tries to claim the key. Returns `Ok(None)` if claimed now, or the existing record.
pub async fn claim(
    c: &mut AnyConnection,
    project_id: &str,
    token: &str,
    fingerprint: &str,
    now: i64,
) -> Result<Option<IdempotencyKey>, Error> {
    let r = sqlx::query(
        "INSERT INTO idempotency_keys (project_id, client_token, fingerprint, state, created_at) \
         VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (project_id, client_token) DO NOTHING",
    )
    .bind(project_id)
    .bind(token)
    .bind(fingerprint)
    .bind(now)
    .execute(&mut *c)
    .await
    .map_err(db_error)?;
    if r.rows_affected() == 1 {
        return Ok(None);
    }
    get(c, project_id, token).await
}

pub async fn get(c: &mut AnyConnection, project_id: &str, token: &str) -> Result<Option<IdempotencyKey>, Error> {
    sqlx::query_as("SELECT * FROM idempotency_keys WHERE project_id = $1 AND client_token = $2")
        .bind(project_id)
        .bind(token)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// Stores the answer of a claimed key.
pub async fn complete(
    c: &mut AnyConnection,
    project_id: &str,
    token: &str,
    status: i64,
    body: &str,
) -> Result<(), Error> {
    sqlx::query("UPDATE idempotency_keys SET state = 'done', status = $3, body = $4 WHERE project_id = $1 AND client_token = $2")
        .bind(project_id)
        .bind(token)
        .bind(status)
        .bind(body)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Releases a claimed key whose request failed before changing anything, so a retry may run.
pub async fn release(c: &mut AnyConnection, project_id: &str, token: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE project_id = $1 AND client_token = $2 AND state = 'pending'")
        .bind(project_id)
        .bind(token)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}
