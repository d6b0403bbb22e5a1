//! Object storage (OBS, seed 6.2.2): buckets and objects, for the S3 front end.
//!
//! Bucket names are global (as in S3); a bucket belongs to the project of the key that
//! created it, and members of other projects are refused (`AccessDenied`). Object bytes are
//! written, synced and renamed by the driver before the object's row commits in the same
//! transaction as its audit trace, so an acknowledged PUT is durable and a crash never
//! exposes a partial object.

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx, Principal};
use bytes::Bytes;
use futures::Stream;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::object_files::WriteError;
use nimbus_store::objects::{self as repo, Bucket, Object, Part, Upload};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The message of a Content-MD5 mismatch (the S3 front end answers `BadDigest`).
pub const BAD_DIGEST: &str = "The Content-MD5 you specified did not match what was received.";
/// The message of a create for a bucket the caller already owns (`BucketAlreadyOwnedByYou`).
pub const ALREADY_OWNED: &str = "Your previous request to create the named bucket succeeded and you already own it.";
/// The message of a delete of a bucket that still holds objects (`BucketNotEmpty`).
pub const NOT_EMPTY: &str = "The bucket you tried to delete is not empty.";
/// Prefix of the messages of a client body that failed while it was read.
pub const BODY_FAILED: &str = "The request body could not be read: ";

/// Messages of refused multipart completions (the S3 front end answers `InvalidPart`,
/// `InvalidPartOrder` and `EntityTooSmall`).
pub const INVALID_PART: &str = "One or more of the specified parts could not be found or its ETag does not match.";
pub const INVALID_PART_ORDER: &str = "The list of parts was not in ascending order.";
pub const ENTITY_TOO_SMALL: &str = "Each part but the last must be at least 5 MiB.";
/// The smallest part S3 accepts (but for the last).
pub const MIN_PART_SIZE: i64 = 5 << 20;

/// Messages of refused reads and restores of COLD objects (`InvalidObjectState`,
/// `RestoreAlreadyInProgress`).
pub const NOT_RESTORED: &str = "The operation is not valid for the object's storage class: restore it first.";
pub const NOT_ARCHIVED: &str = "Restore is not allowed for the object's current storage class.";
pub const RESTORE_IN_PROGRESS: &str = "Object restore is already in progress.";

/// The job that makes a COLD object readable.
pub const RESTORE_JOB: &str = "restoreObject";

/// What a restore request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// A restore started (S3 answers 202).
    Started,
    /// The object was already restored: its expiry moved (S3 answers 200).
    Extended,
}

/// Whether an object's bytes may be read now: COLD objects only while restored.
pub fn readable(o: &Object, now: i64) -> Result<(), Error> {
    if o.storage_class != "COLD" {
        return Ok(());
    }
    match (o.restore_state.as_deref(), o.restore_expires_at) {
        (Some("restored"), Some(exp)) if exp > now => Ok(()),
        _ => Err(Error::Conflict(NOT_RESTORED.into())),
    }
}

/// Request counts waiting to be written: (project, bucket, hour, operation) ->
/// (requests, bytes out). Counting in memory keeps reads off the write path; the metering
/// reconciler writes them every few seconds (a crash loses at most that interval's counts).
#[derive(Default)]
pub struct RequestMeter {
    pending: std::sync::Mutex<std::collections::HashMap<(String, String, i64, String), (i64, i64)>>,
}

/// Writes the request counters to the store every few seconds.
pub struct MeterFlush;

#[async_trait::async_trait]
impl crate::reconcile::Reconciler for MeterFlush {
    fn name(&self) -> &'static str {
        "obs-metering"
    }

    fn period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }

    async fn reconcile(&self, control: &std::sync::Arc<Control>) -> Result<(), Error> {
        control.flush_request_meter().await
    }
}

/// Registers the object-storage jobs.
pub fn register_jobs(r: &mut crate::jobs::JobRegistry) {
    r.register(std::sync::Arc::new(RestoreJob));
}

/// Makes a COLD object readable after the class's retrieval time (Huawei's expedited
/// restore takes minutes; `cold_restore_delay_secs` in the config), for the days asked.
struct RestoreJob;

