//! Ports: a network attachment with a MAC address unique in the region and fixed IPs
//! allocated race-free (asked for, or the lowest free address of a subnet's pools), in
//! security groups (the project's `default` one unless others are named). A port with
//! security groups needs port security.

use super::ipam;
use super::networks::check_name;
use super::subnets::pools_of;
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::network::{self as repo, FixedIp, Network, Port};
use rand::Rng;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

/// The device owner of a router's interface port.
pub const OWNER_ROUTER_INTERFACE: &str = "network:router_interface";
/// The device owner of a router's gateway port (on the external network).
pub const OWNER_ROUTER_GATEWAY: &str = "network:router_gateway";
/// The device owner of the port holding a floating IP's address.
pub const OWNER_FLOATING_IP: &str = "network:floatingip";

/// A fixed IP as asked: a subnet, an address, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixedIpRequest {
    pub subnet_id: Option<String>,
    pub ip_address: Option<String>,
}

/// What a port create asks for.
#[derive(Debug, Clone, Default)]
pub struct PortCreate {
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: Option<bool>,
    pub mac_address: Option<String>,
    /// `None`: one address from the network's first subnet with room.
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    pub device_id: String,
    pub device_owner: String,
    /// `None`: the project's default group.
    pub security_groups: Option<Vec<String>>,
    pub port_security_enabled: Option<bool>,
    pub allowed_address_pairs: Vec<(String, Option<String>)>,
    pub project_id: Option<String>,
}

/// What a port update changes.
#[derive(Debug, Clone, Default)]
pub struct PortUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: Option<bool>,
    pub mac_address: Option<String>,
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    pub device_id: Option<String>,
    pub device_owner: Option<String>,
    pub security_groups: Option<Vec<String>>,
    pub port_security_enabled: Option<bool>,
    pub allowed_address_pairs: Option<Vec<(String, Option<String>)>>,
}

/// A port with its fixed IPs and security groups.
#[derive(Debug, Clone)]
pub struct PortView {
    pub port: Port,
    pub fixed_ips: Vec<FixedIp>,
    pub security_groups: Vec<String>,
}

fn random_mac() -> String {
    let mut r = rand::thread_rng();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", r.gen::<u8>(), r.gen::<u8>(), r.gen::<u8>())
}

fn check_mac(mac: &str) -> Result<String, Error> {
    let parts: Vec<&str> = mac.split(':').collect();
    let ok = parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok());
    let first = parts.first().and_then(|p| u8::from_str_radix(p, 16).ok()).unwrap_or(1);
    if !ok || first & 1 == 1 || mac.eq_ignore_ascii_case("00:00:00:00:00:00") {
        return Err(Error::bad_request(format!("Invalid input for mac_address: '{mac}' is not a valid unicast MAC.")));
    }
    Ok(mac.to_ascii_lowercase())
}

fn pairs_json(pairs: &[(String, Option<String>)], mac: &str) -> Result<String, Error> {
    let mut out = Vec::new();
    for (ip, pair_mac) in pairs {
        // An address or a network, as Neutron takes them.
        if ip.parse::<Ipv4Addr>().is_err() && ip.parse::<ipnet::Ipv4Net>().is_err() {
            return Err(Error::bad_request(format!(
                "Invalid input for allowed_address_pairs: '{ip}' is not an IPv4 address."
            )));
        }
        let m = match pair_mac {
            Some(m) => check_mac(m)?,
            None => mac.to_string(),
        };
        out.push(serde_json::json!({"ip_address": ip, "mac_address": m}));
    }
    Ok(serde_json::to_string(&out)?)
}

impl Control {
    /// The project's `default` security group, made (with Neutron's default rules) the
    /// first time it is needed.
    pub(crate) async fn default_security_group_id(
        &self,
        tx: &mut AnyConnection,
        project: &str,
    ) -> Result<String, Error> {
        if let Some(g) = repo::default_security_group(tx, project).await? {
            return Ok(g.id);
        }
        self.make_default_security_group(tx, project).await
    }

