//! Reserved instances (seed 6.1.3-6.1.5), subscribed through the customer space: a flavor in
//! a region for 1, 2, 3 or 5 years, with no upfront payment (a monthly amount) or a partial
//! one (an upfront fee plus a monthly amount), both due whatever the usage. The prices are
//! those of the day of subscription, firm for the term. A reservation applies from the first
//! day of the next calendar month (the month of subscription is pay-per-use) until its term
//! ends, then pay-per-use resumes.
//!
//! Flexible reservations may be modified during the term: another flavor of the same family,
//! from the first day of the next month, at that day's price for the same term and payment,
//! never below the monthly amount already committed (the seed leaves the rules to a document
//! we do not have; this is Nimbus's). Any reservation may be cancelled before its end: the
//! month of cancellation stays covered and due, and a fee of 12% of the amount still due for
//! the initial term (the monthly amounts of the months after the cancellation) is charged.

use super::month::Month;
use super::rating::{cents, Reserved};
use super::{money, parse_amount};
use crate::audit::AuditEvent;
use crate::authz::{account_of, allowed, Target};
use crate::{Control, Ctx};
use nimbus_core::Error;
use nimbus_store::billing::{self as repo, Reservation};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The share of the amount still due charged when a reservation is cancelled early.
pub const CANCELLATION_FEE_PERCENT: i64 = 12;

/// What a customer subscribes.
#[derive(Debug, Clone, Default)]
pub struct ReservationCreate {
    pub region: Option<String>,
    pub flavor: String,
    pub term_years: i64,
    pub payment: String,
    pub flexible: bool,
}

/// A reservation with its state at the billing clock's now.
#[derive(Debug, Clone)]
pub struct ReservationView {
    pub reservation: Reservation,
    /// pending (not yet in force), active, cancelled, expired.
    pub status: &'static str,
    /// The flavor and monthly amount in force (or next in force).
    pub flavor_now: String,
    pub monthly_now: String,
}

fn modifications(r: &Reservation) -> Vec<(i64, String, Decimal)> {
    serde_json::from_str::<Vec<Value>>(&r.modifications)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            Some((
                m["effective_from"].as_i64()?,
                m["to_flavor"].as_str()?.to_string(),
                parse_amount("monthly amount", m["monthly_amount"].as_str()?).ok()?,
            ))
        })
        .collect()
}

/// A stored reservation as rating sees it.
pub(crate) fn for_rating(r: &Reservation) -> Reserved {
    Reserved {
        id: r.id.clone(),
        region: r.region.clone(),
        flavor: r.flavor.clone(),
        monthly: parse_amount("monthly amount", &r.monthly_amount).unwrap_or_default(),
        upfront: parse_amount("upfront amount", &r.upfront_amount).unwrap_or_default(),
        subscribed_at: r.subscribed_at,
        effective_from: r.effective_from,
        ends_at: r.ends_at,
        cancelled_at: r.cancelled_at,
        cancellation_fee: r.cancellation_fee.as_deref().and_then(|f| parse_amount("fee", f).ok()),
        modifications: modifications(r),
    }
}

/// The family of a flavor: what comes before its first dot (`s3` of `s3.large.2`).
fn family(flavor: &str) -> &str {
    flavor.split('.').next().unwrap_or(flavor)
}

/// The fee of cancelling at `now`: 12% of the monthly amounts of the term's months after
/// the current one.
pub fn cancellation_fee(r: &Reserved, now: i64) -> Decimal {
    let mut m = Month::of(now).plus(1).max(Month::of(r.effective_from));
    let mut due = Decimal::ZERO;
    while m.start() < r.ends_at {
        due += r.terms_in(m).1;
        m = m.plus(1);
    }
    cents(due * Decimal::from(CANCELLATION_FEE_PERCENT) / Decimal::from(100))
}

impl Control {
    fn reservation_view(&self, r: Reservation) -> ReservationView {
        let now = self.billing_now();
        let rated = for_rating(&r);
        let month = Month::of(now).max(Month::of(r.effective_from));
        let (flavor, monthly) = rated.terms_in(month);
        let status = if r.cancelled_at.is_some() {
            "cancelled"
        } else if now >= r.ends_at {
            "expired"
        } else if now < r.effective_from {
            "pending"
        } else {
            "active"
        };
        ReservationView { flavor_now: flavor.to_string(), monthly_now: money(monthly), status, reservation: r }
    }

