//! Volume and snapshot actions besides attach, extend and revert (Cinder's
//! `os-volume-actions` and `os-admin-actions`): flags (bootable, read-only), image metadata,
//! the reservation Nova's old attach flow makes, and the operator's tools (reset a status,
//! force a delete, record a snapshot's status as the hypervisor reports it).
//!
//! Flags are desired state like the rest: a read-only volume is plugged into guests
//! read-only from its next attachment on.

use super::{invalid, validate_metadata};
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::volumes::{self as repo, Snapshot, Volume};
use std::collections::BTreeMap;

/// What `os-volume_upload_image` asks for.
#[derive(Debug, Clone)]
pub struct VolumeUpload {
    pub image_name: String,
    /// `raw` (Cinder's default), `qcow2`, `vmdk`, `vdi` or `vhdx`.
    pub disk_format: String,
    /// Upload a volume in use (its guest keeps running).
    pub force: bool,
}

/// Volume statuses an operator may reset a volume to (Cinder's list).
const VOLUME_RESET_STATUSES: &[&str] = &[
    "available",
    "error",
    "creating",
    "deleting",
    "in-use",
    "attaching",
    "detaching",
    "error_deleting",
    "maintenance",
];

/// Snapshot statuses an operator may reset a snapshot to.
const SNAPSHOT_RESET_STATUSES: &[&str] = &["available", "error", "creating", "deleting", "error_deleting"];

/// The operator's tools, only for administrators.
const ADMIN_ACTIONS: &str = "volume:admin_actions";

