//! Neutron floating IPs: `/v2.0/floatingips` (the same EIPs as the native
//! `/v1/{project_id}/publicips`).

use super::listing::{self, pairs};
use super::{body_object, check_keys, project_of, standard, str_of};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::network::{FloatingIpCreate, FloatingIpUpdate, FloatingIpView};
use nimbus_core::Error;
use serde_json::{json, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/network/v2.0/floatingips", A, list)
        .add("POST", "/network/v2.0/floatingips", A, create)
        .add("GET", "/network/v2.0/floatingips/{floatingip_id}", A, show)
        .add("PUT", "/network/v2.0/floatingips/{floatingip_id}", A, update)
        .add("DELETE", "/network/v2.0/floatingips/{floatingip_id}", A, delete)
}

fn view(v: &FloatingIpView) -> Value {
    let f = &v.fip;
    let port_details = match &v.port {
        Some(p) => json!({
            "name": p.name, "network_id": p.network_id, "mac_address": p.mac_address,
            "admin_state_up": p.admin_state_up, "status": p.status, "device_id": p.device_id,
            "device_owner": p.device_owner,
        }),
        None => Value::Null,
    };
    let mut o = json!({
        "id": f.id, "floating_network_id": f.floating_network_id, "floating_ip_address": f.floating_ip_address,
        "router_id": f.router_id, "port_id": f.port_id, "fixed_ip_address": f.fixed_ip_address,
        "status": v.status(), "description": f.description, "port_details": port_details,
        "port_forwardings": [], "qos_policy_id": null,
    });
    standard(&mut o, &f.project_id, f.created_at, f.updated_at, f.revision_number);
    o
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = pairs(raw.as_deref());
    let items: Vec<Value> = s.control.list_floating_ips(&ctx).await?.iter().map(view).collect();
    let items = super::tags::with_tags(&s, "floatingips", items).await?;
    let url = format!("{}/network/v2.0/floatingips", super::base(&s));
    Ok(Json(listing::list(items, &q, "floatingips", &url)?).into_response())
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "floatingip")?;
    check_keys(
        &m,
        &[
            "floating_network_id",
            "floating_ip_address",
            "subnet_id",
            "port_id",
            "fixed_ip_address",
            "description",
            "project_id",
            "tenant_id",
            "dns_domain",
            "dns_name",
            "qos_policy_id",
        ],
    )?;
    if m.get("fixed_ip_address").is_some_and(|v| !v.is_null()) && m.get("port_id").is_none_or(Value::is_null) {
        return Err(Error::bad_request(
            "Invalid input for operation: fixed_ip_address cannot be specified without a port_id.",
        )
        .into());
    }
    let req = FloatingIpCreate {
        floating_network_id: str_of(&m, "floating_network_id")?.ok_or_else(|| {
            Error::bad_request("Failed to parse request. Required attribute 'floating_network_id' not specified")
        })?,
        floating_ip_address: str_of(&m, "floating_ip_address")?,
        subnet_id: str_of(&m, "subnet_id")?,
        port_id: str_of(&m, "port_id")?,
        fixed_ip_address: str_of(&m, "fixed_ip_address")?,
        description: str_of(&m, "description")?.unwrap_or_default(),
        project_id: project_of(&m)?,
        bandwidth: None,
        ip_type: None,
    };
    let f = s.control.create_floating_ip(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(json!({ "floatingip": view(&f) }))).into_response())
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let f = s.control.get_floating_ip(&ctx, &id).await?;
    let v =
        listing::project_fields(super::tags::with_tags_one(&s, "floatingips", view(&f)).await?, &pairs(raw.as_deref()));
    Ok(Json(json!({ "floatingip": v })).into_response())
}

async fn update(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "floatingip")?;
    check_keys(&m, &["port_id", "fixed_ip_address", "description", "qos_policy_id"])?;
    let port_id = match m.get("port_id") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(_) => Some(str_of(&m, "port_id")?.filter(|p| !p.is_empty())),
    };
    let u = FloatingIpUpdate {
        port_id,
        fixed_ip_address: str_of(&m, "fixed_ip_address")?,
        description: str_of(&m, "description")?,
    };
    let f = s.control.update_floating_ip(&ctx, &id, u).await?;
    Ok(Json(json!({ "floatingip": view(&f) })).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_floating_ip(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
