//! The [`Store`]: connection set-up, the writer and the reader pool, and
//! the making of the units of work ([`WriteTx`], [`ReadTx`], defined in
//! `crate::unit`) through which everything else reaches the database.
//!
//! Nothing outside this module opens a connection.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::DbResult;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{self, FileState};
pub use crate::unit::{Actor, CheckReport, ReadTx, WriteTx, MAX_ACTOR_ID_LEN, MAX_ACTOR_NAME_LEN};

#[cfg(feature = "postgres")]
mod copy;
mod lock;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use copy::CopyReport;
use lock::{ReaderPool, UnitEnd, WriterLock};
pub use lock::{WriteStats, MAX_UNITS_PER_COMMIT};

/// The oldest SQLite custdb accepts, as `sqlite3_libversion_number()`.
/// Versions before 3.51.3 have a WAL-reset race that can corrupt a database.
pub const MIN_SQLITE_VERSION_NUMBER: i32 = 3_051_003;
const MIN_SQLITE_VERSION: &str = "3.51.3";

/// Prepared statements kept per connection (least recently used goes
/// first). custdb has more distinct statements than rusqlite's default of
/// 16, and a statement that falls out of the cache is parsed again on its
/// next use. The day-to-day paths (customers, orders from placement to
/// shipment, consent checks) use about 55 distinct statements, so they stay
/// cached even while reports, imports and privacy work pass through; every
/// statement custdb has is about 300 (docs/PERFORMANCE.md, tested in
/// tests/it/query_plans.rs). A cached statement costs a few kilobytes.
pub const STATEMENT_CACHE_CAPACITY: usize = 128;

/// The most reader connections a store may keep.
pub const MAX_READER_POOL_SIZE: usize = 64;

/// How hard a commit works to survive a power failure.
///
/// Both settings run SQLite in WAL mode, and with both a crash of the
/// *application* loses nothing that was committed. They differ on a crash of
/// the *machine* (power loss, kernel panic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is synced to disk at every commit, so a
    /// commit that returned `Ok` survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: the WAL is synced only at checkpoints. Commits
    /// are faster, the database cannot be corrupted, but after a power loss
    /// the most recent commits (those since the last checkpoint, at most
    /// about 1000 pages of WAL by default) may be rolled back even though
    /// they returned `Ok`. Choose it only when such a loss is acceptable.
    Normal,
}

/// How to open a [`Store`]. Build it with the chained setters.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use custdb::{Actor, Durability, Options};
///
/// let options = Options::default()
///     .durability(Durability::Full)
///     .busy_timeout(Duration::from_secs(2))
///     .reader_pool_size(2)
///     .actor(Actor::new("importer", "Nightly import")?);
/// # let dir = tempfile::tempdir()?;
/// let store = custdb::Store::open_with(dir.path().join("shop.db"), options)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    durability: Durability,
    busy_timeout: Duration,
    reader_pool_size: usize,
    read_only: bool,
    actor: Actor,
    encryption_key: Option<EncryptionKey>,
    max_size_bytes: Option<u64>,
    statement_log: Option<StatementLog>,
    vfs: Option<String>,
    tls_root_certificates: Option<PathBuf>,
    read_replica: Option<ConnectionString>,
    group_commit: bool,
}

/// A PostgreSQL connection string kept in [`Options`]: its `Debug` shows
/// nothing of it, since it may hold a password.
#[derive(Clone)]
pub(crate) struct ConnectionString(pub(crate) String);

impl std::fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionString(<redacted>)")
    }
}

/// How many times a one-shot call runs at most when PostgreSQL aborts it
/// for a collision with another unit of work ([`ErrorKind::Contention`]).
pub const ONE_SHOT_ATTEMPTS: u32 = 3;

/// Where a store records the text of every statement its connections run
/// (see [`Options::statement_log`]).
pub type StatementLog = std::sync::Arc<Mutex<std::collections::BTreeSet<String>>>;

/// An encryption key. Its `Debug` shows nothing of it; custdb hands it to
/// SQLCipher and never logs, stores or returns it.
#[derive(Clone)]
pub struct EncryptionKey(String);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

/// Longest encryption key, in bytes.
pub const MAX_ENCRYPTION_KEY_LEN: usize = 1024;

/// The smallest [`Options::max_size_bytes`]: room for the schema of an
/// empty store.
pub const MIN_MAX_SIZE_BYTES: u64 = 2 * 1024 * 1024;

impl Default for Options {
    /// Full durability, a 5 s busy timeout, 4 readers, read-write, the
    /// [`Actor::system`] actor.
    fn default() -> Self {
        Options {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            reader_pool_size: 4,
            read_only: false,
            actor: Actor::system(),
            encryption_key: None,
            max_size_bytes: None,
            statement_log: None,
            vfs: None,
            tls_root_certificates: None,
            read_replica: None,
            group_commit: true,
        }
    }
}

impl Options {
    /// Whether one-shot calls from several threads (or async tasks) may
    /// share one commit; on by default. Under concurrent writes it lets a
    /// single SQLite writer commit many units of work with one `fsync`;
    /// a unit's result still comes back only once its commit is durable,
    /// and each unit still sees the ones before it. What changes and what
    /// does not: docs/RELIABILITY.md, "Group commit". PostgreSQL groups
    /// commits itself; this setting does nothing there.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{Options, Store};
    ///
    /// let store = Store::open_in_memory_with(Options::default().group_commit(false))?;
    /// store.customers().create(custdb::NewCustomer::new("Ann"))?;
    /// assert_eq!(store.write_stats().commits, 1);
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn group_commit(mut self, on: bool) -> Self {
        self.group_commit = on;
        self
    }

