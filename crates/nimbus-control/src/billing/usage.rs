//! From recorded usage to metered levels: the usage events of an account's resources become,
//! per resource and price key, the level held over time (an instance while billable, the GB
//! of a volume, the Mbit/s of a bandwidth), and the month's object-storage counters become
//! counted quantities. Rating (`rating.rs`) prices them.
//!
//! What is billable (seed 6.1.1 and the service catalogue):
//! - ECS: while running, for flavors without a local disk; from creation until deletion,
//!   running or not, for flavors with one (an ephemeral disk); by flavor, a resize changing
//!   the key from its time.
//! - EVS: GB by volume type from creation to deletion; snapshots and backups by GB held.
//! - OBS: GB by storage class, requests (reads; writes and listings; deletions are free) and
//!   bytes sent to clients.
//! - EIP: each address while allocated, and its bandwidth's Mbit/s when charged by bandwidth.

use nimbus_store::objects::RequestCount;
use nimbus_store::servers::UsageEvent;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

/// 2^30: the GB of storage meters.
pub const GB: i64 = 1 << 30;

/// A level held over [from, to).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub from: i64,
    pub to: i64,
    pub level: Decimal,
}

/// One resource's consumption of one price key.
#[derive(Debug, Clone, PartialEq)]
pub struct Metered {
    pub project_id: String,
    /// ecs, evs, snapshot, backup, obs, eip.
    pub service: &'static str,
    pub resource_id: String,
    pub resource_name: String,
    /// The price key (`ecs:s3.small.1`, `evs:SSD`, `obs:requests.read`...).
    pub key: String,
    /// An instance's (vCPUs, RAM MiB), to price a flavor the list does not name.
    pub spec: Option<(i64, i64)>,
    /// Time meters: the levels held (the last may be open: `to` = `i64::MAX`).
    pub segments: Vec<Segment>,
    /// Counted meters: the quantity in the month.
    pub count: Decimal,
}

/// Order of events recorded in the same millisecond.
fn rank(event: &str) -> u8 {
    match event {
        "created" => 0,
        "started" => 1,
        "resized" => 2,
        "stored" => 3,
        "stopped" => 4,
        _ => 5,
    }
}

fn detail(e: &UsageEvent) -> Value {
    serde_json::from_str(&e.detail).unwrap_or(Value::Null)
}

/// Builds level segments from (time, level) changes; a level of zero holds nothing.
#[derive(Default)]
struct Levels {
    open: Option<(i64, Decimal)>,
    segments: Vec<Segment>,
}

impl Levels {
    fn set(&mut self, at: i64, level: Decimal) {
        if let Some((from, l)) = self.open.take() {
            if l == level {
                self.open = Some((from, l));
                return;
            }
            if at > from && !l.is_zero() {
                self.segments.push(Segment { from, to: at, level: l });
            }
        }
        if !level.is_zero() {
            self.open = Some((at, level));
        }
    }

    fn finish(mut self) -> Vec<Segment> {
        if let Some((from, level)) = self.open.take() {
            self.segments.push(Segment { from, to: i64::MAX, level });
        }
        self.segments
    }
}

/// The metered levels of a set of usage events (any order). `local_disk` says whether a
/// flavor includes a local disk when an event does not.
pub fn meter_events(events: &[UsageEvent], local_disk: &dyn Fn(&str) -> bool) -> Vec<Metered> {
    let mut by_resource: BTreeMap<(&str, &str, &str), Vec<&UsageEvent>> = BTreeMap::new();
    for e in events {
        by_resource
            .entry((e.resource_type.as_str(), e.project_id.as_str(), e.resource_id.as_str()))
            .or_default()
            .push(e);
    }
    let mut out = Vec::new();
    for ((kind, _, _), mut evs) in by_resource {
        evs.sort_by_key(|a| (a.at, rank(&a.event)));
        match kind {
            "ecs" => meter_server(&evs, local_disk, &mut out),
            "evs" => meter_sized(&evs, "evs", |e| format!("evs:{}", e.flavor.as_deref().unwrap_or("*")), &mut out),
            "snapshot" => meter_sized(&evs, "snapshot", |_| "evs:snapshot".into(), &mut out),
            "vbs" => meter_backup(&evs, &mut out),
            "obs" => meter_objects(&evs, &mut out),
            "eip" => meter_sized(&evs, "eip", |_| "eip:address".into(), &mut out),
            "bandwidth" => meter_bandwidth(&evs, &mut out),
            _ => {}
        }
    }
    out
}

