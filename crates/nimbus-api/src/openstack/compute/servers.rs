//! `/servers`: create, list (brief and detail), show, update, delete, actions, console
//! output, metadata and tags, rendered per microversion as Tempest's schemas describe.

use super::microversion::Microversion;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::compute::{
    AccessUpdate, BootSource, Naming, NewDataVolume, ServerAction, ServerCreate, ServerQuery, ServerView,
};
use nimbus_control::network::NicRequest;
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::time::{iso_time, usage_time};
use nimbus_core::Error;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha224};
use std::collections::{BTreeMap, HashMap};

use Access::Authenticated as A;

const BASE: &str = "/compute/v2.1/servers";

pub fn routes(r: Routes) -> Routes {
    r.add("GET", BASE, A, list)
        .add("POST", BASE, A, create)
        .add("GET", "/compute/v2.1/servers/detail", A, detail)
        .add("GET", "/compute/v2.1/servers/{server_id}", A, show)
        .add("PUT", "/compute/v2.1/servers/{server_id}", A, update)
        .add("DELETE", "/compute/v2.1/servers/{server_id}", A, delete)
        .add("POST", "/compute/v2.1/servers/{server_id}/action", A, action)
        .add("GET", "/compute/v2.1/servers/{server_id}/metadata", A, metadata_list)
        .add("POST", "/compute/v2.1/servers/{server_id}/metadata", A, metadata_merge)
        .add("PUT", "/compute/v2.1/servers/{server_id}/metadata", A, metadata_replace)
        .add("GET", "/compute/v2.1/servers/{server_id}/metadata/{key}", A, metadata_show)
        .add("PUT", "/compute/v2.1/servers/{server_id}/metadata/{key}", A, metadata_set)
        .add("DELETE", "/compute/v2.1/servers/{server_id}/metadata/{key}", A, metadata_delete)
        .add("GET", "/compute/v2.1/servers/{server_id}/tags", A, tags_list)
        .add("PUT", "/compute/v2.1/servers/{server_id}/tags", A, tags_replace)
        .add("DELETE", "/compute/v2.1/servers/{server_id}/tags", A, tags_clear)
        .add("GET", "/compute/v2.1/servers/{server_id}/tags/{tag}", A, tag_check)
        .add("PUT", "/compute/v2.1/servers/{server_id}/tags/{tag}", A, tag_add)
        .add("DELETE", "/compute/v2.1/servers/{server_id}/tags/{tag}", A, tag_remove)
        .add("GET", "/compute/v2.1/servers/{server_id}/os-instance-actions", A, actions_list)
        .add("GET", "/compute/v2.1/servers/{server_id}/os-instance-actions/{request_id}", A, action_show)
        .add("GET", "/compute/v2.1/servers/{server_id}/os-server-password", A, password_show)
        .add("DELETE", "/compute/v2.1/servers/{server_id}/os-server-password", A, password_clear)
        .add("GET", "/compute/v2.1/servers/{server_id}/ips", A, ips_list)
        .add("GET", "/compute/v2.1/servers/{server_id}/ips/{network}", A, ips_show)
}

fn base(s: &AppState) -> String {
    s.control.config().public_url.trim_end_matches('/').to_string()
}

fn links(s: &AppState, kind: &str, id: &str) -> Value {
    let b = base(s);
    json!([{"rel": "self", "href": format!("{b}/compute/v2.1/{kind}/{id}")},
           {"rel": "bookmark", "href": format!("{b}/compute/{kind}/{id}")}])
}

/// Nova's `hostId`: an opaque per-project hash of the host, so tenants can tell whether
/// two of their servers share a host without learning host names.
pub fn host_id(project: &str, host: Option<&str>) -> String {
    match host {
        Some(h) => hex::encode(Sha224::digest(format!("{project}{h}").as_bytes())),
        None => String::new(),
    }
}

fn require_mv(mv: Microversion, minor: u16) -> Result<(), Error> {
    if mv.at_least(minor) {
        Ok(())
    } else {
        Err(Error::NotFound { kind: "resource", id: format!("(needs microversion 2.{minor})") })
    }
}

/// Which server document a response carries (Tempest's schemas differ per call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `GET /servers/{id}`: the full document, with `server_groups` from 2.71.
    Show,
    /// An item of `GET /servers/detail`: the full document without `server_groups`.
    Detail,
    /// The answer to an update: the basic view below 2.75, the show view from 2.75.
    Update,
    /// The answer to a rebuild: like an update, plus `key_name` (2.54) and `user_data` (2.57).
    Rebuild,
}

