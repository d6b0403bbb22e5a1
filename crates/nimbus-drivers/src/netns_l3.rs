//! Layer 3 of the virtual networks in Linux: one namespace per router (`nbr-<8 hex>`), linked
//! to the namespaces of the networks it joins and to the external network's namespace, which
//! stands for the internet on this machine (nothing here touches the machine's own networks).
//!
//! - A subnet's gateway address stays on its bridge in the network's namespace (the first hop
//!   of its guests, beside its DHCP server). When a router has an interface on the subnet,
//!   the network's namespace forwards what the subnet sends off-link to the router over a
//!   veth pair (`qn-<port>` there, `qr-<port>` in the router), by a policy rule (`from
//!   <subnet> lookup <table of the interface>`); the router reaches the subnet back over the
//!   same pair. Both ends use link-local addresses (169.254.0.2 network side, 169.254.0.1
//!   router side) with on-link routes, so any number of such links can share them. Before
//!   those rules, destinations on the namespace's own bridges are routed by the main table.
//! - The gateway is a veth pair from the router (`qg-<port>`, holding the gateway address and
//!   the floating IPs as /32s) to the external subnet's bridge (`qx-<port>`); the router's
//!   default route is the external subnet's gateway.
//! - NAT in the router (nftables table `ip nimbus_nat`): each floating IP is a 1:1 DNAT/SNAT
//!   to its fixed address; NAT gateway rules (DNAT of an EIP's port, SNAT of a range to an
//!   EIP) come next; then, with SNAT on, the router's subnets leave as its gateway address.
//! - Each floating IP's bandwidth is enforced on the gateway device with tc: an HTB class
//!   per address for what leaves (after SNAT, by source) and a policer per address for what
//!   arrives (before DNAT, by destination).
//!
//! Every call is idempotent, like the rest of the plane: the reconciler applies the whole
//! desired state on each pass.

use crate::netns::{io, ip_in, namespace, run, short, stop_pid_file, write_if_changed, NetworkPlane};
use nimbus_core::Error;
use std::fmt::Write;
use std::path::Path;

/// Prefix of the namespaces of a region's routers.
pub const ROUTER_NS_PREFIX: &str = "nbr-";

/// The router side of every interface link.
const ROUTER_LINK_IP: &str = "169.254.0.1";
/// The network side of every interface link.
const NETWORK_LINK_IP: &str = "169.254.0.2";
/// The priority of the policy rules that send a subnet's off-link traffic to its router.
const RULE_PREF: &str = "1000";
/// The priority of the rule that keeps on-link destinations in the main table.
const MAIN_PREF: &str = "900";

/// The namespace of a router.
pub fn router_namespace(router_id: &str) -> String {
    format!("{ROUTER_NS_PREFIX}{}", short(router_id))
}

/// The routing table (in the network's namespace) of a router interface.
pub fn interface_table(port_id: &str) -> u32 {
    0x1000_0000 | (u32::from_str_radix(&short(port_id), 16).unwrap_or(0) & 0x0fff_ffff)
}

/// A router's gateway on the external network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySpec {
    pub port_id: String,
    /// The gateway's address on the external subnet.
    pub address: String,
    pub prefix: u8,
    /// The external subnet's gateway (the router's default route).
    pub next_hop: Option<String>,
    pub external_network_id: String,
    /// The external subnet's bridge (in the external network's namespace).
    pub bridge: String,
}

/// A router interface on a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceSpec {
    pub port_id: String,
    pub network_id: String,
    pub cidr: String,
}

/// A floating IP carried by a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatingSpec {
    pub address: String,
    pub fixed: String,
    /// Its bandwidth, Mbit/s each way.
    pub mbit: i64,
}

/// A port forwarding of a NAT gateway: an EIP's port (or all of it) to a private address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnatSpec {
    pub eip: String,
    /// `tcp`, `udp` or `any` (the whole address: the ports are unused).
    pub protocol: String,
    /// The first port of the EIP forwarded, and how many follow it (1: one port); port
    /// `external_port + i` goes to `internal_port + i`.
    pub external_port: u32,
    pub internal_ip: String,
    pub internal_port: u32,
    pub count: u32,
}

