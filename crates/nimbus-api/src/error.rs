//! Error rendering, once per API family.
//!
//! Handlers return [`ApiError`], which carries the core [`Error`] in the response's
//! extensions. Each family's router has a [`render_layer`] that turns it into that family's
//! JSON shape, and also re-renders anything axum produced by itself (a rejected extractor, an
//! unknown method, a body over the limit), so a client never sees a plain-text error.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nimbus_core::Error;
use serde_json::json;

/// The API families and their error shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Keystone: `{"error": {"code", "title", "message"}}`.
    Keystone,
    /// Nova, Glance: `{"itemNotFound": {"code", "message"}}` and friends.
    OpenStack,
    /// Cinder: as [`Family::OpenStack`], but an exceeded quota is 413 `overLimit`.
    Cinder,
    /// Neutron: `{"NeutronError": {"type", "message", "detail"}}`.
    Neutron,
    /// Huawei native APIs: `{"error_code", "error_msg"}`.
    Huawei,
}

/// A handler's failure.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = status.into_response();
        r.extensions_mut().insert(self.0);
        r
    }
}

/// Handler result type.
pub type ApiResult<T = Response> = Result<T, ApiError>;

/// Renders an error in a family's format.
pub fn render(family: Family, e: &Error, request_id: Option<&str>) -> Response {
    if let Error::Internal(detail) = e {
        tracing::error!(%detail, "internal error");
    }
    let cinder_quota = family == Family::Cinder && matches!(e, Error::OverQuota { .. });
    // Neutron answers an exceeded quota with 409 `OverQuota`.
    let neutron_quota = family == Family::Neutron && matches!(e, Error::OverQuota { .. });
    let status = if cinder_quota {
        StatusCode::PAYLOAD_TOO_LARGE
    } else if neutron_quota {
        StatusCode::CONFLICT
    } else {
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    };
    let body = match family {
        Family::Keystone => json!({"error": {"code": e.status(), "title": e.title(), "message": e.message()}}),
        Family::Cinder if cinder_quota => json!({"overLimit": {"code": 413, "message": e.message()}}),
        Family::OpenStack | Family::Cinder => {
            let key = match (e, e.status()) {
                (Error::OverQuota { .. }, _) => "forbidden",
                (_, 400) => "badRequest",
                (_, 401) => "unauthorized",
                (_, 403) => "forbidden",
                (_, 404) => "itemNotFound",
                (_, 405) => "methodNotAllowed",
                (_, 406) => "notAcceptable",
                (_, 409) => "conflictingRequest",
                (_, 413) => "overLimit",
                (_, 503) => "serviceUnavailable",
                _ => "computeFault",
            };
            json!({ key: {"code": e.status(), "message": e.message()} })
        }
        Family::Neutron => {
            let kind = match e.status() {
                _ if neutron_quota => "OverQuota",
                400 => "HTTPBadRequest",
                401 => "HTTPUnauthorized",
                403 => "HTTPForbidden",
                404 => "HTTPNotFound",
                405 => "HTTPMethodNotAllowed",
                409 => "HTTPConflict",
                413 => "HTTPRequestEntityTooLarge",
                _ => "HTTPInternalServerError",
            };
            json!({"NeutronError": {"type": kind, "message": e.message(), "detail": ""}})
        }
        Family::Huawei => {
            let mut v = json!({"error_code": e.code(), "error_msg": e.message()});
            if let Some(id) = request_id {
                v["request_id"] = json!(id);
            }
            v
        }
    };
    let mut r = (status, axum::Json(body)).into_response();
    if cinder_quota {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
    }
    if status == StatusCode::UNAUTHORIZED && family == Family::Keystone {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Keystone uri=\"/identity\""));
    }
    r
}

/// Classifies a response axum produced without our help.
fn error_from_status(status: StatusCode, text: String) -> Error {
    match status.as_u16() {
        401 => Error::Unauthorized("The request you have made requires authentication.".into()),
        403 => Error::Forbidden(text),
        404 => Error::not_found("resource", "the requested URL"),
        405 => Error::MethodNotAllowed,
        409 => Error::Conflict(text),
        413 => Error::PayloadTooLarge,
        s if s >= 500 => Error::Internal(text),
        _ => Error::BadRequest(if text.is_empty() { "The request is malformed.".into() } else { text }),
    }
}

/// The per-family layer: renders [`ApiError`]s and plain axum errors in the family format.
pub async fn render_layer(family: Family, req: Request, next: Next) -> Response {
    let request_id =
        req.extensions().get::<std::sync::Arc<nimbus_control::RequestMeta>>().map(|m| m.request_id.clone());
    let resp = next.run(req).await;
    restyle(family, resp, request_id.as_deref()).await
}

async fn restyle(family: Family, mut resp: Response, request_id: Option<&str>) -> Response {
    if let Some(e) = resp.extensions_mut().remove::<Error>() {
        return render(family, &e, request_id);
    }
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return resp;
    }
    let bytes =
        axum::body::to_bytes(std::mem::replace(resp.body_mut(), Body::empty()), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    render(family, &error_from_status(status, text), request_id)
}

/// Which family an unrouted path belongs to.
pub fn family_for_path(path: &str) -> Family {
    let keystone_collections = [
        "auth",
        "users",
        "projects",
        "domains",
        "groups",
        "roles",
        "role_assignments",
        "credentials",
        "regions",
        "services",
        "endpoints",
    ];
    if path.starts_with("/identity") {
        return Family::Keystone;
    }
    if let Some(rest) = path.strip_prefix("/v3/") {
        let first = rest.split('/').next().unwrap_or("");
        if keystone_collections.contains(&first) || first.starts_with("OS-") {
            return Family::Keystone;
        }
    }
    if path.starts_with("/network") {
        return Family::Neutron;
    }
    if path.starts_with("/volume") {
        return Family::Cinder;
    }
    if ["/compute", "/image"].iter().any(|p| path.starts_with(p)) {
        return Family::OpenStack;
    }
    Family::Huawei
}

/// The answer for a path no route matches.
pub async fn fallback(req: Request) -> Response {
    let request_id =
        req.extensions().get::<std::sync::Arc<nimbus_control::RequestMeta>>().map(|m| m.request_id.clone());
    let path = req.uri().path().to_string();
    render(family_for_path(&path), &Error::not_found("resource", path), request_id.as_deref())
}

/// Parses a JSON body into `T`, with a 400 that says what is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.is_empty() {
        return Err(Error::bad_request("A JSON request body is required."));
    }
    serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("Invalid JSON request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrouted_paths_get_their_family() {
        assert_eq!(family_for_path("/identity/v3/nope"), Family::Keystone);
        assert_eq!(family_for_path("/v3/users/x/y/z"), Family::Keystone);
        assert_eq!(family_for_path("/v3/0123/traces/x"), Family::Huawei);
        assert_eq!(family_for_path("/compute/v2.1/nope"), Family::OpenStack);
        assert_eq!(family_for_path("/v1/p/cloudservers/x/y"), Family::Huawei);
    }

    #[test]
    fn json_errors_say_what_is_wrong() {
        let e = parse_json::<serde_json::Value>(b"{nope").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("Invalid JSON"));
        assert_eq!(parse_json::<serde_json::Value>(b"").unwrap_err().status(), 400);
    }
}
