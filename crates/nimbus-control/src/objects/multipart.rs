//! Multipart uploads: parts are data files of the bucket until the upload completes (the
//! parts are concatenated into the object's data, whose ETag is S3's `md5-of-md5s-N`) or
//! is aborted.

use super::*;
use nimbus_store::objects::{Part, Upload};

impl Control {
    /// Starts a multipart upload; returns its id.
    pub async fn create_multipart_upload(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        put: ObjectPut,
    ) -> Result<Upload, Error> {
        validate_key(key)?;
        validate_metadata(&put.metadata)?;
        let class = put.storage_class.as_deref().map(storage_class_of).transpose()?;
        let tags = settings::tags_json(&put.tags, settings::MAX_OBJECT_TAGS)?;
        let acl = put.acl.clone().unwrap_or_else(|| "private".into());
        access::validate_acl(&acl)?;
        let mut tx = self.store().write().await?;
        let b = self.load_bucket_for_write(&mut tx, ctx, bucket, key, "s3:PutObject").await?;
        // Parts are sealed with the upload's data key as they arrive.
        let sse = self.sealing(&b, put.sse.as_deref())?.map(|(_, wrapped)| wrapped);
        let u = Upload {
            id: nimbus_core::id::new_hex_id(),
            bucket_id: b.id.clone(),
            object_key: key.into(),
            content_type: put.content_type,
            metadata: serde_json::to_string(&put.metadata)?,
            storage_class: class.unwrap_or(&b.storage_class).to_string(),
            created_at: now_ms(),
            tags,
            acl,
            sse,
            headers: serde_json::to_string(&put.headers)?,
        };
        repo::insert_upload(&mut tx, &u).await?;
        self.audit_object(&mut tx, ctx, &b, key, "initiateMultipartUpload", 200).await?;
        tx.commit().await?;
        Ok(u)
    }

    async fn load_upload(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        upload_id: &str,
        action: &str,
    ) -> Result<(Bucket, Upload), Error> {
        let b = self.load_bucket_for_write(c, ctx, bucket, key, action).await?;
        let u = repo::get_upload(c, upload_id)
            .await?
            .filter(|u| u.bucket_id == b.id && u.object_key == key)
            .ok_or_else(|| Error::not_found("upload", upload_id))?;
        Ok((b, u))
    }

