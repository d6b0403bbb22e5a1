//! IPv4 address management: CIDR and pool validation, and the lowest free address of a
//! subnet's allocation pools. An allocation is made race-free by the store (a fixed IP is
//! unique in its subnet): a caller that loses a race retries with the next free address.

use ipnet::Ipv4Net;
use nimbus_core::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// The ranges the seed allows for private networks (6.3.1).
pub const PRIVATE_RANGES: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// An allocation pool: the first and last address handed out from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

/// A static route handed to hosts of a subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::bad_request(format!("Invalid input for operation: {}", msg.into()))
}

/// Parses a CIDR that names a network exactly (no host bits), as Neutron requires.
pub fn parse_cidr(cidr: &str) -> Result<Ipv4Net, Error> {
    let net: Ipv4Net = cidr.trim().parse().map_err(|_| invalid(format!("'{cidr}' is not a valid IPv4 CIDR.")))?;
    if net.trunc() != net {
        return Err(invalid(format!("'{cidr}' isn't a recommended CIDR: did you mean '{}'?", net.trunc())));
    }
    if net.prefix_len() > 30 {
        return Err(invalid(format!("'{cidr}' is too small for a subnet: its prefix must be /30 or shorter.")));
    }
    Ok(net)
}

/// Parses an IPv4 address.
pub fn parse_ip(ip: &str) -> Result<Ipv4Addr, Error> {
    ip.trim().parse().map_err(|_| invalid(format!("'{ip}' is not a valid IPv4 address.")))
}

/// Whether a network lies within the seed's private ranges.
pub fn is_private(net: &Ipv4Net) -> bool {
    PRIVATE_RANGES.iter().any(|r| r.parse::<Ipv4Net>().is_ok_and(|p| p.contains(net)))
}

/// Whether an address can be given to a host of `net` (not its network or broadcast
/// address).
pub fn is_host(net: &Ipv4Net, ip: Ipv4Addr) -> bool {
    net.contains(&ip) && ip != net.network() && ip != net.broadcast()
}

/// The default gateway of a subnet: its first host address.
pub fn default_gateway(net: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + 1)
}

/// The default pools: every host address but the gateway.
pub fn default_pools(net: &Ipv4Net, gateway: Option<Ipv4Addr>) -> Vec<Pool> {
    let first = u32::from(net.network()) + 1;
    let last = u32::from(net.broadcast()) - 1;
    match gateway.map(u32::from).filter(|g| (first..=last).contains(g)) {
        None => vec![Pool { start: first.into(), end: last.into() }],
        Some(g) => {
            let mut pools = Vec::new();
            if g > first {
                pools.push(Pool { start: first.into(), end: (g - 1).into() });
            }
            if g < last {
                pools.push(Pool { start: (g + 1).into(), end: last.into() });
            }
            pools
        }
    }
}

/// Checks pools against their subnet: inside it, on host addresses, ordered, disjoint, and
/// not holding the gateway.
pub fn check_pools(net: &Ipv4Net, pools: &[Pool], gateway: Option<Ipv4Addr>) -> Result<(), Error> {
    let mut sorted = pools.to_vec();
    sorted.sort_by_key(|p| u32::from(p.start));
    for p in &sorted {
        if u32::from(p.start) > u32::from(p.end) {
            return Err(invalid(format!("the allocation pool {}-{} ends before it starts.", p.start, p.end)));
        }
        if !is_host(net, p.start) || !is_host(net, p.end) {
            return Err(invalid(format!(
                "the allocation pool {}-{} spans beyond the subnet cidr {net}.",
                p.start, p.end
            )));
        }
        if let Some(g) = gateway {
            if (u32::from(p.start)..=u32::from(p.end)).contains(&u32::from(g)) {
                return Err(Error::Conflict(format!(
                    "Gateway ip {g} conflicts with allocation pool {}-{}.",
                    p.start, p.end
                )));
            }
        }
    }
    for w in sorted.windows(2) {
        if u32::from(w[1].start) <= u32::from(w[0].end) {
            return Err(invalid(format!(
                "found overlapping allocation pools: {}-{} and {}-{}.",
                w[0].start, w[0].end, w[1].start, w[1].end
            )));
        }
    }
    Ok(())
}

