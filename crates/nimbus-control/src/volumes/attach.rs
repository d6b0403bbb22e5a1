//! Attaching volumes to servers and detaching them (Nova's `os-volume_attachments`, ECS
//! `attachvolume` / `detachvolume`).
//!
//! The attachment row is the desired state; a durable job makes the guest match: a running
//! guest gets the disk hot-plugged over QMP (and released through ACPI on detach), a stopped
//! one gets it on its next boot's command line. Status moves as Cinder's do: the volume goes
//! `available` -> `attaching` -> `in-use` and back through `detaching`; a shareable volume
//! already in use stays `in-use` while it gains or loses servers.

use super::{invalid, jobs::volume_disk};
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::jobs::{JobHandler, StepOutcome};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::hypervisor::{GuestState, VolumeDisk};
use nimbus_store::jobs::Job;
use nimbus_store::servers::Server;
use nimbus_store::volumes::{self as repo, Attachment};
use sqlx::AnyConnection;
use std::time::Duration;

pub const ATTACH_JOB: &str = "attachVolume";
pub const DETACH_JOB: &str = "detachVolume";

/// The most volumes one server takes (PCI slots 5-31 of the guest's bus, a few kept for
/// network interfaces).
pub const MAX_VOLUMES_PER_SERVER: usize = 24;

/// How long a detach waits for the guest to release the disk before giving up: a guest
/// that ignores the request keeps the volume (a hard reboot completes the release).
const DETACH_PATIENCE_MS: i64 = 60_000;

/// Server states that take a volume (Nova's: running, paused or stopped, no task under way).
fn check_server_takes_volumes(s: &Server, action: &str) -> Result<(), Error> {
    let ok_state = matches!(s.vm_state.as_str(), "active" | "stopped" | "paused");
    if !ok_state || s.task_state.is_some() {
        return Err(Error::Conflict(format!(
            "Cannot '{action}' instance {} while it is in vm_state {} and task_state {}",
            s.id,
            s.vm_state,
            s.task_state.as_deref().unwrap_or("None")
        )));
    }
    Ok(())
}

/// The first guest disk name not in `used` (vda is the boot disk, vdb the config drive).
fn next_device(used: &[String]) -> String {
    ('c'..='z').map(|c| format!("/dev/vd{c}")).find(|d| !used.contains(d)).unwrap_or_else(|| "/dev/vdz".into())
}

/// The device of the `i`-th data volume made with a server (`/dev/vdc` onwards).
pub(crate) fn data_device(i: usize) -> String {
    next_device(&(0..i).map(|j| format!("/dev/vd{}", (b'c' + j as u8) as char)).collect::<Vec<_>>())
}