    /// Checks the groups a port is to be in: the port's project's (or visible to the caller).
    async fn check_groups(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        project: &str,
        groups: &[String],
    ) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for g in groups {
            let sg = repo::get_security_group(tx, g)
                .await?
                .filter(|sg| sg.project_id == project || super::may_read(ctx, &sg.project_id));
            let sg = sg.ok_or_else(|| Error::not_found("security group", g))?;
            if !out.contains(&sg.id) {
                out.push(sg.id);
            }
        }
        Ok(out)
    }

    /// Gives a port its fixed IPs: those asked for (each checked against its subnet, a
    /// taken address is a 409), or one from the first subnet with room.
    pub(super) async fn allocate_fixed_ips(
        &self,
        tx: &mut AnyConnection,
        network: &Network,
        port_id: &str,
        asked: Option<&[FixedIpRequest]>,
        allow_gateway: bool,
    ) -> Result<(), Error> {
        let subnets = repo::network_subnets(tx, &network.id).await?;
        let by_id: HashMap<&str, &nimbus_store::network::Subnet> = subnets.iter().map(|s| (s.id.as_str(), s)).collect();
        let requests: Vec<FixedIpRequest> = match asked {
            Some(a) => a.to_vec(),
            None => match subnets.first() {
                // One address from the first subnet that has room (tried in order below).
                Some(_) => vec![FixedIpRequest::default()],
                None => Vec::new(),
            },
        };
        for req in requests {
            match (&req.subnet_id, &req.ip_address) {
                (Some(sid), Some(ip)) => {
                    let s = by_id.get(sid.as_str()).ok_or_else(|| {
                        Error::bad_request(format!(
                            "Invalid input for fixed_ips: subnet {sid} is not on network {}.",
                            network.id
                        ))
                    })?;
                    self.take_ip(tx, s, port_id, ipam::parse_ip(ip)?, allow_gateway).await?;
                }
                (None, Some(ip)) => {
                    let addr = ipam::parse_ip(ip)?;
                    let s = subnets
                        .iter()
                        .find(|s| ipam::parse_cidr(&s.cidr).is_ok_and(|n| n.contains(&addr)))
                        .ok_or_else(|| {
                            Error::bad_request(format!(
                                "Invalid input for fixed_ips: IP address {ip} is not a valid IP for any subnet on network {}.",
                                network.id
                            ))
                        })?;
                    self.take_ip(tx, s, port_id, addr, allow_gateway).await?;
                }
                (Some(sid), None) => {
                    let s = by_id.get(sid.as_str()).ok_or_else(|| {
                        Error::bad_request(format!(
                            "Invalid input for fixed_ips: subnet {sid} is not on network {}.",
                            network.id
                        ))
                    })?;
                    self.take_free_ip(tx, s, port_id).await?;
                }
                (None, None) => {
                    let mut done = false;
                    for s in &subnets {
                        match self.take_free_ip(tx, s, port_id).await {
                            Ok(()) => {
                                done = true;
                                break;
                            }
                            Err(Error::Conflict(_)) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    if !done {
                        return Err(Error::Conflict(format!(
                            "No more IP addresses available on network {}.",
                            network.id
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Records `ip` for the port: a host of the subnet, not taken, not its gateway unless
    /// `allow_gateway` (a router's interface holds it).
    async fn take_ip(
        &self,
        tx: &mut AnyConnection,
        s: &nimbus_store::network::Subnet,
        port_id: &str,
        ip: Ipv4Addr,
        allow_gateway: bool,
    ) -> Result<(), Error> {
        let net = ipam::parse_cidr(&s.cidr)?;
        if !ipam::is_host(&net, ip) {
            return Err(Error::bad_request(format!(
                "Invalid input for operation: IP address {ip} is not a valid IP for the specified subnet."
            )));
        }
        if !allow_gateway && s.gateway_ip.as_deref() == Some(ip.to_string().as_str()) {
            return Err(Error::Conflict(format!(
                "IP address {ip} is the gateway of subnet {}: it cannot be allocated.",
                s.id
            )));
        }
        let used = repo::subnet_used_ips(tx, &s.id).await?;
        if used.iter().any(|f| f.ip_address == ip.to_string()) {
            return Err(Error::Conflict(format!("IP address {ip} already allocated in subnet {}", s.id)));
        }
        repo::insert_fixed_ip(
            tx,
            &FixedIp { port_id: port_id.into(), subnet_id: s.id.clone(), ip_address: ip.to_string() },
        )
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!("IP address {ip} already allocated in subnet {}", s.id)),
            other => other,
        })
    }

    /// Records the lowest free address of the subnet's pools for the port.
    async fn take_free_ip(
        &self,
        tx: &mut AnyConnection,
        s: &nimbus_store::network::Subnet,
        port_id: &str,
    ) -> Result<(), Error> {
        let used: HashSet<Ipv4Addr> =
            repo::subnet_used_ips(tx, &s.id).await?.iter().filter_map(|f| f.ip_address.parse().ok()).collect();
        let ip = ipam::first_free(&pools_of(s), &used, &HashSet::new())
            .ok_or_else(|| Error::Conflict(format!("No more IP addresses available on subnet {}.", s.id)))?;
        repo::insert_fixed_ip(
            tx,
            &FixedIp { port_id: port_id.into(), subnet_id: s.id.clone(), ip_address: ip.to_string() },
        )
        .await
    }

    /// Creates a port on a network the caller may use (its own, or a shared one).
    pub async fn create_port(&self, ctx: &Ctx, req: PortCreate) -> Result<PortView, Error> {
        let mut tx = self.store().write().await?;
        let view = self.create_port_in(&mut tx, ctx, req, false).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// [`create_port`](Self::create_port) in the caller's transaction (a server's NIC,
    /// `for_device`: deleted with the server); the caller commits and wakes the network.
    pub(crate) async fn create_port_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        req: PortCreate,
        for_device: bool,
    ) -> Result<PortView, Error> {
        check_name(&req.name)?;
        let network = self.load_network(&mut *tx, ctx, &req.network_id, "network:get").await?;
        let project = super::owner_project(ctx, req.project_id.as_deref())?;
        authorize("network:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        if network.project_id != project && !network.shared {
            // Another project's network (an external one too) takes no ports of this one.
            authorize("network:manage", &ctx.principal, &Target::default())?;
        }
        let port_security = req.port_security_enabled.unwrap_or(network.port_security_enabled);
        let groups = match &req.security_groups {
            Some(g) => self.check_groups(&mut *tx, ctx, &project, g).await?,
            None if port_security && !req.device_owner.starts_with("network:") => {
                vec![self.default_security_group_id(&mut *tx, &project).await?]
            }
            None => Vec::new(),
        };
        if !port_security && !groups.is_empty() {
            return Err(Error::bad_request(
                "Port has security group associated. Cannot disable port security or ip address until security group \
                 is removed.",
            ));
        }
        if !port_security && !req.allowed_address_pairs.is_empty() {
            return Err(Error::Conflict(
                "Port Security must be enabled in order to have allowed address pairs on a port.".into(),
            ));
        }
        let mac = match &req.mac_address {
            Some(m) => check_mac(m)?,
            None => random_mac(),
        };
        self.charge_quota(&mut *tx, &project, "port", 1).await?;
        let now = now_ms();
        let p = Port {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            network_id: network.id.clone(),
            name: req.name,
            description: req.description,
            mac_address: mac.clone(),
            admin_state_up: req.admin_state_up.unwrap_or(true),
            status: "DOWN".into(),
            device_id: req.device_id,
            device_owner: req.device_owner,
            port_security_enabled: port_security,
            allowed_address_pairs: pairs_json(&req.allowed_address_pairs, &mac)?,
            created_at: now,
            updated_at: now,
            revision_number: 1,
            delete_with_device: for_device,
        };
        repo::insert_port(&mut *tx, &p).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!(
                "Unable to complete operation for network {}. The mac address {mac} is in use.",
                network.id
            )),
            other => other,
        })?;
        self.allocate_fixed_ips(&mut *tx, &network, &p.id, req.fixed_ips.as_deref(), false).await?;
        repo::set_port_security_groups(&mut *tx, &p.id, &groups).await?;
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("VPC", "port", "createPort", 201).resource(&p.id, &p.name).in_project(&project),
        )
        .await?;
        self.port_view(&mut *tx, p).await
    }

    /// Makes a port the platform owns for a router (its gateway or an interface) or a
    /// floating IP: no security groups, `project` empty for ports no tenant sees (gateways,
    /// floating IPs; Neutron's convention), the port quota charged otherwise.
    pub(super) async fn insert_l3_port(
        &self,
        tx: &mut AnyConnection,
        network: &Network,
        project: &str,
        device_owner: &str,
        device_id: &str,
        fixed_ips: Option<&[FixedIpRequest]>,
    ) -> Result<PortView, Error> {
        if !project.is_empty() {
            self.charge_quota(&mut *tx, project, "port", 1).await?;
        }
        let now = now_ms();
        let p = Port {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.to_string(),
            network_id: network.id.clone(),
            name: String::new(),
            description: String::new(),
            mac_address: random_mac(),
            admin_state_up: true,
            status: if device_owner == OWNER_FLOATING_IP { "N/A".into() } else { "ACTIVE".into() },
            device_id: device_id.to_string(),
            device_owner: device_owner.to_string(),
            port_security_enabled: false,
            allowed_address_pairs: "[]".into(),
            created_at: now,
            updated_at: now,
            revision_number: 1,
            delete_with_device: true,
        };
        repo::insert_port(&mut *tx, &p).await?;
        self.allocate_fixed_ips(&mut *tx, network, &p.id, fixed_ips, device_owner == OWNER_ROUTER_INTERFACE).await?;
        self.port_view(&mut *tx, p).await
    }

    /// Deletes a port the platform made for a router or a floating IP (releasing its
    /// quota when a project was charged).
    pub(super) async fn remove_l3_port(&self, tx: &mut AnyConnection, port_id: &str) -> Result<(), Error> {
        if let Some(p) = repo::get_port(&mut *tx, port_id).await? {
            nimbus_store::tags::clear(&mut *tx, "ports", &p.id).await?;
            repo::delete_port(&mut *tx, &p.id).await?;
            if !p.project_id.is_empty() {
                self.release_quota(&mut *tx, &p.project_id, "port", 1).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn port_view(&self, c: &mut AnyConnection, port: Port) -> Result<PortView, Error> {
        let fixed_ips = repo::port_fixed_ips(c, &port.id).await?;
        let security_groups = repo::port_security_groups(c, &port.id).await?;
        Ok(PortView { port, fixed_ips, security_groups })
    }

    /// Ports the caller may see: its project's (every one for readers of all projects).
    pub async fn list_ports(&self, ctx: &Ctx) -> Result<Vec<PortView>, Error> {
        let mut c = self.store().read().await?;
        let ports: Vec<Port> =
            repo::list_ports(&mut c).await?.into_iter().filter(|p| super::may_read(ctx, &p.project_id)).collect();
        let mut ips: HashMap<String, Vec<FixedIp>> = HashMap::new();
        for f in repo::all_fixed_ips(&mut c).await? {
            ips.entry(f.port_id.clone()).or_default().push(f);
        }
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        for (p, g) in repo::all_port_security_groups(&mut c).await? {
            groups.entry(p).or_default().push(g);
        }
        Ok(ports
            .into_iter()
            .map(|p| PortView {
                fixed_ips: ips.remove(&p.id).unwrap_or_default(),
                security_groups: groups.remove(&p.id).unwrap_or_default(),
                port: p,
            })
            .collect())
    }

    pub(super) async fn load_port(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Port, Error> {
        let p = repo::get_port(c, id).await?.ok_or_else(|| Error::not_found("port", id))?;
        if !super::may_read(ctx, &p.project_id) {
            return Err(Error::not_found("port", id));
        }
        authorize(action, &ctx.principal, &Target { project_id: Some(&p.project_id), ..Default::default() })?;
        Ok(p)
    }

    /// One port the caller may see.
    pub async fn get_port(&self, ctx: &Ctx, id: &str) -> Result<PortView, Error> {
        let mut c = self.store().read().await?;
        let p = self.load_port(&mut c, ctx, id, "network:get").await?;
        self.port_view(&mut c, p).await
    }

    /// Changes a port: names, state, device, fixed IPs (re-allocated), groups, port security
    /// and allowed address pairs; the MAC only while no device uses it.
    pub async fn update_port(&self, ctx: &Ctx, id: &str, u: PortUpdate) -> Result<PortView, Error> {
        let mut tx = self.store().write().await?;
        let mut p = self.load_port(&mut tx, ctx, id, "network:update").await?;
        if let Some(n) = u.name {
            check_name(&n)?;
            p.name = n;
        }
        if let Some(d) = u.description {
            p.description = d;
        }
        if let Some(a) = u.admin_state_up {
            p.admin_state_up = a;
        }
        if let Some(d) = u.device_id {
            p.device_id = d;
        }
        if let Some(d) = u.device_owner {
            p.device_owner = d;
        }
        if let Some(m) = u.mac_address {
            let m = check_mac(&m)?;
            if m != p.mac_address && !p.device_id.is_empty() {
                return Err(Error::Conflict(format!("Port {} is in use: its MAC address cannot change.", p.id)));
            }
            p.mac_address = m;
        }
        if let Some(ps) = u.port_security_enabled {
            p.port_security_enabled = ps;
        }
        let groups = match &u.security_groups {
            Some(g) => self.check_groups(&mut tx, ctx, &p.project_id, g).await?,
            None => repo::port_security_groups(&mut tx, &p.id).await?,
        };
        if !p.port_security_enabled && !groups.is_empty() {
            return Err(Error::Conflict(
                "Port has security group associated. Cannot disable port security or ip address until security group \
                 is removed."
                    .into(),
            ));
        }
        if let Some(pairs) = &u.allowed_address_pairs {
            if !p.port_security_enabled && !pairs.is_empty() {
                return Err(Error::Conflict(
                    "Port Security must be enabled in order to have allowed address pairs on a port.".into(),
                ));
            }
            p.allowed_address_pairs = pairs_json(pairs, &p.mac_address)?;
        }
        if let Some(fixed) = &u.fixed_ips {
            let network = repo::get_network(&mut tx, &p.network_id)
                .await?
                .ok_or_else(|| Error::not_found("network", &p.network_id))?;
            // An entry naming only a subnet the port already has an address in keeps that
            // address; the addresses not asked for again are freed.
            let held = repo::port_fixed_ips(&mut tx, &p.id).await?;
            let wanted: Vec<FixedIpRequest> = fixed
                .iter()
                .map(|f| match (&f.subnet_id, &f.ip_address) {
                    (Some(sid), None) => match held.iter().find(|h| &h.subnet_id == sid) {
                        Some(h) => {
                            FixedIpRequest { subnet_id: Some(sid.clone()), ip_address: Some(h.ip_address.clone()) }
                        }
                        None => f.clone(),
                    },
                    _ => f.clone(),
                })
                .collect();
            repo::delete_fixed_ips(&mut tx, &p.id).await?;
            let router_port = p.device_owner == OWNER_ROUTER_INTERFACE;
            self.allocate_fixed_ips(&mut tx, &network, &p.id, Some(&wanted), router_port).await?;
        }
        repo::set_port_security_groups(&mut tx, &p.id, &groups).await?;
        p.updated_at = now_ms();
        repo::update_port(&mut tx, &p).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!("The mac address {} is in use.", p.mac_address)),
            other => other,
        })?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "port", "updatePort", 200).resource(&p.id, &p.name).in_project(&p.project_id),
        )
        .await?;
        let p = repo::get_port(&mut tx, &p.id).await?.ok_or_else(|| Error::not_found("port", id))?;
        let view = self.port_view(&mut tx, p).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// Deletes a port, freeing its addresses.
    pub async fn delete_port(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let p = self.load_port(&mut tx, ctx, id, "network:delete").await?;
        if [OWNER_ROUTER_INTERFACE, OWNER_ROUTER_GATEWAY, OWNER_FLOATING_IP].contains(&p.device_owner.as_str()) {
            return Err(Error::Conflict(format!(
                "Port {} cannot be deleted directly via the port API: has device owner {}.",
                p.id, p.device_owner
            )));
        }
        self.unbind_floating_ips(&mut tx, &p.id).await?;
        nimbus_store::tags::clear(&mut tx, "ports", &p.id).await?;
        repo::delete_port(&mut tx, &p.id).await?;
        self.release_quota(&mut tx, &p.project_id, "port", 1).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "port", "deletePort", 204).resource(&p.id, &p.name).in_project(&p.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }
}

/// A NIC asked for with a server: a network (optionally one of its addresses) or a port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicRequest {
    pub network_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
}

/// What a NIC needs of its server.
#[derive(Debug, Clone)]
pub struct ServerNic<'a> {
    pub id: &'a str,
    pub project_id: &'a str,
    pub availability_zone: &'a str,
    pub mac: &'a str,
}

