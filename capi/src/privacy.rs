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
/// Sets the retention period of a category (`category` plain text:
/// `"inactive_customers"`, ...; another name is `CUSTDB_ERR_INVALID` listing
/// them), replacing any earlier one; `*out` is the `RetentionRule`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_retention_rule_set(
    store: *const custdb_store,
    category: *const c_char,
    period_days: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let category = choice("category", category, db::RetentionCategory::parse)?;
        cx.write(move |tx| tx.privacy().set_retention_rule(category, period_days))
    })
}

/// The retention rules; `*out` is a JSON array of `RetentionRule`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_retention_rules(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.privacy().retention_rules())
    })
}

/// Applies the retention rules as of `at` (RFC 3339; NULL for now): erases
/// what is past its period, then scrubs the file. `*out` is the
/// `RetentionReport`. A unit of work of its own: `CUSTDB_ERR_REENTRANT`
/// inside one.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_retention_apply(
    store: *const custdb_store,
    at: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let at = time_or_now("at", at)?;
        Ok(cx.outside_unit("custdb_retention_apply")?.apply_retention(at)?)
    })
}

/// What `custdb_retention_apply` would do as of `at` (RFC 3339; NULL for
/// now), changing nothing; `*out` is the `RetentionReport` (`dry_run`
/// true).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_retention_plan(
    store: *const custdb_store,
    at: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let at = time_or_now("at", at)?;
        Ok(cx.outside_unit("custdb_retention_plan")?.plan_retention(at)?)
    })
}
