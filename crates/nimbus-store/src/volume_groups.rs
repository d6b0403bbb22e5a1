//! Generic volume group repositories (Cinder groups): group types, groups and group
//! snapshots. Members are volumes whose `group_id` names the group; a group snapshot's
//! members are the snapshots whose `group_snapshot_id` names it.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A group type (admin-made) and its specs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[sqlx(try_from = "crate::IntBool")]
    pub is_public: bool,
    /// A JSON object of strings.
    pub group_specs: String,
    pub created_at: i64,
}

pub async fn insert_type(c: &mut AnyConnection, t: &GroupType) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volume_group_types (id, name, description, is_public, group_specs, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.is_public as i64)
    .bind(&t.group_specs)
    .bind(t.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_type(c: &mut AnyConnection, t: &GroupType) -> Result<(), Error> {
    sqlx::query("UPDATE volume_group_types SET name=$2, description=$3, is_public=$4, group_specs=$5 WHERE id=$1")
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.description)
        .bind(t.is_public as i64)
        .bind(&t.group_specs)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn delete_type(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_group_types WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A group type by id, or by name.
pub async fn find_type(c: &mut AnyConnection, id_or_name: &str) -> Result<Option<GroupType>, Error> {
    sqlx::query_as("SELECT * FROM volume_group_types WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1")
        .bind(id_or_name)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn list_types(c: &mut AnyConnection) -> Result<Vec<GroupType>, Error> {
    sqlx::query_as("SELECT * FROM volume_group_types ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// How many groups (deleted or not yet) use a group type.
pub async fn type_in_use(c: &mut AnyConnection, type_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM volume_groups WHERE group_type_id = $1")
        .bind(type_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

/// A group of volumes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Group {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub group_type_id: String,
    /// A JSON array of volume type ids.
    pub volume_types: String,
    pub availability_zone: String,
    pub status: String,
    pub group_snapshot_id: Option<String>,
    pub source_group_id: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

impl Group {
    /// The ids of the volume types its volumes may have.
    pub fn volume_type_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.volume_types).unwrap_or_default()
    }
}

pub async fn insert_group(c: &mut AnyConnection, g: &Group) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volume_groups (id, project_id, user_id, name, description, group_type_id, volume_types, \
         availability_zone, status, group_snapshot_id, source_group_id, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(&g.id)
    .bind(&g.project_id)
    .bind(&g.user_id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(&g.group_type_id)
    .bind(&g.volume_types)
    .bind(&g.availability_zone)
    .bind(&g.status)
    .bind(&g.group_snapshot_id)
    .bind(&g.source_group_id)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a group's name, description and status.
pub async fn update_group(c: &mut AnyConnection, g: &Group) -> Result<(), Error> {
    sqlx::query("UPDATE volume_groups SET name=$2, description=$3, status=$4, updated_at=$5 WHERE id=$1")
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.status)
        .bind(g.updated_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_group(c: &mut AnyConnection, id: &str) -> Result<Option<Group>, Error> {
    sqlx::query_as("SELECT * FROM volume_groups WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_group(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_groups WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Groups of one project (all projects: `None`), newest first.
pub async fn list_groups(c: &mut AnyConnection, project_id: Option<&str>) -> Result<Vec<Group>, Error> {
    let mut sql = Sql::new("SELECT * FROM volume_groups WHERE 1=1");
    sql.and_eq("project_id", project_id.map(|p| Arg::Text(p.into())));
    sql.push(" ORDER BY created_at DESC, id DESC");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// The ids of a group's volumes.
pub async fn group_volumes(c: &mut AnyConnection, group_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT id FROM volumes WHERE group_id = $1 ORDER BY created_at, id")
        .bind(group_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Puts a volume in a group, or (`None`) takes it out.
pub async fn set_volume_group(c: &mut AnyConnection, volume_id: &str, group_id: Option<&str>) -> Result<(), Error> {
    sqlx::query("UPDATE volumes SET group_id = $2, version = version + 1 WHERE id = $1")
        .bind(volume_id)
        .bind(group_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// A snapshot of every volume of a group, taken together.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupSnapshot {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub group_id: String,
    pub group_type_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

pub async fn insert_group_snapshot(c: &mut AnyConnection, g: &GroupSnapshot) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volume_group_snapshots (id, project_id, user_id, group_id, group_type_id, name, description, \
         status, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&g.id)
    .bind(&g.project_id)
    .bind(&g.user_id)
    .bind(&g.group_id)
    .bind(&g.group_type_id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(&g.status)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a group snapshot's name, description and status.
pub async fn update_group_snapshot(c: &mut AnyConnection, g: &GroupSnapshot) -> Result<(), Error> {
    sqlx::query("UPDATE volume_group_snapshots SET name=$2, description=$3, status=$4, updated_at=$5 WHERE id=$1")
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.status)
        .bind(g.updated_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_group_snapshot(c: &mut AnyConnection, id: &str) -> Result<Option<GroupSnapshot>, Error> {
    sqlx::query_as("SELECT * FROM volume_group_snapshots WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn delete_group_snapshot(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r =
        sqlx::query("DELETE FROM volume_group_snapshots WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Group snapshots of one project (all projects: `None`), or of one group, newest first.
pub async fn list_group_snapshots(
    c: &mut AnyConnection,
    project_id: Option<&str>,
    group_id: Option<&str>,
) -> Result<Vec<GroupSnapshot>, Error> {
    let mut sql = Sql::new("SELECT * FROM volume_group_snapshots WHERE 1=1");
    sql.and_eq("project_id", project_id.map(|p| Arg::Text(p.into())))
        .and_eq("group_id", group_id.map(|g| Arg::Text(g.into())));
    sql.push(" ORDER BY created_at DESC, id DESC");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// The ids of a group snapshot's member snapshots.
pub async fn group_snapshot_members(c: &mut AnyConnection, group_snapshot_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT id FROM volume_snapshots WHERE group_snapshot_id = $1 ORDER BY created_at, id")
        .bind(group_snapshot_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}
