//! The durable jobs behind server calls: build, power actions, resize, rebuild, snapshot,
//! delete, and the batch parent job the Huawei API reports.
//!
//! Every step is idempotent (the hypervisor's calls are, and state writes re-read the row),
//! so a job interrupted by a crash of `nimbus` resumes at its step and still ends in a clear
//! state: the server `ACTIVE`/`SHUTOFF`, or `ERROR` with the reason as its fault. A job that
//! finds its server being deleted stops: the delete job owns the server from then on.

use super::server::volume_backed;
use super::server::{POWER_NOSTATE, POWER_RUNNING, POWER_SHUTDOWN};
use crate::jobs::{JobHandler, JobRegistry, StepOutcome};
use crate::Control;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::hypervisor::{BaseImage, Checkpoint, ConfigData, GuestSpec, GuestState};
use nimbus_store::jobs::Job;
use nimbus_store::servers::{self as repo, Server};
use serde_json::{json, Value};
use sqlx::AnyConnection;
use std::sync::Arc;
use std::time::Duration;

// Job types are named as Huawei's ECS reports them (`job_type` of `GET /v1/{project}/jobs/{id}`).
/// Batch parents: done when all their sub-jobs are.
pub const CREATE_BATCH: &str = "createServer";
pub const DELETE_BATCH: &str = "deleteServer";
pub const START_BATCH: &str = "batchStartServer";
pub const STOP_BATCH: &str = "batchStopServer";
pub const REBOOT_BATCH: &str = "batchRebootServer";
pub const OTHER_BATCH: &str = "batchServerAction";
/// One server's work.
pub const BUILD_JOB: &str = "createSingleServer";
pub const START_JOB: &str = "startSingleServer";
pub const STOP_JOB: &str = "stopSingleServer";
pub const REBOOT_JOB: &str = "rebootSingleServer";
pub const RESIZE_JOB: &str = "resizeSingleServer";
pub const CONFIRM_RESIZE_JOB: &str = "confirmResizeSingleServer";
pub const REVERT_RESIZE_JOB: &str = "revertResizeSingleServer";
pub const REBUILD_JOB: &str = "rebuildSingleServer";
pub const SNAPSHOT_JOB: &str = "createServerImage";
pub const DELETE_JOB: &str = "deleteSingleServer";

const POLL: Duration = Duration::from_millis(300);

/// Registers every server job handler.
pub fn register(r: &mut JobRegistry) {
    for kind in [CREATE_BATCH, DELETE_BATCH, START_BATCH, STOP_BATCH, REBOOT_BATCH, OTHER_BATCH] {
        r.register(Arc::new(BatchJob(kind)));
    }
    for kind in [
        BUILD_JOB,
        START_JOB,
        STOP_JOB,
        REBOOT_JOB,
        RESIZE_JOB,
        CONFIRM_RESIZE_JOB,
        REVERT_RESIZE_JOB,
        REBUILD_JOB,
        SNAPSHOT_JOB,
        DELETE_JOB,
    ] {
        r.register(Arc::new(ServerJob(kind)));
    }
}

