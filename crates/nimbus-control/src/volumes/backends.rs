//! The block-storage service as operators see it (Cinder `os-services`, `os-hosts`,
//! `scheduler-stats/get_pools`, `capabilities`): the services of this region's block storage
//! (scheduler, volume service on the local-disk back end, backup service), what each project
//! holds on the back end, and the back end's capacity, read from its file system.
//!
//! The three services run inside this process, so they are up whenever it answers. They
//! cannot be disabled or frozen: the region has one of each, and stopping one would stop
//! its block storage.

use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::volumes::{self as repo, ProjectHoldings};

/// The host of the block-storage services.
pub const VOLUME_HOST: &str = "nimbus";
/// The back end volumes live on (qcow2 and raw files on the local disk).
pub const BACKEND: &str = "local";
/// Who made the back end (Tempest's `vendor_name`).
pub const VENDOR: &str = "Open Source";
/// How volumes reach guests: files on the host, opened by QEMU.
pub const STORAGE_PROTOCOL: &str = "local";
/// The version the back end reports.
pub const DRIVER_VERSION: &str = "1.0.0";

/// `host@backend`: the volume service's host.
pub fn backend_host() -> String {
    format!("{VOLUME_HOST}@{BACKEND}")
}

/// `host@backend#pool`: where every volume is (Cinder's `os-vol-host-attr:host`).
pub fn pool_name() -> String {
    format!("{}#{BACKEND}", backend_host())
}

/// Whether the back end can hold a type's volumes, as Cinder's capabilities filter decides:
/// each extra spec naming a capability the back end reports (`volume_backend_name`,
/// `vendor_name`, `storage_protocol`, `driver_version`, bare or scoped `capabilities:`) must
/// have its value. Other specs are not capabilities here and do not bar the back end.
pub fn backend_accepts(extra_specs: &std::collections::BTreeMap<String, String>) -> bool {
    extra_specs.iter().all(|(k, want)| {
        let have = match k.strip_prefix("capabilities:").unwrap_or(k) {
            "volume_backend_name" => BACKEND,
            "vendor_name" => VENDOR,
            "storage_protocol" => STORAGE_PROTOCOL,
            "driver_version" => DRIVER_VERSION,
            _ => return true,
        };
        want.trim() == have
    })
}

/// Whether `filter` names `host` as Cinder's filters do: the host itself, or the part
/// before its `@backend` or `#pool`.
fn host_matches(host: &str, filter: &str) -> bool {
    host == filter || host.strip_prefix(filter).is_some_and(|rest| rest.starts_with('@') || rest.starts_with('#'))
}

/// One block-storage service.
#[derive(Debug, Clone)]
pub struct VolumeService {
    pub binary: &'static str,
    pub host: String,
    pub zone: String,
    /// When it last answered (now: it runs in this process).
    pub updated_at: i64,
}

/// The back end's pool and its capacity.
#[derive(Debug, Clone)]
pub struct VolumePool {
    pub name: String,
    pub backend: &'static str,
    pub total_gb: f64,
    pub free_gb: f64,
    pub updated_at: i64,
}

impl Control {
    fn check_backend_reader(&self, ctx: &Ctx) -> Result<(), Error> {
        authorize("volume:services", &ctx.principal, &Target::default())
    }

    /// The block-storage services, those on `host` and of `binary` when given.
    pub fn volume_services(
        &self,
        ctx: &Ctx,
        host: Option<&str>,
        binary: Option<&str>,
    ) -> Result<Vec<VolumeService>, Error> {
        self.check_backend_reader(ctx)?;
        let zone = self.config().availability_zones.first().cloned().unwrap_or_default();
        let now = now_ms();
        let all = [
            ("cinder-scheduler", VOLUME_HOST.to_string()),
            ("cinder-volume", backend_host()),
            ("cinder-backup", VOLUME_HOST.to_string()),
        ];
        Ok(all
            .into_iter()
            .filter(|(b, h)| host.is_none_or(|f| host_matches(h, f)) && binary.is_none_or(|f| f == *b))
            .map(|(binary, host)| VolumeService { binary, host, zone: zone.clone(), updated_at: now })
            .collect())
    }

