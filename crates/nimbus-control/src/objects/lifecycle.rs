//! Lifecycle rules at work (seed 6.2.2: objects move STANDARD -> WARM -> COLD and expire
//! by the owner's rules): a reconciler walks the buckets that have rules every
//! `lifecycle_interval_secs` and applies each rule's latest due action to each object
//! under its prefix. Each action is its own transaction and idempotent (a transition only
//! goes to a colder class; an expiration of a gone object does nothing), so a pass cut by a
//! crash simply finishes at the next one.
//!
//! Days count from the object's write time; `lifecycle_day_secs` sets a day's length (a
//! real day by default; tests shorten it). Expiration of a versioned bucket's object
//! writes a delete marker, as S3 does.

use super::settings::{LifecycleRule, When};
use super::*;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The reconciler that applies lifecycle rules.
#[derive(Default)]
pub struct LifecycleRunner {
    last_pass: AtomicI64,
}

#[async_trait::async_trait]
impl crate::reconcile::Reconciler for LifecycleRunner {
    fn name(&self) -> &'static str {
        "obs-lifecycle"
    }

    fn period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        let now = now_ms();
        let every = control.config().lifecycle_interval_secs as i64 * 1000;
        if now - self.last_pass.load(Ordering::Relaxed) < every {
            return Ok(());
        }
        self.last_pass.store(now, Ordering::Relaxed);
        control.apply_lifecycle(now).await
    }
}

/// What a rule asks of one object now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Nothing,
    Transition(&'static str),
    Expire,
}

/// Colder classes rank higher; a transition never warms an object.
fn rank(class: &str) -> u8 {
    match class {
        "WARM" => 1,
        "COLD" => 2,
        _ => 0,
    }
}

/// Whether `when` has come for an object written at `written` (ms), with days of `day_ms`.
fn reached(when: &When, written: i64, now: i64, day_ms: i64) -> bool {
    match when {
        When::Days(d) => now - written >= d * day_ms,
        When::Date(at) => now >= *at,
    }
}

/// The latest action `rule` makes due for an object of `class` written at `written`.
pub fn due(rule: &LifecycleRule, class: &str, written: i64, now: i64, day_ms: i64) -> Due {
    if !rule.enabled {
        return Due::Nothing;
    }
    if rule.expiration.as_ref().is_some_and(|e| reached(e, written, now, day_ms)) {
        return Due::Expire;
    }
    let target = rule
        .transitions
        .iter()
        .filter(|t| reached(&t.when, written, now, day_ms))
        .map(|t| if t.class == "COLD" { "COLD" } else { "WARM" })
        .max_by_key(|c| rank(c));
    match target {
        Some(t) if rank(t) > rank(class) => Due::Transition(t),
        _ => Due::Nothing,
    }
}

/// The region itself, acting on the owner's rules (audited under this name).
fn lifecycle_ctx() -> Ctx {
    Ctx::region_actor("nimbus-lifecycle", "LIFECYCLE")
}

impl Control {
    /// One pass of every bucket's lifecycle rules.
    pub async fn apply_lifecycle(&self, now: i64) -> Result<(), Error> {
        let buckets = {
            let mut c = self.store().read().await?;
            repo::buckets_with_lifecycle(&mut c).await?
        };
        let day_ms = self.config().lifecycle_day_secs.max(1) as i64 * 1000;
        let ctx = lifecycle_ctx();
        for b in buckets {
            let rules: Vec<LifecycleRule> =
                b.lifecycle.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
            for rule in rules.iter().filter(|r| r.enabled) {
                if let Err(e) = self.apply_rule(&ctx, &b, rule, now, day_ms).await {
                    tracing::warn!(bucket = %b.name, rule = ?rule.id, error = %e, "lifecycle rule failed; retried next pass");
                }
            }
        }
        Ok(())
    }

    async fn apply_rule(
        &self,
        ctx: &Ctx,
        b: &Bucket,
        rule: &LifecycleRule,
        now: i64,
        day_ms: i64,
    ) -> Result<(), Error> {
        let mut after: Option<String> = None;
        loop {
            let batch = {
                let mut c = self.store().read().await?;
                repo::list_objects(&mut c, &b.id, &rule.prefix, after.as_deref(), 500).await?
            };
            let done = batch.len() < 500;
            for o in &batch {
                match due(rule, &o.storage_class, o.created_at, now, day_ms) {
                    Due::Nothing => {}
                    Due::Expire => self.expire_object(ctx, b, &o.object_key, &o.data_id).await?,
                    Due::Transition(class) => {
                        let mut tx = self.store().write().await?;
                        if repo::set_storage_class(&mut tx, &b.id, &o.object_key, &o.data_id, class).await? {
                            self.stored_event(&mut tx, b, &o.object_key, &o.storage_class, -o.size).await?;
                            self.stored_event(&mut tx, b, &o.object_key, class, o.size).await?;
                            self.audit_object(&mut tx, ctx, b, &o.object_key, "lifecycleTransition", 200).await?;
                        }
                        tx.commit().await?;
                    }
                }
            }
            if let Some(days) = rule.abort_multipart_days {
                self.abort_stale_uploads(ctx, b, &rule.prefix, now - days * day_ms).await?;
            }
            if done {
                return Ok(());
            }
            after = batch.last().map(|o| o.object_key.clone());
        }
    }

    /// Aborts uploads under `prefix` started before `before`.
    async fn abort_stale_uploads(&self, ctx: &Ctx, b: &Bucket, prefix: &str, before: i64) -> Result<(), Error> {
        let uploads = {
            let mut c = self.store().read().await?;
            repo::list_uploads(&mut c, &b.id).await?
        };
        for u in uploads.iter().filter(|u| u.object_key.starts_with(prefix) && u.created_at < before) {
            self.abort_multipart_upload(ctx, &b.name, &u.object_key, &u.id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::settings::Transition;

    #[test]
    fn the_latest_due_action_wins_and_classes_only_get_colder() {
        let rule = LifecycleRule {
            id: None,
            prefix: String::new(),
            enabled: true,
            transitions: vec![
                Transition { when: When::Days(1), class: "WARM".into() },
                Transition { when: When::Days(2), class: "COLD".into() },
            ],
            expiration: Some(When::Days(4)),
            abort_multipart_days: None,
        };
        let day = 1000;
        assert_eq!(due(&rule, "STANDARD", 0, 500, day), Due::Nothing);
        assert_eq!(due(&rule, "STANDARD", 0, 1000, day), Due::Transition("WARM"));
        assert_eq!(due(&rule, "STANDARD", 0, 2500, day), Due::Transition("COLD"));
        assert_eq!(due(&rule, "COLD", 0, 1500, day), Due::Nothing);
        assert_eq!(due(&rule, "COLD", 0, 4000, day), Due::Expire);
    }
}
