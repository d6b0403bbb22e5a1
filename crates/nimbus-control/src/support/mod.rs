//! Support (seed 7, and the customer space of 5.1.2): each customer account (a domain) has a
//! support plan, named contacts, and tickets whose response and fault repair clocks run on
//! the plan's objectives (`plans.rs`) in working hours or around the clock (`calendar.rs`).
//!
//! The customer side is any user scoped to a project of the account (members change, readers
//! read); tickets are opened only by the account's named contacts. The provider side is the
//! region's operators (the `admin` role): they take tickets, set their priority (the
//! re-prioritisation of 7.7.3.4 puts a ticket on hold while the customer argues), resolve
//! them, close out-of-scope ones, and carry out catalogue requests (a quota change approved
//! changes the quota). A resolved ticket the customer does not confirm closes itself after
//! five working days (`AutoCloseReconciler`).
//!
//! Support clocks read [`Control::support_now`]: the wall clock, or (tests only) a clock
//! running `support_time_scale` times faster from the region's start, so that working days
//! pass in seconds.

pub mod calendar;
pub mod plans;
mod tickets;
mod visits;

pub use tickets::{AutoCloseReconciler, TicketAction, TicketCreate, TicketView, REQUEST_TYPES};
pub use visits::{InvitationReconciler, NoticeCreate, MAX_INVITATION_HOURS, URGENT_MINUTES_PER_MONTH};

use crate::audit::AuditEvent;
use crate::{Control, Ctx};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::support::{self as repo, Contact, Subscription};
use plans::{plan, Plan, DEFAULT_PLAN};

