//! The durable jobs behind volume calls: create (blank, or from an image), extend (through
//! the guest's QEMU when the volume is attached to a running one), delete; attach and
//! detach live in `attach.rs`.
//!
//! Every step is idempotent (the volume driver's operations are, and state writes re-read
//! the row), so a job interrupted by a crash of `nimbus` resumes and still ends in a clear
//! state: `available`, or `error` / `error_extending` / `error_deleting`. Job types are
//! named as Huawei's EVS reports them.

use super::messages::{MessageAction, MessageDetail, MessageResource};
use super::Space;
use crate::jobs::{JobHandler, JobRegistry, StepOutcome};
use crate::Control;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::hypervisor::{GuestState, VolumeDisk};
use nimbus_drivers::volume_files::{Layout, VolumeFormat};
use nimbus_store::jobs::Job;
use nimbus_store::volumes::{self as repo, Volume};
use std::sync::Arc;

pub const CREATE_JOB: &str = "createVolume";
pub const EXTEND_JOB: &str = "extendVolume";
pub const DELETE_JOB: &str = "deleteVolume";
pub const RETYPE_JOB: &str = "retypeVolume";
pub const UPLOAD_JOB: &str = "uploadVolumeToImage";

/// Registers the volume jobs.
pub fn register_jobs(r: &mut JobRegistry) {
    r.register(Arc::new(CreateVolume));
    r.register(Arc::new(ExtendVolume));
    r.register(Arc::new(DeleteVolume));
    r.register(Arc::new(RetypeVolume));
    r.register(Arc::new(UploadVolume));
    r.register(Arc::new(super::attach::AttachVolume));
    r.register(Arc::new(super::attach::DetachVolume));
    r.register(Arc::new(super::snapshots::CreateSnapshot));
    r.register(Arc::new(super::snapshots::DeleteSnapshot));
    r.register(Arc::new(super::snapshots::RevertVolume));
    r.register(Arc::new(super::groups::CreateGroupFromSource));
    r.register(Arc::new(super::groups::DeleteGroup));
    r.register(Arc::new(super::groups::CreateGroupSnapshot));
    r.register(Arc::new(super::groups::DeleteGroupSnapshot));
}

/// How a volume's data is stored.
pub(super) fn format_of(v: &Volume) -> VolumeFormat {
    VolumeFormat::for_volume(v.multiattach)
}

/// A volume as the hypervisor plugs it into a guest: its data, and its type's QoS.
pub(super) async fn volume_disk(control: &Control, v: &Volume) -> Result<VolumeDisk, Error> {
    let vtype = control.volume_type_of(v).await?;
    let qos = {
        let mut c = control.store().read().await?;
        control.type_qos(&mut c, &vtype).await?
    };
    let layout = control.volume_layout(v).await?;
    Ok(VolumeDisk {
        id: v.id.clone(),
        path: control.drivers().volumes.path(&v.id, layout.format),
        format: layout.format.name().into(),
        shared: v.multiattach,
        read_only: v.readonly(),
        qos: super::disk_qos(qos.as_ref()),
        key: layout.key,
    })
}

fn volume_id(job: &Job) -> Result<String, Error> {
    let p: serde_json::Value = serde_json::from_str(&job.params)?;
    p["volume_id"].as_str().map(str::to_string).ok_or_else(|| Error::Internal("a volume job without volume_id".into()))
}

impl Control {
    /// Moves a volume to `status` if it is still in `from` (a job never overrides a change
    /// made since, e.g. an operator's reset); returns the row as written.
    pub(crate) async fn volume_status(&self, id: &str, from: &str, status: &str) -> Result<Option<Volume>, Error> {
        let mut tx = self.store().write().await?;
        let Some(mut v) = repo::get(&mut tx, id).await?.filter(|v| v.status == from) else { return Ok(None) };
        v.status = status.into();
        v.updated_at = Some(now_ms());
        v.version = repo::update(&mut tx, &v).await?;
        tx.commit().await?;
        Ok(Some(v))
    }
}

/// Makes a volume's data: an empty QCOW2 file, or the image converted and grown to size.
struct CreateVolume;

