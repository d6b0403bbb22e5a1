//! Volume data on local disk: one file per volume, `DATA/volumes/<id>.qcow2`, or
//! `<id>.raw` for shareable (multi-attach) volumes: QCOW2 keeps metadata (allocation
//! tables) that two guests writing at once would corrupt, raw data has none.
//!
//! This is the block-store boundary: a distributed store (Ceph RBD...) would implement the
//! same operations. Creation goes through a temporary file renamed into place, so a volume
//! file either is complete or does not exist; every operation is idempotent, so a durable
//! job interrupted by a crash just runs its step again.
//!
//! An encrypted volume is the same container holding a LUKS image (see
//! [`crate::volume_crypt`]): operations that only move stored bytes (copies, snapshots,
//! restores of backed-up bytes) never need its key; those that size it or read and write
//! what the guest sees open it through QEMU's `luks` driver with the key.

use crate::luks1;
use crate::object_crypt::RegionKey;
use crate::volume_crypt::{luks_view, QemuImg, VolumeKey};
use nimbus_core::Error;
use std::path::{Path, PathBuf};

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

/// How one volume's data is stored: its container, and the key of an encrypted volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub format: VolumeFormat,
    /// Set for an encrypted volume.
    pub key: Option<VolumeKey>,
}

impl Layout {
    /// An unencrypted volume's layout.
    pub fn plain(format: VolumeFormat) -> Self {
        Layout { format, key: None }
    }
}

/// The volumes of a region.
pub struct VolumeFiles {
    root: PathBuf,
    /// Wraps the passphrases of encrypted volumes for the store.
    keys: RegionKey,
    /// Whether that key was made at this start (see [`Self::key_created`]).
    key_created: bool,
}

impl std::fmt::Debug for VolumeFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeFiles").field("root", &self.root).finish_non_exhaustive()
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("volume store: {e}"))
}

fn size_arg(size_gb: i64) -> String {
    format!("{size_gb}G")
}

/// `-f FORMAT PATH`, or the plaintext view of an encrypted container (`--image-opts ...`).
fn opened(path: &Path, layout: &Layout) -> Vec<std::ffi::OsString> {
    match layout.key {
        None => vec!["-f".into(), layout.format.name().into(), path.as_os_str().to_owned()],
        Some(_) => vec!["--image-opts".into(), luks_view(path, layout.format.name()).into()],
    }
}

