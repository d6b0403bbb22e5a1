//! The hypervisor boundary: what the compute reconciler asks of a host, with two
//! implementations. [`qemu::Qemu`] runs real guests (KVM when it really works, TCG
//! otherwise; the default). [`simulated::Simulated`] only keeps state in memory, for
//! control-plane and scale tests; it is never the default and says so in its name.

pub mod qemu;
pub mod simulated;

use nimbus_core::Error;
use std::path::PathBuf;

/// Everything needed to start one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSpec {
    /// The server id (names the instance directory).
    pub id: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    /// The guest's boot disk (a copy-on-write overlay prepared by the caller).
    pub disk: PathBuf,
    /// An OpenStack config drive (ISO9660 labelled `config-2`).
    pub config_drive: Option<PathBuf>,
    /// The guest NIC's MAC address.
    pub mac: String,
}

/// What a guest is doing, as the hypervisor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestState {
    Running,
    Paused,
    /// The process exists but the guest has stopped (shut down, not yet reaped).
    Shutoff,
    /// No process for this guest.
    Missing,
}

/// A host's hypervisor.
#[async_trait::async_trait]
pub trait Hypervisor: Send + Sync {
    /// What it is (`qemu-kvm`, `qemu-tcg`, `simulated`), as the API shows it.
    fn kind(&self) -> &'static str;
    /// Starts the guest; a guest already running is left alone (idempotent).
    async fn start(&self, spec: &GuestSpec) -> Result<(), Error>;
    /// The guest's state.
    async fn state(&self, id: &str) -> Result<GuestState, Error>;
    /// Asks the guest to power off (ACPI), and forces it after `grace`.
    async fn stop(&self, id: &str, grace: std::time::Duration) -> Result<(), Error>;
    /// Resets the guest (hard) or asks it to reboot through ACPI (soft: power off, start).
    async fn reboot(&self, id: &str, hard: bool) -> Result<(), Error>;
    /// Kills the guest if running and removes everything the driver created for it.
    async fn destroy(&self, id: &str) -> Result<(), Error>;
    /// The guest's serial console output (the last `max_bytes`).
    async fn console_log(&self, id: &str, max_bytes: usize) -> Result<String, Error>;
    /// Ids of the guests this host currently runs (for start-up adoption).
    async fn running_guests(&self) -> Result<Vec<String>, Error>;
}
