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

/// Changes a product with a `ProductPatch` JSON object (`name`,
/// `description` (`null` clears it), `status` `"draft"` or `"active"`;
/// fields left out stay) if it is still at `expected_version` (else
/// `CUSTDB_ERR_CONFLICT`); a draft product's variants cannot be ordered.
/// `*out` is the `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_update(
    store: *const custdb_store,
    product_id: *const c_char,
    expected_version: i64,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        let patch: db::ProductPatch = json_arg("patch_json", patch_json)?;
        cx.write(move |tx| tx.catalog().update_product(id, expected_version, patch))
    })
}

/// Restores an archived product and the variants archived with it;
/// `*out` is the `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_restore(
    store: *const custdb_store,
    product_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        cx.write(move |tx| tx.catalog().restore_product(id))
    })
}

/// Restores an archived variant of an active product; `*out` is the
/// `Variant`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_variant_restore(
    store: *const custdb_store,
    variant_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::VariantId = id("variant_id", variant_id)?;
        cx.write(move |tx| tx.catalog().restore_variant(id))
    })
}

/// Adds an image or document reference (a URL or path; custdb keeps no
/// bytes) from a `NewMedia` JSON object to a product; `*out` is the
/// `ProductMedia`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_add_media(
    store: *const custdb_store,
    product_id: *const c_char,
    media_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        let new: db::NewMedia = json_arg("media_json", media_json)?;
        cx.write(move |tx| tx.catalog().add_media(id, new))
    })
}

/// Removes a media reference; `*out` is its `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_remove_media(
    store: *const custdb_store,
    media_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::MediaId = id("media_id", media_id)?;
        cx.write(move |tx| tx.catalog().remove_media(id))
    })
}

/// Puts a product in exactly the categories of `category_ids_json` (a
/// JSON array of category ids, at most 32); `*out` is the `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_set_categories(
    store: *const custdb_store,
    product_id: *const c_char,
    category_ids_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::ProductId = id("product_id", product_id)?;
        let ids: Vec<db::CategoryId> = json_arg("category_ids_json", category_ids_json)?;
        cx.write(move |tx| tx.catalog().set_product_categories(id, ids))
    })
}

/// Full-text search over products that are not archived (title, SKUs,
/// barcodes, category names, description; every word a prefix, all
/// required), best match first; `cursor` NULL for the first page; `limit` 1
/// to 1000. `*out` is a `Page` of `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_product_search(
    store: *const custdb_store,
    query: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let query = text("query", query)?.to_owned();
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.catalog().search_products(&query, cursor.as_ref(), limit as usize))
    })
}

/// Creates a category from a `NewCategory` JSON object (`name`, optional
/// `parent_id`); `*out` is the `Category`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_category_create(
    store: *const custdb_store,
    category_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewCategory = json_arg("category_json", category_json)?;
        cx.write(move |tx| tx.catalog().create_category(new))
    })
}

/// Renames or moves a category with a `CategoryPatch` JSON object (`name`,
/// `parent_id`: an id, or `null` for the top) if it is still at
/// `expected_version`; `*out` is the `Category`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_category_update(
    store: *const custdb_store,
    category_id: *const c_char,
    expected_version: i64,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CategoryId = id("category_id", category_id)?;
        let patch: db::CategoryPatch = json_arg("patch_json", patch_json)?;
        cx.write(move |tx| tx.catalog().update_category(id, expected_version, patch))
    })
}

/// Deletes a category without subcategories (else
/// `CUSTDB_ERR_INVALID_STATE`); its products leave it.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_category_delete(
    store: *const custdb_store,
    category_id: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let id: db::CategoryId = id("category_id", category_id)?;
        cx.write(move |tx| tx.catalog().delete_category(id))
    })
}

/// A category; `*out` is the `Category`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_category_get(
    store: *const custdb_store,
    category_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CategoryId = id("category_id", category_id)?;
        cx.read(move |r| r.catalog().category(id))
    })
}

/// Every category in tree order (top level by name, each followed by its
/// subtree); `*out` is a JSON array of `Category`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_category_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.catalog().categories())
    })
}

/// A page of a category's products that are not archived, by name; with
/// `include_subcategories` non-zero also those of every category below it;
/// `cursor` NULL for the first page; `limit` 1 to 1000. `*out` is a `Page`
/// of `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_category_products(
    store: *const custdb_store,
    category_id: *const c_char,
    include_subcategories: i32,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CategoryId = id("category_id", category_id)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| {
            r.catalog()
                .category_products(id, include_subcategories != 0, cursor.as_ref(), limit as usize)
        })
    })
}

/// Creates a collection from a `NewCollection` JSON object; `*out` is the
/// `Collection`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_create(
    store: *const custdb_store,
    collection_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewCollection = json_arg("collection_json", collection_json)?;
        cx.write(move |tx| tx.catalog().create_collection(new))
    })
}

/// Changes a collection's name or description with a `CollectionPatch`
/// JSON object if it is still at `expected_version`; `*out` is the
/// `Collection`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_update(
    store: *const custdb_store,
    collection_id: *const c_char,
    expected_version: i64,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CollectionId = id("collection_id", collection_id)?;
        let patch: db::CollectionPatch = json_arg("patch_json", patch_json)?;
        cx.write(move |tx| tx.catalog().update_collection(id, expected_version, patch))
    })
}

/// Deletes a collection (its products stay).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_delete(
    store: *const custdb_store,
    collection_id: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let id: db::CollectionId = id("collection_id", collection_id)?;
        cx.write(move |tx| tx.catalog().delete_collection(id))
    })
}

/// A collection; `*out` is the `Collection`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_get(
    store: *const custdb_store,
    collection_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CollectionId = id("collection_id", collection_id)?;
        cx.read(move |r| r.catalog().collection(id))
    })
}

/// Every collection, by name; `*out` is a JSON array of `Collection`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.catalog().collections())
    })
}

/// Adds a product at the end of a collection (one already in it stays
/// where it is); `*out` is the `Collection`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_add_product(
    store: *const custdb_store,
    collection_id: *const c_char,
    product_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let collection: db::CollectionId = id("collection_id", collection_id)?;
        let product: db::ProductId = id("product_id", product_id)?;
        cx.write(move |tx| tx.catalog().add_to_collection(collection, product))
    })
}

/// Takes a product out of a collection; `*out` is the `Collection`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_remove_product(
    store: *const custdb_store,
    collection_id: *const c_char,
    product_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let collection: db::CollectionId = id("collection_id", collection_id)?;
        let product: db::ProductId = id("product_id", product_id)?;
        cx.write(move |tx| tx.catalog().remove_from_collection(collection, product))
    })
}

/// Replaces a collection's list with the products of `product_ids_json` (a
/// JSON array of product ids, in order); `*out` is the `Collection`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_set_products(
    store: *const custdb_store,
    collection_id: *const c_char,
    product_ids_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let collection: db::CollectionId = id("collection_id", collection_id)?;
        let ids: Vec<db::ProductId> = json_arg("product_ids_json", product_ids_json)?;
        cx.write(move |tx| tx.catalog().set_collection_products(collection, ids))
    })
}

/// A page of a collection's products that are not archived, in the
/// collection's order; `cursor` NULL for the first page; `limit` 1 to 1000.
/// `*out` is a `Page` of `Product`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_collection_products(
    store: *const custdb_store,
    collection_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CollectionId = id("collection_id", collection_id)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.catalog().collection_products(id, cursor.as_ref(), limit as usize))
    })
}
