//! Object storage (OBS, seed 6.2.2): buckets and objects, for the S3 front end.
//!
//! Bucket names are global (as in S3); a bucket belongs to the project of the key that
//! created it. Who else may use it is decided in [`access`] (bucket policies, canned ACLs);
//! anyone else is refused (`AccessDenied`). Object bytes are written, synced and renamed by
//! the driver before the object's row commits in the same transaction as its audit trace,
//! so an acknowledged PUT is durable and a crash never exposes a partial object.
//!
//! Versioning follows S3: a bucket is never versioned until enabled, then `Enabled` or
//! `Suspended`. `objects` holds each key's current version; older versions and delete
//! markers move to `object_versions`, and a version written while suspended (or in a bucket
//! never versioned) has the id `null` and replaces the previous `null` version.

pub mod access;
pub mod lifecycle;
mod multipart;
pub mod settings;
pub mod system;

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx, Principal};
use access::{access_denied, bucket_access, object_acl_allows, BucketAccess};
use bytes::Bytes;
use futures::Stream;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::object_crypt::DataKey;
use nimbus_drivers::object_files::{ByteStream, WriteError};
use nimbus_store::objects::{self as repo, Bucket, Object, Version};
use std::collections::BTreeMap;

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

/// The message of a write that would take a bucket over its quota (OBS answers 403
/// `InsufficientStorageSpace`).
pub const QUOTA_EXCEEDED: &str = "The bucket's storage quota does not leave room for this object.";
/// The message of user metadata over S3's 2 KB (`MetadataTooLarge`).
pub const METADATA_TOO_LARGE: &str = "Your metadata headers exceed the maximum allowed metadata size (2 KB).";

/// Checks user metadata: S3 allows 2 KB of names and values together.
pub fn validate_metadata(m: &BTreeMap<String, String>) -> Result<(), Error> {
    if m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > 2048 {
        return Err(Error::bad_request(METADATA_TOO_LARGE));
    }
    Ok(())
}

/// The message of a copy whose source conditions failed (`PreconditionFailed`).
pub const PRECONDITION_FAILED: &str = "At least one of the pre-conditions you specified did not hold.";
/// The message of a read of a version that is a delete marker (`MethodNotAllowed`).
pub const DELETE_MARKER: &str = "The specified method is not allowed against a delete marker.";

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
    pending: std::sync::Mutex<std::collections::HashMap<MeterKey, (i64, i64)>>,
}

/// Caller's project (empty: anonymous), bucket, hour, operation.
type MeterKey = (String, String, i64, String);

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
    /// Tags (`x-amz-tagging`), canned ACL (`x-amz-acl`; `None`: private).
    pub tags: Vec<(String, String)>,
    pub acl: Option<String>,
    /// Server-side encryption asked for (`AES256`); `None`: the bucket's default.
    pub sse: Option<String>,
    /// Content headers kept and served with the object (see [`CONTENT_HEADERS`]).
    pub headers: BTreeMap<String, String>,
}

/// The content headers an object keeps (lower-case), besides `Content-Type`.
pub const CONTENT_HEADERS: &[&str] =
    &["cache-control", "content-disposition", "content-encoding", "content-language", "expires"];

/// A copy's conditions on its source (`x-amz-copy-source-if-*`): an ETag that must or
/// must not match (`*` matches any), and times (ms) it must or must not be modified since.
#[derive(Debug, Clone, Default)]
pub struct SourceConditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub modified_since: Option<i64>,
    pub unmodified_since: Option<i64>,
}

impl SourceConditions {
    /// Checks the conditions against the source (S3 answers 412 for any that fails).
    pub fn check(&self, o: &Object) -> Result<(), Error> {
        let matches = |e: &str| e == "*" || e.trim_matches('"') == o.etag;
        // HTTP dates have whole seconds.
        let modified = o.created_at / 1000 * 1000;
        let ok = self.if_match.as_deref().is_none_or(matches)
            && self.if_none_match.as_deref().is_none_or(|e| !matches(e))
            && self.modified_since.is_none_or(|t| modified > t)
            && self.unmodified_since.is_none_or(|t| modified <= t);
        if ok {
            Ok(())
        } else {
            Err(Error::Conflict(PRECONDITION_FAILED.into()))
        }
    }
}

