//! The native EIP API (v1) as `huaweicloudsdkeip` calls it: public IPs with their dedicated
//! bandwidth (allocate, show, list, bind to a port and unbind, rename, release) and the
//! bandwidths (show, list, resize). The same floating IPs as Neutron's `/floatingips`, from
//! the region's external network.

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
use nimbus_control::network::{BandwidthRequest, FloatingIpCreate, FloatingIpUpdate, FloatingIpView};
use nimbus_core::Error;
use nimbus_store::l3::{Bandwidth, FloatingIp};
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v1/{project_id}/publicips", A, create)
        .add("GET", "/v1/{project_id}/publicips", A, list)
        .add("GET", "/v1/{project_id}/publicips/{publicip_id}", A, show)
        .add("PUT", "/v1/{project_id}/publicips/{publicip_id}", A, update)
        .add("DELETE", "/v1/{project_id}/publicips/{publicip_id}", A, delete)
        .add("GET", "/v1/{project_id}/bandwidths", A, list_bandwidths)
        .add("GET", "/v1/{project_id}/bandwidths/{bandwidth_id}", A, show_bandwidth)
        .add("PUT", "/v1/{project_id}/bandwidths/{bandwidth_id}", A, update_bandwidth)
}

/// The EIP API's times: `yyyy-MM-dd HH:mm:ss` (UTC).
fn eip_time(ms: i64) -> String {
    nimbus_core::time::from_ms(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn view(v: &FloatingIpView) -> Value {
    let f = &v.fip;
    let mut o = json!({
        "id": f.id, "status": v.status(), "type": f.ip_type, "public_ip_address": f.floating_ip_address,
        "tenant_id": f.project_id, "create_time": eip_time(f.created_at), "ip_version": 4,
        "enterprise_project_id": "0", "alias": f.description, "profile": {}, "tags": [],
        "public_border_group": "center", "allow_share_bandwidth_types": [],
    });
    if let Some(b) = &v.bandwidth {
        o["bandwidth_id"] = json!(b.id);
        o["bandwidth_name"] = json!(b.name);
        o["bandwidth_share_type"] = json!(b.share_type);
        o["bandwidth_size"] = json!(b.size_mbit);
    }
    // Only a bound EIP shows its port and private address.
    if let (Some(p), Some(ip)) = (&f.port_id, &f.fixed_ip_address) {
        o["port_id"] = json!(p);
        o["private_ip_address"] = json!(ip);
    }
    o
}

fn object<'a>(doc: &'a Value, key: &str) -> Result<&'a Map<String, Value>, Error> {
    doc.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("The body needs a '{key}' object.")))
}

fn str_of(m: &Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    super::evs::str_of(m, k)
}

