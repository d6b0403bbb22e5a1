//! `/images` under compute: Nova's read-mostly view of the image catalogue (list, show,
//! delete, metadata), deprecated by Nova from microversion 2.36 but still used by older
//! clients and Tempest. It reads and writes the same catalogue as Glance.

use super::microversion::Microversion;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::images::{ImageChange, ImageView};
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::images::ImageFilter;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/images", A, list)
        .add("GET", "/compute/v2.1/images/detail", A, detail)
        .add("GET", "/compute/v2.1/images/{image_id}", A, show)
        .add("DELETE", "/compute/v2.1/images/{image_id}", A, delete)
        .add("GET", "/compute/v2.1/images/{image_id}/metadata", A, metadata_list)
        .add("PUT", "/compute/v2.1/images/{image_id}/metadata", A, metadata_replace)
        .add("POST", "/compute/v2.1/images/{image_id}/metadata", A, metadata_merge)
        .add("GET", "/compute/v2.1/images/{image_id}/metadata/{key}", A, metadata_show)
        .add("PUT", "/compute/v2.1/images/{image_id}/metadata/{key}", A, metadata_set)
        .add("DELETE", "/compute/v2.1/images/{image_id}/metadata/{key}", A, metadata_delete)
}

/// The proxy is gone from 2.36 on, as in Nova.
fn check_mv(mv: Microversion) -> Result<(), Error> {
    if mv.at_least(36) {
        Err(Error::NotFound { kind: "resource", id: "/images (removed at microversion 2.36)".into() })
    } else {
        Ok(())
    }
}

fn base(s: &AppState) -> String {
    s.control.config().public_url.trim_end_matches('/').to_string()
}

fn links(s: &AppState, id: &str) -> Value {
    let b = base(s);
    json!([{"rel": "self", "href": format!("{b}/compute/v2.1/images/{id}")},
           {"rel": "bookmark", "href": format!("{b}/compute/images/{id}")},
           {"rel": "alternate", "type": "application/vnd.openstack.image", "href": format!("{b}/image/v2/images/{id}")}])
}

fn properties(v: &ImageView) -> Map<String, Value> {
    serde_json::from_str(&v.image.properties).unwrap_or_default()
}

fn nova_status(glance: &str) -> (&'static str, i64) {
    match glance {
        "active" => ("ACTIVE", 100),
        "queued" => ("SAVING", 25),
        "saving" | "importing" => ("SAVING", 50),
        "killed" => ("ERROR", 0),
        "deleted" | "pending_delete" => ("DELETED", 0),
        _ => ("UNKNOWN", 0),
    }
}

fn doc(s: &AppState, v: &ImageView) -> Value {
    let i = &v.image;
    let props = properties(v);
    let (status, progress) = nova_status(&i.status);
    let mut d = json!({
        "id": i.id, "name": i.name, "status": status, "progress": progress,
        "minDisk": i.min_disk, "minRam": i.min_ram, "created": iso_time(i.created_at), "updated": iso_time(i.updated_at),
        "links": links(s, &i.id), "metadata": props, "OS-EXT-IMG-SIZE:size": i.size,
    });
    if let Some(server) = props.get("instance_uuid").and_then(Value::as_str) {
        let b = base(s);
        d["server"] = json!({"id": server, "links": [
            {"rel": "self", "href": format!("{b}/compute/v2.1/servers/{server}")},
            {"rel": "bookmark", "href": format!("{b}/compute/servers/{server}")}]});
    }
    d
}

async fn listing(s: &AppState, ctx: &Ctx, q: &HashMap<String, String>, detailed: bool) -> ApiResult {
    let page = PageRequest::from_query(q)?;
    let status = q.get("status").map(|v| v.to_ascii_uppercase());
    let filter = ImageFilter { name: q.get("name").cloned(), ..Default::default() };
    let changes_since = match q.get("changes-since") {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|_| Error::bad_request(format!("Invalid changes-since value {t:?}.")))?
                .timestamp_millis(),
        ),
        None => None,
    };
    let server = q.get("server").map(|v| v.rsplit('/').next().unwrap_or_default().to_string());
    let all = s.control.list_images(ctx, filter, &PageRequest { limit: Some(u32::MAX), marker: None }).await?;
    let matching: Vec<&ImageView> = all
        .iter()
        .filter(|v| status.as_deref().is_none_or(|st| nova_status(&v.image.status).0 == st))
        .filter(|v| changes_since.is_none_or(|t| v.image.updated_at >= t))
        .filter(|v| {
            let props = properties(v);
            let prop = |k: &str| props.get(k).and_then(Value::as_str).map(str::to_string);
            server.as_ref().is_none_or(|sv| prop("instance_uuid").as_ref() == Some(sv))
                && q.get("type").is_none_or(|t| prop("image_type").as_deref() == Some(t.as_str()))
        })
        .filter(|v| q.get("minRam").and_then(|m| m.parse::<i64>().ok()).is_none_or(|m| v.image.min_ram >= m))
        .filter(|v| q.get("minDisk").and_then(|m| m.parse::<i64>().ok()).is_none_or(|m| v.image.min_disk >= m))
        .collect();
    let start = match &page.marker {
        Some(m) => matching.iter().position(|v| &v.image.id == m).map(|i| i + 1).unwrap_or(matching.len()),
        None => 0,
    };
    let items: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(page.effective_limit() as usize)
        .map(|v| {
            if detailed {
                doc(s, v)
            } else {
                json!({"id": v.image.id, "name": v.image.name, "links": links(s, &v.image.id)})
            }
        })
        .collect();
    Ok(Json(json!({"images": items})).into_response())
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_mv(mv)?;
    listing(&s, &ctx, &q, false).await
}

