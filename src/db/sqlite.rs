//! The SQLite side of the seam: custdb's values bound as rusqlite's, and
//! rusqlite's columns read as custdb's. Statements go through rusqlite's
//! per-connection statement cache, keyed by their text.

use rusqlite::types::{ToSqlOutput, ValueRef as SqliteRef};

use super::{FromValue, Params, Row, RowInner, Sql, Value, ValueRef};
use crate::error::{DbResult, Error, Result};

/// A parameter bound through rusqlite.
struct Bind<'v>(Value<'v>);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Owned;
        Ok(match &self.0 {
            Value::Null => ToSqlOutput::Owned(Owned::Null),
            Value::Int(i) => ToSqlOutput::Owned(Owned::Integer(*i)),
            Value::Real(r) => ToSqlOutput::Owned(Owned::Real(*r)),
            Value::Text(t) | Value::Json(t) => ToSqlOutput::Borrowed(SqliteRef::Text(t.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(SqliteRef::Blob(b)),
            Value::Uuid(u) => ToSqlOutput::Owned(Owned::Text(u.hyphenated().to_string())),
            Value::Time(t) => ToSqlOutput::Owned(Owned::Text(crate::time::to_db(t))),
            Value::TimeBound(t) => ToSqlOutput::Owned(Owned::Text(crate::time::bound(*t))),
            Value::Date(d) => ToSqlOutput::Owned(Owned::Text(d.format("%Y-%m-%d").to_string())),
        })
    }
}

/// The statement's SQLite text; a PostgreSQL-only statement reaching SQLite
/// is a bug.
fn text(sql: &Sql) -> Result<&str> {
    if sql.is_postgres_only() {
        return Err(Error::new(crate::error::ErrorKind::Internal {
            reason: format!(
                "PostgreSQL-only statement run on SQLite: {}",
                sql.postgres()
            ),
        }));
    }
    Ok(sql.sqlite())
}

fn bind<'p>(params: Params<'p>) -> impl Iterator<Item = Bind<'p>> + 'p {
    params.iter().map(|p| Bind(p.to_value()))
}

pub(super) fn execute(conn: &rusqlite::Connection, sql: &Sql, params: Params<'_>) -> Result<usize> {
    conn.prepare_cached(text(sql)?)
        .db()?
        .execute(rusqlite::params_from_iter(bind(params)))
        .db()
}

pub(super) fn query_opt<T>(
    conn: &rusqlite::Connection,
    sql: &Sql,
    params: Params<'_>,
    f: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(text(sql)?).db()?;
    let mut rows = stmt.query(rusqlite::params_from_iter(bind(params))).db()?;
    match rows.next().db()? {
        Some(row) => f(&Row {
            inner: RowInner::Sqlite(row),
        })
        .map(Some),
        None => Ok(None),
    }
}

pub(super) fn query_each(
    conn: &rusqlite::Connection,
    sql: &Sql,
    params: Params<'_>,
    mut f: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(text(sql)?).db()?;
    let mut rows = stmt.query(rusqlite::params_from_iter(bind(params))).db()?;
    while let Some(row) = rows.next().db()? {
        f(&Row {
            inner: RowInner::Sqlite(row),
        })?;
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn prepare_only(conn: &rusqlite::Connection, sql: &Sql) -> Result<()> {
    conn.prepare(text(sql)?).db().map(drop)
}

pub(super) fn get<T: FromValue>(row: &rusqlite::Row<'_>, index: usize) -> Result<T> {
    let value =
        match row.get_ref(index).db()? {
            SqliteRef::Null => ValueRef::Null,
            SqliteRef::Integer(i) => ValueRef::Int(i),
            SqliteRef::Real(r) => ValueRef::Real(r),
            SqliteRef::Text(t) => ValueRef::Text(std::str::from_utf8(t).map_err(|_| {
                Error::corrupt(format!("column {index} holds text that is not UTF-8"))
            })?),
            SqliteRef::Blob(b) => ValueRef::Blob(b),
        };
    T::from_value(value).map_err(|e| column_error(e, index))
}

/// Names the column in a typing error.
fn column_error(err: Error, index: usize) -> Error {
    Error::corrupt(format!("column {index}: {err}"))
}