/// Keys of the basic view (update and rebuild answers below 2.75).
const BASIC_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "tenant_id",
    "user_id",
    "created",
    "updated",
    "metadata",
    "links",
    "addresses",
    "hostId",
    "image",
    "flavor",
    "progress",
    "fault",
    "OS-DCF:diskConfig",
    "accessIPv4",
    "accessIPv6",
    "locked",
    "description",
    "tags",
    "trusted_image_certificates",
    "server_groups",
    "locked_reason",
    "pinned_availability_zone",
];

/// The server document of `view` at microversion `mv`.
pub fn render(s: &AppState, ctx: &Ctx, v: &ServerView, mv: Microversion, view: View) -> Value {
    let mut d = server_doc(s, ctx, v, mv);
    if mv.at_least(71) && view != View::Detail {
        d["server_groups"] = json!(v.server.server_group_id.iter().collect::<Vec<_>>());
    }
    let basic = matches!(view, View::Update | View::Rebuild) && !mv.at_least(75);
    if basic {
        if let Some(m) = d.as_object_mut() {
            m.retain(|k, _| BASIC_KEYS.contains(&k.as_str()));
        }
    }
    if view == View::Rebuild {
        if basic && mv.at_least(54) {
            d["key_name"] = json!(v.server.key_name);
        }
        if mv.at_least(57) {
            d["user_data"] = json!(v.server.user_data);
        }
        if let Some(m) = d.as_object_mut() {
            m.remove("OS-EXT-SRV-ATTR:user_data");
        }
    }
    d
}

/// Nova's `addresses`: per network name, its fixed and floating addresses with their MACs.
fn addresses_doc(addresses: &[nimbus_control::compute::ServerAddress]) -> Value {
    let mut by_net = Map::new();
    for a in addresses {
        let entry = by_net.entry(a.network.clone()).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            let kind = if a.floating { "floating" } else { "fixed" };
            list.push(
                json!({"version": 4, "addr": a.address, "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": a.mac}),
            );
        }
    }
    Value::Object(by_net)
}

/// The full server document at microversion `mv`.
fn server_doc(s: &AppState, ctx: &Ctx, v: &ServerView, mv: Microversion) -> Value {
    let srv = &v.server;
    let flavor: Value = serde_json::from_str(&srv.flavor).unwrap_or_else(|_| json!({}));
    let flavor_doc = if mv.at_least(47) {
        let mut f = json!({
            "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
            "ephemeral": flavor["ephemeral"], "swap": flavor["swap"], "original_name": flavor["name"],
        });
        f["extra_specs"] = flavor.get("extra_specs").cloned().unwrap_or_else(|| json!({}));
        f
    } else {
        json!({"id": srv.flavor_id, "links": links(s, "flavors", &srv.flavor_id)})
    };
    let metadata: Value = serde_json::from_str(&srv.metadata).unwrap_or_else(|_| json!({}));
    let mut d = json!({
        "id": srv.id, "name": srv.name, "status": srv.status, "tenant_id": srv.project_id, "user_id": srv.user_id,
        "metadata": metadata, "hostId": host_id(&srv.project_id, srv.host.as_deref()),
        // A server booted from a volume has no image (Nova shows an empty string).
        "image": if srv.image_id.is_empty() { json!("") } else {
            json!({"id": srv.image_id, "links": links(s, "images", &srv.image_id)})
        },
        "flavor": flavor_doc,
        "created": iso_time(srv.created_at), "updated": iso_time(srv.updated_at),
        "addresses": addresses_doc(&v.addresses), "accessIPv4": srv.access_ipv4, "accessIPv6": srv.access_ipv6,
        "links": links(s, "servers", &srv.id),
        "OS-DCF:diskConfig": srv.disk_config,
        "OS-EXT-AZ:availability_zone": srv.availability_zone,
        "config_drive": if srv.config_drive { "True" } else { "" },
        "key_name": srv.key_name,
        "OS-SRV-USG:launched_at": srv.launched_at.map(usage_time),
        "OS-SRV-USG:terminated_at": null,
        "OS-EXT-STS:task_state": srv.task_state, "OS-EXT-STS:vm_state": srv.vm_state,
        "OS-EXT-STS:power_state": srv.power_state,
        "os-extended-volumes:volumes_attached": v.volumes.iter().map(|(id, with_server)| if mv.at_least(3) {
            json!({"id": id, "delete_on_termination": with_server})
        } else {
            json!({"id": id})
        }).collect::<Vec<_>>(),
        "security_groups": [{"name": "default"}],
    });
    if matches!(srv.status.as_str(), "BUILD" | "ACTIVE" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE") {
        d["progress"] = json!(if srv.status == "BUILD" { 0 } else { 100 });
    }
    if let (Some(code), Some(message)) = (srv.fault_code, &srv.fault_message) {
        d["fault"] =
            json!({"code": code, "message": message, "created": iso_time(srv.fault_at.unwrap_or(srv.updated_at))});
    }
    if ctx.principal.is_admin() {
        d["OS-EXT-SRV-ATTR:host"] = json!(srv.host);
        d["OS-EXT-SRV-ATTR:instance_name"] = json!(format!("instance-{}", &srv.id[..8.min(srv.id.len())]));
        d["OS-EXT-SRV-ATTR:hypervisor_hostname"] = json!(srv.host);
        if mv.at_least(3) {
            d["OS-EXT-SRV-ATTR:reservation_id"] = json!(srv.reservation_id);
            d["OS-EXT-SRV-ATTR:launch_index"] = json!(srv.launch_index);
            d["OS-EXT-SRV-ATTR:hostname"] = json!(srv.hostname);
            d["OS-EXT-SRV-ATTR:kernel_id"] = json!("");
            d["OS-EXT-SRV-ATTR:ramdisk_id"] = json!("");
            d["OS-EXT-SRV-ATTR:root_device_name"] = json!("/dev/vda");
            d["OS-EXT-SRV-ATTR:user_data"] = json!(srv.user_data);
        }
        if mv.at_least(16) {
            d["host_status"] = json!(if srv.host.is_some() { "UP" } else { "" });
        }
    }
    if mv.at_least(9) {
        d["locked"] = json!(srv.locked);
    }
    if mv.at_least(19) {
        d["description"] = json!(srv.description);
    }
    if mv.at_least(26) {
        d["tags"] = json!(v.tags);
    }
    if mv.at_least(63) {
        d["trusted_image_certificates"] = Value::Null;
    }
    if mv.at_least(73) {
        d["locked_reason"] = Value::Null;
    }
    if mv.at_least(96) {
        d["pinned_availability_zone"] = Value::Null;
    }
    d
}

