//! Security groups as nftables rules (seed 6.3.4): the ruleset of one network's namespace,
//! built from its ports, their groups and the groups' rules.
//!
//! Bridged IPv4 traffic goes through the namespace's forward hook, where a port is known by
//! its fixed addresses. Replies of allowed traffic pass (connection tracking). Traffic from a
//! port first goes through its egress chain (an allowed packet returns, anything else is
//! dropped), then traffic to a port through its ingress chain (allowed: accepted, else
//! dropped). A port without port security, or in no group, is not filtered. Traffic to the
//! namespace itself (the gateway, DHCP) is not forwarded, so it is not filtered here.
//!
//! Anti-spoofing (seed 6.4.1), in a bridge table of the same namespace: what a port's TAP
//! sends must carry the port's MAC and one of its addresses (or of its allowed address pairs),
//! ARP included; a DHCP request from 0.0.0.0 passes; IPv6 (not offered) does not. Without it
//! a guest could send as another and pass both its own and the other's filter.

use nimbus_store::network::{Port, SecurityGroupRule};
use std::collections::HashMap;
use std::fmt::Write;

/// A port as the filter sees it: its chains' suffix, its addresses, its groups.
pub struct FilteredPort<'a> {
    pub port: &'a Port,
    pub addresses: Vec<String>,
    pub groups: Vec<String>,
}

fn set_of(addresses: &[String]) -> String {
    match addresses {
        [one] => one.clone(),
        many => format!("{{ {} }}", many.join(", ")),
    }
}

/// The match of a rule's protocol and ports (empty: any).
fn protocol_match(r: &SecurityGroupRule) -> String {
    let Some(p) = r.protocol.as_deref() else { return String::new() };
    let number = match p {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        "sctp" => 132,
        "dccp" => 33,
        "udplite" => 136,
        other => match other.parse::<u8>() {
            Ok(n) => n,
            // Named protocols nftables knows by name.
            Err(_) => return format!("meta l4proto {other} "),
        },
    };
    match number {
        6 | 17 | 132 | 33 | 136 => {
            let name = match number {
                6 => "tcp",
                17 => "udp",
                132 => "sctp",
                33 => "dccp",
                _ => "udplite",
            };
            match (r.port_range_min, r.port_range_max) {
                (Some(a), Some(b)) if a == b => format!("{name} dport {a} "),
                (Some(a), Some(b)) => format!("{name} dport {a}-{b} "),
                (Some(a), None) => format!("{name} dport {a} "),
                _ => format!("meta l4proto {name} "),
            }
        }
        1 => match (r.port_range_min, r.port_range_max) {
            (Some(t), Some(c)) => format!("icmp type {t} icmp code {c} "),
            (Some(t), None) => format!("icmp type {t} "),
            _ => "meta l4proto icmp ".into(),
        },
        n => format!("meta l4proto {n} "),
    }
}

