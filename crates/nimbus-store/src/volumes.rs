//! Block storage repositories: volume types, volumes and their attachments.
//!
//! Volume updates are conditional on the `version` the writer read (as servers' are), so two
//! writers racing on PostgreSQL cannot both move a volume's status.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A volume type (SATA, SAS, SSD...) and the QoS its volumes get.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[sqlx(try_from = "crate::IntBool")]
    pub is_public: bool,
    /// A JSON object of strings.
    pub extra_specs: String,
    /// The limits of types made before QoS specs existed (`{"total_iops_sec": n,
    /// "total_bytes_sec": n}`), converted into specs at start; `{}` after.
    pub qos: String,
    pub created_at: i64,
    /// The QoS specs whose limits the type's volumes get.
    pub qos_specs_id: Option<String>,
}

pub async fn insert_type(c: &mut AnyConnection, t: &VolumeType) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volume_types (id, name, description, is_public, extra_specs, qos, created_at, qos_specs_id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.is_public as i64)
    .bind(&t.extra_specs)
    .bind(&t.qos)
    .bind(t.created_at)
    .bind(&t.qos_specs_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_type(c: &mut AnyConnection, t: &VolumeType) -> Result<(), Error> {
    sqlx::query(
        "UPDATE volume_types SET name=$2, description=$3, is_public=$4, extra_specs=$5, qos=$6, qos_specs_id=$7 \
         WHERE id=$1",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.is_public as i64)
    .bind(&t.extra_specs)
    .bind(&t.qos)
    .bind(&t.qos_specs_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Removes a type and the projects it was shared with.
pub async fn delete_type(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    for sql in
        ["DELETE FROM volume_type_access WHERE type_id = $1", "DELETE FROM volume_type_encryption WHERE type_id = $1"]
    {
        sqlx::query(sql).bind(id).execute(&mut *c).await.map_err(db_error)?;
    }
    let r = sqlx::query("DELETE FROM volume_types WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// The projects a private type is shared with, in order.
pub async fn type_access(c: &mut AnyConnection, type_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT project_id FROM volume_type_access WHERE type_id = $1 ORDER BY project_id")
        .bind(type_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The private types shared with a project.
pub async fn types_shared_with(c: &mut AnyConnection, project_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar("SELECT type_id FROM volume_type_access WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Shares a type with a project; `false` if it already was.
pub async fn add_type_access(c: &mut AnyConnection, type_id: &str, project_id: &str) -> Result<bool, Error> {
    let r = sqlx::query(
        "INSERT INTO volume_type_access (type_id, project_id) VALUES ($1, $2) ON CONFLICT (type_id, project_id) DO NOTHING",
    )
    .bind(type_id)
    .bind(project_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Stops sharing a type with a project; `false` if it was not.
pub async fn remove_type_access(c: &mut AnyConnection, type_id: &str, project_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_type_access WHERE type_id = $1 AND project_id = $2")
        .bind(type_id)
        .bind(project_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Named QoS limits (Cinder's QoS specs).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QosSpecs {
    pub id: String,
    pub name: String,
    pub consumer: String,
    /// A JSON object of strings.
    pub specs: String,
    pub created_at: i64,
}

pub async fn insert_qos(c: &mut AnyConnection, q: &QosSpecs) -> Result<(), Error> {
    sqlx::query("INSERT INTO volume_qos_specs (id, name, consumer, specs, created_at) VALUES ($1,$2,$3,$4,$5)")
        .bind(&q.id)
        .bind(&q.name)
        .bind(&q.consumer)
        .bind(&q.specs)
        .bind(q.created_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn update_qos(c: &mut AnyConnection, q: &QosSpecs) -> Result<(), Error> {
    sqlx::query("UPDATE volume_qos_specs SET name = $2, consumer = $3, specs = $4 WHERE id = $1")
        .bind(&q.id)
        .bind(&q.name)
        .bind(&q.consumer)
        .bind(&q.specs)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_qos(c: &mut AnyConnection, id: &str) -> Result<Option<QosSpecs>, Error> {
    sqlx::query_as("SELECT * FROM volume_qos_specs WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn find_qos_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<QosSpecs>, Error> {
    sqlx::query_as("SELECT * FROM volume_qos_specs WHERE name = $1")
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// Every QoS specs, by name.
pub async fn list_qos(c: &mut AnyConnection) -> Result<Vec<QosSpecs>, Error> {
    sqlx::query_as("SELECT * FROM volume_qos_specs ORDER BY name").fetch_all(c).await.map_err(db_error)
}

/// Removes QoS specs, dissociating the types that had them.
pub async fn delete_qos(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    sqlx::query("UPDATE volume_types SET qos_specs_id = NULL WHERE qos_specs_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    let r = sqlx::query("DELETE FROM volume_qos_specs WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// The types associated with QoS specs, by name.
pub async fn qos_types(c: &mut AnyConnection, qos_id: &str) -> Result<Vec<VolumeType>, Error> {
    sqlx::query_as("SELECT * FROM volume_types WHERE qos_specs_id = $1 ORDER BY name")
        .bind(qos_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A type by id or by name.
pub async fn find_type(c: &mut AnyConnection, id_or_name: &str) -> Result<Option<VolumeType>, Error> {
    sqlx::query_as("SELECT * FROM volume_types WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1")
        .bind(id_or_name)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// Every type, by name.
pub async fn list_types(c: &mut AnyConnection) -> Result<Vec<VolumeType>, Error> {
    sqlx::query_as("SELECT * FROM volume_types ORDER BY name").fetch_all(c).await.map_err(db_error)
}

/// How many volumes have the type.
pub async fn type_in_use(c: &mut AnyConnection, type_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM volumes WHERE type_id = $1")
        .bind(type_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

/// A volume row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Volume {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size_gb: i64,
    pub type_id: String,
    pub availability_zone: String,
    pub status: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub bootable: bool,
    #[sqlx(try_from = "crate::IntBool")]
    pub multiattach: bool,
    pub image_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub backup_id: Option<String>,
    /// User metadata, a JSON object of strings.
    pub metadata: String,
    /// Flags set by actions (Cinder's admin metadata: `readonly`), a JSON object of strings.
    pub admin_metadata: String,
    /// Image metadata (Cinder's `volume_image_metadata`), a JSON object of strings.
    pub image_metadata: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub version: i64,
    /// The generic group it belongs to (set and cleared by the group's calls).
    pub group_id: Option<String>,
    /// An encrypted volume's key (`volume_keys`); none for a plaintext volume.
    pub encryption_key_id: Option<String>,
}

impl Volume {
    /// Whether its data is encrypted (a LUKS image opened with its own key).
    pub fn encrypted(&self) -> bool {
        self.encryption_key_id.is_some()
    }

    /// Whether guests get it read-only (the `readonly` flag of its admin metadata).
    pub fn readonly(&self) -> bool {
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&self.admin_metadata)
            .is_ok_and(|m| m.get("readonly").is_some_and(|r| r == "True"))
    }
}

pub async fn insert(c: &mut AnyConnection, v: &Volume) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volumes (id, project_id, user_id, name, description, size_gb, type_id, availability_zone, \
         status, bootable, multiattach, image_id, snapshot_id, source_volid, backup_id, metadata, created_at, \
         updated_at, version, admin_metadata, image_metadata, group_id, encryption_key_id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)",
    )
    .bind(&v.id)
    .bind(&v.project_id)
    .bind(&v.user_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(v.size_gb)
    .bind(&v.type_id)
    .bind(&v.availability_zone)
    .bind(&v.status)
    .bind(v.bootable as i64)
    .bind(v.multiattach as i64)
    .bind(&v.image_id)
    .bind(&v.snapshot_id)
    .bind(&v.source_volid)
    .bind(&v.backup_id)
    .bind(&v.metadata)
    .bind(v.created_at)
    .bind(v.updated_at)
    .bind(v.version)
    .bind(&v.admin_metadata)
    .bind(&v.image_metadata)
    .bind(&v.group_id)
    .bind(&v.encryption_key_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a volume read at `v.version`; a concurrent change makes this a conflict.
pub async fn update(c: &mut AnyConnection, v: &Volume) -> Result<i64, Error> {
    let r = sqlx::query(
        "UPDATE volumes SET name=$3, description=$4, size_gb=$5, type_id=$6, status=$7, bootable=$8, metadata=$9, \
         updated_at=$10, admin_metadata=$11, image_metadata=$12, multiattach=$13, encryption_key_id=$14, \
         version = version + 1 WHERE id=$1 AND version=$2",
    )
    .bind(&v.id)
    .bind(v.version)
    .bind(&v.name)
    .bind(&v.description)
    .bind(v.size_gb)
    .bind(&v.type_id)
    .bind(&v.status)
    .bind(v.bootable as i64)
    .bind(&v.metadata)
    .bind(v.updated_at)
    .bind(&v.admin_metadata)
    .bind(&v.image_metadata)
    .bind(v.multiattach as i64)
    .bind(&v.encryption_key_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    if r.rows_affected() == 1 {
        Ok(v.version + 1)
    } else {
        Err(Error::Conflict(format!("Volume {} changed while this request ran; try again.", v.id)))
    }
}

pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Volume>, Error> {
    sqlx::query_as("SELECT * FROM volumes WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// The resource type of volumes' tags (as TMS names EVS disks).
pub const VOLUME_TAG_KIND: &str = "disk";

/// Deletes a volume's row and its tags, and destroys its key (an encrypted volume's own copy).
pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    sqlx::query("DELETE FROM volume_keys WHERE id = (SELECT encryption_key_id FROM volumes WHERE id = $1)")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    crate::tags::clear(&mut *c, VOLUME_TAG_KIND, id).await?;
    let r = sqlx::query("DELETE FROM volumes WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// List filters (all optional).
#[derive(Debug, Clone, Default)]
pub struct VolumeFilter {
    pub project_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub availability_zone: Option<String>,
    pub group_id: Option<String>,
}

/// Volumes matching `f`, newest first (Cinder's default order), paged by id marker.
pub async fn list(c: &mut AnyConnection, f: &VolumeFilter, page: &PageRequest) -> Result<Vec<Volume>, Error> {
    let mut sql = Sql::new("SELECT * FROM volumes WHERE 1=1");
    sql.and_eq("project_id", f.project_id.clone().map(Arg::Text))
        .and_eq("name", f.name.clone().map(Arg::Text))
        .and_eq("status", f.status.clone().map(Arg::Text))
        .and_eq("availability_zone", f.availability_zone.clone().map(Arg::Text))
        .and_eq("group_id", f.group_id.clone().map(Arg::Text));
    if let Some(m) = &page.marker {
        sql.push(" AND (created_at < (SELECT created_at FROM volumes WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") OR (created_at = (SELECT created_at FROM volumes WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") AND id < ")
            .bind(Arg::Text(m.clone()))
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// Every volume (the reconcilers' view).
pub async fn all(c: &mut AnyConnection) -> Result<Vec<Volume>, Error> {
    sqlx::query_as("SELECT * FROM volumes ORDER BY created_at").fetch_all(c).await.map_err(db_error)
}

/// A volume's attachment to a server.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Attachment {
    pub id: String,
    pub volume_id: String,
    pub server_id: String,
    /// The guest device, `/dev/vdb`...
    pub device: String,
    /// attaching | attached | detaching
    pub status: String,
    pub attached_at: Option<i64>,
    /// The volume goes with the server (a boot volume made for it).
    #[sqlx(try_from = "crate::IntBool")]
    pub delete_on_termination: bool,
}

/// The guest device of a server's boot volume.
pub const BOOT_DEVICE: &str = "/dev/vda";

impl Attachment {
    /// Whether this is the server's boot disk.
    pub fn is_boot(&self) -> bool {
        self.device == BOOT_DEVICE
    }
}

/// A volume's attachments.
pub async fn attachments(c: &mut AnyConnection, volume_id: &str) -> Result<Vec<Attachment>, Error> {
    sqlx::query_as("SELECT * FROM volume_attachments WHERE volume_id = $1 ORDER BY attached_at, id")
        .bind(volume_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A server's attachments, in attachment order (the order of its PCI slots at boot).
pub async fn server_attachments(c: &mut AnyConnection, server_id: &str) -> Result<Vec<Attachment>, Error> {
    sqlx::query_as("SELECT * FROM volume_attachments WHERE server_id = $1 ORDER BY attached_at, id")
        .bind(server_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The attachment of a volume to a server, if any.
pub async fn attachment(c: &mut AnyConnection, volume_id: &str, server_id: &str) -> Result<Option<Attachment>, Error> {
    sqlx::query_as("SELECT * FROM volume_attachments WHERE volume_id = $1 AND server_id = $2")
        .bind(volume_id)
        .bind(server_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn insert_attachment(c: &mut AnyConnection, a: &Attachment) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volume_attachments (id, volume_id, server_id, device, status, attached_at, \
         delete_on_termination) VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(&a.id)
    .bind(&a.volume_id)
    .bind(&a.server_id)
    .bind(&a.device)
    .bind(&a.status)
    .bind(a.attached_at)
    .bind(a.delete_on_termination as i64)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Moves an attachment to `status`; `false` if it is gone.
/// What one project holds on the block-storage back end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectHoldings {
    pub project_id: String,
    pub volume_count: i64,
    pub volume_gb: i64,
    pub snapshot_count: i64,
    pub snapshot_gb: i64,
}

/// How many rows of `table` (a table with `project_id`, `size_gb` and `status`) each project
/// has, and their size in GB, leaving out those being deleted.
async fn count_and_gb(c: &mut AnyConnection, table: &'static str) -> Result<Vec<(String, i64, i64)>, Error> {
    sqlx::query_as(&format!(
        "SELECT project_id, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(size_gb), 0) AS BIGINT) FROM {table} \
         WHERE status <> 'deleting' GROUP BY project_id ORDER BY project_id"
    ))
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// The volumes and snapshots of every project (those not being deleted), by project.
pub async fn holdings_by_project(c: &mut AnyConnection) -> Result<Vec<ProjectHoldings>, Error> {
    let volumes = count_and_gb(&mut *c, "volumes").await?;
    let snapshots = count_and_gb(&mut *c, "volume_snapshots").await?;
    let mut by: std::collections::BTreeMap<String, ProjectHoldings> = std::collections::BTreeMap::new();
    for (p, n, gb) in volumes {
        let h = by.entry(p.clone()).or_insert_with(|| ProjectHoldings { project_id: p, ..Default::default() });
        (h.volume_count, h.volume_gb) = (n, gb);
    }
    for (p, n, gb) in snapshots {
        let h = by.entry(p.clone()).or_insert_with(|| ProjectHoldings { project_id: p, ..Default::default() });
        (h.snapshot_count, h.snapshot_gb) = (n, gb);
    }
    Ok(by.into_values().collect())
}

/// Makes every volume attached to the server go when the server goes (or not).
pub async fn set_delete_on_termination(c: &mut AnyConnection, server_id: &str, delete: bool) -> Result<(), Error> {
    sqlx::query("UPDATE volume_attachments SET delete_on_termination = $2 WHERE server_id = $1")
        .bind(server_id)
        .bind(delete as i64)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn set_attachment_status(c: &mut AnyConnection, id: &str, status: &str) -> Result<bool, Error> {
    let r = sqlx::query("UPDATE volume_attachments SET status = $2 WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn delete_attachment(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_attachments WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A volume snapshot row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Snapshot {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size_gb: i64,
    pub status: String,
    /// User metadata, a JSON object of strings.
    pub metadata: String,
    /// Progress reported by the hypervisor (`"80%"`); `None`: derived from the status.
    pub progress: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub version: i64,
    /// The group snapshot it was taken as part of (deleted only with it).
    pub group_snapshot_id: Option<String>,
}

pub async fn insert_snapshot(c: &mut AnyConnection, s: &Snapshot) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volume_snapshots (id, project_id, user_id, volume_id, name, description, size_gb, status, \
         metadata, created_at, updated_at, version, group_snapshot_id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(&s.id)
    .bind(&s.project_id)
    .bind(&s.user_id)
    .bind(&s.volume_id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(s.size_gb)
    .bind(&s.status)
    .bind(&s.metadata)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(s.version)
    .bind(&s.group_snapshot_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a snapshot read at `s.version`; a concurrent change makes this a conflict.
pub async fn update_snapshot(c: &mut AnyConnection, s: &Snapshot) -> Result<i64, Error> {
    let r = sqlx::query(
        "UPDATE volume_snapshots SET name=$3, description=$4, status=$5, metadata=$6, updated_at=$7, \
         progress=$8, version = version + 1 WHERE id=$1 AND version=$2",
    )
    .bind(&s.id)
    .bind(s.version)
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.status)
    .bind(&s.metadata)
    .bind(s.updated_at)
    .bind(&s.progress)
    .execute(c)
    .await
    .map_err(db_error)?;
    if r.rows_affected() == 1 {
        Ok(s.version + 1)
    } else {
        Err(Error::Conflict(format!("Snapshot {} changed while this request ran; try again.", s.id)))
    }
}

pub async fn get_snapshot(c: &mut AnyConnection, id: &str) -> Result<Option<Snapshot>, Error> {
    sqlx::query_as("SELECT * FROM volume_snapshots WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_snapshot(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_snapshots WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// A volume's snapshots, oldest first.
pub async fn volume_snapshots(c: &mut AnyConnection, volume_id: &str) -> Result<Vec<Snapshot>, Error> {
    sqlx::query_as("SELECT * FROM volume_snapshots WHERE volume_id = $1 ORDER BY created_at, id")
        .bind(volume_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Snapshot list filters (all optional).
#[derive(Debug, Clone, Default)]
pub struct SnapshotFilter {
    pub project_id: Option<String>,
    pub volume_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

/// Snapshots matching `f`, newest first, paged by id marker.
pub async fn list_snapshots(
    c: &mut AnyConnection,
    f: &SnapshotFilter,
    page: &PageRequest,
) -> Result<Vec<Snapshot>, Error> {
    let mut sql = Sql::new("SELECT * FROM volume_snapshots WHERE 1=1");
    sql.and_eq("project_id", f.project_id.clone().map(Arg::Text))
        .and_eq("volume_id", f.volume_id.clone().map(Arg::Text))
        .and_eq("name", f.name.clone().map(Arg::Text))
        .and_eq("status", f.status.clone().map(Arg::Text));
    if let Some(m) = &page.marker {
        sql.push(" AND (created_at < (SELECT created_at FROM volume_snapshots WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") OR (created_at = (SELECT created_at FROM volume_snapshots WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") AND id < ")
            .bind(Arg::Text(m.clone()))
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// A volume offered to another project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Transfer {
    pub id: String,
    /// The project offering the volume.
    pub project_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    /// argon2id hash of the key the receiver presents.
    pub key_hash: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub no_snapshots: bool,
    pub created_at: i64,
}

pub async fn insert_transfer(c: &mut AnyConnection, t: &Transfer) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO volume_transfers (id, project_id, volume_id, name, key_hash, no_snapshots, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(&t.id)
    .bind(&t.project_id)
    .bind(&t.volume_id)
    .bind(&t.name)
    .bind(&t.key_hash)
    .bind(t.no_snapshots as i64)
    .bind(t.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_transfer(c: &mut AnyConnection, id: &str) -> Result<Option<Transfer>, Error> {
    sqlx::query_as("SELECT * FROM volume_transfers WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// A project's transfers (every project's with `None`), oldest first.
pub async fn list_transfers(c: &mut AnyConnection, project_id: Option<&str>) -> Result<Vec<Transfer>, Error> {
    match project_id {
        Some(p) => sqlx::query_as("SELECT * FROM volume_transfers WHERE project_id = $1 ORDER BY created_at, id")
            .bind(p)
            .fetch_all(c)
            .await
            .map_err(db_error),
        None => sqlx::query_as("SELECT * FROM volume_transfers ORDER BY created_at, id")
            .fetch_all(c)
            .await
            .map_err(db_error),
    }
}

pub async fn delete_transfer(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_transfers WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Moves a volume (and, `with_snapshots`, its snapshots) to another project and user.
pub async fn move_volume(
    c: &mut AnyConnection,
    volume_id: &str,
    project_id: &str,
    user_id: &str,
    with_snapshots: bool,
) -> Result<(), Error> {
    sqlx::query("UPDATE volumes SET project_id = $2, user_id = $3, version = version + 1 WHERE id = $1")
        .bind(volume_id)
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *c)
        .await
        .map_err(db_error)?;
    crate::tags::move_resource(&mut *c, VOLUME_TAG_KIND, volume_id, project_id).await?;
    if with_snapshots {
        sqlx::query(
            "UPDATE volume_snapshots SET project_id = $2, user_id = $3, version = version + 1 WHERE volume_id = $1",
        )
        .bind(volume_id)
        .bind(project_id)
        .bind(user_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// The encryption of a volume type (Cinder's encryption type).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TypeEncryption {
    pub type_id: String,
    pub encryption_id: String,
    pub provider: String,
    pub cipher: Option<String>,
    pub key_size: Option<i64>,
    pub control_location: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

pub async fn type_encryption(c: &mut AnyConnection, type_id: &str) -> Result<Option<TypeEncryption>, Error> {
    sqlx::query_as("SELECT * FROM volume_type_encryption WHERE type_id = $1")
        .bind(type_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// Sets a type's encryption (replacing what it had).
pub async fn put_type_encryption(c: &mut AnyConnection, e: &TypeEncryption) -> Result<(), Error> {
    delete_type_encryption(&mut *c, &e.type_id).await?;
    sqlx::query(
        "INSERT INTO volume_type_encryption (type_id, encryption_id, provider, cipher, key_size, control_location, \
         created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&e.type_id)
    .bind(&e.encryption_id)
    .bind(&e.provider)
    .bind(&e.cipher)
    .bind(e.key_size)
    .bind(&e.control_location)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn delete_type_encryption(c: &mut AnyConnection, type_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_type_encryption WHERE type_id = $1")
        .bind(type_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// An encrypted volume's or backup's key, wrapped by the region's volume key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VolumeKeyRow {
    pub id: String,
    pub wrapped: String,
    pub aes_bits: i64,
    pub created_at: i64,
}

pub async fn insert_key(c: &mut AnyConnection, k: &VolumeKeyRow) -> Result<(), Error> {
    sqlx::query("INSERT INTO volume_keys (id, wrapped, aes_bits, created_at) VALUES ($1,$2,$3,$4)")
        .bind(&k.id)
        .bind(&k.wrapped)
        .bind(k.aes_bits)
        .bind(k.created_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_key(c: &mut AnyConnection, id: &str) -> Result<Option<VolumeKeyRow>, Error> {
    sqlx::query_as("SELECT * FROM volume_keys WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// How many keys exist (encrypted volumes and their backups).
pub async fn count_keys(c: &mut AnyConnection) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM volume_keys").fetch_one(c).await.map_err(db_error)
}

/// Destroys a key (nothing if it is gone).
pub async fn delete_key(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM volume_keys WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}
