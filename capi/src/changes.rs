//! The change feed (docs/CHANGES.md): consumers, reading, acknowledging,
//! waiting, retention and pruning.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Creates a consumer. `start` is plain text: `"oldest"` (from the oldest
/// event the feed holds), `"now"` (only what happens from now on; also
/// for NULL) or `"after"` (after `after_position`, e.g. the head read with
/// an export; ignored otherwise). `*out` is the `Consumer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_create_consumer(
    store: *const custdb_store,
    name: *const c_char,
    start: *const c_char,
    after_position: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = text("name", name)?.to_owned();
        let start = if start.is_null() {
            db::ConsumerStart::Now
        } else {
            match text("start", start)? {
                "oldest" => db::ConsumerStart::Oldest,
                "now" => db::ConsumerStart::Now,
                "after" => db::ConsumerStart::After(after_position),
                _ => {
                    return Err(failure(
                        CUSTDB_ERR_INVALID,
                        "invalid start: must be one of oldest, now, after".to_owned(),
                    ))
                }
            }
        };
        cx.write(move |tx| tx.changes().create_consumer(&name, start))
    })
}

/// Drops a consumer: the feed no longer keeps events for it.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_drop_consumer(
    store: *const custdb_store,
    name: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let name = text("name", name)?.to_owned();
        cx.write(move |tx| tx.changes().drop_consumer(&name))
    })
}

/// Up to `limit` (1 to 1000) events after the consumer's acknowledged
/// position, in position order; reading does not move the position.
/// `*out` is a JSON array of `ChangeEvent`. `CUSTDB_ERR_CHANGES_PRUNED`
/// when events the consumer has not acknowledged were pruned: it must
/// resynchronise.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_poll(
    store: *const custdb_store,
    name: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = text("name", name)?.to_owned();
        cx.read(move |r| r.changes().poll(&name, limit as usize))
    })
}

/// `custdb_changes_poll`, waiting up to `timeout_ms` (at most 3600000)
/// for an event when there is none: returns as soon as there is one, or
/// an empty array at the timeout. Not inside a unit of work (it would
/// wait for its own commit). `*out` is a JSON array of `ChangeEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_wait(
    store: *const custdb_store,
    name: *const c_char,
    limit: u32,
    timeout_ms: u64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = text("name", name)?;
        Ok(cx
            .outside_unit("custdb_changes_wait")?
            .changes()
            .wait(name, limit as usize, timeout_ms)?)
    })
}

/// Acknowledges every event up to `position`: the consumer reads after it
/// from now on (an older position changes nothing). Inside a unit of work
/// it commits with the unit's other writes. `*out` is the `Consumer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_ack(
    store: *const custdb_store,
    name: *const c_char,
    position: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = text("name", name)?.to_owned();
        cx.write(move |tx| tx.changes().ack(&name, position))
    })
}

/// Where the feed stands: `head`, `pruned_through`, `events`, `retention`
/// and `consumers`. `*out` is the `FeedStatus`.
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_status(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.changes().status())
    })
}

/// Sets how long events are kept, from a `FeedRetention` JSON object
/// (`acknowledged_s`, `unacknowledged_s` or null). `*out` is the
/// `FeedRetention` now in force.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_set_retention(
    store: *const custdb_store,
    retention_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let retention: db::FeedRetention = json_arg("retention_json", retention_json)?;
        cx.write(move |tx| tx.changes().set_retention(retention))
    })
}

/// Deletes up to `max_events` (1 to 10000) of the oldest events that
/// retention lets go; call again while the report's `more` is true.
/// `*out` is the `PruneReport`.
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_changes_prune(
    store: *const custdb_store,
    max_events: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.write(move |tx| tx.changes().prune(max_events as usize))
    })
}