impl VolumeFiles {
    /// Volumes under `root` (created if missing), their keys wrapped by the region's volume
    /// key in `keys/evs.key` beside it (created at first start, mode 0600).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let key_path = root.parent().unwrap_or(&root).join("keys").join("evs.key");
        let (keys, key_created) = RegionKey::load_or_create(&key_path)?;
        Ok(VolumeFiles { root, keys, key_created })
    }

    /// Whether the region's volume key was created at this start: encrypted volumes made
    /// before would not open with it (the old key must come back from a backup).
    pub fn key_created(&self) -> bool {
        self.key_created
    }

    /// A new volume key for AES-`aes_bits` XTS, and its wrapped form for the store.
    pub fn new_key(&self, aes_bits: u16) -> (VolumeKey, String) {
        let (k, wrapped) = self.keys.new_data_key();
        (VolumeKey::new(k.bytes(), aes_bits), wrapped)
    }

    /// The key of a wrapped form the store holds.
    pub fn open_key(&self, wrapped: &str, aes_bits: u16) -> Result<VolumeKey, Error> {
        let k = self
            .keys
            .unwrap(wrapped)
            .map_err(|_| Error::Internal("a volume key does not unwrap with the region's volume key".into()))?;
        Ok(VolumeKey::new(k.bytes(), aes_bits))
    }

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

    /// Where a volume's data lives.
    pub fn path(&self, id: &str, format: VolumeFormat) -> PathBuf {
        let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        self.root.join(format!("{safe}.{}", format.name()))
    }

    /// Creates an empty volume of `size_gb` (nothing if it exists: a resumed job). An
    /// encrypted one gets a LUKS header made with its key; what the guest has not written
    /// reads as noise, as on any LUKS disk.
    pub async fn create(&self, id: &str, layout: &Layout, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id, layout.format);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        self.create_at(&tmp, layout, size_gb).await?;
        tokio::fs::File::open(&tmp).await.map_err(io)?.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// Writes an empty volume's container at `at`.
    async fn create_at(&self, at: &Path, layout: &Layout, size_gb: i64) -> Result<(), Error> {
        match (&layout.key, layout.format) {
            (None, format) => {
                QemuImg::new("create", None)
                    .args(["-q", "-f", format.name()])
                    .arg(at)
                    .arg(size_arg(size_gb))
                    .run()
                    .await
            }
            (Some(key), VolumeFormat::Raw) => {
                // A raw LUKS image is the header, then the payload the resize adds.
                tokio::fs::write(at, luks1::new_header(key.passphrase().as_bytes(), key.aes_bits)?)
                    .await
                    .map_err(io)?;
                self.resize_at(at, layout, size_gb).await
            }
            (Some(key), VolumeFormat::Qcow2) => {
                // The header is copied into a new QCOW2 container, which then grows to the
                // size the guest sees.
                let header = at.with_extension("luks-header");
                tokio::fs::write(&header, luks1::new_header(key.passphrase().as_bytes(), key.aes_bits)?)
                    .await
                    .map_err(io)?;
                let copied = QemuImg::new("convert", None)
                    .args(["-q", "-f", "raw", "-O", "qcow2"])
                    .arg(&header)
                    .arg(at)
                    .run()
                    .await;
                let _ = tokio::fs::remove_file(&header).await;
                copied?;
                self.resize_at(at, layout, size_gb).await
            }
        }
    }

    /// Sets the size the guest sees of the container at `at`.
    async fn resize_at(&self, at: &Path, layout: &Layout, size_gb: i64) -> Result<(), Error> {
        QemuImg::new("resize", layout.key.as_ref())
            .arg("-q")
            .args(opened(at, layout))
            .arg(size_arg(size_gb))
            .run()
            .await
    }

    /// Creates a volume holding a disk image (any format `qemu-img` reads; plaintext), grown
    /// to `size_gb` (nothing if it exists: a resumed job). An encrypted volume is made empty
    /// first, then the image is written through its key.
    pub async fn create_from(
        &self,
        id: &str,
        layout: &Layout,
        image: &Path,
        image_format: Option<&str>,
        size_gb: i64,
    ) -> Result<(), Error> {
        if layout.key.is_none() {
            return self.copy_stored(id, layout, image, image_format, size_gb).await;
        }
        let path = self.path(id, layout.format);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        self.create_at(&tmp, layout, size_gb).await?;
        let mut write = QemuImg::new("convert", layout.key.as_ref()).args(["-q", "-n"]);
        // A source whose bytes a guest wrote is never probed: they could pose as a header.
        if let Some(f) = image_format {
            write = write.args(["-f", f]);
        }
        write.arg(image).arg("--target-image-opts").arg(luks_view(&tmp, layout.format.name())).run().await?;
        tokio::fs::File::open(&tmp).await.map_err(io)?.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// Creates a volume holding another container's stored bytes as they are (a clone: an
    /// encrypted source stays ciphertext and opens with the source's key), grown to
    /// `size_gb` (nothing if it exists: a resumed job).
    pub async fn copy_stored(
        &self,
        id: &str,
        layout: &Layout,
        source: &Path,
        source_format: Option<&str>,
        size_gb: i64,
    ) -> Result<(), Error> {
        let path = self.path(id, layout.format);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        let mut copy = QemuImg::new("convert", None).args(["-q", "-O", layout.format.name()]);
        if let Some(f) = source_format {
            copy = copy.args(["-f", f]);
        }
        copy.arg(source).arg(&tmp).run().await?;
        self.settle(&tmp, &path, layout, size_gb).await
    }

    /// Grows a freshly written volume to `size_gb`, makes it durable and moves it into place.
    async fn settle(&self, tmp: &Path, path: &Path, layout: &Layout, size_gb: i64) -> Result<(), Error> {
        self.resize_at(tmp, layout, size_gb).await?;
        tokio::fs::File::open(tmp).await.map_err(io)?.sync_all().await.map_err(io)?;
        tokio::fs::rename(tmp, path).await.map_err(io)
    }

    /// Rewrites a volume's data in another container format (a retype between shareable and
    /// non-shareable types; an encrypted volume's stored bytes move as they are), then
    /// removes the old file. Idempotent: a resumed job finds the new file in place and only
    /// finishes the removal.
    pub async fn convert(&self, id: &str, from: VolumeFormat, to: &Layout, size_gb: i64) -> Result<(), Error> {
        if from == to.format {
            return Ok(());
        }
        let source = self.path(id, from);
        self.copy_stored(id, to, &source, Some(from.name()), size_gb).await?;
        match tokio::fs::remove_file(&source).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    /// Grows a volume to `size_gb` (growing to the size it has is a no-op: a resumed job).
    pub async fn grow(&self, id: &str, layout: &Layout, size_gb: i64) -> Result<(), Error> {
        if self.virtual_size(id, layout).await? >= (size_gb as u64) << 30 {
            return Ok(());
        }
        self.resize_at(&self.path(id, layout.format), layout, size_gb).await
    }

    /// The size the guest sees, in bytes.
    pub async fn virtual_size(&self, id: &str, layout: &Layout) -> Result<u64, Error> {
        let path = self.path(id, layout.format);
        if layout.key.is_none() {
            let info = crate::image_files::inspect_file(&path).await?;
            return Ok(info.virtual_size.max(0) as u64);
        }
        let out = QemuImg::new("info", layout.key.as_ref())
            .args(["-U", "--output=json"])
            .args(opened(&path, layout))
            .output()
            .await?;
        let v: serde_json::Value =
            serde_json::from_slice(&out).map_err(|e| Error::Internal(format!("qemu-img output: {e}")))?;
        v["virtual-size"].as_u64().ok_or_else(|| Error::Internal("qemu-img info gave no virtual size".into()))
    }

    /// Removes a volume's data: the file goes, so nothing of it stays readable through
    /// the platform (missing data is not an error: deletes are retried). An encrypted
    /// volume's key is destroyed by the control plane with its record.
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
        // From the file's snapshot table: a `qemu-img info` process cost a backup of a
        // detached volume a few milliseconds each time it was taken.
        let path = self.path(id, VolumeFormat::Qcow2);
        tokio::task::spawn_blocking(move || crate::qcow2_map::snapshot_names(&path))
            .await
            .map_err(|e| Error::Internal(format!("reading the volume's snapshots: {e}")))?
    }

    /// Takes an internal snapshot of a volume no guest uses (nothing if it exists).
    pub async fn snapshot(&self, id: &str, name: &str) -> Result<(), Error> {
        if self.snapshots(id).await?.iter().any(|s| s == name) {
            return Ok(());
        }
        let path = self.path(id, VolumeFormat::Qcow2);
        QemuImg::new("snapshot", None).args(["-c", name]).arg(path).run().await
    }

    /// Drops an internal snapshot of a volume no guest uses (nothing if it is gone).
    pub async fn delete_snapshot(&self, id: &str, name: &str) -> Result<(), Error> {
        if !self.exists(id).await || !self.snapshots(id).await?.iter().any(|s| s == name) {
            return Ok(());
        }
        let path = self.path(id, VolumeFormat::Qcow2);
        QemuImg::new("snapshot", None).args(["-d", name]).arg(path).run().await
    }

    /// Puts a volume no guest uses back to a snapshot's content, at `size_gb` (a volume
    /// grown since keeps its size; the space past the snapshot's end reads as zeros).
    pub async fn revert(&self, id: &str, name: &str, layout: &Layout, size_gb: i64) -> Result<(), Error> {
        let path = self.path(id, VolumeFormat::Qcow2);
        QemuImg::new("snapshot", None).args(["-a", name]).arg(path).run().await?;
        self.grow(id, layout, size_gb).await
    }

    /// Writes a volume's content as the guest sees it to `out` in `out_format` (`raw`,
    /// `qcow2`...): the internal snapshot `snapshot` of a QCOW2 volume (which a guest may be
    /// writing meanwhile), or a raw volume as it is. Written aside, then moved into place.
    /// An encrypted volume's snapshot is first copied as stored, then decrypted from the copy.
    pub async fn export(
        &self,
        id: &str,
        layout: &Layout,
        snapshot: Option<&str>,
        out: &Path,
        out_format: &str,
    ) -> Result<(), Error> {
        let src = self.path(id, layout.format);
        let tmp = out.with_extension("partial");
        let sealed = out.with_extension("sealed");
        let stored = layout.key.is_some().then(|| if snapshot.is_some() { VolumeFormat::Qcow2 } else { layout.format });
        let selected = snapshot.map(|n| format!("snapshot.name={n}"));
        let mut copy = QemuImg::new("convert", None).args(["-q", "-U", "-f", layout.format.name()]);
        if let Some(sel) = &selected {
            copy = copy.args(["-l", sel.as_str()]);
        }
        match stored {
            None => copy.args(["-O", out_format]).arg(&src).arg(&tmp).run().await?,
            Some(format) => {
                copy.args(["-O", format.name()]).arg(&src).arg(&sealed).run().await?;
                let view = Layout { format, key: layout.key.clone() };
                let plain = QemuImg::new("convert", layout.key.as_ref())
                    .arg("-q")
                    .args(opened(&sealed, &view))
                    .args(["-O", out_format])
                    .arg(&tmp)
                    .run()
                    .await;
                let _ = tokio::fs::remove_file(&sealed).await;
                plain?;
            }
        }
        tokio::fs::rename(&tmp, out).await.map_err(io)
    }

    /// Creates a volume holding a snapshot of another as stored (an encrypted source's copy
    /// opens with the source's key), grown to `size_gb` (nothing if it exists: a resumed
    /// job). The source may be in a guest's hands: snapshot data is never rewritten in place.
    pub async fn create_from_snapshot(
        &self,
        id: &str,
        layout: &Layout,
        source: &str,
        name: &str,
        size_gb: i64,
    ) -> Result<(), Error> {
        let path = self.path(id, layout.format);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(());
        }
        let tmp = path.with_extension("partial");
        let src = self.path(source, VolumeFormat::Qcow2);
        let snapshot = format!("snapshot.name={name}");
        QemuImg::new("convert", None)
            .args(["-q", "-U", "-f", "qcow2", "-l", snapshot.as_str(), "-O", layout.format.name()])
            .arg(&src)
            .arg(&tmp)
            .run()
            .await?;
        self.settle(&tmp, &path, layout, size_gb).await
    }

    /// Where a restore assembles a volume's stored bytes before they become the volume's data.
    pub fn restore_scratch(&self, id: &str) -> PathBuf {
        self.path(id, VolumeFormat::Raw).with_extension("restore")
    }

    /// Makes the stored bytes assembled at [`Self::restore_scratch`] the volume's data, at
    /// `size_gb`: a new volume's file, or written over an existing volume's data (its
    /// snapshots are kept); the scratch file goes. An encrypted backup's bytes are ciphertext
    /// and stay so: the volume takes the backup's key.
    pub async fn restore_from_scratch(
        &self,
        id: &str,
        layout: &Layout,
        size_gb: i64,
        existing: bool,
    ) -> Result<(), Error> {
        let scratch = self.restore_scratch(id);
        let path = self.path(id, layout.format);
        if existing {
            QemuImg::new("convert", None)
                .args(["-q", "-n", "-f", "raw", "-O", layout.format.name()])
                .arg(&scratch)
                .arg(&path)
                .run()
                .await?;
            tokio::fs::File::open(&path).await.map_err(io)?.sync_all().await.map_err(io)?;
        } else if !tokio::fs::try_exists(&path).await.map_err(io)? {
            let tmp = path.with_extension("partial");
            QemuImg::new("convert", None)
                .args(["-q", "-f", "raw", "-O", layout.format.name()])
                .arg(&scratch)
                .arg(&tmp)
                .run()
                .await?;
            self.settle(&tmp, &path, layout, size_gb).await?;
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
            let l = Layout::plain(f);
            v.create("v1", &l, 1).await.unwrap();
            v.create("v1", &l, 1).await.unwrap();
            assert_eq!(v.virtual_size("v1", &l).await.unwrap(), 1 << 30);
            let info = crate::image_files::inspect_file(&v.path("v1", f)).await.unwrap();
            assert_eq!(info.format, f.name());
            v.grow("v1", &l, 3).await.unwrap();
            v.grow("v1", &l, 2).await.unwrap();
            assert_eq!(v.virtual_size("v1", &l).await.unwrap(), 3 << 30);
            v.delete("v1").await.unwrap();
            v.delete("v1").await.unwrap();
            assert!(!v.exists("v1").await);
        }
    }

    #[tokio::test]
    async fn snapshots_are_taken_reverted_copied_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let v = VolumeFiles::new(dir.path()).unwrap();
        let l = Layout::plain(VolumeFormat::Qcow2);
        v.create("v1", &l, 1).await.unwrap();
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
        v.create_from_snapshot("v2", &l, "v1", "snap-a", 2).await.unwrap();
        assert!(reads(&v.path("v2", VolumeFormat::Qcow2), "qcow2", "0x11"));
        assert_eq!(v.virtual_size("v2", &l).await.unwrap(), 2 << 30);
        v.grow("v1", &l, 3).await.unwrap();
        v.revert("v1", "snap-a", &l, 3).await.unwrap();
        assert!(reads(&path, "qcow2", "0x11"));
        assert_eq!(v.virtual_size("v1", &l).await.unwrap(), 3 << 30);
        v.delete_snapshot("v1", "snap-a").await.unwrap();
        v.delete_snapshot("v1", "snap-a").await.unwrap();
        assert!(v.snapshots("v1").await.unwrap().is_empty());
    }

    /// Reads or writes what the guest of an encrypted volume sees, with qemu-io.
    fn guest_io(path: &std::path::Path, layout: &Layout, command: &str) -> bool {
        let key = layout.key.as_ref().unwrap();
        let secret = crate::volume_crypt::secret_fd(key.passphrase().as_bytes()).unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&secret);
        let mut cmd = std::process::Command::new("qemu-io");
        cmd.args(["--object", "secret,id=volkey,file=/dev/fd/3", "--image-opts"])
            .arg(crate::volume_crypt::luks_view(path, layout.format.name()))
            .args(["-c", command]);
        // SAFETY: dup2/fcntl only, between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || crate::volume_crypt::hand_over(raw, 3));
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        out.status.success() && !text.contains("failed") && !text.contains("can't open")
    }

    /// Whether the first 8 MiB of `path` (where the tests write) contain 4 KiB of `byte` in
    /// a row (the plaintext pattern).
    fn holds_plaintext(path: &std::path::Path, byte: u8) -> bool {
        use std::io::Read;
        let mut data = Vec::new();
        std::fs::File::open(path).unwrap().take(8 << 20).read_to_end(&mut data).unwrap();
        let run = vec![byte; 4096];
        data.windows(run.len()).step_by(512).any(|w| w == run.as_slice())
    }

    #[tokio::test]
    async fn encrypted_volumes_hold_ciphertext_and_their_copies_open_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let v = VolumeFiles::new(dir.path().join("volumes")).unwrap();
        assert!(dir.path().join("keys/evs.key").exists());
        for format in [VolumeFormat::Qcow2, VolumeFormat::Raw] {
            let (key, wrapped) = v.new_key(256);
            assert_eq!(v.open_key(&wrapped, 256).unwrap(), key, "the wrapped key opens to the same key");
            let l = Layout { format, key: Some(key) };
            v.create("e1", &l, 1).await.unwrap();
            v.create("e1", &l, 1).await.unwrap();
            assert_eq!(v.virtual_size("e1", &l).await.unwrap(), 1 << 30, "the guest sees the size asked for");
            let path = v.path("e1", format);
            assert!(guest_io(&path, &l, "write -P 0x5a 0 1M"));
            assert!(guest_io(&path, &l, "read -P 0x5a 0 1M"));
            assert!(!holds_plaintext(&path, 0x5a), "the file holds no plaintext");
            // Another key does not open it.
            let (other, _) = v.new_key(256);
            assert!(!guest_io(&path, &Layout { format, key: Some(other) }, "read -P 0x5a 0 1M"));
            // An image exported from it is plaintext.
            let out = dir.path().join("export.raw");
            v.export("e1", &l, None, &out, "raw").await.unwrap();
            assert_eq!(std::fs::metadata(&out).unwrap().len(), 1 << 30);
            assert!(holds_plaintext(&out, 0x5a));
            // A plaintext image written into a new encrypted volume.
            v.create_from("e4", &l, &out, Some("raw"), 1).await.unwrap();
            assert!(guest_io(&v.path("e4", format), &l, "read -P 0x5a 0 1M"));
            assert!(!holds_plaintext(&v.path("e4", format), 0x5a));
            v.grow("e1", &l, 2).await.unwrap();
            assert_eq!(v.virtual_size("e1", &l).await.unwrap(), 2 << 30);
            assert!(guest_io(&path, &l, "read -P 0x5a 0 1M"), "growing keeps the data");
            // A copy of the stored bytes (a clone) opens with the same key.
            v.copy_stored("e2", &l, &path, Some(format.name()), 3).await.unwrap();
            assert!(guest_io(&v.path("e2", format), &l, "read -P 0x5a 0 1M"));
            assert_eq!(v.virtual_size("e2", &l).await.unwrap(), 3 << 30);
            // Stored bytes restored from a raw copy (a backup's) open with the key.
            std::fs::copy(&path, v.restore_scratch("e3")).unwrap();
            if format == VolumeFormat::Qcow2 {
                let raw = v.restore_scratch("e3");
                let st = std::process::Command::new("qemu-img")
                    .args(["convert", "-f", "qcow2", "-O", "raw"])
                    .arg(&path)
                    .arg(raw.with_extension("tmp"))
                    .status()
                    .unwrap();
                assert!(st.success());
                std::fs::rename(raw.with_extension("tmp"), &raw).unwrap();
            }
            v.restore_from_scratch("e3", &l, 2, false).await.unwrap();
            assert!(guest_io(&v.path("e3", format), &l, "read -P 0x5a 0 1M"));
            for id in ["e1", "e2", "e3", "e4"] {
                v.delete(id).await.unwrap();
            }
        }
        // Snapshots of an encrypted QCOW2 volume: made, copied into a volume, reverted.
        let (key, _) = v.new_key(128);
        let l = Layout { format: VolumeFormat::Qcow2, key: Some(key) };
        v.create("s1", &l, 1).await.unwrap();
        let path = v.path("s1", VolumeFormat::Qcow2);
        assert!(guest_io(&path, &l, "write -P 0x11 0 64k"));
        v.snapshot("s1", "snap-a").await.unwrap();
        assert!(guest_io(&path, &l, "write -P 0x22 0 64k"));
        v.create_from_snapshot("s2", &l, "s1", "snap-a", 1).await.unwrap();
        assert!(guest_io(&v.path("s2", VolumeFormat::Qcow2), &l, "read -P 0x11 0 64k"));
        v.revert("s1", "snap-a", &l, 1).await.unwrap();
        assert!(guest_io(&path, &l, "read -P 0x11 0 64k"));
        let out = dir.path().join("snap.qcow2");
        v.export("s1", &l, Some("snap-a"), &out, "qcow2").await.unwrap();
        let st = std::process::Command::new("qemu-io")
            .args(["-f", "qcow2", "-r", "-c", "read -P 0x11 0 64k"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&st.stdout).contains("failed"), "the exported snapshot is plaintext");
    }
}
