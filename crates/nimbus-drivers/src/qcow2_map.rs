//! Where a QCOW2 volume's data lives: the cluster map of one internal snapshot, read from
//! the file's own tables (header, snapshot table, L1 and L2 tables).
//!
//! Backups read a volume through its snapshot's map: unallocated and zero clusters are never
//! read, and two snapshots' maps tell which clusters changed between them. QCOW2 never
//! rewrites a cluster a snapshot holds (a guest write copies it first), so a cluster whose
//! host offset is the same in both maps holds the same data. Snapshot tables are flushed by
//! QEMU when the snapshot is taken, so the map may be read while a guest runs.
//!
//! Only what Nimbus creates is accepted: no backing file, no encryption, no external data
//! file, no subclusters, no compressed clusters.

use nimbus_core::Error;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: u32 = 0x5146_49fb;
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const L2_COMPRESSED: u64 = 1 << 62;
const L2_ZERO: u64 = 1;
/// Incompatible features a reader may ignore: dirty (lazy refcounts) and corrupt-free
/// markers that do not change how data is found (bit 0 dirty, bit 3 compression type,
/// which only matters for compressed clusters, refused below).
const IGNORABLE_INCOMPATIBLE: u64 = 0b1001;

/// The clusters of one point-in-time state of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMap {
    pub cluster_size: u64,
    /// The size the guest saw, in bytes.
    pub virtual_size: u64,
    /// The host offset of each cluster's data; 0 for clusters that read as zeros.
    pub offsets: Vec<u64>,
}

impl ClusterMap {
    /// Byte ranges of the clusters holding data (adjacent clusters merged).
    pub fn allocated(&self) -> Vec<std::ops::Range<u64>> {
        self.runs(|i| self.offsets[i] != 0)
    }

    /// Byte ranges whose content may differ from `older` (adjacent clusters merged): the
    /// clusters whose data moved, appeared or went to zero.
    pub fn changed_since(&self, older: &ClusterMap) -> Vec<std::ops::Range<u64>> {
        if older.cluster_size != self.cluster_size {
            return self.runs(|_| true);
        }
        self.runs(|i| older.offsets.get(i).copied().unwrap_or(0) != self.offsets[i])
    }

    fn runs(&self, mut pick: impl FnMut(usize) -> bool) -> Vec<std::ops::Range<u64>> {
        let mut out: Vec<std::ops::Range<u64>> = Vec::new();
        for i in 0..self.offsets.len() {
            if !pick(i) {
                continue;
            }
            let start = i as u64 * self.cluster_size;
            let end = (start + self.cluster_size).min(self.virtual_size);
            match out.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => out.push(start..end),
            }
        }
        out
    }
}

fn bad(why: impl std::fmt::Display) -> Error {
    Error::Internal(format!("reading the volume's QCOW2 tables: {why}"))
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn read_at(f: &File, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset).map_err(bad)?;
    Ok(buf)
}

/// One entry of a QCOW2 file's snapshot table.
struct SnapshotEntry {
    name: Vec<u8>,
    l1_offset: u64,
    l1_size: usize,
    /// The disk size the snapshot was taken at (version 3 entries; else `None`).
    virtual_size: Option<u64>,
}

/// The header of the QCOW2 file `f` (its first 104 bytes, the magic checked).
fn header(f: &File) -> Result<Vec<u8>, Error> {
    let h = read_at(f, 0, 104)?;
    if be_u32(&h, 0) != MAGIC {
        return Err(bad("not a QCOW2 file"));
    }
    Ok(h)
}

/// The snapshot table of the QCOW2 file `f` with header `h`.
fn snapshot_table(f: &File, h: &[u8]) -> Result<Vec<SnapshotEntry>, Error> {
    let nb_snapshots = be_u32(h, 60) as usize;
    let mut at = be_u64(h, 64);
    let mut out = Vec::with_capacity(nb_snapshots);
    for _ in 0..nb_snapshots {
        let fixed = read_at(f, at, 40)?;
        let id_len = be_u16(&fixed, 12) as usize;
        let name_len = be_u16(&fixed, 14) as usize;
        let extra_len = be_u32(&fixed, 36) as usize;
        let rest = read_at(f, at + 40, extra_len + id_len + name_len)?;
        out.push(SnapshotEntry {
            name: rest[extra_len + id_len..].to_vec(),
            l1_offset: be_u64(&fixed, 0),
            l1_size: be_u32(&fixed, 8) as usize,
            virtual_size: (extra_len >= 16).then(|| be_u64(&rest, 8)),
        });
        let entry_len = 40 + extra_len + id_len + name_len;
        at += entry_len.div_ceil(8) as u64 * 8;
    }
    Ok(out)
}

/// The names of the internal snapshots of the QCOW2 file at `path`, read from its snapshot
/// table (blocking). Any QCOW2 file, encrypted ones too: the table is not encrypted.
pub fn snapshot_names(path: &Path) -> Result<Vec<String>, Error> {
    let f = File::open(path).map_err(bad)?;
    let h = header(&f)?;
    Ok(snapshot_table(&f, &h)?.into_iter().map(|s| String::from_utf8_lossy(&s.name).into_owned()).collect())
}

