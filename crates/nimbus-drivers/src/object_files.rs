//! Object data on local disk: `DATA/objects/<bucket id>/<data id>`.
//!
//! Every write goes to `<data id>.partial`, is synced, then renamed into place, and only then
//! does the caller commit the object's row: a crash never leaves a row pointing at partial
//! data. Each write gets a fresh data id, so an overwrite never touches the bytes readers of
//! the previous version are streaming; the old file is removed after the new row commits.
//! Temporary files a crash left behind are swept at start-up ([`ObjectFiles::sweep_partials`]).
//! Data written with a data key is sealed in chunks ([`crate::object_crypt`]).

use crate::data_file::DataFile;
use crate::object_crypt::{self, DataKey, Opener, RegionKey, SealedImage, Sealer};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use nimbus_core::Error;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A stream of object bytes (`Sync` too: HTTP bodies require it).
pub type ByteStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static>>;

/// The result of storing object data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub data_id: String,
    pub size: i64,
    /// Hex MD5 of the bytes (empty when the writer did not ask for it).
    pub md5: String,
}

/// Why a write stopped (the front end maps each to its protocol's error).
#[derive(Debug)]
pub enum WriteError {
    /// The client's body failed (disconnect, bad chunk signature...): the message says why.
    Body(String),
    /// More bytes than allowed.
    TooLarge,
    /// The disk failed.
    Io(Error),
}

/// The object store of a region.
#[derive(Clone)]
pub struct ObjectFiles {
    root: PathBuf,
    keys: Arc<RegionKey>,
    key_created: bool,
}

fn safe(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("object store: {e}"))
}

