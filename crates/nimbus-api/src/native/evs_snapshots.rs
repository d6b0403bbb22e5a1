//! EVS snapshots (`/v2/{project_id}/cloudsnapshots`), as `huaweicloudsdkevs` calls them:
//! create, show, list with `count`, rename, delete, and roll a disk back to a snapshot.
//! The same snapshot service as Cinder's `/snapshots`.

use super::ecs::check_project;
use super::evs::str_of;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::{SnapshotCreate, VolumeUpdate};
use nimbus_core::page::PageRequest;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::volumes::{Snapshot, SnapshotFilter};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v2/{project_id}/cloudsnapshots", A, create)
        .add("GET", "/v2/{project_id}/cloudsnapshots/detail", A, list)
        .add("GET", "/v2/{project_id}/cloudsnapshots/{snapshot_id}", A, show)
        .add("PUT", "/v2/{project_id}/cloudsnapshots/{snapshot_id}", A, update)
        .add("DELETE", "/v2/{project_id}/cloudsnapshots/{snapshot_id}", A, delete)
        .add("POST", "/v2/{project_id}/cloudsnapshots/{snapshot_id}/rollback", A, rollback)
}

fn view(s: &Snapshot) -> Value {
    let metadata: Map<String, Value> = serde_json::from_str(&s.metadata).unwrap_or_default();
    json!({
        "id": s.id, "status": s.status, "name": s.name.clone().unwrap_or_default(),
        "description": s.description.clone().unwrap_or_default(), "volume_id": s.volume_id, "size": s.size_gb,
        "metadata": metadata, "created_at": usage_time(s.created_at),
        "updated_at": s.updated_at.map(usage_time),
        "os-extended-snapshot-attributes:project_id": s.project_id,
        "os-extended-snapshot-attributes:progress": if s.status == "available" { "100%" } else { "0%" },
        "service_type": "EVS", "dedicated_storage_id": Value::Null, "dedicated_storage_name": Value::Null,
    })
}

fn object<'a>(body: &'a Value, key: &str) -> Result<&'a Map<String, Value>, Error> {
    body.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("The request body must contain a '{key}' object.")))
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, Path(project_id): Path<String>, raw: Bytes) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let body: Value = parse_json(&raw)?;
    let m = object(&body, "snapshot")?;
    let volume_id = str_of(m, "volume_id")?.ok_or_else(|| Error::bad_request("'volume_id' is required."))?;
    let name = str_of(m, "name")?;
    if name.as_deref().is_some_and(|n| n.starts_with("autobk_snapshot_")) {
        return Err(Error::bad_request("Names starting with autobk_snapshot_ are kept for backup snapshots.").into());
    }
    let metadata: BTreeMap<String, String> = match m.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| {
                Ok((k.clone(), v.as_str().ok_or_else(|| Error::bad_request("Metadata values are strings."))?.into()))
            })
            .collect::<Result<_, Error>>()?,
        Some(_) => return Err(Error::bad_request("'metadata' must be an object.").into()),
    };
    let req = SnapshotCreate {
        volume_id,
        name,
        description: str_of(m, "description")?,
        force: m.get("force").and_then(Value::as_bool).unwrap_or(false),
        metadata,
    };
    let (snap, _job) = s.control.create_snapshot(&ctx, req).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"snapshot": view(&snap)}))).into_response())
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let all = ctx.principal.project_id() != Some(project_id.as_str());
    let filter = SnapshotFilter {
        project_id: all.then(|| project_id.clone()),
        volume_id: q.get("volume_id").cloned(),
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
    };
    let offset: usize = match q.get("offset") {
        Some(o) => o.parse().map_err(|_| Error::bad_request("'offset' must be a non-negative integer."))?,
        None => 0,
    };
    let limit: usize = match q.get("limit") {
        Some(l) => l.parse().map_err(|_| Error::bad_request("'limit' must be a non-negative integer."))?,
        None => 1000,
    };
    // `count` is the total the filters match, whatever the page.
    let everything = PageRequest::largest();
    let matching = s.control.list_snapshots(&ctx, filter, all, &everything).await?;
    let page: Vec<Value> = matching.iter().skip(offset).take(limit).map(view).collect();
    Ok(Json(json!({"count": matching.len(), "snapshots": page, "snapshots_links": Value::Null})).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, Path((project_id, id)): Path<(String, String)>) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("snapshot", &id))?;
    let snap = s.control.get_snapshot(&ctx, &id).await?;
    Ok(Json(json!({"snapshot": view(&snap)})).into_response())
}

async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("snapshot", &id))?;
    let body: Value = parse_json(&raw)?;
    let m = object(&body, "snapshot")?;
    let (name, description) = (str_of(m, "name")?, str_of(m, "description")?);
    if name.is_none() && description.is_none() {
        return Err(Error::bad_request("Give 'name' or 'description'.").into());
    }
    let snap = s.control.update_snapshot(&ctx, &id, name, description, None, None).await?;
    Ok(Json(json!({"snapshot": view(&snap)})).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("snapshot", &id))?;
    s.control.delete_snapshot(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Rolls a disk back to this snapshot (its latest; the disk must be detached), renaming it
/// if `name` is given.
async fn rollback(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("snapshot", &id))?;
    let body: Value = parse_json(&raw)?;
    let m = object(&body, "rollback")?;
    let volume_id = str_of(m, "volume_id")?.ok_or_else(|| Error::bad_request("'volume_id' is required."))?;
    let name = str_of(m, "name")?;
    s.control.revert_volume(&ctx, &volume_id, &id).await?;
    if name.is_some() {
        s.control.update_volume(&ctx, &volume_id, VolumeUpdate { name, description: None }).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"rollback": {"volume_id": volume_id}}))).into_response())
}
