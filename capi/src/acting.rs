//! Actor handles: the Rust `ActorStore`, which checks an actor's roles on
//! every call, records the changes under that actor and masks personal
//! data unless the actor may read it. A denied call is
//! `CUSTDB_ERR_PERMISSION_DENIED` naming the missing permission.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use custdb_core as db;

use crate::boundary::*;
use crate::handle::{custdb_store, ErrorSlots, Units};
use crate::library::{custdb_audit_verification, verification};
use crate::status::*;

/// A handle that acts as one actor: every `custdb_actor_*` call is checked
/// against the actor's roles. Make one with `custdb_actor_open`, release it
/// with `custdb_actor_close`. Thread-safe, like the store handle.
pub struct custdb_actor {
    pub(crate) acting: db::ActorStore,
    pub(crate) errors: ErrorSlots,
    /// The store handle's units of work: a call on the thread that has one
    /// open would wait for it, so it is refused.
    pub(crate) units: Units,
}

/// Opens an actor handle on `store` for the actor `actor_id` (named
/// `actor_name` in the audit trail). `CUSTDB_ERR_PERMISSION_DENIED` when
/// the actor holds no role. Each call on it is a unit of work of its own
/// (it cannot join `custdb_begin`'s; on a thread with one open it fails
/// with `CUSTDB_ERR_REENTRANT`). The handle stays usable after `store` is
/// closed; close it with `custdb_actor_close`.
///
/// # Safety
///
/// `store` is NULL or a live handle; strings NULL or NUL-terminated; `out`
/// NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_open(
    store: *const custdb_store,
    actor_id: *const c_char,
    actor_name: *const c_char,
    out: *mut *mut custdb_actor,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let actor = db::Actor::new(string("actor_id", actor_id)?, string("actor_name", actor_name)?)?;
        let acting = cx.outside_unit("custdb_actor_open")?.as_actor(&actor)?;
        Ok(Box::into_raw(Box::new(custdb_actor {
            acting,
            errors: ErrorSlots::default(),
            units: std::sync::Arc::clone(&cx.handle().units),
        })))
    })
}

/// Closes an actor handle. NULL is fine.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle, not used after this call.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_close(actor: *mut custdb_actor) {
    if !actor.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller promises a pointer from custdb_actor_open
            // that no one uses any more.
            drop(unsafe { Box::from_raw(actor) });
        }));
    }
}

/// The message of the calling thread's last failed call on `actor`, or ""
/// (as `custdb_errmsg` for a store handle). "" for a NULL handle.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_errmsg(actor: *const custdb_actor) -> *const c_char {
    static EMPTY: &CStr = c"";
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller promises NULL or a live handle; `as_ref`
        // turns NULL into None.
        match unsafe { actor.as_ref() } {
            Some(a) => a.errors.last_ptr().unwrap_or(EMPTY.as_ptr()),
            None => EMPTY.as_ptr(),
        }
    }))
    .unwrap_or(EMPTY.as_ptr())
}

/// As `custdb_customer_get`, through the actor's roles (personal data
/// masked unless it may read it).
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_get(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        Ok(a.customers().get(id)?)
    })
}

/// As `custdb_customer_list`, through the actor's roles (a consent-scoped
/// role sees only the customers who consent).
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_list(
    actor: *const custdb_actor,
    filter_json: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let filter: db::CustomerFilter = json_arg_or_default("filter_json", filter_json)?;
        let cursor = page_cursor("cursor", cursor)?;
        Ok(a.customers().list(&filter, cursor.as_ref(), limit as usize)?)
    })
}

/// As `custdb_customer_get_by_email`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_get_by_email(
    actor: *const custdb_actor,
    email: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let email = string("email", email)?;
        Ok(a.customers().get_by_email(&email)?)
    })
}

/// As `custdb_customer_search`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_search(
    actor: *const custdb_actor,
    query: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let query = string("query", query)?;
        Ok(a.customers().search(&query, limit as usize)?)
    })
}

/// As `custdb_customer_addresses`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_addresses(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        Ok(a.customers().addresses(id)?)
    })
}

/// As `custdb_customer_interactions`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_interactions(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let cursor = page_cursor("cursor", cursor)?;
        Ok(a.customers().interactions(id, cursor.as_ref(), limit as usize)?)
    })
}

/// As `custdb_customer_create`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_create(
    actor: *const custdb_actor,
    new_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let new: db::NewCustomer = json_arg("new_json", new_json)?;
        Ok(a.customers().create(new)?)
    })
}

/// As `custdb_customer_update`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_update(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    expected_version: i64,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let patch: db::CustomerPatch = json_arg("patch_json", patch_json)?;
        Ok(a.customers().update(id, expected_version, patch)?)
    })
}

/// As `custdb_customer_archive`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_archive(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        Ok(a.customers().archive(id)?)
    })
}

/// As `custdb_customer_add_address`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_add_address(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    address_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let new: db::NewAddress = json_arg("address_json", address_json)?;
        Ok(a.customers().add_address(id, new)?)
    })
}

/// As `custdb_customer_add_interaction`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_customer_add_interaction(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    interaction_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let new: db::NewInteraction = json_arg("interaction_json", interaction_json)?;
        Ok(a.customers().add_interaction(id, new)?)
    })
}

/// As `custdb_product_create`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_product_create(
    actor: *const custdb_actor,
    product_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let new: db::NewProduct = json_arg("product_json", product_json)?;
        Ok(a.catalog().create_product(new)?)
    })
}

/// As `custdb_warehouse_create`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_warehouse_create(
    actor: *const custdb_actor,
    warehouse_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let new: db::NewWarehouse = json_arg("warehouse_json", warehouse_json)?;
        Ok(a.inventory().create_warehouse(new)?)
    })
}