/// The lowest address of `pools` not in `used` (skipping `skip`, addresses that lost a race).
pub fn first_free(pools: &[Pool], used: &HashSet<Ipv4Addr>, skip: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let mut sorted = pools.to_vec();
    sorted.sort_by_key(|p| u32::from(p.start));
    for p in sorted {
        for n in u32::from(p.start)..=u32::from(p.end) {
            let ip = Ipv4Addr::from(n);
            if !used.contains(&ip) && !skip.contains(&ip) {
                return Some(ip);
            }
        }
    }
    None
}

/// Checks a subnet's host routes (valid destination CIDR and next hop).
pub fn check_routes(routes: &[HostRoute]) -> Result<(), Error> {
    for r in routes {
        let dest: Ipv4Net = r
            .destination
            .parse()
            .map_err(|_| invalid(format!("'{}' is not a valid route destination.", r.destination)))?;
        if dest.trunc() != dest {
            return Err(invalid(format!("'{}' is not a valid route destination.", r.destination)));
        }
        parse_ip(&r.nexthop)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_gateways_and_pools() {
        assert!(parse_cidr("10.0.0.0/24").is_ok());
        assert!(parse_cidr("10.0.0.5/24").is_err(), "host bits set");
        assert!(parse_cidr("10.0.0.0/31").is_err(), "too small");
        assert!(parse_cidr("fe80::/64").is_err(), "IPv6");
        let net = parse_cidr("192.168.1.0/24").unwrap();
        assert!(is_private(&net));
        assert!(!is_private(&parse_cidr("8.8.8.0/24").unwrap()));
        assert!(!is_private(&parse_cidr("172.32.0.0/16").unwrap()));
        let gw = default_gateway(&net);
        assert_eq!(gw, Ipv4Addr::new(192, 168, 1, 1));
        let pools = default_pools(&net, Some(gw));
        assert_eq!(pools, vec![Pool { start: Ipv4Addr::new(192, 168, 1, 2), end: Ipv4Addr::new(192, 168, 1, 254) }]);
        // A gateway in the middle splits the range.
        let mid = default_pools(&net, Some(Ipv4Addr::new(192, 168, 1, 100)));
        assert_eq!(mid.len(), 2);
        assert!(check_pools(&net, &mid, Some(Ipv4Addr::new(192, 168, 1, 100))).is_ok());
        assert!(check_pools(&net, &pools, Some(Ipv4Addr::new(192, 168, 1, 9))).is_err(), "gateway in a pool");
        let overlapping = [
            Pool { start: Ipv4Addr::new(192, 168, 1, 10), end: Ipv4Addr::new(192, 168, 1, 20) },
            Pool { start: Ipv4Addr::new(192, 168, 1, 15), end: Ipv4Addr::new(192, 168, 1, 30) },
        ];
        assert!(check_pools(&net, &overlapping, None).is_err());
        let outside = [Pool { start: Ipv4Addr::new(192, 168, 2, 1), end: Ipv4Addr::new(192, 168, 2, 5) }];
        assert!(check_pools(&net, &outside, None).is_err());
        let broadcast = [Pool { start: Ipv4Addr::new(192, 168, 1, 250), end: Ipv4Addr::new(192, 168, 1, 255) }];
        assert!(check_pools(&net, &broadcast, None).is_err());
    }

    #[test]
    fn the_lowest_free_address_skips_used_and_lost_ones() {
        let pools = [
            Pool { start: Ipv4Addr::new(10, 0, 0, 10), end: Ipv4Addr::new(10, 0, 0, 11) },
            Pool { start: Ipv4Addr::new(10, 0, 0, 2), end: Ipv4Addr::new(10, 0, 0, 3) },
        ];
        let used: HashSet<Ipv4Addr> = [Ipv4Addr::new(10, 0, 0, 2)].into();
        let lost: HashSet<Ipv4Addr> = [Ipv4Addr::new(10, 0, 0, 3)].into();
        assert_eq!(first_free(&pools, &used, &HashSet::new()), Some(Ipv4Addr::new(10, 0, 0, 3)));
        assert_eq!(first_free(&pools, &used, &lost), Some(Ipv4Addr::new(10, 0, 0, 10)));
        let full: HashSet<Ipv4Addr> = (2..=3).chain(10..=11).map(|n| Ipv4Addr::new(10, 0, 0, n)).collect();
        assert_eq!(first_free(&pools, &full, &HashSet::new()), None);
    }
}
