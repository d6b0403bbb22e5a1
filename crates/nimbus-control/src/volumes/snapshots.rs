//! Volume snapshots (Cinder `/snapshots`, EVS `cloudsnapshots`): create, list, show,
//! update, metadata, delete, and revert a volume to its latest snapshot.
//!
//! A snapshot is an internal QCOW2 snapshot `snap-<id>` inside the volume's own file: taken
//! by the guest's QEMU over QMP while a guest uses the volume (crash-consistent, the guest
//! keeps running), with `qemu-img` otherwise. Volumes made from a snapshot copy its data,
//! so they never depend on it. Snapshots count against the `snapshots` quota and their
//! size against `gigabytes`, as in Cinder.

use super::jobs::format_of;
use super::{invalid, validate_metadata, Space};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::jobs::{JobHandler, StepOutcome};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::hypervisor::GuestState;
use nimbus_drivers::volume_files::VolumeFormat;
use nimbus_store::jobs::Job;
use nimbus_store::volumes::{self as repo, Snapshot, SnapshotFilter, Volume};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

pub const CREATE_SNAPSHOT_JOB: &str = "createSnapshot";
pub const DELETE_SNAPSHOT_JOB: &str = "deleteSnapshot";
pub const REVERT_JOB: &str = "revertVolume";

/// The name of a snapshot inside its volume's file.
pub(crate) fn snapshot_name(snapshot_id: &str) -> String {
    format!("snap-{snapshot_id}")
}

/// What a snapshot create asks for.
#[derive(Debug, Clone, Default)]
pub struct SnapshotCreate {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Snapshot a volume in use (Cinder asks for it explicitly before 3.66).
    pub force: bool,
    pub metadata: BTreeMap<String, String>,
}