    /// Sets the commit durability. See [`Durability`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// How long a call waits for a lock before it fails with
    /// [`ErrorKind::Busy`]: another process's lock on the file, the writer
    /// connection while another thread's unit of work holds it, or a pooled
    /// reader while every one is in use. Default 5 s, at most one hour.
    /// (A wait that only the waiting thread itself could end, such as a
    /// `write` inside a `write` of the same store, fails at once with
    /// [`ErrorKind::Reentrant`] instead.)
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How many read-only connections serve [`Store::read`] beside the
    /// writer. Default 4, at most [`MAX_READER_POOL_SIZE`]; 0 makes reads
    /// share the writer connection. An in-memory store always uses 0.
    pub fn reader_pool_size(mut self, size: usize) -> Self {
        self.reader_pool_size = size;
        self
    }

    /// Opens the file read-only: every write fails with
    /// [`ErrorKind::ReadOnly`], and the file must already hold a custdb
    /// database at the current schema version.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The actor recorded on writes that do not name their own (see
    /// [`Store::write_as`]).
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// Encrypts the database with SQLCipher under this passphrase (builds
    /// with the `sqlcipher` feature only). Every connection, backup and
    /// restore of the store uses it. A new file is created encrypted; an
    /// existing file must have been created with the same key.
    pub fn encryption_key(mut self, key: impl Into<String>) -> Self {
        self.encryption_key = Some(EncryptionKey(key.into()));
        self
    }

    /// Caps the database file's size (SQLite's `max_page_count`): a write
    /// that would grow it past `bytes` fails with [`ErrorKind::DiskFull`]
    /// and changes nothing, as when the disk itself is full. For devices
    /// with a storage quota. At least [`MIN_MAX_SIZE_BYTES`]; a cap below
    /// the file's current size lets it grow no further. Not set by default.
    pub fn max_size_bytes(mut self, bytes: u64) -> Self {
        self.max_size_bytes = Some(bytes);
        self
    }

    /// Records the text (with its `?` parameters, not their values) of
    /// every statement the store's connections run, for diagnostics such as
    /// the query-plan test. Off by default; it costs a lock per statement.
    #[doc(hidden)]
    pub fn statement_log(mut self, log: StatementLog) -> Self {
        self.statement_log = Some(log);
        self
    }

    /// Opens the file's connections through the SQLite VFS registered
    /// under this name (the fault-injecting VFS of the reliability tests).
    /// Not for applications.
    #[doc(hidden)]
    pub fn vfs(mut self, name: impl Into<String>) -> Self {
        self.vfs = Some(name.into());
        self
    }

    /// PostgreSQL only: requires TLS on every connection and verifies the
    /// server, as libpq's `sslmode=verify-full` does: its certificate must
    /// chain to one of the certificates in this PEM file (one CA, or a
    /// bundle such as `/etc/ssl/certs/ca-certificates.crt`; only these are
    /// trusted, not the system's store), and must name the host custdb
    /// connected to (a DNS name or an IP address in its subject alternative
    /// names). A server without TLS, or with a certificate that fails
    /// either check, is refused with [`ErrorKind::Io`]. Without this option
    /// connections are not encrypted (the connection string's `sslmode`
    /// cannot ask for verification, so custdb never downgrades silently to
    /// an unverified TLS). TLS needs a TCP host; a Unix socket is local and
    /// has none. On SQLite the option is refused with
    /// [`ErrorKind::Unsupported`]. docs/SECURITY.md, "PostgreSQL".
    pub fn tls_root_certificates(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.tls_root_certificates = Some(pem_file.into());
        self
    }

