//! Elastic Cloud Server v1/v1.1, as `huaweicloudsdkecs` calls it: batch create with `count`
//! (answering a job id and `serverIds`; `X-Client-Token` makes a retry return the first
//! answer), batch start/stop/reboot, batch delete, show and list. Every call goes to the same
//! server service as Nova's API; each batch is one job with a sub-job per server.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::compute::{BootSource, Naming, NewDataVolume, ServerAction, ServerCreate, ServerQuery, ServerView};
use nimbus_control::network::NicRequest;
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::time::{iso_time, usage_time};
use nimbus_core::Error;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v1/{project_id}/cloudservers", A, create_servers_v1)
        .add("POST", "/v1.1/{project_id}/cloudservers", A, create_servers)
        .add("POST", "/v1/{project_id}/cloudservers/action", A, batch_action)
        .add("POST", "/v1/{project_id}/cloudservers/delete", A, delete_servers)
        .add("GET", "/v1/{project_id}/cloudservers/detail", A, list_servers_details)
        .add("GET", "/v1/{project_id}/cloudservers/{server_id}", A, show_server)
        .add("POST", "/v1/{project_id}/cloudservers/{server_id}/attachvolume", A, attach_volume)
        .add("DELETE", "/v1/{project_id}/cloudservers/{server_id}/detachvolume/{volume_id}", A, detach_volume)
        .add("GET", "/v1/{project_id}/cloudservers/{server_id}/block_device", A, list_block_devices)
        .add("GET", "/v1/{project_id}/cloudservers/{server_id}/block_device/{volume_id}", A, show_block_device)
}

/// An attach: `{"volumeAttachment": {"volumeId": ..., "device": "/dev/vdc"}, "dry_run": false}`.
#[derive(Serialize, ToSchema)]
pub struct AttachVolumeBody {
    #[serde(rename = "volumeAttachment")]
    #[schema(value_type = Object)]
    pub volume_attachment: Value,
}

/// A server's disks: `{"attachableQuantity": {...}, "volumeAttachments": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct BlockDevicesBody {
    #[serde(rename = "attachableQuantity")]
    #[schema(value_type = Object)]
    pub attachable_quantity: Value,
    #[serde(rename = "volumeAttachments")]
    #[schema(value_type = Vec<Object>)]
    pub volume_attachments: Value,
}

/// The answer to a create: the batch job and the new servers' ids.
#[derive(Serialize, ToSchema)]
pub struct CreatedBody {
    pub job_id: String,
    #[serde(rename = "serverIds")]
    pub server_ids: Vec<String>,
}

/// A create: `{"server": {"imageRef", "flavorRef", "name", "count", "user_data" (base64),
/// "key_name", "availability_zone", "metadata", "server_tags", "vpcid", "nics", "root_volume"...}}`.
#[derive(Serialize, ToSchema)]
pub struct CreateServersBody {
    #[schema(value_type = Object)]
    pub server: Value,
}

/// A batch action: exactly one of `os-start`, `os-stop` or `reboot`, each
/// `{"servers": [{"id": ...}], "type": "SOFT"|"HARD"}`.
#[derive(Serialize, ToSchema)]
pub struct BatchActionBody {
    #[serde(rename = "os-stop")]
    #[schema(value_type = Object)]
    pub os_stop: Value,
}

/// A batch delete: `{"servers": [{"id": ...}], "delete_publicip": bool, "delete_volume": bool}`.
#[derive(Serialize, ToSchema)]
pub struct DeleteServersBody {
    #[schema(value_type = Vec<Object>)]
    pub servers: Value,
    pub delete_publicip: Option<bool>,
    pub delete_volume: Option<bool>,
}

/// The answer to a batch action or delete.
#[derive(Serialize, ToSchema)]
pub struct JobIdBody {
    pub job_id: String,
}

/// The path's project must be the caller's (admins may name any project for reads).
pub(super) fn check_project(ctx: &Ctx, project_id: &str, write: bool) -> Result<(), Error> {
    let own = ctx.principal.project_id() == Some(project_id);
    if own || (!write && ctx.principal.can_read_all()) {
        Ok(())
    } else {
        Err(Error::not_found("project", project_id))
    }
}

fn str_of<'a>(m: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::bad_request(format!("'{k}' must be a string."))),
    }
}

