//! Virtual networking repositories: networks, subnets, ports with their fixed addresses, and
//! security groups with their rules.
//!
//! A fixed IP is the primary key of `port_fixed_ips` within its subnet, so two concurrent
//! allocations of one address cannot both commit (the loser retries with the next free one);
//! MAC addresses are unique the same way.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A network.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Network {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub admin_state_up: bool,
    #[sqlx(try_from = "crate::IntBool")]
    pub shared: bool,
    #[sqlx(try_from = "crate::IntBool")]
    pub router_external: bool,
    pub mtu: i64,
    #[sqlx(try_from = "crate::IntBool")]
    pub port_security_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision_number: i64,
}

pub async fn insert_network(c: &mut AnyConnection, n: &Network) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO networks (id, project_id, name, description, admin_state_up, shared, router_external, mtu, \
         port_security_enabled, created_at, updated_at, revision_number) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&n.id)
    .bind(&n.project_id)
    .bind(&n.name)
    .bind(&n.description)
    .bind(n.admin_state_up as i64)
    .bind(n.shared as i64)
    .bind(n.router_external as i64)
    .bind(n.mtu)
    .bind(n.port_security_enabled as i64)
    .bind(n.created_at)
    .bind(n.updated_at)
    .bind(n.revision_number)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a network's changeable attributes and bumps its revision.
