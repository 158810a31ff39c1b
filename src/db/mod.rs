//! The engine seam. Repositories talk to a [`Conn`]: custdb's own
//! connection type, with custdb's own statement ([`Sql`]), parameter
//! ([`ToValue`]) and column ([`FromValue`]) types. Only this module and the
//! store know which engine is underneath; each engine's conversions live
//! in one file (`sqlite.rs`, and `postgres.rs` with the `postgres`
//! feature).
//!
//! ```text
//! repository ── Conn::query_opt(sql!("..."), &[&id], |row| row.get(0))
//!                   │
//!                   ├── SQLite: prepare_cached(sql.sqlite()), bind Value → ToSqlOutput
//!                   └── PostgreSQL: prepare(sql.postgres()), bind Value → native type
//! ```

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod sql;
mod sqlite;
mod value;

#[cfg(all(feature = "bench-internals", feature = "postgres"))]
pub(crate) use sql::postgres_placeholders;
pub(crate) use sql::{sql, Registered, Sql};
#[allow(unused_imports)]
pub(crate) use value::{AnyText, FromValue, Json, TimeBound, ToValue, Value, ValueRef};

use crate::error::{Error, ErrorKind, Result};

/// A connection (or the transaction on it) as the repositories see it.
/// Cheap to copy: it borrows the engine's connection.
#[derive(Clone, Copy)]
pub(crate) struct Conn<'a> {
    engine: Engine<'a>,
}

#[derive(Clone, Copy)]
enum Engine<'a> {
    Sqlite(&'a rusqlite::Connection),
    #[cfg(feature = "postgres")]
    Postgres(&'a postgres::PgSession),
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.engine {
            Engine::Sqlite(_) => "Conn(SQLite)",
            #[cfg(feature = "postgres")]
            Engine::Postgres(_) => "Conn(PostgreSQL)",
        })
    }
}

