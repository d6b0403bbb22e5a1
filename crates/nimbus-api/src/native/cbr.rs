//! Cloud Backup and Recovery v3 (`/v3/{project_id}/vaults|policies|checkpoints|backups`), as
//! `huaweicloudsdkcbr` calls it: disk and server vaults with their resources, policies bound
//! to vaults, checkpoints ("back up now"), backups listed, shown, renamed, deleted and
//! restored. A disk backup is the same backup Cinder's API shows; a server backup is one
//! server's disks backed up together in a checkpoint, its disks' backups as its children,
//! restored into the server's disks together.

use super::ecs::check_project;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::backups::{
    CheckpointParams, CheckpointView, PolicyChange, RestoreTarget, ServerBackup, ServerRestore, VaultCreate,
    VaultUpdate, VaultView, DISK_TYPE, SERVER_TYPE,
};
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::backups::{Backup, BackupFilter, Policy};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

use Access::Authenticated as A;

/// Huawei's provider id of disk backups.
const DISK_PROVIDER: &str = "d1603440-187d-4516-af25-121250c7cc97";
/// Huawei's provider id of server backups.
const SERVER_PROVIDER: &str = "0daac4c5-6707-4851-97ba-169e36266b66";

/// A CBR request or answer document (see Huawei's CBR API for its fields).
#[derive(Serialize, ToSchema)]
pub struct CbrDoc {
    #[schema(value_type = Object)]
    pub doc: Value,
}

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v3/{project_id}/vaults", A, create_vault)
        .add("GET", "/v3/{project_id}/vaults", A, list_vaults)
        .add("GET", "/v3/{project_id}/vaults/{vault_id}", A, show_vault)
        .add("PUT", "/v3/{project_id}/vaults/{vault_id}", A, update_vault)
        .add("DELETE", "/v3/{project_id}/vaults/{vault_id}", A, delete_vault)
        .add("POST", "/v3/{project_id}/vaults/{vault_id}/addresources", A, add_resources)
        .add("POST", "/v3/{project_id}/vaults/{vault_id}/removeresources", A, remove_resources)
        .add("POST", "/v3/{project_id}/vaults/{vault_id}/associatepolicy", A, associate_policy)
        .add("POST", "/v3/{project_id}/vaults/{vault_id}/dissociatepolicy", A, dissociate_policy)
        .add("POST", "/v3/{project_id}/policies", A, create_policy)
        .add("GET", "/v3/{project_id}/policies", A, list_policies)
        .add("GET", "/v3/{project_id}/policies/{policy_id}", A, show_policy)
        .add("PUT", "/v3/{project_id}/policies/{policy_id}", A, update_policy)
        .add("DELETE", "/v3/{project_id}/policies/{policy_id}", A, delete_policy)
        .add("POST", "/v3/{project_id}/checkpoints", A, create_checkpoint)
        .add("GET", "/v3/{project_id}/checkpoints/{checkpoint_id}", A, show_checkpoint)
        .add("GET", "/v3/{project_id}/backups", A, list_backups)
        .add("GET", "/v3/{project_id}/backups/{backup_id}", A, show_backup)
        .add("PUT", "/v3/{project_id}/backups/{backup_id}", A, update_backup)
        .add("DELETE", "/v3/{project_id}/backups/{backup_id}", A, delete_backup)
        .add("POST", "/v3/{project_id}/backups/{backup_id}/restore", A, restore_backup)
}

fn obj<'a>(body: &'a Value, key: &str) -> Result<&'a Map<String, Value>, Error> {
    body.get(key).and_then(Value::as_object).ok_or_else(|| Error::bad_request(format!("'{key}' object required.")))
}

fn text(m: &Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_request(format!("'{k}' must be a string."))),
    }
}

fn resources_of(v: Option<&Value>) -> Result<Vec<(String, String)>, Error> {
    let Some(list) = v.and_then(Value::as_array) else { return Ok(Vec::new()) };
    list.iter()
        .map(|r| match (r["id"].as_str(), r["type"].as_str()) {
            (Some(id), Some(t)) => Ok((id.to_string(), t.to_string())),
            _ => Err(Error::bad_request("Each resource needs 'id' and 'type'.")),
        })
        .collect()
}

