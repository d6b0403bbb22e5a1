//! The region and its availability zones.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A region row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
    pub created_at: i64,
}

/// An availability zone row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AvailabilityZone {
    pub name: String,
    pub region_id: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub available: bool,
}

pub async fn insert_region(c: &mut AnyConnection, r: &Region) -> Result<(), Error> {
    sqlx::query("INSERT INTO regions (id, description, parent_region_id, created_at) VALUES ($1,$2,$3,$4)")
        .bind(&r.id)
        .bind(&r.description)
        .bind(&r.parent_region_id)
        .bind(r.created_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn list_regions(c: &mut AnyConnection) -> Result<Vec<Region>, Error> {
    sqlx::query_as("SELECT * FROM regions ORDER BY id").fetch_all(c).await.map_err(db_error)
}

pub async fn upsert_zone(c: &mut AnyConnection, z: &AvailabilityZone) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO availability_zones (name, region_id, available) VALUES ($1,$2,$3) \
         ON CONFLICT (name) DO UPDATE SET region_id = $2, available = $3",
    )
    .bind(&z.name)
    .bind(&z.region_id)
    .bind(z.available as i64)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn list_zones(c: &mut AnyConnection) -> Result<Vec<AvailabilityZone>, Error> {
    sqlx::query_as("SELECT * FROM availability_zones ORDER BY name").fetch_all(c).await.map_err(db_error)
}
