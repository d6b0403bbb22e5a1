//! Nimbus API front ends: one HTTP listener, several API families.
//!
//! - `keystone/`: the OpenStack identity API, under `/identity/v3` and, for the Huawei IAM
//!   SDK (which keeps only scheme, host and port), also at `/v3`.
//! - `openstack/`: the other OpenStack APIs (`/compute`, `/volume`, `/network`...).
//! - `native/`: the Huawei-style native APIs at the root (`/v3/{project_id}/traces`,
//!   `/v1/{project_id}/jobs/{job_id}`, `/v3.0/OS-CREDENTIAL/credentials`...), described by the
//!   OpenAPI document at `/openapi.json`.
//! - `console`: the web console's files at `/console`.
//!
//! A front end parses and renders one family and calls one [`Control`] method; it holds no
//! business rules. Errors are rendered once per family by that family's layer (see
//! `error.rs`), so extractor rejections, unknown routes and 413s share the family's format.
#![recursion_limit = "256"]

pub mod auth;
pub mod body;
pub mod console;
pub mod error;
pub mod keystone;
pub mod meta;
pub mod native;
pub mod openstack;
pub mod routes;

use axum::Router;
use nimbus_control::Control;
use std::sync::Arc;

pub use routes::{Access, Endpoint};

/// Largest JSON body any API accepts.
pub const MAX_JSON_BODY: usize = 1 << 20;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub control: Arc<Control>,
    /// Every registered endpoint (served to admins, checked by the authorisation test).
    pub endpoints: Arc<Vec<Endpoint>>,
}

/// Builds the whole HTTP application.
pub fn app(control: Arc<Control>) -> Router {
    let keystone = keystone::routes();
    let native = native::routes();
    let compute = openstack::compute_routes();
    let network = openstack::network_routes();
    let volume = openstack::volume_routes();
    let image = openstack::image::routes();
    let mut endpoints = Vec::new();
    endpoints.extend(keystone.endpoints().iter().map(|e| e.prefixed("/identity")));
    endpoints.extend(keystone.endpoints().iter().cloned());
    endpoints.extend(native.endpoints().iter().cloned());
    endpoints.extend(compute.endpoints().iter().cloned());
    endpoints.extend(network.endpoints().iter().cloned());
    endpoints.extend(volume.endpoints().iter().cloned());
    endpoints.extend(image.endpoints().iter().map(|e| e.prefixed("/image")));
    endpoints.extend(image.endpoints().iter().cloned());
    let state = AppState { control, endpoints: Arc::new(endpoints) };

    let keystone_router = keystone.into_router(error::Family::Keystone);
    let image_router = image.into_router(error::Family::OpenStack);
    Router::new()
        .nest("/identity", keystone_router.clone())
        .route("/identity/", axum::routing::get(keystone::versions))
        .merge(keystone_router)
        .merge(native.into_router(error::Family::Huawei))
        .merge(
            compute
                .into_router(error::Family::OpenStack)
                .layer(axum::middleware::from_fn(openstack::compute::microversion::layer)),
        )
        .merge(network.into_router(error::Family::Neutron))
        .merge(
            volume
                .into_router(error::Family::Cinder)
                .layer(axum::middleware::from_fn(openstack::compute::microversion::volume_layer)),
        )
        .nest("/image", image_router.clone())
        .route("/image", axum::routing::get(openstack::image::versions))
        .route("/image/", axum::routing::get(openstack::image::versions))
        .merge(image_router)
        .merge(console::routes())
        .fallback(error::fallback)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), meta::request_meta))
        .with_state(state)
}
