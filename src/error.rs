//! The error type of custdb: one opaque [`Error`] with a [`kind()`](Error::kind)
//! that says what went wrong, and predicates for the common questions.
//!
//! Every fallible call in custdb returns [`Result`]. An error never leaves a
//! write half-done: the unit of work that produced it has been rolled back.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A `Result` whose error is a custdb [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong. Match on it through [`Error::kind`]. docs/ERRORS.md
/// says for every kind when it happens and what the caller should do.
///
/// The enum is `#[non_exhaustive]`: later versions add kinds, so a `match`
/// needs a catch-all arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An input value was refused. `field` names the input field (for nested
    /// input a dotted path such as `address.country`), `reason` says why.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field that was refused.
        field: String,
        /// Why it was refused, in words.
        reason: String,
    },
    /// No record of this kind has this id (or key).
    #[error("{entity} {key} not found")]
    NotFound {
        /// The kind of record, e.g. `customer`.
        entity: &'static str,
        /// The id or key that was looked up.
        key: String,
    },
    /// Optimistic concurrency: the record changed since the caller read it.
    #[error("{entity} {id} was changed by someone else: expected version {expected_version}, found version {actual_version}; read it again and retry")]
    Conflict {
        /// The kind of record, e.g. `customer`.
        entity: &'static str,
        /// The record's id.
        id: String,
        /// The version the caller said it had read.
        expected_version: i64,
        /// The version the record has now.
        actual_version: i64,
    },
    /// A value that must be unique is already used by another record.
    #[error("{field} is already used by another {entity}")]
    AlreadyExists {
        /// The kind of record, e.g. `customer`.
        entity: &'static str,
        /// The unique field, e.g. `email`. The value itself is not repeated
        /// because it may be personal data.
        field: &'static str,
    },
    /// The operation is not allowed in the record's current state
    /// (for example restoring a customer that is not archived is fine, but
    /// changing an archived customer is not).
    #[error("{entity} {id}: {reason}")]
    InvalidState {
        /// The kind of record.
        entity: &'static str,
        /// The record's id.
        id: String,
        /// Why the operation is refused.
        reason: String,
    },
    /// Not enough stock to reserve: placing an order, reserving or moving
    /// stock would take a variant's available quantity below zero where the
    /// variant does not allow backorders.
    #[error("not enough stock of {sku}{}: asked for {requested}, {available} available", .warehouse.as_ref().map(|w| format!(" in warehouse {w}")).unwrap_or_default())]
    Shortfall {
        /// The variant's SKU.
        sku: String,
        /// The warehouse code, when one warehouse was asked for; `None`
        /// when every warehouse was considered.
        warehouse: Option<String>,
        /// The quantity asked for.
        requested: i64,
        /// The quantity available (in that warehouse, or in all of them).
        available: i64,
    },
    /// A state-machine transition that the record's current state does not
    /// allow, such as shipping a cancelled order.
    #[error("{entity} {id} is {from}: cannot {action}")]
    InvalidTransition {
        /// The kind of record, e.g. `order`.
        entity: &'static str,
        /// The record's id or number.
        id: String,
        /// The current state.
        from: String,
        /// What was attempted, e.g. `ship`.
        action: &'static str,
    },
    /// An idempotency key was used again with a different request.
    #[error("idempotency key {key:?} was already used for a different request (order {order})")]
    IdempotencyMismatch {
        /// The key.
        key: String,
        /// The order the key first placed.
        order: String,
    },
    /// The database was written by a newer custdb: its schema version is
    /// higher than this library knows. The file was not changed.
    #[error("the database has schema version {found}, newer than this custdb supports (version {supported}); upgrade custdb to open it. Nothing was changed")]
    SchemaTooNew {
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this library supports.
        supported: i64,
    },
    /// The database needs migrating but was opened read-only.
    #[error("the database has schema version {found} and needs migrating to version {required}, which a read-only store cannot do; open it read-write once")]
    SchemaTooOld {
        /// The schema version found in the file.
        found: i64,
        /// The schema version this library needs.
        required: i64,
    },
    /// A migration recorded in the database differs from the one this
    /// library ships (a different checksum or name): the database was made by
    /// a different build, and custdb refuses to guess.
    #[error(
        "migration {version} in the database differs from the one this custdb ships: {reason}"
    )]
    MigrationMismatch {
        /// The schema version whose migration differs.
        version: i64,
        /// What differs.
        reason: String,
    },
    /// The PostgreSQL database holds tables but no custdb bookkeeping: it
    /// belongs to another application. Nothing was written.
    #[error("the PostgreSQL database {database} holds tables of another application, not a custdb store; nothing was written")]
    ForeignDatabase {
        /// The database's name.
        database: String,
    },
    /// The file exists but is not an SQLite database.
    #[error("{} is not an SQLite database", .path.display())]
    NotADatabase {
        /// The file's path.
        path: PathBuf,
    },
    /// The file is an SQLite database that belongs to another application.
    #[error("{} is an SQLite database of another application, not a custdb store", .path.display())]
    NotCustdb {
        /// The file's path.
        path: PathBuf,
    },
    /// The database file cannot be opened or created at this path.
    #[error("cannot open {}: {reason}", .path.display())]
    CannotOpen {
        /// The path that was tried.
        path: PathBuf,
        /// Why, as SQLite or the operating system said it.
        reason: String,
    },
    /// The linked SQLite is older than custdb accepts.
    #[error("SQLite {found} is too old: custdb needs {required} or newer (older versions have a WAL-reset bug that can corrupt a database)")]
    SqliteTooOld {
        /// The version found, e.g. `3.45.0`.
        found: String,
        /// The oldest version accepted.
        required: &'static str,
    },
    /// A write was attempted on a store opened read-only.
    #[error("the store was opened read-only")]
    ReadOnly,
    /// The database stayed locked by another process for longer than the
    /// busy timeout.
    #[error("the database stayed locked past the busy timeout")]
    Busy,
    /// A `write` (or, where reads share the writer, a `read`) was started
    /// on a thread that is already inside a unit of work of the same store.
    /// It would wait for itself forever, so it fails at once: do the work
    /// through the transaction the closure was given (`tx.customers()`...)
    /// instead of the `Store`. `operation` names what was started.
    #[error("a {operation} was started inside a unit of work of the same store on the same thread, which would wait for itself forever; use the transaction the closure was given instead of the Store")]
    Reentrant {
        /// What was started: `write`, `read`, `check`, `checkpoint`.
        operation: &'static str,
    },
    /// custdb broke one of its own rules (a bug in custdb, not damage to
    /// the file and not bad input): nothing was written. Please report it.
    #[error("internal error in custdb (nothing was written; please report it): {reason}")]
    Internal {
        /// What rule was broken.
        reason: String,
    },
    /// [`Store::check`](crate::Store::check) or a consistency assertion found
    /// the database in a state that breaks one of custdb's invariants.
    #[error("consistency check failed: {reason}")]
    Corrupt {
        /// What was found.
        reason: String,
    },
    /// A backup was refused as a source for restore: it failed SQLite's
    /// `integrity_check` or custdb's [`check`](crate::Store::check).
    #[error("restore refused: {}", .problems.join("; "))]
    RestoreRefused {
        /// What the checks found.
        problems: Vec<String>,
    },
    /// The actor of a policy-enforcing handle lacks the permission the
    /// operation needs (see [`Store::as_actor`](crate::Store::as_actor)).
    #[error("actor {actor} may not {operation}: needs the {permission} permission")]
    PermissionDenied {
        /// The actor's id.
        actor: String,
        /// The permission needed, e.g. `write_customers`.
        permission: &'static str,
        /// What was attempted.
        operation: String,
    },
    /// The database is encrypted and the key given is wrong or missing, or a
    /// key was given for a file that is not encrypted.
    #[error("cannot decrypt {}: the encryption key is wrong or missing", .path.display())]
    WrongKey {
        /// The file.
        path: PathBuf,
    },
    /// An encryption key was given but this build of custdb has no
    /// encryption (build with the `sqlcipher` feature).
    #[error("this build of custdb cannot encrypt: enable the `sqlcipher` feature")]
    EncryptionUnavailable,
    /// The operating system failed a read, write, sync or lock of the
    /// database file (SQLite's `SQLITE_IOERR` family), or the writer an
    /// export was given failed (the message says which). The unit of work
    /// was rolled back; committed data is intact, and the call can be
    /// retried once the cause (a failing disk, a lost network mount, a
    /// closed pipe) is gone.
    #[error("I/O error: {message}")]
    Io {
        /// SQLite's message, naming the operation that failed.
        message: String,
    },
    /// The disk, or the database's size limit, is full (`SQLITE_FULL`).
    /// The unit of work was rolled back; free space and retry.
    #[error("the disk or the database's size limit is full")]
    DiskFull,
    /// The caller's own error, passed through [`Error::other`] to abort a
    /// unit of work. custdb never makes one itself.
    #[error("{message}")]
    Other {
        /// The caller's error, as text.
        message: String,
    },
    /// The operation exists only on another engine (file backup,
    /// encryption through SQLCipher, checkpoints on SQLite), or has not
    /// reached this engine yet. `instead` says what to use.
    #[error("{operation} is not supported on {engine}: {instead}")]
    Unsupported {
        /// What was asked for.
        operation: String,
        /// The engine of the store: `SQLite` or `PostgreSQL`.
        engine: &'static str,
        /// What to use instead, or when it arrives.
        instead: String,
    },
    /// PostgreSQL aborted the unit of work because it and another one,
    /// on this or another server, locked the same rows in an order that
    /// cannot both finish (a deadlock), or could not be serialised.
    /// Nothing of the operation that failed was written; once the error
    /// leaves the unit of work, nothing of the unit was, and running it
    /// again is safe and usually succeeds ([`Error::is_retryable`]).
    /// One-shot calls (`store.inventory().transfer(..)`) are run again by
    /// custdb itself.
    #[error(
        "the unit of work collided with another ({reason}); nothing was written, run it again"
    )]
    Contention {
        /// What PostgreSQL reported: `deadlock detected` or a
        /// serialization failure.
        reason: String,
    },
    /// A change-feed read after `position` was refused because events
    /// after it were pruned (docs/CHANGES.md, "Retention"): the reader has
    /// fallen behind the oldest event the feed keeps. Nothing was lost
    /// silently; resynchronise: rebuild from a fresh export, then follow
    /// the feed from the position the export reports.
    #[error("change feed: events after position {position} were pruned (up to {pruned_through}){}; resynchronise from a fresh export", .consumer.as_ref().map(|c| format!(" before consumer {c} read them")).unwrap_or_default())]
    ChangesPruned {
        /// The consumer, when the read was a consumer's.
        consumer: Option<String>,
        /// The position read after.
        position: i64,
        /// The last position the feed no longer holds.
        pruned_through: i64,
    },
    /// Any other SQLite error. The message is SQLite's own.
    #[error("database error: {message}")]
    Database {
        /// SQLite's message.
        message: String,
    },
}

