//! Generic volume groups (Cinder `/group_types`, `/groups`, `/group_snapshots`).
//!
//! A group gathers volumes of chosen volume types so they are handled together: a group
//! snapshot takes one snapshot of every member at the same instant for the volumes one guest
//! holds (one QEMU transaction; detached members have no writer, so one after the other is
//! the same instant), a group is made as a copy of another group or of a group snapshot, and
//! deleting a group deletes its volumes. A volume of a group is deleted only with it, and a
//! snapshot of a group snapshot only with that.
//!
//! Group types are the operators'; groups count against the `groups` quota, their volumes
//! and snapshots against the usual ones.

use super::{invalid, validate_metadata, Space, VolumeCreate, DELETE_JOB};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::jobs::{JobHandler, StepOutcome};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::hypervisor::GuestState;
use nimbus_drivers::volume_files::VolumeFormat;
use nimbus_store::jobs::Job;
use nimbus_store::volume_groups::{self as grepo, Group, GroupSnapshot, GroupType};
use nimbus_store::volumes::{self as repo, Snapshot, Volume};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub const CREATE_GROUP_FROM_SOURCE_JOB: &str = "createGroupFromSource";
pub const DELETE_GROUP_JOB: &str = "deleteVolumeGroup";
pub const CREATE_GROUP_SNAPSHOT_JOB: &str = "createGroupSnapshot";
pub const DELETE_GROUP_SNAPSHOT_JOB: &str = "deleteGroupSnapshot";

/// The statuses an administrator may give a group or a group snapshot by hand.
pub const GROUP_RESET_STATUSES: &[&str] = &["available", "error", "creating", "deleting", "updating"];

/// What a group create asks for.
#[derive(Debug, Clone, Default)]
pub struct GroupCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    /// A group type id or name.
    pub group_type: String,
    /// Volume type ids or names (at least one).
    pub volume_types: Vec<String>,
    pub availability_zone: Option<String>,
}

/// The source of a group made as a copy.
#[derive(Debug, Clone)]
pub enum GroupSource {
    Group(String),
    GroupSnapshot(String),
}

/// What a group update changes: names, and members added or removed (volume ids).
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub add_volumes: Vec<String>,
    pub remove_volumes: Vec<String>,
}

fn check_name(name: &Option<String>) -> Result<(), Error> {
    if name.as_ref().is_some_and(|n| n.len() > 255) {
        return Err(Error::bad_request("Invalid input received: names are at most 255 characters."));
    }
    Ok(())
}

fn invalid_group(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid group: {why}"))
}

fn invalid_group_snapshot(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid group snapshot: {why}"))
}

impl Control {
    // ---- group types -------------------------------------------------------------------

    /// Group types the caller may use: the public ones (every one for operators).
    pub async fn list_group_types(&self, ctx: &Ctx) -> Result<Vec<GroupType>, Error> {
        let mut c = self.store().read().await?;
        let all = grepo::list_types(&mut c).await?;
        Ok(all.into_iter().filter(|t| t.is_public || ctx.principal.can_read_all()).collect())
    }

    /// One group type by id or name; 404 when the caller may not see it.
    pub async fn get_group_type(&self, ctx: &Ctx, id: &str) -> Result<GroupType, Error> {
        let mut c = self.store().read().await?;
        self.visible_group_type(&mut c, ctx, id).await
    }