/// The nftables table body for one network's ports. `members` gives every group's member
/// addresses (for rules naming a remote group).
pub fn ruleset(
    ports: &[FilteredPort<'_>],
    rules: &HashMap<String, Vec<SecurityGroupRule>>,
    members: &HashMap<String, Vec<String>>,
) -> String {
    let mut forward = String::from(
        "  chain forward {\n    type filter hook forward priority 0; policy accept;\n    ct state established,related accept\n    ct state invalid drop\n",
    );
    let mut chains = String::new();
    let filtered: Vec<&FilteredPort> = ports
        .iter()
        .filter(|p| p.port.port_security_enabled && !p.groups.is_empty() && !p.addresses.is_empty())
        .collect();
    for p in &filtered {
        let tag = nimbus_drivers::netns::short(&p.port.id);
        let _ = writeln!(forward, "    ip saddr {} jump eg_{tag}", set_of(&p.addresses));
    }
    for p in &filtered {
        let tag = nimbus_drivers::netns::short(&p.port.id);
        let _ = writeln!(forward, "    ip daddr {} jump in_{tag}", set_of(&p.addresses));
    }
    forward.push_str("  }\n");
    for p in &filtered {
        let tag = nimbus_drivers::netns::short(&p.port.id);
        let mut ingress = format!("  chain in_{tag} {{\n");
        let mut egress = format!("  chain eg_{tag} {{\n");
        for g in &p.groups {
            for r in rules.get(g).into_iter().flatten().filter(|r| r.ethertype == "IPv4") {
                let (field, chain, verdict) = match r.direction.as_str() {
                    "ingress" => ("saddr", &mut ingress, "accept"),
                    _ => ("daddr", &mut egress, "return"),
                };
                let remote = match (&r.remote_ip_prefix, &r.remote_group_id) {
                    (Some(prefix), _) => format!("ip {field} {prefix} "),
                    (None, Some(group)) => match members.get(group).filter(|m| !m.is_empty()) {
                        Some(m) => format!("ip {field} {} ", set_of(m)),
                        // An empty group matches no one.
                        None => continue,
                    },
                    (None, None) => String::new(),
                };
                let _ = writeln!(chain, "    {remote}{}{verdict}", protocol_match(r));
            }
        }
        ingress.push_str("    drop\n  }\n");
        egress.push_str("    drop\n  }\n");
        chains.push_str(&ingress);
        chains.push_str(&egress);
    }
    forward + &chains
}

/// The allowed address pairs of a port: (address or CIDR, MAC).
fn address_pairs(p: &Port) -> Vec<(String, String)> {
    serde_json::from_str::<Vec<serde_json::Value>>(&p.allowed_address_pairs)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| Some((v["ip_address"].as_str()?.to_string(), v["mac_address"].as_str()?.to_string())))
        .collect()
}