fn vault_doc(v: &VaultView) -> Value {
    let vault = &v.vault;
    let resources: Vec<Value> = v
        .resources
        .iter()
        .map(|(r, size, count, stored)| {
            json!({"id": r.resource_id, "name": r.resource_id, "type": r.resource_type, "protect_status": "available",
                   "size": size, "backup_size": stored >> 20, "backup_count": count, "auto_protect": false,
                   "extra_info": {}})
        })
        .collect();
    json!({
        "id": vault.id, "name": vault.name, "description": vault.description, "project_id": vault.project_id,
        "provider_id": DISK_PROVIDER, "user_id": vault.user_id, "enterprise_project_id": "0",
        "created_at": usage_time(vault.created_at),
        "billing": {"allocated": vault.size_gb, "charging_mode": "post_paid", "cloud_type": "public",
                    "consistent_level": vault.consistent_level, "object_type": vault.object_type,
                    "order_id": null, "product_id": null, "protect_type": "backup", "size": vault.size_gb,
                    "spec_code": "vault.backup.volume.normal", "status": "available", "storage_unit": null,
                    "used": v.used_bytes >> 20, "frozen_scene": null, "is_multi_az": false},
        "resources": resources, "tags": [], "auto_bind": false, "bind_rules": {}, "auto_expand": vault.auto_expand,
        "smn_notify": true, "threshold": vault.threshold, "sys_lock_source_service": null, "locked": false,
        "availability_zone": null, "policy_id": v.policy_id,
    })
}

