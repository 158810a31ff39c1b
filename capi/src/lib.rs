//! The C API of custdb. Every `extern "C"` function of the project lives in
//! this crate; it wraps the library's calls and adds no logic of its own.
//! `include/custdb.h` is generated from this file by cbindgen
//! (`cbindgen.toml`); docs/C-API.md gives the conventions.
//!
//! Conventions, in short: every fallible function returns a
//! `custdb_status` (`CUSTDB_OK` is 0) and writes its outputs only on
//! success; handles are opaque; `_free` functions accept NULL; strings are
//! UTF-8, checked on the way in; every function runs inside a panic
//! boundary and checks its pointers.

#![allow(non_camel_case_types)]
#![deny(missing_docs)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Mutex;

use custdb_core as db;
use db::{ErrorKind, Store};

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

/// Full durability (the default): an acknowledged commit survives power
/// loss.
pub const CUSTDB_DURABILITY_FULL: i32 = 0;
/// Normal durability: faster; the last commits may be lost on power loss.
pub const CUSTDB_DURABILITY_NORMAL: i32 = 1;

/// An open database. Create with `custdb_open`, release with
/// `custdb_close`. One handle may be used from several threads at once.
pub struct custdb_store {
    store: Store,
    last_error: Mutex<CString>,
}

/// Settings for `custdb_open`. Not thread-safe; free with
/// `custdb_options_free`.
pub struct custdb_options {
    options: db::Options,
}

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
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn status_of(kind: &ErrorKind) -> custdb_status {
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
        | ErrorKind::NotCustdb { .. } => CUSTDB_ERR_SCHEMA,
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
        _ => CUSTDB_ERR_OTHER,
    }
}

/// An error on the C side of the boundary: a status and its message.
struct Failure {
    status: custdb_status,
    message: String,
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

fn failure(status: custdb_status, message: impl Into<String>) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}

fn to_cstring(message: String) -> CString {
    CString::new(message.replace('\0', " ")).unwrap_or_default()
}

fn remember(store: Option<&custdb_store>, f: &Failure) {
    let message = to_cstring(f.message.clone());
    if let Some(s) = store {
        if let Ok(mut slot) = s.last_error.lock() {
            *slot = message.clone();
        }
    }
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Runs `f` inside the panic boundary; records a failure's message on the
/// handle (when there is one) and on the thread.
fn guard(store: Option<&custdb_store>, f: impl FnOnce() -> Result<(), Failure>) -> custdb_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CUSTDB_OK,
        Ok(Err(failure)) => {
            remember(store, &failure);
            failure.status
        }
        Err(_) => {
            let f = failure(CUSTDB_ERR_PANIC, "custdb panicked; the call had no effect");
            remember(store, &f);
            f.status
        }
    }
}

/// The handle behind a pointer, or a NULL-argument failure.
///
/// # Safety
///
/// `store` is NULL or a pointer returned by `custdb_open` and not closed.
unsafe fn handle<'a>(store: *const custdb_store) -> Result<&'a custdb_store, Failure> {
    // SAFETY: the caller promises `store` is NULL or a live handle from
    // custdb_open; `as_ref` turns NULL into None.
    unsafe { store.as_ref() }.ok_or_else(|| failure(CUSTDB_ERR_NULL_ARGUMENT, "store is NULL"))
}