impl Control {
    /// Loads a volume for `action`, lets `change` modify it, and writes it with an audit
    /// trace named `event`, all in one transaction.
    pub(super) async fn modify_volume(
        &self,
        ctx: &Ctx,
        id: &str,
        action: &str,
        event: &str,
        change: impl FnOnce(&mut Volume) -> Result<(), Error>,
    ) -> Result<Volume, Error> {
        let mut tx = self.store().write().await?;
        let mut v = self.load_volume(&mut tx, ctx, id, action).await?;
        authorize(action, &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        change(&mut v)?;
        v.updated_at = Some(now_ms());
        v.version = repo::update(&mut tx, &v).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", event, 200)
                .resource(&v.id, v.name.as_deref().unwrap_or(""))
                .in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Marks a volume bootable or not (`os-set_bootable`).
    pub async fn set_volume_bootable(&self, ctx: &Ctx, id: &str, bootable: bool) -> Result<Volume, Error> {
        self.modify_volume(ctx, id, "volume:update", "setBootable", |v| {
            v.bootable = bootable;
            Ok(())
        })
        .await
    }

    /// Makes a volume read-only for the guests it is attached to from now on
    /// (`os-update_readonly_flag`); only while nothing uses it, as Cinder requires.
    pub async fn set_volume_readonly(&self, ctx: &Ctx, id: &str, readonly: bool) -> Result<Volume, Error> {
        self.modify_volume(ctx, id, "volume:update", "updateReadonlyFlag", |v| {
            if v.status != "available" {
                return Err(invalid(format!("volume {} must be available to change its read-only flag.", v.id)));
            }
            let mut m: BTreeMap<String, String> = serde_json::from_str(&v.admin_metadata).unwrap_or_default();
            m.insert("readonly".into(), if readonly { "True" } else { "False" }.into());
            v.admin_metadata = serde_json::to_string(&m)?;
            Ok(())
        })
        .await
    }

    /// Sets (merging) or removes image metadata keys (`os-set_image_metadata`,
    /// `os-unset_image_metadata`).
    pub async fn change_volume_image_metadata(
        &self,
        ctx: &Ctx,
        id: &str,
        set: BTreeMap<String, String>,
        unset: Option<&str>,
    ) -> Result<BTreeMap<String, String>, Error> {
        validate_metadata(&set)?;
        let v = self
            .modify_volume(ctx, id, "volume:update", "updateImageMetadata", |v| {
                let mut m: BTreeMap<String, String> = serde_json::from_str(&v.image_metadata).unwrap_or_default();
                m.extend(set);
                if let Some(k) = unset {
                    m.remove(k).ok_or_else(|| Error::not_found("image metadata key", k))?;
                }
                v.image_metadata = serde_json::to_string(&m)?;
                Ok(())
            })
            .await?;
        Ok(serde_json::from_str(&v.image_metadata).unwrap_or_default())
    }

    /// Reserves an available volume for an attachment about to be made (`os-reserve`): it
    /// shows `attaching` and nobody else can attach it meanwhile.
    pub async fn reserve_volume(&self, ctx: &Ctx, id: &str) -> Result<Volume, Error> {
        self.modify_volume(ctx, id, "volume:attach", "reserveVolume", |v| {
            if v.status != "available" && !(v.multiattach && v.status == "in-use") {
                return Err(invalid(format!(
                    "volume {} status must be available to reserve, but is {}.",
                    v.id, v.status
                )));
            }
            if v.status == "available" {
                v.status = "attaching".into();
            }
            Ok(())
        })
        .await
    }

    /// Ends a reservation (`os-unreserve`): an `attaching` volume with no attachment under
    /// way is available again.
    pub async fn unreserve_volume(&self, ctx: &Ctx, id: &str) -> Result<Volume, Error> {
        let attachments = {
            let mut c = self.store().read().await?;
            self.load_volume(&mut c, ctx, id, "volume:attach").await?;
            repo::attachments(&mut c, id).await?
        };
        self.modify_volume(ctx, id, "volume:attach", "unreserveVolume", |v| {
            if v.status == "attaching" {
                v.status = if attachments.is_empty() { "available" } else { "in-use" }.into();
            }
            Ok(())
        })
        .await
    }

    /// Detaches a volume from the server named by an attachment id, or from its only
    /// server (Cinder's `os-detach`); returns the job that unplugs it (none: the volume was
    /// attached nowhere, which Cinder also answers as done).
    pub async fn detach_volume_from_its_server(
        &self,
        ctx: &Ctx,
        volume_id: &str,
        attachment_id: Option<&str>,
    ) -> Result<Option<String>, Error> {
        match self.attached_server(ctx, volume_id, attachment_id, "volume:attach").await? {
            Some(server) => self.detach_volume(ctx, &server, volume_id).await.map(Some),
            None => Ok(None),
        }
    }

    /// The server a volume is detached from: the one of the attachment named, else its
    /// only one (`None`: attached nowhere). The caller must be allowed `action` on it.
    async fn attached_server(
        &self,
        ctx: &Ctx,
        volume_id: &str,
        attachment_id: Option<&str>,
        action: &str,
    ) -> Result<Option<String>, Error> {
        let mut c = self.store().read().await?;
        let v = self.load_volume(&mut c, ctx, volume_id, action).await?;
        authorize(action, &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        let attachments = repo::attachments(&mut c, volume_id).await?;
        let chosen = match attachment_id {
            Some(a) => attachments.iter().find(|x| x.id == a).ok_or_else(|| Error::not_found("attachment", a))?,
            None => match attachments.as_slice() {
                [one] => one,
                [] => return Ok(None),
                _ => return Err(invalid("the volume is attached to several servers: give attachment_id.")),
            },
        };
        Ok(Some(chosen.server_id.clone()))
    }

    /// Sets a volume's status by hand (`os-reset_status`, administrators only): for
    /// repairing a volume left in a transitional status; nothing else changes.
    pub async fn reset_volume_status(&self, ctx: &Ctx, id: &str, status: &str) -> Result<Volume, Error> {
        if !VOLUME_RESET_STATUSES.contains(&status) {
            return Err(Error::bad_request(format!(
                "Invalid input received: status {status:?} is not a volume status."
            )));
        }
        self.modify_volume(ctx, id, ADMIN_ACTIONS, "resetVolumeStatus", |v| {
            v.status = status.into();
            Ok(())
        })
        .await
    }

    /// Gives a volume another type (`os-retype`): its QoS follows at once, also in the
    /// guests using it (a job applies it there). Shareable and non-shareable types store
    /// data differently: a change between them rewrites a detached volume's data.
    pub async fn retype_volume(&self, ctx: &Ctx, id: &str, new_type: &str) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let mut v = self.load_volume(&mut tx, ctx, id, "volume:update").await?;
        authorize("volume:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        let t = self.usable_volume_type(&mut tx, ctx, new_type).await?;
        if !matches!(v.status.as_str(), "available" | "in-use") {
            return Err(invalid(format!("volume {} must be available or in-use to retype, not {}.", v.id, v.status)));
        }
        if t.id == v.type_id {
            return Err(invalid(format!("volume {} already has type {}.", v.id, t.name)));
        }
        // Shareable volumes are raw files, others QCOW2: a change between them rewrites the
        // data, which only a detached volume without snapshots (they live in the QCOW2 file)
        // allows.
        // Encryption is fixed for a volume's life (its data would need rewriting under a key):
        // the type's encryption may not change (an EVS volume encrypted by its own flag
        // stays encrypted under any plaintext type).
        let (was, will) =
            (self.type_is_encrypted(&mut tx, &v.type_id).await?, self.type_is_encrypted(&mut tx, &t.id).await?);
        if was != will {
            return Err(Error::bad_request("Invalid input received: Retype cannot change encryption requirements."));
        }
        let shareable = super::types::type_is_multiattach(&t);
        let convert = shareable != v.multiattach;
        if convert {
            if v.status != "available" {
                return Err(invalid(format!(
                    "volume {} must be detached (available) to change between shareable and non-shareable types, \
                     not {}.",
                    v.id, v.status
                )));
            }
            if !repo::volume_snapshots(&mut tx, &v.id).await?.is_empty() {
                return Err(invalid(format!(
                    "volume {} has snapshots: delete them before changing between shareable and non-shareable \
                     types.",
                    v.id
                )));
            }
            if nimbus_store::backups::volume_backups(&mut tx, &v.id).await?.iter().any(|b| b.status == "creating") {
                return Err(invalid(format!("a backup of volume {} is being made; retype it after.", v.id)));
            }
        }
        // The volume and its snapshots count against the new type's quotas from now on.
        let space = self.volume_space(&mut tx, &v).await?;
        self.move_space(&mut tx, &v.project_id, &v.type_id, &t.id, space).await?;
        let from_status = v.status.clone();
        // A conversion gives the volume its new type when its data has the new format
        // (Cinder's clients wait for the type to change, then read the status).
        if !convert {
            v.type_id = t.id.clone();
        }
        v.status = "retyping".into();
        v.updated_at = Some(now_ms());
        repo::update(&mut tx, &v).await?;
        let params = serde_json::json!({"volume_id": v.id, "from_status": from_status,
            "shareable": convert.then_some(shareable), "new_type_id": t.id, "old_type_id": v.type_id});
        let entities = serde_json::json!({"volume_id": v.id, "volume_type": t.name});
        let job = self.new_job_with(&mut tx, &v.project_id, super::RETYPE_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "retypeVolume", 202).resource(&v.id, &t.name).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Detaches a volume whatever its guest does (`os-force_detach`, administrators only).
    pub async fn force_detach_volume(
        &self,
        ctx: &Ctx,
        volume_id: &str,
        attachment_id: Option<&str>,
    ) -> Result<String, Error> {
        let server = self
            .attached_server(ctx, volume_id, attachment_id, ADMIN_ACTIONS)
            .await?
            .ok_or_else(|| invalid(format!("volume {volume_id} is not attached.")))?;
        self.detach_volume_as(ctx, &server, volume_id, true).await
    }

    /// Makes an image of a volume's content (`os-volume_upload_image`): the image is queued
    /// at once, and a job writes the volume's data into it at this point in time (a volume in
    /// use only with `force`, snapshotted while its guest runs). Returns the image id.
    pub async fn upload_volume_to_image(&self, ctx: &Ctx, id: &str, req: VolumeUpload) -> Result<String, Error> {
        if !matches!(req.disk_format.as_str(), "raw" | "qcow2" | "vmdk" | "vdi" | "vhdx") {
            return Err(Error::bad_request(format!(
                "Invalid input received: disk format {:?} is not offered (raw, qcow2, vmdk, vdi, vhdx).",
                req.disk_format
            )));
        }
        let mut tx = self.store().write().await?;
        let mut v = self.load_volume(&mut tx, ctx, id, "volume:update").await?;
        authorize("volume:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        match (v.status.as_str(), req.force) {
            ("available", _) | ("in-use", true) => {}
            ("in-use", false) => {
                return Err(invalid(format!("volume {} is in use: upload it with force, or detach it first.", v.id)))
            }
            (other, _) => return Err(invalid(format!("volume {} must be available or in-use, not {other}.", v.id))),
        }
        let mut properties = serde_json::Map::new();
        let image_meta: BTreeMap<String, String> = serde_json::from_str(&v.image_metadata).unwrap_or_default();
        for (k, val) in image_meta {
            // What the volume's own image said about its content (os_distro...) carries over.
            if !crate::images::RESERVED.contains(&k.as_str())
                && !matches!(k.as_str(), "image_id" | "image_name" | "checksum" | "size" | "min_disk" | "min_ram")
            {
                properties.insert(k, serde_json::Value::String(val));
            }
        }
        properties.insert("source_volume_id".into(), serde_json::json!(v.id));
        let queued = crate::images::QueuedImage {
            owner: v.project_id.clone(),
            name: req.image_name.clone(),
            disk_format: req.disk_format.clone(),
            min_disk: v.size_gb,
            min_ram: 0,
            properties,
        };
        let image_id = self.queue_image(&mut tx, ctx, queued).await?;
        let from_status = v.status.clone();
        if v.status == "available" {
            v.status = "uploading".into();
            v.updated_at = Some(now_ms());
            repo::update(&mut tx, &v).await?;
        }
        let params = serde_json::json!({"volume_id": v.id, "image_id": image_id, "disk_format": req.disk_format,
            "from_status": from_status});
        let entities = serde_json::json!({"volume_id": v.id, "image_id": image_id});
        self.new_job_with(&mut tx, &v.project_id, super::UPLOAD_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "uploadToImage", 202).resource(&v.id, &image_id).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(image_id)
    }

    /// Loads a snapshot for `action`, lets `change` modify it and writes it, audited.
    pub(super) async fn modify_snapshot(
        &self,
        ctx: &Ctx,
        id: &str,
        action: &str,
        event: &str,
        change: impl FnOnce(&mut Snapshot) -> Result<(), Error>,
    ) -> Result<Snapshot, Error> {
        let mut tx = self.store().write().await?;
        let mut s = self.load_snapshot(&mut tx, ctx, id, action).await?;
        authorize(action, &ctx.principal, &Target { project_id: Some(&s.project_id), ..Default::default() })?;
        change(&mut s)?;
        s.updated_at = Some(now_ms());
        s.version = repo::update_snapshot(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "snapshot", event, 200)
                .resource(&s.id, s.name.as_deref().unwrap_or(""))
                .in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Sets a snapshot's status by hand (`os-reset_status`, administrators only).
    pub async fn reset_snapshot_status(&self, ctx: &Ctx, id: &str, status: &str) -> Result<Snapshot, Error> {
        if !SNAPSHOT_RESET_STATUSES.contains(&status) {
            return Err(Error::bad_request(format!(
                "Invalid input received: status {status:?} is not a snapshot status."
            )));
        }
        self.modify_snapshot(ctx, id, ADMIN_ACTIONS, "resetSnapshotStatus", |s| {
            s.status = status.into();
            s.progress = None;
            Ok(())
        })
        .await
    }

    /// Records the status and progress of a snapshot being made outside the volume service
    /// (`os-update_snapshot_status`, Nova's assisted snapshots): only from `creating` or
    /// `deleting`, to the statuses that follow them.
    pub async fn update_snapshot_status(
        &self,
        ctx: &Ctx,
        id: &str,
        status: &str,
        progress: Option<String>,
    ) -> Result<Snapshot, Error> {
        if progress
            .as_deref()
            .is_some_and(|p| p.strip_suffix('%').and_then(|n| n.parse::<u8>().ok()).is_none_or(|n| n > 100))
        {
            return Err(Error::bad_request("Invalid input received: progress is a percentage such as \"80%\"."));
        }
        self.modify_snapshot(ctx, id, "volume:update", "updateSnapshotStatus", |s| {
            let allowed: &[&str] = match s.status.as_str() {
                "creating" => &["creating", "available", "error"],
                "deleting" => &["deleting", "error_deleting"],
                _ => &[],
            };
            if !allowed.contains(&status) {
                return Err(Error::bad_request(format!(
                    "Invalid input received: a snapshot in status {} cannot become {status}.",
                    s.status
                )));
            }
            s.status = status.into();
            s.progress = progress;
            Ok(())
        })
        .await
    }

    /// Deletes a snapshot whatever its status (`os-force_delete`, administrators only).
    pub async fn force_delete_snapshot(&self, ctx: &Ctx, id: &str) -> Result<String, Error> {
        self.delete_snapshot_as(ctx, id, true).await
    }
}
