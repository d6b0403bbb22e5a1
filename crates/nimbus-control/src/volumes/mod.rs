//! Block storage (EVS, seed 6.2.1; Cinder v3): volume types and volumes, for every front end.
//!
//! A volume's row is its desired state; durable jobs (`jobs.rs`) make its QCOW2 file match:
//! create (blank, or from an image), extend, delete. Each call checks the caller's rights
//! first, then the volume's status against Cinder's rules for that action, then the quotas
//! (`volumes`, `gigabytes`), all in the transaction that records the change, its job and its
//! audit trace.

mod actions;
mod attach;
pub mod backends;
pub(crate) mod encryption;
mod groups;
mod jobs;
pub(crate) mod messages;
mod snapshots;
mod tags;
mod transfers;
mod types;

use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::volumes::{self as repo, Volume, VolumeFilter, VolumeType};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

pub use actions::VolumeUpload;
pub(crate) use attach::data_device;
pub use attach::{ATTACH_JOB, DETACH_JOB, MAX_VOLUMES_PER_SERVER};
pub use encryption::EncryptionSpec;
pub use groups::{GroupCreate, GroupSource, GroupUpdate, GROUP_RESET_STATUSES};
pub use jobs::{register_jobs, CREATE_JOB, DELETE_JOB, EXTEND_JOB, RETYPE_JOB, UPLOAD_JOB};
pub(crate) use snapshots::snapshot_name;
pub use snapshots::{SnapshotCreate, CREATE_SNAPSHOT_JOB, DELETE_SNAPSHOT_JOB, REVERT_JOB};
pub use tags::TagQuery;
pub use transfers::TransferCreate;
pub use types::{disk_qos, BUILTIN_TYPES, QOS_CONSUMERS, QOS_LIMIT_KEYS};

/// The largest volume (seed 6.2.1: 32 TB).
pub const MAX_VOLUME_GB: i64 = 32_768;

/// Prefix of the messages of actions refused in a volume's status (Cinder's 400s).
pub const INVALID_VOLUME: &str = "Invalid volume: ";

/// What a create asks for.
#[derive(Debug, Clone, Default)]
pub struct VolumeCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `None` only when the source gives the size.
    pub size_gb: Option<i64>,
    /// A type id or name; `None`: the region's default type.
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Create from this image (a bootable system disk).
    pub image_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub backup_id: Option<String>,
    pub multiattach: bool,
    /// The generic group it is made in.
    pub group_id: Option<String>,
    /// EVS tags (key: value) it is made with.
    pub tags: BTreeMap<String, String>,
}

/// How a volume is deleted.
#[derive(Debug, Clone, Copy, Default)]
pub struct VolumeDelete {
    /// Its snapshots too (otherwise a volume with snapshots stays).
    pub cascade: bool,
    /// Whatever its status (administrators only).
    pub force: bool,
}

/// What a volume update changes.
#[derive(Debug, Clone, Default)]
pub struct VolumeUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// What a volume made from an image keeps of it (Cinder's `volume_image_metadata`): the
/// image's identity and format, then its own properties.
fn image_metadata_of(i: &nimbus_store::images::Image) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(serde_json::Value::Object(props)) = serde_json::from_str(&i.properties) {
        for (k, v) in props {
            m.insert(k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    m.insert("image_id".into(), i.id.clone());
    m.insert("image_name".into(), i.name.clone());
    m.insert("min_disk".into(), i.min_disk.to_string());
    m.insert("min_ram".into(), i.min_ram.to_string());
    for (k, v) in
        [("disk_format", &i.disk_format), ("container_format", &i.container_format), ("checksum", &i.checksum)]
    {
        if let Some(v) = v {
            m.insert(k.into(), v.clone());
        }
    }
    if let Some(size) = i.size {
        m.insert("size".into(), size.to_string());
    }
    m
}

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("{INVALID_VOLUME}{why}"))
}

pub(crate) fn validate_metadata(m: &BTreeMap<String, String>) -> Result<(), Error> {
    for (k, v) in m {
        if k.is_empty() || k.len() > 255 || v.len() > 255 {
            return Err(Error::bad_request("Metadata keys are 1-255 characters and values at most 255."));
        }
    }
    Ok(())
}

/// Block storage a change takes from a project's quotas or gives back: counted in total
/// (`volumes`, `snapshots`, `gigabytes`) and per volume type (`volumes_<type>`...).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Space {
    pub volumes: i64,
    pub snapshots: i64,
    pub gigabytes: i64,
}