/// Everything a router's namespace holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouterSpec {
    pub id: String,
    pub gateway: Option<GatewaySpec>,
    pub interfaces: Vec<InterfaceSpec>,
    /// Extra routes (destination, next hop on one of its subnets).
    pub routes: Vec<(String, String)>,
    /// Source NAT of its subnets to the gateway address.
    pub snat: bool,
    pub floating: Vec<FloatingSpec>,
    /// NAT gateway SNAT rules: a source range leaves as one of its EIPs (a source keeps the
    /// same one: they are picked by a hash of the source address).
    pub snat_rules: Vec<(String, Vec<String>)>,
    pub dnat_rules: Vec<DnatSpec>,
    /// EIPs the NAT gateway uses (held on the gateway device), with their bandwidths.
    pub nat_eips: Vec<(String, i64)>,
}

fn gateway_dev(port_id: &str) -> String {
    format!("qg-{}", short(port_id))
}

/// The nftables table body of a router's NAT.
pub fn nat_ruleset(spec: &RouterSpec) -> String {
    let Some(gw) = &spec.gateway else { return String::new() };
    let dev = gateway_dev(&gw.port_id);
    let mut pre = String::from("  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n");
    let mut post = String::from("  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n");
    for f in &spec.floating {
        let _ = writeln!(pre, "    ip daddr {} dnat to {}", f.address, f.fixed);
        let _ = writeln!(post, "    oifname \"{dev}\" ip saddr {} snat to {}", f.fixed, f.address);
    }
    for d in &spec.dnat_rules {
        match d.protocol.as_str() {
            "tcp" | "udp" => {
                // One rule per port: nftables maps a range onto a range by picking, not 1:1.
                for i in 0..d.count {
                    let _ = writeln!(
                        pre,
                        "    ip daddr {} {} dport {} dnat to {}:{}",
                        d.eip,
                        d.protocol,
                        d.external_port + i,
                        d.internal_ip,
                        d.internal_port + i
                    );
                }
            }
            _ => {
                let _ = writeln!(pre, "    ip daddr {} dnat to {}", d.eip, d.internal_ip);
                let _ = writeln!(post, "    oifname \"{dev}\" ip saddr {} snat to {}", d.internal_ip, d.eip);
            }
        }
    }
    for (cidr, eips) in &spec.snat_rules {
        match eips.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(post, "    oifname \"{dev}\" ip saddr {cidr} snat to {one}");
            }
            many => {
                let map: Vec<String> = many.iter().enumerate().map(|(i, e)| format!("{i} : {e}")).collect();
                let _ = writeln!(
                    post,
                    "    oifname \"{dev}\" ip saddr {cidr} snat to jhash ip saddr mod {} map {{ {} }}",
                    many.len(),
                    map.join(", ")
                );
            }
        }
    }
    if spec.snat && !spec.interfaces.is_empty() {
        let cidrs: Vec<&str> = spec.interfaces.iter().map(|i| i.cidr.as_str()).collect();
        let _ = writeln!(post, "    oifname \"{dev}\" ip saddr {{ {} }} snat to {}", cidrs.join(", "), gw.address);
    }
    pre.push_str("  }\n");
    post.push_str("  }\n");
    pre + &post
}

/// The `tc -batch` scripts shaping a router's EIPs, one per device (none: no shaping).
/// Everything is egress shaping (HTB, a class per address), as this kernel offers no
/// ingress policer to every machine: what leaves for the outside is shaped on the gateway
/// device by its source (after SNAT: the EIP), what arrives for a floating IP's port on the
/// interface towards its subnet by its destination (after DNAT: the fixed address).
pub fn shaping_scripts(spec: &RouterSpec) -> Vec<(String, String)> {
    let Some(gw) = &spec.gateway else { return Vec::new() };
    // (device, match, Mbit/s)
    let mut limits: Vec<(String, String, i64)> = Vec::new();
    let qg = gateway_dev(&gw.port_id);
    for f in &spec.floating {
        limits.push((qg.clone(), format!("src {}/32", f.address), f.mbit));
        let inward = spec.interfaces.iter().find(|i| {
            let net: Result<ipnet::Ipv4Net, _> = i.cidr.parse();
            let ip: Result<std::net::Ipv4Addr, _> = f.fixed.parse();
            matches!((net, ip), (Ok(n), Ok(a)) if n.contains(&a))
        });
        if let Some(i) = inward {
            limits.push((format!("qr-{}", short(&i.port_id)), format!("dst {}/32", f.fixed), f.mbit));
        }
    }
    for (address, mbit) in &spec.nat_eips {
        limits.push((qg.clone(), format!("src {address}/32"), *mbit));
    }
    let mut devices: Vec<String> = limits.iter().map(|l| l.0.clone()).collect();
    devices.sort();
    devices.dedup();
    devices
        .into_iter()
        .map(|dev| {
            let mut s = format!(
                "qdisc add dev {dev} root handle 1: htb default 1\n\
                 class add dev {dev} parent 1: classid 1:1 htb rate 10gbit quantum 60000\n"
            );
            for (i, (_, matched, mbit)) in limits.iter().filter(|l| l.0 == dev).enumerate() {
                let class = format!("1:{:x}", i + 16);
                let _ =
                    writeln!(s, "class add dev {dev} parent 1: classid {class} htb rate {mbit}mbit ceil {mbit}mbit");
                let _ = writeln!(
                    s,
                    "filter add dev {dev} parent 1: protocol ip prio 1 u32 match ip {matched} flowid {class}"
                );
            }
            (dev, s)
        })
        .collect()
}