/// A checked UTF-8 string argument.
///
/// # Safety
///
/// `s` is NULL or points to a NUL-terminated string that stays valid for
/// the call.
unsafe fn text<'a>(name: &str, s: *const c_char) -> Result<&'a str, Failure> {
    if s.is_null() {
        return Err(failure(CUSTDB_ERR_NULL_ARGUMENT, format!("{name} is NULL")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(s) };
    bytes.to_str().map_err(|_| {
        failure(
            CUSTDB_ERR_INVALID_UTF8,
            format!("{name} is not valid UTF-8"),
        )
    })
}

/// An optional string argument: NULL is None.
///
/// # Safety
///
/// As [`text`].
unsafe fn opt_text<'a>(name: &str, s: *const c_char) -> Result<Option<&'a str>, Failure> {
    if s.is_null() {
        Ok(None)
    } else {
        // SAFETY: as the caller promised for `text`.
        unsafe { text(name, s) }.map(Some)
    }
}

/// Writes a value through an output pointer.
///
/// # Safety
///
/// `out` is NULL (refused) or valid for a write of `T`.
unsafe fn put<T>(name: &str, out: *mut T, value: T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(failure(CUSTDB_ERR_NULL_ARGUMENT, format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and, as the caller promised, valid for a write.
    unsafe { out.write(value) };
    Ok(())
}

fn check_out<T>(name: &str, out: *mut T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(failure(CUSTDB_ERR_NULL_ARGUMENT, format!("{name} is NULL")));
    }
    Ok(())
}

/// Serializes `value` and hands the string to C through `out`.
///
/// # Safety
///
/// `out` is valid for a write of a pointer (checked for NULL earlier).
unsafe fn put_json(out: *mut *mut c_char, value: &impl serde::Serialize) -> Result<(), Failure> {
    let json = serde_json::to_string(value)?;
    let c = to_cstring(json).into_raw();
    // SAFETY: as the caller promised.
    unsafe { put("out", out, c) }
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, Failure> {
    Ok(serde_json::from_str(json)?)
}

fn id<T: std::str::FromStr>(name: &str, s: &str) -> Result<T, Failure> {
    s.parse()
        .map_err(|_| failure(CUSTDB_ERR_INVALID, format!("invalid {name}: not an id")))
}

// Library and errors ---------------------------------------------------------

/// The custdb version, e.g. `"0.1.0"`. A static string: never free it.
#[no_mangle]
pub extern "C" fn custdb_version() -> *const c_char {
    static VERSION: &CStr = c"0.1.0";
    VERSION.as_ptr()
}

/// The message of the last failed call on `store`, or "" when none failed.
/// The pointer stays valid until the next failing call on the same handle or
/// `custdb_close`; with threads sharing a handle use `custdb_errmsg_copy`.
/// Returns "" for a NULL handle.
///
/// # Safety
///
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_errmsg(store: *const custdb_store) -> *const c_char {
    static EMPTY: &CStr = c"";
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller promises NULL or a live handle.
        match unsafe { store.as_ref() } {
            Some(s) => s
                .last_error
                .lock()
                .map(|m| m.as_ptr())
                .unwrap_or(EMPTY.as_ptr()),
            None => EMPTY.as_ptr(),
        }
    }));
    result.unwrap_or(EMPTY.as_ptr())
}

/// A copy of the last error message on `store`, which the caller frees with
/// `custdb_string_free`. NULL for a NULL handle.
///
/// # Safety
///
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_errmsg_copy(store: *const custdb_store) -> *mut c_char {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller promises NULL or a live handle.
        match unsafe { store.as_ref() } {
            Some(s) => s
                .last_error
                .lock()
                .map(|m| m.clone().into_raw())
                .unwrap_or(ptr::null_mut()),
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
    LAST_ERROR.with(|e| e.borrow().as_ptr())
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

fn new_handle(store: Store) -> *mut custdb_store {
    Box::into_raw(Box::new(custdb_store {
        store,
        last_error: Mutex::new(CString::default()),
    }))
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

/// Runs a call on a handle: the common body of most functions.
///
/// # Safety
///
/// `store` is NULL or a live handle.
unsafe fn on(
    store: *const custdb_store,
    f: impl FnOnce(&Store) -> Result<(), Failure>,
) -> custdb_status {
    // SAFETY: forwarded promise.
    let h = match catch_unwind(AssertUnwindSafe(|| unsafe { handle(store) })) {
        Ok(Ok(h)) => h,
        Ok(Err(f)) => {
            remember(None, &f);
            return f.status;
        }
        Err(_) => return CUSTDB_ERR_PANIC,
    };
    guard(Some(h), || f(&h.store))
}
/// Runs a call on a handle that answers with a JSON document through
/// `out`: the common body of the JSON functions.
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` is NULL (refused) or valid for a
/// write.
unsafe fn json<T: serde::Serialize>(
    store: *const custdb_store,
    out: *mut *mut c_char,
    f: impl FnOnce(&Store) -> Result<T, Failure>,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let value = f(s)?;
            put_json(out, &value)
        })
    }
}

// Customers -------------------------------------------------------------------

/// Creates a customer from a `NewCustomer` JSON object; `*out` is the
/// `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_create(
    store: *const custdb_store,
    new_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises: a live handle, NUL-terminated strings and
    // a writable `out`, as this function's contract requires.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let value = { s.customers().create(parse(text("new_json", new_json)?)?)? };
            put_json(out, &value)
        })
    }
}

/// Reads a customer by id; `*out` is the `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_get(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                s.customers()
                    .get(id("customer_id", text("customer_id", customer_id)?)?)?
            })
        })
    }
}