    /// PostgreSQL only: sends reads to a hot standby (a streaming replica
    /// of the primary the store is opened on), at `connection`, a
    /// connection string or URL as for [`Store::open_postgres`]. Then:
    ///
    /// - [`Store::read`] and the one-shot reads (`store.customers().get(..)`)
    ///   run on the standby, and **may lag** the primary by the replication
    ///   delay: a write that has just returned may not be there yet;
    /// - [`Store::read_fresh`] reads on the primary, for a read that must
    ///   see every write that returned before it (read-after-write);
    /// - everything inside a unit of work ([`Store::write`], and the reads
    ///   a one-shot write makes) runs on the primary.
    ///
    /// The standby gets a pool of its own, of the same size; custdb checks
    /// at open that it holds custdb's schema at this version (it migrates
    /// only the primary). A standby that cannot be reached fails the reads
    /// sent to it (`Io` at open, `Busy` after the busy timeout later):
    /// custdb does not switch reads to the primary by itself, so a lost
    /// standby shows instead of moving its load silently. The TLS option
    /// applies to both servers. On SQLite the option is refused with
    /// [`ErrorKind::Unsupported`]. docs/SCALING.md, "A standby for reads".
    pub fn read_replica(mut self, connection: impl Into<String>) -> Self {
        self.read_replica = Some(ConnectionString(connection.into()));
        self
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn read_replica_connection(&self) -> Option<&str> {
        self.read_replica.as_ref().map(|c| c.0.as_str())
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn tls_root_certificates_file(&self) -> Option<&Path> {
        self.tls_root_certificates.as_deref()
    }

    /// [`validate`](Options::validate) for a file or memory store, which
    /// has no use for connection-only options.
    fn validate_for_sqlite(&self) -> Result<()> {
        if self.read_replica.is_some() {
            return Err(Error::new(ErrorKind::Unsupported {
                operation: "a read replica".to_owned(),
                engine: "SQLite",
                instead: "reads already run on their own connections beside the writer \
                          (Options::reader_pool_size); for a standby, move to PostgreSQL \
                          (docs/SCALING.md)"
                    .to_owned(),
            }));
        }
        if self.tls_root_certificates.is_some() {
            return Err(Error::new(ErrorKind::Unsupported {
                operation: "TLS".to_owned(),
                engine: "SQLite",
                instead: "nothing: an SQLite file is opened directly, with no connection to \
                          encrypt (encryption at rest is Options::encryption_key)"
                    .to_owned(),
            }));
        }
        self.validate()
    }

    pub(crate) fn key(&self) -> Option<&EncryptionKey> {
        self.encryption_key.as_ref()
    }

    fn validate(&self) -> Result<()> {
        if let Some(key) = &self.encryption_key {
            if !cfg!(feature = "sqlcipher") {
                return Err(Error::new(ErrorKind::EncryptionUnavailable));
            }
            if key.0.is_empty() || key.0.len() > MAX_ENCRYPTION_KEY_LEN {
                return Err(Error::invalid(
                    "options.encryption_key",
                    format!("must be 1 to {MAX_ENCRYPTION_KEY_LEN} bytes"),
                ));
            }
        }
        if self.reader_pool_size > MAX_READER_POOL_SIZE {
            return Err(Error::invalid(
                "options.reader_pool_size",
                format!(
                    "is {}, at most {MAX_READER_POOL_SIZE}",
                    self.reader_pool_size
                ),
            ));
        }
        if self.busy_timeout > Duration::from_secs(3600) {
            return Err(Error::invalid(
                "options.busy_timeout",
                "is longer than one hour",
            ));
        }
        if let Some(bytes) = self.max_size_bytes {
            if bytes < MIN_MAX_SIZE_BYTES {
                return Err(Error::invalid(
                    "options.max_size_bytes",
                    format!("is {bytes}, at least {MIN_MAX_SIZE_BYTES} (the empty schema's size)"),
                ));
            }
        }
        if self.read_only && self.reader_pool_size == 0 {
            return Err(Error::invalid(
                "options.reader_pool_size",
                "must be at least 1 for a read-only store",
            ));
        }
        Ok(())
    }
}

/// The settings a store's connections run with, as SQLite reports them.
/// See [`Store::connection_settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionSettings {
    /// The linked SQLite's version, e.g. `3.54.1`.
    pub sqlite_version: String,
    /// `PRAGMA journal_mode`: `wal` for a file, `memory` in memory.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 2 is FULL, 1 is NORMAL.
    pub synchronous: i64,
    /// `PRAGMA foreign_keys`.
    pub foreign_keys: bool,
    /// `PRAGMA trusted_schema`.
    pub trusted_schema: bool,
    /// `SQLITE_DBCONFIG_DEFENSIVE`.
    pub defensive: bool,
    /// `PRAGMA busy_timeout`, in milliseconds.
    pub busy_timeout_ms: i64,
    /// `PRAGMA mmap_size`: 0, memory mapping is off.
    pub mmap_size: i64,
    /// `PRAGMA temp_store`: 2, temporary tables and savepoint journals in
    /// memory.
    pub temp_store: i64,
    /// The schema version (`PRAGMA user_version`).
    pub schema_version: i64,
}

/// An embedded customer database: one SQLite file (or memory) behind a
/// thread-safe handle.
///
/// `Store` is `Send + Sync` and cheap to clone (clones share the same
/// connections). It holds one writer connection behind a lock and a pool of
/// read-only connections; SQLite's WAL mode lets readers run beside the
/// writer and see the last committed state.
///
/// # Example
///
/// ```
/// use custdb::{NewCustomer, Store};
///
/// let store = Store::open_in_memory()?;
/// let ada = store.customers().create(
///     NewCustomer::new("Ada Lovelace").email("Ada@Example.com"),
/// )?;
/// let found = store.customers().get_by_email("ada@example.com")?;
/// assert_eq!(found.id, ada.id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: Option<PathBuf>,
    options: Options,
    // Fields drop in declaration order: the readers close before the writer,
    // so the writer is the last connection and checkpoints the WAL and
    // removes it (a read-only connection closing last cannot).
    readers: ReaderPool,
    writer: Option<WriterLock>,
    /// Set on a PostgreSQL store, which has no writer or readers above.
    #[cfg(feature = "postgres")]
    postgres: Option<postgres::Postgres>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database file at `path`, creating it if it does not exist
    /// and migrating it to the current schema, with default [`Options`].
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::CannotOpen`]: the path cannot be opened or created;
    /// - [`ErrorKind::NotADatabase`]: the file is not SQLite;
    /// - [`ErrorKind::NotCustdb`]: the file is another application's database;
    /// - [`ErrorKind::SchemaTooNew`]: the file was written by a newer custdb
    ///   (the file is left untouched);
    /// - [`ErrorKind::MigrationMismatch`]: the file's recorded migrations are
    ///   not the shipped ones;
    /// - [`ErrorKind::SqliteTooOld`]: the linked SQLite is older than 3.51.3.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{NewCustomer, Store};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path().join("shop.db"))?; // created on first open
    /// store.customers().create(NewCustomer::new("Ann"))?;
    /// drop(store);
    /// let again = Store::open(dir.path().join("shop.db"))?; // the same data
    /// assert!(again.customers().search("ann", 10)?.len() == 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, Options::default())
    }

    /// Opens a fresh database in memory, for tests and scratch work. It has
    /// no reader pool: reads share the writer connection.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::SqliteTooOld`], or a database error.
    pub fn open_in_memory() -> Result<Store> {
        Store::open_in_memory_with(Options::default())
    }

    /// Like [`open_in_memory`](Store::open_in_memory) with options (the
    /// reader pool size and read-only flag are ignored).
    ///
    /// # Errors
    ///
    /// As [`open_in_memory`](Store::open_in_memory), and
    /// [`ErrorKind::Invalid`] for bad options.
    pub fn open_in_memory_with(options: Options) -> Result<Store> {
        let options = options.read_only(false).reader_pool_size(0);
        options.validate_for_sqlite()?;
        check_sqlite_version(rusqlite::version_number())?;
        let path = Path::new(":memory:");
        let mut conn = Connection::open_in_memory().map_err(|e| cannot_open(path, e))?;
        configure(&conn, &options)?;
        schema::migrate(&mut conn, path)?;
        let commit_open = commit_gate(&mut conn)?;
        let group_commit = options.group_commit;
        Ok(Store {
            inner: Arc::new(Inner {
                path: None,
                options,
                writer: Some(WriterLock::new(conn, commit_open, group_commit)),
                readers: ReaderPool::new(Vec::new()),
                #[cfg(feature = "postgres")]
                postgres: None,
            }),
        })
    }

    /// Opens the database file at `path` with `options`. See
    /// [`open`](Store::open) for what happens to the file.
    ///
    /// # Errors
    ///
    /// As [`open`](Store::open); also [`ErrorKind::Invalid`] for bad options,
    /// and, read-only, [`ErrorKind::CannotOpen`] for a missing file and
    /// [`ErrorKind::SchemaTooOld`] for a file that needs migrating.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        let path = path.as_ref();
        check_path(path)?;
        options.validate_for_sqlite()?;
        check_sqlite_version(rusqlite::version_number())?;
        let writer = if options.read_only {
            let probe = open_connection(path, &options, true)?;
            match inspect(&probe, path, &options)? {
                FileState::Custdb(v) if v == schema::LATEST_VERSION => {}
                FileState::Custdb(found) => {
                    return Err(Error::new(ErrorKind::SchemaTooOld {
                        found,
                        required: schema::LATEST_VERSION,
                    }))
                }
                FileState::Empty => {
                    return Err(Error::new(ErrorKind::SchemaTooOld {
                        found: 0,
                        required: schema::LATEST_VERSION,
                    }))
                }
            }
            None
        } else {
            let mut conn = open_connection(path, &options, false)?;
            // Look before writing anything: a file that is not ours, or is
            // newer than this library, must be left byte-for-byte untouched.
            inspect(&conn, path, &options)?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .db()?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::new(ErrorKind::CannotOpen {
                    path: path.to_path_buf(),
                    reason: format!("the file system does not support WAL mode ({mode})"),
                }));
            }
            schema::migrate(&mut conn, path)?;
            let commit_open = commit_gate(&mut conn)?;
            Some(WriterLock::new(conn, commit_open, options.group_commit))
        };
        let readers = (0..options.reader_pool_size)
            .map(|_| open_connection(path, &options, true))
            .collect::<Result<Vec<_>>>()?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: Some(path.to_path_buf()),
                options,
                writer,
                readers: ReaderPool::new(readers),
                #[cfg(feature = "postgres")]
                postgres: None,
            }),
        })
    }

    /// The file's path, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Runs `f` as one write transaction, recorded under the store's actor.
    ///
    /// The transaction starts with `BEGIN IMMEDIATE`, so it holds the write
    /// lock from its first statement and never fails half-way with
    /// `SQLITE_BUSY`. It commits when `f` returns `Ok` and rolls back when
    /// `f` returns `Err` (or panics): nothing is half-written. One-shot
    /// calls from other threads that arrive while it runs may share its
    /// commit ([`Options::group_commit`]); `write` then returns once that
    /// commit is durable. It never runs inside another unit's transaction:
    /// a batch left open when it begins is committed first.
    ///
    /// The closure returns `Result<T, E>` for any error type `E` that a
    /// custdb [`Error`] converts into (`E: From<custdb::Error>`): custdb's
    /// own, or the application's, so that a closure can abort with its own
    /// reason. When the closure's error type is fixed by nothing but `?`
    /// (a block ending in `Ok(value)`), name it: `Ok::<_, custdb::Error>(value)`.
    /// Inside a unit of work, use the `tx` it was given: calling the
    /// `Store` again from the same thread fails at once with
    /// [`ErrorKind::Reentrant`].
    ///
    /// # Errors
    ///
    /// The error `f` returns; [`ErrorKind::ReadOnly`] on a read-only store;
    /// [`ErrorKind::Busy`] when another process or thread holds the lock
    /// past the busy timeout; [`ErrorKind::Reentrant`] inside a unit of work
    /// of the same store on the same thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use custdb::{NewCustomer, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// let (a, b) = store.write(|tx| {
    ///     let a = tx.customers().create(NewCustomer::new("Ann"))?;
    ///     let b = tx.customers().create(NewCustomer::new("Bob"))?;
    ///     Ok::<_, custdb::Error>((a, b))
    /// })?;
    /// assert_ne!(a.id, b.id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// With the application's own error type, which aborts the unit of work
    /// (nothing is written) and comes back as it was:
    ///
    /// ```
    /// use custdb::{NewCustomer, Store};
    ///
    /// #[derive(Debug)]
    /// enum AppError {
    ///     Db(custdb::Error),
    ///     TooManyCustomers,
    /// }
    /// impl From<custdb::Error> for AppError {
    ///     fn from(e: custdb::Error) -> Self {
    ///         AppError::Db(e)
    ///     }
    /// }
    ///
    /// let store = Store::open_in_memory()?;
    /// let result = store.write(|tx| {
    ///     tx.customers().create(NewCustomer::new("Ann"))?;
    ///     Err::<(), _>(AppError::TooManyCustomers)
    /// });
    /// assert!(matches!(result, Err(AppError::TooManyCustomers)));
    /// assert_eq!(store.read(|r| r.customers().list(&Default::default(), None, 10))?.items.len(), 0);
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E>,
    {
        self.write_as(&self.inner.options.actor, f)
    }

    /// [`write`](Store::write) for the one-shot facades
    /// (`store.customers().create(..)`), whose unit of work is one
    /// operation: its error rolls the whole unit back, so the operation
    /// needs no savepoint of its own to keep the rest of the unit usable
    /// (on PostgreSQL that saves two round trips per call). Only for
    /// operations that let every error of the operations they run go out
    /// (see [`WriteTx::atomic_whole`]).
    ///
    /// A one-shot call is also a closure custdb may run again: when
    /// PostgreSQL aborts it for a collision with another unit of work
    /// ([`ErrorKind::Contention`]: a deadlock or serialization failure;
    /// nothing was written), it runs again, up to [`ONE_SHOT_ATTEMPTS`]
    /// times in all.
    pub(crate) fn write_one<T>(&self, f: impl Fn(&WriteTx<'_>) -> Result<T>) -> Result<T> {
        let mut attempt = 1;
        loop {
            let actor = &self.inner.options.actor;
            match self.write_unit(actor, true, |tx| tx.as_whole_unit(|| f(tx))) {
                Err(e)
                    if matches!(e.kind(), ErrorKind::Contention { .. })
                        && attempt < ONE_SHOT_ATTEMPTS =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// [`write`](Store::write) for a unit of work that is one custdb call,
    /// for custdb's own bindings (the C API's calls outside a unit of
    /// work): like the one-shot calls, it may run inside another unit's
    /// transaction and share its commit ([`Options::group_commit`]). Its
    /// closure must not wait for another thread; an application's own
    /// units of work use `write`.
    ///
    /// # Errors
    ///
    /// As [`write`](Store::write).
    #[doc(hidden)]
    pub fn write_call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E>,
    {
        self.write_unit(&self.inner.options.actor, true, f)
    }

    /// Like [`write`](Store::write), recorded under `actor` instead of the
    /// store's default actor.
    ///
    /// # Errors
    ///
    /// As [`write`](Store::write).
    pub fn write_as<T, E, F>(&self, actor: &Actor, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E>,
    {
        self.write_unit(actor, false, f)
    }

    /// A unit of work on the writer. A `joinable` unit may run inside a
    /// transaction that group commit left open (docs/RELIABILITY.md, "Group
    /// commit"): only the one-shot calls, whose closures are custdb's own
    /// and never wait for another thread, so that the units whose commit
    /// waits for them wait a bounded time. Any unit may leave its
    /// transaction open for the units waiting behind it.
    fn write_unit<T, E, F>(&self, actor: &Actor, joinable: bool, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E>,
    {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            return self.write_postgres(pg, actor, f);
        }
        let mut guard = if joinable {
            self.writer()?.lock_joining(
                self.identity(),
                "write",
                self.inner.options.busy_timeout,
            )?
        } else {
            self.lock_writer("write")?
        };
        guard.begin_unit()?;
        let (value, lost, unaudited) = {
            let conn: &Connection = &guard;
            let changes_before = conn.total_changes();
            let wtx = WriteTx {
                session: crate::db::WriteSession::Sqlite(conn),
                actor,
                now: crate::time::now(),
                audit_rows: Cell::new(0),
                undone_changes: Cell::new(0),
                covered: Cell::new(false),
                pending_audit: std::cell::RefCell::default(),
            };
            let value = f(&wtx);
            // SQLite rolls a whole transaction back by itself after some I/O
            // and disk-full errors. If that happened the unit of work is gone.
            let lost = !wtx.db().in_transaction();
            // The invariant "no mutation without an audit row" is checked on
            // every commit, not only trusted to each repository method.
            let changed = wtx.db().total_changes() - wtx.undone_changes.get() != changes_before;
            let unaudited = changed && wtx.audit_rows.get() == 0;
            (value, lost, unaudited)
        };
        if lost {
            let _ = guard.end_unit(UnitEnd::Undo);
            // Report the error (or, if the closure swallowed it, that the
            // work was lost) instead of committing what came after.
            return Err(value.err().unwrap_or_else(|| {
                E::from(Error::new(ErrorKind::Database {
                    message: "SQLite rolled the unit of work back after an I/O or disk-full \
                              error inside it; nothing was written"
                        .into(),
                }))
            }));
        }
        match value {
            Err(e) => {
                // The unit's own error is what its caller must see; the
                // batch's commit (for earlier units) is theirs.
                let _ = guard.end_unit(UnitEnd::Undo);
                Err(e)
            }
            Ok(_) if unaudited => {
                let _ = guard.end_unit(UnitEnd::Undo);
                Err(E::from(Error::new(ErrorKind::Internal {
                    reason: "a unit of work changed rows without writing an audit entry".into(),
                })))
            }
            Ok(value) => {
                guard.end_unit(UnitEnd::Keep)?;
                Ok(value)
            }
        }
    }

    /// How many units of work this store's writer committed, and in how
    /// many commits: with [group commit](Options::group_commit) and
    /// concurrent writers, fewer commits than units. Zero on PostgreSQL,
    /// where the server groups commits itself.
    pub fn write_stats(&self) -> WriteStats {
        self.inner
            .writer
            .as_ref()
            .map(WriterLock::stats)
            .unwrap_or_default()
    }

    /// Copies the WAL into the database file and truncates it (waiting up
    /// to the busy timeout for readers). True when every frame was copied.
    /// custdb checkpoints on its own; call this before measuring or copying
    /// the file's size, or after a large import.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ReadOnly`] for a read-only store; a database error.
    pub fn checkpoint(&self) -> Result<bool> {
        self.sqlite_only("checkpoint")?;
        self.scrub_after_erasure()
    }

    /// Copies the WAL into the database file and truncates it to zero
    /// bytes. True when every frame was copied.
    pub(crate) fn scrub_after_erasure(&self) -> Result<bool> {
        // The server's files are the server's: old row versions stay until
        // VACUUM (docs/SCALING.md, "Erasure on PostgreSQL").
        #[cfg(feature = "postgres")]
        if self.postgres().is_some() {
            return Ok(false);
        }
        let conn = self.lock_writer("checkpoint")?;
        let (busy, log, copied): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .db()?;
        Ok(busy == 0 && log == copied)
    }

    /// Runs `f` in a read transaction: every query inside it sees the same
    /// committed snapshot, unaffected by concurrent writers.
    ///
    /// # Errors
    ///
    /// The error `f` returns, or a database error.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{CustomerFilter, NewCustomer, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// store.customers().create(NewCustomer::new("Ann").tag("vip"))?;
    /// let vips = store.read(|r| r.customers().list(&CustomerFilter::default().tag("vip"), None, 50))?;
    /// assert_eq!(vips.items.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&ReadTx<'_>) -> Result<T, E>,
    {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            return self.read_postgres(pg.read_pool(), crate::db::postgres::SessionKind::Read, f);
        }
        self.read_here(f)
    }

    /// [`read`](Store::read) that sees every write that returned before it
    /// began, whatever the store's set-up: on PostgreSQL with a
    /// [`read_replica`](Options::read_replica), it reads on the primary
    /// instead of the standby (which may lag); everywhere else it is
    /// `read`. For the read that follows a write and must show it (a page
    /// shown after a form was saved).
    ///
    /// # Errors
    ///
    /// As [`read`](Store::read).
    pub fn read_fresh<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&ReadTx<'_>) -> Result<T, E>,
    {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            return self.read_postgres(pg.pool(), crate::db::postgres::SessionKind::Read, f);
        }
        self.read_here(f)
    }

    /// An SQLite read transaction on a pooled reader.
    fn read_here<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<Error>,
        F: FnOnce(&ReadTx<'_>) -> Result<T, E>,
    {
        let mut outcome: Option<Result<T, E>> = None;
        self.with_reader(|conn| {
            let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred).db()?;
            let value = f(&ReadTx {
                conn: crate::db::Conn::sqlite(&tx),
            });
            if value.is_ok() {
                tx.commit().db()?;
            }
            outcome = Some(value);
            Ok(())
        })?;
        outcome.unwrap_or_else(|| {
            Err(E::from(Error::new(ErrorKind::Internal {
                reason: "a read ended without running its closure".into(),
            })))
        })
    }

    /// Runs a single-statement read without an explicit transaction: one
    /// statement is its own consistent snapshot, and the one-shot calls skip
    /// the cost of `BEGIN`/`COMMIT`.
    pub(crate) fn read_once<T>(&self, f: impl FnOnce(&ReadTx<'_>) -> Result<T>) -> Result<T> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            return self.read_postgres(
                pg.read_pool(),
                crate::db::postgres::SessionKind::Autocommit,
                f,
            );
        }
        self.with_reader(|conn| {
            f(&ReadTx {
                conn: crate::db::Conn::sqlite(conn),
            })
        })
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.sqlite_only("this operation")?;
        if self.inner.readers.size == 0 {
            let conn = self.lock_writer("read")?;
            f(&conn)
        } else {
            let conn = self
                .inner
                .readers
                .get(self.identity(), self.inner.options.busy_timeout)?;
            f(&conn)
        }
    }

    /// Ok on SQLite; on PostgreSQL a typed [`ErrorKind::Unsupported`]
    /// naming `operation`, for what exists only on a file.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub(crate) fn sqlite_only(&self, operation: &str) -> Result<()> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            let instead = match operation {
                "backup" | "vacuum_into" => {
                    "take backups with pg_dump or pgBackRest (point-in-time recovery from WAL archives)"
                }
                "restore" => "restore with pg_restore or pgBackRest",
                "checkpoint" => "the server checkpoints on its own (CHECKPOINT as a superuser)",
                _ => "it exists only on SQLite files; see docs/SCALING.md",
            };
            return Err(Error::new(ErrorKind::Unsupported {
                operation: format!("{operation} on database {}", pg.database),
                engine: "PostgreSQL",
                instead: instead.to_owned(),
            }));
        }
        Ok(())
    }

    /// Identifies this store (and its clones) in the re-entrancy records of
    /// [`lock`].
    fn identity(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Takes the writer connection, waiting up to the busy timeout.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ReadOnly`] without a writer; [`ErrorKind::Reentrant`]
    /// when this thread already holds it; [`ErrorKind::Busy`] past the busy
    /// timeout.
    fn lock_writer(&self, operation: &'static str) -> Result<lock::WriterGuard<'_>> {
        self.sqlite_only(operation)?;
        self.writer()?
            .lock(self.identity(), operation, self.inner.options.busy_timeout)
    }

    /// The change feed's waiting read (`store.changes().wait(..)`): `poll`
    /// until it finds something or `deadline` comes, sleeping between
    /// polls until a commit of this store (SQLite, which also looks for
    /// other processes' commits every [`SQLITE_POLL_INTERVAL_MS`]) or a
    /// notification (PostgreSQL) wakes it.
    ///
    /// [`SQLITE_POLL_INTERVAL_MS`]: crate::changes::SQLITE_POLL_INTERVAL_MS
    pub(crate) fn wait_for_changes<T>(
        &self,
        deadline: std::time::Instant,
        mut poll: impl FnMut(&ReadTx<'_>) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            return pg.wait_for_changes(deadline, poll);
        }
        let interval = std::time::Duration::from_millis(crate::changes::SQLITE_POLL_INTERVAL_MS);
        loop {
            let seen = self.inner.writer.as_ref().map(|w| w.commits.count());
            let found = self.read(|r| poll(r))?;
            let now = std::time::Instant::now();
            if !found.is_empty() || now >= deadline {
                return Ok(found);
            }
            let until = deadline.min(now + interval);
            match (seen, &self.inner.writer) {
                (Some(seen), Some(writer)) => writer.commits.wait_past(seen, until),
                _ => std::thread::sleep(until - now),
            }
        }
    }

    /// The writer's lock.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ReadOnly`] without a writer.
    fn writer(&self) -> Result<&WriterLock> {
        self.inner
            .writer
            .as_ref()
            .ok_or_else(|| Error::new(ErrorKind::ReadOnly))
    }

    /// Runs `f` on a reader connection (for the backup module).
    pub(crate) fn with_read_connection<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        self.with_reader(f)
    }

    /// Runs `f` on the connection a consistency check reads: the writer in
    /// a read transaction when there is one (FTS5 takes its integrity check
    /// as an INSERT, which a read-only connection refuses; the transaction
    /// holds the lock but writes nothing), else a reader.
    pub(crate) fn with_check_connection<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        match &self.inner.writer {
            Some(_) => {
                let conn = self.lock_writer("check")?;
                let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Deferred).db()?;
                let value = f(&tx)?;
                // Nothing to keep: the FTS5 check's INSERT changes nothing,
                // and only write_as may commit on the writer.
                tx.rollback().db()?;
                Ok(value)
            }
            None => self.read(|r| f(r.conn()?)),
        }
    }

    /// Recomputes the audit trail's hash chain
    /// ([`AuditReader::verify`]) on a consistent snapshot. On PostgreSQL,
    /// entries join the chain a moment after their units of work commit;
    /// this first chains the committed entries (unless the store is
    /// read-only; waiting at most a few hundred milliseconds for the
    /// chain's lock), so entries stay
    /// [`pending`](crate::AuditVerification::pending) only while their
    /// units are committing, while a unit of work that read its own trail
    /// holds the lock, or when the chain step fails (docs/SCALING.md, "The
    /// audit chain").
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn verify_audit(&self) -> Result<crate::AuditVerification> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            pg.chain_audit_now();
        }
        self.read(|r| r.audit().verify())
    }

    /// The settings the store's connections actually run with, as SQLite
    /// reports them (for diagnostics and tests of the set-up).
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn connection_settings(&self) -> Result<ConnectionSettings> {
        let read = |conn: &Connection| -> Result<ConnectionSettings> {
            // An in-memory database answers some pragmas with no row.
            let pragma_i64 = |name: &str| -> Result<i64> {
                Ok(conn
                    .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                    .optional()
                    .db()?
                    .unwrap_or(0))
            };
            Ok(ConnectionSettings {
                sqlite_version: rusqlite::version().to_owned(),
                journal_mode: conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .db()?,
                synchronous: pragma_i64("synchronous")?,
                foreign_keys: pragma_i64("foreign_keys")? == 1,
                trusted_schema: pragma_i64("trusted_schema")? == 1,
                defensive: conn.db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE).db()?,
                busy_timeout_ms: pragma_i64("busy_timeout")?,
                mmap_size: pragma_i64("mmap_size")?,
                temp_store: pragma_i64("temp_store")?,
                schema_version: schema::user_version(conn)?,
            })
        };
        match &self.inner.writer {
            Some(_) => read(&*self.lock_writer("read")?),
            None => self.with_reader(read),
        }
    }
}