fn required<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, Error> {
    str_of(m, k)?.filter(|s| !s.is_empty()).ok_or_else(|| Error::bad_request(format!("'{k}' is required.")))
}

/// A volume's `size` in GB: a positive integer (the volume service checks its limits).
fn volume_size(m: &Map<String, Value>, what: &str, needed: bool) -> Result<Option<i64>, Error> {
    match m.get("size") {
        None | Some(Value::Null) if !needed => Ok(None),
        None | Some(Value::Null) => Err(Error::bad_request(format!("'{what}' is required."))),
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::bad_request(format!("'{what}' must be a positive integer (GB)."))),
        },
    }
}

/// Reads the `server` object of a create into the service's request.
fn create_request(body: &Value) -> Result<ServerCreate, Error> {
    if body.get("dry_run").and_then(Value::as_bool) == Some(true) {
        return Err(Error::bad_request("dry_run is not supported in this region: send the request without it."));
    }
    let m = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("The request body must contain a 'server' object."))?;
    let name = required(m, "name")?;
    if name.chars().count() > 64 {
        return Err(Error::bad_request("'name' is at most 64 characters."));
    }
    let mut req = ServerCreate::new(name, required(m, "imageRef")?, required(m, "flavorRef")?);
    let count = match m.get("count") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as u32,
            _ => return Err(Error::bad_request("'count' must be an integer from 1 to 100.")),
        },
    };
    req.min_count = count;
    req.max_count = count;
    // Huawei names batch members name-0001, name-0002... unless told not to rename.
    req.naming = match m.get("isAutoRename").and_then(Value::as_bool) {
        Some(false) => Naming::Same,
        _ => Naming::Huawei,
    };
    req.key_name = str_of(m, "key_name")?.map(str::to_string);
    req.user_data = str_of(m, "user_data")?.map(str::to_string);
    req.availability_zone = str_of(m, "availability_zone")?.filter(|z| !z.is_empty()).map(str::to_string);
    if let Some(d) = str_of(m, "description")? {
        if d.chars().count() > 85 || d.contains('<') || d.contains('>') {
            return Err(Error::bad_request("'description' is at most 85 characters, without '<' or '>'."));
        }
        req.description = Some(d.to_string());
    }
    if let Some(meta) = m.get("metadata").filter(|v| !v.is_null()) {
        let obj = meta.as_object().ok_or_else(|| Error::bad_request("'metadata' must be an object."))?;
        let mut out = BTreeMap::new();
        for (k, v) in obj {
            let v = v.as_str().ok_or_else(|| Error::bad_request("The values of 'metadata' must be strings."))?;
            out.insert(k.clone(), v.to_string());
        }
        req.metadata = out;
    }
    if let Some(tags) = m.get("server_tags").filter(|v| !v.is_null()) {
        let list = tags.as_array().ok_or_else(|| Error::bad_request("'server_tags' must be a list."))?;
        for t in list {
            let (Some(k), Some(v)) = (t["key"].as_str(), t["value"].as_str()) else {
                return Err(Error::bad_request("Each server tag needs a string 'key' and 'value'."));
            };
            req.tags.push(format!("{k}={v}"));
        }
    }
    // NICs: each on a VPC subnet (a subnet's id is its network's, as in the provider's API),
    // optionally at a chosen address. `default` names the region's default networking:
    // user-mode, without a VPC.
    let vpc = str_of(m, "vpcid")?.filter(|v| !v.is_empty() && *v != "default");
    if let Some(list) = m.get("nics").filter(|v| !v.is_null()) {
        let list = list.as_array().ok_or_else(|| Error::bad_request("'nics' must be a list."))?;
        for n in list {
            let n = n.as_object().ok_or_else(|| Error::bad_request("Each NIC must be an object."))?;
            let subnet = required(n, "subnet_id")?;
            if subnet == "default" {
                continue;
            }
            if vpc.is_none() {
                return Err(Error::bad_request("'vpcid' names the VPC of the NICs' subnets."));
            }
            req.nics.push(NicRequest {
                network_id: Some(subnet.to_string()),
                port_id: None,
                fixed_ip: str_of(n, "ip_address")?.filter(|a| !a.is_empty()).map(str::to_string),
            });
        }
    }
    if let Some(groups) = m.get("security_groups").filter(|v| !v.is_null()) {
        let groups = groups.as_array().ok_or_else(|| Error::bad_request("'security_groups' must be a list."))?;
        for g in groups {
            let id = g["id"].as_str().ok_or_else(|| Error::bad_request("Each security group needs an 'id'."))?;
            req.security_groups.push(id.to_string());
        }
    }
    req.vpc_id = vpc.map(str::to_string);
    if let Some(hints) = m.get("os:scheduler_hints").and_then(Value::as_object) {
        req.server_group = str_of(hints, "group")?.map(str::to_string);
    }
    // The system disk is an EVS volume made from the image (seed 6.1.1), deleted with the
    // server; data disks are blank EVS volumes attached before the server boots.
    if let Some(rv) = m.get("root_volume").filter(|v| !v.is_null()) {
        let rv = rv.as_object().ok_or_else(|| Error::bad_request("'root_volume' must be an object."))?;
        req.boot = BootSource::NewVolume {
            size_gb: volume_size(rv, "root_volume.size", false)?,
            volume_type: Some(required(rv, "volumetype")?.to_string()),
            delete_on_termination: true,
        };
    }
    if let Some(list) = m.get("data_volumes").filter(|v| !v.is_null()) {
        let list = list.as_array().ok_or_else(|| Error::bad_request("'data_volumes' must be a list."))?;
        for d in list {
            let d = d.as_object().ok_or_else(|| Error::bad_request("Each data volume must be an object."))?;
            if str_of(d, "data_image_id")?.is_some_and(|i| !i.is_empty()) {
                return Err(Error::bad_request(
                    "Data volumes made from a data disk image are not available in this region: create them blank.",
                ));
            }
            let flag = |k: &str| match d.get(k) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(Error::bad_request(format!("'data_volumes.{k}' must be a boolean."))),
            };
            req.data_volumes.push(NewDataVolume {
                size_gb: volume_size(d, "data_volumes.size", true)?.unwrap_or_default(),
                volume_type: Some(required(d, "volumetype")?.to_string()),
                multiattach: flag("multiattach")? || flag("shareable")?,
                delete_on_termination: flag("delete_on_termination")?,
            });
        }
    }
    Ok(req)
}

