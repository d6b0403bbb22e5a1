//! Networks: create, list, show, update, delete. Shared and external networks are the
//! operators'; a network is deleted with its subnets once no port but the platform's own
//! is left on it.

use super::{may_read, owner_project, PROJECT_MTU};
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::network::{self as repo, Network};

/// What a network create asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub description: String,
    pub admin_state_up: Option<bool>,
    pub shared: bool,
    pub router_external: bool,
    pub mtu: Option<i64>,
    pub port_security_enabled: Option<bool>,
    /// Another project (operators only).
    pub project_id: Option<String>,
}

/// What a network update changes.
#[derive(Debug, Clone, Default)]
pub struct NetworkUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: Option<bool>,
    pub shared: Option<bool>,
    pub router_external: Option<bool>,
    pub mtu: Option<i64>,
    pub port_security_enabled: Option<bool>,
}

pub(super) fn check_name(name: &str) -> Result<(), Error> {
    if name.len() > 255 {
        return Err(Error::bad_request("Invalid input for name: names are at most 255 characters."));
    }
    Ok(())
}

fn check_mtu(mtu: i64) -> Result<(), Error> {
    if !(68..=PROJECT_MTU).contains(&mtu) {
        return Err(Error::bad_request(format!(
            "Invalid input for mtu: {mtu} is outside 68-{PROJECT_MTU}, the largest this region carries."
        )));
    }
    Ok(())
}

impl Control {
    /// Creates a network, charging the project's `network` quota.
    pub async fn create_network(&self, ctx: &Ctx, req: NetworkCreate) -> Result<Network, Error> {
        check_name(&req.name)?;
        let project = owner_project(ctx, req.project_id.as_deref())?;
        authorize("network:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        if req.shared || req.router_external {
            authorize("network:manage", &ctx.principal, &Target::default())?;
        }
        if let Some(m) = req.mtu {
            check_mtu(m)?;
        }
        let mut tx = self.store().write().await?;
        self.charge_quota(&mut tx, &project, "network", 1).await?;
        let now = now_ms();
        let n = Network {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            name: req.name,
            description: req.description,
            admin_state_up: req.admin_state_up.unwrap_or(true),
            shared: req.shared,
            router_external: req.router_external,
            mtu: req.mtu.unwrap_or(PROJECT_MTU),
            port_security_enabled: req.port_security_enabled.unwrap_or(true),
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        repo::insert_network(&mut tx, &n).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "network", "createNetwork", 201).resource(&n.id, &n.name).in_project(&project),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(n)
    }

    /// Networks the caller may see: its project's, shared and external ones (every one for
    /// readers of every project).
    pub async fn list_networks(&self, ctx: &Ctx) -> Result<Vec<Network>, Error> {
        let mut c = self.store().read().await?;
        let all = repo::list_networks(&mut c).await?;
        Ok(all.into_iter().filter(|n| n.shared || n.router_external || may_read(ctx, &n.project_id)).collect())
    }

    /// One network the caller may see.
    pub async fn get_network(&self, ctx: &Ctx, id: &str) -> Result<Network, Error> {
        let mut c = self.store().read().await?;
        self.load_network(&mut c, ctx, id, "network:get").await
    }

