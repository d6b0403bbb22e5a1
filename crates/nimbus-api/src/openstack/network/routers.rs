//! Neutron routers: `/v2.0/routers` with `add_router_interface` / `remove_router_interface`
//! and the gateway (`external_gateway_info`, extensions `router`, `ext-gw-mode`,
//! `extraroute`).

use super::listing::{self, pairs};
use super::{body_object, bool_of, check_keys, project_of, standard, str_of};
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
    GatewayRequest, HostRoute, InterfaceInfo, InterfaceTarget, RouterCreate, RouterUpdate, RouterView,
};
use nimbus_core::Error;
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/network/v2.0/routers", A, list)
        .add("POST", "/network/v2.0/routers", A, create)
        .add("GET", "/network/v2.0/routers/{router_id}", A, show)
        .add("PUT", "/network/v2.0/routers/{router_id}", A, update)
        .add("DELETE", "/network/v2.0/routers/{router_id}", A, delete)
        .add("PUT", "/network/v2.0/routers/{router_id}/add_router_interface", A, add_interface)
        .add("PUT", "/network/v2.0/routers/{router_id}/remove_router_interface", A, remove_interface)
}

/// A router as Neutron shows it.
pub(super) fn view(v: &RouterView) -> Value {
    let r = &v.router;
    let gateway = match (&r.gateway_network_id, &v.gateway_port) {
        (Some(net), port) => {
            let fixed: Vec<Value> = port
                .iter()
                .flat_map(|p| p.fixed_ips.iter())
                .map(|f| json!({"subnet_id": f.subnet_id, "ip_address": f.ip_address}))
                .collect();
            json!({"network_id": net, "enable_snat": r.enable_snat, "external_fixed_ips": fixed})
        }
        (None, _) => Value::Null,
    };
    let routes: Value = serde_json::from_str(&r.routes).unwrap_or(json!([]));
    let mut o = json!({
        "id": r.id, "name": r.name, "description": r.description, "admin_state_up": r.admin_state_up,
        "status": "ACTIVE", "external_gateway_info": gateway, "routes": routes,
        "availability_zone_hints": [], "availability_zones": ["nova"],
    });
    standard(&mut o, &r.project_id, r.created_at, r.updated_at, r.revision_number);
    o
}

fn gateway_of(m: &Map<String, Value>) -> Result<Option<Option<GatewayRequest>>, Error> {
    match m.get("external_gateway_info") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Object(g)) if g.is_empty() => Ok(Some(None)),
        Some(Value::Object(g)) => {
            check_keys(g, &["network_id", "enable_snat", "external_fixed_ips"])?;
            let network_id = str_of(g, "network_id")?.ok_or_else(|| {
                Error::bad_request("Invalid input for external_gateway_info: network_id is required.")
            })?;
            let fixed_ips = match g.get("external_fixed_ips") {
                None | Some(Value::Null) => None,
                Some(_) => {
                    let mut wrapped = Map::new();
                    wrapped.insert("fixed_ips".into(), g["external_fixed_ips"].clone());
                    super::ports::fixed_ips_of(&wrapped)?
                }
            };
            Ok(Some(Some(GatewayRequest { network_id, enable_snat: bool_of(g, "enable_snat")?, fixed_ips })))
        }
        Some(_) => Err(Error::bad_request("Invalid input for external_gateway_info: an object is expected.")),
    }
}

fn routes_of(m: &Map<String, Value>) -> Result<Option<Vec<HostRoute>>, Error> {
    match m.get("routes") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|_| Error::bad_request("Invalid input for routes: a list of {destination, nexthop} is expected.")),
    }
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = pairs(raw.as_deref());
    let items: Vec<Value> = s.control.list_routers(&ctx).await?.iter().map(view).collect();
    let items = super::tags::with_tags(&s, "routers", items).await?;
    let url = format!("{}/network/v2.0/routers", super::base(&s));
    Ok(Json(listing::list(items, &q, "routers", &url)?).into_response())
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "router")?;
    check_keys(
        &m,
        &[
            "name",
            "description",
            "admin_state_up",
            "external_gateway_info",
            "project_id",
            "tenant_id",
            "availability_zone_hints",
            "distributed",
            "ha",
        ],
    )?;
    if (m.contains_key("distributed") || m.contains_key("ha")) && !ctx.principal.is_admin() {
        return Err(Error::Forbidden("Only operators choose a router's distributed and ha modes.".into()).into());
    }
    if bool_of(&m, "distributed")? == Some(true) || bool_of(&m, "ha")? == Some(true) {
        return Err(
            Error::bad_request("Distributed and HA routers are not offered: every router is one namespace.").into()
        );
    }
    let req = RouterCreate {
        name: str_of(&m, "name")?.unwrap_or_default(),
        description: str_of(&m, "description")?.unwrap_or_default(),
        admin_state_up: bool_of(&m, "admin_state_up")?,
        gateway: gateway_of(&m)?.flatten(),
        cidr: None,
        project_id: project_of(&m)?,
    };
    let r = s.control.create_router(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(json!({ "router": view(&r) }))).into_response())
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let r = s.control.get_router(&ctx, &id).await?;
    let v = listing::project_fields(super::tags::with_tags_one(&s, "routers", view(&r)).await?, &pairs(raw.as_deref()));
    Ok(Json(json!({ "router": v })).into_response())
}

async fn update(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "router")?;
    check_keys(&m, &["name", "description", "admin_state_up", "external_gateway_info", "routes"])?;
    let u = RouterUpdate {
        name: str_of(&m, "name")?,
        description: str_of(&m, "description")?,
        admin_state_up: bool_of(&m, "admin_state_up")?,
        gateway: gateway_of(&m)?,
        routes: routes_of(&m)?,
        cidr: None,
    };
    let r = s.control.update_router(&ctx, &id, u).await?;
    Ok(Json(json!({ "router": view(&r) })).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_router(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn interface_target(body: &Bytes) -> Result<InterfaceTarget, Error> {
    let doc: Value = parse_json(body)?;
    let m = doc.as_object().cloned().unwrap_or_default();
    match (str_of(&m, "subnet_id")?, str_of(&m, "port_id")?) {
        (Some(_), Some(_)) => Err(Error::bad_request("Bad router request: Cannot specify both subnet-id and port-id")),
        (Some(s), None) => Ok(InterfaceTarget::Subnet(s)),
        (None, Some(p)) => Ok(InterfaceTarget::Port(p)),
        (None, None) => Err(Error::bad_request("Bad router request: Either subnet_id or port_id must be specified")),
    }
}

fn interface_view(i: &InterfaceInfo) -> Value {
    json!({
        "id": i.router_id, "tenant_id": i.project_id, "project_id": i.project_id, "port_id": i.port_id,
        "network_id": i.network_id, "subnet_id": i.subnet_ids.first(), "subnet_ids": i.subnet_ids,
    })
}

async fn add_interface(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let target = interface_target(&body)?;
    let info = s.control.add_router_interface(&ctx, &id, target).await?;
    Ok(Json(interface_view(&info)).into_response())
}

async fn remove_interface(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let target = interface_target(&body)?;
    let info = s.control.remove_router_interface(&ctx, &id, target).await?;
    Ok(Json(interface_view(&info)).into_response())
}
