//! Elastic Volume Service v2 / v2.1, as `huaweicloudsdkevs` calls it: create (answering a
//! job and the disk's id; `X-Client-Token` makes a retry return the first answer), show,
//! list, rename, resize (`os-extend`), delete, and the types, zones and quotas a client looks
//! up first. Every call goes to the same volume service as Cinder's API.

use super::ecs::check_project;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::{VolumeCreate, VolumeUpdate};
use nimbus_core::page::PageRequest;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::volumes::{Volume, VolumeFilter};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v2.1/{project_id}/cloudvolumes", A, create)
        .add("GET", "/v2/{project_id}/cloudvolumes/detail", A, list)
        .add("GET", "/v2/{project_id}/cloudvolumes/{volume_id}", A, show)
        .add("PUT", "/v2/{project_id}/cloudvolumes/{volume_id}", A, update)
        .add("DELETE", "/v2/{project_id}/cloudvolumes/{volume_id}", A, delete)
        .add("POST", "/v2.1/{project_id}/cloudvolumes/{volume_id}/action", A, action)
        .add("GET", "/v2/{project_id}/types", A, types)
        .add("GET", "/v2/{project_id}/os-availability-zone", A, zones)
        .add("GET", "/v2/{project_id}/cloudvolumes/{volume_id}/tags", A, show_tags)
        .add("POST", "/v2/{project_id}/cloudvolumes/{volume_id}/tags/action", A, tags_action)
        .add("GET", "/v2/{project_id}/cloudvolumes/tags", A, project_tags)
        .add("POST", "/v2/{project_id}/cloudvolumes/resource_instances/action", A, by_tags)
}

async fn disk(s: &AppState, v: &Volume) -> Result<Value, Error> {
    let vtype = s.control.volume_type_of(v).await?;
    let tags = s.control.tags_of_volumes(std::slice::from_ref(v)).await?.remove(&v.id).unwrap_or_default();
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    let attachments: Vec<Value> = s
        .control
        .volume_attachments(v)
        .await?
        .into_iter()
        .filter(|a| a.status == "attached")
        .map(|a| {
            json!({"attached_at": a.attached_at.map(usage_time), "attachment_id": a.id, "device": a.device,
                "host_name": Value::Null, "id": v.id, "server_id": a.server_id, "volume_id": v.id})
        })
        .collect();
    let metadata: Map<String, Value> = serde_json::from_str(&v.metadata).unwrap_or_default();
    Ok(json!({
        "id": v.id, "name": v.name.clone().unwrap_or_default(), "description": v.description.clone().unwrap_or_default(),
        "status": v.status, "size": v.size_gb, "volume_type": vtype.name, "availability_zone": v.availability_zone,
        "bootable": if v.bootable { "true" } else { "false" }, "multiattach": v.multiattach,
        "shareable": if v.multiattach { "true" } else { "false" }, "attachments": attachments,
        "created_at": usage_time(v.created_at), "updated_at": v.updated_at.map(usage_time),
        "os-vol-tenant-attr:tenant_id": v.project_id, "snapshot_id": v.snapshot_id, "source_volid": v.source_volid,
        "user_id": v.user_id, "metadata": metadata, "encrypted": v.encrypted(), "service_type": "EVS",
        "replication_status": "disabled", "consistencygroup_id": Value::Null, "tags": tags,
        "volume_image_metadata": serde_json::from_str::<Value>(&v.image_metadata).ok().filter(|m| v.image_id.is_some() || m.as_object().is_some_and(|o| !o.is_empty())),
        "links": [{"rel": "self", "href": format!("{base}/v2/{}/cloudvolumes/{}", v.project_id, v.id)},
                  {"rel": "bookmark", "href": format!("{base}/v2/{}/cloudvolumes/{}", v.project_id, v.id)}],
    }))
}

pub(super) fn str_of(m: &Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_request(format!("'{k}' must be a string."))),
    }
}

