//! Volume backups (VBS, seed 6.2.4; Cinder `/backups`): create (full, or incremental to the
//! volume's latest backup), list, show, rename, delete, restore to the same or a new volume.
//!
//! A backup is a manifest plus content-defined chunks, deduplicated within the project,
//! compressed and packed into objects of the project's system bucket (`chunks.rs`). The
//! point in time is an internal QCOW2 snapshot `bak-<id>` of the volume, taken live over
//! QMP when a guest uses it; the latest backup's snapshot stays in the volume so the next
//! backup reads only the clusters that changed since. Every backup's manifest is complete,
//! so each restores (and deletes) independently of the others.
//!
//! Backup work runs as durable jobs, at most `backup_max_concurrent` per project at a time,
//! the rest waiting in order; a backup shows `available` only once all its data is stored.
//! A server's disks backed up together restore together, in place (`server_restore.rs`).

mod chunks;
mod jobs;
pub mod schedule;
mod server_backups;
mod server_restore;
pub mod vaults;

use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::objects::system::SYSTEM_BUCKET_PREFIX;
use crate::{Control, Ctx};
use base64::Engine;
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::backups::{self as repo, Backup, BackupFilter};
use nimbus_store::volumes::{self as volumes_repo, Volume};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

pub(crate) use jobs::restore_job;
pub use jobs::{register_jobs, CREATE_BACKUP_JOB, DELETE_BACKUP_JOB, IMPORT_BACKUP_JOB, RESTORE_BACKUP_JOB};
pub use server_backups::{server_backup_id, ServerBackup};
pub use server_restore::{ServerRestore, RESTORE_SERVER_JOB};
pub use vaults::{
    CheckpointParams, CheckpointView, PolicyChange, VaultCreate, VaultUpdate, VaultView, DISK_TYPE, SERVER_TYPE,
};

/// What a backup create asks for.
#[derive(Debug, Clone, Default)]
pub struct BackupCreate {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Incremental to the volume's latest available backup (an error if it has none).
    pub incremental: bool,
    /// Back up a volume in use.
    pub force: bool,
    pub metadata: BTreeMap<String, String>,
    /// The CBR vault and checkpoint it is made in.
    pub vault_id: Option<String>,
    pub checkpoint_id: Option<String>,
    /// Made by a policy's schedule.
    pub auto_trigger: bool,
    /// The id to give it (its snapshot was taken with the server's other disks first).
    pub id: Option<String>,
    /// The server whose disks are backed up together.
    pub server_id: Option<String>,
    /// A snapshot of the volume to back up instead of its current content.
    pub snapshot_id: Option<String>,
}

/// Where a restore writes.
#[derive(Debug, Clone)]
pub enum RestoreTarget {
    /// An existing volume of the project, detached and at least the backup's size.
    Volume(String),
    /// A new volume of the backup's size (or `size_gb`), type and zone as given.
    New { name: Option<String>, size_gb: Option<i64>, volume_type: Option<String>, availability_zone: Option<String> },
}

/// The service named in backup records (Cinder's clients expect a `cinder.backup.drivers`
/// module name; records of other services are refused).
pub const BACKUP_SERVICE: &str = "cinder.backup.drivers.nimbus_chunks";

/// The system bucket holding a project's backups.
pub fn backup_bucket(project_id: &str) -> String {
    let safe: String =
        project_id.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).take(40).collect();
    format!("{SYSTEM_BUCKET_PREFIX}{safe}")
}

/// The key of a backup's manifest in its bucket.
pub(crate) fn manifest_key(backup_id: &str) -> String {
    format!("manifests/{backup_id}")
}

/// The name of the volume snapshot a backup reads.
pub(crate) fn backup_snapshot(backup_id: &str) -> String {
    format!("bak-{backup_id}")
}

/// The internal snapshot a backup reads: the volume snapshot it was made from, else its own.
pub(crate) fn source_snapshot(b: &Backup) -> String {
    match &b.snapshot_id {
        Some(sid) => crate::volumes::snapshot_name(sid),
        None => backup_snapshot(&b.id),
    }
}

impl Control {
    /// Records a change of a backup's billable size (metering prices backup GB-hours).
    pub(crate) async fn backup_usage(&self, tx: &mut AnyConnection, b: &Backup, event: &str) -> Result<(), Error> {
        nimbus_store::servers::insert_usage(
            tx,
            &nimbus_store::servers::UsageEvent {
                id: nimbus_core::id::new_hex_id(),
                project_id: b.project_id.clone(),
                resource_type: "vbs".into(),
                resource_id: b.id.clone(),
                event: event.into(),
                flavor: None,
                detail: serde_json::json!({"size_gb": b.size_gb, "stored_bytes": b.stored_bytes,
                    "read_bytes": b.read_bytes, "volume_id": b.volume_id})
                .to_string(),
                at: now_ms(),
            },
        )
        .await
    }