/// The error of every fallible custdb call.
///
/// It is opaque: ask [`kind`](Error::kind) what went wrong, or use the
/// predicates ([`is_not_found`](Error::is_not_found),
/// [`is_conflict`](Error::is_conflict), ...). Its `Display` names the field
/// or record and the reason in one line.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

// The source is shared, not owned, so that an error is cheap to clone (a
// caller may hand one error to several places: a log, a response, a retry
// decision).
#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// Builds an error of the given kind.
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner { kind, source: None }),
        }
    }

    /// Builds an error of the given kind that keeps its underlying cause.
    pub(crate) fn with_source(
        kind: ErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                source: Some(Arc::new(source)),
            }),
        }
    }

    /// The caller's own error, to abort a unit of work with: the closure of
    /// [`Store::write`](crate::Store::write) returns `Err(Error::other(e))`,
    /// nothing is written, and the caller gets it back through
    /// [`downcast_ref`](Error::downcast_ref) (or `source()`). Its kind is
    /// [`ErrorKind::Other`], whose message is `e`'s.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{Error, NewCustomer, Store};
    ///
    /// #[derive(Debug)]
    /// struct OverBudget;
    /// impl std::fmt::Display for OverBudget {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("over budget")
    ///     }
    /// }
    /// impl std::error::Error for OverBudget {}
    ///
    /// let store = Store::open_in_memory()?;
    /// let err = store
    ///     .write(|tx| {
    ///         tx.customers().create(NewCustomer::new("Ann"))?;
    ///         Err::<(), _>(Error::other(OverBudget))
    ///     })
    ///     .unwrap_err();
    /// assert!(err.downcast_ref::<OverBudget>().is_some());
    /// assert_eq!(err.to_string(), "over budget");
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::with_source(
            ErrorKind::Other {
                message: error.to_string(),
            },
            error,
        )
    }

    /// The caller's own error inside an [`Error::other`], if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self.inner.kind {
            ErrorKind::Other { .. } => self.inner.source.as_deref()?.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// An input-validation error naming the field and the reason.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid {
            field: field.into(),
            reason: reason.into(),
        })
    }

    /// A not-found error for an entity kind and key.
    pub(crate) fn not_found(entity: &'static str, key: impl fmt::Display) -> Self {
        Error::new(ErrorKind::NotFound {
            entity,
            key: key.to_string(),
        })
    }

    /// `Ok` when a record is still at the version its caller read, else
    /// the [`ErrorKind::Conflict`] that says which version it found.
    pub(crate) fn require_version(
        entity: &'static str,
        id: impl fmt::Display,
        expected_version: i64,
        actual_version: i64,
    ) -> Result<()> {
        if expected_version == actual_version {
            return Ok(());
        }
        Err(Error::new(ErrorKind::Conflict {
            entity,
            id: id.to_string(),
            expected_version,
            actual_version,
        }))
    }

    /// An invariant violation.
    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Corrupt {
            reason: reason.into(),
        })
    }

    /// Returns what went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// For an [`ErrorKind::Invalid`] error, returns the refused field.
    pub fn field(&self) -> Option<&str> {
        match &self.inner.kind {
            ErrorKind::Invalid { field, .. } => Some(field),
            ErrorKind::AlreadyExists { field, .. } => Some(field),
            _ => None,
        }
    }

    /// True when an input value was refused ([`ErrorKind::Invalid`]).
    pub fn is_invalid(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Invalid { .. })
    }

    /// True when a record was not found ([`ErrorKind::NotFound`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::NotFound { .. })
    }

    /// True for a stale version on update ([`ErrorKind::Conflict`]).
    pub fn is_conflict(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Conflict { .. })
    }

    /// True when a unique value is already taken ([`ErrorKind::AlreadyExists`]).
    pub fn is_already_exists(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::AlreadyExists { .. })
    }

    /// True when there was not enough stock ([`ErrorKind::Shortfall`]).
    pub fn is_shortfall(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Shortfall { .. })
    }

    /// True for a transition the current state does not allow
    /// ([`ErrorKind::InvalidTransition`]).
    pub fn is_invalid_transition(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::InvalidTransition { .. })
    }

    /// True when nothing was written and the same unit of work may simply
    /// be run again: the database stayed locked past the busy timeout
    /// ([`ErrorKind::Busy`]), or it collided with another unit of work
    /// ([`ErrorKind::Contention`], PostgreSQL only).
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Busy | ErrorKind::Contention { .. })
    }

    /// True when the database is locked past the busy timeout ([`ErrorKind::Busy`]).
    pub fn is_busy(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Busy)
    }

    /// True for [`ErrorKind::PermissionDenied`].
    pub fn is_permission_denied(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::PermissionDenied { .. })
    }

    /// True for [`ErrorKind::Io`].
    pub fn is_io(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Io { .. })
    }

    /// True for [`ErrorKind::DiskFull`].
    pub fn is_disk_full(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::DiskFull)
    }

    /// True for [`ErrorKind::ChangesPruned`]: resynchronise.
    pub fn is_changes_pruned(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::ChangesPruned { .. })
    }

    /// True for [`ErrorKind::Corrupt`].
    pub fn is_corrupt(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Corrupt { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.kind, f)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// Classifies an SQLite error. Not a `From` impl: rusqlite is an
    /// implementation detail, so its error converts only inside custdb
    /// (through [`DbResult::db`]).
    pub(crate) fn from_sqlite(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let kind = match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => ErrorKind::Busy,
            Some(ErrorCode::ReadOnly) => ErrorKind::ReadOnly,
            // SQLITE_PROTOCOL: a WAL lock could not be taken, the file
            // system failing the locking protocol; an I/O failure too.
            Some(ErrorCode::SystemIoFailure) | Some(ErrorCode::FileLockingProtocolFailed) => {
                ErrorKind::Io {
                    message: format!("on the database file: {err}"),
                }
            }
            Some(ErrorCode::DiskFull) => ErrorKind::DiskFull,
            // A damaged page found while reading or writing: the file, not
            // the call, is at fault.
            Some(ErrorCode::DatabaseCorrupt) => ErrorKind::Corrupt {
                reason: format!("SQLite reports the file damaged: {err}"),
            },
            _ => ErrorKind::Database {
                message: err.to_string(),
            },
        };
        Error::with_source(kind, err)
    }
}

