//! Linux networking of a region's virtual networks, inside network namespaces this process
//! creates (nothing touches the machine's own networks): one namespace per network, a
//! bridge per subnet holding its gateway address, and a DHCP and DNS server (dnsmasq from
//! Debian) per network: DHCP for its subnets with DHCP on, answering only the ports' own
//! MAC/IP pairs; DNS on the gateway addresses for the zones the network sees.
//!
//! Every call is idempotent: the network reconciler calls them with the store's desired
//! state on every pass, and after a restart. Names are derived from ids, so the world can be
//! listed back and anything the store no longer names removed. What this driver starts
//! (dnsmasq) is recorded under `<root>/<namespace>/` (config, hosts file, pid file).

use nimbus_core::Error;
use std::path::{Path, PathBuf};

/// Prefix of the namespaces of a region's networks (`nbn-<8 hex of the network id>`).
pub const NETNS_PREFIX: &str = "nbn-";

/// A guest NIC: a TAP device in its network's namespace, plugged into its subnet's bridge,
/// handed to the guest's QEMU as an open file descriptor (QEMU stays in the host's
/// namespace, so a guest may have NICs in several networks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicSpec {
    /// The port id.
    pub port_id: String,
    pub mac: String,
    pub namespace: String,
    pub tap: String,
    pub bridge: String,
    pub mtu: i64,
}

/// The TAP device of a port.
pub fn tap_name(port_id: &str) -> String {
    format!("tap{}", short(port_id))
}

/// Opens the TAP device `tap` inside namespace `ns` (creating it: it lasts as long as a
/// descriptor of it is open) and returns the descriptor. Blocking: a thread of its own
/// enters the namespace, so the caller's stays where it is.
pub fn open_tap(ns: &str, tap: &str) -> Result<std::os::fd::OwnedFd, Error> {
    use std::os::fd::AsRawFd;
    if tap.len() >= libc::IFNAMSIZ {
        return Err(Error::Internal(format!("TAP name {tap} is too long")));
    }
    let ns_path = Path::new("/run/netns").join(ns);
    let tap = tap.to_string();
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<std::os::fd::OwnedFd, Error> {
                let ns_file =
                    std::fs::File::open(&ns_path).map_err(|e| io(&format!("opening {}", ns_path.display()), e))?;
                // SAFETY: setns(2) on a descriptor we own; it moves only this thread, which
                // ends when this closure returns.
                if unsafe { libc::setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io("entering the network namespace", std::io::Error::last_os_error()));
                }
                let tun = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/net/tun")
                    .map_err(|e| io("opening /dev/net/tun", e))?;
                // SAFETY: ifreq is plain data; zeroed is a valid value.
                let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
                for (dst, src) in req.ifr_name.iter_mut().zip(tap.bytes()) {
                    *dst = src as libc::c_char;
                }
                req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
                // SAFETY: TUNSETIFF reads the ifreq we pass, which outlives the call.
                if unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &req) } != 0 {
                    return Err(io(&format!("creating TAP {tap}"), std::io::Error::last_os_error()));
                }
                Ok(tun.into())
            })
            .join()
            .map_err(|_| Error::Internal("the TAP thread panicked".into()))?
    })
}

/// Plugs a TAP into its bridge (up, at the network's MTU). Idempotent.
pub async fn plug_tap(nic: &NicSpec) -> Result<(), Error> {
    ip_in(&nic.namespace, &["link", "set", &nic.tap, "mtu", &nic.mtu.to_string(), "master", &nic.bridge, "up"]).await?;
    Ok(())
}

/// A subnet as its namespace carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetSpec {
    pub id: String,
    /// `192.168.1.0/24`.
    pub cidr: String,
    pub gateway: Option<String>,
    pub dhcp: bool,
    pub dns_servers: Vec<String>,
    /// (destination CIDR, next hop).
    pub routes: Vec<(String, String)>,
    /// The ports' (MAC, IP) pairs on this subnet: the only hosts DHCP answers.
    pub hosts: Vec<(String, String)>,
    pub mtu: i64,
}

/// A DNS record as the network's DNS server answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Lower case, with the trailing dot.
    pub name: String,
    pub rtype: String,
    pub values: Vec<String>,
}

