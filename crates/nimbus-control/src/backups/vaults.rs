//! Cloud Backup and Recovery (seed 6.2.11, and CSBS 6.2.5): vaults that hold disks or servers
//! and the backups of them within a capacity, policies (a schedule and a retention) bound to
//! vaults, and checkpoints ("back up now": one backup per disk, each incremental to the
//! disk's last backup in the vault). A server's disks are snapshotted together, at one
//! instant (one QEMU transaction), then backed up one by one. Backups themselves are the
//! same backups as Cinder's.

use super::schedule::Rule;
use super::BackupCreate;
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::backups::{self as repo, Backup, BackupFilter, Checkpoint, Policy, Vault, VaultResource};
use nimbus_store::volumes as volumes_repo;
use serde_json::{json, Value};

/// The resource type of disks.
pub const DISK_TYPE: &str = "OS::Cinder::Volume";
/// The resource type of servers (CSBS: all of a server's disks at one instant).
pub const SERVER_TYPE: &str = "OS::Nova::Server";

/// The resource type a vault of `object_type` holds.
fn resource_type_of(object_type: &str) -> &'static str {
    if object_type == "server" {
        SERVER_TYPE
    } else {
        DISK_TYPE
    }
}

/// What a vault create asks for.
#[derive(Debug, Clone, Default)]
pub struct VaultCreate {
    pub name: String,
    pub description: Option<String>,
    pub object_type: String,
    pub protect_type: String,
    pub consistent_level: String,
    pub charging_mode: Option<String>,
    pub size_gb: i64,
    pub auto_expand: bool,
    pub threshold: Option<i64>,
    pub resources: Vec<(String, String)>,
    pub policy_id: Option<String>,
}

/// What a vault update changes.
#[derive(Debug, Clone, Default)]
pub struct VaultUpdate {
    pub name: Option<String>,
    pub size_gb: Option<i64>,
    pub auto_expand: Option<bool>,
    pub threshold: Option<i64>,
}

/// A vault with what it holds.
#[derive(Debug, Clone)]
pub struct VaultView {
    pub vault: Vault,
    pub resources: Vec<(VaultResource, Option<i64>, i64, i64)>,
    /// Bytes its backups stored.
    pub used_bytes: i64,
    pub policy_id: Option<String>,
}

/// What a policy create or update gives.
#[derive(Debug, Clone, Default)]
pub struct PolicyChange {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub operation_type: Option<String>,
    pub operation_definition: Option<Value>,
    pub patterns: Option<Vec<String>>,
    pub start_window_minutes: Option<i64>,
}

/// A checkpoint's parameters.
#[derive(Debug, Clone, Default)]
pub struct CheckpointParams {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `None`: incremental when the disk already has a backup in the vault.
    pub incremental: Option<bool>,
    /// The disks to back up (`None`: every disk of the vault).
    pub resources: Option<Vec<String>>,
    pub auto_trigger: bool,
    pub policy_id: Option<String>,
}

/// A checkpoint with its vault's resources and its backups.
#[derive(Debug, Clone)]
pub struct CheckpointView {
    pub checkpoint: Checkpoint,
    pub vault: Vault,
    pub backups: Vec<Backup>,
    /// `protecting` while a backup runs, `error` if any failed, else `available`.
    pub status: String,
}

fn project_of(ctx: &Ctx) -> Result<String, Error> {
    ctx.principal
        .project_id()
        .map(str::to_string)
        .ok_or_else(|| Error::Forbidden("Backups belong to projects: scope the request to one.".into()))
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::bad_request("Invalid name: 1 to 64 characters."));
    }
    Ok(())
}

impl Control {
    async fn load_vault(&self, c: &mut sqlx::AnyConnection, ctx: &Ctx, id: &str, action: &str) -> Result<Vault, Error> {
        let v = repo::get_vault(c, id).await?.ok_or_else(|| Error::not_found("vault", id))?;
        let target = Target { project_id: Some(&v.project_id), ..Default::default() };
        authorize_visible("backup:get", action, &ctx.principal, &target, "vault", id)?;
        Ok(v)
    }

