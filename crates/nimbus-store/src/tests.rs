//! Store tests, run against every backend (see `testdb`).

use crate::testdb;
use crate::{audit, idempotency, identity, jobs, quota, tags};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;

fn domain(id: &str, name: &str) -> identity::Domain {
    identity::Domain {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        enabled: true,
        extra: "{}".into(),
        created_at: 1,
    }
}

fn project(id: &str, name: &str, domain_id: &str) -> identity::Project {
    identity::Project {
        id: id.into(),
        name: name.into(),
        domain_id: domain_id.into(),
        parent_id: None,
        description: String::new(),
        enabled: true,
        extra: "{}".into(),
        created_at: 1,
    }
}

fn trace(project_id: &str, name: &str) -> audit::Trace {
    audit::Trace {
        id: nimbus_core::id::new_hex_id(),
        project_id: project_id.into(),
        seq: 0,
        time_ms: 10,
        user_id: Some("u".into()),
        user_name: Some("alice".into()),
        domain_id: None,
        source_ip: Some("127.0.0.1".into()),
        service_type: "IAM".into(),
        resource_type: "user".into(),
        resource_id: Some("r".into()),
        resource_name: None,
        trace_name: name.into(),
        trace_rating: "normal".into(),
        trace_type: "ApiCall".into(),
        request_id: None,
        code: Some("201".into()),
        api_version: None,
        message: None,
        request: None,
        response: None,
        resource_url: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

#[tokio::test]
async fn identity_rows_round_trip_and_names_are_unique() {
    for db in testdb::all().await {
        let s = &db.store;
        let mut tx = s.write().await.unwrap();
        identity::insert_domain(&mut tx, &domain("d1", "Acme")).await.unwrap();
        identity::insert_project(&mut tx, &project("p1", "web", "d1")).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = s.write().await.unwrap();
        let dup = identity::insert_project(&mut tx, &project("p2", "web", "d1")).await;
        assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
        drop(tx);

        let mut c = s.read().await.unwrap();
        let d = identity::get_domain_by_name(&mut c, "Acme").await.unwrap().unwrap();
        assert!(d.enabled);
        let p = identity::get_project(&mut c, "p1").await.unwrap().unwrap();
        assert_eq!(p.parent_id, None);
        let by_parent = identity::list_projects(
            &mut c,
            &identity::ProjectFilter { parent_id: Some("d1".into()), ..Default::default() },
            &PageRequest::default(),
        )
        .await
        .unwrap();
        assert_eq!(by_parent.len(), 1);
        // The rolled-back duplicate left nothing behind.
        assert!(identity::get_project(&mut c, "p2").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn paging_returns_each_row_once() {
    for db in testdb::all().await {
        let s = &db.store;
        let mut tx = s.write().await.unwrap();
        for i in 0..25 {
            identity::insert_domain(&mut tx, &domain(&format!("d{i:02}"), &format!("n{i}"))).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut c = s.read().await.unwrap();
        let mut seen = Vec::new();
        let mut page = PageRequest { limit: Some(10), marker: None };
        loop {
            let rows = identity::list_domains(&mut c, None, None, &page).await.unwrap();
            if rows.is_empty() {
                break;
            }
            page.marker = Some(rows.last().unwrap().id.clone());
            seen.extend(rows.into_iter().map(|d| d.id));
        }
        assert_eq!(seen.len(), 25);
        let mut sorted = seen.clone();
        sorted.dedup();
        assert_eq!(sorted, seen);
    }
}

#[tokio::test]
async fn concurrent_quota_charges_never_exceed_the_limit() {
    for db in testdb::all().await {
        let s = db.store.clone();
        let mut handles = Vec::new();
        for _ in 0..20 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let mut tx = s.write().await.unwrap();
                let r = quota::charge(&mut tx, "p", "instances", 1, 7).await;
                if r.is_ok() {
                    tx.commit().await.unwrap();
                }
                r
            }));
        }
        let mut ok = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(()) => ok += 1,
                Err(Error::OverQuota { limit, .. }) => assert_eq!(limit, 7),
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(ok, 7);
        let mut c = s.read().await.unwrap();
        assert_eq!(quota::usage(&mut c, "p").await.unwrap(), vec![("instances".to_string(), 7)]);
        let mut tx = s.write().await.unwrap();
        quota::release(&mut tx, "p", "instances", 10).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(quota::usage(&mut c, "p").await.unwrap(), vec![("instances".to_string(), 0)]);
    }
}

#[tokio::test]
async fn trace_chain_detects_tampering() {
    for db in testdb::all().await {
        let s = db.store.clone();
        let mut handles = Vec::new();
        for i in 0..10 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let mut tx = s.write().await.unwrap();
                audit::append(&mut tx, trace("p", &format!("op{i}"))).await.unwrap();
                tx.commit().await.unwrap();
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let mut c = s.read().await.unwrap();
        assert_eq!(audit::verify_chain(&mut c, "p").await.unwrap(), None);
        let listed =
            audit::list(&mut c, &audit::TraceFilter { project_id: "p".into(), limit: 100, ..Default::default() })
                .await
                .unwrap();
        assert_eq!(listed.iter().map(|t| t.seq).collect::<Vec<_>>(), (1..=10).rev().collect::<Vec<_>>());

        sqlx::query("UPDATE traces SET user_name = 'mallory' WHERE project_id = 'p' AND seq = 4")
            .execute(&mut *c)
            .await
            .unwrap();
        assert_eq!(audit::verify_chain(&mut c, "p").await.unwrap(), Some(4));
    }
}

#[tokio::test]
async fn idempotency_key_is_claimed_once() {
    for db in testdb::all().await {
        let s = &db.store;
        let mut tx = s.write().await.unwrap();
        assert!(idempotency::claim(&mut tx, "p", "tok", "fp", 1).await.unwrap().is_none());
        let again = idempotency::claim(&mut tx, "p", "tok", "fp", 2).await.unwrap().unwrap();
        assert_eq!(again.state, "pending");
        idempotency::complete(&mut tx, "p", "tok", 200, "{\"job_id\":\"j\"}").await.unwrap();
        let done = idempotency::claim(&mut tx, "p", "tok", "fp", 3).await.unwrap().unwrap();
        assert_eq!((done.state.as_str(), done.status), ("done", Some(200)));
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn jobs_and_tags_round_trip() {
    for db in testdb::all().await {
        let s = &db.store;
        let mut tx = s.write().await.unwrap();
        let job = jobs::Job {
            id: "j1".into(),
            project_id: "p".into(),
            parent_id: None,
            job_type: "t".into(),
            status: jobs::INIT.into(),
            step: 0,
            params: "{}".into(),
            entities: "{}".into(),
            error_code: None,
            fail_reason: None,
            attempts: 0,
            begin_time: 1,
            end_time: None,
            updated_at: 1,
        };
        jobs::insert(&mut tx, &job).await.unwrap();
        assert_eq!(jobs::bump_attempts(&mut tx, "j1", 2).await.unwrap(), 1);
        jobs::finish(&mut tx, "j1", jobs::FAIL, Some("E1"), Some("boom"), 3).await.unwrap();
        let t = tags::Tag {
            resource_type: "project".into(),
            resource_id: "p".into(),
            project_id: "p".into(),
            tag_key: "env".into(),
            tag_value: "prod".into(),
        };
        tags::set(&mut tx, &t).await.unwrap();
        tags::set(&mut tx, &tags::Tag { tag_value: "dev".into(), ..t.clone() }).await.unwrap();
        tx.commit().await.unwrap();
        let mut c = s.read().await.unwrap();
        let j = jobs::get(&mut c, "j1").await.unwrap().unwrap();
        assert_eq!((j.status.as_str(), j.fail_reason.as_deref(), j.end_time), ("FAIL", Some("boom"), Some(3)));
        assert!(jobs::unfinished(&mut c, 10).await.unwrap().is_empty());
        let listed = tags::list(&mut c, "project", "p").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].tag_value, "dev");
    }
}

#[tokio::test]
async fn attachments_and_snapshots_round_trip() {
    use crate::volumes::{self, Attachment, Snapshot, SnapshotFilter};
    for db in testdb::all().await {
        let s = &db.store;
        let mut tx = s.write().await.unwrap();
        for (id, server, at) in [("a1", "s1", 2), ("a2", "s1", 1), ("a3", "s2", 3)] {
            let a = Attachment {
                id: id.into(),
                volume_id: format!("v-{id}"),
                server_id: server.into(),
                device: "/dev/vdc".into(),
                status: "attaching".into(),
                attached_at: Some(at),
                delete_on_termination: false,
            };
            volumes::insert_attachment(&mut tx, &a).await.unwrap();
        }
        assert!(volumes::set_attachment_status(&mut tx, "a1", "attached").await.unwrap());
        assert!(!volumes::set_attachment_status(&mut tx, "nope", "attached").await.unwrap());
        let snap = |id: &str, at: i64| Snapshot {
            id: id.into(),
            project_id: "p".into(),
            user_id: "u".into(),
            volume_id: "v1".into(),
            name: Some(id.into()),
            description: None,
            size_gb: 10,
            status: "creating".into(),
            metadata: "{}".into(),
            progress: None,
            created_at: at,
            updated_at: None,
            version: 0,
            group_snapshot_id: None,
        };
        volumes::insert_snapshot(&mut tx, &snap("sn1", 1)).await.unwrap();
        volumes::insert_snapshot(&mut tx, &snap("sn2", 2)).await.unwrap();
        tx.commit().await.unwrap();

        let mut c = s.read().await.unwrap();
        let on_s1: Vec<String> =
            volumes::server_attachments(&mut c, "s1").await.unwrap().into_iter().map(|a| a.id).collect();
        assert_eq!(on_s1, ["a2", "a1"], "in attachment order");
        let a1 = volumes::attachment(&mut c, "v-a1", "s1").await.unwrap().unwrap();
        assert_eq!(a1.status, "attached");
        assert!(volumes::attachment(&mut c, "v-a1", "s2").await.unwrap().is_none());
        let newest =
            volumes::list_snapshots(&mut c, &SnapshotFilter::default(), &PageRequest::default()).await.unwrap();
        assert_eq!(newest.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["sn2", "sn1"]);
        let oldest = volumes::volume_snapshots(&mut c, "v1").await.unwrap();
        assert_eq!(oldest[0].id, "sn1");
        drop(c);

        // A writer holding an old version loses.
        let mut tx = s.write().await.unwrap();
        let mut sn = volumes::get_snapshot(&mut tx, "sn1").await.unwrap().unwrap();
        sn.status = "available".into();
        volumes::update_snapshot(&mut tx, &sn).await.unwrap();
        assert!(matches!(volumes::update_snapshot(&mut tx, &sn).await, Err(Error::Conflict(_))));
        assert!(volumes::delete_attachment(&mut tx, "a1").await.unwrap());
        assert!(volumes::delete_snapshot(&mut tx, "sn2").await.unwrap());
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn backup_chunk_index_and_sweep_guard_round_trip() {
    use crate::backups::{self, Backup, ChunkRow};
    for db in testdb::all().await {
        let s = &db.store;
        let backup = |id: &str, status: &str, holds_slot: i64| Backup {
            id: id.into(),
            project_id: "p".into(),
            user_id: "u".into(),
            volume_id: "v".into(),
            name: None,
            description: None,
            size_gb: 1,
            status: status.into(),
            fail_reason: None,
            parent_id: None,
            availability_zone: "az1".into(),
            container: "c".into(),
            object_count: 0,
            stored_bytes: 0,
            read_bytes: 0,
            metadata: "{}".into(),
            queued_at: None,
            holds_slot,
            data_timestamp: 1,
            created_at: 1,
            updated_at: None,
            version: 0,
            vault_id: None,
            checkpoint_id: None,
            auto_trigger: false,
            volume_metadata: "{}".into(),
            server_id: None,
            snapshot_id: None,
            encryption_key_id: None,
        };
        let chunk = |hash: &str, pack: &str| ChunkRow {
            project_id: "p".into(),
            hash: hash.into(),
            pack: pack.into(),
            pack_offset: 0,
            stored_len: 10,
            len: 20,
        };
        let mut tx = s.write().await.unwrap();
        assert!(!backups::lock_project(&mut tx, "p").await.unwrap(), "nothing owed at first");
        for b in [backup("b3", "available", 0), backup("b1", "error", 0), backup("b2", "deleting", 1)] {
            backups::insert(&mut tx, &b).await.unwrap();
        }
        backups::insert(&mut tx, &backup("b4", "creating", 0)).await.unwrap();
        assert_eq!(backups::making(&mut tx, "p").await.unwrap(), 0, "a queued backup relies on nothing yet");
        backups::insert(&mut tx, &backup("b5", "creating", 1)).await.unwrap();
        assert_eq!(backups::making(&mut tx, "p").await.unwrap(), 1);
        assert_eq!(backups::live_backups(&mut tx, "p").await.unwrap(), ["b1", "b3"]);
        backups::set_sweep_pending(&mut tx, "p", true).await.unwrap();
        let rows: Vec<ChunkRow> =
            (0..450).map(|i| chunk(&format!("h{i:03}"), if i < 300 { "k1" } else { "k2" })).collect();
        backups::insert_chunks(&mut tx, &rows).await.unwrap();
        // Indexing a chunk twice keeps the first place.
        backups::insert_chunks(&mut tx, &[chunk("h000", "k9")]).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = s.write().await.unwrap();
        assert!(backups::lock_project(&mut tx, "p").await.unwrap(), "the put-off sweep is remembered");
        let index = backups::chunk_index(&mut tx, "p").await.unwrap();
        assert_eq!(index.len(), 450);
        assert!(index.contains(&("h000".to_string(), "k1".to_string())));
        let dead: Vec<String> = (300..450).map(|i| format!("h{i:03}")).collect();
        backups::delete_chunks(&mut tx, "p", &dead).await.unwrap();
        backups::set_sweep_pending(&mut tx, "p", false).await.unwrap();
        tx.commit().await.unwrap();
        let mut c = s.read().await.unwrap();
        let left = backups::chunk_index(&mut c, "p").await.unwrap();
        assert_eq!(left.len(), 300);
        assert!(left.iter().all(|(_, pack)| pack == "k1"));
        assert_eq!(backups::chunks(&mut c, "p", &["h001".into(), "h400".into()]).await.unwrap().len(), 1);
        assert!(!backups::sweep_pending(&mut c, "p").await.unwrap());
        assert!(!backups::sweep_pending(&mut c, "other").await.unwrap());
    }
}
