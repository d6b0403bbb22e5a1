//! Cinder v3 (`/volume/v3/{project_id}/...`): version discovery, volume types, and volumes
//! (create blank or from an image, list, show, update, metadata, extend, delete), as the
//! `openstack` CLI and Tempest call them. Every call goes to the same `Control` methods the
//! EVS API uses; responses are shaped per the negotiated microversion (3.0-3.71).
//!
//! The `{project_id}` of the path is the catalogue's (the caller's project); volumes are
//! found by id among those the caller may see, so another project's id in the path shows
//! nothing of it.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::openstack::compute::microversion::{Microversion, VOLUME_MAX};
use crate::openstack::volume_listing::{all_tenants, ListParams, SortValue};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::{VolumeCreate, VolumeDelete, VolumeUpdate, VolumeUpload};
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::volumes::{Volume, VolumeFilter, VolumeType};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/volume", Access::Public, versions)
        .add("GET", "/volume/", Access::Public, versions)
        .add("GET", "/volume/v3", Access::Public, version)
        .add("GET", "/volume/v3/", Access::Public, version)
        .add("GET", "/volume/v3/{project_id}/types", A, list_types)
        .add("GET", "/volume/v3/{project_id}/types/{type_id}", A, show_type)
        .add("POST", "/volume/v3/{project_id}/types", A, create_type)
        .add("PUT", "/volume/v3/{project_id}/types/{type_id}", A, update_type)
        .add("DELETE", "/volume/v3/{project_id}/types/{type_id}", A, delete_type)
        .add("GET", "/volume/v3/{project_id}/types/{type_id}/extra_specs", A, type_extra_specs)
        .add("POST", "/volume/v3/{project_id}/types/{type_id}/extra_specs", A, set_extra_specs)
        .add("GET", "/volume/v3/{project_id}/types/{type_id}/extra_specs/{key}", A, show_extra_spec)
        .add("PUT", "/volume/v3/{project_id}/types/{type_id}/extra_specs/{key}", A, put_extra_spec)
        .add("DELETE", "/volume/v3/{project_id}/types/{type_id}/extra_specs/{key}", A, delete_extra_spec)
        .add("POST", "/volume/v3/{project_id}/volumes", A, create)
        .add("GET", "/volume/v3/{project_id}/volumes", A, list)
        .add("GET", "/volume/v3/{project_id}/volumes/detail", A, list_detail)
        .add("GET", "/volume/v3/{project_id}/volumes/{volume_id}", A, show)
        .add("PUT", "/volume/v3/{project_id}/volumes/{volume_id}", A, update)
        .add("DELETE", "/volume/v3/{project_id}/volumes/{volume_id}", A, delete)
        .add("POST", "/volume/v3/{project_id}/volumes/{volume_id}/action", A, action)
        .add("GET", "/volume/v3/{project_id}/volumes/{volume_id}/metadata", A, show_metadata)
        .add("POST", "/volume/v3/{project_id}/volumes/{volume_id}/metadata", A, merge_metadata)
        .add("PUT", "/volume/v3/{project_id}/volumes/{volume_id}/metadata", A, replace_metadata)
        .add("GET", "/volume/v3/{project_id}/volumes/{volume_id}/metadata/{key}", A, show_metadata_key)
        .add("PUT", "/volume/v3/{project_id}/volumes/{volume_id}/metadata/{key}", A, put_metadata_key)
        .add("DELETE", "/volume/v3/{project_id}/volumes/{volume_id}/metadata/{key}", A, delete_metadata_key)
}

fn base(s: &AppState) -> String {
    s.control.config().public_url.trim_end_matches('/').to_string()
}