    async fn load_policy(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Policy, Error> {
        let p = repo::get_policy(c, id).await?.ok_or_else(|| Error::not_found("policy", id))?;
        let target = Target { project_id: Some(&p.project_id), ..Default::default() };
        authorize_visible("backup:get", action, &ctx.principal, &target, "policy", id)?;
        Ok(p)
    }

    /// Checks and records resources joining a vault (disks of the vault's project, in no
    /// other vault).
    async fn add_resources(
        &self,
        tx: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        vault: &Vault,
        resources: &[(String, String)],
    ) -> Result<Vec<String>, Error> {
        let mut added = Vec::new();
        let wanted = resource_type_of(&vault.object_type);
        for (id, kind) in resources {
            if kind != wanted {
                return Err(Error::bad_request(format!(
                    "BackupService.6102: resource {id} of type {kind} does not match a {} vault ({wanted}).",
                    vault.object_type
                )));
            }
            if added.contains(id) {
                return Err(Error::bad_request(format!("BackupService.6104: resource {id} is listed twice.")));
            }
            let project = if wanted == SERVER_TYPE {
                self.load_server(tx, ctx, id).await?.project_id
            } else {
                self.load_volume(tx, ctx, id, "backup:create").await?.project_id
            };
            if project != vault.project_id {
                return Err(Error::not_found(if wanted == SERVER_TYPE { "server" } else { "volume" }, id));
            }
            if let Some(other) = repo::resource_vault(tx, id).await? {
                return Err(Error::bad_request(format!(
                    "BackupService.6103: resource {id} is already protected by vault {}.",
                    other.vault_id
                )));
            }
            repo::add_vault_resource(
                tx,
                &VaultResource {
                    resource_id: id.clone(),
                    vault_id: vault.id.clone(),
                    resource_type: kind.clone(),
                    added_at: now_ms(),
                },
            )
            .await?;
            added.push(id.clone());
        }
        Ok(added)
    }

    /// Creates a disk vault.
    pub async fn create_vault(&self, ctx: &Ctx, req: VaultCreate) -> Result<VaultView, Error> {
        let project = project_of(ctx)?;
        authorize("backup:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        check_name(&req.name)?;
        match req.object_type.as_str() {
            "disk" | "server" => {}
            other => return Err(Error::bad_request(format!("Invalid object_type {other:?}: use disk or server."))),
        }
        if req.protect_type != "backup" {
            return Err(Error::bad_request("Invalid protect_type: only backup vaults are offered."));
        }
        if req.consistent_level != "crash_consistent" {
            return Err(Error::bad_request(
                "Invalid consistent_level: crash_consistent only (application consistency needs a guest agent).",
            ));
        }
        if req.charging_mode.as_deref().is_some_and(|m| m != "post_paid") {
            return Err(Error::bad_request("Only pay-per-use (post_paid) vaults are sold in this region."));
        }
        if !(1..=10_485_760).contains(&req.size_gb) {
            return Err(Error::bad_request("Invalid size: a vault holds 1 to 10485760 GB."));
        }
        let threshold = req.threshold.unwrap_or(80);
        if !(1..=100).contains(&threshold) {
            return Err(Error::bad_request("Invalid threshold: 1 to 100."));
        }
        let mut tx = self.store().write().await?;
        let v = Vault {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            user_id: ctx.principal.user_id.clone(),
            name: req.name,
            description: req.description,
            object_type: req.object_type,
            consistent_level: req.consistent_level,
            size_gb: req.size_gb,
            auto_expand: req.auto_expand,
            threshold,
            created_at: now_ms(),
            updated_at: None,
        };
        repo::insert_vault(&mut tx, &v).await?;
        self.add_resources(&mut tx, ctx, &v, &req.resources).await?;
        if let Some(pid) = &req.policy_id {
            let p = self.load_policy(&mut tx, ctx, pid, "backup:update").await?;
            repo::bind_policy(&mut tx, &v.id, &p.id).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "vault", "createVault", 200).resource(&v.id, &v.name).in_project(&project),
        )
        .await?;
        tx.commit().await?;
        self.vault_view(v).await
    }

    async fn vault_view(&self, v: Vault) -> Result<VaultView, Error> {
        let mut c = self.store().read().await?;
        let mut resources = Vec::new();
        for r in repo::vault_resources(&mut c, &v.id).await? {
            let (size, backups): (Option<i64>, Vec<Backup>) = if r.resource_type == SERVER_TYPE {
                // A server's size is its disks'; its backups, those made with it.
                let mut size = 0;
                for a in volumes_repo::server_attachments(&mut c, &r.resource_id).await? {
                    size += volumes_repo::get(&mut c, &a.volume_id).await?.map_or(0, |x| x.size_gb);
                }
                let filter = BackupFilter { vault_id: Some(v.id.clone()), ..Default::default() };
                let page = nimbus_core::page::PageRequest::largest();
                let mine = repo::list(&mut c, &filter, &page).await?;
                (Some(size), mine.into_iter().filter(|b| b.server_id.as_deref() == Some(&r.resource_id)).collect())
            } else {
                let size = volumes_repo::get(&mut c, &r.resource_id).await?.map(|x| x.size_gb);
                let backups = repo::volume_backups(&mut c, &r.resource_id)
                    .await?
                    .into_iter()
                    .filter(|b| b.vault_id.as_deref() == Some(v.id.as_str()))
                    .collect();
                (size, backups)
            };
            let stored = backups.iter().map(|b| b.stored_bytes).sum();
            resources.push((r, size, backups.len() as i64, stored));
        }
        let filter = BackupFilter { vault_id: Some(v.id.clone()), ..Default::default() };
        let page = nimbus_core::page::PageRequest::largest();
        let used_bytes = repo::list(&mut c, &filter, &page).await?.iter().map(|b| b.stored_bytes).sum();
        let policy_id = repo::vault_policy(&mut c, &v.id).await?;
        Ok(VaultView { vault: v, resources, used_bytes, policy_id })
    }

    /// One vault.
    pub async fn get_vault(&self, ctx: &Ctx, id: &str) -> Result<VaultView, Error> {
        let v = {
            let mut c = self.store().read().await?;
            self.load_vault(&mut c, ctx, id, "backup:get").await?
        };
        self.vault_view(v).await
    }

    /// The caller's vaults (every vault for operators asking for all).
    pub async fn list_vaults(&self, ctx: &Ctx, all_projects: bool) -> Result<Vec<VaultView>, Error> {
        let scope = Self::listing_scope(ctx, all_projects)?;
        let vaults = {
            let mut c = self.store().read().await?;
            repo::list_vaults(&mut c, scope.as_deref()).await?
        };
        let mut out = Vec::with_capacity(vaults.len());
        for v in vaults {
            out.push(self.vault_view(v).await?);
        }
        Ok(out)
    }

    /// Renames or resizes a vault.
    pub async fn update_vault(&self, ctx: &Ctx, id: &str, u: VaultUpdate) -> Result<VaultView, Error> {
        let mut tx = self.store().write().await?;
        let mut v = self.load_vault(&mut tx, ctx, id, "backup:update").await?;
        authorize("backup:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        if let Some(n) = u.name {
            check_name(&n)?;
            v.name = n;
        }
        if let Some(s) = u.size_gb {
            if s < v.size_gb || s > 10_485_760 {
                return Err(Error::bad_request("Invalid size: a vault grows (up to 10485760 GB), it does not shrink."));
            }
            v.size_gb = s;
        }
        if let Some(a) = u.auto_expand {
            v.auto_expand = a;
        }
        if let Some(t) = u.threshold {
            if !(1..=100).contains(&t) {
                return Err(Error::bad_request("Invalid threshold: 1 to 100."));
            }
            v.threshold = t;
        }
        v.updated_at = Some(now_ms());
        repo::update_vault(&mut tx, &v).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "vault", "updateVault", 200).resource(&v.id, &v.name).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        self.vault_view(v).await
    }

