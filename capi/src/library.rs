//! The library itself: version, errors, options, opening and closing,
//! units of work across calls, and the operations on the whole database
//! (check, audit verification, backup, restore).

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;

use custdb_core as db;
use db::Store;

use crate::boundary::*;
use crate::handle::{custdb_options, custdb_store};
use crate::status::*;

/// A stock balance.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct custdb_stock_level {
    /// Units in the warehouse.
    pub on_hand: i64,
    /// Units held for orders and reservations.
    pub reserved: i64,
    /// on_hand - reserved.
    pub available: i64,
}

/// The result of `custdb_audit_verify`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct custdb_audit_verification {
    /// Entries read.
    pub entries: u64,
    /// 1 when every link holds, else 0.
    pub ok: i32,
    /// The first broken entry's sequence number, or 0.
    pub broken_seq: i64,
    /// Entries at the end not chained yet: always 0 on SQLite; on
    /// PostgreSQL, entries join the chain just after their unit of work
    /// commits (docs/SCALING.md, "The audit chain").
    pub pending: u64,
}

/// Where a backup has got to: called after every step of
/// `custdb_backup_with_progress` with the pages copied so far, the pages
/// in the database, and the `user_data` pointer given to the call.
pub type custdb_backup_progress_fn = Option<
    unsafe extern "C" fn(pages_copied: u64, pages_total: u64, user_data: *mut std::ffi::c_void),
>;

/// The C form of an audit verification.
pub(crate) fn verification(v: &db::AuditVerification) -> custdb_audit_verification {
    custdb_audit_verification {
        entries: v.entries,
        ok: i32::from(v.is_ok()),
        broken_seq: v.broken.as_ref().map_or(0, |b| b.seq),
        pending: v.pending,
    }
}

// Library and errors ---------------------------------------------------------

/// The custdb version, e.g. `"0.1.0"` (the Rust crate's version). A static
/// string: never free it.
#[no_mangle]
pub extern "C" fn custdb_version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    VERSION
        .get_or_init(|| CString::new(db::VERSION).unwrap_or_default())
        .as_ptr()
}

/// The message of the calling thread's last failed call on `store`, or ""
/// when none failed. Each thread has its own: a failure on another thread
/// does not change it. The pointer stays valid until this thread's next
/// failing call on the handle, or `custdb_close`. Returns "" for a NULL
/// handle.
///
/// # Safety
///
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_errmsg(store: *const custdb_store) -> *const c_char {
    static EMPTY: &CStr = c"";
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller promises NULL or a live handle; `as_ref`
        // turns NULL into None.
        match unsafe { store.as_ref() } {
            Some(s) => s.errors.last_ptr().unwrap_or(EMPTY.as_ptr()),
            None => EMPTY.as_ptr(),
        }
    }));
    result.unwrap_or(EMPTY.as_ptr())
}

/// A copy of the calling thread's last error message on `store` (as
/// `custdb_errmsg`), which the caller frees with `custdb_string_free`.
/// NULL for a NULL handle.
///
/// # Safety
///
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_errmsg_copy(store: *const custdb_store) -> *mut c_char {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller promises NULL or a live handle; `as_ref`
        // turns NULL into None.
        match unsafe { store.as_ref() } {
            Some(s) => owned_message(&s.errors.last_copy()),
            None => ptr::null_mut(),
        }
    }))
    .unwrap_or(ptr::null_mut())
}

/// The message of the last failed call on this thread (any handle, or
/// none: `custdb_open`, `custdb_restore`, options). Valid until the next
/// failing call on the same thread.
#[no_mangle]
pub extern "C" fn custdb_last_error() -> *const c_char {
    thread_last_error()
}

/// Frees a string custdb returned. NULL is fine.
///
/// # Safety
///
/// `s` is NULL or a string returned by custdb and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn custdb_string_free(s: *mut c_char) {
    if !s.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller promises a string from CString::into_raw
            // that was not freed yet.
            drop(unsafe { CString::from_raw(s) });
        }));
    }
}

// Options and opening ----------------------------------------------------------

/// New options with the defaults (Full durability, 5 s busy timeout, the
/// `system` actor). Never NULL; free with `custdb_options_free`.
#[no_mangle]
pub extern "C" fn custdb_options_new() -> *mut custdb_options {
    catch_unwind(|| {
        Box::into_raw(Box::new(custdb_options {
            options: db::Options::default(),
        }))
    })
    .unwrap_or(ptr::null_mut())
}