async fn create(s: &AppState, ctx: &Ctx, project_id: &str, headers: &HeaderMap, raw: &[u8]) -> ApiResult {
    check_project(ctx, project_id, true)?;
    let body: Value = parse_json(raw)?;
    let req = create_request(&body)?;
    super::idempotent(s, ctx, headers, raw, || async {
        let created = s.control.create_servers(ctx, req).await?;
        let body =
            CreatedBody { job_id: created.job_id, server_ids: created.servers.into_iter().map(|s| s.id).collect() };
        Ok((StatusCode::OK, serde_json::to_value(body).map_err(Error::from)?))
    })
    .await
}

/// Creates pay-per-use servers (v1).
#[utoipa::path(post, path = "/v1/{project_id}/cloudservers", tag = "ECS", request_body = CreateServersBody,
    params(("project_id" = String, Path), ("X-Client-Token" = Option<String>, Header)),
    responses((status = 200, body = CreatedBody), (status = 400, body = super::ErrorBody)))]
pub async fn create_servers_v1(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    create(&s, &ctx, &project_id, &headers, &raw).await
}

/// Creates servers (v1.1; every server is pay-per-use in this region).
#[utoipa::path(post, path = "/v1.1/{project_id}/cloudservers", tag = "ECS", request_body = CreateServersBody,
    params(("project_id" = String, Path), ("X-Client-Token" = Option<String>, Header)),
    responses((status = 200, body = CreatedBody), (status = 400, body = super::ErrorBody)))]
pub async fn create_servers(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    create(&s, &ctx, &project_id, &headers, &raw).await
}

fn server_ids(v: &Value) -> Result<Vec<String>, Error> {
    let list = v
        .get("servers")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::bad_request("'servers' must be a list of {\"id\": ...}."))?;
    list.iter()
        .map(|s| s["id"].as_str().map(str::to_string).ok_or_else(|| Error::bad_request("Each server needs an 'id'.")))
        .collect()
}