#[async_trait::async_trait]
impl JobHandler for CreateVolume {
    fn job_type(&self) -> &'static str {
        CREATE_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, step: i64) -> Result<StepOutcome, Error> {
        if is_restore(job) {
            return crate::backups::restore_job().run_step(control, job, step).await;
        }
        let id = volume_id(job)?;
        let v = {
            let mut c = control.store().read().await?;
            repo::get(&mut c, &id).await?
        };
        let Some(v) = v.filter(|v| v.status == "creating") else { return Ok(StepOutcome::Done) };
        // Scheduling: a type asking for capabilities the back end lacks has nowhere to go.
        let vtype = control.volume_type_of(&v).await?;
        let specs: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&vtype.extra_specs).unwrap_or_default();
        if !super::backends::backend_accepts(&specs) {
            let mut tx = control.store().write().await?;
            if let Some(mut v) = repo::get(&mut tx, &id).await?.filter(|v| v.status == "creating") {
                v.status = "error".into();
                v.updated_at = Some(now_ms());
                repo::update(&mut tx, &v).await?;
                let req = format!("req-{}", job.id);
                let about = MessageResource::Volume(&v.id);
                let (action, detail) = (MessageAction::ScheduleAllocateVolume, MessageDetail::NoBackendAvailable);
                control.record_user_message(&mut tx, &v.project_id, &req, about, action, detail).await?;
            }
            tx.commit().await?;
            return Ok(StepOutcome::Done);
        }
        let files = &control.drivers().volumes;
        let layout = control.volume_layout(&v).await?;
        let snapshot = match &v.snapshot_id {
            Some(sid) => {
                let mut c = control.store().read().await?;
                repo::get_snapshot(&mut c, sid).await?
            }
            None => None,
        };
        let source = match &v.source_volid {
            Some(sid) => {
                let mut c = control.store().read().await?;
                Some(
                    repo::get(&mut c, sid)
                        .await?
                        .ok_or_else(|| Error::Conflict(format!("the volume {} was to be cloned from is gone", v.id)))?,
                )
            }
            None => None,
        };
        if let Some(src) = source {
            // One point in time of the source, even while a guest writes it: an internal
            // snapshot (through its QEMU if it runs), copied, then dropped.
            if format_of(&src) == VolumeFormat::Qcow2 {
                let name = format!("clone-{}", v.id);
                control.internal_snapshot(&src, &name, true).await?;
                files.create_from_snapshot(&v.id, &layout, &src.id, &name, v.size_gb).await?;
                control.internal_snapshot(&src, &name, false).await?;
            } else {
                let path = files.path(&src.id, format_of(&src));
                files.copy_stored(&v.id, &layout, &path, Some(format_of(&src).name()), v.size_gb).await?;
            }
        } else {
            match (&snapshot, &v.image_id) {
                (Some(snap), _) => {
                    let name = super::snapshots::snapshot_name(&snap.id);
                    files.create_from_snapshot(&v.id, &layout, &snap.volume_id, &name, v.size_gb).await?;
                }
                (None, Some(image)) => {
                    let src = control.drivers().images.path(image);
                    files.create_from(&v.id, &layout, &src, None, v.size_gb).await?;
                }
                (None, None) if v.snapshot_id.is_some() => {
                    return Err(Error::Conflict(format!("the snapshot volume {} was made from is gone", v.id)))
                }
                (None, None) => files.create(&v.id, &layout, v.size_gb).await?,
            }
        }
        let mut tx = control.store().write().await?;
        if let Some(mut v) = repo::get(&mut tx, &id).await?.filter(|v| v.status == "creating") {
            // A boot volume made for a server is already promised to it.
            let promised = !repo::attachments(&mut tx, &id).await?.is_empty();
            v.status = if promised { "attaching" } else { "available" }.into();
            v.updated_at = Some(now_ms());
            repo::update(&mut tx, &v).await?;
            control.volume_usage(&mut tx, &v, "created", &vtype.name).await?;
        }
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        if is_restore(job) {
            return crate::backups::restore_job().on_fail(control, job, error).await;
        }
        let id = volume_id(job)?;
        if let Some(v) = control.volume_status(&id, "creating", "error").await? {
            let about = MessageResource::Volume(&id);
            let detail = MessageDetail::Failed(error.message());
            control.record_user_message_now(&v.project_id, &job.id, about, MessageAction::CreateVolume, detail).await?;
        }
        Ok(())
    }
}

/// Whether a create job makes its volume from a backup (the backup's restore does the work).
fn is_restore(job: &Job) -> bool {
    serde_json::from_str::<serde_json::Value>(&job.params).is_ok_and(|p| p["backup_id"].is_string())
}

/// Grows a volume's data, then records the new size: through QEMU for a volume in a
/// guest's hands (the guest sees the new size at once), with `qemu-img` otherwise.
struct ExtendVolume;

