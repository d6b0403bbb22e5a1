//! Cross-origin requests from browsers, by the bucket's CORS rules: the unsigned
//! `OPTIONS` preflight (s3s has no operation for it) and the `Access-Control-*` headers of
//! the actual request's answer.

use crate::obs_ext::error_response;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use nimbus_control::objects::settings::CorsRule;
use nimbus_control::Control;
use std::sync::Arc;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The `Access-Control-*` headers a matching rule gives.
fn allow(headers: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let mut set = |n: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(n, v);
        }
    };
    let any = rule.allowed_origins.iter().any(|o| o == "*");
    set("access-control-allow-origin", if any { "*".into() } else { origin.to_string() });
    set("access-control-allow-methods", rule.allowed_methods.join(", "));
    if !rule.expose_headers.is_empty() {
        set("access-control-expose-headers", rule.expose_headers.join(", "));
    }
    if !any {
        set("access-control-allow-credentials", "true".into());
    }
    set("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into());
}

/// Answers a preflight for `bucket`: 200 with the rule's permissions, else 403.
pub async fn preflight(control: &Arc<Control>, bucket: Option<&str>, h: &HeaderMap) -> Response<s3s::Body> {
    let request_id = format!("req-{}", nimbus_core::id::new_hex_id());
    let (Some(origin), Some(method)) = (header(h, "origin"), header(h, "access-control-request-method")) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
            &request_id,
        );
    };
    let wanted: Vec<String> = header(h, "access-control-request-headers")
        .map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let rule = match bucket {
        Some(b) => control.cors_rule_for(b, origin, method, &wanted).await.ok().flatten(),
        None => None,
    };
    let Some(rule) = rule else {
        return error_response(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, \
             request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted \
             by the resource's CORS spec.",
            &request_id,
        );
    };
    let mut resp = Response::new(s3s::Body::empty());
    allow(resp.headers_mut(), &rule, origin);
    if !wanted.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&wanted.join(", ")) {
            resp.headers_mut().insert("access-control-allow-headers", v);
        }
    }
    if let Some(age) = rule.max_age_seconds {
        resp.headers_mut().insert("access-control-max-age", HeaderValue::from(age));
    }
    resp
}

/// Adds the CORS headers to the answer of a cross-origin request the bucket allows.
pub async fn decorate(
    control: &Arc<Control>,
    bucket: &str,
    origin: &str,
    method: &http::Method,
    resp: &mut Response<s3s::Body>,
) {
    if let Ok(Some(rule)) = control.cors_rule_for(bucket, origin, method.as_str(), &[]).await {
        allow(resp.headers_mut(), &rule, origin);
    }
}
