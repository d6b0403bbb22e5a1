//! The hypervisor boundary: what the compute reconciler asks of a host, with two
//! implementations. [`qemu::Qemu`] runs real guests (KVM when it really works, TCG
//! otherwise; the default). [`simulated::Simulated`] only keeps state in memory, for
//! control-plane and scale tests; it is never the default and says so in its name.

pub mod qemu;
pub mod simulated;

use nimbus_core::Error;
use std::path::{Path, PathBuf};

/// The most NICs a guest has (PCI slots left beside its disks).
pub const MAX_NICS: usize = 4;

/// Everything needed to prepare and start one guest.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestSpec {
    /// The server id (names the instance directory).
    pub id: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    /// The guest NIC's MAC address.
    pub mac: String,
    /// The image the boot disk is a copy-on-write overlay of (unused with `root_volume`).
    pub image: BaseImage,
    /// The volume the guest boots from instead of an overlay of `image`.
    pub root_volume: Option<VolumeDisk>,
    /// The boot disk's size in GiB (0: the image's own size).
    pub disk_gb: u64,
    /// What the config drive carries.
    pub config: ConfigData,
    /// Volumes attached to the guest, in attachment order (they keep their PCI slots).
    pub volumes: Vec<VolumeDisk>,
    /// NICs on virtual networks (TAPs in their networks' namespaces), first one first, at
    /// most [`MAX_NICS`]; none: one NIC on QEMU's user-mode network, with `mac`.
    pub nics: Vec<crate::netns::NicSpec>,
}

/// A block volume as a guest sees it: a virtio disk whose serial is the start of the
/// volume id (the guest sees 20 bytes of it, as under Nova), throttled to its type's QoS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeDisk {
    /// The volume id.
    pub id: String,
    /// Its data.
    pub path: PathBuf,
    /// `qcow2`, or `raw` for volumes several guests share (QCOW2 metadata cannot have two
    /// writers).
    pub format: String,
    /// Shared with other guests (multi-attach).
    pub shared: bool,
    pub read_only: bool,
    /// I/O limits; zero is unlimited.
    pub qos: DiskQos,
    /// The passphrase of an encrypted volume (the guest sees plaintext through QEMU's
    /// `luks` driver).
    pub key: Option<crate::volume_crypt::VolumeKey>,
}

/// A disk's I/O limits, 0 for none. A total limit and the read or write ones of the same
/// kind are not set together (QEMU takes one or the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskQos {
    pub iops: i64,
    pub read_iops: i64,
    pub write_iops: i64,
    pub bytes_per_sec: i64,
    pub read_bytes_per_sec: i64,
    pub write_bytes_per_sec: i64,
}

impl VolumeDisk {
    /// The serial the guest reads in `/sys/block/vdX/serial`.
    pub fn serial(&self) -> String {
        self.id.chars().take(20).collect()
    }
}

/// An image as the hypervisor needs it: where its data is and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// The image id (names the cached base).
    pub id: String,
    /// The stored image data.
    pub path: PathBuf,
    /// Its format as `qemu-img info` reads it (`qcow2`, `raw`, `vmdk`...).
    pub format: String,
    /// Its virtual size in bytes (the boot disk is never smaller).
    pub virtual_size: i64,
}

/// The OpenStack config drive's content (`openstack/latest/...`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigData {
    pub meta_data: serde_json::Value,
    pub network_data: serde_json::Value,
    pub user_data: Option<Vec<u8>>,
}

/// What to do with a boot disk's checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Copy the disk aside (keeping an existing copy: the step may be retried).
    Save,
    /// Put the copy back in place of the disk.
    Restore,
    /// Forget the copy.
    Drop,
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

/// A host's hypervisor. Every method is idempotent, so a job step interrupted by a crash
/// can simply run again.
#[async_trait::async_trait]
pub trait Hypervisor: Send + Sync {
    /// What it is (`qemu-kvm`, `qemu-tcg`, `simulated`), as the API shows it.
    fn kind(&self) -> &'static str;
    /// Creates the guest's boot disk (if missing) and (re)writes its config drive.
    async fn prepare(&self, spec: &GuestSpec) -> Result<(), Error>;
    /// Replaces the boot disk with a fresh overlay of `spec.image` (rebuild); the guest must
    /// not be running.
    async fn reset_disk(&self, spec: &GuestSpec) -> Result<(), Error>;
    /// Grows the boot disk to `gb` GiB (never shrinks); the guest must not be running.
    async fn grow_disk(&self, id: &str, gb: u64) -> Result<(), Error>;
    /// Saves, restores or drops a copy of the boot disk (a resize keeps one until it is
    /// confirmed, so a revert returns the original disk). The guest must not be running
    /// for `Save` and `Restore`.
    async fn checkpoint_disk(&self, id: &str, op: Checkpoint) -> Result<(), Error>;
    /// Writes the boot disk's current content to `out` as a standalone QCOW2 file.
    async fn export_disk(&self, id: &str, out: &Path) -> Result<(), Error>;
    /// Starts the prepared guest; a guest already running is left alone.
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
    /// Hot-plugs a volume into the running guest (nothing if it is already there) and
    /// applies its limits.
    async fn attach_volume(&self, id: &str, disk: &VolumeDisk) -> Result<(), Error>;
    /// Asks the guest to release a volume and waits up to `wait` for it to do so; `true`
    /// once the volume is out of the guest (also when it never was there). A guest that
    /// ignores the request keeps the volume until it is reset or powered off.
    async fn detach_volume(&self, id: &str, volume_id: &str, wait: std::time::Duration) -> Result<bool, Error>;
    /// Sets the I/O limits of a volume in the running guest (a data or the boot volume).
    async fn set_volume_qos(&self, id: &str, volume_id: &str, qos: DiskQos) -> Result<(), Error>;
    /// Grows an attached volume while the guest runs (the guest sees the new size at
    /// once); never shrinks.
    async fn resize_volume(&self, id: &str, volume_id: &str, bytes: u64) -> Result<(), Error>;
    /// Takes an internal snapshot `name` of a volume in the guest's hands, consistent as a
    /// power cut would leave it, without pausing the guest (nothing if it exists).
    async fn snapshot_volume(&self, id: &str, volume_id: &str, name: &str) -> Result<(), Error>;
    /// Takes internal snapshots (volume id, name) of several volumes in the guest's hands at
    /// one instant: no guest write lands between them (nothing if they exist).
    async fn snapshot_volumes_together(&self, id: &str, snapshots: &[(String, String)]) -> Result<(), Error>;
    /// Drops an internal snapshot of a volume in the guest's hands (nothing if it is gone).
    async fn delete_volume_snapshot(&self, id: &str, volume_id: &str, name: &str) -> Result<(), Error>;
    /// Ids of every guest this host holds anything for (running or not), for start-up
    /// adoption and orphan clean-up.
    async fn guests(&self) -> Result<Vec<String>, Error>;
}