/// Starts, stops or reboots servers: `{"os-start"|"os-stop"|"reboot": {"servers": [...]}}`.
#[utoipa::path(post, path = "/v1/{project_id}/cloudservers/action", tag = "ECS", request_body = BatchActionBody,
    params(("project_id" = String, Path)),
    responses((status = 200, body = JobIdBody), (status = 400, body = super::ErrorBody)))]
pub async fn batch_action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let body: Value = parse_json(&raw)?;
    let obj =
        body.as_object().filter(|o| o.len() == 1).ok_or_else(|| Error::bad_request("Name exactly one action."))?;
    let (name, arg) = obj.iter().next().ok_or_else(|| Error::bad_request("Name exactly one action."))?;
    let kind = arg.get("type").and_then(Value::as_str);
    if kind.is_some_and(|k| k != "SOFT" && k != "HARD") {
        return Err(Error::bad_request("'type' must be SOFT or HARD.").into());
    }
    let action = match name.as_str() {
        "os-start" => ServerAction::Start,
        // A HARD stop is forced at once; the guest's shutdown grace applies to SOFT only.
        "os-stop" => ServerAction::Stop,
        "reboot" => match kind {
            Some(k) => ServerAction::Reboot { hard: k == "HARD" },
            None => return Err(Error::bad_request("reboot needs 'type' SOFT or HARD.").into()),
        },
        other => {
            return Err(Error::bad_request(format!("Unknown action {other:?}: use os-start, os-stop or reboot.")).into())
        }
    };
    let ids = server_ids(arg)?;
    let job_id = s.control.batch_server_action(&ctx, &project_id, &ids, Some(action), false).await?;
    Ok(Json(JobIdBody { job_id }).into_response())
}

/// Deletes servers with their system disks; their data disks too with `delete_volume`
/// (EIPs arrive with the VPC service).
#[utoipa::path(post, path = "/v1/{project_id}/cloudservers/delete", tag = "ECS", request_body = DeleteServersBody,
    params(("project_id" = String, Path)),
    responses((status = 200, body = JobIdBody), (status = 400, body = super::ErrorBody)))]
pub async fn delete_servers(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let body: Value = parse_json(&raw)?;
    for flag in ["delete_publicip", "delete_volume"] {
        if body.get(flag).is_some_and(|v| !v.is_null() && !v.is_boolean()) {
            return Err(Error::bad_request(format!("'{flag}' must be a boolean.")).into());
        }
    }
    let ids = server_ids(&body)?;
    let with_volumes = body.get("delete_volume").and_then(Value::as_bool).unwrap_or(false);
    let job_id = s.control.batch_server_action(&ctx, &project_id, &ids, None, with_volumes).await?;
    Ok(Json(JobIdBody { job_id }).into_response())
}