fn version_doc(s: &AppState) -> Value {
    json!({"id": "v3.0", "status": "CURRENT", "version": format!("3.{VOLUME_MAX}"), "min_version": "3.0",
        "updated": "2023-09-01T00:00:00Z",
        "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                  {"rel": "self", "href": format!("{}/volume/v3/", base(s))}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]})
}

/// `GET /volume/`: the versions, 300 as Cinder answers.
async fn versions(State(s): State<AppState>) -> impl IntoResponse {
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": [version_doc(&s)]})))
}

/// `GET /volume/v3/`: the same list, 200.
async fn version(State(s): State<AppState>) -> impl IntoResponse {
    Json(json!({"versions": [version_doc(&s)]}))
}

fn type_view(t: &VolumeType, admin: bool) -> Value {
    let specs: Map<String, Value> = serde_json::from_str(&t.extra_specs).unwrap_or_default();
    // Users see only the keys Cinder shows them.
    let specs: Map<String, Value> = if admin {
        specs
    } else {
        specs.into_iter().filter(|(k, _)| matches!(k.as_str(), "RESKEY:availability_zones" | "multiattach")).collect()
    };
    let mut view = json!({"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public,
        "extra_specs": specs, "os-volume-type-access:is_public": t.is_public});
    // Operators see which QoS specs the type's volumes get.
    if admin {
        view["qos_specs_id"] = json!(t.qos_specs_id);
    }
    view
}

async fn list_types(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let admin = ctx.principal.can_read_all();
    let types = s.control.list_volume_types(&ctx).await?;
    Ok(Json(json!({"volume_types": types.iter().map(|t| type_view(t, admin)).collect::<Vec<_>>()})).into_response())
}

async fn show_type(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, type_id)): Path<(String, String)>,
) -> ApiResult {
    let t = s.control.get_volume_type(&ctx, &type_id).await?;
    Ok(Json(json!({"volume_type": type_view(&t, ctx.principal.can_read_all())})).into_response())
}

async fn type_extra_specs(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, type_id)): Path<(String, String)>,
) -> ApiResult {
    let t = s.control.get_volume_type(&ctx, &type_id).await?;
    Ok(Json(json!({"extra_specs": type_view(&t, ctx.principal.can_read_all())["extra_specs"]})).into_response())
}

fn specs_field(v: Option<&Value>) -> Result<BTreeMap<String, String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => string_values(m, "extra spec"),
        Some(_) => Err(Error::bad_request("Invalid input received: extra_specs must be an object.")),
    }
}

/// The values of an object as strings (numbers and booleans as their text), as Cinder
/// takes specs; `what` names them in the error.
pub(super) fn string_values(m: &Map<String, Value>, what: &str) -> Result<BTreeMap<String, String>, Error> {
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            _ => Err(Error::bad_request(format!("Invalid input received: {what} values must be strings."))),
        })
        .collect()
}

pub(super) fn bool_field(v: Option<&Value>) -> Result<Option<bool>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(Error::bad_request(format!("Invalid input received: {s:?} is not a boolean."))),
        },
        Some(_) => Err(Error::bad_request("Invalid input received: expected a boolean.")),
    }
}

/// Creates a type (operators): answers 200 with it, as Cinder does.
async fn create_type(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("volume_type")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'volume_type' in request body."))?;
    let name = str_field(m, "name")?.ok_or_else(|| Error::bad_request("Invalid input received: name is required."))?;
    let public = bool_field(m.get("os-volume-type-access:is_public").or(m.get("is_public")))?.unwrap_or(true);
    let specs = specs_field(m.get("extra_specs"))?;
    let t = s.control.create_volume_type(&ctx, &name, str_field(m, "description")?, public, specs).await?;
    let mut view = type_view(&t, true);
    // Cinder's answer to a create has no QoS specs yet.
    view.as_object_mut().map(|o| o.remove("qos_specs_id"));
    Ok(Json(json!({"volume_type": view})).into_response())
}

async fn update_type(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("volume_type")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'volume_type' in request body."))?;
    let t = s
        .control
        .update_volume_type(
            &ctx,
            &id,
            str_field(m, "name")?,
            str_field(m, "description")?,
            bool_field(m.get("is_public"))?,
        )
        .await?;
    let specs: Map<String, Value> = serde_json::from_str(&t.extra_specs).unwrap_or_default();
    Ok(Json(json!({"volume_type": {"id": t.id, "name": t.name, "description": t.description,
        "is_public": t.is_public, "extra_specs": specs}}))
    .into_response())
}

