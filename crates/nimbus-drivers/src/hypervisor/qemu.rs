//! Real guests under QEMU, one process per guest, each in `DATA/instances/<id>/`:
//! `disk.qcow2` (a copy-on-write overlay of the cached base image), `config.iso` (the
//! config drive), `qemu.pid`, `qmp.sock` (driven through the `qapi` QMP client) and
//! `console.log` (the serial console, appended across restarts).
//!
//! Base images are cached in `DATA/instances/_base/`: QCOW2 and raw images are hard-linked
//! (image files are never modified in place, and the link keeps a base alive even if its
//! image is deleted while servers use it); other formats (VMDK, VHD, VHDX, VDI) are
//! converted to QCOW2 once by `qemu-img`. QEMU runs daemonized, so guests outlive a `nimbus`
//! restart; [`Hypervisor::guests`] lets the reconciler re-adopt them.
//!
//! `-no-shutdown` keeps QEMU alive when the guest powers off, so a soft reboot is a real
//! ACPI power-off followed by a reset, and a stop can tell "guest shut down" from "gone".

use super::{BaseImage, Checkpoint, DiskQos, GuestSpec, GuestState, Hypervisor, VolumeDisk};
use nimbus_core::Error;
use qapi::futures::{QapiService, QmpStreamTokio};
use qapi::qmp;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

use std::time::Duration;
use tokio::io::WriteHalf;
use tokio::net::UnixStream;

type Qmp = QapiService<QmpStreamTokio<WriteHalf<UnixStream>>>;

/// An open QMP connection, holding the guest's monitor lock while it lives.
struct QmpConn<'a> {
    service: Qmp,
    _lock: nimbus_core::sync::KeyedGuard<'a>,
}

impl std::ops::Deref for QmpConn<'_> {
    type Target = Qmp;
    fn deref(&self) -> &Qmp {
        &self.service
    }
}

/// QMP commands sent as plain JSON: the `qapi` crate's types follow a newer QEMU schema
/// than Debian's, so block-layer commands whose arguments or answers differ between
/// versions are written by hand (answers are kept as JSON).
macro_rules! raw_qmp {
    ($ty:ident, $name:literal) => {
        #[derive(serde::Serialize)]
        #[serde(transparent)]
        struct $ty(Value);
        impl qapi::Command for $ty {
            type Ok = Value;
            const NAME: &'static str = $name;
            const ALLOW_OOB: bool = false;
        }
        impl qmp::QmpCommand for $ty {}
    };
}
raw_qmp!(BlockdevAdd, "blockdev-add");
raw_qmp!(BlockdevDel, "blockdev-del");
raw_qmp!(ObjectAdd, "object-add");
raw_qmp!(ObjectDel, "object-del");
raw_qmp!(DeviceAdd, "device_add");
raw_qmp!(DeviceDel, "device_del");
raw_qmp!(QomList, "qom-list");
raw_qmp!(BlockResize, "block_resize");
raw_qmp!(SetIoThrottle, "block_set_io_throttle");
raw_qmp!(QueryNamedBlockNodes, "query-named-block-nodes");
raw_qmp!(SnapshotInternal, "blockdev-snapshot-internal-sync");
raw_qmp!(SnapshotDeleteInternal, "blockdev-snapshot-delete-internal-sync");
raw_qmp!(Transaction, "transaction");

/// The block node name of a volume (QEMU allows 31 characters, starting with a letter).
fn volume_node(volume_id: &str) -> String {
    let hex: String = volume_id.chars().filter(|c| c.is_ascii_alphanumeric()).take(30).collect();
    format!("q{hex}")
}

/// The qdev id of a volume's virtio disk (no length limit: the whole volume id, so the
/// devices of a running guest map back to volumes).
fn volume_device(volume_id: &str) -> String {
    let safe: String = volume_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!("vol-{safe}")
}

/// The QEMU object id of an encrypted volume's passphrase.
fn volume_secret(volume_id: &str) -> String {
    let hex: String = volume_id.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("key-{hex}")
}

/// The `blockdev-add` arguments of a volume. An encrypted volume's root node is QEMU's
/// `luks` driver over the container (named after the volume as any volume's root node is,
/// so limits, resizes and snapshots reach it alike: QEMU passes internal snapshots down to
/// the container), opened with the passphrase object [`volume_secret`].
fn volume_blockdev(disk: &VolumeDisk) -> Value {
    let mut file = json!({"driver": "file", "filename": disk.path, "discard": "unmap"});
    if disk.shared {
        // Other guests have the file open too: QEMU's image locking would refuse them.
        file["locking"] = json!("off");
    }
    let cache = json!({"direct": false, "no-flush": false});
    let container = json!({
        "driver": disk.format, "discard": "unmap", "read-only": disk.read_only, "cache": cache, "file": file,
    });
    match &disk.key {
        None => {
            let mut node = container;
            node["node-name"] = json!(volume_node(&disk.id));
            node
        }
        Some(_) => {
            let mut data = container;
            // Node names are at most 31 characters: the container's differs by its prefix.
            data["node-name"] = json!(format!("d{}", &volume_node(&disk.id)[1..]));
            json!({
                "driver": "luks", "node-name": volume_node(&disk.id), "key-secret": volume_secret(&disk.id),
                "discard": "unmap", "read-only": disk.read_only, "cache": cache, "file": data,
            })
        }
    }
}