impl Control {
    /// Loads a snapshot the caller may see (404 otherwise).
    pub(super) async fn load_snapshot(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Snapshot, Error> {
        let s = repo::get_snapshot(c, id).await?.ok_or_else(|| Error::not_found("snapshot", id))?;
        let target = Target { project_id: Some(&s.project_id), ..Default::default() };
        authorize_visible("volume:get", action, &ctx.principal, &target, "snapshot", id)?;
        Ok(s)
    }

    /// Takes a snapshot of a volume: available, or in use with `force`; charges
    /// `snapshots` and `gigabytes` and queues the job that takes it.
    pub async fn create_snapshot(&self, ctx: &Ctx, req: SnapshotCreate) -> Result<(Snapshot, String), Error> {
        validate_metadata(&req.metadata)?;
        if req.name.as_ref().is_some_and(|n| n.len() > 255) {
            return Err(Error::bad_request("Invalid input received: names are at most 255 characters."));
        }
        let mut tx = self.store().write().await?;
        let v = self.load_volume(&mut tx, ctx, &req.volume_id, "volume:create").await?;
        authorize("volume:create", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        match v.status.as_str() {
            "available" => {}
            "in-use" if req.force => {}
            "in-use" => {
                return Err(invalid(format!(
                    "Volume {} status must be available, but current status is: in-use (use force to snapshot it \
                     in use).",
                    v.id
                )))
            }
            other => {
                return Err(invalid(format!(
                    "Volume {} status must be available, but current status is: {other}.",
                    v.id
                )))
            }
        }
        if nimbus_store::backups::volume_backups(&mut tx, &v.id).await?.iter().any(|b| b.status == "creating") {
            return Err(invalid(format!("a backup of volume {} is being made; try again after it.", v.id)));
        }
        if format_of(&v) != VolumeFormat::Qcow2 {
            return Err(Error::bad_request(
                "Invalid volume: shareable volumes have no snapshots here; back them up instead.",
            ));
        }
        self.charge_space(&mut tx, &v.project_id, &v.type_id, Space::snapshot(v.size_gb)).await?;
        let now = now_ms();
        let s = Snapshot {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: v.project_id.clone(),
            user_id: ctx.principal.user_id.clone(),
            volume_id: v.id.clone(),
            name: req.name,
            description: req.description,
            size_gb: v.size_gb,
            status: "creating".into(),
            metadata: serde_json::to_string(&req.metadata)?,
            progress: None,
            created_at: now,
            updated_at: Some(now),
            version: 0,
            group_snapshot_id: None,
        };
        repo::insert_snapshot(&mut tx, &s).await?;
        self.snapshot_usage(&mut tx, &s, "created").await?;
        let params = serde_json::json!({"snapshot_id": s.id, "volume_id": v.id});
        let job = self.new_job_with(&mut tx, &v.project_id, CREATE_SNAPSHOT_JOB, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "snapshot", "createSnapshot", 202)
                .resource(&s.id, s.name.as_deref().unwrap_or(""))
                .in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok((s, job))
    }

    /// Snapshots the caller may see, newest first.
    pub async fn list_snapshots(
        &self,
        ctx: &Ctx,
        mut filter: SnapshotFilter,
        all_projects: bool,
        page: &PageRequest,
    ) -> Result<Vec<Snapshot>, Error> {
        if let Some(project) = Self::listing_scope(ctx, all_projects)? {
            filter.project_id = Some(project);
        }
        let mut c = self.store().read().await?;
        if let Some(m) = &page.marker {
            self.load_snapshot(&mut c, ctx, m, "volume:get").await?;
        }
        repo::list_snapshots(&mut c, &filter, page).await
    }

    /// One snapshot the caller may see.
    pub async fn get_snapshot(&self, ctx: &Ctx, id: &str) -> Result<Snapshot, Error> {
        let mut c = self.store().read().await?;
        self.load_snapshot(&mut c, ctx, id, "volume:get").await
    }

    /// Renames or re-describes a snapshot, or changes its metadata (`replace`: all keys,
    /// otherwise merged; `unset`: one key removed, 404 if absent).
    pub async fn update_snapshot(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        metadata: Option<(BTreeMap<String, String>, bool)>,
        unset: Option<&str>,
    ) -> Result<Snapshot, Error> {
        if name.as_ref().is_some_and(|n| n.len() > 255) {
            return Err(Error::bad_request("Invalid input received: names are at most 255 characters."));
        }
        self.modify_snapshot(ctx, id, "volume:update", "updateSnapshot", |s| {
            if name.is_some() {
                s.name = name;
            }
            if description.is_some() {
                s.description = description;
            }
            let mut m: BTreeMap<String, String> = serde_json::from_str(&s.metadata).unwrap_or_default();
            if let Some((set, replace)) = metadata {
                validate_metadata(&set)?;
                if replace {
                    m.clear();
                }
                m.extend(set);
            }
            if let Some(k) = unset {
                m.remove(k).ok_or_else(|| Error::not_found("metadata key", k))?;
            }
            s.metadata = serde_json::to_string(&m)?;
            Ok(())
        })
        .await
    }

    /// Deletes a snapshot (available or failed); a job drops it from the volume's file.
    pub async fn delete_snapshot(&self, ctx: &Ctx, id: &str) -> Result<String, Error> {
        self.delete_snapshot_as(ctx, id, false).await
    }

    /// Deletes a snapshot; `forced` (an administrator's `os-force_delete`) skips the status rule.
    pub(super) async fn delete_snapshot_as(&self, ctx: &Ctx, id: &str, forced: bool) -> Result<String, Error> {
        let action = if forced { "volume:admin_actions" } else { "volume:delete" };
        let mut tx = self.store().write().await?;
        let mut s = self.load_snapshot(&mut tx, ctx, id, action).await?;
        authorize(action, &ctx.principal, &Target { project_id: Some(&s.project_id), ..Default::default() })?;
        if !forced && s.group_snapshot_id.is_some() {
            return Err(Error::bad_request(format!(
                "Invalid snapshot: snapshot {} is part of a group snapshot: delete the group snapshot.",
                s.id
            )));
        }
        if !forced && !matches!(s.status.as_str(), "available" | "error" | "error_deleting") {
            return Err(Error::bad_request(format!(
                "Invalid snapshot: Snapshot status must be available or error and must not be part of a group, \
                 but current status is: {}.",
                s.status
            )));
        }
        s.status = "deleting".into();
        s.updated_at = Some(now_ms());
        repo::update_snapshot(&mut tx, &s).await?;
        let params = serde_json::json!({"snapshot_id": s.id, "volume_id": s.volume_id});
        let job = self.new_job_with(&mut tx, &s.project_id, DELETE_SNAPSHOT_JOB, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "snapshot", "deleteSnapshot", 202)
                .resource(&s.id, s.name.as_deref().unwrap_or(""))
                .in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Puts a detached volume back to its latest snapshot (Cinder 3.40, EVS rollback).
    pub async fn revert_volume(&self, ctx: &Ctx, volume_id: &str, snapshot_id: &str) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let mut v = self.load_volume(&mut tx, ctx, volume_id, "volume:update").await?;
        authorize("volume:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        let mut s = self.load_snapshot(&mut tx, ctx, snapshot_id, "volume:get").await?;
        if s.volume_id != v.id {
            return Err(Error::bad_request(format!(
                "Invalid snapshot: snapshot {} is not a snapshot of volume {}.",
                s.id, v.id
            )));
        }
        if v.status != "available" {
            return Err(invalid(format!(
                "Volume {} status must be available (detached) to revert, but current status is: {}.",
                v.id, v.status
            )));
        }
        if s.status != "available" {
            return Err(Error::bad_request(format!("Invalid snapshot: snapshot {} is {}.", s.id, s.status)));
        }
        let latest = repo::volume_snapshots(&mut tx, &v.id).await?.into_iter().last();
        if latest.as_ref().map(|l| l.id.as_str()) != Some(s.id.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid snapshot: volume {} can only be reverted to its latest snapshot.",
                v.id
            )));
        }
        v.status = "reverting".into();
        v.updated_at = Some(now_ms());
        repo::update(&mut tx, &v).await?;
        s.status = "restoring".into();
        s.updated_at = Some(now_ms());
        repo::update_snapshot(&mut tx, &s).await?;
        let params = serde_json::json!({"snapshot_id": s.id, "volume_id": v.id});
        let job = self.new_job_with(&mut tx, &v.project_id, REVERT_JOB, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "revertVolume", 202)
                .resource(&v.id, v.name.as_deref().unwrap_or(""))
                .in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// The server whose QEMU holds a volume open, if any: snapshot work then goes through it.
    pub(super) async fn guest_holding(&self, v: &Volume) -> Result<Option<String>, Error> {
        let servers: Vec<String> = {
            let mut c = self.store().read().await?;
            repo::attachments(&mut c, &v.id).await?.into_iter().map(|a| a.server_id).collect()
        };
        for server in servers {
            if self.drivers().hypervisor.state(&server).await? != GuestState::Missing {
                return Ok(Some(server));
            }
        }
        Ok(None)
    }

    /// Takes (`take`) or drops the internal snapshot `name` of a QCOW2 volume: through the
    /// QEMU of the guest holding it, else in its file. Idempotent both ways.
    pub(crate) async fn internal_snapshot(&self, v: &Volume, name: &str, take: bool) -> Result<(), Error> {
        let hv = &self.drivers().hypervisor;
        let files = &self.drivers().volumes;
        match (self.guest_holding(v).await?, take) {
            (Some(server), true) => hv.snapshot_volume(&server, &v.id, name).await,
            (Some(server), false) => hv.delete_volume_snapshot(&server, &v.id, name).await,
            (None, true) => files.snapshot(&v.id, name).await,
            (None, false) => files.delete_snapshot(&v.id, name).await,
        }
    }

    /// Gives a deleted snapshot's quota back (per type: its volume's type, as snapshots move
    /// with their volume when it is retyped; a volume already gone: the totals only).
    pub(super) async fn release_snapshot_space(&self, tx: &mut AnyConnection, s: &Snapshot) -> Result<(), Error> {
        let type_id = repo::get(tx, &s.volume_id).await?.map(|v| v.type_id).unwrap_or_default();
        self.snapshot_usage(tx, s, "deleted").await?;
        self.release_space(tx, &s.project_id, &type_id, Space::snapshot(s.size_gb)).await
    }

    /// Records a snapshot's billable GB appearing or going (metering prices GB-hours).
    pub(super) async fn snapshot_usage(&self, tx: &mut AnyConnection, s: &Snapshot, event: &str) -> Result<(), Error> {
        let detail = serde_json::json!({"size_gb": s.size_gb, "volume_id": s.volume_id, "name": s.name});
        self.record_usage(tx, &s.project_id, "snapshot", &s.id, event, None, detail).await
    }

    /// Moves a snapshot to `status` if it is still in `from`.
    async fn snapshot_status(&self, id: &str, from: &str, status: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        if let Some(mut s) = repo::get_snapshot(&mut tx, id).await?.filter(|s| s.status == from) {
            s.status = status.into();
            s.updated_at = Some(now_ms());
            repo::update_snapshot(&mut tx, &s).await?;
        }
        tx.commit().await
    }
}

fn job_ids(job: &Job) -> Result<(String, String), Error> {
    let p: serde_json::Value = serde_json::from_str(&job.params)?;
    match (p["snapshot_id"].as_str(), p["volume_id"].as_str()) {
        (Some(s), Some(v)) => Ok((s.to_string(), v.to_string())),
        _ => Err(Error::Internal(format!("snapshot job {} without its ids", job.id))),
    }
}

async fn load_pair(control: &Control, job: &Job) -> Result<(Option<Snapshot>, Option<Volume>), Error> {
    let (sid, vid) = job_ids(job)?;
    let mut c = control.store().read().await?;
    Ok((repo::get_snapshot(&mut c, &sid).await?, repo::get(&mut c, &vid).await?))
}

/// Takes the snapshot, through the guest's QEMU when one holds the volume.
pub(super) struct CreateSnapshot;

#[async_trait::async_trait]
impl JobHandler for CreateSnapshot {
    fn job_type(&self) -> &'static str {
        CREATE_SNAPSHOT_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let (s, v) = load_pair(control, job).await?;
        let (Some(s), Some(v)) = (s.filter(|s| s.status == "creating"), v) else { return Ok(StepOutcome::Done) };
        control.internal_snapshot(&v, &snapshot_name(&s.id), true).await?;
        control.snapshot_status(&s.id, "creating", "available").await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        let id = job_ids(job)?.0;
        control.snapshot_status(&id, "creating", "error").await?;
        let about = super::messages::MessageResource::Snapshot(&id);
        let (action, detail) =
            (super::messages::MessageAction::CreateSnapshot, super::messages::MessageDetail::Failed(error.message()));
        control.record_user_message_now(&job.project_id, &job.id, about, action, detail).await
    }
}

