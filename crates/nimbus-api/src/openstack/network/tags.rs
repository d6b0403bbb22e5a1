//! Neutron tags (`standard-attr-tag`): `/v2.0/{collection}/{id}/tags` (list, replace, clear)
//! and `/tags/{tag}` (check, add, remove) on networks, subnets, ports, routers, floating IPs
//! and security groups; every view of those carries its `tags`, which the lists filter with
//! `tags`, `tags-any`, `not-tags` and `not-tags-any` (see `listing.rs`).

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::network::{TagChange, TAGGED_COLLECTIONS};
use nimbus_core::Error;
use serde_json::{json, Value};

use Access::Authenticated as A;

pub fn routes(mut r: Routes) -> Routes {
    for c in TAGGED_COLLECTIONS {
        let all = format!("/network/v2.0/{c}/{{resource_id}}/tags");
        let one = format!("/network/v2.0/{c}/{{resource_id}}/tags/{{tag}}");
        r = r
            .add("GET", &all, A, list)
            .add("PUT", &all, A, replace)
            .add("DELETE", &all, A, clear)
            .add("GET", &one, A, check)
            .add("PUT", &one, A, add)
            .add("DELETE", &one, A, remove);
    }
    r
}

/// (collection, resource id, tag) of a tag path.
fn parts(uri: &axum::http::Uri) -> Result<(String, String, Option<String>), Error> {
    let rest = uri.path().strip_prefix("/network/v2.0/").unwrap_or_default();
    let segs: Vec<String> =
        rest.split('/').map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    match segs.as_slice() {
        [c, id, t] if t == "tags" => Ok((c.clone(), id.clone(), None)),
        [c, id, t, tag] if t == "tags" => Ok((c.clone(), id.clone(), Some(tag.clone()))),
        _ => Err(Error::not_found("resource", uri.path())),
    }
}

/// Sets the `tags` of views of `collection` from the tag store.
pub(super) async fn with_tags(s: &AppState, collection: &str, mut items: Vec<Value>) -> Result<Vec<Value>, Error> {
    let map = s.control.network_tag_map(collection).await?;
    for item in &mut items {
        if let Some(id) = item["id"].as_str() {
            item["tags"] = json!(map.get(id).cloned().unwrap_or_default());
        }
    }
    Ok(items)
}

/// One view with its tags.
pub(super) async fn with_tags_one(s: &AppState, collection: &str, item: Value) -> Result<Value, Error> {
    Ok(with_tags(s, collection, vec![item]).await?.pop().unwrap_or(Value::Null))
}

async fn list(State(s): State<AppState>, Auth(ctx): Auth, OriginalUri(uri): OriginalUri) -> ApiResult {
    let (c, id, _) = parts(&uri)?;
    let tags = s.control.network_tags(&ctx, &c, &id).await?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

async fn replace(State(s): State<AppState>, Auth(ctx): Auth, OriginalUri(uri): OriginalUri, body: Bytes) -> ApiResult {
    let (c, id, _) = parts(&uri)?;
    let doc: Value = parse_json(&body)?;
    let m = doc.as_object().cloned().ok_or_else(|| Error::bad_request("Invalid input: a 'tags' list is expected."))?;
    let list =
        super::str_list(&m, "tags")?.ok_or_else(|| Error::bad_request("Invalid input: a 'tags' list is expected."))?;
    let tags = s.control.change_network_tags(&ctx, &c, &id, TagChange::Replace(list)).await?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

async fn clear(State(s): State<AppState>, Auth(ctx): Auth, OriginalUri(uri): OriginalUri) -> ApiResult {
    let (c, id, _) = parts(&uri)?;
    s.control.change_network_tags(&ctx, &c, &id, TagChange::Clear).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn check(State(s): State<AppState>, Auth(ctx): Auth, OriginalUri(uri): OriginalUri) -> ApiResult {
    let (c, id, tag) = parts(&uri)?;
    let tag = tag.unwrap_or_default();
    if !s.control.network_tags(&ctx, &c, &id).await?.contains(&tag) {
        return Err(Error::not_found("tag", tag).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn add(State(s): State<AppState>, Auth(ctx): Auth, OriginalUri(uri): OriginalUri) -> ApiResult {
    let (c, id, tag) = parts(&uri)?;
    s.control.change_network_tags(&ctx, &c, &id, TagChange::Add(tag.unwrap_or_default())).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn remove(State(s): State<AppState>, Auth(ctx): Auth, OriginalUri(uri): OriginalUri) -> ApiResult {
    let (c, id, tag) = parts(&uri)?;
    s.control.change_network_tags(&ctx, &c, &id, TagChange::Remove(tag.unwrap_or_default())).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
