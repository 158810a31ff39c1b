//! The body of the C API fuzz target, shared by
//! `fuzz/fuzz_targets/c_api_json.rs` and by `capi/tests/fuzz_corpus.rs`,
//! which replays the committed corpus in every `cargo test`. The first byte
//! picks one of the C functions that take JSON (below 204 as the first
//! twelve always did, so older corpus entries keep their target; 204 and
//! up the functions added later), or one that takes plain text; the rest, cut at its first
//! NUL as a C string would be, is the JSON. Every call must return a
//! status this version defines (never a panic across the boundary), and
//! `custdb_check` must find nothing wrong afterwards.

#![allow(dead_code)]

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

use crate::capi::*;

/// The highest status this version defines.
const LAST_STATUS: custdb_status = CUSTDB_ERR_INTERNAL;

/// Takes a JSON result and frees it.
unsafe fn take_json(out: *mut c_char) -> serde_json::Value {
    assert!(!out.is_null(), "a result");
    // SAFETY: a string custdb returned, freed once below.
    let text = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: returned by custdb, not used after this.
    unsafe { custdb_string_free(out) };
    serde_json::from_str(&text).expect("custdb returns JSON")
}

fn c_string(value: &serde_json::Value) -> CString {
    CString::new(value.as_str().expect("a string")).expect("no NUL")
}

/// The product of a variant, by its id.
unsafe fn product_id(store: *mut custdb_store, variant: &CStr) -> CString {
    let mut out = null_mut();
    // SAFETY: a live handle, a C string and an out pointer.
    assert_eq!(
        unsafe { custdb_variant_get(store, variant.as_ptr(), &mut out) },
        CUSTDB_OK
    );
    // SAFETY: as in take_json.
    c_string(&unsafe { take_json(out) }["product_id"])
}

