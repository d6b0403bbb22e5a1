//! The data path of volume backups: a volume's point-in-time content cut into
//! content-defined chunks (FastCDC), each named by its BLAKE3 hash and compressed with zstd;
//! a backup's manifest says which chunk bytes make up which volume bytes.
//!
//! Chunks are cut where the content says, not at fixed offsets, so data that moved still
//! deduplicates; a manifest piece may use part of a chunk (an incremental backup keeps the
//! unchanged parts of its parent's chunks). Areas no piece covers read as zeros. Every chunk
//! is checked against its hash when it is read back, so a restore never writes bytes that
//! are not the ones backed up.

use crate::data_file::{direct_aligned, open_direct, AlignedBuf};
use crate::qcow2_map::ClusterMap;
use nimbus_core::Error;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Chunk sizes (FastCDC): at least 16 KiB, about 64 KiB, at most 256 KiB.
pub const CHUNK_MIN: u32 = 16 << 10;
pub const CHUNK_AVG: u32 = 64 << 10;
pub const CHUNK_MAX: u32 = 256 << 10;

/// How much of a volume one read covers before it is chunked (chunks never span two reads).
pub const WINDOW: u64 = 8 << 20;

/// The first bytes of a binary manifest (before: JSON, still read).
const MANIFEST_MAGIC: &[u8] = b"NBM\x01";

/// A chunk's name: the BLAKE3 hash of its content, written as 64 hex digits (in the chunk
/// index, messages and the JSON manifests of earlier versions).
///
/// Kept as bytes, not text: a large volume's manifest has tens of thousands of pieces,
/// each naming its chunk, and an incremental backup reads, overlays and writes all of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkHash(pub [u8; 32]);

impl ChunkHash {
    /// The name of a chunk holding `data`.
    pub fn of(data: &[u8]) -> Self {
        ChunkHash(*blake3::hash(data).as_bytes())
    }

    /// The name written as 64 hex digits.
    pub fn parse(hex: &str) -> Result<Self, Error> {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(hex, &mut raw)
            .map_err(|e| Error::Internal(format!("a backup chunk name {hex:?} is not 64 hex digits: {e}")))?;
        Ok(ChunkHash(raw))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for ChunkHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for ChunkHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ChunkHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChunkHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = String::deserialize(d)?;
        ChunkHash::parse(&hex).map_err(serde::de::Error::custom)
    }
}

/// Volume bytes `offset..offset+len` are bytes `skip..skip+len` of chunk `chunk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    pub offset: u64,
    pub len: u64,
    pub chunk: ChunkHash,
    pub skip: u64,
}

/// What a backup holds: the volume's size and its pieces, sorted by offset, not overlapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Manifest {
    pub size: u64,
    pub pieces: Vec<Piece>,
}

impl Manifest {
    /// This manifest with `changed` ranges replaced by `fresh` pieces (which cover only
    /// those ranges); the result describes the newer state of the volume, of `size` bytes.
    /// `changed` is sorted and not overlapping (as cluster maps give it): each piece is
    /// cut only by the ranges it meets, found by binary search, so a large volume's tens of
    /// thousands of pieces against hundreds of changed ranges cost a few milliseconds.
    pub fn overlay(&self, size: u64, changed: &[Range<u64>], mut fresh: Vec<Piece>) -> Manifest {
        let mut kept = Vec::with_capacity(self.pieces.len() + fresh.len());
        for p in &self.pieces {
            let end = (p.offset + p.len).min(size);
            // The parts of `p` outside every changed range (and inside the new size) stay.
            let mut keep_from = p.offset;
            let mut keep = |from: u64, to: u64| {
                if from < to {
                    kept.push(Piece { offset: from, len: to - from, chunk: p.chunk, skip: p.skip + (from - p.offset) });
                }
            };
            let first = changed.partition_point(|c| c.end <= p.offset);
            for c in changed[first..].iter().take_while(|c| c.start < end) {
                keep(keep_from, c.start.min(end));
                keep_from = keep_from.max(c.end);
            }
            keep(keep_from, end);
        }
        kept.append(&mut fresh);
        kept.sort_by_key(|p| p.offset);
        Manifest { size, pieces: kept }
    }