#[async_trait::async_trait]
impl JobHandler for ExtendVolume {
    fn job_type(&self) -> &'static str {
        EXTEND_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let p: serde_json::Value = serde_json::from_str(&job.params)?;
        let id = volume_id(job)?;
        let new_size = p["new_size"].as_i64().ok_or_else(|| Error::Internal("extend without new_size".into()))?;
        let v = {
            let mut c = control.store().read().await?;
            repo::get(&mut c, &id).await?
        };
        let Some(v) = v.filter(|v| v.status == "extending") else { return Ok(StepOutcome::Done) };
        let servers: Vec<String> = {
            let mut c = control.store().read().await?;
            repo::attachments(&mut c, &v.id).await?.into_iter().map(|a| a.server_id).collect()
        };
        let hv = &control.drivers().hypervisor;
        let mut grown_by_qemu = false;
        for server in &servers {
            if hv.state(server).await? != GuestState::Missing {
                hv.resize_volume(server, &v.id, (new_size as u64) << 30).await?;
                grown_by_qemu = true;
            }
        }
        if !grown_by_qemu {
            control.drivers().volumes.grow(&v.id, &control.volume_layout(&v).await?, new_size).await?;
        }
        let back_to = if p["from_status"] == "in-use" { "in-use" } else { "available" };
        let vtype = control.volume_type_of(&v).await?;
        let mut tx = control.store().write().await?;
        if let Some(mut v) = repo::get(&mut tx, &id).await?.filter(|v| v.status == "extending") {
            v.size_gb = new_size;
            v.status = back_to.into();
            v.updated_at = Some(now_ms());
            repo::update(&mut tx, &v).await?;
            control.volume_usage(&mut tx, &v, "resized", &vtype.name).await?;
        }
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        // The extra gigabytes charged for the extend go back.
        let p: serde_json::Value = serde_json::from_str(&job.params)?;
        let id = volume_id(job)?;
        if let Some(v) = control.volume_status(&id, "extending", "error_extending").await? {
            let extra = p["new_size"].as_i64().unwrap_or(v.size_gb) - v.size_gb;
            let mut tx = control.store().write().await?;
            control.release_space(&mut tx, &v.project_id, &v.type_id, Space::gigabytes(extra.max(0))).await?;
            let (about, detail) = (MessageResource::Volume(&id), MessageDetail::Failed(error.message()));
            let req = format!("req-{}", job.id);
            control
                .record_user_message(&mut tx, &v.project_id, &req, about, MessageAction::ExtendVolume, detail)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Applies a volume's new type in the guests using it (their QEMU throttling), then ends
/// the retype in the status the volume had.
struct RetypeVolume;

#[async_trait::async_trait]
impl JobHandler for RetypeVolume {
    fn job_type(&self) -> &'static str {
        RETYPE_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let p: serde_json::Value = serde_json::from_str(&job.params)?;
        let id = volume_id(job)?;
        let v = {
            let mut c = control.store().read().await?;
            repo::get(&mut c, &id).await?
        };
        let Some(v) = v.filter(|v| v.status == "retyping") else { return Ok(StepOutcome::Done) };
        if let Some(shareable) = p["shareable"].as_bool() {
            // A detached volume changing format: its data is rewritten, then the row says so.
            let (from, to) = (VolumeFormat::for_volume(v.multiattach), VolumeFormat::for_volume(shareable));
            let to = Layout { format: to, key: control.volume_layout(&v).await?.key };
            control.drivers().volumes.convert(&v.id, from, &to, v.size_gb).await?;
            let mut tx = control.store().write().await?;
            if let Some(mut now) = repo::get(&mut tx, &id).await?.filter(|v| v.status == "retyping") {
                now.multiattach = shareable;
                if let Some(t) = p["new_type_id"].as_str() {
                    now.type_id = t.into();
                }
                now.status = "available".into();
                now.updated_at = Some(now_ms());
                repo::update(&mut tx, &now).await?;
            }
            tx.commit().await?;
            return Ok(StepOutcome::Done);
        }
        let servers: Vec<String> = {
            let mut c = control.store().read().await?;
            repo::attachments(&mut c, &v.id).await?.into_iter().map(|a| a.server_id).collect()
        };
        let hv = &control.drivers().hypervisor;
        let disk = volume_disk(control, &v).await?;
        for server in &servers {
            if hv.state(server).await? == GuestState::Running {
                hv.set_volume_qos(server, &v.id, disk.qos).await?;
            }
        }
        let back_to = if p["from_status"] == "in-use" { "in-use" } else { "available" };
        control.volume_status(&id, "retyping", back_to).await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        let p: serde_json::Value = serde_json::from_str(&job.params)?;
        if let (Some(_), Some(new), Some(old)) =
            (p["shareable"].as_bool(), p["new_type_id"].as_str(), p["old_type_id"].as_str())
        {
            // The data kept its format, so the volume keeps its type: its quotas go back.
            let mut tx = control.store().write().await?;
            if let Some(v) = repo::get(&mut tx, &volume_id(job)?).await?.filter(|v| v.status == "retyping") {
                let space = control.volume_space(&mut tx, &v).await?;
                control.move_space(&mut tx, &v.project_id, new, old, space).await?;
            }
            tx.commit().await?;
        }
        let back_to = if p["from_status"] == "in-use" { "in-use" } else { "available" };
        control.volume_status(&volume_id(job)?, "retyping", back_to).await.map(|_| ())
    }
}

/// Writes a volume's content into a queued image (from an internal snapshot of a QCOW2
/// volume, so a guest may go on writing), then makes the image active and the volume
/// available again.
struct UploadVolume;

impl UploadVolume {
    fn params(job: &Job) -> Result<(String, String, String, String), Error> {
        let p: serde_json::Value = serde_json::from_str(&job.params)?;
        let field = |k: &str| p[k].as_str().map(str::to_string).ok_or_else(|| Error::Internal(format!("{k} missing")));
        Ok((field("volume_id")?, field("image_id")?, field("disk_format")?, field("from_status")?))
    }
}

#[async_trait::async_trait]
impl JobHandler for UploadVolume {
    fn job_type(&self) -> &'static str {
        UPLOAD_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, step: i64) -> Result<StepOutcome, Error> {
        let (id, image_id, disk_format, from_status) = Self::params(job)?;
        let v = {
            let mut c = control.store().read().await?;
            repo::get(&mut c, &id).await?
        };
        let v = v.ok_or_else(|| Error::Conflict(format!("volume {id} is gone")))?;
        if step == 0 {
            let out = control.drivers().images.path(&image_id).with_extension("export");
            let files = &control.drivers().volumes;
            // The image is what the guest sees: an encrypted volume's is decrypted.
            let layout = control.volume_layout(&v).await?;
            if layout.format == VolumeFormat::Qcow2 {
                let name = format!("upload-{image_id}");
                control.internal_snapshot(&v, &name, true).await?;
                files.export(&v.id, &layout, Some(&name), &out, &disk_format).await?;
                control.internal_snapshot(&v, &name, false).await?;
            } else {
                files.export(&v.id, &layout, None, &out, &disk_format).await?;
            }
            return Ok(StepOutcome::Next);
        }
        control.finish_snapshot_image(&image_id).await?;
        if from_status == "available" {
            control.volume_status(&id, "uploading", "available").await?;
        }
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        let (id, image_id, _, from_status) = Self::params(job)?;
        control.abandon_snapshot_image(&image_id).await?;
        if from_status == "available" {
            control.volume_status(&id, "uploading", "available").await?;
        }
        let (about, detail) = (MessageResource::Volume(&id), MessageDetail::Failed(error.message()));
        control.record_user_message_now(&job.project_id, &job.id, about, MessageAction::CopyVolumeToImage, detail).await
    }
}