impl Space {
    /// One volume of `size_gb`.
    pub fn volume(size_gb: i64) -> Self {
        Space { volumes: 1, snapshots: 0, gigabytes: size_gb }
    }

    /// One snapshot of a volume of `size_gb`.
    pub fn snapshot(size_gb: i64) -> Self {
        Space { volumes: 0, snapshots: 1, gigabytes: size_gb }
    }

    /// Only gigabytes (an extend).
    pub fn gigabytes(n: i64) -> Self {
        Space { volumes: 0, snapshots: 0, gigabytes: n }
    }

    fn parts(self) -> [(&'static str, i64); 3] {
        [("volumes", self.volumes), ("snapshots", self.snapshots), ("gigabytes", self.gigabytes)]
    }
}

impl Control {
    /// Charges `space` of volume type `type_id` to a project: its totals and the type's own
    /// quotas, in the caller's transaction (fails with `OverQuota`).
    pub(crate) async fn charge_space(
        &self,
        tx: &mut AnyConnection,
        project: &str,
        type_id: &str,
        space: Space,
    ) -> Result<(), Error> {
        let type_name = repo::find_type(tx, type_id).await?.map(|t| t.name);
        for (base, n) in space.parts() {
            if n == 0 {
                continue;
            }
            self.charge_quota(tx, project, base, n).await?;
            if let Some(t) = &type_name {
                self.charge_quota(tx, project, &crate::quota::per_type_resource(base, t), n).await?;
            }
        }
        Ok(())
    }

    /// Gives `space` of volume type `type_id` back to a project.
    pub(crate) async fn release_space(
        &self,
        tx: &mut AnyConnection,
        project: &str,
        type_id: &str,
        space: Space,
    ) -> Result<(), Error> {
        let type_name = repo::find_type(tx, type_id).await?.map(|t| t.name);
        for (base, n) in space.parts() {
            if n == 0 {
                continue;
            }
            self.release_quota(tx, project, base, n).await?;
            if let Some(t) = &type_name {
                self.release_quota(tx, project, &crate::quota::per_type_resource(base, t), n).await?;
            }
        }
        Ok(())
    }

    /// Moves `space` from one volume type's quotas to another's (a retype; the totals stay).
    pub(crate) async fn move_space(
        &self,
        tx: &mut AnyConnection,
        project: &str,
        from_type: &str,
        to_type: &str,
        space: Space,
    ) -> Result<(), Error> {
        let from = repo::find_type(tx, from_type).await?.map(|t| t.name);
        let to = repo::find_type(tx, to_type).await?.map(|t| t.name);
        for (base, n) in space.parts() {
            if n == 0 {
                continue;
            }
            if let Some(t) = &to {
                self.charge_quota(tx, project, &crate::quota::per_type_resource(base, t), n).await?;
            }
            if let Some(f) = &from {
                self.release_quota(tx, project, &crate::quota::per_type_resource(base, f), n).await?;
            }
        }
        Ok(())
    }

    /// What a volume and its snapshots hold of a project's quotas.
    pub(crate) async fn volume_space(&self, tx: &mut AnyConnection, v: &Volume) -> Result<Space, Error> {
        let snapshots = repo::volume_snapshots(tx, &v.id).await?;
        Ok(Space {
            volumes: 1,
            snapshots: snapshots.len() as i64,
            gigabytes: v.size_gb + snapshots.iter().map(|s| s.size_gb).sum::<i64>(),
        })
    }

    /// A project's `per_volume_gigabytes` quota: the largest volume it may have.
    async fn check_per_volume_quota(&self, tx: &mut AnyConnection, project: &str, size: i64) -> Result<(), Error> {
        let limit = self.quota_limit(tx, project, "per_volume_gigabytes").await?;
        if limit >= 0 && size > limit {
            return Err(Error::OverQuota {
                resource: "per_volume_gigabytes".into(),
                limit,
                in_use: 0,
                requested: size,
            });
        }
        Ok(())
    }