fn policy_doc(p: &Policy, vaults: &[String]) -> Value {
    let patterns: Value = serde_json::from_str(&p.patterns).unwrap_or(json!([]));
    let definition: Value = serde_json::from_str(&p.operation_definition).unwrap_or(json!({}));
    let start = chrono::DateTime::from_timestamp_millis(p.created_at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    json!({
        "id": p.id, "name": p.name, "enabled": p.enabled, "operation_type": p.operation_type,
        "operation_definition": definition, "policy_type": "custom_policy",
        "trigger": {"id": format!("trigger-{}", p.id), "name": "default", "type": "time",
                    "properties": {"pattern": patterns, "start_time": start,
                                   "start_window_minutes": p.start_window_minutes}},
        "associated_vaults": vaults.iter().map(|v| json!({"vault_id": v, "destination_vault_id": null})).collect::<Vec<_>>(),
    })
}

/// CBR's word for a backup status (Cinder's `creating` is CBR's `protecting`).
fn cbr_status(status: &str) -> &str {
    match status {
        "creating" => "protecting",
        "error_deleting" | "error_restoring" => "error",
        other => other,
    }
}

fn backup_doc(b: &Backup) -> Value {
    json!({
        "id": b.id, "checkpoint_id": b.checkpoint_id, "vault_id": b.vault_id, "project_id": b.project_id,
        "name": b.name, "description": b.description, "resource_id": b.volume_id, "resource_name": b.volume_id,
        "resource_az": b.availability_zone, "resource_type": DISK_TYPE, "resource_size": b.size_gb,
        "parent_id": b.parent_id, "enterprise_project_id": "0", "scheduled_operation_id": null,
        "status": cbr_status(&b.status), "image_type": "backup", "provider_id": DISK_PROVIDER,
        "created_at": usage_time(b.created_at), "updated_at": b.updated_at.map(usage_time),
        "protected_at": usage_time(b.data_timestamp), "expired_at": null,
        "extend_info": {"auto_trigger": b.auto_trigger, "bootable": false, "snapshot_id": null, "support_lld": false,
                        "supported_restore_mode": "backup", "os_images_data": [], "contain_system_disk": false,
                        // An encrypted disk's backup (all backups are sealed at rest).
                        "encrypted": b.encryption_key_id.is_some(), "system_disk": false, "is_multi_az": false,
                        // The server whose disks were backed up together with this one.
                        "server_id": b.server_id},
        "children": [], "replication_records": [], "incremental": b.parent_id.is_some(), "version": 1,
    })
}

/// A server backup; its disks' backups as `children` when shown alone (lists leave them
/// out, as Huawei's do).
fn server_backup_doc(sb: &ServerBackup, with_children: bool) -> Value {
    let children: Vec<Value> = if with_children { sb.children.iter().map(backup_doc).collect() } else { Vec::new() };
    json!({
        "id": sb.id, "checkpoint_id": sb.checkpoint_id, "vault_id": sb.vault_id(), "project_id": sb.project_id(),
        "name": sb.name(), "description": sb.description(), "resource_id": sb.server_id,
        "resource_name": sb.server_name, "resource_az": sb.availability_zone(), "resource_type": SERVER_TYPE,
        "resource_size": sb.size_gb(), "parent_id": null, "enterprise_project_id": "0",
        "scheduled_operation_id": null, "status": cbr_status(sb.status()), "image_type": "backup",
        "provider_id": SERVER_PROVIDER, "created_at": usage_time(sb.created_at()),
        "updated_at": sb.updated_at().map(usage_time), "protected_at": usage_time(sb.data_timestamp()),
        "expired_at": null,
        "extend_info": {"auto_trigger": sb.auto_trigger(), "bootable": false, "snapshot_id": null,
                        "support_lld": false, "supported_restore_mode": "backup", "os_images_data": [],
                        "contain_system_disk": false, "encrypted": sb.encrypted(), "system_disk": false,
                        "is_multi_az": false},
        "children": children, "replication_records": [], "incremental": sb.incremental(), "version": 1,
    })
}

fn checkpoint_doc(k: &CheckpointView) -> Value {
    let skipped: Value = serde_json::from_str(&k.checkpoint.skipped).unwrap_or(json!([]));
    // A server checkpoint's resources are its servers, each with its disks' backups.
    // (id, type, GB, stored bytes, backups)
    let mut resources: Vec<(String, &str, i64, i64, usize)> = Vec::new();
    for b in &k.backups {
        let (id, kind) = match &b.server_id {
            Some(server) => (server.clone(), SERVER_TYPE),
            None => (b.volume_id.clone(), DISK_TYPE),
        };
        match resources.iter_mut().find(|r| r.0 == id) {
            Some(r) => {
                r.2 += b.size_gb;
                r.3 += b.stored_bytes;
                r.4 += 1;
            }
            None => resources.push((id, kind, b.size_gb, b.stored_bytes, 1)),
        }
    }
    let resources: Vec<Value> = resources
        .iter()
        .map(|(id, kind, size_gb, stored, count)| {
            json!({"id": id, "name": id, "type": kind, "protect_status": "available",
                   "resource_size": size_gb.to_string(), "backup_size": (stored >> 20).to_string(),
                   "backup_count": count.to_string(), "extra_info": null})
        })
        .collect();
    json!({
        "id": k.checkpoint.id, "project_id": k.checkpoint.project_id, "status": k.status,
        "created_at": usage_time(k.checkpoint.created_at),
        "vault": {"id": k.vault.id, "name": k.vault.name, "resources": resources, "skipped_resources": skipped},
        "extra_info": {"name": k.checkpoint.name, "description": k.checkpoint.description, "retention_duration": -1},
    })
}

/// Creates a disk vault.
#[utoipa::path(post, path = "/v3/{project_id}/vaults", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_vault(State(s): State<AppState>, Auth(ctx): Auth, Path(p): Path<String>, raw: Bytes) -> ApiResult {
    check_project(&ctx, &p, true)?;
    let body: Value = parse_json(&raw)?;
    let v = obj(&body, "vault")?;
    let billing =
        v.get("billing").and_then(Value::as_object).ok_or_else(|| Error::bad_request("'billing' is required."))?;
    let req = VaultCreate {
        name: text(v, "name")?.ok_or_else(|| Error::bad_request("'name' is required."))?,
        description: text(v, "description")?,
        object_type: text(billing, "object_type")?
            .ok_or_else(|| Error::bad_request("'billing.object_type' is required."))?,
        protect_type: text(billing, "protect_type")?.unwrap_or_else(|| "backup".into()),
        consistent_level: text(billing, "consistent_level")?.unwrap_or_else(|| "crash_consistent".into()),
        charging_mode: text(billing, "charging_mode")?,
        size_gb: billing
            .get("size")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::bad_request("'billing.size' is required."))?,
        auto_expand: v.get("auto_expand").and_then(Value::as_bool).unwrap_or(false),
        threshold: v.get("threshold").and_then(Value::as_i64),
        resources: resources_of(v.get("resources"))?,
        policy_id: text(v, "backup_policy_id")?,
    };
    let view = s.control.create_vault(&ctx, req).await?;
    Ok(Json(json!({"vault": vault_doc(&view)})).into_response())
}

