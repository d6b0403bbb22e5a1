//! IPv4 subnets: a CIDR within the seed's private ranges (an external network may use any
//! range), not overlapping the network's other subnets, with its gateway, allocation pools,
//! DNS servers and host routes; DHCP on or off. A subnet with addresses in use stays.

use super::ipam::{self, HostRoute, Pool};
use super::networks::check_name;
use crate::audit::AuditEvent;
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::network::{self as repo, Subnet};
use std::net::Ipv4Addr;

/// A gateway as asked: the default, none, or an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Gateway {
    #[default]
    Default,
    None,
    Ip(String),
}

/// What a subnet create asks for.
#[derive(Debug, Clone, Default)]
pub struct SubnetCreate {
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub ip_version: i64,
    pub cidr: String,
    pub gateway: Gateway,
    pub enable_dhcp: Option<bool>,
    pub dns_nameservers: Vec<String>,
    pub host_routes: Vec<HostRoute>,
    /// `None`: every host address but the gateway.
    pub allocation_pools: Option<Vec<(String, String)>>,
    pub project_id: Option<String>,
}

/// What a subnet update changes (CIDR, version and network never change).
#[derive(Debug, Clone, Default)]
pub struct SubnetUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(Gateway::Default)` is not an update: absent means unchanged.
    pub gateway: Option<Gateway>,
    pub enable_dhcp: Option<bool>,
    pub dns_nameservers: Option<Vec<String>>,
    pub host_routes: Option<Vec<HostRoute>>,
    pub allocation_pools: Option<Vec<(String, String)>>,
}

fn parse_pools(pools: &[(String, String)]) -> Result<Vec<Pool>, Error> {
    pools.iter().map(|(s, e)| Ok(Pool { start: ipam::parse_ip(s)?, end: ipam::parse_ip(e)? })).collect()
}

fn check_dns(servers: &[String]) -> Result<(), Error> {
    if servers.len() > 5 {
        return Err(Error::bad_request("Invalid input for dns_nameservers: at most 5 servers per subnet."));
    }
    for (i, s) in servers.iter().enumerate() {
        ipam::parse_ip(s)?;
        if servers[..i].contains(s) {
            return Err(Error::bad_request(format!("Invalid input for dns_nameservers: duplicate address '{s}'.")));
        }
    }
    Ok(())
}

/// The pools of a subnet row.
pub(super) fn pools_of(s: &Subnet) -> Vec<Pool> {
    serde_json::from_str(&s.allocation_pools).unwrap_or_default()
}

impl Control {
    /// Creates a subnet on a network the caller may change.
    pub async fn create_subnet(&self, ctx: &Ctx, req: SubnetCreate) -> Result<Subnet, Error> {
        check_name(&req.name)?;
        if req.ip_version != 4 {
            return Err(Error::bad_request(format!(
                "Invalid input for ip_version: IPv{} subnets are not offered in this region; use 4.",
                req.ip_version
            )));
        }
        let net = ipam::parse_cidr(&req.cidr)?;
        let gateway = match &req.gateway {
            Gateway::Default => Some(ipam::default_gateway(&net)),
            Gateway::None => None,
            Gateway::Ip(ip) => Some(ipam::parse_ip(ip)?),
        };
        if let Some(g) = gateway {
            if !ipam::is_host(&net, g) {
                return Err(Error::bad_request(format!(
                    "Invalid input for operation: Gateway is not valid on subnet: {g} is not a host of {net}."
                )));
            }
        }
        let pools = match &req.allocation_pools {
            Some(p) => parse_pools(p)?,
            None => ipam::default_pools(&net, gateway),
        };
        ipam::check_pools(&net, &pools, gateway)?;
        check_dns(&req.dns_nameservers)?;
        ipam::check_routes(&req.host_routes)?;
        let mut tx = self.store().write().await?;
        let network = self.load_network(&mut tx, ctx, &req.network_id, "network:update").await?;
        let project = match req.project_id.as_deref() {
            Some(p) if p != network.project_id => super::owner_project(ctx, Some(p))?,
            _ => network.project_id.clone(),
        };
        if !network.router_external && !ipam::is_private(&net) {
            return Err(Error::bad_request(format!(
                "Invalid input for cidr: {net} is not a private range; use 10.0.0.0/8, 172.16.0.0/12 or \
                 192.168.0.0/16."
            )));
        }
        for other in repo::network_subnets(&mut tx, &network.id).await? {
            let o = ipam::parse_cidr(&other.cidr)?;
            if o.contains(&net.network()) || net.contains(&o.network()) {
                return Err(Error::bad_request(format!(
                    "Invalid input for operation: Requested subnet with cidr: {net} for network: {} overlaps with \
                     another subnet.",
                    network.id
                )));
            }
        }
        self.charge_quota(&mut tx, &project, "subnet", 1).await?;
        let now = now_ms();
        let s = Subnet {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            network_id: network.id.clone(),
            name: req.name,
            description: req.description,
            ip_version: 4,
            cidr: net.to_string(),
            gateway_ip: gateway.map(|g| g.to_string()),
            enable_dhcp: req.enable_dhcp.unwrap_or(true),
            dns_nameservers: serde_json::to_string(&req.dns_nameservers)?,
            host_routes: serde_json::to_string(&req.host_routes)?,
            allocation_pools: serde_json::to_string(&pools)?,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        repo::insert_subnet(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "subnet", "createSubnet", 201).resource(&s.id, &s.name).in_project(&project),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(s)
    }

    /// Subnets the caller may see: those of the networks it may see.
    pub async fn list_subnets(&self, ctx: &Ctx) -> Result<Vec<Subnet>, Error> {
        let visible: std::collections::HashSet<String> =
            self.list_networks(ctx).await?.into_iter().map(|n| n.id).collect();
        let mut c = self.store().read().await?;
        Ok(repo::list_subnets(&mut c)
            .await?
            .into_iter()
            .filter(|s| visible.contains(&s.network_id) || super::may_read(ctx, &s.project_id))
            .collect())
    }

    /// The subnets of a network the caller was shown (they are as visible as it is).
    pub async fn network_subnets(&self, n: &nimbus_store::network::Network) -> Result<Vec<Subnet>, Error> {
        let mut c = self.store().read().await?;
        repo::network_subnets(&mut c, &n.id).await
    }

    /// Loads a subnet the caller may see (404 otherwise), for `action` on its network.
    async fn load_subnet(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Subnet, Error> {
        let s = repo::get_subnet(c, id).await?.ok_or_else(|| Error::not_found("subnet", id))?;
        self.load_network(c, ctx, &s.network_id, action).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found("subnet", id),
            other => other,
        })?;
        Ok(s)
    }

    /// One subnet the caller may see.
    pub async fn get_subnet(&self, ctx: &Ctx, id: &str) -> Result<Subnet, Error> {
        let mut c = self.store().read().await?;
        self.load_subnet(&mut c, ctx, id, "network:get").await
    }

    /// Changes a subnet: names, gateway (not an address in use), pools, DHCP, DNS servers
    /// and host routes. Addresses already given stay, inside the new pools or not.
    pub async fn update_subnet(&self, ctx: &Ctx, id: &str, u: SubnetUpdate) -> Result<Subnet, Error> {
        let mut tx = self.store().write().await?;
        let mut s = self.load_subnet(&mut tx, ctx, id, "network:update").await?;
        let net = ipam::parse_cidr(&s.cidr)?;
        let mut gateway = s.gateway_ip.as_deref().map(ipam::parse_ip).transpose()?;
        if let Some(g) = &u.gateway {
            gateway = match g {
                Gateway::Default => Some(ipam::default_gateway(&net)),
                Gateway::None => None,
                Gateway::Ip(ip) => Some(ipam::parse_ip(ip)?),
            };
            if let Some(g) = gateway {
                if !ipam::is_host(&net, g) {
                    return Err(Error::bad_request(format!(
                        "Invalid input for operation: Gateway is not valid on subnet: {g} is not a host of {net}."
                    )));
                }
            }
        }
        let pools = match &u.allocation_pools {
            Some(p) => parse_pools(p)?,
            None => pools_of(&s),
        };
        ipam::check_pools(&net, &pools, gateway)?;
        if let Some(d) = &u.dns_nameservers {
            check_dns(d)?;
            s.dns_nameservers = serde_json::to_string(d)?;
        }
        if let Some(r) = &u.host_routes {
            ipam::check_routes(r)?;
            s.host_routes = serde_json::to_string(r)?;
        }
        if let Some(n) = u.name {
            check_name(&n)?;
            s.name = n;
        }
        if let Some(d) = u.description {
            s.description = d;
        }
        if let Some(e) = u.enable_dhcp {
            s.enable_dhcp = e;
        }
        if let Some(g) = gateway {
            let used = repo::subnet_used_ips(&mut tx, &s.id).await?;
            if u.gateway.is_some() && used.iter().any(|f| ipam::parse_ip(&f.ip_address).ok() == Some(g)) {
                return Err(Error::Conflict(format!(
                    "Gateway ip {g} conflicts with an address in use on subnet {}.",
                    s.id
                )));
            }
        }
        s.gateway_ip = gateway.map(|g: Ipv4Addr| g.to_string());
        s.allocation_pools = serde_json::to_string(&pools)?;
        s.updated_at = now_ms();
        repo::update_subnet(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "subnet", "updateSubnet", 200).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        let s = repo::get_subnet(&mut tx, &s.id).await?.ok_or_else(|| Error::not_found("subnet", id))?;
        tx.commit().await?;
        self.wake_network();
        Ok(s)
    }

    /// Deletes a subnet no port has an address on (409 otherwise).
    pub async fn delete_subnet(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let s = self.load_subnet(&mut tx, ctx, id, "network:update").await?;
        if !repo::subnet_used_ips(&mut tx, &s.id).await?.is_empty() {
            return Err(Error::Conflict(format!(
                "Unable to complete operation on subnet {}: One or more ports have an IP allocation from this subnet.",
                s.id
            )));
        }
        nimbus_store::tags::clear(&mut tx, "subnets", &s.id).await?;
        repo::delete_subnet(&mut tx, &s.id).await?;
        self.release_quota(&mut tx, &s.project_id, "subnet", 1).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "subnet", "deleteSubnet", 204).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }
}
