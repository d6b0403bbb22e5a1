//! Object storage repositories: buckets with their settings, objects (the current version
//! of each key in `objects`, older versions and delete markers in `object_versions`),
//! multipart uploads and request counters.

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
    /// `None` (never versioned), `Enabled` or `Suspended`.
    pub versioning: Option<String>,
    /// The bucket policy (S3 JSON), as the owner wrote it.
    pub policy: Option<String>,
    /// The canned ACL (`private`, `public-read`, `public-read-write`, `authenticated-read`).
    pub acl: String,
    /// JSON documents written by the control plane.
    pub cors: Option<String>,
    pub tagging: Option<String>,
    pub lifecycle: Option<String>,
    pub encryption: Option<String>,
    /// Bytes the bucket may hold (0: no quota).
    pub quota_bytes: i64,
    /// Object-level events CTS data trackers record (`READ`, `WRITE`, comma-separated).
    pub data_events: Option<String>,
}

/// A bucket setting [`set_bucket_setting`] may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSetting {
    Versioning,
    Policy,
    Acl,
    Cors,
    Tagging,
    Lifecycle,
    Encryption,
    /// The default class (never cleared).
    StorageClass,
}

impl BucketSetting {
    fn column(self) -> &'static str {
        match self {
            Self::Versioning => "versioning",
            Self::Policy => "policy",
            Self::Acl => "acl",
            Self::Cors => "cors",
            Self::Tagging => "tagging",
            Self::Lifecycle => "lifecycle",
            Self::Encryption => "encryption",
            Self::StorageClass => "storage_class",
        }
    }
}

/// Writes (or clears, with `None`) one setting of a bucket.
pub async fn set_bucket_setting(
    c: &mut AnyConnection,
    bucket_id: &str,
    setting: BucketSetting,
    value: Option<&str>,
) -> Result<(), Error> {
    let sql = format!("UPDATE buckets SET {} = $2 WHERE id = $1", setting.column());
    sqlx::query(&sql).bind(bucket_id).bind(value).execute(c).await.map_err(db_error)?;
    Ok(())
}

/// Sets the object-level events data trackers record on a bucket.
pub async fn set_bucket_data_events(c: &mut AnyConnection, name: &str, events: Option<&str>) -> Result<(), Error> {
    sqlx::query("UPDATE buckets SET data_events = $2 WHERE name = $1")
        .bind(name)
        .bind(events)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Sets a bucket's storage quota in bytes (0: none).
pub async fn set_bucket_quota(c: &mut AnyConnection, bucket_id: &str, bytes: i64) -> Result<(), Error> {
    sqlx::query("UPDATE buckets SET quota_bytes = $2 WHERE id = $1")
        .bind(bucket_id)
        .bind(bytes)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Buckets with lifecycle rules.
pub async fn buckets_with_lifecycle(c: &mut AnyConnection) -> Result<Vec<Bucket>, Error> {
    sqlx::query_as("SELECT * FROM buckets WHERE lifecycle IS NOT NULL ORDER BY name")
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Bytes and objects a bucket holds, counting every stored version.
pub async fn bucket_usage(c: &mut AnyConnection, bucket_id: &str) -> Result<(i64, i64), Error> {
    let (cur_bytes, cur_n): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM objects WHERE bucket_id = $1",
    )
    .bind(bucket_id)
    .fetch_one(&mut *c)
    .await
    .map_err(db_error)?;
    let (old_bytes, old_n): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM object_versions \
         WHERE bucket_id = $1 AND delete_marker = 0",
    )
    .bind(bucket_id)
    .fetch_one(c)
    .await
    .map_err(db_error)?;
    Ok((cur_bytes + old_bytes, cur_n + old_n))
}

const OBJECT_COLUMNS: &str = "bucket_id, object_key, data_id, size, etag, content_type, metadata, storage_class, \
     created_at, restore_state, restore_expires_at, version_id, tags, acl, sse, headers";

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
    /// `null` in never-versioned buckets and for versions written while suspended.
    pub version_id: String,
    /// Tags, a JSON array of `[key, value]` pairs.
    pub tags: String,
    /// The canned ACL.
    pub acl: String,
    /// `AES256:<wrapped data key>` for objects encrypted at rest.
    pub sse: Option<String>,
    /// Content headers (`cache-control`, `content-disposition`...), a JSON object.
    pub headers: String,
}

/// A version of an object: the current one, an older one, or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Version {
    #[sqlx(flatten)]
    pub object: Object,
    #[sqlx(try_from = "crate::IntBool")]
    pub delete_marker: bool,
    /// Whether this is the key's newest version (for a delete marker: the key is deleted).
    #[sqlx(try_from = "crate::IntBool")]
    pub is_latest: bool,
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
        "INSERT INTO buckets (id, name, project_id, region, storage_class, created_at, versioning, policy, acl, cors, \
         tagging, lifecycle, encryption, quota_bytes, data_events) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
    )
    .bind(&b.id)
    .bind(&b.name)
    .bind(&b.project_id)
    .bind(&b.region)
    .bind(&b.storage_class)
    .bind(b.created_at)
    .bind(&b.versioning)
    .bind(&b.policy)
    .bind(&b.acl)
    .bind(&b.cors)
    .bind(&b.tagging)
    .bind(&b.lifecycle)
    .bind(&b.encryption)
    .bind(b.quota_bytes)
    .bind(&b.data_events)
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

