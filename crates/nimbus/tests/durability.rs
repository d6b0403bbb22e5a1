//! Durability: a job interrupted by `kill -9` resumes after restart; an acknowledged change
//! survives a crash; `X-Client-Token` makes a retried create return the first answer.

mod common;

use common::{databases, Region};
use serde_json::{json, Value};

async fn job_status(region: &Region, admin: &str, project: &str, job: &str) -> Value {
    let (s, v) = region.call("GET", &format!("/v1/{project}/jobs/{job}"), Some(admin), None).await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_interrupted_by_kill_9_resumes_after_restart() {
    for db in databases() {
        // Slow the job's steps down so the crash lands in the middle of it.
        let mut region = Region::start_with(&db, &[("NIMBUS_JOB_STEP_DELAY_MS", "700")], None);
        let admin = region.admin_token().await;
        let (pid, uid) = region.tenant(&admin, "doomed", "dora", "dora-pw", "member").await;
        let blob = r#"{"access": "DOOMEDKEY00000000001", "secret": "s"}"#;
        let (s, _) = region
            .call(
                "POST",
                "/identity/v3/credentials",
                Some(&admin),
                Some(json!({"credential": {
                "user_id": uid, "project_id": pid, "type": "ec2", "blob": blob}})),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _) = region
            .call(
                "PUT",
                &format!("/compute/v2.1/os-quota-sets/{pid}"),
                Some(&admin),
                Some(json!({"quota_set": {"instances": 3}})),
            )
            .await;
        assert_eq!(s, 200);

        let r = region
            .http
            .delete(format!("{}/identity/v3/projects/{pid}", region.url))
            .header("X-Auth-Token", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let job = r.headers()["x-nimbus-job-id"].to_str().unwrap().to_string();
        region
            .wait_for(30, "the purge job to start", || async {
                (job_status(&region, &admin, &pid, &job).await["status"] == "RUNNING").then_some(())
            })
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        assert_eq!(
            job_status(&region, &admin, &pid, &job).await["status"],
            "RUNNING",
            "the crash must interrupt the job"
        );
        region.kill9();

        // Restart on the same data: the job runner's start-up pass picks the job up again.
        region.launch();
        let admin = region.admin_token().await;
        let done = region
            .wait_for(60, "the purge job to finish", || async {
                let v = job_status(&region, &admin, &pid, &job).await;
                (v["status"] == "SUCCESS" || v["status"] == "FAIL").then_some(v)
            })
            .await;
        assert_eq!(done["status"], "SUCCESS", "{done}");
        assert!(done["end_time"].as_str().is_some());
        // What the project owned is gone.
        let (s, creds) =
            region.call("GET", &format!("/identity/v3/credentials?user_id={uid}"), Some(&admin), None).await;
        assert_eq!(s, 200);
        assert_eq!(creds["credentials"], json!([]), "{creds}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_changes_survive_a_crash() {
    let mut region = Region::start();
    let admin = region.admin_token().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let (s, v) = region
            .call("POST", "/identity/v3/projects", Some(&admin), Some(json!({"project": {"name": format!("p{i}")}})))
            .await;
        assert_eq!(s, 201);
        ids.push(v["project"]["id"].as_str().unwrap().to_string());
    }
    region.kill9();
    region.launch();
    let admin = region.admin_token().await;
    for id in &ids {
        let (s, _) = region.call("GET", &format!("/identity/v3/projects/{id}"), Some(&admin), None).await;
        assert_eq!(s, 200, "project {id} acknowledged before the crash is lost");
    }
    // Every acknowledged change was traced, and the audit chain is intact across the crash.
    let (_, tok) = region.token("admin", common::ADMIN_PASSWORD, "admin").await;
    let admin_project = tok["token"]["project"]["id"].as_str().unwrap().to_string();
    let (s, v) = region.call("GET", &format!("/v3/{admin_project}/traces/verification"), Some(&admin), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["valid"], true, "{v}");
    for id in &ids {
        let (s, v) = region.call("GET", &format!("/v3/{id}/traces?resource_id={id}"), Some(&admin), None).await;
        assert_eq!(s, 200);
        assert_eq!(v["traces"][0]["trace_name"], "createProject", "{v}");
    }
    // SIGTERM stops the region cleanly.
    let status = region.stop();
    assert!(status.success(), "nimbus exited with {status} on SIGTERM");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_token_makes_a_retry_return_the_first_answer() {
    let region = Region::start();
    let admin = region.admin_token().await;
    let (_, uid) = region.tenant(&admin, "keys", "kim", "kim-pw", "member").await;
    let body = json!({"credential": {"user_id": uid, "description": "ci"}});
    let post = |token: &'static str| {
        let req = region
            .http
            .post(format!("{}/v3.0/OS-CREDENTIAL/credentials", region.url))
            .header("X-Auth-Token", &admin)
            .header("X-Client-Token", token)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Two concurrent tries and a later retry: one key, the same answer three times.
    let ((s1, a), (s2, b)) = tokio::join!(post("retry-1"), post("retry-1"));
    let (s3, c) = post("retry-1").await;
    assert_eq!((s1, s2, s3), (201, 201, 201), "{a} {b} {c}");
    assert_eq!(a["credential"]["access"], b["credential"]["access"]);
    assert_eq!(a["credential"]["access"], c["credential"]["access"]);
    let (s, list) =
        region.call("GET", &format!("/v3.0/OS-CREDENTIAL/credentials?user_id={uid}"), Some(&admin), None).await;
    assert_eq!(s, 200);
    assert_eq!(list["credentials"].as_array().unwrap().len(), 1, "{list}");
    // The same token on a different request is a conflict, not a silent replay.
    let r = region
        .http
        .post(format!("{}/v3.0/OS-CREDENTIAL/credentials", region.url))
        .header("X-Auth-Token", &admin)
        .header("X-Client-Token", "retry-1")
        .json(&json!({"credential": {"user_id": uid, "description": "other"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    // A new token creates a second key.
    let (s, _) = post("retry-2").await;
    assert_eq!(s, 201);
}