fn brief_doc(s: &AppState, v: &ServerView) -> Value {
    json!({"id": v.server.id, "name": v.server.name, "links": links(s, "servers", &v.server.id)})
}

fn query(q: &HashMap<String, String>) -> Result<ServerQuery, Error> {
    let truthy = |k: &str| q.get(k).is_some_and(|v| !(v == "0" || v.eq_ignore_ascii_case("false")));
    let changes_since = match q.get("changes-since").or(q.get("changes_since")) {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|_| Error::bad_request(format!("Invalid changes-since value {t:?}.")))?
                .timestamp_millis(),
        ),
        None => None,
    };
    Ok(ServerQuery {
        all_tenants: truthy("all_tenants"),
        project_id: q.get("project_id").or(q.get("tenant_id")).cloned(),
        name: q.get("name").cloned(),
        status: q.get("status").cloned(),
        image: q.get("image").cloned(),
        flavor: q.get("flavor").cloned(),
        availability_zone: q.get("availability_zone").cloned(),
        host: q.get("host").cloned(),
        reservation_id: q.get("reservation_id").cloned(),
        changes_since,
        tags: q.get("tags").map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default(),
    })
}

async fn listing(s: &AppState, ctx: &Ctx, q: &HashMap<String, String>, detailed: bool, mv: Microversion) -> ApiResult {
    if q.get("limit").is_some_and(|l| l == "0") {
        return Ok(Json(json!({"servers": []})).into_response());
    }
    let page = PageRequest::from_query(q)?;
    let views = s.control.list_servers(ctx, &query(q)?, &page).await?;
    let docs: Vec<Value> =
        views.iter().map(|v| if detailed { render(s, ctx, v, mv, View::Detail) } else { brief_doc(s, v) }).collect();
    let mut body = json!({"servers": docs});
    if page.limit.is_some_and(|l| views.len() >= l as usize) {
        if let Some(last) = views.last() {
            let path = if detailed { "servers/detail" } else { "servers" };
            body["servers_links"] = json!([{"rel": "next", "href": format!(
                "{}/compute/v2.1/{path}?limit={}&marker={}", base(s), page.effective_limit(), last.server.id)}]);
        }
    }
    Ok(Json(body).into_response())
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    listing(&s, &ctx, &q, false, mv).await
}

async fn detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    listing(&s, &ctx, &q, true, mv).await
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    let v = s.control.get_server(&ctx, &id).await?;
    Ok(Json(json!({"server": render(&s, &ctx, &v, mv, View::Show)})).into_response())
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) => Ok(Some(v)),
        Some(_) => Err(Error::bad_request(format!("'{k}' must be a string."))),
    }
}

fn count_field(m: &Map<String, Value>, k: &str) -> Result<Option<u32>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
            match n {
                Some(n) if (1..=u32::MAX as u64).contains(&n) => Ok(Some(n as u32)),
                _ => Err(Error::bad_request(format!("'{k}' must be an integer of at least 1."))),
            }
        }
    }
}

