//! Rating: one account's month priced into an invoice. Pure: the metered levels, the price
//! list, the reservations and the support plan in, invoice lines out, so that it is tested
//! against amounts worked out by hand.
//!
//! - Time meters are rated by the second: level x seconds x hourly price / 3600, split where
//!   a price changes. Each line is rounded to the cent (half away from zero) once.
//! - Reserved instances (seed 6.1.3): each reservation active in the month covers, among the
//!   account's instances of its flavor in its region, the one with the highest consumption
//!   (billable seconds in the month); with N reservations, the N highest, in order. A covered
//!   instance's month is not charged pay-per-use; the reservation's monthly amount is. The
//!   upfront fee is charged in the month of subscription, the cancellation fee in the month
//!   of cancellation. A reservation applies from the first day of the month after its
//!   subscription until the end of its term, or the end of the month it is cancelled in.
//! - Fees tied to no region (the support plan) are charged on the account's primary region.

use super::month::Month;
use super::prices::{sku, Basis, PriceList};
use super::usage::Metered;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;

/// How a line is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChargeMode {
    PayPerUse,
    /// Usage a reserved instance covers (no charge of its own).
    Reserved,
    /// A monthly subscription fee (a reservation, a support plan).
    Subscription,
    /// A one-off fee (an upfront payment, a cancellation fee).
    OneOff,
}

impl ChargeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeMode::PayPerUse => "pay_per_use",
            ChargeMode::Reserved => "reserved",
            ChargeMode::Subscription => "subscription",
            ChargeMode::OneOff => "one_off",
        }
    }
}

/// A reservation as rating sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reserved {
    pub id: String,
    pub region: String,
    pub flavor: String,
    pub monthly: Decimal,
    pub upfront: Decimal,
    pub subscribed_at: i64,
    pub effective_from: i64,
    pub ends_at: i64,
    pub cancelled_at: Option<i64>,
    pub cancellation_fee: Option<Decimal>,
    /// Flexible modifications: (effective from, flavor, monthly amount), oldest first.
    pub modifications: Vec<(i64, String, Decimal)>,
}

impl Reserved {
    /// Whether it applies in a month.
    pub fn active_in(&self, m: Month) -> bool {
        let end = match self.cancelled_at {
            Some(c) => self.ends_at.min(Month::of(c).end()),
            None => self.ends_at,
        };
        self.effective_from <= m.start() && m.start() < end
    }

    /// Its flavor and monthly amount in a month (after the modifications in force).
    pub fn terms_in(&self, m: Month) -> (&str, Decimal) {
        self.modifications
            .iter()
            .rev()
            .find(|(at, _, _)| *at <= m.start())
            .map(|(_, f, a)| (f.as_str(), *a))
            .unwrap_or((self.flavor.as_str(), self.monthly))
    }
}

/// What is rated: an account's month up to `as_of`.
#[derive(Debug, Clone)]
pub struct RatingInput<'a> {
    pub month: Month,
    /// Usage is counted until then (the month's end for a final invoice).
    pub as_of: i64,
    pub region: &'a str,
    pub primary_region: &'a str,
    pub metered: &'a [Metered],
    pub reservations: &'a [Reserved],
    /// The support plan in force in the month.
    pub support_plan: Option<&'a str>,
    /// Project id -> name.
    pub project_names: &'a BTreeMap<String, String>,
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub region: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub service: String,
    pub resource_id: String,
    pub resource_name: String,
    pub key: String,
    pub charge_mode: ChargeMode,
    /// In `unit`s (hours of a level, GB, requests / 10,000, months).
    pub quantity: Decimal,
    pub unit: String,
    /// The price per unit (an average when it changed within the month).
    pub unit_price: Option<Decimal>,
    pub amount: Decimal,
    /// Billable seconds in the month (time meters).
    pub seconds: i64,
    pub reservation_id: Option<String>,
}

/// A rated month.
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    pub month: Month,
    pub as_of: i64,
    pub lines: Vec<Line>,
    /// Region -> subtotal.
    pub subtotals: BTreeMap<String, Decimal>,
    pub total: Decimal,
}

pub fn cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

const HOUR_MS: i64 = 3_600_000;

