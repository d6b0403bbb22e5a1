//! Cinder QoS specs (`/qos-specs`) and volume type access (`/types/{id}/os-volume-type-access`,
//! the `addProjectAccess` / `removeProjectAccess` type actions), for operators, as the
//! `openstack volume qos` and `volume type` commands and Tempest call them. Every call goes to
//! the volume-type service of `Control`.

use super::volume::{str_field, string_values};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::Error;
use nimbus_store::volumes::QosSpecs;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    const QOS: &str = "/volume/v3/{project_id}/qos-specs";
    r.add("GET", QOS, A, list)
        .add("POST", QOS, A, create)
        .add("GET", &format!("{QOS}/{{qos_id}}"), A, show)
        .add("PUT", &format!("{QOS}/{{qos_id}}"), A, set_keys)
        .add("DELETE", &format!("{QOS}/{{qos_id}}"), A, delete)
        .add("PUT", &format!("{QOS}/{{qos_id}}/delete_keys"), A, unset_keys)
        .add("GET", &format!("{QOS}/{{qos_id}}/associations"), A, associations)
        .add("GET", &format!("{QOS}/{{qos_id}}/associate"), A, associate)
        .add("GET", &format!("{QOS}/{{qos_id}}/disassociate"), A, disassociate)
        .add("GET", &format!("{QOS}/{{qos_id}}/disassociate_all"), A, disassociate_all)
        .add("GET", "/volume/v3/{project_id}/types/{type_id}/os-volume-type-access", A, list_access)
        .add("POST", "/volume/v3/{project_id}/types/{type_id}/action", A, type_action)
}

fn qos_view(q: &QosSpecs) -> Value {
    let specs: Map<String, Value> = serde_json::from_str(&q.specs).unwrap_or_default();
    json!({"id": q.id, "name": q.name, "consumer": q.consumer, "specs": specs})
}

fn links(s: &AppState, q: &QosSpecs) -> Value {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    json!([{"rel": "self", "href": format!("{base}/volume/v3/qos-specs/{}", q.id)}])
}

fn qos_body(body: &[u8]) -> Result<Map<String, Value>, Error> {
    let doc: Value = parse_json(body)?;
    doc.get("qos_specs")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| Error::bad_request("Missing required element 'qos_specs' in request body."))
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let all = s.control.list_qos_specs(&ctx).await?;
    Ok(Json(json!({"qos_specs": all.iter().map(qos_view).collect::<Vec<_>>()})).into_response())
}

/// `{"qos_specs": {"name": ..., "consumer": ..., <key>: <value>...}}`: the keys besides
/// name and consumer are the specs.
async fn create(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let mut m = qos_body(&body)?;
    let name = str_field(&m, "name")?.ok_or_else(|| Error::bad_request("Invalid input received: name is required."))?;
    let consumer = str_field(&m, "consumer")?.unwrap_or_else(|| "back-end".into());
    m.remove("name");
    m.remove("consumer");
    let q = s.control.create_qos_specs(&ctx, &name, &consumer, string_values(&m, "QoS spec")?).await?;
    Ok(Json(json!({"qos_specs": qos_view(&q), "links": links(&s, &q)})).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, id)): Path<(String, String)>) -> ApiResult {
    let q = s.control.get_qos_specs(&ctx, &id).await?;
    Ok(Json(json!({"qos_specs": qos_view(&q), "links": links(&s, &q)})).into_response())
}

/// Sets keys; answers the keys set.
async fn set_keys(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let m = qos_body(&body)?;
    let set = s.control.set_qos_keys(&ctx, &id, string_values(&m, "QoS spec")?).await?;
    Ok(Json(json!({"qos_specs": set})).into_response())
}

/// `{"keys": [...]}`.
async fn unset_keys(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let keys: Vec<String> = match doc.get("keys") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|k| k.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::bad_request("Invalid input received: keys are strings."))?,
        _ => return Err(Error::bad_request("Missing required element 'keys' in request body.").into()),
    };
    s.control.unset_qos_keys(&ctx, &id, &keys).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let force = match q.get("force").map(|f| f.to_ascii_lowercase()) {
        None => false,
        Some(f) if matches!(f.as_str(), "true" | "1" | "yes") => true,
        Some(f) if matches!(f.as_str(), "false" | "0" | "no") => false,
        Some(f) => {
            return Err(Error::bad_request(format!("Invalid input received: force={f} is not a boolean.")).into())
        }
    };
    s.control.delete_qos_specs(&ctx, &id, force).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn associations(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, id)): Path<(String, String)>) -> ApiResult {
    let types = s.control.qos_associations(&ctx, &id).await?;
    let list: Vec<Value> =
        types.iter().map(|t| json!({"association_type": "volume_type", "id": t.id, "name": t.name})).collect();
    Ok(Json(json!({"qos_associations": list})).into_response())
}

/// The type named by the query (empty when absent: refused once the caller's rights are
/// checked).
fn vol_type_id(q: &HashMap<String, String>) -> &str {
    q.get("vol_type_id").map(String::as_str).unwrap_or_default()
}

async fn associate(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    change_association(&s, &ctx, &id, Some(vol_type_id(&q)), true).await
}

async fn disassociate(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    change_association(&s, &ctx, &id, Some(vol_type_id(&q)), false).await
}

/// Associates or dissociates (one type, or every type for `None`); Cinder answers 202.
async fn change_association(
    s: &AppState,
    ctx: &nimbus_control::Ctx,
    id: &str,
    type_id: Option<&str>,
    associate: bool,
) -> ApiResult {
    s.control.change_qos_association(ctx, id, type_id, associate).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn disassociate_all(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    change_association(&s, &ctx, &id, None, false).await
}

async fn list_access(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, id)): Path<(String, String)>) -> ApiResult {
    let projects = s.control.volume_type_access(&ctx, &id).await?;
    let list: Vec<Value> = projects.iter().map(|p| json!({"volume_type_id": id, "project_id": p})).collect();
    Ok(Json(json!({"volume_type_access": list})).into_response())
}

/// `{"addProjectAccess": {"project": id}}` or `{"removeProjectAccess": {"project": id}}`.
async fn type_action(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let (add, m) = match (doc.get("addProjectAccess"), doc.get("removeProjectAccess")) {
        (Some(Value::Object(m)), None) => (true, m),
        (None, Some(Value::Object(m))) => (false, m),
        _ => {
            return Err(Error::bad_request(
                "Invalid input received: the action is one of addProjectAccess, removeProjectAccess.",
            )
            .into())
        }
    };
    let project =
        str_field(m, "project")?.ok_or_else(|| Error::bad_request("Invalid input received: project is required."))?;
    s.control.change_volume_type_access(&ctx, &id, &project, add).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
