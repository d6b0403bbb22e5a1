//! Volume data on local disk: one file per volume, `DATA/volumes/<id>.qcow2`, or
//! `<id>.raw` for shareable (multi-attach) volumes: QCOW2 keeps metadata (allocation
//! tables) that two guests writing at once would corrupt, raw data has none.
//!
//! This is the block-store boundary: a distributed store (Ceph RBD...) would implement the
//! same operations. Creation goes through a temporary file renamed into place, so a volume
//! file either is complete or does not exist; every operation is idempotent, so a durable
//! job interrupted by a crash just runs its step again.

use crate::hypervisor::qemu::run_qemu_img;
use nimbus_core::Error;
use std::ffi::OsStr;
use std::path::PathBuf;

/// How a volume's data is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeFormat {
    /// Thin, with internal snapshots: every volume one guest at a time uses.
    Qcow2,
    /// Sparse raw data: shareable volumes.
    Raw,
}

impl VolumeFormat {
    /// The format of a volume that is (or is not) shareable.
    pub fn for_volume(shareable: bool) -> Self {
        if shareable {
            VolumeFormat::Raw
        } else {
            VolumeFormat::Qcow2
        }
    }

    /// QEMU's name of the format.
    pub fn name(self) -> &'static str {
        match self {
            VolumeFormat::Qcow2 => "qcow2",
            VolumeFormat::Raw => "raw",
        }
    }
}

/// The volumes of a region.
#[derive(Debug, Clone)]
pub struct VolumeFiles {
    root: PathBuf,
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("volume store: {e}"))
}

