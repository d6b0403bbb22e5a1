//! A simulated hypervisor: guests are entries in a map, start and stop are instant. For
//! control-plane and scale tests only; never the default.

use super::{GuestSpec, GuestState, Hypervisor};
use nimbus_core::Error;
use std::collections::HashMap;
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
}

#[async_trait::async_trait]
impl Hypervisor for Simulated {
    fn kind(&self) -> &'static str {
        "simulated"
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
            g.remove(id);
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
        self.stop(id, std::time::Duration::ZERO).await
    }

    async fn console_log(&self, id: &str, _max_bytes: usize) -> Result<String, Error> {
        Ok(match self.state(id).await? {
            GuestState::Missing => String::new(),
            _ => format!("simulated guest {id}\nnimbus-tiny: ready hostname={id}\n"),
        })
    }

    async fn running_guests(&self) -> Result<Vec<String>, Error> {
        Ok(self.with(|g| g.keys().cloned().collect()))
    }
}
