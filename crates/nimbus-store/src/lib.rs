//! Nimbus store: the durable desired state of a region.
//!
//! One SQL schema (see `migrations/`) that runs unchanged on SQLite (the embedded default)
//! and PostgreSQL (the multi-node store), reached through `sqlx`'s `Any` driver. Every query
//! uses `$N` placeholders, which both engines accept.
//!
//! Writes go through [`Store::write`], which opens one transaction per request. On SQLite the
//! store also serialises writers with an async gate: SQLite allows one writer at a time, and
//! queuing them here (instead of inside SQLite's busy handler) keeps transactions from failing
//! with `SQLITE_BUSY` under load. On PostgreSQL writers run concurrently and every
//! read-modify-write is a single conditional statement (see `quota.rs`).
//!
//! Repositories live one module per resource family and take a `&mut AnyConnection`, so the
//! same function works inside a write transaction or on a pooled read connection.

pub mod audit;
pub mod backups;
pub mod billing;
pub mod compute;
pub mod dns;
pub mod idempotency;
pub mod identity;
pub mod images;
pub mod jobs;
pub mod l3;
pub mod messages;
pub mod nat;
pub mod network;
pub mod objects;
pub mod query;
pub mod quota;
pub mod region;
pub mod servers;
pub mod support;
pub mod tags;
pub mod volume_groups;
pub mod volumes;

use nimbus_core::Error;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Transaction};
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use sqlx;

/// Which SQL engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The region's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Serialises write transactions on SQLite; `None` on PostgreSQL.
    write_gate: Option<Arc<Mutex<()>>>,
}

/// A write transaction; commit it or it rolls back on drop.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Makes the transaction's writes durable.
    pub async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await.map_err(db_error)
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    ///
    /// `url` is `sqlite://PATH` or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::bad_request(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://..."
            )));
        };
        let pool = match backend {
            Backend::Sqlite => {
                // Create the file if missing; WAL lets readers run beside the one writer, and
                // FULL sync makes every acknowledged commit survive a crash of the host.
                let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
                let options = AnyConnectOptions::from_str(&url).map_err(db_error)?.disable_statement_logging();
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = FULL",
                                "PRAGMA busy_timeout = 30000",
                                // Deleted rows are overwritten, not left in free pages: a
                                // destroyed volume key leaves nothing in the file.
                                "PRAGMA secure_delete = ON",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(db_error)?
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(url).map_err(db_error)?.disable_statement_logging();
                AnyPoolOptions::new().max_connections(16).connect_with(options).await.map_err(db_error)?
            }
        };
        MIGRATOR.run(&pool).await.map_err(|e| Error::Internal(format!("migrating the store: {e}")))?;
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Store { pool, backend, write_gate })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction (queued behind other writers on SQLite).
    pub async fn write(&self) -> Result<WriteTx, Error> {
        let gate = match &self.write_gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin().await.map_err(db_error)?;
        Ok(WriteTx { tx, _gate: gate })
    }

    /// A pooled connection for reads.
    pub async fn read(&self) -> Result<PoolConnection<Any>, Error> {
        self.pool.acquire().await.map_err(db_error)
    }

    /// The smallest possible round trip (`SELECT 1`): the baseline the benchmarks compare to.
    pub async fn ping(&self) -> Result<(), Error> {
        let mut conn = self.read().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await.map_err(db_error)?;
        Ok(())
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A boolean stored as a 0/1 `BIGINT`: the `Any` driver cannot decode SQLite booleans, and
/// an integer column reads the same on both engines.
#[derive(Debug, Clone, Copy, sqlx::Type)]
#[sqlx(transparent)]
pub struct IntBool(pub i64);

impl From<IntBool> for bool {
    fn from(v: IntBool) -> bool {
        v.0 != 0
    }
}

/// Maps a database error to the core error: unique violations become conflicts, the rest is
/// internal (logged by the front end, never shown in detail).
pub fn db_error(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return Error::Conflict("A resource with the same unique attributes already exists.".into());
        }
    }
    if let sqlx::Error::RowNotFound = e {
        return Error::Internal("expected row not found".into());
    }
    Error::Internal(format!("store: {e}"))
}

/// Whether an error is a unique-constraint conflict (used by retry loops).
pub fn is_conflict(e: &Error) -> bool {
    matches!(e, Error::Conflict(_))
}

#[cfg(test)]
pub(crate) mod testdb;
#[cfg(test)]
mod tests;