fn metered(e: &UsageEvent, service: &'static str, key: String, name: String) -> Metered {
    Metered {
        project_id: e.project_id.clone(),
        service,
        resource_id: e.resource_id.clone(),
        resource_name: name,
        key,
        spec: None,
        segments: Vec::new(),
        count: Decimal::ZERO,
    }
}

/// An instance: one level per flavor, 1 while billable.
fn meter_server(evs: &[&UsageEvent], local_disk: &dyn Fn(&str) -> bool, out: &mut Vec<Metered>) {
    let mut per_flavor: BTreeMap<String, (Levels, Option<(i64, i64)>)> = BTreeMap::new();
    let (mut alive, mut running) = (false, false);
    let mut flavor: Option<String> = None;
    let mut name = String::new();
    let mut local = false;
    for e in evs {
        let d = detail(e);
        if let Some(n) = d["name"].as_str() {
            name = n.to_string();
        }
        let new_flavor = e.flavor.clone().unwrap_or_default();
        let disk = d["local_disk"].as_bool().unwrap_or_else(|| local_disk(&new_flavor));
        let spec = Some((d["vcpus"].as_i64().unwrap_or(0), d["ram_mb"].as_i64().unwrap_or(0)));
        match e.event.as_str() {
            "created" => alive = true,
            "started" => {
                alive = true;
                running = true;
            }
            "stopped" => running = false,
            "deleted" => {
                alive = false;
                running = false;
            }
            _ => {}
        }
        // The former flavor stops at this instant; the current one holds what is billable.
        if let Some(old) = flavor.as_ref().filter(|f| **f != new_flavor) {
            if let Some((l, _)) = per_flavor.get_mut(old) {
                l.set(e.at, Decimal::ZERO);
            }
        }
        flavor = Some(new_flavor.clone());
        local = disk;
        let billable = if local { alive } else { running };
        let entry = per_flavor.entry(new_flavor).or_insert_with(|| (Levels::default(), spec));
        entry.1 = spec;
        entry.0.set(e.at, if billable { Decimal::ONE } else { Decimal::ZERO });
    }
    let _ = local;
    for (f, (levels, spec)) in per_flavor {
        let segments = levels.finish();
        if segments.is_empty() {
            continue;
        }
        let mut m = metered(evs[0], "ecs", format!("ecs:{f}"), name.clone());
        m.spec = spec;
        m.segments = segments;
        out.push(m);
    }
}

/// A resource whose level is the `size_gb` (or 1 for an address) of its last event, until
/// it is deleted.
fn meter_sized(
    evs: &[&UsageEvent],
    service: &'static str,
    key: impl Fn(&UsageEvent) -> String,
    out: &mut Vec<Metered>,
) {
    let mut levels = Levels::default();
    let mut current_key = key(evs[0]);
    for e in evs {
        let d = detail(e);
        let level = match (e.event.as_str(), service) {
            ("deleted", _) => Decimal::ZERO,
            ("created" | "resized", "eip") => Decimal::ONE,
            _ => Decimal::from(d["size_gb"].as_i64().unwrap_or(0)),
        };
        if e.event != "deleted" {
            current_key = key(e);
        }
        levels.set(e.at, level);
    }
    let segments = levels.finish();
    if !segments.is_empty() {
        let name = detail(evs[evs.len() - 1])["name"].as_str().unwrap_or_default().to_string();
        let mut m = metered(evs[0], service, current_key, name);
        m.segments = segments;
        out.push(m);
    }
}

/// A backup: the GB it stores (deduplicated, compressed) until deleted.
fn meter_backup(evs: &[&UsageEvent], out: &mut Vec<Metered>) {
    let mut levels = Levels::default();
    for e in evs {
        let bytes = detail(e)["stored_bytes"].as_i64().unwrap_or(0);
        let level = if e.event == "deleted" { Decimal::ZERO } else { Decimal::from(bytes) / Decimal::from(GB) };
        levels.set(e.at, level);
    }
    let segments = levels.finish();
    if !segments.is_empty() {
        let mut m = metered(evs[0], "backup", "vbs:backup".into(), String::new());
        m.segments = segments;
        out.push(m);
    }
}

