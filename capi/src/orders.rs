//! Orders: placement, payments, shipments, returns, refunds, credit notes
//! and listings.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Places an order from a `NewOrder` JSON object (its `idempotency_key`
/// makes a retry return the first order); `*out` is the `Order`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_place(
    store: *const custdb_store,
    order_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewOrder = json_arg("order_json", order_json)?;
        cx.write(move |tx| tx.orders().place(new))
    })
}

/// Reads an order; `*out` is the `Order`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_get(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.orders().get(o))
    })
}

/// Reads an order by its number (1, 2, ...); `*out` is the `Order`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_get_by_number(
    store: *const custdb_store,
    number: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.orders().by_number(number))
    })
}

/// An order's events (placed, paid, shipped, ...), oldest first; `*out` is a
/// JSON array of `OrderEvent`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_events(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.orders().events(o))
    })
}

/// A page of a customer's orders, newest first; `cursor` NULL for the first
/// page; `limit` 1 to 1000. `*out` is a `Page` of `OrderSummary`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_history(
    store: *const custdb_store,
    customer_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.orders().history(c, cursor.as_ref(), limit as usize))
    })
}

/// A page of the orders in one status (`"pending"`, `"paid"`, ...: plain
/// text, not JSON), newest first; `cursor` NULL for the first page; `limit`
/// 1 to 1000. `*out` is a `Page` of `OrderSummary`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_list_by_status(
    store: *const custdb_store,
    status: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let status = choice("status", status, db::OrderStatus::parse)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.orders().by_status(status, cursor.as_ref(), limit as usize))
    })
}

/// Takes a captured payment from a `NewPayment` JSON object; `*out` is the
/// `Payment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_pay(
    store: *const custdb_store,
    order_id: *const c_char,
    payment_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewPayment = json_arg("payment_json", payment_json)?;
        cx.write(move |tx| tx.orders().pay(o, new))
    })
}

/// Records an authorized (not yet captured) payment from a `NewPayment`
/// JSON object; `*out` is the `Payment`. Capture it with
/// `custdb_payment_capture`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_authorize_payment(
    store: *const custdb_store,
    order_id: *const c_char,
    payment_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewPayment = json_arg("payment_json", payment_json)?;
        cx.write(move |tx| tx.orders().authorize_payment(o, new))
    })
}

/// Captures an authorized payment; `*out` is the `Payment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_payment_capture(
    store: *const custdb_store,
    payment_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let p: db::PaymentId = id("payment_id", payment_id)?;
        cx.write(move |tx| tx.orders().capture_payment(p))
    })
}

/// Marks an authorized payment failed (declined, voided); `*out` is the
/// `Payment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_payment_fail(
    store: *const custdb_store,
    payment_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let p: db::PaymentId = id("payment_id", payment_id)?;
        cx.write(move |tx| tx.orders().fail_payment(p))
    })
}

/// A payment by id; `*out` is the `Payment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_payment_get(
    store: *const custdb_store,
    payment_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let p: db::PaymentId = id("payment_id", payment_id)?;
        cx.read(move |r| r.orders().payment(p))
    })
}

/// An order's payments, oldest first; `*out` is a JSON array of `Payment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_payments(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.orders().payments(o))
    })
}

/// Ships from a `NewShipment` JSON object (carrier, tracking number,
/// lines); `*out` is the `Shipment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_ship(
    store: *const custdb_store,
    order_id: *const c_char,
    shipment_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewShipment = json_arg("shipment_json", shipment_json)?;
        cx.write(move |tx| tx.orders().ship(o, new))
    })
}

/// An order's shipments, oldest first; `*out` is a JSON array of
/// `Shipment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_shipments(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.orders().shipments(o))
    })
}

/// Marks a shipped order delivered.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_deliver(
    store: *const custdb_store,
    order_id: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.write(move |tx| tx.orders().mark_delivered(o))
    })
}

/// Cancels an order before shipment, with a reason; its reservations are
/// released.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_cancel(
    store: *const custdb_store,
    order_id: *const c_char,
    reason: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        let reason = string("reason", reason)?;
        cx.write(move |tx| tx.orders().cancel(o, &reason))
    })
}

/// Takes a return from a `NewReturn` JSON object; `*out` is the `Return`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_return(
    store: *const custdb_store,
    order_id: *const c_char,
    return_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewReturn = json_arg("return_json", return_json)?;
        cx.write(move |tx| tx.orders().return_items(o, new))
    })
}

/// An order's returns, oldest first; `*out` is a JSON array of `Return`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_returns(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.orders().returns(o))
    })
}

/// Refunds from a `NewRefund` JSON object; `*out` is a JSON array of the
/// `Refund`s made (one per captured payment drawn on).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_refund(
    store: *const custdb_store,
    order_id: *const c_char,
    refund_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewRefund = json_arg("refund_json", refund_json)?;
        cx.write(move |tx| tx.orders().refund(o, new))
    })
}

/// An order's refunds, oldest first; `*out` is a JSON array of `Refund`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_refunds(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.orders().refunds(o))
    })
}

/// Issues a credit note from a `NewCreditNote` JSON object; `*out` is the
/// `CreditNote`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_credit_note_issue(
    store: *const custdb_store,
    credit_note_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewCreditNote = json_arg("credit_note_json", credit_note_json)?;
        cx.write(move |tx| tx.orders().issue_credit_note(&new))
    })
}

/// A credit note by id; `*out` is the `CreditNote`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_credit_note_get(
    store: *const custdb_store,
    credit_note_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CreditNoteId = id("credit_note_id", credit_note_id)?;
        cx.write(move |tx| tx.orders().credit_note(id))
    })
}
/// What a customer has spent, one `Money` per currency (paid orders less
/// refunds); `*out` is a JSON array of `Money`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_lifetime_value(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let c: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.orders().lifetime_value(c))
    })
}

/// Units and revenue per variant and currency for orders placed from
/// `from` up to `to` (RFC 3339; `to` after `from`), cancelled orders
/// excluded, by SKU; `*out` is a JSON array of `VariantSales`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_sales_by_variant(
    store: *const custdb_store,
    from: *const c_char,
    to: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let from = time("from", from)?.ok_or_else(|| failure(CUSTDB_ERR_NULL_ARGUMENT, "from is NULL"))?;
        let to = time("to", to)?.ok_or_else(|| failure(CUSTDB_ERR_NULL_ARGUMENT, "to is NULL"))?;
        cx.read(move |r| r.orders().sales_by_variant(from, to))
    })
}
