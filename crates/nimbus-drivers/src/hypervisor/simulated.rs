//! A simulated hypervisor: guests are entries in a map, start and stop are instant. For
//! control-plane and scale tests only; never the default.

use super::{Checkpoint, DiskQos, GuestSpec, GuestState, Hypervisor, VolumeDisk};
use nimbus_core::Error;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// Guests that exist only in memory.
#[derive(Default)]
pub struct Simulated {
    guests: Mutex<HashMap<String, (GuestSpec, GuestState)>>,
}

impl Simulated {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (GuestSpec, GuestState)>) -> T) -> T {
        f(&mut self.guests.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn known(&self, id: &str) -> Result<(), Error> {
        if self.with(|g| g.contains_key(id)) {
            Ok(())
        } else {
            Err(Error::Internal(format!("simulated guest {id} was never prepared")))
        }
    }
}

#[async_trait::async_trait]
impl Hypervisor for Simulated {
    fn kind(&self) -> &'static str {
        "simulated"
    }

    async fn prepare(&self, spec: &GuestSpec) -> Result<(), Error> {
        self.with(|g| {
            let state = g.get(&spec.id).map(|(_, s)| *s).unwrap_or(GuestState::Shutoff);
            g.insert(spec.id.clone(), (spec.clone(), state));
        });
        Ok(())
    }

    async fn reset_disk(&self, spec: &GuestSpec) -> Result<(), Error> {
        self.prepare(spec).await
    }

    async fn grow_disk(&self, id: &str, gb: u64) -> Result<(), Error> {
        self.known(id)?;
        self.with(|g| {
            if let Some((spec, _)) = g.get_mut(id) {
                spec.disk_gb = spec.disk_gb.max(gb);
            }
        });
        Ok(())
    }

    async fn checkpoint_disk(&self, id: &str, _op: Checkpoint) -> Result<(), Error> {
        self.known(id)
    }

    async fn export_disk(&self, id: &str, out: &Path) -> Result<(), Error> {
        self.known(id)?;
        // A simulated disk has no content: export an empty QCOW2 of the disk's size, so the
        // image pipeline after it (hashing, inspection) still runs for real.
        let gb = self.with(|g| g.get(id).map(|(s, _)| s.disk_gb).unwrap_or(1)).max(1);
        let st = tokio::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(out)
            .arg(format!("{gb}G"))
            .status()
            .await
            .map_err(|e| Error::Internal(format!("simulated export: {e}")))?;
        if st.success() {
            Ok(())
        } else {
            Err(Error::Internal("simulated export: qemu-img create failed".into()))
        }
    }

    async fn start(&self, spec: &GuestSpec) -> Result<(), Error> {
        self.with(|g| {
            g.insert(spec.id.clone(), (spec.clone(), GuestState::Running));
        });
        Ok(())
    }

    async fn state(&self, id: &str) -> Result<GuestState, Error> {
        Ok(self.with(|g| g.get(id).map(|(_, s)| *s).unwrap_or(GuestState::Missing)))
    }

    async fn stop(&self, id: &str, _grace: std::time::Duration) -> Result<(), Error> {
        self.with(|g| {
            if let Some((_, s)) = g.get_mut(id) {
                *s = GuestState::Shutoff;
            }
        });
        Ok(())
    }

    async fn reboot(&self, id: &str, _hard: bool) -> Result<(), Error> {
        match self.state(id).await? {
            GuestState::Running => Ok(()),
            _ => Err(Error::Conflict(format!("guest {id} is not running"))),
        }
    }

    async fn destroy(&self, id: &str) -> Result<(), Error> {
        self.with(|g| {
            g.remove(id);
        });
        Ok(())
    }

    async fn console_log(&self, id: &str, _max_bytes: usize) -> Result<String, Error> {
        Ok(match self.state(id).await? {
            GuestState::Missing => String::new(),
            _ => format!("simulated guest {id}\nnimbus-tiny: ready hostname={id}\n"),
        })
    }

    async fn attach_volume(&self, id: &str, disk: &VolumeDisk) -> Result<(), Error> {
        self.known(id)?;
        self.with(|g| {
            if let Some((spec, _)) = g.get_mut(id) {
                if !spec.volumes.iter().any(|v| v.id == disk.id) {
                    spec.volumes.push(disk.clone());
                }
            }
        });
        Ok(())
    }

    async fn detach_volume(&self, id: &str, volume_id: &str, _wait: std::time::Duration) -> Result<bool, Error> {
        self.with(|g| {
            if let Some((spec, _)) = g.get_mut(id) {
                spec.volumes.retain(|v| v.id != volume_id);
            }
        });
        Ok(true)
    }

    async fn set_volume_qos(&self, id: &str, volume_id: &str, _qos: DiskQos) -> Result<(), Error> {
        self.resize_volume(id, volume_id, 0).await
    }

    async fn resize_volume(&self, id: &str, volume_id: &str, _bytes: u64) -> Result<(), Error> {
        let attached = self.with(|g| g.get(id).is_some_and(|(s, _)| s.volumes.iter().any(|v| v.id == volume_id)));
        if attached {
            Ok(())
        } else {
            Err(Error::Conflict(format!("volume {volume_id} is not attached to simulated guest {id}")))
        }
    }

    async fn snapshot_volume(&self, id: &str, volume_id: &str, _name: &str) -> Result<(), Error> {
        self.resize_volume(id, volume_id, 0).await
    }

    async fn snapshot_volumes_together(&self, id: &str, snapshots: &[(String, String)]) -> Result<(), Error> {
        for (volume_id, name) in snapshots {
            self.snapshot_volume(id, volume_id, name).await?;
        }
        Ok(())
    }

    async fn delete_volume_snapshot(&self, id: &str, volume_id: &str, _name: &str) -> Result<(), Error> {
        self.resize_volume(id, volume_id, 0).await
    }

    async fn guests(&self) -> Result<Vec<String>, Error> {
        let mut ids: Vec<String> = self.with(|g| g.keys().cloned().collect());
        ids.sort();
        Ok(ids)
    }
}
