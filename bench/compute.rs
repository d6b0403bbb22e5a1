//! Compute benchmark (not a test).
//!
//! 1. Real guests: for the default image with the same memory (s3.small.1, 1 GiB) and the
//!    same acceleration, the time from `POST /servers` to `ACTIVE` and to the guest's ready
//!    line on the serial console, beside the equivalent bare `qemu-system-x86_64` command
//!    run in the same process; prints the ratio (goal <= 1.05).
//! 2. Control plane at scale, with the simulated hypervisor: 1,000 servers created through
//!    the ECS API by concurrent clients; accepted creates per second and the latency of the
//!    answer carrying the job id (p50/p99), beside an HTTP round trip that does no work.
//!
//! Run: `NIMBUS_TINY_DIR=target/nimbus-tiny cargo bench -p nimbus --bench compute`
//! (part 1 is skipped without `NIMBUS_TINY_DIR`).

#[path = "../crates/nimbus/tests/common/mod.rs"]
mod common;

use common::{Db, Region};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const READY: &str = "nimbus-tiny: ready";
const RUNS: usize = 3;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The bare baseline: the same disk layout (a fresh overlay on the image), the same config
/// drive content, memory, CPU model and acceleration as the driver uses, started by hand.
fn bare_qemu(tiny: &Path, work: &Path, run: usize) -> Duration {
    let dir = work.join(format!("bare-{run}"));
    std::fs::create_dir_all(dir.join("cfg/openstack/latest")).unwrap();
    std::fs::write(
        dir.join("cfg/openstack/latest/meta_data.json"),
        r#"{"uuid":"bare","name":"bare","hostname":"bare"}"#,
    )
    .unwrap();
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
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-machine", "pc,accel=tcg", "-cpu", "max", "-smp", "1", "-m", "1024M", "-nodefaults", "-no-user-config"])
        .args(["-display", "none", "-drive"])
        .arg(format!("file={},if=virtio,format=qcow2,cache=writeback,discard=unmap", disk.display()))
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=raw,readonly=on", dir.join("config.iso").display()))
        .args(["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0", "-chardev"])
        .arg(format!("file,id=console,path={}", console.display()))
        .args(["-serial", "chardev:console"])
        .spawn()
        .unwrap();
    loop {
        if std::fs::read_to_string(&console).is_ok_and(|l| l.contains(READY)) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "bare guest never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ready = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    ready
}

async fn nimbus_guest(region: &Region, token: &str, run: usize) -> (Duration, Duration) {
    let start = Instant::now();
    let (code, created) = region
        .call(
            "POST",
            "/compute/v2.1/servers",
            Some(token),
            Some(json!({"server": {"name": format!("bench-{run}"), "imageRef": "nimbus-tiny",
                "flavorRef": "s3.small.1"}})),
        )
        .await;
    assert_eq!(code, 202, "{created}");
    let id = created["server"]["id"].as_str().unwrap().to_string();
    let mut active = None;
    let ready = loop {
        if active.is_none() {
            let (_, s) = region.call("GET", &format!("/compute/v2.1/servers/{id}"), Some(token), None).await;
            assert_ne!(s["server"]["status"], "ERROR", "{s}");
            if s["server"]["status"] == "ACTIVE" {
                active = Some(start.elapsed());
            }
        } else {
            let (_, out) = region
                .call(
                    "POST",
                    &format!("/compute/v2.1/servers/{id}/action"),
                    Some(token),
                    Some(json!({"os-getConsoleOutput": {}})),
                )
                .await;
            if out["output"].as_str().is_some_and(|o| o.contains(READY)) {
                break start.elapsed();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(300), "guest never got ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    region.call("DELETE", &format!("/compute/v2.1/servers/{id}"), Some(token), None).await;
    region
        .wait_for(60, "the bench server to go", || async {
            let (c, _) = region.call("GET", &format!("/compute/v2.1/servers/{id}"), Some(token), None).await;
            (c == 404).then_some(())
        })
        .await;
    (active.unwrap(), ready)
}

async fn real_guests(tiny: &Path) {
    let region = Region::start_with(&Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.to_str().unwrap())], None);
    let token = region.admin_token().await;
    let work = tempfile::tempdir().unwrap();
    let (mut bare, mut active, mut ready) = (Vec::new(), Vec::new(), Vec::new());
    // Alternate so both see the same machine state; one warm-up of each first.
    bare_qemu(tiny, work.path(), 99);
    nimbus_guest(&region, &token, 99).await;
    for run in 0..RUNS {
        bare.push(bare_qemu(tiny, work.path(), run));
        let (a, r) = nimbus_guest(&region, &token, run).await;
        active.push(a);
        ready.push(r);
    }
    let (bare, active, ready) = (median(bare), median(active), median(ready));
    println!("real guests (nimbus-tiny, 1 vCPU, 1 GiB, TCG; median of {RUNS}):");
    println!("  bare qemu-system-x86_64 to ready line   {:>8.2} s", secs(bare));
    println!("  nimbus POST -> ACTIVE                   {:>8.2} s", secs(active));
    println!("  nimbus POST -> ready line               {:>8.2} s", secs(ready));
    println!("  ratio ready nimbus / bare               {:>8.3}   (goal <= 1.05)", secs(ready) / secs(bare));
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn simulated_scale() {
    let config = "hypervisor = \"simulated\"\nhost_vcpus = 100000\nhost_memory_mb = 100000000\n\
                  [quotas]\ninstances = -1\ncores = -1\nram = -1\n";
    let tiny = tempfile::tempdir().unwrap();
    let qcow2 = tiny.path().join("nimbus-tiny.qcow2");
    assert!(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&qcow2)
        .arg("64M")
        .status()
        .unwrap()
        .success());
    let region =
        Region::start_with(&Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.path().to_str().unwrap())], Some(config));
    let (token, body) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (code, images) = region.call("GET", "/image/v2/images?name=nimbus-tiny", Some(&token), None).await;
    assert_eq!(code, 200);
    let image = images["images"][0]["id"].as_str().unwrap().to_string();

    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        region.http.get(format!("{}/healthz", region.url)).send().await.unwrap();
    }
    let http_rt = t.elapsed() / n;

    let total = 1000usize;
    let clients = 8usize;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url, token, project, image) =
            (region.http.clone(), region.url.clone(), token.clone(), project.clone(), image.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (c..total).step_by(clients) {
                let body = json!({"server": {"name": format!("sim-{i}"), "imageRef": image, "flavorRef": "s3.small.1",
                    "vpcid": "default", "nics": [{"subnet_id": "default"}], "root_volume": {"volumetype": "SSD"},
                    "count": 1}});
                let start = Instant::now();
                let r = http
                    .post(format!("{url}/v1/{project}/cloudservers"))
                    .header("X-Auth-Token", &token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let v: Value = r.json().await.unwrap();
                lat.push(start.elapsed());
                assert!(status.is_success() && v["job_id"].is_string(), "{status} {v}");
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let accepted = t.elapsed();
    lat.sort();
    // Every build job finishes (the simulated guests start at once).
    let settle = Instant::now();
    region
        .wait_for(600, "1,000 servers ACTIVE", || async {
            let (_, l) = region.call("GET", "/compute/v2.1/servers?status=BUILD&limit=1", Some(&token), None).await;
            l["servers"].as_array().is_some_and(|s| s.is_empty()).then_some(())
        })
        .await;
    let all_active = accepted + settle.elapsed();
    println!("control plane, simulated hypervisor, {total} servers by {clients} concurrent ECS clients:");
    println!("  HTTP round trip (GET /healthz)          {:>8.2} ms", http_rt.as_secs_f64() * 1e3);
    println!("  accepted creates per second             {:>8.1}", total as f64 / secs(accepted));
    println!(
        "  job-id latency p50 / p99                {:>8.2} / {:.2} ms  ({:.1}x / {:.1}x the round trip)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        secs(percentile(&lat, 0.5)) / secs(http_rt),
        secs(percentile(&lat, 0.99)) / secs(http_rt),
    );
    println!("  all {total} ACTIVE after                    {:>8.2} s", secs(all_active));
}

#[tokio::main]
async fn main() {
    match std::env::var("NIMBUS_TINY_DIR") {
        Ok(d) if !d.is_empty() => real_guests(Path::new(&d)).await,
        _ => println!("NIMBUS_TINY_DIR unset: skipping the real-guest comparison"),
    }
    simulated_scale().await;
}