/// Lists the project's vaults.
#[utoipa::path(get, path = "/v3/{project_id}/vaults", tag = "CBR",
    params(("project_id" = String, Path), ("object_type" = Option<String>, Query), ("name" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = CbrDoc)))]
pub async fn list_vaults(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &p, false)?;
    let all = s.control.list_vaults(&ctx, false).await?;
    let matching: Vec<&VaultView> = all
        .iter()
        .filter(|v| q.get("object_type").is_none_or(|t| *t == v.vault.object_type))
        .filter(|v| q.get("name").is_none_or(|n| *n == v.vault.name))
        .filter(|v| q.get("policy_id").is_none_or(|pid| v.policy_id.as_deref() == Some(pid.as_str())))
        .collect();
    let offset = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0usize);
    let limit = q.get("limit").and_then(|o| o.parse().ok()).unwrap_or(1000usize);
    let page: Vec<Value> = matching.iter().skip(offset).take(limit).map(|v| vault_doc(v)).collect();
    Ok(Json(json!({"vaults": page, "count": matching.len(), "limit": limit, "offset": offset})).into_response())
}

/// One vault.
#[utoipa::path(get, path = "/v3/{project_id}/vaults/{vault_id}", tag = "CBR",
    params(("project_id" = String, Path), ("vault_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_vault(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &p, false).map_err(|_| Error::not_found("vault", &id))?;
    Ok(Json(json!({"vault": vault_doc(&s.control.get_vault(&ctx, &id).await?)})).into_response())
}

/// Renames or resizes a vault.
#[utoipa::path(put, path = "/v3/{project_id}/vaults/{vault_id}", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("vault_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_vault(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("vault", &id))?;
    let body: Value = parse_json(&raw)?;
    let v = obj(&body, "vault")?;
    let u = VaultUpdate {
        name: text(v, "name")?,
        size_gb: v.get("billing").and_then(|b| b.get("size")).and_then(Value::as_i64),
        auto_expand: v.get("auto_expand").and_then(Value::as_bool),
        threshold: v.get("threshold").and_then(Value::as_i64),
    };
    Ok(Json(json!({"vault": vault_doc(&s.control.update_vault(&ctx, &id, u).await?)})).into_response())
}

/// Deletes a vault and its backups.
#[utoipa::path(delete, path = "/v3/{project_id}/vaults/{vault_id}", tag = "CBR",
    params(("project_id" = String, Path), ("vault_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_vault(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("vault", &id))?;
    s.control.delete_vault(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Adds disks to a vault.
#[utoipa::path(post, path = "/v3/{project_id}/vaults/{vault_id}/addresources", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("vault_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 400, body = super::ErrorBody)))]
pub async fn add_resources(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("vault", &id))?;
    let body: Value = parse_json(&raw)?;
    let added = s.control.add_vault_resources(&ctx, &id, &resources_of(body.get("resources"))?).await?;
    Ok(Json(json!({"add_resource_ids": added})).into_response())
}

/// Removes disks from a vault.
#[utoipa::path(post, path = "/v3/{project_id}/vaults/{vault_id}/removeresources", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("vault_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 400, body = super::ErrorBody)))]
pub async fn remove_resources(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("vault", &id))?;
    let body: Value = parse_json(&raw)?;
    let ids: Vec<String> = body
        .get("resource_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let removed = s.control.remove_vault_resources(&ctx, &id, &ids).await?;
    Ok(Json(json!({"remove_resource_ids": removed})).into_response())
}

async fn bind(s: &AppState, ctx: &Ctx, p: &str, id: &str, raw: &[u8], on: bool) -> ApiResult {
    check_project(ctx, p, true).map_err(|_| Error::not_found("vault", id))?;
    let body: Value = parse_json(raw)?;
    let policy = body["policy_id"].as_str().ok_or_else(|| Error::bad_request("'policy_id' is required."))?;
    s.control.bind_vault_policy(ctx, id, policy, on).await?;
    let key = if on { "associate_policy" } else { "dissociate_policy" };
    Ok(Json(json!({key: {"vault_id": id, "policy_id": policy, "destination_vault_id": null}})).into_response())
}

/// Binds a policy to a vault.
#[utoipa::path(post, path = "/v3/{project_id}/vaults/{vault_id}/associatepolicy", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("vault_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn associate_policy(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    bind(&s, &ctx, &p, &id, &raw, true).await
}

/// Unbinds a policy from a vault.
#[utoipa::path(post, path = "/v3/{project_id}/vaults/{vault_id}/dissociatepolicy", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("vault_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn dissociate_policy(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    bind(&s, &ctx, &p, &id, &raw, false).await
}

