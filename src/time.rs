//! Timestamps: the range custdb stores and the one storage format.
//!
//! Every timestamp is UTC and stored as fixed-width RFC 3339 text with
//! microseconds, e.g. `2026-11-24T17:46:00.123456Z`. Fixed width makes text
//! order equal time order, so SQL `ORDER BY` and range filters work on the
//! text, and the `sqlite3` shell shows it readably. Dates (a birth date) are
//! `YYYY-MM-DD`.
//!
//! # The supported range
//!
//! chrono accepts years from about −262,000 to +262,000; the storage format
//! has four year digits. custdb therefore stores instants from
//! [`MIN_TIMESTAMP`] (0001-01-01T00:00:00Z) to [`MAX_TIMESTAMP`]
//! (9999-12-31T23:59:59.999999Z), at microsecond precision (finer parts are
//! cut off). The rules, the same at every entry point:
//!
//! - a timestamp custdb **stores** (`occurred_at`, `valid_until`,
//!   `hold_until`, an imported `placed_at`, a reservation's expiry...) or
//!   **acts on** (the `now` of `release_expired` or `apply_retention`, the
//!   `at` of `can_process`) outside the range is an
//!   [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) naming the field;
//! - a **bound of a filter or of a range query** (`created_between`,
//!   report periods, audit queries, segment windows) may be any instant: a
//!   bound beyond the range means "no bound on that side", so
//!   `created_between(t, DateTime::<Utc>::MAX_UTC)` is "from `t` on".

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};

use crate::error::DbResult;
use crate::error::{Error, Result};

/// The earliest instant custdb stores: 0001-01-01T00:00:00Z. See the
/// [module docs](crate::time).
pub const MIN_TIMESTAMP: DateTime<Utc> = const_instant(1, 1, 1, 0, 0, 0, 0);

/// The latest instant custdb stores: 9999-12-31T23:59:59.999999Z. See the
/// [module docs](crate::time).
pub const MAX_TIMESTAMP: DateTime<Utc> = const_instant(9999, 12, 31, 23, 59, 59, 999_999);

/// Builds a constant instant; an impossible date fails the build, never a
/// running program (it is only ever evaluated at compile time).
const fn const_instant(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micro: u32,
) -> DateTime<Utc> {
    let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else {
        panic!("constant date out of range")
    };
    let Some(time) = NaiveTime::from_hms_micro_opt(hour, minute, second, micro) else {
        panic!("constant time out of range")
    };
    NaiveDateTime::new(date, time).and_utc()
}

/// True when custdb can store `at` (see [`MIN_TIMESTAMP`] and
/// [`MAX_TIMESTAMP`]).
pub fn is_storable(at: DateTime<Utc>) -> bool {
    (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&at)
}

