//! Quota views through the OpenStack APIs: Nova `os-quota-sets` and Neutron `quotas`.
//! Both read and change the same per-project quotas of the control plane.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::openstack::compute::microversion::Microversion;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::quota::is_per_type;
use nimbus_core::Error;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

use Access::Authenticated as A;

pub fn compute_routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/os-quota-class-sets/{class}", A, nova_class_show)
        .add("PUT", "/compute/v2.1/os-quota-class-sets/{class}", A, nova_class_update)
        .add("GET", "/compute/v2.1/os-quota-sets/{project_id}", A, nova_show)
        .add("GET", "/compute/v2.1/os-quota-sets/{project_id}/detail", A, nova_detail)
        .add("GET", "/compute/v2.1/os-quota-sets/{project_id}/defaults", A, nova_defaults)
        .add("PUT", "/compute/v2.1/os-quota-sets/{project_id}", A, nova_update)
        .add("DELETE", "/compute/v2.1/os-quota-sets/{project_id}", A, nova_reset)
}

/// Cinder's quota routes; the first id is the caller's project (the catalogue URL), the
/// second the project whose quotas are shown.
pub fn volume_routes(r: Routes) -> Routes {
    r.add("GET", "/volume/v3/{tenant_id}/os-quota-class-sets/{class}", A, cinder_class_show)
        .add("PUT", "/volume/v3/{tenant_id}/os-quota-class-sets/{class}", A, cinder_class_update)
        .add("GET", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}", A, cinder_show)
        .add("GET", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}/defaults", A, cinder_defaults)
        .add("PUT", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}", A, cinder_update)
        .add("DELETE", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}", A, cinder_reset)
}

pub fn network_routes(r: Routes) -> Routes {
    r.add("GET", "/network/v2.0/quotas/{project_id}", A, neutron_show)
        .add("GET", "/network/v2.0/quotas/{project_id}/details.json", A, neutron_detail)
        .add("PUT", "/network/v2.0/quotas/{project_id}", A, neutron_update)
}

/// Nova's quota names, all stored under the same name.
const NOVA: &[&str] =
    &["instances", "cores", "ram", "key_pairs", "metadata_items", "server_groups", "server_group_members"];

/// Cinder's quota names.
const CINDER: &[&str] =
    &["volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes", "groups", "per_volume_gigabytes"];

/// Neutron's quota names.
const NEUTRON: &[&str] =
    &["network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule"];

fn pick(limits: &BTreeMap<String, i64>, names: &[&str]) -> Map<String, Value> {
    names.iter().map(|n| (n.to_string(), json!(limits.get(*n).copied().unwrap_or(-1)))).collect()
}

/// Cinder's quota names for a set of limits: the fixed ones and each volume type's own.
fn cinder_names(limits: &BTreeMap<String, i64>) -> Vec<&str> {
    let mut names: Vec<&str> = CINDER.to_vec();
    names.extend(limits.keys().map(String::as_str).filter(|k| is_per_type(k)));
    names
}

/// Cinder's view of a set of limits.
fn cinder_pick(limits: &BTreeMap<String, i64>) -> Map<String, Value> {
    pick(limits, &cinder_names(limits))
}

/// Nova's legacy quota names below 2.36, read from the Neutron quotas they stand for.
const NOVA_NETWORK_LEGACY: &[(&str, &str)] = &[
    ("floating_ips", "floatingip"),
    ("security_groups", "security_group"),
    ("security_group_rules", "security_group_rule"),
];
/// File injection (personality) limits below 2.57: fixed, as injection is not offered.
const NOVA_INJECTED: &[(&str, i64)] =
    &[("injected_files", 5), ("injected_file_content_bytes", 10240), ("injected_file_path_bytes", 255)];

/// Nova's quota set at microversion `mv`, from the stored limits (or usage, through `value`).
fn nova_set(
    limits: &BTreeMap<String, i64>,
    mv: Microversion,
    value: impl Fn(&str, i64) -> Value,
) -> Map<String, Value> {
    nova_body(limits, mv, 36, value)
}

