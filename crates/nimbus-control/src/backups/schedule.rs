//! CBR policy schedules: the iCalendar RRULE subset Huawei's policies use (`FREQ=DAILY` or
//! `WEEKLY`, `BYDAY`, `BYHOUR`, `BYMINUTE`, `INTERVAL`; all in UTC), and the reconciler
//! that backs up the vaults bound to a policy when one of its times comes, then applies the
//! policy's retention (`max_backups`, `retention_duration_days`) to the backups it made.
//!
//! `cbr_time_scale` runs the schedule's clock faster than the wall clock (tests use it so a
//! daily rule fires within seconds); the default, 1, is real time.

use crate::{Control, Ctx};
use chrono::{Datelike, TimeZone, Timelike, Utc};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::backups as repo;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    weekly: bool,
    interval: i64,
    days: Vec<u32>,
    hours: Vec<u32>,
    minutes: Vec<u32>,
}

const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

fn numbers(v: &str, max: u32, what: &str) -> Result<Vec<u32>, Error> {
    v.split(',')
        .map(|n| {
            n.trim().parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| {
                Error::bad_request(format!("Invalid policy pattern: {what} {n:?} is not between 0 and {max}."))
            })
        })
        .collect()
}

impl Rule {
    /// Parses one pattern, e.g. `FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=14;BYMINUTE=00`.
    pub fn parse(pattern: &str) -> Result<Rule, Error> {
        let mut rule = Rule { weekly: false, interval: 1, days: (0..7).collect(), hours: Vec::new(), minutes: vec![0] };
        let mut freq = None;
        for part in pattern.split(';').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                Error::bad_request(format!("Invalid policy pattern {pattern:?}: {part:?} is not KEY=VALUE."))
            })?;
            match k.trim() {
                "FREQ" => freq = Some(v.trim().to_string()),
                "INTERVAL" => {
                    rule.interval = v.trim().parse().ok().filter(|i| *i >= 1).ok_or_else(|| {
                        Error::bad_request(format!("Invalid policy pattern {pattern:?}: INTERVAL must be 1 or more."))
                    })?
                }
                "BYDAY" => {
                    rule.days = v
                        .split(',')
                        .map(|d| {
                            DAYS.iter().position(|x| *x == d.trim()).map(|i| i as u32).ok_or_else(|| {
                                Error::bad_request(format!("Invalid policy pattern {pattern:?}: unknown day {d:?}."))
                            })
                        })
                        .collect::<Result<_, _>>()?
                }
                "BYHOUR" => rule.hours = numbers(v, 23, "BYHOUR")?,
                "BYMINUTE" => rule.minutes = numbers(v, 59, "BYMINUTE")?,
                other => {
                    return Err(Error::bad_request(format!(
                        "Invalid policy pattern {pattern:?}: unknown part {other:?}."
                    )))
                }
            }
        }
        match freq.as_deref() {
            Some("WEEKLY") => rule.weekly = true,
            Some("DAILY") => {}
            Some(f) => {
                return Err(Error::bad_request(format!(
                    "Invalid policy pattern {pattern:?}: FREQ {f} is not offered (DAILY or WEEKLY)."
                )))
            }
            None => return Err(Error::bad_request(format!("Invalid policy pattern {pattern:?}: FREQ is required."))),
        }
        if rule.hours.is_empty() {
            return Err(Error::bad_request(format!("Invalid policy pattern {pattern:?}: BYHOUR is required.")));
        }
        if rule.hours.len() * rule.minutes.len() > 24 {
            return Err(Error::bad_request(format!("Invalid policy pattern {pattern:?}: at most 24 times a day.")));
        }
        Ok(rule)
    }

    /// Whether the rule fires at the minute starting at `ms` (UTC).
    pub fn fires_at(&self, ms: i64) -> bool {
        let Some(t) = Utc.timestamp_millis_opt(ms).single() else { return false };
        let day = ms.div_euclid(86_400_000);
        let period_ok = if self.weekly { (day.div_euclid(7)) % self.interval == 0 } else { day % self.interval == 0 };
        period_ok
            && self.days.contains(&t.weekday().num_days_from_monday())
            && self.hours.contains(&t.hour())
            && self.minutes.contains(&t.minute())
    }
}

/// Whether any of `rules` fires in the schedule-clock interval `(after, upto]`, looking back
/// at most a week (a region down longer backs up once, not once per missed time).
pub fn fires_between(rules: &[Rule], after: i64, upto: i64) -> bool {
    let start = after.max(upto - 7 * 86_400_000);
    let mut minute = (start.div_euclid(60_000) + 1) * 60_000;
    while minute <= upto {
        if rules.iter().any(|r| r.fires_at(minute)) {
            return true;
        }
        minute += 60_000;
    }
    false
}

/// The region itself acting on a project's policies (audited under this name).
fn scheduler_ctx() -> Ctx {
    Ctx::region_actor("nimbus-cbr-scheduler", "SCHEDULE")
}

/// The reconciler that runs policies.
#[derive(Default)]
pub struct PolicyRunner {
    last_pass: AtomicI64,
}

#[async_trait::async_trait]
impl crate::reconcile::Reconciler for PolicyRunner {
    fn name(&self) -> &'static str {
        "cbr-policies"
    }

    fn period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        let now = now_ms();
        let every = control.config().cbr_schedule_interval_secs as i64 * 1000;
        if now - self.last_pass.load(Ordering::Relaxed) < every {
            return Ok(());
        }
        self.last_pass.store(now, Ordering::Relaxed);
        control.run_policies(now).await
    }
}

