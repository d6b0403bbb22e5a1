//! The native DNS API (v2) as `huaweicloudsdkdns` calls it: public and private zones at
//! `/v2/zones` (the project is the signed `X-Project-Id`; `zone_type` on create and `type` on
//! list tell the two kinds apart), private zones' VPCs (`associaterouter`,
//! `disassociaterouter`), and record sets. Bodies are flat; lists carry `links` and
//! `metadata.total_count`.

use super::vpc::query_pairs;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::dns::{RecordSetInput, ZoneCreate, ZoneView};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use nimbus_store::dns::{RecordSet, Zone};
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v2/zones", A, create_zone)
        .add("GET", "/v2/zones", A, list_zones)
        .add("GET", "/v2/zones/{zone_id}", A, show_zone)
        .add("PATCH", "/v2/zones/{zone_id}", A, update_zone)
        .add("DELETE", "/v2/zones/{zone_id}", A, delete_zone)
        .add("POST", "/v2/zones/{zone_id}/associaterouter", A, associate_router)
        .add("POST", "/v2/zones/{zone_id}/disassociaterouter", A, disassociate_router)
        .add("POST", "/v2/zones/{zone_id}/recordsets", A, create_recordset)
        .add("GET", "/v2/zones/{zone_id}/recordsets", A, list_recordsets)
        .add("GET", "/v2/zones/{zone_id}/recordsets/{recordset_id}", A, show_recordset)
        .add("PUT", "/v2/zones/{zone_id}/recordsets/{recordset_id}", A, update_recordset)
        .add("DELETE", "/v2/zones/{zone_id}/recordsets/{recordset_id}", A, delete_recordset)
}

/// The DNS API's times: `yyyy-MM-ddTHH:mm:ss.SSS` (UTC).
fn dns_time(ms: i64) -> String {
    nimbus_core::time::from_ms(ms).format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

fn base(s: &AppState) -> String {
    s.control.config().public_url.trim_end_matches('/').to_string()
}

fn router_doc(s: &AppState, router_id: &str) -> Value {
    json!({"router_id": router_id, "router_region": s.control.config().region, "status": "ACTIVE"})
}

fn zone_view(s: &AppState, v: &ZoneView) -> Value {
    let z = &v.zone;
    let mut o = json!({
        "id": z.id, "name": z.name, "description": z.description, "email": z.email, "zone_type": z.zone_type,
        "ttl": z.ttl, "serial": z.serial, "status": "ACTIVE", "record_num": v.record_num, "pool_id": "",
        "project_id": z.project_id, "created_at": dns_time(z.created_at), "updated_at": dns_time(z.updated_at),
        "links": {"self": format!("{}/v2/zones/{}", base(s), z.id)}, "masters": [], "enterprise_project_id": "0",
        "tags": [],
    });
    if z.zone_type == "private" {
        o["routers"] = json!(v.routers.iter().map(|r| router_doc(s, r)).collect::<Vec<_>>());
        o["proxy_pattern"] = json!("AUTHORITY");
    }
    o
}

fn recordset_view(s: &AppState, z: &Zone, r: &RecordSet) -> Value {
    json!({
        "id": r.id, "name": r.name, "description": r.description, "zone_id": z.id, "zone_name": z.name,
        "type": r.rtype, "ttl": r.ttl, "records": r.values(), "status": r.status, "default": r.is_default,
        "project_id": r.project_id, "create_at": dns_time(r.created_at), "update_at": dns_time(r.updated_at),
        "links": {"self": format!("{}/v2/zones/{}/recordsets/{}", base(s), z.id, r.id)},
    })
}

fn str_of(m: &Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    super::evs::str_of(m, k)
}

fn int_of(m: &Map<String, Value>, k: &str) -> Result<Option<i64>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| Error::bad_request(format!("'{k}' must be an integer."))),
    }
}

fn flat(raw: &[u8]) -> Result<Map<String, Value>, Error> {
    match parse_json::<Value>(raw)? {
        Value::Object(m) => Ok(m),
        _ => Err(Error::bad_request("The body must be a JSON object.")),
    }
}

/// One page of a DNS list: `marker` (the last id) or `offset`, and `limit` (at most 500);
/// the total is the whole list's.
fn dns_page(items: Vec<Value>, q: &[(String, String)], kind: &'static str) -> Result<(Vec<Value>, usize), Error> {
    let get = |k: &str| q.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
    let total = items.len();
    let page = PageRequest::parse(get("limit").filter(|l| *l != "0"), get("marker"))?;
    let start = match &page.marker {
        Some(m) => items.iter().position(|v| v["id"] == *m).map(|i| i + 1).ok_or_else(|| Error::not_found(kind, m))?,
        None => get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
    };
    let limit = page.limit.unwrap_or(500).min(500) as usize;
    Ok((items.into_iter().skip(start).take(limit).collect(), total))
}