/// As `custdb_stock_receive`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_stock_receive(
    actor: *const custdb_actor,
    variant_id: *const c_char,
    warehouse_id: *const c_char,
    quantity: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let v: db::VariantId = id("variant_id", variant_id)?;
        let w: db::WarehouseId = id("warehouse_id", warehouse_id)?;
        Ok(a.inventory().receive(v, w, quantity)?)
    })
}

/// As `custdb_order_place`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_place(
    actor: *const custdb_actor,
    order_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let new: db::NewOrder = json_arg("order_json", order_json)?;
        Ok(a.orders().place(new)?)
    })
}

/// As `custdb_order_get`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_get(
    actor: *const custdb_actor,
    order_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let o: db::OrderId = id("order_id", order_id)?;
        Ok(a.orders().get(o)?)
    })
}

/// As `custdb_order_history`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_history(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let cursor = page_cursor("cursor", cursor)?;
        Ok(a.orders().history(id, cursor.as_ref(), limit as usize)?)
    })
}

/// As `custdb_order_pay`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_pay(
    actor: *const custdb_actor,
    order_id: *const c_char,
    payment_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewPayment = json_arg("payment_json", payment_json)?;
        Ok(a.orders().pay(o, new)?)
    })
}

/// As `custdb_order_ship`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_ship(
    actor: *const custdb_actor,
    order_id: *const c_char,
    shipment_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewShipment = json_arg("shipment_json", shipment_json)?;
        Ok(a.orders().ship(o, new)?)
    })
}

/// As `custdb_order_cancel`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_cancel(
    actor: *const custdb_actor,
    order_id: *const c_char,
    reason: *const c_char,
) -> custdb_status {
    ffi!(actor actor, |a| {
        let o: db::OrderId = id("order_id", order_id)?;
        let reason = string("reason", reason)?;
        Ok(a.orders().cancel(o, &reason)?)
    })
}

/// As `custdb_order_return`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_return(
    actor: *const custdb_actor,
    order_id: *const c_char,
    return_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewReturn = json_arg("return_json", return_json)?;
        Ok(a.orders().return_items(o, new)?)
    })
}

/// As `custdb_order_refund`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_order_refund(
    actor: *const custdb_actor,
    order_id: *const c_char,
    refund_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let o: db::OrderId = id("order_id", order_id)?;
        let new: db::NewRefund = json_arg("refund_json", refund_json)?;
        Ok(a.orders().refund(o, new)?)
    })
}

/// As `custdb_purpose_register`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_purpose_register(
    actor: *const custdb_actor,
    purpose_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let new: db::NewPurpose = json_arg("purpose_json", purpose_json)?;
        Ok(a.consent().register_purpose(new)?)
    })
}

/// As `custdb_consent_record`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_consent_record(
    actor: *const custdb_actor,
    consent_json: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let new: db::NewConsent = json_arg("consent_json", consent_json)?;
        Ok(a.consent().record(new)?)
    })
}

/// As `custdb_consent_can_process`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_consent_can_process(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    purpose_id: *const c_char,
    at: *const c_char,
    out: *mut i32,
) -> custdb_status {
    ffi!(actor actor, value out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        let purpose = string("purpose_id", purpose_id)?;
        let at = time_or_now("at", at)?;
        Ok(i32::from(a.consent().can_process(id, &purpose, at)?))
    })
}

/// As `custdb_subject_export`, through the actor's roles (never masked: an
/// export is for the subject).
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_subject_export(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        Ok(a.privacy().export(id)?)
    })
}

/// As `custdb_subject_erase`, recorded under the actor.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_subject_erase(
    actor: *const custdb_actor,
    customer_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let id: db::CustomerId = id("customer_id", customer_id)?;
        Ok(a.privacy().erase(id)?)
    })
}

/// As `custdb_audit_query`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_audit_query(
    actor: *const custdb_actor,
    filter_json: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let filter: db::AuditFilter = json_arg_or_default("filter_json", filter_json)?;
        let cursor = page_cursor("cursor", cursor)?;
        Ok(a.audit().query(&filter, cursor.as_ref(), limit as usize)?)
    })
}

/// As `custdb_audit_verify`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_audit_verify(
    actor: *const custdb_actor,
    out: *mut custdb_audit_verification,
) -> custdb_status {
    ffi!(actor actor, value out, |a| {
        Ok(verification(&a.audit().verify()?))
    })
}

/// As `custdb_access_grant`, recorded under the actor (which must hold the
/// permission to manage access).
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_access_grant(
    actor: *const custdb_actor,
    actor_id: *const c_char,
    role: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        let target = string("actor_id", actor_id)?;
        let role = string("role", role)?;
        Ok(a.access().grant(&target, &role)?)
    })
}

/// As `custdb_backup`, through the actor's roles.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_backup(
    actor: *const custdb_actor,
    path: *const c_char,
    out: *mut u64,
) -> custdb_status {
    ffi!(actor actor, value out, |a| {
        let path = string("path", path)?;
        Ok(a.backup_to(path)?.pages)
    })
}

/// Whether the actor's roles allow a permission (`permission` plain text:
/// `"read_customers"`, ...). Writes 1 or 0 to `*out`.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_can(
    actor: *const custdb_actor,
    permission: *const c_char,
    out: *mut i32,
) -> custdb_status {
    ffi!(actor actor, value out, |a| {
        let permission = choice("permission", permission, db::Permission::parse)?;
        Ok(i32::from(a.can(permission)))
    })
}

/// The actor's roles; `*out` is a JSON array of `Role`.
///
/// # Safety
///
/// `actor` is NULL or a live actor handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_actor_roles(
    actor: *const custdb_actor,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(actor actor, json out, |a| {
        Ok(a.roles().to_vec())
    })
}