/// What a state write does to the row.
type Change<'a> = &'a (dyn Fn(&mut Server) -> Option<Option<&'static str>> + Sync);

impl Control {
    /// Applies `change` to the stored server (re-reading it after a concurrent update) and
    /// records the usage event it names. `change` returns `None` to leave the row alone.
    pub(crate) async fn settle_server(&self, id: &str, change: Change<'_>) -> Result<Option<Server>, Error> {
        for _ in 0..10 {
            let mut tx = self.store().write().await?;
            let Some(mut s) = repo::get(&mut tx, id).await? else { return Ok(None) };
            let Some(event) = change(&mut s) else { return Ok(Some(s)) };
            s.updated_at = now_ms();
            match repo::update(&mut tx, &s).await {
                Ok(v) => s.version = v,
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
            if let Some(ev) = event {
                self.usage_event(&mut tx, &s, ev).await?;
            }
            tx.commit().await?;
            return Ok(Some(s));
        }
        Err(Error::Internal(format!("server {id} kept changing; state not recorded")))
    }

    /// What the hypervisor needs to prepare and start the server's guest.
    pub(crate) async fn guest_spec(&self, s: &Server) -> Result<GuestSpec, Error> {
        let (root_volume, volumes) = self.server_volume_disks(&s.id).await?;
        // The catalogue row says what the data is: upload checked the declared format
        // against `qemu-img info` and recorded the virtual size, so no probe is needed here.
        let image = if super::server::volume_backed(s) {
            None
        } else {
            let mut c = self.store().read().await?;
            nimbus_store::images::get(&mut c, &s.image_id).await?
        };
        let path = self.drivers().images.path(&s.image_id);
        let (format, virtual_size) = match image {
            // Booted from a volume: there is no image to overlay.
            _ if root_volume.is_some() => (String::new(), 0),
            Some(i) if i.status == "active" => {
                (qemu_format(i.disk_format.as_deref().unwrap_or("raw")).to_string(), i.virtual_size.unwrap_or(0))
            }
            // Deleted since the server was created: the driver's cached base (if any) remains.
            _ => {
                let found = nimbus_drivers::image_files::inspect_file(&path).await.ok();
                match found {
                    Some(i) => (i.format, i.virtual_size),
                    None => ("qcow2".into(), 0),
                }
            }
        };
        let meta: Value = serde_json::from_str(&s.metadata).unwrap_or_else(|_| json!({}));
        let mut keys = serde_json::Map::new();
        let mut key_list = Vec::new();
        if let (Some(name), Some(data)) = (&s.key_name, &s.key_data) {
            keys.insert(name.clone(), json!(data));
            key_list.push(json!({"name": name, "type": "ssh", "data": data}));
        }
        let user_data = match &s.user_data {
            Some(b64) => Some(super::server::decode_user_data(b64)?),
            None => None,
        };
        Ok(GuestSpec {
            id: s.id.clone(),
            vcpus: s.vcpus.max(1) as u32,
            memory_mb: s.ram_mb.max(64) as u64,
            mac: s.mac.clone(),
            image: BaseImage { id: s.image_id.clone(), path, format, virtual_size },
            disk_gb: s.disk_gb.max(0) as u64,
            config: ConfigData {
                meta_data: json!({
                    "uuid": s.id, "name": s.name, "hostname": s.hostname,
                    "availability_zone": s.availability_zone, "project_id": s.project_id,
                    "launch_index": s.launch_index, "meta": meta, "public_keys": keys, "keys": key_list,
                    "devices": [],
                }),
                network_data: json!({
                    "links": [{"id": "tap0", "type": "phy", "ethernet_mac_address": s.mac, "mtu": 1500}],
                    "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "tap0", "network_id": "default"}],
                    "services": [],
                }),
                user_data,
            },
            root_volume,
            volumes,
            nics: self.server_nics(&s.id).await?,
        })
    }
}

/// The `qemu-img` format name of a Glance disk format.
fn qemu_format(disk_format: &str) -> &str {
    match disk_format {
        "vhd" => "vpc",
        "ploop" => "parallels",
        "iso" | "ami" | "ari" | "aki" => "raw",
        other => other,
    }
}

fn server_id(job: &Job) -> Result<String, Error> {
    let p: Value = serde_json::from_str(&job.params)?;
    p["server_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Internal(format!("job {} names no server", job.id)))
}

fn param_bool(job: &Job, key: &str) -> bool {
    serde_json::from_str::<Value>(&job.params).ok().and_then(|p| p[key].as_bool()).unwrap_or(false)
}

fn deleting(s: &Server) -> bool {
    s.task_state.as_deref() == Some("deleting")
}

/// The end states of a guest that is up.
impl Control {
    /// Stops a server's guest for work on its disks (a CBR restore): the server shows
    /// SHUTOFF with its task still running, so no other action starts meanwhile.
    pub(crate) async fn stop_guest_keeping_task(&self, id: &str) -> Result<(), Error> {
        self.drivers().hypervisor.stop(id, ServerJob::grace(self)).await?;
        self.settle_server(id, &|s| {
            if s.status == "SHUTOFF" && s.power_state == POWER_SHUTDOWN {
                return None;
            }
            let task = s.task_state.clone();
            set_stopped(s);
            s.task_state = task;
            Some(Some("stopped"))
        })
        .await?;
        Ok(())
    }

    /// Ends a server's task `task` (in the caller's transaction); with `start`, queues the
    /// start of its guest instead (the start job powers it on and ends that task).
    pub(crate) async fn end_server_task(
        &self,
        tx: &mut AnyConnection,
        id: &str,
        task: &str,
        start: bool,
    ) -> Result<(), Error> {
        let Some(mut s) = repo::get(tx, id).await?.filter(|s| s.task_state.as_deref() == Some(task)) else {
            return Ok(());
        };
        s.task_state = None;
        if start && s.status == "SHUTOFF" {
            s.task_state = Some("powering-on".into());
            let params = serde_json::json!({"server_id": s.id});
            self.new_job_with(tx, &s.project_id, START_JOB, params.clone(), None, params).await?;
        }
        s.updated_at = now_ms();
        repo::update(tx, &s).await?;
        Ok(())
    }
}

fn set_active(s: &mut Server) {
    s.status = "ACTIVE".into();
    s.vm_state = "active".into();
    s.task_state = None;
    s.power_state = POWER_RUNNING;
    s.fault_code = None;
    s.fault_message = None;
    s.fault_at = None;
}

fn set_stopped(s: &mut Server) {
    s.status = "SHUTOFF".into();
    s.vm_state = "stopped".into();
    s.task_state = None;
    s.power_state = POWER_SHUTDOWN;
}

fn set_error(s: &mut Server, why: &str) {
    s.status = "ERROR".into();
    s.vm_state = "error".into();
    s.task_state = None;
    s.fault_code = Some(500);
    s.fault_message = Some(why.to_string());
    s.fault_at = Some(now_ms());
}

/// One server job type.
struct ServerJob(&'static str);

impl ServerJob {
    /// Whether the guest runs; fails once the boot timeout since the job began has passed.
    async fn running(&self, control: &Control, job: &Job, id: &str) -> Result<bool, Error> {
        match control.drivers().hypervisor.state(id).await? {
            GuestState::Running => Ok(true),
            _ if now_ms() - job.updated_at > control.config().boot_timeout_secs as i64 * 1000 => Err(Error::Internal(
                format!("the guest did not reach the running state within {} s", control.config().boot_timeout_secs),
            )),
            _ => Ok(false),
        }
    }

    async fn start_guest(&self, control: &Control, s: &Server) -> Result<(), Error> {
        let spec = control.guest_spec(s).await?;
        let hv = &control.drivers().hypervisor;
        hv.prepare(&spec).await?;
        hv.start(&spec).await
    }

    fn grace(control: &Control) -> Duration {
        Duration::from_secs(control.config().stop_grace_secs)
    }
}

#[async_trait::async_trait]
impl JobHandler for ServerJob {
    fn job_type(&self) -> &'static str {
        self.0
    }

    async fn run_step(&self, control: &Control, job: &Job, step: i64) -> Result<StepOutcome, Error> {
        use StepOutcome::{Done, Next, Wait};
        let id = server_id(job)?;
        let _turn = control.server_steps.lock(&id).await;
        let hv = &control.drivers().hypervisor;
        let Some(s) = ({
            let mut c = control.store().read().await?;
            repo::get(&mut c, &id).await?
        }) else {
            return Ok(Done);
        };
        if self.0 != DELETE_JOB && deleting(&s) {
            return Ok(Done);
        }
        match (self.0, step) {
            (BUILD_JOB, 0) => {
                if s.status != "BUILD" {
                    return Ok(Done);
                }
                if !control.build_volumes_ready(&id).await? {
                    return Ok(Wait(POLL));
                }
                let spec = control.guest_spec(&s).await?;
                hv.prepare(&spec).await?;
                Ok(Next)
            }
            (BUILD_JOB, 1) => {
                hv.start(&control.guest_spec(&s).await?).await?;
                Ok(Next)
            }
            (BUILD_JOB, _) | (START_JOB, 1) => {
                if !self.running(control, job, &id).await? {
                    return Ok(Wait(POLL));
                }
                control
                    .settle_server(&id, &|s| {
                        let first = s.launched_at.is_none();
                        set_active(s);
                        if first {
                            s.launched_at = Some(now_ms());
                        }
                        Some(Some("started"))
                    })
                    .await?;
                Ok(Done)
            }
            (START_JOB, 0) => {
                self.start_guest(control, &s).await?;
                Ok(Next)
            }
            (STOP_JOB, _) => {
                hv.stop(&id, Self::grace(control)).await?;
                control
                    .settle_server(&id, &|s| {
                        set_stopped(s);
                        Some(Some("stopped"))
                    })
                    .await?;
                Ok(Done)
            }
            (REBOOT_JOB, 0) => {
                match hv.state(&id).await? {
                    GuestState::Running | GuestState::Paused => hv.reboot(&id, param_bool(job, "hard")).await?,
                    _ => self.start_guest(control, &s).await?,
                }
                Ok(Next)
            }
            (REBOOT_JOB, _) => {
                if !self.running(control, job, &id).await? {
                    return Ok(Wait(POLL));
                }
                control
                    .settle_server(&id, &|s| {
                        let was_off = s.power_state != POWER_RUNNING;
                        set_active(s);
                        Some(was_off.then_some("started"))
                    })
                    .await?;
                Ok(Done)
            }
            (RESIZE_JOB, 0) | (REVERT_RESIZE_JOB, 0) | (REBUILD_JOB, 0) => {
                hv.stop(&id, Self::grace(control)).await?;
                Ok(Next)
            }
            // A server booted from a volume keeps its volume through a resize: only the
            // flavor changes.
            (RESIZE_JOB, 1) => {
                if !volume_backed(&s) {
                    hv.checkpoint_disk(&id, Checkpoint::Save).await?;
                    hv.grow_disk(&id, s.disk_gb.max(0) as u64).await?;
                }
                Ok(Next)
            }
            (REVERT_RESIZE_JOB, 1) => {
                if !volume_backed(&s) {
                    hv.checkpoint_disk(&id, Checkpoint::Restore).await?;
                }
                control
                    .settle_server(&id, &|s| {
                        let old: Value = serde_json::from_str(s.old_flavor.as_deref()?).ok()?;
                        s.flavor_id = old["id"].as_str()?.to_string();
                        s.vcpus = old["vcpus"].as_i64()?;
                        s.ram_mb = old["ram"].as_i64()?;
                        s.disk_gb = old["disk"].as_i64()?;
                        s.flavor = old.to_string();
                        s.old_flavor = None;
                        Some(Some("resized"))
                    })
                    .await?;
                Ok(Next)
            }
            (REBUILD_JOB, 1) => {
                hv.reset_disk(&control.guest_spec(&s).await?).await?;
                Ok(Next)
            }
            (RESIZE_JOB, 2) | (REBUILD_JOB, 2) => {
                if param_bool(job, "was_running") {
                    self.start_guest(control, &s).await?;
                }
                Ok(Next)
            }
            (REVERT_RESIZE_JOB, 2) => {
                if s.power_state == POWER_RUNNING {
                    self.start_guest(control, &s).await?;
                }
                Ok(Next)
            }
            (RESIZE_JOB, _) | (REBUILD_JOB, _) | (REVERT_RESIZE_JOB, _) => {
                let was_running = match self.0 {
                    REVERT_RESIZE_JOB => s.power_state == POWER_RUNNING,
                    _ => param_bool(job, "was_running"),
                };
                if was_running && !self.running(control, job, &id).await? {
                    return Ok(Wait(POLL));
                }
                let kind = self.0;
                control
                    .settle_server(&id, &move |s| {
                        if was_running {
                            set_active(s);
                        } else {
                            set_stopped(s);
                        }
                        match kind {
                            RESIZE_JOB => {
                                s.status = "VERIFY_RESIZE".into();
                                s.vm_state = "resized".into();
                                Some(Some("resized"))
                            }
                            _ => Some(None),
                        }
                    })
                    .await?;
                Ok(Done)
            }
            (CONFIRM_RESIZE_JOB, _) => {
                hv.checkpoint_disk(&id, Checkpoint::Drop).await?;
                control
                    .settle_server(&id, &|s| {
                        if s.power_state == POWER_RUNNING {
                            set_active(s);
                        } else {
                            set_stopped(s);
                        }
                        s.old_flavor = None;
                        Some(None)
                    })
                    .await?;
                Ok(Done)
            }
            (SNAPSHOT_JOB, 0) => {
                let image_id = snapshot_image(job)?;
                hv.export_disk(&id, &control.drivers().images.path(&image_id).with_extension("export")).await?;
                Ok(Next)
            }
            (SNAPSHOT_JOB, _) => {
                let image_id = snapshot_image(job)?;
                control.finish_snapshot_image(&image_id).await?;
                control
                    .settle_server(&id, &|s| {
                        s.task_state = None;
                        Some(None)
                    })
                    .await?;
                Ok(Done)
            }
            (DELETE_JOB, 0) => {
                hv.destroy(&id).await?;
                Ok(Next)
            }
            (DELETE_JOB, _) => {
                let mut tx = control.store().write().await?;
                if let Some(s) = repo::get(&mut tx, &id).await? {
                    repo::delete(&mut tx, &id).await?;
                    control.release_quota(&mut tx, &s.project_id, "instances", 1).await?;
                    control.release_quota(&mut tx, &s.project_id, "cores", s.vcpus).await?;
                    control.release_quota(&mut tx, &s.project_id, "ram", s.ram_mb).await?;
                    control.usage_event(&mut tx, &s, "deleted").await?;
                    nimbus_store::tags::clear(&mut tx, super::server::TAG_KIND, &id).await?;
                    // Its volumes are free again (their data stays: volumes outlive servers),
                    // except a boot volume made to go with it.
                    control.release_server_ports(&mut tx, &id).await?;
                    for a in nimbus_store::volumes::server_attachments(&mut tx, &id).await? {
                        control.end_attachment(&mut tx, &a).await?;
                        if a.delete_on_termination {
                            control.delete_volume_with_server(&mut tx, &a.volume_id).await?;
                        }
                    }
                }
                tx.commit().await?;
                control.wake_jobs();
                control.wake_network();
                Ok(Done)
            }
            (other, step) => Err(Error::Internal(format!("job type {other} has no step {step}"))),
        }
    }

    async fn on_fail(&self, control: &Control, job: &Job, error: &Error) -> Result<(), Error> {
        let id = server_id(job)?;
        let _turn = control.server_steps.lock(&id).await;
        let why = error.message();
        match self.0 {
            // Nothing half-built stays behind: the guest goes, the server shows why.
            BUILD_JOB => {
                control.drivers().hypervisor.destroy(&id).await?;
                control
                    .settle_server(&id, &|s| {
                        if deleting(s) {
                            return None;
                        }
                        set_error(s, &format!("Build of instance {} aborted: {why}", s.id));
                        s.power_state = POWER_NOSTATE;
                        Some(None)
                    })
                    .await?;
            }
            SNAPSHOT_JOB => {
                control.abandon_snapshot_image(&snapshot_image(job)?).await?;
                control
                    .settle_server(&id, &|s| {
                        if deleting(s) {
                            return None;
                        }
                        s.task_state = None;
                        Some(None)
                    })
                    .await?;
            }
            DELETE_JOB => {
                control
                    .settle_server(&id, &|s| {
                        set_error(s, &format!("Delete failed: {why}"));
                        Some(None)
                    })
                    .await?;
            }
            _ => {
                control
                    .settle_server(&id, &|s| {
                        if deleting(s) {
                            return None;
                        }
                        set_error(s, &why);
                        Some(None)
                    })
                    .await?;
            }
        }
        Ok(())
    }
}

fn snapshot_image(job: &Job) -> Result<String, Error> {
    let p: Value = serde_json::from_str(&job.params)?;
    p["image_id"].as_str().map(str::to_string).ok_or_else(|| Error::Internal(format!("job {} names no image", job.id)))
}

/// The parent of a batch: done when every sub-job is, failed if any failed.
struct BatchJob(&'static str);

#[async_trait::async_trait]
impl JobHandler for BatchJob {
    fn job_type(&self) -> &'static str {
        self.0
    }

    async fn run_step(&self, control: &Control, job: &Job, _step: i64) -> Result<StepOutcome, Error> {
        let children = {
            let mut c = control.store().read().await?;
            nimbus_store::jobs::children(&mut c, &job.id).await?
        };
        if children.iter().any(|j| j.status == "INIT" || j.status == "RUNNING") {
            return Ok(StepOutcome::Wait(Duration::from_millis(500)));
        }
        let failed: Vec<_> = children.iter().filter(|j| j.status != "SUCCESS").collect();
        match failed.first() {
            None => Ok(StepOutcome::Done),
            Some(first) => Err(Error::Conflict(format!(
                "{} of {} sub-jobs failed; first: {}",
                failed.len(),
                children.len(),
                first.fail_reason.as_deref().unwrap_or("unknown")
            ))),
        }
    }
}
