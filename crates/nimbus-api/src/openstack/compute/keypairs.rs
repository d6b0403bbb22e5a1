//! `/os-keypairs`: import, list, show and delete key pairs (2.2 `type`, 2.10 `user_id`).

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
use nimbus_core::page::PageRequest;
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::compute::Keypair;
use serde_json::{json, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/os-keypairs", A, list)
        .add("POST", "/compute/v2.1/os-keypairs", A, create)
        .add("GET", "/compute/v2.1/os-keypairs/{keypair_name}", A, show)
        .add("DELETE", "/compute/v2.1/os-keypairs/{keypair_name}", A, delete)
}

fn brief(k: &Keypair, mv: Microversion) -> Value {
    let mut v = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
    if mv.at_least(2) {
        v["type"] = json!(k.key_type);
    }
    v
}

fn user_param(q: &HashMap<String, String>, mv: Microversion) -> Option<String> {
    // Admins address another user's key pairs from 2.10 on.
    q.get("user_id").filter(|_| mv.at_least(10)).cloned()
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let page = PageRequest::from_query(&q)?;
    let list = s.control.list_keypairs(&ctx, user_param(&q, mv).as_deref(), &page).await?;
    Ok(Json(json!({"keypairs": list.iter().map(|k| json!({"keypair": brief(k, mv)})).collect::<Vec<_>>()}))
        .into_response())
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, raw: Bytes) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let k = body
        .get("keypair")
        .filter(|k| k.is_object())
        .ok_or_else(|| Error::bad_request("'keypair' object required."))?;
    let name = k["name"].as_str().ok_or_else(|| Error::bad_request("'name' must be a string."))?;
    let public_key = match &k["public_key"] {
        Value::Null => None,
        Value::String(p) => Some(p.as_str()),
        _ => return Err(Error::bad_request("'public_key' must be a string.").into()),
    };
    let key_type = if mv.at_least(2) { k["type"].as_str() } else { None };
    let user = if mv.at_least(10) { k["user_id"].as_str() } else { None };
    let kp = s.control.import_keypair(&ctx, name, public_key, key_type, user).await?;
    let mut doc = brief(&kp, mv);
    doc["user_id"] = json!(kp.user_id);
    let status = if mv.at_least(2) { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({"keypair": doc}))).into_response())
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let kp = s.control.get_keypair(&ctx, &name, user_param(&q, mv).as_deref()).await?;
    let mut doc = brief(&kp, mv);
    doc["user_id"] = json!(kp.user_id);
    doc["created_at"] = json!(iso_time(kp.created_at));
    doc["deleted"] = json!(false);
    doc["deleted_at"] = Value::Null;
    doc["updated_at"] = Value::Null;
    doc["id"] = json!(kp.created_at % 1_000_000_007);
    Ok(Json(json!({"keypair": doc})).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    s.control.delete_keypair(&ctx, &name, user_param(&q, mv).as_deref()).await?;
    let status = if mv.at_least(2) { StatusCode::NO_CONTENT } else { StatusCode::ACCEPTED };
    Ok(status.into_response())
}
