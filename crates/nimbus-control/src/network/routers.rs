//! Routers (a VPC's router, seed 6.3.1; Neutron's L3): join subnets of their project and,
//! through a gateway on the region's external network, reach the outside (source NAT of
//! their subnets when `enable_snat`, floating IPs in `floating_ips.rs`).
//!
//! An interface is a port on the subnet holding its gateway address (device owner
//! `network:router_interface`); the gateway is a port on the external network (device owner
//! `network:router_gateway`, no project, as in Neutron). The subnets of one router never
//! overlap, and a router with a range (a Huawei VPC) only takes subnets inside it. Setting
//! SNAT or the gateway's addresses explicitly is the operators' (Neutron's default policy).

use super::ipam::{self, HostRoute};
use super::networks::check_name;
use super::ports::{FixedIpRequest, PortView, OWNER_ROUTER_GATEWAY, OWNER_ROUTER_INTERFACE};
use super::{may_read, owner_project};
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::l3::{self as l3repo, Router};
use nimbus_store::network::{self as repo, Port};
use sqlx::AnyConnection;

/// A gateway as asked: the external network, SNAT, and (operators) its addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayRequest {
    pub network_id: String,
    pub enable_snat: Option<bool>,
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
}

/// What a router create asks for.
#[derive(Debug, Clone, Default)]
pub struct RouterCreate {
    pub name: String,
    pub description: String,
    pub admin_state_up: Option<bool>,
    pub gateway: Option<GatewayRequest>,
    /// A Huawei VPC's range (private, as the seed requires).
    pub cidr: Option<String>,
    pub project_id: Option<String>,
}

/// What a router update changes. `gateway: Some(None)` clears the gateway.
#[derive(Debug, Clone, Default)]
pub struct RouterUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: Option<bool>,
    pub gateway: Option<Option<GatewayRequest>>,
    pub routes: Option<Vec<HostRoute>>,
    pub cidr: Option<String>,
}

/// A router with its gateway port (for the gateway's addresses) and interface ports.
#[derive(Debug, Clone)]
pub struct RouterView {
    pub router: Router,
    pub gateway_port: Option<PortView>,
    pub interfaces: Vec<PortView>,
}

/// What an interface add or remove names: a subnet or a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceTarget {
    Subnet(String),
    Port(String),
}

/// An interface added or removed, as Neutron reports it.
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    pub router_id: String,
    pub project_id: String,
    pub port_id: String,
    pub network_id: String,
    pub subnet_ids: Vec<String>,
}

fn bad_router(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Bad router request: {msg}"))
}

/// Checks a VPC range: a network of the seed's private ranges (6.3.1).
pub(crate) fn check_vpc_cidr(cidr: &str) -> Result<String, Error> {
    let net = ipam::parse_cidr(cidr)?;
    if !ipam::is_private(&net) {
        return Err(Error::bad_request(format!(
            "Invalid input for cidr: {net} is not a private range; use 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16."
        )));
    }
    Ok(net.to_string())
}

