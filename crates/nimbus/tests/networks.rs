//! Virtual networking through the unmodified `openstack` CLI on both stores: a VPC's network
//! and subnet (private ranges only, no overlap on one network, gateway and pools checked),
//! ports with fixed IPs allocated in order and a taken address refused (409), a second
//! address, security groups with rules (checked as Neutron does, duplicates refused), the
//! project's default group made when first needed, a port in a group that cannot be deleted
//! while used, another project's member seeing none of it (404), and the quotas; and the
//! data plane the reconciler builds: the network's namespace, the subnet's bridge holding
//! its gateway, the DHCP server's hosts, all removed with the network.

mod common;

use common::{databases, Region, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn networks_subnets_ports_and_security_groups_with_the_openstack_cli() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let net = region.openstack_json(&["network", "create", "vpc-a"]);
        assert_eq!(net["status"], "ACTIVE", "{net}");
        assert_eq!(net["mtu"], 1450, "{net}");
        let sub = region.openstack_json(&[
            "subnet",
            "create",
            "--network",
            "vpc-a",
            "--subnet-range",
            "192.168.1.0/24",
            "--dns-nameserver",
            "192.168.1.2",
            "web",
        ]);
        assert_eq!(sub["gateway_ip"], "192.168.1.1", "{sub}");
        assert_eq!(sub["allocation_pools"], json!([{"start": "192.168.1.2", "end": "192.168.1.254"}]), "{sub}");

        // Refused, nothing made: a public range, an overlap on the same network, a CIDR
        // with host bits, a gateway outside the range, IPv6.
        for (args, why) in [
            (vec!["subnet", "create", "--network", "vpc-a", "--subnet-range", "8.8.8.0/24", "pub"], "private range"),
            (vec!["subnet", "create", "--network", "vpc-a", "--subnet-range", "192.168.1.128/25", "ov"], "overlaps"),
            (
                vec!["subnet", "create", "--network", "vpc-a", "--subnet-range", "10.1.2.3/24", "host"],
                "recommended CIDR",
            ),
            (
                vec![
                    "subnet",
                    "create",
                    "--network",
                    "vpc-a",
                    "--subnet-range",
                    "10.2.0.0/24",
                    "--gateway",
                    "10.3.0.1",
                    "gw",
                ],
                "Gateway is not valid",
            ),
            (
                vec![
                    "subnet",
                    "create",
                    "--network",
                    "vpc-a",
                    "--ip-version",
                    "6",
                    "--subnet-range",
                    "fd00::/64",
                    "v6",
                ],
                "IPv6",
            ),
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(!ok && err.contains(why), "{args:?}: {err}");
        }
        let subnets = region.openstack_json(&["subnet", "list", "--network", "vpc-a"]);
        assert_eq!(subnets.as_array().unwrap().len(), 1, "{subnets}");
        // The same range on another network is fine (each VPC plans its own addresses).
        let (ok, _, err) = region.openstack(&["network", "create", "vpc-b"]);
        assert!(ok, "{err}");
        let (ok, _, err) =
            region.openstack(&["subnet", "create", "--network", "vpc-b", "--subnet-range", "192.168.1.0/24", "web-b"]);
        assert!(ok, "{err}");

        // Ports: addresses in order from the pool; a taken one is a 409.
        let p1 = region.openstack_json(&["port", "create", "--network", "vpc-a", "p1"]);
        assert_eq!(p1["fixed_ips"][0]["ip_address"], "192.168.1.2", "{p1}");
        assert!(p1["mac_address"].as_str().unwrap().starts_with("fa:16:3e:"), "{p1}");
        let p2 = region.openstack_json(&[
            "port",
            "create",
            "--network",
            "vpc-a",
            "--fixed-ip",
            "subnet=web,ip-address=192.168.1.50",
            "p2",
        ]);
        assert_eq!(p2["fixed_ips"][0]["ip_address"], "192.168.1.50", "{p2}");
        let (ok, _, err) = region.openstack(&[
            "port",
            "create",
            "--network",
            "vpc-a",
            "--fixed-ip",
            "subnet=web,ip-address=192.168.1.50",
            "p3",
        ]);
        assert!(!ok && err.contains("already allocated"), "{err}");
        let (ok, _, err) = region.openstack(&[
            "port",
            "create",
            "--network",
            "vpc-a",
            "--fixed-ip",
            "subnet=web,ip-address=192.168.1.1",
            "p4",
        ]);
        assert!(!ok && err.contains("gateway"), "{err}");
        let p5 = region.openstack_json(&["port", "create", "--network", "vpc-a", "p5"]);
        assert_eq!(p5["fixed_ips"][0]["ip_address"], "192.168.1.3", "{p5}");
        let ports = region.openstack_json(&["port", "list", "--network", "vpc-a"]);
        assert_eq!(ports.as_array().unwrap().len(), 3, "{ports}");

        // The data plane: the network's namespace, the subnet's bridge holding the gateway,
        // and a DHCP server told the ports' MAC/IP pairs (this machine runs tests as root).
        let ns = format!("nbn-{}", &net["id"].as_str().unwrap().replace('-', "")[..8]);
        let br = format!("br-{}", &sub["id"].as_str().unwrap().replace('-', "")[..8]);
        let hosts_file = region.data_dir.join("net").join(&ns).join("dhcp.hosts");
        let mac = p5["mac_address"].as_str().unwrap().to_string();
        region
            .wait_for(30, "the network plane", || async {
                let hosts = std::fs::read_to_string(&hosts_file).unwrap_or_default();
                hosts.contains(&format!("{mac},")).then_some(())
            })
            .await;
        let hosts = std::fs::read_to_string(&hosts_file).unwrap();
        assert!(
            hosts.contains("192.168.1.2") && hosts.contains("192.168.1.50") && hosts.contains("192.168.1.3"),
            "{hosts}"
        );
        let addr = Command::new("ip").args(["-n", &ns, "-o", "addr", "show", "dev", &br]).output().unwrap();
        assert!(String::from_utf8_lossy(&addr.stdout).contains("192.168.1.1/24"), "{addr:?}");
        // A subnet with addresses in use stays; a network with ports stays.
        let (ok, _, err) = region.openstack(&["subnet", "delete", "web"]);
        assert!(!ok && err.contains("IP allocation"), "{err}");
        let (ok, _, err) = region.openstack(&["network", "delete", "vpc-a"]);
        assert!(!ok && err.contains("ports still in use"), "{err}");

        // Security groups: the default one, made when first needed, holds the ports.
        assert_eq!(p1["security_group_ids"].as_array().map(Vec::len), Some(1), "{p1}");
        let sg = region.openstack_json(&["security", "group", "create", "web-sg"]);
        let rules = sg["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2, "the two egress rules: {sg}");
        let rule = region.openstack_json(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "80",
            "--remote-ip",
            "192.168.1.0/24",
            "web-sg",
        ]);
        assert_eq!((rule["port_range_min"].as_i64(), rule["port_range_max"].as_i64()), (Some(80), Some(80)), "{rule}");
        assert_eq!(rule["remote_ip_prefix"], "192.168.1.0/24", "{rule}");
        for (args, why) in [
            (
                vec![
                    "security",
                    "group",
                    "rule",
                    "create",
                    "--protocol",
                    "tcp",
                    "--dst-port",
                    "80",
                    "--remote-ip",
                    "192.168.1.0/24",
                    "web-sg",
                ],
                "already exists",
            ),
            (vec!["security", "group", "rule", "create", "--protocol", "bogus", "web-sg"], "not supported"),
            (
                vec!["security", "group", "rule", "create", "--remote-ip", "10.0.0.0/33", "web-sg"],
                "not a valid IPv4 CIDR",
            ),
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(!ok && err.contains(why), "{args:?}: {err}");
        }
        // (The CLI checks a reversed range itself: through the API.)
        let (token, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let (s, e) = region
            .call(
                "POST",
                "/network/v2.0/security-group-rules",
                Some(&token),
                Some(json!({"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                    "protocol": "tcp", "port_range_min": 90, "port_range_max": 80}})),
            )
            .await;
        assert_eq!(s, 400, "{e}");
        assert!(
            e["NeutronError"]["message"].as_str().unwrap().contains("port_range_min must be <= port_range_max"),
            "{e}"
        );
        let after = region.openstack_json(&["security", "group", "show", "web-sg"]);
        assert_eq!(after["rules"].as_array().unwrap().len(), 3, "nothing added: {after}");
        let (ok, _, err) =
            region.openstack(&["port", "set", "--no-security-group", "--security-group", "web-sg", "p1"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["security", "group", "delete", "web-sg"]);
        assert!(!ok && err.contains("in use"), "{err}");

        // Another project's member sees none of it.
        let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        region.tenant(&admin, "net-other", "nick", "nick-pw-1", "member").await;
        let nick = region.os_env("nick", "nick-pw-1", "net-other");
        let (ok, out, _) = region.openstack_as(&nick, &["network", "list", "-f", "value", "-c", "Name"]);
        assert!(ok && !out.contains("vpc-a"), "{out}");
        let net_id = net["id"].as_str().unwrap();
        let (ok, _, err) = region.openstack_as(&nick, &["network", "show", net_id]);
        assert!(!ok && err.contains("No Network found"), "{err}");
        let (ok, _, err) = region.openstack_as(&nick, &["port", "create", "--network", net_id, "sneak"]);
        assert!(!ok && err.contains("404") || err.contains("not found") || err.contains("No Network found"), "{err}");

        // Quotas: the project's network limit.
        let (ok, _, err) = region.openstack(&["quota", "set", "--networks", "2", "admin"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["network", "create", "vpc-c"]);
        assert!(!ok && err.contains("uota"), "{err}");
        let (s, e) =
            region.call("POST", "/network/v2.0/networks", Some(&token), Some(json!({"network": {"name": "c"}}))).await;
        assert_eq!((s, e["NeutronError"]["type"].as_str()), (409, Some("OverQuota")), "{e}");

        // Deleted in order: ports, then the network with its subnet.
        for p in ["p1", "p2", "p5"] {
            let (ok, _, err) = region.openstack(&["port", "delete", p]);
            assert!(ok, "{err}");
        }
        let (ok, _, err) = region.openstack(&["network", "delete", "vpc-a"]);
        assert!(ok, "{err}");
        let (ok, _, _) = region.openstack(&["subnet", "show", "web"]);
        assert!(!ok, "the subnet went with its network");
        region
            .wait_for(30, "the namespace removed", || async {
                let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
                (!String::from_utf8_lossy(&list.stdout).contains(&ns)).then_some(())
            })
            .await;
        let (ok, _, err) = region.openstack(&["security", "group", "delete", "web-sg"]);
        assert!(ok, "{err}");
    }
}

/// Real guests on virtual networks, with the `openstack` CLI: two servers in one subnet get
/// their addresses by DHCP (the ports' fixed IPs) and ping each other; a server of another
/// VPC (another network behind another router, both routers on the external network) cannot
/// reach them; servers show their addresses; deleting a server deletes the port made for it
/// and unbinds the port it was given.
#[tokio::test(flavor = "multi_thread")]
async fn guests_on_one_subnet_reach_each_other_and_no_one_else() {
    let Some(region) = common::compute_region(&[]) else { return };
    for args in [
        vec!["network", "create", "vpc-a"],
        vec!["subnet", "create", "--network", "vpc-a", "--subnet-range", "192.168.10.0/24", "sub-a"],
        vec!["network", "create", "vpc-b"],
        vec!["subnet", "create", "--network", "vpc-b", "--subnet-range", "192.168.20.0/24", "sub-b"],
        vec!["port", "create", "--network", "vpc-a", "--fixed-ip", "subnet=sub-a,ip-address=192.168.10.11", "p1"],
        vec!["router", "create", "--external-gateway", "admin_external_net", "r-a"],
        vec!["router", "add", "subnet", "r-a", "sub-a"],
        vec!["router", "create", "--external-gateway", "admin_external_net", "r-b"],
        vec!["router", "add", "subnet", "r-b", "sub-b"],
    ] {
        let (ok, _, err) = region.openstack(&args);
        assert!(ok, "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let show = dir.path().join("show.sh");
    // vm1 also runs a TCP sink that reports how many bytes each connection brought.
    std::fs::write(
        &show,
        "#!/bin/sh\necho ADDR $(ip -o -4 addr show dev eth0 | awk '{print $4}')\n\
         printf '#!/bin/sh\\nn=$(wc -c)\\necho RECEIVED $n >/dev/console\\n' >/run/sink.sh && chmod +x /run/sink.sh\n\
         setsid nc -ll -p 5001 -e /run/sink.sh </dev/null >/dev/null 2>&1 &\n",
    )
    .unwrap();
    let pinger = dir.path().join("ping.sh");
    std::fs::write(
        &pinger,
        "#!/bin/sh\necho ADDR $(ip -o -4 addr show dev eth0 | awk '{print $4}')\n\
         if ping -c 3 -W 2 192.168.10.11 >/dev/null; then echo PING-REACHED; else echo PING-FAILED; fi\n\
         dd if=/dev/zero bs=4096 count=1024 2>/dev/null | nc 192.168.10.11 5001 2>/dev/null\n",
    )
    .unwrap();
    let (ok, _, err) = region.openstack(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--image",
        "nimbus-tiny",
        "--nic",
        "port-id=p1",
        "--user-data",
        show.to_str().unwrap(),
        "vm1",
    ]);
    assert!(ok, "{err}");
    let log1 = common::wait_console(&region, "vm1", common::READY, 1).await;
    assert!(log1.contains("ADDR 192.168.10.11/24"), "vm1 got its port's address by DHCP: {log1}");
    for (name, net) in [("vm2", "vpc-a"), ("vm3", "vpc-b")] {
        let (ok, _, err) = region.openstack(&[
            "server",
            "create",
            "--flavor",
            "s3.small.1",
            "--image",
            "nimbus-tiny",
            "--network",
            net,
            "--user-data",
            pinger.to_str().unwrap(),
            name,
        ]);
        assert!(ok, "{err}");
    }
    let log2 = common::wait_console(&region, "vm2", common::READY, 1).await;
    assert!(log2.contains("ADDR 192.168.10.2/24"), "vm2: the first free address: {log2}");
    assert!(log2.contains("PING-REACHED"), "vm2 reaches vm1 on their subnet: {log2}");
    // A bulk transfer (full-size frames: the MTU came with the lease) arrives whole.
    let sink = common::wait_console(&region, "vm1", "RECEIVED", 1).await;
    assert!(sink.contains("RECEIVED 4194304"), "4 MiB from vm2: {sink}");
    let log3 = common::wait_console(&region, "vm3", common::READY, 1).await;
    assert!(log3.contains("ADDR 192.168.20.2/24"), "{log3}");
    assert!(log3.contains("PING-FAILED"), "vm3, on another network, does not reach vm1: {log3}");

    let vm2 = region.openstack_json(&["server", "show", "vm2"]);
    assert!(vm2["addresses"].to_string().contains("192.168.10.2"), "{vm2}");
    let p1 = region.openstack_json(&["port", "show", "p1"]);
    assert_eq!(p1["device_id"], region.openstack_json(&["server", "show", "vm1"])["id"], "{p1}");
    assert_eq!(p1["status"], "ACTIVE", "{p1}");

    for vm in ["vm1", "vm2", "vm3"] {
        let (ok, _, err) = region.openstack(&["server", "delete", "--wait", vm]);
        assert!(ok, "{err}");
    }
    for args in [
        vec!["router", "remove", "subnet", "r-a", "sub-a"],
        vec!["router", "remove", "subnet", "r-b", "sub-b"],
        vec!["router", "delete", "r-a", "r-b"],
    ] {
        let (ok, _, err) = region.openstack(&args);
        assert!(ok, "{err}");
    }
    let ports = region.openstack_json(&["port", "list"]);
    let names: Vec<&str> = ports.as_array().unwrap().iter().filter_map(|p| p["Name"].as_str()).collect();
    assert_eq!(names, vec!["p1"], "the ports made for vm2 and vm3 went with them: {ports}");
    let p1 = region.openstack_json(&["port", "show", "p1"]);
    assert_eq!((p1["device_id"].as_str(), p1["status"].as_str()), (Some(""), Some("DOWN")), "{p1}");
}

/// Security groups in the data plane, with real guests: a group opening TCP 80 from one CIDR
/// lets a busybox HTTP server be reached from a guest inside that range and not from one
/// outside it, on the same subnet.
#[tokio::test(flavor = "multi_thread")]
async fn a_security_group_rule_opens_a_port_to_one_range_only() {
    let Some(region) = common::compute_region(&[]) else { return };
    for args in [
        vec!["network", "create", "vpc-s"],
        vec!["subnet", "create", "--network", "vpc-s", "--subnet-range", "192.168.30.0/24", "sub-s"],
        vec!["security", "group", "create", "web-sg"],
        vec![
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "80",
            "--remote-ip",
            "192.168.30.32/28",
            "web-sg",
        ],
        vec![
            "port",
            "create",
            "--network",
            "vpc-s",
            "--security-group",
            "web-sg",
            "--fixed-ip",
            "subnet=sub-s,ip-address=192.168.30.11",
            "pweb",
        ],
        vec!["port", "create", "--network", "vpc-s", "--fixed-ip", "subnet=sub-s,ip-address=192.168.30.40", "pin"],
        vec!["port", "create", "--network", "vpc-s", "--fixed-ip", "subnet=sub-s,ip-address=192.168.30.60", "pout"],
    ] {
        let (ok, _, err) = region.openstack(&args);
        assert!(ok, "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.sh");
    std::fs::write(
        &web,
        "#!/bin/sh\nmkdir -p /www && echo hello-web >/www/index.html && httpd -p 80 -h /www && echo HTTPD-UP\n",
    )
    .unwrap();
    let client = dir.path().join("client.sh");
    std::fs::write(
        &client,
        // (busybox nc: the static busybox's wget crashes resolving.)
        "#!/bin/sh\nif printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 192.168.30.11 80 | grep -q hello-web; \
         then echo HTTP-REACHED; else echo HTTP-BLOCKED; fi\n",
    )
    .unwrap();
    let create = |name: &str, port: &str, script: &std::path::Path| {
        let nic = format!("port-id={port}");
        let (ok, _, err) = region.openstack(&[
            "server",
            "create",
            "--flavor",
            "s3.small.1",
            "--image",
            "nimbus-tiny",
            "--nic",
            &nic,
            "--user-data",
            script.to_str().unwrap(),
            name,
        ]);
        assert!(ok, "{err}");
    };
    create("web", "pweb", &web);
    let log = common::wait_console(&region, "web", common::READY, 1).await;
    assert!(log.contains("HTTPD-UP"), "{log}");
    create("inside", "pin", &client);
    create("outside", "pout", &client);
    let inside = common::wait_console(&region, "inside", common::READY, 1).await;
    if !inside.contains("HTTP-REACHED") {
        let mut rules = String::new();
        for e in std::fs::read_dir(region.data_dir.join("net")).unwrap().flatten() {
            rules.push_str(&std::fs::read_to_string(e.path().join("firewall.nft")).unwrap_or_default());
        }
        panic!("a guest in 192.168.30.32/28 reaches port 80: {inside}\nrules:\n{rules}");
    }
    let outside = common::wait_console(&region, "outside", common::READY, 1).await;
    assert!(outside.contains("HTTP-BLOCKED"), "a guest outside the range does not: {outside}");
    for vm in ["web", "inside", "outside"] {
        let (ok, _, err) = region.openstack(&["server", "delete", "--wait", vm]);
        assert!(ok, "{err}");
    }
}

/// The namespace of a network, from its id.
fn netns_of(id: &Value) -> String {
    format!("nbn-{}", &id.as_str().unwrap().replace('-', "")[..8])
}

/// Output of a command run inside a namespace (stdout, or empty when it fails).
fn in_netns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip").args(["netns", "exec", ns]).args(args).output().unwrap();
    if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        String::new()
    }
}

/// Routers and floating IPs through the `openstack` CLI on both stores: a router joins a
/// subnet and reaches the external network `admin_external_net` (its gateway's address from
/// there, SNAT on); a floating IP is allocated (DOWN), bound to a port (ACTIVE, carried by the
/// router), and stays allocated when its port goes. Refused with nothing changed: a gateway
/// on a network that is not external, a subnet overlapping one the router has, the same
/// subnet twice, a floating IP from a private network or for a port no router joins to the
/// outside, a second floating IP for one address, removing an interface or the gateway a
/// floating IP needs, deleting a router with interfaces. Another project's member sees
/// none of it. The router's namespace holds the gateway and floating addresses and goes with
/// the router.
#[tokio::test(flavor = "multi_thread")]
async fn routers_and_floating_ips_with_the_openstack_cli() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let ext = region.openstack_json(&["network", "show", "admin_external_net"]);
        assert_eq!((ext["router:external"].as_bool(), ext["shared"].as_bool()), (Some(true), Some(true)), "{ext}");
        for args in [
            vec!["network", "create", "vpc-a"],
            vec!["subnet", "create", "--network", "vpc-a", "--subnet-range", "192.168.1.0/24", "web"],
            vec!["network", "create", "vpc-b"],
            vec!["subnet", "create", "--network", "vpc-b", "--subnet-range", "192.168.1.128/25", "web-b"],
            vec!["subnet", "create", "--network", "vpc-b", "--subnet-range", "10.20.0.0/24", "db"],
            vec!["network", "create", "lonely"],
            vec!["subnet", "create", "--network", "lonely", "--subnet-range", "10.30.0.0/24", "lonely-sub"],
            vec!["port", "create", "--network", "vpc-a", "p1"],
            vec!["port", "create", "--network", "lonely", "p-lonely"],
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(ok, "{args:?}: {err}");
        }
        let r1 = region.openstack_json(&["router", "create", "r1"]);
        assert_eq!((r1["status"].as_str(), &r1["external_gateway_info"]), (Some("ACTIVE"), &Value::Null), "{r1}");
        let (ok, _, err) = region.openstack(&["router", "set", "--external-gateway", "vpc-a", "r1"]);
        assert!(!ok && err.contains("not an external network"), "{err}");
        let (ok, _, err) = region.openstack(&["router", "set", "--external-gateway", "admin_external_net", "r1"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["router", "add", "subnet", "r1", "web"]);
        assert!(ok, "{err}");
        for (args, why) in [
            (vec!["router", "add", "subnet", "r1", "web-b"], "overlaps"),
            (vec!["router", "add", "subnet", "r1", "web"], "already has a port"),
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(!ok && err.contains(why), "{args:?}: {err}");
        }
        let (ok, _, err) = region.openstack(&["router", "add", "subnet", "r1", "db"]);
        assert!(ok, "{err}");
        // Tags (standard-attr-tag): set, filtered on, shown, removed.
        for args in [
            vec!["router", "set", "--tag", "prod", "--tag", "eu", "r1"],
            vec!["network", "set", "--tag", "prod", "vpc-a"],
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(ok, "{args:?}: {err}");
        }
        let tagged = region.openstack_json(&["network", "list", "--tags", "prod", "-c", "Name"]);
        assert_eq!(tagged, json!([{"Name": "vpc-a"}]), "{tagged}");
        let untagged = region.openstack_json(&["network", "list", "--not-tags", "prod", "-c", "Name"]);
        assert!(!untagged.to_string().contains("vpc-a") && untagged.to_string().contains("vpc-b"), "{untagged}");
        let r = region.openstack_json(&["router", "show", "r1"]);
        assert_eq!(r["tags"], json!(["eu", "prod"]), "{r}");
        let (ok, _, err) = region.openstack(&["router", "unset", "--tag", "eu", "r1"]);
        assert!(ok, "{err}");
        assert_eq!(region.openstack_json(&["router", "show", "r1"])["tags"], json!(["prod"]));
        let r1 = region.openstack_json(&["router", "show", "r1"]);
        let gw = &r1["external_gateway_info"];
        assert_eq!((gw["network_id"].as_str(), gw["enable_snat"].as_bool()), (ext["id"].as_str(), Some(true)), "{r1}");
        let gw_ip = gw["external_fixed_ips"][0]["ip_address"].as_str().unwrap().to_string();
        assert!(gw_ip.starts_with("198.18."), "{r1}");
        let ifaces =
            region.openstack_json(&["port", "list", "--router", "r1", "--device-owner", "network:router_interface"]);
        let ips = ifaces.to_string();
        assert!(ips.contains("192.168.1.1") && ips.contains("10.20.0.1"), "the subnets' gateways: {ifaces}");
        let (ok, _, err) = region.openstack(&["subnet", "delete", "web"]);
        assert!(!ok && err.contains("IP allocation"), "{err}");

        // Floating IPs.
        let fip = region.openstack_json(&["floating", "ip", "create", "admin_external_net"]);
        let address = fip["floating_ip_address"].as_str().unwrap().to_string();
        assert_eq!(fip["status"], "DOWN", "{fip}");
        let (ok, _, err) = region.openstack(&["floating", "ip", "create", "vpc-a"]);
        assert!(!ok && err.contains("not a valid external network"), "{err}");
        let (ok, _, err) = region.openstack(&["floating", "ip", "set", "--port", "p-lonely", &address]);
        assert!(!ok && err.contains("external gateway reachable"), "{err}");
        let (ok, _, err) = region.openstack(&["floating", "ip", "set", "--port", "p1", &address]);
        assert!(ok, "{err}");
        let bound = region.openstack_json(&["floating", "ip", "show", &address]);
        assert_eq!(
            (bound["status"].as_str(), bound["router_id"].as_str(), bound["fixed_ip_address"].as_str()),
            (Some("ACTIVE"), r1["id"].as_str(), Some("192.168.1.2")),
            "{bound}"
        );
        let second = region.openstack_json(&["floating", "ip", "create", "admin_external_net"]);
        let second_ip = second["floating_ip_address"].as_str().unwrap().to_string();
        let (ok, _, err) = region.openstack(&["floating", "ip", "set", "--port", "p1", &second_ip]);
        assert!(!ok && err.contains("already has a floating IP"), "{err}");
        for (args, why) in [
            (vec!["router", "remove", "subnet", "r1", "web"], "required by one or more floating IPs"),
            (vec!["router", "unset", "--external-gateway", "r1"], "required by floating IP"),
            (vec!["router", "delete", "r1"], "still has ports"),
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(!ok && err.contains(why), "{args:?}: {err}");
        }

        // The data plane: the router's namespace holds the gateway and the floating IP, and
        // translates the floating IP to its fixed address.
        let rns = format!("nbr-{}", &r1["id"].as_str().unwrap().replace('-', "")[..8]);
        let nat = region.data_dir.join("net").join(&rns).join("nat.nft");
        region
            .wait_for(30, "the router's NAT", || async {
                let text = std::fs::read_to_string(&nat).unwrap_or_default();
                text.contains(&format!("ip daddr {address} dnat to 192.168.1.2")).then_some(())
            })
            .await;
        let addrs = Command::new("ip").args(["-n", &rns, "-o", "-4", "addr"]).output().unwrap();
        let addrs = String::from_utf8_lossy(&addrs.stdout);
        assert!(addrs.contains(&format!("{gw_ip}/16")) && addrs.contains(&format!("{address}/32")), "{addrs}");

        // Another project's member sees none of it.
        let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        region.tenant(&admin, "l3-other", "lola", "lola-pw-1", "member").await;
        let lola = region.os_env("lola", "lola-pw-1", "l3-other");
        let (ok, out, _) = region.openstack_as(&lola, &["router", "list", "-f", "value", "-c", "Name"]);
        assert!(ok && !out.contains("r1"), "{out}");
        let (ok, _, err) = region.openstack_as(&lola, &["floating", "ip", "show", bound["id"].as_str().unwrap()]);
        assert!(!ok && (err.contains("No FloatingIP found") || err.contains("Could not find")), "{err}");
        let (ok, _, err) =
            region.openstack_as(&lola, &["router", "add", "subnet", r1["id"].as_str().unwrap(), "whatever"]);
        assert!(!ok, "{err}");

        // A port that goes leaves its floating IP allocated, unbound.
        let (ok, _, err) = region.openstack(&["port", "delete", "p1"]);
        assert!(ok, "{err}");
        let unbound = region.openstack_json(&["floating", "ip", "show", &address]);
        assert_eq!((unbound["status"].as_str(), &unbound["port_id"]), (Some("DOWN"), &Value::Null), "{unbound}");

        // Quota: the project's floating IPs.
        let (ok, _, err) = region.openstack(&["quota", "set", "--floating-ips", "2", "admin"]);
        assert!(ok, "{err}");
        let (ok, _, err) = region.openstack(&["floating", "ip", "create", "admin_external_net"]);
        assert!(!ok && err.contains("uota"), "{err}");

        // Everything goes, the router's namespace with it.
        for args in [
            vec!["floating", "ip", "delete", &address],
            vec!["floating", "ip", "delete", &second_ip],
            vec!["router", "remove", "subnet", "r1", "web"],
            vec!["router", "remove", "subnet", "r1", "db"],
            vec!["router", "delete", "r1"],
        ] {
            let (ok, _, err) = region.openstack(&args);
            assert!(ok, "{args:?}: {err}");
        }
        let left = region.openstack_json(&["port", "list", "--network", "admin_external_net"]);
        assert_eq!(left, json!([]), "no gateway or floating IP port is left: {left}");
        region
            .wait_for(30, "the router's namespace removed", || async {
                let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
                (!String::from_utf8_lossy(&list.stdout).contains(&rns)).then_some(())
            })
            .await;
    }
}

/// EIPs with real guests: a server on a subnet its router joins to the external network
/// reaches the internet's namespace (source NAT); once a floating IP is bound to it, a busybox
/// HTTP server in the guest answers on that address from the internet's namespace, shaped by
/// its bandwidth; unbound, it no longer does; the deleted server leaves it allocated.
#[tokio::test(flavor = "multi_thread")]
async fn an_eip_reaches_a_guest_from_the_internet_until_unbound() {
    let Some(region) = common::compute_region(&[]) else { return };
    for args in [
        vec!["network", "create", "vpc-e"],
        vec!["subnet", "create", "--network", "vpc-e", "--subnet-range", "192.168.40.0/24", "sub-e"],
        vec!["router", "create", "--external-gateway", "admin_external_net", "r-e"],
        vec!["router", "add", "subnet", "r-e", "sub-e"],
        vec!["security", "group", "create", "pub"],
        vec!["security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80", "pub"],
    ] {
        let (ok, _, err) = region.openstack(&args);
        assert!(ok, "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.sh");
    std::fs::write(
        &web,
        "#!/bin/sh\nif ping -c 3 -W 2 198.18.0.1 >/dev/null; then echo NET-REACHED; else echo NET-FAILED; fi\n\
         mkdir -p /www && echo hello-eip >/www/index.html && httpd -p 80 -h /www && echo HTTPD-UP\n",
    )
    .unwrap();
    let (ok, _, err) = region.openstack(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--image",
        "nimbus-tiny",
        "--network",
        "vpc-e",
        "--security-group",
        "pub",
        "--user-data",
        web.to_str().unwrap(),
        "vm-e",
    ]);
    assert!(ok, "{err}");
    let log = common::wait_console(&region, "vm-e", common::READY, 1).await;
    assert!(log.contains("NET-REACHED"), "the guest reaches the internet through its router: {log}");
    assert!(log.contains("HTTPD-UP"), "{log}");

    let fip = region.openstack_json(&["floating", "ip", "create", "admin_external_net"]);
    let address = fip["floating_ip_address"].as_str().unwrap().to_string();
    let (ok, _, err) = region.openstack(&["server", "add", "floating", "ip", "vm-e", &address]);
    assert!(ok, "{err}");
    let vm = region.openstack_json(&["server", "show", "vm-e"]);
    assert!(vm["addresses"].to_string().contains(&address), "{vm}");
    let internet = netns_of(&region.openstack_json(&["network", "show", "admin_external_net"])["id"]);
    let fetch = |address: String| {
        let internet = internet.clone();
        async move {
            let cmd = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 {address} 80");
            in_netns(&internet, &["sh", "-c", &cmd])
        }
    };
    region
        .wait_for(60, "the guest's web server on its EIP, from the internet", || {
            let f = fetch(address.clone());
            async move { f.await.contains("hello-eip").then_some(()) }
        })
        .await;
    // Its bandwidth (Neutron's default: 100 Mbit/s) shapes what leaves through the EIP.
    let r = region.openstack_json(&["router", "show", "r-e"]);
    let rns = format!("nbr-{}", &r["id"].as_str().unwrap().replace('-', "")[..8]);
    let gw_port =
        region.openstack_json(&["port", "list", "--router", "r-e", "--device-owner", "network:router_gateway"]);
    let qg = format!("qg-{}", &gw_port[0]["ID"].as_str().unwrap().replace('-', "")[..8]);
    let classes = in_netns(&rns, &["tc", "class", "show", "dev", &qg]);
    assert!(classes.contains("rate 100Mbit"), "{classes}");

    let (ok, _, err) = region.openstack(&["server", "remove", "floating", "ip", "vm-e", &address]);
    assert!(ok, "{err}");
    region
        .wait_for(60, "the EIP no longer reaching the guest", || {
            let f = fetch(address.clone());
            async move { (!f.await.contains("hello-eip")).then_some(()) }
        })
        .await;
    let (ok, _, err) = region.openstack(&["server", "add", "floating", "ip", "vm-e", &address]);
    assert!(ok, "{err}");
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "vm-e"]);
    assert!(ok, "{err}");
    let left = region.openstack_json(&["floating", "ip", "show", &address]);
    assert_eq!((left["status"].as_str(), &left["port_id"]), (Some("DOWN"), &Value::Null), "kept, unbound: {left}");
}

/// Huawei's VPC and EIP SDKs (`huaweicloudsdkvpc`, `huaweicloudsdkeip`), unmodified, through
/// `tests/clients/huawei_vpc_check.py`: VPCs, their subnets (inside the VPC, no overlap),
/// security groups and rules, ports, EIPs with their bandwidths bound, unbound and released,
/// and the bad input of each refused with the API's error document; on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn vpc_and_eip_with_the_huawei_sdks() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        common::run_sdk_check(&region, &db, "huawei_vpc_check.py").await;
    }
}

