//! Status codes, and the failure every function turns into one.

use custdb_core as db;
use db::ErrorKind;

/// A status code. `CUSTDB_OK` (0) is success; the others are stable and
/// never reused.
pub type custdb_status = i32;

/// Success.
pub const CUSTDB_OK: custdb_status = 0;
/// An input value was refused (the message names the field).
pub const CUSTDB_ERR_INVALID: custdb_status = 1;
/// No such record.
pub const CUSTDB_ERR_NOT_FOUND: custdb_status = 2;
/// A stale version: the record changed since it was read.
pub const CUSTDB_ERR_CONFLICT: custdb_status = 3;
/// A unique value is already used.
pub const CUSTDB_ERR_ALREADY_EXISTS: custdb_status = 4;
/// Not allowed in the record's current state.
pub const CUSTDB_ERR_INVALID_STATE: custdb_status = 5;
/// Not enough stock.
pub const CUSTDB_ERR_SHORTFALL: custdb_status = 6;
/// An order transition from the wrong state.
pub const CUSTDB_ERR_INVALID_TRANSITION: custdb_status = 7;
/// An idempotency key reused with a different request.
pub const CUSTDB_ERR_IDEMPOTENCY_MISMATCH: custdb_status = 8;
/// The actor lacks a permission.
pub const CUSTDB_ERR_PERMISSION_DENIED: custdb_status = 9;
/// The database stayed locked past the busy timeout.
pub const CUSTDB_ERR_BUSY: custdb_status = 10;
/// A write on a read-only store.
pub const CUSTDB_ERR_READ_ONLY: custdb_status = 11;
/// The file is not an SQLite database.
pub const CUSTDB_ERR_NOT_A_DATABASE: custdb_status = 12;
/// The file's schema is not one this library opens (too new, too old,
/// different migrations, another application's database).
pub const CUSTDB_ERR_SCHEMA: custdb_status = 13;
/// The file cannot be opened or created.
pub const CUSTDB_ERR_CANNOT_OPEN: custdb_status = 14;
/// An invariant does not hold.
pub const CUSTDB_ERR_CORRUPT: custdb_status = 15;
/// The encryption key is wrong or missing.
pub const CUSTDB_ERR_WRONG_KEY: custdb_status = 16;
/// This build cannot encrypt.
pub const CUSTDB_ERR_ENCRYPTION_UNAVAILABLE: custdb_status = 17;
/// A backup failed the checks of restore.
pub const CUSTDB_ERR_RESTORE_REFUSED: custdb_status = 18;
/// Another SQLite error.
pub const CUSTDB_ERR_DATABASE: custdb_status = 19;
/// A required pointer argument was NULL.
pub const CUSTDB_ERR_NULL_ARGUMENT: custdb_status = 20;
/// A string argument was not valid UTF-8.
pub const CUSTDB_ERR_INVALID_UTF8: custdb_status = 21;
/// A JSON argument did not parse into the expected shape.
pub const CUSTDB_ERR_JSON: custdb_status = 22;
/// custdb panicked; the call had no effect. Please report it.
pub const CUSTDB_ERR_PANIC: custdb_status = 23;
/// An error this version of the C API does not name yet.
pub const CUSTDB_ERR_OTHER: custdb_status = 24;
/// The operating system failed a read, write, sync or lock of the file;
/// nothing was written, and committed data is intact.
pub const CUSTDB_ERR_IO: custdb_status = 25;
/// The disk (or the database's size limit) is full; nothing was written.
pub const CUSTDB_ERR_DISK_FULL: custdb_status = 26;
/// A call was made inside a unit of work of the same store on the same
/// thread and would have waited for itself forever; nothing was done.
pub const CUSTDB_ERR_REENTRANT: custdb_status = 27;
/// custdb broke one of its own rules (a bug, not damaged data and not bad
/// input); nothing was written. Please report it.
pub const CUSTDB_ERR_INTERNAL: custdb_status = 28;
/// The operation exists only on another engine (a file backup on a
/// PostgreSQL store, say); the message says what to use instead.
pub const CUSTDB_ERR_UNSUPPORTED: custdb_status = 29;
/// The unit of work collided with another one (a deadlock or a
/// serialization failure on PostgreSQL); nothing was written, and running
/// it again is safe.
pub const CUSTDB_ERR_CONTENTION: custdb_status = 30;
/// A change-feed read after a position whose following events were pruned
/// (the consumer fell behind retention); nothing was read. Resynchronise:
/// rebuild from a fresh export, then follow the feed from the position it
/// reports (docs/CHANGES.md).
pub const CUSTDB_ERR_CHANGES_PRUNED: custdb_status = 31;

