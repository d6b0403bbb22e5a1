//! Billing benchmark (not a test): rating one month of per-second usage of 10,000 servers,
//! each started and stopped ten times at random seconds (210,000 usage events), through the
//! region's invoice API, beside the same records summed by one plain SQL query (running
//! seconds per server with a window function) on the same SQLite file in the same run. Both
//! totals are printed and must agree to the cent per server.
//!
//! The open invoice rates the month twice (so far, and projected to its end), so the API
//! figure is for two ratings plus the JSON of 10,000 lines.
//!
//! Run: `cargo bench -p nimbus --bench billing` (builds and starts the release binary).

#[path = "../crates/nimbus/tests/common/mod.rs"]
mod common;

use common::{Db, Region};
use nimbus_control::billing::month::Month;
use nimbus_store::servers::{insert_usage, UsageEvent};
use nimbus_store::Store;
use std::time::{Duration, Instant};

const SERVERS: usize = 10_000;
const CYCLES: usize = 10;
/// s3.small.1 in the shipped list, EUR an hour.
const PRICE: f64 = 0.0204;

/// A small deterministic generator (the run is repeatable).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as i64
    }
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    // The month rated: last month, with the billing clock on its last day (the month is still
    // open, and every server has stopped by then: the usage below ends two days earlier).
    let month = Month::of(nimbus_core::time::now_ms()).plus(-1);
    let offset = (month.end() - 86_400_000 - nimbus_core::time::now_ms()).div_euclid(1000);
    let config = format!("billing_clock_offset_secs = {offset}\nbilling_interval_secs = 1000000000\n");
    let region = Region::start_with(&Db::Sqlite, &[], Some(&config));
    let admin = region.admin_token().await;
    let (domain, project, _) = region.account(&admin, "bench", &[("ann", "member")]).await;

    // 10,000 servers, ten runs each at random seconds of the month, written into the store.
    let store = Store::connect(&format!("sqlite://{}", region.data_dir.join("nimbus.db").display())).await.unwrap();
    let mut rng = Lcg(7);
    let secs = (month.end() - month.start()) / 1000 - 2 * 86_400;
    {
        let mut tx = store.write().await.unwrap();
        for i in 0..SERVERS {
            let id = format!("srv-{i:05}");
            // Distinct seconds, an even number of them: each start has its stop.
            let mut times = std::collections::BTreeSet::new();
            while times.len() < 2 * CYCLES {
                times.insert(month.start() + rng.next(secs) * 1000);
            }
            let detail = format!(r#"{{"vcpus":1,"ram_mb":1024,"disk_gb":0,"name":"{id}"}}"#);
            let mut events = vec![("created", month.start())];
            for (k, t) in times.iter().enumerate() {
                events.push((if k % 2 == 0 { "started" } else { "stopped" }, *t));
            }
            for (n, (event, at)) in events.into_iter().enumerate() {
                let e = UsageEvent {
                    id: format!("{id}-{n:02}"),
                    project_id: project.clone(),
                    resource_type: "ecs".into(),
                    resource_id: id.clone(),
                    event: event.into(),
                    flavor: Some("s3.small.1".into()),
                    detail: detail.clone(),
                    at,
                };
                insert_usage(&mut tx, &e).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
    }

    // Baseline: the running seconds of each server, one SQL query over the same rows.
    let sql = "SELECT resource_id, SUM(next_at - at) FROM (SELECT resource_id, event, at, \
               LEAD(at) OVER (PARTITION BY resource_id ORDER BY at) AS next_at FROM usage_events \
               WHERE project_id = $1 AND resource_type = 'ecs' AND at < $2) AS e \
               WHERE event = 'started' GROUP BY resource_id";
    let mut runs = Vec::new();
    let mut sql_total = 0i64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut c = store.read().await.unwrap();
        let rows: Vec<(String, i64)> =
            sqlx::query_as(sql).bind(&project).bind(month.end()).fetch_all(&mut *c).await.unwrap();
        runs.push(t.elapsed());
        assert_eq!(rows.len(), SERVERS);
        // Each server's line rounded to the cent, as an invoice line is.
        sql_total = rows.iter().map(|(_, ms)| ((*ms as f64 / 3_600_000.0) * PRICE * 100.0).round() as i64).sum();
    }
    let sql_time = median(runs);

    // Nimbus: the open invoice of that month (the billing clock is on its last day).
    let rss_before = region.pid().map(peak_rss_mb).unwrap_or(0.0);
    let mut runs = Vec::new();
    let mut api_total = 0i64;
    for _ in 0..5 {
        let t = Instant::now();
        let (s, v) =
            region.call("GET", &format!("/v1/billing/invoices/current?domain_id={domain}"), Some(&admin), None).await;
        runs.push(t.elapsed());
        assert_eq!(s, 200, "{v}");
        let inv = &v["invoice"];
        assert_eq!(inv["month"].as_str(), Some(month.to_string().as_str()));
        let lines = inv["regions"][0]["lines"].as_array().unwrap();
        assert_eq!(lines.len(), SERVERS);
        let total = inv["total"].as_str().unwrap();
        let (u, c) = total.split_once('.').unwrap();
        api_total = u.parse::<i64>().unwrap() * 100 + c.parse::<i64>().unwrap();
    }
    let api_time = median(runs);
    let rss_after = region.pid().map(peak_rss_mb).unwrap_or(0.0);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "billing benchmark (release build, SQLite): {SERVERS} servers, {} usage events, month {month}",
        SERVERS * (2 * CYCLES + 1)
    );
    println!(
        "{:<58} {:>10.1} ms                 (baseline)",
        "plain SQL: running seconds per server (window function)",
        ms(sql_time)
    );
    println!(
        "{:<58} {:>10.1} ms  {:>8.1}x baseline",
        "Nimbus: GET the month's invoice (rate twice + JSON)",
        ms(api_time),
        ms(api_time) / ms(sql_time)
    );
    println!("totals: SQL {:.2} EUR, invoice {:.2} EUR", sql_total as f64 / 100.0, api_total as f64 / 100.0);
    println!("nimbus peak RSS: {rss_before:.0} MiB before rating, {rss_after:.0} MiB after");
    assert_eq!(sql_total, api_total, "the invoice and the plain sum disagree");
}
