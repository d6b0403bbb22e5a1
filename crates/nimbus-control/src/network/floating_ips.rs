//! Floating IPs (EIPs, seed 6.3.2): addresses of the region's external network allocated
//! to a project (status DOWN), bound to a port's fixed address (ACTIVE) through the router
//! that joins the port's subnet to that external network, unbound again; a deleted server
//! leaves its EIPs allocated and unbound. Each holds a bandwidth (1 Mbit/s to 1 Gbit/s)
//! that shapes its traffic both ways; Neutron's floating IPs get the region's default one.
//!
//! The address is a port of the external network (device owner `network:floatingip`, no
//! project), so two allocations can never take the same one.

use super::ports::{FixedIpRequest, OWNER_ROUTER_INTERFACE};
use super::{may_read, owner_project};
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::l3::{self as l3repo, Bandwidth, FloatingIp};
use nimbus_store::network::{self as repo, Port};
use sqlx::AnyConnection;

/// The bandwidth sizes an EIP may have, in Mbit/s (1 Mbit/s to 1 Gbit/s).
pub const BANDWIDTH_RANGE: std::ops::RangeInclusive<i64> = 1..=1000;

/// A bandwidth as asked with an EIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandwidthRequest {
    pub name: String,
    pub size_mbit: i64,
    /// `PER` (the only type offered: one bandwidth per EIP).
    pub share_type: String,
    /// `bandwidth` (by the size) or `traffic` (by the bytes).
    pub charge_mode: String,
}

/// What a floating IP create asks for.
#[derive(Debug, Clone, Default)]
pub struct FloatingIpCreate {
    pub floating_network_id: String,
    /// A chosen address (operators only, as Neutron's policy).
    pub floating_ip_address: Option<String>,
    pub subnet_id: Option<String>,
    /// Bound at once to this port (and fixed address).
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub description: String,
    pub project_id: Option<String>,
    /// `None`: the region's default bandwidth.
    pub bandwidth: Option<BandwidthRequest>,
    /// `None`: `5_bgp`.
    pub ip_type: Option<String>,
}

/// What a floating IP update changes: `port_id: Some(None)` unbinds.
#[derive(Debug, Clone, Default)]
pub struct FloatingIpUpdate {
    pub port_id: Option<Option<String>>,
    pub fixed_ip_address: Option<String>,
    pub description: Option<String>,
}

/// A floating IP with its bandwidth and the port it is bound to.
#[derive(Debug, Clone)]
pub struct FloatingIpView {
    pub fip: FloatingIp,
    pub bandwidth: Option<Bandwidth>,
    pub port: Option<Port>,
}

impl FloatingIpView {
    /// ACTIVE when bound, DOWN otherwise (Neutron's and the EIP API's words).
    pub fn status(&self) -> &'static str {
        if self.fip.port_id.is_some() {
            "ACTIVE"
        } else {
            "DOWN"
        }
    }
}

/// The EIP types offered.
pub const IP_TYPES: &[&str] = &["5_bgp", "5_sbgp"];

/// Checks a bandwidth's size and kind.
pub fn check_bandwidth(size_mbit: i64, share_type: &str, charge_mode: &str) -> Result<(), Error> {
    if !BANDWIDTH_RANGE.contains(&size_mbit) {
        return Err(Error::bad_request(format!(
            "Invalid bandwidth size {size_mbit}: an EIP's bandwidth is {} to {} Mbit/s.",
            BANDWIDTH_RANGE.start(),
            BANDWIDTH_RANGE.end()
        )));
    }
    if share_type != "PER" {
        return Err(Error::bad_request(format!(
            "Invalid bandwidth share_type {share_type:?}: only PER (dedicated) bandwidths are offered."
        )));
    }
    if !["bandwidth", "traffic"].contains(&charge_mode) {
        return Err(Error::bad_request(format!(
            "Invalid bandwidth charge_mode {charge_mode:?}: use bandwidth or traffic."
        )));
    }
    Ok(())
}

impl Control {
    async fn floating_ip_view(&self, c: &mut AnyConnection, fip: FloatingIp) -> Result<FloatingIpView, Error> {
        let bandwidth = l3repo::get_bandwidth(&mut *c, &fip.bandwidth_id).await?;
        let port = match &fip.port_id {
            Some(p) => repo::get_port(&mut *c, p).await?,
            None => None,
        };
        Ok(FloatingIpView { fip, bandwidth, port })
    }