/// A Nova quota body; the legacy network quotas go at `network_gone` (2.36 for quota sets,
/// 2.50 for quota class sets).
fn nova_body(
    limits: &BTreeMap<String, i64>,
    mv: Microversion,
    network_gone: u16,
    value: impl Fn(&str, i64) -> Value,
) -> Map<String, Value> {
    let mut body: Map<String, Value> =
        NOVA.iter().map(|n| (n.to_string(), value(n, limits.get(*n).copied().unwrap_or(-1)))).collect();
    if !mv.at_least(network_gone) {
        for (nova, neutron) in NOVA_NETWORK_LEGACY {
            body.insert(nova.to_string(), value(neutron, limits.get(*neutron).copied().unwrap_or(-1)));
        }
        body.insert("fixed_ips".into(), value("fixed_ips", -1));
    }
    if !mv.at_least(57) {
        for (k, v) in NOVA_INJECTED {
            body.insert(k.to_string(), value(k, *v));
        }
    }
    body
}

/// Nova quota changes: its own names, plus the legacy network ones (stored as Neutron's);
/// the fixed legacy limits are accepted and ignored.
fn nova_changes(raw: &[u8]) -> Result<BTreeMap<String, i64>, Error> {
    let mut names: Vec<&str> = NOVA.to_vec();
    names.extend(NOVA_NETWORK_LEGACY.iter().map(|(n, _)| *n));
    names.extend(NOVA_INJECTED.iter().map(|(n, _)| *n));
    names.push("fixed_ips");
    let mut out = changes(raw, "quota_set", &names)?;
    for (nova, neutron) in NOVA_NETWORK_LEGACY {
        if let Some(v) = out.remove(*nova) {
            out.insert(neutron.to_string(), v);
        }
    }
    for (k, _) in NOVA_INJECTED {
        out.remove(*k);
    }
    out.remove("fixed_ips");
    Ok(out)
}

async fn nova_show(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(pid): Path<String>) -> ApiResult {
    let set = s.control.get_quotas(&ctx, &pid).await?;
    let mut body = nova_set(&set.limits, mv, |_, v| json!(v));
    body.insert("id".into(), json!(pid));
    Ok(Json(json!({"quota_set": body})).into_response())
}

async fn nova_detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(pid): Path<String>,
) -> ApiResult {
    let set = s.control.get_quotas(&ctx, &pid).await?;
    let mut body = nova_set(
        &set.limits,
        mv,
        |n, limit| json!({"limit": limit, "in_use": set.in_use.get(n).copied().unwrap_or(0), "reserved": 0}),
    );
    body.insert("id".into(), json!(pid));
    Ok(Json(json!({"quota_set": body})).into_response())
}

async fn nova_defaults(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(pid): Path<String>,
) -> ApiResult {
    s.control.get_quotas(&ctx, &pid).await?;
    let mut body = nova_set(&s.control.default_quota_set().await?, mv, |_, v| json!(v));
    body.insert("id".into(), json!(pid));
    Ok(Json(json!({"quota_set": body})).into_response())
}

/// Reads `{"<wrapper>": {"name": int, ...}}`, keeping only names of this API.
fn changes(raw: &[u8], wrapper: &str, names: &[&str]) -> Result<BTreeMap<String, i64>, Error> {
    let v: Value = parse_json(raw)?;
    let obj = v
        .get(wrapper)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("'{wrapper}' object required.")))?;
    let mut out = BTreeMap::new();
    for (k, val) in obj {
        // Flags and ids some clients send along (Neutron `check_limit`, Nova `force`).
        if ["force", "check_limit", "id", "project_id", "tenant_id"].contains(&k.as_str()) {
            continue;
        }
        if !names.contains(&k.as_str()) {
            return Err(Error::bad_request(format!("Unknown quota {k:?}.")));
        }
        let n = val
            .as_i64()
            .or_else(|| val.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| Error::bad_request(format!("Quota {k:?} must be an integer.")))?;
        out.insert(k.clone(), n);
    }
    Ok(out)
}

async fn nova_update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(pid): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let set = s.control.update_quotas(&ctx, &pid, &nova_changes(&raw)?).await?;
    Ok(Json(json!({"quota_set": nova_set(&set.limits, mv, |_, v| json!(v))})).into_response())
}

async fn nova_reset(State(s): State<AppState>, Auth(ctx): Auth, Path(pid): Path<String>) -> ApiResult {
    s.control.reset_quotas(&ctx, &pid).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn cinder_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_, pid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let set = s.control.get_quotas(&ctx, &pid).await?;
    let usage = q.get("usage").is_some_and(|u| u.eq_ignore_ascii_case("true"));
    let mut body: Map<String, Value> = if usage {
        cinder_names(&set.limits)
            .iter()
            .map(|n| {
                let limit = set.limits.get(*n).copied().unwrap_or(-1);
                let used = set.in_use.get(*n).copied().unwrap_or(0);
                (n.to_string(), json!({"limit": limit, "in_use": used, "reserved": 0, "allocated": 0}))
            })
            .collect()
    } else {
        cinder_pick(&set.limits)
    };
    body.insert("id".into(), json!(pid));
    Ok(Json(json!({"quota_set": body})).into_response())
}