/// Object versions stored encrypted, in the whole region.
pub async fn count_sealed(c: &mut AnyConnection) -> Result<i64, Error> {
    let mut n = 0;
    for table in ["objects", "object_versions", "multipart_uploads"] {
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE sse IS NOT NULL");
        n += sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut *c).await.map_err(db_error)?;
    }
    Ok(n)
}

/// Objects of a bucket, counting older versions and delete markers.
pub async fn count_objects(c: &mut AnyConnection, bucket_id: &str) -> Result<i64, Error> {
    let current: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM objects WHERE bucket_id = $1")
        .bind(bucket_id)
        .fetch_one(&mut *c)
        .await
        .map_err(db_error)?;
    let older: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM object_versions WHERE bucket_id = $1")
        .bind(bucket_id)
        .fetch_one(c)
        .await
        .map_err(db_error)?;
    Ok(current + older)
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
    insert_current(c, o).await?;
    Ok(old)
}

/// Inserts `o` as its key's current version (the key has none).
pub async fn insert_current(c: &mut AnyConnection, o: &Object) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO objects (bucket_id, object_key, key_hex, data_id, size, etag, content_type, metadata, \
         storage_class, created_at, restore_state, restore_expires_at, version_id, tags, acl, sse, headers) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)",
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
    .bind(&o.restore_state)
    .bind(o.restore_expires_at)
    .bind(&o.version_id)
    .bind(&o.tags)
    .bind(&o.acl)
    .bind(&o.sse)
    .bind(&o.headers)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Appends an older version or a delete marker as its key's newest entry in
/// `object_versions`.
pub async fn insert_noncurrent(c: &mut AnyConnection, o: &Object, delete_marker: bool) -> Result<(), Error> {
    let seq: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) FROM object_versions WHERE bucket_id = $1 AND object_key = $2",
    )
    .bind(&o.bucket_id)
    .bind(&o.object_key)
    .fetch_one(&mut *c)
    .await
    .map_err(db_error)?;
    sqlx::query(
        "INSERT INTO object_versions (bucket_id, object_key, key_hex, version_id, seq, delete_marker, data_id, size, \
         etag, content_type, metadata, storage_class, created_at, restore_state, restore_expires_at, tags, acl, sse, \
         headers) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
    )
    .bind(&o.bucket_id)
    .bind(&o.object_key)
    .bind(hex::encode(o.object_key.as_bytes()))
    .bind(&o.version_id)
    .bind(seq)
    .bind(delete_marker as i64)
    .bind(&o.data_id)
    .bind(o.size)
    .bind(&o.etag)
    .bind(&o.content_type)
    .bind(&o.metadata)
    .bind(&o.storage_class)
    .bind(o.created_at)
    .bind(&o.restore_state)
    .bind(o.restore_expires_at)
    .bind(&o.tags)
    .bind(&o.acl)
    .bind(&o.sse)
    .bind(&o.headers)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// `object_versions` rows as [`Version`]s (`is_latest` computed).
const VERSION_SELECT: &str = "SELECT v.bucket_id, v.object_key, v.data_id, v.size, v.etag, v.content_type, \
     v.metadata, v.storage_class, v.created_at, v.restore_state, v.restore_expires_at, v.version_id, v.tags, v.acl, \
     v.sse, v.headers, v.delete_marker, \
     CAST(CASE WHEN v.seq = (SELECT MAX(w.seq) FROM object_versions w WHERE w.bucket_id = v.bucket_id \
       AND w.object_key = v.object_key) AND NOT EXISTS (SELECT 1 FROM objects o \
       WHERE o.bucket_id = v.bucket_id AND o.object_key = v.object_key) THEN 1 ELSE 0 END AS BIGINT) AS is_latest \
     FROM object_versions v";

