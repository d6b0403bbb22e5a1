//! Locks by key: one async mutex per resource id, made on first use and dropped when unused.
//!
//! Used where two tasks must take turns on one resource (a guest's QMP monitor, the steps
//! of two jobs on the same server) while different resources proceed in parallel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

/// A set of async mutexes, one per key.
#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds the lock of one key; the key's entry goes when its last user leaves.
pub struct KeyedGuard<'a> {
    owner: &'a KeyedLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let mutex = self.map().entry(key.to_string()).or_default().clone();
        let guard = mutex.lock_owned().await;
        KeyedGuard { owner: self, key: key.to_string(), guard: Some(guard) }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        // A panic while the map was held cannot leave it inconsistent (one insert or remove).
        self.locks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.owner.map();
        // Only the map itself still refers to the mutex: nobody holds or awaits it.
        if map.get(&self.key).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_key_takes_turns_and_is_forgotten_after() {
        let locks = Arc::new(KeyedLocks::default());
        let first = locks.lock("a").await;
        // Another key is free meanwhile.
        drop(locks.lock("b").await);
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock("a").await;
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the second holder of a key must wait");
        drop(first);
        waiter.await.unwrap();
        assert!(locks.map().is_empty(), "unused keys are dropped");
    }
}
