//! The S3 operations: each reads the caller the access check established, calls the object
//! service, and shapes the answer (ETags as S3 computes them, ranges, listings with prefixes,
//! delimiters and continuation).

use crate::auth::CallerCtx;
use crate::error::to_s3;
use base64::Engine;
use futures::StreamExt;
use nimbus_control::objects::{s3_storage_class, ObjectPut};
use nimbus_control::{Control, Ctx};
use nimbus_store::objects::Object;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Marks a response whose status must be 202 (s3s answers 200 for every RestoreObject).
#[derive(Clone, Copy)]
pub struct Accepted;

/// The `x-amz-restore` value of a COLD object being or having been restored.
fn restore_header(o: &Object) -> Option<String> {
    match (o.restore_state.as_deref(), o.restore_expires_at) {
        (Some("ongoing"), _) => Some("ongoing-request=\"true\"".into()),
        (Some("restored"), Some(exp)) => {
            let mut date = Vec::new();
            timestamp(exp).format(TimestampFormat::HttpDate, &mut date).ok()?;
            Some(format!("ongoing-request=\"false\", expiry-date=\"{}\"", String::from_utf8_lossy(&date)))
        }
        _ => None,
    }
}

/// The S3 service of a region.
pub struct Obs {
    pub control: Arc<Control>,
}

pub(crate) fn caller<T>(req: &S3Request<T>) -> S3Result<Ctx> {
    req.extensions
        .get::<CallerCtx>()
        .map(|c| c.0.clone())
        .ok_or_else(|| s3_error!(AccessDenied, "The request is not authenticated."))
}

pub(crate) fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

/// The listing's `<StorageClass>` (S3 names).
fn object_class(o: &Object) -> ObjectStorageClass {
    ObjectStorageClass::from(s3_storage_class(&o.storage_class).to_string())
}

fn user_metadata(o: &Object) -> Option<Metadata> {
    let m: BTreeMap<String, String> = serde_json::from_str(&o.metadata).unwrap_or_default();
    (!m.is_empty()).then(|| m.into_iter().collect())
}

/// Keys, prefixes and markers as a listing shows them: percent-encoded when the client asked
/// for `encoding-type=url` (boto3 always does, then decodes).
fn encode(v: &str, url: bool) -> String {
    if url {
        const SET: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
        percent_encoding::utf8_percent_encode(v, SET).to_string()
    } else {
        v.to_string()
    }
}

/// One page of a listing: objects and common prefixes in key order, at most `max` entries.
struct Listing {
    objects: Vec<Object>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key or prefix returned (the next page starts after it).
    last: Option<String>,
}

/// One page of a version listing.
pub(crate) struct VersionPage {
    versions: Vec<nimbus_store::objects::Version>,
    prefixes: Vec<String>,
    truncated: bool,
    /// Where the next page starts (a key, and the version of it last returned), when truncated.
    next: Option<(String, Option<String>)>,
}