    /// Refuses a change of a block-storage service's state (enable, disable, freeze, thaw):
    /// 404 for a service that does not exist, 400 otherwise (see the module docs).
    pub fn change_volume_service(
        &self,
        ctx: &Ctx,
        action: &str,
        host: Option<&str>,
        binary: Option<&str>,
        reason: Option<&str>,
    ) -> Result<(), Error> {
        authorize("volume:manage_services", &ctx.principal, &Target::default())?;
        let host =
            host.filter(|h| !h.is_empty()).ok_or_else(|| Error::bad_request("Missing required element 'host'."))?;
        match action {
            "enable" | "disable" | "disable-log-reason" => {
                let binary = binary
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| Error::bad_request("Missing required element 'binary'."))?;
                if self.volume_services(ctx, Some(host), Some(binary))?.is_empty() {
                    return Err(Error::not_found("service", format!("{binary} on {host}")));
                }
                if action == "disable-log-reason" && reason.is_none_or(|r| r.trim().is_empty()) {
                    return Err(Error::bad_request("Disabled reason contains invalid characters or is too long."));
                }
            }
            "freeze" | "thaw" => {
                if !host_matches(&backend_host(), host) {
                    return Err(Error::bad_request(format!("Host {host} is not a volume service host.")));
                }
            }
            other => return Err(Error::not_found("service action", other)),
        }
        Err(Error::bad_request(format!(
            "The block-storage services of this region cannot be {}: it runs one of each.",
            match action {
                "enable" => "enabled (they always are)",
                "freeze" => "frozen",
                "thaw" => "thawed (they are never frozen)",
                _ => "disabled",
            }
        )))
    }

    /// What each project holds on the volume service's back end at `host`.
    pub async fn volume_host_holdings(&self, ctx: &Ctx, host: &str) -> Result<Vec<ProjectHoldings>, Error> {
        self.check_backend_reader(ctx)?;
        if !host_matches(&backend_host(), host) && host != pool_name() {
            return Err(Error::not_found("volume host", host));
        }
        let mut c = self.store().read().await?;
        repo::holdings_by_project(&mut c).await
    }

    /// The back end's pools, with the capacity of the file system the volumes live on.
    pub fn volume_pools(&self, ctx: &Ctx) -> Result<Vec<VolumePool>, Error> {
        self.check_backend_reader(ctx)?;
        let (total, free) = self.drivers().volumes.capacity()?;
        let gb = |b: u64| (b as f64 / (1u64 << 30) as f64 * 100.0).round() / 100.0;
        Ok(vec![VolumePool {
            name: pool_name(),
            backend: BACKEND,
            total_gb: gb(total),
            free_gb: gb(free),
            updated_at: now_ms(),
        }])
    }

    /// The pool at `host` (a back-end host or pool name).
    pub fn volume_backend(&self, ctx: &Ctx, host: &str) -> Result<VolumePool, Error> {
        self.volume_pools(ctx)?
            .into_iter()
            .find(|p| p.name == host || host_matches(&backend_host(), host))
            .ok_or_else(|| Error::not_found("volume back end", host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_end_takes_types_whose_capabilities_it_has() {
        let specs = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(backend_accepts(&specs(&[])));
        assert!(backend_accepts(&specs(&[("volume_backend_name", "local"), ("multiattach", "<is> True")])));
        assert!(backend_accepts(&specs(&[("capabilities:vendor_name", "Open Source"), ("x", "y")])));
        assert!(!backend_accepts(&specs(&[("volume_backend_name", "lvm")])));
        assert!(!backend_accepts(&specs(&[("storage_protocol", "iSCSI")])));
        assert!(!backend_accepts(&specs(&[("capabilities:vendor_name", "Acme")])));
    }

    #[test]
    fn host_filters_match_as_cinders_do() {
        assert!(host_matches("nimbus@local", "nimbus"));
        assert!(host_matches("nimbus@local", "nimbus@local"));
        assert!(host_matches("nimbus@local#local", "nimbus@local"));
        assert!(!host_matches("nimbus@local", "nim"));
        assert!(!host_matches("nimbus", "invalid_host"));
    }
}
