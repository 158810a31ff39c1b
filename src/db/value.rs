//! custdb's own parameter and column types. Repositories pass values as
//! [`ToValue`] and read columns as [`FromValue`]; each engine converts a
//! [`Value`] to its native type, and its native column to a [`ValueRef`],
//! in one place (`db::sqlite`, `db::postgres`). Ids, timestamps, dates and
//! text enums therefore convert once per engine, not once per statement.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};

/// A parameter, before an engine turns it into its own type.
#[derive(Debug, Clone, PartialEq)]
#[allow(dead_code)]
pub(crate) enum Value<'a> {
    /// SQL NULL.
    Null,
    /// An integer (money in `_e4` units, quantities, counters, flags).
    Int(i64),
    /// A floating-point number (scores, ranks).
    Real(f64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
    /// An id: hyphenated text on SQLite, `uuid` on PostgreSQL.
    Uuid(Uuid),
    /// An instant that was checked storable: fixed RFC 3339 text on
    /// SQLite, `timestamptz` on PostgreSQL.
    Time(DateTime<Utc>),
    /// A filter bound, any instant: one outside the storable range sorts
    /// before (or after) every stored value.
    TimeBound(DateTime<Utc>),
    /// A calendar date: `YYYY-MM-DD` on SQLite, `date` on PostgreSQL.
    Date(NaiveDate),
    /// A JSON document: text on SQLite, `jsonb` on PostgreSQL.
    Json(&'a str),
}

/// A column as read, before [`FromValue`] types it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(dead_code)]
pub(crate) enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// An integer or boolean column.
    Int(i64),
    /// A floating-point column.
    Real(f64),
    /// A text (or JSON) column.
    Text(&'a str),
    /// A blob column.
    Blob(&'a [u8]),
    /// A native `uuid` column.
    Uuid(Uuid),
    /// A native `timestamptz` column.
    Time(DateTime<Utc>),
    /// A native `date` column.
    Date(NaiveDate),
}

impl ValueRef<'_> {
    fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Int(_) => "an integer",
            ValueRef::Real(_) => "a real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "a blob",
            ValueRef::Uuid(_) => "a uuid",
            ValueRef::Time(_) => "a timestamp",
            ValueRef::Date(_) => "a date",
        }
    }

    /// The error for a column of the wrong type: the store holds what
    /// custdb did not write.
    pub(crate) fn unexpected(&self, wanted: &str) -> Error {
        Error::corrupt(format!(
            "a column holds {} where {wanted} was expected",
            self.kind()
        ))
    }
}

/// A value that can be a statement parameter.
pub(crate) trait ToValue {
    /// The value, borrowed from `self` where it can be.
    fn to_value(&self) -> Value<'_>;
}

/// A value that can be read from a column.
pub(crate) trait FromValue: Sized {
    /// Types the column.
    ///
    /// # Errors
    ///
    /// `Corrupt` when the column holds something this type cannot be.
    fn from_value(value: ValueRef<'_>) -> Result<Self>;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl FromValue for String {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Text(t) => Ok(t.to_owned()),
            v => Err(v.unexpected("text")),
        }
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            v => Err(v.unexpected("a blob")),
        }
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl ToValue for i32 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u8 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        // Flags are 0/1 integers on both engines, so that one CHECK and one
        // reading serve both.
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl FromValue for i64 {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Int(i) => Ok(i),
            v => Err(v.unexpected("an integer")),
        }
    }
}

/// Integer columns narrower than `i64`: out of range is damage, never a
/// silent wrap.
macro_rules! narrow_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: ValueRef<'_>) -> Result<Self> {
                let wide = i64::from_value(value)?;
                <$t>::try_from(wide).map_err(|_| {
                    Error::corrupt(format!(
                        "a column holds {wide}, outside the range of {}",
                        stringify!($t)
                    ))
                })
            }
        }
    )*};
}
narrow_int!(u8, i32, u32, u64, usize);