/// What a delete did (S3 reports it in `x-amz-delete-marker` / `x-amz-version-id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// A delete marker was written, or the version removed was one.
    pub delete_marker: bool,
    pub version_id: Option<String>,
}

/// The OBS class of a class name a client gave, or a 400.
pub fn storage_class_of(name: &str) -> Result<&'static str, Error> {
    storage_class(name).ok_or_else(|| {
        Error::bad_request(format!("The storage class {name:?} is not valid: use STANDARD, WARM or COLD."))
    })
}

/// Object keys are 1-1024 bytes.
pub fn validate_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > 1024 {
        return Err(Error::bad_request("Object keys are 1-1024 bytes long."));
    }
    Ok(())
}

/// The error of a failed data write.
fn write_error(e: WriteError) -> Error {
    match e {
        WriteError::Body(why) => Error::bad_request(format!("{BODY_FAILED}{why}")),
        WriteError::TooLarge => Error::PayloadTooLarge,
        WriteError::Io(e) => e,
    }
}

/// Serialises the writers of a bucket's objects (a no-op update takes the row's lock on
/// PostgreSQL; SQLite has one writer at a time anyway), so two writes of one key never
/// both move "the" current version.
async fn lock_bucket(tx: &mut sqlx::AnyConnection, bucket_id: &str) -> Result<(), Error> {
    sqlx::query("UPDATE buckets SET id = id WHERE id = $1")
        .bind(bucket_id)
        .execute(tx)
        .await
        .map_err(|e| Error::Internal(format!("locking a bucket: {e}")))?;
    Ok(())
}

/// A delete marker's row (no data).
fn delete_marker(b: &Bucket, key: &str, version_id: &str) -> Object {
    Object {
        bucket_id: b.id.clone(),
        object_key: key.into(),
        data_id: String::new(),
        size: 0,
        etag: String::new(),
        content_type: None,
        metadata: "{}".into(),
        storage_class: "STANDARD".into(),
        created_at: now_ms(),
        restore_state: None,
        restore_expires_at: None,
        version_id: version_id.into(),
        tags: "[]".into(),
        acl: "private".into(),
        sse: None,
        headers: "{}".into(),
    }
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

/// Access keys resolved for object storage (secret and principal), kept briefly: every
/// S3 request would otherwise read the credential, the user and the role assignments.
/// Any audited identity change empties the cache; an entry lives at most
/// [`KeyCache::TTL_MS`], which bounds how long a change racing a lookup can go unseen.
#[derive(Default)]
pub struct KeyCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (String, Principal, i64)>>,
}

impl KeyCache {
    const TTL_MS: i64 = 2000;

