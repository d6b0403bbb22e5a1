//! The web console end to end: the real `nimbus` serves `/console` from its binary, and
//! `tests/console/e2e.mjs` drives Debian's Chromium through it with playwright-core as a
//! tenant's member would (sign in, launch a server and read its console log, create a volume
//! after a refused size and attach it, create a bucket after a refused name, upload a file
//! and download the same bytes, become a named contact and open a ticket after a
//! refused one, every page at 1280x800 and on a narrow screen). Screenshots land in
//! `target/console-screenshots/`. Afterwards the region's APIs must show what the browser did,
//! and nothing of the refused forms.

mod common;

use common::{repo_root, tiny_dir, Db, Region};
use serde_json::json;
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn the_console_launches_a_server_attaches_a_volume_and_opens_a_ticket() {
    // One real second is more than a day on the support clock: the Business plan ordered
    // below is in force within seconds (plans change on the first day of a month).
    let Some(tiny) = tiny_dir() else { return };
    let tiny = tiny.to_str().unwrap();
    let region =
        Region::start_with(&Db::Sqlite, &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny)], Some("support_time_scale = 100000\n"));

    // The console's files come from the binary, with their security headers.
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/console", region.url)).send().await.unwrap();
    assert_eq!(r.status(), 200, "/console redirects to the app");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let index = r.text().await.unwrap();
    assert!(index.contains("/console/assets/"), "{index}");
    let r = http.get(format!("{}/console/assets/nothing.js", region.url)).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let admin = region.admin_token().await;
    let (domain, project, _) = region.account(&admin, "acme", &[("ann", "member")]).await;
    let ann = region.domain_token(&domain, "ann", "acme-prod").await;
    let (s, sub) = region.call("PUT", "/v1/support/subscription", Some(&ann), Some(json!({"plan": "business"}))).await;
    assert_eq!(s, 200, "{sub}");
    region
        .wait_for(120, "the Business plan in force", || async {
            let (_, sub) = region.call("GET", "/v1/support/subscription", Some(&ann), None).await;
            (sub["subscription"]["plan"] == "business").then_some(())
        })
        .await;

    let dir = repo_root().join("tests/console");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed in tests/console: run scripts/test.sh (npm ci there)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(std::path::Path::new(&chromium).exists(), "{chromium} missing: scripts/test.sh installs Debian's chromium");
    let shots = repo_root().join("target/console-screenshots");
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id");
    let made = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(made.success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let out = Command::new("node")
        .arg(dir.join("e2e.mjs"))
        .env("CONSOLE_URL", format!("{}/console/", region.url))
        .env("USER", "ann")
        .env("PASSWORD", "ann-pw-1")
        .env("DOMAIN", "acme")
        .env("SHOTS", &shots)
        .env("PUBKEY", pubkey.trim())
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser test failed:\n{stdout}\n{stderr}\n(screenshots in {})", shots.display());
    assert!(stdout.contains("console e2e: all checks passed"), "{stdout}");
    for page in [
        "dashboard",
        "servers",
        "server",
        "volumes",
        "buckets",
        "bucket",
        "support",
        "ticket",
        "networks",
        "traces",
        "billing",
    ] {
        assert!(shots.join(format!("{page}.png")).exists(), "no screenshot of {page}");
    }

    // What the browser did, as the APIs see it.
    let (_, servers) = region.call("GET", "/compute/v2.1/servers/detail", Some(&ann), None).await;
    let servers = servers["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!((servers[0]["name"].as_str(), servers[0]["status"].as_str()), (Some("web1"), Some("ACTIVE")));
    let (_, vols) = region.call("GET", &format!("/volume/v3/{project}/volumes/detail"), Some(&ann), None).await;
    let vols = vols["volumes"].as_array().unwrap();
    assert_eq!(vols.len(), 1, "the refused size made nothing: {vols:?}");
    assert_eq!((vols[0]["size"].as_i64(), vols[0]["status"].as_str()), (Some(10), Some("in-use")), "{vols:?}");
    assert_eq!(vols[0]["attachments"][0]["server_id"], servers[0]["id"]);
    let (_, buckets) = region.call("GET", "/v1/obs/buckets", Some(&ann), None).await;
    let buckets = buckets["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1, "the refused name made nothing: {buckets:?}");
    assert_eq!((buckets[0]["objects"].as_i64(), buckets[0]["bytes"].as_i64()), (Some(1), Some(3 * 1024 * 1024 + 17)));
    let (_, keypairs) = region.call("GET", "/compute/v2.1/os-keypairs", Some(&ann), None).await;
    assert_eq!(keypairs["keypairs"].as_array().unwrap().len(), 1, "the refused key made nothing: {keypairs}");
    let (_, ris) = region.call("GET", "/v1/billing/reserved-instances", Some(&ann), None).await;
    assert_eq!(ris["reserved_instances"][0]["flavor"], "s3.small.1", "{ris}");
    let (_, tickets) = region.call("GET", "/v1/support/tickets", Some(&ann), None).await;
    let tickets = tickets["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "the refused ticket made nothing: {tickets:?}");
    assert_eq!(tickets[0]["report"]["reporter_email"], "ada@example.com");
    assert!(tickets[0]["timeline"].as_array().unwrap().iter().any(|e| e["text"] == "It happens every morning."));
}
