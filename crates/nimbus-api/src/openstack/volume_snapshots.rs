//! Cinder v3 snapshots (`/volume/v3/{project_id}/snapshots`): create (of an in-use volume
//! with `force`, implied from 3.66), list (brief and detail), show, update, metadata and
//! delete, over the same `Control` methods as EVS `cloudsnapshots`.

use super::volume::{bool_field, metadata_field, str_field};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::openstack::compute::microversion::Microversion;
use crate::openstack::volume_listing::{ListParams, SortValue};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::SnapshotCreate;
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::volumes::{Snapshot, SnapshotFilter};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

const BASE: &str = "/volume/v3/{project_id}/snapshots";
const ONE: &str = "/volume/v3/{project_id}/snapshots/{snapshot_id}";
const META: &str = "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata";
const META_KEY: &str = "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}";

pub fn routes(r: Routes) -> Routes {
    r.add("POST", BASE, A, create)
        .add("GET", BASE, A, list)
        .add("GET", "/volume/v3/{project_id}/snapshots/detail", A, list_detail)
        .add("GET", ONE, A, show)
        .add("PUT", ONE, A, update)
        .add("DELETE", ONE, A, delete)
        .add("POST", "/volume/v3/{project_id}/snapshots/{snapshot_id}/action", A, action)
        .add("GET", META, A, show_metadata)
        .add("POST", META, A, merge_metadata)
        .add("PUT", META, A, replace_metadata)
        .add("GET", META_KEY, A, show_metadata_key)
        .add("PUT", META_KEY, A, put_metadata_key)
        .add("DELETE", META_KEY, A, delete_metadata_key)
}

/// A snapshot as Cinder shows it (`detail` adds the extended attributes).
pub fn snapshot_view(s: &Snapshot, mv: Microversion, detail: bool) -> Value {
    let metadata: Map<String, Value> = serde_json::from_str(&s.metadata).unwrap_or_default();
    let mut o = json!({
        "id": s.id, "name": s.name, "description": s.description, "volume_id": s.volume_id,
        "status": s.status, "size": s.size_gb, "metadata": metadata,
        "created_at": usage_time(s.created_at), "updated_at": s.updated_at.map(usage_time),
    });
    if mv.at_least(14) {
        o["group_snapshot_id"] = json!(s.group_snapshot_id);
    }
    if mv.at_least(41) {
        o["user_id"] = json!(s.user_id);
    }
    if mv.at_least(65) {
        o["consumes_quota"] = json!(true);
    }
    if detail {
        let derived = if s.status == "available" { "100%" } else { "0%" };
        let progress = s.progress.as_deref().unwrap_or(derived);
        o["os-extended-snapshot-attributes:progress"] = json!(progress);
        o["os-extended-snapshot-attributes:project_id"] = json!(s.project_id);
    }
    o
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("snapshot")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'snapshot' in request body."))?;
    // A null volume id names no volume (Cinder: 404); a missing one is malformed.
    if m.get("volume_id").is_some_and(Value::is_null) {
        return Err(Error::not_found("volume", "None").into());
    }
    let volume_id = str_field(m, "volume_id")?
        .ok_or_else(|| Error::bad_request("Invalid input received: 'volume_id' is a required property."))?;
    let force = bool_field(m.get("force"))?;
    // From 3.66 a volume in use is snapshotted without asking, and force=false is refused.
    if mv.at_least(66) && force == Some(false) {
        return Err(Error::bad_request("Invalid input received: the 'force' flag is invalid for this request.").into());
    }
    let req = SnapshotCreate {
        volume_id,
        name: str_field(m, "name")?.or(str_field(m, "display_name")?),
        description: str_field(m, "description")?.or(str_field(m, "display_description")?),
        force: mv.at_least(66) || force == Some(true),
        metadata: metadata_field(m.get("metadata"))?,
    };
    let (snap, _job) = s.control.create_snapshot(&ctx, req).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"snapshot": snapshot_view(&snap, mv, false)}))).into_response())
}

/// Keys snapshot lists sort by.
const SNAPSHOT_SORT_KEYS: &[&str] = &["id", "name", "size", "status", "created_at", "updated_at", "volume_id"];

fn sort_value(x: &Snapshot, key: &str) -> SortValue {
    match key {
        "id" => SortValue::Text(x.id.clone()),
        "name" => x.name.clone().into(),
        "size" => SortValue::Int(x.size_gb),
        "status" => SortValue::Text(x.status.clone()),
        "created_at" => SortValue::Int(x.created_at),
        "updated_at" => x.updated_at.map_or(SortValue::Null, SortValue::Int),
        _ => SortValue::Text(x.volume_id.clone()),
    }
}

