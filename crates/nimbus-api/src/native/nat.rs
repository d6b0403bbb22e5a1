//! The native NAT gateway API (v2) as `huaweicloudsdknat` calls it: public NAT gateways of
//! VPCs, their SNAT rules (a subnet or range out as EIPs) and DNAT rules (an EIP's port, or
//! the whole EIP, in to a server), at `/v2/{project_id}/...`.

use super::ecs::check_project;
use super::vpc::{filter_by, page, query_pairs};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::network::{DnatRuleCreate, NatGatewayCreate, SnatRuleCreate};
use nimbus_control::Ctx;
use nimbus_core::Error;
use nimbus_store::nat::{DnatRule, NatGateway, SnatRule};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v2/{project_id}/nat_gateways", A, create_gateway)
        .add("GET", "/v2/{project_id}/nat_gateways", A, list_gateways)
        .add("GET", "/v2/{project_id}/nat_gateways/{nat_gateway_id}", A, show_gateway)
        .add("PUT", "/v2/{project_id}/nat_gateways/{nat_gateway_id}", A, update_gateway)
        .add("DELETE", "/v2/{project_id}/nat_gateways/{nat_gateway_id}", A, delete_gateway)
        .add("POST", "/v2/{project_id}/snat_rules", A, create_snat)
        .add("GET", "/v2/{project_id}/snat_rules", A, list_snat)
        .add("GET", "/v2/{project_id}/snat_rules/{snat_rule_id}", A, show_snat)
        .add("DELETE", "/v2/{project_id}/nat_gateways/{nat_gateway_id}/snat_rules/{snat_rule_id}", A, delete_snat)
        .add("POST", "/v2/{project_id}/dnat_rules", A, create_dnat)
        .add("GET", "/v2/{project_id}/dnat_rules", A, list_dnat)
        .add("GET", "/v2/{project_id}/dnat_rules/{dnat_rule_id}", A, show_dnat)
        .add("DELETE", "/v2/{project_id}/nat_gateways/{nat_gateway_id}/dnat_rules/{dnat_rule_id}", A, delete_dnat)
}

/// The NAT API's times: `yyyy-mm-dd hh:mm:ss.ffffff` (UTC).
fn nat_time(ms: i64) -> String {
    nimbus_core::time::from_ms(ms).format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

fn object<'a>(doc: &'a Value, key: &str) -> Result<&'a Map<String, Value>, Error> {
    doc.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("The body needs a '{key}' object.")))
}

fn str_of(m: &Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    super::evs::str_of(m, k)
}

fn required(m: &Map<String, Value>, k: &str) -> Result<String, Error> {
    str_of(m, k)?.filter(|v| !v.is_empty()).ok_or_else(|| Error::bad_request(format!("'{k}' is required.")))
}

fn gateway_view(g: &NatGateway) -> Value {
    json!({
        "id": g.id, "tenant_id": g.project_id, "name": g.name, "description": g.description, "spec": g.spec,
        "status": "ACTIVE", "admin_state_up": true, "created_at": nat_time(g.created_at), "router_id": g.router_id,
        "internal_network_id": g.internal_network_id, "enterprise_project_id": "0",
        "session_conf": {"tcp_session_expire_time": 900, "udp_session_expire_time": 300,
            "icmp_session_expire_time": 10, "tcp_time_wait_time": 5},
        "ngport_ip_address": "", "billing_info": "", "dnat_rules_limit": 200, "snat_rule_public_ip_limit": 20,
    })
}

/// The addresses of the caller's EIPs, by id.
async fn eip_addresses(s: &AppState, ctx: &Ctx) -> Result<HashMap<String, String>, Error> {
    Ok(s.control.list_floating_ips(ctx).await?.into_iter().map(|f| (f.fip.id, f.fip.floating_ip_address)).collect())
}

fn snat_view(r: &SnatRule, eips: &HashMap<String, String>) -> Value {
    let addresses: Vec<&str> = r.eips().iter().filter_map(|id| eips.get(*id).map(String::as_str)).collect();
    json!({
        "id": r.id, "tenant_id": r.project_id, "nat_gateway_id": r.nat_gateway_id,
        "cidr": r.cidr.clone().unwrap_or_default(), "source_type": 0, "floating_ip_id": r.floating_ip_ids,
        "description": r.description, "status": "ACTIVE", "created_at": nat_time(r.created_at),
        "network_id": r.network_id.clone().unwrap_or_default(), "admin_state_up": true,
        "floating_ip_address": addresses.join(","), "freezed_ip_address": "", "global_eip_id": "",
        "global_eip_address": "",
    })
}

