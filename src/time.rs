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

/// Parses a timestamp in the storage format. Timestamps are read on every
/// row, so the fixed format custdb writes is parsed by hand; anything else
/// (a value written by another tool) goes through the general RFC 3339
/// parser.
pub(crate) fn from_db(text: &str) -> Result<DateTime<Utc>> {
    if let Some(t) = parse_fixed(text.as_bytes()) {
        return Ok(t);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::corrupt(format!("stored timestamp {text:?} does not parse: {e}")))
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly.
fn parse_fixed(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() != 27
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[26] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
        num(20..26)?,
    )?;
    Some(date.and_time(time).and_utc())
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
    fn the_fast_parser_agrees_with_rfc3339() {
        for text in [
            "2026-01-02T03:04:05.000000Z",
            "1999-12-31T23:59:59.999999Z",
            "2024-02-29T12:00:00.123456Z",
        ] {
            let general = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(parse_fixed(text.as_bytes()), Some(general));
        }
        for other in ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000+01:00"] {
            assert_eq!(parse_fixed(other.as_bytes()), None);
            assert_eq!(
                from_db(other).unwrap(),
                DateTime::parse_from_rfc3339(other)
                    .unwrap()
                    .with_timezone(&Utc)
            );
        }
        assert!(parse_fixed(b"2026-02-30T00:00:00.000000Z").is_none());
        assert!(from_db("yesterday").is_err());
    }

    #[test]
    fn now_survives_a_round_trip() {
        let t = now();
        assert_eq!(from_db(&to_db(&t)).unwrap(), t);
    }
}
