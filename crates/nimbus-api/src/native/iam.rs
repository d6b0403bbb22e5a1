//! Huawei IAM permanent access keys: `/v3.0/OS-CREDENTIAL/credentials`.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::identity::CredentialUpdate;
use nimbus_core::time::keystone_time;
use nimbus_core::Error;
use nimbus_store::identity::Credential;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

const BASE: &str = "/v3.0/OS-CREDENTIAL/credentials";

pub fn routes(r: Routes) -> Routes {
    let one = format!("{BASE}/{{access_key}}");
    r.add("POST", BASE, Access::Authenticated, create_access_key)
        .add("GET", BASE, Access::Authenticated, list_access_keys)
        .add("GET", &one, Access::Authenticated, show_access_key)
        .add("PUT", &one, Access::Authenticated, update_access_key)
        .add("DELETE", &one, Access::Authenticated, delete_access_key)
}

/// An access key as IAM shows it (the secret only on creation).
#[derive(Serialize, ToSchema)]
pub struct AccessKeyBody {
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub status: String,
    pub user_id: String,
    pub create_time: String,
    pub last_use_time: Option<String>,
    pub description: String,
}

/// `{"credential": ...}`
#[derive(Serialize, ToSchema)]
pub struct AccessKeyEnvelope {
    pub credential: AccessKeyBody,
}

/// `{"credentials": [...]}`
#[derive(Serialize, ToSchema)]
pub struct AccessKeyList {
    pub credentials: Vec<AccessKeyBody>,
}

fn body(c: &Credential, secret: Option<String>) -> AccessKeyBody {
    AccessKeyBody {
        access: c.access_key.clone().unwrap_or_default(),
        secret,
        status: c.status.clone(),
        user_id: c.user_id.clone(),
        create_time: keystone_time(c.created_at),
        last_use_time: c.last_used_at.map(keystone_time),
        description: c.description.clone(),
    }
}

/// Create request.
#[derive(Deserialize, ToSchema)]
pub struct CreateBody {
    pub credential: CreateOption,
}

/// Create options.
#[derive(Deserialize, ToSchema)]
pub struct CreateOption {
    pub user_id: String,
    pub description: Option<String>,
}

/// Creates a permanent access key (at most two per user).
#[utoipa::path(post, path = "/v3.0/OS-CREDENTIAL/credentials", tag = "IAM", request_body = CreateBody,
    responses((status = 201, body = AccessKeyEnvelope), (status = 400, body = super::ErrorBody), (status = 403, body = super::ErrorBody)))]
pub async fn create_access_key(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    let req: CreateBody = parse_json(&raw)?;
    super::idempotent(&s, &ctx, &headers, &raw, || async {
        let created = s.control.create_access_key(&ctx, &req.credential.user_id, req.credential.description).await?;
        let envelope = AccessKeyEnvelope { credential: body(&created.credential, Some(created.secret)) };
        Ok((StatusCode::CREATED, serde_json::to_value(envelope).map_err(nimbus_core::Error::from)?))
    })
    .await
}

/// Lists access keys (the caller's own unless an admin names a user).
#[utoipa::path(get, path = "/v3.0/OS-CREDENTIAL/credentials", tag = "IAM", params(("user_id" = Option<String>, Query)),
    responses((status = 200, body = AccessKeyList)))]
pub async fn list_access_keys(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let user = q.get("user_id").cloned().unwrap_or_else(|| ctx.principal.user_id.clone());
    let list = s.control.list_credentials(&ctx, Some(&user), Some("ec2"), &Default::default()).await?;
    let credentials = list.iter().filter(|c| c.access_key.is_some()).map(|c| body(c, None)).collect();
    Ok(Json(AccessKeyList { credentials }).into_response())
}

/// Shows one access key.
#[utoipa::path(get, path = "/v3.0/OS-CREDENTIAL/credentials/{access_key}", tag = "IAM", params(("access_key" = String, Path)),
    responses((status = 200, body = AccessKeyEnvelope), (status = 404, body = super::ErrorBody)))]
pub async fn show_access_key(State(s): State<AppState>, Auth(ctx): Auth, Path(ak): Path<String>) -> ApiResult {
    let c = s.control.get_credential(&ctx, &ak).await?;
    if c.access_key.as_deref() != Some(ak.as_str()) {
        return Err(Error::not_found("access key", ak).into());
    }
    Ok(Json(AccessKeyEnvelope { credential: body(&c, None) }).into_response())
}

/// Update request.
#[derive(Deserialize, ToSchema)]
pub struct UpdateBody {
    pub credential: UpdateOption,
}

/// Update options.
#[derive(Deserialize, ToSchema)]
pub struct UpdateOption {
    pub status: Option<String>,
    pub description: Option<String>,
}

/// Activates, deactivates or describes an access key.
#[utoipa::path(put, path = "/v3.0/OS-CREDENTIAL/credentials/{access_key}", tag = "IAM", request_body = UpdateBody,
    params(("access_key" = String, Path)),
    responses((status = 200, body = AccessKeyEnvelope), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn update_access_key(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(ak): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let req: UpdateBody = parse_json(&raw)?;
    if req.credential.status.is_none() && req.credential.description.is_none() {
        return Err(Error::bad_request("Give a status or a description to change.").into());
    }
    let update = CredentialUpdate {
        status: req.credential.status,
        description: req.credential.description,
        ..Default::default()
    };
    let c = s.control.update_credential(&ctx, &ak, update).await?;
    Ok(Json(AccessKeyEnvelope { credential: body(&c, None) }).into_response())
}

/// Deletes an access key.
#[utoipa::path(delete, path = "/v3.0/OS-CREDENTIAL/credentials/{access_key}", tag = "IAM", params(("access_key" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_access_key(State(s): State<AppState>, Auth(ctx): Auth, Path(ak): Path<String>) -> ApiResult {
    s.control.delete_credential(&ctx, &ak).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
