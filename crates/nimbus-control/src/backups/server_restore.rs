//! Whole-server restores (CSBS, seed 6.2.5; CBR's restore of a server backup): the disks of
//! a server put back, in place, to the point in time of one server checkpoint (its disks'
//! backups were made from snapshots taken together, so the restored disks agree with each
//! other).
//!
//! The server's guest is stopped first (it must not write while its disks are rewritten),
//! then each mapped disk is rewritten from its backup, every chunk checked, and the guest
//! is started again when asked. Meanwhile the server has the task `restoring` (no other
//! action starts) and each disk is `restoring-backup` (no detach, no other restore). The
//! whole is one durable job with a step per disk: a `kill -9` resumes it at the disk it
//! was on (rewriting a disk again gives the same bytes).

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::jobs::{JobHandler, JobRegistry, StepOutcome};
use crate::volumes::messages::{MessageAction, MessageDetail, MessageResource};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::backups::{self as repo, BackupFilter};
use nimbus_store::jobs::Job;
use nimbus_store::volumes as volumes_repo;
use std::sync::Arc;

pub const RESTORE_SERVER_JOB: &str = "restoreServer";

/// The server's task while its disks are restored.
const TASK: &str = "restoring";

/// What a server restore asks for.
#[derive(Debug, Clone, Default)]
pub struct ServerRestore {
    pub server_id: String,
    /// (backup, volume) pairs: which of the checkpoint's disk backups goes into which of
    /// the server's volumes. Empty: each backup into the volume it was made of.
    pub mappings: Vec<(String, String)>,
    /// Start the server once its disks are restored.
    pub power_on: bool,
}

/// Registers the server restore job.
pub fn register_jobs(r: &mut JobRegistry) {
    r.register(Arc::new(RestoreServer));
}

/// The job's parameters: the server, the (backup, volume) pairs, whether to start it.
fn params(job: &Job) -> Result<ServerRestore, Error> {
    let p: serde_json::Value = serde_json::from_str(&job.params)?;
    let server =
        p["server_id"].as_str().ok_or_else(|| Error::Internal("a server restore without its server".into()))?;
    Ok(ServerRestore {
        server_id: server.to_string(),
        mappings: serde_json::from_value(p["mappings"].clone())?,
        power_on: p["power_on"].as_bool().unwrap_or(false),
    })
}

impl Control {
    /// Restores a server's disks from the server backup `backup_id` belongs to (any of its
    /// disks' backups names it); returns the job.
    pub async fn restore_server(&self, ctx: &Ctx, backup_id: &str, req: ServerRestore) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let first = self.load_backup(&mut tx, ctx, backup_id, "backup:restore").await?;
        authorize(
            "backup:restore",
            &ctx.principal,
            &Target { project_id: Some(&first.project_id), ..Default::default() },
        )?;
        let (Some(checkpoint), Some(made_of)) = (first.checkpoint_id.clone(), first.server_id.clone()) else {
            return Err(Error::bad_request(format!(
                "BackupService.6116: backup {backup_id} is a disk's backup, not part of a server backup: restore it to \
                 a volume."
            )));
        };
        if req.server_id != made_of {
            return Err(Error::bad_request(format!(
                "BackupService.6117: a server backup restores to the server it was made of ({made_of})."
            )));
        }
        let mut server = self.load_server_for(&mut tx, ctx, &req.server_id, "compute:action").await?;
        if server.task_state.is_some() || !matches!(server.status.as_str(), "ACTIVE" | "SHUTOFF") {
            return Err(Error::Conflict(format!(
                "Cannot restore instance {} while it is {} (task_state {}).",
                server.id,
                server.status,
                server.task_state.as_deref().unwrap_or("none")
            )));
        }
        let filter = BackupFilter { checkpoint_id: Some(checkpoint.clone()), ..Default::default() };
        // The checkpoint's backups of this server's disks (a checkpoint may hold several
        // servers).
        let siblings: Vec<_> = repo::list(&mut tx, &filter, &Default::default())
            .await?
            .into_iter()
            .filter(|b| b.server_id.as_deref() == Some(made_of.as_str()))
            .collect();
        let mappings = if req.mappings.is_empty() {
            siblings.iter().map(|b| (b.id.clone(), b.volume_id.clone())).collect()
        } else {
            req.mappings.clone()
        };
        let mut seen = std::collections::HashSet::new();
        let mut changes = Vec::new();
        for (bid, vid) in &mappings {
            let b = siblings.iter().find(|b| b.id == *bid).ok_or_else(|| {
                Error::bad_request(format!(
                    "BackupService.6118: backup {bid} is not part of server backup {}.",
                    super::server_backup_id(&checkpoint, &made_of)
                ))
            })?;
            if b.status != "available" {
                return Err(Error::bad_request(format!(
                    "Invalid backup: Backup status must be available, but backup {bid} is \"{}\".",
                    b.status
                )));
            }
            if !seen.insert(vid.clone()) {
                return Err(Error::bad_request(format!("Invalid input received: volume {vid} is mapped twice.")));
            }
            let v = volumes_repo::get(&mut tx, vid)
                .await?
                .filter(|v| v.project_id == b.project_id)
                .ok_or_else(|| Error::not_found("volume", vid))?;
            let attached =
                volumes_repo::attachment(&mut tx, vid, &server.id).await?.is_some_and(|a| a.status == "attached");
            if !attached || v.status != "in-use" {
                return Err(Error::bad_request(format!(
                    "Invalid volume: volume {vid} must be in use by server {} to be restored with it, not {}.",
                    server.id, v.status
                )));
            }
            if v.size_gb < b.size_gb {
                return Err(Error::bad_request(format!(
                    "Invalid volume: volume size {} GB is too small to restore backup of size {} GB.",
                    v.size_gb, b.size_gb
                )));
            }
            changes.push((b.clone(), v));
        }
        if changes.is_empty() {
            return Err(Error::bad_request("Invalid input received: nothing to restore."));
        }
        let now = now_ms();
        for (mut b, mut v) in changes {
            let old_key = self.take_backup_key(&mut tx, &mut v, &b).await?;
            v.status = "restoring-backup".into();
            v.updated_at = Some(now);
            volumes_repo::update(&mut tx, &v).await?;
            if let Some(k) = old_key {
                volumes_repo::delete_key(&mut tx, &k).await?;
            }
            b.status = "restoring".into();
            b.updated_at = Some(now);
            repo::update(&mut tx, &b).await?;
        }
        server.task_state = Some(TASK.into());
        server.updated_at = now;
        nimbus_store::servers::update(&mut tx, &server).await?;
        let params = serde_json::json!({"server_id": server.id, "mappings": mappings, "power_on": req.power_on});
        let entities = serde_json::json!({"server_id": server.id, "checkpoint_id": checkpoint});
        let job = self.new_job_with(&mut tx, &server.project_id, RESTORE_SERVER_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "backup", "restoreServerBackup", 202)
                .resource(&checkpoint, &server.name)
                .in_project(&server.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }
}