    /// Loads a backup the caller may see (404 otherwise).
    async fn load_backup(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str, action: &str) -> Result<Backup, Error> {
        let b = repo::get(c, id).await?.ok_or_else(|| Error::not_found("backup", id))?;
        let target = Target { project_id: Some(&b.project_id), ..Default::default() };
        authorize_visible("backup:get", action, &ctx.principal, &target, "backup", id)?;
        Ok(b)
    }

    /// Starts a backup of a volume: checks the volume's status, the per-volume and project
    /// limits, charges `backups` and `backup_gigabytes`, and queues the job.
    pub async fn create_backup(&self, ctx: &Ctx, req: BackupCreate) -> Result<(Backup, String), Error> {
        crate::volumes::validate_metadata(&req.metadata)?;
        if req.name.as_ref().is_some_and(|n| n.len() > 255) {
            return Err(Error::bad_request("Invalid input received: names are at most 255 characters."));
        }
        let mut tx = self.store().write().await?;
        let v = volumes_repo::get(&mut tx, &req.volume_id)
            .await?
            .ok_or_else(|| Error::not_found("volume", &req.volume_id))?;
        let target = Target { project_id: Some(&v.project_id), ..Default::default() };
        authorize_visible("volume:get", "backup:create", &ctx.principal, &target, "volume", &v.id)?;
        // A snapshot is a consistent point in time whatever the volume is doing: it is
        // `backing-up` (not deletable) until the backup is made.
        let snapshot = match &req.snapshot_id {
            Some(sid) => {
                let s = volumes_repo::get_snapshot(&mut tx, sid)
                    .await?
                    .filter(|s| s.project_id == v.project_id)
                    .ok_or_else(|| Error::not_found("snapshot", sid))?;
                if s.volume_id != v.id {
                    return Err(Error::bad_request(format!(
                        "Invalid input received: snapshot {sid} is not a snapshot of volume {}.",
                        v.id
                    )));
                }
                if s.status != "available" {
                    return Err(Error::bad_request(format!(
                        "Invalid snapshot: Snapshot {sid} must be available to be backed up, not {}.",
                        s.status
                    )));
                }
                Some(s)
            }
            None => None,
        };
        match v.status.as_str() {
            "available" => {}
            "in-use" if snapshot.is_some() => {}
            "in-use" if req.force && !v.multiattach => {}
            "in-use" if v.multiattach => {
                return Err(Error::bad_request(format!(
                    "Invalid volume: volume {} is shared and in use; detach it to back it up consistently.",
                    v.id
                )))
            }
            other => {
                return Err(Error::bad_request(format!(
                    "Invalid volume: Volume to be backed up must be available or in-use (with force), but the current \
                     status is \"{other}\"."
                )))
            }
        }
        let snapshots = volumes_repo::volume_snapshots(&mut tx, &v.id).await?;
        if snapshots.iter().any(|s| !matches!(s.status.as_str(), "available" | "error")) {
            return Err(Error::bad_request(format!(
                "Invalid volume: a snapshot of volume {} is being taken or removed; try again.",
                v.id
            )));
        }
        let existing = repo::volume_backups(&mut tx, &v.id).await?;
        if existing.iter().any(|b| b.status == "creating") {
            return Err(Error::bad_request(format!("Invalid volume: a backup of volume {} is being made.", v.id)));
        }
        let per_volume = self.config().backups_per_volume;
        if existing.len() as i64 >= per_volume {
            return Err(Error::bad_request(format!(
                "Invalid volume: volume {} already has {per_volume} backups, the most a volume may have; delete one first.",
                v.id
            )));
        }
        let parent = if req.incremental {
            // Its chunks join the parent's: an encrypted volume's parent must hold
            // ciphertext under the volume's key (a restore from elsewhere may have changed it).
            let mut latest = None;
            for b in existing.iter().rev().filter(|b| b.status == "available") {
                if self.same_volume_key(&mut tx, v.encryption_key_id.as_deref(), b.encryption_key_id.as_deref()).await?
                {
                    latest = Some(b.id.clone());
                    break;
                }
            }
            Some(latest.ok_or_else(|| {
                Error::bad_request("Invalid backup: No backups available to do an incremental backup.")
            })?)
        } else {
            None
        };
        self.charge_quota(&mut tx, &v.project_id, "backups", 1).await?;
        self.charge_quota(&mut tx, &v.project_id, "backup_gigabytes", v.size_gb).await?;
        let now = now_ms();
        let b = Backup {
            id: req.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            project_id: v.project_id.clone(),
            user_id: ctx.principal.user_id.clone(),
            volume_id: v.id.clone(),
            name: req.name,
            description: req.description,
            size_gb: v.size_gb,
            status: "creating".into(),
            fail_reason: None,
            parent_id: parent,
            availability_zone: v.availability_zone.clone(),
            container: backup_bucket(&v.project_id),
            object_count: 0,
            stored_bytes: 0,
            read_bytes: 0,
            metadata: serde_json::to_string(&req.metadata)?,
            queued_at: Some(now),
            holds_slot: 0,
            data_timestamp: now,
            created_at: now,
            updated_at: Some(now),
            version: 0,
            vault_id: req.vault_id,
            checkpoint_id: req.checkpoint_id,
            auto_trigger: req.auto_trigger,
            volume_metadata: v.metadata.clone(),
            server_id: req.server_id.clone(),
            snapshot_id: snapshot.as_ref().map(|s| s.id.clone()),
            // The backup's chunks are the volume's ciphertext: it keeps its own key copy.
            encryption_key_id: self.copy_volume_key(&mut tx, v.encryption_key_id.as_deref()).await?,
        };
        repo::insert(&mut tx, &b).await?;
        if let Some(mut s) = snapshot {
            s.status = "backing-up".into();
            s.updated_at = Some(now);
            volumes_repo::update_snapshot(&mut tx, &s).await?;
        }
        let params = serde_json::json!({"backup_id": b.id, "volume_id": v.id});
        let job = self.new_job_with(&mut tx, &b.project_id, CREATE_BACKUP_JOB, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VBS", "backup", "createBackup", 202)
                .resource(&b.id, b.name.as_deref().unwrap_or(""))
                .in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok((b, job))
    }

    /// A backup's record (Cinder's export, operators only): what an import needs to make a
    /// backup of the same data again, as base64 JSON. The backup must be available.
    pub async fn export_backup_record(&self, ctx: &Ctx, id: &str) -> Result<(String, String), Error> {
        let mut c = self.store().read().await?;
        let b = self.load_backup(&mut c, ctx, id, "volume:admin_actions").await?;
        authorize(
            "volume:admin_actions",
            &ctx.principal,
            &Target { project_id: Some(&b.project_id), ..Default::default() },
        )?;
        if b.status != "available" {
            return Err(Error::bad_request(format!(
                "Invalid backup: Backup status must be available and not {}.",
                b.status
            )));
        }
        let mut record = serde_json::json!({
            "id": b.id, "source_backup_id": b.id, "project_id": b.project_id, "volume_id": b.volume_id,
            "name": b.name, "description": b.description, "size": b.size_gb,
            "availability_zone": b.availability_zone, "metadata": b.metadata, "volume_metadata": b.volume_metadata,
            "created_at": b.created_at, "data_timestamp": b.data_timestamp,
        });
        if let Some(k) = &b.encryption_key_id {
            // Wrapped by the region's volume key: the record opens nothing outside this region.
            let row = volumes_repo::get_key(&mut c, k)
                .await?
                .ok_or_else(|| Error::Internal(format!("the key of backup {} is gone", b.id)))?;
            record["encryption_key"] = serde_json::json!({"wrapped": row.wrapped, "aes_bits": row.aes_bits});
        }
        Ok((BACKUP_SERVICE.into(), base64::engine::general_purpose::STANDARD.encode(record.to_string())))
    }

    /// Makes a backup from an exported record (operators only), in the caller's project,
    /// with the record's id: available once a job has copied the data the record names
    /// into this project's store (checked chunk by chunk). An id already used, another
    /// service's record, or one whose data is gone is refused.
    pub async fn import_backup_record(&self, ctx: &Ctx, service: &str, url: &str) -> Result<Backup, Error> {
        let project = ctx
            .principal
            .project_id()
            .ok_or_else(|| Error::Forbidden("Backups belong to projects: scope the request to one.".into()))?
            .to_string();
        authorize(
            "volume:admin_actions",
            &ctx.principal,
            &Target { project_id: Some(&project), ..Default::default() },
        )?;
        if service != BACKUP_SERVICE {
            return Err(Error::bad_request(format!(
                "Invalid input received: backup service {service} is not {BACKUP_SERVICE}, which made no such record."
            )));
        }
        let bad = || Error::bad_request("Invalid input received: the backup record is not one this region exported.");
        let raw = base64::engine::general_purpose::STANDARD.decode(url.trim()).map_err(|_| bad())?;
        let r: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
        let text = |k: &str| r[k].as_str().map(str::to_string);
        let id = text("id").filter(|i| uuid::Uuid::parse_str(i).is_ok()).ok_or_else(bad)?;
        let source_project = text("project_id").ok_or_else(bad)?;
        let source_backup = text("source_backup_id").unwrap_or_else(|| id.clone());
        let size = r["size"].as_i64().filter(|s| *s > 0).ok_or_else(bad)?;
        // The data must still be there to be copied.
        let source_bucket = self.system_bucket(&backup_bucket(&source_project)).await.map_err(|_| bad())?;
        if self.system_object(&source_bucket, &manifest_key(&source_backup)).await?.is_none() {
            return Err(Error::bad_request(format!(
                "Invalid backup: the data of backup {source_backup} is gone; the record cannot be imported."
            )));
        }
        let mut tx = self.store().write().await?;
        if repo::get(&mut tx, &id).await?.is_some() {
            return Err(Error::bad_request(format!("Invalid backup: Backup {id} already exists in database.")));
        }
        self.charge_quota(&mut tx, &project, "backups", 1).await?;
        self.charge_quota(&mut tx, &project, "backup_gigabytes", size).await?;
        let now = now_ms();
        let b = Backup {
            id: id.clone(),
            project_id: project.clone(),
            user_id: ctx.principal.user_id.clone(),
            volume_id: text("volume_id").unwrap_or_default(),
            name: text("name"),
            description: text("description"),
            size_gb: size,
            status: "creating".into(),
            fail_reason: None,
            parent_id: None,
            availability_zone: text("availability_zone")
                .filter(|z| self.config().availability_zones.contains(z))
                .or_else(|| self.config().availability_zones.first().cloned())
                .unwrap_or_default(),
            container: backup_bucket(&project),
            object_count: 0,
            stored_bytes: 0,
            read_bytes: 0,
            metadata: text("metadata").unwrap_or_else(|| "{}".into()),
            queued_at: Some(now),
            holds_slot: 0,
            data_timestamp: r["data_timestamp"].as_i64().unwrap_or(now),
            created_at: now,
            updated_at: Some(now),
            version: 0,
            vault_id: None,
            checkpoint_id: None,
            auto_trigger: false,
            volume_metadata: text("volume_metadata").unwrap_or_else(|| "{}".into()),
            server_id: None,
            snapshot_id: None,
            encryption_key_id: match r["encryption_key"]["wrapped"].as_str() {
                // The record carries the key wrapped by this region's volume key: only this
                // region opens it.
                Some(wrapped) => {
                    self.drivers().volumes.open_key(wrapped, 256).map_err(|_| bad())?;
                    let row = volumes_repo::VolumeKeyRow {
                        id: uuid::Uuid::new_v4().to_string(),
                        wrapped: wrapped.to_string(),
                        aes_bits: r["encryption_key"]["aes_bits"]
                            .as_i64()
                            .filter(|b| [128, 256].contains(b))
                            .ok_or_else(bad)?,
                        created_at: now,
                    };
                    volumes_repo::insert_key(&mut tx, &row).await?;
                    Some(row.id)
                }
                None => None,
            },
        };
        repo::insert(&mut tx, &b).await?;
        let params = serde_json::json!({"backup_id": b.id, "volume_id": b.volume_id,
            "source_project": source_project, "source_backup": source_backup});
        let entities = serde_json::json!({"backup_id": b.id});
        self.new_job_with(&mut tx, &project, IMPORT_BACKUP_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VBS", "backup", "importBackupRecord", 201)
                .resource(&b.id, b.name.as_deref().unwrap_or(""))
                .in_project(&project),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(b)
    }

    /// Backups the caller may see, newest first.
    pub async fn list_backups(
        &self,
        ctx: &Ctx,
        mut filter: BackupFilter,
        all_projects: bool,
        page: &PageRequest,
    ) -> Result<Vec<Backup>, Error> {
        if let Some(project) = Self::listing_scope(ctx, all_projects)? {
            filter.project_id = Some(project);
        }
        let mut c = self.store().read().await?;
        if let Some(m) = &page.marker {
            self.load_backup(&mut c, ctx, m, "backup:get").await?;
        }
        repo::list(&mut c, &filter, page).await
    }

    /// One backup the caller may see.
    pub async fn get_backup(&self, ctx: &Ctx, id: &str) -> Result<Backup, Error> {
        let mut c = self.store().read().await?;
        self.load_backup(&mut c, ctx, id, "backup:get").await
    }

    /// Renames or re-describes a backup.
    pub async fn update_backup(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Backup, Error> {
        let mut tx = self.store().write().await?;
        let b = self.update_backup_in(&mut tx, ctx, id, name, description).await?;
        tx.commit().await?;
        Ok(b)
    }

    /// Renames or re-describes a backup within `tx`.
    pub(crate) async fn update_backup_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Backup, Error> {
        if name.as_ref().is_some_and(|n| n.len() > 255) {
            return Err(Error::bad_request("Invalid input received: names are at most 255 characters."));
        }
        let mut b = self.load_backup(tx, ctx, id, "backup:update").await?;
        authorize("backup:update", &ctx.principal, &Target { project_id: Some(&b.project_id), ..Default::default() })?;
        if name.is_some() {
            b.name = name;
        }
        if description.is_some() {
            b.description = description;
        }
        b.updated_at = Some(now_ms());
        b.version = repo::update(tx, &b).await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::new("VBS", "backup", "updateBackup", 200)
                .resource(&b.id, b.name.as_deref().unwrap_or(""))
                .in_project(&b.project_id),
        )
        .await?;
        Ok(b)
    }

    /// Deletes a backup (available or failed); a job releases its chunks.
    pub async fn delete_backup(&self, ctx: &Ctx, id: &str) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let job = self.delete_backup_in(&mut tx, ctx, id).await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Starts a backup's deletion within `tx`; the job runs once `tx` commits.
    pub(crate) async fn delete_backup_in(&self, tx: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<String, Error> {
        let mut b = self.load_backup(tx, ctx, id, "backup:delete").await?;
        authorize("backup:delete", &ctx.principal, &Target { project_id: Some(&b.project_id), ..Default::default() })?;
        if !matches!(b.status.as_str(), "available" | "error" | "error_deleting" | "error_restoring") {
            return Err(Error::bad_request(format!(
                "Invalid backup: Backup status must be available or error, but the current status is \"{}\".",
                b.status
            )));
        }
        b.status = "deleting".into();
        b.queued_at = Some(now_ms());
        b.updated_at = Some(now_ms());
        repo::update(tx, &b).await?;
        let params = serde_json::json!({"backup_id": b.id, "volume_id": b.volume_id});
        let job = self.new_job_with(tx, &b.project_id, DELETE_BACKUP_JOB, params.clone(), None, params).await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::new("VBS", "backup", "deleteBackup", 202)
                .resource(&b.id, b.name.as_deref().unwrap_or(""))
                .in_project(&b.project_id),
        )
        .await?;
        Ok(job)
    }

    /// Sets a backup's status by hand (`os-reset_status`, administrators only): `error`, or
    /// `available` when its manifest is stored (a backup is only ever shown available if
    /// every piece of it can be restored).
    pub async fn reset_backup_status(&self, ctx: &Ctx, id: &str, status: &str) -> Result<Backup, Error> {
        let complete = {
            let mut c = self.store().read().await?;
            let b = self.load_backup(&mut c, ctx, id, "volume:admin_actions").await?;
            drop(c);
            let bucket = self.system_bucket(&b.container).await?;
            self.system_object(&bucket, &manifest_key(&b.id)).await?.is_some()
        };
        match status {
            "error" => {}
            "available" if complete => {}
            "available" => {
                return Err(Error::bad_request(format!(
                    "Invalid backup: backup {id} is incomplete; it stays in error."
                )))
            }
            other => {
                return Err(Error::bad_request(format!(
                    "Invalid input received: a backup is reset to available or error, not {other:?}."
                )))
            }
        }
        let mut tx = self.store().write().await?;
        let mut b = self.load_backup(&mut tx, ctx, id, "volume:admin_actions").await?;
        authorize(
            "volume:admin_actions",
            &ctx.principal,
            &Target { project_id: Some(&b.project_id), ..Default::default() },
        )?;
        b.status = status.into();
        b.holds_slot = 0;
        b.queued_at = None;
        b.updated_at = Some(now_ms());
        b.version = repo::update(&mut tx, &b).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VBS", "backup", "resetBackupStatus", 202)
                .resource(&b.id, b.name.as_deref().unwrap_or(""))
                .in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(b)
    }

    /// Restores a backup into a detached volume of the project, or into a new one; returns
    /// the backup, the volume (in `restoring-backup`) and the job.
    pub async fn restore_backup(
        &self,
        ctx: &Ctx,
        id: &str,
        target: RestoreTarget,
    ) -> Result<(Backup, Volume, String), Error> {
        let not_available = |b: &Backup| {
            Error::bad_request(format!(
                "Invalid backup: Backup status must be available, but the current status is \"{}\".",
                b.status
            ))
        };
        let before = self.get_backup(ctx, id).await?;
        if before.status != "available" {
            return Err(not_available(&before));
        }
        let new_volume = match &target {
            RestoreTarget::New { name, size_gb, volume_type, availability_zone } => {
                let req = crate::volumes::VolumeCreate {
                    name: name.clone().or_else(|| Some(format!("restore_backup_{}", before.id))),
                    size_gb: Some(size_gb.unwrap_or(before.size_gb)),
                    volume_type: volume_type.clone(),
                    availability_zone: availability_zone.clone().or(Some(before.availability_zone.clone())),
                    ..Default::default()
                };
                if req.size_gb.is_some_and(|s| s < before.size_gb) {
                    return Err(Error::bad_request(format!(
                        "Invalid input received: the volume must be at least the backup's {} GB.",
                        before.size_gb
                    )));
                }
                Some(self.new_volume_row(ctx, req, &before.id).await?)
            }
            RestoreTarget::Volume(_) => None,
        };
        let started = self.start_restore(ctx, id, &target, new_volume.clone()).await;
        if let (Err(_), Some(v)) = (&started, &new_volume) {
            self.discard_volume_row(v).await?;
        }
        started
    }

    async fn start_restore(
        &self,
        ctx: &Ctx,
        id: &str,
        target: &RestoreTarget,
        new_volume: Option<Volume>,
    ) -> Result<(Backup, Volume, String), Error> {
        let mut tx = self.store().write().await?;
        let mut b = self.load_backup(&mut tx, ctx, id, "backup:restore").await?;
        authorize("backup:restore", &ctx.principal, &Target { project_id: Some(&b.project_id), ..Default::default() })?;
        if b.status != "available" {
            return Err(Error::bad_request(format!(
                "Invalid backup: Backup status must be available, but the current status is \"{}\".",
                b.status
            )));
        }
        let is_new = new_volume.is_some();
        let v = match (target, new_volume) {
            (_, Some(v)) => v,
            (RestoreTarget::Volume(vid), None) => {
                let mut v = self.load_volume(&mut tx, ctx, vid, "volume:update").await?;
                if v.project_id != b.project_id {
                    return Err(Error::not_found("volume", vid));
                }
                if v.status != "available" {
                    return Err(Error::bad_request(format!(
                        "Invalid volume: Volume to be restored to must be available, but the current status is \"{}\".",
                        v.status
                    )));
                }
                if v.size_gb < b.size_gb {
                    return Err(Error::bad_request(format!(
                        "Invalid volume: volume size {} GB is too small to restore backup of size {} GB.",
                        v.size_gb, b.size_gb
                    )));
                }
                let old_key = self.take_backup_key(&mut tx, &mut v, &b).await?;
                v.status = "restoring-backup".into();
                v.updated_at = Some(now_ms());
                v.version = volumes_repo::update(&mut tx, &v).await?;
                if let Some(k) = old_key {
                    volumes_repo::delete_key(&mut tx, &k).await?;
                }
                v
            }
            (RestoreTarget::New { .. }, None) => {
                return Err(Error::Internal("a restore without its new volume".into()))
            }
        };
        b.status = "restoring".into();
        b.queued_at = Some(now_ms());
        b.updated_at = Some(now_ms());
        repo::update(&mut tx, &b).await?;
        let params = serde_json::json!({"backup_id": b.id, "volume_id": v.id, "new_volume": is_new});
        // A restore that makes a volume is that volume's create job, as EVS reports it.
        let kind = if is_new { crate::volumes::CREATE_JOB } else { RESTORE_BACKUP_JOB };
        let job = self.new_job_with(&mut tx, &b.project_id, kind, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VBS", "backup", "restoreBackup", 202)
                .resource(&b.id, b.name.as_deref().unwrap_or(""))
                .in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok((b, v, job))
    }
}
