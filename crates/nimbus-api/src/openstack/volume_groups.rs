//! Cinder generic volume groups: group types and their specs (`/group_types`, from 3.11),
//! groups (`/groups`, from 3.13; made from a source from 3.14, status reset from 3.20) and
//! group snapshots (`/group_snapshots`, from 3.14; status reset from 3.19), as the
//! `openstack volume group` commands and Tempest call them. Every call goes to the group
//! service of `Control`.

use super::volume::{bool_field, str_field, string_values};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::openstack::compute::microversion::Microversion;
use crate::openstack::volume_listing::all_tenants;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::{GroupCreate, GroupSource, GroupUpdate};
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::volume_groups::{Group, GroupSnapshot, GroupType};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    const GT: &str = "/volume/v3/{project_id}/group_types";
    const G: &str = "/volume/v3/{project_id}/groups";
    const GS: &str = "/volume/v3/{project_id}/group_snapshots";
    r.add("GET", GT, A, list_types)
        .add("POST", GT, A, create_type)
        .add("GET", &format!("{GT}/default"), A, default_type)
        .add("GET", &format!("{GT}/{{group_type_id}}"), A, show_type)
        .add("PUT", &format!("{GT}/{{group_type_id}}"), A, update_type)
        .add("DELETE", &format!("{GT}/{{group_type_id}}"), A, delete_type)
        .add("GET", &format!("{GT}/{{group_type_id}}/group_specs"), A, list_specs)
        .add("POST", &format!("{GT}/{{group_type_id}}/group_specs"), A, set_specs)
        .add("GET", &format!("{GT}/{{group_type_id}}/group_specs/{{key}}"), A, show_spec)
        .add("PUT", &format!("{GT}/{{group_type_id}}/group_specs/{{key}}"), A, put_spec)
        .add("DELETE", &format!("{GT}/{{group_type_id}}/group_specs/{{key}}"), A, delete_spec)
        .add("GET", G, A, list_groups)
        .add("POST", G, A, create_group)
        .add("GET", &format!("{G}/detail"), A, list_groups_detail)
        .add("POST", &format!("{G}/action"), A, create_from_source)
        .add("GET", &format!("{G}/{{volume_group_id}}"), A, show_group)
        .add("PUT", &format!("{G}/{{volume_group_id}}"), A, update_group)
        .add("POST", &format!("{G}/{{volume_group_id}}/action"), A, group_action)
        .add("GET", GS, A, list_group_snapshots)
        .add("POST", GS, A, create_group_snapshot)
        .add("GET", &format!("{GS}/detail"), A, list_group_snapshots_detail)
        .add("GET", &format!("{GS}/{{group_snapshot_id}}"), A, show_group_snapshot)
        .add("DELETE", &format!("{GS}/{{group_snapshot_id}}"), A, delete_group_snapshot)
        .add("POST", &format!("{GS}/{{group_snapshot_id}}/action"), A, group_snapshot_action)
}

/// Before `minor` the path names nothing (Cinder's 404 for a resource of a later version).
fn since(mv: Microversion, minor: u16, what: &str) -> Result<(), Error> {
    if !mv.at_least(minor) {
        return Err(Error::not_found("resource", what));
    }
    Ok(())
}

fn body_object<'a>(doc: &'a Value, key: &str) -> Result<&'a Map<String, Value>, Error> {
    doc.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("Missing required element '{key}' in request body.")))
}

// ---- group types ---------------------------------------------------------------------

fn type_view(t: &GroupType) -> Value {
    let specs: Map<String, Value> = serde_json::from_str(&t.group_specs).unwrap_or_default();
    json!({"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public,
        "group_specs": specs})
}

