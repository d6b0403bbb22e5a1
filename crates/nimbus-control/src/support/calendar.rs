//! The support calendar (seed 7.2): working hours are 09:00-19:00 French time, Monday to
//! Friday, excluding French public holidays. Support clocks count either working time on this
//! calendar or plain elapsed time (24/7 processing), depending on the plan and the priority.
//!
//! French time is computed by the EU summer-time rule (CEST, UTC+2, from the last Sunday of
//! March 01:00 UTC to the last Sunday of October 01:00 UTC; CET, UTC+1, otherwise), so no
//! time-zone database is needed. The public holidays are the eleven national ones, three of
//! them set by Easter (Easter Monday, Ascension Thursday, Whit Monday).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};

/// The first working hour of a working day (local time).
pub const DAY_START_HOUR: u32 = 9;
/// The end of a working day (local time).
pub const DAY_END_HOUR: u32 = 19;
/// The working hours of one working day (a "working day" of the objectives).
pub const HOURS_PER_WORKING_DAY: i64 = (DAY_END_HOUR - DAY_START_HOUR) as i64;

/// Easter Sunday of a year (Gregorian calendar; the anonymous "Meeus/Jones/Butcher" rule).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("a valid Easter date")
}

/// Whether a date is a French public holiday.
pub fn is_holiday(d: NaiveDate) -> bool {
    let fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)];
    if fixed.contains(&(d.month(), d.day())) {
        return true;
    }
    let e = easter(d.year());
    [1, 39, 50].iter().any(|off| e + Duration::days(*off) == d)
}

/// Whether a date is a working day (Monday to Friday, not a holiday).
pub fn is_working_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(d)
}

/// The last Sunday of a month.
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    let mut d = next.expect("a valid date") - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

/// The offset of French time from UTC at an instant: +2 h in summer time, +1 h otherwise.
pub fn paris_offset(at: DateTime<Utc>) -> Duration {
    let y = at.year();
    let start = Utc.from_utc_datetime(&last_sunday(y, 3).and_hms_opt(1, 0, 0).expect("01:00"));
    let end = Utc.from_utc_datetime(&last_sunday(y, 10).and_hms_opt(1, 0, 0).expect("01:00"));
    if at >= start && at < end {
        Duration::hours(2)
    } else {
        Duration::hours(1)
    }
}

/// French local time of an instant.
pub fn to_paris(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + paris_offset(at)
}

/// The instant of a French local time (in the hour repeated when summer time ends, the first
/// one; working hours never fall in the gaps).
pub fn from_paris(local: NaiveDateTime) -> DateTime<Utc> {
    // Try the summer offset first, then winter: the one that maps back is right.
    for h in [2, 1] {
        let at = Utc.from_utc_datetime(&(local - Duration::hours(h)));
        if to_paris(at) == local {
            return at;
        }
    }
    Utc.from_utc_datetime(&(local - Duration::hours(1)))
}

/// The working window (start, end) of a local date, if it is a working day.
fn window(d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    is_working_day(d).then(|| {
        let start = from_paris(d.and_time(NaiveTime::from_hms_opt(DAY_START_HOUR, 0, 0).expect("09:00")));
        let end = from_paris(d.and_time(NaiveTime::from_hms_opt(DAY_END_HOUR, 0, 0).expect("19:00")));
        (start, end)
    })
}

/// The instant `amount` of working time after `from` (working time starts counting at the
/// next working hour when `from` is outside them).
pub fn add_working_time(from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
    let mut left = amount;
    let mut day = to_paris(from).date();
    // Ten years of days at most: an objective is hours or days, never years.
    for _ in 0..3660 {
        if let Some((start, end)) = window(day) {
            let begin = start.max(from);
            if begin < end {
                let available = end - begin;
                if left <= available {
                    return begin + left;
                }
                left -= available;
            }
        }
        day += Duration::days(1);
    }
    from + amount
}

/// The working time between two instants (zero when `to` is not after `from`).
pub fn working_time_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    if to <= from {
        return Duration::zero();
    }
    let mut total = Duration::zero();
    let mut day = to_paris(from).date();
    let last = to_paris(to).date();
    while day <= last {
        if let Some((start, end)) = window(day) {
            let (a, b) = (start.max(from), end.min(to));
            if a < b {
                total += b - a;
            }
        }
        day += Duration::days(1);
    }
    total
}

/// How a support clock counts: working time on this calendar, or every minute (24/7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hours {
    Working,
    AllDay,
}