async fn detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_mv(mv)?;
    listing(&s, &ctx, &q, true).await
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    check_mv(mv)?;
    let v = s.control.get_image(&ctx, &id).await?;
    Ok(Json(json!({"image": doc(&s, &v)})).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    check_mv(mv)?;
    s.control.delete_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// User metadata: the image's properties (Nova never shows Glance's own attributes here).
async fn metadata_of(s: &AppState, ctx: &Ctx, id: &str) -> Result<Map<String, Value>, Error> {
    Ok(properties(&s.control.get_image(ctx, id).await?))
}

fn string_items(raw: &[u8], key: &str) -> Result<Map<String, Value>, Error> {
    let body: Value = parse_json(raw)?;
    let obj = body
        .get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("The request body must contain a '{key}' object.")))?;
    for (k, v) in obj {
        if k.is_empty()
            || k.chars().count() > 255
            || !v.is_string()
            || v.as_str().is_some_and(|v| v.chars().count() > 255)
        {
            return Err(Error::bad_request(
                "Image metadata keys are 1-255 characters and values strings of at most 255.",
            ));
        }
    }
    if obj.len() > 128 {
        return Err(Error::OverQuota {
            resource: "image metadata".into(),
            limit: 128,
            in_use: 0,
            requested: obj.len() as i64,
        });
    }
    Ok(obj.clone())
}

async fn apply(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    set: Map<String, Value>,
    remove: Vec<String>,
) -> Result<Map<String, Value>, Error> {
    let mut changes: Vec<ImageChange> = remove.into_iter().map(ImageChange::Remove).collect();
    changes.extend(set.into_iter().map(|(k, v)| ImageChange::Set(k, v)));
    let v = s.control.update_image(ctx, id, changes).await?;
    Ok(properties(&v))
}

async fn metadata_list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> ApiResult {
    check_mv(mv)?;
    Ok(Json(json!({"metadata": metadata_of(&s, &ctx, &id).await?})).into_response())
}

async fn metadata_replace(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_mv(mv)?;
    let set = string_items(&raw, "metadata")?;
    let old = metadata_of(&s, &ctx, &id).await?;
    let remove: Vec<String> = old.keys().filter(|k| !set.contains_key(*k)).cloned().collect();
    let meta = apply(&s, &ctx, &id, set, remove).await?;
    Ok(Json(json!({"metadata": meta})).into_response())
}

async fn metadata_merge(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_mv(mv)?;
    let set = string_items(&raw, "metadata")?;
    let meta = apply(&s, &ctx, &id, set, Vec::new()).await?;
    Ok(Json(json!({"metadata": meta})).into_response())
}

async fn metadata_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    check_mv(mv)?;
    let meta = metadata_of(&s, &ctx, &id).await?;
    let v = meta.get(&key).ok_or_else(|| Error::not_found("image metadata item", &key))?;
    Ok(Json(json!({"meta": {key: v}})).into_response())
}

async fn metadata_set(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_mv(mv)?;
    let set = string_items(&raw, "meta")?;
    if set.len() != 1 || !set.contains_key(&key) {
        return Err(Error::bad_request("'meta' must hold exactly the key named in the URL.").into());
    }
    apply(&s, &ctx, &id, set.clone(), Vec::new()).await?;
    Ok(Json(json!({"meta": set})).into_response())
}

async fn metadata_delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    check_mv(mv)?;
    if !metadata_of(&s, &ctx, &id).await?.contains_key(&key) {
        return Err(Error::not_found("image metadata item", &key).into());
    }
    apply(&s, &ctx, &id, Map::new(), vec![key]).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