/// Refuses a path SQLite would not take as a file: the empty path (SQLite
/// would open a private temporary database, gone at close), `:memory:`,
/// and URIs (`file:shop.db?mode=ro`), which custdb does not interpret.
fn check_path(path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    let reason = if text.is_empty() {
        "is empty: name a database file (Store::open_in_memory opens a private database)"
    } else if text == ":memory:" {
        "is \":memory:\": use Store::open_in_memory for a private in-memory database"
    } else if text.starts_with("file:") {
        "is an SQLite URI (file:...), which custdb does not support: pass a file system path \
         (./file:x.db names a file whose name starts with file:)"
    } else {
        return Ok(());
    };
    Err(Error::invalid("path", reason))
}

/// Refuses an SQLite older than [`MIN_SQLITE_VERSION_NUMBER`].
pub(crate) fn check_sqlite_version(version_number: i32) -> Result<()> {
    if version_number < MIN_SQLITE_VERSION_NUMBER {
        let found = format!(
            "{}.{}.{}",
            version_number / 1_000_000,
            version_number / 1_000 % 1_000,
            version_number % 1_000
        );
        return Err(Error::new(ErrorKind::SqliteTooOld {
            found,
            required: MIN_SQLITE_VERSION,
        }));
    }
    Ok(())
}

