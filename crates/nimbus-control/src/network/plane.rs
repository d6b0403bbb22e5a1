//! The network reconciler: makes the Linux network plane match the store. Each network has a
//! namespace, each subnet a bridge holding its gateway and (with DHCP on) a DHCP server that
//! answers exactly the ports' MAC/IP pairs, and a packet filter holds the ports' security
//! groups (`firewall.rs`); namespaces and bridges the store no longer names
//! are removed. Runs at start (adopting what a previous run left), when a network, subnet
//! or port changes, and periodically. Without namespaces (not root) there is no plane and
//! servers keep user-mode networking.

use crate::reconcile::Reconciler;
use crate::Control;
use nimbus_core::Error;
use nimbus_drivers::netns::{self, DnsRecord, DnsSpec, SubnetSpec};
use nimbus_drivers::netns_l3::{self, DnatSpec, FloatingSpec, GatewaySpec, InterfaceSpec, RouterSpec};
use nimbus_store::dns as dnsrepo;
use nimbus_store::l3::{self as l3repo, Bandwidth, FloatingIp, Router};
use nimbus_store::nat::{self as natrepo, DnatRule, NatGateway, SnatRule};
use nimbus_store::network::{self as repo, FixedIp, Port, Subnet};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The network plane's reconciler.
pub struct NetworkPlaneReconciler;

#[async_trait::async_trait]
impl Reconciler for NetworkPlaneReconciler {
    fn name(&self) -> &'static str {
        "network-plane"
    }

    fn period(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn wakeup<'a>(&self, control: &'a Control) -> Option<&'a tokio::sync::Notify> {
        Some(&control.network_wakeup)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        control.converge_network_plane().await
    }
}

impl Control {
    /// One pass of the network reconciler (also run before a guest's NICs are plugged, so
    /// a network made a moment ago has its namespace and bridges). Passes do not overlap.
    pub(crate) async fn converge_network_plane(&self) -> Result<(), Error> {
        let control = self;
        let Some(plane) = &control.drivers().network else { return Ok(()) };
        let _pass = control.network_pass.lock().await;
        let (networks, subnets, ports, fixed, bindings, all_rules, l3, dns) = {
            let mut c = control.store().read().await?;
            (
                repo::list_networks(&mut c).await?,
                repo::list_subnets(&mut c).await?,
                repo::list_ports(&mut c).await?,
                repo::all_fixed_ips(&mut c).await?,
                repo::all_port_security_groups(&mut c).await?,
                repo::list_rules(&mut c).await?,
                L3Rows {
                    routers: l3repo::list_routers(&mut c).await?,
                    fips: l3repo::list_floating_ips(&mut c).await?,
                    bandwidths: l3repo::list_bandwidths(&mut c).await?,
                    gateways: natrepo::list_gateways(&mut c).await?,
                    snat: natrepo::list_snat(&mut c).await?,
                    dnat: natrepo::list_dnat(&mut c).await?,
                },
                DnsRows {
                    zones: dnsrepo::list_zones(&mut c).await?,
                    routers: dnsrepo::all_zone_routers(&mut c).await?,
                    recordsets: dnsrepo::list_recordsets(&mut c).await?,
                },
            )
        };
        // What each router holds (computed first: a network's DNS depends on its routers).
        let routers = router_specs(&l3, &ports, &fixed, &subnets);
        // Security groups: each group's rules, each port's groups and addresses, each
        // group's member addresses (for rules naming a remote group).
        let mut rules: HashMap<String, Vec<repo::SecurityGroupRule>> = HashMap::new();
        for r in all_rules {
            rules.entry(r.security_group_id.clone()).or_default().push(r);
        }
        let mut addresses: HashMap<&str, Vec<String>> = HashMap::new();
        for f in &fixed {
            addresses.entry(f.port_id.as_str()).or_default().push(f.ip_address.clone());
        }
        let mut groups_of: HashMap<&str, Vec<String>> = HashMap::new();
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        for (port, group) in &bindings {
            groups_of.entry(port.as_str()).or_default().push(group.clone());
            members.entry(group.clone()).or_default().extend(addresses.get(port.as_str()).cloned().unwrap_or_default());
        }
        // DHCP answers guests, not the platform's own ports (a router interface holds the
        // gateway address, which the bridge already answers for).
        let macs: HashMap<&str, &str> = ports
            .iter()
            .filter(|p| !p.device_owner.starts_with("network:"))
            .map(|p| (p.id.as_str(), p.mac_address.as_str()))
            .collect();
        let mut hosts: HashMap<&str, Vec<(String, String)>> = HashMap::new();
        for f in &fixed {
            if let Some(mac) = macs.get(f.port_id.as_str()) {
                hosts.entry(f.subnet_id.as_str()).or_default().push((mac.to_string(), f.ip_address.clone()));
            }
        }
        let mut wanted_ns = HashSet::new();
        for n in &networks {
            let ns = plane.ensure_network(&n.id).await?;
            wanted_ns.insert(ns);
            let mine: Vec<&repo::Subnet> = subnets.iter().filter(|s| s.network_id == n.id).collect();
            let wanted_bridges: HashSet<String> = mine.iter().map(|s| netns::bridge(&s.id)).collect();
            let mut specs = Vec::new();
            for s in mine {
                let spec = SubnetSpec {
                    id: s.id.clone(),
                    cidr: s.cidr.clone(),
                    gateway: s.gateway_ip.clone(),
                    dhcp: s.enable_dhcp,
                    dns_servers: serde_json::from_str(&s.dns_nameservers).unwrap_or_default(),
                    routes: serde_json::from_str::<Vec<super::HostRoute>>(&s.host_routes)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| (r.destination, r.nexthop))
                        .collect(),
                    hosts: hosts.get(s.id.as_str()).cloned().unwrap_or_default(),
                    mtu: n.mtu,
                };
                plane.ensure_subnet(&n.id, &spec).await?;
                specs.push(spec);
            }
            for b in plane.bridges(&n.id).await? {
                if !wanted_bridges.contains(&b) {
                    plane.remove_subnet(&n.id, &b).await?;
                }
            }
            let joined: Vec<&str> = routers
                .iter()
                .filter(|r| r.interfaces.iter().any(|i| i.network_id == n.id))
                .map(|r| r.id.as_str())
                .collect();
            plane.ensure_dhcp(&n.id, &specs, &dns.spec_for(n.router_external, &joined)).await?;
            let filtered: Vec<super::firewall::FilteredPort> = ports
                .iter()
                .filter(|p| p.network_id == n.id)
                .map(|p| super::firewall::FilteredPort {
                    port: p,
                    addresses: addresses.get(p.id.as_str()).cloned().unwrap_or_default(),
                    groups: groups_of.get(p.id.as_str()).cloned().unwrap_or_default(),
                })
                .collect();
            let filter = super::firewall::ruleset(&filtered, &rules, &members);
            plane.apply_firewall(&n.id, &filter, &super::firewall::antispoof(&filtered)).await?;
        }
        // Routers, once the namespaces of the networks they join are there.
        let specs = routers;
        let mut wanted_routers = HashSet::new();
        for spec in &specs {
            plane.ensure_router(spec, super::PROJECT_MTU).await?;
            wanted_routers.insert(netns_l3::router_namespace(&spec.id));
        }
        for ns in plane.router_namespaces().await? {
            if !wanted_routers.contains(&ns) {
                plane.remove_router(&ns).await?;
            }
        }
        for n in networks.iter().filter(|n| !n.router_external) {
            let links: Vec<(String, String)> = specs
                .iter()
                .flat_map(|r| r.interfaces.iter())
                .filter(|i| i.network_id == n.id)
                .map(|i| (i.cidr.clone(), i.port_id.clone()))
                .collect();
            plane.ensure_network_routing(&n.id, &links).await?;
        }
        for ns in plane.namespaces().await? {
            if !wanted_ns.contains(&ns) {
                plane.remove_namespace(&ns).await?;
            }
        }
        Ok(())
    }

    /// Asks the network reconciler for a pass (a network, subnet or port changed).
    pub(crate) fn wake_network(&self) {
        self.network_wakeup.notify_one();
    }
}

