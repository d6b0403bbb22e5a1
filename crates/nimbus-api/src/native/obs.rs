//! Object storage for token holders (the console's object browser): buckets and objects of
//! the caller's project over plain HTTP with a Keystone token, beside the S3 listener that
//! signed clients use. The same `Control` methods serve both, so quotas, ACLs, encryption,
//! metering and audit are the S3 API's. The object's key is a query parameter (`?key=`), so a
//! key may hold any character, slashes included.
//!
//! A bucket of another project is a 404 here (not S3's 403): a tenant learns nothing of what
//! it may not read.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::objects::{readable, ObjectPut};
use nimbus_core::time::{iso_time, now_ms};
use nimbus_core::Error;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::routes::{Access, Routes};

pub fn routes(r: Routes) -> Routes {
    const A: Access = Access::Authenticated;
    r.add("GET", "/v1/obs/buckets", A, list_buckets)
        .add("POST", "/v1/obs/buckets", A, create_bucket)
        .add("DELETE", "/v1/obs/buckets/{bucket}", A, delete_bucket)
        .add("GET", "/v1/obs/buckets/{bucket}/objects", A, list_objects)
        .add("PUT", "/v1/obs/buckets/{bucket}/object", A, put_object)
        .add("GET", "/v1/obs/buckets/{bucket}/object", A, get_object)
        .add("DELETE", "/v1/obs/buckets/{bucket}/object", A, delete_object)
}

/// Another project's bucket answers as a missing one.
fn hide(bucket: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Forbidden(_) => Error::not_found("bucket", bucket),
        other => other,
    }
}

fn object_view(o: &nimbus_store::objects::Object) -> Value {
    json!({"key": o.object_key, "size": o.size, "etag": o.etag, "content_type": o.content_type,
        "storage_class": o.storage_class, "last_modified": iso_time(o.created_at),
        "encrypted": o.sse.is_some(), "restore_state": o.restore_state})
}

/// The project's buckets with what each holds.
#[utoipa::path(get, path = "/v1/obs/buckets", tag = "OBS (token)", responses((status = 200, body = super::NetDoc)))]
pub async fn list_buckets(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let mut out = Vec::new();
    for b in s.control.list_buckets(&ctx).await? {
        let (bytes, objects) = s.control.bucket_storage(&ctx, &b.name).await.unwrap_or((0, 0));
        out.push(json!({"name": b.name, "region": b.region, "storage_class": b.storage_class,
            "created_at": iso_time(b.created_at), "bytes": bytes, "objects": objects,
            "versioning": b.versioning}));
    }
    Ok(Json(json!({"buckets": out})).into_response())
}

#[derive(Deserialize)]
struct NewBucket {
    name: String,
    storage_class: Option<String>,
}

/// Creates a bucket: `{"name", "storage_class": STANDARD|WARM|COLD}`.
#[utoipa::path(post, path = "/v1/obs/buckets", tag = "OBS (token)", request_body = super::NetDoc,
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn create_bucket(State(s): State<AppState>, Auth(ctx): Auth, raw: axum::body::Bytes) -> ApiResult {
    let req: NewBucket = crate::error::parse_json(&raw)?;
    let b = s.control.create_bucket(&ctx, &req.name, None, None, req.storage_class.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"bucket": {"name": b.name, "storage_class": b.storage_class,
        "region": b.region, "created_at": iso_time(b.created_at)}})),
    )
        .into_response())
}

/// Deletes an empty bucket.
#[utoipa::path(delete, path = "/v1/obs/buckets/{bucket}", tag = "OBS (token)", params(("bucket" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn delete_bucket(State(s): State<AppState>, Auth(ctx): Auth, Path(bucket): Path<String>) -> ApiResult {
    s.control.delete_bucket(&ctx, &bucket).await.map_err(hide(&bucket))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only keys starting with this.
    prefix: Option<String>,
    /// The last key of the previous page.
    marker: Option<String>,
    /// 1-1000, default 1000.
    limit: Option<i64>,
}

