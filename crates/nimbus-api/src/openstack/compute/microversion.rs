//! Microversions of Nova and Cinder: the client asks with `OpenStack-API-Version: compute
//! 2.X` (or Nova's older `X-OpenStack-Nova-API-Version: 2.X`) or `volume 3.X`; responses are
//! shaped for that version and echo it back. An unsupported version is a 406.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use nimbus_core::Error;

/// The lowest and highest minor versions of 2.x served.
pub const MIN: u16 = 1;
pub const MAX: u16 = 96;

/// The lowest and highest minor versions of Cinder's 3.x served.
pub const VOLUME_MIN: u16 = 0;
pub const VOLUME_MAX: u16 = 71;

/// One service's microversion range.
struct Spec {
    service: &'static str,
    major: u16,
    min: u16,
    max: u16,
    /// The service's pre-`OpenStack-API-Version` header, if any.
    legacy: Option<&'static str>,
}

const COMPUTE: Spec =
    Spec { service: "compute", major: 2, min: MIN, max: MAX, legacy: Some("x-openstack-nova-api-version") };
const VOLUME: Spec = Spec { service: "volume", major: 3, min: VOLUME_MIN, max: VOLUME_MAX, legacy: None };

/// The negotiated microversion: `2.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(pub u16);

impl Microversion {
    /// Whether the request is at least `2.<minor>`.
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

/// Reads the requested compute version from the headers (default 2.1).
pub fn negotiate(headers: &HeaderMap) -> Result<Microversion, Error> {
    negotiate_for(&COMPUTE, headers)
}

fn negotiate_for(spec: &Spec, headers: &HeaderMap) -> Result<Microversion, Error> {
    let prefix = format!("{} ", spec.service);
    let modern = headers.get("openstack-api-version").and_then(|v| v.to_str().ok()).and_then(|v| {
        // "compute 2.53" (possibly among other services, comma-separated).
        v.split(',').map(str::trim).find_map(|part| part.strip_prefix(&prefix).map(str::trim).map(str::to_string))
    });
    let legacy = spec.legacy.and_then(|h| headers.get(h)).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
    let Some(asked) = modern.or(legacy) else { return Ok(Microversion(spec.min)) };
    if asked.eq_ignore_ascii_case("latest") {
        return Ok(Microversion(spec.max));
    }
    let (major, min, max) = (spec.major, spec.min, spec.max);
    let minor = asked
        .strip_prefix(&format!("{major}."))
        .and_then(|m| m.parse::<u16>().ok())
        .ok_or_else(|| Error::bad_request(format!("Invalid microversion {asked:?}: expected {major}.N or latest.")))?;
    if !(min..=max).contains(&minor) {
        return Err(Error::NotAcceptable(format!(
            "Version {major}.{minor} is not supported by the API. Minimum is {major}.{min} and maximum is {major}.{max}."
        )));
    }
    Ok(Microversion(minor))
}

/// Middleware of the compute routes: negotiates, and echoes the version on the response.
pub async fn layer(req: Request, next: Next) -> Response {
    run_layer(&COMPUTE, crate::error::Family::OpenStack, req, next).await
}

/// Middleware of the block-storage routes.
pub async fn volume_layer(req: Request, next: Next) -> Response {
    run_layer(&VOLUME, crate::error::Family::Cinder, req, next).await
}

async fn run_layer(spec: &Spec, family: crate::error::Family, mut req: Request, next: Next) -> Response {
    let negotiated = negotiate_for(spec, req.headers());
    let v = match &negotiated {
        Ok(v) => *v,
        // Errors echo the lowest version.
        Err(_) => Microversion(spec.min),
    };
    let mut resp = match negotiated {
        Ok(v) => {
            req.extensions_mut().insert(v);
            next.run(req).await
        }
        Err(e) => crate::error::render(family, &e, None),
    };
    let h = resp.headers_mut();
    if let Ok(val) = HeaderValue::from_str(&format!("{} {}.{}", spec.service, spec.major, v.0)) {
        h.insert("openstack-api-version", val);
    }
    match spec.legacy {
        Some(legacy) => {
            if let Ok(val) = HeaderValue::from_str(&format!("{}.{}", spec.major, v.0)) {
                h.insert(legacy, val);
            }
            h.insert("vary", HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"));
        }
        None => {
            h.insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
        }
    }
    resp
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
        let vol = |h| negotiate_for(&VOLUME, &headers(h));
        assert_eq!(vol(&[]).unwrap(), Microversion(0));
        assert_eq!(vol(&[("openstack-api-version", "volume 3.65")]).unwrap(), Microversion(65));
        assert_eq!(vol(&[("openstack-api-version", "volume latest")]).unwrap(), Microversion(VOLUME_MAX));
        assert_eq!(vol(&[("openstack-api-version", "volume 3.99")]).unwrap_err().status(), 406);
        assert_eq!(vol(&[("x-openstack-nova-api-version", "2.10")]).unwrap(), Microversion(0));
    }
}
