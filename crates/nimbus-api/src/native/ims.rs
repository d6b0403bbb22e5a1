//! Image Management Service native listing (`GET /v2/cloudimages`), shaped as
//! `huaweicloudsdkims` expects. The Glance-compatible IMS calls (`/v2/images...`) are served by
//! the Glance front end mounted at the root; both read the same image catalogue.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::images::ImageView;
use nimbus_core::page::PageRequest;
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::images::ImageFilter;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/v2/cloudimages", Access::Authenticated, list_images)
}

/// IMS image types: `gold` (public, provided by the cloud), `private` (the caller's own),
/// `shared` (shared with the caller).
fn image_type(v: &ImageView, caller: Option<&str>) -> &'static str {
    match v.image.visibility.as_str() {
        "public" => "gold",
        _ if Some(v.image.owner.as_str()) == caller => "private",
        _ => "shared",
    }
}

fn ims_doc(v: &ImageView, caller: Option<&str>) -> Value {
    let i = &v.image;
    let props: serde_json::Map<String, Value> = serde_json::from_str(&i.properties).unwrap_or_default();
    // IMS clients set `__os_version` and friends; Glance clients `os_version`: read either.
    let prop = |k: &str| {
        props.get(&format!("__{k}")).or_else(|| props.get(k)).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let os_type = match prop("os_type").as_str() {
        "windows" => "Windows",
        _ => "Linux",
    };
    json!({
        "id": i.id, "name": i.name, "status": i.status, "visibility": i.visibility, "protected": i.protected,
        "owner": i.owner, "checksum": i.checksum, "container_format": i.container_format, "disk_format": i.disk_format,
        "min_disk": i.min_disk, "min_ram": i.min_ram, "size": i.size, "virtual_size": i.virtual_size,
        "created_at": iso_time(i.created_at), "updated_at": iso_time(i.updated_at), "tags": v.tags,
        "self": format!("/v2/images/{}", i.id), "file": format!("/v2/images/{}/file", i.id), "schema": "/v2/schemas/image",
        "virtual_env_type": "FusionCompute",
        "__imagetype": image_type(v, caller),
        "__isregistered": "true",
        "__os_type": os_type,
        "__os_version": prop("os_version"),
        "__platform": prop("os_distro"),
        "__os_bit": "64",
        "__image_size": i.size.unwrap_or(0).to_string(),
        "__image_source_type": "uds",
        "__data_origin": prop("data_origin"),
        "__description": prop("description"),
        "__support_kvm": "true",
        "hw_firmware_type": if prop("hw_firmware_type").is_empty() { "bios".to_string() } else { prop("hw_firmware_type") },
    })
}

/// Lists the images the caller may see.
#[utoipa::path(get, path = "/v2/cloudimages", tag = "IMS",
    params(("__imagetype" = Option<String>, Query, description = "gold, private or shared"),
        ("name" = Option<String>, Query), ("status" = Option<String>, Query), ("visibility" = Option<String>, Query),
        ("disk_format" = Option<String>, Query), ("id" = Option<String>, Query),
        ("limit" = Option<u32>, Query), ("marker" = Option<String>, Query)),
    responses((status = 200, description = "`{\"images\": [...]}`"), (status = 400, body = super::ErrorBody)))]
pub async fn list_images(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let page = PageRequest::from_query(&q)?;
    let wanted_type = q.get("__imagetype").cloned();
    if let Some(t) = &wanted_type {
        if !["gold", "private", "shared", "market"].contains(&t.as_str()) {
            return Err(Error::bad_request("__imagetype must be gold, private, shared or market.").into());
        }
    }
    let f = ImageFilter {
        viewer: None,
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
        visibility: q.get("visibility").cloned(),
        owner: q.get("owner").cloned(),
        disk_format: q.get("disk_format").cloned(),
        tag: q.get("tag").cloned(),
        member_status: None,
    };
    let caller = ctx.principal.project_id().map(str::to_string);
    let images = s.control.list_images(&ctx, f, &page).await?;
    let images: Vec<Value> = images
        .iter()
        .filter(|v| q.get("id").is_none_or(|id| *id == v.image.id))
        .filter(|v| wanted_type.as_deref().is_none_or(|t| t == image_type(v, caller.as_deref())))
        .map(|v| ims_doc(v, caller.as_deref()))
        .collect();
    Ok(Json(json!({ "images": images })).into_response())
}
