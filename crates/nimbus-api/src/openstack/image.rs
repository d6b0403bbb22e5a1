//! Glance v2 (`/image`): images, their data, tags and members, as the `openstack image`
//! commands and openstacksdk use them.

use crate::auth::Auth;
use crate::body::{take_bool, take_str};
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nimbus_control::images::{ImageChange, ImageCreate, ImageView};
use nimbus_core::page::PageRequest;
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::images::{ImageFilter, Member};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::{Authenticated as A, Public as P};

/// Glance's routes, relative to where they are mounted: under `/image` for OpenStack clients
/// (the catalogue URL) and at the root for the Huawei IMS SDK, whose Glance-compatible calls
/// use `/v2/images` on the bare endpoint.
pub fn routes() -> Routes {
    Routes::default()
        .add("GET", "/v2/schemas/image", P, image_schema)
        .add("GET", "/v2/images", A, list)
        .add("POST", "/v2/images", A, create)
        .add("GET", "/v2/images/{image_id}", A, show)
        .add("PATCH", "/v2/images/{image_id}", A, update)
        .add("DELETE", "/v2/images/{image_id}", A, delete)
        .add("PUT", "/v2/images/{image_id}/file", A, upload)
        .add("GET", "/v2/images/{image_id}/file", A, download)
        .add("POST", "/v2/images/{image_id}/actions/deactivate", A, deactivate)
        .add("POST", "/v2/images/{image_id}/actions/reactivate", A, reactivate)
        .add("PUT", "/v2/images/{image_id}/tags/{tag}", A, add_tag)
        .add("DELETE", "/v2/images/{image_id}/tags/{tag}", A, remove_tag)
        .add("GET", "/v2/images/{image_id}/members", A, list_members)
        .add("GET", "/v2/images/{image_id}/tasks", A, list_tasks)
        .add("POST", "/v2/images/{image_id}/members", A, add_member)
        .add("GET", "/v2/images/{image_id}/members/{member_id}", A, show_member)
        .add("PUT", "/v2/images/{image_id}/members/{member_id}", A, update_member)
        .add("DELETE", "/v2/images/{image_id}/members/{member_id}", A, remove_member)
}

/// `GET /image`: the version list.
pub async fn versions(State(s): State<AppState>) -> Response {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    let v = |id: &str, status: &str| json!({"id": id, "status": status, "links": [{"rel": "self", "href": format!("{base}/image/v2/")}]});
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": [v("v2.16", "CURRENT"), v("v2.0", "SUPPORTED")]})))
        .into_response()
}

async fn image_schema() -> Response {
    Json(json!({"name": "image", "additionalProperties": {"type": "string"}, "properties": {
        "id": {"type": "string"}, "name": {"type": ["null", "string"]}, "status": {"type": "string"},
        "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"]},
        "protected": {"type": "boolean"}, "checksum": {"type": ["null", "string"]},
        "owner": {"type": ["null", "string"]}, "size": {"type": ["null", "integer"]},
        "virtual_size": {"type": ["null", "integer"]}, "min_ram": {"type": "integer"}, "min_disk": {"type": "integer"},
        "disk_format": {"type": ["null", "string"]}, "container_format": {"type": ["null", "string"]},
        "tags": {"type": "array", "items": {"type": "string"}}}}))
    .into_response()
}

/// The Glance document of an image: attributes, then its properties at the top level.
fn doc(v: &ImageView) -> Value {
    let i = &v.image;
    let mut out = json!({
        "id": i.id, "name": if i.name.is_empty() { Value::Null } else { json!(i.name) },
        "status": i.status, "visibility": i.visibility, "protected": i.protected, "os_hidden": false,
        "checksum": i.checksum, "os_hash_algo": i.os_hash_algo, "os_hash_value": i.os_hash_value,
        "owner": i.owner, "size": i.size, "virtual_size": i.virtual_size, "min_ram": i.min_ram, "min_disk": i.min_disk,
        "disk_format": i.disk_format, "container_format": i.container_format,
        "created_at": iso_time(i.created_at), "updated_at": iso_time(i.updated_at), "tags": v.tags,
        "self": format!("/v2/images/{}", i.id), "file": format!("/v2/images/{}/file", i.id), "schema": "/v2/schemas/image",
    });
    if let (Value::Object(o), Ok(Value::Object(props))) = (&mut out, serde_json::from_str::<Value>(&i.properties)) {
        for (k, v) in props {
            o.entry(k).or_insert(v);
        }
    }
    out
}

fn member_doc(m: &Member) -> Value {
    json!({"image_id": m.image_id, "member_id": m.member_id, "status": m.status,
           "created_at": iso_time(m.created_at), "updated_at": iso_time(m.updated_at), "schema": "/v2/schemas/member"})
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let page = PageRequest::from_query(&q)?;
    let f = ImageFilter {
        viewer: None,
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
        visibility: q.get("visibility").filter(|v| *v != "all").cloned(),
        owner: q.get("owner").cloned(),
        disk_format: q.get("disk_format").cloned(),
        tag: q.get("tag").cloned(),
        member_status: match q.get("member_status").map(String::as_str) {
            None => None,
            Some(m @ ("all" | "pending" | "accepted" | "rejected")) => Some(m.to_string()),
            Some(other) => return Err(Error::bad_request(format!("Invalid member_status {other:?}.")).into()),
        },
    };
    let list = s.control.list_images(&ctx, f, &page).await?;
    let mut body = json!({"images": list.iter().map(doc).collect::<Vec<_>>(), "schema": "/v2/schemas/images",
                          "first": "/v2/images"});
    if page.limit.is_some_and(|l| list.len() as u32 >= l) {
        if let Some(last) = list.last() {
            body["next"] = json!(format!("/v2/images?marker={}&limit={}", last.image.id, page.effective_limit()));
        }
    }
    Ok(Json(body).into_response())
}