fn policy_change(m: &Map<String, Value>) -> Result<PolicyChange, Error> {
    let properties = m.get("trigger").and_then(|t| t.get("properties"));
    let patterns = match properties.and_then(|p| p.get("pattern")) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::bad_request("'trigger.properties.pattern' is a list of strings."))?,
        ),
        Some(_) => return Err(Error::bad_request("'trigger.properties.pattern' is a list of strings.")),
    };
    Ok(PolicyChange {
        name: text(m, "name")?,
        enabled: m.get("enabled").and_then(Value::as_bool),
        operation_type: text(m, "operation_type")?,
        operation_definition: m.get("operation_definition").filter(|d| d.is_object()).cloned(),
        patterns,
        start_window_minutes: properties.and_then(|p| p.get("start_window_minutes")).and_then(Value::as_i64),
    })
}

/// Creates a backup policy.
#[utoipa::path(post, path = "/v3/{project_id}/policies", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_policy(State(s): State<AppState>, Auth(ctx): Auth, Path(p): Path<String>, raw: Bytes) -> ApiResult {
    check_project(&ctx, &p, true)?;
    let body: Value = parse_json(&raw)?;
    let change = policy_change(obj(&body, "policy")?)?;
    let policy = s.control.create_policy(&ctx, change).await?;
    Ok(Json(json!({"policy": policy_doc(&policy, &[])})).into_response())
}

/// Lists the project's policies (`vault_id`: the one bound to that vault).
#[utoipa::path(get, path = "/v3/{project_id}/policies", tag = "CBR",
    params(("project_id" = String, Path), ("vault_id" = Option<String>, Query), ("operation_type" = Option<String>, Query)),
    responses((status = 200, body = CbrDoc)))]
pub async fn list_policies(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &p, false)?;
    let list = s.control.list_policies(&ctx, q.get("vault_id").map(String::as_str)).await?;
    let docs: Vec<Value> = list
        .iter()
        .filter(|(x, _)| q.get("operation_type").is_none_or(|t| *t == x.operation_type))
        .map(|(x, v)| policy_doc(x, v))
        .collect();
    Ok(Json(json!({"count": docs.len(), "policies": docs})).into_response())
}

/// One policy.
#[utoipa::path(get, path = "/v3/{project_id}/policies/{policy_id}", tag = "CBR",
    params(("project_id" = String, Path), ("policy_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_policy(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &p, false).map_err(|_| Error::not_found("policy", &id))?;
    let (policy, vaults) = s.control.get_policy(&ctx, &id).await?;
    Ok(Json(json!({"policy": policy_doc(&policy, &vaults)})).into_response())
}

/// Changes a policy.
#[utoipa::path(put, path = "/v3/{project_id}/policies/{policy_id}", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("policy_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_policy(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("policy", &id))?;
    let body: Value = parse_json(&raw)?;
    let change = policy_change(obj(&body, "policy")?)?;
    s.control.update_policy(&ctx, &id, change).await?;
    let (policy, vaults) = s.control.get_policy(&ctx, &id).await?;
    Ok(Json(json!({"policy": policy_doc(&policy, &vaults)})).into_response())
}

/// Deletes a policy.
#[utoipa::path(delete, path = "/v3/{project_id}/policies/{policy_id}", tag = "CBR",
    params(("project_id" = String, Path), ("policy_id" = String, Path)),
    responses((status = 200), (status = 404, body = super::ErrorBody)))]
pub async fn delete_policy(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("policy", &id))?;
    s.control.delete_policy(&ctx, &id).await?;
    Ok(StatusCode::OK.into_response())
}