    /// The flavor (must exist and be offered) and its pay-per-use hourly price now.
    async fn reservable_flavor(&self, region: &str, flavor: &str, now: i64) -> Result<Decimal, Error> {
        let mut c = self.store().read().await?;
        let f = nimbus_store::compute::get_flavor(&mut c, flavor)
            .await?
            .filter(|f| f.is_public && !f.disabled)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid reservation: unknown flavor {flavor:?}: reserve a public flavor of region {region}."
                ))
            })?;
        self.prices().flavor_price(region, &f.id, f.vcpus, f.ram_mb, now).ok_or_else(|| {
            Error::bad_request(format!("Invalid reservation: flavor {flavor} has no price in {region}."))
        })
    }

    /// Subscribes a reservation, in force from the first day of next month.
    pub async fn subscribe_reservation(
        &self,
        ctx: &Ctx,
        asked: Option<&str>,
        req: ReservationCreate,
    ) -> Result<ReservationView, Error> {
        let domain = account_of(&ctx.principal, asked, "billing", true)?;
        let region = req.region.clone().unwrap_or_else(|| self.config().region.clone());
        {
            let mut c = self.store().read().await?;
            let regions = nimbus_store::region::list_regions(&mut c).await?;
            if !regions.iter().any(|r| r.id == region) {
                return Err(Error::bad_request(format!("Invalid reservation: unknown region {region:?}.")));
            }
        }
        if !super::prices::RESERVATION_TERMS.contains(&req.term_years) {
            return Err(Error::bad_request(format!(
                "Invalid reservation: a term of {} years; reservations last 1, 2, 3 or 5 years.",
                req.term_years
            )));
        }
        if !["no_upfront", "partial_upfront"].contains(&req.payment.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid reservation: payment {:?}; no_upfront or partial_upfront.",
                req.payment
            )));
        }
        let now = self.billing_now();
        let hourly = self.reservable_flavor(&region, &req.flavor, now).await?;
        let (monthly, upfront) = self.prices().reservation_amounts(hourly, &req.payment, req.term_years)?;
        let start = Month::of(now).plus(1);
        let r = Reservation {
            id: uuid::Uuid::new_v4().to_string(),
            domain_id: domain,
            region,
            flavor: req.flavor,
            term_years: req.term_years,
            payment: req.payment,
            flexible: req.flexible,
            monthly_amount: money(monthly),
            upfront_amount: money(upfront),
            subscribed_at: now,
            effective_from: start.start(),
            ends_at: start.plus(12 * req.term_years as i32).start(),
            cancelled_at: None,
            cancellation_fee: None,
            modifications: "[]".into(),
            subscribed_by: ctx.principal.user_id.clone(),
        };
        let mut tx = self.store().write().await?;
        repo::insert_reservation(&mut tx, &r).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("BSS", "reserved_instance", "subscribeReservedInstance", 201).resource(&r.id, &r.flavor),
        )
        .await?;
        tx.commit().await?;
        Ok(self.reservation_view(r))
    }

    /// The account's reservations.
    pub async fn list_reservations(&self, ctx: &Ctx, asked: Option<&str>) -> Result<Vec<ReservationView>, Error> {
        let domain = account_of(&ctx.principal, asked, "billing", false)?;
        let mut c = self.store().read().await?;
        Ok(repo::list_reservations(&mut c, Some(&domain))
            .await?
            .into_iter()
            .map(|r| self.reservation_view(r))
            .collect())
    }

    /// A reservation the caller may see (404 otherwise), checked for `write`.
    async fn load_reservation(&self, ctx: &Ctx, id: &str, write: bool) -> Result<Reservation, Error> {
        let mut c = self.store().read().await?;
        let r = repo::get_reservation(&mut c, id).await?.ok_or_else(|| Error::not_found("reserved instance", id))?;
        let target = Target { domain_id: Some(&r.domain_id), ..Default::default() };
        if !allowed("billing:read", &ctx.principal, &target) {
            return Err(Error::not_found("reserved instance", id));
        }
        account_of(&ctx.principal, Some(&r.domain_id), "billing", write)?;
        Ok(r)
    }

    pub async fn get_reservation(&self, ctx: &Ctx, id: &str) -> Result<ReservationView, Error> {
        Ok(self.reservation_view(self.load_reservation(ctx, id, false).await?))
    }

    /// Moves a flexible reservation to another flavor of its family from next month.
    pub async fn modify_reservation(&self, ctx: &Ctx, id: &str, flavor: &str) -> Result<ReservationView, Error> {
        let mut r = self.load_reservation(ctx, id, true).await?;
        let now = self.billing_now();
        if !r.flexible {
            return Err(Error::Conflict(format!(
                "Reserved instance {id} is not flexible: only flexible reserved instances are modified during their term."
            )));
        }
        if r.cancelled_at.is_some() || now >= r.ends_at {
            return Err(Error::Conflict(format!("Reserved instance {id} has ended.")));
        }
        let next = Month::of(now).plus(1).max(Month::of(r.effective_from));
        if next.start() >= r.ends_at {
            return Err(Error::Conflict(format!("Reserved instance {id} ends this month: nothing left to modify.")));
        }
        let rated = for_rating(&r);
        let (current, committed) = rated.terms_in(next);
        if family(flavor) != family(current) || flavor == current {
            return Err(Error::bad_request(format!(
                "Invalid modification: {flavor} for {current}: a flexible reservation moves to another flavor of \
                 its family ({}).",
                family(current)
            )));
        }
        let hourly = self.reservable_flavor(&r.region, flavor, now).await?;
        let monthly = self.prices().reservation_amounts(hourly, &r.payment, r.term_years)?.0;
        if monthly < committed {
            return Err(Error::bad_request(format!(
                "Invalid modification: {flavor} would cost {} a month, less than the {} committed: a modification \
                 keeps at least the committed monthly amount.",
                money(monthly),
                money(committed)
            )));
        }
        let mut mods: Vec<Value> = serde_json::from_str(&r.modifications).unwrap_or_default();
        // A second change for the same month replaces the first.
        mods.retain(|m| m["effective_from"].as_i64() != Some(next.start()));
        mods.push(json!({"at": now, "effective_from": next.start(), "from_flavor": current, "to_flavor": flavor,
            "monthly_amount": money(monthly)}));
        r.modifications = serde_json::to_string(&mods)?;
        let mut tx = self.store().write().await?;
        repo::update_reservation(&mut tx, &r).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("BSS", "reserved_instance", "modifyReservedInstance", 200).resource(&r.id, flavor),
        )
        .await?;
        tx.commit().await?;
        Ok(self.reservation_view(r))
    }

    /// Cancels a reservation before its end, charging the cancellation fee.
    pub async fn cancel_reservation(&self, ctx: &Ctx, id: &str) -> Result<ReservationView, Error> {
        let mut r = self.load_reservation(ctx, id, true).await?;
        let now = self.billing_now();
        if r.cancelled_at.is_some() {
            return Err(Error::Conflict(format!("Reserved instance {id} is already cancelled.")));
        }
        if now >= r.ends_at {
            return Err(Error::Conflict(format!("Reserved instance {id} has reached the end of its term.")));
        }
        let fee = cancellation_fee(&for_rating(&r), now);
        r.cancelled_at = Some(now);
        r.cancellation_fee = Some(money(fee));
        let mut tx = self.store().write().await?;
        repo::update_reservation(&mut tx, &r).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("BSS", "reserved_instance", "cancelReservedInstance", 200).resource(&r.id, &r.flavor),
        )
        .await?;
        tx.commit().await?;
        Ok(self.reservation_view(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cancellation_fee_is_12_percent_of_what_is_still_due() {
        let start = Month::parse("2026-02").unwrap();
        let r = Reserved {
            id: "r".into(),
            region: "eu-west-0".into(),
            flavor: "s3.large.2".into(),
            monthly: Decimal::new(3476, 2),
            upfront: Decimal::ZERO,
            subscribed_at: start.plus(-1).start() + 1000,
            effective_from: start.start(),
            ends_at: start.plus(12).start(),
            cancelled_at: None,
            cancellation_fee: None,
            modifications: vec![(start.plus(6).start(), "s3.xlarge.2".into(), Decimal::new(6953, 2))],
        };
        let cases = [
            // Before it starts: the whole term, 6 x 34.76 + 6 x 69.53 = 625.74; 12% = 75.0888.
            (start.plus(-1).start() + 5000, "75.09"),
            // In its 4th month (May): June..January remain: 2 x 34.76 + 6 x 69.53 = 486.70 -> 58.40.
            (start.plus(3).start() + 5000, "58.40"),
            // In its last month: nothing after it is due.
            (start.plus(11).start() + 5000, "0"),
        ];
        for (at, fee) in cases {
            assert_eq!(cancellation_fee(&r, at), fee.parse::<Decimal>().unwrap(), "{}", Month::of(at));
        }
        assert_eq!(family("s3.large.2"), "s3");
    }
}