impl VolumeFiles {
    /// Volumes under `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(VolumeFiles { root })
    }

    /// Where a volume's data lives.
    /// The file system holding the volumes: its size and the bytes free to unprivileged
    /// writers, in bytes (what the block-storage back end reports as its capacity).
    pub fn capacity(&self) -> Result<(u64, u64), Error> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.root.as_os_str().as_bytes())
            .map_err(|_| Error::Internal("the volumes directory has a NUL in its name".into()))?;
        // SAFETY: statvfs fills the zeroed struct from a NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            return Err(io(std::io::Error::last_os_error()));
        }
        let block = st.f_frsize as u64;
        Ok((st.f_blocks as u64 * block, st.f_bavail as u64 * block))
    }

    pub fn path(&self, id: &str, format: VolumeFormat) -> PathBuf {
        let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        self.root.join(format!("{safe}.{}", format.name()))
    }

    /// Creates an empty volume of `size_gb` (nothing if it exists: a resumed job).
    pub async fn create(&self, id: &str, format: VolumeFormat, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id, format);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        let size = format!("{size_gb}G");
        run_qemu_img(&[
            OsStr::new("create"),
            OsStr::new("-q"),
            OsStr::new("-f"),
            OsStr::new(format.name()),
            tmp.as_os_str(),
            OsStr::new(&size),
        ])
        .await?;
        tokio::fs::File::open(&tmp).await.map_err(io)?.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// Creates a volume holding a disk image (any format `qemu-img` reads), grown to
    /// `size_gb` (nothing if it exists: a resumed job).
    pub async fn create_from(
        &self,
        id: &str,
        format: VolumeFormat,
        image: &std::path::Path,
        image_format: Option<&str>,
        size_gb: i64,
    ) -> Result<(), Error> {
        let path = self.path(id, format);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        let mut args = vec![OsStr::new("convert"), OsStr::new("-q"), OsStr::new("-O"), OsStr::new(format.name())];
        // A source whose bytes a guest wrote is never probed: they could pose as a header.
        if let Some(f) = image_format {
            args.extend([OsStr::new("-f"), OsStr::new(f)]);
        }
        args.extend([image.as_os_str(), tmp.as_os_str()]);
        run_qemu_img(&args).await?;
        Self::settle(&tmp, &path, format, size_gb).await
    }

    /// Grows a freshly written volume to `size_gb`, makes it durable and moves it into place.
    async fn settle(
        tmp: &std::path::Path,
        path: &std::path::Path,
        format: VolumeFormat,
        size_gb: i64,
    ) -> Result<(), Error> {
        let size = format!("{size_gb}G");
        run_qemu_img(&[
            OsStr::new("resize"),
            OsStr::new("-q"),
            OsStr::new("-f"),
            OsStr::new(format.name()),
            tmp.as_os_str(),
            OsStr::new(&size),
        ])
        .await?;
        tokio::fs::File::open(tmp).await.map_err(io)?.sync_all().await.map_err(io)?;
        tokio::fs::rename(tmp, path).await.map_err(io)
    }

    /// Rewrites a volume's data in another format (a retype between shareable and
    /// non-shareable types), then removes the old file. Idempotent: a resumed job finds the
    /// new file in place and only finishes the removal.
    pub async fn convert(&self, id: &str, from: VolumeFormat, to: VolumeFormat, size_gb: i64) -> Result<(), Error> {
        if from == to {
            return Ok(());
        }
        let source = self.path(id, from);
        self.create_from(id, to, &source, Some(from.name()), size_gb).await?;
        match tokio::fs::remove_file(&source).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    /// Grows a volume to `size_gb` (growing to the size it has is a no-op: a resumed job).
    pub async fn grow(&self, id: &str, format: VolumeFormat, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id, format);
        if self.virtual_size(id, format).await? >= (size_gb as u64) << 30 {
            return Ok(());
        }
        let size = format!("{size_gb}G");
        run_qemu_img(&[
            OsStr::new("resize"),
            OsStr::new("-q"),
            OsStr::new("-f"),
            OsStr::new(format.name()),
            path.as_os_str(),
            OsStr::new(&size),
        ])
        .await
    }

    /// The size the guest sees, in bytes.
    pub async fn virtual_size(&self, id: &str, format: VolumeFormat) -> Result<u64, Error> {
        let info = crate::image_files::inspect_file(&self.path(id, format)).await?;
        Ok(info.virtual_size.max(0) as u64)
    }

    /// Removes a volume's data: the file goes, so nothing of it stays readable through
    /// the platform (missing data is not an error: deletes are retried).
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let path = self.path(id, VolumeFormat::Qcow2);
        for p in [path.clone(), path.with_extension("partial"), self.path(id, VolumeFormat::Raw)] {
            match tokio::fs::remove_file(&p).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// The names of a QCOW2 volume's internal snapshots (read while a guest may use it).
    pub async fn snapshots(&self, id: &str) -> Result<Vec<String>, Error> {
        let out = tokio::process::Command::new("qemu-img")
            .args(["info", "-U", "--output=json"])
            .arg(self.path(id, VolumeFormat::Qcow2))
            .output()
            .await
            .map_err(io)?;
        if !out.status.success() {
            return Err(Error::Internal(format!("qemu-img info: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| Error::Internal(format!("qemu-img output: {e}")))?;
        Ok(v["snapshots"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    /// Takes an internal snapshot of a volume no guest uses (nothing if it exists).
    pub async fn snapshot(&self, id: &str, name: &str) -> Result<(), Error> {
        if self.snapshots(id).await?.iter().any(|s| s == name) {
            return Ok(());
        }
        let path = self.path(id, VolumeFormat::Qcow2);
        run_qemu_img(&[OsStr::new("snapshot"), OsStr::new("-c"), OsStr::new(name), path.as_os_str()]).await
    }

    /// Drops an internal snapshot of a volume no guest uses (nothing if it is gone).
    pub async fn delete_snapshot(&self, id: &str, name: &str) -> Result<(), Error> {
        if !self.exists(id).await || !self.snapshots(id).await?.iter().any(|s| s == name) {
            return Ok(());
        }
        let path = self.path(id, VolumeFormat::Qcow2);
        run_qemu_img(&[OsStr::new("snapshot"), OsStr::new("-d"), OsStr::new(name), path.as_os_str()]).await
    }

    /// Puts a volume no guest uses back to a snapshot's content, at `size_gb` (a volume
    /// grown since keeps its size; the space past the snapshot's end reads as zeros).
    pub async fn revert(&self, id: &str, name: &str, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id, VolumeFormat::Qcow2);
        run_qemu_img(&[OsStr::new("snapshot"), OsStr::new("-a"), OsStr::new(name), path.as_os_str()]).await?;
        self.grow(id, VolumeFormat::Qcow2, size_gb).await
    }

    /// Writes a volume's content to `out` in `out_format` (`raw`, `qcow2`...): the internal
    /// snapshot `snapshot` of a QCOW2 volume (which a guest may be writing meanwhile), or a
    /// raw volume as it is. Written aside, then moved into place.
    pub async fn export(
        &self,
        id: &str,
        format: VolumeFormat,
        snapshot: Option<&str>,
        out: &std::path::Path,
        out_format: &str,
    ) -> Result<(), Error> {
        let src = self.path(id, format);
        let tmp = out.with_extension("partial");
        let selected = snapshot.map(|n| format!("snapshot.name={n}"));
        let mut args = vec![OsStr::new("convert"), OsStr::new("-q"), OsStr::new("-U")];
        args.extend([OsStr::new("-f"), OsStr::new(format.name())]);
        if let Some(sel) = &selected {
            args.extend([OsStr::new("-l"), OsStr::new(sel)]);
        }
        args.extend([OsStr::new("-O"), OsStr::new(out_format), src.as_os_str(), tmp.as_os_str()]);
        run_qemu_img(&args).await?;
        tokio::fs::rename(&tmp, out).await.map_err(io)
    }

    /// Creates a volume holding a snapshot of another, grown to `size_gb` (nothing if it
    /// exists: a resumed job). The source may be in a guest's hands: snapshot data is never
    /// rewritten in place.
    pub async fn create_from_snapshot(
        &self,
        id: &str,
        format: VolumeFormat,
        source: &str,
        name: &str,
        size_gb: i64,
    ) -> Result<(), Error> {
        let path = self.path(id, format);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        let src = self.path(source, VolumeFormat::Qcow2);
        let snapshot = format!("snapshot.name={name}");
        run_qemu_img(&[
            OsStr::new("convert"),
            OsStr::new("-q"),
            OsStr::new("-U"),
            OsStr::new("-f"),
            OsStr::new("qcow2"),
            OsStr::new("-l"),
            OsStr::new(&snapshot),
            OsStr::new("-O"),
            OsStr::new(format.name()),
            src.as_os_str(),
            tmp.as_os_str(),
        ])
        .await?;
        Self::settle(&tmp, &path, format, size_gb).await
    }

    /// Where a restore assembles a volume's raw content before it becomes the volume's data.
    pub fn restore_scratch(&self, id: &str) -> PathBuf {
        self.path(id, VolumeFormat::Raw).with_extension("restore")
    }

    /// Makes the raw content assembled at [`Self::restore_scratch`] the volume's data, at
    /// `size_gb`: a new volume's file, or written over an existing volume's data (its
    /// snapshots are kept); the scratch file goes.
    pub async fn restore_from_scratch(
        &self,
        id: &str,
        format: VolumeFormat,
        size_gb: i64,
        existing: bool,
    ) -> Result<(), Error> {
        let scratch = self.restore_scratch(id);
        let path = self.path(id, format);
        if existing {
            run_qemu_img(&[
                OsStr::new("convert"),
                OsStr::new("-q"),
                OsStr::new("-n"),
                OsStr::new("-f"),
                OsStr::new("raw"),
                OsStr::new("-O"),
                OsStr::new(format.name()),
                scratch.as_os_str(),
                path.as_os_str(),
            ])
            .await?;
            tokio::fs::File::open(&path).await.map_err(io)?.sync_all().await.map_err(io)?;
        } else if !tokio::fs::try_exists(&path).await.map_err(io)? {
            let tmp = path.with_extension("partial");
            run_qemu_img(&[
                OsStr::new("convert"),
                OsStr::new("-q"),
                OsStr::new("-f"),
                OsStr::new("raw"),
                OsStr::new("-O"),
                OsStr::new(format.name()),
                scratch.as_os_str(),
                tmp.as_os_str(),
            ])
            .await?;
            Self::settle(&tmp, &path, format, size_gb).await?;
        }
        match tokio::fs::remove_file(&scratch).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    /// Whether a volume's data exists.
    pub async fn exists(&self, id: &str) -> bool {
        for format in [VolumeFormat::Qcow2, VolumeFormat::Raw] {
            if tokio::fs::try_exists(self.path(id, format)).await.unwrap_or(false) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn volumes_are_created_grown_and_deleted_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let v = VolumeFiles::new(dir.path()).unwrap();
        for f in [VolumeFormat::Qcow2, VolumeFormat::Raw] {
            v.create("v1", f, 1).await.unwrap();
            v.create("v1", f, 1).await.unwrap();
            assert_eq!(v.virtual_size("v1", f).await.unwrap(), 1 << 30);
            let info = crate::image_files::inspect_file(&v.path("v1", f)).await.unwrap();
            assert_eq!(info.format, f.name());
            v.grow("v1", f, 3).await.unwrap();
            v.grow("v1", f, 2).await.unwrap();
            assert_eq!(v.virtual_size("v1", f).await.unwrap(), 3 << 30);
            v.delete("v1").await.unwrap();
            v.delete("v1").await.unwrap();
            assert!(!v.exists("v1").await);
        }
    }

    #[tokio::test]
    async fn snapshots_are_taken_reverted_copied_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let v = VolumeFiles::new(dir.path()).unwrap();
        v.create("v1", VolumeFormat::Qcow2, 1).await.unwrap();
        let path = v.path("v1", VolumeFormat::Qcow2);
        let write = |pattern: &str| {
            let st = std::process::Command::new("qemu-io")
                .args(["-f", "qcow2", "-c", &format!("write -P {pattern} 0 64k")])
                .arg(&path)
                .output()
                .unwrap();
            assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        };
        let reads = |p: &std::path::Path, format: &str, pattern: &str| {
            let out = std::process::Command::new("qemu-io")
                .args(["-f", format, "-r", "-c", &format!("read -P {pattern} 0 64k")])
                .arg(p)
                .output()
                .unwrap();
            !String::from_utf8_lossy(&out.stdout).contains("Pattern verification failed")
        };
        write("0x11");
        v.snapshot("v1", "snap-a").await.unwrap();
        v.snapshot("v1", "snap-a").await.unwrap();
        write("0x22");
        assert_eq!(v.snapshots("v1").await.unwrap(), ["snap-a"]);
        v.create_from_snapshot("v2", VolumeFormat::Qcow2, "v1", "snap-a", 2).await.unwrap();
        assert!(reads(&v.path("v2", VolumeFormat::Qcow2), "qcow2", "0x11"));
        assert_eq!(v.virtual_size("v2", VolumeFormat::Qcow2).await.unwrap(), 2 << 30);
        v.grow("v1", VolumeFormat::Qcow2, 3).await.unwrap();
        v.revert("v1", "snap-a", 3).await.unwrap();
        assert!(reads(&path, "qcow2", "0x11"));
        assert_eq!(v.virtual_size("v1", VolumeFormat::Qcow2).await.unwrap(), 3 << 30);
        v.delete_snapshot("v1", "snap-a").await.unwrap();
        v.delete_snapshot("v1", "snap-a").await.unwrap();
        assert!(v.snapshots("v1").await.unwrap().is_empty());
    }
}
