//! System buckets: object storage the platform itself keeps data in (volume backups, one
//! bucket per project). They belong to no customer project, so no tenant lists, reads or
//! deletes them; their names are reserved; their objects are sealed with the region key
//! like SSE-S3 objects. Writes here are the platform's own: the customer call that caused
//! them is what is audited.

use super::repo;
use crate::Control;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::object_crypt::{DataKey, SealedImage};
use nimbus_drivers::object_files::{ObjectFiles, Stored};
use nimbus_store::objects::{Bucket, Object};

/// A system object whose data is being written ([`Control::start_system_object`]), from a
/// buffer of type `B` that comes back once written.
pub(crate) struct PendingSystemObject<B = Vec<u8>> {
    bucket: Bucket,
    key: String,
    wrapped: String,
    write: WriteHandle<B>,
}

/// A data file being written from a buffer of type `B`.
type WriteHandle<B> = tokio::task::JoinHandle<Result<(Stored, B), Error>>;

/// The pseudo-project that owns system buckets.
pub const SYSTEM_PROJECT: &str = "nimbus-system";

/// Bucket names customers may not take.
pub const SYSTEM_BUCKET_PREFIX: &str = "nimbus-backups-";

impl Control {
    /// The system bucket `name`, created on first use.
    pub(crate) async fn system_bucket(&self, name: &str) -> Result<Bucket, Error> {
        if !name.starts_with(SYSTEM_BUCKET_PREFIX) {
            return Err(Error::Internal(format!("{name} is not a system bucket name")));
        }
        let mut tx = self.store().write().await?;
        if let Some(b) = repo::get_bucket(&mut tx, name).await? {
            return if b.project_id == SYSTEM_PROJECT {
                Ok(b)
            } else {
                Err(Error::Internal(format!("the system bucket name {name} is held by project {}", b.project_id)))
            };
        }
        let b = Bucket {
            id: nimbus_core::id::new_hex_id(),
            name: name.into(),
            project_id: SYSTEM_PROJECT.into(),
            region: self.config().region.clone(),
            storage_class: "STANDARD".into(),
            created_at: now_ms(),
            versioning: None,
            policy: None,
            acl: "private".into(),
            cors: None,
            tagging: None,
            lifecycle: None,
            encryption: None,
            quota_bytes: 0,
            data_events: None,
        };
        repo::insert_bucket(&mut tx, &b).await?;
        tx.commit().await?;
        Ok(b)
    }

    /// Stores `data` as `key` of a system bucket (sealed, synced, then recorded).
    pub(crate) async fn put_system_object(&self, b: &Bucket, key: &str, data: Vec<u8>) -> Result<Object, Error> {
        self.finish_system_object(self.start_system_object(b, key, data)).await.map(|(o, _)| o)
    }

    /// Starts writing `data` as `key` of a system bucket on a thread of its own (sealed,
    /// synced); [`Self::finish_system_object`] records it. Dropped unfinished, it leaves a
    /// `.partial` file that start-up sweeps.
    pub(crate) fn start_system_object(&self, b: &Bucket, key: &str, data: Vec<u8>) -> PendingSystemObject {
        self.start_system_write(b, key, |files, bucket_id, data_key| files.spawn_write(bucket_id, data, Some(data_key)))
    }

    /// Starts writing a sealed image as `key` of a system bucket, as
    /// [`Self::start_system_object`] does a buffer (the image is sealed in place).
    pub(crate) fn start_system_image(
        &self,
        b: &Bucket,
        key: &str,
        image: SealedImage,
    ) -> PendingSystemObject<SealedImage> {
        self.start_system_write(b, key, |files, bucket_id, data_key| {
            files.spawn_write_image(bucket_id, image, data_key)
        })
    }

    /// A system object's write, started by `write` with a new data key.
    fn start_system_write<B>(
        &self,
        b: &Bucket,
        key: &str,
        write: impl FnOnce(&ObjectFiles, &str, DataKey) -> WriteHandle<B>,
    ) -> PendingSystemObject<B> {
        let files = &self.drivers().objects;
        let (data_key, wrapped) = files.new_data_key();
        PendingSystemObject { bucket: b.clone(), key: key.into(), wrapped, write: write(files, &b.id, data_key) }
    }