/// Checks an instant that custdb will store or act on: inside the range,
/// cut to microseconds.
pub(crate) fn checked(field: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if !is_storable(at) {
        return Err(Error::invalid(
            field,
            format!(
                "{} is outside the range custdb stores (years 1 to 9999)",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        ));
    }
    Ok(truncate(at))
}

/// Checks an optional instant (see [`checked`]).
pub(crate) fn checked_opt(field: &str, at: Option<DateTime<Utc>>) -> Result<Option<DateTime<Utc>>> {
    at.map(|t| checked(field, t)).transpose()
}

/// A filter bound in the storage format: any instant is accepted, one
/// before the range sorts before every stored value and one after it
/// after every stored value ("no bound on that side").
pub(crate) fn bound(at: DateTime<Utc>) -> String {
    if at < MIN_TIMESTAMP {
        String::new()
    } else if at > MAX_TIMESTAMP {
        // '~' sorts after every timestamp text.
        "~".to_owned()
    } else {
        to_db(&at)
    }
}

/// Formats a timestamp in the storage format. Callers pass instants that
/// are the transaction's own time or went through [`checked`]; anything
/// else is a bug caught in debug builds, and `check()` parses every stored
/// value.
pub(crate) fn to_db(at: &DateTime<Utc>) -> String {
    debug_assert!(is_storable(*at), "{at:?} was not checked before storing");
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

/// Every stored timestamp (columns named `at`, `*_at` and `*_until`) and
/// date (`*_date`) of every table is in the storage format, a real
/// instant, and inside [`MIN_TIMESTAMP`]..=[`MAX_TIMESTAMP`]: a value that
/// is not would fail the reads that meet it. The test runs in SQL, one
/// statement per column; a value that passes it is exactly what
/// [`from_db`] parses.
pub(crate) fn check(
    conn: &rusqlite::Connection,
    report: &mut crate::unit::CheckReport,
) -> Result<()> {
    const STAMP: &str = "typeof(v) = 'text' AND length(v) = 27 AND v GLOB         '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'         AND substr(v, 1, 4) <> '0000'         AND datetime(substr(v, 1, 19)) = replace(substr(v, 1, 19), 'T', ' ')";
    const DATE: &str = "typeof(v) = 'text' AND length(v) = 10 AND v GLOB         '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]' AND substr(v, 1, 4) <> '0000' AND date(v) = v";
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
        )
        .db()?
        .query_map([], |r| r.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for table in tables {
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
            .db()?
            .query_map([&table], |r| r.get(0))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let Some(key) = columns.first() else { continue };
        for column in &columns {
            let (rule, form) =
                if column == "at" || column.ends_with("_at") || column.ends_with("_until") {
                    (STAMP, "a timestamp (RFC 3339 UTC with microseconds)")
                } else if column.ends_with("_date") {
                    (DATE, "a date (YYYY-MM-DD)")
                } else {
                    continue;
                };
            // Names come from the schema itself, never from a caller.
            let sql = format!(
                "SELECT CAST(\"{key}\" AS TEXT), quote(v) FROM \
                 (SELECT \"{key}\", \"{column}\" AS v FROM \"{table}\") \
                 WHERE v IS NOT NULL AND NOT coalesce(({rule}), 0) LIMIT 11"
            );
            let mut stmt = conn.prepare(&sql).db()?;
            let bad: Vec<(Option<String>, String)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?;
            for (row, value) in bad.iter().take(10) {
                report.push(format!(
                    "{table}.{column} of row {}: {value} is not {form} custdb can read \
                     (years 1 to 9999)",
                    row.as_deref().unwrap_or("NULL")
                ));
            }
            if bad.len() > 10 {
                report.push(format!("{table}.{column}: more unreadable values"));
            }
        }
    }
    Ok(())
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

/// A span of time for reports: `[from, before)`, each end optional.
/// Bounds outside [`MIN_TIMESTAMP`]..=[`MAX_TIMESTAMP`] mean no bound on
/// that side.
///
/// # Example
///
/// ```
/// use custdb::{Period, Store, TimeRange};
/// use chrono::{TimeZone, Utc};
///
/// let store = Store::open_in_memory()?;
/// let march = TimeRange::between(
///     Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
///     Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
/// );
/// let by_day = store.reports().revenue_by_period(Period::Day, march)?;
/// let ever = store.reports().revenue_by_period(Period::Month, TimeRange::all())?;
/// assert!(by_day.is_empty() && ever.is_empty());
/// # Ok::<(), custdb::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TimeRange {
    /// The first instant in the range, or `None` for no lower bound.
    pub from: Option<DateTime<Utc>>,
    /// The first instant after the range, or `None` for no upper bound.
    pub before: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// All of time.
    pub fn all() -> Self {
        TimeRange::default()
    }

    /// From `at` on.
    pub fn since(at: DateTime<Utc>) -> Self {
        TimeRange {
            from: Some(at),
            before: None,
        }
    }

    /// Everything before `at`.
    pub fn until(at: DateTime<Utc>) -> Self {
        TimeRange {
            from: None,
            before: Some(at),
        }
    }

    /// From `from` up to, not including, `before`.
    pub fn between(from: DateTime<Utc>, before: DateTime<Utc>) -> Self {
        TimeRange {
            from: Some(from),
            before: Some(before),
        }
    }
}
