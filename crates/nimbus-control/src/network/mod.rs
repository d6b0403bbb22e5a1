//! Virtual networking (VPC, seed 6.3.1 and 6.3.4; Neutron v2.0): networks, IPv4 subnets with
//! their address management, ports, and security groups with their rules, for every front
//! end.
//!
//! Rows are the desired state. Each call checks the caller's rights first (another
//! project's resource is a 404, shared and external networks are readable by all), then the
//! request against Neutron's rules and the seed's (private address ranges only), then the
//! quotas, in the transaction that records the change and its audit trace.

mod firewall;
mod floating_ips;
mod ipam;
mod nat;
mod networks;
pub mod plane;
mod ports;
mod routers;
mod security_groups;
mod subnets;
mod tags;
mod vpcs;

pub use floating_ips::{BandwidthRequest, FloatingIpCreate, FloatingIpUpdate, FloatingIpView, BANDWIDTH_RANGE};
pub use ipam::HostRoute;
pub use nat::{parse_ports, DnatRuleCreate, NatGatewayCreate, SnatRuleCreate, MAX_DNAT_RANGE, NAT_SPECS};
pub use networks::{NetworkCreate, NetworkUpdate};
pub use ports::{
    FixedIpRequest, NicRequest, PortCreate, PortUpdate, PortView, ServerNic, OWNER_FLOATING_IP, OWNER_ROUTER_GATEWAY,
    OWNER_ROUTER_INTERFACE,
};
pub use routers::{GatewayRequest, InterfaceInfo, InterfaceTarget, RouterCreate, RouterUpdate, RouterView};
pub use security_groups::{RuleCreate, SecurityGroupView};
pub use subnets::{Gateway, SubnetCreate, SubnetUpdate};
pub use tags::{TagChange, TAGGED_COLLECTIONS};
pub use vpcs::{VpcCreate, VpcSubnetCreate, VpcSubnetUpdate, VpcSubnetView};

use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::Error;
use nimbus_store::network::{self as repo, Network};
use sqlx::AnyConnection;

/// The MTU of project networks (VXLAN over a 1500-byte underlay, as Neutron's default).
pub const PROJECT_MTU: i64 = 1450;

/// The project a new resource belongs to: the caller's, or (operators only) the one named.
pub(crate) fn owner_project(ctx: &Ctx, asked: Option<&str>) -> Result<String, Error> {
    let own = ctx.principal.project_id().map(str::to_string);
    match asked.filter(|a| !a.is_empty()) {
        Some(p) if own.as_deref() == Some(p) => Ok(p.to_string()),
        Some(p) => {
            authorize("network:manage", &ctx.principal, &Target::default())?;
            Ok(p.to_string())
        }
        None => own.ok_or_else(|| Error::Forbidden("Networking belongs to projects: scope the request to one.".into())),
    }
}

/// Whether the caller may read a project's networking resources.
pub(crate) fn may_read(ctx: &Ctx, project_id: &str) -> bool {
    crate::authz::allowed("network:get", &ctx.principal, &Target { project_id: Some(project_id), ..Default::default() })
}

impl Control {
    /// Loads a network the caller may see: its own project's, a shared one or the external
    /// one (404 otherwise); `action` must be allowed on its project unless only reading.
    pub(crate) async fn load_network(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Network, Error> {
        let n = repo::get_network(c, id).await?.ok_or_else(|| Error::not_found("network", id))?;
        let readable = n.shared || n.router_external || may_read(ctx, &n.project_id);
        if !readable {
            return Err(Error::not_found("network", id));
        }
        if action != "network:get" {
            // Visible (shared, external, or its own project's): a change it may not make is a 403.
            authorize(action, &ctx.principal, &Target { project_id: Some(&n.project_id), ..Default::default() })?;
        }
        Ok(n)
    }
}
