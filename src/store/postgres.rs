//! Opening a store on PostgreSQL, and its units of work.
//!
//! A PostgreSQL store is a pool of `reader_pool_size + 1` clients (a unit of
//! work or a read takes one for its duration, waiting up to the busy
//! timeout for one to come free). Units of work run at READ COMMITTED;
//! what the single SQLite writer made safe for free is made explicit where
//! it matters (the audit chain's head below; row locks in later domains).
//! docs/SCALING.md has the whole design.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::{Inner, Options, ReaderPool, Store};
use crate::db::postgres::{PgManager, PgPool, PgSession, SessionKind};
use crate::db::{Conn, WriteSession};
use crate::error::{Error, ErrorKind, Result};
use crate::unit::{Actor, ReadTx, WriteTx};

/// The PostgreSQL side of a store.
pub(crate) struct Postgres {
    /// Always `Some` until the store is dropped (see the `Drop` below).
    pool: Option<PgPool>,
    /// The hot standby's pool, when reads go to one
    /// ([`Options::read_replica`]).
    replica: Option<PgPool>,
    /// The database's name, for messages.
    pub(crate) database: String,
    /// The audit chain's thread; `Some` until the store is dropped, and
    /// stopped before the pool goes.
    chainer: Option<crate::audit::Chainer>,
}

impl Postgres {
    pub(crate) fn pool(&self) -> &PgPool {
        self.pool
            .as_ref()
            .expect("the pool lives as long as the store")
    }

    /// A unit of work with audit entries has committed: wakes the chainer.
    fn audit_entries_committed(&self) {
        if let Some(chainer) = &self.chainer {
            chainer.wake();
        }
    }

    /// The change feed's waiting read on PostgreSQL: listens on
    /// `custdb_changes` (the chain step notifies when it moves the feed's
    /// watermark, from any server), then polls on the same connection
    /// (the primary's; each statement sees what has committed) and waits
    /// for a notification, in slices of at most a second. When committed
    /// events lie beyond the watermark, it wakes this store's chainer, so
    /// that a feed whose writers stopped before their step still moves.
    /// Holds one pooled connection while it waits.
    pub(crate) fn wait_for_changes<T>(
        &self,
        deadline: std::time::Instant,
        mut poll: impl FnMut(&ReadTx<'_>) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        /// Stops listening before the connection goes back to the pool,
        /// whichever way the wait ends.
        struct Listening<'s>(&'s PgSession);
        impl Drop for Listening<'_> {
            fn drop(&mut self) {
                let _ = self.0.batch("UNLISTEN custdb_changes");
            }
        }
        off_runtime(|| {
            let session = PgSession::open(self.pool(), SessionKind::Autocommit)?;
            session.batch("LISTEN custdb_changes")?;
            let listening = Listening(&session);
            listening.0.forget_notifications()?;
            let read = ReadTx {
                conn: crate::db::Conn::postgres(listening.0),
            };
            loop {
                let found = poll(&read)?;
                let now = std::time::Instant::now();
                if !found.is_empty() || now >= deadline {
                    return Ok(found);
                }
                if self.chainer.is_some() {
                    let behind = listening.0.simple_rows(
                        "SELECT 1 FROM change_feed_watermark w WHERE EXISTS \
                         (SELECT 1 FROM change_events e WHERE e.position > w.visible_through)",
                    )?;
                    if !behind.is_empty() {
                        self.audit_entries_committed();
                    }
                }
                let slice = (deadline - now).min(std::time::Duration::from_secs(1));
                listening.0.wait_notification(slice)?;
            }
        })
    }

    /// Chains every committed audit entry now (a few steps at most), unless
    /// the store is read-only; [`crate::Store::verify_audit`] and
    /// [`crate::Store::check`] call it.
    pub(crate) fn chain_audit_now(&self) {
        if self.chainer.is_some() {
            // Blocking on the synchronous client: never on an async
            // runtime's thread (an error here is the read's error too).
            let _ = off_runtime(|| {
                crate::audit::chain_until_done(self.pool(), 1, 3, &mut |length| {
                    std::thread::sleep(length);
                    true
                });
                Ok::<(), Error>(())
            });
        }
    }

    /// Where reads outside a unit of work go: the standby when there is
    /// one, else the primary.
    pub(crate) fn read_pool(&self) -> &PgPool {
        self.replica.as_ref().unwrap_or_else(|| self.pool())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Each client owns a small runtime, which tokio refuses to drop on
        // a thread that runs an async runtime (the last clone of a store
        // dropped inside an async task): drop them on a thread of their own.
        // The chainer's last step needs the pool.
        let chainer = self.chainer.take();
        let pools = (self.pool.take(), self.replica.take());
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(move || drop((chainer, pools))).join();
        } else {
            drop((chainer, pools));
        }
    }
}