/// Frees options. NULL is fine.
///
/// # Safety
///
/// `options` is NULL or from `custdb_options_new` and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_free(options: *mut custdb_options) {
    if !options.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller promises a pointer from Box::into_raw in
            // custdb_options_new that was not freed yet.
            drop(unsafe { Box::from_raw(options) });
        }));
    }
}

/// Edits options in place.
///
/// # Safety
///
/// `options` is NULL (refused) or a live options object used by one thread.
unsafe fn edit_options(
    options: *mut custdb_options,
    f: impl FnOnce(db::Options) -> Result<db::Options, Failure>,
) -> custdb_status {
    guard(None, || {
        // SAFETY: as the caller promised; NULL becomes None.
        let o = unsafe { options.as_mut() }
            .ok_or_else(|| failure(CUSTDB_ERR_NULL_ARGUMENT, "options is NULL"))?;
        o.options = f(o.options.clone())?;
        Ok(())
    })
}

/// Sets the durability: `CUSTDB_DURABILITY_FULL` or
/// `CUSTDB_DURABILITY_NORMAL`.
///
/// # Safety
///
/// `options` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_durability(
    options: *mut custdb_options,
    durability: i32,
) -> custdb_status {
    // SAFETY: forwarded promise.
    unsafe {
        edit_options(options, |o| match durability {
            CUSTDB_DURABILITY_FULL => Ok(o.durability(db::Durability::Full)),
            CUSTDB_DURABILITY_NORMAL => Ok(o.durability(db::Durability::Normal)),
            _ => Err(failure(
                CUSTDB_ERR_INVALID,
                "invalid durability: use CUSTDB_DURABILITY_FULL or _NORMAL",
            )),
        })
    }
}

/// Sets the busy timeout in milliseconds.
///
/// # Safety
///
/// `options` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_busy_timeout_ms(
    options: *mut custdb_options,
    timeout_ms: u32,
) -> custdb_status {
    // SAFETY: forwarded promise.
    unsafe {
        edit_options(options, |o| {
            Ok(o.busy_timeout(std::time::Duration::from_millis(timeout_ms.into())))
        })
    }
}

/// Sets the actor recorded on writes.
///
/// # Safety
///
/// `options` is NULL or a live options object; `id` and `name` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_actor(
    options: *mut custdb_options,
    id: *const c_char,
    name: *const c_char,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        edit_options(options, |o| {
            let actor = db::Actor::new(text("id", id)?, text("name", name)?)?;
            Ok(o.actor(actor))
        })
    }
}

/// Sets the encryption key (builds with the `sqlcipher` feature; others
/// fail at `custdb_open` with `CUSTDB_ERR_ENCRYPTION_UNAVAILABLE`). custdb
/// keeps no copy of the C string.
///
/// # Safety
///
/// `options` is NULL or a live options object; `key` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_encryption_key(
    options: *mut custdb_options,
    key: *const c_char,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe { edit_options(options, |o| Ok(o.encryption_key(text("key", key)?))) }
}

/// On PostgreSQL, requires TLS and verifies the server against the
/// certificate authorities in the PEM file at `pem_path` (the chain and
/// the host name, like libpq's `sslmode=verify-full`); only those
/// authorities are trusted. A file store refuses the option at
/// `custdb_open` with `CUSTDB_ERR_UNSUPPORTED`. A file that holds no
/// certificate is `CUSTDB_ERR_INVALID` at `custdb_open_postgres`.
///
/// # Safety
///
/// `options` is NULL or a live options object; `pem_path` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_tls_root_certificates(
    options: *mut custdb_options,
    pem_path: *const c_char,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        edit_options(options, |o| {
            Ok(o.tls_root_certificates(text("pem_path", pem_path)?))
        })
    }
}

/// On PostgreSQL, sends reads to a hot standby at `connection` (a
/// connection string or URL, as for `custdb_open_postgres`): the one-shot
/// reads (`custdb_customer_get`...) run there and may lag the primary by
/// the replication delay; everything inside a unit of work
/// (`custdb_begin` ... `custdb_commit`) and every write runs on the
/// primary, so a read that must see a write that just returned goes in a
/// unit of work. `custdb_open_postgres` checks that the standby holds
/// custdb's schema (`CUSTDB_ERR_SCHEMA` when it does not); a file
/// store refuses the option at `custdb_open` (`CUSTDB_ERR_UNSUPPORTED`).
/// docs/SCALING.md, "A standby for reads".
///
/// # Safety
///
/// `options` is NULL or a live options object; `connection` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_read_replica(
    options: *mut custdb_options,
    connection: *const c_char,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        edit_options(options, |o| {
            Ok(o.read_replica(text("connection", connection)?))
        })
    }
}

