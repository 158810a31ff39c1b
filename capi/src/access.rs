//! Access: roles and grants. (The handle that enforces them is in
//! `acting.rs`.)

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Defines (or redefines) a role: `name` (1 to 64 characters, not a
/// built-in role's), `permissions_json` a `Permissions` JSON array of
/// permission names (`["read_customers", "manage_orders"]`), `consent_scope` a purpose id that
/// limits the customers the role reads, or NULL. `*out` is the `Role`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_role_define(
    store: *const custdb_store,
    name: *const c_char,
    permissions_json: *const c_char,
    consent_scope: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = string("name", name)?;
        let permissions: Vec<db::Permission> = json_arg("permissions_json", permissions_json)?;
        let scope = opt_string("consent_scope", consent_scope)?;
        cx.write(move |tx| tx.access().define_role(&name, &permissions, scope.as_deref()))
    })
}

/// A role by name (built-in or defined); `*out` is the `Role`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_role_get(
    store: *const custdb_store,
    name: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = string("name", name)?;
        cx.read(move |r| r.access().role(&name))
    })
}

/// Every role, the built-in ones first; `*out` is a JSON array of `Role`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_role_list(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.access().roles())
    })
}

/// Grants a role to an actor; `*out` is the actor's `Grants` (`actor_id`,
/// `roles`).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_access_grant(
    store: *const custdb_store,
    actor_id: *const c_char,
    role: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let actor = string("actor_id", actor_id)?;
        let role = string("role", role)?;
        cx.write(move |tx| tx.access().grant(&actor, &role))
    })
}

/// Revokes a role from an actor; `*out` is the actor's `Grants`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_access_revoke(
    store: *const custdb_store,
    actor_id: *const c_char,
    role: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let actor = string("actor_id", actor_id)?;
        let role = string("role", role)?;
        cx.write(move |tx| tx.access().revoke(&actor, &role))
    })
}

/// An actor's roles; `*out` is its `Grants` (no roles: an empty list).
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_access_grants(
    store: *const custdb_store,
    actor_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let actor = string("actor_id", actor_id)?;
        cx.read(move |r| r.access().grants(&actor))
    })
}
