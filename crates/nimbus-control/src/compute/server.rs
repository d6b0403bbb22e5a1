//! Servers (ECS, seed 6.1.1; Nova v2.1 and ECS v1 front ends): create in batches, show,
//! list, rename, delete, power actions, resize, rebuild, snapshots to images, console logs,
//! metadata and tags.
//!
//! Each call authorises, validates, then in one transaction charges quota, places the
//! servers (see `scheduler.rs`), writes the rows, their usage events, the audit trace and the
//! durable jobs that do the work (see `server_jobs.rs`). The API answers at once with the
//! servers in `BUILD` (or the action's transitional state); the jobs drive QEMU.

use super::scheduler::{self, GroupPlacement, HostState, Ratios};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use base64::Engine;
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::compute::{self as catalog, Flavor};
use nimbus_store::images::{self as image_repo, Image, ImageFilter};
use nimbus_store::servers::{self as repo, Server, ServerFilter, ServerGroup, UsageEvent};
use serde_json::{json, Map, Value};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// The tag resource type of servers.
pub const TAG_KIND: &str = "server";

/// Nova power states.
pub const POWER_NOSTATE: i64 = 0;
pub const POWER_RUNNING: i64 = 1;
pub const POWER_SHUTDOWN: i64 = 4;

/// Largest `user_data` accepted, base64-encoded (Nova's limit).
const MAX_USER_DATA: usize = 65535;
/// Most servers one request may create (Huawei's batch limit).
const MAX_BATCH: u32 = 500;

/// How the servers of a multi-create are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// Nova: `name-1`, `name-2`...
    Nova,
    /// Huawei ECS `is_auto_rename`: `name-0001`, `name-0002`...
    Huawei,
    /// Every server gets the same name.
    Same,
}

/// A create request, as both front ends express it.
#[derive(Debug, Clone)]
pub struct ServerCreate {
    pub name: String,
    pub image_ref: String,
    pub flavor_ref: String,
    pub key_name: Option<String>,
    /// Base64, as the APIs carry it.
    pub user_data: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    pub min_count: u32,
    pub max_count: u32,
    pub server_group: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub naming: Naming,
    /// Nova's user-set access addresses and disk config.
    pub access: AccessUpdate,
    /// What the server boots from.
    pub boot: BootSource,
    /// Blank volumes made for each server and attached before it boots (ECS
    /// `data_volumes`), on `/dev/vdc` onwards.
    pub data_volumes: Vec<NewDataVolume>,
    /// NICs on virtual networks, in order; none: user-mode networking.
    pub nics: Vec<crate::network::NicRequest>,
    /// The security groups of the NICs made (names or ids); none: the default group.
    pub security_groups: Vec<String>,
    /// The VPC every NIC's network must be joined to (the native API names it).
    pub vpc_id: Option<String>,
}

/// A blank data volume made with a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDataVolume {
    pub size_gb: i64,
    /// A type id or name; `None`: the region's default type.
    pub volume_type: Option<String>,
    pub multiattach: bool,
    /// Whether it goes when the server goes.
    pub delete_on_termination: bool,
}

/// What a server boots from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BootSource {
    /// A copy-on-write overlay of `image_ref` on the host (the default).
    #[default]
    Image,
    /// An available volume of the project (Nova: `source_type=volume`).
    Volume { volume_id: String, delete_on_termination: bool },
    /// A new volume made from `image_ref` for each server (Nova: `source_type=image`,
    /// `destination_type=volume`); `size_gb` defaults to what the image needs.
    NewVolume { size_gb: Option<i64>, volume_type: Option<String>, delete_on_termination: bool },
}

/// A flavor with a local disk must hold the image (a flavor without one takes the image's
/// own size).
fn check_flavor_disk(flavor: &Flavor, needed_gb: i64) -> Result<(), Error> {
    if flavor.disk_gb > 0 && flavor.disk_gb < needed_gb {
        return Err(Error::bad_request(format!(
            "Flavor's disk is too small for requested image (the image needs {needed_gb} GiB)."
        )));
    }
    Ok(())
}

/// Whether a server boots from a volume (it then has no image: Nova shows `""`).
pub fn volume_backed(s: &Server) -> bool {
    s.image_id.is_empty()
}

/// Nova's `accessIPv4`, `accessIPv6` and `OS-DCF:diskConfig` (each `None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct AccessUpdate {
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub disk_config: Option<String>,
}

impl AccessUpdate {
    /// Validates and normalises (IPv6 in RFC 5952 form; an empty address clears it).
    fn checked(&self) -> Result<AccessUpdate, Error> {
        let ipv4 = match &self.ipv4 {
            Some(a) if !a.is_empty() => Some(
                a.parse::<std::net::Ipv4Addr>()
                    .map_err(|_| Error::bad_request(format!("accessIPv4 {a:?} is not an IPv4 address.")))?
                    .to_string(),
            ),
            other => other.clone(),
        };
        let ipv6 = match &self.ipv6 {
            Some(a) if !a.is_empty() => Some(
                a.parse::<std::net::Ipv6Addr>()
                    .map_err(|_| Error::bad_request(format!("accessIPv6 {a:?} is not an IPv6 address.")))?
                    .to_string(),
            ),
            other => other.clone(),
        };
        if let Some(d) = &self.disk_config {
            if d != "AUTO" && d != "MANUAL" {
                return Err(Error::bad_request("OS-DCF:diskConfig must be AUTO or MANUAL."));
            }
        }
        Ok(AccessUpdate { ipv4, ipv6, disk_config: self.disk_config.clone() })
    }

    fn apply(&self, s: &mut Server) {
        if let Some(a) = &self.ipv4 {
            s.access_ipv4 = a.clone();
        }
        if let Some(a) = &self.ipv6 {
            s.access_ipv6 = a.clone();
        }
        if let Some(d) = &self.disk_config {
            s.disk_config = d.clone();
        }
    }
}

impl ServerCreate {
    /// A request with defaults for everything optional.
    pub fn new(name: &str, image_ref: &str, flavor_ref: &str) -> Self {
        ServerCreate {
            name: name.into(),
            image_ref: image_ref.into(),
            flavor_ref: flavor_ref.into(),
            key_name: None,
            user_data: None,
            metadata: BTreeMap::new(),
            availability_zone: None,
            min_count: 1,
            max_count: 1,
            server_group: None,
            description: None,
            tags: Vec::new(),
            naming: Naming::Nova,
            access: AccessUpdate::default(),
            boot: BootSource::Image,
            data_volumes: Vec::new(),
            nics: Vec::new(),
            security_groups: Vec::new(),
            vpc_id: None,
        }
    }
}

/// What a create returns.
#[derive(Debug, Clone)]
pub struct ServersCreated {
    pub servers: Vec<Server>,
    /// The batch job (one sub-job per server).
    pub job_id: String,
    pub reservation_id: String,
}

/// A server with its tags.
#[derive(Debug, Clone)]
pub struct ServerView {
    pub server: Server,
    pub tags: Vec<String>,
    /// The volumes attached to it: id, and whether it goes with the server.
    pub volumes: Vec<(String, bool)>,
    /// The image its boot volume was made from (a server booted from a volume has no
    /// image of its own; Huawei's API shows this one).
    pub boot_image_id: Option<String>,
    /// Its addresses on virtual networks: each port's fixed ones, each followed by the
    /// floating IP bound to it.
    pub addresses: Vec<ServerAddress>,
}

/// An address of a server, as Nova lists them per network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    pub network: String,
    pub address: String,
    pub mac: String,
    /// A floating IP (EIP) rather than a fixed address.
    pub floating: bool,
}

