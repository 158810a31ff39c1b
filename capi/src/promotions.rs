//! Promotions and coupons (docs/PRICING.md, "Promotions"). An order
//! priced by the catalog takes a coupon in its JSON (`"coupon": "CODE"`).

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Creates a promotion from a `NewPromotion` JSON object (percentages and
/// amounts as decimal strings); `*out` is the `Promotion`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_promotion_create(
    store: *const custdb_store,
    promotion_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewPromotion = json_arg("promotion_json", promotion_json)?;
        cx.write(move |tx| tx.promotions().create_promotion(new))
    })
}

/// Switches a promotion on (`active` non-zero) or off; `*out` is the
/// `Promotion`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_promotion_set_active(
    store: *const custdb_store,
    promotion_id: *const c_char,
    active: i32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::PromotionId = id("promotion_id", promotion_id)?;
        cx.write(move |tx| tx.promotions().set_promotion_active(id, active != 0))
    })
}

/// Every promotion, by key; `*out` is a JSON array of `Promotion`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_promotion_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.promotions().promotions())
    })
}

/// Creates a coupon from a `NewCoupon` JSON object; `*out` is the `Coupon`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_coupon_create(
    store: *const custdb_store,
    coupon_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewCoupon = json_arg("coupon_json", coupon_json)?;
        cx.write(move |tx| tx.promotions().create_coupon(new))
    })
}

/// A coupon by its code (any case), with its uses; `*out` is the `Coupon`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_coupon_get(
    store: *const custdb_store,
    code: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let code = text("code", code)?.to_owned();
        cx.read(move |r| r.promotions().coupon(&code))
    })
}

/// Switches a coupon on (`active` non-zero) or off; `*out` is the `Coupon`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_coupon_set_active(
    store: *const custdb_store,
    code: *const c_char,
    active: i32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let code = text("code", code)?.to_owned();
        cx.write(move |tx| tx.promotions().set_coupon_active(&code, active != 0))
    })
}

/// The promotions an order got; `*out` is a JSON array of `Redemption`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_order_redemptions(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.promotions().redemptions_of_order(id))
    })
}
