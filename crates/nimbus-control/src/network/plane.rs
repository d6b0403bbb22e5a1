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
use nimbus_drivers::netns::{self, SubnetSpec};
use nimbus_store::network as repo;
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
        let (networks, subnets, ports, fixed, bindings, all_rules) = {
            let mut c = control.store().read().await?;
            (
                repo::list_networks(&mut c).await?,
                repo::list_subnets(&mut c).await?,
                repo::list_ports(&mut c).await?,
                repo::all_fixed_ips(&mut c).await?,
                repo::all_port_security_groups(&mut c).await?,
                repo::list_rules(&mut c).await?,
            )
        };
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
        let macs: HashMap<&str, &str> = ports.iter().map(|p| (p.id.as_str(), p.mac_address.as_str())).collect();
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
            plane.ensure_dhcp(&n.id, &specs).await?;
            let filtered: Vec<super::firewall::FilteredPort> = ports
                .iter()
                .filter(|p| p.network_id == n.id)
                .map(|p| super::firewall::FilteredPort {
                    port: p,
                    addresses: addresses.get(p.id.as_str()).cloned().unwrap_or_default(),
                    groups: groups_of.get(p.id.as_str()).cloned().unwrap_or_default(),
                })
                .collect();
            plane.apply_firewall(&n.id, &super::firewall::ruleset(&filtered, &rules, &members)).await?;
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