async fn delete_type(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, id)): Path<(String, String)>) -> ApiResult {
    s.control.delete_volume_type(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Adds extra specs; answers the posted keys.
async fn set_extra_specs(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let specs = match doc.get("extra_specs") {
        Some(v @ Value::Object(_)) => specs_field(Some(v))?,
        _ => return Err(Error::bad_request("Invalid input received: extra_specs must be an object.").into()),
    };
    s.control.change_type_extra_specs(&ctx, &id, specs.clone(), None).await?;
    Ok(Json(json!({"extra_specs": specs})).into_response())
}

async fn show_extra_spec(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    let t = s.control.get_volume_type(&ctx, &id).await?;
    let view = type_view(&t, ctx.principal.can_read_all());
    let v = view["extra_specs"].get(&key).cloned().ok_or_else(|| Error::not_found("extra spec", &key))?;
    Ok(Json(json!({ key: v })).into_response())
}

/// Sets one key: the body is `{key: value}` with the key of the URL.
async fn put_extra_spec(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id, key)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let specs = specs_field(Some(&doc))?;
    if specs.len() != 1 || !specs.contains_key(&key) {
        return Err(Error::bad_request("Invalid input received: the body must set exactly the key of the URL.").into());
    }
    s.control.change_type_extra_specs(&ctx, &id, specs.clone(), None).await?;
    Ok(Json(json!(specs)).into_response())
}

async fn delete_extra_spec(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    s.control.change_type_extra_specs(&ctx, &id, BTreeMap::new(), Some(&key)).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Which of Cinder's views a volume is rendered for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    /// Create and update answers.
    Summary,
    /// Show and detailed lists.
    Detail,
}

async fn volume_view(s: &AppState, ctx: &Ctx, v: &Volume, mv: Microversion, view: View) -> Result<Value, Error> {
    let admin = ctx.principal.is_admin();
    let vtype = s.control.volume_type_of(v).await?;
    let attachments: Vec<Value> = s
        .control
        .volume_attachments(v)
        .await?
        .into_iter()
        .filter(|a| a.status == "attached")
        .map(|a| {
            json!({"id": v.id, "attachment_id": a.id, "volume_id": v.id, "server_id": a.server_id,
                "host_name": Value::Null, "device": a.device, "attached_at": a.attached_at.map(usage_time)})
        })
        .collect();
    let base = base(s);
    let mut metadata: Map<String, Value> = serde_json::from_str(&v.metadata).unwrap_or_default();
    // Cinder shows the flags set by actions among the metadata (its visible admin metadata).
    let flags: Map<String, Value> = serde_json::from_str(&v.admin_metadata).unwrap_or_default();
    metadata.extend(flags);
    let mut o = json!({
        "id": v.id, "name": v.name, "description": v.description, "status": v.status, "size": v.size_gb,
        "availability_zone": v.availability_zone, "created_at": usage_time(v.created_at),
        "updated_at": v.updated_at.map(usage_time), "attachments": attachments, "volume_type": vtype.name,
        "snapshot_id": v.snapshot_id, "source_volid": v.source_volid, "metadata": metadata,
        "links": [{"rel": "self", "href": format!("{base}/volume/v3/{}/volumes/{}", v.project_id, v.id)},
                  {"rel": "bookmark", "href": format!("{base}/volume/{}/volumes/{}", v.project_id, v.id)}],
        "user_id": v.user_id, "bootable": if v.bootable { "true" } else { "false" }, "encrypted": v.encrypted(),
        "replication_status": Value::Null, "consistencygroup_id": Value::Null, "multiattach": v.multiattach,
    });
    if admin {
        o["migration_status"] = Value::Null;
    }
    if mv.at_least(13) {
        o["group_id"] = json!(v.group_id);
    }
    if admin && mv.at_least(21) {
        o["provider_id"] = Value::Null;
    }
    if mv.at_least(48) {
        o["shared_targets"] = json!(false);
        o["service_uuid"] = Value::Null;
    }
    if admin && mv.at_least(61) {
        o["cluster_name"] = Value::Null;
    }
    if mv.at_least(63) {
        o["volume_type_id"] = json!(vtype.id);
    }
    if mv.at_least(64) {
        // The key's id (here the id of the volume's own wrapped key row, never the key).
        o["encryption_key_id"] = json!(v.encryption_key_id);
    }
    if mv.at_least(65) {
        o["consumes_quota"] = json!(true);
    }
    if view == View::Detail {
        o["os-vol-tenant-attr:tenant_id"] = json!(v.project_id);
        if admin {
            o["os-vol-host-attr:host"] = json!(nimbus_control::volumes::backends::pool_name());
            o["os-vol-mig-status-attr:migstat"] = Value::Null;
            o["os-vol-mig-status-attr:name_id"] = Value::Null;
        }
        let image_metadata: Map<String, Value> = serde_json::from_str(&v.image_metadata).unwrap_or_default();
        if !image_metadata.is_empty() {
            o["volume_image_metadata"] = Value::Object(image_metadata);
        }
    }
    Ok(o)
}

/// Cinder's integer parsing: a positive integer or integer string.
fn int_field(v: &Value, what: &str) -> Result<Option<i64>, Error> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::bad_request(format!("Invalid input received: {what} must be an integer."))),
        Value::String(s) => {
            s.trim().parse::<i64>().map(Some).map_err(|_| {
                Error::bad_request(format!("Invalid input received: {what} must be an integer, not {s:?}."))
            })
        }
        _ => Err(Error::bad_request(format!("Invalid input received: {what} must be an integer."))),
    }
}

