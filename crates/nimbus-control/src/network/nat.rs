//! Public NAT gateways (seed 6.3.11): one per VPC, on one of its subnets. SNAT rules let a
//! VPC subnet (or a range inside one) reach the outside as one or more of the project's EIPs;
//! DNAT rules forward an EIP's port (tcp or udp, single or a range of at most 256 ports) or
//! the whole EIP (`any`) to a server port or a private address of the VPC. An EIP a rule uses
//! cannot be bound to a port, nor released, while the rule stands; a bound EIP cannot be used.
//! The router's namespace does the translation (see `nimbus_drivers::netns_l3`).

use super::ipam;
use super::ports::OWNER_ROUTER_INTERFACE;
use super::{may_read, owner_project};
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::l3 as l3repo;
use nimbus_store::nat::{self as repo, DnatRule, NatGateway, SnatRule};
use nimbus_store::network as netrepo;
use sqlx::AnyConnection;

/// The sizes a NAT gateway is sold in (the provider's 1 small to 5 enterprise).
pub const NAT_SPECS: &[&str] = &["1", "2", "3", "4", "5"];
/// The widest port range a DNAT rule forwards.
pub const MAX_DNAT_RANGE: u32 = 256;
/// The most EIPs one SNAT rule uses.
pub const MAX_SNAT_EIPS: usize = 20;

/// What a NAT gateway create asks for.
#[derive(Debug, Clone, Default)]
pub struct NatGatewayCreate {
    pub name: String,
    pub description: String,
    pub spec: String,
    pub router_id: String,
    pub internal_network_id: String,
}

/// What a SNAT rule create asks for: a subnet (its network's id) or a range, and EIPs.
#[derive(Debug, Clone, Default)]
pub struct SnatRuleCreate {
    pub nat_gateway_id: String,
    pub network_id: Option<String>,
    pub cidr: Option<String>,
    pub floating_ip_ids: Vec<String>,
    pub source_type: i64,
    pub description: String,
}

/// What a DNAT rule create asks for: ports as `"80"` or `"80-90"`.
#[derive(Debug, Clone, Default)]
pub struct DnatRuleCreate {
    pub nat_gateway_id: String,
    pub floating_ip_id: String,
    pub protocol: String,
    pub internal_port: String,
    pub external_port: String,
    pub port_id: Option<String>,
    pub private_ip: Option<String>,
    pub description: String,
}

/// A port or port range `"a"` / `"a-b"`: (first, last).
pub fn parse_ports(p: &str, what: &str) -> Result<(u32, u32), Error> {
    let bad = || Error::bad_request(format!("Invalid {what} {p:?}: a port 0-65535 or a range like 80-90."));
    let (a, b) = match p.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u32>().map_err(|_| bad())?, b.trim().parse::<u32>().map_err(|_| bad())?),
        None => {
            let a = p.trim().parse::<u32>().map_err(|_| bad())?;
            (a, a)
        }
    };
    if a > 65535 || b > 65535 || a > b || (a == 0 && b != 0) {
        return Err(bad());
    }
    Ok((a, b))
}

