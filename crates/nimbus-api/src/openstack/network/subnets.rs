//! Neutron subnets: `/v2.0/subnets` (IPv4; bulk creates too).

use super::listing::{self, pairs};
use super::{body_object, bool_of, check_keys, create_bodies, int_of, project_of, standard, str_of};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::network::{Gateway, HostRoute, SubnetCreate, SubnetUpdate};
use nimbus_core::Error;
use nimbus_store::network::Subnet;
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/network/v2.0/subnets", A, list)
        .add("POST", "/network/v2.0/subnets", A, create)
        .add("GET", "/network/v2.0/subnets/{subnet_id}", A, show)
        .add("PUT", "/network/v2.0/subnets/{subnet_id}", A, update)
        .add("DELETE", "/network/v2.0/subnets/{subnet_id}", A, delete)
}

fn view(s: &Subnet) -> Value {
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(json!([]));
    let mut o = json!({
        "id": s.id, "name": s.name, "description": s.description, "network_id": s.network_id,
        "ip_version": s.ip_version, "cidr": s.cidr, "gateway_ip": s.gateway_ip, "enable_dhcp": s.enable_dhcp,
        "dns_nameservers": parse(&s.dns_nameservers), "host_routes": parse(&s.host_routes),
        "allocation_pools": parse(&s.allocation_pools), "ipv6_ra_mode": null, "ipv6_address_mode": null,
        "subnetpool_id": null, "service_types": [], "segment_id": null,
    });
    standard(&mut o, &s.project_id, s.created_at, s.updated_at, s.revision_number);
    o
}

fn gateway_of(m: &Map<String, Value>) -> Result<Option<Gateway>, Error> {
    match m.get("gateway_ip") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Gateway::None)),
        Some(Value::String(ip)) => Ok(Some(Gateway::Ip(ip.clone()))),
        Some(_) => Err(Error::bad_request("Invalid input for gateway_ip: an address or null is expected.")),
    }
}

fn routes_of(m: &Map<String, Value>) -> Result<Option<Vec<HostRoute>>, Error> {
    match m.get("host_routes") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|_| Error::bad_request("Invalid input for host_routes: a list of {destination, nexthop}.")),
    }
}

fn pools_of(m: &Map<String, Value>) -> Result<Option<Vec<(String, String)>>, Error> {
    match m.get("allocation_pools") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| match (p.get("start").and_then(Value::as_str), p.get("end").and_then(Value::as_str)) {
                (Some(s), Some(e)) => Ok((s.to_string(), e.to_string())),
                _ => Err(Error::bad_request("Invalid input for allocation_pools: each pool has a start and an end.")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::bad_request("Invalid input for allocation_pools: a list is expected.")),
    }
}

fn create_request(m: &Map<String, Value>) -> Result<SubnetCreate, Error> {
    check_keys(
        m,
        &[
            "name",
            "description",
            "network_id",
            "ip_version",
            "cidr",
            "gateway_ip",
            "enable_dhcp",
            "dns_nameservers",
            "host_routes",
            "allocation_pools",
            "project_id",
            "tenant_id",
            "ipv6_ra_mode",
            "ipv6_address_mode",
            "subnetpool_id",
            "prefixlen",
            "service_types",
            "segment_id",
        ],
    )?;
    if m.get("subnetpool_id").is_some_and(|v| !v.is_null()) || m.get("prefixlen").is_some() {
        return Err(Error::bad_request("Invalid input: subnet pools are not offered in this region; give a cidr."));
    }
    Ok(SubnetCreate {
        network_id: str_of(m, "network_id")?.ok_or_else(|| {
            Error::bad_request("Failed to parse request. Required attribute 'network_id' not specified")
        })?,
        name: str_of(m, "name")?.unwrap_or_default(),
        description: str_of(m, "description")?.unwrap_or_default(),
        ip_version: int_of(m, "ip_version")?.ok_or_else(|| {
            Error::bad_request("Failed to parse request. Required attribute 'ip_version' not specified")
        })?,
        cidr: str_of(m, "cidr")?
            .ok_or_else(|| Error::bad_request("Failed to parse request. Required attribute 'cidr' not specified"))?,
        gateway: gateway_of(m)?.unwrap_or_default(),
        enable_dhcp: bool_of(m, "enable_dhcp")?,
        dns_nameservers: super::str_list(m, "dns_nameservers")?.unwrap_or_default(),
        host_routes: routes_of(m)?.unwrap_or_default(),
        allocation_pools: pools_of(m)?,
        project_id: project_of(m)?,
    })
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = pairs(raw.as_deref());
    let items: Vec<Value> = s.control.list_subnets(&ctx).await?.iter().map(view).collect();
    let items = super::tags::with_tags(&s, "subnets", items).await?;
    let url = format!("{}/network/v2.0/subnets", super::base(&s));
    Ok(Json(listing::list(items, &q, "subnets", &url)?).into_response())
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let (items, bulk) = create_bodies(&doc, "subnet", "subnets")?;
    let reqs = items.iter().map(create_request).collect::<Result<Vec<_>, _>>()?;
    let made = super::all_or_nothing(
        reqs,
        |req| s.control.create_subnet(&ctx, req),
        |n| {
            let (s, ctx, id) = (&s, &ctx, n.id.clone());
            async move {
                let _ = s.control.delete_subnet(ctx, &id).await;
            }
        },
    )
    .await?;
    let views: Vec<Value> = made.iter().map(view).collect();
    Ok(super::created(views, bulk, "subnet", "subnets"))
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let x = s.control.get_subnet(&ctx, &id).await?;
    let v = super::tags::with_tags_one(&s, "subnets", view(&x)).await?;
    Ok(Json(json!({ "subnet": listing::project_fields(v, &pairs(raw.as_deref())) })).into_response())
}

async fn update(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "subnet")?;
    for fixed in ["cidr", "ip_version", "network_id", "project_id", "tenant_id"] {
        if m.contains_key(fixed) {
            return Err(Error::bad_request(format!("Cannot update read-only attribute {fixed}")).into());
        }
    }
    check_keys(
        &m,
        &["name", "description", "gateway_ip", "enable_dhcp", "dns_nameservers", "host_routes", "allocation_pools"],
    )?;
    let u = SubnetUpdate {
        name: str_of(&m, "name")?,
        description: str_of(&m, "description")?,
        gateway: gateway_of(&m)?,
        enable_dhcp: bool_of(&m, "enable_dhcp")?,
        dns_nameservers: super::str_list(&m, "dns_nameservers")?,
        host_routes: routes_of(&m)?,
        allocation_pools: pools_of(&m)?,
    };
    let x = s.control.update_subnet(&ctx, &id, u).await?;
    Ok(Json(json!({ "subnet": view(&x) })).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_subnet(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