fn is_not_a_database(err: &Error) -> bool {
    use std::error::Error as _;
    err.source()
        .and_then(|s| s.downcast_ref::<rusqlite::Error>())
        .and_then(rusqlite::Error::sqlite_error_code)
        == Some(rusqlite::ErrorCode::NotADatabase)
}

/// `schema::inspect`, with "not a database" told apart from a wrong key.
fn inspect(conn: &Connection, path: &Path, options: &Options) -> Result<FileState> {
    schema::inspect(conn, path).map_err(|e| match e.kind() {
        ErrorKind::NotADatabase { .. } => not_a_database(path, options.key()),
        _ if is_not_a_database(&e) => not_a_database(path, options.key()),
        _ => e,
    })
}

/// Hands the key to SQLCipher: the first statement on a connection, before
/// anything reads the file.
fn apply_key(conn: &Connection, key: Option<&EncryptionKey>) -> Result<()> {
    if let Some(key) = key {
        if !cfg!(feature = "sqlcipher") {
            return Err(Error::new(ErrorKind::EncryptionUnavailable));
        }
        conn.pragma_update(None, "key", &key.0).db()?;
    }
    Ok(())
}

/// Whether a file that SQLite cannot read looks like an encrypted database
/// (whole pages of what looks like noise) rather than something else: then
/// "not a database" means the key is wrong or missing.
fn looks_encrypted(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let mut head = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok();
    read && meta.len() >= 1024 && meta.len() % 512 == 0 && &head != b"SQLite format 3\0"
}