/// Reads an active customer by email; `*out` is the `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_get_by_email(
    store: *const custdb_store,
    email: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises: a live handle, NUL-terminated strings and
    // a writable `out`, as this function's contract requires.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let value = { s.customers().get_by_email(text("email", email)?)? };
            put_json(out, &value)
        })
    }
}

/// Applies a `CustomerPatch` JSON object if the customer is still at
/// `expected_version` (else `CUSTDB_ERR_CONFLICT`); `*out` is the
/// `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_update(
    store: *const custdb_store,
    customer_id: *const c_char,
    expected_version: i64,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                s.customers().update(
                    id("customer_id", text("customer_id", customer_id)?)?,
                    expected_version,
                    parse(text("patch_json", patch_json)?)?,
                )?
            })
        })
    }
}

/// Archives a customer; `*out` is the `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_archive(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                s.customers()
                    .archive(id("customer_id", text("customer_id", customer_id)?)?)?
            })
        })
    }
}

/// Full-text search; `*out` is a JSON array of `Customer`, best first.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_search(
    store: *const custdb_store,
    query: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                s.customers()
                    .search(text("query", query)?, limit as usize)?
            })
        })
    }
}

/// Adds an address from a `NewAddress` JSON object; `*out` is the
/// `Address`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_add_address(
    store: *const custdb_store,
    customer_id: *const c_char,
    address_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                s.customers().add_address(
                    id("customer_id", text("customer_id", customer_id)?)?,
                    parse(text("address_json", address_json)?)?,
                )?
            })
        })
    }
}

/// A customer's addresses; `*out` is a JSON array of `Address`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_addresses(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                s.customers()
                    .addresses(id("customer_id", text("customer_id", customer_id)?)?)?
            })
        })
    }
}

/// Records an interaction from a `NewInteraction` JSON object; `*out`
/// is the `Interaction`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_add_interaction(
    store: *const custdb_store,
    customer_id: *const c_char,
    interaction_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                s.customers().add_interaction(
                    id("customer_id", text("customer_id", customer_id)?)?,
                    parse(text("interaction_json", interaction_json)?)?,
                )?
            })
        })
    }
}

/// A page of a customer's interactions, newest first; `cursor` NULL for
/// the first page. `*out` is a `Page` object: `items` and `next_cursor`
/// (null on the last page).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_interactions(
    store: *const custdb_store,
    customer_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let cursor = opt_text("cursor", cursor)?
                    .map(|c| c.parse::<db::Cursor>())
                    .transpose()?;
                s.customers().interactions(
                    id("customer_id", text("customer_id", customer_id)?)?,
                    cursor.as_ref(),
                    limit as usize,
                )?
            })
        })
    }
}