/// The parameters of one statement, in placeholder order.
pub(crate) type Params<'p> = &'p [&'p dyn ToValue];

impl<'a> Conn<'a> {
    /// A connection on a PostgreSQL session.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(session: &'a postgres::PgSession) -> Conn<'a> {
        Conn {
            engine: Engine::Postgres(session),
        }
    }

    /// True on PostgreSQL.
    pub(crate) fn is_postgres(self) -> bool {
        match self.engine {
            Engine::Sqlite(_) => false,
            #[cfg(feature = "postgres")]
            Engine::Postgres(_) => true,
        }
    }

    /// A connection on an SQLite connection (or transaction).
    pub(crate) fn sqlite(conn: &'a rusqlite::Connection) -> Conn<'a> {
        Conn {
            engine: Engine::Sqlite(conn),
        }
    }

    /// The SQLite connection underneath, for code not yet written against
    /// `Conn` and for what only SQLite has (file backup, pragmas).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] on another engine, naming `operation`.
    pub(crate) fn as_sqlite(self, operation: &str) -> Result<&'a rusqlite::Connection> {
        match self.engine {
            Engine::Sqlite(conn) => Ok(conn),
            #[allow(unreachable_patterns)]
            _ => Err(self.unsupported(operation, "it exists only on SQLite files")),
        }
    }

    /// The name of the engine, for messages.
    pub(crate) fn engine_name(self) -> &'static str {
        match self.engine {
            Engine::Sqlite(_) => "SQLite",
            #[cfg(feature = "postgres")]
            Engine::Postgres(_) => "PostgreSQL",
        }
    }

    /// A typed [`ErrorKind::Unsupported`] for `operation` on this engine.
    pub(crate) fn unsupported(self, operation: &str, instead: &str) -> Error {
        Error::new(ErrorKind::Unsupported {
            operation: operation.to_owned(),
            engine: self.engine_name(),
            instead: instead.to_owned(),
        })
    }

    /// Rows changed by statements on this connection so far (what the
    /// audit guard compares before and after an operation).
    pub(crate) fn total_changes(self) -> u64 {
        match self.engine {
            Engine::Sqlite(conn) => conn.total_changes(),
            #[cfg(feature = "postgres")]
            Engine::Postgres(session) => session.total_changes(),
        }
    }

    /// Whether the transaction can go on and commit. SQLite rolls a whole
    /// transaction back by itself after some I/O and disk-full errors;
    /// PostgreSQL aborts it after any failed statement that no savepoint
    /// rollback undid.
    pub(crate) fn in_transaction(self) -> bool {
        match self.engine {
            Engine::Sqlite(conn) => !conn.is_autocommit(),
            #[cfg(feature = "postgres")]
            Engine::Postgres(session) => session.usable(),
        }
    }

    /// Whether the whole transaction is gone, so that no savepoint is left
    /// to roll back to (SQLite after an I/O error; a closed PostgreSQL
    /// connection).
    pub(crate) fn transaction_lost(self) -> bool {
        match self.engine {
            Engine::Sqlite(conn) => conn.is_autocommit(),
            #[cfg(feature = "postgres")]
            Engine::Postgres(session) => session.transaction_lost(),
        }
    }

    /// Runs a statement that returns no rows; the number of rows changed.
    ///
    /// # Errors
    ///
    /// The engine's error, classified.
    pub(crate) fn execute(self, sql: &Sql, params: Params<'_>) -> Result<usize> {
        match self.engine {
            Engine::Sqlite(conn) => sqlite::execute(conn, sql, params),
            #[cfg(feature = "postgres")]
            Engine::Postgres(session) => session.execute(sql, params),
        }
    }

    /// Runs a PostgreSQL-only `SELECT ... FOR UPDATE` that locks the rows
    /// a unit of work is about to check and change, until it ends, so
    /// another server's unit of work on the same rows waits instead of
    /// acting on what this one is changing. SQLite has one writer, which
    /// serialises every unit of work already: there it does nothing.
    pub(crate) fn lock_for_update(self, sql: &Sql, params: Params<'_>) -> Result<()> {
        debug_assert!(sql.is_postgres_only(), "row locks are PostgreSQL's");
        if self.is_postgres() {
            self.query_each(sql, params, |_| Ok(()))?;
        }
        Ok(())
    }

    /// The first row, which must exist (an aggregate, a row just written).
    ///
    /// # Errors
    ///
    /// The engine's error; [`ErrorKind::Database`] when there is no row.
    pub(crate) fn query_row<T>(
        self,
        sql: &Sql,
        params: Params<'_>,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?.ok_or_else(|| {
            Error::new(ErrorKind::Database {
                message: format!("no row from {:?}", sql.sqlite()),
            })
        })
    }

    /// The first row, if any.
    ///
    /// # Errors
    ///
    /// The engine's error, or `f`'s.
    pub(crate) fn query_opt<T>(
        self,
        sql: &Sql,
        params: Params<'_>,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.engine {
            Engine::Sqlite(conn) => sqlite::query_opt(conn, sql, params, f),
            #[cfg(feature = "postgres")]
            Engine::Postgres(session) => postgres::query_opt(session, sql, params, f),
        }
    }

    /// Every row, each through `f`, in order; stops at `f`'s first error.
    ///
    /// # Errors
    ///
    /// The engine's error, or `f`'s.
    pub(crate) fn query_each(
        self,
        sql: &Sql,
        params: Params<'_>,
        f: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        match self.engine {
            Engine::Sqlite(conn) => sqlite::query_each(conn, sql, params, f),
            #[cfg(feature = "postgres")]
            Engine::Postgres(session) => postgres::query_each(session, sql, params, f),
        }
    }

    /// Every row, each typed by `f`.
    ///
    /// # Errors
    ///
    /// The engine's error, or `f`'s.
    pub(crate) fn query_vec<T>(
        self,
        sql: &Sql,
        params: Params<'_>,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, params, |row| {
            out.push(f(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Prepares a statement without running it: the test that proves every
    /// registered statement against a live schema.
    #[cfg(test)]
    pub(crate) fn prepare_only(self, sql: &Sql) -> Result<()> {
        match self.engine {
            Engine::Sqlite(conn) => sqlite::prepare_only(conn, sql),
            #[cfg(feature = "postgres")]
            Engine::Postgres(session) => session.prepare_only(sql),
        }
    }
}

/// A write transaction on one engine's connection, owned by a
/// [`WriteTx`](crate::WriteTx).
#[derive(Debug)]
pub(crate) enum WriteSession<'a> {
    /// The writer connection, in the unit of work's transaction (its own
    /// `BEGIN IMMEDIATE`, or a savepoint of a shared commit's): the
    /// store's writer lock begins and ends it.
    Sqlite(&'a rusqlite::Connection),
    /// A READ COMMITTED transaction on a pooled PostgreSQL client.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::PgSession>),
}

impl WriteSession<'_> {
    /// The transaction as the repositories see it.
    pub(crate) fn conn(&self) -> Conn<'_> {
        match self {
            WriteSession::Sqlite(tx) => Conn::sqlite(tx),
            #[cfg(feature = "postgres")]
            WriteSession::Postgres(session) => Conn::postgres(session),
        }
    }

    /// The PostgreSQL session, for its commit (SQLite's units end in the
    /// writer lock).
    ///
    /// # Errors
    ///
    /// `Internal` on SQLite.
    #[cfg(feature = "postgres")]
    pub(crate) fn into_postgres(self) -> Result<Box<postgres::PgSession>> {
        match self {
            WriteSession::Sqlite(_) => Err(Error::new(crate::ErrorKind::Internal {
                reason: "an SQLite unit of work ends in the writer lock".into(),
            })),
            WriteSession::Postgres(session) => Ok(session),
        }
    }
}

