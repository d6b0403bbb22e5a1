//! The `nimbus` command line as a client of a real region, signed in with the `OS_*` settings
//! of `admin-openrc.sh`: prices, reserved instances (a refusal printed with the API's message
//! and exit status 1), a flexible change and a cancellation, the invoice as a table and as
//! CSV, a budget, the support plan, a named contact and a ticket through its actions, and the
//! traces of all that; then servers, volumes with backups and buckets with a real guest.

mod common;

use common::{Region, ADMIN_PASSWORD};
use serde_json::Value;
use std::process::Command;

/// Runs `nimbus ARGS` as the region's admin; (success, stdout, stderr).
fn nimbus(region: &Region, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nimbus"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(region.os_env("admin", ADMIN_PASSWORD, "admin"))
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn json(region: &Region, args: &[&str]) -> Value {
    let mut all = vec!["-f", "json"];
    all.extend_from_slice(args);
    let (ok, out, err) = nimbus(region, &all);
    assert!(ok, "nimbus {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("nimbus {args:?}: {e}: {out}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nimbus_cli_drives_billing_and_support() {
    // One real second is a bit more than a day on the support clock: next month comes soon.
    let region = Region::start_with(&common::Db::Sqlite, &[], Some("support_time_scale = 100000\n"));

    // Without credentials: a clear error, status 1.
    let out = Command::new(env!("CARGO_BIN_EXE_nimbus")).args(["billing", "prices"]).env_clear().output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("OS_AUTH_URL is not set"));

    let prices = json(&region, &["billing", "prices"]);
    assert!(
        prices.as_array().unwrap().iter().any(|p| p["item"] == "ecs:s3.small.1" && p["price"] == "0.0204"),
        "{prices}"
    );
    let (ok, table, _) = nimbus(&region, &["billing", "prices"]);
    assert!(ok && table.contains("Price (EUR)") && table.contains("ecs:s3.small.1"), "{table}");

    // Reserved instances: the API's refusal, then a flexible one changed and cancelled.
    let (ok, _, err) = nimbus(&region, &["ri", "subscribe", "--flavor", "x9.huge.1", "--years", "1"]);
    assert!(!ok && err.contains("unknown flavor") && err.contains("(400)"), "{err}");
    let ri = json(&region, &["ri", "subscribe", "--flavor", "s3.large.2", "--years", "1", "--flexible"]);
    assert_eq!((ri["status"].as_str(), ri["monthly_amount"].as_str()), (Some("pending"), Some("34.71")), "{ri}");
    let id = ri["id"].as_str().unwrap();
    let ri = json(&region, &["ri", "modify", id, "--flavor", "s3.xlarge.2"]);
    assert_eq!(ri["current_flavor"], "s3.xlarge.2", "{ri}");
    let ri = json(&region, &["ri", "cancel", id]);
    assert_eq!((ri["status"].as_str(), ri["cancellation_fee"].as_str()), (Some("cancelled"), Some("99.96")), "{ri}");
    let list = json(&region, &["ri", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // The invoice: a table with its lines, and CSV.
    let (ok, table, err) = nimbus(&region, &["billing", "invoice"]);
    assert!(ok, "{err}");
    assert!(table.contains("ri:cancellation") && table.contains("99.96") && table.contains("open"), "{table}");
    let (ok, csv, _) = nimbus(&region, &["billing", "invoice", "--csv"]);
    assert!(ok && csv.starts_with("invoice,month,currency,region,") && csv.contains(",ri:cancellation,"), "{csv}");
    let (ok, _, err) = nimbus(&region, &["billing", "invoice", "2026-13"]);
    assert!(!ok && err.contains("YYYY-MM"), "{err}");

    // A budget, listed.
    let b = json(&region, &["billing", "budget", "create", "lab", "--amount", "50", "--threshold", "80"]);
    assert_eq!(b["thresholds"], serde_json::json!([80]), "{b}");
    let (ok, table, _) = nimbus(&region, &["billing", "budget", "list"]);
    assert!(ok && table.contains("lab") && table.contains("50.00"), "{table}");

    // Support: Business from next month; the admin its named contact; a ticket taken.
    let sub = json(&region, &["support", "plan", "--set", "business"]);
    assert_eq!(sub["pending"]["plan"], "business", "{sub}");
    region
        .wait_for(120, "the business plan in force", || async {
            (json(&region, &["support", "plan"])["plan"] == "business").then_some(())
        })
        .await;
    let admin = region.admin_token().await;
    let (_, users) = region.call("GET", "/identity/v3/users?name=admin", Some(&admin), None).await;
    let admin_id = users["users"][0]["id"].as_str().unwrap().to_string();
    let (_, projects) = region.call("GET", "/identity/v3/projects?name=admin", Some(&admin), None).await;
    let project = projects["projects"][0]["id"].as_str().unwrap().to_string();
    let c = json(
        &region,
        &[
            "support",
            "contact",
            "add",
            "--user",
            &admin_id,
            "--last-name",
            "Root",
            "--first-name",
            "Ada",
            "--position",
            "ops",
            "--email",
            "ada@example.com",
            "--phone",
            "+33 1",
            "--availability",
            "24x7",
        ],
    );
    assert_eq!(c["last_name"], "Root", "{c}");
    let (ok, _, err) = nimbus(
        &region,
        &[
            "support",
            "ticket",
            "open",
            "--project",
            &project,
            "--category",
            "incident",
            "--criticality",
            "major",
            "--subject",
            "API errors",
        ],
    );
    assert!(!ok && err.contains("Missing mandatory field"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.log");
    std::fs::write(&trace, "HTTP 500 at 10:00").unwrap();
    let mut open = vec![
        "support",
        "ticket",
        "open",
        "--project",
        &project,
        "--category",
        "incident",
        "--criticality",
        "major",
        "--subject",
        "API errors",
        "--resource",
        "i-1",
        "--attach",
        trace.to_str().unwrap(),
    ];
    let fields = [
        "company_name=Acme",
        "reporter_name=Ada Root",
        "reporter_position=ops",
        "reporter_email=ada@example.com",
        "reporter_phone=+33 1",
        "user_name=Ada",
        "user_email=ada@example.com",
        "service=ECS",
        "component=api",
        "description=POST /servers answers 500",
        "occurred_at=2026-12-05T10:00:00Z",
        "api_login=ada",
        "api_url=https://ecs.example/v1",
        "source_ip=203.0.113.9",
    ];
    for f in &fields {
        open.push("--field");
        open.push(f);
    }
    let t = json(&region, &open);
    assert_eq!((t["status"].as_str(), t["category"].as_str()), (Some("new"), Some("incident")), "{t}");
    let tid = t["id"].as_str().unwrap();
    let t = json(&region, &["support", "ticket", "act", tid, "take", "--priority", "P2"]);
    assert_eq!((t["status"].as_str(), t["priority"].as_str()), (Some("in_progress"), Some("P2")), "{t}");
    let (ok, shown, _) = nimbus(&region, &["support", "ticket", "show", tid]);
    assert!(ok && shown.contains("clocks.response_due") && shown.contains("in_progress"), "{shown}");

    // Cloud Trace shows what was done.
    // Every CLI call signs in (a createToken trace each), so ask for the billing service's traces only.
    let traces = json(&region, &["traces", "--limit", "50", "--service", "BSS"]);
    assert!(traces.as_array().unwrap().iter().all(|t| t["service_type"] == "BSS"), "{traces}");
    let names: Vec<&str> = traces.as_array().unwrap().iter().filter_map(|t| t["trace_name"].as_str()).collect();
    for op in ["subscribeReservedInstance", "cancelReservedInstance", "createBudget"] {
        assert!(names.contains(&op), "{op} not in {names:?}");
    }
}

/// The common flows: a real server launched with `--wait` and its console read, a volume
/// created and backed up twice (full, then incremental), a file uploaded to a bucket and
/// downloaded byte for byte, with the API's refusals printed and exit status 1.
#[tokio::test(flavor = "multi_thread")]
async fn the_nimbus_cli_runs_servers_volumes_and_buckets() {
    let Some(region) = common::compute_region(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();

    let boot = dir.path().join("boot.sh");
    std::fs::write(&boot, "#!/bin/sh\necho cli-user-data-ran\n").unwrap();
    let s = json(
        &region,
        &[
            "server",
            "create",
            "cli1",
            "--flavor",
            "s3.small.1",
            "--image",
            "nimbus-tiny",
            "--user-data",
            boot.to_str().unwrap(),
            "--wait",
        ],
    );
    assert_eq!((s["name"].as_str(), s["status"].as_str()), (Some("cli1"), Some("ACTIVE")), "{s}");
    let log = region
        .wait_for(300, "the user data on the console", || async {
            let (ok, log, _) = nimbus(&region, &["server", "console", "cli1", "--lines", "200"]);
            (ok && log.contains("cli-user-data-ran")).then_some(log)
        })
        .await;
    assert!(log.contains(common::READY), "{log}");
    let (ok, table, _) = nimbus(&region, &["server", "list"]);
    assert!(ok && table.contains("cli1") && table.contains("ACTIVE"), "{table}");
    let (ok, _, err) = nimbus(&region, &["server", "show", "no-such-server"]);
    assert!(!ok && err.contains("No server named"), "{err}");

    // Volumes: the size rule's message, then a volume and two backups.
    let (ok, _, err) = nimbus(&region, &["volume", "create", "small", "--size", "5"]);
    assert!(!ok && err.contains("10 to 32768") && err.contains("(400)"), "{err}");
    let v = json(&region, &["volume", "create", "cli-data", "--size", "10", "--type", "SSD", "--wait"]);
    assert_eq!(v["status"], "available", "{v}");
    let b1 = json(&region, &["volume", "backup", "cli-data", "--wait"]);
    assert_eq!((b1["status"].as_str(), b1["is_incremental"].as_bool()), (Some("available"), Some(false)), "{b1}");
    let b2 = json(&region, &["volume", "backup", "cli-data", "--wait"]);
    assert_eq!((b2["status"].as_str(), b2["is_incremental"].as_bool()), (Some("available"), Some(true)), "{b2}");
    let r = json(&region, &["volume", "restore", b1["id"].as_str().unwrap(), "--wait"]);
    let restored = r["volume_id"].as_str().unwrap().to_string();
    let vols = json(&region, &["volume", "list"]);
    assert!(
        vols.as_array().unwrap().iter().any(|v| v["id"] == restored.as_str() && v["status"] == "available"),
        "{vols}"
    );

    // Buckets: a 2 MiB file up and down, the same bytes; a missing object's message.
    let data: Vec<u8> = (0..2 * 1024 * 1024 + 3).map(|i| (i * 7 % 253) as u8).collect();
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, &data).unwrap();
    json(&region, &["bucket", "create", "cli-bucket"]);
    let o = json(
        &region,
        &["bucket", "put", file.to_str().unwrap(), "cli-bucket", "--key", "dir/blob.bin", "--class", "WARM"],
    );
    assert_eq!((o["size"].as_u64(), o["storage_class"].as_str()), (Some(data.len() as u64), Some("WARM")), "{o}");
    let ls = json(&region, &["bucket", "ls", "cli-bucket", "--prefix", "dir/"]);
    assert_eq!(ls.as_array().unwrap().len(), 1, "{ls}");
    let back = dir.path().join("back.bin");
    json(&region, &["bucket", "get", "cli-bucket", "dir/blob.bin", "-o", back.to_str().unwrap()]);
    assert!(std::fs::read(&back).unwrap() == data, "the download differs from the upload");
    let (ok, _, err) = nimbus(&region, &["bucket", "get", "cli-bucket", "missing", "-o", back.to_str().unwrap()]);
    assert!(!ok && err.contains("(404)"), "{err}");
    assert!(std::fs::read(&back).unwrap() == data, "a failed download leaves the earlier file alone");
    let (ok, _, err) = nimbus(&region, &["bucket", "delete", "cli-bucket"]);
    assert!(!ok && err.contains("(409)"), "a bucket with objects stays: {err}");
    let (ok, _, _) = nimbus(&region, &["bucket", "rm", "cli-bucket", "dir/blob.bin"]);
    assert!(ok);
    let (ok, _, err) = nimbus(&region, &["bucket", "delete", "cli-bucket"]);
    assert!(ok, "{err}");

    let (ok, _, err) = nimbus(&region, &["server", "delete", "cli1", "--wait"]);
    assert!(ok, "{err}");
    let (ok, table, _) = nimbus(&region, &["server", "list"]);
    assert!(ok && !table.contains("cli1"), "{table}");
}
