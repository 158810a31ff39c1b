//! The catalog: products and their variants.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Creates a product with its variants from a `NewProduct` JSON object;
/// `*out` is the `Product` with its variants.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_create(
    store: *const custdb_store,
    product_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewProduct = json_arg("product_json", product_json)?;
        cx.write(move |tx| tx.catalog().create_product(new))
    })
}

/// A product with its variants; `*out` is the `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_get(
    store: *const custdb_store,
    product_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        cx.read(move |r| r.catalog().product(id))
    })
}

/// A page of products with their variants, by name; `archived` is
/// `"active"`, `"archived"` or `"all"` (plain text, not JSON); `cursor` NULL
/// for the first page; `limit` 1 to 1000. `*out` is a `Page` of `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_list(
    store: *const custdb_store,
    archived: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let archived = choice("archived", archived, db::ArchiveState::parse)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.catalog().products(archived, cursor.as_ref(), limit as usize))
    })
}

/// Archives a product and its variants (they can no longer be ordered;
/// orders keep them); `*out` is the `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_archive(
    store: *const custdb_store,
    product_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        cx.write(move |tx| tx.catalog().archive_product(id))
    })
}

/// Adds a variant from a `NewVariant` JSON object to a product; `*out` is
/// the `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_add_variant(
    store: *const custdb_store,
    product_id: *const c_char,
    variant_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        let new: db::NewVariant = json_arg("variant_json", variant_json)?;
        cx.write(move |tx| tx.catalog().add_variant(id, new))
    })
}

/// A variant by id; `*out` is the `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_variant_get(
    store: *const custdb_store,
    variant_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::VariantId = id("variant_id", variant_id)?;
        cx.read(move |r| r.catalog().variant(id))
    })
}

/// A variant by SKU; `*out` is the `Variant`. An unknown SKU is
/// `CUSTDB_ERR_NOT_FOUND`, here and everywhere a SKU is named.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_variant_get_by_sku(
    store: *const custdb_store,
    sku: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let sku = string("sku", sku)?;
        cx.read(move |r| r.catalog().variant_by_sku(&sku))
    })
}

/// A variant by barcode; `*out` is the `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_variant_get_by_barcode(
    store: *const custdb_store,
    barcode: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let barcode = string("barcode", barcode)?;
        cx.read(move |r| r.catalog().variant_by_barcode(&barcode))
    })
}

/// A product's variants, in the order they were added; `*out` is a JSON
/// array of `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_variants(
    store: *const custdb_store,
    product_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        cx.read(move |r| r.catalog().variants_of(id))
    })
}

/// Changes a variant with a `VariantPatch` JSON object (`title`, `price`,
/// `allow_backorder`; fields left out stay) if it is still at
/// `expected_version` (else `CUSTDB_ERR_CONFLICT`); `*out` is the `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_variant_update(
    store: *const custdb_store,
    variant_id: *const c_char,
    expected_version: i64,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::VariantId = id("variant_id", variant_id)?;
        let patch: db::VariantPatch = json_arg("patch_json", patch_json)?;
        cx.write(move |tx| tx.catalog().update_variant(id, expected_version, patch))
    })
}

/// Archives a variant (it can no longer be ordered); `*out` is the
/// `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_variant_archive(
    store: *const custdb_store,
    variant_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::VariantId = id("variant_id", variant_id)?;
        cx.write(move |tx| tx.catalog().archive_variant(id))
    })
}
