//! The data path of volume backups: a volume's point-in-time content cut into
//! content-defined chunks (FastCDC), each named by its BLAKE3 hash and compressed with zstd;
//! a backup's manifest says which chunk bytes make up which volume bytes.
//!
//! Chunks are cut where the content says, not at fixed offsets, so data that moved still
//! deduplicates; a manifest piece may use part of a chunk (an incremental backup keeps the
//! unchanged parts of its parent's chunks). Areas no piece covers read as zeros. Every chunk
//! is checked against its hash when it is read back, so a restore never writes bytes that
//! are not the ones backed up.

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

/// Volume bytes `offset..offset+len` are bytes `skip..skip+len` of chunk `chunk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    pub offset: u64,
    pub len: u64,
    pub chunk: String,
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
    pub fn overlay(&self, size: u64, changed: &[Range<u64>], mut fresh: Vec<Piece>) -> Manifest {
        let mut kept = Vec::new();
        for p in &self.pieces {
            // The parts of `p` outside every changed range (and inside the new size) stay.
            let mut parts: Vec<Range<u64>> = std::iter::once(p.offset..(p.offset + p.len).min(size)).collect();
            for c in changed {
                parts = parts
                    .into_iter()
                    .flat_map(|r| {
                        let mut out = Vec::new();
                        if r.start < c.start.min(r.end) {
                            out.push(r.start..c.start.min(r.end));
                        }
                        if c.end.max(r.start) < r.end {
                            out.push(c.end.max(r.start)..r.end);
                        }
                        out
                    })
                    .collect();
            }
            for r in parts.into_iter().filter(|r| r.start < r.end) {
                kept.push(Piece {
                    offset: r.start,
                    len: r.end - r.start,
                    chunk: p.chunk.clone(),
                    skip: p.skip + (r.start - p.offset),
                });
            }
        }
        kept.append(&mut fresh);
        kept.sort_by_key(|p| p.offset);
        Manifest { size, pieces: kept }
    }

    /// The stored form: zstd-compressed JSON.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let json = serde_json::to_vec(self)?;
        zstd::bulk::compress(&json, 3).map_err(|e| Error::Internal(format!("packing a manifest: {e}")))
    }

    /// A manifest from its stored form.
    pub fn decode(stored: &[u8]) -> Result<Manifest, Error> {
        let json = zstd::stream::decode_all(stored).map_err(|e| Error::Internal(format!("reading a manifest: {e}")))?;
        Ok(serde_json::from_slice(&json)?)
    }

    /// The distinct chunks the manifest uses.
    pub fn chunks(&self) -> Vec<String> {
        let mut c: Vec<String> = self.pieces.iter().map(|p| p.chunk.clone()).collect();
        c.sort();
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
    pub hash: String,
    pub stored: Option<Vec<u8>>,
}

/// The stored form of chunk data: a format byte (0 raw, 1 zstd) and the bytes. A sample
/// that does not compress (random or already compressed data) saves compressing the rest.
pub fn seal_chunk(data: &[u8]) -> Vec<u8> {
    const SAMPLE: usize = 4096;
    let compressible =
        data.len() <= SAMPLE || zstd::bulk::compress(&data[..SAMPLE], 1).is_ok_and(|z| z.len() < SAMPLE * 15 / 16);
    let packed = if compressible { zstd::bulk::compress(data, 1) } else { Err(std::io::ErrorKind::Other.into()) };
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
pub fn open_chunk(stored: &[u8], hash: &str, len: u64) -> Result<Vec<u8>, Error> {
    let data = match stored.split_first() {
        Some((0, raw)) => raw.to_vec(),
        Some((1, z)) => zstd::bulk::decompress(z, len as usize)
            .map_err(|e| Error::Internal(format!("backup chunk {hash} does not decompress: {e}")))?,
        _ => return Err(Error::Internal(format!("backup chunk {hash} has an unknown format"))),
    };
    if data.len() as u64 != len || blake3::hash(&data).to_hex().as_str() != hash {
        return Err(Error::Internal(format!("backup chunk {hash} is corrupt: its content does not match its hash")));
    }
    Ok(data)
}

/// Windows of at most [`WINDOW`] bytes over `ranges`, in order.
pub fn windows(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for r in ranges {
        let mut start = r.start;
        while start < r.end {
            let end = (start + WINDOW).min(r.end);
            out.push(start..end);
            start = end;
        }
    }
    out
}

/// Reads volume bytes `window` of a snapshot through its cluster map (blocking).
pub fn read_window(file: &File, map: &ClusterMap, window: &Range<u64>) -> Result<Vec<u8>, Error> {
    let cs = map.cluster_size;
    let mut buf = vec![0u8; (window.end - window.start) as usize];
    let mut pos = window.start;
    while pos < window.end {
        let cluster = (pos / cs) as usize;
        let within = pos % cs;
        let take = (cs - within).min(window.end - pos);
        let host = map.offsets.get(cluster).copied().unwrap_or(0);
        if host != 0 {
            let at = (pos - window.start) as usize;
            file.read_exact_at(&mut buf[at..at + take as usize], host + within)
                .map_err(|e| Error::Internal(format!("reading the volume: {e}")))?;
        }
        pos += take;
    }
    Ok(buf)
}

/// Reads a raw volume's bytes `window` (blocking).
pub fn read_raw_window(file: &File, window: &Range<u64>) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; (window.end - window.start) as usize];
    file.read_exact_at(&mut buf, window.start).map_err(|e| Error::Internal(format!("reading the volume: {e}")))?;
    Ok(buf)
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
                hash: blake3::hash(bytes).to_hex().to_string(),
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

    fn piece(offset: u64, len: u64, chunk: &str, skip: u64) -> Piece {
        Piece { offset, len, chunk: chunk.into(), skip }
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
        assert_eq!(m.chunks(), ["a", "b", "c", "n"]);
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
        let again: std::collections::HashSet<String> = cut(0, &shifted).into_iter().map(|c| c.hash).collect();
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
