//! Stock: warehouses, the ledger, reservations, transfers, replenishment.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

use crate::library::custdb_stock_level;

/// Creates a warehouse from a `NewWarehouse` JSON object; `*out` is the
/// `Warehouse`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_warehouse_create(
    store: *const custdb_store,
    warehouse_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewWarehouse = json_arg("warehouse_json", warehouse_json)?;
        cx.write(move |tx| tx.inventory().create_warehouse(new))
    })
}

/// A warehouse by id; `*out` is the `Warehouse`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_warehouse_get(
    store: *const custdb_store,
    warehouse_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        cx.read(move |r| r.inventory().warehouse(id))
    })
}

/// A warehouse by its code; `*out` is the `Warehouse`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_warehouse_get_by_code(
    store: *const custdb_store,
    code: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let code = string("code", code)?;
        cx.read(move |r| r.inventory().warehouse_by_code(&code))
    })
}

/// Every warehouse, by allocation priority; `*out` is a JSON array of
/// `Warehouse`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_warehouse_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.inventory().warehouses())
    })
}

/// Changes a warehouse's allocation priority (lower ships first);
/// `*out` is the `Warehouse`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_warehouse_set_priority(
    store: *const custdb_store,
    warehouse_id: *const c_char,
    priority: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        cx.write(move |tx| tx.inventory().set_warehouse_priority(id, priority))
    })
}

/// Books `quantity` units in (1 to 1,000,000,000); `*out` is the
/// `Movement`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_receive(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    quantity: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let w: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        cx.write(move |tx| tx.inventory().receive(v, w, quantity))
    })
}

/// Adjusts stock by `quantity_delta` (not 0) with a reason; `*out` is the
/// `Movement`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_adjust(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    quantity_delta: i64,
    reason: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let w: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        let reason = string("reason", reason)?;
        cx.write(move |tx| tx.inventory().adjust(v, w, quantity_delta, &reason))
    })
}

/// Records a stock count: the balance becomes `counted_quantity` (0 to
/// 1,000,000,000). `*out` is the correcting `Movement`, or JSON `null` when
/// the count matched.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_count(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    counted_quantity: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let w: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        cx.write(move |tx| tx.inventory().count(v, w, counted_quantity))
    })
}

/// Moves `quantity` units between warehouses; `*out` is the transfer id as
/// a JSON string.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_transfer(
    store: *const custdb_store,
    variant_id: *const c_char,
    from_warehouse_id: *const c_char,
    to_warehouse_id: *const c_char,
    quantity: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let from: db::WarehouseId = id("from_warehouse_id", from_warehouse_id)?;
        let to: db::WarehouseId = id("to_warehouse_id", to_warehouse_id)?;
        cx.write(move |tx| tx.inventory().transfer(v, from, to, quantity))
    })
}

/// Holds `quantity` units of a variant in a warehouse (a cart, a manual
/// hold) until `expires_at` (RFC 3339, after now), or until released when
/// `expires_at` is NULL. `CUSTDB_ERR_SHORTFALL` when not enough is
/// available. `*out` is the `Reservation`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_reserve(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    quantity: i64,
    expires_at: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let w: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        let expires_at = time("expires_at", expires_at)?;
        cx.write(move |tx| tx.inventory().reserve(v, w, quantity, expires_at))
    })
}

/// Releases what a reservation still holds; `*out` is the `Reservation`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_release(
    store: *const custdb_store,
    reservation_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ReservationId = id("reservation_id", reservation_id)?;
        cx.write(move |tx| tx.inventory().release(id))
    })
}

/// Releases every reservation that expired at or before `at` (RFC 3339;
/// NULL for now). An expired hold of an unpaid order cancels the order.
/// Writes the number of reservations released to `*out`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_release_expired(
    store: *const custdb_store,
    at: *const c_char,
    out: *mut u64,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let at = time_or_now("at", at)?;
        let released = cx.write(move |tx| tx.inventory().release_expired(at))?;
        Ok(released as u64)
    })
}

/// A reservation by id; `*out` is the `Reservation`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_reservation_get(
    store: *const custdb_store,
    reservation_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ReservationId = id("reservation_id", reservation_id)?;
        cx.read(move |r| r.inventory().reservation(id))
    })
}

/// Units of a variant available across all warehouses.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_available(
    store: *const custdb_store,
    variant_id: *const c_char,
    out: *mut i64,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        cx.read(move |r| r.inventory().available(v))
    })
}

/// The balance of a variant in one warehouse.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_level_get(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    out: *mut custdb_stock_level,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let w: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        let l = cx.read(move |r| r.inventory().level(v, w))?;
        Ok(custdb_stock_level {
            on_hand: l.on_hand,
            reserved: l.reserved,
            available: l.available,
        })
    })
}

/// The balances of a variant in every warehouse that has held it; `*out`
/// is a JSON array of `StockLevel`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_levels(
    store: *const custdb_store,
    variant_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        cx.read(move |r| r.inventory().levels(v))
    })
}

/// A page of a variant's stock ledger, oldest first; `cursor` NULL for the
/// first page; `limit` 1 to 1000. `*out` is a `Page` of `Movement`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_movements(
    store: *const custdb_store,
    variant_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.inventory().movements(v, cursor.as_ref(), limit as usize))
    })
}

/// The stock movements an order caused (sales, returns), oldest first;
/// `*out` is a JSON array of `Movement`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_movements_of_order(
    store: *const custdb_store,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let o: db::OrderId = id("order_id", order_id)?;
        cx.read(move |r| r.inventory().movements_of_order(o))
    })
}

/// Sets the replenishment rule of a variant in a warehouse from a
/// `ReplenishmentRule` JSON object (`reorder_point`, `reorder_quantity`,
/// `max_stock`).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_set_replenishment_rule(
    store: *const custdb_store,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    rule_json: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let w: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        let rule: db::ReplenishmentRule = json_arg("rule_json", rule_json)?;
        cx.write(move |tx| tx.inventory().set_replenishment_rule(v, w, rule))
    })
}

/// What to reorder: every variant and warehouse whose available stock is at
/// or below its reorder point, with the quantity to order; `*out` is a JSON
/// array of `StockReportLine`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_replenishment_suggestions(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.inventory().replenishment_suggestions())
    })
}

/// Variants and warehouses at or below their reorder point; `*out` is a
/// JSON array of `StockReportLine`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_low(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.inventory().low_stock())
    })
}

/// Variants and warehouses above their maximum stock; `*out` is a JSON
/// array of `StockReportLine`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_stock_overstock(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.inventory().overstock())
    })
}
