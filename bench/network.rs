//! Network plane benchmark (not a test).
//!
//! 1. A security-group change applied to 100 ports: 100 ports of one subnet in one group,
//!    then a rule added to the group through the Neutron API; the time until the packet
//!    filter in the network's namespace holds the new rule for every port, beside the time
//!    `nft` itself takes to load the same ruleset into a fresh namespace (the same run).
//! 2. With `NIMBUS_TINY_DIR` (the default image): TCP throughput between two guests on one
//!    VPC subnet (TAPs on the subnet's bridge, through its packet filter), beside the same
//!    two guests (same image, vCPU, RAM and accelerator) started with bare
//!    `qemu-system-x86_64` on plain user-mode networking, the receiver reached through a
//!    host port forward (the only way two user-mode guests talk). Each sender pushes 32 MiB
//!    of zeros with busybox `nc`, three times, timed inside the guest; medians compared. (Under
//!    TCG both paths run at a few MB/s: the emulated guests, not the plane, are the limit.)
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
    security_group_change().await;
    match std::env::var("NIMBUS_TINY_DIR") {
        Ok(d) if !d.is_empty() => guest_throughput(std::path::Path::new(&d)).await,
        _ => println!("NIMBUS_TINY_DIR unset: skipping the guest throughput comparison"),
    }
}

async fn security_group_change() {
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

/// MiB each transfer sends, and how many transfers a sender makes.
const TRANSFER_MIB: u64 = 32;
const TRANSFERS: usize = 3;

/// The receiver's user data: a TCP sink on port 5001 (busybox `nc -ll -e`: a `cat` to
/// /dev/null per connection, which ends when the sender closes), in a session of its own so
/// that it outlives the user data script.
const RECEIVER: &str =
    "#!/bin/sh\nprintf '#!/bin/sh\\nexec cat >/dev/null\\n' >/run/sink.sh && chmod +x /run/sink.sh\n\
    setsid nc -ll -p 5001 -e /run/sink.sh </dev/null >/dev/null 2>&1 &\necho SINK-UP\n";

/// The sender's user data: waits for the sink, then sends `TRANSFERS` times, each line
/// `SENT <bytes> <uptime before> <uptime after>`.
fn sender(target: &str, port: u16) -> String {
    format!(
        "#!/bin/sh\nfor i in $(seq 1 120); do if echo probe | nc {target} {port} 2>/dev/null; then break; fi; sleep 1; done\n\
         for r in $(seq 1 {TRANSFERS}); do\n\
           t0=$(cut -d' ' -f1 /proc/uptime)\n\
           dd if=/dev/zero bs=1048576 count={TRANSFER_MIB} 2>/dev/null | nc {target} {port}\n\
           t1=$(cut -d' ' -f1 /proc/uptime)\n\
           echo SENT {bytes} $t0 $t1\n\
         done\necho SENDER-DONE\n",
        bytes = TRANSFER_MIB << 20
    )
}

/// The median rate, in MB/s, of the `SENT` lines of a console log.
fn median_rate(log: &str) -> f64 {
    let mut rates: Vec<f64> = log
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| *x == "SENT")?;
            let (bytes, t0, t1): (f64, f64, f64) =
                (w.get(i + 1)?.parse().ok()?, w.get(i + 2)?.parse().ok()?, w.get(i + 3)?.parse().ok()?);
            (t1 > t0).then(|| bytes / (t1 - t0) / 1e6)
        })
        .collect();
    assert_eq!(rates.len(), TRANSFERS, "every transfer reported: {log}");
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rates[rates.len() / 2]
}

