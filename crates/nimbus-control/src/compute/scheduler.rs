//! The scheduler: picks a host (and availability zone) for a new server.
//!
//! Filters as Nova's do: the requested zone, capacity with the configured CPU and RAM
//! over-commit, and the server group's policy; then weighs by free RAM (spreading load). A
//! request no host can take fails with Nova's "No valid host was found" fault instead of
//! waiting. The function is pure: the caller gathers the hosts' usage inside the create's
//! transaction, so two concurrent creates cannot both take the last slot.

/// One compute host as the scheduler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostState {
    pub name: String,
    /// Zones this host serves.
    pub zones: Vec<String>,
    pub vcpus: i64,
    pub memory_mb: i64,
    /// vCPUs and RAM already placed on it.
    pub used_vcpus: i64,
    pub used_memory_mb: i64,
}

/// Over-commit settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratios {
    pub cpu: f64,
    pub ram: f64,
}

/// A server group's policy and where its members already run.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlacement {
    pub policy: String,
    pub member_hosts: Vec<String>,
    /// `max_server_per_host` of an anti-affinity rule (default 1).
    pub max_per_host: i64,
}

/// What a server needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub zone: Option<&'a str>,
    pub group: Option<&'a GroupPlacement>,
}

/// The fault message of a failed placement (Nova's wording, which clients match on).
pub const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

/// Chooses a host for `req`; `Err` carries why none fits.
pub fn place(hosts: &[HostState], ratios: Ratios, req: &Request) -> Result<usize, String> {
    let mut why = Vec::new();
    let candidates: Vec<usize> = (0..hosts.len())
        .filter(|&i| {
            let h = &hosts[i];
            if let Some(z) = req.zone {
                if !h.zones.iter().any(|hz| hz == z) {
                    why.push(format!("{}: not in zone {z}", h.name));
                    return false;
                }
            }
            let cpu_cap = (h.vcpus as f64 * ratios.cpu).floor() as i64;
            let ram_cap = (h.memory_mb as f64 * ratios.ram).floor() as i64;
            if h.used_vcpus + req.vcpus > cpu_cap {
                why.push(format!("{}: {} of {cpu_cap} vCPUs in use", h.name, h.used_vcpus));
                return false;
            }
            if h.used_memory_mb + req.memory_mb > ram_cap {
                why.push(format!("{}: {} of {ram_cap} MiB in use", h.name, h.used_memory_mb));
                return false;
            }
            if let Some(g) = req.group {
                let here = g.member_hosts.iter().filter(|m| **m == h.name).count() as i64;
                let ok = match g.policy.as_str() {
                    "affinity" => g.member_hosts.is_empty() || here > 0,
                    "anti-affinity" => here < g.max_per_host.max(1),
                    _ => true,
                };
                if !ok {
                    why.push(format!("{}: server group policy {}", h.name, g.policy));
                    return false;
                }
            }
            true
        })
        .collect();
    let best = |pool: &[usize]| {
        pool.iter().copied().max_by_key(|&i| {
            let h = &hosts[i];
            ((h.memory_mb as f64 * ratios.ram) as i64 - h.used_memory_mb, std::cmp::Reverse(i))
        })
    };
    // Soft policies prefer (not require) sharing or spreading.
    if let Some(g) = req.group {
        let preferred: Vec<usize> = match g.policy.as_str() {
            "soft-affinity" => {
                candidates.iter().copied().filter(|&i| g.member_hosts.contains(&hosts[i].name)).collect()
            }
            "soft-anti-affinity" => {
                candidates.iter().copied().filter(|&i| !g.member_hosts.contains(&hosts[i].name)).collect()
            }
            _ => Vec::new(),
        };
        if let Some(i) = best(&preferred) {
            return Ok(i);
        }
    }
    best(&candidates).ok_or_else(|| format!("{NO_VALID_HOST} ({})", why.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, zone: &str, vcpus: i64, mem: i64) -> HostState {
        HostState {
            name: name.into(),
            zones: vec![zone.into()],
            vcpus,
            memory_mb: mem,
            used_vcpus: 0,
            used_memory_mb: 0,
        }
    }

    const R: Ratios = Ratios { cpu: 2.0, ram: 1.0 };

    #[test]
    fn zones_capacity_and_overcommit() {
        let mut hosts = vec![host("a", "z1", 2, 4096), host("b", "z2", 2, 8192)];
        let req = Request { vcpus: 4, memory_mb: 1024, zone: None, group: None };
        // The emptiest host (most free RAM) wins.
        assert_eq!(place(&hosts, R, &req), Ok(1));
        assert_eq!(place(&hosts, R, &Request { zone: Some("z1"), ..req.clone() }), Ok(0));
        let err = place(&hosts, R, &Request { zone: Some("z9"), ..req.clone() }).unwrap_err();
        assert!(err.starts_with(NO_VALID_HOST), "{err}");
        // Over-commit: 2 physical CPUs at ratio 2 hold 4 vCPUs, not 5.
        assert!(place(&hosts, R, &Request { vcpus: 5, ..req.clone() }).is_err());
        hosts[1].used_memory_mb = 8000;
        assert_eq!(place(&hosts, R, &req), Ok(0));
        hosts[0].used_memory_mb = 4000;
        let err = place(&hosts, R, &req).unwrap_err();
        assert!(err.contains("MiB in use"), "{err}");
    }

    #[test]
    fn server_group_policies() {
        let hosts = vec![host("a", "z", 8, 8192), host("b", "z", 8, 4096)];
        let with_group = |policy: &str, members: &[&str]| {
            let g = GroupPlacement {
                policy: policy.into(),
                member_hosts: members.iter().map(|m| m.to_string()).collect(),
                max_per_host: 1,
            };
            place(&hosts, R, &Request { vcpus: 1, memory_mb: 512, zone: None, group: Some(&g) })
        };
        assert_eq!(with_group("affinity", &["b"]), Ok(1));
        assert_eq!(with_group("anti-affinity", &["a"]), Ok(1));
        assert!(with_group("anti-affinity", &["a", "b"]).is_err());
        assert_eq!(with_group("soft-anti-affinity", &["a"]), Ok(1));
        // Soft policies fall back instead of failing.
        assert_eq!(with_group("soft-anti-affinity", &["a", "b"]), Ok(0));
        assert_eq!(with_group("soft-affinity", &["b"]), Ok(1));
    }
}
