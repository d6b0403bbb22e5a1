//! Network plane benchmark (not a test).
//!
//! A security-group change applied to 100 ports: 100 ports of one subnet in one group, then
//! a rule added to the group through the Neutron API; the time until the packet filter in
//! the network's namespace holds the new rule for every port, beside the time `nft` itself
//! takes to load the same ruleset into a fresh namespace (the same run); prints the ratio.
//!
//! Run (as root, with iproute2, nftables and dnsmasq): `cargo bench -p nimbus --bench network`

#[path = "../crates/nimbus/tests/common/mod.rs"]
mod common;

use common::Region;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

const PORTS: usize = 100;
const RUNS: u16 = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The live ruleset of a namespace.
fn live_rules(ns: &str) -> String {
    let out =
        Command::new("ip").args(["netns", "exec", ns, "nft", "list", "table", "inet", "nimbus"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::main]
async fn main() {
    let region = Region::start();
    let (token, _) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    let call = |method: &'static str, path: &'static str, body: serde_json::Value| {
        let (region, token) = (&region, token.clone());
        async move {
            let (s, v) = region.call(method, path, Some(&token), Some(body)).await;
            assert!(s < 300, "{method} {path}: {s} {v}");
            v
        }
    };
    let net = call("POST", "/network/v2.0/networks", json!({"network": {"name": "bench"}})).await;
    let net_id = net["network"]["id"].as_str().unwrap().to_string();
    call(
        "POST",
        "/network/v2.0/subnets",
        json!({"subnet": {"network_id": net_id, "cidr": "10.50.0.0/24", "ip_version": 4}}),
    )
    .await;
    let sg = call("POST", "/network/v2.0/security-groups", json!({"security_group": {"name": "bench-sg"}})).await;
    let sg_id = sg["security_group"]["id"].as_str().unwrap().to_string();
    let ports: Vec<serde_json::Value> =
        (0..PORTS).map(|_| json!({"network_id": net_id, "security_groups": [sg_id]})).collect();
    call("POST", "/network/v2.0/ports", json!({"ports": ports})).await;
    let ns = format!("nbn-{}", &net_id.replace('-', "")[..8]);
    let start = Instant::now();
    while live_rules(&ns).matches("jump in_").count() < PORTS {
        assert!(start.elapsed() < Duration::from_secs(120), "the ports never reached the filter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut applied = Vec::new();
    for run in 0..RUNS {
        let port = 8000 + run;
        let needle = format!("tcp dport {port} accept");
        let t = Instant::now();
        let (s, v) = region
            .call(
                "POST",
                "/network/v2.0/security-group-rules",
                Some(&token),
                Some(json!({"security_group_rule": {"security_group_id": sg_id, "direction": "ingress",
                    "protocol": "tcp", "port_range_min": port, "port_range_max": port, "remote_ip_prefix": "10.0.0.0/8"}})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        while live_rules(&ns).matches(&needle).count() < PORTS {
            assert!(t.elapsed() < Duration::from_secs(60), "the change never reached the filter");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        applied.push(t.elapsed());
    }

    // The baseline: the same ruleset loaded by `nft` into a namespace of its own.
    let file = region.data_dir.join("net").join(&ns).join("firewall.nft");
    let bare_ns = format!("nbbench-{}", std::process::id());
    assert!(Command::new("ip").args(["netns", "add", &bare_ns]).status().unwrap().success());
    let mut bare = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let ok =
            Command::new("ip").args(["netns", "exec", &bare_ns, "nft", "-f"]).arg(&file).status().unwrap().success();
        assert!(ok);
        bare.push(t.elapsed());
    }
    let _ = Command::new("ip").args(["netns", "del", &bare_ns]).status();

    let (a, b) = (median(applied), median(bare));
    println!("security-group change applied to {PORTS} ports (median of {RUNS}):");
    println!("  nimbus (API call to the rule live for every port): {:8.1} ms", ms(a));
    println!("  nft -f of the same ruleset (baseline):             {:8.1} ms", ms(b));
    println!("  ratio: {:.2}", a.as_secs_f64() / b.as_secs_f64());
}