/// Reads a `{"key": "value"}` metadata object.
fn string_map(v: &Value, what: &str) -> Result<BTreeMap<String, String>, Error> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(Error::bad_request(format!("The values of '{what}' must be strings."))),
            })
            .collect(),
        _ => Err(Error::bad_request(format!("'{what}' must be an object."))),
    }
}

/// `accessIPv4`, `accessIPv6` and `OS-DCF:diskConfig` of a body.
fn access_of(m: &Map<String, Value>) -> Result<AccessUpdate, Error> {
    Ok(AccessUpdate {
        ipv4: str_field(m, "accessIPv4")?.map(str::to_string),
        ipv6: str_field(m, "accessIPv6")?.map(str::to_string),
        disk_config: str_field(m, "OS-DCF:diskConfig")?.map(str::to_string),
    })
}

/// Reads `networks` (a list of `{"uuid"[, "fixed_ip"]}` or `{"port"}`, or `auto`/`none`
/// from 2.37: user-mode networking) and `security_groups` (names or ids) into the NICs asked
/// for and their groups.
fn networking_of(m: &Map<String, Value>) -> Result<(Vec<NicRequest>, Vec<String>), Error> {
    let mut nics = Vec::new();
    match m.get("networks") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v == "auto" || v == "none" => {}
        Some(Value::Array(items)) => {
            for n in items {
                let uuid = n.get("uuid").and_then(Value::as_str);
                let port = n.get("port").and_then(Value::as_str).filter(|p| !p.is_empty());
                let fixed_ip = n.get("fixed_ip").and_then(Value::as_str).map(str::to_string);
                if let Some(u) = uuid {
                    let hex: String = u.chars().filter(|c| *c != '-').collect();
                    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                        return Err(Error::bad_request(format!(
                            "Bad networks format: network uuid {u} is not a UUID."
                        )));
                    }
                }
                if let Some(ip) = &fixed_ip {
                    if ip.parse::<std::net::Ipv4Addr>().is_err() {
                        return Err(Error::bad_request(format!("Invalid fixed IP address ({ip})")));
                    }
                }
                match (uuid, port) {
                    (_, Some(p)) => nics.push(NicRequest { port_id: Some(p.into()), ..Default::default() }),
                    (Some(u), None) => {
                        nics.push(NicRequest { network_id: Some(u.into()), fixed_ip, ..Default::default() })
                    }
                    (None, None) => {
                        return Err(Error::bad_request("Bad networks format: each names a uuid or a port."))
                    }
                }
            }
        }
        Some(_) => return Err(Error::bad_request("'networks' must be a list, 'auto' or 'none'.")),
    }
    let mut groups = Vec::new();
    if let Some(list) = m.get("security_groups").filter(|v| !v.is_null()) {
        let list = list.as_array().ok_or_else(|| Error::bad_request("'security_groups' must be a list."))?;
        for g in list {
            let name = g.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                return Err(Error::bad_request("Each security group is given by its name."));
            }
            if nics.is_empty() && name != "default" {
                // Without a virtual network there is no port for the group to hold.
                return Err(Error::bad_request(format!("Security group {name} not found for project.")));
            }
            groups.push(name.to_string());
        }
    }
    Ok((nics, groups))
}

