//! Quotas (seed 8.1): per-project hard limits and usage.
//!
//! Usage is charged by one conditional `UPDATE ... WHERE in_use + n <= limit` inside the
//! transaction that creates the resource, so two concurrent creates can never both pass the
//! check: on PostgreSQL the row lock orders them, on SQLite the write gate does.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// The stored limit override for a project, if any (`None` means the configured default).
pub async fn get_limit(c: &mut AnyConnection, project_id: &str, resource: &str) -> Result<Option<i64>, Error> {
    sqlx::query_scalar("SELECT hard_limit FROM quota_limits WHERE project_id = $1 AND resource = $2")
        .bind(project_id)
        .bind(resource)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// All stored limit overrides of a project.
pub async fn limits(c: &mut AnyConnection, project_id: &str) -> Result<Vec<(String, i64)>, Error> {
    sqlx::query_as("SELECT resource, hard_limit FROM quota_limits WHERE project_id = $1 ORDER BY resource")
        .bind(project_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Sets a project's limit for a resource (-1 is unlimited).
pub async fn set_limit(c: &mut AnyConnection, project_id: &str, resource: &str, limit: i64) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO quota_limits (project_id, resource, hard_limit) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = $3",
    )
    .bind(project_id)
    .bind(resource)
    .bind(limit)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Removes a project's overrides, returning it to the defaults.
pub async fn reset_limits(c: &mut AnyConnection, project_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM quota_limits WHERE project_id = $1")
        .bind(project_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The limits a quota class sets (the `default` class: every project's defaults).
pub async fn class_limits(c: &mut AnyConnection, class_name: &str) -> Result<Vec<(String, i64)>, Error> {
    sqlx::query_as("SELECT resource, hard_limit FROM quota_class_limits WHERE class_name = $1 ORDER BY resource")
        .bind(class_name)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// One limit of a quota class, if set.
pub async fn class_limit(c: &mut AnyConnection, class_name: &str, resource: &str) -> Result<Option<i64>, Error> {
    sqlx::query_scalar("SELECT hard_limit FROM quota_class_limits WHERE class_name = $1 AND resource = $2")
        .bind(class_name)
        .bind(resource)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// Sets a quota class's limit for a resource.
pub async fn set_class_limit(c: &mut AnyConnection, class_name: &str, resource: &str, limit: i64) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO quota_class_limits (class_name, resource, hard_limit) VALUES ($1, $2, $3) \
         ON CONFLICT (class_name, resource) DO UPDATE SET hard_limit = $3",
    )
    .bind(class_name)
    .bind(resource)
    .bind(limit)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Renames a resource everywhere (limits, class limits, usage): a volume type renamed
/// carries its per-type quotas along.
pub async fn rename_resource(c: &mut AnyConnection, from: &str, to: &str) -> Result<(), Error> {
    for table in ["quota_limits", "quota_class_limits", "quota_usage"] {
        sqlx::query(&format!("UPDATE {table} SET resource = $2 WHERE resource = $1"))
            .bind(from)
            .bind(to)
            .execute(&mut *c)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Current usage of every resource a project has charged.
pub async fn usage(c: &mut AnyConnection, project_id: &str) -> Result<Vec<(String, i64)>, Error> {
    sqlx::query_as("SELECT resource, in_use FROM quota_usage WHERE project_id = $1 ORDER BY resource")
        .bind(project_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

async fn in_use(c: &mut AnyConnection, project_id: &str, resource: &str) -> Result<i64, Error> {
    Ok(sqlx::query_scalar("SELECT in_use FROM quota_usage WHERE project_id = $1 AND resource = $2")
        .bind(project_id)
        .bind(resource)
        .fetch_optional(c)
        .await
        .map_err(db_error)?
        .unwrap_or(0))
}

/// Charges `amount` of `resource` to a project if it stays within `limit` (-1: unlimited).
pub async fn charge(
    c: &mut AnyConnection,
    project_id: &str,
    resource: &str,
    amount: i64,
    limit: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO quota_usage (project_id, resource, in_use) VALUES ($1, $2, 0) \
         ON CONFLICT (project_id, resource) DO NOTHING",
    )
    .bind(project_id)
    .bind(resource)
    .execute(&mut *c)
    .await
    .map_err(db_error)?;
    let r = sqlx::query(
        "UPDATE quota_usage SET in_use = in_use + $3 \
         WHERE project_id = $1 AND resource = $2 AND ($4 < 0 OR in_use + $3 <= $4)",
    )
    .bind(project_id)
    .bind(resource)
    .bind(amount)
    .bind(limit)
    .execute(&mut *c)
    .await
    .map_err(db_error)?;
    if r.rows_affected() == 1 {
        return Ok(());
    }
    let used = in_use(c, project_id, resource).await?;
    Err(Error::OverQuota { resource: resource.to_string(), limit, in_use: used, requested: amount })
}

/// Gives back `amount` of `resource` (never below zero).
pub async fn release(c: &mut AnyConnection, project_id: &str, resource: &str, amount: i64) -> Result<(), Error> {
    sqlx::query(
        "UPDATE quota_usage SET in_use = CASE WHEN in_use > $3 THEN in_use - $3 ELSE 0 END \
         WHERE project_id = $1 AND resource = $2",
    )
    .bind(project_id)
    .bind(resource)
    .bind(amount)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Drops every quota row of a project (project purge).
pub async fn delete_project(c: &mut AnyConnection, project_id: &str) -> Result<(), Error> {
    for stmt in ["DELETE FROM quota_usage WHERE project_id = $1", "DELETE FROM quota_limits WHERE project_id = $1"] {
        sqlx::query(stmt).bind(project_id).execute(&mut *c).await.map_err(db_error)?;
    }
    Ok(())
}