fn dnat_view(r: &DnatRule, eips: &HashMap<String, String>) -> Value {
    let range = |p: &str| if p.contains('-') { p.to_string() } else { String::new() };
    let first = |p: &str| p.split('-').next().and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    json!({
        "id": r.id, "tenant_id": r.project_id, "description": r.description,
        "port_id": r.port_id.clone().unwrap_or_default(), "private_ip": r.private_ip.clone().unwrap_or_default(),
        "internal_service_port": first(&r.internal_port), "external_service_port": first(&r.external_port),
        "internal_service_port_range": range(&r.internal_port), "external_service_port_range": range(&r.external_port),
        "nat_gateway_id": r.nat_gateway_id, "floating_ip_id": r.floating_ip_id,
        "floating_ip_address": eips.get(&r.floating_ip_id).cloned().unwrap_or_default(), "status": "ACTIVE",
        "admin_state_up": true, "protocol": r.protocol, "created_at": nat_time(r.created_at), "global_eip_id": "",
        "global_eip_address": "",
    })
}

#[utoipa::path(post, path = "/v2/{project_id}/nat_gateways", tag = "NAT", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_gateway(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "nat_gateway")?;
    if m.get("prepaid_options").is_some_and(|v| !v.is_null()) {
        return Err(Error::bad_request("Only pay-per-use NAT gateways are sold in this region.").into());
    }
    let req = NatGatewayCreate {
        name: required(m, "name")?,
        description: str_of(m, "description")?.unwrap_or_default(),
        spec: required(m, "spec")?,
        router_id: required(m, "router_id")?,
        internal_network_id: required(m, "internal_network_id")?,
    };
    let g = s.control.create_nat_gateway(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(json!({"nat_gateway": gateway_view(&g)}))).into_response())
}

#[utoipa::path(get, path = "/v2/{project_id}/nat_gateways", tag = "NAT",
    params(("project_id" = String, Path)), responses((status = 200, body = super::NetDoc)))]
pub async fn list_gateways(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let mut items: Vec<Value> = s
        .control
        .list_nat_gateways(&ctx)
        .await?
        .iter()
        .filter(|g| g.project_id == project_id)
        .map(gateway_view)
        .collect();
    for key in ["id", "name", "router_id", "internal_network_id", "spec", "status"] {
        items = filter_by(items, &q, key, key);
    }
    Ok(Json(json!({"nat_gateways": page(items, &q, "nat gateway")?})).into_response())
}

#[utoipa::path(get, path = "/v2/{project_id}/nat_gateways/{nat_gateway_id}", tag = "NAT",
    params(("project_id" = String, Path), ("nat_gateway_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_gateway(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("nat gateway", &id))?;
    let g = s.control.get_nat_gateway(&ctx, &id).await?;
    Ok(Json(json!({"nat_gateway": gateway_view(&g)})).into_response())
}

#[utoipa::path(put, path = "/v2/{project_id}/nat_gateways/{nat_gateway_id}", tag = "NAT",
    request_body = super::NetDoc, params(("project_id" = String, Path), ("nat_gateway_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_gateway(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("nat gateway", &id))?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "nat_gateway")?;
    let g = s
        .control
        .update_nat_gateway(&ctx, &id, str_of(m, "name")?, str_of(m, "description")?, str_of(m, "spec")?)
        .await?;
    Ok(Json(json!({"nat_gateway": gateway_view(&g)})).into_response())
}

#[utoipa::path(delete, path = "/v2/{project_id}/nat_gateways/{nat_gateway_id}", tag = "NAT",
    params(("project_id" = String, Path), ("nat_gateway_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_gateway(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("nat gateway", &id))?;
    s.control.delete_nat_gateway(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/v2/{project_id}/snat_rules", tag = "NAT", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_snat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "snat_rule")?;
    let source_type = match m.get("source_type") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| Error::bad_request("'source_type' must be 0 or 1."))?,
    };
    let req = SnatRuleCreate {
        nat_gateway_id: required(m, "nat_gateway_id")?,
        network_id: str_of(m, "network_id")?.filter(|v| !v.is_empty()),
        cidr: str_of(m, "cidr")?.filter(|v| !v.is_empty()),
        floating_ip_ids: required(m, "floating_ip_id")?
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        source_type,
        description: str_of(m, "description")?.unwrap_or_default(),
    };
    let r = s.control.create_snat_rule(&ctx, req).await?;
    let eips = eip_addresses(&s, &ctx).await?;
    Ok((StatusCode::CREATED, Json(json!({"snat_rule": snat_view(&r, &eips)}))).into_response())
}

#[utoipa::path(get, path = "/v2/{project_id}/snat_rules", tag = "NAT",
    params(("project_id" = String, Path)), responses((status = 200, body = super::NetDoc)))]