/// The error for a file SQLite calls "not a database".
pub(crate) fn not_a_database(path: &Path, key: Option<&EncryptionKey>) -> Error {
    if cfg!(feature = "sqlcipher") && (key.is_some() || looks_encrypted(path)) {
        Error::new(ErrorKind::WrongKey {
            path: path.to_path_buf(),
        })
    } else {
        Error::new(ErrorKind::NotADatabase {
            path: path.to_path_buf(),
        })
    }
}

/// Opens a plain connection for the backup module: read-only on an
/// existing file, or read-write creating a new one, keyed like the store.
/// Only store.rs opens connections; this is its door for backups and
/// restores.
pub(crate) fn open_plain(
    path: &Path,
    create: bool,
    key: Option<&EncryptionKey>,
) -> Result<Connection> {
    let flags = if create {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| cannot_open(path, e))?;
    apply_key(&conn, key)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .db()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
        .db()?;
    Ok(conn)
}

fn cannot_open(path: &Path, err: rusqlite::Error) -> Error {
    let reason = match &err {
        rusqlite::Error::SqliteFailure(e, Some(msg)) => format!("{msg} ({:?})", e.code),
        other => other.to_string(),
    };
    Error::with_source(
        ErrorKind::CannotOpen {
            path: path.to_path_buf(),
            reason,
        },
        err,
    )
}

