//! The boundary every exported function crosses: the panic guard, the
//! last-error slots, argument checking (NULL, UTF-8, ids, JSON) and output
//! writing. The `ffi!` macro is the one place where a function's pointers
//! meet these helpers.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use custdb_core as db;

use crate::acting::custdb_actor;
use crate::handle::{custdb_store, Cx, ErrorSlots};
use crate::status::*;

/// The longest error message custdb hands to C, in bytes. A message that
/// quotes input (a JSON value of the wrong type, say) is cut here, so a
/// megabyte argument never comes back as a megabyte message.
pub(crate) const MAX_MESSAGE_BYTES: usize = 512;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// The last error recorded on the calling thread (for `custdb_last_error`).
pub(crate) fn thread_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A message as a C string: NULs replaced, cut to [`MAX_MESSAGE_BYTES`] at
/// a character boundary with "…" to show the cut.
pub(crate) fn to_cstring(message: &str) -> CString {
    let mut text = message.replace('\0', " ");
    if text.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    CString::new(text).unwrap_or_default()
}

/// Records a failure on the thread and, when there is one, on the handle
/// (in the calling thread's slot).
pub(crate) fn remember(slots: Option<&ErrorSlots>, f: &Failure) {
    let message = to_cstring(&f.message);
    if let Some(s) = slots {
        s.remember(message.clone());
    }
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Runs `f` inside the panic boundary; records a failure's message on the
/// handle (when there is one) and on the thread.
pub(crate) fn guard(
    slots: Option<&ErrorSlots>,
    f: impl FnOnce() -> Result<(), Failure>,
) -> custdb_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CUSTDB_OK,
        Ok(Err(failure)) => {
            remember(slots, &failure);
            failure.status
        }
        Err(_) => {
            let f = failure(CUSTDB_ERR_PANIC, "custdb panicked; the call had no effect");
            remember(slots, &f);
            f.status
        }
    }
}

/// Runs a call on a handle: the body of every function on a store.
///
/// # Safety
///
/// `store` is NULL or a live handle.
pub(crate) unsafe fn call(
    store: *const custdb_store,
    f: impl FnOnce(&Cx<'_>) -> Result<(), Failure>,
) -> custdb_status {
    // SAFETY: the caller promises NULL or a live handle; `as_ref` turns
    // NULL into None.
    match unsafe { store.as_ref() } {
        None => {
            let f = failure(CUSTDB_ERR_NULL_ARGUMENT, "store is NULL");
            remember(None, &f);
            f.status
        }
        Some(h) => guard(Some(&h.errors), || f(&Cx::new(h))),
    }
}

/// A call that answers with a JSON document through `out`.
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` is NULL (refused) or valid for
/// a write.
pub(crate) unsafe fn call_json<T: serde::Serialize>(
    store: *const custdb_store,
    out: *mut *mut c_char,
    f: impl FnOnce(&Cx<'_>) -> Result<T, Failure>,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        call(store, |cx| {
            check_out("out", out)?;
            let value = f(cx)?;
            put_json(out, &value)
        })
    }
}

/// A call that answers with a plain value through `out`.
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` is NULL (refused) or valid for
/// a write of `T`.
pub(crate) unsafe fn call_value<T>(
    store: *const custdb_store,
    out: *mut T,
    f: impl FnOnce(&Cx<'_>) -> Result<T, Failure>,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        call(store, |cx| {
            check_out("out", out)?;
            let value = f(cx)?;
            put("out", out, value)
        })
    }
}

/// Runs a call on an actor handle: the body of every `custdb_actor_*`
/// function.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle.
pub(crate) unsafe fn call_actor(
    actor: *const custdb_actor,
    f: impl FnOnce(&db::ActorStore) -> Result<(), Failure>,
) -> custdb_status {
    // SAFETY: the caller promises NULL or a live handle; `as_ref` turns
    // NULL into None.
    match unsafe { actor.as_ref() } {
        None => {
            let f = failure(CUSTDB_ERR_NULL_ARGUMENT, "actor is NULL");
            remember(None, &f);
            f.status
        }
        Some(a) => guard(Some(&a.errors), || {
            crate::handle::refuse_inside_unit(&a.units, "a call on an actor handle")?;
            f(&a.acting)
        }),
    }
}

/// An actor call that answers with a JSON document through `out`.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; `out` NULL (refused) or valid
/// for a write.
pub(crate) unsafe fn call_actor_json<T: serde::Serialize>(
    actor: *const custdb_actor,
    out: *mut *mut c_char,
    f: impl FnOnce(&db::ActorStore) -> Result<T, Failure>,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        call_actor(actor, |a| {
            check_out("out", out)?;
            let value = f(a)?;
            put_json(out, &value)
        })
    }
}

