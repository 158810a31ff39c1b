//! Loyalty points (docs/BALANCES.md).

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Sets the loyalty rule of a currency from a `NewLoyaltyRule` JSON
/// object, replacing the one there; `*out` is the `LoyaltyRule`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_loyalty_rule_set(
    store: *const custdb_store,
    rule_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewLoyaltyRule = json_arg("rule_json", rule_json)?;
        cx.write(move |tx| tx.loyalty().set_loyalty_rule(new))
    })
}

/// Removes the loyalty rule of a currency (an ISO 4217 code).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_loyalty_rule_remove(
    store: *const custdb_store,
    currency: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let currency = db::Currency::parse(text("currency", currency)?, "currency")?;
        cx.write(move |tx| tx.loyalty().remove_loyalty_rule(currency))
    })
}

/// Every loyalty rule, by currency; `*out` is a JSON array of
/// `LoyaltyRule`.
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_loyalty_rules(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.loyalty().loyalty_rules())
    })
}

/// A customer's loyalty points: what can be spent now and what expires
/// next; `*out` is the `LoyaltyAccount`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_loyalty_get(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.loyalty().loyalty_account(id))
    })
}

/// A customer's points ledger, oldest first; `*out` is a JSON array of
/// `LoyaltyEntry`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_loyalty_entries(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.loyalty().loyalty_entries(id))
    })
}

/// Gives (positive) or takes (negative) a customer's points with a reason;
/// given points expire as the rule of `expiry_currency` says (NULL: never);
/// `*out` is the `LoyaltyAccount`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_loyalty_adjust(
    store: *const custdb_store,
    customer_id: *const c_char,
    points: i64,
    reason: *const c_char,
    expiry_currency: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let reason = text("reason", reason)?.to_owned();
        let expiry = match opt_string("expiry_currency", expiry_currency)? {
            Some(code) => Some(db::Currency::parse(&code, "expiry_currency")?),
            None => None,
        };
        cx.write(move |tx| {
            tx.loyalty()
                .adjust_loyalty_points(id, points, &reason, expiry)
        })
    })
}

/// Writes the expiry of points past their date, for up to 1,000
/// customers per call; `*out` is `PointsExpired` (call again while its
/// `more` is true).
///
/// # Safety
///
/// `store` is NULL or a live handle; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_loyalty_expire(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.write(move |tx| tx.loyalty().expire_loyalty_points())
    })
}

/// Pays a pending order with `points` of its customer's loyalty points,
/// worth their value under the rule of the order's currency; `*out` is the
/// `Payment`. A refund of it gives the points back.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_pay_points(
    store: *const custdb_store,
    order_id: *const c_char,
    points: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::OrderId = id("order_id", order_id)?;
        cx.write(move |tx| tx.orders().pay_with_points(id, points))
    })
}