/// The /32 addresses a router's gateway device holds: its floating IPs and NAT EIPs.
fn held_addresses(spec: &RouterSpec) -> Vec<String> {
    let mut out: Vec<String> = spec.floating.iter().map(|f| f.address.clone()).collect();
    for (a, _) in &spec.nat_eips {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

async fn link_exists(ns: &str, dev: &str) -> bool {
    ip_in(ns, &["link", "show", dev]).await.is_ok()
}

/// Makes a veth pair `a` (in `ns_a`) / `b` (in `ns_b`) unless both ends are there; a lone end
/// (its peer's namespace was rebuilt) is replaced.
async fn ensure_veth(ns_a: &str, a: &str, ns_b: &str, b: &str, mtu: &str) -> Result<(), Error> {
    let (has_a, has_b) = (link_exists(ns_a, a).await, link_exists(ns_b, b).await);
    if has_a && has_b {
        return Ok(());
    }
    if has_a {
        ip_in(ns_a, &["link", "del", a]).await?;
    }
    if has_b {
        ip_in(ns_b, &["link", "del", b]).await?;
    }
    ip_in(ns_a, &["link", "add", a, "mtu", mtu, "type", "veth", "peer", "name", b, "mtu", mtu, "netns", ns_b]).await?;
    Ok(())
}

async fn sysctl(ns: &str, settings: &[&str]) -> Result<(), Error> {
    let mut args = vec!["netns", "exec", ns, "sysctl", "-q", "-w"];
    args.extend_from_slice(settings);
    run("ip", &args).await.map(|_| ())
}

/// The devices of a namespace whose names start with `prefix`.
async fn devices(ns: &str, prefix: &str) -> Result<Vec<String>, Error> {
    let out = ip_in(ns, &["-o", "link", "show"]).await?;
    Ok(out
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or_default().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect())
}

impl NetworkPlane {
    /// The namespaces of this region's routers that exist.
    pub async fn router_namespaces(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        let mut rd = match tokio::fs::read_dir(&self.root).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("listing the network plane", e)),
        };
        while let Some(e) = rd.next_entry().await.map_err(|e| io("listing the network plane", e))? {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with(ROUTER_NS_PREFIX) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Builds (or brings back in line) a router's namespace, links, routes, NAT and shaping.
    /// The namespaces of the networks it joins must exist.
    pub async fn ensure_router(&self, spec: &RouterSpec, mtu: i64) -> Result<(), Error> {
        let ns = router_namespace(&spec.id);
        let dir = self.dir(&ns);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| io("network plane dir", e))?;
        if !tokio::fs::try_exists(Path::new("/run/netns").join(&ns)).await.unwrap_or(false) {
            run("ip", &["netns", "add", &ns]).await?;
        }
        ip_in(&ns, &["link", "set", "lo", "up"]).await?;
        sysctl(&ns, &["net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"])
            .await?;
        let mtu = mtu.to_string();
        // Interfaces.
        let mut wanted = Vec::new();
        for i in &spec.interfaces {
            let (qr, qn) = (format!("qr-{}", short(&i.port_id)), format!("qn-{}", short(&i.port_id)));
            let net_ns = namespace(&i.network_id);
            ensure_veth(&ns, &qr, &net_ns, &qn, &mtu).await?;
            ip_in(&ns, &["addr", "replace", &format!("{ROUTER_LINK_IP}/32"), "dev", &qr]).await?;
            ip_in(&ns, &["link", "set", &qr, "up"]).await?;
            ip_in(&net_ns, &["addr", "replace", &format!("{NETWORK_LINK_IP}/32"), "dev", &qn]).await?;
            ip_in(&net_ns, &["link", "set", &qn, "up"]).await?;
            ip_in(&ns, &["route", "replace", &i.cidr, "via", NETWORK_LINK_IP, "dev", &qr, "onlink"]).await?;
            wanted.push(qr);
        }
        // Gateway.
        if let Some(gw) = &spec.gateway {
            let (qg, qx) = (gateway_dev(&gw.port_id), format!("qx-{}", short(&gw.port_id)));
            let ext_ns = namespace(&gw.external_network_id);
            ensure_veth(&ns, &qg, &ext_ns, &qx, &mtu).await?;
            ip_in(&ext_ns, &["link", "set", &qx, "master", &gw.bridge, "up"]).await?;
            ip_in(&ns, &["addr", "replace", &format!("{}/{}", gw.address, gw.prefix), "dev", &qg]).await?;
            ip_in(&ns, &["link", "set", &qg, "up"]).await?;
            let held = held_addresses(spec);
            let out = ip_in(&ns, &["-o", "-4", "addr", "show", "dev", &qg]).await?;
            for line in out.lines() {
                let mut words = line.split_whitespace().skip_while(|w| *w != "inet");
                let Some(addr) = words.nth(1) else { continue };
                if let Some(ip) = addr.strip_suffix("/32") {
                    if !held.iter().any(|h| h == ip) {
                        ip_in(&ns, &["addr", "del", addr, "dev", &qg]).await?;
                    }
                }
            }
            for a in &held {
                if !out.contains(&format!("inet {a}/32 ")) {
                    ip_in(&ns, &["addr", "add", &format!("{a}/32"), "dev", &qg]).await?;
                    // The outside may remember another router's MAC for it.
                    let _ = ip_in(&ext_ns, &["neigh", "del", a, "dev", &gw.bridge]).await;
                }
            }
            match &gw.next_hop {
                Some(hop) => ip_in(&ns, &["route", "replace", "default", "via", hop, "dev", &qg]).await?,
                None => ip_in(&ns, &["route", "replace", "default", "dev", &qg]).await?,
            };
            wanted.push(qg);
        }
        // Links the store no longer names go (their peers with them).
        for dev in devices(&ns, "q").await? {
            if !wanted.contains(&dev) {
                ip_in(&ns, &["link", "del", &dev]).await?;
            }
        }
        // Extra routes (protocol 99 marks them as the router's own).
        let current = ip_in(&ns, &["-4", "route", "show", "proto", "99"]).await?;
        let wanted_routes: Vec<String> = spec.routes.iter().map(|(d, h)| format!("{d} via {h}")).collect();
        for line in current.lines() {
            let line = line.trim();
            if !wanted_routes.iter().any(|w| line.starts_with(w.as_str())) {
                let dest = line.split_whitespace().next().unwrap_or_default();
                let _ = ip_in(&ns, &["route", "del", dest, "proto", "99"]).await;
            }
        }
        for (dest, hop) in &spec.routes {
            ip_in(&ns, &["route", "replace", dest, "via", hop, "proto", "99"]).await?;
        }
        self.apply_router_nat(&ns, spec).await?;
        self.apply_router_shaping(&ns, spec).await?;
        Ok(())
    }

    async fn apply_router_nat(&self, ns: &str, spec: &RouterSpec) -> Result<(), Error> {
        let file = self.dir(ns).join("nat.nft");
        let text = format!(
            "add table ip nimbus_nat\ndelete table ip nimbus_nat\ntable ip nimbus_nat {{\n{}}}\n",
            nat_ruleset(spec)
        );
        if !write_if_changed(&file, &text).await? {
            return Ok(());
        }
        let path = file.display().to_string();
        if let Err(e) = run("ip", &["netns", "exec", ns, "nft", "-f", &path]).await {
            // Not applied: the next pass tries again.
            let _ = tokio::fs::remove_file(&file).await;
            return Err(e);
        }
        Ok(())
    }

    async fn apply_router_shaping(&self, ns: &str, spec: &RouterSpec) -> Result<(), Error> {
        let scripts = shaping_scripts(spec);
        let file = self.dir(ns).join("shaping.tc");
        let previous = tokio::fs::read_to_string(&file).await.unwrap_or_default();
        let text: String = scripts.iter().map(|(_, s)| s.as_str()).collect();
        if !write_if_changed(&file, &text).await? {
            return Ok(());
        }
        // Devices shaped before lose their qdiscs (a device that went took them with it).
        for line in previous.lines().filter(|l| l.starts_with("qdisc add dev ")) {
            if let Some(dev) = line.split_whitespace().nth(3) {
                let _ = run("ip", &["netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"]).await;
            }
        }
        for (dev, script) in &scripts {
            let _ = run("ip", &["netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"]).await;
            let batch = self.dir(ns).join(format!("shaping-{dev}.batch"));
            tokio::fs::write(&batch, script).await.map_err(|e| io("writing the shaping script", e))?;
            let path = batch.display().to_string();
            if let Err(e) = run("ip", &["netns", "exec", ns, "tc", "-batch", &path]).await {
                let _ = tokio::fs::remove_file(&file).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes a router's namespace (its links go with it).
    pub async fn remove_router(&self, ns: &str) -> Result<(), Error> {
        let dir = self.dir(ns);
        if let Ok(mut rd) = tokio::fs::read_dir(&dir).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                if e.file_name().to_string_lossy().ends_with(".pid") {
                    stop_pid_file(&e.path()).await;
                }
            }
        }
        if tokio::fs::try_exists(Path::new("/run/netns").join(ns)).await.unwrap_or(false) {
            run("ip", &["netns", "del", ns]).await?;
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("removing the network plane dir", e)),
            _ => Ok(()),
        }
    }

    /// Sends each routed subnet's off-link traffic from the network's namespace to its
    /// router: `links` holds (subnet CIDR, interface port id) pairs. Forwarding is on only
    /// while the network has routed subnets; rules for links that went are removed.
    pub async fn ensure_network_routing(&self, network_id: &str, links: &[(String, String)]) -> Result<(), Error> {
        let ns = namespace(network_id);
        let forward = if links.is_empty() { "net.ipv4.ip_forward=0" } else { "net.ipv4.ip_forward=1" };
        sysctl(&ns, &[forward, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]).await?;
        let wanted: Vec<(String, String)> =
            links.iter().map(|(cidr, port)| (cidr.clone(), interface_table(port).to_string())).collect();
        let rules = ip_in(&ns, &["-4", "rule", "show"]).await?;
        // Destinations the namespace reaches itself (its subnets' bridges) are looked up in
        // the main table first: only what would take a default route goes to a router. (Else
        // the answers of its own DNS server, from a gateway address, would go to the router.)
        let own_first = rules.lines().any(|l| l.starts_with(&format!("{MAIN_PREF}:")));
        if !links.is_empty() && !own_first {
            ip_in(&ns, &["rule", "add", "pref", MAIN_PREF, "lookup", "main", "suppress_prefixlength", "0"]).await?;
        } else if links.is_empty() && own_first {
            ip_in(&ns, &["rule", "del", "pref", MAIN_PREF]).await?;
        }
        let mut present = Vec::new();
        for line in rules.lines() {
            let Some(rest) = line.strip_prefix(&format!("{RULE_PREF}:")) else { continue };
            let words: Vec<&str> = rest.split_whitespace().collect();
            let from = words.iter().position(|w| *w == "from").and_then(|i| words.get(i + 1));
            let table = words.iter().position(|w| *w == "lookup").and_then(|i| words.get(i + 1));
            if let (Some(from), Some(table)) = (from, table) {
                present.push((from.to_string(), table.to_string()));
            }
        }
        for (from, table) in &present {
            if !wanted.contains(&(from.clone(), table.clone())) {
                ip_in(&ns, &["rule", "del", "pref", RULE_PREF, "from", from, "lookup", table]).await?;
            }
        }
        for ((cidr, port), (_, table)) in links.iter().zip(&wanted) {
            if !present.contains(&(cidr.clone(), table.clone())) {
                ip_in(&ns, &["rule", "add", "pref", RULE_PREF, "from", cidr, "lookup", table]).await?;
            }
            let qn = format!("qn-{}", short(port));
            if link_exists(&ns, &qn).await {
                ip_in(
                    &ns,
                    &["route", "replace", "default", "via", ROUTER_LINK_IP, "dev", &qn, "onlink", "table", table],
                )
                .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RouterSpec {
        RouterSpec {
            id: "r1".into(),
            gateway: Some(GatewaySpec {
                port_id: "aaaaaaaa-1".into(),
                address: "198.18.0.2".into(),
                prefix: 16,
                next_hop: Some("198.18.0.1".into()),
                external_network_id: "e".into(),
                bridge: "br-eeeeeeee".into(),
            }),
            interfaces: vec![
                InterfaceSpec { port_id: "bbbbbbbb-1".into(), network_id: "n1".into(), cidr: "10.0.1.0/24".into() },
                InterfaceSpec { port_id: "cccccccc-1".into(), network_id: "n2".into(), cidr: "10.0.2.0/24".into() },
            ],
            routes: vec![],
            snat: true,
            floating: vec![FloatingSpec { address: "198.18.0.9".into(), fixed: "10.0.1.5".into(), mbit: 5 }],
            dnat_rules: vec![DnatSpec {
                eip: "198.18.0.10".into(),
                protocol: "tcp".into(),
                external_port: 8080,
                internal_ip: "10.0.2.7".into(),
                internal_port: 80,
                count: 2,
            }],
            snat_rules: vec![
                ("10.0.2.0/24".into(), vec!["198.18.0.10".into()]),
                ("10.0.1.0/25".into(), vec!["198.18.0.10".into(), "198.18.0.11".into()]),
            ],
            nat_eips: vec![("198.18.0.10".into(), 10)],
        }
    }

    #[test]
    fn floating_ips_come_before_the_routers_own_snat() {
        let r = nat_ruleset(&spec());
        let fip = r.find("oifname \"qg-aaaaaaaa\" ip saddr 10.0.1.5 snat to 198.18.0.9").expect(&r);
        let snat =
            r.find("oifname \"qg-aaaaaaaa\" ip saddr { 10.0.1.0/24, 10.0.2.0/24 } snat to 198.18.0.2").expect(&r);
        assert!(fip < snat, "{r}");
        assert!(r.contains("ip daddr 198.18.0.9 dnat to 10.0.1.5"), "{r}");
        assert!(r.contains("ip daddr 198.18.0.10 tcp dport 8080 dnat to 10.0.2.7:80"), "{r}");
        assert!(r.contains("ip daddr 198.18.0.10 tcp dport 8081 dnat to 10.0.2.7:81"), "a range, port by port: {r}");
        assert!(r.contains("ip saddr 10.0.2.0/24 snat to 198.18.0.10\n"), "{r}");
        assert!(
            r.contains("ip saddr 10.0.1.0/25 snat to jhash ip saddr mod 2 map { 0 : 198.18.0.10, 1 : 198.18.0.11 }"),
            "{r}"
        );
        let nat_snat = r.find("ip saddr 10.0.2.0/24 snat").expect(&r);
        let router_snat = r.find("snat to 198.18.0.2").expect(&r);
        assert!(nat_snat < router_snat, "NAT gateway rules before the router's own SNAT: {r}");
        let mut no_snat = spec();
        no_snat.snat = false;
        assert!(!nat_ruleset(&no_snat).contains("198.18.0.2"), "SNAT off: only the floating IPs");
        no_snat.gateway = None;
        assert_eq!(nat_ruleset(&no_snat), "", "no gateway, no NAT");
    }

    #[test]
    fn each_address_is_shaped_both_ways() {
        let scripts = shaping_scripts(&spec());
        let devices: Vec<&str> = scripts.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(devices, vec!["qg-aaaaaaaa", "qr-bbbbbbbb"]);
        let out = &scripts[0].1;
        assert!(out.contains("classid 1:10 htb rate 5mbit ceil 5mbit"), "{out}");
        assert!(out.contains("match ip src 198.18.0.9/32 flowid 1:10"), "{out}");
        assert!(out.contains("classid 1:11 htb rate 10mbit"), "the NAT EIP: {out}");
        let inward = &scripts[1].1;
        assert!(inward.contains("match ip dst 10.0.1.5/32 flowid 1:10"), "{inward}");
        let mut none = spec();
        none.floating.clear();
        none.nat_eips.clear();
        assert!(shaping_scripts(&none).is_empty());
    }

    #[test]
    fn interface_tables_are_stable_and_outside_the_reserved_ones() {
        let t = interface_table("0123abcd-ffff");
        assert_eq!(t, interface_table("0123abcd-0000"));
        assert!(t > 0x0fff_ffff);
    }
}