    /// Loads a volume the caller may see (404 otherwise), for `action`.
    pub(crate) async fn load_volume(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Volume, Error> {
        let v = repo::get(c, id).await?.ok_or_else(|| Error::not_found("volume", id))?;
        let target = Target { project_id: Some(&v.project_id), ..Default::default() };
        authorize_visible("volume:get", action, &ctx.principal, &target, "volume", id)?;
        Ok(v)
    }

    /// Creates a volume: checks, charges `volumes` and `gigabytes`, records the row in
    /// `creating` and queues the job that makes its data. Returns the volume and the job.
    /// A volume made from a backup is that backup's restore to a new volume.
    pub async fn create_volume(&self, ctx: &Ctx, req: VolumeCreate) -> Result<(Volume, String), Error> {
        if let Some(backup) = req.backup_id.clone() {
            let target = crate::backups::RestoreTarget::New {
                name: req.name,
                size_gb: req.size_gb,
                volume_type: req.volume_type,
                availability_zone: req.availability_zone,
            };
            let (_, v, job) = self.restore_backup(ctx, &backup, target).await?;
            return Ok((v, job));
        }
        let (v, job) = self.insert_volume(ctx, req, None).await?;
        Ok((v, job.unwrap_or_default()))
    }

    /// A new volume's row, for a backup's restore (`restoring-backup`, no create job).
    pub(crate) async fn new_volume_row(&self, ctx: &Ctx, req: VolumeCreate, backup_id: &str) -> Result<Volume, Error> {
        Ok(self.insert_volume(ctx, req, Some(backup_id)).await?.0)
    }

    /// Removes a volume row made for a restore that could not start, with its quota.
    pub(crate) async fn discard_volume_row(&self, v: &Volume) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        if repo::delete(&mut tx, &v.id).await? {
            self.release_space(&mut tx, &v.project_id, &v.type_id, Space::volume(v.size_gb)).await?;
        }
        tx.commit().await
    }

    /// The checks and the row of a new volume: made by a create job, or (`restoring`) by
    /// the restore of that backup.
    async fn insert_volume(
        &self,
        ctx: &Ctx,
        req: VolumeCreate,
        restoring: Option<&str>,
    ) -> Result<(Volume, Option<String>), Error> {
        let mut tx = self.store().write().await?;
        let made = self.insert_volume_in(&mut tx, ctx, req, restoring).await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(made)
    }

