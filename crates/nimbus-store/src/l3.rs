//! Layer-3 repositories of the virtual networks: routers (VPCs), floating IPs (EIPs) and the
//! bandwidths that shape them. A router's ports and a floating IP's address are rows of
//! `ports` / `port_fixed_ips` (see `network.rs`), so they are allocated race-free there.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A router: joins subnets of its project and, through its gateway, the external network.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Router {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub admin_state_up: bool,
    /// The external network of its gateway (`None`: no gateway).
    pub gateway_network_id: Option<String>,
    #[sqlx(try_from = "crate::IntBool")]
    pub enable_snat: bool,
    /// JSON array of `{"destination", "nexthop"}`.
    pub routes: String,
    /// A Huawei VPC's range (its subnets lie inside it).
    pub cidr: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision_number: i64,
}

pub async fn insert_router(c: &mut AnyConnection, r: &Router) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO routers (id, project_id, name, description, admin_state_up, gateway_network_id, enable_snat, \
         routes, cidr, created_at, updated_at, revision_number) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(r.admin_state_up as i64)
    .bind(&r.gateway_network_id)
    .bind(r.enable_snat as i64)
    .bind(&r.routes)
    .bind(&r.cidr)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.revision_number)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a router's changeable attributes and bumps its revision.
pub async fn update_router(c: &mut AnyConnection, r: &Router) -> Result<(), Error> {
    sqlx::query(
        "UPDATE routers SET name=$2, description=$3, admin_state_up=$4, gateway_network_id=$5, enable_snat=$6, \
         routes=$7, cidr=$8, updated_at=$9, revision_number = revision_number + 1 WHERE id=$1",
    )
    .bind(&r.id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(r.admin_state_up as i64)
    .bind(&r.gateway_network_id)
    .bind(r.enable_snat as i64)
    .bind(&r.routes)
    .bind(&r.cidr)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_router(c: &mut AnyConnection, id: &str) -> Result<Option<Router>, Error> {
    sqlx::query_as("SELECT * FROM routers WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_router(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM routers WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every router, oldest first.
pub async fn list_routers(c: &mut AnyConnection) -> Result<Vec<Router>, Error> {
    sqlx::query_as("SELECT * FROM routers ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// A bandwidth: the rate its EIPs may use each way.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Bandwidth {
    pub id: String,
    pub project_id: String,
    pub name: String,
    /// Mbit/s.
    pub size_mbit: i64,
    /// `PER` (one EIP) or `WHOLE` (shared).
    pub share_type: String,
    /// `bandwidth` or `traffic`.
    pub charge_mode: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_bandwidth(c: &mut AnyConnection, b: &Bandwidth) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO bandwidths (id, project_id, name, size_mbit, share_type, charge_mode, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&b.id)
    .bind(&b.project_id)
    .bind(&b.name)
    .bind(b.size_mbit)
    .bind(&b.share_type)
    .bind(&b.charge_mode)
    .bind(b.created_at)
    .bind(b.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a bandwidth's name, size and charge mode.
pub async fn update_bandwidth(c: &mut AnyConnection, b: &Bandwidth) -> Result<(), Error> {
    sqlx::query("UPDATE bandwidths SET name=$2, size_mbit=$3, charge_mode=$4, updated_at=$5 WHERE id=$1")
        .bind(&b.id)
        .bind(&b.name)
        .bind(b.size_mbit)
        .bind(&b.charge_mode)
        .bind(b.updated_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_bandwidth(c: &mut AnyConnection, id: &str) -> Result<Option<Bandwidth>, Error> {
    sqlx::query_as("SELECT * FROM bandwidths WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_bandwidth(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM bandwidths WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every bandwidth, oldest first.
pub async fn list_bandwidths(c: &mut AnyConnection) -> Result<Vec<Bandwidth>, Error> {
    sqlx::query_as("SELECT * FROM bandwidths ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// A floating IP (an EIP): an address of the external network, bound to an internal port's
/// fixed address or not.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FloatingIp {
    pub id: String,
    pub project_id: String,
    pub floating_network_id: String,
    pub floating_ip_address: String,
    pub floating_port_id: String,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub router_id: Option<String>,
    pub description: String,
    pub bandwidth_id: String,
    pub ip_type: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision_number: i64,
}

pub async fn insert_floating_ip(c: &mut AnyConnection, f: &FloatingIp) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO floating_ips (id, project_id, floating_network_id, floating_ip_address, floating_port_id, \
         port_id, fixed_ip_address, router_id, description, bandwidth_id, ip_type, created_at, updated_at, \
         revision_number) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
    )
    .bind(&f.id)
    .bind(&f.project_id)
    .bind(&f.floating_network_id)
    .bind(&f.floating_ip_address)
    .bind(&f.floating_port_id)
    .bind(&f.port_id)
    .bind(&f.fixed_ip_address)
    .bind(&f.router_id)
    .bind(&f.description)
    .bind(&f.bandwidth_id)
    .bind(&f.ip_type)
    .bind(f.created_at)
    .bind(f.updated_at)
    .bind(f.revision_number)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a floating IP's binding and description and bumps its revision; `Conflict` when
/// the fixed address already has a floating IP.
pub async fn update_floating_ip(c: &mut AnyConnection, f: &FloatingIp) -> Result<(), Error> {
    sqlx::query(
        "UPDATE floating_ips SET port_id=$2, fixed_ip_address=$3, router_id=$4, description=$5, updated_at=$6, \
         revision_number = revision_number + 1 WHERE id=$1",
    )
    .bind(&f.id)
    .bind(&f.port_id)
    .bind(&f.fixed_ip_address)
    .bind(&f.router_id)
    .bind(&f.description)
    .bind(f.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_floating_ip(c: &mut AnyConnection, id: &str) -> Result<Option<FloatingIp>, Error> {
    sqlx::query_as("SELECT * FROM floating_ips WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_floating_ip(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM floating_ips WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every floating IP, oldest first.
pub async fn list_floating_ips(c: &mut AnyConnection) -> Result<Vec<FloatingIp>, Error> {
    sqlx::query_as("SELECT * FROM floating_ips ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// The floating IPs bound to a port.
pub async fn port_floating_ips(c: &mut AnyConnection, port_id: &str) -> Result<Vec<FloatingIp>, Error> {
    sqlx::query_as("SELECT * FROM floating_ips WHERE port_id = $1 ORDER BY created_at, id")
        .bind(port_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The floating IPs a router carries.
pub async fn router_floating_ips(c: &mut AnyConnection, router_id: &str) -> Result<Vec<FloatingIp>, Error> {
    sqlx::query_as("SELECT * FROM floating_ips WHERE router_id = $1 ORDER BY created_at, id")
        .bind(router_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The floating IPs of a bandwidth.
pub async fn bandwidth_floating_ips(c: &mut AnyConnection, bandwidth_id: &str) -> Result<Vec<FloatingIp>, Error> {
    sqlx::query_as("SELECT * FROM floating_ips WHERE bandwidth_id = $1 ORDER BY created_at, id")
        .bind(bandwidth_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}