/// Removes a volume's data, then its row, and gives its quota back.
struct DeleteVolume;

#[async_trait::async_trait]
impl JobHandler for DeleteVolume {
    fn job_type(&self) -> &'static str {
        DELETE_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let id = volume_id(job)?;
        let v = {
            let mut c = control.store().read().await?;
            repo::get(&mut c, &id).await?
        };
        let Some(v) = v.filter(|v| v.status == "deleting") else { return Ok(StepOutcome::Done) };
        control.drivers().volumes.delete(&v.id).await?;
        let vtype = control.volume_type_of(&v).await?;
        let mut tx = control.store().write().await?;
        if repo::get(&mut tx, &id).await?.is_some_and(|v| v.status == "deleting") {
            // Snapshots deleted with it (a cascade) lived in its file.
            for s in repo::volume_snapshots(&mut tx, &id).await? {
                control.release_snapshot_space(&mut tx, &s).await?;
                repo::delete_snapshot(&mut tx, &s.id).await?;
            }
            repo::delete(&mut tx, &id).await?;
            control.release_space(&mut tx, &v.project_id, &v.type_id, Space::volume(v.size_gb)).await?;
            control.volume_usage(&mut tx, &v, "deleted", &vtype.name).await?;
        }
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        control.volume_status(&volume_id(job)?, "deleting", "error_deleting").await.map(|_| ())
    }
}