impl Control {
    /// A project's security group by id or (unique) name; `default` is made if missing.
    async fn project_group(&self, tx: &mut AnyConnection, project: &str, g: &str) -> Result<String, Error> {
        if let Some(sg) = repo::get_security_group(tx, g).await?.filter(|sg| sg.project_id == project) {
            return Ok(sg.id);
        }
        if g == "default" {
            return self.default_security_group_id(tx, project).await;
        }
        let named: Vec<String> = repo::list_security_groups(tx)
            .await?
            .into_iter()
            .filter(|sg| sg.project_id == project && sg.name == g)
            .map(|sg| sg.id)
            .collect();
        match named.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::bad_request(format!("Security group {g} not found for project {project}."))),
            _ => Err(Error::Conflict(format!("Multiple security groups named {g}: use its id."))),
        }
    }

    /// Gives a new server its NICs, in order, in the server's transaction: a port made on
    /// each network asked for (the first with the server's MAC; in `security_groups`, names
    /// or ids, or the project's default group), or a free port of the project handed over.
    /// Ports made here go with the server; ports handed over are unbound when it goes.
    pub(crate) async fn bind_server_ports(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        server: &ServerNic<'_>,
        requests: &[NicRequest],
        security_groups: &[String],
    ) -> Result<(), Error> {
        if requests.len() > nimbus_drivers::hypervisor::MAX_NICS {
            return Err(Error::bad_request(format!(
                "A server has at most {} NICs.",
                nimbus_drivers::hypervisor::MAX_NICS
            )));
        }
        let mut groups = Vec::new();
        for g in security_groups {
            let id = self.project_group(tx, server.project_id, g).await?;
            if !groups.contains(&id) {
                groups.push(id);
            }
        }
        for (i, r) in requests.iter().enumerate() {
            match (&r.port_id, &r.network_id) {
                (Some(pid), _) => {
                    let mut p = self.load_port(tx, ctx, pid, "network:update").await?;
                    if p.project_id != server.project_id {
                        return Err(Error::not_found("port", pid));
                    }
                    if !p.device_id.is_empty() {
                        return Err(Error::Conflict(format!("Port {pid} is still in use.")));
                    }
                    p.device_id = server.id.into();
                    p.device_owner = format!("compute:{}", server.availability_zone);
                    p.status = "ACTIVE".into();
                    p.updated_at = now_ms();
                    repo::update_port(tx, &p).await?;
                }
                (None, Some(nid)) => {
                    let req = PortCreate {
                        network_id: nid.clone(),
                        mac_address: (i == 0).then(|| server.mac.to_string()),
                        fixed_ips: r
                            .fixed_ip
                            .as_ref()
                            .map(|ip| vec![FixedIpRequest { subnet_id: None, ip_address: Some(ip.clone()) }]),
                        device_id: server.id.into(),
                        device_owner: format!("compute:{}", server.availability_zone),
                        security_groups: (!groups.is_empty()).then(|| groups.clone()),
                        project_id: Some(server.project_id.into()),
                        ..Default::default()
                    };
                    let mut p = self.create_port_in(tx, ctx, req, true).await?.port;
                    p.status = "ACTIVE".into();
                    repo::update_port(tx, &p).await?;
                }
                (None, None) => return Err(Error::bad_request("A NIC names a network or a port.")),
            }
        }
        Ok(())
    }

    /// Frees a deleted server's ports (in its delete's transaction): those made for it go,
    /// the others are unbound.
    pub(crate) async fn release_server_ports(&self, tx: &mut AnyConnection, server_id: &str) -> Result<(), Error> {
        for mut p in repo::device_ports(tx, server_id).await? {
            // Its EIPs stay allocated to the project, unbound (seed 6.3.2).
            self.unbind_floating_ips(tx, &p.id).await?;
            if p.delete_with_device {
                nimbus_store::tags::clear(tx, "ports", &p.id).await?;
                repo::delete_port(tx, &p.id).await?;
                self.release_quota(tx, &p.project_id, "port", 1).await?;
            } else {
                p.device_id.clear();
                p.device_owner.clear();
                p.status = "DOWN".into();
                p.updated_at = now_ms();
                repo::update_port(tx, &p).await?;
            }
        }
        Ok(())
    }

    /// A server's NICs as the hypervisor plugs them: each port's TAP in its network's
    /// namespace, on the bridge of its first address's subnet. None without a network plane
    /// (the guest then has user-mode networking).
    pub(crate) async fn server_nics(&self, server_id: &str) -> Result<Vec<nimbus_drivers::netns::NicSpec>, Error> {
        if self.drivers().network.is_none() {
            return Ok(Vec::new());
        }
        let mut c = self.store().read().await?;
        let ports = repo::device_ports(&mut c, server_id).await?;
        if !ports.is_empty() {
            // Their namespaces, bridges and DHCP hosts are there before the guest boots.
            drop(c);
            self.converge_network_plane().await?;
            c = self.store().read().await?;
        }
        let mut out = Vec::new();
        for p in ports {
            let Some(n) = repo::get_network(&mut c, &p.network_id).await? else { continue };
            let Some(f) = repo::port_fixed_ips(&mut c, &p.id).await?.into_iter().next() else { continue };
            out.push(nimbus_drivers::netns::NicSpec {
                port_id: p.id.clone(),
                mac: p.mac_address.clone(),
                namespace: nimbus_drivers::netns::namespace(&n.id),
                tap: nimbus_drivers::netns::tap_name(&p.id),
                bridge: nimbus_drivers::netns::bridge(&f.subnet_id),
                mtu: n.mtu,
            });
        }
        Ok(out)
    }
}
