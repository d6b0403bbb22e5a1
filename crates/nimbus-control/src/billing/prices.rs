//! The price list (seed 4.1): a versioned file of revisions, each effective on the first day
//! of a month and naming the prices it changes, per region or for every region (`*`).
//!
//! Price increases are announced 30 days ahead: the region records when it first announced
//! each revision (a change notice), and an increase takes effect at `max(effective_from,
//! announced + 30 days)`; until then the former price applies. Decreases and new prices apply
//! from the revision's date. Reserved-instance prices are computed once, at subscription,
//! and stay as they were for the whole term (seed 4.1).

use super::month::Month;
use nimbus_core::Error;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

/// The price list shipped with Nimbus (an operator points `price_list` at their own).
pub const DEFAULT_PRICE_LIST: &str = include_str!("prices.toml");

/// How long before its effect a price increase is announced.
pub const INCREASE_NOTICE_MS: i64 = 30 * 24 * 3_600_000;

/// The terms a reservation may have (seed 6.1.3).
pub const RESERVATION_TERMS: &[i64] = &[1, 2, 3, 5];

/// What a price is per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Per hour of one unit (an instance, a GB, a Mbit/s), rated by the second.
    Hourly,
    /// Per `n` counted events.
    PerCount(u64),
    /// Per GB (2^30 bytes) transferred.
    PerGb,
    /// Per calendar month.
    Monthly,
}

/// A priced item: its key in the list and how it is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sku {
    pub basis: Basis,
    /// The unit shown on invoices.
    pub unit: &'static str,
}

/// What a price key measures, or `None` for a key no meter produces.
pub fn sku(key: &str) -> Option<Sku> {
    let (service, item) = key.split_once(':')?;
    let s = |basis, unit| Some(Sku { basis, unit });
    match (service, item) {
        (_, "") => None,
        ("ecs", "vcpu") => s(Basis::Hourly, "vCPU-hour"),
        ("ecs", "ram_gb") => s(Basis::Hourly, "GB-hour"),
        ("ecs", _) => s(Basis::Hourly, "hour"),
        ("evs", _) | ("vbs", "backup") => s(Basis::Hourly, "GB-hour"),
        ("obs", "requests.read" | "requests.write") => s(Basis::PerCount(10_000), "10,000 requests"),
        ("obs", "egress") => s(Basis::PerGb, "GB"),
        ("obs", "STANDARD" | "WARM" | "COLD") => s(Basis::Hourly, "GB-hour"),
        ("eip", "address") => s(Basis::Hourly, "hour"),
        ("eip", "bandwidth") => s(Basis::Hourly, "Mbit/s-hour"),
        ("support", _) => s(Basis::Monthly, "month"),
        _ => None,
    }
}

