//! Backup benchmark (not a test), on one region in one run:
//!
//! 1. Full backup throughput of a 4 GiB volume filled with random data (incompressible,
//!    nothing to deduplicate: the worst case), beside a raw sequential read of the same
//!    volume file in this process; prints the ratio (goal >= 0.8). Both read the file from
//!    the disk: it is dropped from the page cache (`POSIX_FADV_DONTNEED`) before each, as a
//!    volume a backup reads is not in the host's cache. The warm read (from the page cache,
//!    a memory copy) is printed too, for scale, and a raw copy of the file (`dd`, written
//!    past the page cache and synced like the backup's packs) as a second baseline. A third
//!    is the disk's floor for a backup of data that neither compresses nor deduplicates:
//!    the file read while as many bytes are written, at once (two `dd`s); the raw read over
//!    that floor is the best ratio such a backup can reach on this disk.
//! 2. An incremental backup after rewriting 1% of the volume's 64 KiB blocks at random
//!    places: the bytes it read and stored, as a share of the volume (goal <= 2%), and its
//!    time as a share of the full backup's (goal <= 5%).
//! 3. That incremental backup restored to a new volume (its data from both backups' packs),
//!    beside the raw copy, and the restored volume compared with the volume (`qemu-img
//!    compare`).
//!
//! Both backups are timed from the API call to `available`, as a client sees them.
//!
//! Run: `cargo bench -p nimbus --bench backup`.

#[path = "../crates/nimbus/tests/common/mod.rs"]
mod common;