#[async_trait::async_trait]
impl crate::jobs::JobHandler for RestoreJob {
    fn job_type(&self) -> &'static str {
        RESTORE_JOB
    }

    async fn run_step(
        &self,
        control: &Control,
        job: &nimbus_store::jobs::Job,
        _step: i64,
    ) -> Result<crate::jobs::StepOutcome, Error> {
        let p: serde_json::Value = serde_json::from_str(&job.params)?;
        let delay_ms = control.config().cold_restore_delay_secs as i64 * 1000;
        let left = job.begin_time + delay_ms - now_ms();
        if left > 0 {
            return Ok(crate::jobs::StepOutcome::Wait(std::time::Duration::from_millis(left.min(1000) as u64)));
        }
        let days = p["days"].as_i64().unwrap_or(1);
        let (bucket_id, key, data_id) = (
            p["bucket_id"].as_str().unwrap_or(""),
            p["key"].as_str().unwrap_or(""),
            p["data_id"].as_str().unwrap_or(""),
        );
        let mut tx = control.store().write().await?;
        repo::set_restore(&mut tx, bucket_id, key, data_id, Some("restored"), Some(now_ms() + days * 86_400_000))
            .await?;
        tx.commit().await?;
        Ok(crate::jobs::StepOutcome::Done)
    }
}

/// Storage classes (seed 6.2.2), with the names S3 clients use for them.
pub const STORAGE_CLASSES: &[(&str, &str)] = &[("STANDARD", "STANDARD"), ("WARM", "STANDARD_IA"), ("COLD", "GLACIER")];

/// The OBS class of a class name given by an S3 or OBS client (`None`: not a class).
pub fn storage_class(name: &str) -> Option<&'static str> {
    STORAGE_CLASSES.iter().find(|(obs, s3)| *obs == name || *s3 == name).map(|(obs, _)| *obs)
}

/// The S3 name of an OBS class.
pub fn s3_storage_class(obs: &str) -> &'static str {
    STORAGE_CLASSES.iter().find(|(o, _)| *o == obs).map(|(_, s3)| *s3).unwrap_or("STANDARD")
}

/// What a PUT carries besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct ObjectPut {
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// OBS class name (`STANDARD`, `WARM`, `COLD`); `None`: the bucket's default.
    pub storage_class: Option<String>,
    /// The MD5 the client says it sent.
    pub content_md5: Option<[u8; 16]>,
    /// The length the client declared.
    pub content_length: Option<i64>,
}

/// S3 bucket naming: 3-63 characters of lower-case letters, digits, '.', '-', starting and
/// ending with a letter or digit, not an IP address.
pub fn validate_bucket_name(name: &str) -> Result<(), Error> {
    let ok = (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!("The specified bucket name {name:?} is not valid.")))
    }
}

impl Control {
    /// The secret of an access key, for verifying S3 signatures.
    pub async fn s3_secret(&self, access_key: &str) -> Result<String, Error> {
        let mut c = self.store().read().await?;
        let cred = nimbus_store::identity::get_credential_by_access_key(&mut c, access_key).await?;
        cred.filter(|c| c.status == "active")
            .and_then(|c| c.secret)
            .ok_or_else(|| Error::Unauthorized("The access key is unknown or inactive.".into()))
    }

    /// The caller behind a verified S3 signature: scoped to the credential's project (EC2
    /// credentials), else the user's home project.
    pub async fn principal_for_s3(&self, access_key: &str) -> Result<Principal, Error> {
        let project = {
            let mut c = self.store().read().await?;
            nimbus_store::identity::get_credential_by_access_key(&mut c, access_key).await?.and_then(|c| c.project_id)
        };
        Ok(self.principal_for_access_key(access_key, project.as_deref(), None).await?.0)
    }

    fn obs_project(ctx: &Ctx) -> Result<String, Error> {
        ctx.principal
            .project_id()
            .map(str::to_string)
            .ok_or_else(|| Error::Forbidden("Buckets belong to projects: the access key's user has no project.".into()))
    }

    /// Loads a bucket for `action` (`obs:read` or `obs:write`): 404 when it does not exist,
    /// 403 (S3 `AccessDenied`) when it is another project's.
    async fn load_bucket(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        name: &str,
        action: &str,
    ) -> Result<Bucket, Error> {
        let b = repo::get_bucket(c, name).await?.ok_or_else(|| Error::not_found("bucket", name))?;
        authorize(action, &ctx.principal, &Target { project_id: Some(&b.project_id), ..Default::default() })?;
        Ok(b)
    }