#[cfg(feature = "postgres")]
impl Error {
    /// Classifies a PostgreSQL error by its SQLSTATE. Like
    /// [`Error::from_sqlite`], not a `From` impl. The server's messages
    /// never hold the connection's password.
    pub(crate) fn from_postgres(err: postgres::Error) -> Self {
        use postgres::error::SqlState;
        let message = match err.as_db_error() {
            Some(db) => match db.detail() {
                Some(detail) => format!("{} ({detail})", db.message()),
                None => db.message().to_owned(),
            },
            None => err.to_string(),
        };
        let kind = match err.code() {
            Some(c)
                if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                ErrorKind::Contention { reason: message }
            }
            Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => ErrorKind::Busy,
            Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => ErrorKind::ReadOnly,
            Some(c) if *c == SqlState::DISK_FULL => ErrorKind::DiskFull,
            Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
                ErrorKind::Corrupt {
                    reason: format!("PostgreSQL reports damaged data: {message}"),
                }
            }
            Some(_) => ErrorKind::Database { message },
            // No SQLSTATE: the connection itself failed.
            None if err.is_closed() => ErrorKind::Io {
                message: format!("the PostgreSQL connection closed: {message}"),
            },
            None => ErrorKind::Io {
                message: format!("talking to PostgreSQL: {message}"),
            },
        };
        Error::with_source(kind, err)
    }
}