    /// The stored form, zstd-compressed: [`MANIFEST_MAGIC`], the size, the distinct chunk
    /// hashes (32 bytes each), then each piece as offset, length, index of its chunk and
    /// skip, little-endian. A large volume's manifest has tens of thousands of pieces, read
    /// and written at every incremental backup: as JSON they took most of its fixed cost.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut index: std::collections::HashMap<ChunkHash, u32> = std::collections::HashMap::new();
        let mut hashes: Vec<&ChunkHash> = Vec::new();
        let mut numbers = Vec::with_capacity(self.pieces.len());
        for p in &self.pieces {
            let n = *index.entry(p.chunk).or_insert_with(|| {
                hashes.push(&p.chunk);
                hashes.len() as u32 - 1
            });
            numbers.push(n);
        }
        let mut out = Vec::with_capacity(MANIFEST_MAGIC.len() + 16 + hashes.len() * 32 + self.pieces.len() * 28);
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
        for h in &hashes {
            out.extend_from_slice(&h.0);
        }
        out.extend_from_slice(&(self.pieces.len() as u32).to_le_bytes());
        for (p, n) in self.pieces.iter().zip(numbers) {
            out.extend_from_slice(&p.offset.to_le_bytes());
            out.extend_from_slice(&p.len.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&p.skip.to_le_bytes());
        }
        zstd::bulk::compress(&out, 1).map_err(|e| Error::Internal(format!("packing a manifest: {e}")))
    }

    /// A manifest from its stored form (the binary one, or the JSON of earlier versions).
    pub fn decode(stored: &[u8]) -> Result<Manifest, Error> {
        let bad = |why: &str| Error::Internal(format!("reading a manifest: {why}"));
        let raw = zstd::stream::decode_all(stored).map_err(|e| bad(&e.to_string()))?;
        let Some(mut rest) = raw.strip_prefix(MANIFEST_MAGIC) else { return Ok(serde_json::from_slice(&raw)?) };
        let mut take = |n: usize| -> Result<&[u8], Error> {
            if rest.len() < n {
                return Err(bad("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let size = u64_at(take(8)?);
        let n_hashes = u32_at(take(4)?) as usize;
        let mut hashes = Vec::with_capacity(n_hashes);
        for _ in 0..n_hashes {
            hashes.push(ChunkHash(take(32)?.try_into().expect("32 bytes")));
        }
        let n_pieces = u32_at(take(4)?) as usize;
        let mut pieces = Vec::with_capacity(n_pieces);
        for _ in 0..n_pieces {
            let offset = u64_at(take(8)?);
            let len = u64_at(take(8)?);
            let chunk = *hashes.get(u32_at(take(4)?) as usize).ok_or_else(|| bad("a piece names no chunk"))?;
            let skip = u64_at(take(8)?);
            pieces.push(Piece { offset, len, chunk, skip });
        }
        Ok(Manifest { size, pieces })
    }

    /// The distinct chunks the manifest uses.
    pub fn chunks(&self) -> Vec<ChunkHash> {
        let mut c: Vec<ChunkHash> = self.pieces.iter().map(|p| p.chunk).collect();
        c.sort_unstable();
        c.dedup();
        c
    }
}

/// A chunk cut from a volume: where it sits, its hash, and its stored form (`None` for an
/// all-zero chunk, which is not stored at all).
#[derive(Debug, Clone)]
pub struct CutChunk {
    pub offset: u64,
    pub len: u64,
    pub hash: ChunkHash,
    pub stored: Option<Vec<u8>>,
}

/// The stored form of chunk data: a format byte (0 raw, 1 zstd) and the bytes. A sample
/// that does not compress (random or already compressed data) saves compressing the rest.
pub fn seal_chunk(data: &[u8]) -> Vec<u8> {
    const SAMPLE: usize = 4096;
    thread_local! {
        // A compression context per thread: making one costs more than compressing a sample.
        static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
    }
    let compress = |bytes: &[u8]| {
        ZSTD.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Compressor::new(1)?);
            }
            slot.as_mut().expect("just set").compress(bytes)
        })
    };
    let compressible = data.len() <= SAMPLE || compress(&data[..SAMPLE]).is_ok_and(|z| z.len() < SAMPLE * 15 / 16);
    let packed = if compressible { compress(data) } else { Err(std::io::ErrorKind::Other.into()) };
    match packed {
        Ok(z) if z.len() + 1 < data.len() => {
            let mut out = Vec::with_capacity(z.len() + 1);
            out.push(1);
            out.extend_from_slice(&z);
            out
        }
        _ => {
            let mut out = Vec::with_capacity(data.len() + 1);
            out.push(0);
            out.extend_from_slice(data);
            out
        }
    }
}

