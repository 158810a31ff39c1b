//! The PostgreSQL side of the seam: a small pool of synchronous clients,
//! each with its own cache of prepared statements; custdb's values bound
//! as PostgreSQL's native types (chosen by the type the server inferred for
//! each placeholder), and native columns read as custdb's values.
//!
//! Transactions are plain `BEGIN`/`COMMIT` text on a pooled client, so a
//! [`PgSession`] can hand out shared [`Conn`](super::Conn)s like SQLite's
//! connection does. A statement that fails inside a transaction aborts it
//! on PostgreSQL (SQLite would go on): the session remembers that, a
//! `ROLLBACK TO` a savepoint clears it, and a commit of an aborted
//! transaction is refused instead of silently rolling back.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use postgres::types::{FromSql, IsNull, ToSql, Type};
use uuid::Uuid;

use super::{FromValue, Params, Row, RowInner, Sql, Value, ValueRef};
use crate::error::{Error, ErrorKind, Result};

/// One pooled client and its prepared statements, keyed by their text.
pub(crate) struct PgConnection {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    /// Set when the connection is in an unknown state (a failed
    /// `ROLLBACK`): the pool drops it instead of lending it again.
    broken: bool,
}

/// Makes and checks the pool's clients.
pub(crate) struct PgManager {
    config: postgres::Config,
    /// Set when the store requires verified TLS.
    tls: Option<postgres_openssl::MakeTlsConnector>,
}

impl fmt::Debug for PgManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password: only where the store connects.
        f.debug_struct("PgManager")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl PgManager {
    /// A manager for `config`; with `tls`, every connection must use TLS
    /// and the connector verifies the server.
    pub(crate) fn new(
        mut config: postgres::Config,
        tls: Option<postgres_openssl::MakeTlsConnector>,
    ) -> PgManager {
        if tls.is_some() {
            // Never fall back to a plain connection once TLS is asked for.
            config.ssl_mode(postgres::config::SslMode::Require);
        }
        PgManager { config, tls }
    }

    /// The database name, for messages.
    pub(crate) fn database(&self) -> String {
        self.config.get_dbname().unwrap_or("(default)").to_owned()
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConnection;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<PgConnection, postgres::Error> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone())?,
            None => self.config.connect(postgres::NoTls)?,
        };
        Ok(PgConnection {
            client,
            statements: HashMap::new(),
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PgConnection) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        conn.broken || conn.client.is_closed()
    }
}

/// A TLS connector that trusts only the certificates in `pem_file` and
/// checks the server's host name (libpq's `sslmode=verify-full`).
pub(crate) fn verifying_connector(
    pem_file: &std::path::Path,
) -> crate::error::Result<postgres_openssl::MakeTlsConnector> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::X509;
    let field = "options.tls_root_certificates";
    let pem = std::fs::read(pem_file).map_err(|e| {
        crate::error::Error::invalid(field, format!("cannot read {}: {e}", pem_file.display()))
    })?;
    let certificates = X509::stack_from_pem(&pem).unwrap_or_default();
    if certificates.is_empty() {
        return Err(crate::error::Error::invalid(
            field,
            format!("{} holds no PEM certificate", pem_file.display()),
        ));
    }
    let tls_error = |e: openssl::error::ErrorStack| {
        crate::error::Error::invalid(field, format!("cannot set up TLS: {e}"))
    };
    let mut store = X509StoreBuilder::new().map_err(tls_error)?;
    for certificate in certificates {
        store.add_cert(certificate).map_err(tls_error)?;
    }
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls_error)?;
    // Replaces the system's default store: only the given roots are trusted.
    builder.set_cert_store(store.build());
    builder.set_verify(SslVerifyMode::PEER);
    // postgres-openssl checks the host name (DNS or IP) on every connect.
    Ok(postgres_openssl::MakeTlsConnector::new(builder.build()))
}

/// The pool.
pub(crate) type PgPool = r2d2::Pool<PgManager>;

/// What a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    /// A unit of work: READ COMMITTED, with explicit row and advisory locks
    /// where the single SQLite writer made them unnecessary.
    Write,
    /// A consistent snapshot: REPEATABLE READ, READ ONLY.
    Read,
    /// One statement at a time, each its own snapshot (one-shot reads and
    /// the migration runner, which manages its own transaction).
    Autocommit,
}

/// One pooled client lent to a unit of work or a read.
pub(crate) struct PgSession {
    conn: RefCell<r2d2::PooledConnection<PgManager>>,
    /// Rows changed by this session's statements (the audit guard).
    changes: Cell<u64>,
    in_transaction: Cell<bool>,
    /// A statement failed since the last savepoint rollback: PostgreSQL
    /// refuses everything but a rollback until then.
    aborted: Cell<bool>,
}