/// Backs up a vault's disks now.
#[utoipa::path(post, path = "/v3/{project_id}/checkpoints", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_checkpoint(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(p): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &p, true)?;
    let body: Value = parse_json(&raw)?;
    let k = obj(&body, "checkpoint")?;
    let vault = text(k, "vault_id")?.ok_or_else(|| Error::bad_request("'vault_id' is required."))?;
    let empty = Map::new();
    let params = k.get("parameters").and_then(Value::as_object).unwrap_or(&empty);
    if params.get("auto_trigger").and_then(Value::as_bool) == Some(true) {
        return Err(Error::bad_request("auto_trigger backups are made by policies, not asked for.").into());
    }
    let resources = match params.get("resources") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()),
        Some(_) => return Err(Error::bad_request("'parameters.resources' is a list of ids.").into()),
    };
    let req = CheckpointParams {
        name: text(params, "name")?,
        description: text(params, "description")?,
        incremental: params.get("incremental").and_then(Value::as_bool),
        resources,
        auto_trigger: false,
        policy_id: None,
    };
    let view = s.control.create_checkpoint(&ctx, &vault, req).await?;
    Ok(Json(json!({"checkpoint": checkpoint_doc(&view)})).into_response())
}

/// One checkpoint.
#[utoipa::path(get, path = "/v3/{project_id}/checkpoints/{checkpoint_id}", tag = "CBR",
    params(("project_id" = String, Path), ("checkpoint_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_checkpoint(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &p, false).map_err(|_| Error::not_found("checkpoint", &id))?;
    Ok(Json(json!({"checkpoint": checkpoint_doc(&s.control.get_checkpoint(&ctx, &id).await?)})).into_response())
}

/// Lists backups: filtered (vault, checkpoint, resource and its type, zone and name, name,
/// status, parent, image type, incremental, a period of creation), sorted, paged by
/// offset or marker.
#[utoipa::path(get, path = "/v3/{project_id}/backups", tag = "CBR",
    params(("project_id" = String, Path), ("vault_id" = Option<String>, Query), ("checkpoint_id" = Option<String>, Query),
           ("resource_id" = Option<String>, Query), ("resource_type" = Option<String>, Query),
           ("resource_az" = Option<String>, Query), ("resource_name" = Option<String>, Query),
           ("name" = Option<String>, Query), ("status" = Option<String>, Query), ("parent_id" = Option<String>, Query),
           ("image_type" = Option<String>, Query), ("incremental" = Option<bool>, Query),
           ("start_time" = Option<String>, Query), ("end_time" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("marker" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = CbrDoc)))]
pub async fn list_backups(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &p, false)?;
    let kind = q.get("resource_type").map(String::as_str);
    let (start, end) = (query_time(&q, "start_time")?, query_time(&q, "end_time")?);
    let incremental = query_bool(&q, "incremental")?;
    let sort = q.get("sort").map(|spec| sort_keys(spec)).transpose()?;
    let offset = query_count(&q, "offset", 0)?.unwrap_or(0);
    let limit = query_count(&q, "limit", 1)?.unwrap_or(1000);
    if kind.is_some_and(|t| t != DISK_TYPE && t != SERVER_TYPE) {
        return Ok(Json(json!({"backups": [], "count": 0, "offset": offset, "limit": limit})).into_response());
    }
    let filter = BackupFilter {
        vault_id: q.get("vault_id").cloned(),
        checkpoint_id: q.get("checkpoint_id").cloned(),
        name: q.get("name").cloned(),
        ..Default::default()
    };
    let resource = q.get("resource_id");
    // (created, document): disk backups of their own, and server backups (whose disks'
    // backups are their children, not listed apart).
    let mut entries: Vec<(i64, Value)> = Vec::new();
    if kind != Some(SERVER_TYPE) {
        let disks = BackupFilter { volume_id: resource.cloned(), ..filter.clone() };
        let all = s.control.list_backups(&ctx, disks, false, &PageRequest::largest()).await?;
        entries.extend(all.iter().filter(|b| b.server_id.is_none()).map(|b| (b.created_at, backup_doc(b))));
    }
    if kind != Some(DISK_TYPE) {
        let servers = s.control.list_server_backups(&ctx, filter).await?;
        entries.extend(
            servers
                .iter()
                .filter(|sb| resource.is_none_or(|r| *r == sb.server_id))
                .map(|sb| (sb.created_at(), server_backup_doc(sb, false))),
        );
    }
    entries.retain(|(created, doc)| {
        start.is_none_or(|t| *created >= t)
            && end.is_none_or(|t| *created <= t)
            && incremental.is_none_or(|i| doc["incremental"] == i)
            && ["status", "resource_az", "resource_name", "parent_id", "image_type"]
                .iter()
                .all(|k| q.get(*k).is_none_or(|want| doc[*k] == want.as_str()))
    });
    match &sort {
        Some(keys) => entries.sort_by(|a, b| compare_by(&a.1, &b.1, keys)),
        None => entries.sort_by_key(|(created, _)| std::cmp::Reverse(*created)),
    }
    let count = entries.len();
    // A marker is the last backup of the previous page: this page starts after it.
    if let Some(marker) = q.get("marker") {
        let at = entries.iter().position(|(_, doc)| doc["id"] == marker.as_str()).ok_or_else(|| {
            Error::bad_request(format!("BackupService.6202: marker {marker} is not a backup of this listing."))
        })?;
        entries.drain(..=at);
    }
    let page: Vec<Value> = entries.into_iter().skip(offset).take(limit).map(|(_, doc)| doc).collect();
    Ok(Json(json!({"backups": page, "count": count, "offset": offset, "limit": limit})).into_response())
}