/// Full durability (the default): an acknowledged commit survives power
/// loss.
pub const CUSTDB_DURABILITY_FULL: i32 = 0;
/// Normal durability: faster; the last commits may be lost on power loss.
pub const CUSTDB_DURABILITY_NORMAL: i32 = 1;

pub(crate) fn status_of(kind: &ErrorKind) -> custdb_status {
    match kind {
        ErrorKind::Invalid { .. } => CUSTDB_ERR_INVALID,
        ErrorKind::NotFound { .. } => CUSTDB_ERR_NOT_FOUND,
        ErrorKind::Conflict { .. } => CUSTDB_ERR_CONFLICT,
        ErrorKind::AlreadyExists { .. } => CUSTDB_ERR_ALREADY_EXISTS,
        ErrorKind::InvalidState { .. } => CUSTDB_ERR_INVALID_STATE,
        ErrorKind::Shortfall { .. } => CUSTDB_ERR_SHORTFALL,
        ErrorKind::InvalidTransition { .. } => CUSTDB_ERR_INVALID_TRANSITION,
        ErrorKind::IdempotencyMismatch { .. } => CUSTDB_ERR_IDEMPOTENCY_MISMATCH,
        ErrorKind::PermissionDenied { .. } => CUSTDB_ERR_PERMISSION_DENIED,
        ErrorKind::Busy => CUSTDB_ERR_BUSY,
        ErrorKind::ReadOnly => CUSTDB_ERR_READ_ONLY,
        ErrorKind::NotADatabase { .. } => CUSTDB_ERR_NOT_A_DATABASE,
        ErrorKind::SchemaTooNew { .. }
        | ErrorKind::SchemaTooOld { .. }
        | ErrorKind::MigrationMismatch { .. }
        | ErrorKind::NotCustdb { .. }
        | ErrorKind::ForeignDatabase { .. } => CUSTDB_ERR_SCHEMA,
        ErrorKind::CannotOpen { .. } | ErrorKind::SqliteTooOld { .. } => CUSTDB_ERR_CANNOT_OPEN,
        ErrorKind::Corrupt { .. } => CUSTDB_ERR_CORRUPT,
        ErrorKind::WrongKey { .. } => CUSTDB_ERR_WRONG_KEY,
        ErrorKind::EncryptionUnavailable => CUSTDB_ERR_ENCRYPTION_UNAVAILABLE,
        ErrorKind::RestoreRefused { .. } => CUSTDB_ERR_RESTORE_REFUSED,
        ErrorKind::Database { .. } => CUSTDB_ERR_DATABASE,
        ErrorKind::Io { .. } => CUSTDB_ERR_IO,
        ErrorKind::DiskFull => CUSTDB_ERR_DISK_FULL,
        ErrorKind::Reentrant { .. } => CUSTDB_ERR_REENTRANT,
        ErrorKind::Internal { .. } => CUSTDB_ERR_INTERNAL,
        ErrorKind::Unsupported { .. } => CUSTDB_ERR_UNSUPPORTED,
        ErrorKind::Contention { .. } => CUSTDB_ERR_CONTENTION,
        ErrorKind::ChangesPruned { .. } => CUSTDB_ERR_CHANGES_PRUNED,
        _ => CUSTDB_ERR_OTHER,
    }
}

/// An error on the C side of the boundary: a status and its message.
pub(crate) struct Failure {
    pub(crate) status: custdb_status,
    pub(crate) message: String,
}

impl From<db::Error> for Failure {
    fn from(e: db::Error) -> Self {
        Failure {
            status: status_of(e.kind()),
            message: e.to_string(),
        }
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure {
            status: CUSTDB_ERR_JSON,
            message: format!("invalid JSON: {e}"),
        }
    }
}

pub(crate) fn failure(status: custdb_status, message: impl Into<String>) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}