impl Obs {
    /// A page of versions, with common prefixes rolled up as in [`Obs::list`].
    #[allow(clippy::too_many_arguments)]
    async fn list_versions(
        &self,
        ctx: &Ctx,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_marker: Option<&str>,
        max: usize,
    ) -> S3Result<VersionPage> {
        let mut out = VersionPage { versions: Vec::new(), prefixes: Vec::new(), truncated: false, next: None };
        let d = delimiter.filter(|d| !d.is_empty());
        let mut cursor = key_marker.map(|k| match (version_marker, d) {
            (None, Some(d)) if k.ends_with(d) => (format!("{k}\u{10FFFF}"), None),
            (v, _) => (k.to_string(), v.map(str::to_string)),
        });
        let mut last: Option<(String, Option<String>)> = None;
        loop {
            let after = cursor.as_ref().map(|(k, v)| (k.as_str(), v.as_deref()));
            let batch = self.control.list_versions(ctx, bucket, prefix, after, 1000).await.map_err(to_s3)?;
            let done = batch.len() < 1000;
            for v in batch {
                let key = v.object.object_key.clone();
                cursor = Some((key.clone(), Some(v.object.version_id.clone())));
                let rest = &key[prefix.len()..];
                let full = out.versions.len() + out.prefixes.len() == max;
                if let Some(i) = d.and_then(|d| rest.find(d).map(|i| i + d.len())) {
                    let p = format!("{prefix}{}", &rest[..i]);
                    if out.prefixes.last() == Some(&p) {
                        continue;
                    }
                    if full {
                        out.truncated = true;
                        out.next = last;
                        return Ok(out);
                    }
                    last = Some((p.clone(), None));
                    cursor = Some((format!("{p}\u{10FFFF}"), None));
                    out.prefixes.push(p);
                    continue;
                }
                if full {
                    out.truncated = true;
                    out.next = last;
                    return Ok(out);
                }
                last = Some((key, Some(v.object.version_id.clone())));
                out.versions.push(v);
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Counts a served request for metering.
    fn meter(&self, ctx: &Ctx, bucket: &str, operation: &str, bytes_out: i64) {
        self.control.meter_request(ctx, bucket, operation, bytes_out);
    }

    async fn list(
        &self,
        ctx: &Ctx,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<String>,
        max: usize,
    ) -> S3Result<Listing> {
        let mut out = Listing { objects: Vec::new(), prefixes: Vec::new(), truncated: false, last: None };
        // A marker that is a rolled-up prefix continues after everything under it.
        let mut cursor = match (after, delimiter.filter(|d| !d.is_empty())) {
            (Some(a), Some(d)) if a.ends_with(d) => Some(format!("{a}\u{10FFFF}")),
            (a, _) => a,
        };
        loop {
            let (_, batch) =
                self.control.list_objects(ctx, bucket, prefix, cursor.as_deref(), 1000).await.map_err(to_s3)?;
            let done = batch.len() < 1000;
            for o in batch {
                cursor = Some(o.object_key.clone());
                let rest = &o.object_key[prefix.len()..];
                let rolled = delimiter.filter(|d| !d.is_empty()).and_then(|d| rest.find(d).map(|i| (i, d.len())));
                if let Some((i, dlen)) = rolled {
                    let p = format!("{prefix}{}", &rest[..i + dlen]);
                    if out.prefixes.last() == Some(&p) {
                        continue;
                    }
                    if out.objects.len() + out.prefixes.len() == max {
                        out.truncated = true;
                        return Ok(out);
                    }
                    // Skip every key under this prefix: continue after its last possible key.
                    out.last = Some(p.clone());
                    cursor = Some(format!("{p}\u{10FFFF}"));
                    out.prefixes.push(p);
                    continue;
                }
                if out.objects.len() + out.prefixes.len() == max {
                    out.truncated = true;
                    return Ok(out);
                }
                out.last = Some(o.object_key.clone());
                out.objects.push(o);
            }
            if done {
                return Ok(out);
            }
        }
    }

    fn listed(&self, o: &Object, url: bool) -> s3s::dto::Object {
        s3s::dto::Object {
            key: Some(encode(&o.object_key, url)),
            e_tag: Some(ETag::Strong(o.etag.clone())),
            size: Some(o.size),
            last_modified: Some(timestamp(o.created_at)),
            storage_class: Some(object_class(o)),
            ..Default::default()
        }
    }
}

fn decode_md5(v: &Option<String>) -> S3Result<Option<[u8; 16]>> {
    match v {
        Some(b64) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
            Ok(Some(<[u8; 16]>::try_from(raw.as_slice()).map_err(|_| s3_error!(InvalidDigest))?))
        }
        None => Ok(None),
    }
}

/// The storage class a request names: OBS's header, else S3's.
fn requested_class(headers: &http::HeaderMap, s3: &Option<StorageClass>) -> Option<String> {
    headers
        .get("x-obs-storage-class")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| s3.as_ref().map(|c| c.as_str().to_string()))
}

fn body_stream(b: Option<StreamingBlob>) -> futures::stream::BoxStream<'static, Result<bytes::Bytes, s3s::StdError>> {
    match b {
        Some(b) => b.boxed(),
        None => futures::stream::empty::<Result<bytes::Bytes, s3s::StdError>>().boxed(),
    }
}

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must not be negative.")),
        Some(n) => Ok((n as usize).min(1000)),
    }
}

