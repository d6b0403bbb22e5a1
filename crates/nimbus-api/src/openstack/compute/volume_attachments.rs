//! `/servers/{id}/os-volume_attachments`: attach a volume (hot-plugged into a running
//! guest), list and show a server's attachments, detach. Rendered per microversion: 2.70
//! adds `tag`, 2.79 `delete_on_termination`, 2.89 `attachment_id` and `bdm_uuid` in place
//! of the attachment's `id`.

use super::microversion::Microversion;
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::Error;
use nimbus_store::volumes::Attachment;
use serde_json::{json, Value};

use Access::Authenticated as A;

const BASE: &str = "/compute/v2.1/servers/{server_id}/os-volume_attachments";
const ONE: &str = "/compute/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}";

pub fn routes(r: Routes) -> Routes {
    r.add("GET", BASE, A, list).add("POST", BASE, A, attach).add("GET", ONE, A, show).add("DELETE", ONE, A, detach)
}

fn render(a: &Attachment, mv: Microversion) -> Value {
    let mut d = json!({"device": a.device, "serverId": a.server_id, "volumeId": a.volume_id});
    if mv.at_least(89) {
        d["attachment_id"] = json!(a.id);
        d["bdm_uuid"] = json!(a.id);
    } else {
        d["id"] = json!(a.volume_id);
    }
    if mv.at_least(70) {
        d["tag"] = Value::Null;
    }
    if mv.at_least(79) {
        d["delete_on_termination"] = json!(false);
    }
    d
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, mv: Microversion, Path(server): Path<String>) -> ApiResult {
    let list = s.control.server_volume_attachments(&ctx, &server).await?;
    Ok(Json(json!({"volumeAttachments": list.iter().map(|a| render(a, mv)).collect::<Vec<_>>()})).into_response())
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((server, volume)): Path<(String, String)>,
) -> ApiResult {
    let a = s.control.server_volume_attachment(&ctx, &server, &volume).await?;
    Ok(Json(json!({"volumeAttachment": render(&a, mv)})).into_response())
}

async fn attach(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(server): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&raw)?;
    let req = body
        .get("volumeAttachment")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("'volumeAttachment' object required."))?;
    let volume = req
        .get("volumeId")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("'volumeId' is a required property."))?;
    let device = match req.get("device") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d.as_str()),
        Some(_) => return Err(Error::bad_request("'device' must be a string.").into()),
    };
    if req.get("delete_on_termination").is_some_and(|d| d.as_bool() == Some(true)) {
        if !mv.at_least(79) {
            return Err(Error::bad_request("'delete_on_termination' needs microversion 2.79.").into());
        }
        return Err(Error::bad_request("Volumes attached later are never deleted with their server here.").into());
    }
    let (a, _job) = s.control.attach_volume(&ctx, &server, volume, device).await?;
    Ok(Json(json!({"volumeAttachment": render(&a, mv)})).into_response())
}

async fn detach(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((server, volume)): Path<(String, String)>,
) -> ApiResult {
    s.control.detach_volume(&ctx, &server, &volume).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