impl fmt::Debug for PgSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSession")
            .field("in_transaction", &self.in_transaction.get())
            .field("aborted", &self.aborted.get())
            .finish()
    }
}

impl PgSession {
    /// Takes a client from the pool and opens the session.
    pub(crate) fn open(pool: &PgPool, kind: SessionKind) -> Result<PgSession> {
        // No connection became free (or could be made) within the pool's
        // timeout: the engine's counterpart of SQLite's busy timeout.
        let conn = pool
            .get()
            .map_err(|e| Error::with_source(ErrorKind::Busy, e))?;
        let session = PgSession {
            conn: RefCell::new(conn),
            changes: Cell::new(0),
            in_transaction: Cell::new(false),
            aborted: Cell::new(false),
        };
        let begin = match kind {
            SessionKind::Write => Some("BEGIN ISOLATION LEVEL READ COMMITTED"),
            SessionKind::Read => Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
            SessionKind::Autocommit => None,
        };
        if let Some(begin) = begin {
            session.batch(begin)?;
            session.in_transaction.set(true);
        }
        Ok(session)
    }

    /// Opens a transaction on an autocommit session (the migration runner).
    pub(crate) fn begin(&self) -> Result<()> {
        self.batch("BEGIN ISOLATION LEVEL READ COMMITTED")?;
        self.in_transaction.set(true);
        Ok(())
    }

    /// Runs `text` in one round trip (the simple query protocol):
    /// statements without parameters, transaction control included, with
    /// their rows as text. A failure leaves the session for Drop to roll
    /// back whatever `text` opened.
    pub(crate) fn simple_rows(&self, text: &str) -> Result<Vec<postgres::SimpleQueryRow>> {
        let was = self.in_transaction.replace(true);
        let result = self.conn.borrow_mut().client.simple_query(text);
        let messages = self.note(result)?;
        self.in_transaction.set(was);
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .collect())
    }

    /// Runs statements without parameters (transaction control, DDL).
    pub(crate) fn batch(&self, text: &str) -> Result<()> {
        let result = self.conn.borrow_mut().client.batch_execute(text);
        self.note(result)
    }

    /// Commits the transaction, keeping the session.
    ///
    /// # Errors
    ///
    /// A transaction that a failed statement aborted is rolled back and
    /// reported, never committed (PostgreSQL would answer `COMMIT` with a
    /// silent rollback).
    pub(crate) fn commit(&self) -> Result<()> {
        self.refuse_aborted()?;
        self.batch("COMMIT")?;
        self.in_transaction.set(false);
        Ok(())
    }

    fn refuse_aborted(&self) -> Result<()> {
        if self.aborted.get() {
            // Drop rolls back.
            return Err(Error::new(ErrorKind::Database {
                message: "a statement failed inside the unit of work outside any operation's \
                          savepoint; PostgreSQL aborted the transaction and nothing was written"
                    .into(),
            }));
        }
        Ok(())
    }

    /// Forgets the notifications this connection received earlier, then
    /// waits up to `timeout` for one on the channels it listens to
    /// (`LISTEN`). Returns whether one came.
    pub(crate) fn wait_notification(&self, timeout: std::time::Duration) -> Result<bool> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut conn = self.conn.borrow_mut();
        let mut notifications = conn.client.notifications();
        let came = notifications.timeout_iter(timeout).next();
        drop(notifications);
        drop(conn);
        Ok(self.note(came)?.is_some())
    }

    /// Drops the notifications received so far (a pooled connection may
    /// hold some from its last listener).
    pub(crate) fn forget_notifications(&self) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut conn = self.conn.borrow_mut();
        let mut notifications = conn.client.notifications();
        let mut pending = notifications.iter();
        let mut result = Ok(());
        loop {
            match pending.next() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(pending);
        drop(notifications);
        drop(conn);
        self.note(result)
    }

    pub(crate) fn total_changes(&self) -> u64 {
        self.changes.get()
    }

    pub(crate) fn transaction_lost(&self) -> bool {
        !self.in_transaction.get() || self.conn.borrow().client.is_closed()
    }

    pub(crate) fn usable(&self) -> bool {
        !self.transaction_lost() && !self.aborted.get()
    }

    /// Records a failure: inside a transaction it aborts it.
    fn note<T>(&self, result: std::result::Result<T, postgres::Error>) -> Result<T> {
        result.map_err(|e| {
            if self.in_transaction.get() {
                self.aborted.set(true);
            }
            Error::from_postgres(e)
        })
    }

    fn statement(&self, sql: &Sql) -> Result<postgres::Statement> {
        let text = sql.postgres();
        let mut conn = self.conn.borrow_mut();
        if let Some(statement) = conn.statements.get(text) {
            return Ok(statement.clone());
        }
        let prepared = conn.client.prepare(text);
        drop(conn);
        let statement = self.note(prepared)?;
        self.conn
            .borrow_mut()
            .statements
            .insert(text.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(crate) fn execute(&self, sql: &Sql, params: Params<'_>) -> Result<usize> {
        let statement = self.statement(sql)?;
        let binds = binds(params);
        let refs: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        let result = self.conn.borrow_mut().client.execute(&statement, &refs);
        let n = self.note(result)?;
        if is_rollback_to(sql) {
            self.aborted.set(false);
        }
        self.changes.set(self.changes.get() + n);
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(crate) fn query(&self, sql: &Sql, params: Params<'_>) -> Result<Vec<postgres::Row>> {
        let statement = self.statement(sql)?;
        let binds = binds(params);
        let refs: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        let result = self.conn.borrow_mut().client.query(&statement, &refs);
        self.note(result)
    }

    #[cfg(test)]
    pub(crate) fn prepare_only(&self, sql: &Sql) -> Result<()> {
        self.statement(sql).map(drop)
    }
}

fn is_rollback_to(sql: &Sql) -> bool {
    sql.sqlite().starts_with("ROLLBACK TO")
}

impl Drop for PgSession {
    fn drop(&mut self) {
        if self.in_transaction.get() {
            let conn = self.conn.get_mut();
            if conn.client.batch_execute("ROLLBACK").is_err() {
                // The client's state is unknown: never lend it again.
                conn.broken = true;
            }
        }
    }
}

fn binds<'p>(params: Params<'p>) -> Vec<Bind<'p>> {
    params.iter().map(|p| Bind(p.to_value())).collect()
}