/// One version of a key: the current one or an older one / delete marker.
pub async fn get_version(
    c: &mut AnyConnection,
    bucket_id: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<Version>, Error> {
    if let Some(o) = get_object(c, bucket_id, key).await?.filter(|o| o.version_id == version_id) {
        return Ok(Some(Version { object: o, delete_marker: false, is_latest: true }));
    }
    let row: Option<Version> =
        sqlx::query_as(&format!("{VERSION_SELECT} WHERE v.bucket_id = $1 AND v.object_key = $2 AND v.version_id = $3"))
            .bind(bucket_id)
            .bind(key)
            .bind(version_id)
            .fetch_optional(c)
            .await
            .map_err(db_error)?;
    Ok(row)
}

/// The newest entry of a key in `object_versions`.
pub async fn newest_noncurrent(c: &mut AnyConnection, bucket_id: &str, key: &str) -> Result<Option<Version>, Error> {
    let row: Option<Version> = sqlx::query_as(&format!(
        "{VERSION_SELECT} WHERE v.bucket_id = $1 AND v.object_key = $2 ORDER BY v.seq DESC LIMIT 1"
    ))
    .bind(bucket_id)
    .bind(key)
    .fetch_optional(c)
    .await
    .map_err(db_error)?;
    Ok(row)
}

/// Removes one entry of `object_versions`; returns it.
pub async fn delete_noncurrent(
    c: &mut AnyConnection,
    bucket_id: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<Version>, Error> {
    let row: Option<Version> =
        sqlx::query_as(&format!("{VERSION_SELECT} WHERE v.bucket_id = $1 AND v.object_key = $2 AND v.version_id = $3"))
            .bind(bucket_id)
            .bind(key)
            .bind(version_id)
            .fetch_optional(&mut *c)
            .await
            .map_err(db_error)?;
    if row.is_some() {
        sqlx::query("DELETE FROM object_versions WHERE bucket_id = $1 AND object_key = $2 AND version_id = $3")
            .bind(bucket_id)
            .bind(key)
            .bind(version_id)
            .execute(c)
            .await
            .map_err(db_error)?;
    }
    Ok(row)
}

/// Entries of `object_versions` for keys starting with `prefix` and sorting after
/// `after_key`, in key order then newest first (the caller merges in current versions).
pub async fn list_noncurrent(
    c: &mut AnyConnection,
    bucket_id: &str,
    prefix: &str,
    after_key: Option<&str>,
    limit: i64,
) -> Result<Vec<Version>, Error> {
    let mut sql = Sql::new(&format!("{VERSION_SELECT} WHERE v.bucket_id = "));
    sql.bind(Arg::Text(bucket_id.into()));
    if !prefix.is_empty() {
        sql.push(" AND v.key_hex >= ").bind(Arg::Text(hex::encode(prefix.as_bytes())));
    }
    if let Some(a) = after_key {
        sql.push(" AND v.key_hex > ").bind(Arg::Text(hex::encode(a.as_bytes())));
    }
    sql.push(" ORDER BY v.key_hex, v.seq DESC LIMIT ").bind(Arg::Int(limit));
    let rows: Vec<Version> = sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)?;
    Ok(rows.into_iter().take_while(|v| v.object.object_key.starts_with(prefix)).collect())
}

/// Every entry of one key in `object_versions`, newest first.
pub async fn key_noncurrent(c: &mut AnyConnection, bucket_id: &str, key: &str) -> Result<Vec<Version>, Error> {
    let rows: Vec<Version> =
        sqlx::query_as(&format!("{VERSION_SELECT} WHERE v.bucket_id = $1 AND v.object_key = $2 ORDER BY v.seq DESC"))
            .bind(bucket_id)
            .bind(key)
            .fetch_all(c)
            .await
            .map_err(db_error)?;
    Ok(rows)
}

/// A setting of one object version [`set_version_setting`] may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSetting {
    Tags,
    Acl,
}

/// Updates a setting of a version (current or older); returns whether it exists.
pub async fn set_version_setting(
    c: &mut AnyConnection,
    bucket_id: &str,
    key: &str,
    version_id: &str,
    setting: VersionSetting,
    value: &str,
) -> Result<bool, Error> {
    let column = match setting {
        VersionSetting::Tags => "tags",
        VersionSetting::Acl => "acl",
    };
    let mut n = 0;
    for table in ["objects", "object_versions"] {
        let sql =
            format!("UPDATE {table} SET {column} = $4 WHERE bucket_id = $1 AND object_key = $2 AND version_id = $3");
        n += sqlx::query(&sql)
            .bind(bucket_id)
            .bind(key)
            .bind(version_id)
            .bind(value)
            .execute(&mut *c)
            .await
            .map_err(db_error)?
            .rows_affected();
    }
    Ok(n > 0)
}

/// Changes the storage class of a key's current version (lifecycle transitions); returns
/// whether the row (still at `data_id`) was updated.
pub async fn set_storage_class(
    c: &mut AnyConnection,
    bucket_id: &str,
    key: &str,
    data_id: &str,
    class: &str,
) -> Result<bool, Error> {
    let r = sqlx::query(
        "UPDATE objects SET storage_class = $4, restore_state = NULL, restore_expires_at = NULL \
         WHERE bucket_id = $1 AND object_key = $2 AND data_id = $3",
    )
    .bind(bucket_id)
    .bind(key)
    .bind(data_id)
    .bind(class)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
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
    /// What the completed object gets: tags, canned ACL, encryption, content headers (see
    /// [`Object`]).
    pub tags: String,
    pub acl: String,
    pub sse: Option<String>,
    pub headers: String,
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
        "INSERT INTO multipart_uploads (id, bucket_id, object_key, content_type, metadata, storage_class, created_at, \
         tags, acl, sse, headers) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(&u.id)
    .bind(&u.bucket_id)
    .bind(&u.object_key)
    .bind(&u.content_type)
    .bind(&u.metadata)
    .bind(&u.storage_class)
    .bind(u.created_at)
    .bind(&u.tags)
    .bind(&u.acl)
    .bind(&u.sse)
    .bind(&u.headers)
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
