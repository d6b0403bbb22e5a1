//! Object storage through the S3 listener with the unmodified boto3 SDK, on both stores:
//! buckets, objects, ranges, conditional requests, listings, presigned URLs, signatures,
//! and another project's member refused. The checks live in `tests/clients/s3_check.py`;
//! this test adds what the SDK cannot see: the audit trail and the files on disk.

mod common;

use common::{databases, Region, ADMIN_PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn boto3_drives_the_s3_listener() {
    for db in databases() {
        // COLD restores take a second here (a minute by default).
        let region = Region::start_with(&db, &[], Some("cold_restore_delay_secs = 1\nmax_object_size = 20000000\n"));
        let (admin, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let admin_project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        other_tenant(&region, &admin).await;
        run_check(&region, "s3_check.py", &[("NIMBUS_MAX_OBJECT_SIZE", "20000000")]);

        // Bucket and object writes are traced in the owner's project.
        let (code, traces) = region
            .call("GET", &format!("/v3/{admin_project}/traces?service_type=OBS&limit=200"), Some(&admin), None)
            .await;
        assert_eq!(code, 200, "{traces}");
        let names: Vec<&str> =
            traces["traces"].as_array().unwrap().iter().filter_map(|t| t["trace_name"].as_str()).collect();
        for action in ["createBucket", "putObject", "deleteObject", "deleteBucket"] {
            assert!(names.contains(&action), "{action} traced: {names:?}");
        }
        // Metering: requests by operation with the bytes served, and stored bytes as events
        // that add up to zero once everything was deleted.
        let (code, req) =
            region.call("GET", &format!("/v1/{admin_project}/metering/obs-requests"), Some(&admin), None).await;
        assert_eq!(code, 200, "{req}");
        let total = |op: &str, field: &str| -> i64 {
            req["requests"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["operation"] == op)
                .map(|r| r[field].as_i64().unwrap())
                .sum()
        };
        assert!(total("PutObject", "requests") >= 10, "{req}");
        assert!(total("GetObject", "bytes_out") >= 10_000 + (12 << 20), "{req}");
        assert!(total("ListObjectsV2", "requests") >= 3, "{req}");
        let (_, events) = region.call("GET", &format!("/v1/{admin_project}/metering/events"), Some(&admin), None).await;
        let stored: Vec<&serde_json::Value> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["resource_type"] == "obs" && e["resource_id"] == "nimbus-check-bucket")
            .collect();
        assert!(stored.len() > 10, "{events}");
        let net: i64 = stored.iter().map(|e| e["detail"]["bytes"].as_i64().unwrap()).sum();
        assert_eq!(net, 0, "every stored byte was deleted again");
        assert!(stored.iter().any(|e| e["flavor"] == "WARM"), "stored bytes carry their class");

        // Deleted objects and the deleted bucket leave no data behind.
        let left: Vec<_> = walk(&region.data_dir.join("objects"));
        assert!(left.is_empty(), "object files left: {left:?}");
    }
}

/// How many OBS traces of a project have this name.
async fn traces_named(region: &Region, token: &str, project: &str, name: &str) -> usize {
    let path = format!("/v3/{project}/traces?service_type=OBS&trace_name={name}&limit=50");
    let (code, t) = region.call("GET", &path, Some(token), None).await;
    assert_eq!(code, 200, "{t}");
    t["traces"].as_array().unwrap().len()
}

/// Makes a member of another project with an access key; returns the project id.
async fn other_tenant(region: &Region, admin: &str) -> String {
    let (other_project, bob) = region.tenant(admin, "s3-other", "bob", "bob-pw-1", "member").await;
    let (code, cred) = region
        .call(
            "POST",
            "/identity/v3/credentials",
            Some(admin),
            Some(json!({"credential": {"user_id": bob, "project_id": other_project, "type": "ec2",
                "blob": "{\"access\":\"BOBACCESSKEY00000001\",\"secret\":\"bob-secret-key\"}"}})),
        )
        .await;
    assert_eq!(code, 201, "{cred}");
    other_project
}

/// Runs a Python check script of `tests/clients` against the region's S3 listener, with
/// the admin's key and the other tenant's; asserts it passed everything.
fn run_check(region: &Region, script: &str, extra: &[(&str, &str)]) -> String {
    let (ak, sk) = region.admin_keys();
    let out = std::process::Command::new(common::venv_bin("python"))
        .arg(common::repo_root().join("tests/clients").join(script))
        .env("NIMBUS_S3_ENDPOINT", &region.s3_url)
        .env("NIMBUS_ACCESS_KEY", ak)
        .env("NIMBUS_SECRET_KEY", sk)
        .env("NIMBUS_OTHER_ACCESS_KEY", "BOBACCESSKEY00000001")
        .env("NIMBUS_OTHER_SECRET_KEY", "bob-secret-key")
        .env("NIMBUS_REGION", "eu-west-0")
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains(" passed, 0 failed"), "{script} failed:\n{stdout}");
    stdout
}

