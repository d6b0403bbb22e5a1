//! Volume data on local disk: one QCOW2 file per volume, `DATA/volumes/<id>.qcow2`.
//!
//! This is the block-store boundary: a distributed store (Ceph RBD...) would implement the
//! same operations. Creation goes through a temporary file renamed into place, so a volume
//! file either is complete or does not exist; every operation is idempotent, so a durable
//! job interrupted by a crash just runs its step again.

use crate::hypervisor::qemu::run_qemu_img;
use nimbus_core::Error;
use std::ffi::OsStr;
use std::path::PathBuf;

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
    pub fn path(&self, id: &str) -> PathBuf {
        let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        self.root.join(format!("{safe}.qcow2"))
    }

    /// Creates an empty volume of `size_gb` (nothing if it exists: a resumed job).
    pub async fn create(&self, id: &str, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        let size = format!("{size_gb}G");
        run_qemu_img(&[
            OsStr::new("create"),
            OsStr::new("-q"),
            OsStr::new("-f"),
            OsStr::new("qcow2"),
            tmp.as_os_str(),
            OsStr::new(&size),
        ])
        .await?;
        tokio::fs::File::open(&tmp).await.map_err(io)?.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// Creates a volume holding a disk image (any format `qemu-img` reads), grown to
    /// `size_gb` (nothing if it exists: a resumed job).
    pub async fn create_from(&self, id: &str, image: &std::path::Path, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        run_qemu_img(&[
            OsStr::new("convert"),
            OsStr::new("-q"),
            OsStr::new("-O"),
            OsStr::new("qcow2"),
            image.as_os_str(),
            tmp.as_os_str(),
        ])
        .await?;
        let size = format!("{size_gb}G");
        run_qemu_img(&[OsStr::new("resize"), OsStr::new("-q"), tmp.as_os_str(), OsStr::new(&size)]).await?;
        tokio::fs::File::open(&tmp).await.map_err(io)?.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// Grows a volume to `size_gb` (growing to the size it has is a no-op: a resumed job).
    pub async fn grow(&self, id: &str, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id);
        if self.virtual_size(id).await? >= (size_gb as u64) << 30 {
            return Ok(());
        }
        let size = format!("{size_gb}G");
        run_qemu_img(&[OsStr::new("resize"), OsStr::new("-q"), path.as_os_str(), OsStr::new(&size)]).await
    }

    /// The size the guest sees, in bytes.
    pub async fn virtual_size(&self, id: &str) -> Result<u64, Error> {
        let info = crate::image_files::inspect_file(&self.path(id)).await?;
        Ok(info.virtual_size.max(0) as u64)
    }

    /// Removes a volume's data: the file goes, so nothing of it stays readable through
    /// the platform (missing data is not an error: deletes are retried).
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let path = self.path(id);
        for p in [path.clone(), path.with_extension("partial")] {
            match tokio::fs::remove_file(&p).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether a volume's data exists.
    pub async fn exists(&self, id: &str) -> bool {
        tokio::fs::try_exists(self.path(id)).await.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn volumes_are_created_grown_and_deleted_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let v = VolumeFiles::new(dir.path()).unwrap();
        v.create("v1", 1).await.unwrap();
        v.create("v1", 1).await.unwrap();
        assert_eq!(v.virtual_size("v1").await.unwrap(), 1 << 30);
        v.grow("v1", 3).await.unwrap();
        v.grow("v1", 2).await.unwrap();
        assert_eq!(v.virtual_size("v1").await.unwrap(), 3 << 30);
        v.delete("v1").await.unwrap();
        v.delete("v1").await.unwrap();
        assert!(!v.exists("v1").await);
    }
}
