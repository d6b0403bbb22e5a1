//! Test databases: every store test runs once on SQLite and once on PostgreSQL.
//!
//! PostgreSQL is reached through `NIMBUS_TEST_POSTGRES_URL` (an admin URL; each test creates
//! its own database). CI always sets it (`.ci/run` starts PostgreSQL), and under `CI=true` a
//! missing URL is a failure, so the PostgreSQL half can never be skipped silently there.

use crate::{Backend, Store};
use sqlx::{Connection, Executor};

/// A store plus whatever keeps it alive (a temp dir).
pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

/// Fresh stores on every available backend.
pub async fn all() -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    match std::env::var("NIMBUS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => out.push(postgres(&url).await),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but NIMBUS_TEST_POSTGRES_URL is unset: the PostgreSQL store tests must run")
        }
        _ => eprintln!("NIMBUS_TEST_POSTGRES_URL unset: running the store tests on SQLite only"),
    }
    out
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    TestDb { store, _dir: Some(dir) }
}

async fn postgres(admin_url: &str) -> TestDb {
    sqlx::any::install_default_drivers();
    let name = format!("nimbus_test_{}", uuid_like());
    let mut admin = sqlx::AnyConnection::connect(admin_url).await.expect("connect to NIMBUS_TEST_POSTGRES_URL");
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let url = with_database(admin_url, &name);
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    TestDb { store, _dir: None }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}_{}", n, std::process::id())
}

/// Replaces the database name in a `postgres://host/db?params` URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[test]
fn database_name_is_replaced() {
    assert_eq!(with_database("postgres:///postgres?host=/run/pg", "x"), "postgres:///x?host=/run/pg");
    assert_eq!(with_database("postgres://u:p@h:5432/db", "x"), "postgres://u:p@h:5432/x");
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