    /// Creates a bucket in the caller's project; its location, if given, must be this region.
    pub async fn create_bucket(&self, ctx: &Ctx, name: &str, location: Option<&str>) -> Result<Bucket, Error> {
        let project = Self::obs_project(ctx)?;
        authorize("obs:write", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        validate_bucket_name(name)?;
        let region = &self.config().region;
        if let Some(l) = location.filter(|l| !l.is_empty()) {
            if l != region {
                return Err(Error::bad_request(format!(
                    "The location constraint {l:?} does not match this region ({region})."
                )));
            }
        }
        let mut tx = self.store().write().await?;
        if let Some(existing) = repo::get_bucket(&mut tx, name).await? {
            return Err(Error::Conflict(if existing.project_id == project {
                ALREADY_OWNED.into()
            } else {
                "The requested bucket name is not available: choose another name.".into()
            }));
        }
        self.charge_quota(&mut tx, &project, "buckets", 1).await?;
        let b = Bucket {
            id: nimbus_core::id::new_hex_id(),
            name: name.into(),
            project_id: project,
            region: region.clone(),
            storage_class: "STANDARD".into(),
            created_at: now_ms(),
        };
        repo::insert_bucket(&mut tx, &b).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("OBS", "bucket", "createBucket", 200).resource(&b.id, &b.name))
            .await?;
        tx.commit().await?;
        Ok(b)
    }

