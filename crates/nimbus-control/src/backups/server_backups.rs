//! Server backups (CBR's `OS::Nova::Server` backups, CSBS, seed 6.2.5): the backups of one
//! server's disks made together in one checkpoint, seen as one backup whose children are
//! the disks' backups.
//!
//! A server backup is not stored on its own: its children are ordinary volume backups that
//! carry their checkpoint and server (Cinder lists them, each restores alone to a volume).
//! Its id is derived from the checkpoint and the server (a name-based UUID), so it stays the
//! same for as long as any child exists and needs no row to keep in step with them. Renaming
//! or deleting it renames or deletes every child in one transaction; restoring it restores
//! the server's disks together (`server_restore.rs`).

use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use nimbus_store::backups::{Backup, BackupFilter};

/// The namespace of server backup ids (a fixed random UUID).
const SERVER_BACKUP_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2a57_93d4_4e0b_b1a8_5c2e_07d9_3f64);

/// The id of the backup of `server` in `checkpoint`.
pub fn server_backup_id(checkpoint: &str, server: &str) -> String {
    uuid::Uuid::new_v5(&SERVER_BACKUP_NAMESPACE, format!("{checkpoint}/{server}").as_bytes()).to_string()
}

/// One server's disks backed up together.
#[derive(Debug, Clone)]
pub struct ServerBackup {
    pub id: String,
    pub server_id: String,
    /// The server's name, or its id once it is gone.
    pub server_name: String,
    pub checkpoint_id: String,
    /// The disks' backups, in the order they were listed (newest first).
    pub children: Vec<Backup>,
}

impl ServerBackup {
    fn first(&self) -> &Backup {
        &self.children[0]
    }

    pub fn project_id(&self) -> &str {
        &self.first().project_id
    }

    pub fn vault_id(&self) -> Option<&str> {
        self.first().vault_id.as_deref()
    }

    pub fn name(&self) -> Option<&str> {
        self.first().name.as_deref()
    }

    pub fn description(&self) -> Option<&str> {
        self.first().description.as_deref()
    }

    pub fn availability_zone(&self) -> &str {
        &self.first().availability_zone
    }

    pub fn auto_trigger(&self) -> bool {
        self.first().auto_trigger
    }

    /// The disks' sizes together, in GB.
    pub fn size_gb(&self) -> i64 {
        self.children.iter().map(|b| b.size_gb).sum()
    }

    pub fn created_at(&self) -> i64 {
        self.children.iter().map(|b| b.created_at).min().unwrap_or_default()
    }

    pub fn updated_at(&self) -> Option<i64> {
        self.children.iter().filter_map(|b| b.updated_at).max()
    }

    /// The instant the disks were taken at.
    pub fn data_timestamp(&self) -> i64 {
        self.first().data_timestamp
    }

    /// Whether every disk's backup is incremental to an earlier one.
    pub fn incremental(&self) -> bool {
        self.children.iter().all(|b| b.parent_id.is_some())
    }

    pub fn encrypted(&self) -> bool {
        self.children.iter().any(|b| b.encryption_key_id.is_some())
    }

    /// The status of the whole, from its children's (Cinder's words): work under way shows
    /// first, then a failure, else `available`.
    pub fn status(&self) -> &'static str {
        let any = |s: &str| self.children.iter().any(|b| b.status == s);
        if any("creating") {
            "creating"
        } else if any("deleting") {
            "deleting"
        } else if any("restoring") {
            "restoring"
        } else if self.children.iter().any(|b| b.status.starts_with("error")) {
            "error"
        } else {
            "available"
        }
    }
}

/// Groups the server disks' backups among `backups` by server backup, in the order their
/// first child comes.
fn group(backups: Vec<Backup>) -> Vec<ServerBackup> {
    let mut out: Vec<ServerBackup> = Vec::new();
    for b in backups {
        let (Some(checkpoint), Some(server)) = (b.checkpoint_id.clone(), b.server_id.clone()) else { continue };
        let id = server_backup_id(&checkpoint, &server);
        match out.iter_mut().find(|s| s.id == id) {
            Some(s) => s.children.push(b),
            None => out.push(ServerBackup {
                id,
                server_name: server.clone(),
                server_id: server,
                checkpoint_id: checkpoint,
                children: vec![b],
            }),
        }
    }
    out
}

impl Control {
    /// The server backups of the caller's project in `filter`'s vault and checkpoint, newest
    /// first, without their servers' names.
    async fn server_backups_in(&self, ctx: &Ctx, filter: BackupFilter) -> Result<Vec<ServerBackup>, Error> {
        // Children are grouped whole: a name filter applies to the server backup, not to
        // each child (one may have been renamed through Cinder).
        let filter = BackupFilter { name: None, volume_id: None, ..filter };
        Ok(group(self.list_backups(ctx, filter, false, &PageRequest::largest()).await?))
    }

    /// Sets the server's name on a server backup (its id stays the name once it is gone).
    async fn name_server(&self, s: &mut ServerBackup) -> Result<(), Error> {
        let mut c = self.store().read().await?;
        if let Some(server) =
            nimbus_store::servers::get(&mut c, &s.server_id).await?.filter(|v| v.project_id == s.project_id())
        {
            s.server_name = server.name;
        }
        Ok(())
    }