    async fn visible_group_type(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<GroupType, Error> {
        match grepo::find_type(c, id).await? {
            Some(t) if t.is_public || ctx.principal.can_read_all() => Ok(t),
            _ => Err(Error::not_found("group type", id)),
        }
    }

    /// Creates a group type (operators only); names are unique (409).
    pub async fn create_group_type(
        &self,
        ctx: &Ctx,
        name: &str,
        description: Option<String>,
        is_public: bool,
        specs: BTreeMap<String, String>,
    ) -> Result<GroupType, Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let name = name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(Error::bad_request("Invalid input received: a group type needs a name of 1-255 characters."));
        }
        validate_metadata(&specs)?;
        let mut tx = self.store().write().await?;
        if grepo::find_type(&mut tx, name).await?.is_some_and(|t| t.name == name) {
            return Err(Error::Conflict(format!("Group Type {name} already exists.")));
        }
        let t = GroupType {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            description,
            is_public,
            group_specs: serde_json::to_string(&specs)?,
            created_at: now_ms(),
        };
        grepo::insert_type(&mut tx, &t).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "groupType", "createGroupType", 202).resource(&t.id, &t.name))
            .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Renames, re-describes or publishes a group type (operators only).
    pub async fn update_group_type(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        is_public: Option<bool>,
    ) -> Result<GroupType, Error> {
        self.modify_group_type(ctx, id, "updateGroupType", |t| {
            if let Some(n) = name {
                let n = n.trim().to_string();
                if n.is_empty() || n.len() > 255 {
                    return Err(Error::bad_request("Invalid input received: group type names are 1-255 characters."));
                }
                t.name = n;
            }
            if description.is_some() {
                t.description = description;
            }
            if let Some(p) = is_public {
                t.is_public = p;
            }
            Ok(())
        })
        .await
    }

    /// Sets group specs (merged), or removes one key (404 if absent).
    pub async fn change_group_specs(
        &self,
        ctx: &Ctx,
        id: &str,
        set: BTreeMap<String, String>,
        unset: Option<&str>,
    ) -> Result<GroupType, Error> {
        validate_metadata(&set)?;
        self.modify_group_type(ctx, id, "updateGroupTypeSpecs", |t| {
            let mut specs: BTreeMap<String, String> = serde_json::from_str(&t.group_specs).unwrap_or_default();
            specs.extend(set);
            if let Some(k) = unset {
                specs.remove(k).ok_or_else(|| Error::not_found("group spec", k))?;
            }
            t.group_specs = serde_json::to_string(&specs)?;
            Ok(())
        })
        .await
    }

    async fn modify_group_type(
        &self,
        ctx: &Ctx,
        id: &str,
        operation: &str,
        change: impl FnOnce(&mut GroupType) -> Result<(), Error>,
    ) -> Result<GroupType, Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let mut t = grepo::find_type(&mut tx, id).await?.ok_or_else(|| Error::not_found("group type", id))?;
        let old_name = t.name.clone();
        change(&mut t)?;
        if t.name != old_name && grepo::find_type(&mut tx, &t.name).await?.is_some_and(|o| o.id != t.id) {
            return Err(Error::Conflict(format!("Group Type {} already exists.", t.name)));
        }
        grepo::update_type(&mut tx, &t).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "groupType", operation, 200).resource(&t.id, &t.name)).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Deletes a group type no group uses (operators only).
    pub async fn delete_group_type(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let t = grepo::find_type(&mut tx, id).await?.ok_or_else(|| Error::not_found("group type", id))?;
        if grepo::type_in_use(&mut tx, &t.id).await? > 0 {
            return Err(Error::bad_request(format!(
                "Group Type {} deletion is not allowed with groups present.",
                t.id
            )));
        }
        grepo::delete_type(&mut tx, &t.id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "groupType", "deleteGroupType", 202).resource(&t.id, &t.name))
            .await?;
        tx.commit().await
    }

    // ---- groups ------------------------------------------------------------------------

    /// Loads a group the caller may see (404 otherwise), for `action`.
    pub(crate) async fn load_volume_group(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Group, Error> {
        let g = grepo::get_group(c, id).await?.ok_or_else(|| Error::not_found("group", id))?;
        let target = Target { project_id: Some(&g.project_id), ..Default::default() };
        authorize_visible("volume:get", action, &ctx.principal, &target, "group", id)?;
        authorize(action, &ctx.principal, &target)?;
        Ok(g)
    }

    /// Creates an empty group (available at once: there is no data to make).
    pub async fn create_volume_group(&self, ctx: &Ctx, req: GroupCreate) -> Result<Group, Error> {
        let mut tx = self.store().write().await?;
        let g = self.insert_volume_group(&mut tx, ctx, req, "available", None).await?;
        tx.commit().await?;
        Ok(g)
    }

    /// The checks, quota and row of a new group.
    async fn insert_volume_group(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        req: GroupCreate,
        status: &str,
        source: Option<&GroupSource>,
    ) -> Result<Group, Error> {
        check_name(&req.name)?;
        let project = ctx
            .principal
            .project_id()
            .ok_or_else(|| Error::Forbidden("Groups belong to projects: scope the request to one.".into()))?
            .to_string();
        authorize("volume:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        let gtype = self.visible_group_type(tx, ctx, &req.group_type).await?;
        if req.volume_types.is_empty() {
            return Err(Error::bad_request("Invalid input received: a group needs at least one volume type."));
        }
        let mut type_ids = Vec::new();
        for t in &req.volume_types {
            let vt = self.usable_volume_type(tx, ctx, t).await?;
            if !type_ids.contains(&vt.id) {
                type_ids.push(vt.id);
            }
        }
        let zones = &self.config().availability_zones;
        let zone = match &req.availability_zone {
            Some(z) if zones.contains(z) => z.clone(),
            Some(z) => return Err(Error::bad_request(format!("Availability zone '{z}' is invalid."))),
            None => zones.first().cloned().unwrap_or_else(|| "nova".into()),
        };
        self.charge_quota(tx, &project, "groups", 1).await?;
        let now = now_ms();
        let g = Group {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            user_id: ctx.principal.user_id.clone(),
            name: req.name,
            description: req.description,
            group_type_id: gtype.id,
            volume_types: serde_json::to_string(&type_ids)?,
            availability_zone: zone,
            status: status.into(),
            group_snapshot_id: match source {
                Some(GroupSource::GroupSnapshot(s)) => Some(s.clone()),
                _ => None,
            },
            source_group_id: match source {
                Some(GroupSource::Group(s)) => Some(s.clone()),
                _ => None,
            },
            created_at: now,
            updated_at: Some(now),
        };
        grepo::insert_group(tx, &g).await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::new("EVS", "group", "createGroup", 202)
                .resource(&g.id, g.name.as_deref().unwrap_or(""))
                .in_project(&project),
        )
        .await?;
        Ok(g)
    }

    /// Makes a group as a copy of another group (its volumes cloned at this instant) or of
    /// a group snapshot (a volume from each of its snapshots). The group is `creating` until
    /// every copy is made.
    pub async fn create_volume_group_from_source(
        &self,
        ctx: &Ctx,
        source: GroupSource,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Group, Error> {
        // The copies: (source volume or snapshot, the volume's type, its size).
        let (template, copies): (Group, Vec<VolumeCreate>) = {
            let mut c = self.store().read().await?;
            match &source {
                GroupSource::Group(id) => {
                    let g = self.load_volume_group(&mut c, ctx, id, "volume:get").await?;
                    if g.status != "available" {
                        return Err(invalid_group(format!("source group {} is {}, not available.", g.id, g.status)));
                    }
                    let mut copies = Vec::new();
                    for vid in grepo::group_volumes(&mut c, &g.id).await? {
                        copies.push(VolumeCreate { source_volid: Some(vid), ..Default::default() });
                    }
                    (g, copies)
                }
                GroupSource::GroupSnapshot(id) => {
                    let gs = self.load_group_snapshot(&mut c, ctx, id, "volume:get").await?;
                    if gs.status != "available" {
                        return Err(invalid_group_snapshot(format!("{} is {}, not available.", gs.id, gs.status)));
                    }
                    let g = grepo::get_group(&mut c, &gs.group_id)
                        .await?
                        .ok_or_else(|| invalid_group_snapshot(format!("the group of {} is gone.", gs.id)))?;
                    let mut copies = Vec::new();
                    for sid in grepo::group_snapshot_members(&mut c, &gs.id).await? {
                        copies.push(VolumeCreate { snapshot_id: Some(sid), ..Default::default() });
                    }
                    (g, copies)
                }
            }
        };
        let req = GroupCreate {
            name,
            description,
            group_type: template.group_type_id.clone(),
            volume_types: template.volume_type_ids(),
            availability_zone: Some(template.availability_zone.clone()),
        };
        let mut tx = self.store().write().await?;
        let g = self.insert_volume_group(&mut tx, ctx, req, "creating", Some(&source)).await?;
        for mut copy in copies {
            copy.group_id = Some(g.id.clone());
            copy.availability_zone = Some(g.availability_zone.clone());
            self.insert_volume_in(&mut tx, ctx, copy, None).await?;
        }
        let params = serde_json::json!({"group_id": g.id});
        self.new_job_with(&mut tx, &g.project_id, CREATE_GROUP_FROM_SOURCE_JOB, params.clone(), None, params).await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(g)
    }

    /// Groups the caller may see, newest first.
    pub async fn list_volume_groups(&self, ctx: &Ctx, all_projects: bool) -> Result<Vec<Group>, Error> {
        let scope = Self::listing_scope(ctx, all_projects)?;
        let mut c = self.store().read().await?;
        grepo::list_groups(&mut c, scope.as_deref()).await
    }

    /// One group the caller may see.
    pub async fn get_volume_group(&self, ctx: &Ctx, id: &str) -> Result<Group, Error> {
        let mut c = self.store().read().await?;
        self.load_volume_group(&mut c, ctx, id, "volume:get").await
    }

    /// The ids of a group's volumes.
    pub async fn volume_group_members(&self, g: &Group) -> Result<Vec<String>, Error> {
        let mut c = self.store().read().await?;
        grepo::group_volumes(&mut c, &g.id).await
    }

    /// Renames a group, adds and removes members. Added volumes must be the caller's, of one
    /// of the group's volume types, in its zone, in no other group and not busy.
    pub async fn update_volume_group(&self, ctx: &Ctx, id: &str, u: GroupUpdate) -> Result<Group, Error> {
        check_name(&u.name)?;
        let mut tx = self.store().write().await?;
        let mut g = self.load_volume_group(&mut tx, ctx, id, "volume:update").await?;
        let members_change = !u.add_volumes.is_empty() || !u.remove_volumes.is_empty();
        if members_change && g.status != "available" {
            return Err(invalid_group(format!("group {} is {}: members change only when available.", g.id, g.status)));
        }
        if u.add_volumes.iter().any(|a| u.remove_volumes.contains(a)) {
            return Err(Error::bad_request("Invalid input received: a volume cannot be both added and removed."));
        }
        let types = g.volume_type_ids();
        let steady = ["available", "in-use"];
        for vid in &u.add_volumes {
            let v = self.member_candidate(&mut tx, ctx, vid).await?;
            if v.group_id.as_deref() == Some(g.id.as_str()) {
                continue;
            }
            if let Some(other) = &v.group_id {
                return Err(invalid(format!("volume {} already belongs to group {other}.", v.id)));
            }
            if v.project_id != g.project_id {
                return Err(Error::not_found("volume", vid));
            }
            if !types.contains(&v.type_id) {
                return Err(invalid(format!("volume {} has a volume type the group {} does not accept.", v.id, g.id)));
            }
            if v.availability_zone != g.availability_zone {
                return Err(invalid(format!("volume {} is not in the group's availability zone.", v.id)));
            }
            if !steady.contains(&v.status.as_str()) {
                return Err(invalid(format!("volume {} is {}: it must be available or in-use.", v.id, v.status)));
            }
            grepo::set_volume_group(&mut tx, &v.id, Some(&g.id)).await?;
        }
        for vid in &u.remove_volumes {
            let v = self.member_candidate(&mut tx, ctx, vid).await?;
            if v.group_id.as_deref() != Some(g.id.as_str()) {
                return Err(invalid(format!("volume {} is not in group {}.", v.id, g.id)));
            }
            if !steady.contains(&v.status.as_str()) {
                return Err(invalid(format!("volume {} is {}: it must be available or in-use.", v.id, v.status)));
            }
            grepo::set_volume_group(&mut tx, &v.id, None).await?;
        }
        if u.name.is_some() {
            g.name = u.name;
        }
        if u.description.is_some() {
            g.description = u.description;
        }
        g.updated_at = Some(now_ms());
        grepo::update_group(&mut tx, &g).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "group", "updateGroup", 202)
                .resource(&g.id, g.name.as_deref().unwrap_or(""))
                .in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(g)
    }

    async fn member_candidate(&self, tx: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<Volume, Error> {
        // A volume the caller may not see is an invalid member, named as Cinder does.
        match self.load_volume(tx, ctx, id, "volume:update").await {
            Err(Error::NotFound { .. }) => Err(invalid(format!("volume {id} was not found."))),
            other => other,
        }
    }

    /// Deletes a group: empty, or (`delete_volumes`) with its volumes, which must be
    /// detached and have no snapshots but the group's. A job removes the group once its
    /// volumes are gone.
    pub async fn delete_volume_group(&self, ctx: &Ctx, id: &str, delete_volumes: bool) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let mut g = self.load_volume_group(&mut tx, ctx, id, "volume:delete").await?;
        if !matches!(g.status.as_str(), "available" | "error") {
            return Err(invalid_group(format!("group {} is {}: it must be available or error.", g.id, g.status)));
        }
        if !grepo::list_group_snapshots(&mut tx, None, Some(&g.id)).await?.is_empty() {
            return Err(invalid_group(format!("group {} has group snapshots: delete them first.", g.id)));
        }
        let members = grepo::group_volumes(&mut tx, &g.id).await?;
        if !members.is_empty() && !delete_volumes {
            return Err(invalid_group(format!(
                "group {} still has {} volumes: delete them with it (delete-volumes) or remove them.",
                g.id,
                members.len()
            )));
        }
        for vid in &members {
            let Some(v) = repo::get(&mut tx, vid).await? else { continue };
            if v.status == "deleting" {
                continue;
            }
            if !repo::attachments(&mut tx, &v.id).await?.is_empty() {
                return Err(invalid(format!("volume {} of group {} is attached.", v.id, g.id)));
            }
            if !repo::volume_snapshots(&mut tx, &v.id).await?.is_empty() {
                return Err(invalid(format!("volume {} of group {} has snapshots.", v.id, g.id)));
            }
            self.queue_volume_delete(&mut tx, ctx, v).await?;
        }
        g.status = "deleting".into();
        g.updated_at = Some(now_ms());
        grepo::update_group(&mut tx, &g).await?;
        let params = serde_json::json!({"group_id": g.id});
        let job = self.new_job_with(&mut tx, &g.project_id, DELETE_GROUP_JOB, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "group", "deleteGroup", 202)
                .resource(&g.id, g.name.as_deref().unwrap_or(""))
                .in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Marks a group member `deleting` and queues its delete job (the group's delete).
    async fn queue_volume_delete(&self, tx: &mut AnyConnection, ctx: &Ctx, mut v: Volume) -> Result<(), Error> {
        if !matches!(v.status.as_str(), "available" | "error" | "error_restoring" | "error_extending") {
            return Err(invalid(format!("volume {} is {}: it cannot be deleted now.", v.id, v.status)));
        }
        v.status = "deleting".into();
        v.updated_at = Some(now_ms());
        repo::update(tx, &v).await?;
        let params = serde_json::json!({"volume_id": v.id});
        self.new_job_with(tx, &v.project_id, DELETE_JOB, params.clone(), None, params).await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::new("EVS", "volume", "deleteVolume", 202)
                .resource(&v.id, v.name.as_deref().unwrap_or(""))
                .in_project(&v.project_id),
        )
        .await
    }

    /// Sets a group's status by hand (administrators only).
    pub async fn reset_volume_group_status(&self, ctx: &Ctx, id: &str, status: &str) -> Result<(), Error> {
        if !GROUP_RESET_STATUSES.contains(&status) {
            return Err(Error::bad_request(format!("Invalid input received: {status:?} is not a group status.")));
        }
        let mut tx = self.store().write().await?;
        let mut g = self.load_volume_group(&mut tx, ctx, id, "volume:admin_actions").await?;
        g.status = status.into();
        g.updated_at = Some(now_ms());
        grepo::update_group(&mut tx, &g).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "group", "resetGroupStatus", 202).resource(&g.id, status).in_project(&g.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Checks a new volume's group (inside its create): the caller's, available (or being
    /// made as a copy), accepting the volume's type, in the volume's zone.
    pub(crate) async fn check_new_member(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        group_id: &str,
        type_id: &str,
        zone: &str,
    ) -> Result<(), Error> {
        let g = self.load_volume_group(tx, ctx, group_id, "volume:update").await?;
        if !matches!(g.status.as_str(), "available" | "creating") {
            return Err(invalid_group(format!("group {} is {}, not available.", g.id, g.status)));
        }
        if !g.volume_type_ids().iter().any(|t| t == type_id) {
            return Err(Error::bad_request(format!(
                "Invalid input received: the volume type is not one of group {}'s volume types.",
                g.id
            )));
        }
        if g.availability_zone != zone {
            return Err(Error::bad_request(format!(
                "Invalid input received: group {} is in availability zone {}, not {zone}.",
                g.id, g.availability_zone
            )));
        }
        Ok(())
    }

    // ---- group snapshots -------------------------------------------------------------------

    /// Loads a group snapshot the caller may see (404 otherwise), for `action`.
    async fn load_group_snapshot(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<GroupSnapshot, Error> {
        let g = grepo::get_group_snapshot(c, id).await?.ok_or_else(|| Error::not_found("group snapshot", id))?;
        let target = Target { project_id: Some(&g.project_id), ..Default::default() };
        authorize_visible("volume:get", action, &ctx.principal, &target, "group snapshot", id)?;
        authorize(action, &ctx.principal, &target)?;
        Ok(g)
    }

    /// Snapshots every volume of an available group at one instant: the group snapshot and
    /// one snapshot per member are `creating` until a job takes them all.
    pub async fn create_group_snapshot(
        &self,
        ctx: &Ctx,
        group_id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<GroupSnapshot, Error> {
        check_name(&name)?;
        let mut tx = self.store().write().await?;
        let g = self.load_volume_group(&mut tx, ctx, group_id, "volume:create").await?;
        if g.status != "available" {
            return Err(invalid_group(format!("group {} is {}, not available.", g.id, g.status)));
        }
        let members = grepo::group_volumes(&mut tx, &g.id).await?;
        let now = now_ms();
        let gs = GroupSnapshot {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: g.project_id.clone(),
            user_id: ctx.principal.user_id.clone(),
            group_id: g.id.clone(),
            group_type_id: g.group_type_id.clone(),
            name,
            description,
            status: "creating".into(),
            created_at: now,
            updated_at: Some(now),
        };
        grepo::insert_group_snapshot(&mut tx, &gs).await?;
        for vid in members {
            let Some(v) = repo::get(&mut tx, &vid).await? else { continue };
            if !matches!(v.status.as_str(), "available" | "in-use") {
                return Err(invalid(format!("volume {} is {}: it must be available or in-use.", v.id, v.status)));
            }
            if VolumeFormat::for_volume(v.multiattach) != VolumeFormat::Qcow2 {
                return Err(invalid(format!(
                    "volume {} is shareable: shareable volumes have no snapshots here.",
                    v.id
                )));
            }
            if nimbus_store::backups::volume_backups(&mut tx, &v.id).await?.iter().any(|b| b.status == "creating") {
                return Err(invalid(format!("a backup of volume {} is being made; try again after it.", v.id)));
            }
            self.charge_space(&mut tx, &v.project_id, &v.type_id, Space::snapshot(v.size_gb)).await?;
            let s = Snapshot {
                id: uuid::Uuid::new_v4().to_string(),
                project_id: v.project_id.clone(),
                user_id: ctx.principal.user_id.clone(),
                volume_id: v.id.clone(),
                name: gs.name.clone(),
                description: gs.description.clone(),
                size_gb: v.size_gb,
                status: "creating".into(),
                metadata: "{}".into(),
                progress: None,
                created_at: now,
                updated_at: Some(now),
                version: 0,
                group_snapshot_id: Some(gs.id.clone()),
            };
            repo::insert_snapshot(&mut tx, &s).await?;
            self.snapshot_usage(&mut tx, &s, "created").await?;
        }
        let params = serde_json::json!({"group_snapshot_id": gs.id});
        self.new_job_with(&mut tx, &gs.project_id, CREATE_GROUP_SNAPSHOT_JOB, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "groupSnapshot", "createGroupSnapshot", 202)
                .resource(&gs.id, gs.name.as_deref().unwrap_or(""))
                .in_project(&gs.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(gs)
    }

    /// Group snapshots the caller may see, newest first.
    pub async fn list_group_snapshots(&self, ctx: &Ctx, all_projects: bool) -> Result<Vec<GroupSnapshot>, Error> {
        let scope = Self::listing_scope(ctx, all_projects)?;
        let mut c = self.store().read().await?;
        grepo::list_group_snapshots(&mut c, scope.as_deref(), None).await
    }

    /// One group snapshot the caller may see.
    pub async fn get_group_snapshot(&self, ctx: &Ctx, id: &str) -> Result<GroupSnapshot, Error> {
        let mut c = self.store().read().await?;
        self.load_group_snapshot(&mut c, ctx, id, "volume:get").await
    }

    /// Deletes a group snapshot (available or failed) with its snapshots.
    pub async fn delete_group_snapshot(&self, ctx: &Ctx, id: &str) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let mut gs = self.load_group_snapshot(&mut tx, ctx, id, "volume:delete").await?;
        if !matches!(gs.status.as_str(), "available" | "error" | "error_deleting") {
            return Err(invalid_group_snapshot(format!("{} is {}: it must be available or error.", gs.id, gs.status)));
        }
        for sid in grepo::group_snapshot_members(&mut tx, &gs.id).await? {
            if let Some(mut s) = repo::get_snapshot(&mut tx, &sid).await? {
                if !matches!(s.status.as_str(), "available" | "error" | "error_deleting" | "creating") {
                    return Err(invalid_group_snapshot(format!("its snapshot {} is {}.", s.id, s.status)));
                }
                s.status = "deleting".into();
                s.updated_at = Some(now_ms());
                repo::update_snapshot(&mut tx, &s).await?;
            }
        }
        gs.status = "deleting".into();
        gs.updated_at = Some(now_ms());
        grepo::update_group_snapshot(&mut tx, &gs).await?;
        let params = serde_json::json!({"group_snapshot_id": gs.id});
        let job =
            self.new_job_with(&mut tx, &gs.project_id, DELETE_GROUP_SNAPSHOT_JOB, params.clone(), None, params).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "groupSnapshot", "deleteGroupSnapshot", 202)
                .resource(&gs.id, gs.name.as_deref().unwrap_or(""))
                .in_project(&gs.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Sets a group snapshot's status by hand (administrators only).
    pub async fn reset_group_snapshot_status(&self, ctx: &Ctx, id: &str, status: &str) -> Result<(), Error> {
        if !GROUP_RESET_STATUSES.contains(&status) {
            return Err(Error::bad_request(format!(
                "Invalid input received: {status:?} is not a group snapshot status."
            )));
        }
        let mut tx = self.store().write().await?;
        let mut gs = self.load_group_snapshot(&mut tx, ctx, id, "volume:admin_actions").await?;
        gs.status = status.into();
        gs.updated_at = Some(now_ms());
        grepo::update_group_snapshot(&mut tx, &gs).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "groupSnapshot", "resetGroupSnapshotStatus", 202)
                .resource(&gs.id, status)
                .in_project(&gs.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Moves a group snapshot (and its snapshots still in `from`) to `status`.
    async fn group_snapshot_status(&self, id: &str, from: &str, status: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        if let Some(mut gs) = grepo::get_group_snapshot(&mut tx, id).await?.filter(|g| g.status == from) {
            for sid in grepo::group_snapshot_members(&mut tx, id).await? {
                if let Some(mut s) = repo::get_snapshot(&mut tx, &sid).await?.filter(|s| s.status == from) {
                    s.status = status.into();
                    s.updated_at = Some(now_ms());
                    repo::update_snapshot(&mut tx, &s).await?;
                }
            }
            gs.status = status.into();
            gs.updated_at = Some(now_ms());
            grepo::update_group_snapshot(&mut tx, &gs).await?;
        }
        tx.commit().await
    }

    /// Moves a group to `status` if it is still in `from`.
    async fn volume_group_status(&self, id: &str, from: &str, status: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        if let Some(mut g) = grepo::get_group(&mut tx, id).await?.filter(|g| g.status == from) {
            g.status = status.into();
            g.updated_at = Some(now_ms());
            grepo::update_group(&mut tx, &g).await?;
        }
        tx.commit().await
    }
}

fn job_param(job: &Job, key: &str) -> Result<String, Error> {
    let p: serde_json::Value = serde_json::from_str(&job.params)?;
    p[key].as_str().map(str::to_string).ok_or_else(|| Error::Internal(format!("job {} without its {key}", job.id)))
}

/// Waits for the volumes of a group made from a source; the group is available when all
/// are, in error when one failed.
pub(super) struct CreateGroupFromSource;

#[async_trait::async_trait]
impl JobHandler for CreateGroupFromSource {
    fn job_type(&self) -> &'static str {
        CREATE_GROUP_FROM_SOURCE_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let id = job_param(job, "group_id")?;
        let statuses: Vec<String> = {
            let mut c = control.store().read().await?;
            let mut out = Vec::new();
            for vid in grepo::group_volumes(&mut c, &id).await? {
                if let Some(v) = repo::get(&mut c, &vid).await? {
                    out.push(v.status);
                }
            }
            out
        };
        if statuses.iter().any(|s| s == "creating") {
            return Ok(StepOutcome::Wait(Duration::from_millis(500)));
        }
        let end = if statuses.iter().all(|s| s == "available") { "available" } else { "error" };
        control.volume_group_status(&id, "creating", end).await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        control.volume_group_status(&job_param(job, "group_id")?, "creating", "error").await
    }
}

/// Removes a deleted group once its volumes are gone, and gives its quota back.
pub(super) struct DeleteGroup;

#[async_trait::async_trait]
impl JobHandler for DeleteGroup {
    fn job_type(&self) -> &'static str {
        DELETE_GROUP_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let id = job_param(job, "group_id")?;
        let mut tx = control.store().write().await?;
        let Some(g) = grepo::get_group(&mut tx, &id).await?.filter(|g| g.status == "deleting") else {
            return Ok(StepOutcome::Done);
        };
        let left = grepo::group_volumes(&mut tx, &id).await?;
        for vid in &left {
            // A member whose delete failed stays in the group, which then fails too.
            if repo::get(&mut tx, vid).await?.is_some_and(|v| v.status == "error_deleting") {
                return Err(Error::Internal(format!("volume {vid} of group {id} could not be deleted")));
            }
        }
        if !left.is_empty() {
            return Ok(StepOutcome::Wait(Duration::from_millis(500)));
        }
        grepo::delete_group(&mut tx, &id).await?;
        control.release_quota(&mut tx, &g.project_id, "groups", 1).await?;
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        control.volume_group_status(&job_param(job, "group_id")?, "deleting", "error_deleting").await
    }
}

/// The volumes of a group snapshot's members, with their snapshots' names.
async fn members(control: &Control, gs_id: &str, status: &str) -> Result<Vec<(Volume, Snapshot)>, Error> {
    let mut c = control.store().read().await?;
    let mut out = Vec::new();
    for sid in grepo::group_snapshot_members(&mut c, gs_id).await? {
        let Some(s) = repo::get_snapshot(&mut c, &sid).await?.filter(|s| s.status == status) else { continue };
        if let Some(v) = repo::get(&mut c, &s.volume_id).await? {
            out.push((v, s));
        }
    }
    Ok(out)
}

/// Takes a group snapshot: the members a guest holds through one QEMU transaction per
/// guest, the others in their files; then every member and the group snapshot are available.
pub(super) struct CreateGroupSnapshot;

#[async_trait::async_trait]
impl JobHandler for CreateGroupSnapshot {
    fn job_type(&self) -> &'static str {
        CREATE_GROUP_SNAPSHOT_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let id = job_param(job, "group_snapshot_id")?;
        let pending = members(control, &id, "creating").await?;
        let mut by_guest: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (v, s) in &pending {
            let name = super::snapshot_name(&s.id);
            match control.guest_holding(v).await? {
                Some(server) => by_guest.entry(server).or_default().push((v.id.clone(), name)),
                None => control.drivers().volumes.snapshot(&v.id, &name).await?,
            }
        }
        let hv = &control.drivers().hypervisor;
        for (server, snaps) in by_guest {
            if hv.state(&server).await? == GuestState::Missing {
                for (volume, name) in &snaps {
                    control.drivers().volumes.snapshot(volume, name).await?;
                }
            } else {
                hv.snapshot_volumes_together(&server, &snaps).await?;
            }
        }
        control.group_snapshot_status(&id, "creating", "available").await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        control.group_snapshot_status(&job_param(job, "group_snapshot_id")?, "creating", "error").await
    }
}

/// Drops each member snapshot from its volume, then the rows, and gives the quota back.
pub(super) struct DeleteGroupSnapshot;

#[async_trait::async_trait]
impl JobHandler for DeleteGroupSnapshot {
    fn job_type(&self) -> &'static str {
        DELETE_GROUP_SNAPSHOT_JOB
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let id = job_param(job, "group_snapshot_id")?;
        for (v, s) in members(control, &id, "deleting").await? {
            control.internal_snapshot(&v, &super::snapshot_name(&s.id), false).await?;
        }
        let mut tx = control.store().write().await?;
        if grepo::get_group_snapshot(&mut tx, &id).await?.is_some_and(|g| g.status == "deleting") {
            for sid in grepo::group_snapshot_members(&mut tx, &id).await? {
                if let Some(s) = repo::get_snapshot(&mut tx, &sid).await? {
                    control.release_snapshot_space(&mut tx, &s).await?;
                    repo::delete_snapshot(&mut tx, &s.id).await?;
                }
            }
            grepo::delete_group_snapshot(&mut tx, &id).await?;
        }
        tx.commit().await?;
        Ok(StepOutcome::Done)
    }

    async fn on_fail(&self, control: &Control, job: &Job, _error: &Error) -> Result<(), Error> {
        control.group_snapshot_status(&job_param(job, "group_snapshot_id")?, "deleting", "error_deleting").await
    }
}
