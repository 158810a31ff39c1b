//! Gift cards (docs/BALANCES.md).

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Issues a gift card from a `NewGiftCard` JSON object; `*out` is an
/// `IssuedGiftCard`: the card and its code, which custdb does not keep.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_gift_card_issue(
    store: *const custdb_store,
    gift_card_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewGiftCard = json_arg("gift_card_json", gift_card_json)?;
        cx.write(move |tx| tx.gift_cards().issue_gift_card(new))
    })
}

/// The card of a code (any case, with or without spaces and dashes);
/// `*out` is the `GiftCard`, with its balance.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_gift_card_get_by_code(
    store: *const custdb_store,
    code: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let code = text("code", code)?.to_owned();
        cx.read(move |r| r.gift_cards().gift_card_by_code(&code))
    })
}

/// A card's ledger, oldest first; `*out` is a JSON array of
/// `GiftCardEntry`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_gift_card_entries(
    store: *const custdb_store,
    gift_card_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::GiftCardId = id("gift_card_id", gift_card_id)?;
        cx.read(move |r| r.gift_cards().gift_card_entries(id))
    })
}

/// Corrects a card's balance by `amount` (a decimal string, negative to
/// take off) with a reason; `*out` is the `GiftCard`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_gift_card_adjust(
    store: *const custdb_store,
    gift_card_id: *const c_char,
    amount: *const c_char,
    reason: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::GiftCardId = id("gift_card_id", gift_card_id)?;
        let amount = decimal("amount", amount)?;
        let reason = text("reason", reason)?.to_owned();
        cx.write(move |tx| tx.gift_cards().adjust_gift_card(id, amount, &reason))
    })
}

/// Switches a card on (`active` non-zero) or off; `*out` is the
/// `GiftCard`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_gift_card_set_active(
    store: *const custdb_store,
    gift_card_id: *const c_char,
    active: i32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::GiftCardId = id("gift_card_id", gift_card_id)?;
        cx.write(move |tx| tx.gift_cards().set_gift_card_active(id, active != 0))
    })
}

/// Pays `amount` (a decimal string) of a pending order with a gift card;
/// `*out` is the `Payment`. A refund of it goes back onto the card.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_pay_gift_card(
    store: *const custdb_store,
    order_id: *const c_char,
    code: *const c_char,
    amount: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::OrderId = id("order_id", order_id)?;
        let code = text("code", code)?.to_owned();
        let amount = decimal("amount", amount)?;
        cx.write(move |tx| tx.orders().pay_with_gift_card(id, &code, amount))
    })
}
