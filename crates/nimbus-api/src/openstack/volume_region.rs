//! Cinder v3 calls about the block-storage service rather than one volume: the zones, the
//! extensions this service implements, the caller's absolute limits, and the summary of
//! the volumes the caller sees (3.12, with their metadata from 3.36).

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::openstack::compute::microversion::Microversion;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use nimbus_store::volumes::VolumeFilter;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/volume/v3/{project_id}/os-availability-zone", A, zones)
        .add("GET", "/volume/v3/{project_id}/extensions", A, extensions)
        .add("GET", "/volume/v3/{project_id}/limits", A, limits)
        .add("GET", "/volume/v3/{project_id}/volumes/summary", A, summary)
}

async fn zones(State(s): State<AppState>, Auth(_): Auth, Path(_p): Path<String>) -> ApiResult {
    let list: Vec<Value> = s
        .control
        .config()
        .availability_zones
        .iter()
        .map(|z| json!({"zoneName": z, "zoneState": {"available": true}}))
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": list})).into_response())
}

/// The Cinder extensions whose calls this service answers (alias, name, what it adds).
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("os-availability-zone", "AvailabilityZones", "Describe the block-storage availability zones."),
    ("backups", "Backups", "Volume backups: create, list, restore, delete."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Project and progress of snapshots."),
    ("os-quota-sets", "Quotas", "Quota management of a project's volumes, snapshots and backups."),
    ("os-types-manage", "TypesManage", "Volume type creation, update and deletion."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Volume type extra specs (QoS and multi-attach)."),
    ("os-volume-actions", "VolumeActions", "Volume actions: extend, attach, detach, reserve, flags."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "The project of a volume."),
    ("os-vol-host-attr", "VolumeHostAttribute", "The host of a volume, for administrators."),
    ("os-vol-image-meta", "VolumeImageMetadata", "The image metadata of a volume."),
    ("os-admin-actions", "AdminActions", "Administrator actions: reset status, force delete."),
    ("os-services", "Services", "The block-storage services, for administrators."),
    ("os-hosts", "Hosts", "The volume hosts and what each project holds on them."),
    ("scheduler-stats", "Scheduler_stats", "The back end's pools and their capacity."),
    ("capabilities", "Capabilities", "What the back end offers."),
    ("qos-specs", "Qos_specs_manage", "QoS specs: limits associated with volume types."),
    ("os-volume-type-access", "VolumeTypeAccess", "Private volume types shared with projects."),
    ("os-volume-transfer", "VolumeTransfer", "Volume transfers between projects."),
];

async fn extensions(Auth(_): Auth, Path(_p): Path<String>) -> ApiResult {
    let list: Vec<Value> = EXTENSIONS
        .iter()
        .map(|(alias, name, description)| {
            json!({"alias": alias, "name": name, "description": description, "links": [],
                   "updated": "2024-01-01T00:00:00+00:00", "namespace": ""})
        })
        .collect();
    Ok(Json(json!({"extensions": list})).into_response())
}

/// The caller's absolute limits: its project's quotas and their use.
async fn limits(State(s): State<AppState>, Auth(ctx): Auth, Path(_p): Path<String>) -> ApiResult {
    let project = ctx.principal.project_id().ok_or_else(|| Error::bad_request("The token has no project."))?;
    let set = s.control.get_quotas(&ctx, project).await?;
    let limit = |k: &str| set.limits.get(k).copied().unwrap_or(-1);
    let used = |k: &str| set.in_use.get(k).copied().unwrap_or(0);
    Ok(Json(json!({"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": limit("volumes"), "totalVolumesUsed": used("volumes"),
        "maxTotalVolumeGigabytes": limit("gigabytes"), "totalGigabytesUsed": used("gigabytes"),
        "maxTotalSnapshots": limit("snapshots"), "totalSnapshotsUsed": used("snapshots"),
        "maxTotalBackups": limit("backups"), "totalBackupsUsed": used("backups"),
        "maxTotalBackupGigabytes": limit("backup_gigabytes"), "totalBackupGigabytesUsed": used("backup_gigabytes"),
    }}}))
    .into_response())
}

/// `GET .../volumes/summary` (3.12): count and total size of the volumes the caller sees,
/// and from 3.36 every metadata value found on them.
async fn summary(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(_p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    if !mv.at_least(12) {
        return Err(Error::not_found("volume", "summary").into());
    }
    let all = crate::openstack::volume_listing::all_tenants(&q);
    let volumes = s.control.list_volumes(&ctx, VolumeFilter::default(), all, &PageRequest::largest()).await?;
    let mut body = json!({
        "total_count": volumes.len(),
        "total_size": volumes.iter().map(|v| v.size_gb).sum::<i64>(),
    });
    if mv.at_least(36) {
        let mut metadata: Map<String, Value> = Map::new();
        for v in &volumes {
            let m: Map<String, Value> = serde_json::from_str(&v.metadata).unwrap_or_default();
            for (k, val) in m {
                let values = metadata.entry(k).or_insert_with(|| json!([]));
                let arr = values.as_array_mut().expect("built as an array");
                if !arr.contains(&val) {
                    arr.push(val);
                }
            }
        }
        body["metadata"] = Value::Object(metadata);
    }
    Ok(Json(json!({"volume-summary": body})).into_response())
}