impl Error {
    /// The unique constraint or index a statement violated, as the engine
    /// names it (SQLite: `customers.email`; PostgreSQL: the index name),
    /// for repositories that turn a race lost to another writer into the
    /// same typed error as their own check.
    pub(crate) fn violated_unique(&self) -> Option<String> {
        let source = self.inner.source.as_deref()?;
        if let Some(rusqlite::Error::SqliteFailure(e, Some(message))) =
            source.downcast_ref::<rusqlite::Error>()
        {
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE {
                return Some(message.clone());
            }
        }
        #[cfg(feature = "postgres")]
        if let Some(err) = source.downcast_ref::<postgres::Error>() {
            if err.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                return Some(
                    err.as_db_error()
                        .and_then(|d| d.constraint())
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
        None
    }
}

/// Turns rusqlite's results into custdb's inside the crate (`conn.execute(..).db()?`).
pub(crate) trait DbResult<T> {
    /// The SQLite error classified ([`Error::from_sqlite`]).
    fn db(self) -> Result<T>;
}

impl<T> DbResult<T> for std::result::Result<T, rusqlite::Error> {
    fn db(self) -> Result<T> {
        self.map_err(Error::from_sqlite)
    }
}

/// Reading JSON custdb stored itself (custom attributes, option maps,
/// event details), and writing JSON of its own records. There is no
/// `From<serde_json::Error>` on purpose: a caller's `?` on its own parse
/// must not turn into `Corrupt` ("the file is damaged").
pub(crate) trait JsonResult<T> {
    /// A stored value that does not parse: the file is damaged.
    fn stored(self) -> Result<T>;
    /// custdb's own value that does not serialize: a bug.
    fn written(self) -> Result<T>;
}

impl<T> JsonResult<T> for std::result::Result<T, serde_json::Error> {
    fn stored(self) -> Result<T> {
        self.map_err(|err| {
            Error::with_source(
                ErrorKind::Corrupt {
                    reason: format!("stored JSON does not parse: {err}"),
                },
                err,
            )
        })
    }

    fn written(self) -> Result<T> {
        self.map_err(|err| {
            Error::with_source(
                ErrorKind::Internal {
                    reason: format!("a value did not serialize to JSON: {err}"),
                },
                err,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_small_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn invalid_names_field_and_reason() {
        let e = Error::invalid("email", "has no @");
        assert_eq!(e.to_string(), "invalid email: has no @");
        assert_eq!(e.field(), Some("email"));
        assert!(e.is_invalid());
        assert!(!e.is_not_found());
    }
}
