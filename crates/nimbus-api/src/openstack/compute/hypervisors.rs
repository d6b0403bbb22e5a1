//! `/os-hypervisors` (admin): the region's compute host and which hypervisor runs its
//! guests (`qemu-kvm`, `qemu-tcg`, or `simulated`); `/limits`: the project's absolute limits.

use super::microversion::Microversion;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::Ctx;
use nimbus_core::Error;
use serde_json::{json, Value};

use Access::Authenticated as A;

/// The id the single local host is listed under (below 2.53, then a UUID).
const HOST_ID: &str = "1";
const HOST_UUID: &str = "6e1f4b1c-6f7a-4a61-9a55-6e696d627573";
const SERVICE_UUID: &str = "2c0f7e53-0f6b-4b8e-8e3a-6e696d627573";

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/os-hypervisors", A, list)
        .add("GET", "/compute/v2.1/os-hypervisors/detail", A, detail)
        .add("GET", "/compute/v2.1/os-hypervisors/{hypervisor_id}", A, show)
        .add("GET", "/compute/v2.1/limits", A, limits)
        .add("GET", "/compute/v2.1/extensions", A, extensions)
        .add("GET", "/compute/v2.1/extensions/{alias}", A, extension)
}

/// The extensions Nova v2.1 reports (all built in since v2.1; kept for old clients).
const EXTENSIONS: &[(&str, &str)] = &[
    ("os-availability-zone", "AvailabilityZone"),
    ("os-consoles", "Consoles"),
    ("os-console-output", "ConsoleOutput"),
    ("os-create-backup", "CreateBackup"),
    ("OS-DCF", "DiskConfig"),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone"),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes"),
    ("OS-EXT-STS", "ExtendedStatus"),
    ("os-extended-volumes", "ExtendedVolumes"),
    ("os-flavor-access", "FlavorAccess"),
    ("os-flavor-extra-specs", "FlavorExtraSpecs"),
    ("os-hosts", "Hosts"),
    ("os-hypervisors", "Hypervisors"),
    ("os-instance-actions", "InstanceActions"),
    ("os-keypairs", "Keypairs"),
    ("os-lock-server", "LockServer"),
    ("os-quota-sets", "Quotas"),
    ("os-server-groups", "ServerGroups"),
    ("os-server-password", "ServerPassword"),
    ("os-admin-actions", "AdminActions"),
    ("servers", "Servers"),
    ("flavors", "Flavors"),
    ("images", "Images"),
    ("limits", "Limits"),
    ("ips", "Ips"),
    ("server-metadata", "ServerMetadata"),
    ("os-server-tags", "ServerTags"),
];

fn extension_doc(alias: &str, name: &str) -> Value {
    json!({"alias": alias, "name": name, "namespace": format!("http://docs.openstack.org/compute/ext/{alias}/api/v2.1"),
        "description": format!("{name} support."), "links": [], "updated": "2014-12-03T00:00:00Z"})
}

async fn extensions(Auth(_): Auth) -> ApiResult {
    let list: Vec<Value> = EXTENSIONS.iter().map(|(a, n)| extension_doc(a, n)).collect();
    Ok(Json(json!({"extensions": list})).into_response())
}

async fn extension(Auth(_): Auth, Path(alias): Path<String>) -> ApiResult {
    let (a, n) = EXTENSIONS.iter().find(|(a, _)| *a == alias).ok_or_else(|| Error::not_found("extension", &alias))?;
    Ok(Json(json!({"extension": extension_doc(a, n)})).into_response())
}

