//! `/flavors`: the flavor catalogue, shaped per microversion (2.55 description, 2.61 extra
//! specs, 2.75 numeric swap), plus admin create/delete and private-flavor access.

use super::microversion::Microversion;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::compute::FlavorCreate;
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use nimbus_store::compute::Flavor;
use serde_json::{json, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/flavors", A, list)
        .add("GET", "/compute/v2.1/flavors/detail", A, detail)
        .add("POST", "/compute/v2.1/flavors", A, create)
        .add("GET", "/compute/v2.1/flavors/{flavor_id}", A, show)
        .add("PUT", "/compute/v2.1/flavors/{flavor_id}", A, update)
        .add("DELETE", "/compute/v2.1/flavors/{flavor_id}", A, delete)
        .add("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs", A, extra_specs)
        .add("POST", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs", A, extra_specs_set)
        .add("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", A, extra_spec_show)
        .add("PUT", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", A, extra_spec_put)
        .add("DELETE", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", A, extra_spec_delete)
        .add("GET", "/compute/v2.1/flavors/{flavor_id}/os-flavor-access", A, access)
        .add("POST", "/compute/v2.1/flavors/{flavor_id}/action", A, action)
}

fn links(s: &AppState, id: &str) -> Value {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    json!([{"rel": "self", "href": format!("{base}/compute/v2.1/flavors/{id}")},
           {"rel": "bookmark", "href": format!("{base}/compute/flavors/{id}")}])
}

/// The full flavor document at microversion `mv`.
fn doc(s: &AppState, f: &Flavor, mv: Microversion) -> Value {
    let swap = if mv.at_least(75) || f.swap_mb > 0 { json!(f.swap_mb) } else { json!("") };
    let mut v = json!({
        "id": f.id, "name": f.name, "ram": f.ram_mb, "disk": f.disk_gb, "vcpus": f.vcpus, "swap": swap,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb, "OS-FLV-DISABLED:disabled": f.disabled,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor.parse::<f64>().unwrap_or(1.0),
        "links": links(s, &f.id),
    });
    if mv.at_least(55) {
        v["description"] = json!(f.description);
    }
    if mv.at_least(61) {
        v["extra_specs"] = serde_json::from_str(&f.extra_specs).unwrap_or(json!({}));
    }
    v
}

/// The short document of `GET /flavors`.
fn brief(s: &AppState, f: &Flavor, mv: Microversion) -> Value {
    let mut v = json!({"id": f.id, "name": f.name, "links": links(s, &f.id)});
    if mv.at_least(55) {
        v["description"] = json!(f.description);
    }
    v
}

fn int_q(q: &HashMap<String, String>, k: &str) -> Result<Option<i64>, Error> {
    q.get(k).map(|v| v.parse::<i64>().map_err(|_| Error::bad_request(format!("'{k}' must be an integer.")))).transpose()
}

async fn fetch(s: &AppState, ctx: &nimbus_control::Ctx, q: &HashMap<String, String>) -> Result<Vec<Flavor>, Error> {
    let page = PageRequest::from_query(q)?;
    // `is_public=None` (as the CLI sends it) or `all` lists both; admins may ask for private only.
    let is_public = match q.get("is_public").map(|v| v.to_ascii_lowercase()) {
        None => Some(true),
        Some(v) if v == "none" || v == "all" => None,
        Some(v) if v == "false" || v == "0" || v == "no" => Some(false),
        Some(_) => Some(true),
    };
    let is_public = if ctx.principal.can_read_all() { is_public } else { is_public.filter(|p| *p) };
    s.control.list_flavors(ctx, is_public, int_q(q, "minRam")?, int_q(q, "minDisk")?, &page).await
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    listing(&s, &ctx, &q, |f| brief(&s, f, mv)).await
}

async fn detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    listing(&s, &ctx, &q, |f| doc(&s, f, mv)).await
}

/// `{"flavors": [...]}` with each flavor rendered by `render` (brief or detailed).
async fn listing(
    s: &AppState,
    ctx: &nimbus_control::Ctx,
    q: &HashMap<String, String>,
    render: impl Fn(&Flavor) -> Value,
) -> ApiResult {
    let list = fetch(s, ctx, q).await?;
    Ok(Json(json!({"flavors": list.iter().map(render).collect::<Vec<_>>()})).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    let f = s.control.get_flavor(&ctx, &id).await?;
    Ok(Json(json!({"flavor": doc(&s, &f, mv)})).into_response())
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, raw: Bytes) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let f =
        body.get("flavor").filter(|f| f.is_object()).ok_or_else(|| Error::bad_request("'flavor' object required."))?;
    let int = |k: &str, default: Option<i64>| -> Result<i64, Error> {
        match f.get(k) {
            None | Some(Value::Null) => default.ok_or_else(|| Error::bad_request(format!("'{k}' is required."))),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| Error::bad_request(format!("'{k}' must be an integer."))),
        }
    };
    let name = f["name"].as_str().ok_or_else(|| Error::bad_request("'name' must be a string."))?.trim().to_string();
    let req = FlavorCreate {
        id: match &f["id"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => return Err(Error::bad_request("'id' must be a string.").into()),
        },
        name,
        vcpus: int("vcpus", None)?,
        ram_mb: int("ram", None)?,
        disk_gb: int("disk", None)?,
        ephemeral_gb: int("OS-FLV-EXT-DATA:ephemeral", Some(0))?,
        swap_mb: match &f["swap"] {
            Value::String(s) if s.is_empty() => 0,
            _ => int("swap", Some(0))?,
        },
        rxtx_factor: match &f["rxtx_factor"] {
            Value::Null => None,
            v => Some(v.as_f64().ok_or_else(|| Error::bad_request("'rxtx_factor' must be a number."))?),
        },
        is_public: match &f["os-flavor-access:is_public"] {
            Value::Null => true,
            Value::Bool(b) => *b,
            // Nova accepts oslo's boolean strings ("True", "false", "1", "no"...).
            Value::String(t) => match t.to_ascii_lowercase().as_str() {
                "true" | "t" | "1" | "yes" | "y" | "on" => true,
                "false" | "f" | "0" | "no" | "n" | "off" => false,
                _ => return Err(Error::bad_request("'os-flavor-access:is_public' must be a boolean.").into()),
            },
            _ => return Err(Error::bad_request("'os-flavor-access:is_public' must be a boolean.").into()),
        },
        description: if mv.at_least(55) { f["description"].as_str().map(str::to_string) } else { None },
    };
    let created = s.control.create_flavor(&ctx, req).await?;
    Ok(Json(json!({"flavor": doc(&s, &created, mv)})).into_response())
}

async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    if !mv.at_least(55) {
        return Err(Error::MethodNotAllowed.into());
    }
    let body: Value = parse_json(&raw)?;
    let description = match &body["flavor"]["description"] {
        Value::Null => None,
        Value::String(d) => Some(d.clone()),
        _ => return Err(Error::bad_request("'description' must be a string or null.").into()),
    };
    let f = s.control.update_flavor_description(&ctx, &id, description).await?;
    Ok(Json(json!({"flavor": doc(&s, &f, mv)})).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_flavor(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn extra_specs(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let f = s.control.get_flavor(&ctx, &id).await?;
    let specs: Value = serde_json::from_str(&f.extra_specs).unwrap_or(json!({}));
    Ok(Json(json!({"extra_specs": specs})).into_response())
}

fn access_doc(id: &str, projects: Vec<String>) -> Value {
    json!({"flavor_access": projects.into_iter().map(|p| json!({"flavor_id": id, "tenant_id": p})).collect::<Vec<_>>()})
}

async fn access(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    Ok(Json(access_doc(&id, s.control.flavor_access(&ctx, &id).await?)).into_response())
}

async fn action(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, raw: Bytes) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let (grant, inner) = match (&body["addTenantAccess"], &body["removeTenantAccess"]) {
        (Value::Object(_), _) => (true, &body["addTenantAccess"]),
        (_, Value::Object(_)) => (false, &body["removeTenantAccess"]),
        _ => return Err(Error::bad_request("Expected addTenantAccess or removeTenantAccess.").into()),
    };
    let tenant = inner["tenant"].as_str().ok_or_else(|| Error::bad_request("'tenant' is required."))?;
    let list = s.control.set_flavor_access(&ctx, &id, tenant, grant).await?;
    Ok(Json(access_doc(&id, list)).into_response())
}

fn spec_map(v: &Value, what: &str) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let obj = v.as_object().ok_or_else(|| Error::bad_request(format!("'{what}' must be an object.")))?;
    obj.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(Error::bad_request(format!("The value of extra spec {k:?} must be a string."))),
            };
            Ok((k.clone(), v))
        })
        .collect()
}

async fn extra_specs_set(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, raw: Bytes) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let set = spec_map(body.get("extra_specs").unwrap_or(&Value::Null), "extra_specs")?;
    s.control.change_flavor_extra_specs(&ctx, &id, &set, None).await?;
    Ok(Json(json!({"extra_specs": set})).into_response())
}

async fn extra_spec_show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let f = s.control.get_flavor(&ctx, &id).await?;
    let specs: serde_json::Map<String, Value> = serde_json::from_str(&f.extra_specs).unwrap_or_default();
    let v = specs.get(&key).ok_or_else(|| Error::not_found("extra spec", &key))?;
    Ok(Json(json!({ key: v })).into_response())
}

async fn extra_spec_put(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let set = spec_map(&body, "body")?;
    if set.len() != 1 || !set.contains_key(&key) {
        return Err(Error::bad_request("The body must hold exactly the extra spec named in the URL.").into());
    }
    s.control.change_flavor_extra_specs(&ctx, &id, &set, None).await?;
    Ok(Json(json!(set)).into_response())
}

async fn extra_spec_delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    s.control.change_flavor_extra_specs(&ctx, &id, &Default::default(), Some(&key)).await?;
    Ok(StatusCode::OK.into_response())
}
