//! The network plane on this machine (as root, with `ip` and dnsmasq): a network's
//! namespace, a subnet's bridge holding its gateway, and dnsmasq leasing a port's address to
//! the port's MAC and to no other; a host added later is leased after a reload; removing
//! the namespace leaves no namespace and no dnsmasq behind; the same server answers DNS on the
//! gateway for its zones, NXDOMAIN for other names of them. A client namespace stands for a
//! guest (a veth on the bridge, busybox `udhcpc` and `nslookup` in it).

use nimbus_drivers::netns::{bridge, namespace, DnsRecord, DnsSpec, NetworkPlane, SubnetSpec};
use std::process::Command;

fn sh(args: &[&str]) -> (bool, String) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Whether a process runs (a zombie does not: init may never reap a daemon here).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

/// Asks for a lease from the client namespace; the address leased, if any.
fn lease(client: &str, dev: &str) -> Option<String> {
    let (_, out) = sh(&[
        "ip",
        "netns",
        "exec",
        client,
        "busybox",
        "udhcpc",
        "-i",
        dev,
        "-n",
        "-q",
        "-s",
        "/bin/true",
        "-t",
        "4",
        "-T",
        "1",
    ]);
    out.lines().find_map(|l| l.split("lease of ").nth(1)).and_then(|r| r.split_whitespace().next()).map(str::to_string)
}

/// Stops the test's DHCP server and deletes its namespaces however the test ends.
struct Cleanup(Vec<String>, std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.1) {
            let _ = Command::new("kill").arg(pid.trim()).output();
        }
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[tokio::test]
async fn a_subnet_leases_its_ports_addresses_and_nothing_else() {
    if !NetworkPlane::available().await {
        eprintln!("skipped: this process cannot create network namespaces (not root, or no dnsmasq)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let plane = NetworkPlane::new(root.path().join("net")).unwrap();
    let network = format!("{:08x}-test", std::process::id());
    let subnet = "5ab0c0de-0000-4000-8000-000000000001";
    let client = format!("nbtest-{}", std::process::id());
    let pid_file = root.path().join("net").join(namespace(&network)).join("dhcp.pid");
    let _cleanup = Cleanup(vec![namespace(&network), client.clone()], pid_file.clone());
    let ns = plane.ensure_network(&network).await.unwrap();
    assert_eq!(ns, namespace(&network));
    let mut spec = SubnetSpec {
        id: subnet.into(),
        cidr: "10.20.0.0/24".into(),
        gateway: Some("10.20.0.1".into()),
        dhcp: true,
        dns_servers: vec!["10.20.0.1".into()],
        routes: vec![],
        hosts: vec![("fa:16:3e:00:00:05".into(), "10.20.0.5".into())],
        mtu: 1450,
    };
    let mut dns = DnsSpec::default();
    plane.ensure_subnet(&network, &spec).await.unwrap();
    plane.ensure_dhcp(&network, std::slice::from_ref(&spec), &dns).await.unwrap();
    // Twice: nothing changes, nothing fails.
    plane.ensure_subnet(&network, &spec).await.unwrap();
    plane.ensure_dhcp(&network, std::slice::from_ref(&spec), &dns).await.unwrap();
    let br = bridge(subnet);
    assert_eq!(plane.bridges(&network).await.unwrap(), vec![br.clone()]);
    let (_, addr) = sh(&["ip", "-n", &ns, "-o", "addr", "show", "dev", &br]);
    assert!(addr.contains("10.20.0.1/24"), "{addr}");

    // A guest stand-in: a client namespace on a veth plugged into the bridge.
    assert!(sh(&["ip", "netns", "add", &client]).0);
    let (ok, out) =
        sh(&["ip", "-n", &ns, "link", "add", "vb-test", "type", "veth", "peer", "name", "vc-test", "netns", &client]);
    assert!(ok, "{out}");
    assert!(sh(&["ip", "-n", &ns, "link", "set", "vb-test", "master", &br, "up"]).0);
    assert!(sh(&["ip", "-n", &client, "link", "set", "vc-test", "address", "fa:16:3e:00:00:05", "up"]).0);
    assert_eq!(lease(&client, "vc-test").as_deref(), Some("10.20.0.5"), "the port's address, by its MAC");

    // Another MAC gets nothing until the port exists.
    assert!(sh(&["ip", "-n", &client, "link", "set", "vc-test", "address", "fa:16:3e:00:00:06"]).0);
    assert_eq!(lease(&client, "vc-test"), None, "no lease for a MAC no port has");
    spec.hosts.push(("fa:16:3e:00:00:06".into(), "10.20.0.6".into()));
    plane.ensure_dhcp(&network, std::slice::from_ref(&spec), &dns).await.unwrap();
    let got = lease(&client, "vc-test");
    if got.as_deref() != Some("10.20.0.6") {
        let log = std::fs::read_to_string(root.path().join("net").join(&ns).join("dhcp.log")).unwrap_or_default();
        let hosts = std::fs::read_to_string(root.path().join("net").join(&ns).join("dhcp.hosts")).unwrap_or_default();
        panic!("not leased after the reload: {got:?}\nhosts:\n{hosts}\nlog:\n{log}");
    }

    // DNS for a zone: its record, and NXDOMAIN (not a forward) for its other names.
    dns.zones.push("t.example.".into());
    dns.records.push(DnsRecord { name: "www.t.example.".into(), rtype: "A".into(), values: vec!["10.20.0.77".into()] });
    plane.ensure_dhcp(&network, std::slice::from_ref(&spec), &dns).await.unwrap();
    assert!(sh(&["ip", "-n", &client, "addr", "add", "10.20.0.6/24", "dev", "vc-test"]).0);
    let (ok, answer) = sh(&["ip", "netns", "exec", &client, "busybox", "nslookup", "www.t.example", "10.20.0.1"]);
    assert!(ok && answer.contains("10.20.0.77"), "{answer}");
    let (ok, answer) = sh(&["ip", "netns", "exec", &client, "busybox", "nslookup", "nope.t.example", "10.20.0.1"]);
    assert!(!ok && answer.contains("NXDOMAIN"), "{answer}");

    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    assert!(running(&pid));
    plane.remove_namespace(&ns).await.unwrap();
    let (_, list) = sh(&["ip", "netns", "list"]);
    assert!(!list.contains(&ns), "{list}");
    assert!(!running(&pid), "dnsmasq stopped");
    assert!(plane.namespaces().await.unwrap().is_empty());
}