/// Versioning, tagging, CORS, bucket policies, canned ACLs, lifecycle rules and
/// server-side encryption with boto3 (`tests/clients/s3_features_check.py`), on both
/// stores; plus what the SDK cannot see: encrypted objects are not stored in clear, and
/// lifecycle actions are traced.
#[tokio::test(flavor = "multi_thread")]
async fn bucket_features_work_with_boto3() {
    for db in databases() {
        // A lifecycle "day" lasts 2 s here, and rules are applied every second.
        let config = "lifecycle_day_secs = 2\nlifecycle_interval_secs = 1\nmax_object_size = 20000000\n";
        let region = Region::start_with(&db, &[], Some(config));
        let (admin, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let admin_project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let other_project = other_tenant(&region, &admin).await;
        run_check(
            &region,
            "s3_features_check.py",
            &[("NIMBUS_OTHER_PROJECT_ID", &other_project), ("NIMBUS_LIFECYCLE_DAY_SECS", "2")],
        );
        for action in
            ["putBucketVersioning", "putBucketPolicy", "putBucketCORS", "lifecycleTransition", "putObjectTagging"]
        {
            assert!(traces_named(&region, &admin, &admin_project, action).await > 0, "{action} traced");
        }

        // An encrypted object is not on disk in clear; the region key is private.
        let (ak, sk) = region.admin_keys();
        let marker = "nimbus-plaintext-marker-".repeat(100);
        let put = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='{ak}', \
             aws_secret_access_key='{sk}', region_name='eu-west-0')\n\
             s3.create_bucket(Bucket='feat-disk')\n\
             s3.put_object(Bucket='feat-disk', Key='k', Body=b'{marker}', ServerSideEncryption='AES256')\n\
             s3.put_object(Bucket='feat-disk', Key='clear', Body=b'{marker}')\n",
            region.s3_url
        );
        let out = std::process::Command::new(common::venv_bin("python")).arg("-c").arg(&put).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let holding: Vec<_> = walk(&region.data_dir.join("objects"))
            .into_iter()
            .filter(|p| std::fs::read(p).unwrap().windows(marker.len()).any(|w| w == marker.as_bytes()))
            .collect();
        assert_eq!(holding.len(), 1, "only the object stored in clear holds the plaintext: {holding:?}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(region.data_dir.join("keys/obs-sse.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the region key is readable by its owner only");

        // Object reads are traced only where a CTS data tracker asks for them.
        let get = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='{ak}', \
             aws_secret_access_key='{sk}', region_name='eu-west-0')\n\
             s3.get_object(Bucket='feat-disk', Key='clear')['Body'].read()\n",
            region.s3_url
        );
        let python = |script: &str| {
            let out = std::process::Command::new(common::venv_bin("python")).arg("-c").arg(script).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        python(&get);
        assert_eq!(
            traces_named(&region, &admin, &admin_project, "getObject").await,
            0,
            "no data tracker: reads are not traced"
        );
        let tracker = |bucket: &str, events: serde_json::Value| {
            json!({"tracker_type": "data", "tracker_name": "reads",
                   "data_bucket": {"data_bucket_name": bucket, "data_event": events}})
        };
        let path = format!("/v3/{admin_project}/tracker");
        let (code, e) = region.call("POST", &path, Some(&admin), Some(tracker("feat-disk", json!(["DELETE"])))).await;
        assert_eq!(code, 400, "{e}");
        let (code, e) =
            region.call("POST", &path, Some(&admin), Some(tracker("no-such-bucket", json!(["READ"])))).await;
        assert_eq!(code, 400, "{e}");
        let (code, t) = region.call("POST", &path, Some(&admin), Some(tracker("feat-disk", json!(["READ"])))).await;
        assert_eq!(code, 201, "{t}");
        assert_eq!(t["data_bucket"]["data_event"], json!(["READ"]), "{t}");
        let (code, e) = region.call("POST", &path, Some(&admin), Some(tracker("feat-disk", json!(["READ"])))).await;
        assert_eq!(code, 409, "a second tracker of that name: {e}");
        python(&get);
        assert_eq!(
            traces_named(&region, &admin, &admin_project, "getObject").await,
            1,
            "the data tracker traces the read"
        );
        let (code, list) = region.call("GET", &format!("/v3/{admin_project}/trackers"), Some(&admin), None).await;
        assert_eq!(code, 200);
        let types: Vec<&str> =
            list["trackers"].as_array().unwrap().iter().map(|t| t["tracker_type"].as_str().unwrap()).collect();
        assert_eq!(types, ["system", "data"], "{list}");
        let del = format!("/v3/{admin_project}/trackers?tracker_name=reads&tracker_type=data");
        assert_eq!(region.call("DELETE", &del, Some(&admin), None).await.0, 204);
        let sys = format!("/v3/{admin_project}/trackers?tracker_name=system");
        assert_eq!(region.call("DELETE", &sys, Some(&admin), None).await.0, 400, "the system tracker stays");
        python(&get);
        assert_eq!(
            traces_named(&region, &admin, &admin_project, "getObject").await,
            1,
            "no more read traces once the tracker is gone"
        );
    }
}

