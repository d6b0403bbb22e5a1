//! The endpoint registry: every route is added through [`Routes::add`], which both registers
//! it with axum and records it, so tooling and tests can enumerate every endpoint (the
//! authorisation test fails when an endpoint is missing from its table).

use crate::error::{render_layer, Family};
use crate::AppState;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter};
use axum::Router;

/// Whether an endpoint answers without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Version discovery, health, token issue, the OpenAPI document.
    Public,
    /// Everything else: a token or a signed request is required.
    Authenticated,
}

/// One registered endpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoint {
    pub method: String,
    pub path: String,
    pub access: Access,
}

impl Endpoint {
    /// The same endpoint under a path prefix.
    pub fn prefixed(&self, prefix: &str) -> Endpoint {
        Endpoint { path: format!("{prefix}{}", self.path), ..self.clone() }
    }
}

/// A family's routes under construction.
pub struct Routes {
    router: Router<AppState>,
    endpoints: Vec<Endpoint>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes { router: Router::new(), endpoints: Vec::new() }
    }
}

impl Routes {
    /// Registers `handler` for `method` on `path` (axum `{param}` syntax).
    pub fn add<H, T>(mut self, method: &str, path: &str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "HEAD" => MethodFilter::HEAD,
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            "DELETE" => MethodFilter::DELETE,
            other => panic!("unsupported method {other}"),
        };
        self.router = self.router.route(path, on(filter, handler));
        self.endpoints.push(Endpoint { method: method.into(), path: path.into(), access });
        self
    }

    /// The endpoints registered so far.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The axum router, with the family's error rendering applied.
    pub fn into_router(self, family: Family) -> Router<AppState> {
        self.router.layer(axum::middleware::from_fn(move |req, next| render_layer(family, req, next)))
    }
}
