//! The native CTS and IAM APIs driven by the unmodified Huawei Cloud Python SDKs
//! (`huaweicloudsdkcts`, `huaweicloudsdkiam`), signing with AK/SK (`SDK-HMAC-SHA256`).
//! The checks themselves live in `tests/clients/huawei_sdk_check.py`.

mod common;

use common::{databases, Region, ADMIN_PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn huawei_sdks_work_against_the_native_apis() {
    for db in databases() {
        let region = Region::start_with(&db, &[], None);
        let (admin, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
        let admin_project = body["token"]["project"]["id"].as_str().unwrap().to_string();
        let (member_project, user) = region.tenant(&admin, "sdk-members", "alice", "alice-pw", "member").await;
        let (ak, sk) = region.admin_keys();
        let out = std::process::Command::new(common::venv_bin("python"))
            .arg(common::repo_root().join("tests/clients/huawei_sdk_check.py"))
            .env("NIMBUS_ENDPOINT", &region.url)
            .env("NIMBUS_ACCESS_KEY", ak)
            .env("NIMBUS_SECRET_KEY", sk)
            .env("NIMBUS_PROJECT_ID", &admin_project)
            .env("NIMBUS_DOMAIN_ID", "default")
            .env("NIMBUS_USER_ID", &user)
            .env("NIMBUS_MEMBER_PROJECT_ID", &member_project)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "Huawei SDK checks failed on {db:?}:\n{stdout}");
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    }
}