/// A parameter bound as the type PostgreSQL inferred for its placeholder.
#[derive(Debug)]
struct Bind<'v>(Value<'v>);

type BoxError = Box<dyn StdError + Sync + Send>;

/// Microseconds between 1970 and 2000, PostgreSQL's timestamp epoch.
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

impl ToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(wrong("an integer", ty)),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                _ => Err(wrong("a real", ty)),
            },
            Value::Text(t) | Value::Json(t) => text_to_sql(t, ty, out),
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.to_sql(ty, out),
                _ => Err(wrong("bytes", ty)),
            },
            Value::Uuid(u) => match *ty {
                Type::UUID => u.to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => u.hyphenated().to_string().to_sql(ty, out),
                _ => Err(wrong("an id", ty)),
            },
            Value::Time(t) => match *ty {
                Type::TIMESTAMPTZ => t.to_sql(ty, out),
                // audit_log.at: the text the hash covers.
                Type::TEXT | Type::VARCHAR => crate::time::to_db(t).to_sql(ty, out),
                _ => Err(wrong("a timestamp", ty)),
            },
            Value::TimeBound(t) => match *ty {
                Type::TIMESTAMPTZ if crate::time::is_storable(*t) => t.to_sql(ty, out),
                Type::TIMESTAMPTZ => {
                    // Outside the storable range: -infinity or infinity,
                    // which sort before and after every stored value.
                    let micros = if *t < DateTime::<Utc>::UNIX_EPOCH {
                        i64::MIN
                    } else {
                        i64::MAX
                    };
                    out.extend_from_slice(&micros.to_be_bytes());
                    Ok(IsNull::No)
                }
                Type::TEXT | Type::VARCHAR => crate::time::bound(*t).to_sql(ty, out),
                _ => Err(wrong("a timestamp", ty)),
            },
            Value::Date(d) => match *ty {
                Type::DATE => d.to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => d.format("%Y-%m-%d").to_string().to_sql(ty, out),
                _ => Err(wrong("a date", ty)),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        // Every type is tried; to_sql refuses the ones a value cannot be.
        true
    }

    postgres::types::to_sql_checked!();
}

fn text_to_sql(
    text: &str,
    ty: &Type,
    out: &mut postgres::types::private::BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    match *ty {
        Type::JSONB => {
            // jsonb's binary format: version 1, then the text.
            out.extend_from_slice(&[1]);
            out.extend_from_slice(text.as_bytes());
            Ok(IsNull::No)
        }
        Type::JSON => {
            out.extend_from_slice(text.as_bytes());
            Ok(IsNull::No)
        }
        // An id compared with a text column's value (audit entity ids).
        Type::UUID => Uuid::parse_str(text)?.to_sql(ty, out),
        _ => text.to_sql(ty, out),
    }
}