/// The exact amount and level-hours of a metered resource within [from, to).
fn rate_time(prices: &PriceList, region: &str, m: &Metered, from: i64, to: i64) -> (Decimal, Decimal, i64, bool) {
    let (mut amount, mut quantity, mut seconds, mut priced) = (Decimal::ZERO, Decimal::ZERO, 0i64, true);
    for s in &m.segments {
        let (a, b) = (s.from.max(from), s.to.min(to));
        if a >= b {
            continue;
        }
        let mut cuts = vec![a];
        cuts.extend(prices.changes_between(a, b));
        cuts.push(b);
        for w in cuts.windows(2) {
            let ms = w[1] - w[0];
            let hours = Decimal::from(ms) / Decimal::from(HOUR_MS);
            let price = match (m.service, m.spec) {
                ("ecs", Some((vcpus, ram))) => {
                    prices.flavor_price(region, m.key.trim_start_matches("ecs:"), vcpus, ram, w[0])
                }
                ("evs", _) => prices.price(region, &m.key, w[0]).or_else(|| prices.price(region, "evs:*", w[0])),
                _ => prices.price(region, &m.key, w[0]),
            };
            match price {
                Some(p) => amount += s.level * hours * p,
                None => priced = false,
            }
            quantity += s.level * hours;
        }
        seconds += (b - a) / 1000;
    }
    (amount, quantity, seconds, priced)
}

/// Rates an account's month.
pub fn rate(prices: &PriceList, input: &RatingInput<'_>) -> Rated {
    let m = input.month;
    let (from, to) = (m.start(), input.as_of.min(m.end()));
    let mut lines = Vec::new();
    for u in input.metered {
        let Some(unit) = sku(&u.key) else { continue };
        let (amount, quantity, seconds, priced) = match unit.basis {
            Basis::Hourly => rate_time(prices, input.region, u, from, to),
            Basis::PerCount(n) => {
                let q = u.count / Decimal::from(n);
                let p = prices.price(input.region, &u.key, from.max(to - 1));
                (p.map(|p| p * q).unwrap_or_default(), q, 0, p.is_some())
            }
            Basis::PerGb => {
                let p = prices.price(input.region, &u.key, from.max(to - 1));
                (p.map(|p| p * u.count).unwrap_or_default(), u.count, 0, p.is_some())
            }
            Basis::Monthly => continue,
        };
        if quantity.is_zero() {
            continue;
        }
        let amount = cents(amount);
        lines.push(Line {
            region: input.region.to_string(),
            project_id: Some(u.project_id.clone()),
            project_name: input.project_names.get(&u.project_id).cloned(),
            service: u.service.to_string(),
            resource_id: u.resource_id.clone(),
            resource_name: u.resource_name.clone(),
            key: u.key.clone(),
            charge_mode: ChargeMode::PayPerUse,
            quantity: quantity.round_dp(6),
            unit: unit.unit.to_string(),
            unit_price: priced.then(|| (amount / quantity).round_dp(6)).filter(|_| !quantity.is_zero()),
            amount,
            seconds,
            reservation_id: None,
        });
    }
    cover_with_reservations(input, &mut lines);
    for r in input.reservations {
        let (flavor, monthly) = r.terms_in(m);
        let fee = |key: &str, mode, amount: Decimal| Line {
            region: r.region.clone(),
            project_id: None,
            project_name: None,
            service: "ecs".into(),
            resource_id: r.id.clone(),
            resource_name: format!("reserved {flavor}"),
            key: key.to_string(),
            charge_mode: mode,
            quantity: Decimal::ONE,
            unit: if mode == ChargeMode::Subscription { "month" } else { "fee" }.into(),
            unit_price: Some(amount),
            amount,
            seconds: 0,
            reservation_id: Some(r.id.clone()),
        };
        if Month::of(r.subscribed_at) == m && !r.upfront.is_zero() {
            lines.push(fee("ri:upfront", ChargeMode::OneOff, r.upfront));
        }
        if r.active_in(m) {
            lines.push(fee("ri:monthly", ChargeMode::Subscription, monthly));
        }
        if let (Some(c), Some(f)) = (r.cancelled_at, r.cancellation_fee) {
            if Month::of(c) == m {
                lines.push(fee("ri:cancellation", ChargeMode::OneOff, f));
            }
        }
    }
    if let Some(plan) = input.support_plan {
        let key = format!("support:{plan}");
        if let Some(p) = prices.price(input.primary_region, &key, from).filter(|p| !p.is_zero()) {
            lines.push(Line {
                region: input.primary_region.to_string(),
                project_id: None,
                project_name: None,
                service: "support".into(),
                resource_id: plan.to_string(),
                resource_name: format!("{plan} support plan"),
                key,
                charge_mode: ChargeMode::Subscription,
                quantity: Decimal::ONE,
                unit: "month".into(),
                unit_price: Some(p),
                amount: cents(p),
                seconds: 0,
                reservation_id: None,
            });
        }
    }
    lines.sort_by(|a, b| {
        (&a.region, &a.service, &a.project_id, &a.resource_id, &a.key, a.charge_mode).cmp(&(
            &b.region,
            &b.service,
            &b.project_id,
            &b.resource_id,
            &b.key,
            b.charge_mode,
        ))
    });
    let mut subtotals: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in &lines {
        *subtotals.entry(l.region.clone()).or_default() += l.amount;
    }
    let total = subtotals.values().copied().sum();
    Rated { month: m, as_of: to, lines, subtotals, total }
}

