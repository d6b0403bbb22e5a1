//! Billing months: calendar months of Paris time (the region's legal time, as the support
//! calendar), named `YYYY-MM`.

use crate::support::calendar;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use std::fmt;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    /// `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        ((2000..=2200).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// `YYYY-MM-01`: a month's first day.
    pub fn parse_day_one(s: &str) -> Option<Month> {
        let (ym, day) = s.rsplit_once('-')?;
        (day == "01").then_some(())?;
        Month::parse(ym)
    }

    /// The month holding an instant (ms).
    pub fn of(at: i64) -> Month {
        let local = calendar::to_paris(Utc.timestamp_millis_opt(at).single().unwrap_or_default()).date();
        Month { year: local.year(), month: local.month() }
    }

    /// `n` months later (earlier when negative).
    pub fn plus(self, n: i32) -> Month {
        let total = self.year * 12 + self.month as i32 - 1 + n;
        Month { year: total.div_euclid(12), month: total.rem_euclid(12) as u32 + 1 }
    }

    /// Its first instant (ms).
    pub fn start(self) -> i64 {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a month");
        calendar::from_paris(first.and_hms_opt(0, 0, 0).expect("midnight")).timestamp_millis()
    }

    /// The first instant of the next month (ms).
    pub fn end(self) -> i64 {
        self.plus(1).start()
    }

    /// Months from `self` to `other` (0 when equal).
    pub fn months_until(self, other: Month) -> i32 {
        (other.year * 12 + other.month as i32) - (self.year * 12 + self.month as i32)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_paris_calendar_months() {
        let m = Month::parse("2026-03").unwrap();
        // 1 March 2026 00:00 in Paris is 28 February 23:00 UTC (winter time).
        assert_eq!(m.start(), Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap().timestamp_millis());
        // 1 April 00:00 in Paris is 31 March 22:00 UTC (summer time).
        assert_eq!(m.end(), Utc.with_ymd_and_hms(2026, 3, 31, 22, 0, 0).unwrap().timestamp_millis());
        assert_eq!(Month::of(m.start()), m);
        assert_eq!(Month::of(m.start() - 1), Month::parse("2026-02").unwrap());
        assert_eq!(m.plus(10).to_string(), "2027-01");
        assert_eq!(m.plus(-3).to_string(), "2025-12");
        assert_eq!(m.months_until(m.plus(14)), 14);
        for bad in ["2026-13", "2026-3", "26-03", "2026-00", "x"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        assert_eq!(Month::parse_day_one("2026-03-02"), None);
    }
}
