//! The native VPC API (v1) as `huaweicloudsdkvpc` calls it: VPCs, their subnets, security
//! groups with their rules, and ports, at `/v1/{project_id}/...`. Each call goes to the same
//! networking service as Neutron's API (a VPC is a router, a VPC subnet a network with its
//! subnet, see `nimbus_control::network::vpcs`). Lists page by `marker` (the last id seen)
//! and `limit`; filters repeat their key.

use super::ecs::check_project;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::network::{
    FixedIpRequest, PortCreate, PortUpdate, PortView, RouterView, RuleCreate, SecurityGroupView, VpcCreate,
    VpcSubnetCreate, VpcSubnetUpdate, VpcSubnetView,
};
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use nimbus_store::network::SecurityGroupRule;
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v1/{project_id}/vpcs", A, create_vpc)
        .add("GET", "/v1/{project_id}/vpcs", A, list_vpcs)
        .add("GET", "/v1/{project_id}/vpcs/{vpc_id}", A, show_vpc)
        .add("PUT", "/v1/{project_id}/vpcs/{vpc_id}", A, update_vpc)
        .add("DELETE", "/v1/{project_id}/vpcs/{vpc_id}", A, delete_vpc)
        .add("POST", "/v1/{project_id}/subnets", A, create_subnet)
        .add("GET", "/v1/{project_id}/subnets", A, list_subnets)
        .add("GET", "/v1/{project_id}/subnets/{subnet_id}", A, show_subnet)
        .add("PUT", "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}", A, update_subnet)
        .add("DELETE", "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}", A, delete_subnet)
        .add("POST", "/v1/{project_id}/security-groups", A, create_group)
        .add("GET", "/v1/{project_id}/security-groups", A, list_groups)
        .add("GET", "/v1/{project_id}/security-groups/{security_group_id}", A, show_group)
        .add("DELETE", "/v1/{project_id}/security-groups/{security_group_id}", A, delete_group)
        .add("POST", "/v1/{project_id}/security-group-rules", A, create_rule)
        .add("GET", "/v1/{project_id}/security-group-rules", A, list_rules)
        .add("GET", "/v1/{project_id}/security-group-rules/{rule_id}", A, show_rule)
        .add("DELETE", "/v1/{project_id}/security-group-rules/{rule_id}", A, delete_rule)
        .add("POST", "/v1/{project_id}/ports", A, create_port)
        .add("GET", "/v1/{project_id}/ports", A, list_ports)
        .add("GET", "/v1/{project_id}/ports/{port_id}", A, show_port)
        .add("PUT", "/v1/{project_id}/ports/{port_id}", A, update_port)
        .add("DELETE", "/v1/{project_id}/ports/{port_id}", A, delete_port)
}

/// The query's pairs, repeated keys kept (the SDK repeats list filters).
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

fn first<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Keeps the items whose `field` is one of the query's values for `key` (no value: all).
pub(super) fn filter_by(items: Vec<Value>, q: &[(String, String)], key: &str, field: &str) -> Vec<Value> {
    let wanted: Vec<&str> = q.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect();
    if wanted.is_empty() {
        return items;
    }
    items.into_iter().filter(|v| v[field].as_str().is_some_and(|x| wanted.contains(&x))).collect()
}

/// One page of `items`: after the `marker` id, at most `limit` of them.
pub(super) fn page(items: Vec<Value>, q: &[(String, String)], kind: &'static str) -> Result<Vec<Value>, Error> {
    let page = PageRequest::parse(first(q, "limit"), first(q, "marker"))?;
    let start = match &page.marker {
        Some(m) => items.iter().position(|v| v["id"] == *m).map(|i| i + 1).ok_or_else(|| Error::not_found(kind, m))?,
        None => 0,
    };
    Ok(items.into_iter().skip(start).take(page.limit.unwrap_or(2000) as usize).collect())
}

/// A time as the VPC API writes it: `yyyy-MM-ddTHH:mm:ss`.
pub(super) fn vpc_time(ms: i64) -> String {
    nimbus_core::time::from_ms(ms).format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn object<'a>(doc: &'a Value, key: &str) -> Result<&'a Map<String, Value>, Error> {
    doc.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("The body needs a '{key}' object.")))
}

fn str_of(m: &Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    super::evs::str_of(m, k)
}

fn bool_of(m: &Map<String, Value>, k: &str) -> Result<Option<bool>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::bad_request(format!("'{k}' must be a boolean."))),
    }
}

fn int_of(m: &Map<String, Value>, k: &str) -> Result<Option<i64>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| Error::bad_request(format!("'{k}' must be an integer."))),
    }
}