/// What to boot: `imageRef`, or the boot entry (`boot_index` 0) of
/// `block_device_mapping_v2`: an image on a local disk, an existing volume, or a new volume
/// made from an image.
fn boot_source(m: &Map<String, Value>) -> Result<(String, BootSource, Vec<NewDataVolume>), Error> {
    let image_ref = str_field(m, "imageRef")?.filter(|s| !s.is_empty()).map(str::to_string);
    let Some(bdm) = m.get("block_device_mapping_v2").filter(|v| !v.is_null()) else {
        let image = image_ref.ok_or_else(|| Error::bad_request("'imageRef' is required."))?;
        return Ok((image, BootSource::Image, Vec::new()));
    };
    let items = bdm.as_array().ok_or_else(|| Error::bad_request("'block_device_mapping_v2' must be a list."))?;
    let mut boot = None;
    let mut data = Vec::new();
    for b in items {
        let index = match &b["boot_index"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse::<i64>().ok(),
            _ => None,
        };
        let source = b["source_type"].as_str().unwrap_or("");
        let dest = b["destination_type"].as_str().unwrap_or(if source == "volume" { "volume" } else { "local" });
        let uuid = b["uuid"].as_str().map(str::to_string);
        let delete_on_termination = match &b["delete_on_termination"] {
            Value::Bool(v) => *v,
            Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
            _ => false,
        };
        let size = match &b["volume_size"] {
            Value::Number(n) => Some(
                n.as_i64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::bad_request("'volume_size' must be a positive integer."))?,
            ),
            Value::String(s) => Some(
                s.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::bad_request("'volume_size' must be a positive integer."))?,
            ),
            _ => None,
        };
        match (index, source, dest) {
            // A blank or swap local disk beside the boot disk: the flavor's disk is the only one.
            (None | Some(-1), "blank", "local") => {}
            // A new blank volume attached before the server boots.
            (None | Some(-1), "blank", "volume") => data.push(NewDataVolume {
                size_gb: size.ok_or_else(|| Error::bad_request("A blank volume needs its 'volume_size'."))?,
                volume_type: b["volume_type"].as_str().map(str::to_string),
                multiattach: false,
                delete_on_termination,
            }),
            (Some(0), "image", "local") => {
                let image = uuid.ok_or_else(|| Error::bad_request("The boot image needs its 'uuid'."))?;
                boot = Some((image, BootSource::Image));
            }
            (Some(0), "volume", "volume") => {
                let volume_id = uuid.ok_or_else(|| Error::bad_request("The boot volume needs its 'uuid'."))?;
                boot = Some((String::new(), BootSource::Volume { volume_id, delete_on_termination }));
            }
            (Some(0), "image", "volume") => {
                let image = uuid.ok_or_else(|| Error::bad_request("The boot image needs its 'uuid'."))?;
                let volume_type = b["volume_type"].as_str().map(str::to_string);
                boot = Some((image, BootSource::NewVolume { size_gb: size, volume_type, delete_on_termination }));
            }
            (None, "image", "local") if image_ref.is_none() => {
                let image = uuid.ok_or_else(|| Error::bad_request("The boot image needs its 'uuid'."))?;
                boot = Some((image, BootSource::Image));
            }
            _ => {
                return Err(Error::bad_request(format!(
                    "Block device mapping (boot_index {}, {source} to {dest}) is not offered: boot from an image \
                     or a volume, with new blank volumes beside it; attach other volumes once the server exists.",
                    index.map_or("none".into(), |i| i.to_string())
                )))
            }
        }
    }
    match (boot, image_ref) {
        (Some((image, b)), _) => Ok((image, b, data)),
        (None, Some(image)) => Ok((image, BootSource::Image, data)),
        (None, None) => Err(Error::bad_request("'imageRef' is required.")),
    }
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, raw: Bytes) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let m = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("The request body must contain a 'server' object."))?;
    let name = str_field(m, "name")?.ok_or_else(|| Error::bad_request("'name' is required."))?;
    let flavor = match m.get("flavorRef") {
        Some(Value::String(f)) => f.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(Error::bad_request("'flavorRef' is required.").into()),
    };
    // The flavor may be given as a link.
    let flavor = flavor.rsplit('/').next().unwrap_or_default().to_string();
    let (image, boot, data_volumes) = boot_source(m)?;
    let image = image.rsplit('/').next().unwrap_or_default().to_string();
    let mut req = ServerCreate::new(name, &image, &flavor);
    req.boot = boot;
    req.data_volumes = data_volumes;
    req.key_name = str_field(m, "key_name")?.map(str::to_string);
    req.user_data = str_field(m, "user_data")?.map(str::to_string);
    req.metadata = string_map(m.get("metadata").unwrap_or(&Value::Null), "metadata")?;
    req.availability_zone = str_field(m, "availability_zone")?.filter(|z| !z.is_empty()).map(|z| {
        // "zone:host" forces a host in Nova; only the zone part applies here.
        z.split(':').next().unwrap_or(z).to_string()
    });
    req.min_count = count_field(m, "min_count")?.unwrap_or(1);
    req.max_count = count_field(m, "max_count")?.unwrap_or(req.min_count);
    if mv.at_least(19) {
        req.description = str_field(m, "description")?.map(str::to_string);
    }
    if mv.at_least(52) {
        if let Some(t) = m.get("tags").filter(|t| !t.is_null()) {
            req.tags = serde_json::from_value(t.clone())
                .map_err(|_| Error::bad_request("'tags' must be a list of strings."))?;
        }
    }
    if mv.at_least(37) && !m.contains_key("networks") {
        return Err(
            Error::bad_request("'networks' is required from microversion 2.37 ('auto', 'none' or a list).").into()
        );
    }
    if let Some(hints) = body.get("os:scheduler_hints").and_then(Value::as_object) {
        req.server_group = str_field(hints, "group")?.map(str::to_string);
    }
    req.naming = Naming::Nova;
    req.access = access_of(m)?;
    let (nics, groups) = networking_of(m)?;
    req.nics = nics;
    req.security_groups = groups;
    let admin_pass = str_field(m, "adminPass")?.map(str::to_string);
    let return_reservation = m.get("return_reservation_id").and_then(Value::as_bool).unwrap_or(false);
    let created = s.control.create_servers(&ctx, req).await?;
    if return_reservation {
        return Ok((StatusCode::ACCEPTED, Json(json!({"reservation_id": created.reservation_id}))).into_response());
    }
    let first = created.servers.first().ok_or_else(|| Error::Internal("no server created".into()))?;
    let mut doc = json!({
        "id": first.id, "links": links(&s, "servers", &first.id), "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": "default"}],
    });
    // Nova echoes the password given, or generates one; guests of this region take SSH keys
    // instead, so the password is never installed (Nova's behaviour without an agent).
    doc["adminPass"] = json!(admin_pass.unwrap_or_else(|| nimbus_core::id::new_hex_id()[..12].to_string()));
    doc["OS-DCF:diskConfig"] = json!(first.disk_config);
    let mut resp = (StatusCode::ACCEPTED, Json(json!({"server": doc}))).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("{}/compute/v2.1/servers/{}", base(&s), first.id)) {
        resp.headers_mut().insert("location", loc);
    }
    Ok(resp)
}