/// The chunk data of a stored form, checked against its hash.
pub fn open_chunk(stored: &[u8], hash: &ChunkHash, len: u64) -> Result<Vec<u8>, Error> {
    let data = match stored.split_first() {
        Some((0, raw)) => raw.to_vec(),
        Some((1, z)) => zstd::bulk::decompress(z, len as usize)
            .map_err(|e| Error::Internal(format!("backup chunk {hash} does not decompress: {e}")))?,
        _ => return Err(Error::Internal(format!("backup chunk {hash} has an unknown format"))),
    };
    if data.len() as u64 != len || ChunkHash::of(&data) != *hash {
        return Err(Error::Internal(format!("backup chunk {hash} is corrupt: its content does not match its hash")));
    }
    Ok(data)
}

/// Volume ranges read and cut together, at most [`WINDOW`] bytes in all, in order.
pub type Window = Vec<Range<u64>>;

/// The windows over `ranges`, in order: a large range is split into windows of its own,
/// small ones share one (an incremental backup's changed clusters, scattered over the
/// volume, would otherwise cost a task hand-off and an index round trip each).
pub fn windows(ranges: &[Range<u64>]) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    let mut fill = 0;
    for r in ranges {
        let mut start = r.start;
        while start < r.end {
            let end = (start + WINDOW).min(r.end);
            match out.last_mut() {
                Some(w) if fill + (end - start) <= WINDOW => w.push(start..end),
                _ => {
                    out.push(std::iter::once(start..end).collect());
                    fill = 0;
                }
            }
            fill += end - start;
            start = end;
        }
    }
    out
}

/// The bytes a window covers.
pub fn window_len(w: &[Range<u64>]) -> u64 {
    w.iter().map(|r| r.end - r.start).sum()
}

/// Reads a volume's windows and cuts them into chunks (blocking calls, from any thread).
///
/// Reads go past the page cache where the file system allows (`O_DIRECT`): a backup reads
/// each byte once, so caching it would only push out what the host's guests use, and the
/// copy out of the cache costs as much CPU as hashing. Adjacent clusters are read in one
/// call, so the disk sees large requests whatever thread asks. Each thread reuses one
/// window buffer.
pub struct VolumeReader {
    direct: Option<File>,
    buffered: File,
}

thread_local! {
    static WINDOW_BUF: std::cell::RefCell<Option<AlignedBuf>> = const { std::cell::RefCell::new(None) };
}

fn read_error(e: std::io::Error) -> Error {
    Error::Internal(format!("reading the volume: {e}"))
}

impl VolumeReader {
    pub fn open(path: &Path) -> Result<Self, Error> {
        Ok(VolumeReader {
            direct: open_direct(path).map_err(read_error)?,
            buffered: File::open(path).map_err(read_error)?,
        })
    }

    /// Reads file bytes `at..at+buf.len()` into `buf` (`buf_at` is its offset in the
    /// aligned window buffer, for the alignment check).
    fn read_at(&self, buf: &mut [u8], at: u64, buf_at: usize) -> Result<(), Error> {
        match &self.direct {
            Some(f) if direct_aligned(at, buf.len() as u64, buf_at) => f.read_exact_at(buf, at).map_err(read_error),
            _ => self.buffered.read_exact_at(buf, at).map_err(read_error),
        }
    }

