//! Neutron v2.0 (`/network/v2.0/...`): version discovery, extensions, networks, subnets,
//! ports, security groups and their rules, as the `openstack` CLI, the SDK and Tempest call
//! them. Every call goes to the networking service of `Control`; lists take Neutron's
//! filters, fields, sorting and paging (`listing.rs`). Errors are `NeutronError` documents.

mod floating_ips;
mod listing;
mod networks;
mod ports;
mod routers;
mod security_groups;
mod subnets;
mod tags;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use serde_json::{json, Map, Value};

/// The extensions served, with what each adds (Tempest and the SDK look them up by alias).
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("security-group", "security-group", "The security groups extension."),
    ("port-security", "Port Security", "Provides port security."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs."),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes."),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources.",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("quotas", "Quota management support", "Expose functions for quotas management per tenant."),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application."),
    ("sorting", "Sorting support", "Enables sorting support for resources."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("fields", "fields", "Extension that indicates that the fields filter is supported."),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not."),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via \
         a NAT gateway.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for \
     specifying whether SNAT should occur on the external gateway",
    ),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    (
        "floatingip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP \
     resource",
    ),
];

pub fn routes(r: Routes) -> Routes {
    let r = r
        .add("GET", "/network", Access::Public, versions)
        .add("GET", "/network/", Access::Public, versions)
        .add("GET", "/network/v2.0", Access::Public, version)
        .add("GET", "/network/v2.0/", Access::Public, version)
        .add("GET", "/network/v2.0/extensions", Access::Authenticated, list_extensions)
        .add("GET", "/network/v2.0/extensions/{extension_alias}", Access::Authenticated, show_extension);
    let r = security_groups::routes(ports::routes(subnets::routes(networks::routes(r))));
    tags::routes(floating_ips::routes(routers::routes(r)))
}

fn base(s: &AppState) -> String {
    s.control.config().public_url.trim_end_matches('/').to_string()
}

async fn versions(State(s): State<AppState>) -> impl IntoResponse {
    let url = format!("{}/network/v2.0/", base(&s));
    Json(json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": url}]}]}))
}

async fn version(State(s): State<AppState>) -> impl IntoResponse {
    let url = format!("{}/network/v2.0/", base(&s));
    let resources: Vec<Value> =
        ["subnet", "network", "port", "security_group", "security_group_rule", "router", "floatingip"]
            .iter()
            .map(|r| {
                let plural = format!("{r}s").replace('_', "-");
                json!({"name": r, "collection": plural, "links": [{"rel": "self", "href": format!("{url}{plural}")}]})
            })
            .collect();
    Json(json!({"resources": resources}))
}

fn extension_view(e: &(&str, &str, &str)) -> Value {
    json!({"alias": e.0, "name": e.1, "description": e.2, "links": [], "updated": "2013-01-01T10:00:00-00:00"})
}

async fn list_extensions(Auth(_ctx): Auth) -> ApiResult {
    Ok(Json(json!({"extensions": EXTENSIONS.iter().map(extension_view).collect::<Vec<_>>()})).into_response())
}

async fn show_extension(Auth(_ctx): Auth, axum::extract::Path(alias): axum::extract::Path<String>) -> ApiResult {
    let e = EXTENSIONS.iter().find(|e| e.0 == alias).ok_or_else(|| Error::not_found("extension", alias))?;
    Ok(Json(json!({"extension": extension_view(e)})).into_response())
}

/// The object under `key` of a request body.
fn body_object(doc: &Value, key: &str) -> Result<Map<String, Value>, Error> {
    doc.get(key)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| Error::bad_request(format!("Resource body required: '{key}' object expected.")))
}

/// The objects of a create: one (`{"network": {...}}`) or many (`{"networks": [...]}`).
fn create_bodies(doc: &Value, one: &str, many: &str) -> Result<(Vec<Map<String, Value>>, bool), Error> {
    if let Some(list) = doc.get(many).and_then(Value::as_array) {
        let items = list
            .iter()
            .map(|v| {
                v.as_object()
                    .cloned()
                    .ok_or_else(|| Error::bad_request(format!("Invalid input: '{many}' holds objects.")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((items, true));
    }
    Ok((vec![body_object(doc, one)?], false))
}

/// Makes every item of a create, or none: a failure undoes those already made (Neutron's
/// bulk creates are all or nothing).
async fn all_or_nothing<R, T, C, CF, U, UF>(reqs: Vec<R>, mut create: C, mut undo: U) -> Result<Vec<T>, Error>
where
    C: FnMut(R) -> CF,
    CF: std::future::Future<Output = Result<T, Error>>,
    U: FnMut(&T) -> UF,
    UF: std::future::Future<Output = ()>,
{
    let mut made = Vec::new();
    for req in reqs {
        match create(req).await {
            Ok(t) => made.push(t),
            Err(e) => {
                for t in &made {
                    undo(t).await;
                }
                return Err(e);
            }
        }
    }
    Ok(made)
}

/// The answer to a create: `{"<one>": view}` or, for a bulk create, `{"<many>": [views]}`.
fn created(views: Vec<Value>, bulk: bool, one: &str, many: &str) -> axum::response::Response {
    let body = if bulk { json!({ many: views }) } else { json!({ one: views.into_iter().next() }) };
    (axum::http::StatusCode::CREATED, Json(body)).into_response()
}

/// Rejects attributes a resource does not have (Neutron's "Unrecognized attribute(s)").
fn check_keys(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), Error> {
    let unknown: Vec<&str> = m.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::bad_request(format!("Unrecognized attribute(s) '{}'", unknown.join(", "))))
    }
}

fn str_of(m: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_request(format!("Invalid input for {key}: a string is expected."))),
    }
}

fn bool_of(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, Error> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => {
            Err(Error::bad_request(format!("Invalid input for {key}. Reason: '{other}' is not a valid boolean value.")))
        }
    }
}

fn int_of(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, Error> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::bad_request(format!("Invalid input for {key}: an integer is expected."))),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| Error::bad_request(format!("Invalid input for {key}. Reason: '{s}' is not an integer."))),
        Some(_) => Err(Error::bad_request(format!("Invalid input for {key}: an integer is expected."))),
    }
}

fn str_list(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, Error> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::bad_request(format!("Invalid input for {key}: strings expected.")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::bad_request(format!("Invalid input for {key}: a list is expected."))),
    }
}

/// The project a create names (`project_id` or its older spelling `tenant_id`).
fn project_of(m: &Map<String, Value>) -> Result<Option<String>, Error> {
    let p = str_of(m, "project_id")?;
    let t = str_of(m, "tenant_id")?;
    match (p, t) {
        (Some(a), Some(b)) if a != b => Err(Error::bad_request("'project_id' and 'tenant_id' do not match")),
        (a, b) => Ok(a.or(b)),
    }
}

/// The attributes every resource has: its project, timestamps, revision, tags.
fn standard(o: &mut Value, project: &str, created: i64, updated: i64, revision: i64) {
    o["tenant_id"] = json!(project);
    o["project_id"] = json!(project);
    o["created_at"] = json!(iso_time(created));
    o["updated_at"] = json!(iso_time(updated));
    o["revision_number"] = json!(revision);
    o["tags"] = json!([]);
}