async fn list_types(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    let mut all = s.control.list_group_types(&ctx).await?;
    // `is_public`: true (the default for everyone), false, or none (both, for operators).
    let public = match q.get("is_public").map(|v| v.to_ascii_lowercase()) {
        None => Some(true),
        Some(v) if v == "none" => None,
        Some(v) => bool_field(Some(&Value::String(v)))?,
    };
    if let Some(p) = public {
        all.retain(|t| t.is_public == p);
    }
    match q.get("sort").or(q.get("sort_key")).map(String::as_str) {
        None => {}
        Some(sort) => {
            let (key, dir) = sort.split_once(':').unwrap_or((sort, q.get("sort_dir").map_or("asc", |d| d.as_str())));
            match key {
                "name" => all.sort_by(|a, b| a.name.cmp(&b.name)),
                "id" => all.sort_by(|a, b| a.id.cmp(&b.id)),
                "created_at" => all.sort_by_key(|t| t.created_at),
                other => {
                    return Err(Error::bad_request(format!("Invalid input received: cannot sort by {other}.")).into())
                }
            }
            match dir {
                "asc" => {}
                "desc" => all.reverse(),
                other => {
                    return Err(
                        Error::bad_request(format!("Invalid input received: unknown sort direction {other}.")).into()
                    )
                }
            }
        }
    }
    Ok(Json(json!({"group_types": all.iter().map(type_view).collect::<Vec<_>>()})).into_response())
}

async fn create_type(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, body: Bytes) -> ApiResult {
    since(mv, 11, "group_types")?;
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "group_type")?;
    let name = str_field(m, "name")?.ok_or_else(|| Error::bad_request("Invalid input received: name is required."))?;
    let specs = match m.get("group_specs") {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(o)) => string_values(o, "group spec")?,
        Some(_) => return Err(Error::bad_request("Invalid input received: group_specs must be an object.").into()),
    };
    let public = bool_field(m.get("is_public"))?.unwrap_or(true);
    let t = s.control.create_group_type(&ctx, &name, str_field(m, "description")?, public, specs).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"group_type": type_view(&t)}))).into_response())
}

/// The region's default group type: none is configured (Cinder's 404 then).
async fn default_type(Auth(_ctx): Auth, mv: Microversion) -> ApiResult {
    since(mv, 11, "group_types")?;
    Err(Error::not_found("default group type", "default").into())
}

async fn show_type(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    let t = s.control.get_group_type(&ctx, &id).await?;
    Ok(Json(json!({"group_type": type_view(&t)})).into_response())
}

async fn update_type(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "group_type")?;
    let t = s
        .control
        .update_group_type(
            &ctx,
            &id,
            str_field(m, "name")?,
            str_field(m, "description")?,
            bool_field(m.get("is_public"))?,
        )
        .await?;
    Ok(Json(json!({"group_type": type_view(&t)})).into_response())
}

async fn delete_type(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    s.control.delete_group_type(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn specs_of(t: &GroupType) -> Map<String, Value> {
    serde_json::from_str(&t.group_specs).unwrap_or_default()
}

async fn list_specs(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    let t = s.control.get_group_type(&ctx, &id).await?;
    Ok(Json(json!({"group_specs": specs_of(&t)})).into_response())
}

/// Sets specs (merged); answers with the ones set, as Cinder does.
async fn set_specs(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    let doc: Value = parse_json(&body)?;
    let set = string_values(body_object(&doc, "group_specs")?, "group spec")?;
    s.control.change_group_specs(&ctx, &id, set.clone(), None).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"group_specs": set}))).into_response())
}

async fn show_spec(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    let t = s.control.get_group_type(&ctx, &id).await?;
    let v = specs_of(&t).remove(&key).ok_or_else(|| Error::not_found("group spec", &key))?;
    Ok(Json(json!({ key: v })).into_response())
}

/// Sets one spec: the body names exactly that key.
async fn put_spec(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id, key)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    let doc: Value = parse_json(&body)?;
    let m = doc.as_object().ok_or_else(|| Error::bad_request("Invalid input received: expected an object."))?;
    let set = string_values(m, "group spec")?;
    if set.len() != 1 || !set.contains_key(&key) {
        return Err(Error::bad_request("Request body and URI mismatch.").into());
    }
    s.control.change_group_specs(&ctx, &id, set.clone(), None).await?;
    Ok(Json(json!(set)).into_response())
}