/// An action on an existing server.
#[derive(Debug, Clone)]
pub enum ServerAction {
    Start,
    Stop,
    Reboot {
        hard: bool,
    },
    Resize {
        flavor_ref: String,
        disk_config: Option<String>,
    },
    ConfirmResize,
    RevertResize,
    Rebuild {
        image_ref: String,
        name: Option<String>,
        user_data: Option<Option<String>>,
        /// 2.54: a new key pair (`Some(None)` removes it).
        key_name: Option<Option<String>>,
        metadata: Option<BTreeMap<String, String>>,
        access: AccessUpdate,
    },
    CreateImage {
        name: String,
        metadata: BTreeMap<String, String>,
    },
}

impl ServerAction {
    fn name(&self) -> &'static str {
        match self {
            ServerAction::Start => "start",
            ServerAction::Stop => "stop",
            ServerAction::Reboot { .. } => "reboot",
            ServerAction::Resize { .. } => "resize",
            ServerAction::ConfirmResize => "confirmResize",
            ServerAction::RevertResize => "revertResize",
            ServerAction::Rebuild { .. } => "rebuild",
            ServerAction::CreateImage { .. } => "createImage",
        }
    }
}

/// What an action started.
#[derive(Debug, Clone, Default)]
pub struct ActionOutcome {
    pub job_id: Option<String>,
    /// The image a `createImage` is filling.
    pub image_id: Option<String>,
}

/// Server list filters as the APIs express them.
#[derive(Debug, Clone, Default)]
pub struct ServerQuery {
    pub all_tenants: bool,
    pub project_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub image: Option<String>,
    pub flavor: Option<String>,
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub reservation_id: Option<String>,
    pub changes_since: Option<i64>,
    /// Servers carrying all these tags.
    pub tags: Vec<String>,
}

/// The flavor as a server keeps it.
pub fn flavor_snapshot(f: &Flavor) -> Value {
    let extra: Value = serde_json::from_str(&f.extra_specs).unwrap_or_else(|_| json!({}));
    json!({
        "id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb,
        "ephemeral": f.ephemeral_gb, "swap": f.swap_mb, "extra_specs": extra,
    })
}

/// A host name derived from a display name (RFC 952: letters, digits, hyphens, 63 chars).
pub fn hostname_of(name: &str) -> String {
    let mut h: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    h.truncate(63);
    let h = h.trim_end_matches('-').to_string();
    if h.is_empty() {
        "server".into()
    } else {
        h
    }
}

fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

fn validate_name(what: &str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(Error::bad_request(format!("Invalid {what}: 1-255 characters, not only spaces.")));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(Error::bad_request(format!("Invalid {what}: control characters are not allowed.")));
    }
    Ok(())
}

/// Checks `user_data` is base64 within Nova's size limit.
pub fn decode_user_data(b64: &str) -> Result<Vec<u8>, Error> {
    if b64.len() > MAX_USER_DATA {
        return Err(Error::bad_request(format!("user_data is longer than {MAX_USER_DATA} characters.")));
    }
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Error::bad_request("user_data must be base64-encoded."))
}

/// Nova's metadata rules: string keys of 1-255 characters, values up to 255.
pub fn validate_metadata(m: &BTreeMap<String, String>, limit: i64) -> Result<(), Error> {
    if m.len() as i64 > limit {
        return Err(Error::OverQuota {
            resource: "metadata_items".into(),
            limit,
            in_use: 0,
            requested: m.len() as i64,
        });
    }
    for (k, v) in m {
        if k.is_empty() || k.chars().count() > 255 {
            return Err(Error::bad_request(format!("Invalid metadata key {k:?}: 1-255 characters.")));
        }
        if v.chars().count() > 255 {
            return Err(Error::bad_request(format!("The metadata value of {k:?} is longer than 255 characters.")));
        }
    }
    Ok(())
}

/// The host's CPUs and RAM, measured once.
fn measured_host() -> (i64, i64) {
    static HOST: std::sync::OnceLock<(i64, i64)> = std::sync::OnceLock::new();
    *HOST.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
        let mem_kb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<i64>().ok()))
            })
            .unwrap_or(4 << 20);
        (cpus, mem_kb / 1024)
    })
}

/// The name of this region's (single, for now) compute host.
pub const LOCAL_HOST: &str = "nimbus-local";

impl Control {
    fn server_project(ctx: &Ctx) -> Result<String, Error> {
        ctx.principal
            .project_id()
            .map(str::to_string)
            .ok_or_else(|| Error::Forbidden("Servers belong to projects: use a project-scoped token.".into()))
    }