/// A bucket: per storage class, the bytes stored (events carry each change).
fn meter_objects(evs: &[&UsageEvent], out: &mut Vec<Metered>) {
    let mut per_class: BTreeMap<String, (i64, Levels)> = BTreeMap::new();
    for e in evs {
        let d = detail(e);
        let class = e.flavor.clone().unwrap_or_else(|| "STANDARD".into());
        let (bytes, levels) = per_class.entry(class).or_default();
        *bytes = (*bytes + d["bytes"].as_i64().unwrap_or(0)).max(0);
        levels.set(e.at, Decimal::from(*bytes) / Decimal::from(GB));
    }
    for (class, (_, levels)) in per_class {
        let segments = levels.finish();
        if segments.is_empty() {
            continue;
        }
        let mut m = metered(evs[0], "obs", format!("obs:{class}"), evs[0].resource_id.clone());
        m.segments = segments;
        out.push(m);
    }
}

/// A bandwidth: its Mbit/s while charged by bandwidth (traffic-charged ones are not).
fn meter_bandwidth(evs: &[&UsageEvent], out: &mut Vec<Metered>) {
    let mut levels = Levels::default();
    let mut name = String::new();
    for e in evs {
        let d = detail(e);
        if let Some(n) = d["name"].as_str() {
            name = n.to_string();
        }
        let by_bandwidth = d["charge_mode"].as_str().unwrap_or("bandwidth") == "bandwidth";
        let level = if e.event == "deleted" || !by_bandwidth {
            Decimal::ZERO
        } else {
            Decimal::from(d["size_mbit"].as_i64().unwrap_or(0))
        };
        levels.set(e.at, level);
    }
    let segments = levels.finish();
    if !segments.is_empty() {
        let mut m = metered(evs[0], "eip", "eip:bandwidth".into(), name);
        m.segments = segments;
        out.push(m);
    }
}

/// Reads, writes and listings, and egress of each bucket, from its hourly counters.
pub fn meter_requests(rows: &[RequestCount]) -> Vec<Metered> {
    let mut per_bucket: BTreeMap<(&str, &str), (i64, i64, i64)> = BTreeMap::new();
    for r in rows {
        let e = per_bucket.entry((r.project_id.as_str(), r.bucket.as_str())).or_default();
        match r.operation.as_str() {
            "GetObject" | "HeadObject" => e.0 += r.requests,
            // Deletions are free.
            "DeleteObject" | "DeleteObjects" | "AbortMultipartUpload" => {}
            _ => e.1 += r.requests,
        }
        e.2 += r.bytes_out;
    }
    let mut out = Vec::new();
    for ((project, bucket), (reads, writes, bytes_out)) in per_bucket {
        for (key, count) in [
            ("obs:requests.read", Decimal::from(reads)),
            ("obs:requests.write", Decimal::from(writes)),
            ("obs:egress", Decimal::from(bytes_out) / Decimal::from(GB)),
        ] {
            if count.is_zero() {
                continue;
            }
            out.push(Metered {
                project_id: project.to_string(),
                service: "obs",
                resource_id: bucket.to_string(),
                resource_name: bucket.to_string(),
                key: key.to_string(),
                spec: None,
                segments: Vec::new(),
                count,
            });
        }
    }
    out
}

impl crate::Control {
    /// Records a billable change of a resource (what metering reads).
    pub(crate) async fn record_usage(
        &self,
        tx: &mut sqlx::AnyConnection,
        project_id: &str,
        resource_type: &str,
        resource_id: &str,
        event: &str,
        flavor: Option<&str>,
        detail: Value,
    ) -> Result<(), nimbus_core::Error> {
        nimbus_store::servers::insert_usage(
            tx,
            &UsageEvent {
                id: nimbus_core::id::new_hex_id(),
                project_id: project_id.to_string(),
                resource_type: resource_type.to_string(),
                resource_id: resource_id.to_string(),
                event: event.to_string(),
                flavor: flavor.map(str::to_string),
                detail: detail.to_string(),
                at: nimbus_core::time::now_ms(),
            },
        )
        .await
    }
}