fn name_matches(v: &Value, q: &[(String, String)]) -> bool {
    let Some(want) = q.iter().find(|(k, _)| k == "name").map(|(_, v)| v.to_ascii_lowercase()) else { return true };
    let name = v["name"].as_str().unwrap_or_default();
    let equal = q.iter().any(|(k, v)| k == "search_mode" && v == "equal");
    if equal {
        name.trim_end_matches('.') == want.trim_end_matches('.')
    } else {
        name.contains(want.trim_end_matches('.'))
    }
}

#[utoipa::path(post, path = "/v2/zones", tag = "DNS", request_body = super::NetDoc,
    responses((status = 202, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_zone(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    let m = flat(&raw)?;
    let router_id = match m.get("router") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => str_of(r, "router_id")?,
        Some(_) => return Err(Error::bad_request("'router' must be an object.").into()),
    };
    let req = ZoneCreate {
        name: str_of(&m, "name")?.ok_or_else(|| Error::bad_request("'name' is required."))?,
        zone_type: str_of(&m, "zone_type")?,
        description: str_of(&m, "description")?.unwrap_or_default(),
        email: str_of(&m, "email")?.unwrap_or_default(),
        ttl: int_of(&m, "ttl")?,
        router_id: router_id.clone(),
    };
    let v = s.control.create_zone(&ctx, req).await?;
    let mut o = zone_view(&s, &v);
    if let Some(r) = router_id {
        o["router"] = router_doc(&s, &r);
    }
    Ok((StatusCode::ACCEPTED, Json(o)).into_response())
}

#[utoipa::path(get, path = "/v2/zones", tag = "DNS",
    params(("type" = Option<String>, Query), ("name" = Option<String>, Query), ("limit" = Option<i64>, Query),
           ("marker" = Option<String>, Query), ("offset" = Option<i64>, Query), ("router_id" = Option<String>, Query)),
    responses((status = 200, body = super::NetDoc)))]
pub async fn list_zones(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = query_pairs(raw.as_deref());
    let kind = q.iter().find(|(k, _)| k == "type").map(|(_, v)| v.as_str()).unwrap_or("public");
    if !["public", "private"].contains(&kind) {
        return Err(Error::bad_request(format!("Invalid type {kind:?}: public or private.")).into());
    }
    let router = q.iter().find(|(k, _)| k == "router_id").map(|(_, v)| v.clone());
    let items: Vec<Value> = s
        .control
        .list_zones(&ctx, kind)
        .await?
        .iter()
        .filter(|v| router.as_ref().is_none_or(|r| v.routers.contains(r)))
        .map(|v| zone_view(&s, v))
        .filter(|v| name_matches(v, &q))
        .collect();
    let (zones, total) = dns_page(items, &q, "zone")?;
    Ok(Json(json!({"links": {"self": format!("{}/v2/zones", base(&s))}, "metadata": {"total_count": total},
        "zones": zones}))
    .into_response())
}

#[utoipa::path(get, path = "/v2/zones/{zone_id}", tag = "DNS", params(("zone_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_zone(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let v = s.control.get_zone(&ctx, &id).await?;
    Ok(Json(zone_view(&s, &v)).into_response())
}