fn take_int(m: &mut Map<String, Value>, k: &str) -> Result<Option<i64>, Error> {
    match m.remove(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| Error::bad_request(format!("'{k}' must be an integer."))),
    }
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    let Value::Object(mut m) = parse_json::<Value>(&raw)? else {
        return Err(Error::bad_request("The request body must be a JSON object.").into());
    };
    let protected = take_bool(&mut m, "protected")?;
    let tags = match m.remove("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v).map_err(|_| Error::bad_request("'tags' must be a list of strings."))?,
    };
    let req = ImageCreate {
        id: take_str(&mut m, "id")?,
        name: take_str(&mut m, "name")?,
        visibility: take_str(&mut m, "visibility")?,
        protected,
        disk_format: take_str(&mut m, "disk_format")?,
        container_format: take_str(&mut m, "container_format")?,
        min_disk: take_int(&mut m, "min_disk")?,
        min_ram: take_int(&mut m, "min_ram")?,
        tags,
        properties: m,
    };
    for (k, v) in &req.properties {
        if !v.is_string() {
            return Err(Error::bad_request(format!("Property '{k}' must be a string.")).into());
        }
    }
    let v = s.control.create_image(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(doc(&v))).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    Ok(Json(doc(&s.control.get_image(&ctx, &id).await?)).into_response())
}

/// `PATCH` with `application/openstack-images-v2.1-json-patch`.
async fn update(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, raw: Bytes) -> ApiResult {
    let ops: Vec<Value> = parse_json(&raw)?;
    let mut changes = Vec::new();
    for op in ops {
        // v2.1 patches say {"op": "replace", "path": "/x"}; v2.0 ones {"replace": "/x"}.
        let (name, path) = match (op["op"].as_str(), op["path"].as_str()) {
            (Some(name), Some(path)) => (name, path),
            _ => ["add", "replace", "remove"]
                .iter()
                .find_map(|k| op[*k].as_str().map(|p| (*k, p)))
                .ok_or_else(|| Error::bad_request("Each change needs an 'op' and a 'path'."))?,
        };
        let key = path
            .strip_prefix('/')
            .filter(|k| !k.is_empty() && !k.contains('/'))
            .ok_or_else(|| Error::bad_request(format!("Invalid path {path:?}: use '/attribute'.")))?;
        let key = key.replace("~1", "/").replace("~0", "~");
        changes.push(match name {
            "add" | "replace" => ImageChange::Set(
                key,
                op.get("value").cloned().ok_or_else(|| Error::bad_request("'value' is required."))?,
            ),
            "remove" => ImageChange::Remove(key),
            other => return Err(Error::bad_request(format!("Unsupported op {other:?}.")).into()),
        });
    }
    Ok(Json(doc(&s.control.update_image(&ctx, &id, changes).await?)).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Streams the body to disk (no size limit but the region's `max_image_size`).
async fn upload(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Body) -> ApiResult {
    s.control.upload_image(&ctx, &id, body.into_data_stream()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn download(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let Some((path, image)) = s.control.image_data(&ctx, &id).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let file = tokio::fs::File::open(&path).await.map_err(|e| Error::Internal(format!("opening image data: {e}")))?;
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut r = Response::new(Body::from_stream(stream));
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Some(size) = image.size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size as u64));
    }
    if let Some(md5) = image.checksum.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert("content-md5", md5);
    }
    Ok(r)
}

async fn deactivate(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.set_image_deactivated(&ctx, &id, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reactivate(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.set_image_deactivated(&ctx, &id, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn add_tag(State(s): State<AppState>, Auth(ctx): Auth, Path((id, tag)): Path<(String, String)>) -> ApiResult {
    s.control.tag_image(&ctx, &id, &tag, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_tag(State(s): State<AppState>, Auth(ctx): Auth, Path((id, tag)): Path<(String, String)>) -> ApiResult {
    s.control.tag_image(&ctx, &id, &tag, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_members(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let list = s.control.list_image_members(&ctx, &id).await?;
    Ok(Json(json!({"members": list.iter().map(member_doc).collect::<Vec<_>>(), "schema": "/v2/schemas/members"}))
        .into_response())
}

async fn add_member(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, raw: Bytes) -> ApiResult {
    let v: Value = parse_json(&raw)?;
    let member = v["member"].as_str().ok_or_else(|| Error::bad_request("'member' (a project id) is required."))?;
    let m = s.control.add_image_member(&ctx, &id, member).await?;
    Ok(Json(member_doc(&m)).into_response())
}

async fn show_member(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult {
    Ok(Json(member_doc(&s.control.get_image_member(&ctx, &id, &member).await?)).into_response())
}

async fn update_member(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let v: Value = parse_json(&raw)?;
    let status = v["status"].as_str().ok_or_else(|| Error::bad_request("'status' is required."))?;
    Ok(Json(member_doc(&s.control.set_image_member_status(&ctx, &id, &member, status).await?)).into_response())
}

async fn remove_member(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult {
    s.control.remove_image_member(&ctx, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Glance 2.12 lists an image's import tasks; images here are uploaded directly, so never have
/// any.
async fn list_tasks(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.get_image(&ctx, &id).await?;
    Ok(Json(serde_json::json!({"tasks": []})).into_response())
}