    /// The server backups of the caller's project matching `filter` (its vault,
    /// checkpoint, name), newest first.
    pub async fn list_server_backups(&self, ctx: &Ctx, filter: BackupFilter) -> Result<Vec<ServerBackup>, Error> {
        let name = filter.name.clone();
        let mut grouped = self.server_backups_in(ctx, filter).await?;
        grouped.retain(|s| name.as_deref().is_none_or(|n| s.name() == Some(n)));
        for s in &mut grouped {
            self.name_server(s).await?;
        }
        Ok(grouped)
    }

    /// The caller's server backup `id`; `None` when no server backup of theirs has that id
    /// (it may be a disk's backup).
    pub async fn find_server_backup(&self, ctx: &Ctx, id: &str) -> Result<Option<ServerBackup>, Error> {
        let found = self.server_backups_in(ctx, BackupFilter::default()).await?.into_iter().find(|s| s.id == id);
        match found {
            Some(mut s) => {
                self.name_server(&mut s).await?;
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    /// Renames or re-describes a server backup: every child, in one transaction.
    pub async fn update_server_backup(
        &self,
        ctx: &Ctx,
        backup: &ServerBackup,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<ServerBackup, Error> {
        let mut tx = self.store().write().await?;
        let mut children = Vec::new();
        for child in &backup.children {
            children.push(self.update_backup_in(&mut tx, ctx, &child.id, name.clone(), description.clone()).await?);
        }
        tx.commit().await?;
        Ok(ServerBackup { children, ..backup.clone() })
    }

    /// Deletes a server backup: every child, in one transaction, or none when one of them
    /// cannot be deleted now.
    pub async fn delete_server_backup(&self, ctx: &Ctx, backup: &ServerBackup) -> Result<(), Error> {
        self.delete_backups_together(ctx, backup.children.iter()).await
    }

    /// Starts the deletion of `backups` in one transaction: all of them, or none.
    pub(crate) async fn delete_backups_together<'a>(
        &self,
        ctx: &Ctx,
        backups: impl Iterator<Item = &'a Backup>,
    ) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        for b in backups {
            self.delete_backup_in(&mut tx, ctx, &b.id).await?;
        }
        tx.commit().await?;
        self.wake_jobs();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(id: &str, checkpoint: Option<&str>, server: Option<&str>, status: &str) -> Backup {
        Backup {
            id: id.into(),
            project_id: "p".into(),
            user_id: "u".into(),
            volume_id: format!("vol-{id}"),
            name: Some("manualbk".into()),
            description: None,
            size_gb: 10,
            status: status.into(),
            fail_reason: None,
            parent_id: None,
            availability_zone: "az".into(),
            container: String::new(),
            object_count: 0,
            stored_bytes: 0,
            read_bytes: 0,
            metadata: "{}".into(),
            queued_at: None,
            holds_slot: 0,
            data_timestamp: 5,
            created_at: id.len() as i64,
            updated_at: None,
            version: 1,
            vault_id: Some("vault".into()),
            checkpoint_id: checkpoint.map(Into::into),
            auto_trigger: false,
            volume_metadata: "{}".into(),
            server_id: server.map(Into::into),
            snapshot_id: None,
            encryption_key_id: None,
        }
    }

    #[test]
    fn disks_backed_up_together_make_one_server_backup_per_server_and_checkpoint() {
        let grouped = group(vec![
            child("a", Some("k1"), Some("s1"), "available"),
            child("b", Some("k1"), Some("s2"), "creating"),
            child("c", Some("k1"), Some("s1"), "available"),
            child("d", Some("k2"), Some("s1"), "error"),
            child("e", Some("k1"), None, "available"),
            child("f", None, None, "available"),
        ]);
        let ids: Vec<(&str, Vec<&str>)> = grouped
            .iter()
            .map(|s| (s.server_id.as_str(), s.children.iter().map(|b| b.id.as_str()).collect()))
            .collect();
        assert_eq!(ids, vec![("s1", vec!["a", "c"]), ("s2", vec!["b"]), ("s1", vec!["d"])]);
        assert_eq!(grouped[0].id, server_backup_id("k1", "s1"));
        assert_ne!(grouped[0].id, grouped[2].id);
        assert_eq!(grouped[0].size_gb(), 20);
        assert_eq!(
            grouped.iter().map(ServerBackup::status).collect::<Vec<_>>(),
            vec!["available", "creating", "error"]
        );
    }

    #[test]
    fn the_status_shows_work_under_way_first() {
        let s = |statuses: &[&str]| ServerBackup {
            id: "x".into(),
            server_id: "s".into(),
            server_name: "s".into(),
            checkpoint_id: "k".into(),
            children: statuses.iter().enumerate().map(|(i, st)| child(&"x".repeat(i + 1), None, None, st)).collect(),
        };
        assert_eq!(s(&["available", "deleting"]).status(), "deleting");
        assert_eq!(s(&["error", "restoring"]).status(), "restoring");
        assert_eq!(s(&["error_restoring", "available"]).status(), "error");
        assert_eq!(s(&["available", "available"]).status(), "available");
    }
}
