//! `/os-availability-zone`: the region's zones (seed 3.2.1), all served by this host.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::Error;
use serde_json::json;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/os-availability-zone", Access::Authenticated, list).add(
        "GET",
        "/compute/v2.1/os-availability-zone/detail",
        Access::Authenticated,
        detail,
    )
}

async fn list(State(s): State<AppState>, Auth(_): Auth) -> ApiResult {
    let zones: Vec<_> = s
        .control
        .config()
        .availability_zones
        .iter()
        .map(|z| json!({"zoneName": z, "zoneState": {"available": true}, "hosts": null}))
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": zones})).into_response())
}

async fn detail(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    if !ctx.principal.can_read_all() {
        return Err(Error::Forbidden("Only administrators see the zones' hosts.".into()).into());
    }
    let host = hostname();
    let zones: Vec<_> = s
        .control
        .config()
        .availability_zones
        .iter()
        .map(|z| {
            json!({"zoneName": z, "zoneState": {"available": true},
                   "hosts": {host.clone(): {"nova-compute": {"available": true, "active": true, "updated_at": null}}}})
        })
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": zones})).into_response())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}