/// Opens the file read-only when `read_only` is 1 (0: read-write, the
/// default): every write then fails with `CUSTDB_ERR_READ_ONLY`, and the
/// file must already hold a custdb database at the current schema version.
///
/// # Safety
///
/// `options` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_read_only(
    options: *mut custdb_options,
    read_only: i32,
) -> custdb_status {
    // SAFETY: forwarded promise.
    unsafe {
        edit_options(options, |o| match read_only {
            0 | 1 => Ok(o.read_only(read_only == 1)),
            _ => Err(failure(CUSTDB_ERR_INVALID, "invalid read_only: use 0 or 1")),
        })
    }
}

/// Whether calls from several threads may share one commit (1, the
/// default) or each commits alone (0): with it, concurrent writers at
/// Full durability share one disk sync; every call still returns only
/// once its own work is durable. docs/RELIABILITY.md, "Group commit".
/// Nothing changes on PostgreSQL, which groups commits itself.
///
/// # Safety
///
/// `options` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_group_commit(
    options: *mut custdb_options,
    group_commit: i32,
) -> custdb_status {
    // SAFETY: forwarded promise.
    unsafe {
        edit_options(options, |o| match group_commit {
            0 | 1 => Ok(o.group_commit(group_commit == 1)),
            _ => Err(failure(
                CUSTDB_ERR_INVALID,
                "invalid group_commit: use 0 or 1",
            )),
        })
    }
}

/// How many read-only connections serve reads beside the writer: 0 to
/// 64 (0 makes reads share the writer connection); 4 by default.
/// Checked at `custdb_open` (`CUSTDB_ERR_INVALID` above the limit).
///
/// # Safety
///
/// `options` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_reader_pool_size(
    options: *mut custdb_options,
    size: u32,
) -> custdb_status {
    // SAFETY: forwarded promise.
    unsafe { edit_options(options, |o| Ok(o.reader_pool_size(size as usize))) }
}

/// Caps the database file's size in bytes: a write that would grow it
/// past the cap fails with `CUSTDB_ERR_DISK_FULL` and changes nothing. At
/// least 2 MiB (checked at `custdb_open`); not set by default.
///
/// # Safety
///
/// `options` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn custdb_options_set_max_size_bytes(
    options: *mut custdb_options,
    bytes: u64,
) -> custdb_status {
    // SAFETY: forwarded promise.
    unsafe { edit_options(options, |o| Ok(o.max_size_bytes(bytes))) }
}

fn new_handle(store: Store) -> *mut custdb_store {
    Box::into_raw(Box::new(custdb_store::new(store)))
}

/// Opens (creating or migrating) the database at `path`. `options` may be
/// NULL for the defaults; custdb copies what it needs from it. On success
/// writes the handle to `*out`.
///
/// # Safety
///
/// `path` NULL or NUL-terminated; `options` NULL or live; `out` NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_open(
    path: *const c_char,
    options: *const custdb_options,
    out: *mut *mut custdb_store,
) -> custdb_status {
    guard(None, || {
        // SAFETY: forwarded promises.
        let path = unsafe { text("path", path) }?;
        check_out("out", out)?;
        // SAFETY: NULL or a live options object.
        let options = unsafe { options.as_ref() }
            .map(|o| o.options.clone())
            .unwrap_or_default();
        let store = Store::open_with(path, options)?;
        // SAFETY: checked non-NULL above; the caller promised validity.
        unsafe { put("out", out, new_handle(store)) }
    })
}

/// Opens a store on a PostgreSQL database, migrating it when it is empty
/// or older. `connection` is a libpq-style string
/// (`host=db.example.com user=app dbname=shop` or a `postgresql://` URL).
/// Of `options` (NULL for the defaults), the actor, the busy timeout (how
/// long a call waits for a free connection, and the connect timeout), the
/// reader pool size, read-only, the read replica and the TLS root
/// certificates apply; an
/// encryption key or a size limit is refused with
/// `CUSTDB_ERR_UNSUPPORTED`. On success writes the handle to `*out`; every
/// other function then works on it as on a file's handle, except the
/// file-only ones (backup, vacuum, checkpoint: `CUSTDB_ERR_UNSUPPORTED`).
///
/// Needs a library built with the `postgres` feature
/// (`cargo build --release -p custdb-capi --features postgres`; link
/// `-lssl -lcrypto` too when linking statically); without it, returns
/// `CUSTDB_ERR_UNSUPPORTED`. A server that cannot be reached or refuses
/// the login is `CUSTDB_ERR_IO`, with the reason (never the password) in
/// the message.
///
/// # Safety
///
/// `connection` NULL or NUL-terminated; `options` NULL or live; `out` NULL
/// or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_open_postgres(
    connection: *const c_char,
    options: *const custdb_options,
    out: *mut *mut custdb_store,
) -> custdb_status {
    guard(None, || {
        // SAFETY: forwarded promises.
        let connection = unsafe { text("connection", connection) }?;
        check_out("out", out)?;
        // SAFETY: NULL or a live options object.
        let options = unsafe { options.as_ref() }
            .map(|o| o.options.clone())
            .unwrap_or_default();
        let store = open_postgres(connection, options)?;
        // SAFETY: checked non-NULL above; the caller promised validity.
        unsafe { put("out", out, new_handle(store)) }
    })
}