fn create_request(body: &Value) -> Result<VolumeCreate, Error> {
    if let Some(b) = body.get("bssParam").and_then(Value::as_object) {
        if b.get("chargingMode").and_then(Value::as_str).is_some_and(|m| m != "postPaid") {
            return Err(Error::bad_request("Only pay-per-use (postPaid) disks are sold in this region."));
        }
    }
    if body.get("server_id").is_some_and(|v| !v.is_null()) {
        return Err(Error::bad_request("Creating a disk attached to a server is not offered yet: attach it after."));
    }
    let m = body
        .get("volume")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("The request body must contain a 'volume' object."))?;
    if m.get("count").and_then(Value::as_i64).is_some_and(|c| c != 1) {
        return Err(Error::bad_request("Create disks one at a time ('count': 1) in this region."));
    }
    let size = match m.get("size") {
        Some(Value::Number(n)) => n.as_f64().map(|f| f as i64),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Error::bad_request("'size' must be an integer.")),
    };
    let metadata = match m.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(o)) => o
            .iter()
            .filter(|(k, _)| k.as_str() != "create_for_volume_id")
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    v.as_str().ok_or_else(|| Error::bad_request("Metadata values are strings."))?.to_string(),
                ))
            })
            .collect::<Result<_, Error>>()?,
        Some(_) => return Err(Error::bad_request("'metadata' must be an object.")),
    };
    Ok(VolumeCreate {
        name: str_of(m, "name")?,
        description: str_of(m, "description")?,
        size_gb: size,
        volume_type: Some(str_of(m, "volume_type")?.ok_or_else(|| Error::bad_request("'volume_type' is required."))?),
        availability_zone: str_of(m, "availability_zone")?.filter(|z| !z.is_empty()),
        metadata,
        image_id: str_of(m, "imageRef")?,
        snapshot_id: str_of(m, "snapshot_id")?,
        source_volid: None,
        backup_id: str_of(m, "backup_id")?,
        multiattach: m.get("multiattach").and_then(Value::as_bool).unwrap_or(false),
        group_id: None,
        tags: match m.get("tags") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(o)) => o
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        v.as_str().ok_or_else(|| Error::bad_request("Tag values are strings."))?.to_string(),
                    ))
                })
                .collect::<Result<_, Error>>()?,
            Some(_) => return Err(Error::bad_request("'tags' must be an object of key: value.")),
        },
    })
}

/// Creates a disk: answers its job and its id.
async fn create(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let body: Value = parse_json(&raw)?;
    let req = create_request(&body)?;
    super::idempotent(&s, &ctx, &headers, &raw, || async {
        // EVS answers an unknown type as invalid input (Cinder as a missing resource).
        let (v, job) = s.control.create_volume(&ctx, req).await.map_err(|e| match e {
            Error::NotFound { kind: "volume type", id } => {
                Error::bad_request(format!("The volume type {id:?} is not valid: use SATA, SAS or SSD."))
            }
            e => e,
        })?;
        Ok((StatusCode::ACCEPTED, json!({"job_id": job, "volume_ids": [v.id]})))
    })
    .await
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let filter = VolumeFilter {
        project_id: None,
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
        availability_zone: q.get("availability_zone").cloned(),
        group_id: None,
    };
    // An operator reading another project's disks names it in the path.
    let all = ctx.principal.project_id() != Some(project_id.as_str());
    let mut filter = filter;
    if all {
        filter.project_id = Some(project_id.clone());
    }
    let page = PageRequest::parse(q.get("limit").map(String::as_str), q.get("marker").map(String::as_str))?;
    let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    // `count` is the total the filters match, whatever the page.
    let everything = PageRequest::largest();
    let matching = s.control.list_volumes(&ctx, filter, all, &everything).await?;
    let start = match &page.marker {
        Some(m) => {
            matching.iter().position(|v| &v.id == m).map(|i| i + 1).ok_or_else(|| Error::not_found("volume", m))?
        }
        None => 0,
    };
    let mut disks = Vec::new();
    for v in matching.iter().skip(start + offset).take(page.limit.unwrap_or(1000) as usize) {
        disks.push(disk(&s, v).await?);
    }
    Ok(Json(json!({"count": matching.len(), "volumes": disks, "volumes_links": Value::Null})).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, Path((project_id, id)): Path<(String, String)>) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("volume", &id))?;
    let v = s.control.get_volume(&ctx, &id).await?;
    Ok(Json(json!({"volume": disk(&s, &v).await?})).into_response())
}

/// Renames a disk; the answer is the disk itself (not wrapped).
async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("volume", &id))?;
    let body: Value = parse_json(&raw)?;
    let m = body
        .get("volume")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("The request body must contain a 'volume' object."))?;
    let u = VolumeUpdate { name: str_of(m, "name")?, description: str_of(m, "description")? };
    if u.name.is_none() && u.description.is_none() {
        return Err(Error::bad_request("Give 'name' or 'description'.").into());
    }
    let v = s.control.update_volume(&ctx, &id, u).await?;
    Ok(Json(disk(&s, &v).await?).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("volume", &id))?;
    let job = s.control.delete_volume(&ctx, &id).await?;
    Ok(Json(json!({"job_id": job})).into_response())
}

/// `os-extend` (a resize job).
async fn action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("volume", &id))?;
    let body: Value = parse_json(&raw)?;
    let new_size =
        body.get("os-extend").and_then(|e| e.get("new_size")).and_then(Value::as_i64).ok_or_else(|| {
            Error::bad_request("The request body must contain 'os-extend' with an integer 'new_size'.")
        })?;
    // EVS expands disks in use as well as idle ones.
    let job = s.control.extend_volume(&ctx, &id, new_size, true).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"job_id": job}))).into_response())
}

