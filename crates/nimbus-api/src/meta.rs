//! Per-request plumbing: a request id on every response, the caller's address, access-key
//! signature checks, and the audit trace of mutating calls that failed.

use crate::auth::verify_signed_request;
use crate::error::{family_for_path, render};
use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use nimbus_control::RequestMeta;
use std::net::SocketAddr;
use std::sync::Arc;

/// Which service a path belongs to, as CTS names services.
pub fn service_for_path(path: &str) -> &'static str {
    let p = path.strip_prefix("/identity").unwrap_or(path);
    if p.contains("/traces") || p.contains("/tracker") {
        "CTS"
    } else if p.contains("/jobs") || p.starts_with("/compute") {
        "ECS"
    } else if p.starts_with("/volume") {
        "EVS"
    } else if p.starts_with("/network") {
        "VPC"
    } else if p.starts_with("/image") {
        "IMS"
    } else {
        "IAM"
    }
}

/// The resource type a failed call was about: the last non-id segment of its path.
fn resource_type_for_path(path: &str) -> String {
    path.split('/')
        .rfind(|s| !s.is_empty() && !nimbus_core::id::looks_like_id(s) && !s.starts_with('v'))
        .unwrap_or("unknown")
        .trim_end_matches('s')
        .to_string()
}

/// The outermost middleware.
pub async fn request_meta(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let source_ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let meta = RequestMeta::new(nimbus_core::id::RequestId::new().0, source_ip, method.as_str(), &path);
    req.extensions_mut().insert(meta.clone());

    let mut resp = match verify_signed_request(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => render(family_for_path(&path), &e, Some(&meta.request_id)),
    };

    let id = HeaderValue::from_str(&meta.request_id).unwrap_or(HeaderValue::from_static("req-unknown"));
    resp.headers_mut().insert("x-request-id", id.clone());
    resp.headers_mut().insert("x-openstack-request-id", id.clone());
    // Nova's name for the same id (Tempest matches instance actions on it).
    resp.headers_mut().insert("x-compute-request-id", id);

    let mutating = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if mutating && resp.status().as_u16() >= 400 && !meta.was_audited() {
        audit_failed(&state, &meta, &path, resp.status().as_u16()).await;
    }
    resp
}

async fn audit_failed(state: &AppState, meta: &Arc<RequestMeta>, path: &str, status: u16) {
    let reason = status_reason(status);
    state.control.audit_failure(meta, service_for_path(path), &resource_type_for_path(path), status, reason).await;
}

fn status_reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_services_and_types() {
        assert_eq!(service_for_path("/identity/v3/users"), "IAM");
        assert_eq!(service_for_path("/v3/abc/tracker"), "CTS");
        assert_eq!(resource_type_for_path("/identity/v3/users/0123456789abcdef0123456789abcdef"), "user");
        assert_eq!(resource_type_for_path("/v3/projects"), "project");
    }
}
