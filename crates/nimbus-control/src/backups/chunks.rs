//! The chunk store of a project's backups, in its system bucket: new chunks are appended
//! to packs (objects `packs/<id>` of 4 to 32 MiB, so a backup writes a few large objects
//! rather than many small ones), the index records where each chunk is, and manifests are
//! objects `manifests/<backup id>`.
//!
//! A pack is written (synced) before the index rows that point into it commit, so an index
//! row never names data that is not there. A pack is filled in place as its sealed file
//! ([`SealedImage`]: each byte copied once) and written on a thread of its own while the
//! next fills; beside the writer, an indexer records the written packs (their object rows
//! and index rows in one transaction), so neither the disk nor a commit holds the cutting
//! up. Up to [`PACKS_IN_FLIGHT`] packs wait for the indexer; a written pack's buffer goes
//! back to the writer at once, so with the one being written and the one filling, a
//! backup holds at most ten pack buffers (about 320 MiB). Chunks are shared by every
//! backup of the project that contains them. When a backup is deleted, a sweep keeps the
//! chunks of the remaining backups' manifests and drops the others from the index; a pack
//! goes once no chunk in it is left. A sweep never runs while a backup is being made (it
//! may rely on chunks no finished backup uses yet): it is then put off until that backup
//! is made.

use super::manifest_key;
use crate::objects::system::PendingSystemObject;
use crate::Control;
use nimbus_core::Error;
use nimbus_drivers::backup_data::{open_chunk, ChunkHash, CutChunk, Manifest, Piece, CHUNK_MAX};
use nimbus_drivers::data_file::{AlignedBuf, BlockFile};
use nimbus_drivers::object_crypt::SealedImage;
use nimbus_store::backups::{self as repo, ChunkRow};
use nimbus_store::objects::{Bucket, Object};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A pack is written once it holds this much (or less, for a small backup:
/// [`pack_writer`]).
const PACK_SIZE: usize = 32 << 20;

/// The smallest pack size a small backup's packs are cut to.
const PACK_SIZE_MIN: usize = 4 << 20;

/// The most a pack holds: it is written once it passes [`PACK_SIZE`], by at most one chunk
/// in its stored form (a format byte, then the chunk, when it does not compress).
const PACK_ROOM: usize = PACK_SIZE + CHUNK_MAX as usize + 1;

/// Packs handed to the indexer and not yet indexed: the threads writing them share the
/// cores with those cutting, and each holds a pack's buffer.
const PACKS_IN_FLIGHT: usize = 8;

/// Packs the indexer records in one transaction at most.
const PACKS_PER_COMMIT: usize = 8;

/// Index lookups go in batches of this many hashes.
const BATCH: usize = 400;

/// A chunk in a pack: hash, offset in the pack, stored length, plaintext length.
type PackEntry = (ChunkHash, i64, i64, i64);

/// A pack being written: its data, its key, the chunks in it.
type PackInFlight = (PendingSystemObject<SealedImage>, String, Vec<PackEntry>);

/// Appends a backup's new chunks to packs; its [`PackIndexer`] records them.
///
/// The two halves run side by side (the caller joins them): indexing a pack waits for its
/// data to be synced and for a transaction to commit, and the next packs fill meanwhile.
pub(super) struct PackWriter<'a> {
    control: &'a Control,
    project: String,
    bucket: Bucket,
    /// The pack being filled, laid out as its sealed file.
    buf: SealedImage,
    /// A pack is written once it holds this much.
    pack_size: usize,
    entries: Vec<PackEntry>,
    /// Chunks this run already stored or queued.
    seen: HashSet<ChunkHash>,
    /// Chunks cut, not yet looked up in the index.
    queued: Vec<CutChunk>,
    /// Images of packs written, for the next ones.
    spare: std::sync::mpsc::Receiver<SealedImage>,
    /// Packs being written, to the indexer (closed by [`Self::finish`]).
    to_index: Option<tokio::sync::mpsc::Sender<PackInFlight>>,
    /// Bytes written to packs so far.
    pub stored_bytes: u64,
}

