//! Neutron networks: `/v2.0/networks` (bulk creates too).

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
use nimbus_control::network::{NetworkCreate, NetworkUpdate};
use nimbus_core::Error;
use nimbus_store::network::Network;
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/network/v2.0/networks", A, list)
        .add("POST", "/network/v2.0/networks", A, create)
        .add("GET", "/network/v2.0/networks/{network_id}", A, show)
        .add("PUT", "/network/v2.0/networks/{network_id}", A, update)
        .add("DELETE", "/network/v2.0/networks/{network_id}", A, delete)
}

const CREATE_KEYS: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "project_id",
    "tenant_id",
    "availability_zone_hints",
];

async fn view(s: &AppState, n: &Network) -> Result<Value, Error> {
    let subnets: Vec<String> = s.control.network_subnets(n).await?.into_iter().map(|x| x.id).collect();
    Ok(view_with(n, subnets))
}

fn view_with(n: &Network, subnets: Vec<String>) -> Value {
    let mut o = json!({
        "id": n.id, "name": n.name, "description": n.description, "admin_state_up": n.admin_state_up,
        "status": "ACTIVE", "subnets": subnets, "shared": n.shared, "router:external": n.router_external,
        "mtu": n.mtu, "port_security_enabled": n.port_security_enabled, "availability_zone_hints": [],
        "availability_zones": ["nova"], "ipv4_address_scope": null, "ipv6_address_scope": null,
        "l2_adjacency": true,
    });
    if n.router_external {
        o["is_default"] = json!(false);
    }
    standard(&mut o, &n.project_id, n.created_at, n.updated_at, n.revision_number);
    o
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = pairs(raw.as_deref());
    let subnets = s.control.list_subnets(&ctx).await?;
    let items: Vec<Value> = s
        .control
        .list_networks(&ctx)
        .await?
        .iter()
        .map(|n| view_with(n, subnets.iter().filter(|x| x.network_id == n.id).map(|x| x.id.clone()).collect()))
        .collect();
    let items = super::tags::with_tags(&s, "networks", items).await?;
    let url = format!("{}/network/v2.0/networks", super::base(&s));
    Ok(Json(listing::list(items, &q, "networks", &url)?).into_response())
}

fn create_request(m: &Map<String, Value>) -> Result<NetworkCreate, Error> {
    check_keys(m, CREATE_KEYS)?;
    Ok(NetworkCreate {
        name: str_of(m, "name")?.unwrap_or_default(),
        description: str_of(m, "description")?.unwrap_or_default(),
        admin_state_up: bool_of(m, "admin_state_up")?,
        shared: bool_of(m, "shared")?.unwrap_or(false),
        router_external: bool_of(m, "router:external")?.unwrap_or(false),
        mtu: int_of(m, "mtu")?,
        port_security_enabled: bool_of(m, "port_security_enabled")?,
        project_id: project_of(m)?,
    })
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let (items, bulk) = create_bodies(&doc, "network", "networks")?;
    let reqs = items.iter().map(create_request).collect::<Result<Vec<_>, _>>()?;
    let made = super::all_or_nothing(
        reqs,
        |req| s.control.create_network(&ctx, req),
        |n| {
            let (s, ctx, id) = (&s, &ctx, n.id.clone());
            async move {
                let _ = s.control.delete_network(ctx, &id).await;
            }
        },
    )
    .await?;
    let views: Vec<Value> = made.iter().map(|n| view_with(n, Vec::new())).collect();
    Ok(super::created(views, bulk, "network", "networks"))
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let n = s.control.get_network(&ctx, &id).await?;
    let v = super::tags::with_tags_one(&s, "networks", view(&s, &n).await?).await?;
    let v = listing::project_fields(v, &pairs(raw.as_deref()));
    Ok(Json(json!({ "network": v })).into_response())
}

async fn update(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "network")?;
    check_keys(
        &m,
        &["name", "description", "admin_state_up", "shared", "router:external", "mtu", "port_security_enabled"],
    )?;
    let u = NetworkUpdate {
        name: str_of(&m, "name")?,
        description: str_of(&m, "description")?,
        admin_state_up: bool_of(&m, "admin_state_up")?,
        shared: bool_of(&m, "shared")?,
        router_external: bool_of(&m, "router:external")?,
        mtu: int_of(&m, "mtu")?,
        port_security_enabled: bool_of(&m, "port_security_enabled")?,
    };
    let n = s.control.update_network(&ctx, &id, u).await?;
    Ok(Json(json!({ "network": view(&s, &n).await? })).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_network(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