pub(super) fn str_field(m: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_request(format!("Invalid input received: {key} must be a string."))),
    }
}

pub(super) fn metadata_field(v: Option<&Value>) -> Result<BTreeMap<String, String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(Error::bad_request("Invalid input received: metadata values must be strings.")),
            })
            .collect(),
        Some(_) => Err(Error::bad_request("Invalid input received: metadata must be an object.")),
    }
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("volume")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'volume' in request body."))?;
    let size = int_field(m.get("size").unwrap_or(&Value::Null), "size")?;
    if size.is_some_and(|n| n < 1) {
        return Err(Error::bad_request("Invalid input received: size must be an integer greater than 0.").into());
    }
    let req = VolumeCreate {
        name: str_field(m, "name")?.or(str_field(m, "display_name")?),
        description: str_field(m, "description")?.or(str_field(m, "display_description")?),
        size_gb: size,
        volume_type: str_field(m, "volume_type")?,
        availability_zone: str_field(m, "availability_zone")?,
        metadata: metadata_field(m.get("metadata"))?,
        image_id: str_field(m, "imageRef")?.or(str_field(m, "image_id")?),
        snapshot_id: str_field(m, "snapshot_id")?,
        source_volid: str_field(m, "source_volid")?,
        backup_id: str_field(m, "backup_id")?,
        multiattach: m.get("multiattach").and_then(Value::as_bool).unwrap_or(false),
        // Groups arrive with 3.13; before, the key means nothing.
        group_id: if mv.at_least(13) { str_field(m, "group_id")? } else { None },
        // Cinder has no key/value tags (EVS and TMS set them).
        tags: Default::default(),
    };
    let (v, _job) = s.control.create_volume(&ctx, req).await?;
    let view = volume_view(&s, &ctx, &v, mv, View::Summary).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"volume": view}))).into_response())
}

/// A list's filters and page.
/// Keys volume lists sort by.
const VOLUME_SORT_KEYS: &[&str] = &["id", "name", "size", "status", "created_at", "updated_at", "availability_zone"];

fn sort_value(v: &Volume, key: &str) -> SortValue {
    match key {
        "id" => SortValue::Text(v.id.clone()),
        "name" => v.name.clone().into(),
        "size" => SortValue::Int(v.size_gb),
        "status" => SortValue::Text(v.status.clone()),
        "created_at" => SortValue::Int(v.created_at),
        "updated_at" => v.updated_at.map_or(SortValue::Null, SortValue::Int),
        _ => SortValue::Text(v.availability_zone.clone()),
    }
}

fn list_query(q: &HashMap<String, String>) -> Result<(VolumeFilter, bool, ListParams), Error> {
    let filter = VolumeFilter {
        project_id: None,
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
        availability_zone: q.get("availability_zone").cloned(),
        group_id: q.get("group_id").cloned(),
    };
    Ok((filter, all_tenants(q), ListParams::parse(q, VOLUME_SORT_KEYS)?))
}