async fn types(State(s): State<AppState>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let list: Vec<Value> = s
        .control
        .list_volume_types(&ctx)
        .await?
        .into_iter()
        .map(|t| {
            let specs: Map<String, Value> = serde_json::from_str(&t.extra_specs).unwrap_or_default();
            json!({"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public,
                "extra_specs": specs})
        })
        .collect();
    Ok(Json(json!({"volume_types": list})).into_response())
}

async fn zones(State(s): State<AppState>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let list: Vec<Value> = s
        .control
        .config()
        .availability_zones
        .iter()
        .map(|z| json!({"zoneName": z, "zoneState": {"available": true}}))
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": list})).into_response())
}

/// `{"tags": [{"key": k, "value": v}]}`: a disk's tags.
async fn show_tags(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, volume_id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let tags = s.control.volume_tags(&ctx, &volume_id).await?;
    let list: Vec<Value> = tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    Ok(Json(json!({"tags": list})).into_response())
}

/// `{"action": "create" | "delete", "tags": [{"key": k, "value": v}]}`: 204.
async fn tags_action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, volume_id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let body: Value = parse_json(&raw)?;
    let add = match body.get("action").and_then(Value::as_str) {
        Some("create") => true,
        Some("delete") => false,
        _ => return Err(Error::bad_request("'action' is create or delete.").into()),
    };
    let list = body
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::bad_request("'tags' must be a list of {\"key\", \"value\"}."))?;
    let mut tags = BTreeMap::new();
    for t in list {
        let key = t.get("key").and_then(Value::as_str).ok_or_else(|| Error::bad_request("Every tag has a 'key'."))?;
        let value = match t.get("value") {
            None | Some(Value::Null) if !add => "",
            Some(Value::String(v)) => v.as_str(),
            _ => return Err(Error::bad_request(format!("Tag {key:?} needs a string 'value'.")).into()),
        };
        if tags.insert(key.to_string(), value.to_string()).is_some() {
            return Err(Error::bad_request(format!("Tag {key:?} is given twice.")).into());
        }
    }
    s.control.change_volume_tags(&ctx, &volume_id, add, tags).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"tags": {key: [values]}}`: every tag of the project's disks.
async fn project_tags(State(s): State<AppState>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let tags = s.control.project_volume_tags(&ctx).await?;
    Ok(Json(json!({"tags": tags})).into_response())
}

/// The project's disks by tags: `{"action": "filter" | "count", "tags": [{"key", "values"}],
/// "matches": [{"key": "resource_name", "value"}], "limit", "offset"}`.
async fn by_tags(State(s): State<AppState>, Auth(ctx): Auth, Path(project_id): Path<String>, raw: Bytes) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let body: Value = parse_json(&raw)?;
    let count_only = match body.get("action").and_then(Value::as_str) {
        Some("filter") => false,
        Some("count") => true,
        _ => return Err(Error::bad_request("'action' is filter or count.").into()),
    };
    let mut q = nimbus_control::volumes::TagQuery::default();
    for t in body.get("tags").and_then(Value::as_array).into_iter().flatten() {
        let key = t.get("key").and_then(Value::as_str).ok_or_else(|| Error::bad_request("Every tag has a 'key'."))?;
        let values: Vec<String> = t
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        q.tags.push((key.to_string(), values));
    }
    for m in body.get("matches").and_then(Value::as_array).into_iter().flatten() {
        match (m.get("key").and_then(Value::as_str), m.get("value").and_then(Value::as_str)) {
            (Some("resource_name"), Some(v)) => q.name = Some(v.to_string()),
            _ => return Err(Error::bad_request("'matches' takes {\"key\": \"resource_name\", \"value\": ...}.").into()),
        }
    }
    let number = |k: &str, max: i64| -> Result<Option<usize>, Error> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (0..=max).contains(&n) => Ok(Some(n as usize)),
                _ => Err(Error::bad_request(format!("'{k}' must be a whole number from 0 to {max}."))),
            },
        }
    };
    q.limit = number("limit", 1000)?;
    q.offset = number("offset", i64::MAX)?.unwrap_or(0);
    let (volumes, total) = s.control.volumes_by_tags(&ctx, &q).await?;
    if count_only {
        return Ok(Json(json!({"total_count": total})).into_response());
    }
    let tags = s.control.tags_of_volumes(&volumes).await?;
    let mut resources = Vec::new();
    for v in &volumes {
        let list: Vec<Value> =
            tags.get(&v.id).into_iter().flatten().map(|(k, val)| json!({"key": k, "value": val})).collect();
        resources.push(json!({"resource_id": v.id, "resource_name": v.name.clone().unwrap_or_default(),
            "resource_detail": disk(&s, v).await?, "tags": list}));
    }
    Ok(Json(json!({"resources": resources, "total_count": total})).into_response())
}
