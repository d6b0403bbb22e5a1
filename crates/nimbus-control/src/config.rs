//! Region configuration: names, zones, identity rules and quota defaults.
//!
//! Read from the `--config` TOML file by the binary; every field has a default so an empty
//! file (or none) gives a working all-in-one region.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the control plane needs to know about its region.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionConfig {
    /// Region name (seed 3.2: `eu-west-0`).
    pub region: String,
    /// Availability zones served by this region.
    pub availability_zones: Vec<String>,
    /// Base URL clients use to reach the API listener (set by `nimbus up` from `--listen`).
    pub public_url: String,
    /// Base URL of the S3 listener.
    pub s3_url: String,
    /// Lifetime of a token, in seconds.
    pub token_ttl_secs: i64,
    /// Failed logins in a row that lock an account (0 disables lockout).
    pub lockout_failure_attempts: i64,
    /// How long a locked account stays locked, in seconds.
    pub lockout_duration_secs: i64,
    /// Access keys per user (Huawei IAM allows two).
    pub max_access_keys_per_user: i64,
    /// Default per-project quotas (-1 is unlimited); overridable per project by an admin.
    pub quotas: BTreeMap<String, i64>,
    /// Largest image a tenant may upload, in bytes.
    pub max_image_size: i64,
    /// Artificial delay between job steps, in milliseconds. Only for crash tests; 0 in service.
    pub job_step_delay_ms: u64,
    /// The hypervisor driver: `qemu` (real guests, the default) or `simulated` (guests that
    /// exist only in memory, for control-plane and scale tests).
    pub hypervisor: String,
    /// Virtual CPUs the scheduler may place per physical CPU (Nova's default 16).
    pub cpu_allocation_ratio: f64,
    /// Guest RAM the scheduler may place per byte of host RAM (Nova's default 1.5).
    pub ram_allocation_ratio: f64,
    /// Host RAM kept for the host itself, in MiB.
    pub reserved_host_memory_mb: i64,
    /// The host's CPUs and RAM as the scheduler counts them (default: measured).
    pub host_vcpus: Option<i64>,
    pub host_memory_mb: Option<i64>,
    /// How long a guest gets to power off after the ACPI request before it is forced.
    pub stop_grace_secs: u64,
    /// How long a starting guest may take to reach the running state.
    pub boot_timeout_secs: u64,
    /// Largest object a single PUT may store, in bytes (S3's limit: 5 GiB).
    pub max_object_size: i64,
    /// How long a restore of a COLD object takes before the object is readable.
    pub cold_restore_delay_secs: u64,
    /// The type of volumes created without one.
    pub default_volume_type: String,
    /// The smallest data disk, in GB (seed 6.2.1: 10; system disks from an image start at 1).
    pub volume_min_gb: i64,
    /// Backup operations (create, delete, restore) of one project running at once; the rest
    /// wait their turn in order (seed 6.2.4: 5).
    pub backup_max_concurrent: i64,
    /// Backups one volume may have (seed 6.2.4: 20).
    pub backups_per_volume: i64,
    /// How often backup policies are looked at, in seconds.
    pub cbr_schedule_interval_secs: u64,
    /// How much faster than the wall clock policy schedules run (1: real time; tests speed
    /// them up so a daily rule fires within seconds).
    pub cbr_time_scale: i64,
    /// The length of a "day" in lifecycle rules (a real day; tests shorten it).
    pub lifecycle_day_secs: u64,
    /// How often lifecycle rules are applied.
    pub lifecycle_interval_secs: u64,
    /// The region's external network, made at start (seed 6.3.2: EIPs come from it).
    pub external_network_name: String,
    /// Its address range: the "public" addresses of EIPs and router gateways, living only in
    /// the namespace that stands for the internet on this machine.
    pub external_network_cidr: String,
    /// The bandwidth of a floating IP made through Neutron (which names none), in Mbit/s.
    pub eip_default_bandwidth_mbit: i64,
    /// How much faster than the wall clock the support clocks run (1: real time; tests speed
    /// them up so that working days pass in seconds).
    pub support_time_scale: i64,
    /// A price list file (TOML, see `billing/prices.toml`); the shipped list when unset.
    pub price_list: Option<String>,
    /// How often invoices of past months are issued and budgets checked.
    pub billing_interval_secs: u64,
    /// How far ahead of the wall clock the billing clock runs (tests: to close a month).
    pub billing_clock_offset_secs: i64,
}