    /// Loads a server the caller may read (404 otherwise, also for other tenants' servers).
    pub(crate) async fn load_server(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<Server, Error> {
        let s = repo::get(c, id).await?;
        let project = s.as_ref().map(|s| s.project_id.clone()).unwrap_or_default();
        let target = Target { project_id: Some(&project), ..Default::default() };
        authorize_visible("compute:get", "compute:get", &ctx.principal, &target, "server", id)?;
        s.ok_or_else(|| Error::not_found("server", id))
    }

    /// Loads a server the caller may change.
    pub(crate) async fn load_server_for(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<Server, Error> {
        let s = self.load_server(c, ctx, id).await?;
        authorize(action, &ctx.principal, &Target { project_id: Some(&s.project_id), ..Default::default() })?;
        Ok(s)
    }

    /// A flavor by id or name that `project` may use.
    pub(crate) async fn usable_flavor(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        project: &str,
        flavor_ref: &str,
    ) -> Result<Flavor, Error> {
        let f = match catalog::get_flavor(c, flavor_ref).await? {
            Some(f) => Some(f),
            None => catalog::get_flavor_by_name(c, flavor_ref).await?,
        };
        let missing = || Error::bad_request(format!("Flavor {flavor_ref} could not be found."));
        let f = f.filter(|f| !f.disabled).ok_or_else(missing)?;
        if !f.is_public && !ctx.principal.is_admin() && !catalog::has_flavor_access(c, &f.id, project).await? {
            return Err(missing());
        }
        Ok(f)
    }

    /// An active image by id or name that the caller may boot.
    pub(crate) async fn bootable_image(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        image_ref: &str,
    ) -> Result<Image, Error> {
        let missing = || Error::bad_request(format!("Can not find requested image {image_ref}."));
        let image = match self.load_image(c, ctx, image_ref).await {
            Ok(i) => i,
            Err(Error::NotFound { .. }) => {
                let filter = ImageFilter { name: Some(image_ref.into()), ..Default::default() };
                let mut found = Vec::new();
                for i in image_repo::list(c, &filter, &PageRequest::default()).await? {
                    if i.status != "deleted" && self.can_see(c, ctx, &i).await? {
                        found.push(i);
                    }
                }
                match found.len() {
                    0 => return Err(missing()),
                    1 => found.remove(0),
                    _ => {
                        return Err(Error::bad_request(format!(
                            "More than one image is named {image_ref}: use its id."
                        )))
                    }
                }
            }
            Err(e) => return Err(e),
        };
        if image.status != "active" {
            return Err(Error::bad_request(format!("Image {} is not active (it is {}).", image.id, image.status)));
        }
        Ok(image)
    }

    /// The local host's capacity and what is placed on it.
    async fn host_state(&self, c: &mut AnyConnection) -> Result<HostState, Error> {
        let (cpus, mem) = measured_host();
        let cfg = self.config();
        let (_, used_vcpus, used_memory_mb) = repo::host_usage(c, LOCAL_HOST).await?;
        Ok(HostState {
            name: LOCAL_HOST.into(),
            zones: cfg.availability_zones.clone(),
            vcpus: cfg.host_vcpus.unwrap_or(cpus),
            memory_mb: cfg.host_memory_mb.unwrap_or((mem - cfg.reserved_host_memory_mb).max(0)),
            used_vcpus,
            used_memory_mb,
        })
    }

    /// How many of `want` servers of `flavor` the project's quotas allow.
    async fn quota_headroom(
        &self,
        c: &mut AnyConnection,
        project: &str,
        flavor: &Flavor,
        want: i64,
    ) -> Result<i64, Error> {
        let usage: BTreeMap<String, i64> = nimbus_store::quota::usage(c, project).await?.into_iter().collect();
        let mut n = want;
        for (resource, per) in [("instances", 1), ("cores", flavor.vcpus), ("ram", flavor.ram_mb)] {
            let limit = self.quota_limit(c, project, resource).await?;
            if limit < 0 || per == 0 {
                continue;
            }
            let free = (limit - usage.get(resource).copied().unwrap_or(0)).max(0);
            n = n.min(free / per);
        }
        Ok(n)
    }

    /// Creates `min_count..=max_count` servers (as many as quotas allow, at least
    /// `min_count`), each with a build job under one batch job.
    pub async fn create_servers(&self, ctx: &Ctx, req: ServerCreate) -> Result<ServersCreated, Error> {
        let project = Self::server_project(ctx)?;
        authorize("compute:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        validate_name("server name", &req.name)?;
        if let Some(d) = &req.description {
            if d.chars().count() > 255 {
                return Err(Error::bad_request("Invalid description: at most 255 characters."));
            }
        }
        if req.min_count < 1 || req.max_count < req.min_count {
            return Err(Error::bad_request("min_count must be at least 1 and at most max_count."));
        }
        if req.max_count > MAX_BATCH {
            return Err(Error::bad_request(format!("At most {MAX_BATCH} servers can be created at once.")));
        }
        // vda is the boot disk and vdb the config drive: data volumes take vdc to vdz.
        if req.data_volumes.len() > crate::volumes::MAX_VOLUMES_PER_SERVER - 1 {
            return Err(Error::bad_request(format!(
                "At most {} data volumes can be made with a server.",
                crate::volumes::MAX_VOLUMES_PER_SERVER - 1
            )));
        }
        if let Some(u) = &req.user_data {
            decode_user_data(u)?;
        }
        if req.max_count > 1 && req.nics.iter().any(|n| n.port_id.is_some() || n.fixed_ip.is_some()) {
            return Err(Error::bad_request(
                "Unable to launch multiple instances with a single configured port or fixed IP.",
            ));
        }
        crate::tags::validate_string_tags(&req.tags)?;
        let access = req.access.checked()?;
        let zone = match &req.availability_zone {
            Some(z) if !self.config().availability_zones.contains(z) => {
                return Err(Error::bad_request(format!("The requested availability zone {z} is not available.")))
            }
            Some(z) => z.clone(),
            None => self.config().availability_zones.first().cloned().unwrap_or_default(),
        };

        let mut tx = self.store().write().await?;
        let meta_limit = self.quota_limit(&mut tx, &project, "metadata_items").await?;
        validate_metadata(&req.metadata, meta_limit)?;
        let flavor = self.usable_flavor(&mut tx, ctx, &project, &req.flavor_ref).await?;
        // A server booted from an existing volume has no image; the other two do.
        let image = match &req.boot {
            BootSource::Volume { .. } => None,
            _ => Some(self.bootable_image(&mut tx, ctx, &req.image_ref).await?),
        };
        // The existing volume booted from: one server only, in the server's zone, free.
        let boot_volume = match &req.boot {
            BootSource::Volume { volume_id, .. } => {
                if req.max_count > 1 {
                    return Err(Error::bad_request("One volume boots one server: max_count must be 1."));
                }
                let v = self.load_volume(&mut tx, ctx, volume_id, "volume:attach").await?;
                if v.project_id != project {
                    return Err(Error::not_found("volume", volume_id));
                }
                if v.status != "available" {
                    return Err(Error::bad_request(format!(
                        "Invalid volume: volume {} status must be 'available' to boot from it, not '{}'.",
                        v.id, v.status
                    )));
                }
                if v.availability_zone != zone {
                    return Err(Error::bad_request(format!(
                        "Invalid volume: the volume is in availability zone {} and the server in {zone}.",
                        v.availability_zone
                    )));
                }
                Some(v)
            }
            _ => None,
        };
        let image_needs = |image: &Image| image.min_disk.max((image.virtual_size.unwrap_or(0) + (1 << 30) - 1) >> 30);
        let min_ram = image.as_ref().map_or(0, |i| i.min_ram);
        if flavor.ram_mb < min_ram {
            return Err(Error::bad_request(format!(
                "Flavor's memory is too small for requested image (the image needs {min_ram} MiB)."
            )));
        }
        if let (Some(image), BootSource::Image) = (&image, &req.boot) {
            check_flavor_disk(&flavor, image_needs(image))?;
        }
        if let (Some(image), BootSource::NewVolume { size_gb: Some(size), .. }) = (&image, &req.boot) {
            if *size < image_needs(image) {
                return Err(Error::bad_request(format!(
                    "Volume is smaller than the minimum size specified in image metadata: the image needs {} GiB.",
                    image_needs(image)
                )));
            }
        }
        let key = match &req.key_name {
            Some(k) => Some(
                catalog::get_keypair(&mut tx, &ctx.principal.user_id, k)
                    .await?
                    .ok_or_else(|| Error::bad_request(format!("Invalid key_name provided: {k}.")))?,
            ),
            None => None,
        };
        let group = match &req.server_group {
            Some(g) => {
                let found = repo::get_group(&mut tx, g).await?.filter(|g| g.project_id == project);
                Some(found.ok_or_else(|| Error::bad_request(format!("Server group {g} could not be found.")))?)
            }
            None => None,
        };

        // Quotas: as many as fit, at least min_count.
        let want = req.max_count as i64;
        let n = self.quota_headroom(&mut tx, &project, &flavor, want).await?.min(want);
        if n < req.min_count as i64 {
            // Charge min_count to report which resource is short, in the quota error's words.
            for (resource, per) in [("instances", 1), ("cores", flavor.vcpus), ("ram", flavor.ram_mb)] {
                self.charge_quota(&mut tx, &project, resource, per * req.min_count as i64).await?;
            }
            return Err(Error::OverQuota { resource: "instances".into(), limit: 0, in_use: 0, requested: want });
        }
        if let Some(g) = &group {
            let members = repo::group_members(&mut tx, &g.id).await?.len() as i64;
            let limit = self.quota_limit(&mut tx, &project, "server_group_members").await?;
            if limit >= 0 && members + n > limit {
                return Err(Error::OverQuota {
                    resource: "server_group_members".into(),
                    limit,
                    in_use: members,
                    requested: n,
                });
            }
        }
        self.charge_quota(&mut tx, &project, "instances", n).await?;
        self.charge_quota(&mut tx, &project, "cores", n * flavor.vcpus).await?;
        self.charge_quota(&mut tx, &project, "ram", n * flavor.ram_mb).await?;

        let now = now_ms();
        let reservation_id = format!("r-{}", &nimbus_core::id::new_hex_id()[..8]);
        let snapshot = flavor_snapshot(&flavor).to_string();
        let ratios = Ratios { cpu: self.config().cpu_allocation_ratio, ram: self.config().ram_allocation_ratio };
        let job_id = self
            .new_job_with(
                &mut tx,
                &project,
                super::server_jobs::CREATE_BATCH,
                json!({"action": "createServer"}),
                None,
                json!({}),
            )
            .await?;
        let mut servers = Vec::new();
        for i in 0..n {
            let name = match (n, req.naming) {
                (1, _) | (_, Naming::Same) => req.name.clone(),
                (_, Naming::Nova) => format!("{}-{}", req.name, i + 1),
                (_, Naming::Huawei) => format!("{}-{:04}", req.name, i + 1),
            };
            let mut host = self.host_state(&mut tx).await?;
            let placement = match &group {
                Some(g) => {
                    let rules: Value = serde_json::from_str(&g.rules).unwrap_or_default();
                    Some(GroupPlacement {
                        policy: g.policy.clone(),
                        member_hosts: repo::group_members(&mut tx, &g.id)
                            .await?
                            .into_iter()
                            .filter_map(|m| m.host)
                            .collect(),
                        max_per_host: rules["max_server_per_host"].as_i64().unwrap_or(1),
                    })
                }
                None => None,
            };
            let placed = scheduler::place(
                std::slice::from_mut(&mut host),
                ratios,
                &scheduler::Request {
                    vcpus: flavor.vcpus,
                    memory_mb: flavor.ram_mb,
                    zone: Some(&zone),
                    group: placement.as_ref(),
                },
            );
            let mut s = Server {
                id: uuid::Uuid::new_v4().to_string(),
                project_id: project.clone(),
                user_id: ctx.principal.user_id.clone(),
                hostname: hostname_of(&name),
                name,
                description: req.description.clone(),
                flavor_id: flavor.id.clone(),
                flavor: snapshot.clone(),
                old_flavor: None,
                vcpus: flavor.vcpus,
                ram_mb: flavor.ram_mb,
                disk_gb: flavor.disk_gb,
                image_id: match (&req.boot, &image) {
                    (BootSource::Image, Some(i)) => i.id.clone(),
                    _ => String::new(),
                },
                key_name: key.as_ref().map(|k| k.name.clone()),
                key_data: key.as_ref().map(|k| k.public_key.clone()),
                user_data: req.user_data.clone(),
                metadata: serde_json::to_string(&req.metadata)?,
                availability_zone: zone.clone(),
                host: None,
                status: "BUILD".into(),
                vm_state: "building".into(),
                task_state: Some("scheduling".into()),
                power_state: POWER_NOSTATE,
                fault_code: None,
                fault_message: None,
                fault_at: None,
                mac: random_mac(),
                server_group_id: group.as_ref().map(|g| g.id.clone()),
                reservation_id: reservation_id.clone(),
                launch_index: i,
                config_drive: true,
                locked: false,
                launched_at: None,
                created_at: now + i,
                updated_at: now,
                version: 0,
                access_ipv4: String::new(),
                access_ipv6: String::new(),
                disk_config: "MANUAL".into(),
            };
            access.apply(&mut s);
            let sub_status = match placed {
                Ok(_) => {
                    s.host = Some(LOCAL_HOST.into());
                    s.task_state = Some("spawning".into());
                    None
                }
                Err(why) => {
                    s.status = "ERROR".into();
                    s.vm_state = "error".into();
                    s.task_state = None;
                    s.fault_code = Some(500);
                    s.fault_message = Some(why);
                    s.fault_at = Some(now);
                    Some(s.fault_message.clone().unwrap_or_default())
                }
            };
            repo::insert(&mut tx, &s).await?;
            let nic_owner = crate::network::ServerNic {
                id: &s.id,
                project_id: &s.project_id,
                availability_zone: &s.availability_zone,
                mac: &s.mac,
            };
            if let Some(vpc) = &req.vpc_id {
                self.check_nics_in_vpc(&mut tx, ctx, vpc, &req.nics).await?;
            }
            self.bind_server_ports(&mut tx, ctx, &nic_owner, &req.nics, &req.security_groups).await?;
            self.add_boot_volume(&mut tx, ctx, &s, &req.boot, image.as_ref(), boot_volume.as_ref()).await?;
            self.add_data_volumes(&mut tx, ctx, &s, &req.data_volumes).await?;
            self.replace_string_tags(&mut tx, TAG_KIND, &s.id, &project, &req.tags).await?;
            self.usage_event(&mut tx, &s, "created").await?;
            let sub = self
                .new_job_with(
                    &mut tx,
                    &project,
                    super::server_jobs::BUILD_JOB,
                    json!({"server_id": s.id}),
                    Some(&job_id),
                    json!({"server_id": s.id}),
                )
                .await?;
            if let Some(reason) = sub_status {
                // Nothing to build: the sub-job fails at once with the scheduler's reason.
                nimbus_store::jobs::finish(&mut tx, &sub, "FAIL", Some("Ecs.0000"), Some(&reason), now).await?;
            }
            self.audit(&mut tx, ctx, AuditEvent::new("ECS", "ecs", "createServer", 202).resource(&s.id, &s.name))
                .await?;
            servers.push(s);
        }
        tx.commit().await?;
        self.wake_jobs();
        self.wake_network();
        Ok(ServersCreated { servers, job_id, reservation_id })
    }

    /// Gives a new server its boot volume: the existing one, reserved (`attaching`), or a
    /// new one made from the image by its own create job. The build waits for it.
    async fn add_boot_volume(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        s: &Server,
        boot: &BootSource,
        image: Option<&Image>,
        existing: Option<&nimbus_store::volumes::Volume>,
    ) -> Result<(), Error> {
        use nimbus_store::volumes as volumes_repo;
        let (volume_id, delete_on_termination) = match (boot, existing, image) {
            (BootSource::Image, _, _) => return Ok(()),
            (BootSource::Volume { delete_on_termination, .. }, Some(v), _) => {
                let mut v = v.clone();
                v.status = "attaching".into();
                v.updated_at = Some(now_ms());
                volumes_repo::update(tx, &v).await?;
                (v.id, *delete_on_termination)
            }
            (BootSource::NewVolume { size_gb, volume_type, delete_on_termination }, _, Some(image)) => {
                let needed = image.min_disk.max((image.virtual_size.unwrap_or(0) + (1 << 30) - 1) >> 30).max(1);
                let req = crate::volumes::VolumeCreate {
                    name: Some(format!("{}-boot", s.name)),
                    size_gb: Some(size_gb.unwrap_or(needed)),
                    volume_type: volume_type.clone(),
                    availability_zone: Some(s.availability_zone.clone()),
                    image_id: Some(image.id.clone()),
                    ..Default::default()
                };
                let (v, _job) = self.insert_volume_in(tx, ctx, req, None).await?;
                (v.id, *delete_on_termination)
            }
            _ => return Err(Error::Internal("a boot volume without its source".into())),
        };
        let a = volumes_repo::Attachment {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id,
            server_id: s.id.clone(),
            device: volumes_repo::BOOT_DEVICE.into(),
            status: "attaching".into(),
            attached_at: Some(now_ms()),
            delete_on_termination,
        };
        volumes_repo::insert_attachment(tx, &a).await
    }

    /// Gives a new server its blank data volumes, each made by its own create job and
    /// attached (`attaching`) on the next free device; the build waits for them. They stay
    /// when the server goes unless made to go with it (or the delete asks).
    async fn add_data_volumes(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        s: &Server,
        wanted: &[NewDataVolume],
    ) -> Result<(), Error> {
        use nimbus_store::volumes as volumes_repo;
        for (i, d) in wanted.iter().enumerate() {
            let req = crate::volumes::VolumeCreate {
                name: Some(format!("{}-data{}", s.name, i + 1)),
                size_gb: Some(d.size_gb),
                volume_type: d.volume_type.clone(),
                availability_zone: Some(s.availability_zone.clone()),
                multiattach: d.multiattach,
                ..Default::default()
            };
            let (v, _job) = self.insert_volume_in(tx, ctx, req, None).await?;
            let a = volumes_repo::Attachment {
                id: uuid::Uuid::new_v4().to_string(),
                volume_id: v.id,
                server_id: s.id.clone(),
                device: crate::volumes::data_device(i),
                status: "attaching".into(),
                attached_at: Some(now_ms()),
                delete_on_termination: d.delete_on_termination,
            };
            volumes_repo::insert_attachment(tx, &a).await?;
        }
        Ok(())
    }

    /// Records a billable change (metering reads these).
    pub(crate) async fn usage_event(&self, tx: &mut AnyConnection, s: &Server, event: &str) -> Result<(), Error> {
        repo::insert_usage(
            tx,
            &UsageEvent {
                id: nimbus_core::id::new_hex_id(),
                project_id: s.project_id.clone(),
                resource_type: "ecs".into(),
                resource_id: s.id.clone(),
                event: event.into(),
                flavor: Some(s.flavor_id.clone()),
                detail: json!({"vcpus": s.vcpus, "ram_mb": s.ram_mb, "disk_gb": s.disk_gb, "name": s.name}).to_string(),
                at: now_ms(),
            },
        )
        .await
    }

    async fn view_server(&self, c: &mut AnyConnection, server: Server) -> Result<ServerView, Error> {
        let tags = self.resource_tags(c, TAG_KIND, &server.id).await?.into_iter().map(|(k, _)| k).collect();
        let attachments = nimbus_store::volumes::server_attachments(c, &server.id).await?;
        let boot_image_id = match attachments.iter().find(|a| a.is_boot()) {
            Some(a) => nimbus_store::volumes::get(c, &a.volume_id).await?.and_then(|v| v.image_id),
            None => None,
        };
        let volumes = attachments
            .into_iter()
            .filter(|a| a.status != "attaching")
            .map(|a| (a.volume_id, a.delete_on_termination))
            .collect();
        let mut addresses = Vec::new();
        for p in nimbus_store::network::device_ports(c, &server.id).await? {
            let name = nimbus_store::network::get_network(c, &p.network_id).await?.map(|n| n.name).unwrap_or_default();
            let floating = nimbus_store::l3::port_floating_ips(c, &p.id).await?;
            for f in nimbus_store::network::port_fixed_ips(c, &p.id).await? {
                let fip = floating.iter().find(|x| x.fixed_ip_address.as_deref() == Some(f.ip_address.as_str()));
                addresses.push(ServerAddress {
                    network: name.clone(),
                    address: f.ip_address,
                    mac: p.mac_address.clone(),
                    floating: false,
                });
                if let Some(fip) = fip {
                    addresses.push(ServerAddress {
                        network: name.clone(),
                        address: fip.floating_ip_address.clone(),
                        mac: p.mac_address.clone(),
                        floating: true,
                    });
                }
            }
        }
        Ok(ServerView { server, tags, volumes, boot_image_id, addresses })
    }

    /// One server.
    pub async fn get_server(&self, ctx: &Ctx, id: &str) -> Result<ServerView, Error> {
        let mut c = self.store().read().await?;
        let s = self.load_server(&mut c, ctx, id).await?;
        self.view_server(&mut c, s).await
    }

    /// Servers of the caller's project (or, for admins asking `all_tenants`, of the region).
    pub async fn list_servers(&self, ctx: &Ctx, q: &ServerQuery, page: &PageRequest) -> Result<Vec<ServerView>, Error> {
        let mut c = self.store().read().await?;
        let own = ctx.principal.project_id().map(str::to_string);
        let project = if ctx.principal.can_read_all() && (q.all_tenants || own.is_none()) {
            q.project_id.clone()
        } else {
            let p = Self::server_project(ctx)?;
            authorize("compute:get", &ctx.principal, &Target { project_id: Some(&p), ..Default::default() })?;
            Some(p)
        };
        let mut ids: Option<Vec<String>> = None;
        for tag in &q.tags {
            let with: Vec<String> = nimbus_store::tags::resources_with_tag(&mut c, TAG_KIND, tag).await?;
            ids = Some(match ids {
                None => with,
                Some(prev) => prev.into_iter().filter(|i: &String| with.contains(i)).collect::<Vec<String>>(),
            });
        }
        // Nova filters names by regular expression: match in memory over the other filters'
        // result, then page (a project holds at most its instance quota of servers).
        let name_re = match &q.name {
            Some(n) => {
                Some(regex::Regex::new(n).map_err(|_| Error::bad_request(format!("Invalid name filter {n:?}.")))?)
            }
            None => None,
        };
        let filter = ServerFilter {
            project_id: project,
            name_contains: None,
            status: q.status.as_ref().map(|s| s.to_ascii_uppercase()),
            image_id: q.image.clone(),
            flavor_id: q.flavor.clone(),
            availability_zone: q.availability_zone.clone(),
            host: q.host.clone().filter(|_| ctx.principal.can_read_all()),
            reservation_id: q.reservation_id.clone(),
            changes_since: q.changes_since,
            ids,
            ..Default::default()
        };
        let rows = match &name_re {
            None => repo::list(&mut c, &filter, page).await?,
            Some(re) => {
                let all = repo::list(&mut c, &filter, &PageRequest { limit: Some(u32::MAX), marker: None }).await?;
                let matching: Vec<Server> = all.into_iter().filter(|s| re.is_match(&s.name)).collect();
                let start = match &page.marker {
                    Some(m) => matching.iter().position(|s| &s.id == m).map(|i| i + 1).unwrap_or(matching.len()),
                    None => 0,
                };
                matching.into_iter().skip(start).take(page.effective_limit() as usize).collect()
            }
        };
        let mut out = Vec::new();
        for s in rows {
            out.push(self.view_server(&mut c, s).await?);
        }
        Ok(out)
    }

    /// Renames a server or changes its description.
    pub async fn update_server(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<Option<String>>,
        access: AccessUpdate,
    ) -> Result<ServerView, Error> {
        let access = access.checked()?;
        if let Some(n) = &name {
            validate_name("server name", n)?;
        }
        if let Some(Some(d)) = &description {
            if d.chars().count() > 255 {
                return Err(Error::bad_request("Invalid description: at most 255 characters."));
            }
        }
        let mut tx = self.store().write().await?;
        let mut s = self.load_server_for(&mut tx, ctx, id, "compute:update").await?;
        if let Some(n) = name {
            s.name = n;
        }
        if let Some(d) = description {
            s.description = d;
        }
        access.apply(&mut s);
        s.updated_at = now_ms();
        s.version = repo::update(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "updateServer", 200).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        let v = self.view_server(&mut tx, s).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Deletes a server: marks it `deleting` and queues the job that destroys the guest,
    /// removes the row and gives the quota back. Deleting twice is not an error.
    pub async fn delete_server(&self, ctx: &Ctx, id: &str) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let s = self.load_server_for(&mut tx, ctx, id, "compute:delete").await?;
        let job = self.queue_delete(&mut tx, ctx, s, None).await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job)
    }

    async fn queue_delete(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        mut s: Server,
        parent: Option<&str>,
    ) -> Result<String, Error> {
        if s.task_state.as_deref() != Some("deleting") {
            s.task_state = Some("deleting".into());
            s.updated_at = now_ms();
            repo::update(tx, &s).await?;
        }
        let job = self
            .new_job_with(
                tx,
                &s.project_id,
                super::server_jobs::DELETE_JOB,
                json!({"server_id": s.id}),
                parent,
                json!({"server_id": s.id}),
            )
            .await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "deleteServer", 204).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        Ok(job)
    }

    /// Runs an action on one server.
    pub async fn server_action(&self, ctx: &Ctx, id: &str, action: ServerAction) -> Result<ActionOutcome, Error> {
        let mut tx = self.store().write().await?;
        let s = self.load_server_for(&mut tx, ctx, id, "compute:action").await?;
        let outcome = self.queue_action(&mut tx, ctx, s, &action, None).await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(outcome)
    }

    /// Huawei batch actions and deletes: one parent job with a sub-job per server. Every id
    /// must name a server of the project the caller may change, or nothing happens.
    /// `delete_data_volumes`: on delete, the volumes attached go too.
    pub async fn batch_server_action(
        &self,
        ctx: &Ctx,
        project_id: &str,
        ids: &[String],
        action: Option<ServerAction>,
        delete_data_volumes: bool,
    ) -> Result<String, Error> {
        if ids.is_empty() {
            return Err(Error::bad_request("Name at least one server."));
        }
        if ids.len() > 1000 {
            return Err(Error::bad_request("At most 1000 servers per request."));
        }
        let mut tx = self.store().write().await?;
        let what = action.as_ref().map(|a| a.name()).unwrap_or("delete");
        let batch_type = {
            use super::server_jobs::*;
            match &action {
                None => DELETE_BATCH,
                Some(ServerAction::Start) => START_BATCH,
                Some(ServerAction::Stop) => STOP_BATCH,
                Some(ServerAction::Reboot { .. }) => REBOOT_BATCH,
                Some(_) => OTHER_BATCH,
            }
        };
        let parent =
            self.new_job_with(&mut tx, project_id, batch_type, json!({"action": what}), None, json!({})).await?;
        for id in ids {
            let s = self.load_server(&mut tx, ctx, id).await?;
            if s.project_id != project_id {
                return Err(Error::not_found("server", id));
            }
            let perm = if action.is_some() { "compute:action" } else { "compute:delete" };
            authorize(perm, &ctx.principal, &Target { project_id: Some(&s.project_id), ..Default::default() })?;
            match &action {
                Some(a) => {
                    self.queue_action(&mut tx, ctx, s, a, Some(&parent)).await?;
                }
                None => {
                    // ECS `delete_volume`: the data volumes go with the server (its system
                    // disk always does).
                    if delete_data_volumes {
                        nimbus_store::volumes::set_delete_on_termination(&mut tx, &s.id, true).await?;
                    }
                    self.queue_delete(&mut tx, ctx, s, Some(&parent)).await?;
                }
            }
        }
        tx.commit().await?;
        self.wake_jobs();
        Ok(parent)
    }

    /// Checks the action is allowed in the server's state, records the transition, and
    /// queues its job.
    async fn queue_action(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        mut s: Server,
        action: &ServerAction,
        parent: Option<&str>,
    ) -> Result<ActionOutcome, Error> {
        use super::server_jobs as jobs;
        let name = action.name();
        let conflict = |s: &Server| {
            Error::Conflict(format!(
                "Cannot '{name}' instance {} while it is in vm_state {} (task_state {}).",
                s.id,
                s.vm_state,
                s.task_state.as_deref().unwrap_or("none")
            ))
        };
        if s.locked && !ctx.principal.is_admin() {
            return Err(Error::Conflict(format!("Instance {} is locked: unlock it first.", s.id)));
        }
        // Only a hard reboot may interrupt a task still running (Nova's rule).
        let hard_reboot = matches!(action, ServerAction::Reboot { hard: true });
        if s.task_state.is_some() && !(hard_reboot && s.task_state.as_deref() != Some("deleting")) {
            return Err(conflict(&s));
        }
        let mut params = json!({"server_id": s.id});
        let mut outcome = ActionOutcome::default();
        let job_type = match action {
            ServerAction::Start => {
                if s.status != "SHUTOFF" {
                    return Err(conflict(&s));
                }
                s.task_state = Some("powering-on".into());
                jobs::START_JOB
            }
            ServerAction::Stop => {
                if !matches!(s.status.as_str(), "ACTIVE" | "ERROR") {
                    return Err(conflict(&s));
                }
                s.task_state = Some("powering-off".into());
                jobs::STOP_JOB
            }
            ServerAction::Reboot { hard } => {
                let allowed = if *hard { &["ACTIVE", "SHUTOFF", "ERROR", "REBOOT"][..] } else { &["ACTIVE"][..] };
                if !allowed.contains(&s.status.as_str()) {
                    return Err(conflict(&s));
                }
                s.status = if *hard { "HARD_REBOOT" } else { "REBOOT" }.into();
                s.task_state = Some(if *hard { "rebooting_hard" } else { "rebooting" }.into());
                params["hard"] = json!(hard);
                jobs::REBOOT_JOB
            }
            ServerAction::Resize { flavor_ref, disk_config } => {
                AccessUpdate { disk_config: disk_config.clone(), ..Default::default() }.checked()?.apply(&mut s);
                if !matches!(s.status.as_str(), "ACTIVE" | "SHUTOFF") {
                    return Err(conflict(&s));
                }
                let f = self.usable_flavor(tx, ctx, &s.project_id, flavor_ref).await?;
                if f.id == s.flavor_id {
                    return Err(Error::bad_request("When resizing, instances must change flavor!"));
                }
                if f.disk_gb < s.disk_gb {
                    return Err(Error::bad_request("Resize to a flavor with a smaller disk is not allowed."));
                }
                let (dc, dr) = (f.vcpus - s.vcpus, f.ram_mb - s.ram_mb);
                if dc > 0 {
                    self.charge_quota(tx, &s.project_id, "cores", dc).await?;
                }
                if dr > 0 {
                    self.charge_quota(tx, &s.project_id, "ram", dr).await?;
                }
                params["was_running"] = json!(s.status == "ACTIVE");
                s.old_flavor = Some(s.flavor.clone());
                s.flavor = flavor_snapshot(&f).to_string();
                s.flavor_id = f.id.clone();
                s.vcpus = f.vcpus;
                s.ram_mb = f.ram_mb;
                s.disk_gb = f.disk_gb;
                s.status = "RESIZE".into();
                s.task_state = Some("resize_prep".into());
                jobs::RESIZE_JOB
            }
            ServerAction::ConfirmResize | ServerAction::RevertResize => {
                if s.status != "VERIFY_RESIZE" {
                    return Err(conflict(&s));
                }
                let old: Value = serde_json::from_str(s.old_flavor.as_deref().unwrap_or("{}")).unwrap_or_default();
                let (old_cpu, old_ram) =
                    (old["vcpus"].as_i64().unwrap_or(s.vcpus), old["ram"].as_i64().unwrap_or(s.ram_mb));
                if matches!(action, ServerAction::ConfirmResize) {
                    // The old flavor's share of a downsize is given back now.
                    self.release_quota(tx, &s.project_id, "cores", (old_cpu - s.vcpus).max(0)).await?;
                    self.release_quota(tx, &s.project_id, "ram", (old_ram - s.ram_mb).max(0)).await?;
                    s.task_state = Some("resize_finish".into());
                    jobs::CONFIRM_RESIZE_JOB
                } else {
                    self.release_quota(tx, &s.project_id, "cores", (s.vcpus - old_cpu).max(0)).await?;
                    self.release_quota(tx, &s.project_id, "ram", (s.ram_mb - old_ram).max(0)).await?;
                    s.status = "REVERT_RESIZE".into();
                    s.task_state = Some("resize_reverting".into());
                    jobs::REVERT_RESIZE_JOB
                }
            }
            ServerAction::Rebuild { image_ref, name, user_data, key_name, metadata, access } => {
                if !matches!(s.status.as_str(), "ACTIVE" | "SHUTOFF" | "ERROR") {
                    return Err(conflict(&s));
                }
                if volume_backed(&s) {
                    return Err(Error::bad_request(
                        "Rebuilding a server booted from a volume is not offered: its disk is the volume's.",
                    ));
                }
                access.checked()?.apply(&mut s);
                if let Some(k) = key_name {
                    match k {
                        Some(k) => {
                            let kp = catalog::get_keypair(tx, &ctx.principal.user_id, k)
                                .await?
                                .ok_or_else(|| Error::bad_request(format!("Invalid key_name provided: {k}.")))?;
                            s.key_name = Some(kp.name);
                            s.key_data = Some(kp.public_key);
                        }
                        None => {
                            s.key_name = None;
                            s.key_data = None;
                        }
                    }
                }
                if let Some(m) = metadata {
                    let limit = self.quota_limit(tx, &s.project_id, "metadata_items").await?;
                    validate_metadata(m, limit)?;
                    s.metadata = serde_json::to_string(m)?;
                }
                let image = self.bootable_image(tx, ctx, image_ref).await?;
                if let Some(n) = name {
                    validate_name("server name", n)?;
                    s.name = n.clone();
                }
                if let Some(u) = user_data {
                    if let Some(u) = u {
                        decode_user_data(u)?;
                    }
                    s.user_data = u.clone();
                }
                params["was_running"] = json!(s.status != "SHUTOFF");
                s.image_id = image.id;
                s.status = "REBUILD".into();
                s.task_state = Some("rebuilding".into());
                jobs::REBUILD_JOB
            }
            ServerAction::CreateImage { name, metadata } => {
                if !matches!(s.status.as_str(), "ACTIVE" | "SHUTOFF") {
                    return Err(conflict(&s));
                }
                if volume_backed(&s) {
                    return Err(Error::Conflict(
                        "A server booted from a volume is saved by a snapshot or backup of that volume.".into(),
                    ));
                }
                validate_metadata(metadata, 128)?;
                let image_id = self.snapshot_image_record(tx, ctx, &s, name, metadata).await?;
                params["image_id"] = json!(image_id);
                outcome.image_id = Some(image_id);
                s.task_state = Some("image_snapshot".into());
                jobs::SNAPSHOT_JOB
            }
        };
        s.updated_at = now_ms();
        repo::update(tx, &s).await?;
        let job = self.new_job_with(tx, &s.project_id, job_type, params, parent, json!({"server_id": s.id})).await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::new("ECS", "ecs", &format!("{name}Server"), 202)
                .resource(&s.id, &s.name)
                .in_project(&s.project_id),
        )
        .await?;
        outcome.job_id = Some(job);
        Ok(outcome)
    }