/// An actor call that answers with a plain value through `out`.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; `out` NULL (refused) or valid
/// for a write of `T`.
pub(crate) unsafe fn call_actor_value<T>(
    actor: *const custdb_actor,
    out: *mut T,
    f: impl FnOnce(&db::ActorStore) -> Result<T, Failure>,
) -> custdb_status {
    // SAFETY: forwarded promises.
    unsafe {
        call_actor(actor, |a| {
            check_out("out", out)?;
            let value = f(a)?;
            put("out", out, value)
        })
    }
}

/// The body of an exported function on a store handle: the panic boundary,
/// the handle's NULL check, the `out` check and writing the answer.
///
/// `ffi!(store, json out, |cx| expr)` answers JSON through `char **out`;
/// `ffi!(store, value out, |cx| expr)` writes a plain value through `out`;
/// `ffi!(store, |cx| expr)` answers with the status alone; the same with
/// `actor a` in place of `store` for an actor handle. `expr` is a
/// `Result<_, Failure>` and may call the argument helpers of this module
/// (`string`, `id`, `json_arg`, ...) on the function's pointers.
macro_rules! ffi {
    ($store:ident, json $out:ident, |$cx:ident| $body:expr) => {
        // SAFETY: every function written with `ffi!` promises in its
        // `# Safety` section what these helpers rely on: `store` is NULL or
        // a live handle from custdb_open, custdb_open_in_memory or
        // custdb_restore that no other thread is closing; each string
        // argument is NULL or NUL-terminated and readable for the whole
        // call; each output pointer is NULL or valid for one write. The
        // helpers refuse every NULL with CUSTDB_ERR_NULL_ARGUMENT and read
        // nothing after the call returns.
        unsafe { $crate::boundary::call_json($store, $out, |$cx| $body) }
    };
    ($store:ident, value $out:ident, |$cx:ident| $body:expr) => {
        // SAFETY: as in the first arm: the function's `# Safety` contract.
        unsafe { $crate::boundary::call_value($store, $out, |$cx| $body) }
    };
    ($store:ident, |$cx:ident| $body:expr) => {
        // SAFETY: as in the first arm: the function's `# Safety` contract.
        unsafe { $crate::boundary::call($store, |$cx| $body) }
    };
    // The same three on an actor handle (`custdb_actor_*` functions).
    (actor $actor:ident, json $out:ident, |$a:ident| $body:expr) => {
        // SAFETY: as in the first arm, with `actor` a live actor handle.
        unsafe { $crate::boundary::call_actor_json($actor, $out, |$a| $body) }
    };
    (actor $actor:ident, value $out:ident, |$a:ident| $body:expr) => {
        // SAFETY: as in the first arm, with `actor` a live actor handle.
        unsafe { $crate::boundary::call_actor_value($actor, $out, |$a| $body) }
    };
    (actor $actor:ident, |$a:ident| $body:expr) => {
        // SAFETY: as in the first arm, with `actor` a live actor handle.
        unsafe { $crate::boundary::call_actor($actor, |$a| $body) }
    };
}
pub(crate) use ffi;

/// A checked UTF-8 string argument, borrowed for the call.
///
/// # Safety
///
/// `s` is NULL or points to a NUL-terminated string that stays valid for
/// the call.
/// A decimal amount given as plain text (`"9.99"`), read as every input
/// record's money is (`custdb::money::parse_amount`).
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn decimal(name: &str, s: *const c_char) -> Result<db::Decimal, Failure> {
    let t = text(name, s)?;
    db::money::parse_amount(t, name).map_err(Failure::from)
}

pub(crate) unsafe fn text<'a>(name: &str, s: *const c_char) -> Result<&'a str, Failure> {
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

/// A required string argument, copied (a unit of work runs the call on
/// another thread, so nothing borrowed from C crosses).
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn string(name: &str, s: *const c_char) -> Result<String, Failure> {
    // SAFETY: forwarded promise.
    unsafe { text(name, s) }.map(str::to_owned)
}

/// An optional string argument: NULL is None.
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn opt_string(name: &str, s: *const c_char) -> Result<Option<String>, Failure> {
    if s.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded promise.
        unsafe { string(name, s) }.map(Some)
    }
}

/// An id argument (the 36-character UUID text).
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn id<T: std::str::FromStr>(name: &str, s: *const c_char) -> Result<T, Failure> {
    // SAFETY: forwarded promise.
    let t = unsafe { text(name, s) }?;
    t.parse().map_err(|_| {
        failure(
            CUSTDB_ERR_INVALID,
            format!("invalid {name}: not an id (the 36-character text of a UUID)"),
        )
    })
}