use common::{Db, Region, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

const GIB: u64 = 1 << 30;
const VOLUME_GB: u64 = 4;
const BLOCK: u64 = 64 << 10;

async fn wait_backup(region: &Region, token: &str, project: &str, id: &str) -> Value {
    loop {
        let (s, b) = region.call("GET", &format!("/volume/v3/{project}/backups/{id}"), Some(token), None).await;
        assert_eq!(s, 200, "{b}");
        match b["backup"]["status"].as_str() {
            Some("available") => return b["backup"].clone(),
            // Polled often: the incremental backup takes a few hundred milliseconds.
            Some("creating") => tokio::time::sleep(Duration::from_millis(10)).await,
            other => panic!("backup {id} ended {other:?}: {b}"),
        }
    }
}

async fn backup(
    region: &Region,
    token: &str,
    project: &str,
    volume: &str,
    incremental: bool,
) -> (Duration, Value, String) {
    let t = Instant::now();
    let (s, b) = region
        .call(
            "POST",
            &format!("/volume/v3/{project}/backups"),
            Some(token),
            Some(json!({"backup": {"volume_id": volume, "incremental": incremental}})),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let id = b["backup"]["id"].as_str().unwrap().to_string();
    wait_backup(region, token, project, &id).await;
    let took = t.elapsed();
    // What the backup read and stored, from its metering record.
    let (_, ev) =
        region.call("GET", &format!("/v1/{project}/metering/events?resource_id={id}"), Some(token), None).await;
    (took, ev["events"][0]["detail"].clone(), id)
}

/// Waits for a volume to be `available`.
async fn wait_volume(region: &Region, token: &str, project: &str, id: &str) {
    loop {
        let (s, v) = region.call("GET", &format!("/volume/v3/{project}/volumes/{id}"), Some(token), None).await;
        assert_eq!(s, 200, "{v}");
        match v["volume"]["status"].as_str() {
            Some("available") => return,
            Some("creating" | "restoring-backup") => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("volume {id} ended {other:?}: {v}"),
        }
    }
}

fn raw_read(path: &std::path::Path) -> (Duration, u64) {
    let t = Instant::now();
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 8 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    (t.elapsed(), total)
}

/// Drops the file's pages from the page cache (after syncing them: dirty pages stay).
fn evict(path: &std::path::Path) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: fadvise on a descriptor owned by `f`.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise");
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let region = Region::start_with(&Db::Sqlite, &[], Some("volume_min_gb = 1\n"));
    let (token, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (s, v) = region
        .call(
            "POST",
            &format!("/volume/v3/{project}/volumes"),
            Some(&token),
            Some(json!({"volume": {"size": VOLUME_GB, "name": "bench"}})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let id = v["volume"]["id"].as_str().unwrap().to_string();
    loop {
        let (_, v) = region.call("GET", &format!("/volume/v3/{project}/volumes/{id}"), Some(&token), None).await;
        if v["volume"]["status"] == "available" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file = region.data_dir.join("volumes").join(format!("{id}.qcow2"));
    let random = region.data_dir.parent().unwrap().join("random.raw");
    let st = Command::new("dd")
        .args(["if=/dev/urandom", "bs=8M", "status=none", &format!("count={}", VOLUME_GB * 128)])
        .arg(format!("of={}", random.display()))
        .status()
        .unwrap();
    assert!(st.success());
    let st =
        Command::new("qemu-img").args(["convert", "-n", "-f", "raw", "-O", "qcow2"]).arg(&random).arg(&file).status();
    assert!(st.unwrap().success());
    std::fs::remove_file(&random).unwrap();

    // The baseline: a plain sequential read of the volume file from the disk; then the
    // same from the page cache, for scale.
    evict(&file);
    let (raw_time, raw_bytes) = raw_read(&file);
    let (warm_time, warm_bytes) = raw_read(&file);
    // A second baseline: a raw copy of the file (read from the disk, written past the page
    // cache and synced, as the backup's packs are). A backup of random data stores every
    // byte it reads, so it is a copy too, and read and write share the disk.
    evict(&file);
    let copy = region.data_dir.parent().unwrap().join("copy.raw");
    let t = Instant::now();
    let st = Command::new("dd")
        .arg(format!("if={}", file.display()))
        .arg(format!("of={}", copy.display()))
        .args(["bs=8M", "oflag=direct", "conv=fsync", "status=none"])
        .status()
        .unwrap();
    assert!(st.success());
    let copy_time = t.elapsed();
    std::fs::remove_file(&copy).unwrap();
    // The disk's floor for any backup that stores what it reads: the volume file read and
    // as many bytes written (past the page cache, synced) at the same time, as a backup's
    // reads and pack writes overlap. Reads and writes share the disk's bandwidth.
    evict(&file);
    let t = Instant::now();
    let reader = Command::new("dd")
        .arg(format!("if={}", file.display()))
        .args(["of=/dev/null", "bs=8M", "iflag=direct", "status=none"])
        .spawn()
        .unwrap();
    let st = Command::new("dd")
        .arg(format!("of={}", copy.display()))
        .args(["if=/dev/zero", "bs=8M", "oflag=direct", "conv=fsync", "status=none"])
        .arg(format!("count={}", raw_bytes.div_ceil(8 << 20)))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(reader.wait_with_output().unwrap().status.success());
    let both_time = t.elapsed();
    std::fs::remove_file(&copy).unwrap();
    evict(&file);
    let cpu = region.cpu_seconds();
    let (full_time, full, _) = backup(&region, &token, &project, &id, false).await;
    let full_cpu = region.cpu_seconds() - cpu;

    // 1% of the 64 KiB blocks rewritten with random data, at random places (a fixed seed).
    let blocks = VOLUME_GB * GIB / BLOCK;
    let changes = blocks / 100;
    let pieces = region.data_dir.parent().unwrap().join("pieces");
    std::fs::create_dir_all(&pieces).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut cmds = Vec::new();
    let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
    for i in 0..changes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut data = vec![0u8; BLOCK as usize];
        urandom.read_exact(&mut data).unwrap();
        let piece = pieces.join(format!("{i}"));
        std::fs::write(&piece, &data).unwrap();
        cmds.push("-c".to_string());
        cmds.push(format!("write -s {} {} 64k", piece.display(), (x % blocks) * BLOCK));
    }
    let st = Command::new("qemu-io").args(["-f", "qcow2"]).args(&cmds).arg(&file).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    evict(&file);
    let (inc_time, inc, inc_id) = backup(&region, &token, &project, &id, true).await;

    // The incremental backup restored to a new volume (its data comes from both backups'
    // packs), from the API call to `available`; then checked against the volume.
    let t = Instant::now();
    let (s, r) = region
        .call(
            "POST",
            &format!("/volume/v3/{project}/backups/{inc_id}/restore"),
            Some(&token),
            Some(json!({"restore": {"name": "restored"}})),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let restored = r["restore"]["volume_id"].as_str().unwrap().to_string();
    wait_volume(&region, &token, &project, &restored).await;
    let restore_time = t.elapsed();
    let restored_file = region.data_dir.join("volumes").join(format!("{restored}.qcow2"));
    let st = Command::new("qemu-img")
        .args(["compare", "-q", "-f", "qcow2", "-F", "qcow2"])
        .arg(&file)
        .arg(&restored_file)
        .status();
    assert!(st.unwrap().success(), "the restored volume differs from the volume");

    let volume_bytes = VOLUME_GB * GIB;
    let full_read = full["read_bytes"].as_u64().unwrap_or(0);
    let (inc_read, inc_stored) = (inc["read_bytes"].as_u64().unwrap_or(0), inc["stored_bytes"].as_u64().unwrap_or(0));
    let pct = |b: u64| 100.0 * b as f64 / volume_bytes as f64;
    println!("backup benchmark: a {VOLUME_GB} GiB volume of random data");
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| raw sequential read of the volume file from disk, MB/s | {:.0} |", mbps(raw_bytes, raw_time));
    println!("| the same read from the page cache (for scale), MB/s | {:.0} |", mbps(warm_bytes, warm_time));
    println!("| raw copy of the volume file (dd, direct write, synced), MB/s | {:.0} |", mbps(raw_bytes, copy_time));
    println!("| full backup, MB/s (API call to available) | {:.0} |", mbps(full_read.max(volume_bytes), full_time));
    println!(
        "| ratio full backup / raw read (goal >= 0.8) | {:.2} |",
        raw_time.as_secs_f64() / full_time.as_secs_f64()
    );
    println!("| ratio full backup / raw copy | {:.2} |", copy_time.as_secs_f64() / full_time.as_secs_f64());
    println!(
        "| read and write of the volume's bytes at once (dd and dd, the disk's floor for a backup), s | {:.2} |",
        both_time.as_secs_f64()
    );
    println!(
        "| that floor / raw read: the best ratio a backup storing what it reads can reach here | {:.2} |",
        raw_time.as_secs_f64() / both_time.as_secs_f64()
    );
    println!("| ratio full backup / that floor | {:.2} |", both_time.as_secs_f64() / full_time.as_secs_f64());
    println!("| full backup time, s | {:.2} |", full_time.as_secs_f64());
    println!(
        "| full backup CPU time of the region, s (cores busy on average) | {:.2} ({:.2}) |",
        full_cpu,
        full_cpu / full_time.as_secs_f64()
    );
    println!("| incremental after 1% changed: read | {:.2}% of the volume |", pct(inc_read));
    println!("| incremental after 1% changed: stored | {:.2}% of the volume (goal <= 2%) |", pct(inc_stored));
    println!(
        "| incremental time | {:.2} s, {:.1}% of the full backup's (goal <= 5%) |",
        inc_time.as_secs_f64(),
        100.0 * inc_time.as_secs_f64() / full_time.as_secs_f64()
    );
    println!(
        "| restore of the incremental backup to a new volume, MB/s (API call to available; identical) | {:.0} |",
        mbps(volume_bytes, restore_time)
    );
    println!("| ratio restore / raw copy | {:.2} |", copy_time.as_secs_f64() / restore_time.as_secs_f64());
}
