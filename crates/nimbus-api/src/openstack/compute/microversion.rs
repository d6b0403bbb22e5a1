//! Nova microversions: the client asks with `OpenStack-API-Version: compute 2.X` (or the
//! older `X-OpenStack-Nova-API-Version: 2.X`); responses are shaped for that version and
//! echo it back. An unsupported version is a 406.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use nimbus_core::Error;

/// The lowest and highest minor versions of 2.x served.
pub const MIN: u16 = 1;
pub const MAX: u16 = 96;

/// The negotiated microversion: `2.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(pub u16);

impl Microversion {
    /// Whether the request is at least `2.<minor>`.
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

/// Reads the requested version from the headers (default 2.1).
pub fn negotiate(headers: &HeaderMap) -> Result<Microversion, Error> {
    let modern = headers.get("openstack-api-version").and_then(|v| v.to_str().ok()).and_then(|v| {
        // "compute 2.53" (possibly among other services, comma-separated).
        v.split(',').map(str::trim).find_map(|part| part.strip_prefix("compute ").map(str::trim).map(str::to_string))
    });
    let legacy =
        headers.get("x-openstack-nova-api-version").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
    let Some(asked) = modern.or(legacy) else { return Ok(Microversion(MIN)) };
    if asked.eq_ignore_ascii_case("latest") {
        return Ok(Microversion(MAX));
    }
    let minor = asked
        .strip_prefix("2.")
        .and_then(|m| m.parse::<u16>().ok())
        .ok_or_else(|| Error::bad_request(format!("Invalid microversion {asked:?}: expected 2.N or latest.")))?;
    if !(MIN..=MAX).contains(&minor) {
        return Err(Error::NotAcceptable(format!(
            "Version 2.{minor} is not supported by the API. Minimum is 2.{MIN} and maximum is 2.{MAX}."
        )));
    }
    Ok(Microversion(minor))
}

/// Middleware of the compute routes: negotiates, and echoes the version on the response.
pub async fn layer(mut req: Request, next: Next) -> Response {
    match negotiate(req.headers()) {
        Ok(v) => {
            req.extensions_mut().insert(v);
            let mut resp = next.run(req).await;
            let h = resp.headers_mut();
            if let Ok(val) = HeaderValue::from_str(&format!("compute 2.{}", v.0)) {
                h.insert("openstack-api-version", val);
            }
            if let Ok(val) = HeaderValue::from_str(&format!("2.{}", v.0)) {
                h.insert("x-openstack-nova-api-version", val);
            }
            h.insert("vary", HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"));
            resp
        }
        Err(e) => crate::error::render(crate::error::Family::OpenStack, &e, None),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Microversion {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Microversion>().copied().unwrap_or(Microversion(MIN)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(&headers(&[])).unwrap(), Microversion(1));
        assert_eq!(negotiate(&headers(&[("openstack-api-version", "compute 2.53")])).unwrap(), Microversion(53));
        assert_eq!(
            negotiate(&headers(&[("openstack-api-version", "volume 3.1, compute latest")])).unwrap(),
            Microversion(MAX)
        );
        assert_eq!(negotiate(&headers(&[("x-openstack-nova-api-version", "2.10")])).unwrap(), Microversion(10));
        assert_eq!(negotiate(&headers(&[("openstack-api-version", "compute 2.200")])).unwrap_err().status(), 406);
        assert_eq!(negotiate(&headers(&[("openstack-api-version", "compute x")])).unwrap_err().status(), 400);
    }
}