    fn get(&self, access_key: &str) -> Option<(String, Principal)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(access_key)
            .filter(|(_, _, at)| now_ms() - at < Self::TTL_MS)
            .map(|(s, p, _)| (s.clone(), p.clone()))
    }

    fn put(&self, access_key: &str, secret: String, principal: Principal) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(access_key.to_string(), (secret, principal, now_ms()));
    }

    /// Forgets every entry (identity changed).
    pub fn invalidate(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Control {
    /// The secret and caller of an access key: scoped to the credential's project (EC2
    /// credentials), else the user's home project.
    async fn s3_identity(&self, access_key: &str) -> Result<(String, Principal), Error> {
        if let Some(hit) = self.s3_keys.get(access_key) {
            return Ok(hit);
        }
        let project = {
            let mut c = self.store().read().await?;
            let cred = nimbus_store::identity::get_credential_by_access_key(&mut c, access_key).await?;
            cred.filter(|c| c.status == "active" && c.secret.is_some())
                .ok_or_else(|| Error::Unauthorized("The access key is unknown or inactive.".into()))?
                .project_id
        };
        let (principal, secret) = self.principal_for_access_key(access_key, project.as_deref(), None).await?;
        self.s3_keys.put(access_key, secret.clone(), principal.clone());
        Ok((secret, principal))
    }

    /// The secret of an access key, for verifying S3 signatures.
    pub async fn s3_secret(&self, access_key: &str) -> Result<String, Error> {
        Ok(self.s3_identity(access_key).await?.0)
    }

    /// The caller behind a verified S3 signature.
    pub async fn principal_for_s3(&self, access_key: &str) -> Result<Principal, Error> {
        Ok(self.s3_identity(access_key).await?.1)
    }

    fn obs_project(ctx: &Ctx) -> Result<String, Error> {
        ctx.principal
            .project_id()
            .map(str::to_string)
            .ok_or_else(|| Error::Forbidden("Buckets belong to projects: the access key's user has no project.".into()))
    }

    /// Loads a bucket for `action` (an S3 action name, `s3:GetObject`...): 404 when it does
    /// not exist, 403 (S3 `AccessDenied`) when neither the caller's roles in the owner
    /// project, the bucket policy nor the bucket's ACL grant it.
    pub(crate) async fn load_bucket(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        name: &str,
        action: &str,
    ) -> Result<Bucket, Error> {
        let b = repo::get_bucket(c, name).await?.ok_or_else(|| Error::not_found("bucket", name))?;
        match bucket_access(&b, &ctx.principal, action, None) {
            BucketAccess::Granted => Ok(b),
            _ => Err(access_denied()),
        }
    }

    /// Loads a bucket for an action on one of its objects: the policy is matched against
    /// the object's resource name; [`BucketAccess::Refused`] is returned for the caller to
    /// consult the object's own ACL.
    async fn load_bucket_for_object(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        name: &str,
        key: &str,
        action: &str,
    ) -> Result<(Bucket, BucketAccess), Error> {
        let b = repo::get_bucket(c, name).await?.ok_or_else(|| Error::not_found("bucket", name))?;
        let access = bucket_access(&b, &ctx.principal, action, Some(key));
        if access == BucketAccess::Denied {
            return Err(access_denied());
        }
        Ok((b, access))
    }

    /// Like [`Self::load_bucket_for_object`] for writes: no object ACL grants them.
    async fn load_bucket_for_write(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        name: &str,
        key: &str,
        action: &str,
    ) -> Result<Bucket, Error> {
        match self.load_bucket_for_object(c, ctx, name, key, action).await? {
            (b, BucketAccess::Granted) => Ok(b),
            _ => Err(access_denied()),
        }
    }

    /// Creates a bucket in the caller's project; its location, if given, must be this
    /// region. `acl` is a canned ACL (`None`: private).
    pub async fn create_bucket(
        &self,
        ctx: &Ctx,
        name: &str,
        location: Option<&str>,
        acl: Option<&str>,
        storage_class: Option<&str>,
    ) -> Result<Bucket, Error> {
        let project = Self::obs_project(ctx)?;
        authorize("obs:write", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        validate_bucket_name(name)?;
        if name.starts_with(system::SYSTEM_BUCKET_PREFIX) {
            return Err(Error::Conflict("The requested bucket name is not available: choose another name.".into()));
        }
        let acl = acl.unwrap_or("private");
        access::validate_acl(acl)?;
        let class = match storage_class {
            Some(sc) => storage_class_of(sc)?,
            None => "STANDARD",
        };
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
            storage_class: class.into(),
            created_at: now_ms(),
            versioning: None,
            policy: None,
            acl: acl.into(),
            cors: None,
            tagging: None,
            lifecycle: None,
            encryption: None,
            quota_bytes: 0,
            data_events: None,
        };
        repo::insert_bucket(&mut tx, &b).await?;
        // A data tracker the project kept for an earlier bucket of this name applies again.
        self.refresh_data_events(&mut tx, &b.project_id, &b.name).await?;
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

    /// One bucket, for `action` (`s3:ListBucket` for a HEAD, `s3:GetBucketLocation`...).
    pub async fn get_bucket(&self, ctx: &Ctx, name: &str, action: &str) -> Result<Bucket, Error> {
        let mut c = self.store().read().await?;
        self.load_bucket(&mut c, ctx, name, action).await
    }

    /// Deletes an empty bucket (no object, no older version, no delete marker).
    pub async fn delete_bucket(&self, ctx: &Ctx, name: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let b = self.load_bucket(&mut tx, ctx, name, "s3:DeleteBucket").await?;
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

    /// Makes `o` its key's current version inside `tx`, as the bucket's versioning says:
    /// never versioned, the previous version is replaced; enabled, it becomes non-current;
    /// suspended, the previous `null` version is replaced and a real one becomes
    /// non-current. Checks the bucket quota and records stored bytes. Returns the versions
    /// removed, whose data the caller deletes after the commit.
    pub(crate) async fn commit_version(
        &self,
        tx: &mut sqlx::AnyConnection,
        b: &Bucket,
        o: &Object,
    ) -> Result<Vec<Object>, Error> {
        let key = &o.object_key;
        lock_bucket(tx, &b.id).await?;
        let mut removed = Vec::new();
        if o.version_id == "null" {
            removed.extend(self.remove_null_versions(tx, b, key).await?);
        }
        if let Some(current) = repo::get_object(tx, &b.id, key).await? {
            repo::delete_object(tx, &b.id, key).await?;
            repo::insert_noncurrent(tx, &current, false).await?;
        }
        if b.quota_bytes > 0 {
            let (used, _) = repo::bucket_usage(tx, &b.id).await?;
            if used + o.size > b.quota_bytes {
                return Err(Error::Forbidden(QUOTA_EXCEEDED.into()));
            }
        }
        repo::insert_current(tx, o).await?;
        for old in &removed {
            self.stored_event(tx, b, key, &old.storage_class, -old.size).await?;
        }
        self.stored_event(tx, b, key, &o.storage_class, o.size).await?;
        Ok(removed)
    }

    /// Removes a key's `null` versions (current, non-current, or a `null` delete marker);
    /// returns those that held data.
    async fn remove_null_versions(
        &self,
        tx: &mut sqlx::AnyConnection,
        b: &Bucket,
        key: &str,
    ) -> Result<Vec<Object>, Error> {
        let mut removed = Vec::new();
        if let Some(cur) = repo::get_object(tx, &b.id, key).await?.filter(|o| o.version_id == "null") {
            repo::delete_object(tx, &b.id, key).await?;
            removed.push(cur);
        }
        if let Some(v) = repo::delete_noncurrent(tx, &b.id, key, "null").await? {
            if !v.delete_marker {
                removed.push(v.object);
            }
        }
        Ok(removed)
    }

    /// The version id a new write gets in this bucket.
    fn new_version_id(b: &Bucket) -> String {
        match b.versioning.as_deref() {
            Some("Enabled") => nimbus_core::id::new_hex_id(),
            _ => "null".into(),
        }
    }

    /// Stores an object: the bytes first (synced, renamed), then its row with the audit
    /// trace; replaced versions' bytes go after the commit.
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
        validate_key(key)?;
        validate_metadata(&put.metadata)?;
        let class = put.storage_class.as_deref().map(storage_class_of).transpose()?;
        let tags = settings::tags_json(&put.tags, settings::MAX_OBJECT_TAGS)?;
        let acl = put.acl.clone().unwrap_or_else(|| "private".into());
        access::validate_acl(&acl)?;
        let b = {
            let mut c = self.store().read().await?;
            self.load_bucket_for_write(&mut c, ctx, bucket, key, "s3:PutObject").await?
        };
        let files = &self.drivers().objects;
        let sealing = self.sealing(&b, put.sse.as_deref())?;
        let data_key = sealing.as_ref().map(|(k, _)| k);
        let stored =
            files.write(&b.id, data, self.config().max_object_size, data_key, true).await.map_err(write_error)?;
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
            storage_class: class.unwrap_or(&b.storage_class).to_string(),
            created_at: now_ms(),
            restore_state: None,
            restore_expires_at: None,
            version_id: String::new(),
            tags,
            acl,
            sse: sealing.map(|(_, wrapped)| wrapped),
            headers: serde_json::to_string(&put.headers)?,
        };
        let committed = async {
            let mut tx = self.store().write().await?;
            // The bucket may have gone (or changed its versioning) while the bytes streamed in.
            let b = self.load_bucket_for_write(&mut tx, ctx, bucket, key, "s3:PutObject").await?;
            if b.id != o.bucket_id {
                return Err(Error::not_found("bucket", bucket));
            }
            let o = Object { version_id: Self::new_version_id(&b), ..o.clone() };
            let removed = self.commit_version(&mut tx, &b, &o).await?;
            self.audit_object(&mut tx, ctx, &b, key, "putObject", 200).await?;
            tx.commit().await?;
            Ok::<_, Error>((o, removed))
        }
        .await;
        match committed {
            Ok((o, removed)) => {
                self.remove_data(removed).await;
                Ok(o)
            }
            Err(e) => {
                files.delete(&o.bucket_id, &o.data_id).await?;
                Err(e)
            }
        }
    }

    /// Whether a new object is sealed: with the encryption the request asks for, else the
    /// bucket's default. Returns its data key and the key's wrapped form.
    pub(crate) fn sealing(&self, b: &Bucket, asked: Option<&str>) -> Result<Option<(DataKey, String)>, Error> {
        let default = b
            .encryption
            .as_deref()
            .and_then(|e| serde_json::from_str::<settings::Encryption>(e).ok())
            .map(|e| e.algorithm);
        match asked.map(str::to_string).or(default) {
            Some(alg) => {
                settings::validate_sse(&alg)?;
                Ok(Some(self.drivers().objects.new_data_key()))
            }
            None => Ok(None),
        }
    }

    /// The plaintext bytes `range` of an object (decrypted if it is sealed).
    pub async fn object_stream(&self, o: &Object, range: std::ops::Range<u64>) -> Result<ByteStream, Error> {
        let files = &self.drivers().objects;
        let key = o.sse.as_deref().map(|s| files.data_key(s)).transpose()?;
        files.reader(&o.bucket_id, &o.data_id, key, o.size as u64, range).await
    }

    /// An object's row (its current version, or the version named), for `s3:GetObject`
    /// (a read the object's own ACL may also grant); [`Self::object_stream`] reads it.
    /// `op` names the read in CTS when a data tracker records the bucket's reads.
    pub async fn get_object(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        op: &str,
    ) -> Result<Object, Error> {
        let mut c = self.store().read().await?;
        let action = if version_id.is_some() { "s3:GetObjectVersion" } else { "s3:GetObject" };
        let (b, access) = self.load_bucket_for_object(&mut c, ctx, bucket, key, action).await?;
        let found = match version_id {
            None => repo::get_object(&mut c, &b.id, key).await?,
            Some(v) => match repo::get_version(&mut c, &b.id, key, v).await? {
                Some(v) if v.delete_marker => {
                    return Err(if access == BucketAccess::Granted { Error::MethodNotAllowed } else { access_denied() })
                }
                Some(v) => Some(v.object),
                None if access == BucketAccess::Granted => {
                    return Err(Error::not_found("version", v));
                }
                None => None,
            },
        };
        let o = match found {
            Some(o) if access == BucketAccess::Granted || object_acl_allows(&o, &ctx.principal, action) => o,
            // Without the right to list the bucket, a missing key is refused like a
            // forbidden one (as S3 does), so nothing leaks about what exists.
            Some(_) => return Err(access_denied()),
            None if access == BucketAccess::Granted => return Err(Error::not_found("object", key)),
            None => return Err(access_denied()),
        };
        drop(c);
        if b.data_events.as_deref().is_some_and(|e| e.split(',').any(|e| e == "READ")) {
            let mut tx = self.store().write().await?;
            self.audit_object(&mut tx, ctx, &b, key, op, 200).await?;
            tx.commit().await?;
        }
        Ok(o)
    }

    /// Deletes an object as the bucket's versioning says: never versioned, the object goes;
    /// enabled, a delete marker becomes current; suspended, the `null` version goes and a
    /// `null` delete marker becomes current. With `version_id`, that version is removed for
    /// good (and the newest remaining one becomes current). Deleting a missing key or
    /// version succeeds, as in S3.
    pub async fn delete_object(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deleted, Error> {
        let mut tx = self.store().write().await?;
        let action = if version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
        let b = self.load_bucket_for_write(&mut tx, ctx, bucket, key, action).await?;
        let (outcome, removed) = self.delete_in(&mut tx, ctx, &b, key, version_id).await?;
        tx.commit().await?;
        self.remove_data(removed).await;
        Ok(outcome)
    }

    /// Expires an object for a lifecycle rule: as a delete, but only if the key's current
    /// version is still the one the rule saw (`data_id`), in the bucket the rule belongs to.
    pub(crate) async fn expire_object(&self, ctx: &Ctx, b: &Bucket, key: &str, data_id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let Some(b) = repo::get_bucket(&mut tx, &b.name).await?.filter(|x| x.id == b.id) else { return Ok(()) };
        if repo::get_object(&mut tx, &b.id, key).await?.is_none_or(|o| o.data_id != data_id) {
            return Ok(());
        }
        let (_, removed) = self.delete_in(&mut tx, ctx, &b, key, None).await?;
        tx.commit().await?;
        self.remove_data(removed).await;
        Ok(())
    }

    /// The delete itself, inside `tx`; returns what it did and the versions whose data goes
    /// after the commit.
    async fn delete_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        b: &Bucket,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(Deleted, Vec<Object>), Error> {
        lock_bucket(tx, &b.id).await?;
        let mut removed = Vec::new();
        let mut outcome = Deleted::default();
        match (version_id, b.versioning.as_deref()) {
            (None, None) => removed.extend(repo::delete_object(tx, &b.id, key).await?),
            (None, Some(mode)) => {
                let marker_id = if mode == "Enabled" {
                    nimbus_core::id::new_hex_id()
                } else {
                    removed.extend(self.remove_null_versions(tx, b, key).await?);
                    "null".into()
                };
                if let Some(current) = repo::get_object(tx, &b.id, key).await? {
                    repo::delete_object(tx, &b.id, key).await?;
                    repo::insert_noncurrent(tx, &current, false).await?;
                }
                let marker = delete_marker(b, key, &marker_id);
                repo::insert_noncurrent(tx, &marker, true).await?;
                outcome = Deleted { delete_marker: true, version_id: Some(marker_id) };
            }
            (Some(v), _) => {
                outcome.version_id = Some(v.to_string());
                match repo::get_object(tx, &b.id, key).await?.filter(|o| o.version_id == v) {
                    Some(_) => removed.extend(repo::delete_object(tx, &b.id, key).await?),
                    None => {
                        if let Some(gone) = repo::delete_noncurrent(tx, &b.id, key, v).await? {
                            outcome.delete_marker = gone.delete_marker;
                            if !gone.delete_marker {
                                removed.push(gone.object);
                            }
                        }
                    }
                }
                // The newest remaining version becomes current (unless it is a marker).
                if repo::get_object(tx, &b.id, key).await?.is_none() {
                    if let Some(newest) = repo::newest_noncurrent(tx, &b.id, key).await? {
                        if !newest.delete_marker {
                            let vid = newest.object.version_id.clone();
                            repo::delete_noncurrent(tx, &b.id, key, &vid).await?;
                            repo::insert_current(tx, &newest.object).await?;
                        }
                    }
                }
            }
        }
        for old in &removed {
            self.stored_event(tx, b, key, &old.storage_class, -old.size).await?;
        }
        self.audit_object(tx, ctx, b, key, "deleteObject", 204).await?;
        Ok((outcome, removed))
    }

    /// Traces an action on an object, in the bucket owner's project.
    pub(crate) async fn audit_object(
        &self,
        tx: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        b: &Bucket,
        key: &str,
        action: &str,
        code: u16,
    ) -> Result<(), Error> {
        let event = AuditEvent::new("OBS", "object", action, code).resource(key, key).in_project(&b.project_id);
        self.audit(tx, ctx, event).await
    }

    /// Removes the data of versions whose rows are gone (after their commit). A failure
    /// leaves an orphan file, not a wrong answer: the change is committed.
    pub(crate) async fn remove_data(&self, removed: Vec<Object>) {
        self.remove_files(removed.into_iter().map(|o| (o.bucket_id, o.data_id))).await
    }

    /// Removes data files (bucket id, data id) whose rows are gone, as [`Self::remove_data`].
    pub(crate) async fn remove_files(&self, files: impl IntoIterator<Item = (String, String)>) {
        for (bucket_id, data_id) in files {
            if let Err(e) = self.drivers().objects.delete(&bucket_id, &data_id).await {
                tracing::warn!(bucket = %bucket_id, data = %data_id, error = %e, "could not remove unreferenced object data");
            }
        }
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
        let b = self.load_bucket(&mut c, ctx, bucket, "s3:ListBucket").await?;
        let list = repo::list_objects(&mut c, &b.id, prefix, after, limit).await?;
        Ok((b, list))
    }

    /// Versions (current, older, delete markers) of keys starting with `prefix`, in key
    /// order then newest first, after `after`: a key, and a version of it whose older
    /// siblings come first (`None`: after every version of that key). At most `limit`.
    pub async fn list_versions(
        &self,
        ctx: &Ctx,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
        limit: i64,
    ) -> Result<Vec<Version>, Error> {
        let mut c = self.store().read().await?;
        let b = self.load_bucket(&mut c, ctx, bucket, "s3:ListBucketVersions").await?;
        let mut out = Vec::new();
        let after_key = after.map(|(k, _)| k.to_string());
        if let Some((k, Some(v))) = after {
            // The rest of the marker key's versions, older than the marker version.
            let mut all = Vec::new();
            if let Some(cur) = repo::get_object(&mut c, &b.id, k).await? {
                all.push(Version { object: cur, delete_marker: false, is_latest: true });
            }
            all.extend(repo::key_noncurrent(&mut c, &b.id, k).await?);
            let rest = all.iter().position(|x| x.object.version_id == v).map(|i| i + 1).unwrap_or(all.len());
            out.extend(all.into_iter().skip(rest).filter(|x| x.object.object_key.starts_with(prefix)));
        }
        let current = repo::list_objects(&mut c, &b.id, prefix, after_key.as_deref(), limit).await?;
        let older = repo::list_noncurrent(&mut c, &b.id, prefix, after_key.as_deref(), limit).await?;
        // Merge by key (byte order), a key's current version before its older ones.
        let (mut ci, mut oi) = (current.into_iter().peekable(), older.into_iter().peekable());
        while (out.len() as i64) < limit {
            let take_current = match (ci.peek(), oi.peek()) {
                (Some(c), Some(o)) => c.object_key.as_bytes() <= o.object.object_key.as_bytes(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_current {
                let o = ci.next().expect("peeked");
                out.push(Version { object: o, delete_marker: false, is_latest: true });
            } else {
                out.push(oi.next().expect("peeked"));
            }
        }
        out.truncate(limit as usize);
        Ok(out)
    }

    /// Copies an object (within or across the caller's buckets); `put` carries the
    /// destination's attributes when the metadata directive is REPLACE (`replace`), and the
    /// storage class either way.
    pub async fn copy_object(
        &self,
        ctx: &Ctx,
        source: (&str, &str, Option<&str>),
        conditions: &SourceConditions,
        dest: (&str, &str),
        replace: bool,
        put: ObjectPut,
    ) -> Result<Object, Error> {
        let src = self.get_object(ctx, source.0, source.1, source.2, "copyObject").await?;
        conditions.check(&src)?;
        // Copying an older version onto its own key is how a version is restored.
        if !replace
            && put.storage_class.is_none()
            && put.sse.is_none()
            && (source.0, source.1) == dest
            && source.2.is_none()
        {
            return Err(Error::bad_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing \
                 the object's metadata, storage class or encryption attributes.",
            ));
        }
        // Reading a COLD object's bytes needs a restore, for a copy too.
        readable(&src, now_ms())?;
        let data = self.object_stream(&src, 0..src.size as u64).await?;
        let mut attrs = put;
        if !replace {
            attrs.content_type = src.content_type.clone();
            attrs.metadata = serde_json::from_str(&src.metadata).unwrap_or_default();
            attrs.headers = serde_json::from_str(&src.headers).unwrap_or_default();
        }
        if attrs.storage_class.is_none() {
            attrs.storage_class = Some(src.storage_class.clone());
        }
        attrs.content_md5 = None;
        attrs.content_length = None;
        self.put_object(ctx, dest.0, dest.1, data, attrs).await
    }

    /// Restores a COLD object for `days` (1-30): a job makes it readable after the class's
    /// retrieval time; restoring a restored object moves its expiry.
    pub async fn restore_object(&self, ctx: &Ctx, bucket: &str, key: &str, days: i64) -> Result<RestoreOutcome, Error> {
        if !(1..=30).contains(&days) {
            return Err(Error::bad_request("Days must be from 1 to 30."));
        }
        let mut tx = self.store().write().await?;
        let b = self.load_bucket_for_write(&mut tx, ctx, bucket, key, "s3:RestoreObject").await?;
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
        self.audit_object(&mut tx, ctx, &b, key, "restoreObject", 202).await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(outcome)
    }

    /// Counts one S3 request (and the bytes it sent) for metering.
    /// The bucket's owner pays (public and policy-granted requests included); the caller's
    /// project is kept for a bucket deleted before the counters are written.
    pub fn meter_request(&self, ctx: &Ctx, bucket: &str, operation: &str, bytes_out: i64) {
        let caller = ctx.principal.project_id().unwrap_or_default().to_string();
        let hour = now_ms() / 3_600_000 * 3_600_000;
        let key = (caller, bucket.to_string(), hour, operation.to_string());
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
        let mut owners: std::collections::HashMap<String, Option<String>> = Default::default();
        for ((caller, bucket, hour, operation), (requests, bytes_out)) in batch {
            if !owners.contains_key(&bucket) {
                let owner = repo::get_bucket(&mut tx, &bucket).await?.map(|b| b.project_id);
                owners.insert(bucket.clone(), owner);
            }
            let project_id = match owners[&bucket].clone() {
                Some(p) => p,
                None if !caller.is_empty() => caller,
                None => continue,
            };
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

    /// Refuses to serve when the region key was just created but encrypted objects exist:
    /// the key they were sealed with is gone (restore `DATA/keys/obs-sse.key` from backup),
    /// and a new one would make them unreadable for good.
    pub async fn check_region_key(&self) -> Result<(), Error> {
        if !self.drivers().objects.key_created() {
            return Ok(());
        }
        let mut c = self.store().read().await?;
        match repo::count_sealed(&mut c).await? {
            0 => Ok(()),
            n => Err(Error::Internal(format!(
                "the object encryption key (keys/obs-sse.key) is missing but {n} encrypted object(s) exist: \
                 restore the key from a backup"
            ))),
        }
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