    /// Waits for a system object's data, puts it into place and records it; gives back the
    /// (emptied) buffer it was written from.
    pub(crate) async fn finish_system_object(&self, pending: PendingSystemObject) -> Result<(Object, Vec<u8>), Error> {
        let bucket = pending.bucket.clone();
        let (o, buffer) = self.written_system_object(pending).await?;
        let committed = async {
            let mut tx = self.store().write().await?;
            let removed = self.commit_version(&mut tx, &bucket, &o).await?;
            tx.commit().await?;
            Ok::<_, Error>(removed)
        }
        .await;
        match committed {
            Ok(removed) => {
                self.remove_data(removed).await;
                Ok((o, buffer))
            }
            Err(e) => {
                self.discard_system_objects(&[&o]).await?;
                Err(e)
            }
        }
    }

    /// Waits for a system object's data and puts it into place; the row to record it with
    /// ([`Self::commit_version`], in the caller's transaction) and the (emptied) buffer it
    /// was written from. Until recorded, the data file is unnamed by any row: if the
    /// transaction fails, [`Self::discard_system_objects`] removes it.
    pub(crate) async fn written_system_object<B>(&self, pending: PendingSystemObject<B>) -> Result<(Object, B), Error> {
        let PendingSystemObject { bucket: b, key, wrapped, write } = pending;
        let files = &self.drivers().objects;
        let (stored, buffer) = write.await.map_err(|e| Error::Internal(format!("object store: {e}")))??;
        files.publish(&b.id, &stored.data_id).await?;
        let o = Object {
            bucket_id: b.id.clone(),
            object_key: key,
            data_id: stored.data_id.clone(),
            size: stored.size,
            etag: stored.md5,
            content_type: Some("application/octet-stream".into()),
            metadata: "{}".into(),
            storage_class: b.storage_class.clone(),
            created_at: now_ms(),
            restore_state: None,
            restore_expires_at: None,
            version_id: "null".into(),
            tags: "[]".into(),
            acl: "private".into(),
            sse: Some(wrapped),
            headers: "{}".into(),
        };
        Ok((o, buffer))
    }

    /// Removes the data of system objects [`Self::written_system_object`] put into place
    /// whose rows did not commit.
    pub(crate) async fn discard_system_objects(&self, objects: &[&Object]) -> Result<(), Error> {
        for o in objects {
            self.drivers().objects.delete(&o.bucket_id, &o.data_id).await?;
        }
        Ok(())
    }

    /// An object of a system bucket, if it exists.
    pub(crate) async fn system_object(&self, b: &Bucket, key: &str) -> Result<Option<Object>, Error> {
        let mut c = self.store().read().await?;
        repo::get_object(&mut c, &b.id, key).await
    }

    /// The keys of a system bucket's objects that start with `prefix`, in order (read in
    /// `c`, so a caller's transaction sees them as it sees the rest).
    pub(crate) async fn system_object_keys(
        &self,
        c: &mut sqlx::AnyConnection,
        b: &Bucket,
        prefix: &str,
    ) -> Result<Vec<String>, Error> {
        let mut keys: Vec<String> = Vec::new();
        loop {
            let page = repo::list_objects(c, &b.id, prefix, keys.last().map(String::as_str), 1000).await?;
            let full = page.len() == 1000;
            keys.extend(page.into_iter().map(|o| o.object_key));
            if !full {
                return Ok(keys);
            }
        }
    }

    /// Bytes `range` of a system object, decrypted.
    pub(crate) async fn read_system_object(&self, o: &Object, range: std::ops::Range<u64>) -> Result<Vec<u8>, Error> {
        use futures::StreamExt;
        let mut s = self.object_stream(o, range.clone()).await?;
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        while let Some(part) = s.next().await {
            out.extend_from_slice(&part.map_err(|e| Error::Internal(format!("reading {}: {e}", o.object_key)))?);
        }
        Ok(out)
    }

    /// Removes an object of a system bucket (nothing if it is gone).
    pub(crate) async fn delete_system_object(&self, b: &Bucket, key: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let removed = repo::delete_object(&mut tx, &b.id, key).await?;
        tx.commit().await?;
        self.remove_data(removed.into_iter().collect()).await;
        Ok(())
    }
}