/// The panic message of a tokio runtime asked to block on a thread that
/// drives another runtime's async tasks.
const NESTED_RUNTIME: &str = "Cannot start a runtime from within a runtime";

/// Runs `f`, which blocks on the synchronous postgres client (each call
/// drives the client's own small runtime). On a thread that drives an
/// async runtime's tasks that would panic ("Cannot start a runtime from
/// within a runtime"): on a multi-thread tokio runtime `f` runs through
/// `block_in_place`, which hands the thread's other tasks to other workers
/// first; on a current-thread runtime, which has no other worker, the call
/// fails with [`ErrorKind::Unsupported`] naming [`crate::AsyncStore`]
/// instead. Elsewhere (no runtime, or a `spawn_blocking` thread, as the
/// async facade uses) `f` simply runs.
fn off_runtime<T, E: From<Error>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|m| (*m).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                if !message.contains(NESTED_RUNTIME) {
                    // The unit of work's own panic: it goes on up.
                    std::panic::resume_unwind(payload);
                }
                Err(E::from(Error::new(ErrorKind::Unsupported {
                    operation: "a blocking call on a PostgreSQL store from an async task on a \
                                current-thread runtime"
                        .to_owned(),
                    engine: "PostgreSQL",
                    instead: "custdb::AsyncStore (feature tokio), tokio::task::spawn_blocking, \
                              or a multi-thread runtime"
                        .to_owned(),
                })))
            }
        },
        Err(_) => f(),
    }
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
    /// connection than that), read-only and
    /// [`tls_root_certificates`](Options::tls_root_certificates) (require
    /// TLS and verify the server) apply; durability is the
    /// server's (`synchronous_commit`); an encryption key, a size limit, a
    /// statement log or a VFS is refused with [`ErrorKind::Unsupported`].
    ///
    /// # Errors
    ///
    /// As [`open_postgres`](Store::open_postgres);
    /// [`ErrorKind::Unsupported`] for options that exist only on SQLite;
    /// [`ErrorKind::Invalid`] naming `options.tls_root_certificates` when
    /// that file cannot be read or holds no PEM certificate;
    /// [`ErrorKind::Io`] when TLS was asked for and the server does not
    /// offer it or fails the verification.
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
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            // A host that drops packets would otherwise hold the call for
            // the system's TCP timeout (minutes).
            config.connect_timeout(options.busy_timeout.max(std::time::Duration::from_secs(1)));
        }
        let tls = options
            .tls_root_certificates_file()
            .map(crate::db::postgres::verifying_connector)
            .transpose()?;
        let replica = options
            .read_replica_connection()
            .map(|connection| -> Result<PgManager> {
                let mut config: postgres::Config =
                    connection.parse().map_err(|e: postgres::Error| {
                        Error::invalid(
                            "options.read_replica",
                            format!("is not a PostgreSQL connection string: {e}"),
                        )
                    })?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(
                        options.busy_timeout.max(std::time::Duration::from_secs(1)),
                    );
                }
                Ok(PgManager::new(config, tls.clone()))
            })
            .transpose()?;
        let manager = PgManager::new(config, tls);
        let database = manager.database();
        // Connecting and migrating block on the client's own runtime, which
        // tokio refuses on a thread that drives an async runtime (an async
        // `main` opening its store): they run on a thread of their own.
        let (pool, replica) = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<_> {
                    let pool = connect_and_migrate(manager, &database, &options)?;
                    // The standby is only looked at: it follows the
                    // primary's schema, migrated just above.
                    let replica = match replica {
                        Some(manager) => {
                            let name = format!("{} (read replica)", manager.database());
                            let looking = options.clone().read_only(true);
                            Some(connect_and_migrate(manager, &name, &looking)?)
                        }
                        None => None,
                    };
                    Ok((pool, replica))
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        let chainer = (!options.read_only).then(|| crate::audit::Chainer::start(pool.clone()));
        Ok(Store {
            inner: Arc::new(Inner {
                path: None,
                options,
                readers: ReaderPool::new(Vec::new()),
                writer: None,
                postgres: Some(Postgres {
                    chainer,
                    pool: Some(pool),
                    replica,
                    database,
                }),
            }),
        })
    }

    /// Gives the PostgreSQL role `role` exactly the privileges an
    /// application running custdb needs, and no more (PostgreSQL stores
    /// only): SELECT and INSERT on every table, UPDATE and DELETE except on
    /// the append-only tables (the audit trail, consent events,
    /// interactions, stock movements, order events, erasure and merge
    /// records), only SELECT on the migration record, no TRUNCATE and no
    /// DDL. Whoever holds that role's credentials then cannot rewrite
    /// history even by bypassing custdb. Call it on a store opened as the
    /// role that owns the schema (which migrated it), after every upgrade
    /// of custdb, since a migration may add tables; it replaces what the
    /// role had on custdb's tables and can be run again at any time.
    /// docs/SECURITY.md, "PostgreSQL", has the whole set-up.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `role` when it is empty, longer than
    /// 63 bytes, a superuser, or the role this store is connected as;
    /// [`ErrorKind::NotFound`] when no such role exists;
    /// [`ErrorKind::ReadOnly`] on a read-only store;
    /// [`ErrorKind::Unsupported`] on SQLite; a database error when the
    /// connected role may not grant (it does not own the schema).
    pub fn grant_runtime_privileges(&self, role: &str) -> Result<()> {
        let Some(pg) = self.postgres() else {
            return Err(Error::new(ErrorKind::Unsupported {
                operation: "granting a runtime role".to_owned(),
                engine: "SQLite",
                instead: "file permissions: only the application's user may read and write \
                          the database file and its directory"
                    .to_owned(),
            }));
        };
        if self.inner.options.read_only {
            return Err(Error::new(ErrorKind::ReadOnly));
        }
        off_runtime(|| {
            let session = PgSession::open(pg.pool(), SessionKind::Write)?;
            crate::schema::postgres::grant_runtime(&session, role)?;
            session.commit()
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
        off_runtime(|| self.write_postgres_here(pg, actor, f))
    }

    fn write_postgres_here<T, E, F>(&self, pg: &Postgres, actor: &Actor, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E>,
    {
        let session = PgSession::open(pg.pool(), SessionKind::Write)?;
        let wtx = WriteTx {
            session: WriteSession::Postgres(Box::new(session)),
            actor,
            now: crate::time::now(),
            audit_rows: Cell::new(0),
            undone_changes: Cell::new(0),
            covered: Cell::new(false),
            pending_audit: RefCell::default(),
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
        // The audit entries go in last, unchained, under the chain's lock
        // held shared from here to the commit; the chain step after the
        // commit chains them (src/audit.rs, `Chainer`).
        wtx.pending_audit
            .borrow_mut()
            .flush(wtx.db(), wtx.actor, wtx.now)?;
        let inserted = wtx.pending_audit.borrow().inserted();
        wtx.session.into_postgres()?.commit()?;
        if inserted {
            pg.audit_entries_committed();
        }
        Ok(value)
    }

    pub(crate) fn read_postgres<T, E, F>(
        &self,
        pool: &PgPool,
        kind: SessionKind,
        f: F,
    ) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&ReadTx<'_>) -> Result<T, E>,
    {
        off_runtime(|| {
            let session = PgSession::open(pool, kind)?;
            let value = f(&ReadTx {
                conn: Conn::postgres(&session),
            })?;
            if kind == SessionKind::Read {
                session.commit()?;
            }
            Ok(value)
        })
    }
}

/// Checks that the server answers with one connection outside the pool,
/// then makes the pool and migrates the schema (or looks at it, read-only).
fn connect_and_migrate(manager: PgManager, database: &str, options: &Options) -> Result<PgPool> {
    // One connection outside the pool first: a server that cannot be
    // reached, refuses the login or fails the TLS check is reported
    // as such at once, not as a pool that timed out.
    r2d2::ManageConnection::connect(&manager).map_err(|e| {
        // The causes say why (e.g. "certificate verify failed"); none
        // of them holds the connection string.
        let mut message = format!("cannot connect to PostgreSQL database {database}: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            let text = c.to_string();
            // Some layers repeat their cause in their own text.
            if !message.contains(&text) {
                message.push_str(&format!(": {text}"));
            }
            cause = c.source();
        }
        Error::with_source(ErrorKind::Io { message }, e)
    })?;
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
        crate::schema::postgres::migrate(&session, database, options.read_only)?;
    }
    Ok(pool)
}