    /// Stores one part (1-10000) of an upload; returns its ETag.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part<S, E>(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: i64,
        data: S,
        content_md5: Option<[u8; 16]>,
    ) -> Result<String, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if !(1..=10000).contains(&part_number) {
            return Err(Error::bad_request("Part numbers are 1 to 10000."));
        }
        let (b, u) = {
            let mut c = self.store().read().await?;
            self.load_upload(&mut c, ctx, bucket, key, upload_id, "s3:PutObject").await?
        };
        let files = &self.drivers().objects;
        let data_key = u.sse.as_deref().map(|s| files.data_key(s)).transpose()?;
        let stored = files
            .write(&b.id, data, self.config().max_object_size, data_key.as_ref(), true)
            .await
            .map_err(write_error)?;
        if content_md5.is_some_and(|m| hex::encode(m) != stored.md5) {
            files.delete(&b.id, &stored.data_id).await?;
            return Err(Error::bad_request(BAD_DIGEST));
        }
        let part = Part {
            upload_id: upload_id.into(),
            part_number,
            data_id: stored.data_id.clone(),
            size: stored.size,
            etag: stored.md5.clone(),
            created_at: now_ms(),
        };
        let committed = async {
            let mut tx = self.store().write().await?;
            self.load_upload(&mut tx, ctx, bucket, key, upload_id, "s3:PutObject").await?;
            let old = repo::put_part(&mut tx, &part).await?;
            tx.commit().await?;
            Ok::<_, Error>(old)
        }
        .await;
        match committed {
            Ok(old) => {
                self.remove_files(old.map(|p| (b.id.clone(), p.data_id))).await;
                Ok(part.etag)
            }
            Err(e) => {
                files.delete(&b.id, &part.data_id).await?;
                Err(e)
            }
        }
    }

    /// Stores one part of an upload copied from (a range of) an existing object: `range`
    /// holds the first and last byte offsets. Returns the part's ETag and the source.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: i64,
        source: (&str, &str, Option<&str>),
        conditions: &SourceConditions,
        range: Option<(u64, u64)>,
    ) -> Result<(String, Object), Error> {
        let src = self.get_object(ctx, source.0, source.1, source.2, "uploadPartCopy").await?;
        conditions.check(&src)?;
        readable(&src, now_ms())?;
        let size = src.size as u64;
        let range = match range {
            None => 0..size,
            Some((first, last)) if first <= last && last < size => first..last + 1,
            Some(_) => {
                return Err(Error::bad_request(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last \
                     are the zero-based offsets of the first and last bytes to copy, within the source.",
                ))
            }
        };
        let data = self.object_stream(&src, range).await?;
        let etag = self.upload_part(ctx, bucket, key, upload_id, part_number, data, None).await?;
        Ok((etag, src))
    }

    /// The parts uploaded so far.
    pub async fn list_parts(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(Upload, Vec<Part>), Error> {
        let mut c = self.store().read().await?;
        let (_, u) = self.load_upload(&mut c, ctx, bucket, key, upload_id, "s3:ListMultipartUploadParts").await?;
        let parts = repo::list_parts(&mut c, upload_id).await?;
        Ok((u, parts))
    }

    /// Uploads in progress in a bucket.
    pub async fn list_multipart_uploads(&self, ctx: &Ctx, bucket: &str) -> Result<Vec<Upload>, Error> {
        let mut c = self.store().read().await?;
        let b = self.load_bucket(&mut c, ctx, bucket, "s3:ListBucketMultipartUploads").await?;
        repo::list_uploads(&mut c, &b.id).await
    }

    /// Completes an upload from the listed parts (ascending numbers, matching ETags, all but
    /// the last at least 5 MiB): the parts are concatenated into the object's data, whose ETag
    /// is S3's `md5-of-md5s-N`.
    pub async fn complete_multipart_upload(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        upload_id: &str,
        listed: &[(i64, String)],
    ) -> Result<Object, Error> {
        if listed.is_empty() {
            return Err(Error::bad_request("The XML you provided was not well-formed: name at least one part."));
        }
        let (b, u, stored) = {
            let mut c = self.store().read().await?;
            let (b, u) = self.load_upload(&mut c, ctx, bucket, key, upload_id, "s3:PutObject").await?;
            (b, u, repo::list_parts(&mut c, upload_id).await?)
        };
        if listed.windows(2).any(|w| w[1].0 <= w[0].0) {
            return Err(Error::bad_request(INVALID_PART_ORDER));
        }
        let mut chosen = Vec::new();
        for (i, (n, etag)) in listed.iter().enumerate() {
            let p = stored
                .iter()
                .find(|p| p.part_number == *n && p.etag == etag.trim_matches('"'))
                .ok_or_else(|| Error::bad_request(INVALID_PART))?;
            if i + 1 < listed.len() && p.size < MIN_PART_SIZE {
                return Err(Error::bad_request(ENTITY_TOO_SMALL));
            }
            chosen.push(p.clone());
        }
        let mut md5s = Vec::new();
        for p in &chosen {
            md5s.extend(hex::decode(&p.etag).map_err(|_| Error::Internal("a part's ETag is not hex".into()))?);
        }
        let etag = {
            use md5::{Digest, Md5};
            format!("{}-{}", hex::encode(Md5::digest(&md5s)), chosen.len())
        };
        let files = &self.drivers().objects;
        let data_key = u.sse.as_deref().map(|s| files.data_key(s)).transpose()?;
        let parts: Vec<_> = chosen.iter().map(|p| (p.data_id.clone(), p.size as u64, data_key.clone())).collect();
        let (data_id, size) = files.concat(&b.id, &parts, data_key.as_ref()).await?;
        let o = Object {
            bucket_id: b.id.clone(),
            object_key: key.into(),
            data_id,
            size,
            etag,
            content_type: u.content_type.clone(),
            metadata: u.metadata.clone(),
            storage_class: u.storage_class.clone(),
            created_at: now_ms(),
            restore_state: None,
            restore_expires_at: None,
            version_id: String::new(),
            tags: u.tags.clone(),
            acl: u.acl.clone(),
            sse: u.sse.clone(),
            headers: u.headers.clone(),
        };
        let committed = async {
            let mut tx = self.store().write().await?;
            let (b, _) = self.load_upload(&mut tx, ctx, bucket, key, upload_id, "s3:PutObject").await?;
            let o = Object { version_id: Self::new_version_id(&b), ..o.clone() };
            let old = self.commit_version(&mut tx, &b, &o).await?;
            let parts = repo::delete_upload(&mut tx, upload_id).await?;
            self.audit_object(&mut tx, ctx, &b, key, "completeMultipartUpload", 200).await?;
            tx.commit().await?;
            Ok::<_, Error>((o, old, parts))
        }
        .await;
        match committed {
            Ok((o, old, parts)) => {
                self.remove_files(parts.into_iter().map(|p| (b.id.clone(), p.data_id))).await;
                self.remove_data(old).await;
                Ok(o)
            }
            Err(e) => {
                files.delete(&b.id, &o.data_id).await?;
                Err(e)
            }
        }
    }

    /// Abandons an upload and its parts.
    pub async fn abort_multipart_upload(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let (b, _) = self.load_upload(&mut tx, ctx, bucket, key, upload_id, "s3:AbortMultipartUpload").await?;
        let parts = repo::delete_upload(&mut tx, upload_id).await?;
        self.audit_object(&mut tx, ctx, &b, key, "abortMultipartUpload", 204).await?;
        tx.commit().await?;
        self.remove_files(parts.into_iter().map(|p| (b.id.clone(), p.data_id))).await;
        Ok(())
    }
}