/// The qdev id of the boot disk (a volume's too when the guest boots from one).
const ROOT_DEVICE: &str = "root-disk";

/// The `block_set_io_throttle` arguments of a guest disk (all zero: unlimited).
fn disk_throttle(device: &str, qos: DiskQos) -> Value {
    json!({
        "id": format!("{device}/virtio-backend"),
        "iops": qos.iops.max(0), "iops_rd": qos.read_iops.max(0), "iops_wr": qos.write_iops.max(0),
        "bps": qos.bytes_per_sec.max(0), "bps_rd": qos.read_bytes_per_sec.max(0),
        "bps_wr": qos.write_bytes_per_sec.max(0),
    })
}

/// Whether a QMP error says the thing asked for already exists or is already gone.
fn qmp_error_is(e: &impl std::fmt::Display, needles: &[&str]) -> bool {
    let text = e.to_string();
    needles.iter().any(|n| text.contains(n))
}

/// The first PCI slot of volumes attached at boot (2: NIC, 3: boot disk, 4: config drive).
const FIRST_VOLUME_SLOT: usize = 5;
/// PCI slots of NICs after the first (which has 0x2): the volumes take 5 to 28, so a guest
/// has at most 4 NICs (slots 0x1d-0x1f for the others).
const FIRST_EXTRA_NIC_SLOT: usize = 0x1c;
/// The descriptor number QEMU gets the first TAP as.
const TAP_FD_BASE: i32 = 3;

/// How guests are accelerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation (`/dev/kvm` that really runs a guest).
    Kvm,
    /// Software emulation (always works, slower).
    Tcg,
}

/// The QEMU hypervisor of this host.
pub struct Qemu {
    root: PathBuf,
    /// Whether guests started from now on use KVM (set once the probe has answered).
    kvm: std::sync::atomic::AtomicBool,
    /// One lock per guest monitor: QEMU serves one QMP client at a time, so operations on
    /// a guest (a hot-plug, a state poll) take turns instead of timing out on each other.
    monitors: nimbus_core::sync::KeyedLocks,
}

/// The sub-directory of cached base images (never a guest id: ids are hex).
const BASE_DIR: &str = "_base";

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