/// Huawei's NAT and DNS SDKs (`huaweicloudsdknat`, `huaweicloudsdkdns`), unmodified, through
/// `tests/clients/huawei_nat_dns_check.py`: a VPC's NAT gateway with SNAT and DNAT rules (the
/// EIPs they use kept from ports and from release), private and public zones with their
/// record sets, and the bad input of each refused; on both stores.
#[tokio::test(flavor = "multi_thread")]
async fn nat_gateways_and_dns_with_the_huawei_sdks() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        common::run_sdk_check(&region, &db, "huawei_nat_dns_check.py").await;
    }
}

/// A VPC made with the native APIs, with real guests: its router has no source NAT, so a
/// guest reaches the internet's namespace only through the VPC's NAT gateway (a SNAT rule
/// for its subnet); a DNAT rule forwards port 8080 of an EIP to the guest's web server, which
/// then answers from the internet's namespace. The guest got its address and its DNS server
/// by DHCP and resolves a record of a private zone served in the VPC, and one of a public zone;
/// the region's public DNS server, in the internet's namespace, answers the public zone only.
#[tokio::test(flavor = "multi_thread")]
async fn a_nat_gateway_and_private_dns_serve_a_vpc_with_real_guests() {
    let Some(region) = common::compute_region(&[]) else { return };
    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let call = |method: &'static str, path: String, body: Value| {
        let (region, token) = (&region, token.clone());
        async move {
            let (code, v) = region.call(method, &path, Some(&token), Some(body)).await;
            assert!(code < 300, "{method} {path}: {code} {v}");
            v
        }
    };
    let vpc =
        call("POST", format!("/v1/{project}/vpcs"), json!({"vpc": {"name": "nat-vpc", "cidr": "192.168.0.0/16"}}))
            .await;
    let vpc_id = vpc["vpc"]["id"].as_str().unwrap().to_string();
    let sub = call(
        "POST",
        format!("/v1/{project}/subnets"),
        json!({"subnet": {"name": "nat-sub", "cidr": "192.168.60.0/24", "gateway_ip": "192.168.60.1", "vpc_id": vpc_id}}),
    )
    .await;
    let subnet_id = sub["subnet"]["id"].as_str().unwrap().to_string();
    let mut eips = Vec::new();
    for name in ["out", "in"] {
        let e = call(
            "POST",
            format!("/v1/{project}/publicips"),
            json!({"publicip": {"type": "5_bgp"}, "bandwidth": {"name": name, "size": 50, "share_type": "PER"}}),
        )
        .await;
        eips.push((
            e["publicip"]["id"].as_str().unwrap().to_string(),
            e["publicip"]["public_ip_address"].as_str().unwrap().to_string(),
        ));
    }
    let gw = call(
        "POST",
        format!("/v2/{project}/nat_gateways"),
        json!({"nat_gateway": {"name": "nat", "router_id": vpc_id, "internal_network_id": subnet_id, "spec": "1"}}),
    )
    .await;
    let gw_id = gw["nat_gateway"]["id"].as_str().unwrap().to_string();
    call(
        "POST",
        format!("/v2/{project}/snat_rules"),
        json!({"snat_rule": {"nat_gateway_id": gw_id, "network_id": subnet_id, "floating_ip_id": eips[0].0}}),
    )
    .await;
    let zone = call(
        "POST",
        "/v2/zones".into(),
        json!({"name": "corp.internal.", "zone_type": "private", "router": {"router_id": vpc_id}}),
    )
    .await;
    let zone_id = zone["id"].as_str().unwrap().to_string();
    call(
        "POST",
        format!("/v2/zones/{zone_id}/recordsets"),
        json!({"name": "db.corp.internal.", "type": "A", "records": ["192.168.60.77"]}),
    )
    .await;
    let public = call("POST", "/v2/zones".into(), json!({"name": "example.org.", "zone_type": "public"})).await;
    let public_id = public["id"].as_str().unwrap().to_string();
    call(
        "POST",
        format!("/v2/zones/{public_id}/recordsets"),
        json!({"name": "www.example.org.", "type": "A", "records": [eips[1].1]}),
    )
    .await;

    // The guest: port 80 open to all, on the VPC subnet (its network's id).
    for args in [
        vec!["security", "group", "create", "nat-web"],
        vec!["security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80", "nat-web"],
    ] {
        let (ok, _, err) = region.openstack(&args);
        assert!(ok, "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("nat.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho ADDR $(ip -o -4 addr show dev eth0 | awk '{print $4}')\necho RESOLVER $(grep nameserver /etc/resolv.conf)\n\
         echo PRIVATE $(nslookup db.corp.internal 2>/dev/null | grep -A1 'Name:' | grep Address | awk '{print $2}')\n\
         echo PUBLIC $(nslookup www.example.org 2>/dev/null | grep -A1 'Name:' | grep Address | awk '{print $2}')\n\
         if ping -c 3 -W 2 198.18.0.1 >/dev/null; then echo NET-REACHED; else echo NET-FAILED; fi\n\
         mkdir -p /www && echo hello-dnat >/www/index.html && httpd -p 80 -h /www && echo HTTPD-UP\n",
    )
    .unwrap();
    let (ok, _, err) = region.openstack(&[
        "server",
        "create",
        "--flavor",
        "s3.small.1",
        "--image",
        "nimbus-tiny",
        "--network",
        &subnet_id,
        "--security-group",
        "nat-web",
        "--user-data",
        script.to_str().unwrap(),
        "vm-nat",
    ]);
    assert!(ok, "{err}");
    let log = common::wait_console(&region, "vm-nat", common::READY, 1).await;
    assert!(log.contains("ADDR 192.168.60.2/24"), "the address by DHCP: {log}");
    assert!(log.contains("RESOLVER nameserver 192.168.60.1"), "the subnet's gateway answers DNS: {log}");
    assert!(log.contains("PRIVATE 192.168.60.77"), "the private zone's record resolves in the VPC: {log}");
    assert!(log.contains(&format!("PUBLIC {}", eips[1].1)), "and the public zone's: {log}");
    assert!(log.contains("NET-REACHED"), "the guest reaches the internet through the NAT gateway: {log}");
    assert!(log.contains("HTTPD-UP"), "{log}");

    // DNAT: the EIP's port 8080 reaches the guest's port 80 from the internet.
    let ports = call("GET", format!("/v1/{project}/ports?network_id={subnet_id}"), json!(null)).await;
    let port_id = ports["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["device_owner"].as_str().is_some_and(|o| o.starts_with("compute:")))
        .and_then(|p| p["id"].as_str())
        .expect("the guest's port")
        .to_string();
    call(
        "POST",
        format!("/v2/{project}/dnat_rules"),
        json!({"dnat_rule": {"nat_gateway_id": gw_id, "floating_ip_id": eips[1].0, "port_id": port_id,
            "protocol": "tcp", "internal_service_port": 80, "external_service_port": 8080}}),
    )
    .await;
    let internet = netns_of(&region.openstack_json(&["network", "show", "admin_external_net"])["id"]);
    let target = eips[1].1.clone();
    region
        .wait_for(60, "the guest's web server on the EIP's port 8080", || {
            let (internet, target) = (internet.clone(), target.clone());
            async move {
                let cmd = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 {target} 8080");
                in_netns(&internet, &["sh", "-c", &cmd]).contains("hello-dnat").then_some(())
            }
        })
        .await;
    // The internet's DNS server knows the public zone, not the private one.
    let public_answer = in_netns(&internet, &["busybox", "nslookup", "www.example.org", "198.18.0.1"]);
    assert!(public_answer.contains(&eips[1].1), "{public_answer}");
    let private_answer = in_netns(&internet, &["busybox", "nslookup", "db.corp.internal", "198.18.0.1"]);
    assert!(!private_answer.contains("192.168.60.77"), "{private_answer}");
    let (ok, _, err) = region.openstack(&["server", "delete", "--wait", "vm-nat"]);
    assert!(ok, "{err}");
}

/// Anti-spoofing with real guests: a web server's group admits TCP 80 from one address only;
/// a guest that takes that address as its own is still refused (its port sends only as
/// itself), while a guest whose port lists the address among its allowed address pairs is
/// let through (so the refusal is the anti-spoofing's, not the group's).
#[tokio::test(flavor = "multi_thread")]
async fn a_guest_cannot_send_as_another_address() {
    let Some(region) = common::compute_region(&[]) else { return };
    for args in [
        vec!["network", "create", "vpc-as"],
        vec!["subnet", "create", "--network", "vpc-as", "--subnet-range", "192.168.70.0/24", "sub-as"],
        vec!["security", "group", "create", "only-20"],
        vec![
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "80",
            "--remote-ip",
            "192.168.70.20/32",
            "only-20",
        ],
        vec![
            "port",
            "create",
            "--network",
            "vpc-as",
            "--security-group",
            "only-20",
            "--fixed-ip",
            "subnet=sub-as,ip-address=192.168.70.11",
            "p-web",
        ],
        vec![
            "port",
            "create",
            "--network",
            "vpc-as",
            "--fixed-ip",
            "subnet=sub-as,ip-address=192.168.70.12",
            "p-spoof",
        ],
        vec![
            "port",
            "create",
            "--network",
            "vpc-as",
            "--fixed-ip",
            "subnet=sub-as,ip-address=192.168.70.13",
            "--allowed-address",
            "ip-address=192.168.70.20",
            "p-pair",
        ],
    ] {
        let (ok, _, err) = region.openstack(&args);
        assert!(ok, "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.sh");
    std::fs::write(
        &web,
        "#!/bin/sh\nmkdir -p /www && echo hello-as >/www/index.html && httpd -p 80 -h /www && echo HTTPD-UP\n",
    )
    .unwrap();
    // Takes 192.168.70.20 as its only address (its MAC unchanged), then asks the web server.
    let client = dir.path().join("client.sh");
    std::fs::write(
        &client,
        "#!/bin/sh\nip -4 addr flush dev eth0 && ip addr add 192.168.70.20/24 dev eth0\n\
         for i in 1 2 3; do if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 192.168.70.11 80 | grep -q hello-as; \
         then echo AS-REACHED; break; fi; sleep 2; done\necho AS-DONE\n",
    )
    .unwrap();
    let create = |name: &str, port: &str, script: &std::path::Path| {
        let nic = format!("port-id={port}");
        let (ok, _, err) = region.openstack(&[
            "server",
            "create",
            "--flavor",
            "s3.small.1",
            "--image",
            "nimbus-tiny",
            "--nic",
            &nic,
            "--user-data",
            script.to_str().unwrap(),
            name,
        ]);
        assert!(ok, "{err}");
    };
    create("as-web", "p-web", &web);
    let log = common::wait_console(&region, "as-web", common::READY, 1).await;
    assert!(log.contains("HTTPD-UP"), "{log}");
    create("as-spoof", "p-spoof", &client);
    create("as-pair", "p-pair", &client);
    let pair = common::wait_console(&region, "as-pair", "AS-DONE", 1).await;
    assert!(pair.contains("AS-REACHED"), "an allowed address pair may send as 192.168.70.20: {pair}");
    let spoof = common::wait_console(&region, "as-spoof", "AS-DONE", 1).await;
    assert!(!spoof.contains("AS-REACHED"), "a guest sending as another address is dropped: {spoof}");
    for vm in ["as-web", "as-spoof", "as-pair"] {
        let (ok, _, err) = region.openstack(&["server", "delete", "--wait", vm]);
        assert!(ok, "{err}");
    }
}

/// The NAT gateway and DNS quotas (configured low here): the gateway, zone or record set over
/// the limit is refused with the quota's message, nothing made; deleting frees the quota.
#[tokio::test(flavor = "multi_thread")]
async fn nat_gateway_and_dns_quotas_hold() {
    let region = Region::start_with(
        &common::Db::Sqlite,
        &[],
        Some("[quotas]\nnat_gateway = 1\ndns_zone = 1\ndns_recordset = 1\n"),
    );
    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let call = |method: &'static str, path: String, body: Value| {
        let (region, token) = (&region, token.clone());
        async move { region.call(method, &path, Some(&token), Some(body)).await }
    };
    let mut gateways = Vec::new();
    for (i, cidr) in ["192.168.0.0/16", "10.1.0.0/16"].iter().enumerate() {
        let (s, vpc) =
            call("POST", format!("/v1/{project}/vpcs"), json!({"vpc": {"name": format!("q{i}"), "cidr": cidr}})).await;
        assert_eq!(s, 200, "{vpc}");
        let gw = cidr.replace(".0.0/16", ".1.1");
        let sub_cidr = cidr.replace(".0.0/16", ".1.0/24");
        let (s, sub) = call(
            "POST",
            format!("/v1/{project}/subnets"),
            json!({"subnet": {"name": format!("q{i}"), "cidr": sub_cidr, "gateway_ip": gw, "vpc_id": vpc["vpc"]["id"]}}),
        )
        .await;
        assert_eq!(s, 200, "{sub}");
        gateways.push(
            call(
                "POST",
                format!("/v2/{project}/nat_gateways"),
                json!({"nat_gateway": {"name": format!("q{i}"), "spec": "1", "router_id": vpc["vpc"]["id"],
                    "internal_network_id": sub["subnet"]["id"]}}),
            )
            .await,
        );
    }
    assert!(gateways[0].0 < 300, "{:?}", gateways[0]);
    assert_eq!(gateways[1].0, 403, "the second NAT gateway is over the quota: {:?}", gateways[1]);
    assert!(gateways[1].1["error_msg"].as_str().unwrap().contains("nat_gateway"), "{:?}", gateways[1]);
    let (s, nats) = call("GET", format!("/v2/{project}/nat_gateways"), json!(null)).await;
    assert_eq!((s, nats["nat_gateways"].as_array().unwrap().len()), (200, 1), "{nats}");

    let (s, z) = call("POST", "/v2/zones".into(), json!({"name": "one.example."})).await;
    assert_eq!(s, 202, "{z}");
    let (s, e) = call("POST", "/v2/zones".into(), json!({"name": "two.example."})).await;
    assert_eq!(s, 403, "{e}");
    let zone = z["id"].as_str().unwrap().to_string();
    let record = |name: &str| json!({"name": name, "type": "A", "records": ["192.0.2.1"]});
    let (s, r) = call("POST", format!("/v2/zones/{zone}/recordsets"), record("a.one.example.")).await;
    assert_eq!(s, 202, "{r}");
    let (s, e) = call("POST", format!("/v2/zones/{zone}/recordsets"), record("b.one.example.")).await;
    assert_eq!(s, 403, "the zone's SOA and NS do not count, the second record set does: {e}");
    let (s, _) = call("DELETE", format!("/v2/zones/{zone}"), json!(null)).await;
    assert_eq!(s, 202);
    let (s, z) = call("POST", "/v2/zones".into(), json!({"name": "two.example."})).await;
    assert_eq!(s, 202, "the deleted zone freed its quota: {z}");
    let (s, r) =
        call("POST", format!("/v2/zones/{}/recordsets", z["id"].as_str().unwrap()), record("a.two.example.")).await;
    assert_eq!(s, 202, "and its record sets': {r}");
}
