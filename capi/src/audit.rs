//! Audit: querying the trail, its head, and verification against a saved
//! head. (`custdb_audit_verify` is with the whole-database operations.)

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

use crate::library::{custdb_audit_verification, verification};

/// A page of audit entries matching an `AuditFilter` JSON object
/// (`entity_type`, `entity_id`, `actor_id`, `from`, `to`; NULL for every
/// entry), oldest first; `cursor` NULL for the first page; `limit` 1 to
/// 1000. `*out` is a `Page` of `AuditEntry`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_audit_query(
    store: *const custdb_store,
    filter_json: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let filter: db::AuditFilter = json_arg_or_default("filter_json", filter_json)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.audit().query(&filter, cursor.as_ref(), limit as usize))
    })
}

/// The last entry of the audit trail, to keep outside the database and
/// check later with `custdb_audit_verify_against`; `*out` is the
/// `AuditHead` (`seq`, `hash`), or JSON `null` for an empty trail.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_audit_head(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.audit().head())
    })
}

/// Verifies the audit trail's hash chain, and that the entry a saved
/// `AuditHead` JSON object names is still there with the same hash (the
/// trail was not cut short or rewritten).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_audit_verify_against(
    store: *const custdb_store,
    head_json: *const c_char,
    out: *mut custdb_audit_verification,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let head: db::AuditHead = json_arg("head_json", head_json)?;
        let v = cx.read(move |r| r.audit().verify_against(&head))?;
        Ok(verification(&v))
    })
}