impl Default for RegionConfig {
    fn default() -> Self {
        RegionConfig {
            region: "eu-west-0".into(),
            availability_zones: vec!["eu-west-0a".into(), "eu-west-0b".into(), "eu-west-0c".into()],
            public_url: "http://127.0.0.1:8080".into(),
            s3_url: "http://127.0.0.1:9000".into(),
            token_ttl_secs: 24 * 3600,
            lockout_failure_attempts: 5,
            lockout_duration_secs: 15 * 60,
            max_access_keys_per_user: 2,
            quotas: default_quotas(),
            max_image_size: 20 << 30,
            job_step_delay_ms: 0,
            hypervisor: "qemu".into(),
            cpu_allocation_ratio: 16.0,
            ram_allocation_ratio: 1.5,
            reserved_host_memory_mb: 512,
            host_vcpus: None,
            host_memory_mb: None,
            stop_grace_secs: 30,
            boot_timeout_secs: 300,
            max_object_size: 5 << 30,
            cold_restore_delay_secs: 60,
            default_volume_type: "SATA".into(),
            volume_min_gb: 10,
            backup_max_concurrent: 5,
            backups_per_volume: 20,
            cbr_schedule_interval_secs: 30,
            cbr_time_scale: 1,
            lifecycle_day_secs: 86_400,
            lifecycle_interval_secs: 3600,
            external_network_name: "admin_external_net".into(),
            // RFC 2544's benchmarking range: never routed on a real network.
            external_network_cidr: "198.18.0.0/16".into(),
            eip_default_bandwidth_mbit: 100,
            support_time_scale: 1,
            price_list: None,
            billing_interval_secs: 60,
            billing_clock_offset_secs: 0,
        }
    }
}

/// The quota defaults of a new project (seed 8.1), by resource name as the OpenStack quota
/// APIs spell them.
pub fn default_quotas() -> BTreeMap<String, i64> {
    [
        ("instances", 10),
        ("cores", 20),
        ("ram", 51200),
        ("key_pairs", 100),
        ("server_groups", 10),
        ("server_group_members", 10),
        ("metadata_items", 128),
        ("volumes", 10),
        ("gigabytes", 1000),
        ("snapshots", 10),
        // Seed 6.2.4: 360 backups and 200 TB of backups per project.
        ("backups", 360),
        ("backup_gigabytes", 204_800),
        ("groups", 10),
        // The largest single volume, in GB (-1: only the seed's 32 TB).
        ("per_volume_gigabytes", -1),
        ("images", 20),
        ("network", 10),
        ("subnet", 10),
        ("port", 500),
        ("router", 10),
        ("floatingip", 10),
        ("security_group", 10),
        ("security_group_rule", 100),
        // NAT gateways (one per VPC), DNS zones and record sets.
        ("nat_gateway", 10),
        ("dns_zone", 50),
        ("dns_recordset", 500),
        ("buckets", 100),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl RegionConfig {
    /// Fills in the quota defaults a config file's `[quotas]` table left out (the table
    /// overrides some resources, not the whole set).
    pub fn with_quota_defaults(mut self) -> Self {
        for (k, v) in default_quotas() {
            self.quotas.entry(k).or_insert(v);
        }
        self
    }

    /// The default limit for a quota resource (`None` when the resource is unknown).
    pub fn default_quota(&self, resource: &str) -> Option<i64> {
        self.quotas.get(resource).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_quota_table_keeps_the_other_defaults() {
        let cfg: RegionConfig = toml::from_str("[quotas]\ninstances = -1\n").unwrap_or_else(|e| panic!("{e}"));
        let cfg = cfg.with_quota_defaults();
        assert_eq!(cfg.default_quota("instances"), Some(-1));
        assert_eq!(cfg.default_quota("metadata_items"), Some(128));
    }
}