/// The layer-3 rows a pass reads.
struct L3Rows {
    routers: Vec<Router>,
    fips: Vec<FloatingIp>,
    bandwidths: Vec<Bandwidth>,
    gateways: Vec<NatGateway>,
    snat: Vec<SnatRule>,
    dnat: Vec<DnatRule>,
}

/// The DNS rows a pass reads.
struct DnsRows {
    zones: Vec<dnsrepo::Zone>,
    /// (zone, router) associations of private zones.
    routers: Vec<(String, String)>,
    recordsets: Vec<dnsrepo::RecordSet>,
}

impl DnsRows {
    /// What a network's DNS server answers: the public zones, and the private zones of the
    /// VPCs (routers) it is joined to; the external network's (the internet's) only the
    /// public ones.
    fn spec_for(&self, external: bool, routers: &[&str]) -> DnsSpec {
        let served: Vec<&dnsrepo::Zone> = self
            .zones
            .iter()
            .filter(|z| {
                z.zone_type == "public"
                    || (!external
                        && self.routers.iter().any(|(zone, r)| zone == &z.id && routers.contains(&r.as_str())))
            })
            .collect();
        let records = self
            .recordsets
            .iter()
            .filter(|r| r.status == "ACTIVE" && served.iter().any(|z| z.id == r.zone_id))
            .map(|r| DnsRecord { name: r.name.clone(), rtype: r.rtype.clone(), values: r.values() })
            .collect();
        DnsSpec { zones: served.iter().map(|z| z.name.clone()).collect(), records }
    }
}