/// Huawei's OBS SDK (`esdk-obs-python`), unmodified, through `tests/clients/obs_sdk_check.py`:
/// its signature probe, V2 signatures, storage classes, restore, and OBS's bucket quota,
/// storage information and default class.
#[tokio::test(flavor = "multi_thread")]
async fn the_obs_sdk_works() {
    let region =
        Region::start_with(&common::Db::Sqlite, &[], Some("cold_restore_delay_secs = 1\nmax_object_size = 20000000\n"));
    let (admin, _) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    other_tenant(&region, &admin).await;
    run_check(&region, "obs_sdk_check.py", &[]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A `kill -9` while an object is half written: after the restart the object does not
/// exist, the temporary data is swept, and the bucket works.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_during_an_upload_exposes_nothing() {
    let mut region = Region::start();
    let (ak, sk) = region.admin_keys();
    let script = common::repo_root().join("tests/clients/s3_slow_put.py");
    let run = |region: &Region, mode: &str| {
        std::process::Command::new(common::venv_bin("python"))
            .arg(&script)
            .arg(mode)
            .env("NIMBUS_S3_ENDPOINT", &region.s3_url)
            .env("NIMBUS_ACCESS_KEY", &ak)
            .env("NIMBUS_SECRET_KEY", &sk)
            .env("NIMBUS_REGION", "eu-west-0")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut put = run(&region, "put");
    let objects = region.data_dir.join("objects");
    let partial = region
        .wait_for(60, "a partial upload on disk", || async {
            walk(&objects).into_iter().find(|p| p.to_string_lossy().ends_with(".partial"))
        })
        .await;
    region.kill9();
    let _ = put.wait();
    assert!(partial.exists(), "the crash left the temporary file");
    region.launch();
    assert!(!partial.exists(), "the start-up sweep removed it");
    let check = run(&region, "check").wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && out.contains("ok:"), "{out}");
}

/// The AWS CLI, s3cmd and rclone, unmodified, through `tests/clients/s3_tools_check.sh`.
#[tokio::test(flavor = "multi_thread")]
async fn the_aws_cli_s3cmd_and_rclone_work() {
    let region = Region::start();
    let (ak, sk) = region.admin_keys();
    let venv = common::venv_bin("python").parent().unwrap().parent().unwrap().to_path_buf();
    let out = std::process::Command::new("bash")
        .arg(common::repo_root().join("tests/clients/s3_tools_check.sh"))
        .env("VENV", &venv)
        .env("NIMBUS_S3_ENDPOINT", &region.s3_url)
        .env("NIMBUS_ACCESS_KEY", ak)
        .env("NIMBUS_SECRET_KEY", sk)
        .env("NIMBUS_REGION", "eu-west-0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains(" passed, 0 failed"), "{stdout}");
}

/// Losing the region's encryption key is not papered over: with encrypted objects stored,
/// `nimbus up` refuses to start (and leaves no new key behind) until the key is restored,
/// after which the objects read back.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_encryption_key_stops_the_region_until_restored() {
    let mut region = Region::start();
    let (ak, sk) = region.admin_keys();
    let boto = |region: &Region, body: &str| {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='{ak}', \
             aws_secret_access_key='{sk}', region_name='eu-west-0')\n{body}\n",
            region.s3_url
        );
        let out = std::process::Command::new(common::venv_bin("python")).arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    boto(
        &region,
        "s3.create_bucket(Bucket='sealed')\n\
         s3.put_object(Bucket='sealed', Key='k', Body=b'kept secret', ServerSideEncryption='AES256')",
    );
    region.stop();
    let key = region.data_dir.join("keys/obs-sse.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let out = region.command().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the region refused to start");
    assert!(stderr.contains("obs-sse.key"), "the error names the key: {stderr}");
    assert!(!key.exists(), "no new key was left in its place");
    std::fs::write(&key, saved).unwrap();
    region.launch();
    boto(&region, "assert s3.get_object(Bucket='sealed', Key='k')['Body'].read() == b'kept secret'");
}

