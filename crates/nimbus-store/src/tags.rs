//! Tags on any resource (seed 6.9.4): one table, keyed by resource type and id.
//!
//! OpenStack string tags are stored as a key with an empty value; Huawei TMS tags use both.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tag {
    pub resource_type: String,
    pub resource_id: String,
    pub project_id: String,
    pub tag_key: String,
    pub tag_value: String,
}

pub async fn list(c: &mut AnyConnection, resource_type: &str, resource_id: &str) -> Result<Vec<Tag>, Error> {
    sqlx::query_as("SELECT * FROM tags WHERE resource_type = $1 AND resource_id = $2 ORDER BY tag_key")
        .bind(resource_type)
        .bind(resource_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

pub async fn set(c: &mut AnyConnection, t: &Tag) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO tags (resource_type, resource_id, project_id, tag_key, tag_value) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (resource_type, resource_id, tag_key) DO UPDATE SET tag_value = $5",
    )
    .bind(&t.resource_type)
    .bind(&t.resource_id)
    .bind(&t.project_id)
    .bind(&t.tag_key)
    .bind(&t.tag_value)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn remove(c: &mut AnyConnection, resource_type: &str, resource_id: &str, key: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM tags WHERE resource_type = $1 AND resource_id = $2 AND tag_key = $3")
        .bind(resource_type)
        .bind(resource_id)
        .bind(key)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn clear(c: &mut AnyConnection, resource_type: &str, resource_id: &str) -> Result<u64, Error> {
    let r = sqlx::query("DELETE FROM tags WHERE resource_type = $1 AND resource_id = $2")
        .bind(resource_type)
        .bind(resource_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected())
}

/// Ids of resources of a type carrying every one of `keys` (Keystone/Nova `?tags=`).
pub async fn resources_with_tag(c: &mut AnyConnection, resource_type: &str, key: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT resource_id FROM tags WHERE resource_type = $1 AND tag_key = $2")
        .bind(resource_type)
        .bind(key)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Tag keys of every resource of a type (for rendering a whole list in one query).
pub async fn keys_by_resource(
    c: &mut AnyConnection,
    resource_type: &str,
) -> Result<std::collections::HashMap<String, Vec<String>>, Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT resource_id, tag_key FROM tags WHERE resource_type = $1 ORDER BY resource_id, tag_key")
            .bind(resource_type)
            .fetch_all(c)
            .await
            .map_err(db_error)?;
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (id, key) in rows {
        out.entry(id).or_default().push(key);
    }
    Ok(out)
}

/// Removes every tag a project owns (project purge).
pub async fn delete_project_tags(c: &mut AnyConnection, project_id: &str) -> Result<u64, Error> {
    let r =
        sqlx::query("DELETE FROM tags WHERE project_id = $1").bind(project_id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected())
}

/// Every tag of a project's resources of a type, by resource then key.
pub async fn project_tags(c: &mut AnyConnection, resource_type: &str, project_id: &str) -> Result<Vec<Tag>, Error> {
    sqlx::query_as("SELECT * FROM tags WHERE resource_type = $1 AND project_id = $2 ORDER BY resource_id, tag_key")
        .bind(resource_type)
        .bind(project_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Gives a resource's tags to another project (the resource was transferred).
pub async fn move_resource(
    c: &mut AnyConnection,
    resource_type: &str,
    resource_id: &str,
    project_id: &str,
) -> Result<(), Error> {
    sqlx::query("UPDATE tags SET project_id = $3 WHERE resource_type = $1 AND resource_id = $2")
        .bind(resource_type)
        .bind(resource_id)
        .bind(project_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}
