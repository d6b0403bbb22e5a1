//! The identity flows of the issue, through the unmodified `openstack` CLI, on SQLite and
//! on PostgreSQL.

mod common;

use common::{databases, Region, ADMIN_PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn openstack_cli_identity_flows() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        run_flows(&region).await;
    }
}

async fn run_flows(region: &Region) {
    // The admin-openrc.sh written by `nimbus up` works as is.
    let openrc = std::fs::read_to_string(region.data_dir.join("admin-openrc.sh")).unwrap();
    for var in [
        "OS_AUTH_URL",
        "OS_USERNAME",
        "OS_PASSWORD",
        "OS_PROJECT_NAME",
        "OS_USER_DOMAIN_NAME",
        "OS_PROJECT_DOMAIN_NAME",
        "OS_REGION_NAME",
        "OS_IDENTITY_API_VERSION=3",
        "NIMBUS_ACCESS_KEY",
        "NIMBUS_SECRET_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "NIMBUS_S3_ENDPOINT",
    ] {
        assert!(openrc.contains(&format!("export {var}")), "admin-openrc.sh lacks {var}");
    }
    assert!(region.data_dir.join("clouds.yaml").exists());
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". {}/admin-openrc.sh && {} token issue -f value -c project_id",
            region.data_dir.display(),
            common::venv_bin("openstack").display()
        ))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", region.data_dir.parent().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "token issue via openrc: {}", String::from_utf8_lossy(&out.stderr));

    let token = region.openstack_json(&["token", "issue"]);
    assert!(token["id"].as_str().unwrap().len() > 20);

    let project = region.openstack_json(&["project", "create", "demo"]);
    assert_eq!(project["name"], "demo");
    let user = region.openstack_json(&["user", "create", "--domain", "Default", "--password", "s3cret", "alice"]);
    assert_eq!(user["name"], "alice");
    let (ok, _, err) = region.openstack(&["role", "add", "--project", "demo", "--user", "alice", "member"]);
    assert!(ok, "role add: {err}");

    let assignments = region.openstack_json(&["role", "assignment", "list", "--project", "demo", "--names"]);
    let rows = assignments.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{assignments}");
    assert_eq!(rows[0]["Role"], "member");
    assert!(rows[0]["User"].as_str().unwrap().starts_with("alice"));

    // Alice signs in to her project.
    let alice = region.os_env("alice", "s3cret", "demo");
    let (ok, out, err) = region.openstack_as(&alice, &["token", "issue", "-f", "json"]);
    assert!(ok, "alice token issue: {err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["project_id"], project["id"]);

    // A wrong password is a clear 401, not a crash.
    let wrong = region.os_env("alice", "nope", "demo");
    let (ok, _, err) = region.openstack_as(&wrong, &["token", "issue"]);
    assert!(!ok);
    assert!(err.contains("HTTP 401"), "{err}");

    // Names resolve, lists filter, duplicates are refused.
    let listed = region.openstack_json(&["project", "list"]);
    assert!(listed.as_array().unwrap().iter().any(|p| p["Name"] == "demo"));
    let (ok, _, err) = region.openstack(&["project", "create", "demo"]);
    assert!(!ok && err.contains("409"), "{err}");
    let shown = region.openstack_json(&["user", "show", "alice"]);
    assert_eq!(shown["id"], user["id"]);

    // Alice as a member may not administer identity.
    let (ok, _, err) = region.openstack_as(&alice, &["user", "list"]);
    assert!(!ok && err.contains("403"), "{err}");

    // Groups and group-based roles.
    region.openstack_json(&["group", "create", "ops"]);
    let (ok, _, err) = region.openstack(&["group", "add", "user", "ops", "alice"]);
    assert!(ok, "{err}");
    let (ok, _, err) = region.openstack(&["role", "add", "--project", "demo", "--group", "ops", "reader"]);
    assert!(ok, "{err}");
    let effective = region.openstack_json(&["role", "assignment", "list", "--user", "alice", "--effective", "--names"]);
    let roles: Vec<&str> = effective.as_array().unwrap().iter().filter_map(|r| r["Role"].as_str()).collect();
    assert!(roles.contains(&"member") && roles.contains(&"reader"), "{effective}");

    // A domain grant inherited to projects (OS-INHERIT) is effective on the domain's projects.
    let (ok, _, err) =
        region.openstack(&["role", "add", "--domain", "Default", "--user", "alice", "--inherited", "manager"]);
    assert!(ok, "{err}");
    let effective = region.openstack_json(&[
        "role",
        "assignment",
        "list",
        "--user",
        "alice",
        "--project",
        "demo",
        "--effective",
        "--names",
    ]);
    let roles: Vec<&str> = effective.as_array().unwrap().iter().filter_map(|r| r["Role"].as_str()).collect();
    assert!(roles.contains(&"manager"), "inherited grant not effective on the project: {effective}");
    let (ok, _, err) =
        region.openstack(&["role", "remove", "--domain", "Default", "--user", "alice", "--inherited", "manager"]);
    assert!(ok, "{err}");

    // Access keys through Keystone credentials.
    let blob = r#"{"access": "AKTESTALICE000000001", "secret": "sk-alice"}"#;
    let cred = region.openstack_json(&["credential", "create", "--type", "ec2", "--project", "demo", "alice", blob]);
    assert_eq!(cred["type"], "ec2");

    // Quotas through the OpenStack quota APIs (compute, volume and network at once).
    let (ok, _, err) =
        region.openstack(&["quota", "set", "--instances", "7", "--volumes", "3", "--networks", "4", "demo"]);
    assert!(ok, "quota set: {err}");
    let quotas = region.openstack_json(&["quota", "show", "demo"]);
    let limit =
        |name: &str| quotas.as_array().unwrap().iter().find(|r| r["Resource"] == name).map(|r| r["Limit"].clone());
    assert_eq!(limit("instances"), Some(7.into()), "{quotas}");
    assert_eq!(limit("volumes"), Some(3.into()), "{quotas}");
    assert_eq!(limit("networks"), Some(4.into()), "{quotas}");
    let (ok, _, err) = region.openstack_as(&alice, &["quota", "set", "--instances", "99", "demo"]);
    assert!(!ok && err.contains("403"), "a member must not change quotas: {err}");

    // Disabling alice revokes her at once.
    let (ok, _, err) = region.openstack(&["user", "set", "--disable", "alice"]);
    assert!(ok, "{err}");
    let (ok, _, _) = region.openstack_as(&alice, &["token", "issue"]);
    assert!(!ok, "a disabled user must not get a token");

    // Admin still works, and clean up goes through.
    let (ok, _, err) = region.openstack(&["project", "delete", "demo"]);
    assert!(ok, "{err}");
    let (ok, _, _) = region.openstack(&["project", "show", "demo"]);
    assert!(!ok);
    assert!(region.token("admin", ADMIN_PASSWORD, "admin").await.0.len() > 20);
}