async fn delete_spec(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    since(mv, 11, "group_types")?;
    s.control.change_group_specs(&ctx, &id, Default::default(), Some(&key)).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---- groups --------------------------------------------------------------------------

async fn group_view(s: &AppState, g: &Group, mv: Microversion, detail: bool) -> Result<Value, Error> {
    let mut o = json!({"id": g.id, "name": g.name});
    if !detail {
        return Ok(o);
    }
    o["status"] = json!(g.status);
    o["availability_zone"] = json!(g.availability_zone);
    o["created_at"] = json!(usage_time(g.created_at));
    o["description"] = json!(g.description);
    o["group_type"] = json!(g.group_type_id);
    o["volume_types"] = json!(g.volume_type_ids());
    if mv.at_least(14) {
        o["group_snapshot_id"] = json!(g.group_snapshot_id);
        o["source_group_id"] = json!(g.source_group_id);
    }
    if mv.at_least(25) {
        o["volumes"] = json!(s.control.volume_group_members(g).await?);
    }
    if mv.at_least(38) {
        o["replication_status"] = json!("disabled");
    }
    if mv.at_least(58) {
        o["project_id"] = json!(g.project_id);
    }
    Ok(o)
}

async fn group_listing(
    s: &AppState,
    ctx: &nimbus_control::Ctx,
    q: &HashMap<String, String>,
    mv: Microversion,
    detail: bool,
) -> ApiResult {
    since(mv, 13, "groups")?;
    let all = s.control.list_volume_groups(ctx, all_tenants(q)).await?;
    let mut out = Vec::new();
    for g in &all {
        out.push(group_view(s, g, mv, detail).await?);
    }
    Ok(Json(json!({"groups": out})).into_response())
}

async fn list_groups(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    group_listing(&s, &ctx, &q, mv, false).await
}

async fn list_groups_detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    group_listing(&s, &ctx, &q, mv, true).await
}

fn names(m: &Map<String, Value>) -> Result<(Option<String>, Option<String>), Error> {
    Ok((str_field(m, "name")?, str_field(m, "description")?))
}

async fn create_group(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, body: Bytes) -> ApiResult {
    since(mv, 13, "groups")?;
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "group")?;
    let group_type = str_field(m, "group_type")?
        .ok_or_else(|| Error::bad_request("Invalid input received: group_type is required."))?;
    let volume_types = match m.get("volume_types") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::bad_request("Invalid input received: volume_types are names or ids."))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(one)) => one.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
        _ => return Err(Error::bad_request("Invalid input received: volume_types is required.").into()),
    };
    let (name, description) = names(m)?;
    let req = GroupCreate {
        name,
        description,
        group_type,
        volume_types,
        availability_zone: str_field(m, "availability_zone")?,
    };
    let g = s.control.create_volume_group(&ctx, req).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"group": group_view(&s, &g, mv, false).await?}))).into_response())
}

/// `POST /groups/action` with `create-from-src`: a group copied from a group or a group
/// snapshot.
async fn create_from_source(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, body: Bytes) -> ApiResult {
    since(mv, 14, "groups/action")?;
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "create-from-src")?;
    let source = match (str_field(m, "group_snapshot_id")?, str_field(m, "source_group_id")?) {
        (Some(gs), None) => GroupSource::GroupSnapshot(gs),
        (None, Some(g)) => GroupSource::Group(g),
        _ => {
            return Err(Error::bad_request(
                "Invalid input received: give exactly one of group_snapshot_id and source_group_id.",
            )
            .into())
        }
    };
    let (name, description) = names(m)?;
    let g = s.control.create_volume_group_from_source(&ctx, source, name, description).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"group": group_view(&s, &g, mv, false).await?}))).into_response())
}

async fn show_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    since(mv, 13, "groups")?;
    let g = s.control.get_volume_group(&ctx, &id).await?;
    Ok(Json(json!({"group": group_view(&s, &g, mv, true).await?})).into_response())
}

/// Volume ids given as "id1,id2" (Cinder's form) or as a list.
fn id_list(v: Option<&Value>) -> Result<Vec<String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(|| Error::bad_request("Invalid input received: ids.")))
            .collect(),
        Some(_) => Err(Error::bad_request("Invalid input received: volume ids are a comma-separated string.")),
    }
}

