//! Object storage repositories: buckets and objects (the current version of each key).

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Bucket {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub region: String,
    pub storage_class: String,
    pub created_at: i64,
}

const OBJECT_COLUMNS: &str = "bucket_id, object_key, data_id, size, etag, content_type, metadata, storage_class, \
     created_at, restore_state, restore_expires_at";

/// An object's metadata (its bytes are the file named by `data_id`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Object {
    pub bucket_id: String,
    pub object_key: String,
    pub data_id: String,
    pub size: i64,
    /// Hex MD5 (or `md5-of-md5s-N` for multipart), without quotes.
    pub etag: String,
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`), a JSON object of strings.
    pub metadata: String,
    pub storage_class: String,
    pub created_at: i64,
    /// For COLD objects: `ongoing` while a restore runs, `restored` until the expiry.
    pub restore_state: Option<String>,
    pub restore_expires_at: Option<i64>,
}

/// Records a restore's progress on the object version `data_id` (a newer version written
/// meanwhile is left alone); returns whether the row was updated.
pub async fn set_restore(
    c: &mut AnyConnection,
    bucket_id: &str,
    key: &str,
    data_id: &str,
    state: Option<&str>,
    expires_at: Option<i64>,
) -> Result<bool, Error> {
    let r = sqlx::query(
        "UPDATE objects SET restore_state = $4, restore_expires_at = $5 \
         WHERE bucket_id = $1 AND object_key = $2 AND data_id = $3",
    )
    .bind(bucket_id)
    .bind(key)
    .bind(data_id)
    .bind(state)
    .bind(expires_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn insert_bucket(c: &mut AnyConnection, b: &Bucket) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO buckets (id, name, project_id, region, storage_class, created_at) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(&b.id)
    .bind(&b.name)
    .bind(&b.project_id)
    .bind(&b.region)
    .bind(&b.storage_class)
    .bind(b.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_bucket(c: &mut AnyConnection, name: &str) -> Result<Option<Bucket>, Error> {
    sqlx::query_as("SELECT * FROM buckets WHERE name = $1").bind(name).fetch_optional(c).await.map_err(db_error)
}

/// Buckets of a project (all buckets when `project_id` is `None`), by name.
pub async fn list_buckets(c: &mut AnyConnection, project_id: Option<&str>) -> Result<Vec<Bucket>, Error> {
    let mut sql = Sql::new("SELECT * FROM buckets WHERE 1=1");
    sql.and_eq("project_id", project_id.map(|p| Arg::Text(p.into())));
    sql.push(" ORDER BY name");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_bucket(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM buckets WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn count_objects(c: &mut AnyConnection, bucket_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM objects WHERE bucket_id = $1")
        .bind(bucket_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

pub async fn get_object(c: &mut AnyConnection, bucket_id: &str, key: &str) -> Result<Option<Object>, Error> {
    sqlx::query_as(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = $1 AND object_key = $2"))
        .bind(bucket_id)
        .bind(key)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// Writes an object's row, replacing the previous version of the key; returns the replaced
/// row (whose data the caller removes after commit).
pub async fn put_object(c: &mut AnyConnection, o: &Object) -> Result<Option<Object>, Error> {
    let old = get_object(c, &o.bucket_id, &o.object_key).await?;
    if old.is_some() {
        sqlx::query("DELETE FROM objects WHERE bucket_id = $1 AND object_key = $2")
            .bind(&o.bucket_id)
            .bind(&o.object_key)
            .execute(&mut *c)
            .await
            .map_err(db_error)?;
    }
    sqlx::query(
        "INSERT INTO objects (bucket_id, object_key, key_hex, data_id, size, etag, content_type, metadata, \
         storage_class, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&o.bucket_id)
    .bind(&o.object_key)
    .bind(hex::encode(o.object_key.as_bytes()))
    .bind(&o.data_id)
    .bind(o.size)
    .bind(&o.etag)
    .bind(&o.content_type)
    .bind(&o.metadata)
    .bind(&o.storage_class)
    .bind(o.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(old)
}

pub async fn delete_object(c: &mut AnyConnection, bucket_id: &str, key: &str) -> Result<Option<Object>, Error> {
    let old = get_object(c, bucket_id, key).await?;
    if old.is_some() {
        sqlx::query("DELETE FROM objects WHERE bucket_id = $1 AND object_key = $2")
            .bind(bucket_id)
            .bind(key)
            .execute(c)
            .await
            .map_err(db_error)?;
    }
    Ok(old)
}

/// Objects of a bucket whose keys start with `prefix` and sort after `after`, in key order.
pub async fn list_objects(
    c: &mut AnyConnection,
    bucket_id: &str,
    prefix: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Object>, Error> {
    let mut sql = Sql::new(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = "));
    sql.bind(Arg::Text(bucket_id.into()));
    if !prefix.is_empty() {
        // A range on the key's hex instead of LIKE: byte order on both engines, exact for any
        // byte, and served by the index.
        sql.push(" AND key_hex >= ").bind(Arg::Text(hex::encode(prefix.as_bytes())));
    }
    if let Some(a) = after {
        sql.push(" AND key_hex > ").bind(Arg::Text(hex::encode(a.as_bytes())));
    }
    sql.push(" ORDER BY key_hex LIMIT ").bind(Arg::Int(limit));
    let rows: Vec<Object> = sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)?;
    Ok(rows.into_iter().take_while(|o| o.object_key.starts_with(prefix)).collect())
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Upload {
    pub id: String,
    pub bucket_id: String,
    pub object_key: String,
    pub content_type: Option<String>,
    pub metadata: String,
    pub storage_class: String,
    pub created_at: i64,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Part {
    pub upload_id: String,
    pub part_number: i64,
    pub data_id: String,
    pub size: i64,
    pub etag: String,
    pub created_at: i64,
}

pub async fn insert_upload(c: &mut AnyConnection, u: &Upload) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO multipart_uploads (id, bucket_id, object_key, content_type, metadata, storage_class, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(&u.id)
    .bind(&u.bucket_id)
    .bind(&u.object_key)
    .bind(&u.content_type)
    .bind(&u.metadata)
    .bind(&u.storage_class)
    .bind(u.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_upload(c: &mut AnyConnection, id: &str) -> Result<Option<Upload>, Error> {
    sqlx::query_as("SELECT * FROM multipart_uploads WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Uploads in progress in a bucket, by key then start time.
pub async fn list_uploads(c: &mut AnyConnection, bucket_id: &str) -> Result<Vec<Upload>, Error> {
    sqlx::query_as("SELECT * FROM multipart_uploads WHERE bucket_id = $1 ORDER BY object_key, created_at, id")
        .bind(bucket_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Removes an upload and its parts' rows; returns the parts (whose data the caller removes).
pub async fn delete_upload(c: &mut AnyConnection, id: &str) -> Result<Vec<Part>, Error> {
    let parts = list_parts(c, id).await?;
    sqlx::query("DELETE FROM multipart_parts WHERE upload_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    sqlx::query("DELETE FROM multipart_uploads WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(parts)
}

/// Records a part, replacing an earlier upload of the same number; returns the replaced one.
pub async fn put_part(c: &mut AnyConnection, p: &Part) -> Result<Option<Part>, Error> {
    let old: Option<Part> = sqlx::query_as("SELECT * FROM multipart_parts WHERE upload_id = $1 AND part_number = $2")
        .bind(&p.upload_id)
        .bind(p.part_number)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_error)?;
    sqlx::query("DELETE FROM multipart_parts WHERE upload_id = $1 AND part_number = $2")
        .bind(&p.upload_id)
        .bind(p.part_number)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    sqlx::query(
        "INSERT INTO multipart_parts (upload_id, part_number, data_id, size, etag, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(&p.upload_id)
    .bind(p.part_number)
    .bind(&p.data_id)
    .bind(p.size)
    .bind(&p.etag)
    .bind(p.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(old)
}

pub async fn list_parts(c: &mut AnyConnection, upload_id: &str) -> Result<Vec<Part>, Error> {
    sqlx::query_as("SELECT * FROM multipart_parts WHERE upload_id = $1 ORDER BY part_number")
        .bind(upload_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Ids of a bucket's uploads (a bucket delete aborts them).
pub async fn delete_bucket_uploads(c: &mut AnyConnection, bucket_id: &str) -> Result<(), Error> {
    for u in list_uploads(c, bucket_id).await? {
        delete_upload(c, &u.id).await?;
    }
    Ok(())
}

/// Requests of one operation on a bucket in one hour.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RequestCount {
    pub project_id: String,
    pub bucket: String,
    /// The hour's start, in milliseconds since the epoch.
    pub hour: i64,
    pub operation: String,
    pub requests: i64,
    pub bytes_out: i64,
}

/// Adds to an hour's counters.
pub async fn add_requests(c: &mut AnyConnection, r: &RequestCount) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO obs_requests (project_id, bucket, hour, operation, requests, bytes_out) \
         VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (project_id, bucket, hour, operation) \
         DO UPDATE SET requests = obs_requests.requests + $5, bytes_out = obs_requests.bytes_out + $6",
    )
    .bind(&r.project_id)
    .bind(&r.bucket)
    .bind(r.hour)
    .bind(&r.operation)
    .bind(r.requests)
    .bind(r.bytes_out)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A project's request counters, oldest hour first.
pub async fn request_counts(c: &mut AnyConnection, project_id: &str) -> Result<Vec<RequestCount>, Error> {
    sqlx::query_as("SELECT * FROM obs_requests WHERE project_id = $1 ORDER BY hour, bucket, operation")
        .bind(project_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}