impl Control {
    async fn load_nat_gateway(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<NatGateway, Error> {
        let g = repo::get_gateway(c, id).await?.ok_or_else(|| Error::not_found("nat gateway", id))?;
        if !may_read(ctx, &g.project_id) {
            return Err(Error::not_found("nat gateway", id));
        }
        authorize(action, &ctx.principal, &Target { project_id: Some(&g.project_id), ..Default::default() })?;
        Ok(g)
    }

    /// The networks joined to a router (its interfaces' networks).
    async fn router_networks(&self, c: &mut AnyConnection, router_id: &str) -> Result<Vec<String>, Error> {
        Ok(netrepo::device_ports(c, router_id)
            .await?
            .into_iter()
            .filter(|p| p.device_owner == OWNER_ROUTER_INTERFACE)
            .map(|p| p.network_id)
            .collect())
    }

    /// Creates a VPC's NAT gateway on one of its subnets.
    pub async fn create_nat_gateway(&self, ctx: &Ctx, req: NatGatewayCreate) -> Result<NatGateway, Error> {
        if req.name.is_empty() || req.name.chars().count() > 64 {
            return Err(Error::bad_request("Invalid NAT gateway name: 1 to 64 characters."));
        }
        if !NAT_SPECS.contains(&req.spec.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid NAT gateway spec {:?}: one of {}.",
                req.spec,
                NAT_SPECS.join(", ")
            )));
        }
        let project = owner_project(ctx, None)?;
        authorize("network:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        let mut tx = self.store().write().await?;
        let router = self.load_router(&mut tx, ctx, &req.router_id, "network:update").await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found("vpc", &req.router_id),
            other => other,
        })?;
        if router.gateway_network_id.is_none() {
            return Err(Error::bad_request(format!(
                "VPC {} has no gateway to the external network: set one first.",
                router.id
            )));
        }
        if !self.router_networks(&mut tx, &router.id).await?.contains(&req.internal_network_id) {
            return Err(Error::bad_request(format!(
                "Subnet {} is not a subnet of VPC {}.",
                req.internal_network_id, router.id
            )));
        }
        let now = now_ms();
        let g = NatGateway {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            name: req.name,
            description: req.description,
            spec: req.spec,
            router_id: router.id.clone(),
            internal_network_id: req.internal_network_id,
            created_at: now,
            updated_at: now,
        };
        self.charge_quota(&mut tx, &project, "nat_gateway", 1).await?;
        repo::insert_gateway(&mut tx, &g).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!("VPC {} already has a NAT gateway.", router.id)),
            other => other,
        })?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("NAT", "nat_gateway", "createNatGateway", 201)
                .resource(&g.id, &g.name)
                .in_project(&project),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(g)
    }

    /// NAT gateways the caller may see.
    pub async fn list_nat_gateways(&self, ctx: &Ctx) -> Result<Vec<NatGateway>, Error> {
        let mut c = self.store().read().await?;
        Ok(repo::list_gateways(&mut c).await?.into_iter().filter(|g| may_read(ctx, &g.project_id)).collect())
    }

    /// One NAT gateway the caller may see.
    pub async fn get_nat_gateway(&self, ctx: &Ctx, id: &str) -> Result<NatGateway, Error> {
        let mut c = self.store().read().await?;
        self.load_nat_gateway(&mut c, ctx, id, "network:get").await
    }

    /// Renames a NAT gateway, changes its description or its size.
    pub async fn update_nat_gateway(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        spec: Option<String>,
    ) -> Result<NatGateway, Error> {
        let mut tx = self.store().write().await?;
        let mut g = self.load_nat_gateway(&mut tx, ctx, id, "network:update").await?;
        if let Some(n) = name {
            if n.is_empty() || n.chars().count() > 64 {
                return Err(Error::bad_request("Invalid NAT gateway name: 1 to 64 characters."));
            }
            g.name = n;
        }
        if let Some(d) = description {
            g.description = d;
        }
        if let Some(s) = spec {
            if !NAT_SPECS.contains(&s.as_str()) {
                return Err(Error::bad_request(format!(
                    "Invalid NAT gateway spec {s:?}: one of {}.",
                    NAT_SPECS.join(", ")
                )));
            }
            g.spec = s;
        }
        g.updated_at = now_ms();
        repo::update_gateway(&mut tx, &g).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("NAT", "nat_gateway", "updateNatGateway", 200)
                .resource(&g.id, &g.name)
                .in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(g)
    }

    /// Deletes a NAT gateway; refused (409) while it has rules.
    pub async fn delete_nat_gateway(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let g = self.load_nat_gateway(&mut tx, ctx, id, "network:delete").await?;
        let rules = repo::list_snat(&mut tx).await?.iter().filter(|r| r.nat_gateway_id == g.id).count()
            + repo::list_dnat(&mut tx).await?.iter().filter(|r| r.nat_gateway_id == g.id).count();
        if rules > 0 {
            return Err(Error::Conflict(format!("NAT gateway {} still has {rules} rule(s): delete them first.", g.id)));
        }
        repo::delete_gateway(&mut tx, &g.id).await?;
        self.release_quota(&mut tx, &g.project_id, "nat_gateway", 1).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("NAT", "nat_gateway", "deleteNatGateway", 204)
                .resource(&g.id, &g.name)
                .in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// Loads an EIP a NAT rule is to use: the gateway's project's, not bound to a port.
    async fn nat_eip(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        g: &NatGateway,
        id: &str,
    ) -> Result<l3repo::FloatingIp, Error> {
        let f = l3repo::get_floating_ip(&mut *tx, id)
            .await?
            .filter(|f| f.project_id == g.project_id && may_read(ctx, &f.project_id))
            .ok_or_else(|| Error::not_found("publicip", id))?;
        if let Some(p) = &f.port_id {
            return Err(Error::Conflict(format!(
                "EIP {} is bound to port {p}: unbind it before a NAT gateway uses it.",
                f.floating_ip_address
            )));
        }
        Ok(f)
    }

    /// Adds a SNAT rule: a VPC subnet (or a range inside one) leaves as the rule's EIPs.
    pub async fn create_snat_rule(&self, ctx: &Ctx, req: SnatRuleCreate) -> Result<SnatRule, Error> {
        if req.source_type != 0 {
            return Err(Error::bad_request("Only VPC-side SNAT rules (source_type 0) are offered in this region."));
        }
        if req.floating_ip_ids.is_empty() || req.floating_ip_ids.len() > MAX_SNAT_EIPS {
            return Err(Error::bad_request(format!("A SNAT rule uses 1 to {MAX_SNAT_EIPS} EIPs.")));
        }
        let mut tx = self.store().write().await?;
        let g = self.load_nat_gateway(&mut tx, ctx, &req.nat_gateway_id, "network:update").await?;
        let networks = self.router_networks(&mut tx, &g.router_id).await?;
        let rules = repo::list_snat(&mut tx).await?;
        let (network_id, cidr) = match (&req.network_id, &req.cidr) {
            (Some(n), None) => {
                if !networks.contains(n) {
                    return Err(Error::bad_request(format!("Subnet {n} is not a subnet of VPC {}.", g.router_id)));
                }
                if rules.iter().any(|r| r.nat_gateway_id == g.id && r.network_id.as_deref() == Some(n.as_str())) {
                    return Err(Error::Conflict(format!("Subnet {n} already has a SNAT rule on this NAT gateway.")));
                }
                (Some(n.clone()), None)
            }
            (None, Some(c)) => {
                let range: ipnet::Ipv4Net = c
                    .parse()
                    .or_else(|_| c.parse::<std::net::Ipv4Addr>().map(|a| ipnet::Ipv4Net::new(a, 32).expect("/32")))
                    .map_err(|_| Error::bad_request(format!("Invalid SNAT cidr {c:?}.")))?;
                let mut inside = false;
                for n in &networks {
                    for s in netrepo::network_subnets(&mut tx, n).await? {
                        if ipam::parse_cidr(&s.cidr).is_ok_and(|sn| sn.contains(&range)) {
                            inside = true;
                        }
                    }
                }
                if !inside {
                    return Err(Error::bad_request(format!(
                        "SNAT cidr {range} lies in none of the subnets of VPC {}.",
                        g.router_id
                    )));
                }
                (None, Some(range.trunc().to_string()))
            }
            _ => return Err(Error::bad_request("A SNAT rule names either a subnet (network_id) or a cidr.")),
        };
        for id in &req.floating_ip_ids {
            self.nat_eip(&mut tx, ctx, &g, id).await?;
        }
        let r = SnatRule {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: g.project_id.clone(),
            nat_gateway_id: g.id.clone(),
            network_id,
            cidr,
            floating_ip_ids: req.floating_ip_ids.join(","),
            description: req.description,
            created_at: now_ms(),
        };
        repo::insert_snat(&mut tx, &r).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("NAT", "snat_rule", "createSnatRule", 201).resource(&r.id, "").in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(r)
    }

    /// SNAT rules the caller may see.
    pub async fn list_snat_rules(&self, ctx: &Ctx) -> Result<Vec<SnatRule>, Error> {
        let mut c = self.store().read().await?;
        Ok(repo::list_snat(&mut c).await?.into_iter().filter(|r| may_read(ctx, &r.project_id)).collect())
    }

    /// One SNAT rule the caller may see.
    pub async fn get_snat_rule(&self, ctx: &Ctx, id: &str) -> Result<SnatRule, Error> {
        let mut c = self.store().read().await?;
        repo::get_snat(&mut c, id)
            .await?
            .filter(|r| may_read(ctx, &r.project_id))
            .ok_or_else(|| Error::not_found("snat rule", id))
    }

    /// Deletes a SNAT rule of a NAT gateway.
    pub async fn delete_snat_rule(&self, ctx: &Ctx, gateway_id: &str, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let g = self.load_nat_gateway(&mut tx, ctx, gateway_id, "network:update").await?;
        let r = repo::get_snat(&mut tx, id)
            .await?
            .filter(|r| r.nat_gateway_id == g.id)
            .ok_or_else(|| Error::not_found("snat rule", id))?;
        repo::delete_snat(&mut tx, &r.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("NAT", "snat_rule", "deleteSnatRule", 204).resource(&r.id, "").in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// Adds a DNAT rule: an EIP's port (or the whole EIP) to a port or private address of
    /// the VPC.
    pub async fn create_dnat_rule(&self, ctx: &Ctx, req: DnatRuleCreate) -> Result<DnatRule, Error> {
        let protocol = req.protocol.to_ascii_lowercase();
        if !["tcp", "udp", "any"].contains(&protocol.as_str()) {
            return Err(Error::bad_request(format!("Invalid DNAT protocol {:?}: tcp, udp or any.", req.protocol)));
        }
        let (ia, ib) = parse_ports(&req.internal_port, "internal_service_port")?;
        let (ea, eb) = parse_ports(&req.external_port, "external_service_port")?;
        if protocol == "any" {
            if (ia, ib, ea, eb) != (0, 0, 0, 0) {
                return Err(Error::bad_request(
                    "A DNAT rule for any protocol forwards the whole EIP: its ports are 0.",
                ));
            }
        } else {
            if ia == 0 || ea == 0 {
                return Err(Error::bad_request("A tcp or udp DNAT rule forwards ports 1-65535."));
            }
            if ib - ia != eb - ea {
                return Err(Error::bad_request("The internal and external port ranges must be as long as each other."));
            }
            if eb - ea + 1 > MAX_DNAT_RANGE {
                return Err(Error::bad_request(format!(
                    "A DNAT port range is at most {MAX_DNAT_RANGE} ports wide in this region."
                )));
            }
        }
        let mut tx = self.store().write().await?;
        let g = self.load_nat_gateway(&mut tx, ctx, &req.nat_gateway_id, "network:update").await?;
        let eip = self.nat_eip(&mut tx, ctx, &g, &req.floating_ip_id).await?;
        let others: Vec<DnatRule> =
            repo::list_dnat(&mut tx).await?.into_iter().filter(|r| r.floating_ip_id == eip.id).collect();
        if !others.is_empty() && (protocol == "any" || others.iter().any(|r| r.protocol == "any")) {
            return Err(Error::Conflict(format!(
                "EIP {} is already forwarded: a rule for any protocol takes the whole address.",
                eip.floating_ip_address
            )));
        }
        let overlap = others.iter().any(|r| {
            r.protocol == protocol
                && parse_ports(&r.external_port, "external_service_port").is_ok_and(|(a, b)| a <= eb && ea <= b)
        });
        if overlap {
            return Err(Error::Conflict(format!(
                "Port {} of EIP {} is already forwarded over {protocol}.",
                req.external_port, eip.floating_ip_address
            )));
        }
        let networks = self.router_networks(&mut tx, &g.router_id).await?;
        match (&req.port_id, &req.private_ip) {
            (Some(p), None) => {
                let port = netrepo::get_port(&mut tx, p)
                    .await?
                    .filter(|x| x.project_id == g.project_id)
                    .ok_or_else(|| Error::not_found("port", p))?;
                if !networks.contains(&port.network_id) || netrepo::port_fixed_ips(&mut tx, p).await?.is_empty() {
                    return Err(Error::bad_request(format!("Port {p} has no address in VPC {}.", g.router_id)));
                }
            }
            (None, Some(ip)) => {
                let addr = ipam::parse_ip(ip)?;
                let mut inside = false;
                for n in &networks {
                    for s in netrepo::network_subnets(&mut tx, n).await? {
                        if ipam::parse_cidr(&s.cidr).is_ok_and(|sn| ipam::is_host(&sn, addr)) {
                            inside = true;
                        }
                    }
                }
                if !inside {
                    return Err(Error::bad_request(format!("{ip} is no address of VPC {}.", g.router_id)));
                }
            }
            _ => return Err(Error::bad_request("A DNAT rule names either a port (port_id) or a private_ip.")),
        }
        let r = DnatRule {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: g.project_id.clone(),
            nat_gateway_id: g.id.clone(),
            floating_ip_id: eip.id.clone(),
            protocol,
            internal_port: req.internal_port.trim().to_string(),
            external_port: req.external_port.trim().to_string(),
            port_id: req.port_id,
            private_ip: req.private_ip,
            description: req.description,
            created_at: now_ms(),
        };
        repo::insert_dnat(&mut tx, &r).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("NAT", "dnat_rule", "createDnatRule", 201).resource(&r.id, "").in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(r)
    }

    /// DNAT rules the caller may see.
    pub async fn list_dnat_rules(&self, ctx: &Ctx) -> Result<Vec<DnatRule>, Error> {
        let mut c = self.store().read().await?;
        Ok(repo::list_dnat(&mut c).await?.into_iter().filter(|r| may_read(ctx, &r.project_id)).collect())
    }

    /// One DNAT rule the caller may see.
    pub async fn get_dnat_rule(&self, ctx: &Ctx, id: &str) -> Result<DnatRule, Error> {
        let mut c = self.store().read().await?;
        repo::get_dnat(&mut c, id)
            .await?
            .filter(|r| may_read(ctx, &r.project_id))
            .ok_or_else(|| Error::not_found("dnat rule", id))
    }

    /// Deletes a DNAT rule of a NAT gateway.
    pub async fn delete_dnat_rule(&self, ctx: &Ctx, gateway_id: &str, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let g = self.load_nat_gateway(&mut tx, ctx, gateway_id, "network:update").await?;
        let r = repo::get_dnat(&mut tx, id)
            .await?
            .filter(|r| r.nat_gateway_id == g.id)
            .ok_or_else(|| Error::not_found("dnat rule", id))?;
        repo::delete_dnat(&mut tx, &r.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("NAT", "dnat_rule", "deleteDnatRule", 204).resource(&r.id, "").in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// Whether a NAT rule uses an EIP (it can then be neither bound nor released).
    pub(super) async fn nat_uses_eip(&self, c: &mut AnyConnection, fip_id: &str) -> Result<bool, Error> {
        let snat = repo::list_snat(&mut *c).await?.iter().any(|r| r.eips().contains(&fip_id));
        Ok(snat || repo::list_dnat(&mut *c).await?.iter().any(|r| r.floating_ip_id == fip_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_ranges() {
        assert_eq!(parse_ports("80", "p").unwrap(), (80, 80));
        assert_eq!(parse_ports("80-90", "p").unwrap(), (80, 90));
        assert_eq!(parse_ports("0", "p").unwrap(), (0, 0));
        assert!(parse_ports("90-80", "p").is_err());
        assert!(parse_ports("70000", "p").is_err());
        assert!(parse_ports("0-10", "p").is_err());
        assert!(parse_ports("http", "p").is_err());
    }
}
