//! Image repositories: the image catalogue and image sharing (members).

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// An image row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub status: String,
    pub visibility: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub protected: bool,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub properties: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A project an image is shared with.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub image_id: String,
    pub member_id: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert(c: &mut AnyConnection, i: &Image) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO images (id, name, owner, status, visibility, protected, disk_format, container_format, min_disk, \
         min_ram, size, virtual_size, checksum, os_hash_algo, os_hash_value, properties, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.owner)
    .bind(&i.status)
    .bind(&i.visibility)
    .bind(i.protected as i64)
    .bind(&i.disk_format)
    .bind(&i.container_format)
    .bind(i.min_disk)
    .bind(i.min_ram)
    .bind(i.size)
    .bind(i.virtual_size)
    .bind(&i.checksum)
    .bind(&i.os_hash_algo)
    .bind(&i.os_hash_value)
    .bind(&i.properties)
    .bind(i.created_at)
    .bind(i.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update(c: &mut AnyConnection, i: &Image) -> Result<(), Error> {
    sqlx::query(
        "UPDATE images SET name=$2, status=$3, visibility=$4, protected=$5, disk_format=$6, container_format=$7, \
         min_disk=$8, min_ram=$9, size=$10, virtual_size=$11, checksum=$12, os_hash_algo=$13, os_hash_value=$14, \
         properties=$15, updated_at=$16 WHERE id=$1",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.status)
    .bind(&i.visibility)
    .bind(i.protected as i64)
    .bind(&i.disk_format)
    .bind(&i.container_format)
    .bind(i.min_disk)
    .bind(i.min_ram)
    .bind(i.size)
    .bind(i.virtual_size)
    .bind(&i.checksum)
    .bind(&i.os_hash_algo)
    .bind(&i.os_hash_value)
    .bind(&i.properties)
    .bind(i.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Moves an image from one status to another only if it is still in `from` (upload races).
pub async fn transition(c: &mut AnyConnection, id: &str, from: &str, to: &str, now: i64) -> Result<bool, Error> {
    let r = sqlx::query("UPDATE images SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2")
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(now)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() == 1)
}

pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Image>, Error> {
    sqlx::query_as("SELECT * FROM images WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Filters of the image list; visibility rules are applied through `viewer`.
#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    /// The project looking; `None` for an admin who sees everything.
    pub viewer: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub visibility: Option<String>,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    /// Only images carrying this tag.
    pub tag: Option<String>,
    /// Which shares with the viewer to list (Glance `member_status`: `pending`, `accepted`,
    /// `rejected` or `all`); by default only accepted ones.
    pub member_status: Option<String>,
}

pub async fn list(c: &mut AnyConnection, f: &ImageFilter, page: &PageRequest) -> Result<Vec<Image>, Error> {
    let mut sql = Sql::new("SELECT * FROM images i WHERE status <> 'deleted'");
    if let Some(v) = &f.viewer {
        // Public and community images, the viewer's own, and those shared with it.
        sql.push(" AND (visibility = 'public' OR owner = ").bind(v.as_str().into());
        sql.push(" OR (visibility = 'community' AND ")
            .bind(Arg::Bool(f.visibility.as_deref() == Some("community")))
            .push(" = 1)");
        sql.push(" OR (visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = i.id AND m.member_id = ")
            .bind(v.as_str().into());
        match f.member_status.as_deref() {
            Some("all") => {}
            Some(status) => {
                sql.push(" AND m.status = ").bind(status.into());
            }
            None => {
                sql.push(" AND m.status = 'accepted'");
            }
        }
        sql.push(")))");
    }
    sql.and_eq("name", f.name.clone().map(Arg::from))
        .and_eq("status", f.status.clone().map(Arg::from))
        .and_eq("visibility", f.visibility.clone().map(Arg::from))
        .and_eq("owner", f.owner.clone().map(Arg::from))
        .and_eq("disk_format", f.disk_format.clone().map(Arg::from));
    if let Some(tag) = &f.tag {
        sql.push(" AND id IN (SELECT resource_id FROM tags WHERE resource_type = 'image' AND tag_key = ")
            .bind(tag.as_str().into())
            .push(")");
    }
    if let Some(m) = &page.marker {
        sql.push(" AND id > ").bind(m.as_str().into());
    }
    sql.push(" ORDER BY id LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM images WHERE id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    sqlx::query("DELETE FROM image_members WHERE image_id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    sqlx::query("DELETE FROM tags WHERE resource_type = 'image' AND resource_id = $1")
        .bind(id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn get_member(c: &mut AnyConnection, image_id: &str, member_id: &str) -> Result<Option<Member>, Error> {
    sqlx::query_as("SELECT * FROM image_members WHERE image_id = $1 AND member_id = $2")
        .bind(image_id)
        .bind(member_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn list_members(c: &mut AnyConnection, image_id: &str) -> Result<Vec<Member>, Error> {
    sqlx::query_as("SELECT * FROM image_members WHERE image_id = $1 ORDER BY member_id")
        .bind(image_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

pub async fn insert_member(c: &mut AnyConnection, m: &Member) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(&m.image_id)
    .bind(&m.member_id)
    .bind(&m.status)
    .bind(m.created_at)
    .bind(m.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn set_member_status(
    c: &mut AnyConnection,
    image_id: &str,
    member_id: &str,
    status: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query("UPDATE image_members SET status = $3, updated_at = $4 WHERE image_id = $1 AND member_id = $2")
        .bind(image_id)
        .bind(member_id)
        .bind(status)
        .bind(now)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn delete_member(c: &mut AnyConnection, image_id: &str, member_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM image_members WHERE image_id = $1 AND member_id = $2")
        .bind(image_id)
        .bind(member_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}