    /// Volume bytes `window`, through the snapshot's cluster map for a qcow2 volume or
    /// straight from a raw one, cut into chunks (a chunk never spans two ranges of the
    /// window: the manifest's new pieces cover exactly the ranges read).
    pub fn cut_window(&self, map: Option<&ClusterMap>, window: &[Range<u64>]) -> Result<Vec<CutChunk>, Error> {
        // Each range lands at a page-aligned place in the buffer, so direct reads stay
        // possible.
        const PAGE: usize = 4096;
        let mut places = Vec::with_capacity(window.len());
        let mut total = 0;
        for r in window {
            places.push(total);
            total += ((r.end - r.start) as usize).div_ceil(PAGE) * PAGE;
        }
        WINDOW_BUF.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|b| b.len() < total) {
                *slot = Some(AlignedBuf::new(total.max(WINDOW as usize)));
            }
            let buf = slot.as_mut().expect("just set").bytes();
            let mut chunks = Vec::new();
            for (r, at) in window.iter().zip(places) {
                let part = &mut buf[at..at + (r.end - r.start) as usize];
                match map {
                    Some(m) => self.read_mapped(m, r, part)?,
                    None => self.read_at(part, r.start, 0)?,
                }
                chunks.extend(cut(r.start, part));
            }
            Ok(chunks)
        })
    }

    /// Reads a window through a cluster map: runs of clusters adjacent in the file in one
    /// read each, unallocated ones as zeros.
    fn read_mapped(&self, map: &ClusterMap, window: &Range<u64>, buf: &mut [u8]) -> Result<(), Error> {
        let cs = map.cluster_size;
        // (offset in buf, offset in file, length) of the run being gathered.
        let mut run: Option<(usize, u64, usize)> = None;
        let mut pos = window.start;
        while pos < window.end {
            let within = pos % cs;
            let take = (cs - within).min(window.end - pos) as usize;
            let at = (pos - window.start) as usize;
            let host = map.offsets.get((pos / cs) as usize).copied().unwrap_or(0);
            let extends = matches!(run, Some((b, f, l)) if host != 0 && b + l == at && f + l as u64 == host + within);
            if extends {
                if let Some((_, _, l)) = &mut run {
                    *l += take;
                }
            } else {
                if let Some((b, f, l)) = run.take() {
                    self.read_at(&mut buf[b..b + l], f, b)?;
                }
                if host == 0 {
                    buf[at..at + take].fill(0);
                } else {
                    run = Some((at, host + within, take));
                }
            }
            pos += take as u64;
        }
        if let Some((b, f, l)) = run {
            self.read_at(&mut buf[b..b + l], f, b)?;
        }
        Ok(())
    }
}

/// Cuts the bytes of one window (read from volume offset `base`) into chunks, hashing and
/// sealing each (blocking: CPU work).
pub fn cut(base: u64, data: &[u8]) -> Vec<CutChunk> {
    fastcdc::v2020::FastCDC::new(data, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX)
        .map(|c| {
            let bytes = &data[c.offset..c.offset + c.length];
            let zero = bytes.iter().all(|b| *b == 0);
            CutChunk {
                offset: base + c.offset as u64,
                len: c.length as u64,
                hash: ChunkHash::of(bytes),
                stored: (!zero).then(|| seal_chunk(bytes)),
            }
        })
        .collect()
}

