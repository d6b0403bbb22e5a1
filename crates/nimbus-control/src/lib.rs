//! Nimbus control plane: the service layer between the API front ends and the store.
//!
//! [`Control`] is the one entry point. Its methods are spread one file per resource family
//! (`identity/*.rs`, `audit.rs`, `quota.rs`, `jobs.rs`, ...), each following the same order:
//! authorise first, then validate, then change the store in one transaction that also
//! charges quota, writes any job and appends the audit trace, then commit. Front ends never
//! touch the store; reconcilers and the job runner drive the world towards the stored state.

pub mod audit;
pub mod authz;
pub mod backups;
pub mod billing;
pub mod catalog;
pub mod compute;
pub mod config;
pub mod context;
pub mod dns;
pub mod idempotency;
pub mod identity;
pub mod images;
pub mod jobs;
pub mod network;
pub mod objects;
pub mod quota;
pub mod reconcile;
pub mod sdk_signature;
pub mod support;
pub mod tags;
pub mod volumes;

use std::sync::Arc;

pub use config::RegionConfig;
pub use context::{Ctx, Principal, RequestMeta, Scope};
pub use nimbus_core::{Error, Result};
use nimbus_store::Store;

/// The drivers the control plane acts through.
pub struct Drivers {
    /// Image data under `DATA/images`.
    pub images: nimbus_drivers::image_files::ImageFiles,
    /// Object data under `DATA/objects`.
    pub objects: nimbus_drivers::object_files::ObjectFiles,
    /// Volume data under `DATA/volumes`.
    pub volumes: nimbus_drivers::volume_files::VolumeFiles,
    /// The hypervisor of this region's host.
    pub hypervisor: Arc<dyn nimbus_drivers::hypervisor::Hypervisor>,
    /// The virtual networks' namespaces, bridges and DHCP servers under `DATA/net`; `None`
    /// where this process cannot make namespaces (servers then keep user-mode networking).
    pub network: Option<nimbus_drivers::netns::NetworkPlane>,
}

/// The control plane of one region.
pub struct Control {
    store: Store,
    drivers: Drivers,
    config: RegionConfig,
    jobs: jobs::JobRegistry,
    /// Wakes the job runner when a job is queued.
    job_wakeup: tokio::sync::Notify,
    /// Wakes the network reconciler when a network, subnet or port changes.
    network_wakeup: tokio::sync::Notify,
    /// Held by a pass of the network reconciler: passes never overlap.
    network_pass: tokio::sync::Mutex<()>,
    /// When this control plane started (the origin of the support clock's scale).
    started_at: i64,
    /// Object-storage request counts not yet written.
    request_meter: objects::RequestMeter,
    /// Access keys recently resolved for object storage.
    s3_keys: objects::KeyCache,
    /// One lock per server: the steps of two jobs on one server (a build and the delete
    /// that interrupts it) never run at once, so neither pulls files from under the other.
    server_steps: nimbus_core::sync::KeyedLocks,
    /// The price list in force.
    prices: billing::Prices,
}

impl Control {
    /// Builds the control plane over an opened store.
    pub fn new(store: Store, config: RegionConfig, drivers: Drivers) -> Arc<Self> {
        let mut registry = jobs::JobRegistry::default();
        identity::register_jobs(&mut registry);
        compute::server_jobs::register(&mut registry);
        objects::register_jobs(&mut registry);
        volumes::register_jobs(&mut registry);
        backups::register_jobs(&mut registry);
        let config = config.with_quota_defaults();
        Arc::new(Control {
            store,
            drivers,
            config,
            jobs: registry,
            job_wakeup: tokio::sync::Notify::new(),
            network_wakeup: tokio::sync::Notify::new(),
            network_pass: tokio::sync::Mutex::new(()),
            started_at: nimbus_core::time::now_ms(),
            request_meter: Default::default(),
            s3_keys: Default::default(),
            server_steps: Default::default(),
            prices: Default::default(),
        })
    }

    /// The store (for the binary's start-up and for benchmarks).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The drivers.
    pub fn drivers(&self) -> &Drivers {
        &self.drivers
    }

    /// The region's configuration.
    pub fn config(&self) -> &RegionConfig {
        &self.config
    }
}