#[cfg(feature = "postgres")]
fn open_postgres(connection: &str, options: db::Options) -> Result<Store, Failure> {
    Ok(Store::open_postgres_with(connection, options)?)
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_connection: &str, _options: db::Options) -> Result<Store, Failure> {
    Err(failure(
        CUSTDB_ERR_UNSUPPORTED,
        "opening a PostgreSQL store is not in this build of libcustdb: build it with \
         `cargo build --release -p custdb-capi --features postgres` (and link -lssl -lcrypto \
         when linking statically)",
    ))
}

/// Opens a private in-memory database (for tests).
///
/// # Safety
///
/// `options` NULL or live; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_open_in_memory(
    options: *const custdb_options,
    out: *mut *mut custdb_store,
) -> custdb_status {
    guard(None, || {
        check_out("out", out)?;
        // SAFETY: NULL or a live options object.
        let options = unsafe { options.as_ref() }
            .map(|o| o.options.clone())
            .unwrap_or_default();
        let store = Store::open_in_memory_with(options)?;
        // SAFETY: checked non-NULL above.
        unsafe { put("out", out, new_handle(store)) }
    })
}

/// Closes a handle. NULL is fine. Other threads must be done with it.
///
/// # Safety
///
/// `store` is NULL or a live handle, not used after this call.
#[no_mangle]
pub unsafe extern "C" fn custdb_close(store: *mut custdb_store) {
    if !store.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller promises a pointer from custdb_open that
            // no one uses any more.
            drop(unsafe { Box::from_raw(store) });
        }));
    }
}

// Units of work ----------------------------------------------------------------

/// Begins a unit of work on `store` for the calling thread. Until
/// `custdb_commit` or `custdb_rollback`, every call this thread makes on
/// `store` runs inside it (reads see its writes) and nothing of it is
/// visible to others; each call that fails undoes only itself, and the
/// unit goes on. Other threads' writes wait for the unit to end (up to the
/// busy timeout, then `CUSTDB_ERR_BUSY`). Operations that are units of
/// work of their own (`custdb_check`, `custdb_subject_erase`,
/// `custdb_apply_retention`, imports) fail inside one with
/// `CUSTDB_ERR_REENTRANT`. `CUSTDB_ERR_INVALID_STATE` when this thread
/// already has a unit open on `store` (units do not nest).
///
/// # Safety
///
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_begin(store: *const custdb_store) -> custdb_status {
    ffi!(store, |cx| cx.handle().begin())
}

/// Commits the calling thread's unit of work on `store`: everything in it
/// becomes durable and visible at once. On an error nothing of it is
/// written, and the unit is over either way. `CUSTDB_ERR_INVALID_STATE`
/// when no unit is open on this thread, or when the unit was rolled back
/// by a panic or an I/O error inside it.
///
/// # Safety
///
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_commit(store: *const custdb_store) -> custdb_status {
    ffi!(store, |cx| cx.handle().commit())
}

/// Rolls the calling thread's unit of work on `store` back: nothing of it
/// is written. `CUSTDB_ERR_INVALID_STATE` when no unit is open on this
/// thread. `custdb_close` rolls back every unit still open.
///
/// # Safety
///
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_rollback(store: *const custdb_store) -> custdb_status {
    ffi!(store, |cx| cx.handle().rollback())
}

// The whole database ---------------------------------------------------------------

/// Runs every consistency check; `*out` is a JSON array of the problems
/// found (strings; empty when all is well).
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_check(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| Ok(cx.outside_unit("custdb_check")?.check()?.problems))
}