#[utoipa::path(post, path = "/v1/{project_id}/publicips", tag = "EIP", request_body = super::NetDoc,
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true)?;
    let doc: Value = parse_json(&raw)?;
    let p = object(&doc, "publicip")?;
    let b = object(&doc, "bandwidth")?;
    if p.get("ip_version").and_then(Value::as_i64).is_some_and(|v| v != 4) {
        return Err(Error::bad_request("Only IPv4 EIPs are offered in this region.").into());
    }
    let ip_type = str_of(p, "type")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::bad_request("'publicip.type' is required."))?;
    let share_type =
        str_of(b, "share_type")?.ok_or_else(|| Error::bad_request("'bandwidth.share_type' is required."))?;
    let size = match b.get("size") {
        Some(v) => v.as_i64().ok_or_else(|| Error::bad_request("'bandwidth.size' must be an integer (Mbit/s)."))?,
        None => return Err(Error::bad_request("'bandwidth.size' is required for a dedicated (PER) bandwidth.").into()),
    };
    let name = str_of(b, "name")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::bad_request("'bandwidth.name' is required for a dedicated (PER) bandwidth."))?;
    let alias = str_of(p, "alias")?.unwrap_or_default();
    if alias.chars().count() > 64 {
        return Err(Error::bad_request("'publicip.alias' is at most 64 characters.").into());
    }
    let req = FloatingIpCreate {
        floating_network_id: s.control.external_network_id().await?,
        floating_ip_address: str_of(p, "ip_address")?.filter(|a| !a.is_empty()),
        port_id: str_of(p, "port_id")?.filter(|a| !a.is_empty()),
        description: alias,
        bandwidth: Some(BandwidthRequest {
            name,
            size_mbit: size,
            share_type,
            charge_mode: str_of(b, "charge_mode")?.filter(|c| !c.is_empty()).unwrap_or_else(|| "bandwidth".into()),
        }),
        ip_type: Some(ip_type),
        ..Default::default()
    };
    let f = s.control.create_floating_ip(&ctx, req).await?;
    Ok(Json(json!({"publicip": view(&f)})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/publicips", tag = "EIP",
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let mut items: Vec<Value> =
        s.control.list_floating_ips(&ctx).await?.iter().filter(|f| f.fip.project_id == project_id).map(view).collect();
    for key in ["id", "port_id", "public_ip_address", "private_ip_address"] {
        items = filter_by(items, &q, key, key);
    }
    Ok(Json(json!({"publicips": page(items, &q, "publicip")?})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/publicips/{publicip_id}", tag = "EIP",
    params(("project_id" = String, Path), ("publicip_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("publicip", &id))?;
    let f = s.control.get_floating_ip(&ctx, &id).await.map_err(|e| rename(e, &id))?;
    Ok(Json(json!({"publicip": view(&f)})).into_response())
}

fn rename(e: Error, id: &str) -> Error {
    match e {
        Error::NotFound { kind: "floatingip", .. } => Error::not_found("publicip", id),
        other => other,
    }
}

/// Binds (`port_id`), unbinds (no or an empty `port_id`) or renames (`alias`, which wins
/// over `port_id` as in the provider's API). Binding a bound EIP is refused: unbind first.
#[utoipa::path(put, path = "/v1/{project_id}/publicips/{publicip_id}", tag = "EIP", request_body = super::NetDoc,
    params(("project_id" = String, Path), ("publicip_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("publicip", &id))?;
    let doc: Value = parse_json(&raw)?;
    let p = object(&doc, "publicip")?;
    let u = match str_of(p, "alias")? {
        Some(alias) => {
            if alias.chars().count() > 64 {
                return Err(Error::bad_request("'alias' is at most 64 characters.").into());
            }
            FloatingIpUpdate { description: Some(alias), ..Default::default() }
        }
        None => match str_of(p, "port_id")?.filter(|p| !p.is_empty()) {
            Some(port) => {
                let current = s.control.get_floating_ip(&ctx, &id).await.map_err(|e| rename(e, &id))?;
                if let Some(bound) = &current.fip.port_id {
                    if bound != &port {
                        return Err(Error::Conflict(format!(
                            "EIP {} is already bound to port {bound}: unbind it first.",
                            current.fip.floating_ip_address
                        ))
                        .into());
                    }
                }
                FloatingIpUpdate { port_id: Some(Some(port)), ..Default::default() }
            }
            None => FloatingIpUpdate { port_id: Some(None), ..Default::default() },
        },
    };
    let f = s.control.update_floating_ip(&ctx, &id, u).await.map_err(|e| rename(e, &id))?;
    Ok(Json(json!({"publicip": view(&f)})).into_response())
}

#[utoipa::path(delete, path = "/v1/{project_id}/publicips/{publicip_id}", tag = "EIP",
    params(("project_id" = String, Path), ("publicip_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("publicip", &id))?;
    s.control.delete_floating_ip(&ctx, &id).await.map_err(|e| rename(e, &id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn bandwidth_view(b: &Bandwidth, fips: &[FloatingIp]) -> Value {
    let info: Vec<Value> = fips
        .iter()
        .map(|f| {
            json!({"publicip_id": f.id, "publicip_address": f.floating_ip_address, "publicip_type": f.ip_type,
                "ip_version": 4})
        })
        .collect();
    let kind = fips.first().map(|f| f.ip_type.trim_start_matches("5_").to_string()).unwrap_or_else(|| "bgp".into());
    json!({
        "id": b.id, "name": b.name, "size": b.size_mbit, "share_type": b.share_type, "charge_mode": b.charge_mode,
        "bandwidth_type": kind, "publicip_info": info, "tenant_id": b.project_id, "enterprise_project_id": "0",
        "status": "NORMAL", "billing_info": "", "created_at": super::vpc::vpc_time(b.created_at),
        "updated_at": super::vpc::vpc_time(b.updated_at), "public_border_group": "center",
    })
}

#[utoipa::path(get, path = "/v1/{project_id}/bandwidths", tag = "EIP",
    params(("project_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_bandwidths(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project_id, false)?;
    let q = query_pairs(raw.as_deref());
    let items: Vec<Value> = s
        .control
        .list_bandwidths(&ctx)
        .await?
        .iter()
        .filter(|(b, _)| b.project_id == project_id)
        .map(|(b, f)| bandwidth_view(b, f))
        .collect();
    let items = filter_by(items, &q, "share_type", "share_type");
    Ok(Json(json!({"bandwidths": page(items, &q, "bandwidth")?})).into_response())
}

#[utoipa::path(get, path = "/v1/{project_id}/bandwidths/{bandwidth_id}", tag = "EIP",
    params(("project_id" = String, Path), ("bandwidth_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_bandwidth(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project_id, false).map_err(|_| Error::not_found("bandwidth", &id))?;
    let (b, f) = s
        .control
        .list_bandwidths(&ctx)
        .await?
        .into_iter()
        .find(|(b, _)| b.id == id)
        .ok_or_else(|| Error::not_found("bandwidth", &id))?;
    Ok(Json(json!({"bandwidth": bandwidth_view(&b, &f)})).into_response())
}

#[utoipa::path(put, path = "/v1/{project_id}/bandwidths/{bandwidth_id}", tag = "EIP", request_body = super::NetDoc,
    params(("project_id" = String, Path), ("bandwidth_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_bandwidth(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((project_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project_id, true).map_err(|_| Error::not_found("bandwidth", &id))?;
    let doc: Value = parse_json(&raw)?;
    let b = object(&doc, "bandwidth")?;
    let name = str_of(b, "name")?.filter(|n| !n.is_empty());
    let size = match b.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| Error::bad_request("'size' must be an integer (Mbit/s)."))?),
    };
    if name.is_none() && size.is_none() {
        return Err(Error::bad_request("Give the bandwidth a new 'name' or 'size'.").into());
    }
    let charge_mode = str_of(b, "charge_mode")?.filter(|c| !c.is_empty());
    s.control.update_bandwidth(&ctx, &id, name, size, charge_mode).await?;
    show_bandwidth(State(s), Auth(ctx), Path((project_id, id))).await
}
