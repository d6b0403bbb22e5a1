//! Neutron ports: `/v2.0/ports` (bulk creates too).

use super::listing::{self, pairs};
use super::{body_object, bool_of, check_keys, create_bodies, project_of, standard, str_list, str_of};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::network::{FixedIpRequest, PortCreate, PortUpdate, PortView};
use nimbus_control::Ctx;
use nimbus_core::Error;
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/network/v2.0/ports", A, list)
        .add("POST", "/network/v2.0/ports", A, create)
        .add("GET", "/network/v2.0/ports/{port_id}", A, show)
        .add("PUT", "/network/v2.0/ports/{port_id}", A, update)
        .add("DELETE", "/network/v2.0/ports/{port_id}", A, delete)
}

fn view(ctx: &Ctx, v: &PortView) -> Value {
    let p = &v.port;
    let fixed: Vec<Value> =
        v.fixed_ips.iter().map(|f| json!({"subnet_id": f.subnet_id, "ip_address": f.ip_address})).collect();
    let mut o = json!({
        "id": p.id, "name": p.name, "description": p.description, "network_id": p.network_id,
        "mac_address": p.mac_address, "admin_state_up": p.admin_state_up, "status": p.status,
        "device_id": p.device_id, "device_owner": p.device_owner, "fixed_ips": fixed,
        "security_groups": v.security_groups, "port_security_enabled": p.port_security_enabled,
        "allowed_address_pairs": serde_json::from_str::<Value>(&p.allowed_address_pairs).unwrap_or(json!([])),
        "extra_dhcp_opts": [], "binding:vnic_type": "normal",
    });
    if ctx.principal.is_admin() {
        o["binding:host_id"] = json!("");
        o["binding:profile"] = json!({});
        o["binding:vif_details"] = json!({});
        o["binding:vif_type"] = json!("unbound");
    }
    standard(&mut o, &p.project_id, p.created_at, p.updated_at, p.revision_number);
    o
}

pub(super) fn fixed_ips_of(m: &Map<String, Value>) -> Result<Option<Vec<FixedIpRequest>>, Error> {
    match m.get("fixed_ips") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                let o = f
                    .as_object()
                    .ok_or_else(|| Error::bad_request("Invalid input for fixed_ips: objects expected."))?;
                check_keys(o, &["subnet_id", "ip_address"])?;
                Ok(FixedIpRequest { subnet_id: str_of(o, "subnet_id")?, ip_address: str_of(o, "ip_address")? })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::bad_request("Invalid input for fixed_ips: a list is expected.")),
    }
}

/// Allowed address pairs: an address (or network) and, optionally, a MAC.
type AddressPairs = Vec<(String, Option<String>)>;

fn pairs_of(m: &Map<String, Value>) -> Result<Option<AddressPairs>, Error> {
    match m.get("allowed_address_pairs") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                let o = f.as_object().ok_or_else(|| Error::bad_request("Invalid input for allowed_address_pairs."))?;
                let ip = str_of(o, "ip_address")?.ok_or_else(|| {
                    Error::bad_request("Invalid input for allowed_address_pairs: ip_address is required.")
                })?;
                Ok((ip, str_of(o, "mac_address")?))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::bad_request("Invalid input for allowed_address_pairs: a list is expected.")),
    }
}

const KEYS: &[&str] = &[
    "name",
    "description",
    "network_id",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "project_id",
    "tenant_id",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "extra_dhcp_opts",
];

fn create_request(m: &Map<String, Value>) -> Result<PortCreate, Error> {
    check_keys(m, KEYS)?;
    Ok(PortCreate {
        network_id: str_of(m, "network_id")?.ok_or_else(|| {
            Error::bad_request("Failed to parse request. Required attribute 'network_id' not specified")
        })?,
        name: str_of(m, "name")?.unwrap_or_default(),
        description: str_of(m, "description")?.unwrap_or_default(),
        admin_state_up: bool_of(m, "admin_state_up")?,
        mac_address: str_of(m, "mac_address")?,
        fixed_ips: fixed_ips_of(m)?,
        device_id: str_of(m, "device_id")?.unwrap_or_default(),
        device_owner: str_of(m, "device_owner")?.unwrap_or_default(),
        security_groups: str_list(m, "security_groups")?,
        port_security_enabled: bool_of(m, "port_security_enabled")?,
        allowed_address_pairs: pairs_of(m)?.unwrap_or_default(),
        project_id: project_of(m)?,
    })
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = pairs(raw.as_deref());
    let items: Vec<Value> = s.control.list_ports(&ctx).await?.iter().map(|p| view(&ctx, p)).collect();
    let items = super::tags::with_tags(&s, "ports", items).await?;
    let url = format!("{}/network/v2.0/ports", super::base(&s));
    Ok(Json(listing::list(items, &q, "ports", &url)?).into_response())
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let (items, bulk) = create_bodies(&doc, "port", "ports")?;
    let reqs = items.iter().map(create_request).collect::<Result<Vec<_>, _>>()?;
    let made = super::all_or_nothing(
        reqs,
        |req| s.control.create_port(&ctx, req),
        |n| {
            let (s, ctx, id) = (&s, &ctx, n.port.id.clone());
            async move {
                let _ = s.control.delete_port(ctx, &id).await;
            }
        },
    )
    .await?;
    let views: Vec<Value> = made.iter().map(|n| view(&ctx, n)).collect();
    Ok(super::created(views, bulk, "port", "ports"))
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let p = s.control.get_port(&ctx, &id).await?;
    let v = super::tags::with_tags_one(&s, "ports", view(&ctx, &p)).await?;
    Ok(Json(json!({ "port": listing::project_fields(v, &pairs(raw.as_deref())) })).into_response())
}

async fn update(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "port")?;
    if m.contains_key("network_id") {
        return Err(Error::bad_request("Cannot update read-only attribute network_id").into());
    }
    check_keys(&m, KEYS)?;
    let u = PortUpdate {
        name: str_of(&m, "name")?,
        description: str_of(&m, "description")?,
        admin_state_up: bool_of(&m, "admin_state_up")?,
        mac_address: str_of(&m, "mac_address")?,
        fixed_ips: fixed_ips_of(&m)?,
        device_id: str_of(&m, "device_id")?,
        device_owner: str_of(&m, "device_owner")?,
        security_groups: match m.get("security_groups") {
            Some(Value::Null) => Some(Vec::new()),
            _ => str_list(&m, "security_groups")?,
        },
        port_security_enabled: bool_of(&m, "port_security_enabled")?,
        allowed_address_pairs: match m.get("allowed_address_pairs") {
            Some(Value::Null) => Some(Vec::new()),
            _ => pairs_of(&m)?,
        },
    };
    let p = s.control.update_port(&ctx, &id, u).await?;
    Ok(Json(json!({ "port": view(&ctx, &p) })).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_port(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