/// The keys the first revision must price (every meter has a price to fall back on).
const REQUIRED: &[&str] = &[
    "ecs:vcpu",
    "ecs:ram_gb",
    "evs:*",
    "evs:snapshot",
    "vbs:backup",
    "obs:STANDARD",
    "obs:WARM",
    "obs:COLD",
    "obs:requests.read",
    "obs:requests.write",
    "obs:egress",
    "eip:address",
    "eip:bandwidth",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileList {
    currency: String,
    reserved: FileReserved,
    revisions: Vec<FileRevision>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReserved {
    hours_per_month: i64,
    upfront_share: String,
    no_upfront: BTreeMap<String, String>,
    partial_upfront: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRevision {
    id: String,
    effective_from: String,
    prices: BTreeMap<String, BTreeMap<String, String>>,
}

/// One revision of the list.
#[derive(Debug, Clone)]
pub struct Revision {
    pub id: String,
    pub month: Month,
    pub effective_from: i64,
    /// Region (or `*`) -> key -> price.
    pub prices: BTreeMap<String, BTreeMap<String, Decimal>>,
}

/// Reserved-instance pricing rules.
#[derive(Debug, Clone)]
pub struct ReservedRules {
    pub hours_per_month: i64,
    pub upfront_share: Decimal,
    /// (payment, term years) -> discount.
    pub discounts: BTreeMap<(String, i64), Decimal>,
}

/// The loaded list, with when each revision was announced.
#[derive(Debug, Clone)]
pub struct PriceList {
    pub currency: String,
    pub reserved: ReservedRules,
    /// Oldest first.
    pub revisions: Vec<Revision>,
    /// Revision id -> when the region announced it.
    pub announced: HashMap<String, i64>,
}

fn decimal(what: &str, v: &str) -> Result<Decimal, Error> {
    let d = Decimal::from_str(v.trim())
        .map_err(|_| Error::bad_request(format!("price list: {what} = {v:?} is not a decimal amount")))?;
    if d.is_sign_negative() {
        return Err(Error::bad_request(format!("price list: {what} = {v} is negative")));
    }
    Ok(d)
}

impl PriceList {
    /// Parses and checks a price list file.
    pub fn parse(text: &str) -> Result<PriceList, Error> {
        let f: FileList = toml::from_str(text).map_err(|e| Error::bad_request(format!("price list: {e}")))?;
        if f.currency != "EUR" {
            return Err(Error::bad_request(format!("price list: the currency is EUR, not {:?}", f.currency)));
        }
        let mut discounts = BTreeMap::new();
        for (payment, table) in
            [("no_upfront", &f.reserved.no_upfront), ("partial_upfront", &f.reserved.partial_upfront)]
        {
            for term in RESERVATION_TERMS {
                let v = table.get(&term.to_string()).ok_or_else(|| {
                    Error::bad_request(format!("price list: reserved.{payment} has no discount for {term} years"))
                })?;
                let d = decimal(&format!("reserved.{payment}.{term}"), v)?;
                if d >= Decimal::ONE {
                    return Err(Error::bad_request(format!("price list: reserved.{payment}.{term} is below 1")));
                }
                discounts.insert((payment.to_string(), *term), d);
            }
        }
        let upfront_share = decimal("reserved.upfront_share", &f.reserved.upfront_share)?;
        if upfront_share >= Decimal::ONE || f.reserved.hours_per_month <= 0 {
            return Err(Error::bad_request("price list: reserved.upfront_share is below 1, hours_per_month above 0"));
        }
        let mut revisions: Vec<Revision> = Vec::new();
        for r in f.revisions {
            let month = Month::parse_day_one(&r.effective_from).ok_or_else(|| {
                Error::bad_request(format!(
                    "price list: revision {} takes effect on the first day of a month (YYYY-MM-01), not {:?}",
                    r.id, r.effective_from
                ))
            })?;
            if let Some(prev) = revisions.last() {
                if month <= prev.month {
                    return Err(Error::bad_request(format!(
                        "price list: revision {} ({month}) comes after {} ({}): at most one revision a month, in order",
                        r.id, prev.id, prev.month
                    )));
                }
            }
            let mut prices = BTreeMap::new();
            for (region, table) in r.prices {
                let mut t = BTreeMap::new();
                for (key, v) in table {
                    if sku(&key).is_none() {
                        return Err(Error::bad_request(format!("price list: {key:?} is no priced item")));
                    }
                    t.insert(key.clone(), decimal(&key, &v)?);
                }
                prices.insert(region, t);
            }
            revisions.push(Revision { id: r.id, month, effective_from: month.start(), prices });
        }
        let first = revisions.first().ok_or_else(|| Error::bad_request("price list: no revision"))?;
        let all = first.prices.get("*").cloned().unwrap_or_default();
        if let Some(missing) = REQUIRED.iter().find(|k| !all.contains_key(**k)) {
            return Err(Error::bad_request(format!(
                "price list: the first revision prices {missing} for every region"
            )));
        }
        Ok(PriceList {
            currency: f.currency,
            reserved: ReservedRules { hours_per_month: f.reserved.hours_per_month, upfront_share, discounts },
            revisions,
            announced: HashMap::new(),
        })
    }

    /// A revision's own price for a key in a region (the region's, else every region's).
    fn own(r: &Revision, region: &str, key: &str) -> Option<Decimal> {
        r.prices.get(region).and_then(|t| t.get(key)).or_else(|| r.prices.get("*").and_then(|t| t.get(key))).copied()
    }

    /// The price of `key` in `region` at `at`, as revisions `..=upto` set it.
    fn price_upto(&self, region: &str, key: &str, at: i64, upto: usize) -> Option<Decimal> {
        for i in (0..=upto).rev() {
            let r = &self.revisions[i];
            if r.effective_from > at {
                continue;
            }
            let Some(p) = Self::own(r, region, key) else { continue };
            if i > 0 {
                if let Some(before) = self.price_upto(region, key, at, i - 1) {
                    if p > before && at < self.increase_from(r) {
                        return Some(before);
                    }
                }
            }
            return Some(p);
        }
        None
    }

    /// When a revision's increases apply: 30 days after it was announced at the earliest
    /// (never, while it is not announced).
    pub fn increase_from(&self, r: &Revision) -> i64 {
        match self.announced.get(&r.id) {
            Some(at) => r.effective_from.max(at + INCREASE_NOTICE_MS),
            None => i64::MAX,
        }
    }

    /// The price of `key` in `region` in force at `at`.
    pub fn price(&self, region: &str, key: &str, at: i64) -> Option<Decimal> {
        if self.revisions.is_empty() {
            return None;
        }
        self.price_upto(region, key, at, self.revisions.len() - 1)
    }

    /// The hourly price of a flavor: its own, else by its vCPUs and RAM.
    pub fn flavor_price(&self, region: &str, flavor: &str, vcpus: i64, ram_mb: i64, at: i64) -> Option<Decimal> {
        self.price(region, &format!("ecs:{flavor}"), at).or_else(|| {
            let vcpu = self.price(region, "ecs:vcpu", at)?;
            let gb = self.price(region, "ecs:ram_gb", at)?;
            Some(vcpu * Decimal::from(vcpus) + gb * Decimal::from(ram_mb) / Decimal::from(1024))
        })
    }

    /// The instants in (from, to) where some price may change: revision dates and the dates
    /// their increases start.
    pub fn changes_between(&self, from: i64, to: i64) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .revisions
            .iter()
            .flat_map(|r| [r.effective_from, self.increase_from(r)])
            .filter(|t| *t > from && *t < to)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// A reservation's (monthly amount, upfront amount) for a flavor at a pay-per-use hourly
    /// price, frozen at subscription.
    pub fn reservation_amounts(
        &self,
        hourly: Decimal,
        payment: &str,
        term_years: i64,
    ) -> Result<(Decimal, Decimal), Error> {
        let discount = self.reserved.discounts.get(&(payment.to_string(), term_years)).ok_or_else(|| {
            Error::bad_request(format!(
                "Invalid reservation: {term_years}-year terms with {payment} payment are not offered (terms of 1, \
                 2, 3 or 5 years, no_upfront or partial_upfront)."
            ))
        })?;
        let months = Decimal::from(term_years * 12);
        let month_ppu = hourly * Decimal::from(self.reserved.hours_per_month);
        let monthly_full = super::rating::cents(month_ppu * (Decimal::ONE - discount));
        if payment == "partial_upfront" {
            let total = monthly_full * months;
            let upfront = super::rating::cents(total * self.reserved.upfront_share);
            let monthly = super::rating::cents((total - upfront) / months);
            Ok((monthly, upfront))
        } else {
            Ok((monthly_full, Decimal::ZERO))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(day: &str) -> i64 {
        Month::parse_day_one(day).map(|m| m.start()).unwrap()
    }

    #[test]
    fn the_shipped_list_loads() {
        let l = PriceList::parse(DEFAULT_PRICE_LIST).unwrap();
        assert_eq!(l.currency, "EUR");
        assert!(l.revisions.len() >= 2);
        assert_eq!(l.price("eu-west-0", "ecs:s3.small.1", ms("2026-06-01")), Some(Decimal::new(204, 4)));
        // A flavor the list does not name: by vCPUs and RAM.
        let p = l.flavor_price("eu-west-0", "custom.1", 2, 2048, ms("2026-06-01")).unwrap();
        assert_eq!(p, Decimal::new(150, 4) * Decimal::from(2) + Decimal::new(55, 4) * Decimal::from(2));
    }

    const LIST: &str = r#"
currency = "EUR"
[reserved]
hours_per_month = 730
upfront_share = "0.5"
no_upfront = { 1 = "0.25", 2 = "0.35", 3 = "0.45", 5 = "0.55" }
partial_upfront = { 1 = "0.30", 2 = "0.40", 3 = "0.50", 5 = "0.60" }
[[revisions]]
id = "a"
effective_from = "2026-01-01"
[revisions.prices."*"]
"ecs:vcpu" = "0.01"
"ecs:ram_gb" = "0.01"
"evs:*" = "0.0001"
"evs:snapshot" = "0.0001"
"vbs:backup" = "0.0001"
"obs:STANDARD" = "0.0001"
"obs:WARM" = "0.0001"
"obs:COLD" = "0.0001"
"obs:requests.read" = "0.01"
"obs:requests.write" = "0.01"
"obs:egress" = "0.02"
"eip:address" = "0.005"
"eip:bandwidth" = "0.01"
"ecs:s3.small.1" = "0.02"
"ecs:s3.large.2" = "0.06"
[revisions.prices."eu-west-1"]
"ecs:s3.small.1" = "0.03"
[[revisions]]
id = "b"
effective_from = "2026-03-01"
[revisions.prices."*"]
"ecs:s3.small.1" = "0.025"
"ecs:s3.large.2" = "0.05"
"#;

    #[test]
    fn revisions_apply_from_their_date_and_increases_after_30_days_of_notice() {
        let mut l = PriceList::parse(LIST).unwrap();
        let p = |l: &PriceList, key: &str, day: &str| l.price("eu-west-0", key, ms(day)).unwrap().to_string();
        // Not announced yet: the decrease applies, the increase does not.
        assert_eq!(p(&l, "ecs:s3.large.2", "2026-03-01"), "0.05");
        assert_eq!(p(&l, "ecs:s3.small.1", "2026-03-01"), "0.02");
        // Announced 40 days before: both apply on the revision's date.
        l.announced.insert("b".into(), ms("2026-03-01") - 40 * 86_400_000);
        assert_eq!(p(&l, "ecs:s3.small.1", "2026-03-01"), "0.025");
        // Announced 10 days before: the increase waits until 30 days after the notice.
        l.announced.insert("b".into(), ms("2026-03-01") - 10 * 86_400_000);
        let notice = ms("2026-03-01") - 10 * 86_400_000;
        assert_eq!(
            l.price("eu-west-0", "ecs:s3.small.1", notice + INCREASE_NOTICE_MS - 1).unwrap().to_string(),
            "0.02"
        );
        assert_eq!(l.price("eu-west-0", "ecs:s3.small.1", notice + INCREASE_NOTICE_MS).unwrap().to_string(), "0.025");
        assert_eq!(
            l.changes_between(ms("2026-02-01"), ms("2026-04-01")),
            vec![ms("2026-03-01"), notice + INCREASE_NOTICE_MS]
        );
        // Before the first revision: nothing; a region's own price wins.
        assert_eq!(l.price("eu-west-0", "ecs:s3.small.1", ms("2025-12-01")), None);
        assert_eq!(l.price("eu-west-1", "ecs:s3.small.1", ms("2026-02-01")).unwrap().to_string(), "0.03");
    }

    #[test]
    fn bad_lists_are_refused_with_the_rule() {
        let cases = [
            (
                LIST.replace("effective_from = \"2026-03-01\"", "effective_from = \"2026-03-15\""),
                "first day of a month",
            ),
            (
                LIST.replace("effective_from = \"2026-03-01\"", "effective_from = \"2026-01-01\""),
                "at most one revision a month",
            ),
            (LIST.replace("currency = \"EUR\"", "currency = \"USD\""), "EUR"),
            (LIST.replace("\"ecs:s3.large.2\" = \"0.05\"", "\"ecs:s3.large.2\" = \"-1\""), "negative"),
            (LIST.replace("\"ecs:s3.large.2\" = \"0.05\"", "\"gpu:a100\" = \"1\""), "no priced item"),
            (LIST.replace("\"eip:bandwidth\" = \"0.01\"", ""), "eip:bandwidth"),
            (LIST.replace(", 5 = \"0.55\"", ""), "5 years"),
        ];
        for (text, rule) in cases {
            let e = PriceList::parse(&text).unwrap_err().to_string();
            assert!(e.contains(rule), "{rule}: {e}");
        }
    }

    #[test]
    fn reservation_amounts_follow_the_term_and_payment() {
        let l = PriceList::parse(LIST).unwrap();
        let hourly = Decimal::new(6, 2); // 0.06 an hour: 43.80 a 730-hour month.
        let (m, u) = l.reservation_amounts(hourly, "no_upfront", 1).unwrap();
        assert_eq!((m.to_string(), u.to_string()), ("32.85".into(), "0".into()));
        // Partial upfront, 3 years: 21.90 a month in full, half of 36 months paid at once.
        let (m, u) = l.reservation_amounts(hourly, "partial_upfront", 3).unwrap();
        assert_eq!((m.to_string(), u.to_string()), ("10.95".into(), "394.20".into()));
        assert!(l.reservation_amounts(hourly, "no_upfront", 4).is_err());
        assert!(l.reservation_amounts(hourly, "all_upfront", 1).is_err());
    }
}
