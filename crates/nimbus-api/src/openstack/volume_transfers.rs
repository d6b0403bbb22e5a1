//! Cinder volume transfers: `/os-volume-transfer` (every microversion) and
//! `/volume-transfers` (3.55, with `no_snapshots`), answered by the same `Control` methods;
//! 3.57 adds the source and destination projects to the views.

use super::volume::{bool_field, str_field};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::openstack::compute::microversion::Microversion;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::TransferCreate;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::volumes::Transfer;
use serde_json::{json, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    let mut r = r;
    for base in ["/volume/v3/{project_id}/os-volume-transfer", "/volume/v3/{project_id}/volume-transfers"] {
        r = r
            .add("POST", base, A, create)
            .add("GET", base, A, list)
            .add("GET", &format!("{base}/detail"), A, list_detail)
            .add("GET", &format!("{base}/{{transfer_id}}"), A, show)
            .add("DELETE", &format!("{base}/{{transfer_id}}"), A, delete)
            .add("POST", &format!("{base}/{{transfer_id}}/accept"), A, accept);
    }
    r
}

/// `/volume-transfers` exists from 3.55; before, the path names nothing.
fn check_path(uri: &OriginalUri, mv: Microversion) -> Result<(), Error> {
    if uri.path().contains("/volume-transfers") && !mv.at_least(55) {
        return Err(Error::not_found("resource", uri.path()));
    }
    Ok(())
}

/// What a view shows of a transfer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    /// id, name, volume and links (lists, accept).
    Summary,
    /// And its creation time and options (show, detail lists, create).
    Detail,
}

fn transfer_view(s: &AppState, t: &Transfer, mv: Microversion, view: View) -> Value {
    let base = s.control.config().public_url.trim_end_matches('/').to_string();
    let mut o = json!({
        "id": t.id, "name": t.name, "volume_id": t.volume_id,
        "links": [{"rel": "self", "href": format!("{base}/volume/v3/{}/os-volume-transfer/{}", t.project_id, t.id)},
                  {"rel": "bookmark", "href": format!("{base}/volume/{}/os-volume-transfer/{}", t.project_id, t.id)}],
    });
    if view == View::Detail {
        o["created_at"] = json!(usage_time(t.created_at));
        if mv.at_least(55) {
            o["no_snapshots"] = json!(t.no_snapshots);
        }
        if mv.at_least(57) {
            o["source_project_id"] = json!(t.project_id);
            o["destination_project_id"] = Value::Null;
            o["accepted"] = json!(false);
        }
    }
    o
}

async fn create(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    uri: OriginalUri,
    body: Bytes,
) -> ApiResult {
    check_path(&uri, mv)?;
    let doc: Value = parse_json(&body)?;
    let m = doc
        .get("transfer")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing required element 'transfer' in request body."))?;
    let volume_id = str_field(m, "volume_id")?
        .ok_or_else(|| Error::bad_request("Invalid input received: 'volume_id' is a required property."))?;
    let req = TransferCreate {
        volume_id,
        name: str_field(m, "name")?,
        no_snapshots: mv.at_least(55) && bool_field(m.get("no_snapshots"))?.unwrap_or(false),
    };
    let (t, key) = s.control.create_transfer(&ctx, req).await?;
    let mut view = transfer_view(&s, &t, mv, View::Detail);
    view["auth_key"] = json!(key);
    Ok((StatusCode::ACCEPTED, Json(json!({"transfer": view}))).into_response())
}

async fn listing(
    s: &AppState,
    ctx: &nimbus_control::Ctx,
    q: &HashMap<String, String>,
    mv: Microversion,
    view: View,
) -> ApiResult {
    let all = crate::openstack::volume_listing::all_tenants(q);
    let list = s.control.list_transfers(ctx, all).await?;
    let items: Vec<Value> = list.iter().map(|t| transfer_view(s, t, mv, view)).collect();
    Ok(Json(json!({"transfers": items})).into_response())
}

async fn list(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    uri: OriginalUri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_path(&uri, mv)?;
    listing(&s, &ctx, &q, mv, View::Summary).await
}

async fn list_detail(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    uri: OriginalUri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_path(&uri, mv)?;
    listing(&s, &ctx, &q, mv, View::Detail).await
}

async fn show(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    uri: OriginalUri,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    check_path(&uri, mv)?;
    let t = s.control.get_transfer(&ctx, &id).await?;
    Ok(Json(json!({"transfer": transfer_view(&s, &t, mv, View::Detail)})).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    uri: OriginalUri,
    Path((_p, id)): Path<(String, String)>,
) -> ApiResult {
    check_path(&uri, mv)?;
    s.control.delete_transfer(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn accept(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    mv: Microversion,
    uri: OriginalUri,
    Path((_p, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_path(&uri, mv)?;
    let doc: Value = parse_json(&body)?;
    let key = doc
        .get("accept")
        .and_then(|a| a.get("auth_key"))
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("Invalid input received: 'accept.auth_key' is required."))?;
    let t = s.control.accept_transfer(&ctx, &id, key).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"transfer": transfer_view(&s, &t, mv, View::Summary)}))).into_response())
}
