//! NAT gateway repositories: gateways (one per VPC router) and their SNAT and DNAT rules.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A public NAT gateway of a VPC.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NatGateway {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub spec: String,
    pub router_id: String,
    pub internal_network_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_gateway(c: &mut AnyConnection, g: &NatGateway) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO nat_gateways (id, project_id, name, description, spec, router_id, internal_network_id, \
         created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(&g.id)
    .bind(&g.project_id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(&g.spec)
    .bind(&g.router_id)
    .bind(&g.internal_network_id)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a gateway's name, description and spec.
pub async fn update_gateway(c: &mut AnyConnection, g: &NatGateway) -> Result<(), Error> {
    sqlx::query("UPDATE nat_gateways SET name=$2, description=$3, spec=$4, updated_at=$5 WHERE id=$1")
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.spec)
        .bind(g.updated_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_gateway(c: &mut AnyConnection, id: &str) -> Result<Option<NatGateway>, Error> {
    sqlx::query_as("SELECT * FROM nat_gateways WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_gateway(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM nat_gateways WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every gateway, oldest first.
pub async fn list_gateways(c: &mut AnyConnection) -> Result<Vec<NatGateway>, Error> {
    sqlx::query_as("SELECT * FROM nat_gateways ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// A SNAT rule: a subnet or range leaves as the rule's EIPs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SnatRule {
    pub id: String,
    pub project_id: String,
    pub nat_gateway_id: String,
    pub network_id: Option<String>,
    pub cidr: Option<String>,
    /// Comma-separated EIP ids.
    pub floating_ip_ids: String,
    pub description: String,
    pub created_at: i64,
}

impl SnatRule {
    /// The EIP ids the rule uses.
    pub fn eips(&self) -> Vec<&str> {
        self.floating_ip_ids.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
    }
}

pub async fn insert_snat(c: &mut AnyConnection, r: &SnatRule) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO snat_rules (id, project_id, nat_gateway_id, network_id, cidr, floating_ip_ids, description, \
         created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.nat_gateway_id)
    .bind(&r.network_id)
    .bind(&r.cidr)
    .bind(&r.floating_ip_ids)
    .bind(&r.description)
    .bind(r.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_snat(c: &mut AnyConnection, id: &str) -> Result<Option<SnatRule>, Error> {
    sqlx::query_as("SELECT * FROM snat_rules WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_snat(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM snat_rules WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every SNAT rule, oldest first.
pub async fn list_snat(c: &mut AnyConnection) -> Result<Vec<SnatRule>, Error> {
    sqlx::query_as("SELECT * FROM snat_rules ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// A DNAT rule: an EIP's port (or the whole EIP) forwarded to a private address.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DnatRule {
    pub id: String,
    pub project_id: String,
    pub nat_gateway_id: String,
    pub floating_ip_id: String,
    pub protocol: String,
    pub internal_port: String,
    pub external_port: String,
    pub port_id: Option<String>,
    pub private_ip: Option<String>,
    pub description: String,
    pub created_at: i64,
}

/// Records a DNAT rule; `Conflict` when the EIP's port is already forwarded.
pub async fn insert_dnat(c: &mut AnyConnection, r: &DnatRule) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO dnat_rules (id, project_id, nat_gateway_id, floating_ip_id, protocol, internal_port, \
         external_port, port_id, private_ip, description, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.nat_gateway_id)
    .bind(&r.floating_ip_id)
    .bind(&r.protocol)
    .bind(&r.internal_port)
    .bind(&r.external_port)
    .bind(&r.port_id)
    .bind(&r.private_ip)
    .bind(&r.description)
    .bind(r.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_dnat(c: &mut AnyConnection, id: &str) -> Result<Option<DnatRule>, Error> {
    sqlx::query_as("SELECT * FROM dnat_rules WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_dnat(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM dnat_rules WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every DNAT rule, oldest first.
pub async fn list_dnat(c: &mut AnyConnection) -> Result<Vec<DnatRule>, Error> {
    sqlx::query_as("SELECT * FROM dnat_rules ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}
