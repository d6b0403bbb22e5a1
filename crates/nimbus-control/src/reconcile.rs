//! The reconciler framework: desired state lives in the store; one loop per resource kind
//! compares it with the world, acts through drivers, and records what it observed.
//!
//! Every reconciler runs once at start-up, before the region serves (so it adopts whatever a
//! previous run left: guests, files, half-done jobs), then periodically and whenever its
//! wake-up is notified. Reconcilers must be idempotent: running one twice changes nothing.

use crate::Control;
use nimbus_core::Error;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One convergence loop.
#[async_trait::async_trait]
pub trait Reconciler: Send + Sync + 'static {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// How often to run when nothing wakes it.
    fn period(&self) -> Duration;
    /// A notifier that triggers an immediate pass.
    fn wakeup<'a>(&self, _control: &'a Control) -> Option<&'a tokio::sync::Notify> {
        None
    }
    /// One pass: converge everything of this kind.
    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error>;
}

/// The region's reconcilers.
pub fn all() -> Vec<Arc<dyn Reconciler>> {
    vec![
        Arc::new(crate::compute::power_sync::ServerReconciler),
        Arc::new(crate::jobs::JobRunner::default()),
        Arc::new(TokenHousekeeping),
        Arc::new(crate::objects::MeterFlush),
        Arc::new(crate::objects::lifecycle::LifecycleRunner::default()),
        Arc::new(crate::backups::schedule::PolicyRunner::default()),
        Arc::new(crate::network::plane::NetworkPlaneReconciler),
        Arc::new(crate::support::AutoCloseReconciler),
        Arc::new(crate::support::InvitationReconciler),
        Arc::new(crate::billing::BillingReconciler::default()),
    ]
}

/// Runs every reconciler once (start-up adoption), then keeps them running until `shutdown`.
pub async fn start(
    control: Arc<Control>,
    reconcilers: Vec<Arc<dyn Reconciler>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    for r in &reconcilers {
        if let Err(e) = r.reconcile(&control).await {
            tracing::error!(reconciler = r.name(), error = %e, "start-up pass failed");
        }
    }
    reconcilers
        .into_iter()
        .map(|r| {
            let control = control.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    let wake = async {
                        match r.wakeup(&control) {
                            Some(n) => n.notified().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(r.period()) => {}
                        _ = wake => {}
                        _ = shutdown.changed() => return,
                    }
                    if let Err(e) = r.reconcile(&control).await {
                        tracing::error!(reconciler = r.name(), error = %e, "pass failed");
                    }
                }
            })
        })
        .collect()
}

/// Deletes long-expired tokens.
pub struct TokenHousekeeping;

#[async_trait::async_trait]
impl Reconciler for TokenHousekeeping {
    fn name(&self) -> &'static str {
        "tokens"
    }

    fn period(&self) -> Duration {
        Duration::from_secs(600)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        let n = control.purge_expired_tokens().await?;
        if n > 0 {
            tracing::info!(purged = n, "expired tokens removed");
        }
        Ok(())
    }
}