impl ObjectFiles {
    /// Objects under `root` (created if missing), encrypted ones with the region key in
    /// `keys/obs-sse.key` beside it.
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let key_path = root.parent().unwrap_or(&root).join("keys").join("obs-sse.key");
        let (keys, key_created) = RegionKey::load_or_create(&key_path)?;
        Ok(ObjectFiles { root, keys: Arc::new(keys), key_created })
    }

    /// Whether the region key was created by this start (so no data can be sealed under an
    /// earlier one: the caller checks the store agrees).
    pub fn key_created(&self) -> bool {
        self.key_created
    }

    /// A fresh data key for an object, and its wrapped form for the object's row.
    pub fn new_data_key(&self) -> (DataKey, String) {
        self.keys.new_data_key()
    }

    /// The data key of a row's `sse` value.
    pub fn data_key(&self, sse: &str) -> Result<DataKey, Error> {
        self.keys.unwrap(sse)
    }

    /// Where a bucket's data lives.
    pub fn bucket_dir(&self, bucket_id: &str) -> PathBuf {
        self.root.join(safe(bucket_id))
    }

    /// Where an object's data lives.
    pub fn path(&self, bucket_id: &str, data_id: &str) -> PathBuf {
        self.bucket_dir(bucket_id).join(safe(data_id))
    }

    /// Streams `data` into a new data file of the bucket (at most `max_size` bytes), sealed
    /// with `key` if given, synced and renamed into place; hashes MD5 of the plaintext on
    /// the way when `md5` (an S3 ETag), else `Stored::md5` is empty.
    ///
    /// The sealing, hashing and writing run on a blocking thread, a batch behind the body,
    /// so receiving the next bytes overlaps them.
    pub async fn write<S, E>(
        &self,
        bucket_id: &str,
        mut data: S,
        max_size: i64,
        key: Option<&DataKey>,
        md5: bool,
    ) -> Result<Stored, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        /// Body bytes handed to the writing thread at a time.
        const BATCH: usize = 1 << 20;
        let data_id = nimbus_core::id::new_hex_id();
        let dir = self.bucket_dir(bucket_id);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| WriteError::Io(io(e)))?;
        let final_path = dir.join(&data_id);
        let tmp = dir.join(format!("{data_id}.partial"));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
        let sink = Sink::create(&tmp, key, md5);
        let worker = tokio::task::spawn_blocking(move || {
            let mut sink = sink?;
            while let Some(batch) = rx.blocking_recv() {
                match batch {
                    Batch::Data(pieces) => pieces.iter().try_for_each(|p| sink.push(p))?,
                    Batch::End => return sink.finish(),
                }
            }
            Err(std::io::Error::other("the write was abandoned"))
        });
        let mut size: i64 = 0;
        let fed = async {
            let mut batch = Vec::new();
            let mut batched = 0;
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
                size += chunk.len() as i64;
                if size > max_size {
                    return Err(WriteError::TooLarge);
                }
                batched += chunk.len();
                batch.push(chunk);
                if batched >= BATCH {
                    batched = 0;
                    // A closed channel means the writing thread failed: its error follows.
                    if tx.send(Batch::Data(std::mem::take(&mut batch))).await.is_err() {
                        return Ok(());
                    }
                }
            }
            let _ = tx.send(Batch::Data(batch)).await;
            let _ = tx.send(Batch::End).await;
            Ok(())
        }
        .await;
        drop(tx);
        let written = worker.await.map_err(|e| std::io::Error::other(e.to_string())).and_then(|r| r);
        let result = fed.and_then(|()| written.map_err(|e| WriteError::Io(io(e))));
        let hash = match result {
            Ok(hash) => hash,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        tokio::fs::rename(&tmp, &final_path).await.map_err(|e| WriteError::Io(io(e)))?;
        Ok(Stored { data_id, size, md5: hash })
    }

    /// Writes `data` (one buffer) as a new data file of the bucket, sealed with `key`, on a
    /// blocking thread of its own, so the caller goes on and awaits the result later. The
    /// file stays `.partial` (swept at start-up if abandoned) until [`Self::publish`]. No MD5.
    /// The buffer comes back (emptied) for the caller's next one.
    pub fn spawn_write(
        &self,
        bucket_id: &str,
        mut data: Vec<u8>,
        key: Option<DataKey>,
    ) -> tokio::task::JoinHandle<Result<(Stored, Vec<u8>), Error>> {
        /// Plaintext sealed at a time, so the sealed copy stays small.
        const PIECE: usize = 1 << 20;
        let dir = self.bucket_dir(bucket_id);
        tokio::task::spawn_blocking(move || {
            let data_id = nimbus_core::id::new_hex_id();
            std::fs::create_dir_all(&dir).map_err(io)?;
            let tmp = dir.join(format!("{data_id}.partial"));
            let written = Sink::create(&tmp, key.as_ref(), false).and_then(|mut sink| {
                data.chunks(PIECE).try_for_each(|p| sink.push(p))?;
                sink.finish()
            });
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(io(e));
            }
            let stored = Stored { data_id, size: data.len() as i64, md5: String::new() };
            data.clear();
            Ok((stored, data))
        })
    }

    /// Writes a [`SealedImage`] (sealed here with `key`) as a new data file of the bucket,
    /// as [`Self::spawn_write`] does a buffer: on a blocking thread of its own, the file
    /// `.partial` until [`Self::publish`], the image given back emptied. The image's buffer
    /// is the file: it is sealed in place and written straight from it.
    pub fn spawn_write_image(
        &self,
        bucket_id: &str,
        mut image: SealedImage,
        key: DataKey,
    ) -> tokio::task::JoinHandle<Result<(Stored, SealedImage), Error>> {
        let dir = self.bucket_dir(bucket_id);
        tokio::task::spawn_blocking(move || {
            let data_id = nimbus_core::id::new_hex_id();
            std::fs::create_dir_all(&dir).map_err(io)?;
            let tmp = dir.join(format!("{data_id}.partial"));
            let size = image.len() as i64;
            let (buf, len) = image.seal(&key);
            if let Err(e) = crate::data_file::write_whole(&tmp, buf, len) {
                let _ = std::fs::remove_file(&tmp);
                return Err(io(e));
            }
            image.clear();
            Ok((Stored { data_id, size, md5: String::new() }, image))
        })
    }

    /// Puts a file [`Self::spawn_write`] wrote into place.
    pub async fn publish(&self, bucket_id: &str, data_id: &str) -> Result<(), Error> {
        let dir = self.bucket_dir(bucket_id);
        let data_id = safe(data_id);
        tokio::fs::rename(dir.join(format!("{data_id}.partial")), dir.join(&data_id)).await.map_err(io)
    }

    /// Concatenates data files of a bucket (multipart parts in order: data id, plaintext
    /// size, data key) into a new one sealed with `key`, synced and renamed into place;
    /// returns its data id and size.
    pub async fn concat(
        &self,
        bucket_id: &str,
        parts: &[(String, u64, Option<DataKey>)],
        key: Option<&DataKey>,
    ) -> Result<(String, i64), Error> {
        let mut streams = Vec::new();
        for (data_id, size, k) in parts {
            streams.push(self.reader(bucket_id, data_id, k.clone(), *size, 0..*size).await?);
        }
        let all = futures::stream::iter(streams).flatten();
        match self.write(bucket_id, Box::pin(all), i64::MAX, key, false).await {
            Ok(s) => Ok((s.data_id, s.size)),
            Err(WriteError::Io(e)) => Err(e),
            Err(WriteError::Body(why)) => Err(Error::Internal(format!("reading a part: {why}"))),
            Err(WriteError::TooLarge) => Err(Error::PayloadTooLarge),
        }
    }

    /// The bytes `range` of an object's plaintext (`size` bytes, sealed with `key` if given).
    ///
    /// A thread of the blocking pool reads the file in large pieces ([`READ_BLOCK`], or as
    /// many whole sealed chunks) and opens sealed chunks, a few pieces ahead of the client:
    /// object data is written past the page cache, so reads go to the disk, and one large
    /// read keeps the disk busy where many small ones waited on it one at a time.
    pub async fn reader(
        &self,
        bucket_id: &str,
        data_id: &str,
        key: Option<DataKey>,
        size: u64,
        range: Range<u64>,
    ) -> Result<ByteStream, Error> {
        let path = self.path(bucket_id, data_id);
        let joined = |e: tokio::task::JoinError| Error::Internal(format!("reading object data: {e}"));
        // A range one read covers (most objects) is opened and read in one go on the
        // blocking pool, without a channel.
        if range.end - range.start <= SMALL_READ {
            let pieces = tokio::task::spawn_blocking(move || {
                let (file, opener) = open_data(&path, key.as_ref())?;
                let mut out = Vec::with_capacity(1);
                ReadPieces { file: &file, opener: opener.as_ref(), size, range }.send_all(|piece| {
                    out.push(piece);
                    true
                });
                Ok::<_, Error>(out)
            })
            .await
            .map_err(joined)??;
            return Ok(Box::pin(futures::stream::iter(pieces)));
        }
        let (file, opener) =
            tokio::task::spawn_blocking(move || open_data(&path, key.as_ref())).await.map_err(joined)??;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(READ_AHEAD);
        tokio::task::spawn_blocking(move || {
            let pieces = ReadPieces { file: &file, opener: opener.as_ref(), size, range };
            pieces.send_all(|piece| tx.blocking_send(piece).is_ok());
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|piece| (piece, rx)) });
        Ok(Box::pin(stream))
    }

    /// Removes an object's data (missing data is not an error: removals are retried).
    pub async fn delete(&self, bucket_id: &str, data_id: &str) -> Result<(), Error> {
        match tokio::fs::remove_file(self.path(bucket_id, data_id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    /// Removes a bucket's (empty) directory.
    pub async fn delete_bucket(&self, bucket_id: &str) -> Result<(), Error> {
        match tokio::fs::remove_dir_all(self.bucket_dir(bucket_id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    /// Deletes the temporary files interrupted writes left; returns how many.
    pub async fn sweep_partials(&self) -> Result<usize, Error> {
        let mut n = 0;
        let mut buckets = tokio::fs::read_dir(&self.root).await.map_err(io)?;
        while let Some(b) = buckets.next_entry().await.map_err(io)? {
            let Ok(mut files) = tokio::fs::read_dir(b.path()).await else { continue };
            while let Some(f) = files.next_entry().await.map_err(io)? {
                if f.file_name().to_string_lossy().ends_with(".partial") {
                    remove_quietly(&f.path()).await;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

/// What the body side of a write hands its writing thread.
enum Batch {
    Data(Vec<Bytes>),
    /// The body ended whole: finish the file (a channel closed without it abandons it).
    End,
}

/// A data file being written (blocking): plaintext in; sealed, hashed and written.
struct Sink {
    file: DataFile,
    md5: Option<Md5>,
    sealer: Option<Sealer>,
    sealed: Vec<u8>,
}

impl Sink {
    fn create(path: &Path, key: Option<&DataKey>, md5: bool) -> std::io::Result<Self> {
        let mut file = DataFile::create(path)?;
        let sealer = match key {
            Some(k) => {
                let (sealer, header) = Sealer::new(k);
                file.write(&header)?;
                Some(sealer)
            }
            None => None,
        };
        Ok(Sink { file, md5: md5.then(Md5::new), sealer, sealed: Vec::new() })
    }

    fn push(&mut self, plain: &[u8]) -> std::io::Result<()> {
        if let Some(h) = &mut self.md5 {
            h.update(plain);
        }
        match &mut self.sealer {
            Some(s) => {
                self.sealed.clear();
                s.push(plain, &mut self.sealed);
                self.file.write(&self.sealed)
            }
            None => self.file.write(plain),
        }
    }

    /// Seals the last chunk, syncs the file; the hex MD5 (empty when not asked for).
    fn finish(mut self) -> std::io::Result<String> {
        if let Some(s) = self.sealer.take() {
            self.sealed.clear();
            s.finish(&mut self.sealed);
            self.file.write(&self.sealed)?;
        }
        self.file.finish()?;
        Ok(self.md5.map(|h| hex::encode(h.finalize())).unwrap_or_default())
    }
}

async fn remove_quietly(p: &Path) {
    let _ = tokio::fs::remove_file(p).await;
}

/// How much of a plain object one read takes.
const READ_BLOCK: usize = 4 << 20;

/// Pieces read ahead of the client.
const READ_AHEAD: usize = 2;

/// Ranges up to this long are read in one go (one piece, plain or sealed).
const SMALL_READ: u64 = 1 << 20;

/// Opens an object's data file, and the sealed chunks' opener when it has a key.
fn open_data(path: &Path, key: Option<&DataKey>) -> Result<(std::fs::File, Option<Opener>), Error> {
    let file = std::fs::File::open(path).map_err(io)?;
    let opener = match key {
        Some(key) => {
            let mut header = [0u8; object_crypt::HEADER];
            file.read_exact_at(&mut header, 0).map_err(io)?;
            Some(Opener::new(key, &header)?)
        }
        None => None,
    };
    Ok((file, opener))
}

/// Reads bytes `range` of an object's data file in large pieces, opening sealed chunks.
struct ReadPieces<'a> {
    file: &'a std::fs::File,
    opener: Option<&'a Opener>,
    size: u64,
    range: Range<u64>,
}

impl ReadPieces<'_> {
    /// Hands each piece (or the first error) to `send`, until it refuses one (the client
    /// went away) or the range is read.
    fn send_all(&self, mut send: impl FnMut(Result<Bytes, std::io::Error>) -> bool) {
        let result = match self.opener {
            None => self.plain(&mut send),
            Some(opener) => self.sealed(opener, &mut send),
        };
        if let Err(e) = result {
            send(Err(e));
        }
    }

    fn plain(&self, send: &mut impl FnMut(Result<Bytes, std::io::Error>) -> bool) -> std::io::Result<()> {
        let mut at = self.range.start;
        while at < self.range.end {
            let n = ((self.range.end - at) as usize).min(READ_BLOCK);
            let mut buf = vec![0u8; n];
            self.file.read_exact_at(&mut buf, at)?;
            if !send(Ok(Bytes::from(buf))) {
                return Ok(());
            }
            at += n as u64;
        }
        Ok(())
    }

    fn sealed(
        &self,
        opener: &Opener,
        send: &mut impl FnMut(Result<Bytes, std::io::Error>) -> bool,
    ) -> std::io::Result<()> {
        let (size, range) = (self.size, &self.range);
        let chunk = object_crypt::CHUNK as u64;
        let sealed_chunk = (object_crypt::CHUNK + object_crypt::TAG) as u64;
        let total = object_crypt::chunks(size);
        let first = range.start / chunk;
        // Chunks the range covers (none for an empty range).
        let end = if range.end > range.start { (range.end - 1) / chunk + 1 } else { first };
        let per_read = (READ_BLOCK / object_crypt::CHUNK) as u64;
        let plain_len = |i: u64| (size - i * chunk).min(chunk) as usize;
        let mut sealed = Vec::new();
        let mut i = first;
        while i < end {
            let n = per_read.min(end - i);
            let last = i + n - 1;
            let len = (n - 1) * sealed_chunk + (plain_len(last) + object_crypt::TAG) as u64;
            sealed.resize(len as usize, 0);
            self.file.read_exact_at(&mut sealed, object_crypt::chunk_offset(i))?;
            let mut out = Vec::with_capacity(n as usize * object_crypt::CHUNK);
            for j in i..=last {
                let at = ((j - i) * sealed_chunk) as usize;
                let bytes = &sealed[at..at + plain_len(j) + object_crypt::TAG];
                let plain = opener.open(j, j + 1 == total, bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
                let from = if j == first { (range.start - j * chunk) as usize } else { 0 };
                let to = ((range.end - j * chunk) as usize).min(plain.len());
                out.extend_from_slice(&plain[from..to]);
            }
            if !send(Ok(Bytes::from(out))) {
                return Ok(());
            }
            i += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_are_atomic_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectFiles::new(dir.path()).unwrap();
        let chunks =
            futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("hello ")), Ok(Bytes::from("world"))]);
        let s = store.write("b1", chunks, 1024, None, true).await.unwrap();
        assert_eq!((s.size, s.md5.as_str()), (11, "5eb63bbbe01eeed093cb22bb8f5acdc3"));
        assert_eq!(std::fs::read(store.path("b1", &s.data_id)).unwrap(), b"hello world");
        let failing =
            futures::stream::iter(vec![Ok(Bytes::from("part")), Err(std::io::Error::other("client went away"))]);
        assert!(matches!(store.write("b1", failing, 1024, None, true).await, Err(WriteError::Body(_))));
        let big = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 2048]))]);
        assert!(matches!(store.write("b1", big, 1024, None, true).await, Err(WriteError::TooLarge)));
        let left: Vec<_> = std::fs::read_dir(store.bucket_dir("b1")).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "failed writes leave nothing behind");
        std::fs::write(store.bucket_dir("b1").join("x.partial"), b"crash").unwrap();
        assert_eq!(store.sweep_partials().await.unwrap(), 1);
        store.delete("b1", &s.data_id).await.unwrap();
        store.delete("b1", &s.data_id).await.unwrap();
    }

    async fn read_all(s: ByteStream) -> Vec<u8> {
        s.map(|b| b.unwrap().to_vec()).concat().await
    }

    #[tokio::test]
    async fn large_objects_read_back_across_read_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectFiles::new(dir.path().join("objects")).unwrap();
        let (key, _) = store.new_data_key();
        let data: Vec<u8> = (0..(9 << 20) + 123u32).map(|i| (i % 251) as u8 ^ (i >> 16) as u8).collect();
        let n = data.len() as u64;
        let b = READ_BLOCK as u64;
        for sealed in [None, Some(&key)] {
            let body = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(data.clone()))]);
            let s = store.write("b", body, i64::MAX, sealed, false).await.unwrap();
            for r in [0..n, b - 10..b + 10, 2 * b - 5..n, 17..2 * b + 1, n - 1..n, 3..3] {
                let got = read_all(store.reader("b", &s.data_id, sealed.cloned(), n, r.clone()).await.unwrap()).await;
                assert_eq!(got.len() as u64, r.end - r.start, "{r:?} sealed={}", sealed.is_some());
                assert!(got == data[r.start as usize..r.end as usize], "{r:?} sealed={}", sealed.is_some());
            }
            if sealed.is_some() {
                // A damaged chunk in the second piece: the first piece arrives, then an error.
                let path = store.path("b", &s.data_id);
                let mut bytes = std::fs::read(&path).unwrap();
                let at = object_crypt::chunk_offset(READ_BLOCK as u64 / object_crypt::CHUNK as u64 + 1) as usize;
                bytes[at + 5] ^= 1;
                std::fs::write(&path, bytes).unwrap();
                let mut stream = store.reader("b", &s.data_id, Some(key.clone()), n, 0..n).await.unwrap();
                assert!(stream.next().await.unwrap().is_ok());
                assert!(stream.next().await.unwrap().is_err());
                assert!(stream.next().await.is_none(), "nothing after the error");
            }
        }
    }

    #[tokio::test]
    async fn sealed_data_reads_back_in_any_range_and_concatenates() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectFiles::new(dir.path().join("objects")).unwrap();
        let (key, _) = store.new_data_key();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let chunks = futures::stream::iter(
            data.chunks(7000).map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
        );
        let s = store.write("b", chunks, i64::MAX, Some(&key), false).await.unwrap();
        let on_disk = std::fs::read(store.path("b", &s.data_id)).unwrap();
        assert!(!on_disk.windows(64).any(|w| data.windows(64).take(1000).any(|d| d == w)), "no plaintext on disk");
        let n = data.len() as u64;
        for r in [0..n, 0..1, 65_535..65_537, 131_000..200_000, 199_990..200_000, 5..5] {
            let got = read_all(store.reader("b", &s.data_id, Some(key.clone()), n, r.clone()).await.unwrap()).await;
            assert_eq!(got, data[r.start as usize..r.end as usize], "{r:?}");
        }
        let plain = store
            .write("b", futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("tail"))]), 100, None, true)
            .await
            .unwrap();
        let (joined, size) = store
            .concat("b", &[(s.data_id.clone(), n, Some(key.clone())), (plain.data_id, 4, None)], Some(&key))
            .await
            .unwrap();
        assert_eq!(size, n as i64 + 4);
        let got =
            read_all(store.reader("b", &joined, Some(key.clone()), size as u64, 0..size as u64).await.unwrap()).await;
        assert_eq!(&got[..data.len()], &data[..]);
        assert_eq!(&got[data.len()..], b"tail");
        // One buffer written on a thread of its own reads back the same way.
        let (one, emptied) = store.spawn_write("b", data.clone(), Some(key.clone())).await.unwrap().unwrap();
        assert!(emptied.is_empty() && emptied.capacity() >= data.len());
        assert!(!store.path("b", &one.data_id).exists(), "partial until published");
        store.publish("b", &one.data_id).await.unwrap();
        assert_eq!((one.size, one.md5.as_str()), (n as i64, ""));
        let got = read_all(store.reader("b", &one.data_id, Some(key.clone()), n, 70_000..140_000).await.unwrap()).await;
        assert_eq!(got, data[70_000..140_000]);
        // A sealed image (a backup pack) is the same file format.
        let mut image = SealedImage::new(1000);
        image.push(&data[..150_000]);
        image.push(&data[150_000..]);
        let (img, emptied) = store.spawn_write_image("b", image, key.clone()).await.unwrap().unwrap();
        assert!(emptied.is_empty());
        store.publish("b", &img.data_id).await.unwrap();
        assert_eq!(img.size, n as i64);
        assert_eq!(std::fs::metadata(store.path("b", &img.data_id)).unwrap().len(), on_disk.len() as u64);
        for r in [0..n, 65_530..65_540, 199_000..200_000] {
            let got = read_all(store.reader("b", &img.data_id, Some(key.clone()), n, r.clone()).await.unwrap()).await;
            assert_eq!(got, data[r.start as usize..r.end as usize], "{r:?}");
        }
        assert!(dir.path().join("keys/obs-sse.key").exists());
    }
}