/// Marks the instances the month's reservations cover (highest consumption first).
fn cover_with_reservations(input: &RatingInput<'_>, lines: &mut [Line]) {
    let m = input.month;
    let mut per_flavor: BTreeMap<(String, String), Vec<&Reserved>> = BTreeMap::new();
    for r in input.reservations.iter().filter(|r| r.active_in(m)) {
        per_flavor.entry((r.region.clone(), format!("ecs:{}", r.terms_in(m).0))).or_default().push(r);
    }
    for ((region, key), mut rs) in per_flavor {
        rs.sort_by(|a, b| (a.subscribed_at, &a.id).cmp(&(b.subscribed_at, &b.id)));
        let mut candidates: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].service == "ecs" && lines[*i].key == key && lines[*i].region == region)
            .filter(|i| lines[*i].charge_mode == ChargeMode::PayPerUse)
            .collect();
        candidates.sort_by(|a, b| {
            (std::cmp::Reverse(lines[*a].seconds), &lines[*a].resource_id)
                .cmp(&(std::cmp::Reverse(lines[*b].seconds), &lines[*b].resource_id))
        });
        for (i, r) in candidates.into_iter().zip(rs) {
            let l = &mut lines[i];
            l.charge_mode = ChargeMode::Reserved;
            l.amount = Decimal::ZERO;
            l.reservation_id = Some(r.id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::usage::{meter_events, Segment};
    use super::*;
    use chrono::{TimeZone, Utc};
    use nimbus_store::servers::UsageEvent;

    /// Paris local time "YYYY-MM-DD HH:MM:SS" to ms.
    fn t(s: &str) -> i64 {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        crate::support::calendar::from_paris(naive).timestamp_millis()
    }

    fn list() -> PriceList {
        let mut l = PriceList::parse(super::super::prices::DEFAULT_PRICE_LIST).unwrap();
        for r in l.revisions.clone() {
            l.announced.insert(r.id.clone(), r.effective_from - 60 * 86_400_000);
        }
        l
    }

    fn ev(kind: &str, id: &str, event: &str, flavor: &str, detail: &str, at: &str) -> UsageEvent {
        UsageEvent {
            id: format!("{id}-{event}-{at}"),
            project_id: "p1".into(),
            resource_type: kind.into(),
            resource_id: id.into(),
            event: event.into(),
            flavor: (!flavor.is_empty()).then(|| flavor.to_string()),
            detail: detail.into(),
            at: t(at),
        }
    }

    fn input<'a>(
        month: &str,
        metered: &'a [Metered],
        reservations: &'a [Reserved],
        names: &'a BTreeMap<String, String>,
    ) -> RatingInput<'a> {
        let m = Month::parse(month).unwrap();
        RatingInput {
            month: m,
            as_of: m.end(),
            region: "eu-west-0",
            primary_region: "eu-west-0",
            metered,
            reservations,
            support_plan: None,
            project_names: names,
        }
    }

    fn amounts(r: &Rated) -> Vec<(String, String, &'static str, String)> {
        r.lines
            .iter()
            .map(|l| (l.resource_id.clone(), l.key.clone(), l.charge_mode.as_str(), l.amount.to_string()))
            .collect()
    }

    #[test]
    fn invoices_from_recorded_usage() {
        let small = r#"{"vcpus":1,"ram_mb":1024,"name":"web"}"#;
        let local = r#"{"vcpus":4,"ram_mb":32768,"name":"db","local_disk":true}"#;
        let events = vec![
            // 2 h 30 min running: 9000 s x 0.0204 / 3600 = 0.051 -> 0.05.
            ev("ecs", "web", "created", "s3.small.1", small, "2026-03-10 09:58:00"),
            ev("ecs", "web", "started", "s3.small.1", small, "2026-03-10 10:00:00"),
            ev("ecs", "web", "stopped", "s3.small.1", small, "2026-03-10 12:30:00"),
            // A local-disk flavor is billed while stopped too: 10 days = 240 h x 0.42 = 100.80.
            ev("ecs", "db", "created", "d3.xlarge.8", local, "2026-03-01 00:00:00"),
            ev("ecs", "db", "started", "d3.xlarge.8", local, "2026-03-01 00:05:00"),
            ev("ecs", "db", "stopped", "d3.xlarge.8", local, "2026-03-02 00:00:00"),
            ev("ecs", "db", "deleted", "d3.xlarge.8", local, "2026-03-11 00:00:00"),
            // 100 GB SSD from the 20th 00:00 until the end of March (12 days = 288 h, the summer
            // time change on the 29th makes the last day 23 h: 287 h):
            // 100 x 287 x 0.0002055 = 5.89785 -> 5.90.
            ev("evs", "vol", "created", "SSD", r#"{"size_gb":100}"#, "2026-03-20 00:00:00"),
            // 2 GiB stored in STANDARD for the whole month of 743 h: 2 x 743 x 0.0000308 = 0.0457688 -> 0.05.
            ev("obs", "bkt", "stored", "STANDARD", r#"{"bytes":2147483648}"#, "2026-02-15 00:00:00"),
            // An EIP held one day: 24 x 0.005 = 0.12; its 10 Mbit/s: 240 x 0.0125 = 3.00.
            ev("eip", "ip1", "created", "", "{}", "2026-03-05 08:00:00"),
            ev("eip", "ip1", "deleted", "", "{}", "2026-03-06 08:00:00"),
            ev(
                "bandwidth",
                "bw1",
                "created",
                "",
                r#"{"size_mbit":10,"charge_mode":"bandwidth"}"#,
                "2026-03-05 08:00:00",
            ),
            ev("bandwidth", "bw1", "deleted", "", "{}", "2026-03-06 08:00:00"),
        ];
        let metered = meter_events(&events, &|_| false);
        let names = BTreeMap::from([("p1".to_string(), "prod".to_string())]);
        let rated = rate(&list(), &input("2026-03", &metered, &[], &names));
        let mut got = amounts(&rated);
        got.sort();
        let want = vec![
            ("bkt".to_string(), "obs:STANDARD".to_string(), "pay_per_use", "0.05".to_string()),
            ("bw1".into(), "eip:bandwidth".into(), "pay_per_use", "3.00".into()),
            ("db".into(), "ecs:d3.xlarge.8".into(), "pay_per_use", "100.80".into()),
            ("ip1".into(), "eip:address".into(), "pay_per_use", "0.12".into()),
            ("vol".into(), "evs:SSD".into(), "pay_per_use", "5.90".into()),
            ("web".into(), "ecs:s3.small.1".into(), "pay_per_use", "0.05".into()),
        ];
        assert_eq!(got, want);
        let web = rated.lines.iter().find(|l| l.resource_id == "web").unwrap();
        assert_eq!(
            (web.seconds, web.quantity.normalize().to_string(), web.project_name.as_deref()),
            (9000, "2.5".into(), Some("prod"))
        );
        assert_eq!(rated.total.to_string(), "109.92");
        assert_eq!(rated.subtotals["eu-west-0"], rated.total);
        // February holds the bucket's last 14 days: 2 x 336 x 0.0000308 = 0.0206976 -> 0.02.
        let feb = rate(&list(), &input("2026-02", &metered, &[], &names));
        assert_eq!(amounts(&feb), vec![("bkt".into(), "obs:STANDARD".into(), "pay_per_use", "0.02".into())]);
        // Halfway: the invoice so far counts until then only.
        let mut so_far = input("2026-03", &metered, &[], &names);
        so_far.as_of = t("2026-03-10 11:00:00");
        let r = rate(&list(), &so_far);
        let web = r.lines.iter().find(|l| l.resource_id == "web").unwrap();
        assert_eq!((web.seconds, web.amount.to_string()), (3600, "0.02".into()));
        assert!(r.lines.iter().all(|l| l.resource_id != "vol"), "not created yet");
    }

    #[test]
    fn a_price_revision_splits_the_month_and_a_resize_changes_the_flavor() {
        // The shipped list raises d3.xlarge.8 from 0.42 to 0.44 on 1 February 2027. Running
        // from 31 January 12:00 to 1 February 12:00: 12 h at each price, in two months.
        let d = r#"{"vcpus":4,"ram_mb":32768,"local_disk":true}"#;
        let events = vec![
            ev("ecs", "db", "started", "d3.xlarge.8", d, "2027-01-31 12:00:00"),
            ev("ecs", "db", "deleted", "d3.xlarge.8", d, "2027-02-01 12:00:00"),
            // Resized mid-run: 1 h of s3.small.1 (0.0204) then 2 h of s3.large.2 (0.0634).
            ev("ecs", "app", "started", "s3.small.1", r#"{"vcpus":1,"ram_mb":1024}"#, "2027-02-03 10:00:00"),
            ev("ecs", "app", "resized", "s3.large.2", r#"{"vcpus":2,"ram_mb":4096}"#, "2027-02-03 11:00:00"),
            ev("ecs", "app", "stopped", "s3.large.2", r#"{"vcpus":2,"ram_mb":4096}"#, "2027-02-03 13:00:00"),
            // A flavor the list does not name: 2 vCPUs x 0.015 + 2 GB x 0.0055 = 0.041 an hour.
            ev("ecs", "odd", "started", "custom.2", r#"{"vcpus":2,"ram_mb":2048}"#, "2027-02-04 00:00:00"),
            ev("ecs", "odd", "stopped", "custom.2", r#"{"vcpus":2,"ram_mb":2048}"#, "2027-02-05 00:00:00"),
        ];
        let metered = meter_events(&events, &|_| false);
        let names = BTreeMap::new();
        let jan = rate(&list(), &input("2027-01", &metered, &[], &names));
        assert_eq!(amounts(&jan), vec![("db".into(), "ecs:d3.xlarge.8".into(), "pay_per_use", "5.04".into())]);
        let feb = rate(&list(), &input("2027-02", &metered, &[], &names));
        let mut got = amounts(&feb);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("app".into(), "ecs:s3.large.2".into(), "pay_per_use", "0.13".into()),
                ("app".into(), "ecs:s3.small.1".into(), "pay_per_use", "0.02".into()),
                ("db".into(), "ecs:d3.xlarge.8".into(), "pay_per_use", "5.28".into()),
                ("odd".into(), "ecs:custom.2".into(), "pay_per_use", "0.98".into()),
            ]
        );
    }

    fn server(id: &str, from: &str, to: &str) -> Metered {
        Metered {
            project_id: "p1".into(),
            service: "ecs",
            resource_id: id.into(),
            resource_name: id.into(),
            key: "ecs:s3.large.2".into(),
            spec: Some((2, 4096)),
            segments: vec![Segment { from: t(from), to: t(to), level: Decimal::ONE }],
            count: Decimal::ZERO,
        }
    }

    fn reserved(id: &str, subscribed: &str, years: i32) -> Reserved {
        let at = t(subscribed);
        let start = Month::of(at).plus(1);
        Reserved {
            id: id.into(),
            region: "eu-west-0".into(),
            flavor: "s3.large.2".into(),
            monthly: Decimal::new(3476, 2),
            upfront: Decimal::new(10000, 2),
            subscribed_at: at,
            effective_from: start.start(),
            ends_at: start.plus(12 * years).start(),
            cancelled_at: None,
            cancellation_fee: None,
            modifications: Vec::new(),
        }
    }

    #[test]
    fn reservations_cover_the_highest_consumption_from_the_next_month() {
        // Two s3.large.2 servers in April: A runs 10 days, B 20 days (0.0634 an hour).
        let metered = vec![
            server("A", "2026-04-01 00:00:00", "2026-04-11 00:00:00"),
            server("B", "2026-04-05 00:00:00", "2026-04-25 00:00:00"),
        ];
        let names = BTreeMap::new();
        let cases: Vec<(&str, Vec<Reserved>, Vec<(&str, &str, &str, &str)>)> = vec![
            (
                "no reservation: both pay-per-use",
                vec![],
                vec![("A", "ecs:s3.large.2", "pay_per_use", "15.22"), ("B", "ecs:s3.large.2", "pay_per_use", "30.43")],
            ),
            (
                "subscribed in March: B (more hours) is covered, A is not; the monthly fee is due",
                vec![reserved("ri1", "2026-03-15 10:00:00", 1)],
                vec![
                    ("A", "ecs:s3.large.2", "pay_per_use", "15.22"),
                    ("B", "ecs:s3.large.2", "reserved", "0"),
                    ("ri1", "ri:monthly", "subscription", "34.76"),
                ],
            ),
            (
                "subscribed mid-April: April is pay-per-use, the upfront fee is charged",
                vec![reserved("ri1", "2026-04-15 10:00:00", 1)],
                vec![
                    ("A", "ecs:s3.large.2", "pay_per_use", "15.22"),
                    ("B", "ecs:s3.large.2", "pay_per_use", "30.43"),
                    ("ri1", "ri:upfront", "one_off", "100.00"),
                ],
            ),
            (
                "two reservations cover both",
                vec![reserved("ri1", "2026-02-01 10:00:00", 1), reserved("ri2", "2026-03-01 10:00:00", 3)],
                vec![
                    ("A", "ecs:s3.large.2", "reserved", "0"),
                    ("B", "ecs:s3.large.2", "reserved", "0"),
                    ("ri1", "ri:monthly", "subscription", "34.76"),
                    ("ri2", "ri:monthly", "subscription", "34.76"),
                ],
            ),
            (
                "a 1-year term from April 2025 ended with April 2026's start: pay-per-use resumes",
                vec![reserved("ri1", "2025-03-20 10:00:00", 1)],
                vec![("A", "ecs:s3.large.2", "pay_per_use", "15.22"), ("B", "ecs:s3.large.2", "pay_per_use", "30.43")],
            ),
            (
                "cancelled in April: April still covered, the fee charged",
                vec![{
                    let mut r = reserved("ri1", "2026-01-10 10:00:00", 1);
                    r.cancelled_at = Some(t("2026-04-20 10:00:00"));
                    r.cancellation_fee = Some(Decimal::new(3337, 2));
                    r
                }],
                vec![
                    ("A", "ecs:s3.large.2", "pay_per_use", "15.22"),
                    ("B", "ecs:s3.large.2", "reserved", "0"),
                    ("ri1", "ri:cancellation", "one_off", "33.37"),
                    ("ri1", "ri:monthly", "subscription", "34.76"),
                ],
            ),
            (
                "cancelled in March: nothing of it in April",
                vec![{
                    let mut r = reserved("ri1", "2026-01-10 10:00:00", 1);
                    r.cancelled_at = Some(t("2026-03-20 10:00:00"));
                    r.cancellation_fee = Some(Decimal::new(3754, 2));
                    r
                }],
                vec![("A", "ecs:s3.large.2", "pay_per_use", "15.22"), ("B", "ecs:s3.large.2", "pay_per_use", "30.43")],
            ),
            (
                "a flexible reservation moved to another flavor from April covers nothing of this one",
                vec![{
                    let mut r = reserved("ri1", "2026-01-10 10:00:00", 1);
                    r.modifications.push((t("2026-04-01 00:00:00"), "s3.xlarge.2".into(), Decimal::new(6953, 2)));
                    r
                }],
                vec![
                    ("A", "ecs:s3.large.2", "pay_per_use", "15.22"),
                    ("B", "ecs:s3.large.2", "pay_per_use", "30.43"),
                    ("ri1", "ri:monthly", "subscription", "69.53"),
                ],
            ),
        ];
        for (case, rs, want) in cases {
            let rated = rate(&list(), &input("2026-04", &metered, &rs, &names));
            let mut got = amounts(&rated);
            got.sort();
            let want: Vec<(String, String, &str, String)> =
                want.into_iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c, d.to_string())).collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn the_support_plan_is_charged_on_the_primary_region() {
        let names = BTreeMap::new();
        let mut i = input("2026-04", &[], &[], &names);
        i.support_plan = Some("business");
        i.primary_region = "eu-west-1";
        let r = rate(&list(), &i);
        assert_eq!(r.lines.len(), 1);
        assert_eq!((r.lines[0].region.as_str(), r.lines[0].amount.to_string()), ("eu-west-1", "300".into()));
        assert_eq!(r.subtotals.keys().collect::<Vec<_>>(), vec!["eu-west-1"]);
        i.support_plan = Some("basic");
        assert!(rate(&list(), &i).lines.is_empty(), "Basic is free");
        let _ = Utc.timestamp_millis_opt(0);
    }
}