    /// Deletes a vault and (through their jobs) every backup in it.
    pub async fn delete_vault(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let v = {
            let mut c = self.store().read().await?;
            let v = self.load_vault(&mut c, ctx, id, "backup:delete").await?;
            authorize(
                "backup:delete",
                &ctx.principal,
                &Target { project_id: Some(&v.project_id), ..Default::default() },
            )?;
            v
        };
        let backups = {
            let mut c = self.store().read().await?;
            let filter = BackupFilter { vault_id: Some(v.id.clone()), ..Default::default() };
            let page = nimbus_core::page::PageRequest::largest();
            repo::list(&mut c, &filter, &page).await?
        };
        if backups.iter().any(|b| matches!(b.status.as_str(), "creating" | "restoring")) {
            return Err(Error::bad_request(
                "BackupService.6113: a backup or restore of this vault is running; try again after it.",
            ));
        }
        for b in backups.iter().filter(|b| b.status != "deleting") {
            self.delete_backup(ctx, &b.id).await?;
        }
        let mut tx = self.store().write().await?;
        repo::delete_vault(&mut tx, &v.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "vault", "deleteVault", 204).resource(&v.id, &v.name).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Adds disks to a vault; returns their ids.
    pub async fn add_vault_resources(
        &self,
        ctx: &Ctx,
        id: &str,
        resources: &[(String, String)],
    ) -> Result<Vec<String>, Error> {
        if resources.is_empty() || resources.len() > 256 {
            return Err(Error::bad_request("Give 1 to 256 resources."));
        }
        let mut tx = self.store().write().await?;
        let v = self.load_vault(&mut tx, ctx, id, "backup:update").await?;
        authorize("backup:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        let added = self.add_resources(&mut tx, ctx, &v, resources).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "vault", "addResources", 200).resource(&v.id, &v.name).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Removes disks from a vault (their backups stay); returns their ids.
    pub async fn remove_vault_resources(
        &self,
        ctx: &Ctx,
        id: &str,
        resource_ids: &[String],
    ) -> Result<Vec<String>, Error> {
        if resource_ids.is_empty() || resource_ids.len() > 256 {
            return Err(Error::bad_request("Give 1 to 256 resource ids."));
        }
        let mut tx = self.store().write().await?;
        let v = self.load_vault(&mut tx, ctx, id, "backup:update").await?;
        authorize("backup:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        for r in resource_ids {
            if !repo::remove_vault_resource(&mut tx, &v.id, r).await? {
                return Err(Error::bad_request(format!("BackupService.6105: resource {r} is not in vault {}.", v.id)));
            }
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "vault", "removeResources", 200).resource(&v.id, &v.name).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(resource_ids.to_vec())
    }

    fn check_policy(change: &PolicyChange) -> Result<(), Error> {
        if let Some(n) = &change.name {
            check_name(n)?;
        }
        if let Some(t) = &change.operation_type {
            if t != "backup" {
                return Err(Error::bad_request("Invalid operation_type: only backup policies are offered."));
            }
        }
        if let Some(p) = &change.patterns {
            if p.is_empty() || p.len() > 24 {
                return Err(Error::bad_request("Invalid trigger: give 1 to 24 patterns."));
            }
            for x in p {
                Rule::parse(x)?;
            }
        }
        if let Some(d) = &change.operation_definition {
            let max = d.get("max_backups").and_then(Value::as_i64);
            let days = d.get("retention_duration_days").and_then(Value::as_i64);
            if max.is_some_and(|m| !(-1..=99_999).contains(&m)) || days.is_some_and(|m| !(-1..=99_999).contains(&m)) {
                return Err(Error::bad_request(
                    "Invalid retention: max_backups and retention_duration_days are -1 to 99999.",
                ));
            }
        }
        Ok(())
    }

    /// Creates a backup policy.
    pub async fn create_policy(&self, ctx: &Ctx, change: PolicyChange) -> Result<Policy, Error> {
        let project = project_of(ctx)?;
        authorize("backup:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        Self::check_policy(&change)?;
        let p = Policy {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            name: change.name.ok_or_else(|| Error::bad_request("'name' is required."))?,
            enabled: change.enabled.unwrap_or(true),
            operation_type: change.operation_type.ok_or_else(|| Error::bad_request("'operation_type' is required."))?,
            operation_definition: change.operation_definition.unwrap_or_else(|| json!({})).to_string(),
            patterns: serde_json::to_string(
                &change.patterns.ok_or_else(|| Error::bad_request("'trigger.properties.pattern' is required."))?,
            )?,
            start_window_minutes: change.start_window_minutes,
            last_run_at: 0,
            created_at: now_ms(),
        };
        let mut tx = self.store().write().await?;
        repo::insert_policy(&mut tx, &p).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "policy", "createPolicy", 200).resource(&p.id, &p.name).in_project(&project),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Changes a policy.
    pub async fn update_policy(&self, ctx: &Ctx, id: &str, change: PolicyChange) -> Result<Policy, Error> {
        Self::check_policy(&change)?;
        let mut tx = self.store().write().await?;
        let mut p = self.load_policy(&mut tx, ctx, id, "backup:update").await?;
        authorize("backup:update", &ctx.principal, &Target { project_id: Some(&p.project_id), ..Default::default() })?;
        if let Some(n) = change.name {
            p.name = n;
        }
        if let Some(e) = change.enabled {
            p.enabled = e;
        }
        if let Some(d) = change.operation_definition {
            p.operation_definition = d.to_string();
        }
        if let Some(x) = change.patterns {
            p.patterns = serde_json::to_string(&x)?;
        }
        if change.start_window_minutes.is_some() {
            p.start_window_minutes = change.start_window_minutes;
        }
        repo::update_policy(&mut tx, &p).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "policy", "updatePolicy", 200).resource(&p.id, &p.name).in_project(&p.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Deletes a policy (its vaults keep their backups).
    pub async fn delete_policy(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let p = self.load_policy(&mut tx, ctx, id, "backup:delete").await?;
        authorize("backup:delete", &ctx.principal, &Target { project_id: Some(&p.project_id), ..Default::default() })?;
        repo::delete_policy(&mut tx, &p.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "policy", "deletePolicy", 200).resource(&p.id, &p.name).in_project(&p.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// One policy and the vaults it is bound to.
    pub async fn get_policy(&self, ctx: &Ctx, id: &str) -> Result<(Policy, Vec<String>), Error> {
        let mut c = self.store().read().await?;
        let p = self.load_policy(&mut c, ctx, id, "backup:get").await?;
        let vaults = repo::policy_vaults(&mut c, &p.id).await?;
        Ok((p, vaults))
    }

    /// The caller's policies, optionally only the one bound to `vault_id`.
    pub async fn list_policies(&self, ctx: &Ctx, vault_id: Option<&str>) -> Result<Vec<(Policy, Vec<String>)>, Error> {
        let scope = Self::listing_scope(ctx, false)?;
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for p in repo::list_policies(&mut c, scope.as_deref()).await? {
            let vaults = repo::policy_vaults(&mut c, &p.id).await?;
            if vault_id.is_none_or(|v| vaults.iter().any(|x| x == v)) {
                out.push((p, vaults));
            }
        }
        Ok(out)
    }

    /// Binds a policy to a vault (or unbinds it).
    pub async fn bind_vault_policy(&self, ctx: &Ctx, vault_id: &str, policy_id: &str, bind: bool) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let v = self.load_vault(&mut tx, ctx, vault_id, "backup:update").await?;
        authorize("backup:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        let p = self.load_policy(&mut tx, ctx, policy_id, "backup:update").await?;
        if p.project_id != v.project_id {
            return Err(Error::not_found("policy", policy_id));
        }
        let name = if bind {
            repo::bind_policy(&mut tx, &v.id, &p.id).await?;
            "associatePolicy"
        } else {
            if !repo::unbind_policy(&mut tx, &v.id, &p.id).await? {
                return Err(Error::bad_request(format!("Policy {} is not bound to vault {}.", p.id, v.id)));
            }
            "dissociatePolicy"
        };
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CBR", "vault", name, 200).resource(&v.id, &v.name).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Backs up a vault's disks now (all, or those named): one backup per disk, incremental
    /// to its previous backup in the vault unless asked otherwise. Disks that cannot be
    /// backed up now are skipped, with the reason.
    pub async fn create_checkpoint(
        &self,
        ctx: &Ctx,
        vault_id: &str,
        p: CheckpointParams,
    ) -> Result<CheckpointView, Error> {
        let (v, resources) = {
            let mut c = self.store().read().await?;
            let v = self.load_vault(&mut c, ctx, vault_id, "backup:create").await?;
            (v.clone(), repo::vault_resources(&mut c, &v.id).await?)
        };
        authorize("backup:create", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        let chosen: Vec<String> = match &p.resources {
            Some(ids) => {
                for id in ids {
                    if !resources.iter().any(|r| &r.resource_id == id) {
                        return Err(Error::bad_request(format!(
                            "BackupService.6105: resource {id} is not in vault {}.",
                            v.id
                        )));
                    }
                }
                ids.clone()
            }
            None => resources.iter().map(|r| r.resource_id.clone()).collect(),
        };
        if chosen.is_empty() {
            return Err(Error::bad_request(format!("BackupService.6113: vault {} protects no resource.", v.id)));
        }
        let view = self.vault_view(v.clone()).await?;
        if !v.auto_expand && view.used_bytes > v.size_gb << 30 {
            return Err(Error::bad_request(format!("BackupService.6114: vault {} is full ({} GB).", v.id, v.size_gb)));
        }
        let k = Checkpoint {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: v.project_id.clone(),
            vault_id: v.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            auto_trigger: p.auto_trigger,
            policy_id: p.policy_id.clone(),
            skipped: "[]".into(),
            created_at: now_ms(),
        };
        {
            let mut tx = self.store().write().await?;
            repo::insert_checkpoint(&mut tx, &k).await?;
            self.audit(
                &mut tx,
                ctx,
                AuditEvent::new("CBR", "checkpoint", "createCheckpoint", 200)
                    .resource(&k.id, &v.name)
                    .in_project(&v.project_id),
            )
            .await?;
            tx.commit().await?;
        }
        let mut skipped = Vec::new();
        // A server vault backs up each server's disks together: (disk, server, backup id).
        let mut disks: Vec<(String, Option<String>, Option<String>)> = Vec::new();
        if v.object_type == "server" {
            for server in &chosen {
                match self.snapshot_server_disks(server).await {
                    Ok(taken) => disks.extend(taken.into_iter().map(|(d, b)| (d, Some(server.clone()), Some(b)))),
                    Err(e) => skipped.push(
                        json!({"id": server, "type": SERVER_TYPE, "name": server, "code": e.code(), "reason": e.message()}),
                    ),
                }
            }
        } else {
            disks.extend(chosen.into_iter().map(|d| (d, None, None)));
        }
        for (disk, server, backup_id) in disks {
            let has_previous = {
                let mut c = self.store().read().await?;
                repo::volume_backups(&mut c, &disk)
                    .await?
                    .iter()
                    .any(|b| b.status == "available" && b.vault_id.as_deref() == Some(v.id.as_str()))
            };
            let name = p.name.clone().unwrap_or_else(|| {
                let prefix = if p.auto_trigger { "autobk" } else { "manualbk" };
                format!("{prefix}_{}", &k.id[..8])
            });
            let req = BackupCreate {
                volume_id: disk.clone(),
                name: Some(name),
                description: p.description.clone(),
                incremental: p.incremental.unwrap_or(true) && has_previous,
                force: true,
                vault_id: Some(v.id.clone()),
                checkpoint_id: Some(k.id.clone()),
                auto_trigger: p.auto_trigger,
                id: backup_id.clone(),
                server_id: server.clone(),
                ..Default::default()
            };
            if let Err(e) = self.create_backup(ctx, req).await {
                // The snapshot taken for it with the server's other disks goes.
                if let Some(b) = &backup_id {
                    let v = {
                        let mut c = self.store().read().await?;
                        volumes_repo::get(&mut c, &disk).await?
                    };
                    if let Some(v) = v {
                        let _ = self.backup_snapshot_op(&v, &super::backup_snapshot(b), false).await;
                    }
                }
                skipped.push(
                    json!({"id": disk, "type": DISK_TYPE, "name": disk, "code": e.code(), "reason": e.message()}),
                );
            }
        }
        if !skipped.is_empty() {
            let mut tx = self.store().write().await?;
            sqlx::query("UPDATE cbr_checkpoints SET skipped = $2 WHERE id = $1")
                .bind(&k.id)
                .bind(Value::Array(skipped).to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| Error::Internal(format!("recording skipped resources: {e}")))?;
            tx.commit().await?;
        }
        self.get_checkpoint(ctx, &k.id).await
    }

    /// One checkpoint and its backups.
    pub async fn get_checkpoint(&self, ctx: &Ctx, id: &str) -> Result<CheckpointView, Error> {
        let mut c = self.store().read().await?;
        let k = repo::get_checkpoint(&mut c, id).await?.ok_or_else(|| Error::not_found("checkpoint", id))?;
        let target = Target { project_id: Some(&k.project_id), ..Default::default() };
        authorize_visible("backup:get", "backup:get", &ctx.principal, &target, "checkpoint", id)?;
        let vault = repo::get_vault(&mut c, &k.vault_id).await?.unwrap_or(Vault {
            id: k.vault_id.clone(),
            project_id: k.project_id.clone(),
            user_id: String::new(),
            name: String::new(),
            description: None,
            object_type: "disk".into(),
            consistent_level: "crash_consistent".into(),
            size_gb: 0,
            auto_expand: false,
            threshold: 80,
            created_at: k.created_at,
            updated_at: None,
        });
        let filter = BackupFilter { checkpoint_id: Some(k.id.clone()), ..Default::default() };
        let page = nimbus_core::page::PageRequest::largest();
        let backups = repo::list(&mut c, &filter, &page).await?;
        let status = if backups.iter().any(|b| b.status == "creating") {
            "protecting"
        } else if backups.iter().any(|b| b.status == "error") {
            "error"
        } else {
            "available"
        };
        Ok(CheckpointView { checkpoint: k, vault, backups, status: status.into() })
    }
}