pub async fn list_snat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let eips = eip_addresses(&s, &ctx).await?;
    let mut items: Vec<Value> = s
        .control
        .list_snat_rules(&ctx)
        .await?
        .iter()
        .filter(|r| r.project_id == project_id)
        .map(|r| snat_view(r, &eips))
        .collect();
    for key in ["id", "nat_gateway_id", "network_id", "cidr", "floating_ip_id", "floating_ip_address"] {
        items = filter_by(items, &q, key, key);
    }
    Ok(Json(json!({"snat_rules": page(items, &q, "snat rule")?})).into_response())
}

#[utoipa::path(get, path = "/v2/{project_id}/snat_rules/{snat_rule_id}", tag = "NAT",
    params(("project_id" = String, Path), ("snat_rule_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_snat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("snat rule", &id))?;
    let r = s.control.get_snat_rule(&ctx, &id).await?;
    let eips = eip_addresses(&s, &ctx).await?;
    Ok(Json(json!({"snat_rule": snat_view(&r, &eips)})).into_response())
}

#[utoipa::path(delete, path = "/v2/{project_id}/nat_gateways/{nat_gateway_id}/snat_rules/{snat_rule_id}", tag = "NAT",
    params(("project_id" = String, Path), ("nat_gateway_id" = String, Path), ("snat_rule_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_snat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, gateway, id)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("snat rule", &id))?;
    s.control.delete_snat_rule(&ctx, &gateway, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A DNAT port as asked: the range when given, else the single port.
fn port_of(m: &Map<String, Value>, single: &str, range: &str) -> Result<String, Error> {
    if let Some(r) = str_of(m, range)?.filter(|r| !r.is_empty()) {
        return Ok(r);
    }
    match m.get(single) {
        Some(v) => v
            .as_i64()
            .map(|p| p.to_string())
            .ok_or_else(|| Error::bad_request(format!("'{single}' must be an integer 0-65535."))),
        None => Err(Error::bad_request(format!("'{single}' is required."))),
    }
}

#[utoipa::path(post, path = "/v2/{project_id}/dnat_rules", tag = "NAT", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_dnat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "dnat_rule")?;
    let req = DnatRuleCreate {
        nat_gateway_id: required(m, "nat_gateway_id")?,
        floating_ip_id: required(m, "floating_ip_id")?,
        protocol: required(m, "protocol")?,
        internal_port: port_of(m, "internal_service_port", "internal_service_port_range")?,
        external_port: port_of(m, "external_service_port", "external_service_port_range")?,
        port_id: str_of(m, "port_id")?.filter(|v| !v.is_empty()),
        private_ip: str_of(m, "private_ip")?.filter(|v| !v.is_empty()),
        description: str_of(m, "description")?.unwrap_or_default(),
    };
    let r = s.control.create_dnat_rule(&ctx, req).await?;
    let eips = eip_addresses(&s, &ctx).await?;
    Ok((StatusCode::CREATED, Json(json!({"dnat_rule": dnat_view(&r, &eips)}))).into_response())
}

#[utoipa::path(get, path = "/v2/{project_id}/dnat_rules", tag = "NAT",
    params(("project_id" = String, Path)), responses((status = 200, body = super::NetDoc)))]
pub async fn list_dnat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let eips = eip_addresses(&s, &ctx).await?;
    let mut items: Vec<Value> = s
        .control
        .list_dnat_rules(&ctx)
        .await?
        .iter()
        .filter(|r| r.project_id == project_id)
        .map(|r| dnat_view(r, &eips))
        .collect();
    for key in ["id", "nat_gateway_id", "port_id", "private_ip", "protocol", "floating_ip_id", "floating_ip_address"] {
        items = filter_by(items, &q, key, key);
    }
    Ok(Json(json!({"dnat_rules": page(items, &q, "dnat rule")?})).into_response())
}

#[utoipa::path(get, path = "/v2/{project_id}/dnat_rules/{dnat_rule_id}", tag = "NAT",
    params(("project_id" = String, Path), ("dnat_rule_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_dnat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("dnat rule", &id))?;
    let r = s.control.get_dnat_rule(&ctx, &id).await?;
    let eips = eip_addresses(&s, &ctx).await?;
    Ok(Json(json!({"dnat_rule": dnat_view(&r, &eips)})).into_response())
}

#[utoipa::path(delete, path = "/v2/{project_id}/nat_gateways/{nat_gateway_id}/dnat_rules/{dnat_rule_id}", tag = "NAT",
    params(("project_id" = String, Path), ("nat_gateway_id" = String, Path), ("dnat_rule_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_dnat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, gateway, id)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("dnat rule", &id))?;
    s.control.delete_dnat_rule(&ctx, &gateway, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