async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let m = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("The request body must contain a 'server' object."))?;
    for k in m.keys() {
        let allowed = matches!(k.as_str(), "name" | "accessIPv4" | "accessIPv6" | "OS-DCF:diskConfig")
            || (k == "description" && mv.at_least(19))
            || (k == "hostname" && mv.at_least(90));
        if !allowed {
            return Err(
                Error::bad_request(format!("Additional properties are not allowed ('{k}' was unexpected).")).into()
            );
        }
    }
    let name = str_field(m, "name")?.map(str::to_string);
    let description =
        if m.contains_key("description") { Some(str_field(m, "description")?.map(str::to_string)) } else { None };
    let v = s.control.update_server(&ctx, &id, name, description, access_of(m)?).await?;
    Ok(Json(json!({"server": render(&s, &ctx, &v, mv, View::Update)})).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_server(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let obj =
        body.as_object().filter(|o| o.len() == 1).ok_or_else(|| Error::bad_request("Name exactly one action."))?;
    let (name, arg) = obj.iter().next().ok_or_else(|| Error::bad_request("Name exactly one action."))?;
    let arg_obj = || arg.as_object().ok_or_else(|| Error::bad_request(format!("'{name}' takes an object.")));
    let action = match name.as_str() {
        "os-start" => ServerAction::Start,
        "os-stop" => ServerAction::Stop,
        "reboot" => {
            let t = str_field(arg_obj()?, "type")?
                .ok_or_else(|| Error::bad_request("reboot needs 'type' SOFT or HARD."))?;
            match t.to_ascii_uppercase().as_str() {
                "SOFT" => ServerAction::Reboot { hard: false },
                "HARD" => ServerAction::Reboot { hard: true },
                _ => return Err(Error::bad_request("reboot 'type' must be SOFT or HARD.").into()),
            }
        }
        "resize" => {
            let o = arg_obj()?;
            let f = match o.get("flavorRef") {
                Some(Value::String(f)) => f.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(Error::bad_request("resize needs 'flavorRef'.").into()),
            };
            ServerAction::Resize {
                flavor_ref: f.rsplit('/').next().unwrap_or_default().to_string(),
                disk_config: str_field(o, "OS-DCF:diskConfig")?.map(str::to_string),
            }
        }
        "confirmResize" => ServerAction::ConfirmResize,
        "revertResize" => ServerAction::RevertResize,
        "rebuild" => {
            let o = arg_obj()?;
            let image = str_field(o, "imageRef")?.ok_or_else(|| Error::bad_request("rebuild needs 'imageRef'."))?;
            let user_data = if mv.at_least(57) && o.contains_key("user_data") {
                Some(str_field(o, "user_data")?.map(str::to_string))
            } else {
                None
            };
            let key_name = if mv.at_least(54) && o.contains_key("key_name") {
                Some(str_field(o, "key_name")?.map(str::to_string))
            } else {
                None
            };
            let metadata = match o.get("metadata") {
                None => None,
                Some(m) => Some(string_map(m, "metadata")?),
            };
            ServerAction::Rebuild {
                image_ref: image.rsplit('/').next().unwrap_or_default().to_string(),
                name: str_field(o, "name")?.map(str::to_string),
                user_data,
                key_name,
                metadata,
                access: access_of(o)?,
            }
        }
        "createImage" => {
            let o = arg_obj()?;
            let n = str_field(o, "name")?.ok_or_else(|| Error::bad_request("createImage needs 'name'."))?;
            ServerAction::CreateImage {
                name: n.to_string(),
                metadata: string_map(o.get("metadata").unwrap_or(&Value::Null), "metadata")?,
            }
        }
        "os-getConsoleOutput" => {
            let length = match arg.get("length") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(t)) => {
                    Some(t.parse::<i64>().map_err(|_| Error::bad_request("'length' must be an integer."))?)
                }
                Some(_) => return Err(Error::bad_request("'length' must be an integer.").into()),
            };
            if length.is_some_and(|l| l < -1) {
                return Err(Error::bad_request("'length' must be -1 or more.").into());
            }
            let raw = s.control.console_output(&ctx, &id, None).await?;
            // Nova strips control characters and keeps the last `length` lines.
            let clean: String =
                raw.chars().filter(|c| !matches!(*c as u32, 0..=8 | 0x0b..=0x1f) || *c == '\n').collect();
            let output = match length.filter(|l| *l >= 0) {
                Some(n) => {
                    let parts: Vec<&str> = clean.split('\n').collect();
                    parts[parts.len().saturating_sub(n as usize)..].join("\n")
                }
                None => clean,
            };
            return Ok(Json(json!({"output": output})).into_response());
        }
        "lock" | "unlock" => {
            s.control.set_server_lock(&ctx, &id, name == "lock").await?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        "os-resetState" => {
            let state =
                str_field(arg_obj()?, "state")?.ok_or_else(|| Error::bad_request("os-resetState needs 'state'."))?;
            s.control.reset_server_state(&ctx, &id, state).await?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        "restore" | "forceDelete" => {
            // Deletes are immediate here (no soft delete), so no server is ever SOFT_DELETED.
            let v = s.control.get_server(&ctx, &id).await?;
            return Err(Error::Conflict(format!(
                "Cannot '{name}' instance {} while it is in vm_state {}.",
                v.server.id, v.server.vm_state
            ))
            .into());
        }
        "migrate" | "os-migrateLive" => {
            s.control.reset_server_state_check(&ctx, &id).await?;
            return Err(Error::bad_request("No valid host was found: this region has one compute host.").into());
        }
        "injectNetworkInfo" => {
            // Guests read their network from the config drive and DHCP: nothing to inject,
            // but the server must exist and the caller must be an operator.
            s.control.reset_server_state_check(&ctx, &id).await?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        other => {
            return Err(Error::bad_request(format!("Action '{other}' is not supported in this region.")).into());
        }
    };
    let rebuild = matches!(action, ServerAction::Rebuild { .. });
    let confirm = matches!(action, ServerAction::ConfirmResize);
    let outcome = s.control.server_action(&ctx, &id, action).await?;
    if let Some(image_id) = outcome.image_id {
        let location = format!("{}/image/v2/images/{image_id}", base(&s));
        let mut resp = if mv.at_least(45) {
            (StatusCode::ACCEPTED, Json(json!({"image_id": image_id}))).into_response()
        } else {
            StatusCode::ACCEPTED.into_response()
        };
        if let Ok(loc) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert("location", loc);
        }
        return Ok(resp);
    }
    if rebuild {
        let v = s.control.get_server(&ctx, &id).await?;
        let mut d = render(&s, &ctx, &v, mv, View::Rebuild);
        let pass = arg.get("adminPass").and_then(Value::as_str).map(str::to_string);
        d["adminPass"] = json!(pass.unwrap_or_else(|| nimbus_core::id::new_hex_id()[..12].to_string()));
        return Ok((StatusCode::ACCEPTED, Json(json!({"server": d}))).into_response());
    }
    Ok(if confirm { StatusCode::NO_CONTENT } else { StatusCode::ACCEPTED }.into_response())
}

async fn current_metadata(s: &AppState, ctx: &Ctx, id: &str) -> Result<BTreeMap<String, String>, Error> {
    let v = s.control.get_server(ctx, id).await?;
    Ok(serde_json::from_str(&v.server.metadata).unwrap_or_default())
}

async fn metadata_list(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    Ok(Json(json!({"metadata": current_metadata(&s, &ctx, &id).await?})).into_response())
}

fn metadata_body(raw: &[u8], key: &str) -> Result<BTreeMap<String, String>, Error> {
    let body: Value = parse_json(raw)?;
    string_map(body.get(key).ok_or_else(|| Error::bad_request(format!("The request body must contain '{key}'.")))?, key)
}

async fn metadata_merge(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, raw: Bytes) -> ApiResult {
    let items = metadata_body(&raw, "metadata")?;
    let meta = s.control.set_server_metadata(&ctx, &id, items, false).await?;
    Ok(Json(json!({"metadata": meta})).into_response())
}

async fn metadata_replace(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, raw: Bytes) -> ApiResult {
    let items = metadata_body(&raw, "metadata")?;
    let meta = s.control.set_server_metadata(&ctx, &id, items, true).await?;
    Ok(Json(json!({"metadata": meta})).into_response())
}

async fn metadata_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let meta = current_metadata(&s, &ctx, &id).await?;
    let v = meta.get(&key).ok_or_else(|| Error::not_found("metadata item", &key))?;
    Ok(Json(json!({"meta": {key: v}})).into_response())
}

