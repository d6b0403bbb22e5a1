//! Backup repositories: the backups of volumes, the per-project operation slots that queue
//! backup work and order sweeps, and the chunk index (which pack holds each chunk).
//!
//! Backup updates are conditional on the `version` the writer read, like volumes'.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A backup row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Backup {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size_gb: i64,
    pub status: String,
    pub fail_reason: Option<String>,
    pub parent_id: Option<String>,
    pub availability_zone: String,
    pub container: String,
    pub object_count: i64,
    pub stored_bytes: i64,
    pub read_bytes: i64,
    pub metadata: String,
    pub queued_at: Option<i64>,
    pub holds_slot: i64,
    pub data_timestamp: i64,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub version: i64,
    /// The CBR vault and checkpoint it was made in, if any.
    pub vault_id: Option<String>,
    pub checkpoint_id: Option<String>,
    /// Made by a policy's schedule.
    #[sqlx(try_from = "crate::IntBool")]
    pub auto_trigger: bool,
    /// The volume's metadata when the backup was made (given back on restore).
    pub volume_metadata: String,
    /// The server whose disks were backed up together (a CBR server checkpoint).
    pub server_id: Option<String>,
    /// The volume snapshot it was made from, if any.
    pub snapshot_id: Option<String>,
    /// The copy of an encrypted volume's key its data opens with (`volume_keys`).
    pub encryption_key_id: Option<String>,
}

