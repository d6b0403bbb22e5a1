//! Cinder user messages (`/messages`, from microversion 3.3): why an accepted operation
//! failed, listed, shown and deleted by the project's users.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::openstack::compute::microversion::Microversion;
use crate::openstack::volume_listing::all_tenants;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::messages::Message;
use serde_json::{json, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/volume/v3/{project_id}/messages", A, list)
        .add("GET", "/volume/v3/{project_id}/messages/{message_id}", A, show)
        .add("DELETE", "/volume/v3/{project_id}/messages/{message_id}", A, delete)
}

/// Before 3.3 there are no messages: the path names nothing.
fn check_version(mv: Microversion) -> Result<(), Error> {
    if !mv.at_least(3) {
        return Err(Error::not_found("resource", "messages"));
    }
    Ok(())
}

fn view(s: &AppState, m: &Message) -> Value {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    json!({
        "id": m.id, "event_id": m.event_id, "user_message": m.user_message, "message_level": m.message_level,
        "resource_type": m.resource_type, "resource_uuid": m.resource_uuid, "request_id": m.request_id,
        "created_at": usage_time(m.created_at), "guaranteed_until": usage_time(m.guaranteed_until),
        "links": [{"rel": "self", "href": format!("{base}/volume/v3/{}/messages/{}", m.project_id, m.id)}],
    })
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_version(mv)?;
    let all = s.control.list_user_messages(&ctx, all_tenants(&q), q.get("resource_uuid").map(String::as_str)).await?;
    Ok(Json(json!({"messages": all.iter().map(|m| view(&s, m)).collect::<Vec<_>>()})).into_response())
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    check_version(mv)?;
    let m = s.control.get_user_message(&ctx, &id).await?;
    Ok(Json(json!({"message": view(&s, &m)})).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    check_version(mv)?;
    s.control.delete_user_message(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