/// The cluster map of the internal snapshot `name` of the QCOW2 file at `path` (blocking:
/// run it on a blocking thread).
pub fn snapshot_map(path: &Path, name: &str) -> Result<ClusterMap, Error> {
    let f = File::open(path).map_err(bad)?;
    let h = header(&f)?;
    let version = be_u32(&h, 4);
    if be_u64(&h, 8) != 0 {
        return Err(bad("volumes have no backing file"));
    }
    let cluster_bits = be_u32(&h, 20);
    if !(9..=21).contains(&cluster_bits) {
        return Err(bad(format!("cluster bits {cluster_bits}")));
    }
    if be_u32(&h, 32) != 0 {
        return Err(bad("encrypted QCOW2 is not read here"));
    }
    if version >= 3 && be_u64(&h, 72) & !IGNORABLE_INCOMPATIBLE != 0 {
        return Err(bad(format!("unsupported incompatible features {:#x}", be_u64(&h, 72))));
    }
    let header_size = be_u64(&h, 24);
    let snap = snapshot_table(&f, &h)?
        .into_iter()
        .find(|s| s.name == name.as_bytes())
        .ok_or_else(|| Error::not_found("volume snapshot", name))?;
    map_of(&f, cluster_bits, snap.l1_offset, snap.l1_size, snap.virtual_size.unwrap_or(header_size))
}

fn map_of(f: &File, cluster_bits: u32, l1_offset: u64, l1_size: usize, virtual_size: u64) -> Result<ClusterMap, Error> {
    let cluster_size = 1u64 << cluster_bits;
    let per_l2 = (cluster_size / 8) as usize;
    let clusters = virtual_size.div_ceil(cluster_size) as usize;
    let mut offsets = vec![0u64; clusters];
    let l1 = read_at(f, l1_offset, l1_size * 8)?;
    for (i, chunk) in l1.chunks_exact(8).enumerate() {
        let l2_offset = be_u64(chunk, 0) & OFFSET_MASK;
        let first = i * per_l2;
        if l2_offset == 0 || first >= clusters {
            continue;
        }
        let l2 = read_at(f, l2_offset, cluster_size as usize)?;
        for (j, e) in l2.chunks_exact(8).enumerate() {
            let Some(slot) = offsets.get_mut(first + j) else { break };
            let entry = be_u64(e, 0);
            if entry & L2_COMPRESSED != 0 {
                return Err(bad("compressed clusters are not read here"));
            }
            if entry & L2_ZERO == 0 {
                *slot = entry & OFFSET_MASK;
            }
        }
    }
    Ok(ClusterMap { cluster_size, virtual_size, offsets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn qemu(args: &[&str], path: &Path) {
        let out = Command::new(args[0]).args(&args[1..]).arg(path).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn maps_tell_allocated_and_changed_clusters() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.qcow2");
        let out = Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&p).arg("8M").output().unwrap();
        assert!(out.status.success());
        qemu(&["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 128k"], &p);
        qemu(&["qemu-io", "-f", "qcow2", "-c", "write -P 0x12 1M 64k"], &p);
        qemu(&["qemu-img", "snapshot", "-c", "a"], &p);
        qemu(&["qemu-io", "-f", "qcow2", "-c", "write -P 0x22 64k 64k"], &p);
        qemu(&["qemu-io", "-f", "qcow2", "-c", "write -z 1M 64k"], &p);
        qemu(&["qemu-io", "-f", "qcow2", "-c", "write -P 0x33 4M 64k"], &p);
        qemu(&["qemu-img", "snapshot", "-c", "b"], &p);

        let a = snapshot_map(&p, "a").unwrap();
        assert_eq!((a.cluster_size, a.virtual_size), (65536, 8 << 20));
        assert_eq!(a.allocated(), vec![0..128 << 10, 1 << 20..(1 << 20) + (64 << 10)]);
        let b = snapshot_map(&p, "b").unwrap();
        assert_eq!(
            b.changed_since(&a),
            vec![64 << 10..128 << 10, 1 << 20..(1 << 20) + (64 << 10), 4 << 20..(4 << 20) + (64 << 10)]
        );
        // The data a map points at is the snapshot's.
        let f = File::open(&p).unwrap();
        let mut buf = vec![0u8; 16];
        f.read_exact_at(&mut buf, a.offsets[1]).unwrap();
        assert_eq!(buf, vec![0x11; 16]);
        f.read_exact_at(&mut buf, b.offsets[1]).unwrap();
        assert_eq!(buf, vec![0x22; 16]);
        assert!(matches!(snapshot_map(&p, "nope"), Err(Error::NotFound { .. })));
        assert_eq!(snapshot_names(&p).unwrap(), ["a", "b"]);
    }
}
