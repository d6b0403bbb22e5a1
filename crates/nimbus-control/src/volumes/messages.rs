//! User messages of block storage (Cinder's `/messages`, 3.3): when an operation a project
//! asked for fails after it was accepted (a volume no back end can hold, a backup that could
//! not be stored...), the resource goes to its error state and a message says what was done
//! and why it failed, so users learn the reason without asking an operator. Messages are
//! kept 30 days (Cinder's default), then purged as new ones come.

use crate::authz::{authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::messages::{self as repo, Message};
use sqlx::AnyConnection;

/// How long a message is kept at least.
const MESSAGE_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// The most messages one listing shows.
const LIST_LIMIT: i64 = 1000;

/// What was being done (Cinder's message actions: code and words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAction {
    ScheduleAllocateVolume,
    CreateVolume,
    AttachVolume,
    CopyVolumeToImage,
    ExtendVolume,
    CreateSnapshot,
    CreateBackup,
    DeleteBackup,
    RestoreBackup,
}

impl MessageAction {
    fn code(self) -> (&'static str, &'static str) {
        match self {
            MessageAction::ScheduleAllocateVolume => ("001", "schedule allocate volume"),
            MessageAction::AttachVolume => ("002", "attach volume"),
            MessageAction::CreateVolume => ("008", "create volume"),
            MessageAction::CopyVolumeToImage => ("003", "copy volume to image"),
            MessageAction::ExtendVolume => ("007", "extend volume"),
            MessageAction::CreateSnapshot => ("009", "create snapshot"),
            MessageAction::CreateBackup => ("015", "create backup"),
            MessageAction::DeleteBackup => ("016", "delete backup"),
            MessageAction::RestoreBackup => ("017", "restore backup"),
        }
    }
}

/// Why it failed: no back end can hold the volume, or the operation's own reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageDetail {
    NoBackendAvailable,
    Failed(String),
}

/// The resource a message is about, as Cinder names its kind.
pub enum MessageResource<'a> {
    Volume(&'a str),
    Snapshot(&'a str),
    Backup(&'a str),
}

impl Control {
    /// Records a message for a project's users (in the caller's transaction, with the
    /// resource's error state).
    pub(crate) async fn record_user_message(
        &self,
        tx: &mut AnyConnection,
        project_id: &str,
        request_id: &str,
        resource: MessageResource<'_>,
        action: MessageAction,
        detail: MessageDetail,
    ) -> Result<(), Error> {
        let (kind, id) = match resource {
            MessageResource::Volume(id) => ("VOLUME", id),
            MessageResource::Snapshot(id) => ("VOLUME_SNAPSHOT", id),
            MessageResource::Backup(id) => ("VOLUME_BACKUP", id),
        };
        let (action_code, action_words) = action.code();
        let (detail_code, why) = match detail {
            MessageDetail::NoBackendAvailable => ("003", "Could not find any available weighted backend.".to_string()),
            MessageDetail::Failed(why) => ("001", why),
        };
        let now = now_ms();
        repo::purge_expired(tx, project_id, now).await?;
        let m = Message {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project_id.into(),
            request_id: request_id.into(),
            event_id: format!("VOLUME_{kind}_{action_code}_{detail_code}"),
            message_level: "ERROR".into(),
            resource_type: Some(kind.into()),
            resource_uuid: Some(id.into()),
            user_message: format!("{action_words}: {why}"),
            created_at: now,
            guaranteed_until: now + MESSAGE_TTL_MS,
        };
        repo::insert(tx, &m).await
    }

    /// Records a message in a transaction of its own (from a job's failure hook).
    pub(crate) async fn record_user_message_now(
        &self,
        project_id: &str,
        job_id: &str,
        resource: MessageResource<'_>,
        action: MessageAction,
        detail: MessageDetail,
    ) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        self.record_user_message(&mut tx, project_id, &format!("req-{job_id}"), resource, action, detail).await?;
        tx.commit().await
    }

    /// The caller's project's messages (every project's for an operator asking for all),
    /// newest first, optionally about one resource.
    pub async fn list_user_messages(
        &self,
        ctx: &Ctx,
        all_projects: bool,
        resource_uuid: Option<&str>,
    ) -> Result<Vec<Message>, Error> {
        let scope = Self::listing_scope(ctx, all_projects)?;
        let mut c = self.store().read().await?;
        repo::list(&mut c, scope.as_deref(), resource_uuid, LIST_LIMIT).await
    }

    /// One message the caller may see (404 otherwise).
    pub async fn get_user_message(&self, ctx: &Ctx, id: &str) -> Result<Message, Error> {
        let mut c = self.store().read().await?;
        let m = repo::get(&mut c, id).await?.ok_or_else(|| Error::not_found("message", id))?;
        let target = Target { project_id: Some(&m.project_id), ..Default::default() };
        authorize_visible("volume:get", "volume:get", &ctx.principal, &target, "message", id)?;
        Ok(m)
    }

    /// Deletes a message the caller may see.
    pub async fn delete_user_message(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let m = repo::get(&mut tx, id).await?.ok_or_else(|| Error::not_found("message", id))?;
        let target = Target { project_id: Some(&m.project_id), ..Default::default() };
        authorize_visible("volume:get", "volume:delete", &ctx.principal, &target, "message", id)?;
        repo::delete(&mut tx, id).await?;
        self.audit(
            &mut tx,
            ctx,
            crate::audit::AuditEvent::new("EVS", "message", "deleteMessage", 204)
                .resource(id, "")
                .in_project(&m.project_id),
        )
        .await?;
        tx.commit().await
    }
}
