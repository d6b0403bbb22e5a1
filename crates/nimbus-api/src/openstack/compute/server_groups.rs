//! `/os-server-groups`: affinity and anti-affinity groups (2.13 adds project and user ids,
//! 2.64 replaces the `policies` list by `policy` plus `rules`).

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
use nimbus_core::Error;
use nimbus_store::servers::ServerGroup;
use serde_json::{json, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/compute/v2.1/os-server-groups", A, list)
        .add("POST", "/compute/v2.1/os-server-groups", A, create)
        .add("GET", "/compute/v2.1/os-server-groups/{server_group_id}", A, show)
        .add("DELETE", "/compute/v2.1/os-server-groups/{server_group_id}", A, delete)
}

fn doc(g: &ServerGroup, members: &[String], mv: Microversion) -> Value {
    let mut d = json!({"id": g.id, "name": g.name, "members": members, "metadata": {}});
    if mv.at_least(64) {
        d["policy"] = json!(g.policy);
        d["rules"] = serde_json::from_str(&g.rules).unwrap_or_else(|_| json!({}));
        d.as_object_mut().map(|m| m.remove("metadata"));
    } else {
        d["policies"] = json!([g.policy]);
    }
    if mv.at_least(13) {
        d["project_id"] = json!(g.project_id);
        d["user_id"] = json!(g.user_id);
    }
    d
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let page = PageRequest::from_query(&q)?;
    let all = q.get("all_projects").is_some_and(|v| !(v == "0" || v.eq_ignore_ascii_case("false")));
    let groups = s.control.list_server_groups(&ctx, all, &page).await?;
    let docs: Vec<Value> = groups.iter().map(|(g, m)| doc(g, m, mv)).collect();
    Ok(Json(json!({"server_groups": docs})).into_response())
}

async fn create(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, raw: Bytes) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let g = body
        .get("server_group")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("The request body must contain a 'server_group' object."))?;
    let name = g.get("name").and_then(Value::as_str).ok_or_else(|| Error::bad_request("'name' is required."))?;
    let (policy, rules) = if mv.at_least(64) {
        if g.contains_key("policies") {
            return Err(Error::bad_request("From microversion 2.64 give 'policy', not 'policies'.").into());
        }
        let p = g.get("policy").and_then(Value::as_str).ok_or_else(|| Error::bad_request("'policy' is required."))?;
        (p.to_string(), g.get("rules").cloned().unwrap_or_else(|| json!({})))
    } else {
        let list = g
            .get("policies")
            .and_then(Value::as_array)
            .filter(|l| l.len() == 1)
            .ok_or_else(|| Error::bad_request("'policies' must be a list of exactly one policy."))?;
        let p = list[0].as_str().ok_or_else(|| Error::bad_request("'policies' must hold a string."))?;
        // Soft policies arrived with 2.15.
        if p.starts_with("soft-") && !mv.at_least(15) {
            return Err(Error::bad_request(format!("Policy {p} needs microversion 2.15.")).into());
        }
        (p.to_string(), json!({}))
    };
    let created = s.control.create_server_group(&ctx, name, &policy, rules).await?;
    Ok(Json(json!({"server_group": doc(&created, &[], mv)})).into_response())
}

async fn show(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(id): Path<String>) -> ApiResult {
    let (g, members) = s.control.get_server_group(&ctx, &id).await?;
    Ok(Json(json!({"server_group": doc(&g, &members, mv)})).into_response())
}

async fn delete(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_server_group(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