/// Stops the guest, rewrites each disk (one step each), then ends the task.
struct RestoreServer;

#[async_trait::async_trait]
impl JobHandler for RestoreServer {
    fn job_type(&self) -> &'static str {
        RESTORE_SERVER_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, step: i64) -> Result<StepOutcome, Error> {
        let ServerRestore { server_id: server, mappings, power_on } = params(job)?;
        if step == 0 {
            control.stop_guest_keeping_task(&server).await?;
            return Ok(StepOutcome::Next);
        }
        if let Some((bid, vid)) = mappings.get(step as usize - 1) {
            let (b, v) = {
                let mut c = control.store().read().await?;
                (repo::get(&mut c, bid).await?, volumes_repo::get(&mut c, vid).await?)
            };
            let b = b.ok_or_else(|| Error::Conflict(format!("backup {bid} is gone")))?;
            let v = v
                .filter(|v| v.status == "restoring-backup")
                .ok_or_else(|| Error::Conflict(format!("volume {vid} is no longer waiting for this restore")))?;
            control.assemble_restore(&b, &v).await?;
            let layout = control.volume_layout(&v).await?;
            control.drivers().volumes.restore_from_scratch(&v.id, &layout, v.size_gb, true).await?;
            return Ok(StepOutcome::Next);
        }
        let mut tx = control.store().write().await?;
        settle(&mut tx, &mappings, "in-use").await?;
        control.end_server_task(&mut tx, &server, TASK, power_on).await?;
        tx.commit().await?;
        control.wake_jobs();
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        let ServerRestore { server_id: server, mappings, .. } = params(job)?;
        let mut tx = control.store().write().await?;
        settle(&mut tx, &mappings, "error_restoring").await?;
        control.end_server_task(&mut tx, &server, TASK, false).await?;
        let (about, action) = (MessageResource::Backup(&mappings[0].0), MessageAction::RestoreBackup);
        let req = format!("req-{}", job.id);
        let detail = MessageDetail::Failed(format!("restoring server {server}: {}", error.message()));
        control.record_user_message(&mut tx, &job.project_id, &req, about, action, detail).await?;
        tx.commit().await?;
        for (_, vid) in &mappings {
            let _ = tokio::fs::remove_file(control.drivers().volumes.restore_scratch(vid)).await;
        }
        Ok(())
    }
}

/// Gives the backups back (`available`) and moves the disks still restoring to `status`.
async fn settle(tx: &mut sqlx::AnyConnection, mappings: &[(String, String)], status: &str) -> Result<(), Error> {
    let now = now_ms();
    for (bid, vid) in mappings {
        if let Some(mut v) = volumes_repo::get(tx, vid).await?.filter(|v| v.status == "restoring-backup") {
            v.status = status.into();
            v.updated_at = Some(now);
            volumes_repo::update(tx, &v).await?;
        }
        if let Some(mut b) = repo::get(tx, bid).await?.filter(|b| b.status == "restoring") {
            b.status = "available".into();
            b.updated_at = Some(now);
            repo::update(tx, &b).await?;
        }
    }
    Ok(())
}
