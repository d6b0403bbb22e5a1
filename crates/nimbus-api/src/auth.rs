//! Authentication of API calls: an `X-Auth-Token`, or a request signed with an access key
//! (`SDK-HMAC-SHA256`, what `huaweicloudsdkcore` sends).
//!
//! Signed requests are checked by [`verify_signed_request`] before routing, because the
//! signature covers the body; the [`Auth`] extractor then finds the principal it left in the
//! request's extensions, or validates the token.

use crate::error::ApiError;
use crate::{AppState, MAX_JSON_BODY};
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use nimbus_control::sdk_signature::{self, SignatureError, SignedRequest};
use nimbus_control::{Ctx, Principal, RequestMeta};
use nimbus_core::Error;
use std::sync::Arc;

/// The principal established by a verified signature.
#[derive(Clone)]
struct SignedPrincipal(Principal);

/// An authenticated caller, extracted before any body parsing (so a missing token is a 401
/// whatever the body holds).
pub struct Auth(pub Ctx);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let meta = parts
            .extensions
            .get::<Arc<RequestMeta>>()
            .cloned()
            .ok_or_else(|| ApiError(Error::Internal("request meta missing".into())))?;
        let principal = if let Some(SignedPrincipal(p)) = parts.extensions.get::<SignedPrincipal>() {
            p.clone()
        } else {
            let token =
                parts.headers.get("x-auth-token").and_then(|v| v.to_str().ok()).filter(|t| !t.is_empty()).ok_or_else(
                    || ApiError(Error::Unauthorized("The request you have made requires authentication.".into())),
                )?;
            state.control.principal_for_token(token).await?
        };
        meta.set_principal(&principal);
        Ok(Auth(Ctx { principal, meta }))
    }
}

/// The request's metadata, for handlers that authenticate by themselves (token issue).
pub struct Meta(pub Arc<RequestMeta>);

impl FromRequestParts<AppState> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<RequestMeta>>()
            .cloned()
            .map(Meta)
            .ok_or_else(|| ApiError(Error::Internal("request meta missing".into())))
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty())
}

/// The project a native path names (`/v1/{project_id}/...`, `/v3/{project_id}/...`).
fn project_in_path(path: &str) -> Option<&str> {
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    let _version = segs.next()?;
    segs.next().filter(|s| nimbus_core::id::looks_like_id(s))
}

/// Verifies an `SDK-HMAC-SHA256` signature if the request carries one; passes others through.
pub async fn verify_signed_request(state: &AppState, req: Request) -> Result<Request, Error> {
    let Some(authz) = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return Ok(req);
    };
    if !sdk_signature::is_sdk_hmac(&authz) {
        return Ok(req);
    }
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_JSON_BODY).await.map_err(|_| Error::PayloadTooLarge)?;
    let parsed = sdk_signature::parse_authorization(&authz).map_err(signature_error)?;
    let project = header(&parts, "x-project-id").or_else(|| project_in_path(parts.uri.path())).map(str::to_string);
    let domain = header(&parts, "x-domain-id").map(str::to_string);
    let control = &state.control;
    let (principal, secret) =
        control.principal_for_access_key(&parsed.access, project.as_deref(), domain.as_deref()).await?;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &bytes,
    };
    sdk_signature::verify(&signed, &parsed, &secret, chrono::Utc::now()).map_err(signature_error)?;
    parts.extensions.insert(SignedPrincipal(principal));
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn signature_error(e: SignatureError) -> Error {
    let why = match e {
        SignatureError::Malformed(m) => format!("The Authorization header is malformed: {m}."),
        SignatureError::MissingDate => "The X-Sdk-Date header is missing.".into(),
        SignatureError::Expired => "The request date is too far from the server time.".into(),
        SignatureError::Mismatch => "The request signature does not match.".into(),
    };
    Error::Unauthorized(why)
}

#[cfg(test)]
mod tests {
    use super::project_in_path;

    #[test]
    fn project_ids_are_read_from_native_paths() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(project_in_path(&format!("/v3/{id}/traces")), Some(id));
        assert_eq!(project_in_path("/v3/projects"), None);
        assert_eq!(project_in_path("/v3.0/OS-CREDENTIAL/credentials"), None);
    }
}
