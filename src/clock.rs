//! Time: the system clock as Unix seconds and milliseconds, the [`Clock`] requests are judged
//! by, and RFC 3339 times as the Nuxt app writes them (sessions' `loggedInAt`, imported
//! `created_at`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// The time requests are judged by: the system clock, plus an offset only tests move (to
/// see a throttle window end without waiting a quarter of an hour).
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Unix milliseconds now.
    pub fn now_ms(&self) -> i64 {
        unix_now_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock `ms` into the future (tests).
    #[cfg(any(test, feature = "test-util"))]
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> i64 {
    unix_now_ms() / 1000
}

/// An ISO 8601 / RFC 3339 time as epoch milliseconds.
pub fn parse_time_ms(time: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(time, &Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Epoch milliseconds as JavaScript's `Date.prototype.toISOString` writes them.
pub fn format_time_ms(ms: i64) -> String {
    const JS_ISO: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(JS_ISO)
        .expect("BUG: a UTC date-time has every component the description names")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_only_forward_by_what_tests_add() {
        let clock = Clock::default();
        let before = clock.now_ms();
        clock.advance(60_000);
        assert!(clock.now_ms() >= before + 60_000);
    }

    #[test]
    fn times_are_written_as_javascript_writes_them_and_read_back() {
        assert_eq!(format_time_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_time_ms(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            format_time_ms(1_714_557_600_042),
            "2024-05-01T10:00:00.042Z"
        );
        assert_eq!(
            parse_time_ms("2024-05-01T10:00:00.042Z"),
            Some(1_714_557_600_042)
        );
        assert_eq!(
            parse_time_ms("2024-05-01T10:00:00Z"),
            Some(1_714_557_600_000)
        );
        assert_eq!(
            parse_time_ms("2024-05-01T12:00:00+02:00"),
            Some(1_714_557_600_000)
        );
        assert_eq!(parse_time_ms("2024-05-01"), None);
    }
}