/// Records the packs a [`PackWriter`] wrote, in order: waits for each pack's data, then
/// commits its object row and its chunks' index rows together, with those of the packs
/// already written behind it (one commit for several packs when commits are the slower).
pub(super) struct PackIndexer<'a> {
    control: &'a Control,
    project: String,
    bucket: Bucket,
    packs: tokio::sync::mpsc::Receiver<PackInFlight>,
    spare: std::sync::mpsc::Sender<SealedImage>,
}

/// A pack writer and its indexer: the caller runs both at once (`try_join`), and the
/// indexer ends once the writer is finished and every pack is recorded.
///
/// `expected`: about how many bytes the backup stores at most (what it reads). A small
/// backup (an incremental one) is cut into smaller packs, so that several are written at
/// once and the first starts early, not one large pack written only at the end.
pub(super) fn pack_writer<'a>(
    control: &'a Control,
    project: &str,
    bucket: Bucket,
    expected: u64,
) -> (PackWriter<'a>, PackIndexer<'a>) {
    let pack_size =
        usize::try_from(expected / PACKS_IN_FLIGHT as u64).unwrap_or(PACK_SIZE).clamp(PACK_SIZE_MIN, PACK_SIZE);
    let (to_index, packs) = tokio::sync::mpsc::channel(PACKS_IN_FLIGHT);
    let (spare_tx, spare) = std::sync::mpsc::channel();
    let writer = PackWriter {
        control,
        project: project.into(),
        bucket: bucket.clone(),
        buf: SealedImage::new(PACK_ROOM),
        pack_size,
        entries: Vec::new(),
        seen: HashSet::new(),
        queued: Vec::new(),
        spare,
        to_index: Some(to_index),
        stored_bytes: 0,
    };
    let indexer = PackIndexer { control, project: project.into(), bucket, packs, spare: spare_tx };
    (writer, indexer)
}

impl<'a> PackWriter<'a> {
    /// Adds the chunks of one window; those the project does not have yet are stored.
    /// Chunks are looked up in the index [`BATCH`] at a time, whatever the windows' sizes
    /// (an incremental backup reads many small ones).
    pub(super) async fn add(&mut self, chunks: Vec<CutChunk>) -> Result<(), Error> {
        self.queued.extend(chunks.into_iter().filter(|c| c.stored.is_some()));
        if self.queued.len() >= BATCH {
            self.store_queued().await?;
        }
        Ok(())
    }