async fn cinder_defaults(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_, pid)): Path<(String, String)>,
) -> ApiResult {
    s.control.get_quotas(&ctx, &pid).await?;
    let mut body = cinder_pick(&s.control.default_quota_set().await?);
    body.insert("id".into(), json!(pid));
    Ok(Json(json!({"quota_set": body})).into_response())
}

async fn cinder_update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_, pid)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let known = s.control.default_quota_set().await?;
    let set = s.control.update_quotas(&ctx, &pid, &changes(&raw, "quota_set", &cinder_names(&known))?).await?;
    Ok(Json(json!({"quota_set": cinder_pick(&set.limits)})).into_response())
}

async fn cinder_reset(State(s): State<AppState>, Auth(ctx): Auth, Path((_, pid)): Path<(String, String)>) -> ApiResult {
    s.control.reset_quotas(&ctx, &pid).await?;
    Ok(StatusCode::OK.into_response())
}

async fn neutron_show(State(s): State<AppState>, Auth(ctx): Auth, Path(pid): Path<String>) -> ApiResult {
    let set = s.control.get_quotas(&ctx, &pid).await?;
    Ok(Json(json!({"quota": pick(&set.limits, NEUTRON)})).into_response())
}

async fn neutron_detail(State(s): State<AppState>, Auth(ctx): Auth, Path(pid): Path<String>) -> ApiResult {
    let set = s.control.get_quotas(&ctx, &pid).await?;
    let body: Map<String, Value> = NEUTRON
        .iter()
        .map(|n| {
            let limit = set.limits.get(*n).copied().unwrap_or(-1);
            let used = set.in_use.get(*n).copied().unwrap_or(0);
            (n.to_string(), json!({"limit": limit, "used": used, "reserved": 0}))
        })
        .collect();
    Ok(Json(json!({"quota": body})).into_response())
}

async fn neutron_update(State(s): State<AppState>, Auth(ctx): Auth, Path(pid): Path<String>, raw: Bytes) -> ApiResult {
    let set = s.control.update_quotas(&ctx, &pid, &changes(&raw, "quota", NEUTRON)?).await?;
    Ok(Json(json!({"quota": pick(&set.limits, NEUTRON)})).into_response())
}

/// Nova's quota class set (`default`: every project's defaults): its own resources, the
/// legacy network ones below 2.50 (stored as Neutron's).
async fn nova_class_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(class): Path<String>,
) -> ApiResult {
    let limits = s.control.get_quota_class(&ctx, &class).await?;
    let mut body = nova_body(&limits, mv, 50, |_, v| json!(v));
    body.insert("id".into(), json!(class));
    Ok(Json(json!({"quota_class_set": body})).into_response())
}

async fn nova_class_update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(class): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let v: Value = parse_json(&raw)?;
    // Nova's class body is `quota_class_set`; its names are those of quota sets.
    let wrapped = json!({"quota_set": v.get("quota_class_set").cloned().unwrap_or(Value::Null)});
    let changes = nova_changes(wrapped.to_string().as_bytes())?;
    let limits = s.control.update_quota_class(&ctx, &class, &changes).await?;
    Ok(Json(json!({"quota_class_set": nova_body(&limits, mv, 50, |_, v| json!(v))})).into_response())
}

/// Cinder's quota class set, with each volume type's own quotas.
async fn cinder_class_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_, class)): Path<(String, String)>,
) -> ApiResult {
    let limits = s.control.get_quota_class(&ctx, &class).await?;
    let mut body = cinder_pick(&limits);
    body.insert("id".into(), json!(class));
    Ok(Json(json!({"quota_class_set": body})).into_response())
}

async fn cinder_class_update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_, class)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let known = s.control.default_quota_set().await?;
    let changes = changes(&raw, "quota_class_set", &cinder_names(&known))?;
    let limits = s.control.update_quota_class(&ctx, &class, &changes).await?;
    Ok(Json(json!({"quota_class_set": cinder_pick(&limits)})).into_response())
}