pub async fn update_network(c: &mut AnyConnection, n: &Network) -> Result<(), Error> {
    sqlx::query(
        "UPDATE networks SET name=$2, description=$3, admin_state_up=$4, shared=$5, router_external=$6, mtu=$7, \
         port_security_enabled=$8, updated_at=$9, revision_number = revision_number + 1 WHERE id=$1",
    )
    .bind(&n.id)
    .bind(&n.name)
    .bind(&n.description)
    .bind(n.admin_state_up as i64)
    .bind(n.shared as i64)
    .bind(n.router_external as i64)
    .bind(n.mtu)
    .bind(n.port_security_enabled as i64)
    .bind(n.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_network(c: &mut AnyConnection, id: &str) -> Result<Option<Network>, Error> {
    sqlx::query_as("SELECT * FROM networks WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_network(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM networks WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every network, oldest first (the API filters by what the caller may see).
pub async fn list_networks(c: &mut AnyConnection) -> Result<Vec<Network>, Error> {
    sqlx::query_as("SELECT * FROM networks ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// An IPv4 subnet of a network.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Subnet {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub ip_version: i64,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    #[sqlx(try_from = "crate::IntBool")]
    pub enable_dhcp: bool,
    /// JSON array of addresses.
    pub dns_nameservers: String,
    /// JSON array of `{"destination", "nexthop"}`.
    pub host_routes: String,
    /// JSON array of `{"start", "end"}`.
    pub allocation_pools: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision_number: i64,
}

pub async fn insert_subnet(c: &mut AnyConnection, s: &Subnet) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO subnets (id, project_id, network_id, name, description, ip_version, cidr, gateway_ip, \
         enable_dhcp, dns_nameservers, host_routes, allocation_pools, created_at, updated_at, revision_number) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
    )
    .bind(&s.id)
    .bind(&s.project_id)
    .bind(&s.network_id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(s.ip_version)
    .bind(&s.cidr)
    .bind(&s.gateway_ip)
    .bind(s.enable_dhcp as i64)
    .bind(&s.dns_nameservers)
    .bind(&s.host_routes)
    .bind(&s.allocation_pools)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(s.revision_number)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a subnet's changeable attributes and bumps its revision.
pub async fn update_subnet(c: &mut AnyConnection, s: &Subnet) -> Result<(), Error> {
    sqlx::query(
        "UPDATE subnets SET name=$2, description=$3, gateway_ip=$4, enable_dhcp=$5, dns_nameservers=$6, \
         host_routes=$7, allocation_pools=$8, updated_at=$9, revision_number = revision_number + 1 WHERE id=$1",
    )
    .bind(&s.id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.gateway_ip)
    .bind(s.enable_dhcp as i64)
    .bind(&s.dns_nameservers)
    .bind(&s.host_routes)
    .bind(&s.allocation_pools)
    .bind(s.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_subnet(c: &mut AnyConnection, id: &str) -> Result<Option<Subnet>, Error> {
    sqlx::query_as("SELECT * FROM subnets WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_subnet(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM subnets WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every subnet, oldest first.
pub async fn list_subnets(c: &mut AnyConnection) -> Result<Vec<Subnet>, Error> {
    sqlx::query_as("SELECT * FROM subnets ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// A network's subnets, oldest first.
pub async fn network_subnets(c: &mut AnyConnection, network_id: &str) -> Result<Vec<Subnet>, Error> {
    sqlx::query_as("SELECT * FROM subnets WHERE network_id = $1 ORDER BY created_at, id")
        .bind(network_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A port: a network attachment point with its MAC and fixed addresses.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Port {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub mac_address: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub admin_state_up: bool,
    pub status: String,
    pub device_id: String,
    pub device_owner: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub port_security_enabled: bool,
    /// JSON array of `{"ip_address", "mac_address"}`.
    pub allowed_address_pairs: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision_number: i64,
    /// Made for its device (a server) and deleted with it.
    #[sqlx(try_from = "crate::IntBool")]
    pub delete_with_device: bool,
}

pub async fn insert_port(c: &mut AnyConnection, p: &Port) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO ports (id, project_id, network_id, name, description, mac_address, admin_state_up, status, \
         device_id, device_owner, port_security_enabled, allowed_address_pairs, created_at, updated_at, \
         revision_number, delete_with_device) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
    )
    .bind(&p.id)
    .bind(&p.project_id)
    .bind(&p.network_id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.mac_address)
    .bind(p.admin_state_up as i64)
    .bind(&p.status)
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(p.port_security_enabled as i64)
    .bind(&p.allowed_address_pairs)
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(p.revision_number)
    .bind(p.delete_with_device as i64)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a port's changeable attributes and bumps its revision.
pub async fn update_port(c: &mut AnyConnection, p: &Port) -> Result<(), Error> {
    sqlx::query(
        "UPDATE ports SET name=$2, description=$3, admin_state_up=$4, status=$5, device_id=$6, device_owner=$7, \
         port_security_enabled=$8, allowed_address_pairs=$9, mac_address=$10, updated_at=$11, \
         revision_number = revision_number + 1 WHERE id=$1",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.admin_state_up as i64)
    .bind(&p.status)
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(p.port_security_enabled as i64)
    .bind(&p.allowed_address_pairs)
    .bind(&p.mac_address)
    .bind(p.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_port(c: &mut AnyConnection, id: &str) -> Result<Option<Port>, Error> {
    sqlx::query_as("SELECT * FROM ports WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Deletes a port with its fixed IPs and security group bindings.
pub async fn delete_port(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    for stmt in ["DELETE FROM port_fixed_ips WHERE port_id = $1", "DELETE FROM port_security_groups WHERE port_id = $1"]
    {
        sqlx::query(stmt).bind(id).execute(&mut *c).await.map_err(db_error)?;
    }
    let r = sqlx::query("DELETE FROM ports WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every port, oldest first.
pub async fn list_ports(c: &mut AnyConnection) -> Result<Vec<Port>, Error> {
    sqlx::query_as("SELECT * FROM ports ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// The ports of a device (a server), oldest first: its NICs in order.
pub async fn device_ports(c: &mut AnyConnection, device_id: &str) -> Result<Vec<Port>, Error> {
    sqlx::query_as("SELECT * FROM ports WHERE device_id = $1 ORDER BY created_at, id")
        .bind(device_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A network's ports.
pub async fn network_ports(c: &mut AnyConnection, network_id: &str) -> Result<Vec<Port>, Error> {
    sqlx::query_as("SELECT * FROM ports WHERE network_id = $1 ORDER BY created_at, id")
        .bind(network_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A fixed address of a port.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FixedIp {
    pub port_id: String,
    pub subnet_id: String,
    pub ip_address: String,
}

/// Records a fixed IP; `Conflict` when the address is already taken in its subnet.
pub async fn insert_fixed_ip(c: &mut AnyConnection, f: &FixedIp) -> Result<(), Error> {
    sqlx::query("INSERT INTO port_fixed_ips (port_id, subnet_id, ip_address) VALUES ($1,$2,$3)")
        .bind(&f.port_id)
        .bind(&f.subnet_id)
        .bind(&f.ip_address)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn delete_fixed_ips(c: &mut AnyConnection, port_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM port_fixed_ips WHERE port_id = $1").bind(port_id).execute(c).await.map_err(db_error)?;
    Ok(())
}

/// A port's fixed IPs.
pub async fn port_fixed_ips(c: &mut AnyConnection, port_id: &str) -> Result<Vec<FixedIp>, Error> {
    sqlx::query_as("SELECT * FROM port_fixed_ips WHERE port_id = $1 ORDER BY subnet_id, ip_address")
        .bind(port_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Every fixed IP (the API joins them to ports in memory).
pub async fn all_fixed_ips(c: &mut AnyConnection) -> Result<Vec<FixedIp>, Error> {
    sqlx::query_as("SELECT * FROM port_fixed_ips ORDER BY port_id, subnet_id, ip_address")
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The addresses used in a subnet.
pub async fn subnet_used_ips(c: &mut AnyConnection, subnet_id: &str) -> Result<Vec<FixedIp>, Error> {
    sqlx::query_as("SELECT * FROM port_fixed_ips WHERE subnet_id = $1")
        .bind(subnet_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecurityGroup {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub stateful: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision_number: i64,
}

pub async fn insert_security_group(c: &mut AnyConnection, g: &SecurityGroup) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO security_groups (id, project_id, name, description, stateful, created_at, updated_at, \
         revision_number) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&g.id)
    .bind(&g.project_id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(g.stateful as i64)
    .bind(g.created_at)
    .bind(g.updated_at)
    .bind(g.revision_number)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a group's name and description and bumps its revision.
pub async fn update_security_group(c: &mut AnyConnection, g: &SecurityGroup) -> Result<(), Error> {
    sqlx::query(
        "UPDATE security_groups SET name=$2, description=$3, updated_at=$4, revision_number = revision_number + 1 \
         WHERE id=$1",
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(g.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Bumps a group's revision (a rule added or removed).
pub async fn touch_security_group(c: &mut AnyConnection, id: &str, at: i64) -> Result<(), Error> {
    sqlx::query("UPDATE security_groups SET updated_at=$2, revision_number = revision_number + 1 WHERE id=$1")
        .bind(id)
        .bind(at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_security_group(c: &mut AnyConnection, id: &str) -> Result<Option<SecurityGroup>, Error> {
    sqlx::query_as("SELECT * FROM security_groups WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Deletes a group with its rules.
pub async fn delete_security_group(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    sqlx::query("DELETE FROM security_group_rules WHERE security_group_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    let r = sqlx::query("DELETE FROM security_groups WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every security group, oldest first.
pub async fn list_security_groups(c: &mut AnyConnection) -> Result<Vec<SecurityGroup>, Error> {
    sqlx::query_as("SELECT * FROM security_groups ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// A project's group named `default`, if made.
pub async fn default_security_group(c: &mut AnyConnection, project_id: &str) -> Result<Option<SecurityGroup>, Error> {
    sqlx::query_as(
        "SELECT * FROM security_groups WHERE project_id = $1 AND name = 'default' ORDER BY created_at LIMIT 1",
    )
    .bind(project_id)
    .fetch_optional(c)
    .await
    .map_err(db_error)
}

/// A rule of a security group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecurityGroupRule {
    pub id: String,
    pub project_id: String,
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// A protocol name or number; `None`: any.
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision_number: i64,
}

pub async fn insert_rule(c: &mut AnyConnection, r: &SecurityGroupRule) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO security_group_rules (id, project_id, security_group_id, direction, ethertype, protocol, \
         port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description, created_at, updated_at, \
         revision_number) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
    )
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.security_group_id)
    .bind(&r.direction)
    .bind(&r.ethertype)
    .bind(&r.protocol)
    .bind(r.port_range_min)
    .bind(r.port_range_max)
    .bind(&r.remote_ip_prefix)
    .bind(&r.remote_group_id)
    .bind(&r.description)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.revision_number)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_rule(c: &mut AnyConnection, id: &str) -> Result<Option<SecurityGroupRule>, Error> {
    sqlx::query_as("SELECT * FROM security_group_rules WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn delete_rule(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r =
        sqlx::query("DELETE FROM security_group_rules WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Every rule, oldest first.
pub async fn list_rules(c: &mut AnyConnection) -> Result<Vec<SecurityGroupRule>, Error> {
    sqlx::query_as("SELECT * FROM security_group_rules ORDER BY created_at, id").fetch_all(c).await.map_err(db_error)
}

/// A group's rules, oldest first.
pub async fn group_rules(c: &mut AnyConnection, group_id: &str) -> Result<Vec<SecurityGroupRule>, Error> {
    sqlx::query_as("SELECT * FROM security_group_rules WHERE security_group_id = $1 ORDER BY created_at, id")
        .bind(group_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Rules of other groups naming this one as their remote group.
pub async fn rules_naming_group(c: &mut AnyConnection, group_id: &str) -> Result<Vec<SecurityGroupRule>, Error> {
    sqlx::query_as("SELECT * FROM security_group_rules WHERE remote_group_id = $1 AND security_group_id <> $1")
        .bind(group_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The groups a port is in.
pub async fn port_security_groups(c: &mut AnyConnection, port_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar(
        "SELECT security_group_id FROM port_security_groups WHERE port_id = $1 ORDER BY security_group_id",
    )
    .bind(port_id)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// Every (port, group) binding.
pub async fn all_port_security_groups(c: &mut AnyConnection) -> Result<Vec<(String, String)>, Error> {
    sqlx::query_as("SELECT port_id, security_group_id FROM port_security_groups ORDER BY port_id, security_group_id")
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Replaces the groups a port is in.
pub async fn set_port_security_groups(c: &mut AnyConnection, port_id: &str, groups: &[String]) -> Result<(), Error> {
    sqlx::query("DELETE FROM port_security_groups WHERE port_id = $1")
        .bind(port_id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    for g in groups {
        sqlx::query("INSERT INTO port_security_groups (port_id, security_group_id) VALUES ($1, $2)")
            .bind(port_id)
            .bind(g)
            .execute(&mut *c)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// How many ports are in a group.
pub async fn group_port_count(c: &mut AnyConnection, group_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM port_security_groups WHERE security_group_id = $1")
        .bind(group_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}
