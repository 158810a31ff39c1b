//! Store credit (docs/BALANCES.md).

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// A customer's store credit in every currency it has had any; `*out` is
/// a JSON array of `StoreCredit` (empty when it never had store credit).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_store_credit_get(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.store_credit().store_credit(id))
    })
}

/// A customer's store credit ledger in one currency (an ISO 4217 code),
/// oldest first; `*out` is a JSON array of `StoreCreditEntry`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_store_credit_entries(
    store: *const custdb_store,
    customer_id: *const c_char,
    currency: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let currency = db::Currency::parse(text("currency", currency)?, "currency")?;
        cx.read(move |r| r.store_credit().store_credit_entries(id, currency))
    })
}

/// Corrects a customer's store credit in one currency by `amount` (a
/// decimal string, negative to take off) with a reason; `*out` is the
/// `StoreCredit`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_store_credit_adjust(
    store: *const custdb_store,
    customer_id: *const c_char,
    currency: *const c_char,
    amount: *const c_char,
    reason: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let currency = db::Currency::parse(text("currency", currency)?, "currency")?;
        let amount = decimal("amount", amount)?;
        let reason = text("reason", reason)?.to_owned();
        cx.write(move |tx| {
            tx.store_credit()
                .adjust_store_credit(id, currency, amount, &reason)
        })
    })
}

/// Pays `amount` (a decimal string) of a pending order with its
/// customer's store credit; `*out` is the `Payment`. A refund of it goes
/// back to store credit.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_pay_store_credit(
    store: *const custdb_store,
    order_id: *const c_char,
    amount: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::OrderId = id("order_id", order_id)?;
        let amount = decimal("amount", amount)?;
        cx.write(move |tx| tx.orders().pay_with_store_credit(id, amount))
    })
}
