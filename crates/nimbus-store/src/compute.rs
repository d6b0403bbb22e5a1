//! Compute catalogue repositories: flavors, flavor access, key pairs.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A flavor (instance type).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    pub ram_mb: i64,
    pub disk_gb: i64,
    pub ephemeral_gb: i64,
    pub swap_mb: i64,
    pub rxtx_factor: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub is_public: bool,
    #[sqlx(try_from = "crate::IntBool")]
    pub disabled: bool,
    pub description: Option<String>,
    pub extra_specs: String,
    pub created_at: i64,
}

/// A user's key pair.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Keypair {
    pub user_id: String,
    pub name: String,
    pub key_type: String,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: i64,
}

pub async fn insert_flavor(c: &mut AnyConnection, f: &Flavor) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO flavors (id, name, vcpus, ram_mb, disk_gb, ephemeral_gb, swap_mb, rxtx_factor, is_public, disabled, \
         description, extra_specs, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(&f.id)
    .bind(&f.name)
    .bind(f.vcpus)
    .bind(f.ram_mb)
    .bind(f.disk_gb)
    .bind(f.ephemeral_gb)
    .bind(f.swap_mb)
    .bind(&f.rxtx_factor)
    .bind(f.is_public as i64)
    .bind(f.disabled as i64)
    .bind(&f.description)
    .bind(&f.extra_specs)
    .bind(f.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_flavor(c: &mut AnyConnection, f: &Flavor) -> Result<(), Error> {
    sqlx::query("UPDATE flavors SET description = $2, extra_specs = $3 WHERE id = $1")
        .bind(&f.id)
        .bind(&f.description)
        .bind(&f.extra_specs)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_flavor(c: &mut AnyConnection, id: &str) -> Result<Option<Flavor>, Error> {
    sqlx::query_as("SELECT * FROM flavors WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn get_flavor_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<Flavor>, Error> {
    sqlx::query_as("SELECT * FROM flavors WHERE name = $1").bind(name).fetch_optional(c).await.map_err(db_error)
}

/// Flavors visible to `project` (public ones plus those it was given access to), or all
/// when `project` is `None` (admins); filtered by minimum size.
pub async fn list_flavors(
    c: &mut AnyConnection,
    project: Option<&str>,
    public_only: Option<bool>,
    min_ram: Option<i64>,
    min_disk: Option<i64>,
    page: &PageRequest,
) -> Result<Vec<Flavor>, Error> {
    let mut sql = Sql::new("SELECT * FROM flavors f WHERE disabled = 0");
    if let Some(p) = project {
        sql.push(
            " AND (is_public = 1 OR EXISTS (SELECT 1 FROM flavor_access a WHERE a.flavor_id = f.id AND a.project_id = ",
        )
        .bind(p.into())
        .push("))");
    }
    if let Some(public) = public_only {
        sql.push(" AND is_public = ").bind(Arg::Bool(public));
    }
    if let Some(r) = min_ram {
        sql.push(" AND ram_mb >= ").bind(Arg::Int(r));
    }
    if let Some(d) = min_disk {
        sql.push(" AND disk_gb >= ").bind(Arg::Int(d));
    }
    if let Some(m) = &page.marker {
        sql.push(" AND id > ").bind(m.as_str().into());
    }
    sql.push(" ORDER BY id LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_flavor(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM flavors WHERE id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    sqlx::query("DELETE FROM flavor_access WHERE flavor_id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn flavor_access(c: &mut AnyConnection, flavor_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT project_id FROM flavor_access WHERE flavor_id = $1 ORDER BY project_id")
        .bind(flavor_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

pub async fn has_flavor_access(c: &mut AnyConnection, flavor_id: &str, project_id: &str) -> Result<bool, Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flavor_access WHERE flavor_id = $1 AND project_id = $2")
        .bind(flavor_id)
        .bind(project_id)
        .fetch_one(c)
        .await
        .map_err(db_error)?;
    Ok(n > 0)
}

pub async fn add_flavor_access(c: &mut AnyConnection, flavor_id: &str, project_id: &str) -> Result<(), Error> {
    sqlx::query("INSERT INTO flavor_access (flavor_id, project_id) VALUES ($1, $2)")
        .bind(flavor_id)
        .bind(project_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn remove_flavor_access(c: &mut AnyConnection, flavor_id: &str, project_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM flavor_access WHERE flavor_id = $1 AND project_id = $2")
        .bind(flavor_id)
        .bind(project_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn insert_keypair(c: &mut AnyConnection, k: &Keypair) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO keypairs (user_id, name, key_type, public_key, fingerprint, created_at) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(&k.user_id)
    .bind(&k.name)
    .bind(&k.key_type)
    .bind(&k.public_key)
    .bind(&k.fingerprint)
    .bind(k.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_keypair(c: &mut AnyConnection, user_id: &str, name: &str) -> Result<Option<Keypair>, Error> {
    sqlx::query_as("SELECT * FROM keypairs WHERE user_id = $1 AND name = $2")
        .bind(user_id)
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn list_keypairs(c: &mut AnyConnection, user_id: &str, page: &PageRequest) -> Result<Vec<Keypair>, Error> {
    let mut sql = Sql::new("SELECT * FROM keypairs WHERE user_id = ");
    sql.bind(user_id.into());
    if let Some(m) = &page.marker {
        sql.push(" AND name > ").bind(m.as_str().into());
    }
    sql.push(" ORDER BY name LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_keypair(c: &mut AnyConnection, user_id: &str, name: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM keypairs WHERE user_id = $1 AND name = $2")
        .bind(user_id)
        .bind(name)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}