    /// [`insert_volume`](Self::insert_volume) in the caller's transaction (a server made
    /// with its boot volume); the caller commits and wakes the jobs.
    pub(crate) async fn insert_volume_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        req: VolumeCreate,
        restoring: Option<&str>,
    ) -> Result<(Volume, Option<String>), Error> {
        let project = ctx
            .principal
            .project_id()
            .ok_or_else(|| Error::Forbidden("Volumes belong to projects: scope the request to one.".into()))?
            .to_string();
        authorize("volume:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        validate_metadata(&req.metadata)?;
        tags::validate_volume_tags(&req.tags, req.tags.len())?;
        // The snapshot a volume is made from: available, and it gives the default size and type.
        let snapshot = match &req.snapshot_id {
            Some(id) => {
                let mut c = self.store().read().await?;
                let snap = self.load_snapshot(&mut c, ctx, id, "volume:get").await?;
                if snap.status != "available" {
                    return Err(Error::bad_request(format!(
                        "Invalid snapshot: Originating snapshot status must be one of 'available' values, not {}.",
                        snap.status
                    )));
                }
                let source = repo::get(&mut c, &snap.volume_id).await?;
                Some((snap, source))
            }
            None => None,
        };
        // The volume a clone is made from: readable now (available or attached), and it
        // gives the default size and type. Its data is copied at one point in time.
        let source = match &req.source_volid {
            Some(id) => {
                let mut c = self.store().read().await?;
                let src = self.load_volume(&mut c, ctx, id, "volume:get").await?;
                if !matches!(src.status.as_str(), "available" | "in-use") {
                    return Err(invalid(format!(
                        "source volume {} is {}: it must be available or in-use.",
                        src.id, src.status
                    )));
                }
                if src.multiattach && src.status == "in-use" {
                    return Err(invalid(
                        "a shareable volume in use has no single point in time to clone; detach it first.",
                    ));
                }
                Some(src)
            }
            None => None,
        };
        // The image of a system disk: it must be active and fit.
        let image = match &req.image_id {
            Some(id) => {
                let img = self.get_image(ctx, id).await?.image;
                if img.status != "active" {
                    return Err(Error::bad_request(format!("Image {id} is not active.")));
                }
                Some(img)
            }
            None => None,
        };
        let size = req
            .size_gb
            .or(snapshot.as_ref().map(|(s, _)| s.size_gb))
            .or(source.as_ref().map(|v| v.size_gb))
            .ok_or_else(|| Error::bad_request("The size of the volume is required."))?;
        if let Some(src) = &source {
            if size < src.size_gb {
                return Err(Error::bad_request(format!(
                    "Invalid input received: a clone is at least its source's {} GB, not {size}.",
                    src.size_gb
                )));
            }
        }
        if let Some((snap, _)) = &snapshot {
            if size < snap.size_gb {
                return Err(Error::bad_request(format!(
                    "Invalid input received: volume size '{size}' must be an integer and greater than 0 and at                      least the snapshot's {} GB.",
                    snap.size_gb
                )));
            }
        }
        // Seed 6.2.1: system disks 1 GB - 32 TB, data disks from the configured minimum. A
        // copy of a system disk (a clone, a snapshot's or a backup's restore) is one too.
        let system_copy =
            snapshot.as_ref().and_then(|(_, v)| v.as_ref()).or(source.as_ref()).is_some_and(|v| v.bootable)
                || restoring.is_some();
        let system = image.is_some() || system_copy;
        let min = if system { 1 } else { self.config().volume_min_gb };
        if !(min..=MAX_VOLUME_GB).contains(&size) {
            return Err(Error::bad_request(format!(
                "Invalid input received: the size of a {} must be {min} to {MAX_VOLUME_GB} GB, not {size}.",
                if system { "system disk" } else { "data disk" }
            )));
        }
        if let Some(img) = &image {
            let needed_gb = (img.virtual_size.unwrap_or(0) + (1 << 30) - 1) >> 30;
            if img.min_disk > size || needed_gb > size {
                return Err(Error::bad_request(format!(
                    "Invalid input received: image {} needs a volume of at least {} GB.",
                    img.id,
                    img.min_disk.max(needed_gb)
                )));
            }
        }
        let zones = &self.config().availability_zones;
        let zone = match &req.availability_zone {
            Some(z) if zones.contains(z) => z.clone(),
            Some(z) => return Err(Error::bad_request(format!("Availability zone '{z}' is invalid."))),
            None => zones.first().cloned().unwrap_or_else(|| "nova".into()),
        };
        // A copy (of a snapshot or a volume) is what its source was: bootable, with the
        // source's image metadata.
        let copied_from = snapshot.as_ref().and_then(|(_, v)| v.as_ref()).or(source.as_ref());
        let source_type = copied_from.map(|v| v.type_id.clone());
        // A type asked for must be one the caller may use; a copy keeps its source's.
        let vtype = match (&req.volume_type, source_type) {
            (Some(asked), _) => self.usable_volume_type(&mut *tx, ctx, asked).await?,
            (None, Some(source)) => {
                repo::find_type(&mut *tx, &source).await?.ok_or_else(|| Error::not_found("volume type", &source))?
            }
            (None, None) => self.usable_volume_type(&mut *tx, ctx, "default").await?,
        };
        if let Some(g) = &req.group_id {
            self.check_new_member(&mut *tx, ctx, g, &vtype.id, &zone).await?;
        }
        // Encryption: a copy is encrypted as its source (with its own copy of the key), a
        // restore as its backup; otherwise the type (Cinder) or the EVS flag decides.
        let evs_encrypted = encryption::evs_asks_encryption(&req.metadata)?;
        let type_bits = self.type_encryption_bits(&mut *tx, &vtype).await?;
        let inherited = match (copied_from, restoring) {
            (Some(src), _) => Some((src.encryption_key_id.clone(), "its source volume")),
            (None, Some(bid)) => {
                let b =
                    nimbus_store::backups::get(&mut *tx, bid).await?.ok_or_else(|| Error::not_found("backup", bid))?;
                Some((b.encryption_key_id, "the backup"))
            }
            (None, None) => None,
        };
        let encryption_key_id = match inherited {
            Some((key, what)) => {
                if req.volume_type.is_some() && type_bits.is_some() != key.is_some() {
                    return Err(Error::bad_request(format!(
                        "Invalid input received: volume type {} is {}encrypted and {what} is {}: a copy keeps its                          source's encryption.",
                        vtype.name,
                        if type_bits.is_some() { "" } else { "not " },
                        if key.is_some() { "encrypted" } else { "not" },
                    )));
                }
                self.copy_volume_key(&mut *tx, key.as_deref()).await?
            }
            None => match type_bits.or(evs_encrypted.then_some(256)) {
                Some(bits) => Some(self.new_volume_key(&mut *tx, bits).await?),
                None => None,
            },
        };
        self.check_per_volume_quota(&mut *tx, &project, size).await?;
        self.charge_space(&mut *tx, &project, &vtype.id, Space::volume(size)).await?;
        let now = now_ms();
        let v = Volume {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            user_id: ctx.principal.user_id.clone(),
            name: req.name.clone(),
            description: req.description.clone(),
            size_gb: size,
            type_id: vtype.id.clone(),
            availability_zone: zone,
            status: if restoring.is_some() { "restoring-backup" } else { "creating" }.into(),
            bootable: image.is_some() || copied_from.is_some_and(|v| v.bootable),
            multiattach: req.multiattach || types::type_is_multiattach(&vtype),
            image_id: image.as_ref().map(|i| i.id.clone()),
            snapshot_id: snapshot.as_ref().map(|(s, _)| s.id.clone()),
            source_volid: source.as_ref().map(|v| v.id.clone()),
            backup_id: restoring.map(str::to_string),
            metadata: serde_json::to_string(&req.metadata)?,
            admin_metadata: "{}".into(),
            image_metadata: match (&image, copied_from) {
                (Some(i), _) => serde_json::to_string(&image_metadata_of(i))?,
                (None, Some(src)) => src.image_metadata.clone(),
                (None, None) => "{}".into(),
            },
            created_at: now,
            updated_at: Some(now),
            version: 0,
            group_id: req.group_id.clone(),
            encryption_key_id,
        };
        repo::insert(&mut *tx, &v).await?;
        self.set_volume_tags_in(&mut *tx, &v, &req.tags).await?;
        let job = match restoring {
            Some(_) => None,
            None => {
                let params = serde_json::json!({"volume_id": v.id});
                let entities = serde_json::json!({"volume_id": v.id, "volume_type": vtype.name, "size": size,
                    "name": v.name.clone().unwrap_or_default()});
                Some(self.new_job_with(&mut *tx, &project, CREATE_JOB, params, None, entities).await?)
            }
        };
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("EVS", "volume", "createVolume", 202)
                .resource(&v.id, v.name.as_deref().unwrap_or(""))
                .in_project(&project),
        )
        .await?;
        Ok((v, job))
    }