// Catalog and stock -----------------------------------------------------------

/// Creates a product with its variants from a `NewProduct` JSON object;
/// `*out` is the `Product` with its variants.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_create(
    store: *const custdb_store,
    product_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let new: db::NewProduct = parse(text("product_json", product_json)?)?;
                s.write(|tx| tx.catalog().create_product(new))?
            })
        })
    }
}

/// A variant by SKU; `*out` is the `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_variant_get_by_sku(
    store: *const custdb_store,
    sku: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let sku = text("sku", sku)?;
                s.read(|r| r.catalog().variant_by_sku(sku))?
            })
        })
    }
}

/// Creates a warehouse from a `NewWarehouse` JSON object; `*out` is the
/// `Warehouse`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_warehouse_create(
    store: *const custdb_store,
    warehouse_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let new: db::NewWarehouse = parse(text("warehouse_json", warehouse_json)?)?;
                s.write(|tx| tx.inventory().create_warehouse(new))?
            })
        })
    }
}

/// Books `quantity` units in; `*out` is the `Movement`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_receive(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    quantity: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let v = id("variant_id", text("variant_id", variant_id)?)?;
                let w = id("warehouse_id", text("warehouse_id", warehouse_id)?)?;
                s.write(|tx| tx.inventory().receive(v, w, quantity))?
            })
        })
    }
}

/// Adjusts stock by `quantity_delta` (not 0) with a reason; `*out` is
/// the `Movement`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_adjust(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    quantity_delta: i64,
    reason: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let v = id("variant_id", text("variant_id", variant_id)?)?;
                let w = id("warehouse_id", text("warehouse_id", warehouse_id)?)?;
                let reason = text("reason", reason)?;
                s.write(|tx| tx.inventory().adjust(v, w, quantity_delta, reason))?
            })
        })
    }
}

/// Moves `quantity` units between warehouses; `*out` is the transfer
/// id as a JSON string.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_transfer(
    store: *const custdb_store,
    variant_id: *const c_char,
    from_warehouse_id: *const c_char,
    to_warehouse_id: *const c_char,
    quantity: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let v = id("variant_id", text("variant_id", variant_id)?)?;
                let from = id(
                    "from_warehouse_id",
                    text("from_warehouse_id", from_warehouse_id)?,
                )?;
                let to = id("to_warehouse_id", text("to_warehouse_id", to_warehouse_id)?)?;
                s.write(|tx| tx.inventory().transfer(v, from, to, quantity))?
            })
        })
    }
}

// Orders ----------------------------------------------------------------------

/// Places an order from a `NewOrder` JSON object (its
/// `idempotency_key` makes a retry return the first order); `*out` is
/// the `Order`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_place(
    store: *const custdb_store,
    order_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let new: db::NewOrder = parse(text("order_json", order_json)?)?;
                s.write(|tx| tx.orders().place(new))?
            })
        })
    }
}

/// Reads an order; `*out` is the `Order`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_get(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let o: db::OrderId = id("order_id", text("order_id", order_id)?)?;
                s.read(|r| r.orders().get(o))?
            })
        })
    }
}

/// Takes a captured payment from a `NewPayment` JSON object; `*out` is
/// the `Payment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_pay(
    store: *const custdb_store,
    order_id: *const c_char,
    payment_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let o: db::OrderId = id("order_id", text("order_id", order_id)?)?;
                let new: db::NewPayment = parse(text("payment_json", payment_json)?)?;
                s.write(|tx| tx.orders().pay(o, new))?
            })
        })
    }
}

/// Ships from a `NewShipment` JSON object (carrier, tracking number,
/// lines); `*out` is the `Shipment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_ship(
    store: *const custdb_store,
    order_id: *const c_char,
    shipment_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let o: db::OrderId = id("order_id", text("order_id", order_id)?)?;
                let new: db::NewShipment = parse(text("shipment_json", shipment_json)?)?;
                s.write(|tx| tx.orders().ship(o, new))?
            })
        })
    }
}