/// The zones a network's DNS server is authoritative for, with their records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsSpec {
    /// Zone names (lower case, with the trailing dot).
    pub zones: Vec<String>,
    pub records: Vec<DnsRecord>,
}

impl DnsSpec {
    /// The dnsmasq configuration answering these zones: names of a zone it has no record of
    /// get NXDOMAIN (never forwarded). Types dnsmasq cannot hold (NS, SOA, CAA) are left out.
    pub fn dnsmasq_conf(&self) -> String {
        let bare = |n: &str| n.trim_end_matches('.').to_string();
        let mut out = String::new();
        for z in &self.zones {
            out.push_str(&format!("local=/{}/\n", bare(z)));
        }
        for r in &self.records {
            let name = bare(&r.name);
            for v in &r.values {
                let line = match r.rtype.as_str() {
                    "A" | "AAAA" => format!("host-record={name},{v}"),
                    "CNAME" => format!("cname={name},{}", bare(v)),
                    "PTR" => format!("ptr-record={name},{}", bare(v)),
                    "TXT" => format!("txt-record={name},{v}"),
                    "MX" => match v.split_once(' ') {
                        Some((pref, host)) => format!("mx-host={name},{},{pref}", bare(host)),
                        None => continue,
                    },
                    "SRV" => match v.split_whitespace().collect::<Vec<_>>().as_slice() {
                        [prio, weight, port, host] => format!("srv-host={name},{},{port},{prio},{weight}", bare(host)),
                        _ => continue,
                    },
                    _ => continue,
                };
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

pub(crate) fn io(what: &str, e: std::io::Error) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// The 8 hex characters of an id that name its devices.
pub fn short(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_hexdigit()).take(8).collect::<String>().to_ascii_lowercase()
}

/// The namespace of a network.
pub fn namespace(network_id: &str) -> String {
    format!("{NETNS_PREFIX}{}", short(network_id))
}

/// The bridge of a subnet (inside its network's namespace).
pub fn bridge(subnet_id: &str) -> String {
    format!("br-{}", short(subnet_id))
}

pub(crate) async fn run(program: &str, args: &[&str]) -> Result<String, Error> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| io(&format!("running {program}"), e))?;
    if !out.status.success() {
        return Err(Error::Internal(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip -n <ns> ...`.
pub(crate) async fn ip_in(ns: &str, args: &[&str]) -> Result<String, Error> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all).await
}

/// The virtual networks of one region.
#[derive(Debug, Clone)]
pub struct NetworkPlane {
    pub(crate) root: PathBuf,
}

impl NetworkPlane {
    /// Keeps its files under `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(NetworkPlane { root })
    }

    /// Whether this process can build namespaces (root, `ip` and `dnsmasq` present): a
    /// namespace is made and removed to find out.
    pub async fn available() -> bool {
        let probe = format!("nbprobe-{}", std::process::id());
        if run("ip", &["netns", "add", &probe]).await.is_err() {
            return false;
        }
        let _ = run("ip", &["netns", "del", &probe]).await;
        tokio::fs::try_exists("/usr/sbin/dnsmasq").await.unwrap_or(false)
    }

    pub(crate) fn dir(&self, ns: &str) -> PathBuf {
        self.root.join(ns)
    }

    /// The namespaces of this region's networks that exist (those recorded under the root:
    /// other regions on the machine have their own).
    pub async fn namespaces(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        let mut rd = match tokio::fs::read_dir(&self.root).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("listing the network plane", e)),
        };
        while let Some(e) = rd.next_entry().await.map_err(|e| io("listing the network plane", e))? {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with(NETNS_PREFIX) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Makes a network's namespace (with its loopback up) if missing.
    pub async fn ensure_network(&self, network_id: &str) -> Result<String, Error> {
        let ns = namespace(network_id);
        tokio::fs::create_dir_all(self.dir(&ns)).await.map_err(|e| io("network plane dir", e))?;
        if !tokio::fs::try_exists(Path::new("/run/netns").join(&ns)).await.unwrap_or(false) {
            run("ip", &["netns", "add", &ns]).await?;
        }
        ip_in(&ns, &["link", "set", "lo", "up"]).await?;
        Ok(ns)
    }

    /// Removes a network's namespace with everything in it (its DHCP servers first).
    pub async fn remove_namespace(&self, ns: &str) -> Result<(), Error> {
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

    /// The bridges of a network's namespace (`br-...`).
    pub async fn bridges(&self, network_id: &str) -> Result<Vec<String>, Error> {
        let out = ip_in(&namespace(network_id), &["-o", "link", "show", "type", "bridge"]).await?;
        Ok(out
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap_or_default().to_string())
            .filter(|n| n.starts_with("br-"))
            .collect())
    }

    /// Makes a subnet's bridge (up, holding the gateway address, at the network's MTU).
    /// Idempotent.
    pub async fn ensure_subnet(&self, network_id: &str, s: &SubnetSpec) -> Result<(), Error> {
        let ns = namespace(network_id);
        let br = bridge(&s.id);
        if ip_in(&ns, &["link", "show", &br]).await.is_err() {
            ip_in(&ns, &["link", "add", &br, "type", "bridge"]).await?;
        }
        ip_in(&ns, &["link", "set", &br, "mtu", &s.mtu.to_string(), "up"]).await?;
        let prefix = s.cidr.split('/').nth(1).unwrap_or("24");
        // The gateway's address on the bridge; DHCP needs an address of the subnet to
        // answer from, the first host when there is no gateway.
        let own = match &s.gateway {
            Some(g) => g.clone(),
            None => first_host(&s.cidr)?,
        };
        ip_in(&ns, &["addr", "replace", &format!("{own}/{prefix}"), "dev", &br]).await?;
        Ok(())
    }

    /// Runs (or restarts) the network's DHCP and DNS server: one dnsmasq, handing out the
    /// addresses of the subnets with DHCP on (only their hosts' MAC/IP pairs, with each
    /// subnet's options) and answering DNS on every subnet's gateway address for the zones in
    /// `dns` (it is then the DNS server DHCP offers when a subnet names none). None runs when
    /// no subnet has DHCP and there is nothing to answer. Idempotent: unchanged, it is left
    /// alone.
    pub async fn ensure_dhcp(&self, network_id: &str, subnets: &[SubnetSpec], dns: &DnsSpec) -> Result<(), Error> {
        let ns = namespace(network_id);
        let dir = self.dir(&ns);
        let pid_file = dir.join("dhcp.pid");
        let served: Vec<&SubnetSpec> = subnets.iter().filter(|s| s.dhcp).collect();
        if served.is_empty() && dns.zones.is_empty() {
            stop_pid_file(&pid_file).await;
            return Ok(());
        }
        let mut hosts = String::new();
        let mut opts = String::new();
        for s in &served {
            let tag = format!("s{}", short(&s.id));
            for (mac, ip) in &s.hosts {
                hosts.push_str(&format!("{mac},set:{tag},{ip}\n"));
            }
            match &s.gateway {
                Some(g) => opts.push_str(&format!("tag:{tag},option:router,{g}\n")),
                None => opts.push_str(&format!("tag:{tag},option:router\n")),
            }
            if !s.dns_servers.is_empty() {
                opts.push_str(&format!("tag:{tag},option:dns-server,{}\n", s.dns_servers.join(",")));
            }
            if !s.routes.is_empty() {
                let mut classless: Vec<String> = s.routes.iter().map(|(d, h)| format!("{d},{h}")).collect();
                if let Some(g) = &s.gateway {
                    classless.push(format!("0.0.0.0/0,{g}"));
                }
                opts.push_str(&format!("tag:{tag},option:classless-static-route,{}\n", classless.join(",")));
            }
        }
        let hosts_file = dir.join("dhcp.hosts");
        let opts_file = dir.join("dhcp.opts");
        let dns_file = dir.join("dns.conf");
        let changed = write_if_changed(&hosts_file, &hosts).await?
            | write_if_changed(&opts_file, &opts).await?
            | write_if_changed(&dns_file, &dns.dnsmasq_conf()).await?;
        let mut ranges: Vec<String> = served
            .iter()
            .map(|s| {
                let (net, prefix) = s.cidr.split_once('/').unwrap_or((s.cidr.as_str(), "24"));
                Ok(format!("--dhcp-range=set:s{},{net},static,{},12h", short(&s.id), mask_of(prefix)?))
            })
            .collect::<Result<_, Error>>()?;
        // The MTU is sent whether asked for or not: a client that does not ask (busybox
        // udhcpc by default) would keep 1500 and its full-size frames would be lost on the
        // bridge, so that small exchanges work and bulk transfers stall.
        for s in &served {
            ranges.push(format!("--dhcp-option-force=tag:s{},option:mtu,{}", short(&s.id), s.mtu));
        }
        // DNS answers on every subnet's bridge; DHCP only where a range is set.
        let interfaces: Vec<String> = subnets.iter().map(|s| format!("--interface={}", bridge(&s.id))).collect();
        let config = format!("{}\n{}", ranges.join(" "), interfaces.join(" "));
        let config_file = dir.join("dhcp.args");
        let same = tokio::fs::read_to_string(&config_file).await.is_ok_and(|c| c == config);
        if live_pid(&pid_file).await.is_some() {
            if same && !changed {
                return Ok(());
            }
            // A change restarts the server (its leases are in the lease file): dnsmasq 2.90
            // crashes when told to reread its hosts with SIGHUP while it holds a lease.
            stop_pid_file(&pid_file).await;
        }
        write_atomic(&config_file, config.as_bytes()).await?;
        let mut args: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            ns.clone(),
            "dnsmasq".into(),
            "--no-hosts".into(),
            // No upstream: the zones here are all it answers (nothing leaves the machine).
            "--no-resolv".into(),
            format!("--conf-file={}", dns_file.display()),
            // Inside the namespace: no privilege to drop, and the files stay the region's.
            "--user=root".into(),
            "--bind-interfaces".into(),
            "--except-interface=lo".into(),
            format!("--dhcp-hostsfile={}", hosts_file.display()),
            format!("--dhcp-optsfile={}", opts_file.display()),
            format!("--dhcp-leasefile={}", dir.join("dhcp.leases").display()),
            format!("--pid-file={}", pid_file.display()),
            "--dhcp-authoritative".into(),
            format!("--log-facility={}", dir.join("dhcp.log").display()),
        ];
        args.extend(interfaces);
        args.extend(ranges);
        // The daemon gets no pipe of ours: nothing of it may depend on this process reading.
        let status = tokio::process::Command::new("ip")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .map_err(|e| io("starting dnsmasq", e))?;
        if !status.success() {
            return Err(Error::Internal(format!(
                "dnsmasq for {ns} did not start ({status}); see {}",
                dir.join("dhcp.log").display()
            )));
        }
        Ok(())
    }

    /// Replaces a network's packet filter with `ruleset` (the body of nftables table `inet
    /// nimbus`: the ports' security groups) and `antispoof` (the body of table `bridge
    /// nimbus_as`: what each port may send as), in one transaction; bridged IPv4 traffic goes
    /// through the first (br_netfilter on in the namespace). Unchanged rules are not reloaded.
    pub async fn apply_firewall(&self, network_id: &str, ruleset: &str, antispoof: &str) -> Result<(), Error> {
        let ns = namespace(network_id);
        let file = self.dir(&ns).join("firewall.nft");
        let text = format!(
            "add table inet nimbus\ndelete table inet nimbus\ntable inet nimbus {{\n{ruleset}}}\n\
             add table bridge nimbus_as\ndelete table bridge nimbus_as\ntable bridge nimbus_as {{\n{antispoof}}}\n"
        );
        if !write_if_changed(&file, &text).await? {
            return Ok(());
        }
        run("ip", &["netns", "exec", &ns, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"]).await?;
        let path = file.display().to_string();
        if let Err(e) = run("ip", &["netns", "exec", &ns, "nft", "-f", &path]).await {
            // Not applied: the next pass tries again.
            let _ = tokio::fs::remove_file(&file).await;
            return Err(e);
        }
        Ok(())
    }

    /// Removes a subnet's bridge (its DHCP service goes with the network's next
    /// [`ensure_dhcp`](Self::ensure_dhcp)).
    pub async fn remove_subnet(&self, network_id: &str, bridge_name: &str) -> Result<(), Error> {
        let ns = namespace(network_id);
        if ip_in(&ns, &["link", "show", bridge_name]).await.is_ok() {
            ip_in(&ns, &["link", "del", bridge_name]).await?;
        }
        Ok(())
    }
}

fn first_host(cidr: &str) -> Result<String, Error> {
    let net: ipnet::Ipv4Net = cidr.parse().map_err(|_| Error::Internal(format!("bad subnet cidr {cidr}")))?;
    Ok(std::net::Ipv4Addr::from(u32::from(net.network()) + 1).to_string())
}

fn mask_of(prefix: &str) -> Result<String, Error> {
    let p: u8 = prefix.parse().map_err(|_| Error::Internal(format!("bad prefix {prefix}")))?;
    let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::UNSPECIFIED, p)
        .map_err(|_| Error::Internal(format!("bad prefix {prefix}")))?;
    Ok(net.netmask().to_string())
}

/// Writes `text` unless the file already holds it; whether it wrote.
pub(crate) async fn write_if_changed(path: &Path, text: &str) -> Result<bool, Error> {
    if tokio::fs::read_to_string(path).await.is_ok_and(|old| old == text) {
        return Ok(false);
    }
    write_atomic(path, text.as_bytes()).await?;
    Ok(true)
}

async fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, data).await.map_err(|e| io("writing a network plane file", e))?;
    tokio::fs::rename(&tmp, path).await.map_err(|e| io("writing a network plane file", e))
}

/// The pid in a pid file if that process still runs.
async fn live_pid(pid_file: &Path) -> Option<i32> {
    let text = tokio::fs::read_to_string(pid_file).await.ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    running(pid).then_some(pid)
}

/// Whether a process runs (exists and is not a zombie: a daemon's exit is reaped by init,
/// which on some machines never does it).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) STATE ...`: the state follows the last ')'.
        Ok(stat) => {
            stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()).is_some_and(|c| c != 'Z')
        }
        Err(_) => false,
    }
}

