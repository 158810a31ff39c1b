//! Insight: reports, RFM, segments, duplicate customers and merges.

use std::ffi::c_char;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// A report's time range from two optional RFC 3339 arguments.
///
/// # Safety
///
/// As [`time`].
unsafe fn range(from: *const c_char, before: *const c_char) -> Result<db::TimeRange, Failure> {
    // SAFETY: forwarded promises.
    let (from, before) = unsafe { (time("from", from)?, time("before", before)?) };
    Ok(match (from, before) {
        (None, None) => db::TimeRange::all(),
        (Some(f), None) => db::TimeRange::since(f),
        (None, Some(b)) => db::TimeRange::until(b),
        (Some(f), Some(b)) => db::TimeRange::between(f, b),
    })
}

/// Counts of customers, orders, products and the rest; `*out` is the
/// `Counts` object.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_counts(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.reports().counts())
    })
}

/// Revenue per period (`period` plain text: `"day"`, `"week"` or
/// `"month"`), oldest first. `from` and `before` are RFC 3339 instants bounding the orders' placement
/// time (NULL: unbounded). `*out` is a JSON array of
/// `Revenue`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_revenue_by_period(
    store: *const custdb_store,
    period: *const c_char,
    from: *const c_char,
    before: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let period = choice("period", period, db::Period::parse)?;
        let range = range(from, before)?;
        cx.read(move |r| r.reports().revenue_by_period(period, range))
    })
}

/// Revenue per destination country, largest first, at most `limit_rows`.
/// `from` and `before` are RFC 3339 instants bounding the orders' placement
/// time (NULL: unbounded). `*out` is a JSON array of `Revenue`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_revenue_by_country(
    store: *const custdb_store,
    from: *const c_char,
    before: *const c_char,
    limit_rows: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let range = range(from, before)?;
        cx.read(move |r| r.reports().revenue_by_country(range, limit_rows as usize))
    })
}

/// The customers who spent most, at most `limit_rows`. `from` and `before` are RFC 3339 instants bounding the orders' placement
/// time (NULL: unbounded). `*out` is a
/// JSON array of `Revenue`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_top_customers(
    store: *const custdb_store,
    from: *const c_char,
    before: *const c_char,
    limit_rows: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let range = range(from, before)?;
        cx.read(move |r| r.reports().top_customers(range, limit_rows as usize))
    })
}

/// Sales per variant, best-selling first, at most `limit_rows`. `from` and `before` are RFC 3339 instants bounding the orders' placement
/// time (NULL: unbounded).
/// `*out` is a JSON array of `ProductSales`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_revenue_by_product(
    store: *const custdb_store,
    from: *const c_char,
    before: *const c_char,
    limit_rows: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let range = range(from, before)?;
        cx.read(move |r| r.reports().revenue_by_product(range, limit_rows as usize))
    })
}

/// Average order value per currency. `from` and `before` are RFC 3339 instants bounding the orders' placement
/// time (NULL: unbounded). `*out` is a JSON array of
/// `AverageOrderValue`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_average_order_value(
    store: *const custdb_store,
    from: *const c_char,
    before: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let range = range(from, before)?;
        cx.read(move |r| r.reports().average_order_value(range))
    })
}

/// The share of customers who ordered more than once. `from` and `before` are RFC 3339 instants bounding the orders' placement
/// time (NULL: unbounded). `*out` is
/// the `RepeatPurchase` object.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_repeat_purchase_rate(
    store: *const custdb_store,
    from: *const c_char,
    before: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let range = range(from, before)?;
        cx.read(move |r| r.reports().repeat_purchase_rate(range))
    })
}

/// Cancellations and returns. `from` and `before` are RFC 3339 instants bounding the orders' placement
/// time (NULL: unbounded). `*out` is the
/// `CancellationsAndReturns` object.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_cancellations_and_returns(
    store: *const custdb_store,
    from: *const c_char,
    before: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let range = range(from, before)?;
        cx.read(move |r| r.reports().cancellations_and_returns(range))
    })
}

