//! Time helpers: the store keeps instants as milliseconds since the Unix epoch.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Converts stored milliseconds to a UTC instant.
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Keystone's timestamp format: `2026-11-21T15:55:16.000000Z`.
pub fn keystone_time(ms: i64) -> String {
    from_ms(ms).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// ISO-8601 with seconds and a `Z`, as most APIs render times.
pub fn iso_time(ms: i64) -> String {
    from_ms(ms).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Microseconds and no zone suffix: Nova's and ECS's `launched_at`, Cinder's and EVS's times.
pub fn usage_time(ms: i64) -> String {
    from_ms(ms).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(keystone_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(iso_time(1_000), "1970-01-01T00:00:01Z");
        assert_eq!(usage_time(1_500), "1970-01-01T00:00:01.500000");
    }
}