    /// The queued image a snapshot fills, owned by the server's project.
    async fn snapshot_image_record(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        s: &Server,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        validate_name("image name", name)?;
        let mut props = Map::new();
        for (k, v) in metadata {
            if crate::images::RESERVED.contains(&k.as_str()) {
                return Err(Error::bad_request(format!("Image property {k:?} is reserved.")));
            }
            props.insert(k.clone(), json!(v));
        }
        // Nova keeps an image_type the caller gave.
        props.entry("image_type").or_insert_with(|| json!("snapshot"));
        props.insert("instance_uuid".into(), json!(s.id));
        props.insert("base_image_ref".into(), json!(s.image_id));
        props.insert("owner_user_name".into(), json!(ctx.principal.user_name));
        // The snapshot needs what its base image needed (Nova copies these).
        let base = image_repo::get(tx, &s.image_id).await?;
        let (base_ram, base_disk) = base.map(|b| (b.min_ram, b.min_disk)).unwrap_or((0, 0));
        let queued = crate::images::QueuedImage {
            owner: s.project_id.clone(),
            name: name.into(),
            disk_format: "qcow2".into(),
            min_disk: s.disk_gb.max(base_disk),
            min_ram: base_ram,
            properties: props,
        };
        self.queue_image(tx, ctx, queued).await
    }

