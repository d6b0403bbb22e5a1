//! Billing through the customer space's API and the Huawei BSS SDK.
//!
//! A customer runs a real QEMU server; the month's open invoice has its line, billed by the
//! second at the price list's price (a test list where the flavor costs a cent a second), in
//! JSON and CSV; a budget's thresholds crossed are POSTed to the customer's URL; the BSS SDK
//! reads the same amounts. With the billing clock moved two months on and the region
//! restarted, the month's invoice is issued with the same line. Reserved instances and
//! budgets are checked through the API on both stores: terms, payments, amounts, bad input
//! naming the rule, flexible modifications, cancellation with its 12% fee, other accounts
//! seeing nothing.

mod common;

use common::{databases, repo_root, tiny_dir, venv_bin, Db, Region};
use serde_json::{json, Value};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A local HTTP endpoint that answers 200 to every POST and hands over the JSON bodies.
async fn webhook() -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/budget", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    // Every complete request in the buffer (keep-alive sends several).
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            break;
                        }
                        let body: Value = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or(Value::Null);
                        buf.drain(..end + 4 + len);
                        let _ = tx.send(body);
                        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                    }
                }
            });
        }
    });
    (url, rx)
}

/// The shipped price list with s3.small.1 at 36 EUR an hour: a cent a second.
fn test_price_list(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(repo_root().join("crates/nimbus-control/src/billing/prices.toml")).unwrap();
    let list = shipped.replace("\"ecs:s3.small.1\" = \"0.0204\"", "\"ecs:s3.small.1\" = \"36\"");
    assert_ne!(list, shipped);
    let p = dir.join("prices.toml");
    std::fs::write(&p, list).unwrap();
    p
}

async fn server_status(region: &Region, token: &str, id: &str) -> Value {
    let (s, v) = region.call("GET", &format!("/compute/v2.1/servers/{id}"), Some(token), None).await;
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["server"]["status"], "ERROR", "{v}");
    v["server"].clone()
}

fn line_of<'a>(invoice: &'a Value, resource: &str) -> Option<&'a Value> {
    invoice["regions"]
        .as_array()?
        .iter()
        .flat_map(|r| r["lines"].as_array().unwrap())
        .find(|l| l["resource_id"] == resource)
}

