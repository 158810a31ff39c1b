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
        let at = time_or_now("at", at)?;
        let yes = cx.read(move |r| r.consent().can_process(c, &purpose, at))?;
        Ok(i32::from(yes))
    })
}
/// A purpose by id; `*out` is the `Purpose`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_purpose_get(
    store: *const custdb_store,
    purpose_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id = string("purpose_id", purpose_id)?;
        cx.read(move |r| r.consent().purpose(&id))
    })
}

/// Every registered purpose; `*out` is a JSON array of `Purpose`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_purpose_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.consent().purposes())
    })
}

/// A consent event by id; `*out` is the `ConsentEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_event_get(
    store: *const custdb_store,
    event_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ConsentEventId = id("event_id", event_id)?;
        cx.read(move |r| r.consent().event(id))
    })
}

/// A customer's consent to each purpose that has events, at `at` (RFC 3339;
/// NULL for now); `*out` is a JSON array of `ConsentStatus`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_states(
    store: *const custdb_store,
    customer_id: *const c_char,
    at: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        let at = time_or_now("at", at)?;
        cx.read(move |r| r.consent().states_at(c, at))
    })
}

/// A customer's consent to one purpose at `at` (RFC 3339; NULL for now);
/// `*out` is the `ConsentStatus`, or JSON `null` when the customer has no
/// event for the purpose by then.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_state_at(
    store: *const custdb_store,
    customer_id: *const c_char,
    purpose_id: *const c_char,
    at: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        let purpose = string("purpose_id", purpose_id)?;
        let at = time_or_now("at", at)?;
        cx.read(move |r| r.consent().state_at(c, &purpose, at))
    })
}

/// A customer's consent events, oldest first, for every purpose or only
/// `purpose_id` (NULL for all); `*out` is a JSON array of `ConsentEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_history(
    store: *const custdb_store,
    customer_id: *const c_char,
    purpose_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        let purpose = opt_string("purpose_id", purpose_id)?;
        cx.read(move |r| r.consent().history(c, purpose.as_deref()))
    })
}

/// The customers whose consent to a purpose is given and not expired at
/// `at` (RFC 3339; NULL for now), by id; `cursor` NULL for the first page;
/// `limit` 1 to 1000. `*out` is a `Page` of customer ids (strings).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_consenting(
    store: *const custdb_store,
    purpose_id: *const c_char,
    at: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let purpose = string("purpose_id", purpose_id)?;
        let at = time_or_now("at", at)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.consent().consenting(&purpose, at, cursor.as_ref(), limit as usize))
    })
}

/// A consent event as a Kantara consent receipt (v1.1): `controller_json`
/// is a `Controller` object (`name`, `contact`, `address`, `email`, `phone`,
/// optional `url`); `policy_url` and `service` are plain text. `*out` is the
/// `ConsentReceipt`, with the specification's field names.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_consent_receipt(
    store: *const custdb_store,
    event_id: *const c_char,
    controller_json: *const c_char,
    policy_url: *const c_char,
    service: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ConsentEventId = id("event_id", event_id)?;
        let controller: db::Controller = json_arg("controller_json", controller_json)?;
        let policy_url = string("policy_url", policy_url)?;
        let service = string("service", service)?;
        cx.read(move |r| r.consent().receipt(id, &controller, &policy_url, &service))
    })
}