/// Opens one file connection and configures it. The path is never read as
/// a URI, so `file:` names and query parameters in it have no effect.
fn open_connection(path: &Path, options: &Options, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let mut conn = match &options.vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs.as_str()),
        None => Connection::open_with_flags(path, flags),
    }
    .map_err(|e| cannot_open(path, e))?;
    attach_log(&mut conn, options)?;
    // Some settings read the file header; that is where a file that is not
    // a database first shows itself.
    configure(&conn, options).map_err(|e| match e.kind() {
        _ if is_not_a_database(&e) => not_a_database(path, options.key()),
        _ => e,
    })?;
    Ok(conn)
}

/// Applies DESIGN.md principle 8 to a connection. None of these settings
/// writes to the file, so they run before the file is inspected.
fn configure(conn: &Connection, options: &Options) -> Result<()> {
    apply_key(conn, options.key())?;
    conn.busy_timeout(options.busy_timeout).db()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .db()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
        .db()?;
    conn.pragma_update(None, "foreign_keys", true).db()?;
    conn.pragma_update(None, "trusted_schema", false).db()?;
    conn.pragma_update(None, "mmap_size", 0).db()?;
    // Savepoint sub-journals stay in memory: an order of 15 lines changes
    // more pages than SQLite's 64 KiB spill threshold, and a temporary file
    // created and deleted per order cost a third of placement time.
    conn.pragma_update(None, "temp_store", "MEMORY").db()?;
    // Deleted and overwritten content is zeroed in the file, so that what
    // erasure removes cannot be read back from free space (docs/PRIVACY.md).
    conn.pragma_update(None, "secure_delete", true).db()?;
    let synchronous = match options.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous).db()?;
    if let Some(bytes) = options.max_size_bytes {
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).db()?;
        let page_size = u64::try_from(page_size).unwrap_or(4096);
        let pages = (bytes / page_size.max(1)).max(1);
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .db()?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(())
}

