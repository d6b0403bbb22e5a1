//! `/os-hypervisors` (admin): the region's compute host and which hypervisor runs its
//! guests (`qemu-kvm`, `qemu-tcg`, or `simulated`); `/limits`: the project's absolute limits.

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

/// The id the single local host is listed under.
const HOST_ID: &str = "1";

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/os-hypervisors", A, list)
        .add("GET", "/compute/v2.1/os-hypervisors/detail", A, detail)
        .add("GET", "/compute/v2.1/os-hypervisors/{hypervisor_id}", A, show)
        .add("GET", "/compute/v2.1/limits", A, limits)
}

async fn doc(s: &AppState, ctx: &Ctx, detailed: bool) -> Result<Value, Error> {
    let (host, kind, running) = s.control.hypervisor_view(ctx).await?;
    let mut d = json!({
        "id": HOST_ID, "hypervisor_hostname": host.name, "state": "up", "status": "enabled",
    });
    if detailed {
        let (cpu, ram) = (s.control.config().cpu_allocation_ratio, s.control.config().ram_allocation_ratio);
        d["hypervisor_type"] = json!(kind);
        d["hypervisor_version"] = json!(7002000);
        d["host_ip"] = json!("127.0.0.1");
        d["service"] = json!({"host": host.name, "id": HOST_ID, "disabled_reason": null});
        d["vcpus"] = json!(host.vcpus);
        d["memory_mb"] = json!(host.memory_mb);
        d["vcpus_used"] = json!(host.used_vcpus);
        d["memory_mb_used"] = json!(host.used_memory_mb);
        d["running_vms"] = json!(running);
        d["cpu_allocation_ratio"] = json!(cpu);
        d["ram_allocation_ratio"] = json!(ram);
        d["availability_zones"] = json!(host.zones);
    }
    Ok(d)
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    Ok(Json(json!({"hypervisors": [doc(&s, &ctx, false).await?]})).into_response())
}

async fn detail(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    Ok(Json(json!({"hypervisors": [doc(&s, &ctx, true).await?]})).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let d = doc(&s, &ctx, true).await?;
    if id != HOST_ID && Some(id.as_str()) != d["hypervisor_hostname"].as_str() {
        return Err(Error::not_found("hypervisor", &id).into());
    }
    Ok(Json(json!({"hypervisor": d})).into_response())
}

async fn limits(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let project = ctx
        .principal
        .project_id()
        .ok_or_else(|| Error::Forbidden("Limits belong to projects: use a project-scoped token.".into()))?
        .to_string();
    let q = s.control.get_quotas(&ctx, &project).await?;
    let limit = |k: &str| q.limits.get(k).copied().unwrap_or(-1);
    let used = |k: &str| q.in_use.get(k).copied().unwrap_or(0);
    Ok(Json(json!({"limits": {"rate": [], "absolute": {
        "maxTotalInstances": limit("instances"), "maxTotalCores": limit("cores"),
        "maxTotalRAMSize": limit("ram"), "maxTotalKeypairs": limit("key_pairs"),
        "maxServerMeta": limit("metadata_items"), "maxServerGroups": limit("server_groups"),
        "maxServerGroupMembers": limit("server_group_members"),
        "maxImageMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxSecurityGroups": limit("security_group"), "maxSecurityGroupRules": limit("security_group_rule"),
        "maxTotalFloatingIps": limit("floatingip"),
        "totalInstancesUsed": used("instances"), "totalCoresUsed": used("cores"), "totalRAMUsed": used("ram"),
        "totalServerGroupsUsed": used("server_groups"), "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0,
    }}}))
    .into_response())
}