fn wrong(what: &str, ty: &Type) -> BoxError {
    format!("custdb binds {what}, not a PostgreSQL {}", ty.name()).into()
}

/// A jsonb (or json) column's text.
struct JsonText<'a>(&'a str);

impl<'a> FromSql<'a> for JsonText<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let body = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unknown jsonb version".into()),
            }
        } else {
            raw
        };
        Ok(JsonText(std::str::from_utf8(body)?))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }
}

/// A timestamptz that may be infinite (read as an error, never stored by
/// custdb).
struct Micros(i64);

impl<'a> FromSql<'a> for Micros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let bytes: [u8; 8] = raw.try_into()?;
        Ok(Micros(i64::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ || *ty == Type::TIMESTAMP
    }
}

pub(super) fn get<T: FromValue>(row: &postgres::Row, index: usize) -> Result<T> {
    let column = row.columns().get(index).ok_or_else(|| {
        Error::new(ErrorKind::Internal {
            reason: format!("column {index} asked of a row of {}", row.len()),
        })
    })?;
    let read = |e: postgres::Error| Error::corrupt(format!("column {index}: {e}"));
    let ty = column.type_().clone();
    let value = match ty {
        Type::INT8 => opt(
            row.try_get::<_, Option<i64>>(index).map_err(read)?,
            ValueRef::Int,
        ),
        Type::INT4 => opt(row.try_get::<_, Option<i32>>(index).map_err(read)?, |v| {
            ValueRef::Int(i64::from(v))
        }),
        Type::INT2 => opt(row.try_get::<_, Option<i16>>(index).map_err(read)?, |v| {
            ValueRef::Int(i64::from(v))
        }),
        Type::BOOL => opt(row.try_get::<_, Option<bool>>(index).map_err(read)?, |v| {
            ValueRef::Int(i64::from(v))
        }),
        Type::FLOAT8 => opt(
            row.try_get::<_, Option<f64>>(index).map_err(read)?,
            ValueRef::Real,
        ),
        Type::FLOAT4 => opt(row.try_get::<_, Option<f32>>(index).map_err(read)?, |v| {
            ValueRef::Real(f64::from(v))
        }),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => opt(
            row.try_get::<_, Option<&str>>(index).map_err(read)?,
            ValueRef::Text,
        ),
        Type::JSONB | Type::JSON => opt(
            row.try_get::<_, Option<JsonText<'_>>>(index)
                .map_err(read)?,
            |j| ValueRef::Text(j.0),
        ),
        Type::BYTEA => opt(
            row.try_get::<_, Option<&[u8]>>(index).map_err(read)?,
            ValueRef::Blob,
        ),
        Type::UUID => opt(
            row.try_get::<_, Option<Uuid>>(index).map_err(read)?,
            ValueRef::Uuid,
        ),
        Type::TIMESTAMPTZ => match row.try_get::<_, Option<Micros>>(index).map_err(read)? {
            None => ValueRef::Null,
            Some(Micros(m)) => {
                let at = m
                    .checked_add(PG_EPOCH_OFFSET_MICROS)
                    .and_then(DateTime::<Utc>::from_timestamp_micros)
                    .ok_or_else(|| {
                        Error::corrupt(format!(
                            "column {index} holds a timestamp outside chrono's range"
                        ))
                    })?;
                ValueRef::Time(at)
            }
        },
        Type::DATE => opt(
            row.try_get::<_, Option<NaiveDate>>(index).map_err(read)?,
            ValueRef::Date,
        ),
        other => {
            return Err(Error::new(ErrorKind::Internal {
                reason: format!(
                    "column {index} has PostgreSQL type {}, which custdb does not read (cast it)",
                    other.name()
                ),
            }))
        }
    };
    T::from_value(value).map_err(|e| Error::corrupt(format!("column {index}: {e}")))
}

fn opt<'v, V, F: FnOnce(V) -> ValueRef<'v>>(v: Option<V>, f: F) -> ValueRef<'v> {
    v.map_or(ValueRef::Null, f)
}

pub(super) fn query_each(
    session: &PgSession,
    sql: &Sql,
    params: Params<'_>,
    mut f: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    // The rows are fetched whole, so that `f` may run statements of its
    // own on the same session (SQLite allows that mid-iteration too).
    for row in session.query(sql, params)? {
        f(&Row {
            inner: RowInner::Postgres(&row),
        })?;
    }
    Ok(())
}

pub(super) fn query_opt<T>(
    session: &PgSession,
    sql: &Sql,
    params: Params<'_>,
    f: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    match session.query(sql, params)?.first() {
        Some(row) => f(&Row {
            inner: RowInner::Postgres(row),
        })
        .map(Some),
        None => Ok(None),
    }
}