    /// The caller's buckets (every bucket for operators).
    pub async fn list_buckets(&self, ctx: &Ctx) -> Result<Vec<Bucket>, Error> {
        let mut c = self.store().read().await?;
        if ctx.principal.can_read_all() {
            return repo::list_buckets(&mut c, None).await;
        }
        let project = Self::obs_project(ctx)?;
        authorize("obs:read", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        repo::list_buckets(&mut c, Some(&project)).await
    }

    /// One bucket the caller may read.
    pub async fn get_bucket(&self, ctx: &Ctx, name: &str) -> Result<Bucket, Error> {
        let mut c = self.store().read().await?;
        self.load_bucket(&mut c, ctx, name, "obs:read").await
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, ctx: &Ctx, name: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let b = self.load_bucket(&mut tx, ctx, name, "obs:write").await?;
        if repo::count_objects(&mut tx, &b.id).await? > 0 {
            return Err(Error::Conflict(NOT_EMPTY.into()));
        }
        repo::delete_bucket_uploads(&mut tx, &b.id).await?;
        repo::delete_bucket(&mut tx, &b.id).await?;
        self.release_quota(&mut tx, &b.project_id, "buckets", 1).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("OBS", "bucket", "deleteBucket", 204).resource(&b.id, &b.name).in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        self.drivers().objects.delete_bucket(&b.id).await
    }

    /// Stores an object: the bytes first (synced, renamed), then its row with the audit
    /// trace; the previous version's bytes go after the commit.
    pub async fn put_object<S, E>(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        data: S,
        put: ObjectPut,
    ) -> Result<Object, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if key.is_empty() || key.len() > 1024 {
            return Err(Error::bad_request("Object keys are 1-1024 bytes long."));
        }
        let storage_class = match &put.storage_class {
            Some(sc) => Some(storage_class(sc).ok_or_else(|| {
                Error::bad_request(format!("The storage class {sc:?} is not valid: use STANDARD, WARM or COLD."))
            })?),
            None => None,
        };
        let b = {
            let mut c = self.store().read().await?;
            self.load_bucket(&mut c, ctx, bucket, "obs:write").await?
        };
        let files = &self.drivers().objects;
        let stored = files.write(&b.id, data, self.config().max_object_size).await.map_err(|e| match e {
            WriteError::Body(why) => Error::bad_request(format!("{BODY_FAILED}{why}")),
            WriteError::TooLarge => Error::PayloadTooLarge,
            WriteError::Io(e) => e,
        })?;
        let check = || -> Result<(), Error> {
            if put.content_length.is_some_and(|n| n != stored.size) {
                return Err(Error::bad_request(format!("{BODY_FAILED}fewer bytes than Content-Length")));
            }
            if put.content_md5.is_some_and(|m| hex::encode(m) != stored.md5) {
                return Err(Error::bad_request(BAD_DIGEST));
            }
            Ok(())
        };
        if let Err(e) = check() {
            files.delete(&b.id, &stored.data_id).await?;
            return Err(e);
        }
        let o = Object {
            bucket_id: b.id.clone(),
            object_key: key.into(),
            data_id: stored.data_id.clone(),
            size: stored.size,
            etag: stored.md5.clone(),
            content_type: put.content_type.clone(),
            metadata: serde_json::to_string(&put.metadata)?,
            storage_class: storage_class.unwrap_or(&b.storage_class).to_string(),
            created_at: now_ms(),
            restore_state: None,
            restore_expires_at: None,
        };
        let committed = async {
            let mut tx = self.store().write().await?;
            // The bucket may have gone while the bytes streamed in.
            let b = self.load_bucket(&mut tx, ctx, bucket, "obs:write").await?;
            if b.id != o.bucket_id {
                return Err(Error::not_found("bucket", bucket));
            }
            let old = repo::put_object(&mut tx, &o).await?;
            if let Some(old) = &old {
                self.stored_event(&mut tx, &b, key, &old.storage_class, -old.size).await?;
            }
            self.stored_event(&mut tx, &b, key, &o.storage_class, o.size).await?;
            self.audit(
                &mut tx,
                ctx,
                AuditEvent::new("OBS", "object", "putObject", 200).resource(key, key).in_project(&b.project_id),
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(old)
        }
        .await;
        match committed {
            Ok(old) => {
                if let Some(old) = old {
                    files.delete(&old.bucket_id, &old.data_id).await?;
                }
                Ok(o)
            }
            Err(e) => {
                files.delete(&o.bucket_id, &o.data_id).await?;
                Err(e)
            }
        }
    }

    /// An object's row and where its bytes are.
    pub async fn get_object(&self, ctx: &Ctx, bucket: &str, key: &str) -> Result<(Object, PathBuf), Error> {
        let mut c = self.store().read().await?;
        let b = self.load_bucket(&mut c, ctx, bucket, "obs:read").await?;
        let o = repo::get_object(&mut c, &b.id, key).await?.ok_or_else(|| Error::not_found("object", key))?;
        let path = self.drivers().objects.path(&b.id, &o.data_id);
        Ok((o, path))
    }

    /// Deletes an object (deleting a missing key succeeds, as in S3).
    pub async fn delete_object(&self, ctx: &Ctx, bucket: &str, key: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let b = self.load_bucket(&mut tx, ctx, bucket, "obs:write").await?;
        let old = repo::delete_object(&mut tx, &b.id, key).await?;
        if let Some(old) = &old {
            self.stored_event(&mut tx, &b, key, &old.storage_class, -old.size).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("OBS", "object", "deleteObject", 204).resource(key, key).in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        if let Some(old) = old {
            self.drivers().objects.delete(&old.bucket_id, &old.data_id).await?;
        }
        Ok(())
    }

    /// Objects with keys starting with `prefix` that sort after `after`, at most `limit`.
    pub async fn list_objects(
        &self,
        ctx: &Ctx,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<(Bucket, Vec<Object>), Error> {
        let mut c = self.store().read().await?;
        let b = self.load_bucket(&mut c, ctx, bucket, "obs:read").await?;
        let list = repo::list_objects(&mut c, &b.id, prefix, after, limit).await?;
        Ok((b, list))
    }

    /// Copies an object (within or across the caller's buckets); `put` carries the
    /// destination's attributes when the metadata directive is REPLACE (`replace`), and the
    /// storage class either way.
    pub async fn copy_object(
        &self,
        ctx: &Ctx,
        source: (&str, &str),
        dest: (&str, &str),
        replace: bool,
        put: ObjectPut,
    ) -> Result<Object, Error> {
        let (src, path) = self.get_object(ctx, source.0, source.1).await?;
        if !replace && put.storage_class.is_none() && source == dest {
            return Err(Error::bad_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing \
                 the object's metadata, storage class or encryption attributes.",
            ));
        }
        // Reading a COLD object's bytes needs a restore, for a copy too.
        readable(&src, now_ms())?;
        let file = tokio::fs::File::open(&path).await.map_err(|e| Error::Internal(format!("opening {path:?}: {e}")))?;
        let mut attrs = put;
        if !replace {
            attrs.content_type = src.content_type.clone();
            attrs.metadata = serde_json::from_str(&src.metadata).unwrap_or_default();
        }
        if attrs.storage_class.is_none() {
            attrs.storage_class = Some(src.storage_class.clone());
        }
        attrs.content_md5 = None;
        attrs.content_length = None;
        self.put_object(ctx, dest.0, dest.1, tokio_util::io::ReaderStream::new(file), attrs).await
    }

    /// Starts a multipart upload; returns its id.
    pub async fn create_multipart_upload(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        put: ObjectPut,
    ) -> Result<Upload, Error> {
        if key.is_empty() || key.len() > 1024 {
            return Err(Error::bad_request("Object keys are 1-1024 bytes long."));
        }
        let class = match &put.storage_class {
            Some(sc) => Some(storage_class(sc).ok_or_else(|| {
                Error::bad_request(format!("The storage class {sc:?} is not valid: use STANDARD, WARM or COLD."))
            })?),
            None => None,
        };
        let mut tx = self.store().write().await?;
        let b = self.load_bucket(&mut tx, ctx, bucket, "obs:write").await?;
        let u = Upload {
            id: nimbus_core::id::new_hex_id(),
            bucket_id: b.id.clone(),
            object_key: key.into(),
            content_type: put.content_type,
            metadata: serde_json::to_string(&put.metadata)?,
            storage_class: class.unwrap_or(&b.storage_class).to_string(),
            created_at: now_ms(),
        };
        repo::insert_upload(&mut tx, &u).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("OBS", "object", "initiateMultipartUpload", 200)
                .resource(key, key)
                .in_project(&b.project_id),
        )
        .await?;
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
    ) -> Result<(Bucket, Upload), Error> {
        let b = self.load_bucket(c, ctx, bucket, "obs:write").await?;
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
        let b = {
            let mut c = self.store().read().await?;
            self.load_upload(&mut c, ctx, bucket, key, upload_id).await?.0
        };
        let files = &self.drivers().objects;
        let stored = files.write(&b.id, data, self.config().max_object_size).await.map_err(|e| match e {
            WriteError::Body(why) => Error::bad_request(format!("{BODY_FAILED}{why}")),
            WriteError::TooLarge => Error::PayloadTooLarge,
            WriteError::Io(e) => e,
        })?;
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
            self.load_upload(&mut tx, ctx, bucket, key, upload_id).await?;
            let old = repo::put_part(&mut tx, &part).await?;
            tx.commit().await?;
            Ok::<_, Error>(old)
        }
        .await;
        match committed {
            Ok(old) => {
                if let Some(old) = old {
                    files.delete(&b.id, &old.data_id).await?;
                }
                Ok(part.etag)
            }
            Err(e) => {
                files.delete(&b.id, &part.data_id).await?;
                Err(e)
            }
        }
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
        let (_, u) = self.load_upload(&mut c, ctx, bucket, key, upload_id).await?;
        let parts = repo::list_parts(&mut c, upload_id).await?;
        Ok((u, parts))
    }

