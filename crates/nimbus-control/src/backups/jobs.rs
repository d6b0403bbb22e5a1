//! The durable jobs of backups: create, delete, restore. Each first waits for one of the
//! project's operation slots (at most `backup_max_concurrent` run at once, the others wait
//! in the order they were asked for), then works in idempotent steps, so a `kill -9` of
//! `nimbus` resumes them: a create re-reads the volume's snapshot (chunks already stored are
//! found in the index, not stored twice) and the backup becomes `available` only in the
//! transaction that counts its chunks.

use super::chunks::{pack_writer, RestoreReader};
use super::{backup_bucket, backup_snapshot, source_snapshot};
use crate::jobs::{JobHandler, JobRegistry, StepOutcome};
use crate::volumes::messages::{MessageAction, MessageDetail, MessageResource};
use crate::Control;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::backup_data::{self, Manifest, Piece};
use nimbus_drivers::data_file::{AlignedBuf, BlockFile};
use nimbus_drivers::qcow2_map::{self, ClusterMap};
use nimbus_drivers::volume_files::VolumeFormat;
use nimbus_store::backups::{self as repo, Backup};
use nimbus_store::jobs::Job;
use nimbus_store::volumes::{self as volumes_repo, Volume};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

pub const CREATE_BACKUP_JOB: &str = "createBackup";
pub const DELETE_BACKUP_JOB: &str = "deleteBackup";
pub const RESTORE_BACKUP_JOB: &str = "restoreBackup";
/// Copies an imported backup record's data into the importing project's store.
pub const IMPORT_BACKUP_JOB: &str = "importBackup";

/// Windows read and cut ahead of the one being stored.
const CUT_AHEAD: usize = 8;

/// A restore puts the volume together this many bytes at a time.
const RESTORE_WINDOW: u64 = 8 << 20;

/// Windows a restore reads, checks and writes at once (each holds its buffer and the pack
/// bytes it read: about 16 MiB).
const RESTORE_AHEAD: usize = 4;

/// How often a waiting operation looks for a free slot.
const SLOT_POLL: Duration = Duration::from_millis(500);

/// Registers the backup jobs (and the server restore's).
pub fn register_jobs(r: &mut JobRegistry) {
    super::server_restore::register_jobs(r);
    r.register(Arc::new(BackupJob(CREATE_BACKUP_JOB)));
    r.register(Arc::new(BackupJob(DELETE_BACKUP_JOB)));
    r.register(Arc::new(BackupJob(RESTORE_BACKUP_JOB)));
    r.register(Arc::new(BackupJob(IMPORT_BACKUP_JOB)));
}

/// Whether a restore job makes a new volume (else it writes over an existing one).
fn restores_to_new(job: &Job) -> bool {
    serde_json::from_str::<serde_json::Value>(&job.params).ok().and_then(|p| p["new_volume"].as_bool()).unwrap_or(false)
}

fn ids(job: &Job) -> Result<(String, String), Error> {
    let p: serde_json::Value = serde_json::from_str(&job.params)?;
    match (p["backup_id"].as_str(), p["volume_id"].as_str()) {
        (Some(b), Some(v)) => Ok((b.to_string(), v.to_string())),
        _ => Err(Error::Internal(format!("backup job {} without its ids", job.id))),
    }
}

/// What a backup reads: the volume's size, the ranges to read, the snapshot's cluster map
/// (QCOW2 volumes) and the parent's manifest when only changes are read.
type ReadPlan = (u64, Vec<Range<u64>>, Option<Arc<ClusterMap>>, Option<Manifest>);

/// What a backup read: how many chunks its manifest names, how many bytes it read and
/// stored, and how long its phases took (planning: the cluster maps and the parent's
/// manifest; data: reading, cutting, storing and indexing, until the backup's data is all
/// stored; manifest: building and storing it, while the last packs are written), for the
/// log.
struct Taken {
    chunk_count: usize,
    read_bytes: u64,
    stored_bytes: u64,
    phases_ms: [u128; 3],
}

