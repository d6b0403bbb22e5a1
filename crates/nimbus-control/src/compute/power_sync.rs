//! The server reconciler: keeps the stored power state true to the hypervisor's, and
//! leaves no guest behind that no server owns.
//!
//! At start-up (before the region serves) and then every few seconds it
//! - asks the hypervisor for every guest it holds; a guest whose server row is gone (a
//!   delete finished while the guest was being started, or state from a lost store) is
//!   destroyed, process and files;
//! - re-adopts running guests: for QEMU that is simply reaching them through their QMP
//!   sockets again, as the processes outlive `nimbus`;
//! - marks an `ACTIVE` server whose guest is gone or powered off `SHUTOFF`, with the reason
//!   as its fault (Nova's power-state sync), recording the stop for metering.
//!
//! Servers with a task in progress are left to their job.

use super::server::{LOCAL_HOST, POWER_SHUTDOWN};
use crate::reconcile::Reconciler;
use crate::Control;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::hypervisor::GuestState;
use nimbus_store::servers as repo;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The server power-state reconciler.
pub struct ServerReconciler;

#[async_trait::async_trait]
impl Reconciler for ServerReconciler {
    fn name(&self) -> &'static str {
        "servers"
    }

    fn period(&self) -> Duration {
        Duration::from_secs(5)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        let hv = &control.drivers().hypervisor;
        // Guests first, rows second: a guest is only ever created after its row committed,
        // so every guest listed here that has a server shows up in the read below.
        let guests = hv.guests().await?;
        let servers = {
            let mut c = control.store().read().await?;
            repo::all(&mut c).await?
        };
        let known: HashSet<&str> = servers.iter().map(|s| s.id.as_str()).collect();
        for g in guests.iter().filter(|g| !known.contains(g.as_str())) {
            tracing::warn!(guest = %g, "removing a guest no server owns");
            hv.destroy(g).await?;
        }
        for s in servers.iter().filter(|s| s.host.as_deref() == Some(LOCAL_HOST)) {
            if s.task_state.is_some() || s.status != "ACTIVE" {
                continue;
            }
            let state = hv.state(&s.id).await?;
            if matches!(state, GuestState::Running | GuestState::Paused) {
                continue;
            }
            let why = match state {
                GuestState::Missing => "The guest's QEMU process is gone (it exited or was killed).",
                _ => "The guest powered itself off.",
            };
            tracing::warn!(server = %s.id, reason = why, "server marked SHUTOFF");
            control
                .settle_server(&s.id, &|s| {
                    if s.task_state.is_some() || s.status != "ACTIVE" {
                        return None;
                    }
                    s.status = "SHUTOFF".into();
                    s.vm_state = "stopped".into();
                    s.power_state = POWER_SHUTDOWN;
                    s.fault_code = Some(0);
                    s.fault_message = Some(why.into());
                    s.fault_at = Some(now_ms());
                    Some(Some("stopped"))
                })
                .await?;
        }
        Ok(())
    }
}
