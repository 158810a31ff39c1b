//! Privacy: subject export and erasure.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Everything held about a customer; `*out` is the `SubjectExport` JSON
/// document (format `custdb.subject-export`).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_subject_export(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.privacy().export(c))
    })
}

/// Erases a customer and scrubs the file; `*out` is the `ErasureReport`.
/// A unit of work of its own: `CUSTDB_ERR_REENTRANT` inside one.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_subject_erase(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        Ok(cx.outside_unit("custdb_subject_erase")?.erase_customer(c)?)
    })
}