/// The ranges of a raw (shared) volume a backup reads: all of it (all-zero chunks are not
/// stored, so holes cost reading time only).
pub fn raw_data_ranges(path: &Path) -> Result<Vec<Range<u64>>, Error> {
    let size = std::fs::metadata(path).map_err(|e| Error::Internal(format!("reading the volume: {e}")))?.len();
    Ok(std::iter::once(0..size).filter(|r| !r.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunk named by the test as `name`.
    fn chunk(name: &str) -> ChunkHash {
        ChunkHash::of(name.as_bytes())
    }

    fn piece(offset: u64, len: u64, name: &str, skip: u64) -> Piece {
        Piece { offset, len, chunk: chunk(name), skip }
    }

    #[test]
    fn overlay_keeps_unchanged_parts_of_the_parents_pieces() {
        let parent = Manifest {
            size: 300,
            pieces: vec![piece(0, 100, "a", 0), piece(100, 100, "b", 0), piece(200, 100, "c", 0)],
        };
        let fresh = vec![piece(50, 100, "n", 0)];
        let changed: Vec<Range<u64>> = std::iter::once(50..150).collect();
        let m = parent.overlay(250, &changed, fresh);
        assert_eq!(
            m.pieces,
            vec![piece(0, 50, "a", 0), piece(50, 100, "n", 0), piece(150, 50, "b", 50), piece(200, 50, "c", 0)]
        );
        let mut names: Vec<ChunkHash> = ["a", "b", "c", "n"].map(chunk).into();
        names.sort();
        assert_eq!(m.chunks(), names);
        // One piece cut by several ranges, ranges before and past it, a range spanning two
        // pieces.
        let parent = Manifest { size: 400, pieces: vec![piece(0, 300, "a", 10), piece(300, 100, "b", 0)] };
        let changed: Vec<Range<u64>> = vec![20..30, 50..60, 290..310, 390..500];
        let fresh = vec![piece(20, 10, "x", 0), piece(50, 10, "y", 0), piece(290, 20, "z", 0), piece(390, 10, "w", 0)];
        let m = parent.overlay(400, &changed, fresh);
        assert_eq!(
            m.pieces,
            vec![
                piece(0, 20, "a", 10),
                piece(20, 10, "x", 0),
                piece(30, 20, "a", 40),
                piece(50, 10, "y", 0),
                piece(60, 230, "a", 70),
                piece(290, 20, "z", 0),
                piece(310, 80, "b", 10),
                piece(390, 10, "w", 0),
            ]
        );
    }

    /// A window of one range.
    fn one(r: Range<u64>) -> Window {
        std::iter::once(r).collect()
    }

    /// The bytes a window's chunks hold, in order (zero chunks as zeros).
    fn unchunk(chunks: &[CutChunk]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            match &c.stored {
                Some(s) => out.extend(open_chunk(s, &c.hash, c.len).unwrap()),
                None => out.resize(out.len() + c.len as usize, 0),
            }
        }
        out
    }

    #[test]
    fn windows_read_through_a_cluster_map_in_runs() {
        const CS: usize = 64 << 10;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vol");
        let cluster = |i: u8| -> Vec<u8> { (0..CS).map(|j| (j % 241) as u8 ^ i.wrapping_mul(37)).collect() };
        // Host clusters 1..=4 hold data; 0 is the (unused) header cluster.
        let file: Vec<u8> = (0..5u8).flat_map(cluster).collect();
        std::fs::write(&path, &file).unwrap();
        // Virtual clusters: 0,1 -> host 3,4 (one run); 2 -> a hole; 3 -> host 1; 4 -> host 2.
        let map = ClusterMap {
            cluster_size: CS as u64,
            virtual_size: 5 * CS as u64,
            offsets: vec![3 * CS as u64, 4 * CS as u64, 0, CS as u64, 2 * CS as u64],
        };
        let expected: Vec<u8> = [cluster(3), cluster(4), vec![0; CS], cluster(1), cluster(2)].concat();
        let reader = VolumeReader::open(&path).unwrap();
        let whole = reader.cut_window(Some(&map), &one(0..5 * CS as u64)).unwrap();
        assert_eq!(unchunk(&whole), expected);
        // A window starting inside a cluster, on a thread whose buffer held other bytes.
        let part = reader.cut_window(Some(&map), &one(CS as u64 + 100..4 * CS as u64 + 7)).unwrap();
        assert_eq!(part[0].offset, CS as u64 + 100);
        assert_eq!(unchunk(&part), expected[CS + 100..4 * CS + 7]);
        let raw = reader.cut_window(None, &one(4096..3 * CS as u64)).unwrap();
        assert_eq!(unchunk(&raw), file[4096..3 * CS]);
        // Several ranges in one window (one not a whole number of pages long): each is cut
        // on its own, and the chunks follow the ranges.
        let ranges = [100..CS as u64, 2 * CS as u64..3 * CS as u64 + 10, 4 * CS as u64..5 * CS as u64];
        let several = reader.cut_window(Some(&map), &ranges).unwrap();
        let wanted: Vec<u8> = ranges.iter().flat_map(|r| expected[r.start as usize..r.end as usize].to_vec()).collect();
        assert_eq!(unchunk(&several), wanted);
        for c in &several {
            assert!(ranges.iter().any(|r| r.start <= c.offset && c.offset + c.len <= r.end), "chunk at {}", c.offset);
        }
    }

    #[test]
    fn manifests_round_trip_and_old_json_ones_still_read() {
        let m = Manifest {
            size: 1 << 40,
            pieces: vec![piece(0, 100, "1", 0), piece(100, 50, "2", 7), piece(150, 30, "1", 100)],
        };
        let stored = m.encode().unwrap();
        assert_eq!(Manifest::decode(&stored).unwrap(), m);
        let json = zstd::bulk::compress(&serde_json::to_vec(&m).unwrap(), 3).unwrap();
        assert_eq!(Manifest::decode(&json).unwrap(), m, "a manifest stored as JSON before");
        let mut cut = zstd::stream::decode_all(&stored[..]).unwrap();
        cut.truncate(cut.len() - 3);
        assert!(Manifest::decode(&zstd::bulk::compress(&cut, 1).unwrap()).is_err(), "a truncated manifest");
        // The JSON of earlier versions names chunks by their hex digits.
        let h1 = blake3::hash(b"1").to_hex();
        let old = format!(r#"{{"size":300,"pieces":[{{"offset":0,"len":100,"chunk":"{h1}","skip":0}}]}}"#);
        let read = Manifest::decode(&zstd::bulk::compress(old.as_bytes(), 3).unwrap()).unwrap();
        assert_eq!(read, Manifest { size: 300, pieces: vec![piece(0, 100, "1", 0)] });
        assert_eq!(read.pieces[0].chunk.to_string(), h1.as_str());
        let bad = old.replace(h1.as_str(), "not hex");
        assert!(Manifest::decode(&zstd::bulk::compress(bad.as_bytes(), 3).unwrap()).is_err());
    }

    #[test]
    fn small_ranges_share_windows_and_large_ones_are_split() {
        let w = windows(&[0..WINDOW * 2 + 5, WINDOW * 3..WINDOW * 3 + 10, WINDOW * 4..WINDOW * 4 + 10]);
        assert_eq!(
            w,
            vec![
                vec![0..WINDOW],
                vec![WINDOW..WINDOW * 2],
                vec![WINDOW * 2..WINDOW * 2 + 5, WINDOW * 3..WINDOW * 3 + 10, WINDOW * 4..WINDOW * 4 + 10],
            ]
        );
        assert!(w.iter().all(|w| window_len(w) <= WINDOW));
        let many: Vec<Range<u64>> = (0..1000u64).map(|i| i * (1 << 20)..i * (1 << 20) + (64 << 10)).collect();
        let w = windows(&many);
        assert_eq!(w.len(), 8, "1000 changes of 64 KiB in windows of 8 MiB");
        assert_eq!(w.concat(), many);
    }

    #[test]
    fn chunks_are_content_defined_sealed_and_checked() {
        let mut data = vec![0u8; 1 << 20];
        let mut x: u32 = 7;
        for b in data.iter_mut().skip(256 << 10) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        let chunks = cut(4096, &data);
        assert_eq!(chunks.first().unwrap().offset, 4096);
        assert!(chunks.iter().any(|c| c.stored.is_none()), "the zero head is not stored");
        let total: u64 = chunks.iter().map(|c| c.len).sum();
        assert_eq!(total, data.len() as u64);
        for c in chunks.iter().filter(|c| c.stored.is_some()) {
            assert!(c.len <= CHUNK_MAX as u64);
            let back = open_chunk(c.stored.as_ref().unwrap(), &c.hash, c.len).unwrap();
            let at = (c.offset - 4096) as usize;
            assert_eq!(back, &data[at..at + c.len as usize]);
        }
        // The same content shifted by a few bytes mostly cuts into the same chunks.
        let mut shifted = vec![9u8; 100];
        shifted.extend_from_slice(&data[256 << 10..]);
        let again: std::collections::HashSet<ChunkHash> = cut(0, &shifted).into_iter().map(|c| c.hash).collect();
        let shared = chunks.iter().filter(|c| again.contains(&c.hash)).count();
        assert!(shared * 2 >= chunks.len() - 2, "{shared} of {} chunks shared", chunks.len());
        // A damaged chunk is refused.
        let c = chunks.iter().find(|c| c.stored.is_some()).unwrap();
        let mut bad = c.stored.clone().unwrap();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(open_chunk(&bad, &c.hash, c.len).is_err());
    }
}
