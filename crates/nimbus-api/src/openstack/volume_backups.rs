//! Cinder v3 backups (`/volume/v3/{project_id}/backups`): create (full or incremental, of a
//! volume in use with `force`), list (brief and detail), show, rename (3.9), delete, and
//! restore into a detached volume or a new one; a volume made with `backup_id` is such a
//! restore. Shaped per microversion (3.43 metadata, 3.56 user_id).

use super::volume::{bool_field, metadata_field, str_field};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::openstack::compute::microversion::Microversion;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::backups::{BackupCreate, RestoreTarget};
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::backups::{Backup, BackupFilter};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

const BASE: &str = "/volume/v3/{project_id}/backups";
const ONE: &str = "/volume/v3/{project_id}/backups/{backup_id}";

pub fn routes(r: Routes) -> Routes {
    r.add("POST", BASE, A, create)
        .add("GET", BASE, A, list)
        .add("GET", "/volume/v3/{project_id}/backups/detail", A, list_detail)
        .add("GET", ONE, A, show)
        .add("PUT", ONE, A, update)
        .add("DELETE", ONE, A, delete)
        .add("POST", "/volume/v3/{project_id}/backups/{backup_id}/restore", A, restore)
        .add("POST", "/volume/v3/{project_id}/backups/{backup_id}/action", A, action)
        .add("GET", "/volume/v3/{project_id}/backups/{backup_id}/export_record", A, export_record)
        .add("POST", "/volume/v3/{project_id}/backups/import_record", A, import_record)
}

/// A backup's record, for an import elsewhere (operators only).
async fn export_record(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    let (service, url) = s.control.export_backup_record(&ctx, &id).await?;
    Ok(Json(json!({"backup-record": {"backup_service": service, "backup_url": url}})).into_response())
}

/// A backup made from an exported record (operators only): 201 with the new backup, whose
/// data a job copies.
async fn import_record(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("backup-record")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'backup-record' in request body."))?;
    let (Some(service), Some(url)) = (str_field(m, "backup_service")?, str_field(m, "backup_url")?) else {
        return Err(Error::bad_request("Invalid input received: backup_service and backup_url are required.").into());
    };
    let b = s.control.import_backup_record(&ctx, &service, &url).await?;
    Ok((StatusCode::CREATED, Json(json!({"backup": brief(&s, &b)}))).into_response())
}

fn links(s: &AppState, b: &Backup) -> Value {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    json!([{"rel": "self", "href": format!("{base}/volume/v3/{}/backups/{}", b.project_id, b.id)},
           {"rel": "bookmark", "href": format!("{base}/volume/{}/backups/{}", b.project_id, b.id)}])
}

fn brief(s: &AppState, b: &Backup) -> Value {
    json!({"id": b.id, "name": b.name, "links": links(s, b)})
}

async fn detail(s: &AppState, ctx: &Ctx, b: &Backup, mv: Microversion) -> Result<Value, Error> {
    let dependents = s
        .control
        .list_backups(
            ctx,
            BackupFilter { volume_id: Some(b.volume_id.clone()), ..Default::default() },
            true,
            &PageRequest::default(),
        )
        .await?
        .iter()
        .any(|o| o.parent_id.as_deref() == Some(b.id.as_str()));
    let mut o = json!({
        "id": b.id, "name": b.name, "description": b.description, "status": b.status,
        "availability_zone": b.availability_zone, "volume_id": b.volume_id, "size": b.size_gb,
        "object_count": b.object_count, "container": b.container,
        "created_at": usage_time(b.created_at), "updated_at": b.updated_at.map(usage_time),
        "data_timestamp": usage_time(b.data_timestamp), "snapshot_id": b.snapshot_id,
        "is_incremental": b.parent_id.is_some(), "has_dependent_backups": dependents,
        "fail_reason": b.fail_reason, "links": links(s, b),
    });
    if mv.at_least(43) {
        o["metadata"] = serde_json::from_str::<Map<String, Value>>(&b.metadata).map(Value::Object).unwrap_or(json!({}));
    }
    if mv.at_least(56) {
        o["user_id"] = json!(b.user_id);
    }
    if ctx.principal.is_admin() {
        o["os-backup-project-attr:project_id"] = json!(b.project_id);
    }
    Ok(o)
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("backup")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'backup' in request body."))?;
    let volume_id = str_field(m, "volume_id")?
        .ok_or_else(|| Error::bad_request("Invalid input received: 'volume_id' is a required property."))?;
    let req = BackupCreate {
        volume_id,
        name: str_field(m, "name")?,
        description: str_field(m, "description")?,
        incremental: bool_field(m.get("incremental"))?.unwrap_or(false),
        force: bool_field(m.get("force"))?.unwrap_or(false),
        metadata: if mv.at_least(43) { metadata_field(m.get("metadata"))? } else { Default::default() },
        snapshot_id: str_field(m, "snapshot_id")?,
        ..Default::default()
    };
    let (b, _job) = s.control.create_backup(&ctx, req).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"backup": brief(&s, &b)}))).into_response())
}

async fn listing(s: &AppState, ctx: &Ctx, q: &HashMap<String, String>, mv: Microversion, full: bool) -> ApiResult {
    let all = crate::openstack::volume_listing::all_tenants(q);
    let filter = BackupFilter {
        project_id: q.get("project_id").filter(|_| all && ctx.principal.can_read_all()).cloned(),
        volume_id: q.get("volume_id").cloned(),
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
        ..Default::default()
    };
    let page = PageRequest::parse(q.get("limit").map(String::as_str), q.get("marker").map(String::as_str))?;
    let list = s.control.list_backups(ctx, filter, all, &page).await?;
    let mut items = Vec::with_capacity(list.len());
    for b in &list {
        items.push(if full { detail(s, ctx, b, mv).await? } else { brief(s, b) });
    }
    Ok(Json(json!({"backups": items})).into_response())
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
    let b = s.control.get_backup(&ctx, &id).await?;
    Ok(Json(json!({"backup": detail(&s, &ctx, &b, mv).await?})).into_response())
}

async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    if !mv.at_least(9) {
        return Err(Error::NotFound { kind: "API", id: "backup update before 3.9".into() }.into());
    }
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("backup")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'backup' in request body."))?;
    let b = s.control.update_backup(&ctx, &id, str_field(m, "name")?, str_field(m, "description")?).await?;
    Ok(Json(json!({"backup": brief(&s, &b)})).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, id)): Path<(String, String)>) -> ApiResult {
    s.control.delete_backup(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST .../backups/{id}/action`: the operator's `os-reset_status`.
async fn action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    match doc.get("os-reset_status") {
        Some(arg) => {
            let status = arg
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Invalid input received: status is required."))?;
            s.control.reset_backup_status(&ctx, &id, status).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        None => {
            s.control.get_backup(&ctx, &id).await?;
            Err(Error::bad_request("The backup action is not supported: os-reset_status is.").into())
        }
    }
}

async fn restore(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("restore")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'restore' in request body."))?;
    let target = match str_field(m, "volume_id")? {
        Some(v) => RestoreTarget::Volume(v),
        None => RestoreTarget::New {
            name: str_field(m, "name")?,
            size_gb: None,
            volume_type: None,
            availability_zone: None,
        },
    };
    let (b, v, _job) = s.control.restore_backup(&ctx, &id, target).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"restore": {"backup_id": b.id, "volume_id": v.id, "volume_name": v.name}})))
        .into_response())
}