impl Hours {
    /// The instant `amount` of counted time after `from`.
    pub fn add(self, from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        match self {
            Hours::Working => add_working_time(from, amount),
            Hours::AllDay => from + amount,
        }
    }

    /// The counted time between two instants.
    pub fn between(self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        match self {
            Hours::Working => working_time_between(from, to),
            Hours::AllDay => (to - from).max(Duration::zero()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn easter_and_the_holidays_it_sets() {
        assert_eq!(easter(2026), NaiveDate::from_ymd_opt(2026, 4, 5).unwrap());
        assert_eq!(easter(2027), NaiveDate::from_ymd_opt(2027, 3, 28).unwrap());
        assert_eq!(easter(2028), NaiveDate::from_ymd_opt(2028, 4, 16).unwrap());
        for (y, m, d) in [(2026, 4, 6), (2026, 5, 14), (2026, 5, 25), (2027, 3, 29), (2026, 7, 14), (2026, 11, 11)] {
            assert!(is_holiday(NaiveDate::from_ymd_opt(y, m, d).unwrap()), "{y}-{m}-{d}");
        }
        assert!(!is_holiday(NaiveDate::from_ymd_opt(2026, 4, 7).unwrap()));
        assert!(!is_working_day(NaiveDate::from_ymd_opt(2026, 4, 4).unwrap()), "a Saturday");
    }

    #[test]
    fn summer_time_follows_the_eu_rule() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(paris_offset(utc("2026-03-29T00:59:00Z")), Duration::hours(1));
        assert_eq!(paris_offset(utc("2026-03-29T01:00:00Z")), Duration::hours(2));
        assert_eq!(paris_offset(utc("2026-10-25T00:59:00Z")), Duration::hours(2));
        assert_eq!(paris_offset(utc("2026-10-25T01:00:00Z")), Duration::hours(1));
        let local = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap().and_hms_opt(9, 0, 0).unwrap();
        assert_eq!(from_paris(local), utc("2026-07-01T07:00:00Z"));
    }

    /// Cases worked out by hand: (opened, amount in working minutes, due).
    #[test]
    fn working_time_deadlines() {
        let cases = [
            // Friday 18:30 (CEST) before Easter Monday: 30 min on Friday, Monday is a holiday,
            // the rest on Tuesday 7 April: a working day (10 h) ends Tuesday 18:30 Paris.
            ("2026-04-03T16:30:00Z", 600, "2026-04-07T16:30:00Z"),
            // ... and 12 working hours end Wednesday 10:30 Paris.
            ("2026-04-03T16:30:00Z", 720, "2026-04-08T08:30:00Z"),
            // Across the end of summer time: Friday 23 Oct 18:00 CEST, 12 working hours: 1 h on
            // Friday, 10 h on Monday (now CET), 1 h on Tuesday: Tuesday 10:00 CET.
            ("2026-10-23T16:00:00Z", 720, "2026-10-27T09:00:00Z"),
            // Opened on a Saturday: the clock starts Monday 09:00 (CET in January).
            ("2026-01-10T10:00:00Z", 60, "2026-01-12T09:00:00Z"),
            // Opened before hours on a working day: starts at 09:00.
            ("2026-06-02T05:00:00Z", 30, "2026-06-02T07:30:00Z"),
            // Five working days after Thursday 7 May 15:00 CEST skip Friday 8 May and Thursday
            // 14 May (Ascension): Monday 18 May 15:00 CEST.
            ("2026-05-07T13:00:00Z", 5 * 600, "2026-05-18T13:00:00Z"),
        ];
        for (opened, minutes, due) in cases {
            let got = add_working_time(utc(opened), Duration::minutes(minutes));
            assert_eq!(got, utc(due), "{opened} + {minutes} working minutes");
            assert_eq!(working_time_between(utc(opened), got), Duration::minutes(minutes), "{opened} .. {due}");
        }
    }

    #[test]
    fn all_day_clocks_count_every_minute() {
        let opened = utc("2026-04-03T16:30:00Z");
        assert_eq!(Hours::AllDay.add(opened, Duration::hours(1)), utc("2026-04-03T17:30:00Z"));
        assert_eq!(Hours::AllDay.between(opened, utc("2026-04-06T16:30:00Z")), Duration::hours(72));
        assert_eq!(Hours::Working.between(opened, utc("2026-04-06T16:30:00Z")), Duration::minutes(30));
    }
}
