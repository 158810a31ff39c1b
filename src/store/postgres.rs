//! Opening a store on PostgreSQL, and its units of work.
//!
//! A PostgreSQL store is a pool of `reader_pool_size + 1` clients (a unit of
//! work or a read takes one for its duration, waiting up to the busy
//! timeout for one to come free). Units of work run at READ COMMITTED;
//! what the single SQLite writer made safe for free is made explicit where
//! it matters (the audit chain's head below; row locks in later domains).
//! docs/SCALING.md has the whole design.

use std::cell::{Cell, RefCell};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{Inner, Options, ReaderPool, Store};
use crate::db::postgres::{PgManager, PgPool, PgSession, SessionKind};
use crate::db::{Conn, WriteSession};
use crate::error::{Error, ErrorKind, Result};
use crate::unit::{Actor, ReadTx, WriteTx};

/// The PostgreSQL side of a store.
pub(crate) struct Postgres {
    pub(crate) pool: PgPool,
    /// The database's name, for messages.
    pub(crate) database: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a store on a PostgreSQL database (cargo feature `postgres`),
    /// migrating an empty database to the current schema, with default
    /// [`Options`]. `connection` is a libpq-style connection string
    /// (`host=db1 user=shop dbname=shop`) or a URL
    /// (`postgresql://shop@db1/shop`). The password in it never appears in
    /// an error, a log line or a `Debug` output.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Invalid`] on `connection` when it does not parse;
    /// - [`ErrorKind::Io`] when the server cannot be reached or refuses the
    ///   login;
    /// - [`ErrorKind::ForeignDatabase`]: the database holds another
    ///   application's tables (nothing is written);
    /// - [`ErrorKind::SchemaTooNew`], [`ErrorKind::MigrationMismatch`]: as
    ///   for files.
    pub fn open_postgres(connection: &str) -> Result<Store> {
        Store::open_postgres_with(connection, Options::default())
    }

    /// [`open_postgres`](Store::open_postgres) with options. Of the
    /// [`Options`], the actor, the busy timeout (how long a call waits for a
    /// free connection), the reader pool size (the pool holds one more
    /// connection than that) and read-only apply; durability is the
    /// server's (`synchronous_commit`); an encryption key, a size limit, a
    /// statement log or a VFS is refused with [`ErrorKind::Unsupported`].
    ///
    /// # Errors
    ///
    /// As [`open_postgres`](Store::open_postgres), and
    /// [`ErrorKind::Unsupported`] for options that exist only on SQLite.
    pub fn open_postgres_with(connection: &str, options: Options) -> Result<Store> {
        let unsupported = |operation: &str, instead: &str| {
            Err(Error::new(ErrorKind::Unsupported {
                operation: operation.to_owned(),
                engine: "PostgreSQL",
                instead: instead.to_owned(),
            }))
        };
        if options.encryption_key.is_some() {
            return unsupported(
                "encryption at rest through SQLCipher",
                "encrypt the server's disk (LUKS, an encrypted volume) and require TLS",
            );
        }
        if options.max_size_bytes.is_some() {
            return unsupported(
                "a size limit",
                "set quotas on the server's tablespace or disk",
            );
        }
        if options.statement_log.is_some() {
            return unsupported("a statement log", "use the server's log_statement setting");
        }
        if options.vfs.is_some() {
            return unsupported("an SQLite VFS", "it has no PostgreSQL counterpart");
        }
        // After the engine's own refusals: validate() would call a missing
        // encryption key feature the problem, not the engine.
        options.validate()?;
        let config: postgres::Config = connection.parse().map_err(|e: postgres::Error| {
            // The parser's message names the option, never its value.
            Error::invalid(
                "connection",
                format!("is not a PostgreSQL connection string: {e}"),
            )
        })?;
        let manager = PgManager::new(config);
        let database = manager.database();
        let size = u32::try_from(options.reader_pool_size + 1).unwrap_or(u32::MAX);
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            .connection_timeout(
                options
                    .busy_timeout
                    .max(std::time::Duration::from_millis(1)),
            )
            .test_on_check_out(false)
            .build_unchecked(manager);
        {
            // The first connection shows at once whether the server can be
            // reached; then the schema is looked at and migrated.
            let session = PgSession::open(&pool, SessionKind::Autocommit)?;
            crate::schema::postgres::migrate(&session, &database, options.read_only)?;
        }
        Ok(Store {
            inner: Arc::new(Inner {
                path: None,
                options,
                readers: ReaderPool::new(Vec::new()),
                writer: None,
                commit_open: Arc::new(AtomicBool::new(false)),
                postgres: Some(Postgres { pool, database }),
            }),
        })
    }

    /// The PostgreSQL side, when this store is on PostgreSQL.
    pub(crate) fn postgres(&self) -> Option<&Postgres> {
        self.inner.postgres.as_ref()
    }

    pub(crate) fn write_postgres<T, E, F>(&self, pg: &Postgres, actor: &Actor, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E>,
    {
        if self.inner.options.read_only {
            return Err(E::from(Error::new(ErrorKind::ReadOnly)));
        }
        let session = PgSession::open(&pg.pool, SessionKind::Write)?;
        let wtx = WriteTx {
            session: WriteSession::Postgres(Box::new(session)),
            actor,
            now: crate::time::now(),
            audit_rows: Cell::new(0),
            undone_changes: Cell::new(0),
            covered: Cell::new(false),
            pending_audit: RefCell::new(Vec::new()),
        };
        let value = f(&wtx);
        if !wtx.db().in_transaction() {
            return Err(value.err().unwrap_or_else(|| {
                E::from(Error::new(ErrorKind::Database {
                    message: "a statement failed inside the unit of work outside any \
                              operation's savepoint, so PostgreSQL aborted it; nothing was \
                              written"
                        .into(),
                }))
            }));
        }
        let value = value?;
        let changed = wtx.db().total_changes() - wtx.undone_changes.get() != 0;
        if changed && wtx.audit_rows.get() == 0 {
            return Err(E::from(Error::new(ErrorKind::Internal {
                reason: "a unit of work changed rows without writing an audit entry".into(),
            })));
        }
        // The audit entries join the chain last, under the chain's lock,
        // which is held only from here to the commit.
        let entries = wtx.pending_audit.take();
        if !entries.is_empty() {
            crate::audit::append_chained(wtx.db(), wtx.actor, wtx.now, &entries)?;
        }
        wtx.session.commit()?;
        Ok(value)
    }

    pub(crate) fn read_postgres<T, E, F>(
        &self,
        pg: &Postgres,
        kind: SessionKind,
        f: F,
    ) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&ReadTx<'_>) -> Result<T, E>,
    {
        let session = PgSession::open(&pg.pool, kind)?;
        let value = f(&ReadTx {
            conn: Conn::postgres(&session),
        })?;
        if kind == SessionKind::Read {
            session.commit()?;
        }
        Ok(value)
    }
}