/// Takes a return from a `NewReturn` JSON object; `*out` is the
/// `Return`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_return(
    store: *const custdb_store,
    order_id: *const c_char,
    return_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let o: db::OrderId = id("order_id", text("order_id", order_id)?)?;
                let new: db::NewReturn = parse(text("return_json", return_json)?)?;
                s.write(|tx| tx.orders().return_items(o, new))?
            })
        })
    }
}

/// Refunds from a `NewRefund` JSON object; `*out` is a JSON array of
/// the `Refund`s made.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_refund(
    store: *const custdb_store,
    order_id: *const c_char,
    refund_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let o: db::OrderId = id("order_id", text("order_id", order_id)?)?;
                let new: db::NewRefund = parse(text("refund_json", refund_json)?)?;
                s.write(|tx| tx.orders().refund(o, new))?
            })
        })
    }
}

/// A page of a customer's orders, newest first; `cursor` NULL for the
/// first page. `*out` is a `Page` of `OrderSummary`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_history(
    store: *const custdb_store,
    customer_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let c: db::CustomerId = id("customer_id", text("customer_id", customer_id)?)?;
                let cursor = opt_text("cursor", cursor)?
                    .map(|c| c.parse::<db::Cursor>())
                    .transpose()?;
                s.read(|r| r.orders().history(c, cursor.as_ref(), limit as usize))?
            })
        })
    }
}

// Consent and privacy ---------------------------------------------------------

/// Registers a purpose from a `NewPurpose` JSON object; `*out` is the
/// `Purpose`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_purpose_register(
    store: *const custdb_store,
    purpose_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let new: db::NewPurpose = parse(text("purpose_json", purpose_json)?)?;
                s.write(|tx| tx.consent().register_purpose(new))?
            })
        })
    }
}

/// Records a consent event from a `NewConsent` JSON object; `*out` is
/// the `ConsentEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_record(
    store: *const custdb_store,
    consent_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let new: db::NewConsent = parse(text("consent_json", consent_json)?)?;
                s.write(|tx| tx.consent().record(new))?
            })
        })
    }
}

/// Withdraws a customer's consent to a purpose, collected by
/// `collection_method` (`"email"`, `"web_form"`, ...); `*out` is the
/// `ConsentEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_withdraw(
    store: *const custdb_store,
    customer_id: *const c_char,
    purpose_id: *const c_char,
    collection_method: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let c: db::CustomerId = id("customer_id", text("customer_id", customer_id)?)?;
                let method: db::CollectionMethod = parse(&serde_json::to_string(text(
                    "collection_method",
                    collection_method,
                )?)?)?;
                let new = db::NewConsent::new(
                    c,
                    text("purpose_id", purpose_id)?,
                    db::ConsentState::Withdrawn,
                    method,
                );
                s.write(|tx| tx.consent().record(new))?
            })
        })
    }
}

/// Everything held about a customer; `*out` is the `SubjectExport`
/// JSON document (format `custdb.subject-export`).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_subject_export(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let c: db::CustomerId = id("customer_id", text("customer_id", customer_id)?)?;
                s.read(|r| r.privacy().export(c))?
            })
        })
    }
}

/// Erases a customer and scrubs the file; `*out` is the
/// `ErasureReport`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_subject_erase(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        json(store, out, |s| {
            Ok({
                let c: db::CustomerId = id("customer_id", text("customer_id", customer_id)?)?;
                s.erase_customer(c)?
            })
        })
    }
}

// Audit, backup, check --------------------------------------------------------

/// Runs every consistency check; `*out` is a JSON array of the problems
/// found (empty when all is well).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write. On success `*out` is a
/// JSON string to free with `custdb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn custdb_check(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    // SAFETY: forwarded promises: a live handle, NUL-terminated strings and
    // a writable `out`, as this function's contract requires.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let value = { s.check()?.problems };
            put_json(out, &value)
        })
    }
}

