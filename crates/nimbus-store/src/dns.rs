//! DNS repositories: zones (public or private), the VPC routers a private zone is served
//! in, and record sets.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A DNS zone.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Zone {
    pub id: String,
    pub project_id: String,
    /// Lower case, with the trailing dot.
    pub name: String,
    /// `public` or `private`.
    pub zone_type: String,
    pub description: String,
    pub email: String,
    pub ttl: i64,
    pub serial: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_zone(c: &mut AnyConnection, z: &Zone) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO dns_zones (id, project_id, name, zone_type, description, email, ttl, serial, created_at, \
         updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&z.id)
    .bind(&z.project_id)
    .bind(&z.name)
    .bind(&z.zone_type)
    .bind(&z.description)
    .bind(&z.email)
    .bind(z.ttl)
    .bind(z.serial)
    .bind(z.created_at)
    .bind(z.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a zone's description, email, TTL, and bumps its serial.
pub async fn update_zone(c: &mut AnyConnection, z: &Zone) -> Result<(), Error> {
    sqlx::query(
        "UPDATE dns_zones SET description=$2, email=$3, ttl=$4, serial = serial + 1, updated_at=$5 WHERE id=$1",
    )
    .bind(&z.id)
    .bind(&z.description)
    .bind(&z.email)
    .bind(z.ttl)
    .bind(z.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_zone(c: &mut AnyConnection, id: &str) -> Result<Option<Zone>, Error> {
    sqlx::query_as("SELECT * FROM dns_zones WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Deletes a zone with its record sets and router associations.
pub async fn delete_zone(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    for stmt in ["DELETE FROM dns_recordsets WHERE zone_id = $1", "DELETE FROM dns_zone_routers WHERE zone_id = $1"] {
        sqlx::query(stmt).bind(id).execute(&mut *c).await.map_err(db_error)?;
    }
    let r = sqlx::query("DELETE FROM dns_zones WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every zone, oldest first.
pub async fn list_zones(c: &mut AnyConnection) -> Result<Vec<Zone>, Error> {
    sqlx::query_as("SELECT * FROM dns_zones ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// The routers a private zone is served in.
pub async fn zone_routers(c: &mut AnyConnection, zone_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT router_id FROM dns_zone_routers WHERE zone_id = $1 ORDER BY router_id")
        .bind(zone_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Every (zone, router) association.
pub async fn all_zone_routers(c: &mut AnyConnection) -> Result<Vec<(String, String)>, Error> {
    sqlx::query_as("SELECT zone_id, router_id FROM dns_zone_routers ORDER BY zone_id, router_id")
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Associates a zone with a router; `Conflict` when it already is.
pub async fn add_zone_router(c: &mut AnyConnection, zone_id: &str, router_id: &str) -> Result<(), Error> {
    sqlx::query("INSERT INTO dns_zone_routers (zone_id, router_id) VALUES ($1, $2)")
        .bind(zone_id)
        .bind(router_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn remove_zone_router(c: &mut AnyConnection, zone_id: &str, router_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM dns_zone_routers WHERE zone_id = $1 AND router_id = $2")
        .bind(zone_id)
        .bind(router_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A record set: the records of one name and type in a zone.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecordSet {
    pub id: String,
    pub project_id: String,
    pub zone_id: String,
    pub name: String,
    pub rtype: String,
    pub ttl: i64,
    /// JSON array of values.
    pub records: String,
    pub description: String,
    pub status: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RecordSet {
    /// The record values.
    pub fn values(&self) -> Vec<String> {
        serde_json::from_str(&self.records).unwrap_or_default()
    }
}

/// Records a record set; `Conflict` when the zone has one of that name and type.
pub async fn insert_recordset(c: &mut AnyConnection, r: &RecordSet) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO dns_recordsets (id, project_id, zone_id, name, rtype, ttl, records, description, status, \
         is_default, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.zone_id)
    .bind(&r.name)
    .bind(&r.rtype)
    .bind(r.ttl)
    .bind(&r.records)
    .bind(&r.description)
    .bind(&r.status)
    .bind(r.is_default as i64)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a record set's name, type, TTL, records, description and status.
pub async fn update_recordset(c: &mut AnyConnection, r: &RecordSet) -> Result<(), Error> {
    sqlx::query(
        "UPDATE dns_recordsets SET name=$2, rtype=$3, ttl=$4, records=$5, description=$6, status=$7, updated_at=$8 \
         WHERE id=$1",
    )
    .bind(&r.id)
    .bind(&r.name)
    .bind(&r.rtype)
    .bind(r.ttl)
    .bind(&r.records)
    .bind(&r.description)
    .bind(&r.status)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_recordset(c: &mut AnyConnection, id: &str) -> Result<Option<RecordSet>, Error> {
    sqlx::query_as("SELECT * FROM dns_recordsets WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_recordset(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM dns_recordsets WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A zone's record sets, oldest first.
pub async fn zone_recordsets(c: &mut AnyConnection, zone_id: &str) -> Result<Vec<RecordSet>, Error> {
    sqlx::query_as("SELECT * FROM dns_recordsets WHERE zone_id = $1 ORDER BY created_at, id")
        .bind(zone_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Every record set, oldest first.
pub async fn list_recordsets(c: &mut AnyConnection) -> Result<Vec<RecordSet>, Error> {
    sqlx::query_as("SELECT * FROM dns_recordsets ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}
