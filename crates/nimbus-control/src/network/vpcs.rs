//! VPCs and their subnets as the native VPC API (v1) sees them (seed 6.3.1): a VPC is a
//! router with an address range and a gateway on the external network without source NAT
//! (its servers reach the outside through EIPs or a NAT gateway only); a VPC subnet is a
//! network with one subnet inside the VPC's range, joined to the VPC's router at its gateway
//! address. The ids are the Neutron ones: a VPC's is its router's, a VPC subnet's is its
//! network's (as the provider's API does), so both API families see the same resources.

use super::ipam;
use super::ports::OWNER_ROUTER_INTERFACE;
use super::routers::{InterfaceTarget, RouterCreate, RouterUpdate, RouterView};
use super::subnets::{Gateway, SubnetCreate, SubnetUpdate};
use super::{may_read, NetworkCreate, NetworkUpdate};
use crate::{Control, Ctx};
use nimbus_core::Error;
use nimbus_store::l3 as l3repo;
use nimbus_store::network::{self as repo, Network, Subnet};

/// What a VPC create asks for.
#[derive(Debug, Clone, Default)]
pub struct VpcCreate {
    pub name: String,
    pub description: String,
    pub cidr: Option<String>,
}

/// What a VPC subnet create asks for.
#[derive(Debug, Clone, Default)]
pub struct VpcSubnetCreate {
    pub vpc_id: String,
    pub name: String,
    pub description: String,
    pub cidr: String,
    pub gateway_ip: String,
    pub dhcp_enable: Option<bool>,
    pub dns_servers: Vec<String>,
}

/// What a VPC subnet update changes.
#[derive(Debug, Clone, Default)]
pub struct VpcSubnetUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub dhcp_enable: Option<bool>,
    pub dns_servers: Option<Vec<String>>,
}

/// A VPC subnet: its network, its (first) subnet, the VPC it is joined to.
#[derive(Debug, Clone)]
pub struct VpcSubnetView {
    pub network: Network,
    pub subnet: Subnet,
    /// The router (VPC) with an interface on it, if any.
    pub vpc_id: Option<String>,
    /// Addresses of its pools not given to a port.
    pub available_ips: i64,
}

fn check_vpc_name(name: &str) -> Result<(), Error> {
    if name.chars().count() > 64 {
        return Err(Error::bad_request("Invalid VPC name: at most 64 characters."));
    }
    Ok(())
}

