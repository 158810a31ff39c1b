//! Customers: records, search and listing, tags, addresses, interactions.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Creates a customer from a `NewCustomer` JSON object; `*out` is the
/// `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_create(
    store: *const custdb_store,
    new_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewCustomer = json_arg("new_json", new_json)?;
        cx.write(move |tx| tx.customers().create(new))
    })
}

/// Reads a customer by id (archived and erased ones too); `*out` is the
/// `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_get(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.customers().get(id))
    })
}

/// Reads an active customer by email (compared case-insensitively); `*out`
/// is the `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_get_by_email(
    store: *const custdb_store,
    email: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let email = string("email", email)?;
        cx.read(move |r| r.customers().get_by_email(&email))
    })
}

/// Applies a `CustomerPatch` JSON object if the customer is still at
/// `expected_version` (else `CUSTDB_ERR_CONFLICT`); `*out` is the
/// `Customer`. A field left out stays; `null` clears an optional field.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_update(
    store: *const custdb_store,
    customer_id: *const c_char,
    expected_version: i64,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let patch: db::CustomerPatch = json_arg("patch_json", patch_json)?;
        cx.write(move |tx| tx.customers().update(id, expected_version, patch))
    })
}

/// Archives a customer (hidden from listings and email lookup, kept for
/// orders); `*out` is the `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_archive(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        cx.write(move |tx| tx.customers().archive(id))
    })
}

/// Restores an archived customer; `*out` is the `Customer`.
/// `CUSTDB_ERR_ALREADY_EXISTS` when an active customer now has its email.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_restore(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        cx.write(move |tx| tx.customers().restore(id))
    })
}

/// Full-text search over names, email, phone and tags; `*out` is a JSON
/// array of at most `limit` (1 to 100) `Customer`s, best first.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_search(
    store: *const custdb_store,
    query: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let query = string("query", query)?;
        cx.read(move |r| r.customers().search(&query, limit as usize))
    })
}

/// A page of a full-text search, best first; `cursor` NULL for the first
/// page, else the `next_cursor` of the page before; `limit` 1 to 1000. `*out`
/// is a `Page` of `Customer`: `items` and `next_cursor` (null on the last
/// page).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_search_page(
    store: *const custdb_store,
    query: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let query = string("query", query)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.customers().search_page(&query, cursor.as_ref(), limit as usize))
    })
}

/// A page of customers in creation order, filtered by a `CustomerFilter`
/// JSON object (`tag`, `country`, `created_from`, `created_before`,
/// `archived`: `"active"` (the default), `"archived"` or `"all"`); `filter_json`
/// NULL lists every active customer. `cursor` NULL for the first page;
/// `limit` 1 to 1000. `*out` is a `Page` of `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_list(
    store: *const custdb_store,
    filter_json: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let filter: db::CustomerFilter = json_arg_or_default("filter_json", filter_json)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.customers().list(&filter, cursor.as_ref(), limit as usize))
    })
}

/// Adds tags (`tags_json`: a `Tags` JSON array of strings) to a customer;
/// tags it has already are kept once. `*out` is the `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_add_tags(
    store: *const custdb_store,
    customer_id: *const c_char,
    tags_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let tags: Vec<String> = json_arg("tags_json", tags_json)?;
        cx.write(move |tx| tx.customers().add_tags(id, &tags))
    })
}

/// Removes tags (`tags_json`: a `Tags` JSON array of strings) from a
/// customer; tags it does not have are ignored. `*out` is the `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_remove_tags(
    store: *const custdb_store,
    customer_id: *const c_char,
    tags_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let tags: Vec<String> = json_arg("tags_json", tags_json)?;
        cx.write(move |tx| tx.customers().remove_tags(id, &tags))
    })
}

/// Adds an address from a `NewAddress` JSON object; `*out` is the
/// `Address`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_add_address(
    store: *const custdb_store,
    customer_id: *const c_char,
    address_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let new: db::NewAddress = json_arg("address_json", address_json)?;
        cx.write(move |tx| tx.customers().add_address(id, new))
    })
}

/// A customer's addresses; `*out` is a JSON array of `Address`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_addresses(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.customers().addresses(id))
    })
}

/// An address by id; `*out` is the `Address`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_address_get(
    store: *const custdb_store,
    address_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::AddressId = id("address_id", address_id)?;
        cx.read(move |r| r.customers().address(id))
    })
}

/// Changes an address with an `AddressPatch` JSON object (fields left out
/// stay; `null` clears an optional field); `*out` is the `Address`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_address_update(
    store: *const custdb_store,
    address_id: *const c_char,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::AddressId = id("address_id", address_id)?;
        let patch: db::AddressPatch = json_arg("patch_json", patch_json)?;
        cx.write(move |tx| tx.customers().update_address(id, patch))
    })
}

/// Deletes an address. Orders keep the copy they were placed with.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_address_delete(
    store: *const custdb_store,
    address_id: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let id: db::AddressId = id("address_id", address_id)?;
        cx.write(move |tx| tx.customers().delete_address(id))
    })
}

/// Makes an address its customer's default for its kind; `*out` is the
/// `Address`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_address_set_default(
    store: *const custdb_store,
    address_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::AddressId = id("address_id", address_id)?;
        cx.write(move |tx| tx.customers().set_default_address(id))
    })
}

/// Records an interaction from a `NewInteraction` JSON object; `*out`
/// is the `Interaction`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_add_interaction(
    store: *const custdb_store,
    customer_id: *const c_char,
    interaction_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let new: db::NewInteraction = json_arg("interaction_json", interaction_json)?;
        cx.write(move |tx| tx.customers().add_interaction(id, new))
    })
}

/// A page of a customer's interactions, newest first; `cursor` NULL for
/// the first page; `limit` 1 to 1000. `*out` is a `Page` of `Interaction`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_interactions(
    store: *const custdb_store,
    customer_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.customers().interactions(id, cursor.as_ref(), limit as usize))
    })
}
/// Several customers by id in one snapshot (`ids_json`: a JSON array of
/// id strings, at most 1000), in the order of the ids, each once,
/// archived or not; ids that name no customer are left out (compare the
/// lengths). `*out` is a JSON array of `Customer`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_get_many(
    store: *const custdb_store,
    ids_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let ids: Vec<db::CustomerId> = json_arg("ids_json", ids_json)?;
        cx.read(move |r| r.customers().get_many(&ids))
    })
}