impl Control {
    /// Attaches a volume of the server's project to the server; returns the attachment
    /// (in `attaching`) and the job that plugs it in.
    pub async fn attach_volume(
        &self,
        ctx: &Ctx,
        server_id: &str,
        volume_id: &str,
        device: Option<&str>,
    ) -> Result<(Attachment, String), Error> {
        let mut tx = self.store().write().await?;
        let s = self.load_server_for(&mut tx, ctx, server_id, "compute:action").await?;
        if s.locked && !ctx.principal.is_admin() {
            return Err(Error::Conflict(format!("Instance {} is locked", s.id)));
        }
        let mut v = self.load_volume(&mut tx, ctx, volume_id, "volume:attach").await?;
        authorize("volume:attach", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        if v.project_id != s.project_id {
            return Err(Error::not_found("volume", volume_id));
        }
        check_server_takes_volumes(&s, "attach_volume")?;
        let existing = repo::attachments(&mut tx, &v.id).await?;
        if existing.iter().any(|a| a.server_id == s.id) {
            return Err(invalid(format!("volume {} is already attached to server {}.", v.id, s.id)));
        }
        if repo::volume_snapshots(&mut tx, &v.id).await?.iter().any(|s| s.status != "available" && s.status != "error")
        {
            return Err(invalid(format!("a snapshot of volume {} is being taken or removed; try again.", v.id)));
        }
        let shared_ok = v.multiattach && v.status == "in-use";
        if v.status != "available" && !shared_ok {
            return Err(invalid(format!(
                "volume '{}' status must be 'available'. Currently in '{}'",
                v.id,
                if v.status == "in-use" && !v.multiattach { "in-use (not shareable)" } else { v.status.as_str() }
            )));
        }
        if v.availability_zone != s.availability_zone {
            return Err(Error::bad_request(format!(
                "Invalid volume: the volume is in availability zone {} and the server in {}.",
                v.availability_zone, s.availability_zone
            )));
        }
        let on_server = repo::server_attachments(&mut tx, &s.id).await?;
        if on_server.len() >= MAX_VOLUMES_PER_SERVER {
            return Err(Error::Forbidden(format!(
                "The maximum allowed number of disk devices ({MAX_VOLUMES_PER_SERVER}) to attach to a single \
                 instance has been exceeded."
            )));
        }
        let used: Vec<String> = on_server.iter().map(|a| a.device.clone()).collect();
        let device = match device {
            None | Some("") | Some("auto") => next_device(&used),
            Some(d) => {
                let letters = d.strip_prefix("/dev/vd").unwrap_or("");
                if letters.is_empty()
                    || !letters.chars().all(|c| c.is_ascii_lowercase())
                    || matches!(letters, "a" | "b")
                {
                    return Err(Error::bad_request(format!(
                        "The supplied device path ({d}) is invalid: use /dev/vdc to /dev/vdz."
                    )));
                }
                if used.iter().any(|u| u == d) {
                    return Err(Error::Conflict(format!("The supplied device path ({d}) is in use.")));
                }
                d.to_string()
            }
        };
        let a = Attachment {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id: v.id.clone(),
            server_id: s.id.clone(),
            device,
            status: "attaching".into(),
            attached_at: Some(now_ms()),
            delete_on_termination: false,
        };
        repo::insert_attachment(&mut tx, &a).await?;
        if v.status == "available" {
            v.status = "attaching".into();
            v.updated_at = Some(now_ms());
            repo::update(&mut tx, &v).await?;
        }
        let params = serde_json::json!({"attachment_id": a.id, "volume_id": v.id, "server_id": s.id});
        let entities = serde_json::json!({"volume_id": v.id, "server_id": s.id});
        let job = self.new_job_with(&mut tx, &s.project_id, ATTACH_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "attachVolume", 200).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok((a, job))
    }

    /// Detaches a volume from a server; returns the job that unplugs it.
    pub async fn detach_volume(&self, ctx: &Ctx, server_id: &str, volume_id: &str) -> Result<String, Error> {
        self.detach_volume_as(ctx, server_id, volume_id, false).await
    }

    /// Detaches a volume; `forced` (an operator repairing a volume, Cinder's
    /// `os-force_detach`) takes it whatever the volume's and the server's states.
    pub(super) async fn detach_volume_as(
        &self,
        ctx: &Ctx,
        server_id: &str,
        volume_id: &str,
        forced: bool,
    ) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let s = self.load_server_for(&mut tx, ctx, server_id, "compute:action").await?;
        if s.locked && !ctx.principal.is_admin() {
            return Err(Error::Conflict(format!("Instance {} is locked", s.id)));
        }
        let a = repo::attachment(&mut tx, volume_id, &s.id)
            .await?
            .ok_or_else(|| Error::not_found("volume attachment", format!("{volume_id} (server {})", s.id)))?;
        let mut v = self.load_volume(&mut tx, ctx, volume_id, "volume:attach").await?;
        authorize("volume:attach", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        if !forced {
            check_server_takes_volumes(&s, "detach_volume")?;
        }
        if a.is_boot() {
            return Err(Error::bad_request(format!("Can't detach root device volume {} of server {}.", v.id, s.id)));
        }
        if a.status != "attached" && !(forced && a.status == "detaching") {
            return Err(invalid(format!("the attachment of volume {} is {}, not attached.", v.id, a.status)));
        }
        if v.status != "in-use" && !forced {
            return Err(invalid(format!("volume {} is {}: wait for it to be in-use.", v.id, v.status)));
        }
        repo::set_attachment_status(&mut tx, &a.id, "detaching").await?;
        let others = repo::attachments(&mut tx, &v.id).await?.into_iter().filter(|o| o.id != a.id).count();
        if others == 0 {
            v.status = "detaching".into();
            v.updated_at = Some(now_ms());
            repo::update(&mut tx, &v).await?;
        }
        let params = serde_json::json!({"attachment_id": a.id, "volume_id": v.id, "server_id": s.id});
        let entities = serde_json::json!({"volume_id": v.id, "server_id": s.id});
        let job = self.new_job_with(&mut tx, &s.project_id, DETACH_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "detachVolume", 202).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// A server's volume attachments.
    pub async fn server_volume_attachments(&self, ctx: &Ctx, server_id: &str) -> Result<Vec<Attachment>, Error> {
        let mut c = self.store().read().await?;
        let s = self.load_server(&mut c, ctx, server_id).await?;
        repo::server_attachments(&mut c, &s.id).await
    }

    /// One attachment of a server, by volume id (404 when not attached).
    pub async fn server_volume_attachment(
        &self,
        ctx: &Ctx,
        server_id: &str,
        volume_id: &str,
    ) -> Result<Attachment, Error> {
        let mut c = self.store().read().await?;
        let s = self.load_server(&mut c, ctx, server_id).await?;
        repo::attachment(&mut c, volume_id, &s.id)
            .await?
            .ok_or_else(|| Error::not_found("volume attachment", format!("{volume_id} (server {})", s.id)))
    }

    /// Ends an attachment in the store: the row goes, and the volume is `available` again
    /// unless other servers still share it. Used by detach and by server deletion.
    pub(crate) async fn end_attachment(&self, tx: &mut AnyConnection, a: &Attachment) -> Result<(), Error> {
        repo::delete_attachment(tx, &a.id).await?;
        if let Some(mut v) = repo::get(tx, &a.volume_id).await? {
            let left = repo::attachments(tx, &v.id).await?.len();
            let status = if left == 0 { "available" } else { "in-use" };
            if matches!(v.status.as_str(), "attaching" | "in-use" | "detaching") && v.status != status {
                v.status = status.into();
                v.updated_at = Some(now_ms());
                repo::update(tx, &v).await?;
            }
        }
        Ok(())
    }

    /// Whether the volumes a new server boots with (its boot volume, its data volumes) are
    /// ready: once each one's data is made, its attachment is recorded as made (the guest
    /// boots with it). A volume that could not be made fails the build.
    pub(crate) async fn build_volumes_ready(&self, server_id: &str) -> Result<bool, Error> {
        let mut tx = self.store().write().await?;
        for a in repo::server_attachments(&mut tx, server_id).await? {
            if a.status == "detaching" {
                continue;
            }
            let what = if a.is_boot() { "boot volume" } else { "volume" };
            let mut v = repo::get(&mut tx, &a.volume_id)
                .await?
                .ok_or_else(|| Error::Conflict(format!("the {what} {} is gone", a.volume_id)))?;
            match v.status.as_str() {
                "creating" | "downloading" => return Ok(false),
                "attaching" | "available" | "in-use" => {}
                other => return Err(Error::Conflict(format!("the {what} {} is {other}", v.id))),
            }
            if a.status != "attached" {
                repo::set_attachment_status(&mut tx, &a.id, "attached").await?;
            }
            if v.status != "in-use" {
                v.status = "in-use".into();
                v.updated_at = Some(now_ms());
                repo::update(&mut tx, &v).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The disks a server's guest boots with: its boot volume (if it boots from one), and
    /// every other attachment not being detached.
    pub(crate) async fn server_volume_disks(
        &self,
        server_id: &str,
    ) -> Result<(Option<VolumeDisk>, Vec<VolumeDisk>), Error> {
        let rows = {
            let mut c = self.store().read().await?;
            let mut rows = Vec::new();
            for a in repo::server_attachments(&mut c, server_id).await? {
                if a.status == "detaching" {
                    continue;
                }
                if let Some(v) = repo::get(&mut c, &a.volume_id).await? {
                    rows.push((a.is_boot(), v));
                }
            }
            rows
        };
        let (mut root, mut disks) = (None, Vec::with_capacity(rows.len()));
        for (boot, v) in &rows {
            let disk = volume_disk(self, v).await?;
            if *boot {
                root = Some(disk);
            } else {
                disks.push(disk);
            }
        }
        Ok((root, disks))
    }
}

fn job_param(job: &Job, key: &str) -> Result<String, Error> {
    let p: serde_json::Value = serde_json::from_str(&job.params)?;
    p[key].as_str().map(str::to_string).ok_or_else(|| Error::Internal(format!("job {} has no {key}", job.id)))
}

/// Plugs a volume into the server's guest (or leaves it for the next boot).
pub(super) struct AttachVolume;

#[async_trait::async_trait]
impl JobHandler for AttachVolume {
    fn job_type(&self) -> &'static str {
        ATTACH_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let attachment_id = job_param(job, "attachment_id")?;
        let (server_id, volume_id) = (job_param(job, "server_id")?, job_param(job, "volume_id")?);
        let (a, v) = {
            let mut c = control.store().read().await?;
            (repo::attachment(&mut c, &volume_id, &server_id).await?, repo::get(&mut c, &volume_id).await?)
        };
        let (Some(a), Some(v)) = (a.filter(|a| a.id == attachment_id && a.status == "attaching"), v) else {
            return Ok(StepOutcome::Done);
        };
        let hv = &control.drivers().hypervisor;
        match hv.state(&server_id).await? {
            GuestState::Running | GuestState::Paused => {
                hv.attach_volume(&server_id, &volume_disk(control, &v).await?).await?
            }
            // Powered off from inside, QEMU still up: it would restart without the volume, so
            // it goes, and the next start builds the guest with its volumes.
            GuestState::Shutoff => hv.stop(&server_id, Duration::ZERO).await?,
            GuestState::Missing => {}
        }
        let mut tx = control.store().write().await?;
        if repo::set_attachment_status(&mut tx, &a.id, "attached").await? {
            if let Some(mut v) = repo::get(&mut tx, &volume_id).await?.filter(|v| v.status == "attaching") {
                v.status = "in-use".into();
                v.updated_at = Some(now_ms());
                repo::update(&mut tx, &v).await?;
            }
        }
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        let (server_id, volume_id) = (job_param(job, "server_id")?, job_param(job, "volume_id")?);
        let mut tx = control.store().write().await?;
        if let Some(a) = repo::attachment(&mut tx, &volume_id, &server_id).await?.filter(|a| a.status == "attaching") {
            control.end_attachment(&mut tx, &a).await?;
            let about = super::messages::MessageResource::Volume(&volume_id);
            let (action, detail) =
                (super::messages::MessageAction::AttachVolume, super::messages::MessageDetail::Failed(error.message()));
            let req = format!("req-{}", job.id);
            control.record_user_message(&mut tx, &job.project_id, &req, about, action, detail).await?;
        }
        tx.commit().await
    }
}

/// Has the guest release a volume, then ends the attachment.
pub(super) struct DetachVolume;

#[async_trait::async_trait]
impl JobHandler for DetachVolume {
    fn job_type(&self) -> &'static str {
        DETACH_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let attachment_id = job_param(job, "attachment_id")?;
        let (server_id, volume_id) = (job_param(job, "server_id")?, job_param(job, "volume_id")?);
        let a = {
            let mut c = control.store().read().await?;
            repo::attachment(&mut c, &volume_id, &server_id).await?
        };
        let Some(a) = a.filter(|a| a.id == attachment_id && a.status == "detaching") else {
            return Ok(StepOutcome::Done);
        };
        let hv = &control.drivers().hypervisor;
        let released = match hv.state(&server_id).await? {
            GuestState::Running | GuestState::Paused => {
                match hv.detach_volume(&server_id, &volume_id, Duration::from_secs(10)).await {
                    Ok(released) => released,
                    // The guest went away meanwhile (its server is being deleted): released.
                    Err(_) if hv.state(&server_id).await? == GuestState::Missing => true,
                    Err(e) => return Err(e),
                }
            }
            GuestState::Shutoff => {
                hv.stop(&server_id, Duration::ZERO).await?;
                true
            }
            GuestState::Missing => true,
        };
        if !released {
            if now_ms() - job.begin_time > DETACH_PATIENCE_MS {
                return Err(Error::Conflict(format!(
                    "the guest of server {server_id} did not release volume {volume_id}; a hard reboot completes the detach"
                )));
            }
            return Ok(StepOutcome::Wait(Duration::from_secs(1)));
        }
        let mut tx = control.store().write().await?;
        control.end_attachment(&mut tx, &a).await?;
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        // The volume stays attached: the row goes back to `attached`, the volume to `in-use`.
        let (server_id, volume_id) = (job_param(job, "server_id")?, job_param(job, "volume_id")?);
        let mut tx = control.store().write().await?;
        if let Some(a) = repo::attachment(&mut tx, &volume_id, &server_id).await?.filter(|a| a.status == "detaching") {
            repo::set_attachment_status(&mut tx, &a.id, "attached").await?;
            if let Some(mut v) = repo::get(&mut tx, &volume_id).await?.filter(|v| v.status == "detaching") {
                v.status = "in-use".into();
                v.updated_at = Some(now_ms());
                repo::update(&mut tx, &v).await?;
            }
        }
        tx.commit().await
    }
}