impl Control {
    /// The schedule's clock at wall-clock time `ms`.
    fn schedule_clock(&self, ms: i64) -> i64 {
        ms.saturating_mul(self.config().cbr_time_scale.max(1))
    }

    /// One pass: every enabled backup policy whose time came backs up its vaults, then each
    /// bound vault's policy-made backups beyond its retention go.
    pub async fn run_policies(&self, now: i64) -> Result<(), Error> {
        let policies = {
            let mut c = self.store().read().await?;
            repo::list_policies(&mut c, None).await?
        };
        let ctx = scheduler_ctx();
        let clock = self.schedule_clock(now);
        for mut p in policies.into_iter().filter(|p| p.enabled && p.operation_type == "backup") {
            let patterns: Vec<String> = serde_json::from_str(&p.patterns).unwrap_or_default();
            let rules: Vec<Rule> = patterns.iter().filter_map(|x| Rule::parse(x).ok()).collect();
            let vaults = {
                let mut c = self.store().read().await?;
                repo::policy_vaults(&mut c, &p.id).await?
            };
            if fires_between(&rules, p.last_run_at, clock) {
                // Recorded first: a crash after this never backs up twice for one time.
                p.last_run_at = clock;
                let mut tx = self.store().write().await?;
                repo::update_policy(&mut tx, &p).await?;
                tx.commit().await?;
                for v in &vaults {
                    let params = super::vaults::CheckpointParams {
                        auto_trigger: true,
                        policy_id: Some(p.id.clone()),
                        ..Default::default()
                    };
                    if let Err(e) = self.create_checkpoint(&ctx, v, params).await {
                        tracing::warn!(policy = %p.id, vault = %v, error = %e, "scheduled backup not started");
                    }
                }
            } else if p.last_run_at == 0 {
                p.last_run_at = clock;
                let mut tx = self.store().write().await?;
                repo::update_policy(&mut tx, &p).await?;
                tx.commit().await?;
            }
            let def: serde_json::Value = serde_json::from_str(&p.operation_definition).unwrap_or_default();
            for v in &vaults {
                if let Err(e) = self.apply_retention(&ctx, v, &def, now).await {
                    tracing::warn!(policy = %p.id, vault = %v, error = %e, "retention not applied; retried next pass");
                }
            }
        }
        Ok(())
    }

    /// Deletes a vault's policy-made backups beyond `max_backups` per resource (newest kept)
    /// or older than `retention_duration_days` (on the schedule's clock).
    async fn apply_retention(&self, ctx: &Ctx, vault_id: &str, def: &serde_json::Value, now: i64) -> Result<(), Error> {
        let max = def["max_backups"].as_i64().filter(|m| *m >= 0);
        let days = def["retention_duration_days"].as_i64().filter(|d| *d >= 0);
        if max.is_none() && days.is_none() {
            return Ok(());
        }
        let scale = self.config().cbr_time_scale.max(1);
        let backups = {
            let mut c = self.store().read().await?;
            let filter = repo::BackupFilter { vault_id: Some(vault_id.to_string()), ..Default::default() };
            let page = nimbus_core::page::PageRequest::largest();
            repo::list(&mut c, &filter, &page).await?
        };
        // The points in time of each protected resource, newest first: a disk's backup, or
        // a server's checkpoint (all its disks' backups of one checkpoint go together).
        let mut points: Vec<(&str, &str, Vec<&repo::Backup>)> = Vec::new();
        for b in backups.iter().filter(|b| b.auto_trigger && b.status == "available") {
            let (resource, point) = match (&b.server_id, &b.checkpoint_id) {
                (Some(server), Some(checkpoint)) => (server.as_str(), checkpoint.as_str()),
                _ => (b.volume_id.as_str(), b.id.as_str()),
            };
            match points.iter_mut().find(|p| p.0 == resource && p.1 == point) {
                Some(p) => p.2.push(b),
                None => points.push((resource, point, vec![b])),
            }
        }
        let mut seen: std::collections::BTreeMap<&str, i64> = Default::default();
        for (resource, _, members) in &points {
            let rank = seen.entry(resource).or_default();
            *rank += 1;
            let too_many = max.is_some_and(|m| *rank > m);
            let taken = members.iter().map(|b| b.created_at).min().unwrap_or(now);
            let too_old = days.is_some_and(|d| (now - taken).saturating_mul(scale) > d * 86_400_000);
            if too_many || too_old {
                self.delete_backups_together(ctx, members.iter().copied()).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_fire_at_their_times() {
        let weekly = Rule::parse("FREQ=WEEKLY;BYDAY=MO;BYHOUR=14;BYMINUTE=00").unwrap();
        // 2026-11-23 is a Monday.
        let monday_14 = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap().timestamp_millis();
        assert!(weekly.fires_at(monday_14));
        assert!(!weekly.fires_at(monday_14 + 60_000));
        assert!(!weekly.fires_at(monday_14 + 86_400_000));
        let daily = Rule::parse("FREQ=DAILY;INTERVAL=1;BYHOUR=6,18;BYMINUTE=30").unwrap();
        let six_30 = Utc.with_ymd_and_hms(2026, 11, 22, 6, 30, 0).unwrap().timestamp_millis();
        assert!(daily.fires_at(six_30) && daily.fires_at(six_30 + 12 * 3_600_000));
        assert!(fires_between(std::slice::from_ref(&daily), six_30 - 60_000, six_30));
        assert!(!fires_between(&[daily], six_30, six_30 + 3_600_000));
        for bad in ["FREQ=HOURLY;INTERVAL=1;BYMINUTE=00", "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=XX;BYHOUR=1", "BYHOUR=1"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }
}
