//! Prices and tax: tax classes and rates, customer groups, price lists
//! and quotes (docs/PRICING.md).

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Defines a tax class (`key`: lowercase letters, digits, `_`, `-`, at
/// most 32; `name` for people); `*out` is the `TaxClass`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_tax_class_define(
    store: *const custdb_store,
    key: *const c_char,
    name: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let key = text("key", key)?.to_owned();
        let name = text("name", name)?.to_owned();
        cx.write(move |tx| tx.pricing().define_tax_class(&key, &name))
    })
}

/// Every tax class, by key; `*out` is a JSON array of `TaxClass`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_tax_class_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.pricing().tax_classes())
    })
}

/// Sets the rate of a tax class in a country (or a region of it) from a
/// `NewTaxRate` JSON object (`rate` a decimal string fraction: `"0.2"` is
/// 20 %), replacing the one before; `*out` is the `TaxRate`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_tax_rate_set(
    store: *const custdb_store,
    rate_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewTaxRate = json_arg("rate_json", rate_json)?;
        cx.write(move |tx| tx.pricing().set_tax_rate(new))
    })
}

/// Removes a tax rate.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_tax_rate_remove(
    store: *const custdb_store,
    tax_rate_id: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let id: db::TaxRateId = id("tax_rate_id", tax_rate_id)?;
        cx.write(move |tx| tx.pricing().remove_tax_rate(id))
    })
}

/// Every tax rate, by country, region and class; `*out` is a JSON array of
/// `TaxRate`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_tax_rate_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.pricing().tax_rates())
    })
}

/// Creates a customer group (`key` as a tax class's, at most 64; `name`);
/// `*out` is the `CustomerGroup`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_group_create(
    store: *const custdb_store,
    key: *const c_char,
    name: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let key = text("key", key)?.to_owned();
        let name = text("name", name)?.to_owned();
        cx.write(move |tx| tx.pricing().create_customer_group(&key, &name))
    })
}

/// Every customer group, by key; `*out` is a JSON array of
/// `CustomerGroup`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_group_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.pricing().customer_groups())
    })
}

/// Creates a price list from a `NewPriceList` JSON object; a list that
/// would overlap in time another of the same currency and group is
/// `CUSTDB_ERR_INVALID` on `valid_from`. `*out` is the `PriceList`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_list_create(
    store: *const custdb_store,
    price_list_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let new: db::NewPriceList = json_arg("price_list_json", price_list_json)?;
        cx.write(move |tx| tx.pricing().create_price_list(new))
    })
}

/// A price list; `*out` is the `PriceList`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_list_get(
    store: *const custdb_store,
    price_list_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::PriceListId = id("price_list_id", price_list_id)?;
        cx.read(move |r| r.pricing().price_list(id))
    })
}

/// Every price list, by key; `*out` is a JSON array of `PriceList`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_list_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.pricing().price_lists())
    })
}

/// Sets a list's unit price of a variant from `min_quantity` on (1 for the
/// base price, more for a quantity break); `price` is a decimal string
/// (at most 4 decimals), with or without tax as the list says. `*out` is
/// the `ListPrice`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_list_set_price(
    store: *const custdb_store,
    price_list_id: *const c_char,
    variant_id: *const c_char,
    min_quantity: i64,
    price: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let list: db::PriceListId = id("price_list_id", price_list_id)?;
        let variant: db::VariantId = id("variant_id", variant_id)?;
        let price = decimal("price", price)?;
        cx.write(move |tx| tx.pricing().set_price(list, variant, min_quantity, price))
    })
}

/// Removes a list's price of a variant at a quantity break.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_list_remove_price(
    store: *const custdb_store,
    price_list_id: *const c_char,
    variant_id: *const c_char,
    min_quantity: i64,
) -> custdb_status {
    ffi!(store, |cx| {
        let list: db::PriceListId = id("price_list_id", price_list_id)?;
        let variant: db::VariantId = id("variant_id", variant_id)?;
        cx.write(move |tx| tx.pricing().remove_price(list, variant, min_quantity))
    })
}

/// A list's prices, by variant and quantity break; `*out` is a JSON array
/// of `ListPrice`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_list_prices(
    store: *const custdb_store,
    price_list_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let id: db::PriceListId = id("price_list_id", price_list_id)?;
        cx.read(move |r| r.pricing().prices_of(id))
    })
}

/// Deletes a price list and its prices.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_list_delete(
    store: *const custdb_store,
    price_list_id: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let id: db::PriceListId = id("price_list_id", price_list_id)?;
        cx.write(move |tx| tx.pricing().delete_price_list(id))
    })
}

/// Prices a quantity of a variant from a `QuoteRequest` JSON object by the
/// rules of docs/PRICING.md; `*out` is the `Quote`, with the unit price's
/// source and an explanation.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_price_quote(
    store: *const custdb_store,
    request_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let request: db::QuoteRequest = json_arg("request_json", request_json)?;
        cx.read(move |r| r.pricing().quote(&request))
    })
}

/// Puts a customer in a group from `valid_from` until just before
/// `valid_until` (RFC 3339 text; NULL for open), replacing the period of a
/// membership already there; `*out` is the `GroupMembership`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_group_add_member(
    store: *const custdb_store,
    group_id: *const c_char,
    customer_id: *const c_char,
    valid_from: *const c_char,
    valid_until: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let group: db::CustomerGroupId = id("group_id", group_id)?;
        let customer: db::CustomerId = id("customer_id", customer_id)?;
        let from = time("valid_from", valid_from)?;
        let until = time("valid_until", valid_until)?;
        cx.write(move |tx| tx.pricing().add_to_group(group, customer, from, until))
    })
}

/// Takes a customer out of a group (one not in it changes nothing).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_group_remove_member(
    store: *const custdb_store,
    group_id: *const c_char,
    customer_id: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let group: db::CustomerGroupId = id("group_id", group_id)?;
        let customer: db::CustomerId = id("customer_id", customer_id)?;
        cx.write(move |tx| tx.pricing().remove_from_group(group, customer))
    })
}

/// A customer's group memberships, current or not, by group key; `*out`
/// is a JSON array of `GroupMembership`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_group_memberships(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let customer: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.pricing().memberships_of(customer))
    })
}

/// Makes a customer exempt from tax with a `TaxExemption` JSON object
/// (`vat_id`, `reason`), or ends the exemption when `exemption_json` is
/// NULL; `*out` is the `TaxExemption` or `null`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_tax_exemption_set(
    store: *const custdb_store,
    customer_id: *const c_char,
    exemption_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let customer: db::CustomerId = id("customer_id", customer_id)?;
        let exemption: Option<db::TaxExemption> = if exemption_json.is_null() {
            None
        } else {
            Some(json_arg("exemption_json", exemption_json)?)
        };
        cx.write(move |tx| tx.pricing().set_tax_exemption(customer, exemption))
    })
}

/// A customer's tax exemption; `*out` is the `TaxExemption` or `null`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_tax_exemption_get(
    store: *const custdb_store,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let customer: db::CustomerId = id("customer_id", customer_id)?;
        cx.read(move |r| r.pricing().tax_exemption(customer))
    })
}