    /// The project a listing is limited to: the caller's, unless an operator asks for every
    /// project (`None`).
    pub(crate) fn listing_scope(ctx: &Ctx, all_projects: bool) -> Result<Option<String>, Error> {
        if all_projects && ctx.principal.can_read_all() {
            return Ok(None);
        }
        let project = ctx
            .principal
            .project_id()
            .ok_or_else(|| Error::Forbidden("Scope the request to a project.".into()))?
            .to_string();
        authorize("volume:get", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        Ok(Some(project))
    }

    /// Volumes the caller may see, newest first.
    pub async fn list_volumes(
        &self,
        ctx: &Ctx,
        mut filter: VolumeFilter,
        all_projects: bool,
        page: &PageRequest,
    ) -> Result<Vec<Volume>, Error> {
        if let Some(project) = Self::listing_scope(ctx, all_projects)? {
            filter.project_id = Some(project);
        }
        if let Some(m) = &page.marker {
            let mut c = self.store().read().await?;
            self.load_volume(&mut c, ctx, m, "volume:get").await?;
        }
        let mut c = self.store().read().await?;
        repo::list(&mut c, &filter, page).await
    }

    /// One volume the caller may see.
    pub async fn get_volume(&self, ctx: &Ctx, id: &str) -> Result<Volume, Error> {
        let mut c = self.store().read().await?;
        self.load_volume(&mut c, ctx, id, "volume:get").await
    }

    /// A volume's type (every volume has one).
    pub async fn volume_type_of(&self, v: &Volume) -> Result<VolumeType, Error> {
        let mut c = self.store().read().await?;
        repo::find_type(&mut c, &v.type_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("volume {} lost its type", v.id)))
    }

    /// A volume's attachments to servers.
    pub async fn volume_attachments(&self, v: &Volume) -> Result<Vec<repo::Attachment>, Error> {
        let mut c = self.store().read().await?;
        repo::attachments(&mut c, &v.id).await
    }