/// Verifies the audit trail's hash chain: `entries` read, `ok`,
/// `broken_seq` (the first broken entry, or 0) and `pending` (entries
/// committed and not chained yet: always 0 on SQLite; on PostgreSQL the
/// call first chains the committed entries, so few are left: those of
/// units still committing, or all while a chain step cannot run; see
/// docs/SCALING.md, "The audit chain").
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_audit_verify(
    store: *const custdb_store,
    out: *mut custdb_audit_verification,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let v = cx.outside_unit("custdb_audit_verify")?.verify_audit()?;
        Ok(verification(&v))
    })
}

/// Copies the write-ahead log into the database file and truncates it, if
/// no reader holds it (waiting up to the busy timeout). Writes 1 to `*out`
/// when the log was emptied, 0 when readers kept part of it.
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_checkpoint(
    store: *const custdb_store,
    out: *mut i32,
) -> custdb_status {
    ffi!(store, value out, |cx| Ok(i32::from(cx.outside_unit("custdb_checkpoint")?.checkpoint()?)))
}

/// Backs the database up to a new file at `path` while others keep
/// writing (what is committed when the backup starts; a unit of work the
/// calling thread has open is not in it). Writes the pages copied to
/// `*out_pages` when it is not NULL. `CUSTDB_ERR_INVALID` when `path`
/// exists.
///
/// # Safety
///
/// `store` is NULL or a live handle; `path` NULL or NUL-terminated;
/// `out_pages` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_backup(
    store: *const custdb_store,
    path: *const c_char,
    out_pages: *mut u64,
) -> custdb_status {
    // SAFETY: forwarded promises; no callback.
    unsafe { custdb_backup_with_progress(store, path, None, ptr::null_mut(), out_pages) }
}

/// As `custdb_backup`, calling `progress` (when not NULL) after every step
/// of 256 pages with the pages copied, the pages in all, and `user_data`.
/// The callback runs on the calling thread; it may call custdb, but not
/// close `store`.
///
/// # Safety
///
/// As `custdb_backup`; `progress` NULL or a function safe to call with
/// `user_data`.
#[no_mangle]
pub unsafe extern "C" fn custdb_backup_with_progress(
    store: *const custdb_store,
    path: *const c_char,
    progress: custdb_backup_progress_fn,
    user_data: *mut std::ffi::c_void,
    out_pages: *mut u64,
) -> custdb_status {
    ffi!(store, |cx| {
        let path = string("path", path)?;
        let report = cx.store().backup_to(path, |p| {
            if let Some(callback) = progress {
                // Unsafe (inside ffi!): the caller promises a function safe to call with
                // the `user_data` it gave; custdb passes it back untouched.
                callback(p.pages_copied, p.pages_total, user_data)
            }
        })?;
        if !out_pages.is_null() {
            put("out_pages", out_pages, report.pages)?;
        }
        Ok(())
    })
}

/// Writes a compacted copy of the database to a new file at `path`
/// (SQLite's `VACUUM INTO`: what is committed when it starts). Writes the
/// pages of the copy to `*out_pages` when it is not NULL.
/// `CUSTDB_ERR_INVALID` when `path` exists.
///
/// # Safety
///
/// `store` is NULL or a live handle; `path` NULL or NUL-terminated;
/// `out_pages` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_vacuum_into(
    store: *const custdb_store,
    path: *const c_char,
    out_pages: *mut u64,
) -> custdb_status {
    ffi!(store, |cx| {
        let report = cx.store().vacuum_into(string("path", path)?)?;
        if !out_pages.is_null() {
            put("out_pages", out_pages, report.pages)?;
        }
        Ok(())
    })
}

/// Restores a backup into a new file `target_path` and opens it (after
/// `integrity_check` and `custdb_check` pass on a copy). `options` may be
/// NULL.
///
/// # Safety
///
/// Strings NULL or NUL-terminated; `options` NULL or live; `out` NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_restore(
    backup_path: *const c_char,
    target_path: *const c_char,
    options: *const custdb_options,
    out: *mut *mut custdb_store,
) -> custdb_status {
    guard(None, || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let backup = unsafe { text("backup_path", backup_path) }?;
        // SAFETY: as above.
        let target = unsafe { text("target_path", target_path) }?;
        check_out("out", out)?;
        // SAFETY: NULL or a live options object.
        let options = unsafe { options.as_ref() }
            .map(|o| o.options.clone())
            .unwrap_or_default();
        let store = Store::restore(backup, target, options)?;
        // SAFETY: checked non-NULL above.
        unsafe { put("out", out, new_handle(store)) }
    })
}