async fn doc(s: &AppState, ctx: &Ctx, detailed: bool, mv: Microversion) -> Result<Value, Error> {
    let (host, kind, running) = s.control.hypervisor_view(ctx).await?;
    // From 2.53 hypervisors and services are named by UUIDs.
    let (id, service_id) = if mv.at_least(53) { (HOST_UUID, SERVICE_UUID) } else { (HOST_ID, HOST_ID) };
    let mut d = json!({"id": id, "hypervisor_hostname": host.name, "state": "up", "status": "enabled"});
    if detailed {
        d["hypervisor_type"] = json!(kind);
        d["hypervisor_version"] = json!(7002000);
        d["host_ip"] = json!("127.0.0.1");
        d["service"] = json!({"host": host.name, "id": service_id, "disabled_reason": null});
        // 2.88 dropped the resource figures (placement reports them).
        if !mv.at_least(88) {
            let cpu_info = json!({"arch": "x86_64", "model": kind, "vendor": "QEMU",
                "topology": {"cores": host.vcpus, "threads": 1, "sockets": 1}, "features": []});
            d["cpu_info"] = if mv.at_least(28) { cpu_info } else { json!(cpu_info.to_string()) };
            d["vcpus"] = json!(host.vcpus);
            d["memory_mb"] = json!(host.memory_mb);
            d["vcpus_used"] = json!(host.used_vcpus);
            d["memory_mb_used"] = json!(host.used_memory_mb);
            d["free_ram_mb"] = json!(host.memory_mb - host.used_memory_mb);
            d["running_vms"] = json!(running);
            d["current_workload"] = json!(0);
            d["local_gb"] = json!(0);
            d["local_gb_used"] = json!(0);
            d["free_disk_gb"] = json!(0);
            d["disk_available_least"] = Value::Null;
        }
    }
    Ok(d)
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion) -> ApiResult {
    Ok(Json(json!({"hypervisors": [doc(&s, &ctx, false, mv).await?]})).into_response())
}

async fn detail(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion) -> ApiResult {
    Ok(Json(json!({"hypervisors": [doc(&s, &ctx, true, mv).await?]})).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    let d = doc(&s, &ctx, true, mv).await?;
    if d["id"].as_str() != Some(id.as_str()) && Some(id.as_str()) != d["hypervisor_hostname"].as_str() {
        return Err(Error::not_found("hypervisor", &id).into());
    }
    Ok(Json(json!({"hypervisor": d})).into_response())
}

async fn limits(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion) -> ApiResult {
    let project = ctx
        .principal
        .project_id()
        .ok_or_else(|| Error::Forbidden("Limits belong to projects: use a project-scoped token.".into()))?
        .to_string();
    let q = s.control.get_quotas(&ctx, &project).await?;
    let limit = |k: &str| q.limits.get(k).copied().unwrap_or(-1);
    let used = |k: &str| q.in_use.get(k).copied().unwrap_or(0);
    let mut absolute = json!({
        "maxTotalInstances": limit("instances"), "maxTotalCores": limit("cores"),
        "maxTotalRAMSize": limit("ram"), "maxTotalKeypairs": limit("key_pairs"),
        "maxServerMeta": limit("metadata_items"), "maxServerGroups": limit("server_groups"),
        "maxServerGroupMembers": limit("server_group_members"),
        "maxImageMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxSecurityGroups": limit("security_group"), "maxSecurityGroupRules": limit("security_group_rule"),
        "maxTotalFloatingIps": limit("floatingip"),
        "totalInstancesUsed": used("instances"), "totalCoresUsed": used("cores"), "totalRAMUsed": used("ram"),
        "totalServerGroupsUsed": used("server_groups"), "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0,
    });
    // Nova dropped the network limits at 2.36, image metadata at 2.39, personality at 2.57.
    let dropped: &[(u16, &[&str])] = &[
        (
            36,
            &[
                "maxSecurityGroupRules",
                "maxSecurityGroups",
                "maxTotalFloatingIps",
                "totalFloatingIpsUsed",
                "totalSecurityGroupsUsed",
            ],
        ),
        (39, &["maxImageMeta"]),
        (57, &["maxPersonality", "maxPersonalitySize"]),
    ];
    if let Some(m) = absolute.as_object_mut() {
        for (since, keys) in dropped {
            if mv.at_least(*since) {
                for k in *keys {
                    m.remove(*k);
                }
            }
        }
    }
    Ok(Json(json!({"limits": {"rate": [], "absolute": absolute}})).into_response())
}