impl ToValue for u64 {
    fn to_value(&self) -> Value<'_> {
        // Callers pass counts and limits that were bounded on the way in;
        // the largest still fits SQL's 64-bit integer.
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for usize {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl FromValue for bool {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Int(0) => Ok(false),
            ValueRef::Int(1) => Ok(true),
            v => Err(v.unexpected("a flag (0 or 1)")),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Real(r) => Ok(r),
            // SQLite hands back whole-valued reals as integers in some
            // expressions; the value is the same.
            ValueRef::Int(i) => Ok(i as f64),
            v => Err(v.unexpected("a number")),
        }
    }
}

impl ToValue for Uuid {
    fn to_value(&self) -> Value<'_> {
        Value::Uuid(*self)
    }
}

impl FromValue for Uuid {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Uuid(u) => Ok(u),
            ValueRef::Text(t) => Uuid::parse_str(t)
                .map_err(|e| Error::corrupt(format!("stored id {t:?} does not parse: {e}"))),
            v => Err(v.unexpected("an id")),
        }
    }
}

impl ToValue for DateTime<Utc> {
    fn to_value(&self) -> Value<'_> {
        Value::Time(*self)
    }
}

impl FromValue for DateTime<Utc> {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Time(t) => Ok(t),
            ValueRef::Text(t) => crate::time::from_db(t),
            v => Err(v.unexpected("a timestamp")),
        }
    }
}

impl ToValue for NaiveDate {
    fn to_value(&self) -> Value<'_> {
        Value::Date(*self)
    }
}

impl FromValue for NaiveDate {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Date(d) => Ok(d),
            ValueRef::Text(t) => crate::time::date_from_db(t),
            v => Err(v.unexpected("a date")),
        }
    }
}

/// Any column as text, for reports that name what they found whatever its
/// type (a damaged id is still worth naming).
#[derive(Debug, Clone)]
pub(crate) struct AnyText(pub(crate) String);

impl FromValue for AnyText {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        Ok(AnyText(match value {
            ValueRef::Null => "NULL".to_owned(),
            ValueRef::Int(i) => i.to_string(),
            ValueRef::Real(r) => r.to_string(),
            ValueRef::Text(t) => t.to_owned(),
            ValueRef::Blob(b) => format!("{} bytes", b.len()),
            ValueRef::Uuid(u) => u.hyphenated().to_string(),
            ValueRef::Time(t) => crate::time::to_db(&t),
            ValueRef::Date(d) => d.to_string(),
        }))
    }
}

/// A filter bound on a timestamp column ([`Value::TimeBound`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeBound(pub(crate) DateTime<Utc>);

impl ToValue for TimeBound {
    fn to_value(&self) -> Value<'_> {
        Value::TimeBound(self.0)
    }
}

/// A JSON document parameter ([`Value::Json`]).
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)]
pub(crate) struct Json<'a>(pub(crate) &'a str);

impl ToValue for Json<'_> {
    fn to_value(&self) -> Value<'_> {
        Value::Json(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_integers_refuse_what_does_not_fit() {
        assert_eq!(u32::from_value(ValueRef::Int(7)).unwrap(), 7);
        assert!(u32::from_value(ValueRef::Int(-1)).is_err());
        assert!(i32::from_value(ValueRef::Int(i64::MAX)).is_err());
    }

    #[test]
    fn flags_are_zero_or_one() {
        assert!(!bool::from_value(ValueRef::Int(0)).unwrap());
        assert!(bool::from_value(ValueRef::Int(1)).unwrap());
        assert!(bool::from_value(ValueRef::Int(2)).is_err());
    }

    #[test]
    fn ids_and_times_read_from_either_representation() {
        let id = Uuid::now_v7();
        let text = id.hyphenated().to_string();
        assert_eq!(Uuid::from_value(ValueRef::Text(&text)).unwrap(), id);
        assert_eq!(Uuid::from_value(ValueRef::Uuid(id)).unwrap(), id);
        assert!(Uuid::from_value(ValueRef::Text("nope")).is_err());
        let at = crate::time::truncate(Utc::now());
        let stored = crate::time::to_db(&at);
        assert_eq!(
            DateTime::<Utc>::from_value(ValueRef::Text(&stored)).unwrap(),
            at
        );
        assert_eq!(DateTime::<Utc>::from_value(ValueRef::Time(at)).unwrap(), at);
        assert!(String::from_value(ValueRef::Int(3)).is_err());
        assert_eq!(Option::<String>::from_value(ValueRef::Null).unwrap(), None);
    }
}
