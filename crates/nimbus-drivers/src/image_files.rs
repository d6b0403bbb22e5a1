//! Image data on local disk: `DATA/images/<id>`, written through a temporary file and
//! renamed into place once complete and synced, so a crash never leaves a partial image
//! under its final name. MD5 (Glance `checksum`) and SHA-512 (`os_hash_value`) are computed
//! while the bytes stream in, so an upload is read once.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::Md5;
use nimbus_core::Error;
use sha2::{Digest, Sha512};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The result of storing an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: i64,
    pub md5: String,
    pub sha512: String,
}

/// What `qemu-img info` says about a stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub format: String,
    pub virtual_size: i64,
    pub backing_file: Option<String>,
}

/// The image store of a region.
#[derive(Debug, Clone)]
pub struct ImageFiles {
    root: PathBuf,
}

impl ImageFiles {
    /// Images under `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(ImageFiles { root })
    }

    /// Where an image's data lives.
    pub fn path(&self, id: &str) -> PathBuf {
        // Ids are minted by Nimbus (hex), but never let one escape the directory.
        let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        self.root.join(safe)
    }

    /// Streams `data` into the image's file, refusing more than `max_size` bytes.
    pub async fn write<S, E>(&self, id: &str, mut data: S, max_size: i64) -> Result<Written, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let final_path = self.path(id);
        let tmp = final_path.with_extension("partial");
        let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let (mut md5, mut sha) = (Md5::new(), Sha512::new());
        let mut size: i64 = 0;
        let result: Result<(), Error> = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(|e| Error::bad_request(format!("Reading the upload failed: {e}")))?;
                size += chunk.len() as i64;
                if size > max_size {
                    return Err(Error::PayloadTooLarge);
                }
                md5.update(&chunk);
                sha.update(&chunk);
                file.write_all(&chunk).await.map_err(io)?;
            }
            file.sync_all().await.map_err(io)?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        tokio::fs::rename(&tmp, &final_path).await.map_err(io)?;
        Ok(Written { size, md5: hex::encode(md5.finalize()), sha512: hex::encode(sha.finalize()) })
    }

    /// Makes the file at `from` (on the same file system: an export the platform wrote)
    /// the image's data without copying it: hashed (MD5 and SHA-512 on two threads, each
    /// reading the file), synced and renamed into place.
    pub async fn adopt(&self, id: &str, from: &Path) -> Result<Written, Error> {
        let (from, to) = (from.to_path_buf(), self.path(id));
        tokio::task::spawn_blocking(move || {
            fn hash_file<D: Digest>(path: &Path) -> std::io::Result<(u64, String)> {
                use std::io::Read;
                let mut f = std::fs::File::open(path)?;
                let mut buf = vec![0u8; 8 << 20];
                let (mut d, mut n) = (D::new(), 0u64);
                loop {
                    let got = f.read(&mut buf)?;
                    if got == 0 {
                        return Ok((n, hex::encode(d.finalize())));
                    }
                    d.update(&buf[..got]);
                    n += got as u64;
                }
            }
            let ((size, md5), (_, sha512)) = std::thread::scope(|s| {
                let md5 = s.spawn(|| hash_file::<Md5>(&from));
                let sha = hash_file::<Sha512>(&from);
                let md5 = md5.join().map_err(|_| std::io::Error::other("the MD5 thread panicked"))?;
                Ok::<_, std::io::Error>((md5?, sha?))
            })
            .map_err(io)?;
            std::fs::File::open(&from).and_then(|f| f.sync_all()).map_err(io)?;
            std::fs::rename(&from, &to).map_err(io)?;
            Ok(Written { size: size as i64, md5, sha512 })
        })
        .await
        .map_err(|e| Error::Internal(format!("image store: {e}")))?
    }

    /// Removes an image's data (missing data is not an error: deletes are retried).
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let p = self.path(id);
        for path in [p.clone(), p.with_extension("partial")] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    /// Whether the image has data.
    pub async fn exists(&self, id: &str) -> bool {
        tokio::fs::metadata(self.path(id)).await.is_ok()
    }

    /// Inspects the stored image with `qemu-img info` (format probing, virtual size, and
    /// whether it points at a backing file, which an uploaded image must never do).
    pub async fn inspect(&self, id: &str) -> Result<Inspection, Error> {
        inspect_file(&self.path(id)).await
    }
}

/// `qemu-img info --output=json` of a file.
pub async fn inspect_file(path: &Path) -> Result<Inspection, Error> {
    let out = tokio::process::Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(path)
        .output()
        .await
        .map_err(|e| Error::Internal(format!("running qemu-img: {e}")))?;
    if !out.status.success() {
        return Err(Error::bad_request(format!(
            "The image data could not be read as a disk image: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| Error::Internal(format!("qemu-img output: {e}")))?;
    Ok(Inspection {
        format: v["format"].as_str().unwrap_or("raw").to_string(),
        virtual_size: v["virtual-size"].as_i64().unwrap_or(0),
        backing_file: v["backing-filename"].as_str().map(str::to_string),
    })
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("image store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_hash_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageFiles::new(dir.path()).unwrap();
        let chunks =
            futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("hello ")), Ok(Bytes::from("world"))]);
        let w = store.write("abc", chunks, 1024).await.unwrap();
        assert_eq!(w.size, 11);
        assert_eq!(w.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(store.exists("abc").await);
        let big = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 2048]))]);
        assert_eq!(store.write("big", big, 1024).await.unwrap_err(), Error::PayloadTooLarge);
        assert!(!store.exists("big").await, "a refused upload leaves nothing behind");
        store.delete("abc").await.unwrap();
        store.delete("abc").await.unwrap();
        assert_eq!(store.path("../../etc/passwd"), dir.path().join("etcpasswd"));
    }
}
