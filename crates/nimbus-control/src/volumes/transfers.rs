//! Volume transfers (Cinder `os-volume-transfer`, and `volume-transfers` from 3.55): a
//! project offers an available volume; whoever presents the transfer's id and its key takes
//! the volume into their own project, its snapshots with it. The volume shows
//! `awaiting-transfer` meanwhile and nothing else may be done with it; its quota moves from
//! one project to the other in the transaction that moves it. The key is shown once, at
//! creation, and kept only as an argon2id hash.

use super::{invalid, Space};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::identity::password;
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::volumes::{self as repo, Transfer};
use rand::Rng;

/// What a transfer create asks for.
#[derive(Debug, Clone, Default)]
pub struct TransferCreate {
    pub volume_id: String,
    pub name: Option<String>,
    /// Leave the snapshots behind (3.55); refused for a volume that has snapshots, since
    /// they live in its data.
    pub no_snapshots: bool,
}

/// The length of a transfer key (Cinder's: 16 characters).
const KEY_LEN: usize = 16;

fn new_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..KEY_LEN).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

impl Control {
    async fn load_transfer(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Transfer, Error> {
        let t = repo::get_transfer(c, id).await?.ok_or_else(|| Error::not_found("transfer", id))?;
        let target = Target { project_id: Some(&t.project_id), ..Default::default() };
        authorize_visible("volume:get", action, &ctx.principal, &target, "transfer", id)?;
        Ok(t)
    }

    /// Offers a volume of the caller's project; returns the transfer and its key (shown
    /// only now).
    pub async fn create_transfer(&self, ctx: &Ctx, req: TransferCreate) -> Result<(Transfer, String), Error> {
        if req.name.as_ref().is_some_and(|n| n.chars().count() > 255) {
            return Err(Error::bad_request("Invalid input received: names are at most 255 characters."));
        }
        let key = new_key();
        let key_hash = password::hash(&key).await?;
        let mut tx = self.store().write().await?;
        let mut v = self.load_volume(&mut tx, ctx, &req.volume_id, "volume:update").await?;
        authorize("volume:update", &ctx.principal, &Target { project_id: Some(&v.project_id), ..Default::default() })?;
        if v.status != "available" {
            return Err(invalid(format!("status must be available to transfer volume {}, not {}.", v.id, v.status)));
        }
        let snapshots = repo::volume_snapshots(&mut tx, &v.id).await?;
        if req.no_snapshots && !snapshots.is_empty() {
            return Err(invalid("its snapshots live in its data: transfer them with it, or delete them first."));
        }
        if let Some(s) = snapshots.iter().find(|s| s.status != "available") {
            return Err(invalid(format!(
                "snapshot {} is {}: it must be available to move with its volume.",
                s.id, s.status
            )));
        }
        let t = Transfer {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: v.project_id.clone(),
            volume_id: v.id.clone(),
            name: req.name,
            key_hash,
            no_snapshots: req.no_snapshots,
            created_at: now_ms(),
        };
        repo::insert_transfer(&mut tx, &t).await?;
        v.status = "awaiting-transfer".into();
        v.updated_at = Some(now_ms());
        repo::update(&mut tx, &v).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "createTransfer", 202).resource(&v.id, &t.id).in_project(&v.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok((t, key))
    }

    /// The transfers of the caller's project (every project's for operators asking so).
    pub async fn list_transfers(&self, ctx: &Ctx, all_projects: bool) -> Result<Vec<Transfer>, Error> {
        let scope = Self::listing_scope(ctx, all_projects)?;
        let mut c = self.store().read().await?;
        repo::list_transfers(&mut c, scope.as_deref()).await
    }

    /// One transfer of the caller's project.
    pub async fn get_transfer(&self, ctx: &Ctx, id: &str) -> Result<Transfer, Error> {
        let mut c = self.store().read().await?;
        self.load_transfer(&mut c, ctx, id, "volume:get").await
    }

    /// Withdraws an offer: the volume is available again in its project.
    pub async fn delete_transfer(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let t = self.load_transfer(&mut tx, ctx, id, "volume:update").await?;
        authorize("volume:update", &ctx.principal, &Target { project_id: Some(&t.project_id), ..Default::default() })?;
        repo::delete_transfer(&mut tx, &t.id).await?;
        if let Some(mut v) = repo::get(&mut tx, &t.volume_id).await?.filter(|v| v.status == "awaiting-transfer") {
            v.status = "available".into();
            v.updated_at = Some(now_ms());
            repo::update(&mut tx, &v).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "deleteTransfer", 202)
                .resource(&t.volume_id, &t.id)
                .in_project(&t.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Takes a transferred volume into the caller's project with the transfer's key: the
    /// receiving project is charged (its quotas apply), the giving one released.
    pub async fn accept_transfer(&self, ctx: &Ctx, id: &str, key: &str) -> Result<Transfer, Error> {
        let project = ctx
            .principal
            .project_id()
            .ok_or_else(|| Error::Forbidden("Accept a transfer in a project scope.".into()))?
            .to_string();
        authorize("volume:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        // Anyone may try an id: a wrong key and an unknown id answer alike, after the hash.
        let stored = {
            let mut c = self.store().read().await?;
            repo::get_transfer(&mut c, id).await?
        };
        let hash = stored.as_ref().map(|t| t.key_hash.clone()).unwrap_or_default();
        if !password::verify(key, &hash).await || stored.is_none() {
            return Err(Error::bad_request(format!("Invalid auth key: the key of transfer {id} does not match.")));
        }
        let mut tx = self.store().write().await?;
        let t = repo::get_transfer(&mut tx, id).await?.ok_or_else(|| Error::not_found("transfer", id))?;
        let mut v = repo::get(&mut tx, &t.volume_id).await?.ok_or_else(|| Error::not_found("volume", &t.volume_id))?;
        if v.status != "awaiting-transfer" {
            return Err(invalid(format!("volume {} is {}, not awaiting its transfer.", v.id, v.status)));
        }
        let snapshots = repo::volume_snapshots(&mut tx, &v.id).await?;
        let snapshot_gb: i64 = snapshots.iter().map(|s| s.size_gb).sum();
        self.check_per_volume_quota(&mut tx, &project, v.size_gb).await?;
        // The volume and its snapshots move from the giver's quotas to the receiver's.
        let space = Space { volumes: 1, snapshots: snapshots.len() as i64, gigabytes: v.size_gb + snapshot_gb };
        self.charge_space(&mut tx, &project, &v.type_id, space).await?;
        self.release_space(&mut tx, &t.project_id, &v.type_id, space).await?;
        let vtype = repo::find_type(&mut tx, &v.type_id).await?.map(|t| t.name).unwrap_or_default();
        // Metering: the volume stops for the giver and starts for the receiver.
        self.volume_usage(&mut tx, &v, "deleted", &vtype).await?;
        repo::move_volume(&mut tx, &v.id, &project, &ctx.principal.user_id, true).await?;
        // The giver's vault no longer protects it.
        if let Some(r) = nimbus_store::backups::resource_vault(&mut tx, &v.id).await? {
            nimbus_store::backups::remove_vault_resource(&mut tx, &r.vault_id, &v.id).await?;
        }
        v = repo::get(&mut tx, &v.id).await?.ok_or_else(|| Error::not_found("volume", &t.volume_id))?;
        v.status = "available".into();
        v.updated_at = Some(now_ms());
        repo::update(&mut tx, &v).await?;
        self.volume_usage(&mut tx, &v, "created", &vtype).await?;
        repo::delete_transfer(&mut tx, &t.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", "acceptTransfer", 202).resource(&v.id, &t.id).in_project(&project),
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }
}