/// A `ListBackups` time (`start_time`, `end_time`: `2018-02-01T12:00:00Z`) in ms.
fn query_time(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Error> {
    q.get(key)
        .map(|t| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%SZ")
                .map(|d| d.and_utc().timestamp_millis())
                .map_err(|_| {
                    Error::bad_request(format!(
                        "BackupService.6201: '{key}' is a time such as 2018-02-01T12:00:00Z, not {t:?}."
                    ))
                })
        })
        .transpose()
}

/// A `ListBackups` boolean (`incremental`).
fn query_bool(q: &HashMap<String, String>, key: &str) -> Result<Option<bool>, Error> {
    q.get(key)
        .map(|v| match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Error::bad_request(format!("BackupService.6201: '{key}' is true or false, not {v:?}."))),
        })
        .transpose()
}

/// A `ListBackups` count (`limit` from 1, `offset` from 0).
fn query_count(q: &HashMap<String, String>, key: &str, min: usize) -> Result<Option<usize>, Error> {
    q.get(key)
        .map(|v| {
            v.parse::<usize>().ok().filter(|n| *n >= min).ok_or_else(|| {
                Error::bad_request(format!("BackupService.6201: '{key}' is a whole number from {min}, not {v:?}."))
            })
        })
        .transpose()
}

/// The keys a backup list sorts by.
const SORT_KEYS: [&str; 6] = ["created_at", "updated_at", "name", "status", "protected_at", "id"];

/// `ListBackups`' `sort`: `key[:asc|desc],...` (descending unless said), keys of
/// [`SORT_KEYS`]; (key, ascending) pairs.
fn sort_keys(spec: &str) -> Result<Vec<(String, bool)>, Error> {
    let bad = |why: String| Error::bad_request(format!("BackupService.6201: sort {spec:?}: {why}"));
    if spec.is_empty() || spec.len() > 255 {
        return Err(bad("it is 1 to 255 characters.".into()));
    }
    spec.split(',')
        .map(|part| {
            let (key, direction) = part.split_once(':').unwrap_or((part, "desc"));
            if !SORT_KEYS.contains(&key) {
                return Err(bad(format!("{key:?} is not one of {}.", SORT_KEYS.join(", "))));
            }
            match direction {
                "asc" => Ok((key.to_string(), true)),
                "desc" => Ok((key.to_string(), false)),
                other => Err(bad(format!("the direction is asc or desc, not {other:?}."))),
            }
        })
        .collect()
}

/// Orders two backup documents by `keys` (times are fixed-width text, so text order is
/// time order; a missing value comes first ascending).
fn compare_by(a: &Value, b: &Value, keys: &[(String, bool)]) -> std::cmp::Ordering {
    for (key, ascending) in keys {
        let (x, y) = (a[key.as_str()].as_str().unwrap_or(""), b[key.as_str()].as_str().unwrap_or(""));
        let order = if *ascending { x.cmp(y) } else { y.cmp(x) };
        if order.is_ne() {
            return order;
        }
    }
    std::cmp::Ordering::Equal
}