fn list_of_str(m: &Map<String, Value>, k: &str) -> Result<Option<Vec<String>>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| Error::bad_request(format!("'{k}' holds strings."))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::bad_request(format!("'{k}' must be a list."))),
    }
}

fn vpc_view(v: &RouterView) -> Value {
    let r = &v.router;
    json!({
        "id": r.id, "name": r.name, "cidr": r.cidr.clone().unwrap_or_default(), "description": r.description,
        "routes": serde_json::from_str::<Value>(&r.routes).unwrap_or(json!([])), "status": "OK",
        "enterprise_project_id": "0", "tenant_id": r.project_id, "created_at": vpc_time(r.created_at),
        "updated_at": vpc_time(r.updated_at), "block_service_endpoint_states": "off",
        "enable_network_address_usage_metrics": false,
    })
}

#[utoipa::path(post, path = "/v1/{project_id}/vpcs", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_vpc(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "vpc")?;
    let req = VpcCreate {
        name: str_of(m, "name")?.unwrap_or_default(),
        description: str_of(m, "description")?.unwrap_or_default(),
        cidr: str_of(m, "cidr")?.filter(|c| !c.is_empty()),
    };
    let v = s.control.create_vpc(&ctx, req).await?;
    Ok(Json(json!({"vpc": vpc_view(&v)})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/vpcs", tag = "VPC",
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_vpcs(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let items: Vec<Value> = s
        .control
        .list_routers(&ctx)
        .await?
        .iter()
        .filter(|r| r.router.project_id == project_id)
        .map(vpc_view)
        .collect();
    let items = filter_by(items, &q, "id", "id");
    Ok(Json(json!({"vpcs": page(items, &q, "vpc")?})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/vpcs/{vpc_id}", tag = "VPC",
    params(("project_id" = String, Path), ("vpc_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_vpc(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("vpc", &id))?;
    let v = s.control.get_router(&ctx, &id).await.map_err(|e| rename_not_found(e, "vpc", &id))?;
    Ok(Json(json!({"vpc": vpc_view(&v)})).into_response())
}

fn rename_not_found(e: Error, kind: &'static str, id: &str) -> Error {
    match e {
        Error::NotFound { .. } => Error::not_found(kind, id),
        other => other,
    }
}

#[utoipa::path(put, path = "/v1/{project_id}/vpcs/{vpc_id}", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path), ("vpc_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_vpc(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("vpc", &id))?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "vpc")?;
    let v = s
        .control
        .update_vpc(&ctx, &id, str_of(m, "name")?, str_of(m, "description")?, str_of(m, "cidr")?)
        .await
        .map_err(|e| rename_not_found(e, "vpc", &id))?;
    Ok(Json(json!({"vpc": vpc_view(&v)})).into_response())
}

#[utoipa::path(delete, path = "/v1/{project_id}/vpcs/{vpc_id}", tag = "VPC",
    params(("project_id" = String, Path), ("vpc_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_vpc(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("vpc", &id))?;
    s.control.delete_vpc(&ctx, &id).await.map_err(|e| rename_not_found(e, "vpc", &id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn subnet_view(v: &VpcSubnetView, zone: &str) -> Value {
    let dns: Vec<String> = serde_json::from_str(&v.subnet.dns_nameservers).unwrap_or_default();
    json!({
        "id": v.network.id, "name": v.network.name, "description": v.network.description, "cidr": v.subnet.cidr,
        "gateway_ip": v.subnet.gateway_ip.clone().unwrap_or_default(), "ipv6_enable": false,
        "dhcp_enable": v.subnet.enable_dhcp, "primary_dns": dns.first(), "secondary_dns": dns.get(1),
        "dnsList": dns, "availability_zone": zone, "vpc_id": v.vpc_id.clone().unwrap_or_default(),
        "status": if v.vpc_id.is_some() { "ACTIVE" } else { "UNKNOWN" },
        "neutron_network_id": v.network.id, "neutron_subnet_id": v.subnet.id, "extra_dhcp_opts": [],
        "tenant_id": v.network.project_id, "created_at": vpc_time(v.network.created_at),
        "updated_at": vpc_time(v.subnet.updated_at.max(v.network.updated_at)),
        "enable_network_address_usage_metrics": false, "available_ip_address_count": v.available_ips,
        "scope": "center",
    })
}

fn zone_of(s: &AppState) -> String {
    s.control.config().availability_zones.first().cloned().unwrap_or_default()
}

/// The DNS servers a subnet create or update names: `primary_dns`, `secondary_dns`, and the
/// `dnsList` that holds both (and maybe more). An update naming only one of the first two
/// keeps the other of `current`; none of them: unchanged (`None`).
fn dns_of(m: &Map<String, Value>, current: &[String]) -> Result<Option<Vec<String>>, Error> {
    let primary = str_of(m, "primary_dns")?;
    let secondary = str_of(m, "secondary_dns")?;
    let listed = list_of_str(m, "dnsList")?;
    if primary.is_none() && secondary.is_none() && listed.is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    let first = primary.or_else(|| current.first().cloned()).filter(|a| !a.is_empty());
    let second = secondary.or_else(|| current.get(1).cloned()).filter(|a| !a.is_empty());
    for a in first.into_iter().chain(second).chain(listed.into_iter().flatten()) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(Some(out))
}

#[utoipa::path(post, path = "/v1/{project_id}/subnets", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_subnet(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "subnet")?;
    let required = |k: &str| -> Result<String, Error> {
        str_of(m, k)?.filter(|v| !v.is_empty()).ok_or_else(|| Error::bad_request(format!("'{k}' is required.")))
    };
    if bool_of(m, "ipv6_enable")? == Some(true) {
        return Err(Error::bad_request("IPv6 subnets are not offered in this region.").into());
    }
    let req = VpcSubnetCreate {
        vpc_id: required("vpc_id")?,
        name: required("name")?,
        description: str_of(m, "description")?.unwrap_or_default(),
        cidr: required("cidr")?,
        gateway_ip: required("gateway_ip")?,
        dhcp_enable: bool_of(m, "dhcp_enable")?,
        dns_servers: dns_of(m, &[])?.unwrap_or_default(),
    };
    let v = s.control.create_vpc_subnet(&ctx, req).await?;
    Ok(Json(json!({"subnet": subnet_view(&v, &zone_of(&s))})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/subnets", tag = "VPC",
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_subnets(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let zone = zone_of(&s);
    let items: Vec<Value> = s
        .control
        .list_vpc_subnets(&ctx, first(&q, "vpc_id"))
        .await?
        .iter()
        .filter(|v| v.network.project_id == project_id)
        .map(|v| subnet_view(v, &zone))
        .collect();
    Ok(Json(json!({"subnets": page(items, &q, "subnet")?})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/subnets/{subnet_id}", tag = "VPC",
    params(("project_id" = String, Path), ("subnet_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_subnet(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("subnet", &id))?;
    let v = s.control.get_vpc_subnet(&ctx, &id).await?;
    Ok(Json(json!({"subnet": subnet_view(&v, &zone_of(&s))})).into_response())
}

#[utoipa::path(put, path = "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path), ("vpc_id" = String, Path), ("subnet_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_subnet(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, vpc_id, id)): Path<(String, String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("subnet", &id))?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "subnet")?;
    let current = s.control.get_vpc_subnet(&ctx, &id).await?;
    let servers: Vec<String> = serde_json::from_str(&current.subnet.dns_nameservers).unwrap_or_default();
    let u = VpcSubnetUpdate {
        name: str_of(m, "name")?,
        description: str_of(m, "description")?,
        dhcp_enable: bool_of(m, "dhcp_enable")?,
        dns_servers: dns_of(m, &servers)?,
    };
    let v = s.control.update_vpc_subnet(&ctx, &vpc_id, &id, u).await?;
    let status = if v.vpc_id.is_some() { "ACTIVE" } else { "UNKNOWN" };
    Ok(Json(json!({"subnet": {"id": v.network.id, "status": status}})).into_response())
}

#[utoipa::path(delete, path = "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}", tag = "VPC",
    params(("project_id" = String, Path), ("vpc_id" = String, Path), ("subnet_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_subnet(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, vpc_id, id)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("subnet", &id))?;
    s.control.delete_vpc_subnet(&ctx, &vpc_id, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn rule_view(r: &SecurityGroupRule) -> Value {
    json!({
        "id": r.id, "description": r.description, "security_group_id": r.security_group_id,
        "direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
        "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix, "remote_group_id": r.remote_group_id,
        "remote_address_group_id": null, "tenant_id": r.project_id,
    })
}

fn group_view(g: &SecurityGroupView) -> Value {
    json!({
        "id": g.group.id, "name": g.group.name, "description": g.group.description, "vpc_id": "",
        "enterprise_project_id": "0", "security_group_rules": g.rules.iter().map(rule_view).collect::<Vec<_>>(),
    })
}

#[utoipa::path(post, path = "/v1/{project_id}/security-groups", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "security_group")?;
    let name = str_of(m, "name")?.filter(|n| !n.is_empty()).ok_or_else(|| Error::bad_request("'name' is required."))?;
    if name.chars().count() > 64 {
        return Err(Error::bad_request("Invalid security group name: at most 64 characters.").into());
    }
    let g = s.control.create_security_group(&ctx, &name, "", true, None).await?;
    Ok(Json(json!({"security_group": group_view(&g)})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/security-groups", tag = "VPC",
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_groups(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let items: Vec<Value> = s
        .control
        .list_security_groups(&ctx)
        .await?
        .iter()
        .filter(|g| g.group.project_id == project_id)
        .map(group_view)
        .collect();
    Ok(Json(json!({"security_groups": page(items, &q, "security group")?})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/security-groups/{security_group_id}", tag = "VPC",
    params(("project_id" = String, Path), ("security_group_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("security group", &id))?;
    let g = s.control.get_security_group(&ctx, &id).await?;
    Ok(Json(json!({"security_group": group_view(&g)})).into_response())
}

#[utoipa::path(delete, path = "/v1/{project_id}/security-groups/{security_group_id}", tag = "VPC",
    params(("project_id" = String, Path), ("security_group_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("security group", &id))?;
    s.control.delete_security_group(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/v1/{project_id}/security-group-rules", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_rule(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "security_group_rule")?;
    if str_of(m, "remote_address_group_id")?.is_some_and(|g| !g.is_empty()) {
        return Err(Error::bad_request("Address groups are not offered in this region.").into());
    }
    let req = RuleCreate {
        security_group_id: str_of(m, "security_group_id")?
            .ok_or_else(|| Error::bad_request("'security_group_id' is required."))?,
        direction: str_of(m, "direction")?.ok_or_else(|| Error::bad_request("'direction' is required."))?,
        ethertype: str_of(m, "ethertype")?,
        protocol: str_of(m, "protocol")?.filter(|p| !p.is_empty()),
        port_range_min: int_of(m, "port_range_min")?,
        port_range_max: int_of(m, "port_range_max")?,
        remote_ip_prefix: str_of(m, "remote_ip_prefix")?.filter(|p| !p.is_empty()),
        remote_group_id: str_of(m, "remote_group_id")?.filter(|p| !p.is_empty()),
        description: str_of(m, "description")?.unwrap_or_default(),
    };
    let r = s.control.create_security_group_rule(&ctx, req).await?;
    Ok(Json(json!({"security_group_rule": rule_view(&r)})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/security-group-rules", tag = "VPC",
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_rules(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let items: Vec<Value> = s
        .control
        .list_security_group_rules(&ctx)
        .await?
        .iter()
        .filter(|r| r.project_id == project_id)
        .map(rule_view)
        .collect();
    let items = filter_by(items, &q, "security_group_id", "security_group_id");
    let items = filter_by(items, &q, "remote_ip_prefix", "remote_ip_prefix");
    Ok(Json(json!({"security_group_rules": page(items, &q, "security group rule")?})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/security-group-rules/{rule_id}", tag = "VPC",
    params(("project_id" = String, Path), ("rule_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_rule(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("security group rule", &id))?;
    let r = s.control.get_security_group_rule(&ctx, &id).await?;
    Ok(Json(json!({"security_group_rule": rule_view(&r)})).into_response())
}

#[utoipa::path(delete, path = "/v1/{project_id}/security-group-rules/{rule_id}", tag = "VPC",
    params(("project_id" = String, Path), ("rule_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_rule(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("security group rule", &id))?;
    s.control.delete_security_group_rule(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn port_view(v: &PortView, zone: &str) -> Value {
    let p = &v.port;
    let fixed: Vec<Value> =
        v.fixed_ips.iter().map(|f| json!({"subnet_id": f.subnet_id, "ip_address": f.ip_address})).collect();
    json!({
        "id": p.id, "name": p.name, "network_id": p.network_id, "admin_state_up": p.admin_state_up,
        "mac_address": p.mac_address, "fixed_ips": fixed, "device_id": p.device_id, "device_owner": p.device_owner,
        "tenant_id": p.project_id, "status": p.status, "security_groups": v.security_groups,
        "allowed_address_pairs": serde_json::from_str::<Value>(&p.allowed_address_pairs).unwrap_or(json!([])),
        "extra_dhcp_opts": [], "binding:vnic_type": "normal", "dns_assignment": [], "dns_name": "",
        "binding:vif_details": {"primary_interface": true, "port_filter": p.port_security_enabled},
        "binding:profile": {}, "instance_id": "", "instance_type": "",
        "port_security_enabled": p.port_security_enabled, "zone_id": zone, "enable_efi": false,
        "ipv6_bandwidth_id": "",
    })
}

fn fixed_ips_of(m: &Map<String, Value>) -> Result<Option<Vec<FixedIpRequest>>, Error> {
    match m.get("fixed_ips") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                let o = f.as_object().ok_or_else(|| Error::bad_request("'fixed_ips' holds objects."))?;
                Ok(FixedIpRequest { subnet_id: str_of(o, "subnet_id")?, ip_address: str_of(o, "ip_address")? })
            })
            .collect::<Result<Vec<_>, Error>>()
            .map(Some),
        Some(_) => Err(Error::bad_request("'fixed_ips' must be a list.")),
    }
}

fn pairs_of(m: &Map<String, Value>) -> Result<Option<Vec<(String, Option<String>)>>, Error> {
    match m.get("allowed_address_pairs") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                let o = f.as_object().ok_or_else(|| Error::bad_request("'allowed_address_pairs' holds objects."))?;
                let ip = str_of(o, "ip_address")?.ok_or_else(|| Error::bad_request("'ip_address' is required."))?;
                if ip == "0.0.0.0/0" || ip == "0.0.0.0" {
                    return Err(Error::bad_request("An allowed address pair cannot be 0.0.0.0/0."));
                }
                Ok((ip, str_of(o, "mac_address")?))
            })
            .collect::<Result<Vec<_>, Error>>()
            .map(Some),
        Some(_) => Err(Error::bad_request("'allowed_address_pairs' must be a list.")),
    }
}

#[utoipa::path(post, path = "/v1/{project_id}/ports", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_port(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "port")?;
    let owner = str_of(m, "device_owner")?.unwrap_or_default();
    if !owner.is_empty() && owner != "neutron:VIP_PORT" {
        return Err(Error::bad_request("'device_owner' is \"\" or \"neutron:VIP_PORT\".").into());
    }
    let req = PortCreate {
        network_id: str_of(m, "network_id")?.ok_or_else(|| Error::bad_request("'network_id' is required."))?,
        name: str_of(m, "name")?.unwrap_or_default(),
        fixed_ips: fixed_ips_of(m)?,
        device_owner: owner,
        security_groups: list_of_str(m, "security_groups")?,
        allowed_address_pairs: pairs_of(m)?.unwrap_or_default(),
        ..Default::default()
    };
    let p = s.control.create_port(&ctx, req).await?;
    Ok(Json(json!({"port": port_view(&p, &zone_of(&s))})).into_response())
}

fn port_visible(p: &PortView, ctx: &Ctx, project_id: &str) -> bool {
    p.port.project_id == project_id || (ctx.principal.is_admin() && p.port.project_id.is_empty())
}

#[utoipa::path(get, path = "/v1/{project_id}/ports", tag = "VPC",
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_ports(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let zone = zone_of(&s);
    let mut items: Vec<Value> = s
        .control
        .list_ports(&ctx)
        .await?
        .iter()
        .filter(|p| port_visible(p, &ctx, &project_id))
        .map(|p| port_view(p, &zone))
        .collect();
    for key in ["id", "name", "network_id", "mac_address", "device_id", "device_owner", "status"] {
        items = filter_by(items, &q, key, key);
    }
    Ok(Json(json!({"ports": page(items, &q, "port")?})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/ports/{port_id}", tag = "VPC",
    params(("project_id" = String, Path), ("port_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_port(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("port", &id))?;
    let p = s.control.get_port(&ctx, &id).await?;
    Ok(Json(json!({"port": port_view(&p, &zone_of(&s))})).into_response())
}

#[utoipa::path(put, path = "/v1/{project_id}/ports/{port_id}", tag = "VPC", request_body = super::NetDoc,
    params(("project_id" = String, Path), ("port_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_port(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("port", &id))?;
    let doc: Value = parse_json(&raw)?;
    let m = object(&doc, "port")?;
    let u = PortUpdate {
        name: str_of(m, "name")?,
        security_groups: list_of_str(m, "security_groups")?,
        allowed_address_pairs: pairs_of(m)?,
        ..Default::default()
    };
    let p = s.control.update_port(&ctx, &id, u).await?;
    Ok(Json(json!({"port": port_view(&p, &zone_of(&s))})).into_response())
}

#[utoipa::path(delete, path = "/v1/{project_id}/ports/{port_id}", tag = "VPC",
    params(("project_id" = String, Path), ("port_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_port(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("port", &id))?;
    s.control.delete_port(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