    /// Renames or re-describes a volume.
    pub async fn update_volume(&self, ctx: &Ctx, id: &str, u: VolumeUpdate) -> Result<Volume, Error> {
        self.modify_volume(ctx, id, "volume:update", "updateVolume", |v| {
            if let Some(n) = u.name {
                if n.len() > 255 {
                    return Err(Error::bad_request("Invalid input received: names are at most 255 characters."));
                }
                v.name = Some(n);
            }
            if let Some(d) = u.description {
                v.description = Some(d);
            }
            Ok(())
        })
        .await
    }

    /// Sets user metadata: merged into the existing keys, or replacing them all.
    pub async fn set_volume_metadata(
        &self,
        ctx: &Ctx,
        id: &str,
        metadata: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>, Error> {
        validate_metadata(&metadata)?;
        self.change_volume_metadata(ctx, id, |m| {
            if replace {
                m.clear();
            }
            m.extend(metadata);
            Ok(())
        })
        .await
    }

    /// Removes one metadata key (404 if absent).
    pub async fn delete_volume_metadata_key(&self, ctx: &Ctx, id: &str, key: &str) -> Result<(), Error> {
        self.change_volume_metadata(ctx, id, |m| {
            m.remove(key).map(|_| ()).ok_or_else(|| Error::not_found("metadata key", key))
        })
        .await
        .map(|_| ())
    }

    async fn change_volume_metadata(
        &self,
        ctx: &Ctx,
        id: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), Error>,
    ) -> Result<BTreeMap<String, String>, Error> {
        let v = self
            .modify_volume(ctx, id, "volume:update", "updateVolumeMetadata", |v| {
                let mut m: BTreeMap<String, String> = serde_json::from_str(&v.metadata).unwrap_or_default();
                change(&mut m)?;
                v.metadata = serde_json::to_string(&m)?;
                Ok(())
            })
            .await?;
        Ok(serde_json::from_str(&v.metadata).unwrap_or_default())
    }