/// Makes `Store::write_as` the only way anything commits on the writer:
/// SQLite's commit hook turns every other commit into a rollback. After
/// SQLite rolls a unit of work back by itself (some I/O and disk-full
/// errors do), statements that a caller runs on regardless would otherwise
/// each commit on their own, half a unit of work; with the gate closed they
/// fail instead. Returns the flag `write_as` opens around its commit.
fn commit_gate(conn: &mut Connection) -> Result<Arc<AtomicBool>> {
    let open = Arc::new(AtomicBool::new(false));
    let gate = open.clone();
    // Returning true from the hook turns the commit into a rollback.
    conn.commit_hook(Some(move || !gate.load(Ordering::SeqCst)))
        .db()?;
    Ok(open)
}

/// Attaches the statement log of [`Options::statement_log`].
fn attach_log(conn: &mut Connection, options: &Options) -> Result<()> {
    if let Some(log) = options.statement_log.clone() {
        conn.trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |event: rusqlite::trace::TraceEvent<'_>| {
                if let rusqlite::trace::TraceEvent::Stmt(stmt, _) = event {
                    if let Ok(mut set) = log.lock() {
                        set.insert(stmt.sql().into_owned());
                    }
                }
            }),
        )
        .db()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Store>();
    }

    #[test]
    fn old_sqlite_is_refused_with_both_versions() {
        let err = check_sqlite_version(3_051_002).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::SqliteTooOld {
                found: "3.51.2".into(),
                required: "3.51.3"
            }
        );
        assert!(err.to_string().contains("3.51.2"));
        check_sqlite_version(3_051_003).unwrap();
        check_sqlite_version(rusqlite::version_number()).unwrap();
    }

    #[test]
    fn a_mutation_without_audit_is_refused_and_rolled_back() {
        let store = Store::open_in_memory().unwrap();
        let err: crate::Error = store
            .write(|tx| {
                tx.conn()?
                    .execute(
                        "INSERT INTO customers (id, display_name, created_at, updated_at) \
                     VALUES ('00000000-0000-7000-8000-000000000000', 'x', 'a', 'a')",
                        [],
                    )
                    .db()?;
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Internal { .. }), "{err}");
        let count: i64 = store
            .read(|r| {
                r.db().query_row(
                    crate::db::sql!("SELECT count(*) FROM customers"),
                    &[],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(count, 0);
    }
}