/// The body of the bridge table `nimbus_as`: each port with port security only sends from
/// its MAC and addresses (and its allowed address pairs').
pub fn antispoof(ports: &[FilteredPort<'_>]) -> String {
    let mut pre = String::from("  chain prerouting {\n    type filter hook prerouting priority -200; policy accept;\n");
    let mut chains = String::new();
    for p in ports.iter().filter(|p| p.port.port_security_enabled && !p.port.device_owner.starts_with("network:")) {
        let tag = nimbus_drivers::netns::short(&p.port.id);
        let tap = nimbus_drivers::netns::tap_name(&p.port.id);
        let pairs = address_pairs(p.port);
        let mut macs = vec![p.port.mac_address.clone()];
        let mut ips = p.addresses.clone();
        for (ip, mac) in pairs {
            if !macs.contains(&mac) {
                macs.push(mac);
            }
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        let _ = writeln!(pre, "    iifname \"{tap}\" jump as_{tag}");
        let _ = writeln!(chains, "  chain as_{tag} {{");
        let _ = writeln!(chains, "    ether saddr != {} drop", set_of(&macs));
        let _ = writeln!(chains, "    ether type arp arp saddr ip 0.0.0.0 return");
        if ips.is_empty() {
            let _ = writeln!(chains, "    ether type arp drop");
        } else {
            let _ = writeln!(chains, "    ether type arp arp saddr ip != {} drop", set_of(&ips));
        }
        let _ = writeln!(chains, "    ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 return");
        if ips.is_empty() {
            let _ = writeln!(chains, "    ether type ip drop");
        } else {
            let _ = writeln!(chains, "    ether type ip ip saddr != {} drop", set_of(&ips));
        }
        let _ = writeln!(chains, "    ether type ip6 drop\n    return\n  }}");
    }
    pre.push_str("  }\n");
    pre + &chains
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(id: &str, security: bool) -> Port {
        Port {
            id: id.into(),
            project_id: "p".into(),
            network_id: "n".into(),
            name: String::new(),
            description: String::new(),
            mac_address: "fa:16:3e:00:00:01".into(),
            admin_state_up: true,
            status: "ACTIVE".into(),
            device_id: String::new(),
            device_owner: String::new(),
            port_security_enabled: security,
            allowed_address_pairs: "[]".into(),
            created_at: 0,
            updated_at: 0,
            revision_number: 1,
            delete_with_device: false,
        }
    }

    fn rule(
        group: &str,
        direction: &str,
        protocol: Option<&str>,
        ports: (Option<i64>, Option<i64>),
        remote: (Option<&str>, Option<&str>),
    ) -> SecurityGroupRule {
        SecurityGroupRule {
            id: "r".into(),
            project_id: "p".into(),
            security_group_id: group.into(),
            direction: direction.into(),
            ethertype: "IPv4".into(),
            protocol: protocol.map(str::to_string),
            port_range_min: ports.0,
            port_range_max: ports.1,
            remote_ip_prefix: remote.0.map(str::to_string),
            remote_group_id: remote.1.map(str::to_string),
            description: String::new(),
            created_at: 0,
            updated_at: 0,
            revision_number: 1,
        }
    }

    #[test]
    fn rules_become_per_port_chains() {
        let (web, client, open) = (port("aaaaaaaa-1", true), port("bbbbbbbb-2", true), port("cccccccc-3", false));
        let ports = vec![
            FilteredPort { port: &web, addresses: vec!["10.0.0.11".into()], groups: vec!["web".into()] },
            FilteredPort { port: &client, addresses: vec!["10.0.0.12".into()], groups: vec!["default".into()] },
            FilteredPort { port: &open, addresses: vec!["10.0.0.13".into()], groups: vec!["default".into()] },
        ];
        let mut rules = HashMap::new();
        rules.insert(
            "web".to_string(),
            vec![
                rule("web", "ingress", Some("tcp"), (Some(80), Some(80)), (Some("10.0.0.0/28"), None)),
                rule("web", "ingress", Some("icmp"), (Some(8), None), (None, Some("default"))),
                rule("web", "egress", None, (None, None), (None, None)),
            ],
        );
        rules
            .insert("default".to_string(), vec![rule("default", "ingress", None, (None, None), (None, Some("empty")))]);
        let members = HashMap::from([("default".to_string(), vec!["10.0.0.12".to_string(), "10.0.0.13".to_string()])]);
        let r = ruleset(&ports, &rules, &members);
        assert!(r.contains("ip saddr 10.0.0.11 jump eg_aaaaaaaa"), "{r}");
        assert!(r.contains("ip daddr 10.0.0.11 jump in_aaaaaaaa"), "{r}");
        assert!(r.contains("ip saddr 10.0.0.0/28 tcp dport 80 accept"), "{r}");
        assert!(r.contains("ip saddr { 10.0.0.12, 10.0.0.13 } icmp type 8 accept"), "{r}");
        assert!(r.contains("chain eg_aaaaaaaa {\n    return\n    drop"), "egress returns to the ingress checks: {r}");
        // A rule naming an empty group matches no one: the client's ingress only drops.
        assert!(r.contains("chain in_bbbbbbbb {\n    drop"), "{r}");
        // A port without port security is not filtered.
        assert!(!r.contains("cccccccc"), "{r}");
    }

    #[test]
    fn ports_send_only_as_themselves() {
        let mut web = port("aaaaaaaa-1", true);
        web.allowed_address_pairs = r#"[{"ip_address": "10.0.0.100", "mac_address": "fa:16:3e:00:00:99"}]"#.into();
        let open = port("cccccccc-3", false);
        let ports = vec![
            FilteredPort { port: &web, addresses: vec!["10.0.0.11".into()], groups: vec![] },
            FilteredPort { port: &open, addresses: vec!["10.0.0.13".into()], groups: vec![] },
        ];
        let r = antispoof(&ports);
        assert!(r.contains("iifname \"tapaaaaaaaa\" jump as_aaaaaaaa"), "{r}");
        assert!(r.contains("ether saddr != { fa:16:3e:00:00:01, fa:16:3e:00:00:99 } drop"), "{r}");
        assert!(r.contains("ip saddr != { 10.0.0.11, 10.0.0.100 } drop"), "{r}");
        assert!(r.contains("arp saddr ip != { 10.0.0.11, 10.0.0.100 } drop"), "{r}");
        assert!(!r.contains("cccccccc"), "no port security, no anti-spoofing: {r}");
    }
}