/// The ECS `ServerDetail` document.
fn detail_doc(s: &AppState, v: &ServerView) -> Value {
    let srv = &v.server;
    let flavor: Value = serde_json::from_str(&srv.flavor).unwrap_or_else(|_| json!({}));
    let mut metadata: Map<String, Value> = serde_json::from_str(&srv.metadata).unwrap_or_default();
    metadata.insert("charging_mode".into(), json!("0"));
    // A server whose system disk is a volume shows the image that disk was made from.
    let image_id = v.boot_image_id.clone().filter(|_| srv.image_id.is_empty()).unwrap_or_else(|| srv.image_id.clone());
    metadata.insert("metering.image_id".into(), json!(image_id));
    metadata.insert("metering.resourcespeccode".into(), json!(srv.flavor_id));
    let mut d = json!({
        "id": srv.id, "name": srv.name, "status": srv.status, "description": srv.description.clone().unwrap_or_default(),
        "created": iso_time(srv.created_at), "updated": iso_time(srv.updated_at),
        "OS-SRV-USG:launched_at": srv.launched_at.map(usage_time).unwrap_or_default(),
        "OS-SRV-USG:terminated_at": "",
        "tenant_id": srv.project_id, "user_id": srv.user_id,
        "hostId": crate::openstack::compute::servers::host_id(&srv.project_id, srv.host.as_deref()),
        "OS-EXT-SRV-ATTR:host": srv.host.clone().unwrap_or_default(),
        "OS-EXT-SRV-ATTR:hypervisor_hostname": srv.host.clone().unwrap_or_default(),
        "OS-EXT-SRV-ATTR:instance_name": format!("instance-{}", &srv.id[..8.min(srv.id.len())]),
        "OS-EXT-SRV-ATTR:hostname": srv.hostname,
        "OS-EXT-SRV-ATTR:reservation_id": srv.reservation_id,
        "OS-EXT-SRV-ATTR:launch_index": srv.launch_index,
        "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "OS-EXT-SRV-ATTR:user_data": srv.user_data,
        "addresses": {}, "key_name": srv.key_name,
        "image": {"id": image_id},
        "flavor": {"id": srv.flavor_id, "name": flavor["name"], "disk": flavor["disk"].to_string(),
                   "vcpus": flavor["vcpus"].to_string(), "ram": flavor["ram"].to_string()},
        "OS-EXT-STS:vm_state": srv.vm_state, "OS-EXT-STS:task_state": srv.task_state,
        "OS-EXT-STS:power_state": srv.power_state,
        "OS-EXT-AZ:availability_zone": srv.availability_zone,
        "OS-DCF:diskConfig": "MANUAL", "accessIPv4": "", "accessIPv6": "",
        "progress": if srv.status == "BUILD" { 0 } else { 100 },
        "config_drive": if srv.config_drive { "True" } else { "" },
        "metadata": metadata,
        "os-extended-volumes:volumes_attached": v.volumes.iter()
            .map(|(id, with_server)| json!({"id": id, "delete_on_termination": with_server.to_string()}))
            .collect::<Vec<_>>(),
        "host_status": if srv.host.is_some() { "UP" } else { "" },
        "locked": srv.locked,
        "tags": v.tags,
        "os:scheduler_hints": {"group": srv.server_group_id.iter().collect::<Vec<_>>()},
        "security_groups": [{"name": "default"}],
        "enterprise_project_id": "0",
        "sys_tags": [{"key": "_sys_enterprise_project_id", "value": "0"}],
        "hypervisor": {"hypervisor_type": s.control.drivers().hypervisor.kind(), "csd_hypervisor": null},
    });
    if let (Some(code), Some(message)) = (srv.fault_code, &srv.fault_message) {
        d["fault"] = json!({"code": code, "message": message,
            "created": iso_time(srv.fault_at.unwrap_or(srv.updated_at)), "details": message});
    }
    d
}

/// Shows a server.
#[utoipa::path(get, path = "/v1/{project_id}/cloudservers/{server_id}", tag = "ECS",
    params(("project_id" = String, Path), ("server_id" = String, Path)),
    responses((status = 200, description = "`{\"server\": ServerDetail}`"), (status = 404, body = super::ErrorBody)))]
pub async fn show_server(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, server_id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let v = s.control.get_server(&ctx, &server_id).await?;
    if v.server.project_id != project_id {
        return Err(Error::not_found("server", &server_id).into());
    }
    Ok(Json(json!({"server": detail_doc(&s, &v)})).into_response())
}

/// Lists servers with details: `offset` is a 1-based page number, `count` the total.
#[utoipa::path(get, path = "/v1/{project_id}/cloudservers/detail", tag = "ECS",
    params(("project_id" = String, Path), ("name" = Option<String>, Query), ("status" = Option<String>, Query),
        ("flavor" = Option<String>, Query), ("reservation_id" = Option<String>, Query),
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "`{\"count\": N, \"servers\": [ServerDetail]}`")))]
pub async fn list_servers_details(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let int = |k: &str, default: i64| -> Result<i64, Error> {
        q.get(k)
            .map(|v| v.parse::<i64>().map_err(|_| Error::bad_request(format!("'{k}' must be an integer."))))
            .transpose()
            .map(|v| v.unwrap_or(default))
    };
    let limit = int("limit", 25)?;
    if !(1..=1000).contains(&limit) {
        return Err(Error::bad_request("'limit' must be from 1 to 1000.").into());
    }
    let page_no = int("offset", 1)?.max(1);
    let query = ServerQuery {
        all_tenants: true,
        project_id: Some(project_id.clone()),
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
        flavor: q.get("flavor").cloned(),
        reservation_id: q.get("reservation_id").cloned(),
        ..Default::default()
    };
    let all = s.control.list_servers(&ctx, &query, &PageRequest::default()).await?;
    let start = ((page_no - 1) * limit) as usize;
    let servers: Vec<Value> = all.iter().skip(start).take(limit as usize).map(|v| detail_doc(&s, v)).collect();
    Ok(Json(json!({"count": all.len(), "servers": servers})).into_response())
}