#[utoipa::path(patch, path = "/v2/zones/{zone_id}", tag = "DNS", request_body = super::NetDoc,
    params(("zone_id" = String, Path)),
    responses((status = 202, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_zone(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, raw: Bytes) -> ApiResult {
    let m = flat(&raw)?;
    let v =
        s.control.update_zone(&ctx, &id, str_of(&m, "description")?, str_of(&m, "email")?, int_of(&m, "ttl")?).await?;
    Ok((StatusCode::ACCEPTED, Json(zone_view(&s, &v))).into_response())
}

#[utoipa::path(delete, path = "/v2/zones/{zone_id}", tag = "DNS", params(("zone_id" = String, Path)),
    responses((status = 202, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn delete_zone(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let v = s.control.delete_zone(&ctx, &id).await?;
    let mut o = zone_view(&s, &v);
    o["status"] = json!("PENDING_DELETE");
    Ok((StatusCode::ACCEPTED, Json(o)).into_response())
}

async fn set_router(s: &AppState, ctx: &nimbus_control::Ctx, id: &str, raw: &[u8], associate: bool) -> ApiResult {
    let m = flat(raw)?;
    let router =
        m.get("router").and_then(Value::as_object).ok_or_else(|| Error::bad_request("'router' is required."))?;
    let router_id =
        str_of(router, "router_id")?.ok_or_else(|| Error::bad_request("'router.router_id' is required."))?;
    s.control.set_zone_router(ctx, id, &router_id, associate).await?;
    Ok((StatusCode::ACCEPTED, Json(router_doc(s, &router_id))).into_response())
}

#[utoipa::path(post, path = "/v2/zones/{zone_id}/associaterouter", tag = "DNS", request_body = super::NetDoc,
    params(("zone_id" = String, Path)),
    responses((status = 202, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn associate_router(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    set_router(&s, &ctx, &id, &raw, true).await
}

#[utoipa::path(post, path = "/v2/zones/{zone_id}/disassociaterouter", tag = "DNS", request_body = super::NetDoc,
    params(("zone_id" = String, Path)),
    responses((status = 202, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn disassociate_router(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    set_router(&s, &ctx, &id, &raw, false).await
}

fn recordset_input(m: &Map<String, Value>) -> Result<RecordSetInput, Error> {
    let records = match m.get("records") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| Error::bad_request("'records' holds strings.")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(Error::bad_request("'records' must be a list.")),
    };
    Ok(RecordSetInput {
        name: str_of(m, "name")?,
        rtype: str_of(m, "type")?,
        ttl: int_of(m, "ttl")?,
        records,
        description: str_of(m, "description")?,
        status: str_of(m, "status")?,
    })
}

#[utoipa::path(post, path = "/v2/zones/{zone_id}/recordsets", tag = "DNS", request_body = super::NetDoc,
    params(("zone_id" = String, Path)),
    responses((status = 202, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_recordset(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(zone_id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let m = flat(&raw)?;
    let rs = s.control.create_recordset(&ctx, &zone_id, recordset_input(&m)?).await?;
    let z = s.control.get_zone(&ctx, &zone_id).await?.zone;
    Ok((StatusCode::ACCEPTED, Json(recordset_view(&s, &z, &rs))).into_response())
}

#[utoipa::path(get, path = "/v2/zones/{zone_id}/recordsets", tag = "DNS",
    params(("zone_id" = String, Path), ("type" = Option<String>, Query), ("name" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("marker" = Option<String>, Query)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn list_recordsets(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(zone_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = query_pairs(raw.as_deref());
    let (z, sets) = s.control.list_recordsets(&ctx, &zone_id).await?;
    let rtype = q.iter().find(|(k, _)| k == "type").map(|(_, v)| v.to_ascii_uppercase());
    let items: Vec<Value> = sets
        .iter()
        .filter(|r| rtype.as_ref().is_none_or(|t| &r.rtype == t))
        .map(|r| recordset_view(&s, &z, r))
        .filter(|v| name_matches(v, &q))
        .collect();
    let (recordsets, total) = dns_page(items, &q, "recordset")?;
    Ok(Json(json!({"links": {"self": format!("{}/v2/zones/{}/recordsets", base(&s), z.id)},
        "metadata": {"total_count": total}, "recordsets": recordsets}))
    .into_response())
}

#[utoipa::path(get, path = "/v2/zones/{zone_id}/recordsets/{recordset_id}", tag = "DNS",
    params(("zone_id" = String, Path), ("recordset_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_recordset(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((zone_id, id)): Path<(String, String)>,
) -> ApiResult {
    let (z, rs) = s.control.get_recordset(&ctx, &zone_id, &id).await?;
    Ok(Json(recordset_view(&s, &z, &rs)).into_response())
}

#[utoipa::path(put, path = "/v2/zones/{zone_id}/recordsets/{recordset_id}", tag = "DNS", request_body = super::NetDoc,
    params(("zone_id" = String, Path), ("recordset_id" = String, Path)),
    responses((status = 202, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn update_recordset(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((zone_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let m = flat(&raw)?;
    let (z, rs) = s.control.update_recordset(&ctx, &zone_id, &id, recordset_input(&m)?).await?;
    Ok((StatusCode::ACCEPTED, Json(recordset_view(&s, &z, &rs))).into_response())
}

#[utoipa::path(delete, path = "/v2/zones/{zone_id}/recordsets/{recordset_id}", tag = "DNS",
    params(("zone_id" = String, Path), ("recordset_id" = String, Path)),
    responses((status = 202, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn delete_recordset(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((zone_id, id)): Path<(String, String)>,
) -> ApiResult {
    let (z, rs) = s.control.delete_recordset(&ctx, &zone_id, &id).await?;
    let mut o = recordset_view(&s, &z, &rs);
    o["status"] = json!("PENDING_DELETE");
    Ok((StatusCode::ACCEPTED, Json(o)).into_response())
}