impl Control {
    /// Creates a VPC: a router over `cidr`, its gateway on the external network without
    /// source NAT. A non-empty name is unique in the project.
    pub async fn create_vpc(&self, ctx: &Ctx, req: VpcCreate) -> Result<RouterView, Error> {
        check_vpc_name(&req.name)?;
        let project = super::owner_project(ctx, None)?;
        crate::authz::authorize(
            "network:create",
            &ctx.principal,
            &crate::authz::Target { project_id: Some(&project), ..Default::default() },
        )?;
        let cidr = req.cidr.as_deref().map(super::routers::check_vpc_cidr).transpose()?;
        let external = self.external_network_id().await?;
        let mut tx = self.store().write().await?;
        if !req.name.is_empty()
            && l3repo::list_routers(&mut tx).await?.iter().any(|r| r.project_id == project && r.name == req.name)
        {
            return Err(Error::Conflict(format!("A VPC named {} already exists in this project.", req.name)));
        }
        let create = RouterCreate { name: req.name, description: req.description, ..Default::default() };
        let mut r = self.create_router_in(&mut tx, ctx, &project, create, cidr).await?;
        // The platform's own choice (no SNAT), made for the tenant: not the operators' policy.
        self.attach_vpc_gateway(&mut tx, &mut r, &external).await?;
        let view = self.router_view(&mut tx, r).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// Renames a VPC, changes its description or its range (still holding its subnets).
    pub async fn update_vpc(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        cidr: Option<String>,
    ) -> Result<RouterView, Error> {
        if let Some(n) = &name {
            check_vpc_name(n)?;
        }
        let u = RouterUpdate { name, description, cidr, ..Default::default() };
        self.update_router(ctx, id, u).await
    }

    /// Deletes a VPC: refused while it has subnets.
    pub async fn delete_vpc(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        self.delete_router(ctx, id).await
    }

    async fn vpc_subnet_view(
        &self,
        c: &mut sqlx::AnyConnection,
        network: Network,
    ) -> Result<Option<VpcSubnetView>, Error> {
        let Some(subnet) = repo::network_subnets(&mut *c, &network.id).await?.into_iter().next() else {
            return Ok(None);
        };
        let mut vpc_id = None;
        for p in repo::network_ports(&mut *c, &network.id).await? {
            if p.device_owner == OWNER_ROUTER_INTERFACE {
                vpc_id = Some(p.device_id.clone());
            }
        }
        let used = repo::subnet_used_ips(&mut *c, &subnet.id).await?.len() as i64;
        let pool_size: i64 = super::subnets::pools_of(&subnet)
            .iter()
            .map(|p| i64::from(u32::from(p.end)) - i64::from(u32::from(p.start)) + 1)
            .sum();
        Ok(Some(VpcSubnetView { network, subnet, vpc_id, available_ips: (pool_size - used).max(0) }))
    }

    /// The VPC subnets the caller may see (its networks with a subnet; `vpc_id` filters).
    pub async fn list_vpc_subnets(&self, ctx: &Ctx, vpc_id: Option<&str>) -> Result<Vec<VpcSubnetView>, Error> {
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for n in repo::list_networks(&mut c).await? {
            if n.router_external || !may_read(ctx, &n.project_id) {
                continue;
            }
            if let Some(v) = self.vpc_subnet_view(&mut c, n).await? {
                if vpc_id.is_none() || v.vpc_id.as_deref() == vpc_id {
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    /// One VPC subnet (by its network's id).
    pub async fn get_vpc_subnet(&self, ctx: &Ctx, id: &str) -> Result<VpcSubnetView, Error> {
        let mut c = self.store().read().await?;
        let n = self.load_network(&mut c, ctx, id, "network:get").await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found("subnet", id),
            other => other,
        })?;
        if n.router_external {
            return Err(Error::not_found("subnet", id));
        }
        self.vpc_subnet_view(&mut c, n).await?.ok_or_else(|| Error::not_found("subnet", id))
    }

    /// Creates a VPC subnet: a network and its subnet (inside the VPC's range, the gateway
    /// one of its hosts), joined to the VPC's router; all or nothing.
    pub async fn create_vpc_subnet(&self, ctx: &Ctx, req: VpcSubnetCreate) -> Result<VpcSubnetView, Error> {
        if req.name.is_empty() || req.name.chars().count() > 64 {
            return Err(Error::bad_request("Invalid subnet name: 1 to 64 characters."));
        }
        let vpc = self.get_router(ctx, &req.vpc_id).await?;
        let net = ipam::parse_cidr(&req.cidr)?;
        if net.prefix_len() > 28 {
            return Err(Error::bad_request(format!("Invalid subnet cidr {net}: its mask is at most /28.")));
        }
        if let Some(range) = &vpc.router.cidr {
            if !ipam::parse_cidr(range)?.contains(&net) {
                return Err(Error::bad_request(format!(
                    "Invalid subnet cidr {net}: it lies outside the VPC's {range}."
                )));
            }
        }
        let network = self
            .create_network(
                ctx,
                NetworkCreate { name: req.name.clone(), description: req.description.clone(), ..Default::default() },
            )
            .await?;
        let made = async {
            let subnet = self
                .create_subnet(
                    ctx,
                    SubnetCreate {
                        network_id: network.id.clone(),
                        name: req.name.clone(),
                        description: req.description.clone(),
                        ip_version: 4,
                        cidr: req.cidr.clone(),
                        gateway: Gateway::Ip(req.gateway_ip.clone()),
                        enable_dhcp: req.dhcp_enable,
                        dns_nameservers: req.dns_servers.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            self.add_router_interface(ctx, &vpc.router.id, InterfaceTarget::Subnet(subnet.id.clone())).await
        }
        .await;
        if let Err(e) = made {
            // Undo: the network goes with its subnet.
            let _ = self.delete_network(ctx, &network.id).await;
            return Err(e);
        }
        self.get_vpc_subnet(ctx, &network.id).await
    }

    /// Changes a VPC subnet's name, description, DHCP or DNS servers.
    pub async fn update_vpc_subnet(
        &self,
        ctx: &Ctx,
        vpc_id: &str,
        id: &str,
        u: VpcSubnetUpdate,
    ) -> Result<VpcSubnetView, Error> {
        let v = self.get_vpc_subnet(ctx, id).await?;
        if v.vpc_id.as_deref() != Some(vpc_id) {
            return Err(Error::not_found("subnet", id));
        }
        if u.name.is_some() || u.description.is_some() {
            let nu = NetworkUpdate { name: u.name.clone(), description: u.description.clone(), ..Default::default() };
            self.update_network(ctx, id, nu).await?;
        }
        let su = SubnetUpdate {
            name: u.name,
            description: u.description,
            enable_dhcp: u.dhcp_enable,
            dns_nameservers: u.dns_servers,
            ..Default::default()
        };
        self.update_subnet(ctx, &v.subnet.id, su).await?;
        self.get_vpc_subnet(ctx, id).await
    }

    /// Deletes a VPC subnet: its router interface, its subnet and network (refused while
    /// servers or other ports use it).
    pub async fn delete_vpc_subnet(&self, ctx: &Ctx, vpc_id: &str, id: &str) -> Result<(), Error> {
        let v = self.get_vpc_subnet(ctx, id).await?;
        if v.vpc_id.as_deref() != Some(vpc_id) {
            return Err(Error::not_found("subnet", id));
        }
        {
            let mut c = self.store().read().await?;
            let busy = repo::network_ports(&mut c, id).await?.iter().any(|p| p.device_owner != OWNER_ROUTER_INTERFACE);
            if busy {
                return Err(Error::Conflict(format!("Subnet {id} still has ports in use: delete them first.")));
            }
        }
        self.remove_router_interface(ctx, vpc_id, InterfaceTarget::Subnet(v.subnet.id.clone())).await?;
        self.delete_network(ctx, id).await
    }

    /// Checks that each NIC's network is a subnet of the VPC (a 400 otherwise: the subnet
    /// named is not in that VPC), the VPC one the caller may see (404).
    pub(crate) async fn check_nics_in_vpc(
        &self,
        tx: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        vpc_id: &str,
        nics: &[super::NicRequest],
    ) -> Result<(), Error> {
        let router = self.load_router(&mut *tx, ctx, vpc_id, "network:get").await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found("vpc", vpc_id),
            other => other,
        })?;
        let joined: Vec<String> = repo::device_ports(&mut *tx, &router.id)
            .await?
            .into_iter()
            .filter(|p| p.device_owner == OWNER_ROUTER_INTERFACE)
            .map(|p| p.network_id)
            .collect();
        for n in nics {
            if let Some(net) = &n.network_id {
                if !joined.contains(net) {
                    return Err(Error::bad_request(format!("Subnet {net} is not a subnet of VPC {vpc_id}.")));
                }
            }
        }
        Ok(())
    }
}