async fn update_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    since(mv, 13, "groups")?;
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "group")?;
    let (name, description) = names(m)?;
    let u = GroupUpdate {
        name,
        description,
        add_volumes: id_list(m.get("add_volumes"))?,
        remove_volumes: id_list(m.get("remove_volumes"))?,
    };
    if u.name.is_none() && u.description.is_none() && u.add_volumes.is_empty() && u.remove_volumes.is_empty() {
        return Err(Error::bad_request(
            "Invalid input received: name, description, add_volumes and remove_volumes can not be all empty.",
        )
        .into());
    }
    s.control.update_volume_group(&ctx, &id, u).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `delete` (with `delete-volumes`) and, from 3.20, `reset_status`.
async fn group_action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    since(mv, 13, "groups")?;
    let doc: Value = parse_json(&body)?;
    let o = doc.as_object().filter(|o| o.len() == 1).ok_or_else(|| Error::bad_request("There is no such action."))?;
    let (name, arg) = o.iter().next().expect("one key");
    match name.as_str() {
        "delete" => {
            let delete_volumes = bool_field(arg.get("delete-volumes"))?.unwrap_or(false);
            s.control.delete_volume_group(&ctx, &id, delete_volumes).await?;
        }
        "reset_status" if mv.at_least(20) => {
            let status = arg
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Invalid input received: status is required."))?;
            s.control.reset_volume_group_status(&ctx, &id, status).await?;
        }
        _ => return Err(Error::bad_request("There is no such action.").into()),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---- group snapshots ---------------------------------------------------------------------

/// A group snapshot: in lists without detail its id and name, in a create's answer also its
/// group type, in full otherwise.
fn group_snapshot_view(g: &GroupSnapshot, mv: Microversion, detail: bool) -> Value {
    let mut o = json!({"id": g.id, "name": g.name});
    if !detail {
        return o;
    }
    o["group_type_id"] = json!(g.group_type_id);
    o["group_id"] = json!(g.group_id);
    o["status"] = json!(g.status);
    o["description"] = json!(g.description);
    o["created_at"] = json!(usage_time(g.created_at));
    if mv.at_least(58) {
        o["project_id"] = json!(g.project_id);
    }
    o
}

async fn group_snapshot_listing(
    s: &AppState,
    ctx: &nimbus_control::Ctx,
    q: &HashMap<String, String>,
    mv: Microversion,
    detail: bool,
) -> ApiResult {
    since(mv, 14, "group_snapshots")?;
    let all = s.control.list_group_snapshots(ctx, all_tenants(q)).await?;
    let out: Vec<Value> = all.iter().map(|g| group_snapshot_view(g, mv, detail)).collect();
    Ok(Json(json!({"group_snapshots": out})).into_response())
}

async fn list_group_snapshots(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    group_snapshot_listing(&s, &ctx, &q, mv, false).await
}

async fn list_group_snapshots_detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    group_snapshot_listing(&s, &ctx, &q, mv, true).await
}

async fn create_group_snapshot(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, body: Bytes) -> ApiResult {
    since(mv, 14, "group_snapshots")?;
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "group_snapshot")?;
    let group =
        str_field(m, "group_id")?.ok_or_else(|| Error::bad_request("Invalid input received: group_id is required."))?;
    let (name, description) = names(m)?;
    let gs = s.control.create_group_snapshot(&ctx, &group, name, description).await?;
    let view = json!({"id": gs.id, "name": gs.name, "group_type_id": gs.group_type_id});
    Ok((StatusCode::ACCEPTED, Json(json!({ "group_snapshot": view }))).into_response())
}

async fn show_group_snapshot(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    since(mv, 14, "group_snapshots")?;
    let gs = s.control.get_group_snapshot(&ctx, &id).await?;
    Ok(Json(json!({"group_snapshot": group_snapshot_view(&gs, mv, true)})).into_response())
}

async fn delete_group_snapshot(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    since(mv, 14, "group_snapshots")?;
    s.control.delete_group_snapshot(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `reset_status` (from 3.19).
async fn group_snapshot_action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    since(mv, 14, "group_snapshots")?;
    let doc: Value = parse_json(&body)?;
    let status = match doc.get("reset_status") {
        Some(arg) if mv.at_least(19) => arg
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::bad_request("Invalid input received: status is required."))?,
        _ => return Err(Error::bad_request("There is no such action.").into()),
    };
    s.control.reset_group_snapshot_status(&ctx, &id, status).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