async fn listing(s: &AppState, ctx: &Ctx, q: &HashMap<String, String>, mv: Microversion, detail: bool) -> ApiResult {
    let all = crate::openstack::volume_listing::all_tenants(q);
    let filter = SnapshotFilter {
        project_id: q.get("project_id").filter(|_| all && ctx.principal.can_read_all()).cloned(),
        volume_id: q.get("volume_id").cloned(),
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
    };
    let params = ListParams::parse(q, SNAPSHOT_SORT_KEYS)?;
    let list = if params.in_memory() || params.empty {
        let every = s.control.list_snapshots(ctx, filter, all, &PageRequest::largest()).await?;
        params.cut(every, |x| &x.id, sort_value)?
    } else {
        s.control.list_snapshots(ctx, filter, all, &params.page).await?
    };
    let items: Vec<Value> = list.iter().map(|x| snapshot_view(x, mv, detail)).collect();
    Ok(Json(json!({"snapshots": items})).into_response())
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    listing(&s, &ctx, &q, mv, false).await
}

async fn list_detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    listing(&s, &ctx, &q, mv, true).await
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    let snap = s.control.get_snapshot(&ctx, &id).await?;
    Ok(Json(json!({"snapshot": snapshot_view(&snap, mv, true)})).into_response())
}

async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("snapshot")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'snapshot' in request body."))?;
    let name = str_field(m, "name")?.or(str_field(m, "display_name")?);
    let description = str_field(m, "description")?.or(str_field(m, "display_description")?);
    let snap = s.control.update_snapshot(&ctx, &id, name, description, None, None).await?;
    // Cinder answers an update with the summary view (no extended attributes).
    Ok(Json(json!({"snapshot": snapshot_view(&snap, mv, false)})).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, id)): Path<(String, String)>) -> ApiResult {
    s.control.delete_snapshot(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn metadata_of(snap: &Snapshot) -> Map<String, Value> {
    serde_json::from_str(&snap.metadata).unwrap_or_default()
}

async fn show_metadata(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    let snap = s.control.get_snapshot(&ctx, &id).await?;
    Ok(Json(json!({"metadata": metadata_of(&snap)})).into_response())
}

async fn write_metadata(s: &AppState, ctx: &Ctx, id: &str, body: &[u8], replace: bool) -> ApiResult {
    let doc: Value = parse_json(body)?;
    let set = metadata_field(Some(doc.get("metadata").unwrap_or(&Value::Null)))?;
    let snap = s.control.update_snapshot(ctx, id, None, None, Some((set, replace)), None).await?;
    Ok(Json(json!({"metadata": metadata_of(&snap)})).into_response())
}

async fn merge_metadata(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    write_metadata(&s, &ctx, &id, &body, false).await
}

async fn replace_metadata(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    write_metadata(&s, &ctx, &id, &body, true).await
}

async fn show_metadata_key(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    let snap = s.control.get_snapshot(&ctx, &id).await?;
    let value = metadata_of(&snap).remove(&key).ok_or_else(|| Error::not_found("metadata key", &key))?;
    Ok(Json(json!({"meta": {key: value}})).into_response())
}

async fn put_metadata_key(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id, key)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let meta = metadata_field(Some(doc.get("meta").unwrap_or(&Value::Null)))?;
    if meta.len() != 1 || !meta.contains_key(&key) {
        return Err(Error::bad_request("Request body and URI mismatch: give exactly the key of the path.").into());
    }
    s.control.update_snapshot(&ctx, &id, None, None, Some((meta.clone(), false)), None).await?;
    Ok(Json(json!({"meta": meta})).into_response())
}

async fn delete_metadata_key(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    s.control.update_snapshot(&ctx, &id, None, None, None, Some(&key)).await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST .../snapshots/{id}/action`: the operator's `os-reset_status` and `os-force_delete`,
/// and `os-update_snapshot_status` (a hypervisor reporting on a snapshot it makes).
async fn action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc.as_object().filter(|m| m.len() == 1).ok_or_else(|| Error::bad_request("Give exactly one action."))?;
    let (name, arg) = m.iter().next().expect("one entry");
    let status = || {
        arg.get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::bad_request("Invalid input received: status is required."))
    };
    match name.as_str() {
        "os-reset_status" => {
            s.control.reset_snapshot_status(&ctx, &id, status()?).await?;
        }
        "os-update_snapshot_status" => {
            let progress = arg.get("progress").and_then(Value::as_str).map(str::to_string);
            s.control.update_snapshot_status(&ctx, &id, status()?, progress).await?;
        }
        "os-force_delete" => {
            s.control.force_delete_snapshot(&ctx, &id).await?;
        }
        other => {
            s.control.get_snapshot(&ctx, &id).await?;
            return Err(Error::bad_request(format!("The snapshot action {other:?} is not supported.")).into());
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