impl Control {
    /// Loads a router the caller may see (404 otherwise) and may act on with `action`.
    pub(crate) async fn load_router(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Router, Error> {
        let r = l3repo::get_router(c, id).await?.ok_or_else(|| Error::not_found("router", id))?;
        if !may_read(ctx, &r.project_id) {
            return Err(Error::not_found("router", id));
        }
        authorize(action, &ctx.principal, &Target { project_id: Some(&r.project_id), ..Default::default() })?;
        Ok(r)
    }

    pub(super) async fn router_view(&self, c: &mut AnyConnection, router: Router) -> Result<RouterView, Error> {
        let mut gateway_port = None;
        let mut interfaces = Vec::new();
        for p in repo::device_ports(c, &router.id).await? {
            let view = self.port_view(c, p).await?;
            match view.port.device_owner.as_str() {
                OWNER_ROUTER_GATEWAY => gateway_port = Some(view),
                OWNER_ROUTER_INTERFACE => interfaces.push(view),
                _ => {}
            }
        }
        Ok(RouterView { router, gateway_port, interfaces })
    }

    /// Gives a router its gateway on an external network (replacing any other), with SNAT.
    async fn set_gateway(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        r: &mut Router,
        gw: &GatewayRequest,
    ) -> Result<(), Error> {
        if gw.enable_snat.is_some() || gw.fixed_ips.is_some() {
            // Neutron's policy: only operators choose SNAT or the gateway's addresses.
            authorize("network:manage", &ctx.principal, &Target::default())?;
        }
        let net = self.load_network(&mut *tx, ctx, &gw.network_id, "network:get").await?;
        if !net.router_external {
            return Err(bad_router(format!("Network {} is not an external network.", net.id)));
        }
        let snat = gw.enable_snat.unwrap_or(true);
        if r.gateway_network_id.as_deref() == Some(net.id.as_str()) && gw.fixed_ips.is_none() {
            r.enable_snat = snat;
            return Ok(());
        }
        self.clear_gateway(tx, r).await?;
        self.insert_l3_port(tx, &net, "", OWNER_ROUTER_GATEWAY, &r.id, gw.fixed_ips.as_deref()).await?;
        r.gateway_network_id = Some(net.id.clone());
        r.enable_snat = snat;
        Ok(())
    }

    /// Gives a VPC's router its gateway on the external network, without source NAT (the
    /// platform's choice for VPCs: their servers go out through EIPs or a NAT gateway).
    pub(super) async fn attach_vpc_gateway(
        &self,
        tx: &mut AnyConnection,
        r: &mut Router,
        external: &str,
    ) -> Result<(), Error> {
        let net = repo::get_network(&mut *tx, external).await?.ok_or_else(|| Error::not_found("network", external))?;
        self.insert_l3_port(tx, &net, "", OWNER_ROUTER_GATEWAY, &r.id, None).await?;
        r.gateway_network_id = Some(net.id);
        r.enable_snat = false;
        r.updated_at = now_ms();
        l3repo::update_router(&mut *tx, r).await
    }

    /// Removes a router's gateway; refused while floating IPs reach their ports through it.
    async fn clear_gateway(&self, tx: &mut AnyConnection, r: &mut Router) -> Result<(), Error> {
        let Some(net) = r.gateway_network_id.clone() else { return Ok(()) };
        if let Some(f) = l3repo::router_floating_ips(&mut *tx, &r.id).await?.first() {
            return Err(Error::Conflict(format!(
                "Gateway {net} of router {} is required by floating IP {} ({}): disassociate it first.",
                r.id, f.id, f.floating_ip_address
            )));
        }
        for p in repo::device_ports(&mut *tx, &r.id).await? {
            if p.device_owner == OWNER_ROUTER_GATEWAY {
                self.remove_l3_port(tx, &p.id).await?;
            }
        }
        r.gateway_network_id = None;
        r.enable_snat = false;
        Ok(())
    }

    /// Creates a router (with its gateway when asked), charging the `router` quota.
    pub async fn create_router(&self, ctx: &Ctx, req: RouterCreate) -> Result<RouterView, Error> {
        check_name(&req.name)?;
        let project = owner_project(ctx, req.project_id.as_deref())?;
        authorize("network:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        let cidr = req.cidr.as_deref().map(check_vpc_cidr).transpose()?;
        let mut tx = self.store().write().await?;
        let r = self.create_router_in(&mut tx, ctx, &project, req, cidr).await?;
        let view = self.router_view(&mut tx, r).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// [`create_router`](Self::create_router) in the caller's transaction.
    pub(crate) async fn create_router_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        project: &str,
        req: RouterCreate,
        cidr: Option<String>,
    ) -> Result<Router, Error> {
        self.charge_quota(&mut *tx, project, "router", 1).await?;
        let now = now_ms();
        let mut r = Router {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.to_string(),
            name: req.name,
            description: req.description,
            admin_state_up: req.admin_state_up.unwrap_or(true),
            gateway_network_id: None,
            enable_snat: false,
            routes: "[]".into(),
            cidr,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        l3repo::insert_router(&mut *tx, &r).await?;
        if let Some(gw) = &req.gateway {
            self.set_gateway(tx, ctx, &mut r, gw).await?;
            l3repo::update_router(&mut *tx, &r).await?;
        }
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("VPC", "router", "createRouter", 201).resource(&r.id, &r.name).in_project(project),
        )
        .await?;
        l3repo::get_router(&mut *tx, &r.id).await?.ok_or_else(|| Error::not_found("router", &r.id))
    }

    /// Routers the caller may see.
    pub async fn list_routers(&self, ctx: &Ctx) -> Result<Vec<RouterView>, Error> {
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for r in l3repo::list_routers(&mut c).await? {
            if may_read(ctx, &r.project_id) {
                out.push(self.router_view(&mut c, r).await?);
            }
        }
        Ok(out)
    }

    /// One router the caller may see.
    pub async fn get_router(&self, ctx: &Ctx, id: &str) -> Result<RouterView, Error> {
        let mut c = self.store().read().await?;
        let r = self.load_router(&mut c, ctx, id, "network:get").await?;
        self.router_view(&mut c, r).await
    }

    /// Changes a router: names, state, gateway, extra routes (each next hop on one of its
    /// subnets), a VPC's range (still holding its subnets).
    pub async fn update_router(&self, ctx: &Ctx, id: &str, u: RouterUpdate) -> Result<RouterView, Error> {
        let mut tx = self.store().write().await?;
        let mut r = self.load_router(&mut tx, ctx, id, "network:update").await?;
        if let Some(n) = u.name {
            check_name(&n)?;
            r.name = n;
        }
        if let Some(d) = u.description {
            r.description = d;
        }
        if let Some(a) = u.admin_state_up {
            r.admin_state_up = a;
        }
        if let Some(cidr) = &u.cidr {
            let cidr = check_vpc_cidr(cidr)?;
            let range = ipam::parse_cidr(&cidr)?;
            for s in self.router_subnets(&mut tx, &r.id).await? {
                let sub = ipam::parse_cidr(&s.cidr)?;
                if !range.contains(&sub) {
                    return Err(Error::bad_request(format!(
                        "Invalid input for cidr: subnet {} ({}) lies outside {cidr}.",
                        s.id, s.cidr
                    )));
                }
            }
            r.cidr = Some(cidr);
        }
        match &u.gateway {
            Some(Some(gw)) => self.set_gateway(&mut tx, ctx, &mut r, gw).await?,
            Some(None) => self.clear_gateway(&mut tx, &mut r).await?,
            None => {}
        }
        if let Some(routes) = &u.routes {
            ipam::check_routes(routes)?;
            let subnets = self.router_subnets(&mut tx, &r.id).await?;
            for route in routes {
                let hop = ipam::parse_ip(&route.nexthop)?;
                let on_link = subnets.iter().any(|s| ipam::parse_cidr(&s.cidr).is_ok_and(|n| n.contains(&hop)));
                if !on_link {
                    return Err(Error::bad_request(format!(
                        "Invalid format for routes: the nexthop {} is not connected with router {}.",
                        route.nexthop, r.id
                    )));
                }
            }
            r.routes = serde_json::to_string(routes)?;
        }
        r.updated_at = now_ms();
        l3repo::update_router(&mut tx, &r).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "router", "updateRouter", 200).resource(&r.id, &r.name).in_project(&r.project_id),
        )
        .await?;
        let r = l3repo::get_router(&mut tx, &r.id).await?.ok_or_else(|| Error::not_found("router", id))?;
        let view = self.router_view(&mut tx, r).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// Deletes a router with its gateway; refused (409) while it has interfaces.
    pub async fn delete_router(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let mut r = self.load_router(&mut tx, ctx, id, "network:delete").await?;
        self.delete_router_in(&mut tx, ctx, &mut r).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// [`delete_router`](Self::delete_router) in the caller's transaction.
    pub(crate) async fn delete_router_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        r: &mut Router,
    ) -> Result<(), Error> {
        let ports = repo::device_ports(&mut *tx, &r.id).await?;
        if ports.iter().any(|p| p.device_owner == OWNER_ROUTER_INTERFACE) {
            return Err(Error::Conflict(format!("Router {} still has ports", r.id)));
        }
        self.clear_gateway(tx, r).await?;
        nimbus_store::tags::clear(&mut *tx, "routers", &r.id).await?;
        l3repo::delete_router(&mut *tx, &r.id).await?;
        self.release_quota(&mut *tx, &r.project_id, "router", 1).await?;
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("VPC", "router", "deleteRouter", 204).resource(&r.id, &r.name).in_project(&r.project_id),
        )
        .await
    }