/// Variants at risk of running out within `horizon_days` at the sales rate
/// of the last `window_days` before `as_of` (RFC 3339; NULL for now); both
/// 1 to 3660. `*out` is a JSON array of `StockOutRisk`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_stock_out_risk(
    store: *const custdb_store,
    as_of: *const c_char,
    window_days: i64,
    horizon_days: i64,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let as_of = time_or_now("as_of", as_of)?;
        cx.read(move |r| r.reports().stock_out_risk(as_of, window_days, horizon_days))
    })
}

/// Recency, frequency and monetary scores (1 to 5) of every customer with
/// orders, as of `as_of` (RFC 3339; NULL for now); `*out` is a JSON array
/// of `RfmScore`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_rfm(
    store: *const custdb_store,
    as_of: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let as_of = time_or_now("as_of", as_of)?;
        cx.read(move |r| r.reports().rfm(as_of))
    })
}

/// How many customers fall in each RFM segment (`champions`, `at_risk`,
/// ...) as of `as_of` (RFC 3339; NULL for now); `*out` is a JSON array of
/// `[segment, customers]` pairs, largest first.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_report_rfm_segments(
    store: *const custdb_store,
    as_of: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let as_of = time_or_now("as_of", as_of)?;
        cx.read(move |r| r.reports().rfm_segments(as_of))
    })
}

/// The customers a `Segment` JSON object selects (country, tag, spend,
/// order counts, last order, consent, RFM), by id; `cursor` NULL for the
/// first page; `limit` 1 to 1000. `*out` is a `Page` of customer ids.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_segment_evaluate(
    store: *const custdb_store,
    segment_json: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let segment: db::Segment = json_arg("segment_json", segment_json)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.segments().evaluate(&segment, cursor.as_ref(), limit as usize))
    })
}

/// Saves (or replaces) a `Segment` JSON object under `name`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn custdb_segment_save(
    store: *const custdb_store,
    name: *const c_char,
    segment_json: *const c_char,
) -> custdb_status {
    ffi!(store, |cx| {
        let name = string("name", name)?;
        let segment: db::Segment = json_arg("segment_json", segment_json)?;
        cx.write(move |tx| tx.segments().save(&name, &segment))
    })
}

/// A saved segment's definition; `*out` is the `Segment`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_segment_get(
    store: *const custdb_store,
    name: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = string("name", name)?;
        cx.read(move |r| r.segments().saved(&name))
    })
}

/// The names of the saved segments, sorted; `*out` is a JSON array of
/// strings.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_segment_names(
    store: *const custdb_store,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(|r| r.segments().names())
    })
}

/// The customers a saved segment selects now; as
/// `custdb_segment_evaluate`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_segment_evaluate_saved(
    store: *const custdb_store,
    name: *const c_char,
    cursor: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let name = string("name", name)?;
        let cursor = page_cursor("cursor", cursor)?;
        cx.read(move |r| r.segments().evaluate_saved(&name, cursor.as_ref(), limit as usize))
    })
}

/// Pairs of customers that are probably the same person, highest score
/// first, at most `limit`; `*out` is a JSON array of `DuplicateCandidate`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_duplicate_candidates(
    store: *const custdb_store,
    limit: u32,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        cx.read(move |r| r.duplicates().candidates(limit as usize))
    })
}

/// What merging `duplicate_id` into `survivor_id` would do, changing
/// nothing; `*out` is the `MergePlan`.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_plan_merge(
    store: *const custdb_store,
    survivor_id: *const c_char,
    duplicate_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let survivor: db::CustomerId = id("survivor_id", survivor_id)?;
        let duplicate: db::CustomerId = id("duplicate_id", duplicate_id)?;
        cx.write(move |tx| tx.merges().plan_merge(survivor, duplicate))
    })
}

/// Merges `duplicate_id` into `survivor_id`: orders, addresses,
/// interactions and consent move to the survivor, empty fields are filled
/// from the duplicate, and the duplicate is archived. `*out` is the
/// `MergePlan` carried out.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_customer_merge(
    store: *const custdb_store,
    survivor_id: *const c_char,
    duplicate_id: *const c_char,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let survivor: db::CustomerId = id("survivor_id", survivor_id)?;
        let duplicate: db::CustomerId = id("duplicate_id", duplicate_id)?;
        cx.write(move |tx| tx.merges().merge(survivor, duplicate))
    })
}