pub(crate) async fn run_qemu_img(args: &[&std::ffi::OsStr]) -> Result<(), Error> {
    let out = tokio::process::Command::new("qemu-img")
        .args(args)
        .output()
        .await
        .map_err(|e| internal("running qemu-img", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Internal(format!("qemu-img failed: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}

impl Qemu {
    /// Guests under `root` (created if missing), accelerated with `accel`.
    pub fn new(root: impl Into<PathBuf>, accel: Accel) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Qemu { root, kvm: std::sync::atomic::AtomicBool::new(accel == Accel::Kvm), monitors: Default::default() })
    }

    /// The acceleration in use.
    pub fn accel(&self) -> Accel {
        if self.kvm.load(std::sync::atomic::Ordering::SeqCst) {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    }

    /// Changes the acceleration of guests started from now on (after a KVM probe).
    pub fn set_accel(&self, accel: Accel) {
        self.kvm.store(accel == Accel::Kvm, std::sync::atomic::Ordering::SeqCst);
    }

    /// A guest's directory.
    pub fn dir(&self, id: &str) -> PathBuf {
        let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        self.root.join(safe)
    }

    fn base_dir(&self) -> PathBuf {
        self.root.join(BASE_DIR)
    }

    /// The cached base of an image, created on first use.
    async fn cached_base(&self, image: &BaseImage) -> Result<(PathBuf, &'static str), Error> {
        let safe: String = image.id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        let direct = match image.format.as_str() {
            "qcow2" => Some("qcow2"),
            "raw" => Some("raw"),
            _ => None,
        };
        let format = direct.unwrap_or("qcow2");
        let cached = self.base_dir().join(format!("{safe}.{format}"));
        if tokio::fs::metadata(&cached).await.is_ok() {
            return Ok((cached, format));
        }
        tokio::fs::create_dir_all(self.base_dir()).await.map_err(|e| internal("creating the base cache", e))?;
        // Guests built in parallel may fill the cache at once: each writes its own temporary
        // file, and the renames (atomic, same content) let any of them win.
        let tmp = cached.with_extension(format!("partial-{}", nimbus_core::id::new_hex_id()));
        if direct.is_some() {
            if tokio::fs::hard_link(&image.path, &tmp).await.is_err() {
                tokio::fs::copy(&image.path, &tmp).await.map_err(|e| internal("copying the base image", e))?;
            }
        } else {
            run_qemu_img(&[
                "convert".as_ref(),
                "-O".as_ref(),
                "qcow2".as_ref(),
                "-f".as_ref(),
                image.format.as_ref(),
                image.path.as_os_str(),
                tmp.as_os_str(),
            ])
            .await?;
        }
        let renamed = tokio::fs::rename(&tmp, &cached).await;
        let _ = tokio::fs::remove_file(&tmp).await;
        renamed.map_err(|e| internal("caching the base image", e))?;
        Ok((cached, format))
    }

    /// Creates the overlay `disk.qcow2` on the cached base, `disk_gb` GiB (at least the
    /// image's own size).
    async fn create_overlay(&self, spec: &GuestSpec) -> Result<(), Error> {
        let (base, format) = self.cached_base(&spec.image).await?;
        let dir = self.dir(&spec.id);
        let disk = dir.join("disk.qcow2");
        let tmp = dir.join("disk.qcow2.partial");
        let _ = tokio::fs::remove_file(&tmp).await;
        let mut args: Vec<std::ffi::OsString> =
            ["create", "-q", "-f", "qcow2", "-F", format, "-b"].iter().map(Into::into).collect();
        args.push(base.into_os_string());
        args.push(tmp.clone().into_os_string());
        let base_size = spec.image.virtual_size;
        let want = (spec.disk_gb as i64) << 30;
        if want > base_size {
            args.push(want.to_string().into());
        }
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run_qemu_img(&refs).await?;
        tokio::fs::rename(&tmp, &disk).await.map_err(|e| internal("creating the boot disk", e))
    }

    /// The guest's QEMU process id, if that process is alive and really is this guest's
    /// (a pid file may outlive its process, and pids are reused).
    async fn pid(&self, id: &str) -> Option<i32> {
        let text = tokio::fs::read_to_string(self.dir(id).join("qemu.pid")).await.ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        let cmdline = tokio::fs::read(format!("/proc/{pid}/cmdline")).await.ok()?;
        let marker = format!("guest={id}");
        String::from_utf8_lossy(&cmdline).split('\0').any(|a| a == marker).then_some(pid)
    }

    /// Connects to the guest's QMP socket. QEMU serves one monitor client at a time, so a
    /// caller keeps one connection for a whole operation and never opens a second meanwhile;
    /// the timeout turns a busy or wedged monitor into an error instead of a hang.
    async fn qmp(&self, id: &str) -> Result<QmpConn<'_>, Error> {
        let sock = self.dir(id).join("qmp.sock");
        let connect = async {
            let lock = self.monitors.lock(id).await;
            let stream = QmpStreamTokio::open_uds(&sock).await.map_err(|e| internal("connecting to QMP", e))?;
            let stream = stream.negotiate().await.map_err(|e| internal("QMP handshake", e))?;
            let (service, _events) = stream.spawn_tokio();
            Ok::<_, Error>(QmpConn { service, _lock: lock })
        };
        tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .map_err(|_| internal("QMP", "no answer within 10 s"))?
    }

    /// The qdev ids of the guest's named devices (`vol-<id>`, `root-disk`...).
    async fn devices(qmp: &Qmp) -> Result<Vec<String>, Error> {
        let list = qmp
            .execute(QomList(json!({"path": "/machine/peripheral"})))
            .await
            .map_err(|e| internal("QMP qom-list", e))?;
        Ok(list
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    /// Drops an encrypted volume's passphrase object once its disk is gone (nothing for a
    /// volume without one); the detach is then complete.
    async fn drop_volume_secret(qmp: &Qmp, volume_id: &str) -> Result<bool, Error> {
        match qmp.execute(ObjectDel(json!({"id": volume_secret(volume_id)}))).await {
            Err(e) if !qmp_error_is(&e, &["not found", "Cannot find", "No object"]) => {
                Err(internal("QMP object-del", e))
            }
            _ => Ok(true),
        }
    }

    /// Whether the guest's QEMU has a block node of that name.
    async fn has_node(qmp: &Qmp, node: &str) -> Result<bool, Error> {
        let nodes = qmp
            .execute(QueryNamedBlockNodes(json!({"flat": true})))
            .await
            .map_err(|e| internal("QMP query-named-block-nodes", e))?;
        Ok(nodes.as_array().is_some_and(|a| a.iter().any(|n| n["node-name"] == node)))
    }

    /// A volume node's current size as QEMU sees it.
    async fn node_size(qmp: &Qmp, node: &str) -> Result<Option<u64>, Error> {
        let nodes = qmp
            .execute(QueryNamedBlockNodes(json!({"flat": true})))
            .await
            .map_err(|e| internal("QMP query-named-block-nodes", e))?;
        Ok(nodes
            .as_array()
            .and_then(|a| a.iter().find(|n| n["node-name"] == node))
            .and_then(|n| n["image"]["virtual-size"].as_u64()))
    }

    /// Applies the volumes' limits (they live in the running QEMU only: after a launch
    /// they are set again).
    async fn apply_volume_qos(qmp: &Qmp, disks: &[(String, DiskQos)]) -> Result<(), Error> {
        for (device, qos) in disks {
            qmp.execute(SetIoThrottle(disk_throttle(device, *qos)))
                .await
                .map_err(|e| internal("QMP block_set_io_throttle", e))?;
        }
        Ok(())
    }

    /// The run state, asked on an open connection.
    async fn run_state(qmp: &Qmp) -> Result<GuestState, Error> {
        let status = qmp.execute(qmp::query_status {}).await.map_err(|e| internal("QMP query-status", e))?;
        Ok(match status.status {
            qmp::RunState::running => GuestState::Running,
            qmp::RunState::shutdown => GuestState::Shutoff,
            _ => GuestState::Paused,
        })
    }

    async fn wait_exit(&self, id: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.pid(id).await.is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.pid(id).await.is_none()
    }

    async fn kill(&self, id: &str) {
        if let Some(pid) = self.pid(id).await {
            // SAFETY-free: `kill` through the command keeps this crate free of unsafe code.
            let _ = tokio::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().await;
            self.wait_exit(id, Duration::from_secs(5)).await;
        }
    }

    /// The QEMU command line of a guest.
    fn args(&self, spec: &GuestSpec) -> Vec<String> {
        let dir = self.dir(&spec.id);
        let (accel, cpu) = match self.accel() {
            Accel::Kvm => ("kvm", "host"),
            Accel::Tcg => ("tcg", "max"),
        };
        let mut a: Vec<String> = vec![
            "-name".into(),
            format!("guest={}", spec.id),
            "-machine".into(),
            format!("pc,accel={accel}"),
            "-cpu".into(),
            cpu.into(),
            "-smp".into(),
            spec.vcpus.to_string(),
            "-m".into(),
            format!("{}M", spec.memory_mb),
            "-nodefaults".into(),
            "-no-user-config".into(),
            "-no-shutdown".into(),
            "-display".into(),
            "none".into(),
            // Every device has a fixed PCI slot and the boot disk the first boot index, so
            // volumes attached at boot neither take the boot disk's place in the firmware's
            // order nor shift the guest's disk names.
            "-blockdev".into(),
            match &spec.root_volume {
                Some(disk) => volume_blockdev(disk),
                None => json!({"driver": "qcow2", "node-name": "root", "discard": "unmap",
                   "cache": {"direct": false, "no-flush": false},
                   "file": {"driver": "file", "filename": dir.join("disk.qcow2"), "discard": "unmap"}}),
            }
            .to_string(),
            "-device".into(),
            match &spec.root_volume {
                // A boot volume keeps its volume node name, so snapshots and limits reach it
                // as they reach any volume; its serial is its id, as for any volume.
                Some(disk) => format!(
                    "virtio-blk-pci,id={ROOT_DEVICE},drive={},serial={},bootindex=0,addr=0x3",
                    volume_node(&disk.id),
                    disk.serial()
                ),
                None => "virtio-blk-pci,id=root-disk,drive=root,bootindex=0,addr=0x3".into(),
            },
            "-blockdev".into(),
            json!({"driver": "raw", "node-name": "config", "read-only": true,
                   "file": {"driver": "file", "filename": dir.join("config.iso"), "read-only": true}})
            .to_string(),
            "-device".into(),
            "virtio-blk-pci,id=config-drive,drive=config,addr=0x4".into(),
        ];
        // Encrypted volumes' passphrases, read from the descriptors after the TAPs'.
        for (i, disk) in spec.root_volume.iter().chain(&spec.volumes).filter(|d| d.key.is_some()).enumerate() {
            a.push("-object".into());
            a.push(format!(
                "secret,id={},file=/dev/fd/{}",
                volume_secret(&disk.id),
                TAP_FD_BASE + spec.nics.len() as i32 + i as i32
            ));
        }
        for (slot, disk) in (FIRST_VOLUME_SLOT..).zip(&spec.volumes) {
            a.push("-blockdev".into());
            a.push(volume_blockdev(disk).to_string());
            a.push("-device".into());
            a.push(format!(
                "virtio-blk-pci,id={},drive={},serial={},addr={slot:#x}{}",
                volume_device(&disk.id),
                volume_node(&disk.id),
                disk.serial(),
                if disk.shared { ",share-rw=on" } else { "" }
            ));
        }
        if spec.nics.is_empty() {
            a.extend([
                "-netdev".into(),
                "user,id=net0".into(),
                "-device".into(),
                format!("virtio-net-pci,netdev=net0,mac={},addr=0x2", spec.mac),
            ]);
        }
        for (i, nic) in spec.nics.iter().enumerate() {
            // The TAPs' descriptors are handed over as 3, 4, ... (see `start`).
            let slot = if i == 0 { 0x2 } else { FIRST_EXTRA_NIC_SLOT + i };
            a.extend([
                "-netdev".into(),
                format!("tap,id=net{i},fd={}", TAP_FD_BASE + i as i32),
                "-device".into(),
                format!("virtio-net-pci,netdev=net{i},mac={},addr={slot:#x}", nic.mac),
            ]);
        }
        a.extend([
            "-chardev".into(),
            format!("file,id=console,path={},append=on", dir.join("console.log").display()),
            "-serial".into(),
            "chardev:console".into(),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", dir.join("qmp.sock").display()),
            "-pidfile".into(),
            dir.join("qemu.pid").display().to_string(),
            "-daemonize".into(),
        ]);
        a
    }
}

#[async_trait::async_trait]
impl Hypervisor for Qemu {
    fn kind(&self) -> &'static str {
        match self.accel() {
            Accel::Kvm => "qemu-kvm",
            Accel::Tcg => "qemu-tcg",
        }
    }

    async fn prepare(&self, spec: &GuestSpec) -> Result<(), Error> {
        let dir = self.dir(&spec.id);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| internal("creating the instance directory", e))?;
        if spec.root_volume.is_none() && tokio::fs::metadata(dir.join("disk.qcow2")).await.is_err() {
            self.create_overlay(spec).await?;
        }
        let c = &spec.config;
        crate::config_drive::build(&dir.join("config.iso"), &c.meta_data, &c.network_data, c.user_data.as_deref()).await
    }

    async fn reset_disk(&self, spec: &GuestSpec) -> Result<(), Error> {
        if self.pid(&spec.id).await.is_some() {
            return Err(Error::Conflict("the guest must be stopped to replace its disk".into()));
        }
        let _ = tokio::fs::remove_file(self.dir(&spec.id).join("disk.qcow2")).await;
        self.prepare(spec).await
    }

    async fn grow_disk(&self, id: &str, gb: u64) -> Result<(), Error> {
        let disk = self.dir(id).join("disk.qcow2");
        let current = crate::image_files::inspect_file(&disk).await?.virtual_size;
        let want = (gb as i64) << 30;
        if want <= current {
            return Ok(());
        }
        run_qemu_img(&["resize".as_ref(), "-q".as_ref(), disk.as_os_str(), want.to_string().as_ref()]).await
    }

    async fn checkpoint_disk(&self, id: &str, op: Checkpoint) -> Result<(), Error> {
        let dir = self.dir(id);
        let (disk, saved) = (dir.join("disk.qcow2"), dir.join("disk.qcow2.checkpoint"));
        let exists = |p: &Path| std::fs::metadata(p).is_ok();
        match op {
            Checkpoint::Save if !exists(&saved) => {
                let tmp = dir.join("disk.qcow2.checkpoint.partial");
                tokio::fs::copy(&disk, &tmp).await.map_err(|e| internal("saving the disk", e))?;
                tokio::fs::rename(&tmp, &saved).await.map_err(|e| internal("saving the disk", e))
            }
            Checkpoint::Save => Ok(()),
            // Retried after the rename: the disk is already the restored one.
            Checkpoint::Restore if !exists(&saved) => Ok(()),
            Checkpoint::Restore => {
                if self.pid(id).await.is_some() {
                    return Err(Error::Conflict("the guest must be stopped to restore its disk".into()));
                }
                tokio::fs::rename(&saved, &disk).await.map_err(|e| internal("restoring the disk", e))
            }
            Checkpoint::Drop => match tokio::fs::remove_file(&saved).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(internal("dropping the disk copy", e)),
                _ => Ok(()),
            },
        }
    }

    async fn export_disk(&self, id: &str, out: &Path) -> Result<(), Error> {
        let disk = self.dir(id).join("disk.qcow2");
        let tmp = out.with_extension("partial");
        // -U: the guest may be running; the copy is then crash-consistent, like pulling the plug.
        run_qemu_img(&[
            "convert".as_ref(),
            "-U".as_ref(),
            "-O".as_ref(),
            "qcow2".as_ref(),
            disk.as_os_str(),
            tmp.as_os_str(),
        ])
        .await?;
        tokio::fs::rename(&tmp, out).await.map_err(|e| internal("exporting the disk", e))
    }

    async fn start(&self, spec: &GuestSpec) -> Result<(), Error> {
        match self.state(&spec.id).await? {
            GuestState::Running | GuestState::Paused => return Ok(()),
            GuestState::Shutoff => {
                // Powered off under -no-shutdown: reset and continue the same process (the
                // connection `state` used is closed by now).
                let qmp = self.qmp(&spec.id).await?;
                qmp.execute(qmp::system_reset {}).await.map_err(|e| internal("QMP system_reset", e))?;
                qmp.execute(qmp::cont {}).await.map_err(|e| internal("QMP cont", e))?;
                return Ok(());
            }
            GuestState::Missing => {}
        }
        let dir = self.dir(&spec.id);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| internal("creating the instance directory", e))?;
        let _ = tokio::fs::remove_file(dir.join("qmp.sock")).await;
        // Each NIC's TAP, opened in its network's namespace and plugged into its bridge; QEMU
        // gets the descriptors as 3, 4, ... and keeps them (the TAPs go when it exits).
        let mut taps = Vec::new();
        for nic in &spec.nics {
            let (ns, tap) = (nic.namespace.clone(), nic.tap.clone());
            let fd = tokio::task::spawn_blocking(move || crate::netns::open_tap(&ns, &tap))
                .await
                .map_err(|e| Error::Internal(format!("opening a TAP: {e}")))??;
            crate::netns::plug_tap(nic).await?;
            taps.push(fd);
        }
        // Then each encrypted volume's passphrase in a memory file, in the order `args` names
        // them: never on the command line, which any local user may read.
        let mut secrets = Vec::new();
        for disk in spec.root_volume.iter().chain(&spec.volumes) {
            if let Some(key) = &disk.key {
                secrets.push(crate::volume_crypt::secret_fd(key.passphrase().as_bytes())?);
            }
        }
        let raw: Vec<i32> = taps
            .iter()
            .map(std::os::fd::AsRawFd::as_raw_fd)
            .chain(secrets.iter().map(std::os::fd::AsRawFd::as_raw_fd))
            .collect();
        let mut cmd = tokio::process::Command::new("qemu-system-x86_64");
        cmd.args(self.args(spec));
        if !raw.is_empty() {
            // SAFETY: between fork and exec only dup2(2) and fcntl(2), which are
            // async-signal-safe; the descriptors stay open here until the command has run.
            // The source descriptors are above the targets' range in practice; one that is
            // a target already is only made inheritable.
            unsafe {
                cmd.pre_exec(move || {
                    for (i, fd) in raw.iter().enumerate() {
                        crate::volume_crypt::hand_over(*fd, TAP_FD_BASE + i as i32)?;
                    }
                    Ok(())
                });
            }
        }
        let out = cmd.output().await.map_err(|e| internal("running qemu-system-x86_64", e))?;
        drop(taps);
        drop(secrets);
        if !out.status.success() {
            return Err(Error::Internal(format!(
                "QEMU did not start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let limited: Vec<(String, DiskQos)> = spec
            .root_volume
            .iter()
            .map(|d| (ROOT_DEVICE.to_string(), d.qos))
            .chain(spec.volumes.iter().map(|d| (volume_device(&d.id), d.qos)))
            .collect();
        if !limited.is_empty() {
            let qmp = self.qmp(&spec.id).await?;
            Self::apply_volume_qos(&qmp, &limited).await?;
        }
        Ok(())
    }

    async fn state(&self, id: &str) -> Result<GuestState, Error> {
        if self.pid(id).await.is_none() {
            return Ok(GuestState::Missing);
        }
        match self.qmp(id).await {
            Ok(qmp) => Self::run_state(&qmp).await,
            // The process is there but its monitor is not answering (starting up): running.
            Err(_) => Ok(GuestState::Running),
        }
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), Error> {
        if self.pid(id).await.is_none() {
            return Ok(());
        }
        if let Ok(qmp) = self.qmp(id).await {
            let _ = qmp.execute(qmp::system_powerdown {}).await;
            let deadline = tokio::time::Instant::now() + grace;
            while tokio::time::Instant::now() < deadline {
                match Self::run_state(&qmp).await {
                    Ok(GuestState::Running | GuestState::Paused) => {}
                    _ => break,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let _ = qmp.execute(qmp::quit {}).await;
        }
        if !self.wait_exit(id, Duration::from_secs(5)).await {
            self.kill(id).await;
        }
        Ok(())
    }

    async fn reboot(&self, id: &str, hard: bool) -> Result<(), Error> {
        let qmp = self.qmp(id).await?;
        if !hard {
            let _ = qmp.execute(qmp::system_powerdown {}).await;
            for _ in 0..150 {
                if Self::run_state(&qmp).await? == GuestState::Shutoff {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        qmp.execute(qmp::system_reset {}).await.map_err(|e| internal("QMP system_reset", e))?;
        if Self::run_state(&qmp).await? != GuestState::Running {
            qmp.execute(qmp::cont {}).await.map_err(|e| internal("QMP cont", e))?;
        }
        Ok(())
    }

    async fn destroy(&self, id: &str) -> Result<(), Error> {
        self.kill(id).await;
        match tokio::fs::remove_dir_all(self.dir(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(internal("removing the instance directory", e)),
        }
    }

    async fn console_log(&self, id: &str, max_bytes: usize) -> Result<String, Error> {
        match tokio::fs::read(self.dir(id).join("console.log")).await {
            Ok(bytes) => {
                let start = bytes.len().saturating_sub(max_bytes);
                Ok(String::from_utf8_lossy(&bytes[start..]).into_owned())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(internal("reading the console log", e)),
        }
    }

    async fn attach_volume(&self, id: &str, disk: &VolumeDisk) -> Result<(), Error> {
        let qmp = self.qmp(id).await?;
        let device = volume_device(&disk.id);
        if !Self::devices(&qmp).await?.contains(&device) {
            let node = volume_node(&disk.id);
            // A retried step may find the node of an earlier attempt (added, not plugged).
            if !Self::has_node(&qmp, &node).await? {
                if let Some(key) = &disk.key {
                    // Over the monitor's socket: the passphrase is on no command line.
                    let secret = json!({"qom-type": "secret", "id": volume_secret(&disk.id), "data": key.passphrase()});
                    if let Err(e) = qmp.execute(ObjectAdd(secret)).await {
                        if !qmp_error_is(&e, &["already exists", "Duplicate"]) {
                            return Err(internal("QMP object-add", e));
                        }
                    }
                }
                qmp.execute(BlockdevAdd(volume_blockdev(disk))).await.map_err(|e| {
                    if qmp_error_is(&e, &["write\" lock", "Failed to get"]) {
                        Error::Conflict(format!("volume {} is in use by another guest", disk.id))
                    } else {
                        internal("QMP blockdev-add", e)
                    }
                })?;
            }
            let mut dev = json!({"driver": "virtio-blk-pci", "id": device, "drive": node, "serial": disk.serial()});
            if disk.shared {
                dev["share-rw"] = json!(true);
            }
            if let Err(e) = qmp.execute(DeviceAdd(dev)).await {
                if !qmp_error_is(&e, &["Duplicate device ID", "Duplicate ID"]) {
                    let _ = qmp.execute(BlockdevDel(json!({"node-name": node}))).await;
                    return Err(internal("QMP device_add", e));
                }
            }
        }
        Self::apply_volume_qos(&qmp, &[(device, disk.qos)]).await
    }

    async fn set_volume_qos(&self, id: &str, volume_id: &str, qos: DiskQos) -> Result<(), Error> {
        let qmp = self.qmp(id).await?;
        let device = volume_device(volume_id);
        // A data volume has its own device; a boot volume is the boot disk's.
        let device = if Self::devices(&qmp).await?.contains(&device) { device } else { ROOT_DEVICE.to_string() };
        if !Self::has_node(&qmp, &volume_node(volume_id)).await? {
            return Err(Error::Conflict(format!("volume {volume_id} is not attached to guest {id}")));
        }
        Self::apply_volume_qos(&qmp, &[(device, qos)]).await
    }

    async fn detach_volume(&self, id: &str, volume_id: &str, wait: Duration) -> Result<bool, Error> {
        if self.pid(id).await.is_none() {
            return Ok(true);
        }
        let qmp = self.qmp(id).await?;
        let device = volume_device(volume_id);
        if Self::devices(&qmp).await?.contains(&device) {
            if let Err(e) = qmp.execute(DeviceDel(json!({"id": device}))).await {
                if !qmp_error_is(&e, &["not found", "DeviceNotFound"]) {
                    return Err(internal("QMP device_del", e));
                }
            }
            // The guest releases the disk through ACPI; a pending request completes later
            // (at the guest's next reset) if it does not answer now.
            let deadline = tokio::time::Instant::now() + wait;
            while Self::devices(&qmp).await?.contains(&device) {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(false);
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
        let node = volume_node(volume_id);
        // The device can be gone from the bus a moment before its disk is let go (or while a
        // snapshot of it completes): "in use" is retried for a few seconds.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match qmp.execute(BlockdevDel(json!({"node-name": node.clone()}))).await {
                Ok(_) => return Self::drop_volume_secret(&qmp, volume_id).await,
                Err(e) if qmp_error_is(&e, &["Failed to find node", "Cannot find"]) => {
                    return Self::drop_volume_secret(&qmp, volume_id).await
                }
                Err(e) if qmp_error_is(&e, &["in use"]) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(internal("QMP blockdev-del", e)),
            }
        }
    }

    async fn resize_volume(&self, id: &str, volume_id: &str, bytes: u64) -> Result<(), Error> {
        let qmp = self.qmp(id).await?;
        let node = volume_node(volume_id);
        let current = Self::node_size(&qmp, &node)
            .await?
            .ok_or_else(|| Error::Conflict(format!("volume {volume_id} is not attached to guest {id}")))?;
        // block_resize also shrinks, silently: never ask it to.
        if bytes <= current {
            return Ok(());
        }
        qmp.execute(BlockResize(json!({"node-name": node, "size": bytes})))
            .await
            .map_err(|e| internal("QMP block_resize", e))?;
        Ok(())
    }

    async fn snapshot_volume(&self, id: &str, volume_id: &str, name: &str) -> Result<(), Error> {
        let qmp = self.qmp(id).await?;
        // QEMU drains and flushes the disk, then records the snapshot in the QCOW2 file.
        match qmp.execute(SnapshotInternal(json!({"device": volume_node(volume_id), "name": name}))).await {
            Err(e) if !qmp_error_is(&e, &["already exists"]) => Err(internal("QMP blockdev-snapshot-internal-sync", e)),
            _ => Ok(()),
        }
    }

    async fn snapshot_volumes_together(&self, id: &str, snapshots: &[(String, String)]) -> Result<(), Error> {
        let qmp = self.qmp(id).await?;
        // One transaction: QEMU drains every disk named before any snapshot is taken, so no
        // guest write lands between them: the disks are consistent with each other as a
        // power cut would leave them, and the guest is not paused.
        let actions: Vec<Value> = snapshots
            .iter()
            .map(|(volume_id, name)| {
                json!({"type": "blockdev-snapshot-internal-sync",
                       "data": {"device": volume_node(volume_id), "name": name}})
            })
            .collect();
        match qmp.execute(Transaction(json!({"actions": actions}))).await {
            // All or none: a retried call finds them all made.
            Err(e) if !qmp_error_is(&e, &["already exists"]) => Err(internal("QMP transaction", e)),
            _ => Ok(()),
        }
    }

    async fn delete_volume_snapshot(&self, id: &str, volume_id: &str, name: &str) -> Result<(), Error> {
        let qmp = self.qmp(id).await?;
        match qmp.execute(SnapshotDeleteInternal(json!({"device": volume_node(volume_id), "name": name}))).await {
            Err(e) if !qmp_error_is(&e, &["does not exist"]) => {
                Err(internal("QMP blockdev-snapshot-delete-internal-sync", e))
            }
            _ => Ok(()),
        }
    }

    async fn guests(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.root).await.map_err(|e| internal("listing instances", e))?;
        while let Some(entry) = dir.next_entry().await.map_err(|e| internal("listing instances", e))? {
            let id = entry.file_name().to_string_lossy().into_owned();
            if id != BASE_DIR {
                out.push(id);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Whether KVM really runs a guest here: `/dev/kvm` may exist and accept `KVM_CREATE_VM`
/// while guests hang after the firmware (nested virtualisation). Boots `kernel` with no
/// init under KVM and waits for it to panic and exit within `timeout`.
pub async fn probe_kvm(kernel: &Path, timeout: Duration) -> bool {
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_err() {
        return false;
    }
    // `timeout` ends a hung probe guest (KVM can exist and hang, see the field notes), even
    // when this process dies mid-probe (a kill -9): the probe never outlives its time.
    let limit = format!("{}", timeout.as_secs().max(1));
    let child = tokio::process::Command::new("timeout")
        .args(["-s", "KILL", &limit, "qemu-system-x86_64"])
        .args([
            "-machine",
            "pc,accel=kvm",
            "-cpu",
            "host",
            "-m",
            "128M",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
        ])
        .args(["-serial", "stdio", "-no-reboot", "-kernel"])
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1 rdinit=/nimbus-kvm-probe"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(child) = child else { return false };
    match tokio::time::timeout(timeout + Duration::from_secs(5), child.wait_with_output()).await {
        Ok(Ok(out)) => String::from_utf8_lossy(&out.stdout).contains("Kernel panic"),
        _ => false,
    }
}