/// Objects of a bucket in key order, a page at a time (`next_marker` when more follow).
#[utoipa::path(get, path = "/v1/obs/buckets/{bucket}/objects", tag = "OBS (token)",
    params(("bucket" = String, Path), ListQuery), responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_objects(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(bucket): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(Error::bad_request(format!("Invalid limit {limit}: 1 to 1000.")).into());
    }
    let (_, list) = s
        .control
        .list_objects(&ctx, &bucket, q.prefix.as_deref().unwrap_or(""), q.marker.as_deref(), limit + 1)
        .await
        .map_err(hide(&bucket))?;
    let more = list.len() as i64 > limit;
    let page: Vec<Value> = list.iter().take(limit as usize).map(object_view).collect();
    let next = more.then(|| list[limit as usize - 1].object_key.clone());
    Ok(Json(json!({"objects": page, "next_marker": next})).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct KeyQuery {
    /// The object's key.
    key: Option<String>,
    /// For a PUT: STANDARD, WARM or COLD (default: the bucket's).
    storage_class: Option<String>,
}

/// The bucket must be the caller's to read (a 404 otherwise) before anything about the
/// request itself is judged: a stranger learns nothing, not even that a key was missing.
async fn visible(s: &AppState, ctx: &nimbus_control::Ctx, bucket: &str) -> Result<(), Error> {
    s.control.get_bucket(ctx, bucket, "s3:ListBucket").await.map(|_| ()).map_err(hide(bucket))
}

fn key_of(q: &KeyQuery) -> Result<&str, Error> {
    q.key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::bad_request("The query parameter 'key' is required."))
}

/// Stores an object (the request body, streamed), with its `Content-Type`.
#[utoipa::path(put, path = "/v1/obs/buckets/{bucket}/object", tag = "OBS (token)",
    params(("bucket" = String, Path), KeyQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn put_object(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(bucket): Path<String>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    visible(&s, &ctx, &bucket).await?;
    let key = key_of(&q)?;
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
    let put = ObjectPut {
        content_type: text(header::CONTENT_TYPE),
        content_length: text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        storage_class: q.storage_class.clone(),
        ..Default::default()
    };
    let o = s.control.put_object(&ctx, &bucket, key, body.into_data_stream(), put).await.map_err(hide(&bucket))?;
    Ok((StatusCode::CREATED, Json(json!({"object": object_view(&o)}))).into_response())
}

/// An object's bytes, as a download (COLD objects once restored).
#[utoipa::path(get, path = "/v1/obs/buckets/{bucket}/object", tag = "OBS (token)",
    params(("bucket" = String, Path), KeyQuery),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn get_object(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(bucket): Path<String>,
    Query(q): Query<KeyQuery>,
) -> ApiResult {
    visible(&s, &ctx, &bucket).await?;
    let key = key_of(&q)?;
    let o = s.control.get_object(&ctx, &bucket, key, None, "getObject").await.map_err(hide(&bucket))?;
    readable(&o, now_ms())?;
    let stream = s.control.object_stream(&o, 0..o.size as u64).await?;
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    let ct = o.content_type.as_deref().unwrap_or("application/octet-stream");
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(o.size as u64));
    h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", o.etag)).unwrap_or(HeaderValue::from_static("")));
    let name = key.rsplit('/').next().unwrap_or(key);
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(r)
}

/// Deletes an object (a delete marker in a versioned bucket, as S3).
#[utoipa::path(delete, path = "/v1/obs/buckets/{bucket}/object", tag = "OBS (token)",
    params(("bucket" = String, Path), KeyQuery), responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_object(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(bucket): Path<String>,
    Query(q): Query<KeyQuery>,
) -> ApiResult {
    visible(&s, &ctx, &bucket).await?;
    let key = key_of(&q)?;
    s.control.delete_object(&ctx, &bucket, key, None).await.map_err(hide(&bucket))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