/// What each router's namespace must hold, from the store's rows: its gateway (the first
/// address of its gateway port), its interfaces (one per address of its interface ports),
/// its extra routes, SNAT, the floating IPs it carries with their bandwidths, and its NAT
/// gateway's rules with the EIPs they use.
fn router_specs(l3: &L3Rows, ports: &[Port], fixed: &[FixedIp], subnets: &[Subnet]) -> Vec<RouterSpec> {
    let subnet_of: HashMap<&str, &Subnet> = subnets.iter().map(|s| (s.id.as_str(), s)).collect();
    let mbit_of: HashMap<&str, i64> = l3.bandwidths.iter().map(|b| (b.id.as_str(), b.size_mbit)).collect();
    let fip_of: HashMap<&str, &FloatingIp> = l3.fips.iter().map(|f| (f.id.as_str(), f)).collect();
    let first_ip = |port: &str| fixed.iter().find(|f| f.port_id == port).map(|f| f.ip_address.clone());
    l3.routers
        .iter()
        .map(|r| {
            let mine: Vec<&Port> = ports.iter().filter(|p| p.device_id == r.id).collect();
            let mut gateway = None;
            let mut interfaces = Vec::new();
            for p in mine {
                let addresses = fixed.iter().filter(|f| f.port_id == p.id);
                if p.device_owner == super::OWNER_ROUTER_GATEWAY {
                    let first = addresses.filter_map(|f| subnet_of.get(f.subnet_id.as_str()).map(|s| (f, *s))).next();
                    if let Some((f, s)) = first {
                        gateway = Some(GatewaySpec {
                            port_id: p.id.clone(),
                            address: f.ip_address.clone(),
                            prefix: s.cidr.split('/').nth(1).and_then(|x| x.parse().ok()).unwrap_or(24),
                            next_hop: s.gateway_ip.clone(),
                            external_network_id: s.network_id.clone(),
                            bridge: netns::bridge(&s.id),
                        });
                    }
                } else if p.device_owner == super::OWNER_ROUTER_INTERFACE {
                    for f in addresses {
                        if let Some(s) = subnet_of.get(f.subnet_id.as_str()) {
                            interfaces.push(InterfaceSpec {
                                port_id: p.id.clone(),
                                network_id: p.network_id.clone(),
                                cidr: s.cidr.clone(),
                            });
                        }
                    }
                }
            }
            let routes = serde_json::from_str::<Vec<super::HostRoute>>(&r.routes)
                .unwrap_or_default()
                .into_iter()
                .map(|h| (h.destination, h.nexthop))
                .collect();
            let floating = l3
                .fips
                .iter()
                .filter(|f| f.router_id.as_deref() == Some(r.id.as_str()))
                .filter_map(|f| {
                    Some(FloatingSpec {
                        address: f.floating_ip_address.clone(),
                        fixed: f.fixed_ip_address.clone()?,
                        mbit: mbit_of.get(f.bandwidth_id.as_str()).copied().unwrap_or(1000),
                    })
                })
                .collect();
            // The NAT gateway's rules, with the EIPs they use (held on the gateway device).
            let mut snat_rules = Vec::new();
            let mut dnat_rules = Vec::new();
            let mut nat_eips: Vec<(String, i64)> = Vec::new();
            let mut use_eip = |id: &str| -> Option<String> {
                let f = fip_of.get(id)?;
                if !nat_eips.iter().any(|(a, _)| a == &f.floating_ip_address) {
                    let mbit = mbit_of.get(f.bandwidth_id.as_str()).copied().unwrap_or(1000);
                    nat_eips.push((f.floating_ip_address.clone(), mbit));
                }
                Some(f.floating_ip_address.clone())
            };
            for g in l3.gateways.iter().filter(|g| g.router_id == r.id) {
                for rule in l3.snat.iter().filter(|x| x.nat_gateway_id == g.id) {
                    let eips: Vec<String> = rule.eips().into_iter().filter_map(&mut use_eip).collect();
                    let cidrs: Vec<String> = match (&rule.cidr, &rule.network_id) {
                        (Some(c), _) => vec![c.clone()],
                        (None, Some(n)) => {
                            subnets.iter().filter(|s| &s.network_id == n).map(|s| s.cidr.clone()).collect()
                        }
                        (None, None) => Vec::new(),
                    };
                    for c in cidrs {
                        snat_rules.push((c, eips.clone()));
                    }
                }
                for rule in l3.dnat.iter().filter(|x| x.nat_gateway_id == g.id) {
                    let Some(eip) = use_eip(&rule.floating_ip_id) else { continue };
                    let internal = match (&rule.private_ip, &rule.port_id) {
                        (Some(ip), _) => Some(ip.clone()),
                        (None, Some(p)) => first_ip(p),
                        (None, None) => None,
                    };
                    let Some(internal_ip) = internal else { continue };
                    let (ia, _) = super::parse_ports(&rule.internal_port, "port").unwrap_or((0, 0));
                    let (ea, eb) = super::parse_ports(&rule.external_port, "port").unwrap_or((0, 0));
                    dnat_rules.push(DnatSpec {
                        eip,
                        protocol: rule.protocol.clone(),
                        external_port: ea,
                        internal_ip,
                        internal_port: ia,
                        count: eb - ea + 1,
                    });
                }
            }
            RouterSpec {
                id: r.id.clone(),
                snat: r.enable_snat && gateway.is_some(),
                gateway,
                interfaces,
                routes,
                floating,
                snat_rules,
                dnat_rules,
                nat_eips,
            }
        })
        .collect()
}