/// A pagination cursor: NULL for the first page, else the `next_cursor` of
/// the page before.
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn page_cursor(
    name: &str,
    s: *const c_char,
) -> Result<Option<db::Cursor>, Failure> {
    // SAFETY: forwarded promise.
    match unsafe { opt_string(name, s) }? {
        None => Ok(None),
        Some(c) => Ok(Some(c.parse::<db::Cursor>()?)),
    }
}

/// An instant argument in RFC 3339; NULL is None.
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn time(
    name: &str,
    s: *const c_char,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, Failure> {
    // SAFETY: forwarded promise.
    match unsafe { opt_string(name, s) }? {
        None => Ok(None),
        Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
            .map(|t| Some(t.with_timezone(&chrono::Utc)))
            .map_err(|_| {
                failure(
                    CUSTDB_ERR_INVALID,
                    format!("invalid {name}: not an RFC 3339 time such as 2026-01-31T09:00:00Z"),
                )
            }),
    }
}

/// An instant argument in RFC 3339; NULL is now.
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn time_or_now(
    name: &str,
    s: *const c_char,
) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    // SAFETY: forwarded promise.
    Ok(unsafe { time(name, s) }?.unwrap_or_else(chrono::Utc::now))
}

/// An optional JSON argument: NULL is `T::default()` (a filter that
/// selects everything), else as [`json_arg`].
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn json_arg_or_default<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    s: *const c_char,
) -> Result<T, Failure> {
    if s.is_null() {
        Ok(T::default())
    } else {
        // SAFETY: forwarded promise.
        unsafe { json_arg(name, s) }
    }
}

/// A plain-text choice (an enum's snake_case name), parsed as text, never
/// as JSON: a wrong name is `CUSTDB_ERR_INVALID` listing the right ones.
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn choice<T>(
    name: &str,
    s: *const c_char,
    parse: impl FnOnce(&str, &str) -> db::Result<T>,
) -> Result<T, Failure> {
    // SAFETY: forwarded promise.
    let t = unsafe { text(name, s) }?;
    Ok(parse(t, name)?)
}

/// A JSON argument deserialized into `T`. A failure names the argument and
/// the path inside it (`order_json: lines[0].quantity: invalid type...`).
///
/// # Safety
///
/// As [`text`].
pub(crate) unsafe fn json_arg<T: serde::de::DeserializeOwned>(
    name: &str,
    s: *const c_char,
) -> Result<T, Failure> {
    // SAFETY: forwarded promise.
    let t = unsafe { text(name, s) }?;
    let mut de = serde_json::Deserializer::from_str(t);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at {path}")
        };
        failure(
            CUSTDB_ERR_JSON,
            format!("invalid JSON in {name}{at}: {}", e.into_inner()),
        )
    })?;
    de.end().map_err(|e| {
        failure(
            CUSTDB_ERR_JSON,
            format!("invalid JSON in {name}: {e} (text after the JSON value)"),
        )
    })?;
    Ok(value)
}

/// Fails when `out` is NULL, before any work is done.
pub(crate) fn check_out<T>(name: &str, out: *mut T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(failure(CUSTDB_ERR_NULL_ARGUMENT, format!("{name} is NULL")));
    }
    Ok(())
}

/// Writes a value through an output pointer.
///
/// # Safety
///
/// `out` is NULL (refused) or valid for a write of `T`.
pub(crate) unsafe fn put<T>(name: &str, out: *mut T, value: T) -> Result<(), Failure> {
    check_out(name, out)?;
    // SAFETY: non-NULL and, as the caller promised, valid for a write.
    unsafe { out.write(value) };
    Ok(())
}

/// Serializes `value` and hands the string to C through `out`.
///
/// # Safety
///
/// `out` is NULL (refused) or valid for a write of a pointer.
pub(crate) unsafe fn put_json(
    out: *mut *mut c_char,
    value: &impl serde::Serialize,
) -> Result<(), Failure> {
    let json = serde_json::to_string(value)?;
    // JSON text has no NUL byte (serde_json escapes U+0000 as \u0000).
    let c = CString::new(json)
        .map_err(|_| failure(CUSTDB_ERR_INTERNAL, "a JSON answer held a NUL byte"))?
        .into_raw();
    // SAFETY: as the caller promised.
    unsafe { put("out", out, c) }
}

/// Copies a message the caller frees with `custdb_string_free`.
pub(crate) fn owned_message(message: &CStr) -> *mut c_char {
    message.to_owned().into_raw()
}