/// One backup.
#[utoipa::path(get, path = "/v3/{project_id}/backups/{backup_id}", tag = "CBR",
    params(("project_id" = String, Path), ("backup_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &p, false).map_err(|_| Error::not_found("backup", &id))?;
    if let Some(sb) = s.control.find_server_backup(&ctx, &id).await? {
        return Ok(Json(json!({"backup": server_backup_doc(&sb, true)})).into_response());
    }
    Ok(Json(json!({"backup": backup_doc(&s.control.get_backup(&ctx, &id).await?)})).into_response())
}

/// Renames a backup.
#[utoipa::path(put, path = "/v3/{project_id}/backups/{backup_id}", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("backup_id" = String, Path)),
    responses((status = 200, body = CbrDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("backup", &id))?;
    let body: Value = parse_json(&raw)?;
    let b = obj(&body, "backup")?;
    let (name, description) = (text(b, "name")?, text(b, "description")?);
    if let Some(sb) = s.control.find_server_backup(&ctx, &id).await? {
        let updated = s.control.update_server_backup(&ctx, &sb, name, description).await?;
        return Ok(Json(json!({"backup": server_backup_doc(&updated, true)})).into_response());
    }
    let updated = s.control.update_backup(&ctx, &id, name, description).await?;
    Ok(Json(json!({"backup": backup_doc(&updated)})).into_response())
}

/// Deletes a backup.
#[utoipa::path(delete, path = "/v3/{project_id}/backups/{backup_id}", tag = "CBR",
    params(("project_id" = String, Path), ("backup_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("backup", &id))?;
    match s.control.find_server_backup(&ctx, &id).await? {
        Some(sb) => s.control.delete_server_backup(&ctx, &sb).await?,
        None => {
            s.control.delete_backup(&ctx, &id).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Restores a disk backup into a detached disk at least its size; with `server_id`, the
/// disks of a server backup into that server's disks (the server stopped meanwhile, started
/// again unless `power_on` is false).
#[utoipa::path(post, path = "/v3/{project_id}/backups/{backup_id}/restore", tag = "CBR", request_body = CbrDoc,
    params(("project_id" = String, Path), ("backup_id" = String, Path)),
    responses((status = 202), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn restore_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((p, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &p, true).map_err(|_| Error::not_found("backup", &id))?;
    let body: Value = parse_json(&raw)?;
    let r = obj(&body, "restore")?;
    let server_backup = s.control.find_server_backup(&ctx, &id).await?;
    // A server backup (or one of its disks' backups) restores the server's disks together,
    // in place.
    if let Some(server_id) = text(r, "server_id")? {
        let mut mappings = Vec::new();
        match r.get("mappings") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for m in list {
                    let m = m.as_object().ok_or_else(|| Error::bad_request("Each of 'mappings' is an object."))?;
                    let backup =
                        text(m, "backup_id")?.ok_or_else(|| Error::bad_request("'mappings.backup_id' is required."))?;
                    let volume =
                        text(m, "volume_id")?.ok_or_else(|| Error::bad_request("'mappings.volume_id' is required."))?;
                    mappings.push((backup, volume));
                }
            }
            Some(_) => return Err(Error::bad_request("'mappings' is a list.").into()),
        }
        let power_on = match r.get("power_on") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::bad_request("'power_on' is a boolean.").into()),
        };
        let via = server_backup.map(|sb| sb.children[0].id.clone()).unwrap_or(id);
        let job = s.control.restore_server(&ctx, &via, ServerRestore { server_id, mappings, power_on }).await?;
        return Ok((StatusCode::ACCEPTED, Json(json!({"job_id": job}))).into_response());
    }
    if let Some(sb) = server_backup {
        return Err(Error::bad_request(format!(
            "BackupService.6116: backup {} is a server backup: restore it to its server ('server_id' {}).",
            sb.id, sb.server_id
        ))
        .into());
    }
    let volume =
        text(r, "volume_id")?.ok_or_else(|| Error::bad_request("'volume_id' is required for a disk restore."))?;
    s.control.restore_backup(&ctx, &id, RestoreTarget::Volume(volume)).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