    /// Uploads in progress in a bucket.
    pub async fn list_multipart_uploads(&self, ctx: &Ctx, bucket: &str) -> Result<Vec<Upload>, Error> {
        let mut c = self.store().read().await?;
        let b = self.load_bucket(&mut c, ctx, bucket, "obs:read").await?;
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
            let (b, u) = self.load_upload(&mut c, ctx, bucket, key, upload_id).await?;
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
        let data_ids: Vec<String> = chosen.iter().map(|p| p.data_id.clone()).collect();
        let (data_id, size) = files.concat(&b.id, &data_ids).await?;
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
        };
        let committed = async {
            let mut tx = self.store().write().await?;
            self.load_upload(&mut tx, ctx, bucket, key, upload_id).await?;
            let old = repo::put_object(&mut tx, &o).await?;
            if let Some(old) = &old {
                self.stored_event(&mut tx, &b, key, &old.storage_class, -old.size).await?;
            }
            self.stored_event(&mut tx, &b, key, &o.storage_class, o.size).await?;
            let parts = repo::delete_upload(&mut tx, upload_id).await?;
            self.audit(
                &mut tx,
                ctx,
                AuditEvent::new("OBS", "object", "completeMultipartUpload", 200)
                    .resource(key, key)
                    .in_project(&b.project_id),
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>((old, parts))
        }
        .await;
        match committed {
            Ok((old, parts)) => {
                for p in parts {
                    files.delete(&b.id, &p.data_id).await?;
                }
                if let Some(old) = old {
                    files.delete(&old.bucket_id, &old.data_id).await?;
                }
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
        let (b, _) = self.load_upload(&mut tx, ctx, bucket, key, upload_id).await?;
        let parts = repo::delete_upload(&mut tx, upload_id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("OBS", "object", "abortMultipartUpload", 204).resource(key, key).in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        for p in parts {
            self.drivers().objects.delete(&b.id, &p.data_id).await?;
        }
        Ok(())
    }

    /// Restores a COLD object for `days` (1-30): a job makes it readable after the class's
    /// retrieval time; restoring a restored object moves its expiry.
    pub async fn restore_object(&self, ctx: &Ctx, bucket: &str, key: &str, days: i64) -> Result<RestoreOutcome, Error> {
        if !(1..=30).contains(&days) {
            return Err(Error::bad_request("Days must be from 1 to 30."));
        }
        let mut tx = self.store().write().await?;
        let b = self.load_bucket(&mut tx, ctx, bucket, "obs:write").await?;
        let o = repo::get_object(&mut tx, &b.id, key).await?.ok_or_else(|| Error::not_found("object", key))?;
        if o.storage_class != "COLD" {
            return Err(Error::Conflict(NOT_ARCHIVED.into()));
        }
        let now = now_ms();
        let outcome = match (o.restore_state.as_deref(), o.restore_expires_at) {
            (Some("ongoing"), _) => return Err(Error::Conflict(RESTORE_IN_PROGRESS.into())),
            (Some("restored"), Some(exp)) if exp > now => {
                repo::set_restore(&mut tx, &b.id, key, &o.data_id, Some("restored"), Some(now + days * 86_400_000))
                    .await?;
                RestoreOutcome::Extended
            }
            _ => {
                repo::set_restore(&mut tx, &b.id, key, &o.data_id, Some("ongoing"), None).await?;
                let params = serde_json::json!({"bucket_id": b.id, "key": key, "data_id": o.data_id, "days": days});
                self.new_job(&mut tx, &b.project_id, RESTORE_JOB, params).await?;
                RestoreOutcome::Started
            }
        };
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("OBS", "object", "restoreObject", 202).resource(key, key).in_project(&b.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(outcome)
    }

    /// Counts one S3 request (and the bytes it sent) for metering.
    pub fn meter_request(&self, ctx: &Ctx, bucket: &str, operation: &str, bytes_out: i64) {
        let Some(project) = ctx.principal.project_id() else { return };
        let hour = now_ms() / 3_600_000 * 3_600_000;
        let key = (project.to_string(), bucket.to_string(), hour, operation.to_string());
        let mut pending = self.request_meter.pending.lock().unwrap_or_else(|e| e.into_inner());
        let e = pending.entry(key).or_insert((0, 0));
        e.0 += 1;
        e.1 += bytes_out;
    }

    /// Writes the counted requests to the store (the metering reconciler, and shutdown).
    pub async fn flush_request_meter(&self) -> Result<(), Error> {
        let batch = std::mem::take(&mut *self.request_meter.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.store().write().await?;
        for ((project_id, bucket, hour, operation), (requests, bytes_out)) in batch {
            let row = repo::RequestCount { project_id, bucket, hour, operation, requests, bytes_out };
            repo::add_requests(&mut tx, &row).await?;
        }
        tx.commit().await
    }

    /// A project's request counters (metering input).
    pub async fn obs_request_counts(&self, ctx: &Ctx, project_id: &str) -> Result<Vec<repo::RequestCount>, Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        crate::authz::authorize_visible("obs:read", "obs:read", &ctx.principal, &target, "project", project_id)?;
        self.flush_request_meter().await?;
        let mut c = self.store().read().await?;
        repo::request_counts(&mut c, project_id).await
    }

    /// Records a change of stored bytes (metering prices GB-hours per class).
    async fn stored_event(
        &self,
        tx: &mut sqlx::AnyConnection,
        b: &Bucket,
        key: &str,
        class: &str,
        bytes: i64,
    ) -> Result<(), Error> {
        nimbus_store::servers::insert_usage(
            tx,
            &nimbus_store::servers::UsageEvent {
                id: nimbus_core::id::new_hex_id(),
                project_id: b.project_id.clone(),
                resource_type: "obs".into(),
                resource_id: b.name.clone(),
                event: "stored".into(),
                flavor: Some(class.into()),
                detail: serde_json::json!({"key": key, "bytes": bytes, "class": class}).to_string(),
                at: now_ms(),
            },
        )
        .await
    }

    /// Removes temporary object data an interrupted write left (start-up).
    pub async fn sweep_object_partials(&self) -> Result<usize, Error> {
        self.drivers().objects.sweep_partials().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_classes() {
        assert!(validate_bucket_name("my-bucket.1").is_ok());
        for bad in ["ab", "Upper", "-start", "end-", "a..b", "192.168.1.1", &"a".repeat(64)] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
        assert_eq!(storage_class("STANDARD_IA"), Some("WARM"));
        assert_eq!(storage_class("COLD"), Some("COLD"));
        assert_eq!(storage_class("GLACIER"), Some("COLD"));
        assert_eq!(storage_class("REDUCED"), None);
        assert_eq!(s3_storage_class("WARM"), "STANDARD_IA");
    }
}