    async fn load_floating_ip(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<FloatingIp, Error> {
        let f = l3repo::get_floating_ip(c, id).await?.ok_or_else(|| Error::not_found("floatingip", id))?;
        if !may_read(ctx, &f.project_id) {
            return Err(Error::not_found("floatingip", id));
        }
        authorize(action, &ctx.principal, &Target { project_id: Some(&f.project_id), ..Default::default() })?;
        Ok(f)
    }

    /// Binds a floating IP to a port's fixed address: the port is the floating IP's
    /// project's and not a router's, the address is one of the port's (the only one when not
    /// named), and a router joins its subnet to the floating IP's network.
    async fn bind_floating_ip(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        f: &mut FloatingIp,
        port_id: &str,
        fixed: Option<&str>,
    ) -> Result<(), Error> {
        let port = repo::get_port(&mut *tx, port_id)
            .await?
            .filter(|p| p.project_id == f.project_id && may_read(ctx, &p.project_id))
            .ok_or_else(|| Error::not_found("port", port_id))?;
        if self.nat_uses_eip(&mut *tx, &f.id).await? {
            return Err(Error::Conflict(format!(
                "EIP {} is used by a NAT gateway rule: it cannot be bound to a port.",
                f.floating_ip_address
            )));
        }
        if port.device_owner.starts_with("network:") {
            return Err(Error::bad_request(format!(
                "Bad floatingip request: Port {} has owner {} and therefore cannot be assigned a floating IP.",
                port.id, port.device_owner
            )));
        }
        let ips = repo::port_fixed_ips(&mut *tx, &port.id).await?;
        let chosen = match fixed {
            Some(ip) => ips.iter().find(|x| x.ip_address == ip).ok_or_else(|| {
                Error::bad_request(format!("Bad floatingip request: Port {} does not have fixed ip {ip}.", port.id))
            })?,
            None => match ips.as_slice() {
                [one] => one,
                [] => {
                    return Err(Error::bad_request(format!(
                        "Bad floatingip request: Cannot add floating IP to port {} that has no fixed IPv4 addresses.",
                        port.id
                    )))
                }
                _ => {
                    return Err(Error::bad_request(format!(
                        "Bad floatingip request: Port {} has multiple fixed IPv4 addresses. Must provide a specific \
                         IPv4 address when assigning a floating IP.",
                        port.id
                    )))
                }
            },
        }
        .clone();
        let mut router = None;
        for r in l3repo::list_routers(&mut *tx).await? {
            if r.gateway_network_id.as_deref() != Some(f.floating_network_id.as_str()) {
                continue;
            }
            for p in repo::device_ports(&mut *tx, &r.id).await? {
                if p.device_owner != OWNER_ROUTER_INTERFACE {
                    continue;
                }
                if repo::port_fixed_ips(&mut *tx, &p.id).await?.iter().any(|x| x.subnet_id == chosen.subnet_id) {
                    router = Some(r.id.clone());
                }
            }
            if router.is_some() {
                break;
            }
        }
        let Some(router) = router else {
            return Err(Error::NotFound { kind: "external gateway reachable from subnet", id: chosen.subnet_id });
        };
        let taken = l3repo::port_floating_ips(&mut *tx, &port.id)
            .await?
            .into_iter()
            .any(|o| o.id != f.id && o.fixed_ip_address.as_deref() == Some(chosen.ip_address.as_str()));
        if taken {
            return Err(Error::Conflict(format!(
                "Cannot associate floating IP {} ({}) with port {} using fixed IP {}, as that fixed IP already has a \
                 floating IP on external network {}.",
                f.floating_ip_address, f.id, port.id, chosen.ip_address, f.floating_network_id
            )));
        }
        f.port_id = Some(port.id);
        f.fixed_ip_address = Some(chosen.ip_address);
        f.router_id = Some(router);
        Ok(())
    }

    /// The region's external network (`admin_external_net`): where EIPs come from.
    pub async fn external_network_id(&self) -> Result<String, Error> {
        let mut c = self.store().read().await?;
        let name = &self.config().external_network_name;
        repo::list_networks(&mut c)
            .await?
            .into_iter()
            .find(|n| n.router_external && &n.name == name)
            .map(|n| n.id)
            .ok_or_else(|| Error::Unavailable(format!("the region has no external network {name}")))
    }

    /// Allocates a floating IP (and binds it when a port is named), charging the
    /// `floatingip` quota.
    pub async fn create_floating_ip(&self, ctx: &Ctx, req: FloatingIpCreate) -> Result<FloatingIpView, Error> {
        let project = owner_project(ctx, req.project_id.as_deref())?;
        authorize("network:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        if req.floating_ip_address.is_some() {
            authorize("network:manage", &ctx.principal, &Target::default())?;
        }
        let ip_type = req.ip_type.clone().unwrap_or_else(|| "5_bgp".into());
        if !IP_TYPES.contains(&ip_type.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid EIP type {ip_type:?}: this region offers {}.",
                IP_TYPES.join(", ")
            )));
        }
        let bw = match &req.bandwidth {
            Some(b) => {
                check_bandwidth(b.size_mbit, &b.share_type, &b.charge_mode)?;
                super::networks::check_name(&b.name)?;
                b.clone()
            }
            None => BandwidthRequest {
                name: String::new(),
                size_mbit: self.config().eip_default_bandwidth_mbit,
                share_type: "PER".into(),
                charge_mode: "bandwidth".into(),
            },
        };
        let mut tx = self.store().write().await?;
        let network = self.load_network(&mut tx, ctx, &req.floating_network_id, "network:get").await?;
        if !network.router_external {
            return Err(Error::bad_request(format!(
                "Bad floatingip request: Network {} is not a valid external network.",
                network.id
            )));
        }
        self.charge_quota(&mut tx, &project, "floatingip", 1).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let asked = match (&req.subnet_id, &req.floating_ip_address) {
            (None, None) => None,
            (s, a) => Some(vec![FixedIpRequest { subnet_id: s.clone(), ip_address: a.clone() }]),
        };
        let port =
            self.insert_l3_port(&mut tx, &network, "", super::ports::OWNER_FLOATING_IP, &id, asked.as_deref()).await?;
        let address = port
            .fixed_ips
            .first()
            .map(|f| f.ip_address.clone())
            .ok_or_else(|| Error::Conflict(format!("No more IP addresses available on network {}.", network.id)))?;
        let now = now_ms();
        let b = Bandwidth {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            name: if bw.name.is_empty() { format!("bandwidth-{}", &id[..8]) } else { bw.name },
            size_mbit: bw.size_mbit,
            share_type: bw.share_type,
            charge_mode: bw.charge_mode,
            created_at: now,
            updated_at: now,
        };
        l3repo::insert_bandwidth(&mut tx, &b).await?;
        let mut f = FloatingIp {
            id: id.clone(),
            project_id: project.clone(),
            floating_network_id: network.id.clone(),
            floating_ip_address: address,
            floating_port_id: port.port.id.clone(),
            port_id: None,
            fixed_ip_address: None,
            router_id: None,
            description: req.description,
            bandwidth_id: b.id.clone(),
            ip_type,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        if let Some(p) = &req.port_id {
            self.bind_floating_ip(&mut tx, ctx, &mut f, p, req.fixed_ip_address.as_deref()).await?;
        }
        l3repo::insert_floating_ip(&mut tx, &f).await?;
        self.eip_usage(&mut tx, &f, "created").await?;
        self.bandwidth_usage(&mut tx, &b, "created").await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "floatingip", "createFloatingIp", 201)
                .resource(&f.id, &f.floating_ip_address)
                .in_project(&project),
        )
        .await?;
        let view = self.floating_ip_view(&mut tx, f).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// Records an address allocated or released (metering prices EIP-hours).
    async fn eip_usage(&self, tx: &mut AnyConnection, f: &FloatingIp, event: &str) -> Result<(), Error> {
        let detail = serde_json::json!({"name": f.floating_ip_address, "bandwidth_id": f.bandwidth_id});
        self.record_usage(tx, &f.project_id, "eip", &f.id, event, None, detail).await
    }

    /// Records a bandwidth's size or charge mode changing (metering prices Mbit/s-hours).
    async fn bandwidth_usage(&self, tx: &mut AnyConnection, b: &Bandwidth, event: &str) -> Result<(), Error> {
        let detail = serde_json::json!({"name": b.name, "size_mbit": b.size_mbit, "charge_mode": b.charge_mode});
        self.record_usage(tx, &b.project_id, "bandwidth", &b.id, event, None, detail).await
    }

    /// Floating IPs the caller may see.
    pub async fn list_floating_ips(&self, ctx: &Ctx) -> Result<Vec<FloatingIpView>, Error> {
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for f in l3repo::list_floating_ips(&mut c).await? {
            if may_read(ctx, &f.project_id) {
                out.push(self.floating_ip_view(&mut c, f).await?);
            }
        }
        Ok(out)
    }

    /// One floating IP the caller may see.
    pub async fn get_floating_ip(&self, ctx: &Ctx, id: &str) -> Result<FloatingIpView, Error> {
        let mut c = self.store().read().await?;
        let f = self.load_floating_ip(&mut c, ctx, id, "network:get").await?;
        self.floating_ip_view(&mut c, f).await
    }

    /// Binds, rebinds or unbinds a floating IP, or changes its description.
    pub async fn update_floating_ip(&self, ctx: &Ctx, id: &str, u: FloatingIpUpdate) -> Result<FloatingIpView, Error> {
        let mut tx = self.store().write().await?;
        let mut f = self.load_floating_ip(&mut tx, ctx, id, "network:update").await?;
        if let Some(d) = u.description {
            f.description = d;
        }
        let action = match &u.port_id {
            Some(Some(p)) => {
                if f.port_id.as_deref() == Some(p.as_str()) && u.fixed_ip_address.is_none() {
                    "updateFloatingIp"
                } else {
                    self.bind_floating_ip(&mut tx, ctx, &mut f, p, u.fixed_ip_address.as_deref()).await?;
                    "associateFloatingIp"
                }
            }
            Some(None) => {
                f.port_id = None;
                f.fixed_ip_address = None;
                f.router_id = None;
                "disassociateFloatingIp"
            }
            None => "updateFloatingIp",
        };
        f.updated_at = now_ms();
        l3repo::update_floating_ip(&mut tx, &f).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "floatingip", action, 200)
                .resource(&f.id, &f.floating_ip_address)
                .in_project(&f.project_id),
        )
        .await?;
        let f = l3repo::get_floating_ip(&mut tx, &f.id).await?.ok_or_else(|| Error::not_found("floatingip", id))?;
        let view = self.floating_ip_view(&mut tx, f).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// Releases a floating IP: its address and (when it was its only EIP) its bandwidth.
    pub async fn delete_floating_ip(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        self.load_floating_ip(&mut tx, ctx, id, "network:delete").await?;
        self.delete_floating_ip_in(&mut tx, ctx, id).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// Releases a floating IP in the caller's transaction (rights already checked).
    pub(super) async fn delete_floating_ip_in(&self, tx: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let Some(f) = l3repo::get_floating_ip(&mut *tx, id).await? else { return Ok(()) };
        let tx = &mut *tx;
        if self.nat_uses_eip(&mut *tx, &f.id).await? {
            return Err(Error::Conflict(format!(
                "EIP {} is used by a NAT gateway rule: delete the rule first.",
                f.floating_ip_address
            )));
        }
        nimbus_store::tags::clear(&mut *tx, "floatingips", &f.id).await?;
        l3repo::delete_floating_ip(&mut *tx, &f.id).await?;
        self.eip_usage(&mut *tx, &f, "deleted").await?;
        self.remove_l3_port(&mut *tx, &f.floating_port_id).await?;
        if l3repo::bandwidth_floating_ips(&mut *tx, &f.bandwidth_id).await?.is_empty() {
            if let Some(b) = l3repo::get_bandwidth(&mut *tx, &f.bandwidth_id).await? {
                self.bandwidth_usage(&mut *tx, &b, "deleted").await?;
            }
            l3repo::delete_bandwidth(&mut *tx, &f.bandwidth_id).await?;
        }
        self.release_quota(&mut *tx, &f.project_id, "floatingip", 1).await?;
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("VPC", "floatingip", "deleteFloatingIp", 204)
                .resource(&f.id, &f.floating_ip_address)
                .in_project(&f.project_id),
        )
        .await
    }

    /// Unbinds the floating IPs of a port that goes away (they stay allocated).
    pub(super) async fn unbind_floating_ips(&self, tx: &mut AnyConnection, port_id: &str) -> Result<(), Error> {
        for mut f in l3repo::port_floating_ips(&mut *tx, port_id).await? {
            f.port_id = None;
            f.fixed_ip_address = None;
            f.router_id = None;
            f.updated_at = now_ms();
            l3repo::update_floating_ip(&mut *tx, &f).await?;
        }
        Ok(())
    }

    /// Changes a bandwidth (its name, size or charge mode).
    pub async fn update_bandwidth(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        size_mbit: Option<i64>,
        charge_mode: Option<String>,
    ) -> Result<Bandwidth, Error> {
        let mut tx = self.store().write().await?;
        let mut b = l3repo::get_bandwidth(&mut tx, id)
            .await?
            .filter(|b| may_read(ctx, &b.project_id))
            .ok_or_else(|| Error::not_found("bandwidth", id))?;
        authorize("network:update", &ctx.principal, &Target { project_id: Some(&b.project_id), ..Default::default() })?;
        if let Some(n) = name {
            super::networks::check_name(&n)?;
            b.name = n;
        }
        if let Some(s) = size_mbit {
            b.size_mbit = s;
        }
        if let Some(m) = charge_mode {
            b.charge_mode = m;
        }
        check_bandwidth(b.size_mbit, &b.share_type, &b.charge_mode)?;
        b.updated_at = now_ms();
        l3repo::update_bandwidth(&mut tx, &b).await?;
        self.bandwidth_usage(&mut tx, &b, "resized").await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "bandwidth", "updateBandwidth", 200)
                .resource(&b.id, &b.name)
                .in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(b)
    }

    /// Bandwidths the caller may see.
    pub async fn list_bandwidths(&self, ctx: &Ctx) -> Result<Vec<(Bandwidth, Vec<FloatingIp>)>, Error> {
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for b in l3repo::list_bandwidths(&mut c).await? {
            if may_read(ctx, &b.project_id) {
                let fips = l3repo::bandwidth_floating_ips(&mut c, &b.id).await?;
                out.push((b, fips));
            }
        }
        Ok(out)
    }
}