// Fixed-shape results ----------------------------------------------------------

/// Units of a variant available across all warehouses.
///
/// # Safety
///
/// `store` NULL or live; `variant_id` NULL or NUL-terminated; `out` NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_available(
    store: *const custdb_store,
    variant_id: *const c_char,
    out: *mut i64,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let v = id("variant_id", text("variant_id", variant_id)?)?;
            let n = s.read(|r| r.inventory().available(v))?;
            put("out", out, n)
        })
    }
}

/// The balance of a variant in one warehouse.
///
/// # Safety
///
/// `store` NULL or live; ids NULL or NUL-terminated; `out` NULL or valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_level_get(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    out: *mut custdb_stock_level,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let v = id("variant_id", text("variant_id", variant_id)?)?;
            let w = id("warehouse_id", text("warehouse_id", warehouse_id)?)?;
            let l = s.read(|r| r.inventory().level(v, w))?;
            put(
                "out",
                out,
                custdb_stock_level {
                    on_hand: l.on_hand,
                    reserved: l.reserved,
                    available: l.available,
                },
            )
        })
    }
}

/// Cancels an order before shipment, with a reason.
///
/// # Safety
///
/// `store` NULL or live; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_cancel(
    store: *const custdb_store,
    order_id: *const c_char,
    reason: *const c_char,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        on(store, |s| {
            let o: db::OrderId = id("order_id", text("order_id", order_id)?)?;
            let reason = text("reason", reason)?;
            s.write(|tx| tx.orders().cancel(o, reason))?;
            Ok(())
        })
    }
}

/// Whether the customer's data may be processed for the purpose at `at`
/// (RFC 3339; NULL for now). Writes 1 or 0 to `*out`.
///
/// # Safety
///
/// `store` NULL or live; strings NULL (`at` only) or NUL-terminated; `out`
/// NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_can_process(
    store: *const custdb_store,
    customer_id: *const c_char,
    purpose_id: *const c_char,
    at: *const c_char,
    out: *mut i32,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let c: db::CustomerId = id("customer_id", text("customer_id", customer_id)?)?;
            let purpose = text("purpose_id", purpose_id)?;
            let at = match opt_text("at", at)? {
                None => chrono::Utc::now(),
                Some(t) => chrono::DateTime::parse_from_rfc3339(t)
                    .map_err(|_| failure(CUSTDB_ERR_INVALID, "invalid at: not an RFC 3339 time"))?
                    .with_timezone(&chrono::Utc),
            };
            let yes = s.read(|r| r.consent().can_process(c, purpose, at))?;
            put("out", out, i32::from(yes))
        })
    }
}

/// Verifies the audit trail's hash chain.
///
/// # Safety
///
/// `store` NULL or live; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_audit_verify(
    store: *const custdb_store,
    out: *mut custdb_audit_verification,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        on(store, |s| {
            check_out("out", out)?;
            let v = s.verify_audit()?;
            put(
                "out",
                out,
                custdb_audit_verification {
                    entries: v.entries,
                    ok: i32::from(v.is_ok()),
                    broken_seq: v.broken.map_or(0, |b| b.seq),
                },
            )
        })
    }
}

/// Backs the database up to a new file at `path` while others keep
/// writing. Writes the pages copied to `*out_pages` when it is not NULL.
///
/// # Safety
///
/// `store` NULL or live; `path` NULL or NUL-terminated; `out_pages` NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_backup(
    store: *const custdb_store,
    path: *const c_char,
    out_pages: *mut u64,
) -> custdb_status {
    // SAFETY: forwarded promises, as this function's contract requires.
    unsafe {
        on(store, |s| {
            let report = s.backup_to(text("path", path)?, |_| {})?;
            if !out_pages.is_null() {
                put("out_pages", out_pages, report.pages)?;
            }
            Ok(())
        })
    }
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