async fn metadata_set(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let items = metadata_body(&raw, "meta")?;
    if items.len() != 1 || !items.contains_key(&key) {
        return Err(Error::bad_request("'meta' must hold exactly the key named in the URL.").into());
    }
    s.control.set_server_metadata(&ctx, &id, items.clone(), false).await?;
    Ok(Json(json!({"meta": items})).into_response())
}

async fn metadata_delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    s.control.delete_server_metadata(&ctx, &id, &key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tags_list(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    require_mv(mv, 26)?;
    let v = s.control.get_server(&ctx, &id).await?;
    Ok(Json(json!({"tags": v.tags})).into_response())
}

async fn tags_replace(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    require_mv(mv, 26)?;
    let body: Value = parse_json(&raw)?;
    let tags: Vec<String> = serde_json::from_value(body.get("tags").cloned().unwrap_or(Value::Null))
        .map_err(|_| Error::bad_request("'tags' must be a list of strings."))?;
    let tags = s.control.change_server_tags(&ctx, &id, Some(tags), None, None).await?;
    Ok(Json(json!({"tags": tags})).into_response())
}

async fn tags_clear(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    require_mv(mv, 26)?;
    s.control.change_server_tags(&ctx, &id, Some(Vec::new()), None, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tag_check(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    require_mv(mv, 26)?;
    let v = s.control.get_server(&ctx, &id).await?;
    if v.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::not_found("tag", &tag).into())
    }
}

async fn tag_add(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    require_mv(mv, 26)?;
    let before = s.control.get_server(&ctx, &id).await?.tags;
    s.control.change_server_tags(&ctx, &id, None, Some(&tag), None).await?;
    let status = if before.contains(&tag) { StatusCode::NO_CONTENT } else { StatusCode::CREATED };
    let mut resp = status.into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("{}/compute/v2.1/servers/{id}/tags/{tag}", base(&s))) {
        resp.headers_mut().insert("location", loc);
    }
    Ok(resp)
}