impl Control {
    /// Changes a backup row (re-read; `None` if it is gone).
    async fn settle_backup(&self, id: &str, change: impl Fn(&mut Backup)) -> Result<Option<Backup>, Error> {
        for _ in 0..10 {
            let mut tx = self.store().write().await?;
            let Some(mut b) = repo::get(&mut tx, id).await? else { return Ok(None) };
            change(&mut b);
            b.updated_at = Some(now_ms());
            match repo::update(&mut tx, &b).await {
                Ok(v) => b.version = v,
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
            tx.commit().await?;
            return Ok(Some(b));
        }
        Err(Error::Internal(format!("backup {id} kept changing")))
    }

    /// Takes one of the project's operation slots for this backup when it is the oldest
    /// waiting and one is free; `true` once it holds one.
    async fn take_backup_slot(&self, b: &Backup) -> Result<bool, Error> {
        if b.holds_slot == 1 {
            return Ok(true);
        }
        let mut tx = self.store().write().await?;
        repo::lock_project(&mut tx, &b.project_id).await?;
        let (held, first) = repo::slots(&mut tx, &b.project_id).await?;
        if held >= self.config().backup_max_concurrent || first.as_deref() != Some(b.id.as_str()) {
            return Ok(false);
        }
        let Some(mut row) = repo::get(&mut tx, &b.id).await? else { return Ok(false) };
        row.holds_slot = 1;
        repo::update(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes (or drops) a backup's point-in-time snapshot of a QCOW2 volume (shared raw
    /// volumes have none: they are read whole).
    pub(super) async fn backup_snapshot_op(&self, v: &Volume, name: &str, take: bool) -> Result<(), Error> {
        if VolumeFormat::for_volume(v.multiattach) != VolumeFormat::Qcow2 || !self.drivers().volumes.exists(&v.id).await
        {
            return Ok(());
        }
        self.internal_snapshot(v, name, take).await
    }

    /// Snapshots every disk attached to a server at one instant (through one QEMU
    /// transaction while the guest runs), each named for the backup about to be made of it;
    /// returns (volume id, backup id) per disk. The backups then read these snapshots.
    pub(super) async fn snapshot_server_disks(&self, server_id: &str) -> Result<Vec<(String, String)>, Error> {
        let volumes: Vec<Volume> = {
            let mut c = self.store().read().await?;
            let mut out = Vec::new();
            for a in volumes_repo::server_attachments(&mut c, server_id).await? {
                if a.status != "attached" {
                    continue;
                }
                if let Some(v) = volumes_repo::get(&mut c, &a.volume_id).await? {
                    out.push(v);
                }
            }
            out
        };
        if volumes.is_empty() {
            return Err(Error::bad_request(format!(
                "BackupService.6115: server {server_id} has no volume to back up (a local boot disk is not one: \
                 boot from a volume to protect it)."
            )));
        }
        let planned: Vec<(Volume, String)> =
            volumes.into_iter().map(|v| (v, uuid::Uuid::new_v4().to_string())).collect();
        let mut snapshots = Vec::new();
        for (v, backup) in &planned {
            // Shared (raw) volumes have no internal snapshots: their backup reads them live.
            if VolumeFormat::for_volume(v.multiattach) == VolumeFormat::Qcow2
                && self.drivers().volumes.exists(&v.id).await
            {
                snapshots.push((v.id.clone(), backup_snapshot(backup)));
            }
        }
        let hv = &self.drivers().hypervisor;
        if hv.state(server_id).await? != nimbus_drivers::hypervisor::GuestState::Missing {
            hv.snapshot_volumes_together(server_id, &snapshots).await?;
        } else {
            // No guest writes them: one after the other is the same instant.
            for (volume, name) in &snapshots {
                self.drivers().volumes.snapshot(volume, name).await?;
            }
        }
        Ok(planned.into_iter().map(|(v, b)| (v.id, b)).collect())
    }

    /// Reads a backup's data from its snapshot (only what changed since the parent's
    /// snapshot, when the parent's snapshot and manifest are still there) and stores the new
    /// chunks.
    async fn take_backup(&self, b: &Backup, v: &Volume) -> Result<Taken, Error> {
        let started = std::time::Instant::now();
        let format = VolumeFormat::for_volume(v.multiattach);
        let path = self.drivers().volumes.path(&v.id, format);
        let bucket = self.system_bucket(&backup_bucket(&b.project_id)).await?;
        let (size, ranges, map, parent): ReadPlan = match format {
            VolumeFormat::Qcow2 => {
                // The snapshot's cluster map, and the parent's map and manifest, read at once.
                let read_map = |snap: String| {
                    let p = path.clone();
                    async move {
                        tokio::task::spawn_blocking(move || qcow2_map::snapshot_map(&p, &snap))
                            .await
                            .map_err(|e| Error::Internal(format!("reading the volume's map: {e}")))?
                    }
                };
                let parent = async {
                    let Some(pid) = &b.parent_id else { return Ok(None) };
                    let parent_row = {
                        let mut c = self.store().read().await?;
                        repo::get(&mut c, pid).await?
                    };
                    let Some(parent) = parent_row else { return Ok(None) };
                    let (old, m) = tokio::join!(read_map(source_snapshot(&parent)), self.manifest(&bucket, pid));
                    // Without the parent's snapshot, the backup reads the whole volume.
                    match old {
                        Ok(old) => Ok(m?.map(|m| (old, m))),
                        Err(_) => Ok(None),
                    }
                };
                let (map, parent) = tokio::try_join!(read_map(source_snapshot(b)), parent)?;
                let (ranges, parent) = match parent {
                    Some((old, m)) => (map.changed_since(&old), Some(m)),
                    None => (map.allocated(), None),
                };
                (map.virtual_size, ranges, Some(Arc::new(map)), parent)
            }
            VolumeFormat::Raw => {
                let ranges = backup_data::raw_data_ranges(&path)?;
                let size = ranges.last().map(|r| r.end).unwrap_or(0);
                (size, ranges, None, None)
            }
        };
        let planned = started.elapsed();
        let reader = Arc::new(backup_data::VolumeReader::open(&path)?);
        let expected = ranges.iter().map(|r| r.end - r.start).sum();
        let (mut writer, indexer) = pack_writer(self, &b.project_id, bucket.clone(), expected);
        let mut read_bytes = 0u64;
        let mut manifest_time = Duration::ZERO;
        // Reading and cutting the next windows (on blocking threads) overlaps storing the
        // current one (filling packs), writing packs and indexing the packs written; the
        // manifest is written while the last packs are.
        let cut_window = |w: backup_data::Window| {
            let (reader, map) = (reader.clone(), map.clone());
            tokio::task::spawn_blocking(move || reader.cut_window(map.as_deref(), &w))
        };
        let windows = backup_data::windows(&ranges);
        let store = async {
            let mut fresh: Vec<Piece> = Vec::new();
            let mut ahead: std::collections::VecDeque<_> =
                windows.iter().take(CUT_AHEAD).cloned().map(cut_window).collect();
            for i in 0..windows.len() {
                let current = ahead.pop_front().ok_or_else(|| Error::Internal("backup window lost".into()))?;
                if let Some(w) = windows.get(i + CUT_AHEAD) {
                    ahead.push_back(cut_window(w.clone()));
                }
                let chunks = current.await.map_err(|e| Error::Internal(format!("cutting the volume: {e}")))??;
                read_bytes += backup_data::window_len(&windows[i]);
                for c in chunks.iter().filter(|c| c.stored.is_some()) {
                    fresh.push(Piece { offset: c.offset, len: c.len, chunk: c.hash, skip: 0 });
                }
                writer.add(chunks).await?;
            }
            // Every piece is known: the manifest is built on a blocking thread (a large
            // volume's has tens of thousands of pieces) while the last packs fill, and
            // written while they are written. Nothing names it before the backup is made
            // `available`, after every pack it uses is indexed.
            let t = std::time::Instant::now();
            let changed = ranges.clone();
            let build = tokio::task::spawn_blocking(move || {
                let manifest = match parent {
                    Some(m) => m.overlay(size, &changed, fresh),
                    None => Manifest { size, pieces: fresh },
                };
                Ok::<_, Error>((manifest.encode()?, manifest.chunks().len()))
            });
            writer.finish().await?;
            let (encoded, chunk_count) =
                build.await.map_err(|e| Error::Internal(format!("building the manifest: {e}")))??;
            self.put_system_object(&bucket, &super::manifest_key(&b.id), encoded).await?;
            manifest_time = t.elapsed();
            Ok(chunk_count)
        };
        let (chunk_count, ()) = tokio::try_join!(store, indexer.run())?;
        let phases_ms = [planned.as_millis(), (started.elapsed() - planned).as_millis(), manifest_time.as_millis()];
        Ok(Taken { chunk_count, read_bytes, stored_bytes: writer.stored_bytes, phases_ms })
    }

    /// Writes a backup's content into the scratch file of the volume it restores to,
    /// checking every chunk: [`RESTORE_WINDOW`] bytes of the volume at a time, several at
    /// once, each written whole past the page cache (areas no piece covers stay holes).
    pub(super) async fn assemble_restore(&self, b: &Backup, v: &Volume) -> Result<(), Error> {
        use futures::StreamExt;
        let bucket = self.system_bucket(&backup_bucket(&b.project_id)).await?;
        let manifest = self
            .manifest(&bucket, &b.id)
            .await?
            .ok_or_else(|| Error::Internal(format!("the manifest of backup {} is missing", b.id)))?;
        let scratch = self.drivers().volumes.restore_scratch(&v.id);
        let scratch_error = |e: std::io::Error| Error::Internal(format!("restore scratch: {e}"));
        let out = Arc::new(BlockFile::create(&scratch, manifest.size).map_err(scratch_error)?);
        let reader = RestoreReader::new(self, &b.project_id, &bucket, &manifest).await?;
        let pieces = &manifest.pieces;
        // Window buffers are reused as windows are written.
        let mut spare: Vec<AlignedBuf> = Vec::new();
        let mut in_flight = futures::stream::FuturesUnordered::new();
        for i in 0..manifest.size.div_ceil(RESTORE_WINDOW) {
            let start = i * RESTORE_WINDOW;
            let end = (start + RESTORE_WINDOW).min(manifest.size);
            let first = pieces.partition_point(|p| p.offset + p.len <= start);
            let last = pieces.partition_point(|p| p.offset < end);
            if first == last {
                continue;
            }
            if in_flight.len() >= RESTORE_AHEAD {
                if let Some(done) = in_flight.next().await {
                    spare.push(done?);
                }
            }
            let buf = spare.pop().unwrap_or_else(|| AlignedBuf::new(RESTORE_WINDOW as usize));
            let len = (end - start) as usize;
            in_flight.push(reader.restore_window(start, len, &pieces[first..last], buf, out.clone()));
        }
        while let Some(done) = in_flight.next().await {
            done?;
        }
        tokio::task::spawn_blocking(move || out.finish())
            .await
            .map_err(|e| Error::Internal(format!("restore scratch: {e}")))?
            .map_err(scratch_error)
    }
}

/// Gives back the volume snapshot a backup was made from (`backing-up` -> `available`).
async fn release_source_snapshot(tx: &mut sqlx::AnyConnection, b: &Backup) -> Result<(), Error> {
    let Some(sid) = &b.snapshot_id else { return Ok(()) };
    if let Some(mut s) = volumes_repo::get_snapshot(tx, sid).await?.filter(|s| s.status == "backing-up") {
        s.status = "available".into();
        s.updated_at = Some(now_ms());
        volumes_repo::update_snapshot(tx, &s).await?;
    }
    Ok(())
}

/// The handler of restores, also run for volumes made from a backup (whose job is their
/// `createVolume`).
pub(crate) fn restore_job() -> Arc<dyn JobHandler> {
    Arc::new(BackupJob(RESTORE_BACKUP_JOB))
}

/// One backup job type.
struct BackupJob(&'static str);

#[async_trait::async_trait]
impl JobHandler for BackupJob {
    fn job_type(&self) -> &'static str {
        self.0
    }

    async fn run_step(&self, control: &Control, job: &Job, step: i64) -> Result<StepOutcome, Error> {
        use StepOutcome::{Done, Next, Wait};
        let (bid, vid) = ids(job)?;
        let (b, v) = {
            let mut c = control.store().read().await?;
            (repo::get(&mut c, &bid).await?, volumes_repo::get(&mut c, &vid).await?)
        };
        let Some(b) = b else { return Ok(Done) };
        let busy = match self.0 {
            CREATE_BACKUP_JOB | IMPORT_BACKUP_JOB => "creating",
            DELETE_BACKUP_JOB => "deleting",
            _ => "restoring",
        };
        // A made backup's job still tidies up after it (its last step).
        let tidying = (self.0 == CREATE_BACKUP_JOB && step >= 3) || (self.0 == IMPORT_BACKUP_JOB && step >= 2);
        if b.status != busy && !tidying {
            return Ok(Done);
        }
        if step == 0 {
            return Ok(if control.take_backup_slot(&b).await? { Next } else { Wait(SLOT_POLL) });
        }
        match (self.0, step) {
            (CREATE_BACKUP_JOB, 1) => {
                let v = v.ok_or_else(|| Error::Conflict(format!("volume {vid} is gone")))?;
                // A backup of a volume snapshot reads that snapshot.
                if b.snapshot_id.is_none() {
                    control.backup_snapshot_op(&v, &backup_snapshot(&b.id), true).await?;
                }
                Ok(Next)
            }
            (CREATE_BACKUP_JOB, 2) => {
                let v = v.ok_or_else(|| Error::Conflict(format!("volume {vid} is gone")))?;
                // The chunks found in the index stay: no sweep runs while this backup
                // holds its slot unfinished.
                let taken = control.take_backup(&b, &v).await?;
                let [plan_ms, data_ms, manifest_ms] = taken.phases_ms;
                tracing::info!(
                    backup = %b.id, read = taken.read_bytes, stored = taken.stored_bytes, plan_ms, data_ms, manifest_ms,
                    "backup data stored"
                );
                let mut tx = control.store().write().await?;
                let Some(mut row) = repo::get(&mut tx, &b.id).await?.filter(|r| r.status == "creating") else {
                    return Ok(Done);
                };
                row.status = "available".into();
                row.object_count = taken.chunk_count as i64;
                row.read_bytes = taken.read_bytes as i64;
                row.stored_bytes = taken.stored_bytes as i64;
                row.holds_slot = 0;
                row.queued_at = None;
                row.updated_at = Some(now_ms());
                repo::update(&mut tx, &row).await?;
                control.backup_usage(&mut tx, &row, "created").await?;
                release_source_snapshot(&mut tx, &row).await?;
                tx.commit().await?;
                Ok(Next)
            }
            (CREATE_BACKUP_JOB, _) => {
                // Only the latest backup's snapshot stays in the volume, for the next one.
                if let Some(v) = v {
                    let older: Vec<String> = {
                        let mut c = control.store().read().await?;
                        repo::volume_backups(&mut c, &v.id)
                            .await?
                            .into_iter()
                            .map(|o| o.id)
                            .filter(|o| *o != b.id)
                            .collect()
                    };
                    for o in older {
                        control.backup_snapshot_op(&v, &backup_snapshot(&o), false).await?;
                    }
                }
                // A sweep put off while this backup was being made.
                let pending = {
                    let mut c = control.store().read().await?;
                    repo::sweep_pending(&mut c, &b.project_id).await?
                };
                if pending {
                    let bucket = control.system_bucket(&backup_bucket(&b.project_id)).await?;
                    control.sweep_chunks(&bucket, &b.project_id).await?;
                }
                Ok(Done)
            }
            (IMPORT_BACKUP_JOB, 1) => {
                let p: serde_json::Value = serde_json::from_str(&job.params)?;
                let (Some(project), Some(source)) = (p["source_project"].as_str(), p["source_backup"].as_str()) else {
                    return Err(Error::Internal(format!("import job {} without its source", job.id)));
                };
                // The chunks copied stay: no sweep runs while this backup holds its slot.
                let (manifest, stored) = control.copy_backup_data(&b, project, source).await?;
                let mut tx = control.store().write().await?;
                let Some(mut row) = repo::get(&mut tx, &b.id).await?.filter(|r| r.status == "creating") else {
                    return Ok(Done);
                };
                row.status = "available".into();
                row.object_count = manifest.chunks().len() as i64;
                row.stored_bytes = stored as i64;
                row.holds_slot = 0;
                row.queued_at = None;
                row.updated_at = Some(now_ms());
                repo::update(&mut tx, &row).await?;
                control.backup_usage(&mut tx, &row, "created").await?;
                tx.commit().await?;
                Ok(Next)
            }
            (IMPORT_BACKUP_JOB, _) => {
                // A sweep put off while the copy was being made.
                let pending = {
                    let mut c = control.store().read().await?;
                    repo::sweep_pending(&mut c, &b.project_id).await?
                };
                if pending {
                    let bucket = control.system_bucket(&backup_bucket(&b.project_id)).await?;
                    control.sweep_chunks(&bucket, &b.project_id).await?;
                }
                Ok(Done)
            }
            (DELETE_BACKUP_JOB, _) => {
                let bucket = control.system_bucket(&backup_bucket(&b.project_id)).await?;
                // A backup being deleted keeps none of its chunks alive.
                control.sweep_chunks(&bucket, &b.project_id).await?;
                control.delete_system_object(&bucket, &super::manifest_key(&b.id)).await?;
                if let Some(v) = v {
                    control.backup_snapshot_op(&v, &backup_snapshot(&b.id), false).await?;
                }
                let mut tx = control.store().write().await?;
                if let Some(row) = repo::get(&mut tx, &b.id).await?.filter(|r| r.status == "deleting") {
                    repo::delete(&mut tx, &b.id).await?;
                    control.release_quota(&mut tx, &b.project_id, "backups", 1).await?;
                    control.release_quota(&mut tx, &b.project_id, "backup_gigabytes", b.size_gb).await?;
                    control.backup_usage(&mut tx, &row, "deleted").await?;
                }
                tx.commit().await?;
                Ok(Done)
            }
            (RESTORE_BACKUP_JOB, 1) => {
                let v = v
                    .filter(|v| v.status == "restoring-backup")
                    .ok_or_else(|| Error::Conflict(format!("volume {vid} is no longer waiting for this restore")))?;
                let started = std::time::Instant::now();
                control.assemble_restore(&b, &v).await?;
                let assembled = started.elapsed();
                let existing = !restores_to_new(job);
                // An encrypted backup's bytes open with its key, which the volume took when the
                // restore was asked for.
                let layout = control.volume_layout(&v).await?;
                control.drivers().volumes.restore_from_scratch(&v.id, &layout, v.size_gb, existing).await?;
                tracing::info!(
                    backup = %b.id, volume = %v.id, assemble_ms = assembled.as_millis(),
                    write_ms = (started.elapsed() - assembled).as_millis(), "backup data restored"
                );
                Ok(Next)
            }
            (RESTORE_BACKUP_JOB, _) => {
                let mut tx = control.store().write().await?;
                if let Some(mut v) = volumes_repo::get(&mut tx, &vid).await?.filter(|v| v.status == "restoring-backup")
                {
                    let made = restores_to_new(job);
                    // The volume's metadata as it was backed up comes back with its data.
                    let mut m: BTreeMap<String, String> = serde_json::from_str(&v.metadata).unwrap_or_default();
                    m.extend(serde_json::from_str::<BTreeMap<String, String>>(&b.volume_metadata).unwrap_or_default());
                    v.metadata = serde_json::to_string(&m)?;
                    v.status = "available".into();
                    v.updated_at = Some(now_ms());
                    volumes_repo::update(&mut tx, &v).await?;
                    if made {
                        let vtype =
                            volumes_repo::find_type(&mut tx, &v.type_id).await?.map(|t| t.name).unwrap_or_default();
                        control.volume_usage(&mut tx, &v, "created", &vtype).await?;
                    }
                }
                if let Some(mut row) = repo::get(&mut tx, &b.id).await?.filter(|r| r.status == "restoring") {
                    row.status = "available".into();
                    row.holds_slot = 0;
                    row.queued_at = None;
                    row.updated_at = Some(now_ms());
                    repo::update(&mut tx, &row).await?;
                }
                tx.commit().await?;
                Ok(Done)
            }
            (other, step) => Err(Error::Internal(format!("job type {other} has no step {step}"))),
        }
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        let (bid, vid) = ids(job)?;
        let why = error.message();
        match self.0 {
            CREATE_BACKUP_JOB => {
                let failed = control
                    .settle_backup(&bid, |b| {
                        if b.status == "creating" {
                            b.status = "error".into();
                            b.fail_reason = Some(why.clone());
                        }
                        b.holds_slot = 0;
                        b.queued_at = None;
                    })
                    .await?;
                let v = {
                    let mut c = control.store().read().await?;
                    volumes_repo::get(&mut c, &vid).await?
                };
                if let Some(b) = &failed {
                    let mut tx = control.store().write().await?;
                    release_source_snapshot(&mut tx, b).await?;
                    let (about, action) = (MessageResource::Backup(&b.id), MessageAction::CreateBackup);
                    let req = format!("req-{}", job.id);
                    let detail = MessageDetail::Failed(why.clone());
                    control.record_user_message(&mut tx, &b.project_id, &req, about, action, detail).await?;
                    tx.commit().await?;
                }
                if let (Some(v), Some(b)) = (v, failed) {
                    if b.snapshot_id.is_none() {
                        let _ = control.backup_snapshot_op(&v, &backup_snapshot(&bid), false).await;
                    }
                }
            }
            IMPORT_BACKUP_JOB => {
                // The copy failed (the source's data went, or was damaged): the imported
                // backup is in error, with the reason.
                control
                    .settle_backup(&bid, |b| {
                        if b.status == "creating" {
                            b.status = "error".into();
                            b.fail_reason = Some(why.clone());
                        }
                        b.holds_slot = 0;
                        b.queued_at = None;
                    })
                    .await?;
            }
            DELETE_BACKUP_JOB => {
                control
                    .settle_backup(&bid, |b| {
                        b.status = "error_deleting".into();
                        b.fail_reason = Some(why.clone());
                        b.holds_slot = 0;
                        b.queued_at = None;
                    })
                    .await?;
                let (about, action) = (MessageResource::Backup(&bid), MessageAction::DeleteBackup);
                control
                    .record_user_message_now(&job.project_id, &job.id, about, action, MessageDetail::Failed(why))
                    .await?;
            }
            _ => {
                control
                    .settle_backup(&bid, |b| {
                        b.status = "available".into();
                        b.fail_reason = Some(format!("restore failed: {why}"));
                        b.holds_slot = 0;
                        b.queued_at = None;
                    })
                    .await?;
                control.volume_status(&vid, "restoring-backup", "error_restoring").await?;
                let (about, action) = (MessageResource::Volume(&vid), MessageAction::RestoreBackup);
                control
                    .record_user_message_now(&job.project_id, &job.id, about, action, MessageDetail::Failed(why))
                    .await?;
                let _ = tokio::fs::remove_file(control.drivers().volumes.restore_scratch(&vid)).await;
            }
        }
        Ok(())
    }
}