/// An account's plan: the one in force, since when, until when only upgrades are taken,
/// and a change ordered for a coming month.
#[derive(Debug, Clone)]
pub struct SubscriptionView {
    pub domain_id: String,
    pub plan: &'static Plan,
    pub since: i64,
    pub minimum_until: i64,
    pub pending: Option<(&'static Plan, i64)>,
    pub history: Vec<Subscription>,
}

/// What a named contact is.
#[derive(Debug, Clone, Default)]
pub struct ContactCreate {
    pub user_id: String,
    pub last_name: String,
    pub first_name: String,
    pub position: String,
    pub email: String,
    pub phone: String,
    pub availability: String,
}

/// The first instant (UTC) of the calendar month, Paris time, `months` after the one holding
/// `at` (0: its own month).
pub fn month_start(at: DateTime<Utc>, months: i32) -> DateTime<Utc> {
    let local = calendar::to_paris(at).date();
    let total = local.year() * 12 + local.month0() as i32 + months;
    let first = NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).expect("a month");
    calendar::from_paris(first.and_hms_opt(0, 0, 0).expect("midnight"))
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Control {
    /// The support clock: the wall clock, or one running `support_time_scale` times faster
    /// from the region's start (tests).
    pub fn support_now(&self) -> i64 {
        let now = now_ms();
        let scale = self.config().support_time_scale.max(1);
        if scale == 1 {
            return now;
        }
        self.started_at + (now - self.started_at) * scale
    }

    /// The account a support call acts on: the caller's (the domain of its project), or for
    /// operators the one named.
    pub(crate) fn support_account(&self, ctx: &Ctx, asked: Option<&str>, write: bool) -> Result<String, Error> {
        crate::authz::account_of(&ctx.principal, asked, "support", write)
    }

    /// An account's plan as it stands at `now`.
    pub(crate) async fn subscription_at(
        &self,
        c: &mut sqlx::AnyConnection,
        domain: &str,
        now: i64,
    ) -> Result<SubscriptionView, Error> {
        let history = repo::domain_subscriptions(c, domain).await?;
        let current = history.iter().rfind(|s| s.effective_from <= now);
        let (p, since, minimum_until) = match current {
            Some(s) => (plan(&s.plan).unwrap_or(&plans::PLANS[0]), s.effective_from, s.minimum_until),
            None => (plan(DEFAULT_PLAN).expect("the default plan"), 0, 0),
        };
        let pending =
            history.iter().rfind(|s| s.effective_from > now).and_then(|s| plan(&s.plan).map(|p| (p, s.effective_from)));
        Ok(SubscriptionView { domain_id: domain.to_string(), plan: p, since, minimum_until, pending, history })
    }

    /// An account's support plan.
    pub async fn support_subscription(&self, ctx: &Ctx, domain: Option<&str>) -> Result<SubscriptionView, Error> {
        let domain = self.support_account(ctx, domain, false)?;
        let mut c = self.store().read().await?;
        self.subscription_at(&mut c, &domain, self.support_now()).await
    }

    /// Orders a plan change, in force on the first day of next month. During a paid plan's
    /// minimum period only upgrades are taken, and an upgrade starts a new minimum period.
    pub async fn change_support_plan(
        &self,
        ctx: &Ctx,
        domain: Option<&str>,
        name: &str,
    ) -> Result<SubscriptionView, Error> {
        let domain = self.support_account(ctx, domain, true)?;
        let new = plan(name).ok_or_else(|| {
            Error::bad_request(format!(
                "Unknown support plan {name:?}: one of {}.",
                plans::PLANS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let now = self.support_now();
        let mut tx = self.store().write().await?;
        let view = self.subscription_at(&mut tx, &domain, now).await?;
        // The plan the account will be on: the change already ordered, else the current one.
        let (ordered, ordered_minimum) = match &view.pending {
            Some((p, _)) => (*p, view.history.last().map(|s| s.minimum_until).unwrap_or(0)),
            None => (view.plan, view.minimum_until),
        };
        if ordered.name == new.name {
            return Err(Error::Conflict(format!("The account is already on the {} plan.", new.title)));
        }
        let effective = month_start(utc(now), 1).timestamp_millis();
        if new.rank < ordered.rank && effective < ordered_minimum {
            return Err(Error::bad_request(format!(
                "Downgrade refused: the {} plan runs for at least {} months, until {}; only upgrades are taken before.",
                ordered.title,
                ordered.minimum_months,
                utc(ordered_minimum).format("%Y-%m-%d")
            )));
        }
        let minimum_until = month_start(utc(effective), new.minimum_months as i32).timestamp_millis();
        for s in view.history.iter().filter(|s| s.effective_from > now) {
            repo::delete_subscription(&mut tx, &s.id).await?;
        }
        let s = Subscription {
            id: uuid::Uuid::new_v4().to_string(),
            domain_id: domain.clone(),
            plan: new.name.to_string(),
            effective_from: effective,
            minimum_until,
            requested_by: ctx.principal.user_id.clone(),
            created_at: now,
        };
        repo::insert_subscription(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("Support", "subscription", "changeSupportPlan", 200).resource(&s.id, new.name),
        )
        .await?;
        let view = self.subscription_at(&mut tx, &domain, now).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// The plan whose limits apply to an account now: the one ordered (a change signed for
    /// next month counts), else the one in force.
    async fn contracted_plan(&self, c: &mut sqlx::AnyConnection, domain: &str) -> Result<&'static Plan, Error> {
        let v = self.subscription_at(c, domain, self.support_now()).await?;
        Ok(v.pending.map(|(p, _)| p).unwrap_or(v.plan))
    }

    /// An account's named contacts.
    pub async fn support_contacts(&self, ctx: &Ctx, domain: Option<&str>) -> Result<Vec<Contact>, Error> {
        let domain = self.support_account(ctx, domain, false)?;
        let mut c = self.store().read().await?;
        repo::domain_contacts(&mut c, &domain).await
    }

    /// Designates a named contact: a user of the account, as many as the plan allows.
    pub async fn add_support_contact(
        &self,
        ctx: &Ctx,
        domain: Option<&str>,
        req: ContactCreate,
    ) -> Result<Contact, Error> {
        let domain = self.support_account(ctx, domain, true)?;
        for (field, value) in [
            ("last_name", &req.last_name),
            ("first_name", &req.first_name),
            ("position", &req.position),
            ("email", &req.email),
            ("phone", &req.phone),
            ("availability", &req.availability),
        ] {
            if value.trim().is_empty() {
                return Err(Error::bad_request(format!("A named contact needs a {field}.")));
            }
        }
        if !req.email.contains('@') || req.email.contains(' ') {
            return Err(Error::bad_request(format!("Invalid email address {:?}.", req.email)));
        }
        if !req.phone.chars().all(|c| c.is_ascii_digit() || " +-.()".contains(c)) {
            return Err(Error::bad_request(format!("Invalid phone number {:?}.", req.phone)));
        }
        let mut tx = self.store().write().await?;
        let user = nimbus_store::identity::get_user(&mut tx, &req.user_id)
            .await?
            .filter(|u| u.domain_id == domain)
            .ok_or_else(|| Error::bad_request(format!("User {} is not a user of this account.", req.user_id)))?;
        let p = self.contracted_plan(&mut tx, &domain).await?;
        let count = repo::domain_contacts(&mut tx, &domain).await?.len();
        if let Some(limit) = p.contacts {
            if count >= limit {
                return Err(Error::bad_request(format!(
                    "The {} plan allows {limit} named contact(s); the account has {count}. Upgrade the plan for more.",
                    p.title
                )));
            }
        }
        let contact = Contact {
            id: uuid::Uuid::new_v4().to_string(),
            domain_id: domain.clone(),
            user_id: user.id,
            last_name: req.last_name,
            first_name: req.first_name,
            position: req.position,
            email: req.email,
            phone: req.phone,
            availability: req.availability,
            created_at: self.support_now(),
        };
        repo::insert_contact(&mut tx, &contact).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict("That user already is a named contact of the account.".into()),
            other => other,
        })?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("Support", "contact", "addNamedContact", 201).resource(&contact.id, &contact.last_name),
        )
        .await?;
        tx.commit().await?;
        Ok(contact)
    }

    /// Removes a named contact.
    pub async fn remove_support_contact(&self, ctx: &Ctx, domain: Option<&str>, id: &str) -> Result<(), Error> {
        let domain = self.support_account(ctx, domain, true)?;
        let mut tx = self.store().write().await?;
        let c = repo::get_contact(&mut tx, id)
            .await?
            .filter(|c| c.domain_id == domain)
            .ok_or_else(|| Error::not_found("contact", id))?;
        repo::delete_contact(&mut tx, &c.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("Support", "contact", "removeNamedContact", 204).resource(&c.id, &c.last_name),
        )
        .await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_at_paris_midnight() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap();
        assert_eq!(month_start(at, 1), Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap(), "1 Jan 00:00 CET");
        assert_eq!(month_start(at, 7), Utc.with_ymd_and_hms(2027, 6, 30, 22, 0, 0).unwrap(), "1 Jul 00:00 CEST");
        assert_eq!(month_start(at, 0), Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap());
        // Late on the last evening of a month, Paris is already in the next one.
        let eve = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
        assert_eq!(month_start(eve, 1), Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap());
    }
}