/// `kill -9` while four clients PUT in a loop (plain and encrypted, new keys and
/// overwrites): after the restart every PUT that was answered 200 reads back byte-identical
/// with the same ETag, and every listed object is readable (`tests/clients/s3_put_loop.py`).
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_during_a_put_loop_loses_nothing_acknowledged() {
    let mut region = Region::start();
    let (ak, sk) = region.admin_keys();
    let journal = region.data_dir.parent().unwrap().join("put-journal.txt");
    let run = |region: &Region, mode: &str| {
        std::process::Command::new(common::venv_bin("python"))
            .arg(common::repo_root().join("tests/clients/s3_put_loop.py"))
            .arg(mode)
            .arg(&journal)
            .env("NIMBUS_S3_ENDPOINT", &region.s3_url)
            .env("NIMBUS_ACCESS_KEY", &ak)
            .env("NIMBUS_SECRET_KEY", &sk)
            .env("NIMBUS_REGION", "eu-west-0")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let puts = run(&region, "loop");
    region
        .wait_for(120, "60 acknowledged PUTs", || async {
            let text = std::fs::read_to_string(&journal).unwrap_or_default();
            (text.lines().filter(|l| l.starts_with("ack ")).count() >= 60).then_some(())
        })
        .await;
    region.kill9();
    let stopped = puts.wait_with_output().unwrap();
    println!("{}", String::from_utf8_lossy(&stopped.stdout));
    region.launch();
    let check = run(&region, "check").wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    println!("{out}");
    assert!(check.status.success() && out.contains("ok:"), "{out}");
}

/// The token API for objects (`/v1/obs`, the console's): the same buckets and objects as the
/// S3 listener's (an object put with a token is read back by boto3 and the reverse), bad input
/// in the Huawei format, a COLD object refused until restored, another tenant's bucket a 404.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_object_api_shares_buckets_with_s3() {
    let region = Region::start();
    let admin = region.admin_token().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", region.url);
    let (s, b) = region.call("POST", "/v1/obs/buckets", Some(&admin), Some(json!({"name": "tok-bucket"}))).await;
    assert_eq!(s, 201, "{b}");
    let (s, e) = region.call("POST", "/v1/obs/buckets", Some(&admin), Some(json!({"name": "Bad_Name"}))).await;
    assert!(s == 400 && e["error_msg"].is_string(), "{s} {e}");
    let (s, e) = region.call("POST", "/v1/obs/buckets", Some(&admin), Some(json!({"name": "tok-bucket"}))).await;
    assert_eq!(s, 409, "{e}");
    let (s, e) = region
        .call("POST", "/v1/obs/buckets", Some(&admin), Some(json!({"name": "tok-2", "storage_class": "GOLD"})))
        .await;
    assert_eq!(s, 400, "{e}");

    // Put with a token (a key with slashes and spaces), read with boto3.
    let key = "dir/sub dir/report é.txt";
    let r = http
        .put(url(&format!("/v1/obs/buckets/tok-bucket/object?key={}", urlencode(key))))
        .header("X-Auth-Token", &admin)
        .header("Content-Type", "text/plain")
        .body("written with a token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (ak, sk) = region.admin_keys();
    let script = format!(
        "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='{ak}', \
         aws_secret_access_key='{sk}', region_name='eu-west-0')\n\
         o = s3.get_object(Bucket='tok-bucket', Key={key:?})\n\
         assert o['Body'].read() == b'written with a token', 'bytes'\n\
         assert o['ContentType'] == 'text/plain', o['ContentType']\n\
         s3.put_object(Bucket='tok-bucket', Key='from-s3', Body=b'written with boto3')\n\
         s3.put_object(Bucket='tok-bucket', Key='cold', Body=b'frozen', StorageClass='GLACIER')\n",
        region.s3_url
    );
    let out = std::process::Command::new(common::venv_bin("python")).arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = http
        .get(url("/v1/obs/buckets/tok-bucket/object?key=from-s3"))
        .header("X-Auth-Token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(r.text().await.unwrap(), "written with boto3");
    let (s, list) = region.call("GET", "/v1/obs/buckets/tok-bucket/objects?limit=2", Some(&admin), None).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["objects"].as_array().unwrap().len(), 2, "{list}");
    let next = list["next_marker"].as_str().unwrap().to_string();
    let (_, rest) = region
        .call("GET", &format!("/v1/obs/buckets/tok-bucket/objects?marker={}", urlencode(&next)), Some(&admin), None)
        .await;
    assert_eq!(rest["objects"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest["next_marker"].is_null(), "{rest}");
    let (_, buckets) = region.call("GET", "/v1/obs/buckets", Some(&admin), None).await;
    let b = buckets["buckets"].as_array().unwrap().iter().find(|b| b["name"] == "tok-bucket").unwrap().clone();
    assert_eq!(b["objects"], 3, "{b}");

    // A COLD object is refused until restored; bad input is a 400 in the Huawei format.
    let (s, e) = region.call("GET", "/v1/obs/buckets/tok-bucket/object?key=cold", Some(&admin), None).await;
    assert_eq!(s, 409, "{e}");
    for bad in ["/v1/obs/buckets/tok-bucket/object", "/v1/obs/buckets/tok-bucket/objects?limit=0"] {
        let (s, e) = region.call("GET", bad, Some(&admin), None).await;
        assert!(s == 400 && e["error_code"].is_string(), "{bad}: {s} {e}");
    }
    let (s, e) = region.call("DELETE", "/v1/obs/buckets/tok-bucket", Some(&admin), None).await;
    assert_eq!(s, 409, "a bucket with objects is not deleted: {e}");

    // Another tenant sees nothing: 404 for the bucket and its objects, whatever it asks.
    other_tenant(&region, &admin).await;
    let (intruder, _) = region.token("bob", "bob-pw-1", "s3-other").await;
    for (m, p) in [
        ("GET", "/v1/obs/buckets/tok-bucket/objects"),
        ("GET", "/v1/obs/buckets/tok-bucket/object?key=from-s3"),
        ("DELETE", "/v1/obs/buckets/tok-bucket/object?key=from-s3"),
        ("DELETE", "/v1/obs/buckets/tok-bucket"),
    ] {
        let (s, e) = region.call(m, p, Some(&intruder), None).await;
        assert_eq!(s, 404, "{m} {p}: {e}");
    }
    let (_, theirs) = region.call("GET", "/v1/obs/buckets", Some(&intruder), None).await;
    assert_eq!(theirs["buckets"], json!([]), "{theirs}");
    let (s, _) = region.call("DELETE", "/v1/obs/buckets/tok-bucket/object?key=from-s3", Some(&admin), None).await;
    assert_eq!(s, 204);
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