/// A guest started with bare QEMU on user-mode networking (`hostfwd`: a host port forwarded
/// to its port 5001), its config drive holding `user_data`; returns the process and its
/// console log's path.
fn bare_guest(
    tiny: &std::path::Path,
    dir: &std::path::Path,
    user_data: &str,
    hostfwd: Option<u16>,
) -> (std::process::Child, std::path::PathBuf) {
    let latest = dir.join("cfg/openstack/latest");
    std::fs::create_dir_all(&latest).unwrap();
    std::fs::write(latest.join("meta_data.json"), r#"{"uuid":"bare","name":"bare","hostname":"bare"}"#).unwrap();
    std::fs::write(latest.join("user_data"), user_data).unwrap();
    let ok = Command::new("genisoimage")
        .args(["-quiet", "-o"])
        .arg(dir.join("config.iso"))
        .args(["-V", "config-2", "-J", "-R", "-l"])
        .arg(dir.join("cfg"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let disk = dir.join("disk.qcow2");
    let ok = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(tiny.join("nimbus-tiny.qcow2"))
        .arg(&disk)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let console = dir.join("console.log");
    let netdev = match hostfwd {
        Some(p) => format!("user,id=net0,hostfwd=tcp:127.0.0.1:{p}-:5001"),
        None => "user,id=net0".into(),
    };
    let child = Command::new("qemu-system-x86_64")
        .args(["-machine", "pc,accel=tcg", "-cpu", "max", "-smp", "1", "-m", "1024M", "-nodefaults", "-no-user-config"])
        .args(["-display", "none", "-drive"])
        .arg(format!("file={},if=virtio,format=qcow2,cache=writeback,discard=unmap", disk.display()))
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=raw,readonly=on", dir.join("config.iso").display()))
        .args(["-netdev", &netdev, "-device", "virtio-net-pci,netdev=net0", "-chardev"])
        .arg(format!("file,id=console,path={}", console.display()))
        .args(["-serial", "chardev:console"])
        .spawn()
        .unwrap();
    (child, console)
}

fn wait_log(path: &std::path::Path, needle: &str, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "{needle:?} never came: {log}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn guest_throughput(tiny: &std::path::Path) {
    // Two guests on one VPC subnet.
    let region = Region::start_with(&common::Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.to_str().unwrap())], None);
    let (token, _) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    let call = |method: &'static str, path: String, body: serde_json::Value| {
        let (region, token) = (&region, token.clone());
        async move {
            let (s, v) = region.call(method, &path, Some(&token), Some(body)).await;
            assert!(s < 300, "{method} {path}: {s} {v}");
            v
        }
    };
    let net = call("POST", "/network/v2.0/networks".into(), json!({"network": {"name": "tput"}})).await;
    let net_id = net["network"]["id"].as_str().unwrap().to_string();
    call(
        "POST",
        "/network/v2.0/subnets".into(),
        json!({"subnet": {"network_id": net_id, "cidr": "10.60.0.0/24", "ip_version": 4}}),
    )
    .await;
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let mut ids = Vec::new();
    for (name, ip, data) in
        [("sink", "10.60.0.10", RECEIVER.to_string()), ("source", "10.60.0.11", sender("10.60.0.10", 5001))]
    {
        let v = call(
            "POST",
            "/compute/v2.1/servers".into(),
            json!({"server": {"name": name, "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1",
                "networks": [{"uuid": net_id, "fixed_ip": ip}], "user_data": b64(&data)}}),
        )
        .await;
        ids.push(v["server"]["id"].as_str().unwrap().to_string());
    }
    let vpc_log = region
        .wait_for(900, "the VPC transfers", || {
            let (region, token, id) = (&region, token.clone(), ids[1].clone());
            async move {
                let (_, out) = region
                    .call(
                        "POST",
                        &format!("/compute/v2.1/servers/{id}/action"),
                        Some(&token),
                        Some(json!({"os-getConsoleOutput": {}})),
                    )
                    .await;
                out["output"].as_str().filter(|o| o.contains("SENDER-DONE")).map(str::to_string)
            }
        })
        .await;
    let vpc = median_rate(&vpc_log);
    for id in &ids {
        region.call("DELETE", &format!("/compute/v2.1/servers/{id}"), Some(&token), None).await;
    }

    // The same guests on user-mode networking, with bare QEMU.
    let work = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (mut sink, sink_log) = bare_guest(tiny, &work.path().join("sink"), RECEIVER, Some(port));
    wait_log(&sink_log, "SINK-UP", 300);
    let (mut source, source_log) = bare_guest(tiny, &work.path().join("source"), &sender("10.0.2.2", port), None);
    let user_log = wait_log(&source_log, "SENDER-DONE", 900);
    let user = median_rate(&user_log);
    for c in [&mut sink, &mut source] {
        let _ = c.kill();
        let _ = c.wait();
    }

    println!("TCP between two guests (nimbus-tiny, 1 vCPU, 1 GiB, TCG; {TRANSFER_MIB} MiB x {TRANSFERS}, median):");
    println!("  VPC subnet (TAPs on the subnet's bridge, filtered): {vpc:8.1} MB/s");
    println!("  user-mode networking (bare QEMU, host forward):     {user:8.1} MB/s");
    println!("  ratio VPC / user-mode: {:.2}", vpc / user);
}