pub async fn insert(c: &mut AnyConnection, b: &Backup) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO backups (id, project_id, user_id, volume_id, name, description, size_gb, status, fail_reason, \
         parent_id, availability_zone, container, object_count, stored_bytes, read_bytes, metadata, queued_at, \
         holds_slot, data_timestamp, created_at, updated_at, version, vault_id, checkpoint_id, auto_trigger, \
         volume_metadata, server_id, snapshot_id, encryption_key_id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29)",
    )
    .bind(&b.id)
    .bind(&b.project_id)
    .bind(&b.user_id)
    .bind(&b.volume_id)
    .bind(&b.name)
    .bind(&b.description)
    .bind(b.size_gb)
    .bind(&b.status)
    .bind(&b.fail_reason)
    .bind(&b.parent_id)
    .bind(&b.availability_zone)
    .bind(&b.container)
    .bind(b.object_count)
    .bind(b.stored_bytes)
    .bind(b.read_bytes)
    .bind(&b.metadata)
    .bind(b.queued_at)
    .bind(b.holds_slot)
    .bind(b.data_timestamp)
    .bind(b.created_at)
    .bind(b.updated_at)
    .bind(b.version)
    .bind(&b.vault_id)
    .bind(&b.checkpoint_id)
    .bind(b.auto_trigger as i64)
    .bind(&b.volume_metadata)
    .bind(&b.server_id)
    .bind(&b.snapshot_id)
    .bind(&b.encryption_key_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a backup read at `b.version`; a concurrent change makes this a conflict.
pub async fn update(c: &mut AnyConnection, b: &Backup) -> Result<i64, Error> {
    let r = sqlx::query(
        "UPDATE backups SET name=$3, description=$4, status=$5, fail_reason=$6, object_count=$7, stored_bytes=$8, \
         read_bytes=$9, metadata=$10, queued_at=$11, holds_slot=$12, updated_at=$13, version = version + 1 \
         WHERE id=$1 AND version=$2",
    )
    .bind(&b.id)
    .bind(b.version)
    .bind(&b.name)
    .bind(&b.description)
    .bind(&b.status)
    .bind(&b.fail_reason)
    .bind(b.object_count)
    .bind(b.stored_bytes)
    .bind(b.read_bytes)
    .bind(&b.metadata)
    .bind(b.queued_at)
    .bind(b.holds_slot)
    .bind(b.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    if r.rows_affected() == 1 {
        Ok(b.version + 1)
    } else {
        Err(Error::Conflict(format!("Backup {} changed while this request ran; try again.", b.id)))
    }
}

pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Backup>, Error> {
    sqlx::query_as("SELECT * FROM backups WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Deletes a backup's row and destroys its copy of an encrypted volume's key.
pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    sqlx::query("DELETE FROM volume_keys WHERE id = (SELECT encryption_key_id FROM backups WHERE id = $1)")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    let r = sqlx::query("DELETE FROM backups WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A volume's backups, oldest first.
pub async fn volume_backups(c: &mut AnyConnection, volume_id: &str) -> Result<Vec<Backup>, Error> {
    sqlx::query_as("SELECT * FROM backups WHERE volume_id = $1 ORDER BY created_at, id")
        .bind(volume_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// How many backups a project has.
pub async fn count(c: &mut AnyConnection, project_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM backups WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

/// Backup list filters (all optional).
#[derive(Debug, Clone, Default)]
pub struct BackupFilter {
    pub project_id: Option<String>,
    pub volume_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub vault_id: Option<String>,
    pub checkpoint_id: Option<String>,
}

/// Backups matching `f`, newest first, paged by id marker.
pub async fn list(c: &mut AnyConnection, f: &BackupFilter, page: &PageRequest) -> Result<Vec<Backup>, Error> {
    let mut sql = Sql::new("SELECT * FROM backups WHERE 1=1");
    sql.and_eq("project_id", f.project_id.clone().map(Arg::Text))
        .and_eq("volume_id", f.volume_id.clone().map(Arg::Text))
        .and_eq("name", f.name.clone().map(Arg::Text))
        .and_eq("status", f.status.clone().map(Arg::Text))
        .and_eq("vault_id", f.vault_id.clone().map(Arg::Text))
        .and_eq("checkpoint_id", f.checkpoint_id.clone().map(Arg::Text));
    if let Some(m) = &page.marker {
        sql.push(" AND (created_at < (SELECT created_at FROM backups WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") OR (created_at = (SELECT created_at FROM backups WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") AND id < ")
            .bind(Arg::Text(m.clone()))
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// Takes the project's backup lock for the rest of the transaction (an upsert of its
/// `backup_sweeps` row: a row lock on PostgreSQL, which also orders operations started
/// after the lock was taken; SQLite has one writer anyway). Slot decisions and sweeps take
/// it. Returns whether a sweep is pending.
pub async fn lock_project(c: &mut AnyConnection, project_id: &str) -> Result<bool, Error> {
    sqlx::query(
        "INSERT INTO backup_sweeps (project_id, pending) VALUES ($1, 0) \
         ON CONFLICT (project_id) DO UPDATE SET pending = backup_sweeps.pending",
    )
    .bind(project_id)
    .execute(&mut *c)
    .await
    .map_err(db_error)?;
    sweep_pending(c, project_id).await
}

/// Whether a sweep of the project's chunks was put off.
pub async fn sweep_pending(c: &mut AnyConnection, project_id: &str) -> Result<bool, Error> {
    let p: Option<i64> = sqlx::query_scalar("SELECT pending FROM backup_sweeps WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)?;
    Ok(p.unwrap_or(0) != 0)
}

/// Records that a sweep of the project's chunks is (or is no longer) owed.
pub async fn set_sweep_pending(c: &mut AnyConnection, project_id: &str, pending: bool) -> Result<(), Error> {
    sqlx::query("UPDATE backup_sweeps SET pending = $2 WHERE project_id = $1")
        .bind(project_id)
        .bind(pending as i64)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// How many of the project's backups are being made past their slot (they may rely on
/// chunks no finished backup uses).
pub async fn making(c: &mut AnyConnection, project_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM backups WHERE project_id = $1 AND status = 'creating' AND holds_slot = 1",
    )
    .bind(project_id)
    .fetch_one(c)
    .await
    .map_err(db_error)
}

/// The project's backups whose chunks are live: all but those being deleted and those not
/// made yet (sorted).
pub async fn live_backups(c: &mut AnyConnection, project_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar(
        "SELECT id FROM backups WHERE project_id = $1 AND status NOT IN ('deleting', 'creating') ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// The project's operations holding a slot, and the id of the one waiting longest.
pub async fn slots(c: &mut AnyConnection, project_id: &str) -> Result<(i64, Option<String>), Error> {
    let held: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM backups WHERE project_id = $1 AND holds_slot = 1")
            .bind(project_id)
            .fetch_one(&mut *c)
            .await
            .map_err(db_error)?;
    let first: Option<String> = sqlx::query_scalar(
        "SELECT id FROM backups WHERE project_id = $1 AND holds_slot = 0 AND queued_at IS NOT NULL \
         ORDER BY queued_at, id LIMIT 1",
    )
    .bind(project_id)
    .fetch_optional(c)
    .await
    .map_err(db_error)?;
    Ok((held, first))
}

/// A chunk's place in the project's packs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChunkRow {
    pub project_id: String,
    pub hash: String,
    pub pack: String,
    pub pack_offset: i64,
    pub stored_len: i64,
    pub len: i64,
}

fn in_list(sql: &mut Sql, hashes: &[String]) {
    sql.push(" AND hash IN (");
    for (i, h) in hashes.iter().enumerate() {
        if i > 0 {
            sql.push(",");
        }
        sql.bind(Arg::Text(h.clone()));
    }
    sql.push(")");
}

/// The index rows of those of `hashes` the project has (at most a few hundred per call).
pub async fn chunks(c: &mut AnyConnection, project_id: &str, hashes: &[String]) -> Result<Vec<ChunkRow>, Error> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT * FROM backup_chunks WHERE project_id = ");
    sql.bind(Arg::Text(project_id.into()));
    in_list(&mut sql, hashes);
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// Records chunks stored in packs (nothing for those the project already has), fifty rows
/// per statement: one statement per chunk made the index, not the disk, the slowest part
/// of a backup; and much larger statements cost more per row (SQLite looks each of a
/// statement's parameters up by a scan of them all).
pub async fn insert_chunks(c: &mut AnyConnection, rows: &[ChunkRow]) -> Result<(), Error> {
    for batch in rows.chunks(50) {
        let mut sql =
            Sql::new("INSERT INTO backup_chunks (project_id, hash, pack, pack_offset, stored_len, len) VALUES ");
        for (i, r) in batch.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ",(" });
            sql.bind(Arg::Text(r.project_id.clone())).push(",");
            sql.bind(Arg::Text(r.hash.clone())).push(",");
            sql.bind(Arg::Text(r.pack.clone())).push(",");
            sql.bind(Arg::Int(r.pack_offset)).push(",");
            sql.bind(Arg::Int(r.stored_len)).push(",");
            sql.bind(Arg::Int(r.len)).push(")");
        }
        sql.push(" ON CONFLICT (project_id, hash) DO NOTHING");
        sqlx::query_with(&sql.text, sql.query_args()).execute(&mut *c).await.map_err(db_error)?;
    }
    Ok(())
}

/// Every chunk the project has stored: (hash, pack).
pub async fn chunk_index(c: &mut AnyConnection, project_id: &str) -> Result<Vec<(String, String)>, Error> {
    sqlx::query_as("SELECT hash, pack FROM backup_chunks WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Removes chunks from the project's index, a few thousand per statement.
pub async fn delete_chunks(c: &mut AnyConnection, project_id: &str, hashes: &[String]) -> Result<(), Error> {
    for batch in hashes.chunks(5000) {
        let mut sql = Sql::new("DELETE FROM backup_chunks WHERE project_id = ");
        sql.bind(Arg::Text(project_id.into()));
        in_list(&mut sql, batch);
        sqlx::query_with(&sql.text, sql.query_args()).execute(&mut *c).await.map_err(db_error)?;
    }
    Ok(())
}

/// A CBR vault.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Vault {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub object_type: String,
    pub consistent_level: String,
    pub size_gb: i64,
    #[sqlx(try_from = "crate::IntBool")]
    pub auto_expand: bool,
    pub threshold: i64,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

pub async fn insert_vault(c: &mut AnyConnection, v: &Vault) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO cbr_vaults (id, project_id, user_id, name, description, object_type, consistent_level, size_gb, \
         auto_expand, threshold, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&v.id)
    .bind(&v.project_id)
    .bind(&v.user_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.object_type)
    .bind(&v.consistent_level)
    .bind(v.size_gb)
    .bind(v.auto_expand as i64)
    .bind(v.threshold)
    .bind(v.created_at)
    .bind(v.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_vault(c: &mut AnyConnection, v: &Vault) -> Result<(), Error> {
    sqlx::query(
        "UPDATE cbr_vaults SET name=$2, description=$3, size_gb=$4, auto_expand=$5, threshold=$6, updated_at=$7 \
         WHERE id=$1",
    )
    .bind(&v.id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(v.size_gb)
    .bind(v.auto_expand as i64)
    .bind(v.threshold)
    .bind(v.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_vault(c: &mut AnyConnection, id: &str) -> Result<Option<Vault>, Error> {
    sqlx::query_as("SELECT * FROM cbr_vaults WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_vault(c: &mut AnyConnection, id: &str) -> Result<(), Error> {
    for sql in [
        "DELETE FROM cbr_vault_resources WHERE vault_id = $1",
        "DELETE FROM cbr_vault_policies WHERE vault_id = $1",
        "DELETE FROM cbr_vaults WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *c).await.map_err(db_error)?;
    }
    Ok(())
}

/// A project's vaults (every vault when `project_id` is `None`), oldest first.
pub async fn list_vaults(c: &mut AnyConnection, project_id: Option<&str>) -> Result<Vec<Vault>, Error> {
    let mut sql = Sql::new("SELECT * FROM cbr_vaults WHERE 1=1");
    sql.and_eq("project_id", project_id.map(|p| Arg::Text(p.into())));
    sql.push(" ORDER BY created_at, id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// A resource a vault protects.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VaultResource {
    pub resource_id: String,
    pub vault_id: String,
    pub resource_type: String,
    pub added_at: i64,
}

pub async fn vault_resources(c: &mut AnyConnection, vault_id: &str) -> Result<Vec<VaultResource>, Error> {
    sqlx::query_as("SELECT * FROM cbr_vault_resources WHERE vault_id = $1 ORDER BY added_at, resource_id")
        .bind(vault_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The vault protecting a resource, if any.
pub async fn resource_vault(c: &mut AnyConnection, resource_id: &str) -> Result<Option<VaultResource>, Error> {
    sqlx::query_as("SELECT * FROM cbr_vault_resources WHERE resource_id = $1")
        .bind(resource_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn add_vault_resource(c: &mut AnyConnection, r: &VaultResource) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO cbr_vault_resources (resource_id, vault_id, resource_type, added_at) VALUES ($1,$2,$3,$4)",
    )
    .bind(&r.resource_id)
    .bind(&r.vault_id)
    .bind(&r.resource_type)
    .bind(r.added_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn remove_vault_resource(c: &mut AnyConnection, vault_id: &str, resource_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM cbr_vault_resources WHERE vault_id = $1 AND resource_id = $2")
        .bind(vault_id)
        .bind(resource_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A CBR policy.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Policy {
    pub id: String,
    pub project_id: String,
    pub name: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub enabled: bool,
    pub operation_type: String,
    pub operation_definition: String,
    pub patterns: String,
    pub start_window_minutes: Option<i64>,
    pub last_run_at: i64,
    pub created_at: i64,
}

pub async fn insert_policy(c: &mut AnyConnection, p: &Policy) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO cbr_policies (id, project_id, name, enabled, operation_type, operation_definition, patterns, \
         start_window_minutes, last_run_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&p.id)
    .bind(&p.project_id)
    .bind(&p.name)
    .bind(p.enabled as i64)
    .bind(&p.operation_type)
    .bind(&p.operation_definition)
    .bind(&p.patterns)
    .bind(p.start_window_minutes)
    .bind(p.last_run_at)
    .bind(p.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_policy(c: &mut AnyConnection, p: &Policy) -> Result<(), Error> {
    sqlx::query(
        "UPDATE cbr_policies SET name=$2, enabled=$3, operation_definition=$4, patterns=$5, start_window_minutes=$6, \
         last_run_at=$7 WHERE id=$1",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(p.enabled as i64)
    .bind(&p.operation_definition)
    .bind(&p.patterns)
    .bind(p.start_window_minutes)
    .bind(p.last_run_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_policy(c: &mut AnyConnection, id: &str) -> Result<Option<Policy>, Error> {
    sqlx::query_as("SELECT * FROM cbr_policies WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_policy(c: &mut AnyConnection, id: &str) -> Result<(), Error> {
    for sql in ["DELETE FROM cbr_vault_policies WHERE policy_id = $1", "DELETE FROM cbr_policies WHERE id = $1"] {
        sqlx::query(sql).bind(id).execute(&mut *c).await.map_err(db_error)?;
    }
    Ok(())
}

/// A project's policies (every policy when `project_id` is `None`).
pub async fn list_policies(c: &mut AnyConnection, project_id: Option<&str>) -> Result<Vec<Policy>, Error> {
    let mut sql = Sql::new("SELECT * FROM cbr_policies WHERE 1=1");
    sql.and_eq("project_id", project_id.map(|p| Arg::Text(p.into())));
    sql.push(" ORDER BY created_at, id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// The policy bound to a vault, if any.
pub async fn vault_policy(c: &mut AnyConnection, vault_id: &str) -> Result<Option<String>, Error> {
    sqlx::query_scalar("SELECT policy_id FROM cbr_vault_policies WHERE vault_id = $1")
        .bind(vault_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// The vaults a policy is bound to.
pub async fn policy_vaults(c: &mut AnyConnection, policy_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT vault_id FROM cbr_vault_policies WHERE policy_id = $1 ORDER BY vault_id")
        .bind(policy_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Binds a policy to a vault (replacing the vault's previous one).
pub async fn bind_policy(c: &mut AnyConnection, vault_id: &str, policy_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM cbr_vault_policies WHERE vault_id = $1")
        .bind(vault_id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    sqlx::query("INSERT INTO cbr_vault_policies (vault_id, policy_id) VALUES ($1, $2)")
        .bind(vault_id)
        .bind(policy_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn unbind_policy(c: &mut AnyConnection, vault_id: &str, policy_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM cbr_vault_policies WHERE vault_id = $1 AND policy_id = $2")
        .bind(vault_id)
        .bind(policy_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A checkpoint: one "back up now" of a vault.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Checkpoint {
    pub id: String,
    pub project_id: String,
    pub vault_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    #[sqlx(try_from = "crate::IntBool")]
    pub auto_trigger: bool,
    pub policy_id: Option<String>,
    pub skipped: String,
    pub created_at: i64,
}

pub async fn insert_checkpoint(c: &mut AnyConnection, k: &Checkpoint) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO cbr_checkpoints (id, project_id, vault_id, name, description, auto_trigger, policy_id, skipped, \
         created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(&k.id)
    .bind(&k.project_id)
    .bind(&k.vault_id)
    .bind(&k.name)
    .bind(&k.description)
    .bind(k.auto_trigger as i64)
    .bind(&k.policy_id)
    .bind(&k.skipped)
    .bind(k.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_checkpoint(c: &mut AnyConnection, id: &str) -> Result<Option<Checkpoint>, Error> {
    sqlx::query_as("SELECT * FROM cbr_checkpoints WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}
