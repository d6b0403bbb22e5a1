//! Support through the customer space's API, on both stores: the plans, an account's plan
//! change (in force next month; a downgrade within the minimum period refused), named
//! contacts (only users of the account, as many as the plan allows), and tickets: only named
//! contacts open them, with the reporting model's mandatory fields; the provider takes one,
//! proposes another priority while the customer argues (on hold), decides, resolves; the
//! customer reopens; unconfirmed, it closes itself after five working days. A quota change
//! request approved by the provider changes the project's quota; an out-of-scope ticket is
//! closed. Another account sees none of it. The support clock runs fast in this region
//! (`support_time_scale`), so that months and working days pass in seconds.

mod common;

use common::{databases, Region};
use serde_json::{json, Value};

fn contact(user_id: &str, last: &str) -> Value {
    json!({"user_id": user_id, "last_name": last, "first_name": "Ann", "position": "SRE lead",
        "email": format!("{}@example.com", last.to_lowercase()), "phone": "+33 1 23 45 67 89",
        "availability": "Mon-Fri 08:00-18:00"})
}

/// A complete incident report (the reporting model's mandatory fields).
fn incident(project: &str) -> Value {
    json!({"project_id": project, "category": "incident", "perceived_criticality": "critical",
        "subject": "Servers cannot be created", "resource_ids": ["i-0001"],
        "report": {"company_name": "Acme", "reporter_name": "Ann Smith", "reporter_position": "SRE lead",
            "reporter_email": "smith@example.com", "reporter_phone": "+33 1 23 45 67 89",
            "user_name": "Ann Smith", "user_email": "smith@example.com", "service": "ECS",
            "component": "authentication", "description": "POST /servers answers 500 since 10:00.",
            "occurred_at": "2026-12-05T10:00:00Z", "api_login": "ann", "api_url": "https://ecs.example/v1",
            "source_ip": "203.0.113.9", "error_code": "Ecs.0000"},
        "attachments": [{"name": "trace.log", "content": "500 Internal Server Error"}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn support_plans_contacts_and_tickets_through_the_customer_space() {
    for db in databases() {
        // One real second is a bit more than a day on the support clock.
        let region = Region::start_with(&db, &[], Some("support_time_scale = 100000\n"));
        let admin = region.admin_token().await;
        let (acme, prod, ids) = region
            .account(&admin, "acme", &[("ann", "member"), ("bob", "member"), ("carol", "member"), ("dave", "reader")])
            .await;
        let (ann, carol, dave) = (
            region.domain_token(&acme, "ann", "acme-prod").await,
            region.domain_token(&acme, "carol", "acme-prod").await,
            region.domain_token(&acme, "dave", "acme-prod").await,
        );
        let (tiny, _, tiny_ids) =
            region.account(&admin, "tiny", &[("tom", "member"), ("tim", "member"), ("tia", "member")]).await;
        let tom = region.domain_token(&tiny, "tom", "tiny-prod").await;

        // The plans as the seed's table gives them.
        let (s, plans) = region.call("GET", "/v1/support/plans", Some(&ann), None).await;
        assert_eq!(s, 200, "{plans}");
        let business = plans["plans"].as_array().unwrap().iter().find(|p| p["name"] == "business").unwrap().clone();
        assert_eq!(business["named_contacts"], 5, "{business}");
        assert_eq!(business["response_objectives"]["P1"], json!({"minutes": 60, "hours": "24x7"}), "{business}");
        assert_eq!(business["response_objectives"]["P3"]["hours"], "working_hours", "{business}");

        // Subscriptions: Basic to start; Business ordered for next month; no downgrade before
        // the minimum period ends; readers may not change it.
        let (s, sub) = region.call("GET", "/v1/support/subscription", Some(&ann), None).await;
        assert_eq!((s, sub["subscription"]["plan"].as_str()), (200, Some("basic")), "{sub}");
        let (s, sub) =
            region.call("PUT", "/v1/support/subscription", Some(&ann), Some(json!({"plan": "business"}))).await;
        assert_eq!((s, sub["subscription"]["pending"]["plan"].as_str()), (200, Some("business")), "{sub}");
        let (s, e) =
            region.call("PUT", "/v1/support/subscription", Some(&ann), Some(json!({"plan": "standard"}))).await;
        assert_eq!(s, 400, "{e}");
        assert!(e["error_msg"].as_str().unwrap().contains("Downgrade refused"), "{e}");
        let (s, e) = region.call("PUT", "/v1/support/subscription", Some(&ann), Some(json!({"plan": "gold"}))).await;
        assert!(s == 400 && e["error_msg"].as_str().unwrap().contains("Unknown support plan"), "{e}");
        let (s, e) =
            region.call("PUT", "/v1/support/subscription", Some(&dave), Some(json!({"plan": "premium"}))).await;
        assert_eq!(s, 403, "a reader cannot change the plan: {e}");

        // Named contacts: users of the account, within the plan's limit (tiny is on Standard: 2).
        for (who, last) in [(&ids[0], "Smith"), (&ids[1], "Jones")] {
            let (s, c) = region.call("POST", "/v1/support/contacts", Some(&ann), Some(contact(who, last))).await;
            assert_eq!(s, 201, "{c}");
        }
        let (s, e) =
            region.call("POST", "/v1/support/contacts", Some(&ann), Some(contact(&tiny_ids[0], "Stranger"))).await;
        assert!(s == 400 && e["error_msg"].as_str().unwrap().contains("not a user of this account"), "{e}");
        let mut bad = contact(&ids[2], "Nomail");
        bad["email"] = json!("no-at-sign");
        let (s, e) = region.call("POST", "/v1/support/contacts", Some(&ann), Some(bad)).await;
        assert_eq!(s, 400, "{e}");
        let (s, _) =
            region.call("PUT", "/v1/support/subscription", Some(&tom), Some(json!({"plan": "standard"}))).await;
        assert_eq!(s, 200);
        for (i, who) in tiny_ids.iter().enumerate() {
            let (s, c) =
                region.call("POST", "/v1/support/contacts", Some(&tom), Some(contact(who, &format!("Tiny{i}")))).await;
            if i < 2 {
                assert_eq!(s, 201, "{c}");
            } else {
                assert_eq!(s, 400, "a third contact is over Standard's two: {c}");
                assert!(c["error_msg"].as_str().unwrap().contains("allows 2 named contact"), "{c}");
            }
        }

        // Next month comes (on the fast clock): Business is in force.
        region
            .wait_for(120, "the Business plan in force", || async {
                let (_, sub) = region.call("GET", "/v1/support/subscription", Some(&ann), None).await;
                (sub["subscription"]["plan"] == "business").then_some(())
            })
            .await;

        // Only named contacts open tickets, with every mandatory field.
        let (s, e) = region.call("POST", "/v1/support/tickets", Some(&carol), Some(incident(&prod))).await;
        assert!(s == 403 && e["error_msg"].as_str().unwrap().contains("named contacts"), "{e}");
        for field in ["api_url", "description", "occurred_at"] {
            let mut body = incident(&prod);
            body["report"].as_object_mut().unwrap().remove(field);
            let (s, e) = region.call("POST", "/v1/support/tickets", Some(&ann), Some(body)).await;
            assert_eq!(s, 400, "{e}");
            assert!(e["error_msg"].as_str().unwrap().contains(&format!("'{field}'")), "{e}");
        }
        let (s, e) = region
            .call("POST", "/v1/support/tickets", Some(&ann), Some(json!({"category": "incident", "project_id": prod})))
            .await;
        assert_eq!(s, 400, "{e}");
        let (s, t) = region.call("POST", "/v1/support/tickets", Some(&ann), Some(incident(&prod))).await;
        assert_eq!(s, 201, "{t}");
        let t = &t["ticket"];
        let id = t["id"].as_str().unwrap().to_string();
        assert_eq!(
            (t["status"].as_str(), t["priority"].as_str(), t["plan"].as_str()),
            (Some("new"), Some("P1"), Some("business")),
            "{t}"
        );
        assert!(t["clocks"]["response_due"].is_string() && t["clocks"]["repair_due"].is_string(), "{t}");
        assert_eq!(t["timeline"].as_array().unwrap().len(), 2, "opened, and the attachment: {t}");

        // Another account sees none of it; its member cannot act on it.
        let (s, _) = region.call("GET", &format!("/v1/support/tickets/{id}"), Some(&tom), None).await;
        assert_eq!(s, 404);
        let (_, list) = region.call("GET", "/v1/support/tickets", Some(&tom), None).await;
        assert_eq!(list["tickets"], json!([]), "{list}");
        let (s, _) = region
            .call("POST", &format!("/v1/support/tickets/{id}/actions"), Some(&tom), Some(json!({"action": "confirm"})))
            .await;
        assert_eq!(s, 404);

        // The provider's side; customers cannot do it.
        let act = |who: String, body: Value| {
            let (region, id) = (&region, id.clone());
            async move { region.call("POST", &format!("/v1/support/tickets/{id}/actions"), Some(&who), Some(body)).await }
        };
        let (s, e) = act(ann.clone(), json!({"action": "take"})).await;
        assert_eq!(s, 403, "{e}");
        let (s, t) = act(admin.clone(), json!({"action": "take", "priority": "P2"})).await;
        assert_eq!(
            (s, t["ticket"]["status"].as_str(), t["ticket"]["priority"].as_str()),
            (200, Some("in_progress"), Some("P2")),
            "{t}"
        );
        assert!(t["ticket"]["responded_at"].is_string(), "{t}");
        let (s, t) = act(
            admin.clone(),
            json!({"action": "set_priority", "priority": "P3", "hold": true, "reason": "one VM only"}),
        )
        .await;
        assert_eq!((s, t["ticket"]["status"].as_str()), (200, Some("on_hold")), "{t}");
        let (s, t) = region
            .call(
                "POST",
                &format!("/v1/support/tickets/{id}/comments"),
                Some(&ann),
                Some(json!({"text": "All of prod is down."})),
            )
            .await;
        assert_eq!(s, 200, "{t}");
        let (s, t) =
            act(admin.clone(), json!({"action": "decide_priority", "priority": "P2", "reason": "argued"})).await;
        assert_eq!(
            (s, t["ticket"]["status"].as_str(), t["ticket"]["priority"].as_str()),
            (200, Some("in_progress"), Some("P2")),
            "{t}"
        );
        let (s, e) = act(admin.clone(), json!({"action": "resume"})).await;
        assert_eq!(s, 409, "not on hold: {e}");
        let (s, t) = act(admin.clone(), json!({"action": "resolve", "resolution": "hypervisor restarted"})).await;
        assert_eq!((s, t["ticket"]["status"].as_str()), (200, Some("resolved")), "{t}");
        assert!(t["ticket"]["clocks"]["auto_close_at"].is_string(), "{t}");
        let (s, t) = act(ann.clone(), json!({"action": "reopen", "reason": "still failing"})).await;
        assert_eq!((s, t["ticket"]["status"].as_str()), (200, Some("in_progress")), "{t}");
        let (s, _) = act(admin.clone(), json!({"action": "resolve", "resolution": "fixed for good"})).await;
        assert_eq!(s, 200);
        // Unconfirmed, it closes itself five working days later.
        let closed = region
            .wait_for(120, "the resolved ticket to close itself", || async {
                let (_, t) = region.call("GET", &format!("/v1/support/tickets/{id}"), Some(&ann), None).await;
                (t["ticket"]["status"] == "closed").then_some(t)
            })
            .await;
        assert_eq!(closed["ticket"]["closed_reason"], "auto_closed", "{closed}");
        let kinds: Vec<&str> =
            closed["ticket"]["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"comment") && kinds.iter().filter(|k| **k == "priority").count() >= 2, "{kinds:?}");
        let (s, e) = act(ann.clone(), json!({"action": "confirm"})).await;
        assert_eq!(s, 409, "closed: {e}");
        let (s, e) = act(admin.clone(), json!({"action": "explode"})).await;
        assert_eq!(s, 400, "{e}");

        // A quota change request: approved by the provider, it changes the quota.
        let request = json!({"project_id": prod, "category": "request", "perceived_criticality": "minor",
            "subject": "More instances", "request_type": "quota_change",
            "request": {"project_id": prod, "resource": "instances", "limit": 50,
                "justification": "Black Friday: 40 web servers expected"},
            "report": {"company_name": "Acme", "reporter_name": "Ann Smith", "reporter_position": "SRE lead",
                "reporter_email": "smith@example.com", "reporter_phone": "+33 1 23 45 67 89",
                "user_name": "Ann Smith", "user_email": "smith@example.com", "service": "ECS",
                "component": "quota", "description": "Raise the instances quota.",
                "occurred_at": "2026-12-05T10:00:00Z"}});
        let mut unjustified = request.clone();
        unjustified["request"].as_object_mut().unwrap().remove("justification");
        let (s, e) = region.call("POST", "/v1/support/tickets", Some(&ann), Some(unjustified)).await;
        assert!(s == 400 && e["error_msg"].as_str().unwrap().contains("justification"), "{e}");
        let (s, q) = region.call("POST", "/v1/support/tickets", Some(&ann), Some(request.clone())).await;
        assert_eq!(s, 201, "{q}");
        assert!(q["ticket"]["clocks"]["request_due"].is_string(), "{q}");
        let qid = q["ticket"]["id"].as_str().unwrap().to_string();
        for body in [json!({"action": "take"}), json!({"action": "approve", "note": "granted"})] {
            let (s, t) =
                region.call("POST", &format!("/v1/support/tickets/{qid}/actions"), Some(&admin), Some(body)).await;
            assert_eq!(s, 200, "{t}");
        }
        let (s, quota) = region.call("GET", &format!("/compute/v2.1/os-quota-sets/{prod}"), Some(&admin), None).await;
        assert_eq!((s, quota["quota_set"]["instances"].as_i64()), (200, Some(50)), "{quota}");

        // Tenant creation and deletion requests: the provider's approval makes the tenant (the
        // asking contact its member); a deletion waits until the tenant holds nothing.
        let catalogue = |subject: &str, kind: &str, payload: Value| {
            let mut r = request.clone();
            r["subject"] = json!(subject);
            r["request_type"] = json!(kind);
            r["request"] = payload;
            r
        };
        let approve = |id: String| {
            let admin = admin.clone();
            let region = &region;
            async move {
                let url = format!("/v1/support/tickets/{id}/actions");
                let (s, t) = region.call("POST", &url, Some(&admin), Some(json!({"action": "take"}))).await;
                assert!(s == 200 || s == 409, "{t}");
                region.call("POST", &url, Some(&admin), Some(json!({"action": "approve", "note": "done"}))).await
            }
        };
        let (s, e) = region
            .call("POST", "/v1/support/tickets", Some(&ann), Some(catalogue("New", "account_creation", json!({}))))
            .await;
        assert!(s == 400 && e["error_msg"].as_str().unwrap().contains("names the new tenant"), "{e}");
        let (s, t) = region
            .call(
                "POST",
                "/v1/support/tickets",
                Some(&ann),
                Some(catalogue("Staging tenant", "account_creation", json!({"name": "acme-staging"}))),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        let (s, t) = approve(t["ticket"]["id"].as_str().unwrap().to_string()).await;
        assert_eq!((s, t["ticket"]["status"].as_str()), (200, Some("resolved")), "{t}");
        let staging_token = region.domain_token(&acme, "ann", "acme-staging").await;
        let (_, projects) = region.call("GET", "/identity/v3/projects?name=acme-staging", Some(&admin), None).await;
        let staging = projects["projects"][0]["id"].as_str().unwrap().to_string();
        let (s, net) = region
            .call("POST", "/network/v2.0/networks", Some(&staging_token), Some(json!({"network": {"name": "stg"}})))
            .await;
        assert_eq!(s, 201, "{net}");
        let (s, t) = region
            .call(
                "POST",
                "/v1/support/tickets",
                Some(&ann),
                Some(catalogue("Drop staging", "account_deletion", json!({"project_id": staging}))),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        let del_id = t["ticket"]["id"].as_str().unwrap().to_string();
        let (s, e) = approve(del_id.clone()).await;
        assert!(s == 409 && e["error_msg"].as_str().unwrap().contains("1 networks"), "{s} {e}");
        let net_id = net["network"]["id"].as_str().unwrap();
        let (s, _) =
            region.call("DELETE", &format!("/network/v2.0/networks/{net_id}"), Some(&staging_token), None).await;
        assert_eq!(s, 204);
        let (s, t) = approve(del_id).await;
        assert_eq!((s, t["ticket"]["status"].as_str()), (200, Some("resolved")), "{t}");
        let (s, _) = region.call("GET", &format!("/identity/v3/projects/{staging}"), Some(&admin), None).await;
        assert_eq!(s, 404, "the tenant is gone");

        // An out-of-scope ticket is closed by the provider.
        let info = json!({"project_id": prod, "category": "information", "perceived_criticality": "minor",
            "subject": "How do I write a Dockerfile?", "report": {"company_name": "Acme", "reporter_name": "Ann",
            "reporter_position": "dev", "reporter_email": "smith@example.com", "reporter_phone": "+33 1",
            "user_name": "Ann", "user_email": "smith@example.com", "service": "none", "component": "none",
            "description": "Our own application question.", "occurred_at": "2026-12-05T10:00:00Z"}});
        let (s, t) = region.call("POST", "/v1/support/tickets", Some(&ann), Some(info)).await;
        assert_eq!((s, t["ticket"]["priority"].as_str()), (201, Some("P4")), "{t}");
        let iid = t["ticket"]["id"].as_str().unwrap().to_string();
        let (s, t) = region
            .call(
                "POST",
                &format!("/v1/support/tickets/{iid}/actions"),
                Some(&admin),
                Some(json!({"action": "out_of_scope", "reason": "the customer's own application"})),
            )
            .await;
        assert_eq!((s, t["ticket"]["closed_reason"].as_str()), (200, Some("out_of_scope")), "{t}");
        // The provider sees every account's tickets.
        let (_, all) = region.call("GET", "/v1/support/tickets", Some(&admin), None).await;
        assert_eq!(all["tickets"].as_array().unwrap().len(), 5, "{all}");
    }
}

/// A token of a provider's user (Default domain) scoped to a project by id, if it may have one.
async fn engineer_token(region: &Region, project: &str) -> Option<String> {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "eng", "domain": {"id": "default"}, "password": "eng-pw-1"}}},
        "scope": {"project": {"id": project}}}});
    let r = region.http.post(format!("{}/identity/v3/auth/tokens", region.url)).json(&body).send().await.unwrap();
    (r.status() == 201).then(|| r.headers()["x-subject-token"].to_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn support_engineer_invitations_and_change_notices() {
    for db in databases() {
        // One real second is about 17 minutes on the support clock.
        let region = Region::start_with(&db, &[], Some("support_time_scale = 1000\n"));
        let admin = region.admin_token().await;
        let (acme, prod, _) = region.account(&admin, "acme", &[("ann", "member"), ("dave", "reader")]).await;
        let (ann, dave) = (
            region.domain_token(&acme, "ann", "acme-prod").await,
            region.domain_token(&acme, "dave", "acme-prod").await,
        );
        let (tiny, tiny_prod, _) = region.account(&admin, "tiny", &[("tom", "member")]).await;
        let tom = region.domain_token(&tiny, "tom", "tiny-prod").await;
        // The provider's engineer: a user of the provider's domain with no role of its own.
        let (s, u) = region
            .call(
                "POST",
                "/identity/v3/users",
                Some(&admin),
                Some(json!({"user": {"name": "eng", "password": "eng-pw-1"}})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        let eng_id = u["user"]["id"].as_str().unwrap().to_string();
        assert!(engineer_token(&region, &prod).await.is_none(), "no access before the invitation");

        // Readers may not invite; a customer's own user is no engineer; a project of another
        // account is not found; a visit lasts at most 30 days.
        let invite = |project: &str, engineer: &str, hours: i64| json!({"project_id": project, "engineer_id": engineer, "hours": hours});
        let (s, e) = region.call("POST", "/v1/support/invitations", Some(&dave), Some(invite(&prod, &eng_id, 4))).await;
        assert_eq!(s, 403, "{e}");
        let (s, e) =
            region.call("POST", "/v1/support/invitations", Some(&ann), Some(invite(&tiny_prod, &eng_id, 4))).await;
        assert_eq!(s, 404, "{e}");
        let (s, e) =
            region.call("POST", "/v1/support/invitations", Some(&ann), Some(invite(&prod, &eng_id, 721))).await;
        assert!(s == 400 && e["error_msg"].as_str().unwrap().contains("720"), "{e}");
        let (s, e) =
            region.call("POST", "/v1/support/invitations", Some(&tom), Some(invite(&tiny_prod, "nobody", 4))).await;
        assert_eq!(s, 400, "{e}");

        // Invited, the engineer works in the tenant with the customer's rights; ended, it is out
        // at once, its tokens too.
        let (s, inv) =
            region.call("POST", "/v1/support/invitations", Some(&ann), Some(invite(&prod, &eng_id, 720))).await;
        assert_eq!((s, inv["invitation"]["status"].as_str()), (201, Some("active")), "{inv}");
        let inv_id = inv["invitation"]["id"].as_str().unwrap().to_string();
        let eng = engineer_token(&region, &prod).await.expect("the invited engineer signs in to the tenant");
        let (s, v) = region.call("GET", &format!("/v1/{prod}/vpcs"), Some(&eng), None).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = region
            .call("POST", &format!("/v1/{prod}/vpcs"), Some(&eng), Some(json!({"vpc": {"name": "fixed-by-support"}})))
            .await;
        assert_eq!(s, 200, "the engineer acts with the member's rights: {v}");
        let (_, mine) = region.call("GET", "/v1/support/invitations", Some(&ann), None).await;
        assert_eq!(mine["invitations"].as_array().unwrap().len(), 1, "{mine}");
        let (_, theirs) = region.call("GET", "/v1/support/invitations", Some(&tom), None).await;
        assert_eq!(theirs["invitations"].as_array().unwrap().len(), 0, "{theirs}");
        let (s, e) = region.call("DELETE", &format!("/v1/support/invitations/{inv_id}"), Some(&tom), None).await;
        assert_eq!(s, 404, "another account cannot end it: {e}");
        let (s, _) = region.call("DELETE", &format!("/v1/support/invitations/{inv_id}"), Some(&ann), None).await;
        assert_eq!(s, 204);
        let (s, _) = region.call("GET", &format!("/v1/{prod}/vpcs"), Some(&eng), None).await;
        assert_eq!(s, 401, "the engineer's token ends with the invitation");
        assert!(engineer_token(&region, &prod).await.is_none(), "no access after the invitation");
        let (s, e) = region.call("DELETE", &format!("/v1/support/invitations/{inv_id}"), Some(&ann), None).await;
        assert_eq!(s, 409, "{e}");

        // A one-hour visit ends by itself (a few real seconds here).
        let (s, inv) =
            region.call("POST", "/v1/support/invitations", Some(&ann), Some(invite(&prod, &eng_id, 1))).await;
        assert_eq!(s, 201, "{inv}");
        region
            .wait_for(60, "the invitation's expiry", || async {
                engineer_token(&region, &prod).await.is_none().then_some(())
            })
            .await;
        let (_, mine) = region.call("GET", "/v1/support/invitations", Some(&ann), None).await;
        assert!(mine["invitations"].as_array().unwrap().iter().all(|i| i["status"] == "ended"), "{mine}");

        // Change notices: each kind with its notice period; urgent changes within 3 hours of
        // interruption per service and month. Customers read them and may not publish.
        let at = |hours: i64| (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339();
        let notice = |kind: &str, starts: String, minutes: i64, service: &str| {
            json!({"kind": kind, "title": format!("{kind} of {service}"), "description": "planned",
                "services": [service], "starts_at": starts, "interruption_minutes": minutes})
        };
        let publish = |body: Value| {
            let admin = admin.clone();
            let region = &region;
            async move { region.call("POST", "/v1/support/notices", Some(&admin), Some(body)).await }
        };
        for (kind, too_soon, in_time) in [
            ("minor_release", 6, 72),
            ("maintenance", 6, 72),
            ("major_release", 5 * 24, 20 * 24),
            ("incompatible_api", 30 * 24, 62 * 24),
        ] {
            let (s, e) = publish(notice(kind, at(too_soon), 10, "ecs")).await;
            assert!(s == 400 && e["error_msg"].as_str().unwrap().contains("at least"), "{kind}: {s} {e}");
            let (s, n) = publish(notice(kind, at(in_time), 10, "ecs")).await;
            assert_eq!(s, 201, "{kind}: {n}");
        }
        let (s, e) = publish(notice("whenever", at(72), 0, "ecs")).await;
        assert_eq!(s, 400, "{e}");
        let (s, e) =
            publish(json!({"kind": "maintenance", "title": "x", "services": ["ecs"], "starts_at": "soon"})).await;
        assert_eq!(s, 400, "{e}");
        // Urgent: 120 + 60 minutes fit the month of one service; one more minute does not.
        let urgent_at = at(20 * 24);
        for (minutes, service, status) in
            [(120, "evs", 201), (61, "evs", 400), (60, "evs", 201), (1, "evs", 400), (100, "vpc", 201)]
        {
            let (s, n) = publish(notice("urgent", urgent_at.clone(), minutes, service)).await;
            assert_eq!(s, status, "urgent {minutes} min of {service}: {n}");
        }
        let (s, e) =
            region.call("POST", "/v1/support/notices", Some(&ann), Some(notice("maintenance", at(72), 0, "ecs"))).await;
        assert_eq!(s, 403, "{e}");
        // The region also publishes its price list's revisions as notices; count only the ones published here.
        let (s, all) = region.call("GET", "/v1/support/notices", Some(&tom), None).await;
        assert_eq!(s, 200, "{all}");
        let planned = all["notices"].as_array().unwrap().iter().filter(|n| n["kind"] != "price_change").count();
        assert_eq!(planned, 7, "{all}");
    }
}