pub(crate) async fn stop_pid_file(pid_file: &Path) {
    if let Some(pid) = live_pid(pid_file).await {
        unsafe_kill(pid, libc::SIGTERM);
        for _ in 0..50 {
            if !running(pid) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let _ = tokio::fs::remove_file(pid_file).await;
}

fn unsafe_kill(pid: i32, sig: i32) -> i32 {
    // SAFETY: kill(2) takes plain integers; a pid that is gone gives ESRCH.
    unsafe { libc::kill(pid, sig) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_interface_names() {
        assert_eq!(namespace("6f1d2c3b-aaaa-bbbb"), "nbn-6f1d2c3b");
        assert_eq!(bridge("0123ABCD-ffff"), "br-0123abcd");
        assert!(bridge("0123abcd-ffff").len() <= 15);
        assert_eq!(mask_of("24").unwrap(), "255.255.255.0");
        assert_eq!(first_host("10.0.0.0/28").unwrap(), "10.0.0.1");
    }

    #[test]
    fn zones_become_dnsmasq_lines() {
        let rec = |name: &str, rtype: &str, values: &[&str]| DnsRecord {
            name: name.into(),
            rtype: rtype.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let spec = DnsSpec {
            zones: vec!["internal.example.".into()],
            records: vec![
                rec("www.internal.example.", "A", &["192.168.1.5", "192.168.1.6"]),
                rec("alias.internal.example.", "CNAME", &["www.internal.example."]),
                rec("internal.example.", "MX", &["10 mail.internal.example."]),
                rec("_sip._tcp.internal.example.", "SRV", &["1 5 5060 sip.internal.example."]),
                rec("internal.example.", "TXT", &["\"hello\""]),
                rec("internal.example.", "NS", &["ns1.nimbus."]),
            ],
        };
        let conf = spec.dnsmasq_conf();
        for line in [
            "local=/internal.example/",
            "host-record=www.internal.example,192.168.1.5",
            "host-record=www.internal.example,192.168.1.6",
            "cname=alias.internal.example,www.internal.example",
            "mx-host=internal.example,mail.internal.example,10",
            "srv-host=_sip._tcp.internal.example,sip.internal.example,5060,1,5",
            "txt-record=internal.example,\"hello\"",
        ] {
            assert!(conf.lines().any(|l| l == line), "{line} in {conf}");
        }
        assert!(!conf.contains("ns1"), "NS records are not dnsmasq's: {conf}");
    }
}