    /// Extends a volume (growing only), charging the extra gigabytes; a job grows its data.
    /// With `online`, a volume attached to one server is grown while the guest runs (Cinder
    /// offers that from microversion 3.42); a shared volume in use is never resized.
    pub async fn extend_volume(&self, ctx: &Ctx, id: &str, new_size: i64, online: bool) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let mut v = self.load_volume(&mut tx, ctx, id, "volume:extend").await?;
        let in_use_ok = online && v.status == "in-use" && !v.multiattach;
        if v.status != "available" && !in_use_ok {
            let allowed = if online { "available or in-use (and not shared)" } else { "available" };
            return Err(invalid(format!(
                "Volume status must be {allowed} to extend, but current status is: {}.",
                v.status
            )));
        }
        if new_size <= v.size_gb {
            return Err(Error::bad_request(format!(
                "New size for extend must be greater than current size. (current: {}, extended: {new_size}).",
                v.size_gb
            )));
        }
        if new_size > MAX_VOLUME_GB {
            return Err(Error::bad_request(format!("Invalid input received: volumes are at most {MAX_VOLUME_GB} GB.")));
        }
        self.check_per_volume_quota(&mut tx, &v.project_id, new_size).await?;
        self.charge_space(&mut tx, &v.project_id, &v.type_id, Space::gigabytes(new_size - v.size_gb)).await?;
        let (old, from_status) = (v.size_gb, v.status.clone());
        v.status = "extending".into();
        v.updated_at = Some(now_ms());
        repo::update(&mut tx, &v).await?;
        let params =
            serde_json::json!({"volume_id": v.id, "new_size": new_size, "old_size": old, "from_status": from_status});
        let entities = serde_json::json!({"volume_id": v.id, "size": new_size});
        let job = self.new_job_with(&mut tx, &v.project_id, EXTEND_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "extendVolume", 202).resource(&v.id, "").in_project(&v.project_id),
        )
        .await?;
        // The server whose disk grows records it among its actions, as Nova's do.
        for a in repo::attachments(&mut tx, &v.id).await? {
            self.audit(
                &mut tx,
                ctx,
                AuditEvent::new("ECS", "ecs", "extendVolume", 202).resource(&a.server_id, "").in_project(&v.project_id),
            )
            .await?;
        }
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Deletes a volume that is not attached, not busy and has no snapshots; a job removes
    /// its data, then its row, and releases its quota.
    pub async fn delete_volume(&self, ctx: &Ctx, id: &str) -> Result<String, Error> {
        self.delete_volume_as(ctx, id, VolumeDelete::default()).await
    }

    /// Deletes a volume as `how` says: with its snapshots (`cascade`), or whatever its
    /// status (`force`, an administrator's tool); never while attached or read by a backup.
    pub async fn delete_volume_as(&self, ctx: &Ctx, id: &str, how: VolumeDelete) -> Result<String, Error> {
        let action = if how.force { "volume:admin_actions" } else { "volume:delete" };
        let mut tx = self.store().write().await?;
        let mut v = self.load_volume(&mut tx, ctx, id, action).await?;
        authorize(action, &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        if let Some(g) = &v.group_id {
            return Err(invalid(format!(
                "volume {} belongs to group {g}: remove it from the group, or delete the group with its volumes.",
                v.id
            )));
        }
        let deletable = ["available", "error", "error_restoring", "error_extending", "error_deleting"];
        let snapshots = repo::volume_snapshots(&mut tx, &v.id).await?;
        if !snapshots.is_empty() && !how.cascade {
            return Err(invalid(format!("Volume {} still has {} dependent snapshots.", v.id, snapshots.len())));
        }
        if let Some(busy) = snapshots.iter().find(|s| !matches!(s.status.as_str(), "available" | "error")) {
            return Err(invalid(format!("snapshot {} is {}: it must be available or error.", busy.id, busy.status)));
        }
        // Backups outlive their volume, but one being made still reads it.
        if nimbus_store::backups::volume_backups(&mut tx, &v.id).await?.iter().any(|b| b.status == "creating") {
            return Err(invalid(format!("a backup of volume {} is being made; delete it after.", v.id)));
        }
        let status_ok = how.force || deletable.contains(&v.status.as_str());
        if !status_ok || !repo::attachments(&mut tx, &v.id).await?.is_empty() {
            return Err(invalid(
                "Volume status must be available or error or error_restoring or error_extending or \
                 error_managing and must not be migrating, attached, belong to a group, have snapshots or be \
                 disassociated from snapshots after volume transfer.",
            ));
        }
        // The volume's file holds its snapshots: they go with it, in the same job.
        for mut s in snapshots {
            s.status = "deleting".into();
            s.updated_at = Some(now_ms());
            repo::update_snapshot(&mut tx, &s).await?;
        }
        v.status = "deleting".into();
        v.updated_at = Some(now_ms());
        repo::update(&mut tx, &v).await?;
        let params = serde_json::json!({"volume_id": v.id});
        let entities = serde_json::json!({"volume_id": v.id});
        let job = self.new_job_with(&mut tx, &v.project_id, DELETE_JOB, params, None, entities).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "deleteVolume", 202)
                .resource(&v.id, v.name.as_deref().unwrap_or(""))
                .in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Deletes a server's boot volume with it (Nova's `delete_on_termination`), in the
    /// server's delete transaction; a volume that has snapshots or other servers stays.
    pub(crate) async fn delete_volume_with_server(&self, tx: &mut AnyConnection, id: &str) -> Result<(), Error> {
        let Some(mut v) = repo::get(tx, id).await? else { return Ok(()) };
        if v.status != "available"
            || !repo::volume_snapshots(tx, id).await?.is_empty()
            || !repo::attachments(tx, id).await?.is_empty()
        {
            return Ok(());
        }
        v.status = "deleting".into();
        v.updated_at = Some(now_ms());
        repo::update(tx, &v).await?;
        let params = serde_json::json!({"volume_id": v.id});
        self.new_job_with(tx, &v.project_id, DELETE_JOB, params.clone(), None, params).await?;
        Ok(())
    }

    /// Records a change of a volume's billable size (metering prices GB-hours per type).
    pub(crate) async fn volume_usage(
        &self,
        tx: &mut AnyConnection,
        v: &Volume,
        event: &str,
        type_name: &str,
    ) -> Result<(), Error> {
        nimbus_store::servers::insert_usage(
            tx,
            &nimbus_store::servers::UsageEvent {
                id: nimbus_core::id::new_hex_id(),
                project_id: v.project_id.clone(),
                resource_type: "evs".into(),
                resource_id: v.id.clone(),
                event: event.into(),
                flavor: Some(type_name.into()),
                detail: serde_json::json!({"size_gb": v.size_gb}).to_string(),
                at: now_ms(),
            },
        )
        .await
    }
}
