//! Identity benchmark (not a test): token issue and validation rates, and listing 10,000
//! projects, each printed beside the raw store round trip (`SELECT 1` on the same SQLite
//! engine) measured in the same run.
//!
//! Run: `cargo bench -p nimbus --bench identity` (builds and starts the release binary).

#[path = "../crates/nimbus/tests/common/mod.rs"]
mod common;

use common::{Region, ADMIN_PASSWORD};
use nimbus_store::identity::{insert_project, Project};
use nimbus_store::Store;
use std::time::{Duration, Instant};

fn per_op(total: Duration, n: u32) -> Duration {
    total / n
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let mut region = Region::start();

    // Baseline: the raw store round trip, on the region's own database file.
    let store = Store::connect(&format!("sqlite://{}", region.data_dir.join("nimbus.db").display())).await.unwrap();
    for _ in 0..100 {
        store.ping().await.unwrap();
    }
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        store.ping().await.unwrap();
    }
    let store_rt = per_op(t.elapsed(), n);

    // An HTTP round trip that does no work, for reference.
    let t = Instant::now();
    for _ in 0..n {
        region.http.get(format!("{}/healthz", region.url)).send().await.unwrap();
    }
    let http_rt = per_op(t.elapsed(), n);

    // Token issue: argon2id verification dominates, by design.
    let issues = 40;
    let t = Instant::now();
    let mut token = String::new();
    for _ in 0..issues {
        token = region.token("admin", ADMIN_PASSWORD, "admin").await.0;
    }
    let issue = per_op(t.elapsed(), issues);

    // Token validation (GET /v3/auth/tokens with X-Subject-Token).
    let validations = 1000;
    let t = Instant::now();
    for _ in 0..validations {
        let r = region
            .http
            .get(format!("{}/identity/v3/auth/tokens?nocatalog", region.url))
            .header("X-Auth-Token", &token)
            .header("X-Subject-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let validate = per_op(t.elapsed(), validations);

    // 10,000 projects, written straight into the store (the list is what is measured).
    region.stop();
    {
        let mut tx = store.write().await.unwrap();
        for i in 0..10_000 {
            let p = Project {
                id: nimbus_core::id::new_hex_id(),
                name: format!("bench-{i:05}"),
                domain_id: "default".into(),
                parent_id: None,
                description: String::new(),
                enabled: true,
                extra: "{}".into(),
                created_at: 0,
            };
            insert_project(&mut tx, &p).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    region.launch();
    let admin = region.admin_token().await;
    let lists = 5;
    let t = Instant::now();
    for _ in 0..lists {
        let (s, v) = region.call("GET", "/identity/v3/projects", Some(&admin), None).await;
        assert_eq!(s, 200);
        assert!(v["projects"].as_array().unwrap().len() >= 10_000);
    }
    let list_all = per_op(t.elapsed(), lists);
    let t = Instant::now();
    let (mut marker, mut seen) = (String::new(), 0);
    loop {
        let path = format!(
            "/identity/v3/projects?limit=1000{}",
            if marker.is_empty() { String::new() } else { format!("&marker={marker}") }
        );
        let (_, v) = region.call("GET", &path, Some(&admin), None).await;
        let page = v["projects"].as_array().unwrap();
        if page.is_empty() {
            break;
        }
        seen += page.len();
        marker = page.last().unwrap()["id"].as_str().unwrap().to_string();
    }
    let list_paged = t.elapsed();
    assert!(seen >= 10_000);

    let base = ms(store_rt);
    println!("identity benchmark (release build, SQLite, 1 client)");
    println!("{:<44} {:>10.3} ms                  (baseline)", "store round trip, SELECT 1", base);
    println!("{:<44} {:>10.3} ms  {:>9.1}x baseline", "HTTP round trip, GET /healthz", ms(http_rt), ms(http_rt) / base);
    println!(
        "{:<44} {:>10.3} ms  {:>9.1}x baseline  {:>8.1} tokens/s",
        "token issue (argon2id), POST /v3/auth/tokens",
        ms(issue),
        ms(issue) / base,
        1.0 / issue.as_secs_f64()
    );
    println!(
        "{:<44} {:>10.3} ms  {:>9.1}x baseline  {:>8.1} validations/s",
        "token validate, GET /v3/auth/tokens",
        ms(validate),
        ms(validate) / base,
        1.0 / validate.as_secs_f64()
    );
    println!("{:<44} {:>10.3} ms  {:>9.1}x baseline", "list 10k projects, one call", ms(list_all), ms(list_all) / base);
    println!(
        "{:<44} {:>10.3} ms  {:>9.1}x baseline",
        "list 10k projects, pages of 1000",
        ms(list_paged),
        ms(list_paged) / base
    );
}
