//! User messages: why an operation a project asked for failed after it was accepted.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::Error;
use sqlx::AnyConnection;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Message {
    pub id: String,
    pub project_id: String,
    pub request_id: String,
    pub event_id: String,
    pub message_level: String,
    pub resource_type: Option<String>,
    pub resource_uuid: Option<String>,
    pub user_message: String,
    pub created_at: i64,
    pub guaranteed_until: i64,
}

pub async fn insert(c: &mut AnyConnection, m: &Message) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO user_messages (id, project_id, request_id, event_id, message_level, resource_type, \
         resource_uuid, user_message, created_at, guaranteed_until) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&m.id)
    .bind(&m.project_id)
    .bind(&m.request_id)
    .bind(&m.event_id)
    .bind(&m.message_level)
    .bind(&m.resource_type)
    .bind(&m.resource_uuid)
    .bind(&m.user_message)
    .bind(m.created_at)
    .bind(m.guaranteed_until)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Message>, Error> {
    sqlx::query_as("SELECT * FROM user_messages WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Messages of one project (every project's for `None`), newest first, at most `limit`.
pub async fn list(
    c: &mut AnyConnection,
    project_id: Option<&str>,
    resource_uuid: Option<&str>,
    limit: i64,
) -> Result<Vec<Message>, Error> {
    let mut sql = Sql::new("SELECT * FROM user_messages WHERE 1=1");
    sql.and_eq("project_id", project_id.map(|p| Arg::Text(p.into())));
    sql.and_eq("resource_uuid", resource_uuid.map(|r| Arg::Text(r.into())));
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(Arg::Int(limit));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM user_messages WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Removes a project's messages kept long enough.
pub async fn purge_expired(c: &mut AnyConnection, project_id: &str, now: i64) -> Result<(), Error> {
    sqlx::query("DELETE FROM user_messages WHERE project_id = $1 AND guaranteed_until < $2")
        .bind(project_id)
        .bind(now)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}