/// Drops the snapshot from the volume's file, then its row, and gives its quota back.
pub(super) struct DeleteSnapshot;

#[async_trait::async_trait]
impl JobHandler for DeleteSnapshot {
    fn job_type(&self) -> &'static str {
        DELETE_SNAPSHOT_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let (s, v) = load_pair(control, job).await?;
        let Some(s) = s.filter(|s| s.status == "deleting") else { return Ok(StepOutcome::Done) };
        if let Some(v) = v {
            control.internal_snapshot(&v, &snapshot_name(&s.id), false).await?;
        }
        let mut tx = control.store().write().await?;
        if repo::get_snapshot(&mut tx, &s.id).await?.is_some_and(|s| s.status == "deleting") {
            repo::delete_snapshot(&mut tx, &s.id).await?;
            control.release_snapshot_space(&mut tx, &s).await?;
        }
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        control.snapshot_status(&job_ids(job)?.0, "deleting", "error_deleting").await
    }
}

/// Reverts a detached volume to a snapshot.
pub(super) struct RevertVolume;

#[async_trait::async_trait]
impl JobHandler for RevertVolume {
    fn job_type(&self) -> &'static str {
        REVERT_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let (s, v) = load_pair(control, job).await?;
        let (Some(s), Some(v)) = (s, v.filter(|v| v.status == "reverting")) else { return Ok(StepOutcome::Done) };
        let layout = control.volume_layout(&v).await?;
        control.drivers().volumes.revert(&v.id, &snapshot_name(&s.id), &layout, v.size_gb).await?;
        control.snapshot_status(&s.id, "restoring", "available").await?;
        control.volume_status(&v.id, "reverting", "available").await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        let (sid, vid) = job_ids(job)?;
        control.snapshot_status(&sid, "restoring", "available").await?;
        control.volume_status(&vid, "reverting", "error").await.map(|_| ())
    }
}