    /// Looks the queued chunks up, and appends the new ones to packs.
    async fn store_queued(&mut self) -> Result<(), Error> {
        let chunks = std::mem::take(&mut self.queued);
        let candidates: Vec<String> =
            chunks.iter().filter(|c| !self.seen.contains(&c.hash)).map(|c| c.hash.to_hex()).collect();
        let mut known = HashSet::new();
        for batch in candidates.chunks(BATCH) {
            let mut c = self.control.store().read().await?;
            for r in repo::chunks(&mut c, &self.project, batch).await? {
                known.insert(ChunkHash::parse(&r.hash)?);
            }
        }
        for chunk in chunks {
            let Some(stored) = chunk.stored else { continue };
            if known.contains(&chunk.hash) || !self.seen.insert(chunk.hash) {
                continue;
            }
            self.entries.push((chunk.hash, self.buf.len() as i64, stored.len() as i64, chunk.len as i64));
            self.buf.push(&stored);
            if self.buf.len() >= self.pack_size {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Starts writing the filled pack and hands it to the indexer (waiting while
    /// [`PACKS_IN_FLIGHT`] are already waiting for it).
    async fn flush(&mut self) -> Result<(), Error> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let pack = format!("packs/{}", nimbus_core::id::new_hex_id());
        // The next pack fills an image a written one came back with (a fresh 32 MiB buffer
        // per pack costs thousands of page faults).
        let next = self.spare.try_recv().unwrap_or_else(|_| SealedImage::new(PACK_ROOM));
        let data = std::mem::replace(&mut self.buf, next);
        self.stored_bytes += data.len() as u64;
        let pending = self.control.start_system_image(&self.bucket, &pack, data);
        let stopped = || Error::Internal("the backup's pack indexer stopped".into());
        let to_index = self.to_index.as_ref().ok_or_else(stopped)?;
        to_index.send((pending, pack, std::mem::take(&mut self.entries))).await.map_err(|_| stopped())
    }

    /// Writes what is left and lets the indexer end: once it has, every chunk added is
    /// stored and indexed.
    pub(super) async fn finish(&mut self) -> Result<(), Error> {
        self.store_queued().await?;
        self.flush().await?;
        self.to_index = None;
        Ok(())
    }
}

impl PackIndexer<'_> {
    /// Records packs until the writer is finished (or dropped).
    pub(super) async fn run(mut self) -> Result<(), Error> {
        while let Some(first) = self.packs.recv().await {
            let mut written = vec![self.written(first).await?];
            while written.len() < PACKS_PER_COMMIT {
                let Ok(next) = self.packs.try_recv() else { break };
                written.push(self.written(next).await?);
            }
            match self.record(&written).await {
                Ok(removed) => self.control.remove_data(removed).await,
                Err(e) => {
                    let objects: Vec<&Object> = written.iter().map(|(o, _)| o).collect();
                    self.control.discard_system_objects(&objects).await?;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Waits for a pack's data (synced and put into place); its object row and index rows.
    async fn written(&self, (pending, pack, entries): PackInFlight) -> Result<(Object, Vec<ChunkRow>), Error> {
        let (o, buffer) = self.control.written_system_object(pending).await?;
        let _ = self.spare.send(buffer);
        let rows = entries
            .into_iter()
            .map(|(hash, pack_offset, stored_len, len)| ChunkRow {
                project_id: self.project.clone(),
                hash: hash.to_hex(),
                pack: pack.clone(),
                pack_offset,
                stored_len,
                len,
            })
            .collect();
        Ok((o, rows))
    }

    /// Commits written packs' object rows and index rows in one transaction; the data of
    /// objects they replaced (none, for new packs) to remove.
    async fn record(&self, written: &[(Object, Vec<ChunkRow>)]) -> Result<Vec<Object>, Error> {
        let mut tx = self.control.store().write().await?;
        let mut removed = Vec::new();
        for (o, rows) in written {
            removed.extend(self.control.commit_version(&mut tx, &self.bucket, o).await?);
            repo::insert_chunks(&mut tx, rows).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}

impl Control {
    /// Copies the data of another backup (an imported record's: `source_backup` of
    /// `source_project`) into the store of backup `b`'s project: the chunks it lacks, each
    /// checked against its hash, then the manifest under `b`'s id. Returns the manifest and
    /// the bytes stored. A resumed copy stores only what is still missing.
    pub(super) async fn copy_backup_data(
        &self,
        b: &nimbus_store::backups::Backup,
        source_project: &str,
        source_backup: &str,
    ) -> Result<(Manifest, u64), Error> {
        let source_bucket = self.system_bucket(&super::backup_bucket(source_project)).await?;
        let manifest = self.manifest(&source_bucket, source_backup).await?.ok_or_else(|| {
            Error::Conflict(format!("the data of backup {source_backup} is gone: it cannot be imported"))
        })?;
        let bucket = self.system_bucket(&super::backup_bucket(&b.project_id)).await?;
        let mut reader = ChunkReader::new(self, source_project, source_bucket);
        let expected = manifest.pieces.iter().map(|p| p.len).sum();
        let (mut writer, indexer) = pack_writer(self, &b.project_id, bucket.clone(), expected);
        let copy = async {
            for batch in manifest.chunks().chunks(BATCH) {
                reader.prefetch(batch).await?;
                let mut cut = Vec::with_capacity(batch.len());
                for hash in batch {
                    let (stored, len) = reader.read_stored(hash).await?;
                    cut.push(CutChunk { offset: 0, len, hash: *hash, stored: Some(stored) });
                }
                writer.add(cut).await?;
            }
            writer.finish().await
        };
        tokio::try_join!(copy, indexer.run())?;
        self.put_manifest(&bucket, &b.id, &manifest).await?;
        Ok((manifest, writer.stored_bytes))
    }

    /// Stores a backup's manifest.
    pub(super) async fn put_manifest(&self, bucket: &Bucket, backup_id: &str, m: &Manifest) -> Result<(), Error> {
        self.put_system_object(bucket, &manifest_key(backup_id), m.encode()?).await.map(|_| ())
    }

    /// A backup's manifest, if it was stored.
    pub(super) async fn manifest(&self, bucket: &Bucket, backup_id: &str) -> Result<Option<Manifest>, Error> {
        let Some(o) = self.system_object(bucket, &manifest_key(backup_id)).await? else { return Ok(None) };
        let packed = self.read_system_object(&o, 0..o.size as u64).await?;
        Manifest::decode(&packed).map(Some)
    }

    /// Drops the chunks no remaining backup of the project uses from the index, and the
    /// packs left without chunks; put off (and done when the backup being made is) while a
    /// backup of the project is being made.
    pub(super) async fn sweep_chunks(&self, bucket: &Bucket, project: &str) -> Result<(), Error> {
        for _ in 0..5 {
            // Marking reads every remaining manifest: outside the transaction, then checked
            // against the backups the transaction sees.
            let backups = {
                let mut c = self.store().read().await?;
                repo::live_backups(&mut c, project).await?
            };
            let mut live = HashSet::new();
            for id in &backups {
                if let Some(m) = self.manifest(bucket, id).await? {
                    live.extend(m.pieces.into_iter().map(|p| p.chunk));
                }
            }
            let mut tx = self.store().write().await?;
            repo::lock_project(&mut tx, project).await?;
            if repo::making(&mut tx, project).await? > 0 {
                repo::set_sweep_pending(&mut tx, project, true).await?;
                return tx.commit().await;
            }
            if repo::live_backups(&mut tx, project).await? != backups {
                continue;
            }
            let mut dead = Vec::new();
            let mut kept_packs = HashSet::new();
            for (hash, pack) in repo::chunk_index(&mut tx, project).await? {
                if ChunkHash::parse(&hash).is_ok_and(|h| live.contains(&h)) {
                    kept_packs.insert(pack);
                } else {
                    dead.push(hash);
                }
            }
            repo::delete_chunks(&mut tx, project, &dead).await?;
            // Packs without an indexed chunk: those emptied now, and those a failed or
            // interrupted backup wrote before indexing them.
            let empty: Vec<String> = self
                .system_object_keys(&mut tx, bucket, "packs/")
                .await?
                .into_iter()
                .filter(|p| !kept_packs.contains(p))
                .collect();
            repo::set_sweep_pending(&mut tx, project, false).await?;
            tx.commit().await?;
            for p in empty {
                self.delete_system_object(bucket, &p).await?;
            }
            return Ok(());
        }
        Err(Error::Conflict(format!("the backups of project {project} kept changing during a sweep")))
    }
}

/// Reads chunks back from packs, checking each against its hash.
pub(super) struct ChunkReader<'a> {
    control: &'a Control,
    project: String,
    bucket: Bucket,
    rows: HashMap<ChunkHash, ChunkRow>,
    packs: HashMap<String, Object>,
}

impl<'a> ChunkReader<'a> {
    pub(super) fn new(control: &'a Control, project: &str, bucket: Bucket) -> Self {
        ChunkReader { control, project: project.into(), bucket, rows: HashMap::new(), packs: HashMap::new() }
    }

    /// Loads the index rows of the chunks a run of pieces needs.
    pub(super) async fn prefetch(&mut self, hashes: &[ChunkHash]) -> Result<(), Error> {
        let missing: Vec<ChunkHash> = hashes.iter().filter(|h| !self.rows.contains_key(*h)).copied().collect();
        index_rows(self.control, &self.project, &missing, &mut self.rows).await
    }

    /// A chunk's stored form (compressed, as kept in its pack) and plaintext length.
    async fn stored(&mut self, hash: &ChunkHash) -> Result<(Vec<u8>, u64), Error> {
        if !self.rows.contains_key(hash) {
            self.prefetch(&[*hash]).await?;
        }
        let row = self
            .rows
            .get(hash)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("backup chunk {hash} is missing from the chunk store")))?;
        if !self.packs.contains_key(&row.pack) {
            let o = pack_object(self.control, &self.bucket, &row.pack).await?;
            self.packs.insert(row.pack.clone(), o);
        }
        let o = &self.packs[&row.pack];
        let start = row.pack_offset as u64;
        let stored = self.control.read_system_object(o, start..start + row.stored_len as u64).await?;
        Ok((stored, row.len as u64))
    }

    /// A chunk's stored form and plaintext length, checked against its hash: what a copy
    /// to another project's store writes unchanged.
    pub(super) async fn read_stored(&mut self, hash: &ChunkHash) -> Result<(Vec<u8>, u64), Error> {
        let (stored, len) = self.stored(hash).await?;
        open_chunk(&stored, hash, len)?;
        Ok((stored, len))
    }
}

/// Chunks of one pack read together: bytes `from..to` of the pack hold them all.
struct PackRun<'r> {
    pack: &'r str,
    from: u64,
    to: u64,
    rows: Vec<(ChunkHash, &'r ChunkRow)>,
}

/// Reads chunks of one pack in one read when fewer than this many bytes lie between them
/// (reading the gap costs less than another request).
const RUN_GAP: u64 = 1 << 20;

/// Reads a backup's data back for a restore, a window of the volume at a time: every chunk's
/// index row and pack are looked up once, up front; a window's chunks are read from their
/// packs in a few large reads (runs of nearby chunks, decrypted once), each checked against
/// its hash, and placed where the manifest's pieces say, on a blocking thread. Windows are
/// independent, so several are read at once.
pub(super) struct RestoreReader<'a> {
    control: &'a Control,
    rows: HashMap<ChunkHash, ChunkRow>,
    packs: HashMap<String, Object>,
}

impl<'a> RestoreReader<'a> {
    /// A reader for the chunks `manifest` names, in `project`'s store (`bucket`).
    pub(super) async fn new(
        control: &'a Control,
        project: &str,
        bucket: &Bucket,
        manifest: &Manifest,
    ) -> Result<Self, Error> {
        let chunks = manifest.chunks();
        let mut rows = HashMap::with_capacity(chunks.len());
        index_rows(control, project, &chunks, &mut rows).await?;
        if let Some(h) = chunks.iter().find(|h| !rows.contains_key(*h)) {
            return Err(Error::Internal(format!("backup chunk {h} is missing from the chunk store")));
        }
        let mut packs = HashMap::new();
        for r in rows.values() {
            if !packs.contains_key(&r.pack) {
                packs.insert(r.pack.clone(), pack_object(control, bucket, &r.pack).await?);
            }
        }
        Ok(RestoreReader { control, rows, packs })
    }

    /// Volume bytes `start..start+len` (`len` at most `buf`'s length), which `pieces` (the
    /// manifest's pieces meeting that range, in order) describe, put together in `buf` (zeros
    /// where no piece is, and past `len`) and written at `start` of `out`.
    pub(super) async fn restore_window(
        &self,
        start: u64,
        len: usize,
        pieces: &[Piece],
        mut buf: AlignedBuf,
        out: Arc<BlockFile>,
    ) -> Result<AlignedBuf, Error> {
        let mut needed: Vec<(ChunkHash, &ChunkRow)> = Vec::new();
        let mut seen = HashSet::new();
        for p in pieces {
            if seen.insert(p.chunk) {
                needed.push((p.chunk, &self.rows[&p.chunk]));
            }
        }
        needed.sort_by(|(_, a), (_, b)| (&a.pack, a.pack_offset).cmp(&(&b.pack, b.pack_offset)));
        let mut runs: Vec<PackRun> = Vec::new();
        for (hash, r) in needed {
            let (from, to) = (r.pack_offset as u64, (r.pack_offset + r.stored_len) as u64);
            match runs.last_mut() {
                Some(run) if run.pack == r.pack && from <= run.to + RUN_GAP => {
                    run.to = run.to.max(to);
                    run.rows.push((hash, r));
                }
                _ => runs.push(PackRun { pack: &r.pack, from, to, rows: vec![(hash, r)] }),
            }
        }
        let reads = runs.iter().map(|run| self.control.read_system_object(&self.packs[run.pack], run.from..run.to));
        let data = futures::future::try_join_all(reads).await?;
        // What the blocking thread needs: each chunk's stored bytes' place, owned.
        let chunks: Vec<(usize, usize, usize, ChunkHash, u64)> = runs
            .iter()
            .enumerate()
            .flat_map(|(i, run)| {
                run.rows.iter().map(move |(hash, r)| {
                    let at = (r.pack_offset as u64 - run.from) as usize;
                    (i, at, r.stored_len as usize, *hash, r.len as u64)
                })
            })
            .collect();
        let pieces = pieces.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut opened = HashMap::with_capacity(chunks.len());
            for (i, at, n, hash, plain) in chunks {
                let stored = data[i]
                    .get(at..at + n)
                    .ok_or_else(|| Error::Internal(format!("backup chunk {hash} lies past the end of its pack")))?;
                opened.insert(hash, open_chunk(stored, &hash, plain)?);
            }
            let bytes = buf.bytes();
            bytes.fill(0);
            let end = start + len as u64;
            for p in &pieces {
                // The part of the piece inside the window.
                let (from, to) = (p.offset.max(start), (p.offset + p.len).min(end));
                if from >= to {
                    continue;
                }
                let data = &opened[&p.chunk];
                let skip = (p.skip + (from - p.offset)) as usize;
                let n = (to - from) as usize;
                let src = data.get(skip..skip + n).ok_or_else(|| {
                    Error::Internal(format!("a backup names bytes past the end of chunk {}", p.chunk))
                })?;
                let at = (from - start) as usize;
                bytes[at..at + n].copy_from_slice(src);
            }
            out.write_at(buf.bytes(), len, start).map_err(|e| Error::Internal(format!("restore scratch: {e}")))?;
            Ok(buf)
        })
        .await
        .map_err(|e| Error::Internal(format!("restoring a window: {e}")))?
    }
}

/// Adds the index rows of `hashes` (those the project has) to `rows`, [`BATCH`] per query.
async fn index_rows(
    control: &Control,
    project: &str,
    hashes: &[ChunkHash],
    rows: &mut HashMap<ChunkHash, ChunkRow>,
) -> Result<(), Error> {
    for batch in hashes.chunks(BATCH) {
        let names: Vec<String> = batch.iter().map(ChunkHash::to_hex).collect();
        let mut c = control.store().read().await?;
        for r in repo::chunks(&mut c, project, &names).await? {
            rows.insert(ChunkHash::parse(&r.hash)?, r);
        }
    }
    Ok(())
}

/// The object of pack `pack` in a project's backup bucket.
async fn pack_object(control: &Control, bucket: &Bucket, pack: &str) -> Result<Object, Error> {
    control.system_object(bucket, pack).await?.ok_or_else(|| Error::Internal(format!("backup pack {pack} is missing")))
}