#[async_trait::async_trait]
impl S3 for Obs {
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let ctx = caller(&req)?;
        let buckets = self.control.list_buckets(&ctx).await.map_err(to_s3)?;
        let owner = ctx.principal.project_id().unwrap_or_default().to_string();
        let list = buckets
            .into_iter()
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(timestamp(b.created_at)),
                bucket_region: Some(b.region),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(list),
            owner: Some(Owner { id: Some(owner.clone()), display_name: Some(owner) }),
            ..Default::default()
        }))
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let ctx = caller(&req)?;
        let location = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_string());
        let acl = req.input.acl.as_ref().map(|a| a.as_str().to_string());
        // The bucket's default class: OBS's header, or the one OBS SDKs send in AWS mode.
        let class = ["x-obs-storage-class", "x-default-storage-class"]
            .iter()
            .find_map(|h| req.headers.get(*h).and_then(|v| v.to_str().ok()))
            .map(str::to_string);
        let b = self
            .control
            .create_bucket(&ctx, &req.input.bucket, location.as_deref(), acl.as_deref(), class.as_deref())
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", b.name)) }))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        let ctx = caller(&req)?;
        let b = self.control.get_bucket(&ctx, &req.input.bucket, "s3:ListBucket").await.map_err(to_s3)?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(b.region), ..Default::default() }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let ctx = caller(&req)?;
        let b = self.control.get_bucket(&ctx, &req.input.bucket, "s3:GetBucketLocation").await.map_err(to_s3)?;
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: Some(BucketLocationConstraint::from(b.region)),
        }))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let ctx = caller(&req)?;
        self.control.delete_bucket(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let ctx = caller(&req)?;
        let input = &mut req.input;
        let put = ObjectPut {
            content_type: input.content_type.clone(),
            metadata: input.metadata.take().map(|m| m.into_iter().collect()).unwrap_or_default(),
            storage_class: requested_class(&req.headers, &input.storage_class),
            content_md5: decode_md5(&input.content_md5)?,
            content_length: input.content_length,
            tags: parse_tagging(input.tagging.as_deref())?,
            acl: input.acl.as_ref().map(|a| a.as_str().to_string()),
            sse: input.server_side_encryption.as_ref().map(|a| a.as_str().to_string()),
            headers: content_headers(
                &input.cache_control,
                &input.content_disposition,
                &input.content_encoding,
                &input.content_language,
                &input.expires,
            ),
        };
        let body = body_stream(input.body.take());
        let o = self.control.put_object(&ctx, &input.bucket, &input.key, body, put).await.map_err(to_s3)?;
        self.meter(&ctx, &input.bucket, "PutObject", 0);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(o.etag.clone())),
            version_id: version_header(&o),
            server_side_encryption: sse_of(&o),
            ..Default::default()
        }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let ctx = caller(&req)?;
        let o = self
            .control
            .get_object(&ctx, &req.input.bucket, &req.input.key, req.input.version_id.as_deref(), "getObject")
            .await
            .map_err(to_s3)?;
        nimbus_control::objects::readable(&o, nimbus_core::time::now_ms()).map_err(to_s3)?;
        check_conditions(
            &o,
            &req.input.if_match,
            &req.input.if_none_match,
            req.input.if_modified_since.as_ref(),
            req.input.if_unmodified_since.as_ref(),
        )?;
        let len = o.size as u64;
        let (range, content_range) = match &req.input.range {
            Some(r) => {
                let r = r.check(len)?;
                let cr = format!("bytes {}-{}/{len}", r.start, r.end.saturating_sub(1));
                (r, Some(cr))
            }
            None => (0..len, None),
        };
        let n = range.end - range.start;
        let stream = self.control.object_stream(&o, range).await.map_err(to_s3)?;
        // `response-*` query parameters override what the object is served with.
        let i = &req.input;
        let s = served(&o);
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&o.storage_class) {
            headers.insert("x-obs-storage-class", v);
        }
        let out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(n as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            e_tag: Some(ETag::Strong(o.etag.clone())),
            last_modified: Some(timestamp(o.created_at)),
            content_type: i.response_content_type.clone().or_else(|| o.content_type.clone()),
            cache_control: i.response_cache_control.clone().or(s.cache_control),
            content_disposition: i.response_content_disposition.clone().or(s.disposition),
            content_encoding: i.response_content_encoding.clone().or(s.encoding),
            content_language: i.response_content_language.clone().or(s.language),
            expires: i.response_expires.clone().or(s.expires),
            metadata: user_metadata(&o),
            storage_class: (o.storage_class != "STANDARD")
                .then(|| StorageClass::from(s3_storage_class(&o.storage_class).to_string())),
            version_id: version_header(&o),
            server_side_encryption: sse_of(&o),
            tag_count: tag_count(&o),
            ..Default::default()
        };
        self.meter(&ctx, &req.input.bucket, "GetObject", n as i64);
        Ok(S3Response::with_headers(out, headers))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let ctx = caller(&req)?;
        let o = self
            .control
            .get_object(&ctx, &req.input.bucket, &req.input.key, req.input.version_id.as_deref(), "headObject")
            .await
            .map_err(to_s3)?;
        check_conditions(
            &o,
            &req.input.if_match,
            &req.input.if_none_match,
            req.input.if_modified_since.as_ref(),
            req.input.if_unmodified_since.as_ref(),
        )?;
        let s = served(&o);
        self.meter(&ctx, &req.input.bucket, "HeadObject", 0);
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(o.size),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(ETag::Strong(o.etag.clone())),
            last_modified: Some(timestamp(o.created_at)),
            content_type: o.content_type.clone(),
            metadata: user_metadata(&o),
            storage_class: (o.storage_class != "STANDARD")
                .then(|| StorageClass::from(s3_storage_class(&o.storage_class).to_string())),
            restore: restore_header(&o),
            version_id: version_header(&o),
            server_side_encryption: sse_of(&o),
            cache_control: s.cache_control,
            content_disposition: s.disposition,
            content_encoding: s.encoding,
            content_language: s.language,
            expires: s.expires,
            ..Default::default()
        }))
    }

    async fn restore_object(&self, req: S3Request<RestoreObjectInput>) -> S3Result<S3Response<RestoreObjectOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let days = i.restore_request.as_ref().and_then(|r| r.days).unwrap_or(1) as i64;
        let outcome = self.control.restore_object(&ctx, &i.bucket, &i.key, days).await.map_err(to_s3)?;
        let mut resp = S3Response::new(RestoreObjectOutput::default());
        if outcome == nimbus_control::objects::RestoreOutcome::Started {
            resp.extensions.insert(Accepted);
        }
        Ok(resp)
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let d = self.control.delete_object(&ctx, &i.bucket, &i.key, i.version_id.as_deref()).await.map_err(to_s3)?;
        self.meter(&ctx, &i.bucket, "DeleteObject", 0);
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: d.delete_marker.then_some(true),
            version_id: d.version_id,
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let url = i.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = max_keys(i.max_keys)?;
        let page = self.list(&ctx, &i.bucket, &prefix, i.delimiter.as_deref(), i.marker.clone(), max).await?;
        let next_marker = (page.truncated && i.delimiter.is_some()).then(|| page.last.clone()).flatten();
        self.meter(&ctx, &i.bucket, "ListObjects", 0);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket.clone()),
            prefix: Some(encode(&prefix, url)),
            marker: Some(encode(i.marker.as_deref().unwrap_or(""), url)),
            max_keys: Some(max as i32),
            is_truncated: Some(page.truncated),
            contents: Some(page.objects.iter().map(|o| self.listed(o, url)).collect()),
            common_prefixes: Some(
                page.prefixes.iter().map(|p| CommonPrefix { prefix: Some(encode(p, url)) }).collect(),
            ),
            delimiter: i.delimiter.as_deref().map(|d| encode(d, url)),
            next_marker: next_marker.map(|m| encode(&m, url)),
            encoding_type: i.encoding_type.clone(),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let url = i.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = max_keys(i.max_keys)?;
        // The continuation token is the last key (or prefix) returned, base64-encoded.
        let after = match &i.continuation_token {
            Some(t) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect."))?,
            ),
            None => i.start_after.clone(),
        };
        let page = self.list(&ctx, &i.bucket, &prefix, i.delimiter.as_deref(), after, max).await?;
        let next = page
            .truncated
            .then(|| page.last.as_ref().map(|l| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(l)))
            .flatten();
        self.meter(&ctx, &i.bucket, "ListObjectsV2", 0);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket.clone()),
            prefix: Some(encode(&prefix, url)),
            max_keys: Some(max as i32),
            key_count: Some((page.objects.len() + page.prefixes.len()) as i32),
            continuation_token: i.continuation_token.clone(),
            is_truncated: Some(page.truncated),
            next_continuation_token: next,
            contents: Some(page.objects.iter().map(|o| self.listed(o, url)).collect()),
            common_prefixes: Some(
                page.prefixes.iter().map(|p| CommonPrefix { prefix: Some(encode(p, url)) }).collect(),
            ),
            delimiter: i.delimiter.as_deref().map(|d| encode(d, url)),
            encoding_type: i.encoding_type.clone(),
            start_after: i.start_after.as_deref().map(|s| encode(s, url)),
            ..Default::default()
        }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let CopySource::Bucket { bucket: src_bucket, key: src_key, version_id: src_version } = &i.copy_source else {
            return Err(s3_error!(NotImplemented, "Only bucket copy sources are supported."));
        };
        let replace = i.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let put = ObjectPut {
            content_type: i.content_type.clone(),
            metadata: i.metadata.clone().map(|m| m.into_iter().collect()).unwrap_or_default(),
            storage_class: requested_class(&req.headers, &i.storage_class),
            acl: i.acl.as_ref().map(|a| a.as_str().to_string()),
            sse: i.server_side_encryption.as_ref().map(|a| a.as_str().to_string()),
            tags: parse_tagging(i.tagging.as_deref())?,
            headers: content_headers(
                &i.cache_control,
                &i.content_disposition,
                &i.content_encoding,
                &i.content_language,
                &i.expires,
            ),
            ..Default::default()
        };
        let conditions = source_conditions(
            &i.copy_source_if_match,
            &i.copy_source_if_none_match,
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        );
        let source = (src_bucket.as_ref(), src_key.as_ref(), src_version.as_deref());
        let o = self
            .control
            .copy_object(&ctx, source, &conditions, (&i.bucket, &i.key), replace, put)
            .await
            .map_err(to_s3)?;
        self.meter(&ctx, &i.bucket, "CopyObject", 0);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(o.etag.clone())),
                last_modified: Some(timestamp(o.created_at)),
                ..Default::default()
            }),
            version_id: version_header(&o),
            copy_source_version_id: src_version.as_deref().map(str::to_string),
            server_side_encryption: sse_of(&o),
            ..Default::default()
        }))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        if i.delete.objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "At most 1000 keys may be deleted at once."));
        }
        let quiet = i.delete.quiet.unwrap_or(false);
        let (mut deleted, mut errors) = (Vec::new(), Vec::new());
        for o in &i.delete.objects {
            match self.control.delete_object(&ctx, &i.bucket, &o.key, o.version_id.as_deref()).await {
                Ok(d) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(o.key.clone()),
                            version_id: o.version_id.clone(),
                            delete_marker: d.delete_marker.then_some(true),
                            delete_marker_version_id: d
                                .version_id
                                .filter(|_| d.delete_marker && o.version_id.is_none()),
                        });
                    }
                }
                Err(e) => {
                    let e = to_s3(e);
                    errors.push(s3s::dto::Error {
                        key: Some(o.key.clone()),
                        code: Some(e.code().as_str().to_string()),
                        message: e.message().map(str::to_string),
                        ..Default::default()
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: Some(errors), ..Default::default() }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let put = ObjectPut {
            content_type: i.content_type.clone(),
            metadata: i.metadata.clone().map(|m| m.into_iter().collect()).unwrap_or_default(),
            storage_class: requested_class(&req.headers, &i.storage_class),
            tags: parse_tagging(i.tagging.as_deref())?,
            acl: i.acl.as_ref().map(|a| a.as_str().to_string()),
            sse: i.server_side_encryption.as_ref().map(|a| a.as_str().to_string()),
            headers: content_headers(
                &i.cache_control,
                &i.content_disposition,
                &i.content_encoding,
                &i.content_language,
                &i.expires,
            ),
            ..Default::default()
        };
        let u = self.control.create_multipart_upload(&ctx, &i.bucket, &i.key, put).await.map_err(to_s3)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            upload_id: Some(u.id),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, mut req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let ctx = caller(&req)?;
        let i = &mut req.input;
        let md5 = decode_md5(&i.content_md5)?;
        let body = body_stream(i.body.take());
        let etag = self
            .control
            .upload_part(&ctx, &i.bucket, &i.key, &i.upload_id, i.part_number as i64, body, md5)
            .await
            .map_err(to_s3)?;
        self.meter(&ctx, &i.bucket, "UploadPart", 0);
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(ETag::Strong(etag)), ..Default::default() }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let CopySource::Bucket { bucket: src_bucket, key: src_key, version_id: src_version } = &i.copy_source else {
            return Err(s3_error!(NotImplemented, "Only bucket copy sources are supported."));
        };
        let range = match &i.copy_source_range {
            None => None,
            Some(r) => {
                let parsed = r
                    .strip_prefix("bytes=")
                    .and_then(|r| r.split_once('-'))
                    .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
                Some(parsed.ok_or_else(|| {
                    s3_error!(
                        InvalidArgument,
                        "The x-amz-copy-source-range value must be of the form bytes=first-last."
                    )
                })?)
            }
        };
        let conditions = source_conditions(
            &i.copy_source_if_match,
            &i.copy_source_if_none_match,
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        );
        let source = (src_bucket.as_ref(), src_key.as_ref(), src_version.as_deref());
        let (etag, src) = self
            .control
            .upload_part_copy(&ctx, &i.bucket, &i.key, &i.upload_id, i.part_number as i64, source, &conditions, range)
            .await
            .map_err(to_s3)?;
        self.meter(&ctx, &i.bucket, "UploadPartCopy", 0);
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(timestamp(nimbus_core::time::now_ms())),
                ..Default::default()
            }),
            copy_source_version_id: (src.version_id != "null").then(|| src.version_id.clone()),
            ..Default::default()
        }))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let (u, parts) = self.control.list_parts(&ctx, &i.bucket, &i.key, &i.upload_id).await.map_err(to_s3)?;
        let marker = i.part_number_marker.unwrap_or(0) as i64;
        let max = i.max_parts.unwrap_or(1000).clamp(1, 1000) as usize;
        let after: Vec<_> = parts.into_iter().filter(|p| p.part_number > marker).collect();
        let truncated = after.len() > max;
        let page: Vec<_> = after.into_iter().take(max).collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            upload_id: Some(i.upload_id.clone()),
            is_truncated: Some(truncated),
            max_parts: Some(max as i32),
            next_part_number_marker: page.last().filter(|_| truncated).map(|p| p.part_number as i32),
            storage_class: Some(StorageClass::from(s3_storage_class(&u.storage_class).to_string())),
            parts: Some(
                page.iter()
                    .map(|p| s3s::dto::Part {
                        part_number: Some(p.part_number as i32),
                        e_tag: Some(ETag::Strong(p.etag.clone())),
                        size: Some(p.size),
                        last_modified: Some(timestamp(p.created_at)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let listed: Vec<(i64, String)> = i
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .map(|parts| {
                parts
                    .iter()
                    .map(|p| {
                        let etag = p.e_tag.as_ref().map(|e| e.value().to_string()).unwrap_or_default();
                        (p.part_number.unwrap_or(0) as i64, etag)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let o = self
            .control
            .complete_multipart_upload(&ctx, &i.bucket, &i.key, &i.upload_id, &listed)
            .await
            .map_err(to_s3)?;
        self.meter(&ctx, &i.bucket, "CompleteMultipartUpload", 0);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            version_id: version_header(&o),
            server_side_encryption: sse_of(&o),
            e_tag: Some(ETag::Strong(o.etag.clone())),
            location: Some(format!("/{}/{}", i.bucket, i.key)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        self.control.abort_multipart_upload(&ctx, &i.bucket, &i.key, &i.upload_id).await.map_err(to_s3)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let prefix = i.prefix.clone().unwrap_or_default();
        let uploads = self.control.list_multipart_uploads(&ctx, &i.bucket).await.map_err(to_s3)?;
        let list = uploads
            .into_iter()
            .filter(|u| u.object_key.starts_with(&prefix))
            .map(|u| MultipartUpload {
                key: Some(u.object_key.clone()),
                upload_id: Some(u.id.clone()),
                initiated: Some(timestamp(u.created_at)),
                storage_class: Some(StorageClass::from(s3_storage_class(&u.storage_class).to_string())),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket.clone()),
            prefix: Some(prefix),
            is_truncated: Some(false),
            uploads: Some(list),
            ..Default::default()
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let url = i.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = max_keys(i.max_keys)?;
        let page = self
            .list_versions(
                &ctx,
                &i.bucket,
                &prefix,
                i.delimiter.as_deref(),
                i.key_marker.as_deref(),
                i.version_id_marker.as_deref(),
                max,
            )
            .await?;
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        for v in &page.versions {
            let o = &v.object;
            if v.delete_marker {
                markers.push(DeleteMarkerEntry {
                    key: Some(encode(&o.object_key, url)),
                    version_id: Some(o.version_id.clone()),
                    is_latest: Some(v.is_latest),
                    last_modified: Some(timestamp(o.created_at)),
                    owner: None,
                });
            } else {
                versions.push(ObjectVersion {
                    key: Some(encode(&o.object_key, url)),
                    version_id: Some(o.version_id.clone()),
                    is_latest: Some(v.is_latest),
                    e_tag: Some(ETag::Strong(o.etag.clone())),
                    size: Some(o.size),
                    last_modified: Some(timestamp(o.created_at)),
                    storage_class: Some(ObjectVersionStorageClass::from(
                        s3_storage_class(&o.storage_class).to_string(),
                    )),
                    ..Default::default()
                });
            }
        }
        self.meter(&ctx, &i.bucket, "ListObjectVersions", 0);
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(i.bucket.clone()),
            prefix: Some(encode(&prefix, url)),
            key_marker: Some(encode(i.key_marker.as_deref().unwrap_or(""), url)),
            version_id_marker: i.version_id_marker.clone(),
            max_keys: Some(max as i32),
            is_truncated: Some(page.truncated),
            next_key_marker: page.next.as_ref().map(|(k, _)| encode(k, url)),
            next_version_id_marker: page.next.as_ref().and_then(|(_, v)| v.clone()),
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(
                page.prefixes.iter().map(|p| CommonPrefix { prefix: Some(encode(p, url)) }).collect(),
            ),
            delimiter: i.delimiter.as_deref().map(|d| encode(d, url)),
            encoding_type: i.encoding_type.clone(),
            ..Default::default()
        }))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        self.get_versioning(req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        self.put_versioning(req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        self.get_policy(req).await
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        self.put_policy(req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.delete_policy(req).await
    }

    async fn get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
        self.get_bucket_acl_(req).await
    }

    async fn put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
        self.put_bucket_acl_(req).await
    }

    async fn get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
        self.get_object_acl_(req).await
    }

    async fn put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
        self.put_object_acl_(req).await
    }

    async fn get_bucket_cors(&self, req: S3Request<GetBucketCorsInput>) -> S3Result<S3Response<GetBucketCorsOutput>> {
        self.get_cors(req).await
    }

    async fn put_bucket_cors(&self, req: S3Request<PutBucketCorsInput>) -> S3Result<S3Response<PutBucketCorsOutput>> {
        self.put_cors(req).await
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        self.delete_cors(req).await
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        self.get_bucket_tags(req).await
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        self.put_bucket_tags(req).await
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        self.delete_bucket_tags(req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        self.get_object_tags(req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        self.put_object_tags(req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        self.delete_object_tags(req).await
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        self.get_lifecycle(req).await
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        self.put_lifecycle(req).await
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        self.delete_lifecycle(req).await
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        self.get_encryption(req).await
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        self.put_encryption(req).await
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.delete_encryption(req).await
    }
}

/// The content headers a write sets (kept and served with the object).
fn content_headers(
    cache_control: &Option<String>,
    disposition: &Option<String>,
    encoding: &Option<String>,
    language: &Option<String>,
    expires: &Option<Timestamp>,
) -> BTreeMap<String, String> {
    let mut h = BTreeMap::new();
    // `aws-chunked` only framed the upload; it is not the object's encoding.
    let encoding = encoding.as_deref().map(|e| {
        e.split(',').map(str::trim).filter(|t| !t.is_empty() && *t != "aws-chunked").collect::<Vec<_>>().join(", ")
    });
    for (name, v) in [
        ("cache-control", cache_control.clone()),
        ("content-disposition", disposition.clone()),
        ("content-encoding", encoding.filter(|e| !e.is_empty())),
        ("content-language", language.clone()),
    ] {
        if let Some(v) = v {
            h.insert(name.to_string(), v);
        }
    }
    if let Some(t) = expires {
        let mut date = Vec::new();
        if t.format(TimestampFormat::HttpDate, &mut date).is_ok() {
            h.insert("expires".into(), String::from_utf8_lossy(&date).into_owned());
        }
    }
    h
}

/// An object's content headers: cache-control, disposition, encoding, language, expires.
struct Served {
    cache_control: Option<String>,
    disposition: Option<String>,
    encoding: Option<String>,
    language: Option<String>,
    expires: Option<Timestamp>,
}

fn served(o: &Object) -> Served {
    let h: BTreeMap<String, String> = serde_json::from_str(&o.headers).unwrap_or_default();
    Served {
        cache_control: h.get("cache-control").cloned(),
        disposition: h.get("content-disposition").cloned(),
        encoding: h.get("content-encoding").cloned(),
        language: h.get("content-language").cloned(),
        expires: h.get("expires").and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok()),
    }
}

/// A copy's `x-amz-copy-source-if-*` conditions.
fn source_conditions(
    if_match: &Option<ETagCondition>,
    if_none_match: &Option<ETagCondition>,
    modified_since: Option<&Timestamp>,
    unmodified_since: Option<&Timestamp>,
) -> nimbus_control::objects::SourceConditions {
    let etag = |c: &ETagCondition| match c {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(e) => e.value().to_string(),
    };
    let ms = |t: &Timestamp| (time::OffsetDateTime::from(t.clone()).unix_timestamp_nanos() / 1_000_000) as i64;
    nimbus_control::objects::SourceConditions {
        if_match: if_match.as_ref().map(etag),
        if_none_match: if_none_match.as_ref().map(etag),
        modified_since: modified_since.map(ms),
        unmodified_since: unmodified_since.map(ms),
    }
}

/// `x-amz-version-id` of a version (none for `null` versions of unversioned buckets).
fn version_header(o: &Object) -> Option<String> {
    (o.version_id != "null").then(|| o.version_id.clone())
}

/// `x-amz-server-side-encryption` of an object encrypted at rest.
fn sse_of(o: &Object) -> Option<ServerSideEncryption> {
    o.sse.as_ref().map(|_| ServerSideEncryption::from_static(ServerSideEncryption::AES256))
}

/// `x-amz-tagging-count`.
fn tag_count(o: &Object) -> Option<i32> {
    let n = nimbus_control::objects::settings::tags_of(&o.tags).len();
    (n > 0).then_some(n as i32)
}

/// Tags from an `x-amz-tagging` header (URL query form).
fn parse_tagging(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(h) = header.filter(|h| !h.is_empty()) else { return Ok(Vec::new()) };
    h.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| s3_error!(InvalidTag, "The tagging header is not valid UTF-8."))
            };
            Ok((dec(k)?, dec(v)?))
        })
        .collect()
}

/// S3's conditional GET/HEAD rules: If-Match / If-Unmodified-Since fail with 412,
/// If-None-Match / If-Modified-Since answer 304.
fn check_conditions(
    o: &Object,
    if_match: &Option<ETagCondition>,
    if_none_match: &Option<ETagCondition>,
    modified_since: Option<&Timestamp>,
    unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let etag = ETag::Strong(o.etag.clone());
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag.value(),
    };
    // HTTP dates have whole seconds.
    let modified = timestamp(o.created_at / 1000 * 1000);
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(PreconditionFailed));
        }
    } else if unmodified_since.is_some_and(|t| modified > *t) {
        return Err(s3_error!(PreconditionFailed));
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(s3_error!(NotModified));
        }
    } else if modified_since.is_some_and(|t| modified <= *t) {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}
