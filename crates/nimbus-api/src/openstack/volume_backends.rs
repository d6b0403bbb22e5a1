//! Cinder v3 calls for operators about the block-storage service itself: `os-services`
//! (list; enable, disable, freeze and thaw are refused with the reason), `os-hosts`,
//! `scheduler-stats/get_pools` and `capabilities/{host}`. The answers come from
//! `nimbus_control::volumes::backends`.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::backends::{self, VolumePool, VolumeService, DRIVER_VERSION, STORAGE_PROTOCOL, VENDOR};
use nimbus_core::time::iso_time;
use serde_json::{json, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/volume/v3/{project_id}/os-services", A, list_services)
        .add("PUT", "/volume/v3/{project_id}/os-services/{action}", A, change_service)
        .add("GET", "/volume/v3/{project_id}/os-hosts", A, list_hosts)
        .add("GET", "/volume/v3/{project_id}/os-hosts/{host}", A, show_host)
        .add("GET", "/volume/v3/{project_id}/scheduler-stats/get_pools", A, list_pools)
        .add("GET", "/volume/v3/{project_id}/capabilities/{host}", A, show_capabilities)
}

fn service_doc(s: &VolumeService) -> Value {
    json!({"binary": s.binary, "host": s.host, "zone": s.zone, "status": "enabled", "state": "up",
           "updated_at": iso_time(s.updated_at), "disabled_reason": null, "frozen": false,
           "replication_status": "disabled", "active_backend_id": null, "backend_state": "up"})
}

async fn list_services(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(_p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let list =
        s.control.volume_services(&ctx, q.get("host").map(String::as_str), q.get("binary").map(String::as_str))?;
    Ok(Json(json!({"services": list.iter().map(service_doc).collect::<Vec<_>>()})).into_response())
}

async fn change_service(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, action)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let body: Value = if raw.is_empty() { json!({}) } else { parse_json(&raw)? };
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    s.control.change_volume_service(&ctx, &action, text("host"), text("binary"), text("disabled_reason"))?;
    Ok(Json(json!({})).into_response())
}

async fn list_hosts(State(s): State<AppState>, Auth(ctx): Auth, Path(_p): Path<String>) -> ApiResult {
    let list: Vec<Value> = s
        .control
        .volume_services(&ctx, None, None)?
        .iter()
        .map(|v| {
            json!({"host_name": v.host, "service": v.binary, "zone": v.zone, "service-status": "available",
                   "service-state": "enabled", "last-update": iso_time(v.updated_at)})
        })
        .collect();
    Ok(Json(json!({"hosts": list})).into_response())
}

/// The volume host's holdings: the total first, then each project (counts as strings, as
/// Cinder answers).
async fn show_host(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, host)): Path<(String, String)>) -> ApiResult {
    let projects = s.control.volume_host_holdings(&ctx, &host).await?;
    let resource = |project: &str, vc: i64, vg: i64, sc: i64, sg: i64| {
        json!({"resource": {"host": host, "project": project, "volume_count": vc.to_string(),
               "total_volume_gb": vg.to_string(), "snapshot_count": sc.to_string(),
               "total_snapshot_gb": sg.to_string()}})
    };
    let sum = |f: fn(&nimbus_store::volumes::ProjectHoldings) -> i64| projects.iter().map(f).sum::<i64>();
    let mut out = vec![resource(
        "(total)",
        sum(|h| h.volume_count),
        sum(|h| h.volume_gb),
        sum(|h| h.snapshot_count),
        sum(|h| h.snapshot_gb),
    )];
    for h in &projects {
        out.push(resource(&h.project_id, h.volume_count, h.volume_gb, h.snapshot_count, h.snapshot_gb));
    }
    Ok(Json(json!({"host": out})).into_response())
}

fn pool_capabilities(p: &VolumePool) -> Value {
    json!({"volume_backend_name": p.backend, "vendor_name": VENDOR, "driver_version": DRIVER_VERSION,
           "storage_protocol": STORAGE_PROTOCOL, "total_capacity_gb": p.total_gb, "free_capacity_gb": p.free_gb,
           "reserved_percentage": 0, "QoS_support": true, "timestamp": iso_time(p.updated_at),
           "updated": iso_time(p.updated_at)})
}

async fn list_pools(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(_p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let detail = q.get("detail").is_some_and(|d| matches!(d.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    let list: Vec<Value> = s
        .control
        .volume_pools(&ctx)?
        .iter()
        .map(|p| {
            if detail {
                json!({"name": p.name, "capabilities": pool_capabilities(p)})
            } else {
                json!({"name": p.name})
            }
        })
        .collect();
    Ok(Json(json!({"pools": list})).into_response())
}

async fn show_capabilities(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, host)): Path<(String, String)>,
) -> ApiResult {
    let p = s.control.volume_backend(&ctx, &host)?;
    Ok(Json(json!({
        "namespace": format!("OS::Storage::Capabilities::{}", backends::backend_host()),
        "vendor_name": VENDOR, "volume_backend_name": p.backend, "pool_name": p.backend,
        "driver_version": DRIVER_VERSION, "storage_protocol": STORAGE_PROTOCOL,
        "display_name": "Local disk", "description": "qcow2 and raw files on the region's local disk, opened by QEMU.",
        "visibility": "pool", "replication_targets": [],
        "properties": {
            "thin_provisioning": {"title": "Thin Provisioning", "type": "boolean",
                                  "description": "Volumes take disk space only as data is written (qcow2)."},
            "qos": {"title": "QoS", "type": "boolean",
                    "description": "IOPS and throughput limits per volume type, enforced by QEMU throttling."},
        },
    }))
    .into_response())
}
