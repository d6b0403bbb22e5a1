//! Tag Management Service (seed 6.9.4): key/value tags on any taggable resource, through the
//! one tag service every API family shares (Keystone project tags are the same rows).

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::tags::KeyValue;
use nimbus_core::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v1.0/resource-tags/batch-create", Access::Authenticated, batch_create)
        .add("POST", "/v1.0/resource-tags/batch-delete", Access::Authenticated, batch_delete)
        .add("GET", "/v2.0/resources/{resource_id}/tags", Access::Authenticated, show_resource_tags)
}

/// A resource to tag.
#[derive(Deserialize, ToSchema)]
pub struct ResourceRef {
    pub resource_id: String,
    pub resource_type: String,
}

/// A tag.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct TagBody {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Batch request.
#[derive(Deserialize, ToSchema)]
pub struct BatchBody {
    /// The project of region-level resources. Nimbus finds each resource's owner itself, so
    /// the value is accepted but not needed.
    #[allow(dead_code)]
    pub project_id: Option<String>,
    pub resources: Vec<ResourceRef>,
    pub tags: Vec<TagBody>,
}

/// A resource the operation failed on.
#[derive(Serialize, ToSchema)]
pub struct FailedResource {
    pub resource_id: String,
    pub resource_type: String,
    pub error_code: String,
    pub error_msg: String,
}

/// Batch response.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub failed_resources: Vec<FailedResource>,
}

/// A resource's tags.
#[derive(Serialize, ToSchema)]
pub struct TagList {
    pub tags: Vec<TagBody>,
}

async fn batch(s: AppState, ctx: nimbus_control::Ctx, raw: Bytes, remove: bool) -> ApiResult {
    let req: BatchBody = parse_json(&raw)?;
    if req.resources.is_empty() || req.resources.len() > 50 {
        return Err(Error::bad_request("Give between 1 and 50 resources.").into());
    }
    let resources: Vec<(String, String)> =
        req.resources.into_iter().map(|r| (r.resource_type, r.resource_id)).collect();
    let tags: Vec<KeyValue> = req.tags.into_iter().map(|t| KeyValue { key: t.key, value: t.value }).collect();
    let failures = s.control.tag_resources(&ctx, &resources, &tags, remove).await?;
    let failed_resources = failures
        .into_iter()
        .map(|f| FailedResource {
            resource_id: f.resource_id,
            resource_type: f.resource_type,
            error_code: f.error.code().into(),
            error_msg: f.error.message(),
        })
        .collect();
    Ok(Json(BatchResult { failed_resources }).into_response())
}

/// Adds tags to resources (existing keys are overwritten).
#[utoipa::path(post, path = "/v1.0/resource-tags/batch-create", tag = "TMS", request_body = BatchBody,
    responses((status = 200, body = BatchResult), (status = 400, body = super::ErrorBody)))]
pub async fn batch_create(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    batch(s, ctx, raw, false).await
}

/// Removes tags from resources.
#[utoipa::path(post, path = "/v1.0/resource-tags/batch-delete", tag = "TMS", request_body = BatchBody,
    responses((status = 200, body = BatchResult), (status = 400, body = super::ErrorBody)))]
pub async fn batch_delete(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    batch(s, ctx, raw, true).await
}

/// Shows a resource's tags.
#[utoipa::path(get, path = "/v2.0/resources/{resource_id}/tags", tag = "TMS",
    params(("resource_id" = String, Path), ("resource_type" = String, Query), ("project_id" = Option<String>, Query)),
    responses((status = 200, body = TagList), (status = 404, body = super::ErrorBody)))]
pub async fn show_resource_tags(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let kind = q.get("resource_type").ok_or_else(|| Error::bad_request("resource_type is required."))?;
    let tags = s.control.show_resource_tags(&ctx, kind, &id).await?;
    Ok(Json(TagList { tags: tags.into_iter().map(|t| TagBody { key: t.key, value: t.value }).collect() })
        .into_response())
}