fn cents(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("an amount: {v}"));
    let (units, frac) = s.split_once('.').unwrap();
    units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invoice_includes_a_server_really_run() {
    let Some(tiny) = tiny_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let prices = test_price_list(dir.path());
    let config = format!("price_list = {:?}\nbilling_interval_secs = 1\n", prices.to_str().unwrap());
    let tiny = tiny.to_str().unwrap().to_string();
    let mut region = Region::start_with(&Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.as_str())], Some(&config));
    let admin = region.admin_token().await;
    let (acme, prod, ids) = region.account(&admin, "acme", &[("ann", "member"), ("dave", "reader")]).await;
    let ann = region.domain_token(&acme, "ann", "acme-prod").await;
    let dave = region.domain_token(&acme, "dave", "acme-prod").await;
    let (tiny_domain, _, _) = region.account(&admin, "tiny", &[("tom", "member")]).await;
    let tom = region.domain_token(&tiny_domain, "tom", "tiny-prod").await;

    // Ann runs a server for about fifteen seconds, then stops it.
    let (_, images) = region.call("GET", "/image/v2/images?name=nimbus-tiny", Some(&ann), None).await;
    let image = images["images"][0]["id"].as_str().unwrap().to_string();
    let created = Instant::now();
    let (s, v) = region
        .call(
            "POST",
            "/compute/v2.1/servers",
            Some(&ann),
            Some(json!({"server": {"name": "billed", "imageRef": image, "flavorRef": "s3.small.1"}})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_string();
    region
        .wait_for(300, "the server ACTIVE", || async {
            (server_status(&region, &ann, &id).await["status"] == "ACTIVE").then_some(())
        })
        .await;
    let active_seen = Instant::now();
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    let stop_asked = Instant::now();
    let (s, v) = region
        .call("POST", &format!("/compute/v2.1/servers/{id}/action"), Some(&ann), Some(json!({"os-stop": null})))
        .await;
    assert_eq!(s, 202, "{v}");
    region
        .wait_for(120, "the server SHUTOFF", || async {
            (server_status(&region, &ann, &id).await["status"] == "SHUTOFF").then_some(())
        })
        .await;
    let shutoff_seen = Instant::now();

    // The open invoice bills the seconds it ran, at a cent a second.
    let (s, inv) = region.call("GET", "/v1/billing/invoices/current", Some(&ann), None).await;
    assert_eq!(s, 200, "{inv}");
    let inv = inv["invoice"].clone();
    assert_eq!((inv["status"].as_str(), inv["currency"].as_str()), (Some("open"), Some("EUR")), "{inv}");
    let line = line_of(&inv, &id).unwrap_or_else(|| panic!("no line for the server: {inv}")).clone();
    assert_eq!((line["item"].as_str(), line["charge_mode"].as_str()), (Some("ecs:s3.small.1"), Some("pay_per_use")));
    assert_eq!(line["project_id"], prod.as_str());
    let seconds = line["billable_seconds"].as_i64().unwrap();
    let least = (stop_asked - active_seen).as_secs() as i64 - 1;
    let most = (shutoff_seen - created).as_secs() as i64 + 1;
    assert!((least..=most).contains(&seconds), "{seconds} s billed, ran {least} to {most} s: {line}");
    let amount = cents(&line["amount"]);
    assert!((seconds..=seconds + 1).contains(&amount), "{amount} cents for {seconds} s at a cent a second");
    assert!(cents(&inv["total"]) >= amount && inv["projected_total"].is_string(), "{inv}");
    let month = inv["month"].as_str().unwrap().to_string();

    // CSV export of the same invoice.
    let r = region
        .http
        .get(format!("{}/v1/billing/invoices/{month}?format=csv", region.url))
        .header("X-Auth-Token", &ann)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("invoice,month,currency,region,project_id,"), "{csv}");
    let row = csv.lines().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("{csv}"));
    assert!(row.contains(",ecs:s3.small.1,pay_per_use,") && row.contains(line["amount"].as_str().unwrap()), "{row}");

    // Readers read the invoice, the operator reads any account's, another account none.
    let (s, _) = region.call("GET", "/v1/billing/invoices/current", Some(&dave), None).await;
    assert_eq!(s, 200);
    let (s, v) =
        region.call("GET", &format!("/v1/billing/invoices/current?domain_id={acme}"), Some(&admin), None).await;
    assert!(s == 200 && line_of(&v["invoice"], &id).is_some(), "{v}");
    let (s, v) = region.call("GET", "/v1/billing/invoices/current", Some(&tom), None).await;
    assert!(s == 200 && line_of(&v["invoice"], &id).is_none(), "{v}");
    let (s, _) = region.call("GET", &format!("/v1/billing/invoices/current?domain_id={acme}"), Some(&tom), None).await;
    assert_eq!(s, 404);

    // A budget of 0.10 EUR: its 50% and 100% thresholds are crossed and POSTed, not 1000%.
    let (hook, mut posts) = webhook().await;
    let budget = json!({"name": "lab", "amount": "0.10", "thresholds": [100, 50, 1000], "notify_url": hook});
    let (s, e) = region.call("POST", "/v1/billing/budgets", Some(&dave), Some(budget.clone())).await;
    assert_eq!(s, 403, "readers do not set budgets: {e}");
    let (s, b) = region.call("POST", "/v1/billing/budgets", Some(&ann), Some(budget)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["budget"]["thresholds"], json!([50, 100, 1000]));
    let mut got = Vec::new();
    while got.len() < 2 {
        let p = tokio::time::timeout(std::time::Duration::from_secs(60), posts.recv())
            .await
            .expect("the budget alerts are POSTed")
            .unwrap();
        assert_eq!((p["budget_name"].as_str(), p["currency"].as_str()), (Some("lab"), Some("EUR")), "{p}");
        assert!(cents(&p["spent"]) >= 10, "{p}");
        got.push(p["threshold_percent"].as_i64().unwrap());
    }
    got.sort();
    assert_eq!(got, vec![50, 100]);
    let alerts = region
        .wait_for(30, "the alerts delivered", || async {
            let (_, a) = region.call("GET", "/v1/billing/budget-alerts", Some(&ann), None).await;
            let list = a["alerts"].as_array().cloned().unwrap_or_default();
            (list.len() == 2 && list.iter().all(|x| x["delivered"] == true)).then_some(list)
        })
        .await;
    assert!(alerts.iter().all(|a| a["month"] == month.as_str()), "{alerts:?}");

    // The Huawei BSS SDK, signed as Ann with a domain-wide role, reads the same amounts.
    let (_, roles) = region.call("GET", "/identity/v3/roles?name=reader", Some(&admin), None).await;
    let reader = roles["roles"][0]["id"].as_str().unwrap();
    let (s, _) = region
        .call("PUT", &format!("/identity/v3/domains/{acme}/users/{}/roles/{reader}", ids[0]), Some(&admin), None)
        .await;
    assert_eq!(s, 204);
    let (s, cred) = region
        .call(
            "POST",
            "/identity/v3/credentials",
            Some(&ann),
            Some(json!({"credential": {"user_id": ids[0], "project_id": prod, "type": "ec2",
                "blob": "{\"access\":\"ANNBILLINGKEY0000001\",\"secret\":\"ann-billing-secret\"}"}})),
        )
        .await;
    assert_eq!(s, 201, "{cred}");
    let out = std::process::Command::new(venv_bin("python"))
        .arg(repo_root().join("tests/clients/huawei_bss_check.py"))
        .env("NIMBUS_ENDPOINT", &region.url)
        .env("NIMBUS_ACCESS_KEY", "ANNBILLINGKEY0000001")
        .env("NIMBUS_SECRET_KEY", "ann-billing-secret")
        .env("NIMBUS_DOMAIN_ID", &acme)
        .env("NIMBUS_MONTH", &month)
        .env("NIMBUS_SERVER_ID", &id)
        .env("NIMBUS_SERVER_AMOUNT", line["amount"].as_str().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains(" passed, 0 failed"), "huawei_bss_check failed:\n{stdout}");

    // The server goes; two months later (the billing clock moved on, the region restarted)
    // the month is over and its invoice issued, with the same line.
    let (s, _) = region.call("DELETE", &format!("/compute/v2.1/servers/{id}"), Some(&ann), None).await;
    assert_eq!(s, 204);
    region
        .wait_for(120, "the server deleted", || async {
            let (s, _) = region.call("GET", &format!("/compute/v2.1/servers/{id}"), Some(&ann), None).await;
            (s == 404).then_some(())
        })
        .await;
    region.stop();
    region.rewrite_config(&format!("{config}billing_clock_offset_secs = {}\n", 62 * 86_400));
    region.launch();
    let ann = region.domain_token(&acme, "ann", "acme-prod").await;
    let listed = region
        .wait_for(60, "the month's invoice issued", || async {
            let (_, v) = region.call("GET", "/v1/billing/invoices", Some(&ann), None).await;
            v["invoices"].as_array().cloned().unwrap_or_default().into_iter().find(|i| i["month"] == month.as_str())
        })
        .await;
    assert_eq!(listed["status"], "issued", "{listed}");
    let (s, issued) = region.call("GET", &format!("/v1/billing/invoices/{month}"), Some(&ann), None).await;
    assert_eq!(s, 200, "{issued}");
    let issued = issued["invoice"].clone();
    assert_eq!(issued["status"], "issued");
    assert!(issued["projected_total"].is_null() && issued["issued_at"].is_string(), "{issued}");
    let again = line_of(&issued, &id).unwrap_or_else(|| panic!("{issued}"));
    assert_eq!((again["billable_seconds"].as_i64(), &again["amount"]), (Some(seconds), &line["amount"]));
    assert_eq!(listed["total"], issued["total"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_instances_and_budgets_through_the_api() {
    for db in databases() {
        let region = Region::start_with(&db, &[], Some("billing_interval_secs = 1\n"));
        let admin = region.admin_token().await;
        let (acme, _, _) = region.account(&admin, "acme", &[("ann", "member"), ("dave", "reader")]).await;
        let ann = region.domain_token(&acme, "ann", "acme-prod").await;
        let dave = region.domain_token(&acme, "dave", "acme-prod").await;
        let (tiny, _, _) = region.account(&admin, "tiny", &[("tom", "member")]).await;
        let tom = region.domain_token(&tiny, "tom", "tiny-prod").await;
        let post = |token: &str, path: &str, body: Value| {
            let (token, path) = (token.to_string(), path.to_string());
            let region = &region;
            async move { region.call("POST", &path, Some(&token), Some(body)).await }
        };
        let ri = "/v1/billing/reserved-instances";

        // Subscriptions: from the first day of next month, for the term; amounts frozen.
        let (s, r) = post(&ann, ri, json!({"flavor": "s3.large.2", "term_years": 1})).await;
        assert_eq!(s, 201, "{r}");
        let r = &r["reserved_instance"];
        // 0.0634 an hour x 730 hours, less 25%: 34.7115 -> 34.71.
        assert_eq!((r["status"].as_str(), r["monthly_amount"].as_str()), (Some("pending"), Some("34.71")), "{r}");
        assert_eq!((r["payment"].as_str(), r["upfront_amount"].as_str()), (Some("no_upfront"), Some("0.00")));
        let (_, inv) = region.call("GET", "/v1/billing/invoices/current", Some(&ann), None).await;
        let month = inv["invoice"]["month"].as_str().unwrap().to_string();
        let (y, m): (i32, u32) = (month[..4].parse().unwrap(), month[5..].parse().unwrap());
        let next = if m == 12 { format!("{}-01", y + 1) } else { format!("{y}-{:02}", m + 1) };
        let later = if m == 12 { format!("{}-01", y + 2) } else { format!("{}-{:02}", y + 1, m + 1) };
        // Paris midnight on the 1st: 22:00 or 23:00 UTC the day before.
        let starts = r["effective_from"].as_str().unwrap();
        let ends = r["ends_at"].as_str().unwrap();
        assert!(starts.contains("T22:00:00") || starts.contains("T23:00:00"), "{starts}");
        let day_before = |ym: &str| {
            let (y, m): (i32, u32) = (ym[..4].parse().unwrap(), ym[5..].parse().unwrap());
            let first = chrono::NaiveDate::from_ymd_opt(y, m, 1).unwrap();
            (first - chrono::Duration::days(1)).format("%Y-%m-%d").to_string()
        };
        assert!(starts.starts_with(&day_before(&next)), "{starts} for {next}");
        assert!(ends.starts_with(&day_before(&later)), "{ends} for {later}");
        // Partial upfront, 3 years: 7.45 a month in full, half of 36 months at once.
        let (s, p) =
            post(&ann, ri, json!({"flavor": "s3.small.1", "term_years": 3, "payment": "partial_upfront"})).await;
        assert_eq!(s, 201, "{p}");
        let p = &p["reserved_instance"];
        assert_eq!((p["upfront_amount"].as_str(), p["monthly_amount"].as_str()), (Some("134.10"), Some("3.73")), "{p}");

        // Bad input names the rule.
        for (body, rule) in [
            (json!({"flavor": "x9.huge.1", "term_years": 1}), "unknown flavor"),
            (json!({"flavor": "s3.large.2", "term_years": 4}), "1, 2, 3 or 5 years"),
            (
                json!({"flavor": "s3.large.2", "term_years": 1, "payment": "all_upfront"}),
                "no_upfront or partial_upfront",
            ),
            (json!({"flavor": "s3.large.2"}), "term_years"),
            (json!({"flavor": "s3.large.2", "term_years": 1, "region": "mars-1"}), "unknown region"),
        ] {
            let (s, e) = post(&ann, ri, body.clone()).await;
            assert!(s == 400 && e["error_msg"].as_str().unwrap().contains(rule), "{body}: {s} {e}");
        }
        let (s, _) = post(&dave, ri, json!({"flavor": "s3.large.2", "term_years": 1})).await;
        assert_eq!(s, 403, "readers do not subscribe");

        // Only flexible reservations change, within their family, never for less.
        let fixed = r["id"].as_str().unwrap().to_string();
        let (s, e) = post(&ann, &format!("{ri}/{fixed}/modify"), json!({"flavor": "s3.xlarge.2"})).await;
        assert!(s == 409 && e["error_msg"].as_str().unwrap().contains("only flexible"), "{e}");
        let (s, f) = post(&ann, ri, json!({"flavor": "s3.large.2", "term_years": 1, "flexible": true})).await;
        assert_eq!(s, 201, "{f}");
        let flex = f["reserved_instance"]["id"].as_str().unwrap().to_string();
        for (flavor, rule) in [("s3.medium.2", "at least the committed"), ("c3.large.2", "family")] {
            let (s, e) = post(&ann, &format!("{ri}/{flex}/modify"), json!({"flavor": flavor})).await;
            assert!(s == 400 && e["error_msg"].as_str().unwrap().contains(rule), "{flavor}: {e}");
        }
        let (s, f) = post(&ann, &format!("{ri}/{flex}/modify"), json!({"flavor": "s3.xlarge.2"})).await;
        assert_eq!(s, 200, "{f}");
        // 0.1268 x 730 x 0.75 = 69.423.
        let f = &f["reserved_instance"];
        assert_eq!(
            (f["current_flavor"].as_str(), f["current_monthly_amount"].as_str()),
            (Some("s3.xlarge.2"), Some("69.42"))
        );

        // Cancelled before it starts: 12% of the whole term still due, 12 x 69.42 -> 99.96.
        let (s, c) = post(&ann, &format!("{ri}/{flex}/cancel"), json!({})).await;
        assert_eq!(s, 200, "{c}");
        let c = &c["reserved_instance"];
        assert_eq!((c["status"].as_str(), c["cancellation_fee"].as_str()), (Some("cancelled"), Some("99.96")), "{c}");
        let (s, e) = post(&ann, &format!("{ri}/{flex}/cancel"), json!({})).await;
        assert_eq!(s, 409, "{e}");

        // The month's invoice holds the upfront fee and the cancellation fee.
        let (_, inv) = region.call("GET", "/v1/billing/invoices/current", Some(&ann), None).await;
        let lines: Vec<(String, String)> = inv["invoice"]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["lines"].as_array().unwrap().clone())
            .map(|l| (l["item"].as_str().unwrap().to_string(), l["amount"].as_str().unwrap().to_string()))
            .collect();
        assert!(lines.contains(&("ri:upfront".into(), "134.10".into())), "{lines:?}");
        assert!(lines.contains(&("ri:cancellation".into(), "99.96".into())), "{lines:?}");
        assert!(!lines.iter().any(|(i, _)| i == "ri:monthly"), "nothing monthly before next month: {lines:?}");
        assert_eq!(inv["invoice"]["total"], "234.06", "{inv}");

        // Another account sees none of it.
        let (s, _) = region.call("GET", &format!("{ri}/{fixed}"), Some(&tom), None).await;
        assert_eq!(s, 404);
        let (_, list) = region.call("GET", ri, Some(&tom), None).await;
        assert_eq!(list["reserved_instances"].as_array().unwrap().len(), 0, "{list}");
        let (_, list) = region.call("GET", ri, Some(&ann), None).await;
        assert_eq!(list["reserved_instances"].as_array().unwrap().len(), 3, "{list}");

        // Budgets: bad input; alerts without a URL land in the customer space.
        for (body, status) in [
            (json!({"name": "b", "amount": "-1"}), 400),
            (json!({"name": "b", "amount": "ten"}), 400),
            (json!({"name": "b", "amount": "10", "thresholds": [0]}), 400),
            (json!({"name": "b", "amount": "10", "notify_url": "ftp://example.com/x"}), 400),
            (json!({"name": "", "amount": "10"}), 400),
        ] {
            let (s, e) = post(&ann, "/v1/billing/budgets", body.clone()).await;
            assert_eq!(s, status, "{body}: {e}");
        }
        let (s, b) = post(
            &ann,
            "/v1/billing/budgets",
            json!({"name": "year", "amount": "100", "thresholds": [50, 100, 200, 300]}),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        let (s, _) = post(&ann, "/v1/billing/budgets", json!({"name": "year", "amount": "5"})).await;
        assert_eq!(s, 409);
        let alerts = region
            .wait_for(60, "three alerts", || async {
                let (_, a) = region.call("GET", "/v1/billing/budget-alerts", Some(&ann), None).await;
                let list = a["alerts"].as_array().cloned().unwrap_or_default();
                (list.len() >= 3).then_some(list)
            })
            .await;
        let mut ts: Vec<i64> = alerts.iter().map(|a| a["threshold_percent"].as_i64().unwrap()).collect();
        ts.sort();
        assert_eq!(ts, vec![50, 100, 200], "234.06 spent of 100: {alerts:?}");
        assert!(alerts.iter().all(|a| a["delivered"] == true && a["spent"] == "234.06"), "{alerts:?}");
        let (_, a) = region.call("GET", "/v1/billing/budget-alerts", Some(&tom), None).await;
        assert_eq!(a["alerts"].as_array().unwrap().len(), 0);

        // The primary region, invoices' months, the price list and its notices.
        let (s, e) =
            region.call("PUT", "/v1/billing/account", Some(&ann), Some(json!({"primary_region": "mars-1"}))).await;
        assert!(s == 400 && e["error_msg"].as_str().unwrap().contains("Unknown region"), "{e}");
        let (s, a) =
            region.call("PUT", "/v1/billing/account", Some(&ann), Some(json!({"primary_region": "eu-west-0"}))).await;
        assert_eq!((s, a["account"]["primary_region"].as_str()), (200, Some("eu-west-0")), "{a}");
        for bad in ["2026-13", "next", "2199-01"] {
            let (s, e) = region.call("GET", &format!("/v1/billing/invoices/{bad}"), Some(&ann), None).await;
            assert_eq!(s, 400, "{bad}: {e}");
        }
        let (s, p) = region.call("GET", "/v1/billing/prices", Some(&tom), None).await;
        assert_eq!(s, 200);
        let small = p["prices"]["in_force"].as_array().unwrap().iter().find(|x| x["item"] == "ecs:s3.small.1").cloned();
        assert_eq!(small, Some(json!({"item": "ecs:s3.small.1", "price": "0.0204", "unit": "hour"})));
        let future: Vec<&Value> =
            p["prices"]["revisions"].as_array().unwrap().iter().filter(|r| r["id"] == "2027-02").collect();
        assert!(future.len() == 1 && future[0]["announced_at"].is_string(), "{p}");
        let (_, notices) = region.call("GET", "/v1/support/notices", Some(&tom), None).await;
        let price_notices: Vec<&Value> =
            notices["notices"].as_array().unwrap().iter().filter(|n| n["kind"] == "price_change").collect();
        assert_eq!(price_notices.len(), 1, "{notices}");
        assert!(price_notices[0]["description"].as_str().unwrap().contains("ecs:d3.xlarge.8"), "{notices}");
        assert!(price_notices[0]["description"].as_str().unwrap().contains("an increase"), "{notices}");
    }
}