async fn listing(s: &AppState, ctx: &Ctx, q: &HashMap<String, String>, mv: Microversion, detail: bool) -> ApiResult {
    let (mut filter, all, params) = list_query(q)?;
    if all && ctx.principal.can_read_all() {
        filter.project_id = q.get("project_id").cloned();
    }
    let page = &params.page;
    let list = if params.in_memory() || params.empty {
        let every = s.control.list_volumes(ctx, filter, all, &PageRequest::largest()).await?;
        params.cut(every, |v| &v.id, sort_value)?
    } else {
        s.control.list_volumes(ctx, filter, all, page).await?
    };
    let mut items = Vec::new();
    for v in &list {
        if detail {
            items.push(volume_view(s, ctx, v, mv, View::Detail).await?);
        } else {
            let base = base(s);
            items.push(json!({"id": v.id, "name": v.name, "links": [
                {"rel": "self", "href": format!("{base}/volume/v3/{}/volumes/{}", v.project_id, v.id)},
                {"rel": "bookmark", "href": format!("{base}/volume/{}/volumes/{}", v.project_id, v.id)}]}));
        }
    }
    let mut out = json!({"volumes": items});
    if let (Some(limit), Some(last)) = (page.limit, list.last()) {
        if list.len() as u32 == limit {
            let project = ctx.principal.project_id().unwrap_or_default();
            let path = if detail { "volumes/detail" } else { "volumes" };
            let mut query: Vec<String> = q
                .iter()
                .filter(|(k, _)| k.as_str() != "marker" && k.as_str() != "limit")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            query.sort();
            query.push(format!("limit={limit}"));
            query.push(format!("marker={}", last.id));
            out["volumes_links"] = json!([{"rel": "next",
                "href": format!("{}/volume/v3/{project}/{path}?{}", base(s), query.join("&"))}]);
        }
    }
    Ok(Json(out).into_response())
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
    let v = s.control.get_volume(&ctx, &id).await?;
    Ok(Json(json!({"volume": volume_view(&s, &ctx, &v, mv, View::Detail).await?})).into_response())
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
        .get("volume")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'volume' in request body."))?;
    let u = VolumeUpdate {
        name: str_field(m, "name")?.or(str_field(m, "display_name")?),
        description: str_field(m, "description")?.or(str_field(m, "display_description")?),
    };
    let metadata = m.get("metadata").filter(|v| !v.is_null()).map(|v| metadata_field(Some(v))).transpose()?;
    if u.name.is_none() && u.description.is_none() && metadata.is_none() {
        return Err(Error::bad_request("Invalid input received: give name, description or metadata.").into());
    }
    let mut v = s.control.update_volume(&ctx, &id, u).await?;
    if let Some(md) = metadata {
        s.control.set_volume_metadata(&ctx, &id, md, true).await?;
        v = s.control.get_volume(&ctx, &id).await?;
    }
    Ok(Json(json!({"volume": volume_view(&s, &ctx, &v, mv, View::Summary).await?})).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let on = |k: &str| q.get(k).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    // `force` is 3.23's and an administrator's tool (the control plane checks who asks).
    let how = VolumeDelete { cascade: on("cascade"), force: mv.at_least(23) && on("force") };
    s.control.delete_volume_as(&ctx, &id, how).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST .../volumes/{id}/action`: `os-extend` (of an attached volume from 3.42), and
/// `revert` to the latest snapshot (3.40).
async fn action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = doc.as_object().filter(|m| m.len() == 1).ok_or_else(|| Error::bad_request("Give exactly one action."))?;
    let (name, arg) = m.iter().next().expect("one entry");
    match name.as_str() {
        "os-extend" => {
            let new_size = int_field(arg.get("new_size").unwrap_or(&Value::Null), "new_size")?
                .ok_or_else(|| Error::bad_request("Invalid input received: new_size is required."))?;
            // Extending an attached volume is Cinder's 3.42.
            s.control.extend_volume(&ctx, &id, new_size, mv.at_least(42)).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "revert" if mv.at_least(40) => {
            let snapshot = arg
                .get("snapshot_id")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Invalid input received: 'snapshot_id' is required."))?;
            s.control.revert_volume(&ctx, &id, snapshot).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-set_bootable" => {
            let on = bool_field(arg.get("bootable"))?
                .ok_or_else(|| Error::bad_request("Invalid input received: bootable is required."))?;
            s.control.set_volume_bootable(&ctx, &id, on).await?;
            Ok(StatusCode::OK.into_response())
        }
        "os-update_readonly_flag" => {
            let on = bool_field(arg.get("readonly"))?
                .ok_or_else(|| Error::bad_request("Invalid input received: readonly is required."))?;
            s.control.set_volume_readonly(&ctx, &id, on).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-reserve" => {
            s.control.reserve_volume(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-unreserve" => {
            s.control.unreserve_volume(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        // Cinder's own attach call (Nova's old flow): here it really plugs the volume into
        // the server, as Nova's attach does, at the mount point asked for.
        "os-attach" => {
            let server = arg
                .get("instance_uuid")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Invalid input received: instance_uuid is required."))?;
            let device = arg.get("mountpoint").and_then(Value::as_str);
            s.control.attach_volume(&ctx, server, &id, device).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-detach" => {
            let attachment = arg.get("attachment_id").and_then(Value::as_str);
            s.control.detach_volume_from_its_server(&ctx, &id, attachment).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-set_image_metadata" => {
            let md = metadata_field(arg.get("metadata"))?;
            let all = s.control.change_volume_image_metadata(&ctx, &id, md, None).await?;
            Ok(Json(json!({"metadata": all})).into_response())
        }
        "os-unset_image_metadata" => {
            let key = arg
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Invalid input received: key is required."))?;
            s.control.change_volume_image_metadata(&ctx, &id, BTreeMap::new(), Some(key)).await?;
            Ok(StatusCode::OK.into_response())
        }
        "os-show_image_metadata" => {
            let v = s.control.get_volume(&ctx, &id).await?;
            let m: Map<String, Value> = serde_json::from_str(&v.image_metadata).unwrap_or_default();
            Ok(Json(json!({"metadata": m})).into_response())
        }
        "os-reset_status" => {
            let status = arg
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Invalid input received: status is required."))?;
            s.control.reset_volume_status(&ctx, &id, status).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-volume_upload_image" => {
            let image_name = arg
                .get("image_name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| Error::bad_request("Invalid input received: image_name is required."))?;
            let disk_format = arg.get("disk_format").and_then(Value::as_str).unwrap_or("raw").to_string();
            if arg.get("container_format").and_then(Value::as_str).is_some_and(|c| c != "bare") {
                return Err(Error::bad_request("Invalid input received: container_format must be bare.").into());
            }
            let force = bool_field(arg.get("force"))?.unwrap_or(false);
            let req = VolumeUpload { image_name: image_name.to_string(), disk_format: disk_format.clone(), force };
            let image_id = s.control.upload_volume_to_image(&ctx, &id, req).await?;
            let v = s.control.get_volume(&ctx, &id).await?;
            let vtype = s.control.volume_type_of(&v).await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"os-volume_upload_image": {
                    "id": v.id, "updated_at": v.updated_at.map(usage_time), "status": v.status,
                    "display_description": v.description, "size": v.size_gb,
                    "volume_type": {"id": vtype.id, "name": vtype.name}, "image_id": image_id,
                    "container_format": "bare", "disk_format": disk_format, "image_name": image_name,
                    "protected": false, "visibility": "private",
                }})),
            )
                .into_response())
        }
        "os-retype" => {
            let t = arg
                .get("new_type")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Invalid input received: new_type is required."))?;
            s.control.retype_volume(&ctx, &id, t).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-force_detach" => {
            let attachment = arg.get("attachment_id").and_then(Value::as_str);
            s.control.force_detach_volume(&ctx, &id, attachment).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-force_delete" => {
            s.control.delete_volume_as(&ctx, &id, VolumeDelete { force: true, cascade: false }).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        other => {
            // Answer unknown actions only for visible volumes (404 otherwise).
            s.control.get_volume(&ctx, &id).await?;
            Err(Error::bad_request(format!("The volume action {other:?} is not supported.")).into())
        }
    }
}

async fn show_metadata(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    let v = s.control.get_volume(&ctx, &id).await?;
    let m: Map<String, Value> = serde_json::from_str(&v.metadata).unwrap_or_default();
    Ok(Json(json!({"metadata": m})).into_response())
}

async fn write_metadata(s: &AppState, ctx: &Ctx, id: &str, body: &[u8], replace: bool) -> ApiResult {
    let doc: Value = parse_json(body)?;
    let md = metadata_field(Some(
        doc.get("metadata").ok_or_else(|| Error::bad_request("Malformed request body: metadata is required."))?,
    ))?;
    let all = s.control.set_volume_metadata(ctx, id, md, replace).await?;
    Ok(Json(json!({"metadata": all})).into_response())
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
    let v = s.control.get_volume(&ctx, &id).await?;
    let mut m: Map<String, Value> = serde_json::from_str(&v.metadata).unwrap_or_default();
    let value = m.remove(&key).ok_or_else(|| Error::not_found("metadata key", &key))?;
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
    s.control.set_volume_metadata(&ctx, &id, meta.clone(), false).await?;
    Ok(Json(json!({"meta": meta})).into_response())
}

async fn delete_metadata_key(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    s.control.delete_volume_metadata_key(&ctx, &id, &key).await?;
    Ok(StatusCode::OK.into_response())
}