async fn tag_remove(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    require_mv(mv, 26)?;
    s.control.change_server_tags(&ctx, &id, None, None, Some(&tag)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn actions_list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> ApiResult {
    let traces = s.control.server_actions(&ctx, &id).await?;
    let docs: Vec<Value> = traces.iter().map(|t| action_doc(t, &id, mv)).collect();
    Ok(Json(json!({"instanceActions": docs})).into_response())
}

fn action_doc(t: &nimbus_store::audit::Trace, id: &str, mv: Microversion) -> Value {
    let mut d = json!({
        "action": nimbus_control::compute::instance_action_name(&t.trace_name).unwrap_or("unknown"),
        "request_id": t.request_id, "user_id": t.user_id, "project_id": t.project_id,
        "start_time": usage_time(t.time_ms), "message": null, "instance_uuid": id,
    });
    if mv.at_least(58) {
        d["updated_at"] = json!(usage_time(t.time_ms));
    }
    d
}

async fn action_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, request_id)): Path<(String, String)>,
) -> ApiResult {
    let traces = s.control.server_actions(&ctx, &id).await?;
    let t = traces
        .iter()
        .find(|t| t.request_id.as_deref() == Some(request_id.as_str()))
        .ok_or_else(|| Error::not_found("instance action", &request_id))?;
    let mut d = action_doc(t, &id, mv);
    let mut event = json!({"event": format!("compute_{}", d["action"].as_str().unwrap_or("")),
        "start_time": usage_time(t.time_ms), "finish_time": usage_time(t.time_ms), "result": "Success"});
    if mv.at_least(62) {
        event["hostId"] = json!("");
    }
    if mv.at_least(51) || ctx.principal.is_admin() {
        d["events"] = json!([event]);
    }
    Ok(Json(json!({"instanceAction": d})).into_response())
}

async fn password_show(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    // Guests of this region take SSH keys; no password is ever set or stored.
    s.control.get_server(&ctx, &id).await?;
    Ok(Json(json!({"password": ""})).into_response())
}

async fn password_clear(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.get_server(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn ips_list(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let v = s.control.get_server(&ctx, &id).await?;
    Ok(Json(json!({"addresses": addresses_doc(&v.addresses)})).into_response())
}

async fn ips_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, network)): Path<(String, String)>,
) -> ApiResult {
    s.control.get_server(&ctx, &id).await?;
    Err(Error::not_found("network", &network).into())
}