pub fn c_api_json(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let json = CString::new(body.split(|b| *b == 0).next().unwrap_or(&[]).to_vec())
        .expect("no NUL inside");
    // SAFETY: every pointer passed is a live handle from custdb, a CString
    // that outlives the call, or a valid out pointer; results are freed
    // with custdb_string_free exactly once.
    unsafe {
        let mut store = null_mut();
        assert_eq!(custdb_open_in_memory(null(), &mut store), CUSTDB_OK);
        let mut out: *mut c_char = null_mut();
        let ann = c"{\"display_name\":\"Ann\",\"email\":\"ann@example.com\"}";
        assert_eq!(
            custdb_customer_create(store, ann.as_ptr(), &mut out),
            CUSTDB_OK
        );
        let customer = c_string(&take_json(out)["id"]);
        let product = c"{\"name\":\"Tea\",\"variants\":[{\"sku\":\"TEA\",\"price\":\"4.50\",\"currency\":\"GBP\"}]}";
        assert_eq!(
            custdb_product_create(store, product.as_ptr(), &mut out),
            CUSTDB_OK
        );
        let variant = c_string(&take_json(out)["variants"][0]["id"]);
        let warehouse = c"{\"code\":\"W\",\"name\":\"Warehouse\"}";
        assert_eq!(
            custdb_warehouse_create(store, warehouse.as_ptr(), &mut out),
            CUSTDB_OK
        );
        let warehouse = c_string(&take_json(out)["id"]);
        assert_eq!(
            custdb_stock_receive(store, variant.as_ptr(), warehouse.as_ptr(), 10, &mut out),
            CUSTDB_OK
        );
        take_json(out);
        let order = CString::new(format!(
            "{{\"customer_id\":{},\"currency\":\"GBP\",\"lines\":[{{\"sku\":\"TEA\",\"quantity\":1}}]}}",
            serde_json::Value::String(customer.to_str().unwrap().to_owned())
        ))
        .unwrap();
        assert_eq!(
            custdb_order_place(store, order.as_ptr(), &mut out),
            CUSTDB_OK
        );
        let order = c_string(&take_json(out)["id"]);

        out = null_mut();
        let mut address_out = null_mut();
        let home =
            c"{\"kind\":\"shipping\",\"line1\":\"1 High St\",\"city\":\"Bath\",\"country\":\"GB\"}";
        assert_eq!(
            custdb_customer_add_address(store, customer.as_ptr(), home.as_ptr(), &mut address_out),
            CUSTDB_OK
        );
        let address = c_string(&take_json(address_out)["id"]);
        let mut unit = 0_i32;
        let mut verification = custdb_audit_verification::default();
        let status = if which < 204 {
            match which % 12 {
                0 => custdb_customer_create(store, json.as_ptr(), &mut out),
                1 => custdb_customer_update(store, customer.as_ptr(), 1, json.as_ptr(), &mut out),
                2 => custdb_customer_add_address(store, customer.as_ptr(), json.as_ptr(), &mut out),
                3 => custdb_customer_add_interaction(
                    store,
                    customer.as_ptr(),
                    json.as_ptr(),
                    &mut out,
                ),
                4 => custdb_product_create(store, json.as_ptr(), &mut out),
                5 => custdb_warehouse_create(store, json.as_ptr(), &mut out),
                6 => custdb_order_place(store, json.as_ptr(), &mut out),
                7 => custdb_purpose_register(store, json.as_ptr(), &mut out),
                8 => custdb_consent_record(store, json.as_ptr(), &mut out),
                9 => custdb_order_pay(store, order.as_ptr(), json.as_ptr(), &mut out),
                10 => custdb_order_ship(store, order.as_ptr(), json.as_ptr(), &mut out),
                _ => custdb_order_refund(store, order.as_ptr(), json.as_ptr(), &mut out),
            }
        } else {
            match (which - 204) % 17 {
                0 => custdb_customer_list(store, json.as_ptr(), null(), 10, &mut out),
                1 => custdb_customer_add_tags(store, customer.as_ptr(), json.as_ptr(), &mut out),
                2 => custdb_address_update(store, address.as_ptr(), json.as_ptr(), &mut out),
                3 => custdb_variant_update(store, variant.as_ptr(), 1, json.as_ptr(), &mut out),
                4 => custdb_product_add_variant(
                    store,
                    product_id(store, &variant).as_ptr(),
                    json.as_ptr(),
                    &mut out,
                ),
                5 => custdb_stock_set_replenishment_rule(
                    store,
                    variant.as_ptr(),
                    warehouse.as_ptr(),
                    json.as_ptr(),
                ),
                6 => custdb_credit_note_issue(store, json.as_ptr(), &mut out),
                7 => custdb_role_define(store, c"r".as_ptr(), json.as_ptr(), null(), &mut out),
                8 => custdb_audit_query(store, json.as_ptr(), null(), 10, &mut out),
                9 => custdb_segment_evaluate(store, json.as_ptr(), null(), 10, &mut out),
                10 => {
                    custdb_order_authorize_payment(store, order.as_ptr(), json.as_ptr(), &mut out)
                }
                11 => custdb_order_return(store, order.as_ptr(), json.as_ptr(), &mut out),
                12 => custdb_audit_verify_against(store, json.as_ptr(), &mut verification),
                // Plain-text arguments, never parsed as JSON.
                13 => custdb_consent_withdraw(
                    store,
                    customer.as_ptr(),
                    c"p".as_ptr(),
                    json.as_ptr(),
                    &mut out,
                ),
                14 => custdb_order_list_by_status(store, json.as_ptr(), null(), 10, &mut out),
                15 => custdb_stock_reserve(
                    store,
                    variant.as_ptr(),
                    warehouse.as_ptr(),
                    1,
                    json.as_ptr(),
                    &mut out,
                ),
                _ => custdb_consent_can_process(
                    store,
                    customer.as_ptr(),
                    json.as_ptr(),
                    null(),
                    &mut unit,
                ),
            }
        };
        assert!(
            (CUSTDB_OK..=LAST_STATUS).contains(&status),
            "status {status} is not one this version defines"
        );
        assert_ne!(status, CUSTDB_ERR_PANIC, "custdb panicked");
        if !out.is_null() {
            custdb_string_free(out);
        }
        let mut problems: *mut c_char = null_mut();
        assert_eq!(custdb_check(store, &mut problems), CUSTDB_OK);
        let text = CStr::from_ptr(problems).to_string_lossy().into_owned();
        custdb_string_free(problems);
        assert_eq!(text, "[]", "check found problems");
        custdb_close(store);
    }
}