    /// The last `lines` lines (all when `None`) of the server's serial console.
    pub async fn console_output(&self, ctx: &Ctx, id: &str, lines: Option<i64>) -> Result<String, Error> {
        let s = {
            let mut c = self.store().read().await?;
            self.load_server_for(&mut c, ctx, id, "compute:console").await?
        };
        if s.host.is_none() {
            return Err(Error::Conflict(format!("Server {id} has no console: it was never placed on a host.")));
        }
        let log = self.drivers().hypervisor.console_log(&s.id, 1 << 20).await?;
        Ok(match lines {
            Some(n) if n >= 0 => {
                let all: Vec<&str> = log.lines().collect();
                all[all.len().saturating_sub(n as usize)..].join("\n")
            }
            _ => log,
        })
    }

    /// Replaces (`replace`) or merges a server's metadata; returns the result.
    pub async fn set_server_metadata(
        &self,
        ctx: &Ctx,
        id: &str,
        items: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>, Error> {
        let mut tx = self.store().write().await?;
        let mut s = self.load_server_for(&mut tx, ctx, id, "compute:update").await?;
        let mut meta: BTreeMap<String, String> =
            if replace { BTreeMap::new() } else { serde_json::from_str(&s.metadata).unwrap_or_default() };
        meta.extend(items);
        let limit = self.quota_limit(&mut tx, &s.project_id, "metadata_items").await?;
        validate_metadata(&meta, limit)?;
        s.metadata = serde_json::to_string(&meta)?;
        s.updated_at = now_ms();
        repo::update(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "updateServerMetadata", 200)
                .resource(&s.id, &s.name)
                .in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(meta)
    }

    /// Removes one metadata key (404 when absent).
    pub async fn delete_server_metadata(&self, ctx: &Ctx, id: &str, key: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let mut s = self.load_server_for(&mut tx, ctx, id, "compute:update").await?;
        let mut meta: BTreeMap<String, String> = serde_json::from_str(&s.metadata).unwrap_or_default();
        if meta.remove(key).is_none() {
            return Err(Error::not_found("metadata item", key));
        }
        s.metadata = serde_json::to_string(&meta)?;
        s.updated_at = now_ms();
        repo::update(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "deleteServerMetadata", 204)
                .resource(&s.id, &s.name)
                .in_project(&s.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Replaces, adds or removes server tags; returns the tags after the change.
    pub async fn change_server_tags(
        &self,
        ctx: &Ctx,
        id: &str,
        replace: Option<Vec<String>>,
        add: Option<&str>,
        remove: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let mut tx = self.store().write().await?;
        let s = self.load_server_for(&mut tx, ctx, id, "compute:update").await?;
        let mut tags: Vec<String> =
            self.resource_tags(&mut tx, TAG_KIND, &s.id).await?.into_iter().map(|(k, _)| k).collect();
        if let Some(r) = replace {
            tags = r;
        }
        if let Some(a) = add {
            if !tags.iter().any(|t| t == a) {
                tags.push(a.into());
            }
        }
        if let Some(r) = remove {
            let before = tags.len();
            tags.retain(|t| t != r);
            if tags.len() == before {
                return Err(Error::not_found("tag", r));
            }
        }
        tags.sort();
        tags.dedup();
        if tags.len() > 50 {
            return Err(Error::bad_request("A server may carry at most 50 tags."));
        }
        crate::tags::validate_string_tags(&tags)?;
        self.replace_string_tags(&mut tx, TAG_KIND, &s.id, &s.project_id, &tags).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "updateServerTags", 200).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(tags)
    }

    /// Creates a server group.
    pub async fn create_server_group(
        &self,
        ctx: &Ctx,
        name: &str,
        policy: &str,
        rules: Value,
    ) -> Result<ServerGroup, Error> {
        let project = Self::server_project(ctx)?;
        authorize("compute:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        validate_name("server group name", name)?;
        if !["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"].contains(&policy) {
            return Err(Error::bad_request(format!(
                "Invalid policy {policy:?}: use affinity, anti-affinity, soft-affinity or soft-anti-affinity."
            )));
        }
        match (&rules, policy) {
            (Value::Object(m), _) if m.is_empty() => {}
            (Value::Object(m), "anti-affinity")
                if m.len() == 1 && m.get("max_server_per_host").and_then(Value::as_i64).is_some_and(|n| n >= 1) => {}
            _ => {
                return Err(Error::bad_request(
                    "Only the anti-affinity policy takes a rule: {\"max_server_per_host\": N} with N >= 1.",
                ))
            }
        }
        let mut tx = self.store().write().await?;
        let limit = self.quota_limit(&mut tx, &project, "server_groups").await?;
        let held = repo::list_groups(&mut tx, Some(&project), &PageRequest::default()).await?.len() as i64;
        if limit >= 0 && held >= limit {
            return Err(Error::OverQuota { resource: "server_groups".into(), limit, in_use: held, requested: 1 });
        }
        let g = ServerGroup {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project,
            user_id: ctx.principal.user_id.clone(),
            name: name.into(),
            policy: policy.into(),
            rules: rules.to_string(),
            created_at: now_ms(),
        };
        repo::insert_group(&mut tx, &g).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "servergroup", "createServerGroup", 200).resource(&g.id, &g.name),
        )
        .await?;
        tx.commit().await?;
        Ok(g)
    }

    async fn load_server_group(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<ServerGroup, Error> {
        let g = repo::get_group(c, id).await?;
        let project = g.as_ref().map(|g| g.project_id.clone()).unwrap_or_default();
        let target = Target { project_id: Some(&project), ..Default::default() };
        authorize_visible("compute:get", "compute:get", &ctx.principal, &target, "server group", id)?;
        g.ok_or_else(|| Error::not_found("server group", id))
    }

    /// A server group with its members' ids.
    pub async fn get_server_group(&self, ctx: &Ctx, id: &str) -> Result<(ServerGroup, Vec<String>), Error> {
        let mut c = self.store().read().await?;
        let g = self.load_server_group(&mut c, ctx, id).await?;
        let members = repo::group_members(&mut c, &g.id).await?.into_iter().map(|s| s.id).collect();
        Ok((g, members))
    }

    /// Server groups of the caller's project (all for admins asking `all_projects`).
    pub async fn list_server_groups(
        &self,
        ctx: &Ctx,
        all_projects: bool,
        page: &PageRequest,
    ) -> Result<Vec<(ServerGroup, Vec<String>)>, Error> {
        let mut c = self.store().read().await?;
        let project =
            if all_projects && ctx.principal.can_read_all() { None } else { Some(Self::server_project(ctx)?) };
        let mut out = Vec::new();
        for g in repo::list_groups(&mut c, project.as_deref(), page).await? {
            let members = repo::group_members(&mut c, &g.id).await?.into_iter().map(|s| s.id).collect();
            out.push((g, members));
        }
        Ok(out)
    }

    /// Deletes a server group (its servers stay, outside any group).
    pub async fn delete_server_group(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let g = self.load_server_group(&mut tx, ctx, id).await?;
        authorize("compute:delete", &ctx.principal, &Target { project_id: Some(&g.project_id), ..Default::default() })?;
        repo::delete_group(&mut tx, &g.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "servergroup", "deleteServerGroup", 204)
                .resource(&g.id, &g.name)
                .in_project(&g.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Locks or unlocks a server: a locked server refuses actions from non-admins.
    pub async fn set_server_lock(&self, ctx: &Ctx, id: &str, locked: bool) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let mut s = self.load_server_for(&mut tx, ctx, id, "compute:action").await?;
        s.locked = locked;
        s.updated_at = now_ms();
        repo::update(&mut tx, &s).await?;
        let action = if locked { "lockServer" } else { "unlockServer" };
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", action, 202).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Forces a server's recorded state to `active` or `error` (operators' repair tool,
    /// Nova's `os-resetState`); the power-state reconciler then reconciles the rest.
    pub async fn reset_server_state(&self, ctx: &Ctx, id: &str, state: &str) -> Result<(), Error> {
        authorize("compute:reset_state", &ctx.principal, &Target::default())?;
        let (status, vm_state) = match state {
            "active" => ("ACTIVE", "active"),
            "error" => ("ERROR", "error"),
            _ => return Err(Error::bad_request("os-resetState 'state' must be 'active' or 'error'.")),
        };
        let mut tx = self.store().write().await?;
        let mut s = self.load_server(&mut tx, ctx, id).await?;
        s.status = status.into();
        s.vm_state = vm_state.into();
        s.task_state = None;
        s.updated_at = now_ms();
        repo::update(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "ecs", "resetStateServer", 202).resource(&s.id, &s.name).in_project(&s.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Checks an operator may act on the server (for no-op admin actions).
    pub async fn reset_server_state_check(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut c = self.store().read().await?;
        self.load_server(&mut c, ctx, id).await?;
        authorize("compute:reset_state", &ctx.principal, &Target::default())
    }

    /// A server's actions (Nova `os-instance-actions`), read from its audit trail: every
    /// action is traced with its request id, also after the server is deleted.
    pub async fn server_actions(&self, ctx: &Ctx, id: &str) -> Result<Vec<nimbus_store::audit::Trace>, Error> {
        let mut c = self.store().read().await?;
        let project = match repo::get(&mut c, id).await? {
            Some(s) => {
                self.load_server(&mut c, ctx, id).await?;
                s.project_id
            }
            None => Self::server_project(ctx)?,
        };
        let filter = nimbus_store::audit::TraceFilter {
            project_id: project,
            service_type: Some("ECS".into()),
            resource_type: Some("ecs".into()),
            resource_id: Some(id.into()),
            limit: 1000,
            ..Default::default()
        };
        let traces: Vec<_> = nimbus_store::audit::list(&mut c, &filter)
            .await?
            .into_iter()
            .filter(|t| t.trace_rating == "normal" && instance_action_name(&t.trace_name).is_some())
            .collect();
        if traces.is_empty() {
            return Err(Error::not_found("server", id));
        }
        Ok(traces)
    }

    /// The hypervisor of this region's host, as the admin API shows it.
    pub async fn hypervisor_view(&self, ctx: &Ctx) -> Result<(HostState, &'static str, i64), Error> {
        authorize("compute:hypervisors", &ctx.principal, &Target::default())?;
        let mut c = self.store().read().await?;
        let host = self.host_state(&mut c).await?;
        let running = repo::running_on_host(&mut c, LOCAL_HOST).await?;
        Ok((host, self.drivers().hypervisor.kind(), running))
    }

    /// A project's usage events (metering input), optionally for one resource.
    pub async fn list_usage_events(
        &self,
        ctx: &Ctx,
        project_id: &str,
        resource_id: Option<&str>,
    ) -> Result<Vec<UsageEvent>, Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("compute:get", "compute:get", &ctx.principal, &target, "project", project_id)?;
        let mut c = self.store().read().await?;
        repo::usage_events(&mut c, project_id, resource_id).await
    }
}

/// Nova's instance-action name for a traced server call (`None`: not an instance action).
pub fn instance_action_name(trace_name: &str) -> Option<&'static str> {
    Some(match trace_name {
        "createServer" => "create",
        "deleteServer" => "delete",
        "startServer" => "start",
        "stopServer" => "stop",
        "rebootServer" => "reboot",
        "resizeServer" => "resize",
        "confirmResizeServer" => "confirmResize",
        "revertResizeServer" => "revertResize",
        "rebuildServer" => "rebuild",
        "createImageServer" => "createImage",
        "lockServer" => "lock",
        "unlockServer" => "unlock",
        "attachVolume" => "attach_volume",
        "detachVolume" => "detach_volume",
        "extendVolume" => "extend_volume",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_user_data() {
        assert_eq!(hostname_of("My VM_1!"), "my-vm-1");
        assert_eq!(hostname_of("!!!"), "server");
        assert_eq!(hostname_of(&"a".repeat(100)).len(), 63);
        assert_eq!(decode_user_data("IyEvYmluL3NoCg==").unwrap(), b"#!/bin/sh\n");
        assert_eq!(decode_user_data("not base64!!").unwrap_err().status(), 400);
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "v".to_string());
        assert!(validate_metadata(&m, 1).is_ok());
        assert_eq!(validate_metadata(&m, 0).unwrap_err().status(), 403);
        m.insert(String::new(), "v".into());
        assert_eq!(validate_metadata(&m, 10).unwrap_err().status(), 400);
    }
}