/// One row of a result.
pub(crate) struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    #[cfg(feature = "postgres")]
    Postgres(&'r ::postgres::Row),
}

impl Row<'_> {
    /// The column at `index` (from 0), typed by where it goes.
    ///
    /// # Errors
    ///
    /// `Corrupt` when the column holds what `T` cannot be (naming the
    /// column); the engine's error for an index out of range.
    pub(crate) fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        match &self.inner {
            RowInner::Sqlite(row) => sqlite::get(row, index),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row) => postgres::get(row, index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement written with `sql!` prepares against the schema at
    /// its latest version: a misspelt column or a statement left behind by
    /// a migration fails here, not in the one test that happens to run it.
    #[test]
    fn every_statement_prepares_on_sqlite() {
        let store = crate::Store::open_in_memory().unwrap();
        let mut seen = 0;
        store
            .with_read_connection(|conn| {
                for r in sql::registered().filter(|r| !r.sql.is_postgres_only()) {
                    Conn::sqlite(conn)
                        .prepare_only(r.sql)
                        .map_err(|e| Error::corrupt(format!("{}:{}: {e}", r.file, r.line)))?;
                    seen += 1;
                }
                Ok(())
            })
            .unwrap();
        assert!(seen > 0, "no statement registered");
    }

    /// The same on PostgreSQL, against a database migrated by custdb.
    #[cfg(feature = "postgres")]
    #[test]
    fn every_statement_prepares_on_postgres() {
        let Some(cluster) = custdb_pgcluster::cluster() else {
            return;
        };
        let database = cluster.empty_database();
        let store = crate::Store::open_postgres(&cluster.connection(&database)).unwrap();
        let pg = store.postgres().unwrap();
        let session =
            postgres::PgSession::open(pg.pool(), postgres::SessionKind::Autocommit).unwrap();
        let mut failures = Vec::new();
        let mut seen = 0;
        for r in sql::registered() {
            seen += 1;
            if let Err(e) = Conn::postgres(&session).prepare_only(r.sql) {
                failures.push(format!(
                    "{}:{}: {e}\n    {}",
                    r.file,
                    r.line,
                    r.sql.postgres()
                ));
            }
        }
        assert!(seen > 0, "no statement registered");
        assert!(
            failures.is_empty(),
            "{} of {seen} statements fail:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn parameters_and_columns_round_trip_on_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let db = Conn::sqlite(&conn);
        let id = uuid::Uuid::now_v7();
        let at = crate::time::truncate(chrono::Utc::now());
        let got = db
            .query_row(
                &Sql::dynamic("SELECT ?1, ?2, ?3, ?4, ?5, ?6".to_owned()),
                &[&id, &at, &"text", &42i64, &true, &Option::<String>::None],
                |r| {
                    Ok((
                        r.get::<uuid::Uuid>(0)?,
                        r.get::<chrono::DateTime<chrono::Utc>>(1)?,
                        r.get::<String>(2)?,
                        r.get::<i64>(3)?,
                        r.get::<bool>(4)?,
                        r.get::<Option<String>>(5)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(got, (id, at, "text".to_owned(), 42, true, None));
        let err = db
            .query_row(&Sql::dynamic("SELECT 'x'".to_owned()), &[], |r| {
                r.get::<i64>(0)
            })
            .unwrap_err();
        assert!(err.to_string().contains("column 0"), "{err}");
    }
}