/// Attaches a data disk to a server (hot-plugged if it runs); answers the job.
#[utoipa::path(post, path = "/v1/{project_id}/cloudservers/{server_id}/attachvolume", tag = "ECS",
    request_body = AttachVolumeBody,
    params(("project_id" = String, Path), ("server_id" = String, Path)),
    responses((status = 200, body = JobIdBody), (status = 400, body = super::ErrorBody)))]
pub async fn attach_volume(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, server_id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("server", &server_id))?;
    let body: Value = parse_json(&raw)?;
    if body.get("dry_run").and_then(Value::as_bool) == Some(true) {
        return Err(Error::bad_request("dry_run is not supported in this region: send the request without it.").into());
    }
    let att = body
        .get("volumeAttachment")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("'volumeAttachment' object required."))?;
    let volume = required(att, "volumeId")?;
    if str_of(att, "hw:passthrough")? == Some("true") {
        return Err(Error::bad_request("SCSI passthrough disks are not offered: attach the disk as VBD.").into());
    }
    let device = str_of(att, "device")?;
    let (_a, job_id) = s.control.attach_volume(&ctx, &server_id, volume, device).await?;
    Ok(Json(JobIdBody { job_id }).into_response())
}

/// Detaches a data disk from a server; answers the job.
#[utoipa::path(delete, path = "/v1/{project_id}/cloudservers/{server_id}/detachvolume/{volume_id}", tag = "ECS",
    params(("project_id" = String, Path), ("server_id" = String, Path), ("volume_id" = String, Path),
           ("delete_flag" = Option<String>, Query)),
    responses((status = 202, body = JobIdBody), (status = 404, body = super::ErrorBody)))]
pub async fn detach_volume(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, server_id, volume_id)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("server", &server_id))?;
    let job_id = s.control.detach_volume(&ctx, &server_id, &volume_id).await?;
    Ok((StatusCode::ACCEPTED, Json(JobIdBody { job_id })).into_response())
}

fn block_device(a: &nimbus_store::volumes::Attachment, size_gb: Option<i64>) -> Value {
    json!({"id": a.volume_id, "volumeId": a.volume_id, "serverId": a.server_id, "device": a.device,
           "bus": "virtio", "size": size_gb, "bootIndex": if a.is_boot() { json!(0) } else { Value::Null },
           "pciAddress": Value::Null})
}

/// A server's attached disks and how many more it takes.
#[utoipa::path(get, path = "/v1/{project_id}/cloudservers/{server_id}/block_device", tag = "ECS",
    params(("project_id" = String, Path), ("server_id" = String, Path)),
    responses((status = 200, body = BlockDevicesBody), (status = 404, body = super::ErrorBody)))]
pub async fn list_block_devices(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, server_id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("server", &server_id))?;
    let list = s.control.server_volume_attachments(&ctx, &server_id).await?;
    let mut docs = Vec::with_capacity(list.len());
    for a in &list {
        let size = s.control.get_volume(&ctx, &a.volume_id).await.ok().map(|v| v.size_gb);
        docs.push(block_device(a, size));
    }
    let free = nimbus_control::volumes::MAX_VOLUMES_PER_SERVER.saturating_sub(list.len());
    Ok(Json(json!({"attachableQuantity": {"free_scsi": 0, "free_blk": free, "free_disk": free},
                   "volumeAttachments": docs}))
    .into_response())
}

/// One attached disk of a server.
#[utoipa::path(get, path = "/v1/{project_id}/cloudservers/{server_id}/block_device/{volume_id}", tag = "ECS",
    params(("project_id" = String, Path), ("server_id" = String, Path), ("volume_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)))]
pub async fn show_block_device(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, server_id, volume_id)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("server", &server_id))?;
    let a = s.control.server_volume_attachment(&ctx, &server_id, &volume_id).await?;
    let size = s.control.get_volume(&ctx, &a.volume_id).await.ok().map(|v| v.size_gb);
    Ok(Json(json!({"volumeAttachment": block_device(&a, size)})).into_response())
}