    /// Changes a network; sharing and the external flag are the operators'.
    pub async fn update_network(&self, ctx: &Ctx, id: &str, u: NetworkUpdate) -> Result<Network, Error> {
        let mut tx = self.store().write().await?;
        let mut n = self.load_network(&mut tx, ctx, id, "network:update").await?;
        if u.shared.is_some_and(|s| s != n.shared) || u.router_external.is_some_and(|e| e != n.router_external) {
            authorize("network:manage", &ctx.principal, &Target::default())?;
        }
        if u.shared == Some(false) && n.shared {
            // Unsharing is refused while other projects have ports on it.
            let foreign = repo::network_ports(&mut tx, &n.id).await?.iter().any(|p| p.project_id != n.project_id);
            if foreign {
                return Err(Error::Conflict(format!(
                    "Unable to reconfigure sharing settings for network {}. Multiple tenants are using it.",
                    n.id
                )));
            }
        }
        if let Some(name) = u.name {
            check_name(&name)?;
            n.name = name;
        }
        if let Some(d) = u.description {
            n.description = d;
        }
        if let Some(a) = u.admin_state_up {
            n.admin_state_up = a;
        }
        if let Some(s) = u.shared {
            n.shared = s;
        }
        if let Some(e) = u.router_external {
            n.router_external = e;
        }
        if let Some(m) = u.mtu {
            check_mtu(m)?;
            n.mtu = m;
        }
        if let Some(p) = u.port_security_enabled {
            n.port_security_enabled = p;
        }
        n.updated_at = now_ms();
        repo::update_network(&mut tx, &n).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "network", "updateNetwork", 200).resource(&n.id, &n.name).in_project(&n.project_id),
        )
        .await?;
        let n = repo::get_network(&mut tx, &n.id).await?.ok_or_else(|| Error::not_found("network", id))?;
        tx.commit().await?;
        self.wake_network();
        Ok(n)
    }

    /// Deletes a network with its subnets; refused (409) while ports are on it.
    pub async fn delete_network(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let n = self.load_network(&mut tx, ctx, id, "network:delete").await?;
        // The floating IPs of an external network go with it (as in Neutron); any other
        // port keeps it.
        let ports = repo::network_ports(&mut tx, &n.id).await?;
        let (fip_ports, others): (Vec<_>, Vec<_>) =
            ports.into_iter().partition(|p| p.device_owner == super::ports::OWNER_FLOATING_IP);
        if others.is_empty() {
            for p in fip_ports {
                self.delete_floating_ip_in(&mut tx, ctx, &p.device_id).await?;
            }
        }
        if !repo::network_ports(&mut tx, &n.id).await?.is_empty() {
            return Err(Error::Conflict(format!(
                "Unable to complete operation on network {}. There are one or more ports still in use on the network.",
                n.id
            )));
        }
        for s in repo::network_subnets(&mut tx, &n.id).await? {
            nimbus_store::tags::clear(&mut tx, "subnets", &s.id).await?;
            repo::delete_subnet(&mut tx, &s.id).await?;
            self.release_quota(&mut tx, &s.project_id, "subnet", 1).await?;
        }
        nimbus_store::tags::clear(&mut tx, "networks", &n.id).await?;
        repo::delete_network(&mut tx, &n.id).await?;
        self.release_quota(&mut tx, &n.project_id, "network", 1).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "network", "deleteNetwork", 204).resource(&n.id, &n.name).in_project(&n.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }
}

impl Control {
    /// Makes the region's external network if it is missing (at start): the admin
    /// project's, external and shared, with one subnet over the configured range (no DHCP:
    /// its addresses are given to router gateways and floating IPs). Returns its id.
    pub async fn ensure_external_network(&self) -> Result<String, Error> {
        let cfg = self.config().clone();
        let mut tx = self.store().write().await?;
        if let Some(n) = repo::list_networks(&mut tx)
            .await?
            .into_iter()
            .find(|n| n.router_external && n.name == cfg.external_network_name)
        {
            return Ok(n.id);
        }
        let admin = nimbus_store::identity::get_project_by_name(&mut tx, crate::identity::DEFAULT_DOMAIN_ID, "admin")
            .await?
            .ok_or_else(|| Error::Internal("the admin project is missing".into()))?;
        let range = super::ipam::parse_cidr(&cfg.external_network_cidr)?;
        let now = now_ms();
        let n = Network {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: admin.id.clone(),
            name: cfg.external_network_name.clone(),
            description: "The region's external network: EIPs and router gateways.".into(),
            admin_state_up: true,
            shared: true,
            router_external: true,
            mtu: PROJECT_MTU,
            port_security_enabled: false,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        repo::insert_network(&mut tx, &n).await?;
        let gateway = super::ipam::default_gateway(&range);
        let s = nimbus_store::network::Subnet {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: admin.id.clone(),
            network_id: n.id.clone(),
            name: format!("{}_subnet", cfg.external_network_name),
            description: String::new(),
            ip_version: 4,
            cidr: range.to_string(),
            gateway_ip: Some(gateway.to_string()),
            enable_dhcp: false,
            dns_nameservers: "[]".into(),
            host_routes: "[]".into(),
            allocation_pools: serde_json::to_string(&super::ipam::default_pools(&range, Some(gateway)))?,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        repo::insert_subnet(&mut tx, &s).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(n.id)
    }
}