    /// The subnets a router has an interface on.
    pub(super) async fn router_subnets(
        &self,
        c: &mut AnyConnection,
        router_id: &str,
    ) -> Result<Vec<nimbus_store::network::Subnet>, Error> {
        let mut out = Vec::new();
        for p in repo::device_ports(&mut *c, router_id).await? {
            if p.device_owner != OWNER_ROUTER_INTERFACE {
                continue;
            }
            for f in repo::port_fixed_ips(&mut *c, &p.id).await? {
                if let Some(s) = repo::get_subnet(&mut *c, &f.subnet_id).await? {
                    if !out.iter().any(|o: &nimbus_store::network::Subnet| o.id == s.id) {
                        out.push(s);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Checks that a subnet may join a router: not external, not overlapping its other
    /// subnets, inside a VPC's range.
    async fn check_subnet_joins(
        &self,
        tx: &mut AnyConnection,
        r: &Router,
        s: &nimbus_store::network::Subnet,
    ) -> Result<(), Error> {
        let net = ipam::parse_cidr(&s.cidr)?;
        for other in self.router_subnets(&mut *tx, &r.id).await? {
            if other.id == s.id {
                return Err(bad_router(format!("Router already has a port on subnet {}", s.id)));
            }
            let o = ipam::parse_cidr(&other.cidr)?;
            if o.contains(&net.network()) || net.contains(&o.network()) {
                return Err(bad_router(format!(
                    "Cidr {} of subnet {} overlaps with cidr {} of subnet {}",
                    s.cidr, s.id, other.cidr, other.id
                )));
            }
        }
        if let Some(range) = &r.cidr {
            if !ipam::parse_cidr(range)?.contains(&net) {
                return Err(bad_router(format!("Subnet {} ({}) lies outside the VPC's range {range}.", s.id, s.cidr)));
            }
        }
        Ok(())
    }

    /// Adds an interface: a new port holding a subnet's gateway address, or a free port of
    /// the router's project (with one address).
    pub async fn add_router_interface(
        &self,
        ctx: &Ctx,
        id: &str,
        target: InterfaceTarget,
    ) -> Result<InterfaceInfo, Error> {
        let mut tx = self.store().write().await?;
        let info = self.add_router_interface_in(&mut tx, ctx, id, target).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(info)
    }

    /// [`add_router_interface`](Self::add_router_interface) in the caller's transaction.
    pub(crate) async fn add_router_interface_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        target: InterfaceTarget,
    ) -> Result<InterfaceInfo, Error> {
        let r = self.load_router(&mut *tx, ctx, id, "network:update").await?;
        let port = match &target {
            InterfaceTarget::Subnet(sid) => {
                let s = repo::get_subnet(&mut *tx, sid).await?.ok_or_else(|| Error::not_found("subnet", sid))?;
                let network =
                    self.load_network(&mut *tx, ctx, &s.network_id, "network:get").await.map_err(|e| match e {
                        Error::NotFound { .. } => Error::not_found("subnet", sid),
                        other => other,
                    })?;
                if network.router_external {
                    return Err(bad_router(format!("Subnet {sid} is on an external network; use it as a gateway.")));
                }
                if network.project_id != r.project_id && !network.shared {
                    authorize("network:manage", &ctx.principal, &Target::default())?;
                }
                let Some(gateway) = s.gateway_ip.clone() else {
                    return Err(bad_router(format!("Subnet {sid} for router interface must have a gateway IP")));
                };
                self.check_subnet_joins(&mut *tx, &r, &s).await?;
                let asked = [FixedIpRequest { subnet_id: Some(s.id.clone()), ip_address: Some(gateway) }];
                self.insert_l3_port(&mut *tx, &network, &r.project_id, OWNER_ROUTER_INTERFACE, &r.id, Some(&asked))
                    .await?
                    .port
            }
            InterfaceTarget::Port(pid) => {
                let mut p = self.load_port(&mut *tx, ctx, pid, "network:update").await?;
                if p.project_id != r.project_id {
                    authorize("network:manage", &ctx.principal, &Target::default())?;
                }
                if !p.device_id.is_empty() || !p.device_owner.is_empty() {
                    return Err(Error::Conflict(format!(
                        "Port {pid} is in use by device {} ({}): it cannot become a router interface.",
                        p.device_id, p.device_owner
                    )));
                }
                let ips = repo::port_fixed_ips(&mut *tx, &p.id).await?;
                if ips.is_empty() {
                    return Err(bad_router(format!("Router port {pid} must have at least one fixed IP")));
                }
                for f in &ips {
                    if let Some(s) = repo::get_subnet(&mut *tx, &f.subnet_id).await? {
                        self.check_subnet_joins(&mut *tx, &r, &s).await?;
                    }
                }
                p.device_id = r.id.clone();
                p.device_owner = OWNER_ROUTER_INTERFACE.into();
                p.status = "ACTIVE".into();
                p.updated_at = now_ms();
                repo::update_port(&mut *tx, &p).await?;
                repo::set_port_security_groups(&mut *tx, &p.id, &[]).await?;
                p
            }
        };
        let subnet_ids: Vec<String> =
            repo::port_fixed_ips(&mut *tx, &port.id).await?.into_iter().map(|f| f.subnet_id).collect();
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("VPC", "router", "addRouterInterface", 200)
                .resource(&r.id, &r.name)
                .in_project(&r.project_id),
        )
        .await?;
        Ok(InterfaceInfo {
            router_id: r.id,
            project_id: r.project_id,
            port_id: port.id,
            network_id: port.network_id,
            subnet_ids,
        })
    }

    /// Removes an interface (its port goes); refused while a floating IP reaches a port of
    /// its subnet through this router.
    pub async fn remove_router_interface(
        &self,
        ctx: &Ctx,
        id: &str,
        target: InterfaceTarget,
    ) -> Result<InterfaceInfo, Error> {
        let mut tx = self.store().write().await?;
        let info = self.remove_router_interface_in(&mut tx, ctx, id, target).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(info)
    }

    /// [`remove_router_interface`](Self::remove_router_interface) in the caller's
    /// transaction.
    pub(crate) async fn remove_router_interface_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        target: InterfaceTarget,
    ) -> Result<InterfaceInfo, Error> {
        let r = self.load_router(&mut *tx, ctx, id, "network:update").await?;
        let interfaces: Vec<Port> = repo::device_ports(&mut *tx, &r.id)
            .await?
            .into_iter()
            .filter(|p| p.device_owner == OWNER_ROUTER_INTERFACE)
            .collect();
        let (port, subnet_ids) = {
            let mut found = None;
            for p in interfaces {
                let subnets: Vec<String> =
                    repo::port_fixed_ips(&mut *tx, &p.id).await?.into_iter().map(|f| f.subnet_id).collect();
                let hit = match &target {
                    InterfaceTarget::Port(pid) => &p.id == pid,
                    InterfaceTarget::Subnet(sid) => subnets.contains(sid),
                };
                if hit {
                    found = Some((p, subnets));
                    break;
                }
            }
            match (found, &target) {
                (Some(f), _) => f,
                (None, InterfaceTarget::Subnet(sid)) => return Err(Error::not_found("router interface", sid.clone())),
                (None, InterfaceTarget::Port(pid)) => return Err(Error::not_found("router interface", pid.clone())),
            }
        };
        for f in l3repo::router_floating_ips(&mut *tx, &r.id).await? {
            let Some(bound) = &f.port_id else { continue };
            let on_subnet =
                repo::port_fixed_ips(&mut *tx, bound).await?.iter().any(|x| subnet_ids.contains(&x.subnet_id));
            if on_subnet {
                return Err(Error::Conflict(format!(
                    "Router interface for subnet {} on router {} cannot be deleted, as it is required by one or \
                     more floating IPs.",
                    subnet_ids.join(","),
                    r.id
                )));
            }
        }
        self.remove_l3_port(tx, &port.id).await?;
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("VPC", "router", "removeRouterInterface", 200)
                .resource(&r.id, &r.name)
                .in_project(&r.project_id),
        )
        .await?;
        Ok(InterfaceInfo {
            router_id: r.id,
            project_id: r.project_id,
            port_id: port.id,
            network_id: port.network_id,
            subnet_ids,
        })
    }
}
