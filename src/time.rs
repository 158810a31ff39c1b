//! The one storage format for timestamps.
//!
//! Every timestamp is UTC and stored as fixed-width RFC 3339 text with
//! microseconds, e.g. `2026-11-24T17:46:00.123456Z`. Fixed width makes text
//! order equal time order, so SQL `ORDER BY` and range filters work on the
//! text, and the `sqlite3` shell shows it readably. Dates (a birth date) are
//! `YYYY-MM-DD`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::error::{Error, Result};

/// Formats a timestamp in the storage format.
pub(crate) fn to_db(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a timestamp in the storage format.
pub(crate) fn from_db(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::corrupt(format!("stored timestamp {text:?} does not parse: {e}")))
}

/// Parses a stored date.
pub(crate) fn date_from_db(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| Error::corrupt(format!("stored date {text:?} does not parse: {e}")))
}

/// The current time, truncated to the stored precision (microseconds) so a
/// value read back equals the value written.
pub(crate) fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// Truncates a timestamp to microseconds, the stored precision.
pub(crate) fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{SubsecRound, Timelike};
    let micros_only = at.nanosecond() / 1_000 * 1_000;
    at.with_nanosecond(micros_only)
        .unwrap_or_else(|| at.trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trips_and_sorts_as_text() {
        let a = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let b = a + chrono::Duration::microseconds(1);
        assert_eq!(to_db(&a), "2026-01-02T03:04:05.000000Z");
        assert_eq!(from_db(&to_db(&b)).unwrap(), b);
        assert!(to_db(&a) < to_db(&b));
    }

    #[test]
    fn now_survives_a_round_trip() {
        let t = now();
        assert_eq!(from_db(&to_db(&t)).unwrap(), t);
    }
}
