//! Object data on local disk: `DATA/objects/<bucket id>/<data id>`.
//!
//! Every write goes to `<data id>.partial`, is synced, then renamed into place, and only then
//! does the caller commit the object's row: a crash never leaves a row pointing at partial
//! data. Each write gets a fresh data id, so an overwrite never touches the bytes readers of
//! the previous version are streaming; the old file is removed after the new row commits.
//! Temporary files a crash left behind are swept at start-up ([`ObjectFiles::sweep_partials`]).

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use nimbus_core::Error;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The result of storing object data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub data_id: String,
    pub size: i64,
    /// Hex MD5 of the bytes.
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
#[derive(Debug, Clone)]
pub struct ObjectFiles {
    root: PathBuf,
}

fn safe(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("object store: {e}"))
}

impl ObjectFiles {
    /// Objects under `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(ObjectFiles { root })
    }

    /// Where a bucket's data lives.
    pub fn bucket_dir(&self, bucket_id: &str) -> PathBuf {
        self.root.join(safe(bucket_id))
    }

    /// Where an object's data lives.
    pub fn path(&self, bucket_id: &str, data_id: &str) -> PathBuf {
        self.bucket_dir(bucket_id).join(safe(data_id))
    }

    /// Streams `data` into a new data file of the bucket (at most `max_size` bytes), synced
    /// and renamed into place; hashes MD5 on the way.
    pub async fn write<S, E>(&self, bucket_id: &str, mut data: S, max_size: i64) -> Result<Stored, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let data_id = nimbus_core::id::new_hex_id();
        let dir = self.bucket_dir(bucket_id);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| WriteError::Io(io(e)))?;
        let final_path = dir.join(&data_id);
        let tmp = dir.join(format!("{data_id}.partial"));
        let mut file = tokio::fs::File::create(&tmp).await.map_err(|e| WriteError::Io(io(e)))?;
        let mut md5 = Md5::new();
        let mut size: i64 = 0;
        let result = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
                size += chunk.len() as i64;
                if size > max_size {
                    return Err(WriteError::TooLarge);
                }
                md5.update(&chunk);
                file.write_all(&chunk).await.map_err(|e| WriteError::Io(io(e)))?;
            }
            file.sync_all().await.map_err(|e| WriteError::Io(io(e)))?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        tokio::fs::rename(&tmp, &final_path).await.map_err(|e| WriteError::Io(io(e)))?;
        Ok(Stored { data_id, size, md5: hex::encode(md5.finalize()) })
    }

    /// Concatenates data files of a bucket (multipart parts, in order) into a new one, synced
    /// and renamed into place; returns its data id and size.
    pub async fn concat(&self, bucket_id: &str, parts: &[String]) -> Result<(String, i64), Error> {
        let data_id = nimbus_core::id::new_hex_id();
        let dir = self.bucket_dir(bucket_id);
        let tmp = dir.join(format!("{data_id}.partial"));
        let result = async {
            let mut out = tokio::fs::File::create(&tmp).await.map_err(io)?;
            let mut size = 0i64;
            for part in parts {
                let mut f = tokio::fs::File::open(self.path(bucket_id, part)).await.map_err(io)?;
                size += tokio::io::copy(&mut f, &mut out).await.map_err(io)? as i64;
            }
            out.sync_all().await.map_err(io)?;
            Ok::<_, Error>(size)
        }
        .await;
        match result {
            Ok(size) => {
                tokio::fs::rename(&tmp, dir.join(&data_id)).await.map_err(io)?;
                Ok((data_id, size))
            }
            Err(e) => {
                remove_quietly(&tmp).await;
                Err(e)
            }
        }
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

async fn remove_quietly(p: &Path) {
    let _ = tokio::fs::remove_file(p).await;
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
        let s = store.write("b1", chunks, 1024).await.unwrap();
        assert_eq!((s.size, s.md5.as_str()), (11, "5eb63bbbe01eeed093cb22bb8f5acdc3"));
        assert_eq!(std::fs::read(store.path("b1", &s.data_id)).unwrap(), b"hello world");
        let failing =
            futures::stream::iter(vec![Ok(Bytes::from("part")), Err(std::io::Error::other("client went away"))]);
        assert!(matches!(store.write("b1", failing, 1024).await, Err(WriteError::Body(_))));
        let big = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 2048]))]);
        assert!(matches!(store.write("b1", big, 1024).await, Err(WriteError::TooLarge)));
        let left: Vec<_> = std::fs::read_dir(store.bucket_dir("b1")).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "failed writes leave nothing behind");
        std::fs::write(store.bucket_dir("b1").join("x.partial"), b"crash").unwrap();
        assert_eq!(store.sweep_partials().await.unwrap(), 1);
        store.delete("b1", &s.data_id).await.unwrap();
        store.delete("b1", &s.data_id).await.unwrap();
    }
}
