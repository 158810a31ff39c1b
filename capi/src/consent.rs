//! Consent: purposes and the consent ledger.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Registers a purpose from a `NewPurpose` JSON object; `*out` is the
/// `Purpose`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_purpose_register(
    store: *const custdb_store,
    purpose_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewPurpose = json_arg("purpose_json", purpose_json)?;
        cx.write(move |tx| tx.consent().register_purpose(new))
    })
}

/// Records a consent event from a `NewConsent` JSON object; `*out` is the
/// `ConsentEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_record(
    store: *const custdb_store,
    consent_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewConsent = json_arg("consent_json", consent_json)?;
        cx.write(move |tx| tx.consent().record(new))
    })
}

/// Withdraws a customer's consent to a purpose, collected by
/// `collection_method` (plain text, not JSON: `"email"`, `"web_form"`, ...;
/// another name is `CUSTDB_ERR_INVALID` listing the accepted ones); `*out`
/// is the `ConsentEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_withdraw(
    store: *const custdb_store,
    customer_id: *const c_char,
    purpose_id: *const c_char,
    collection_method: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        let purpose = string("purpose_id", purpose_id)?;
        let method = choice("collection_method", collection_method, db::CollectionMethod::parse)?;
        let new = db::NewConsent::new(c, purpose, db::ConsentState::Withdrawn, method);
        cx.write(move |tx| tx.consent().record(new))
    })
}

/// Whether the customer's data may be processed for the purpose at `at`
/// (RFC 3339; NULL for now). Writes 1 or 0 to `*out`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_can_process(
    store: *const custdb_store,
    customer_id: *const c_char,
    purpose_id: *const c_char,
    at: *const c_char,
    out: *mut i32,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        let purpose = string("purpose_id", purpose_id)?;
        let at = time("at", at)?.unwrap_or_else(chrono::Utc::now);
        let yes = cx.read(move |r| r.consent().can_process(c, &purpose, at))?;
        Ok(i32::from(yes))
    })
}
