//! Subject export and segment evaluation beside raw-rusqlite baselines,
//! over 10,000 customers (each with an address, GB or FR, a third of them
//! consenting to marketing, each with 1 to 3 completed orders of 3 lines).
//!
//! ```text
//! cargo bench --features bench-internals --bench insight
//! ```
//!
//! - **Subject export**: custdb's `privacy().export(id)`; the baseline
//!   runs the same statements (built from the same personal-data map:
//!   the customer check, one query per table with rows about a customer,
//!   the schema version) and turns every row into a JSON object, as an
//!   application would.
//! - **Segment evaluation**: customers in GB with at least one paid order
//!   who consent to marketing now, a page of 100; the baseline runs the
//!   SQL custdb builds for that segment (read once from custdb's statement
//!   log) with the same parameters, and the purpose check before it.
//!
//! Before measuring, each pair runs once with its statements recorded and
//! the bench stops unless both sides ran the same statement texts.

use custdb::Currency;
use std::hint::black_box;
use std::time::Duration;

mod common;

use chrono::{TimeZone, Utc};
use common::{assert_same_statements, raw_connection, trace_statements, Log};
use criterion::{criterion_group, criterion_main, Criterion};
use custdb::order::historical::{HistoricalLine, HistoricalOrder};
use custdb::privacy::map::PERSONAL_DATA_MAP;
use custdb::segment::Segment;
use custdb::{
    AddressKind, CollectionMethod, ConsentState, CustomerId, DataCategory, Decimal, LawfulBasis,
    NewAddress, NewConsent, NewCustomer, NewProduct, NewPurpose, NewVariant, Options, Store,
};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection};
use serde_json::{Map, Value};

const CUSTOMERS: usize = 10_000;

fn populate(store: &Store) -> Vec<CustomerId> {
    store
        .write(|tx| {
            tx.consent().register_purpose(
                NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            let product =
                tx.catalog()
                    .create_product((0..3).fold(NewProduct::new("Goods"), |p, i| {
                        p.variant(
                            NewVariant::new(format!("G{i}"), Decimal::new(1250, 2), Currency::GBP)
                                .track_stock(false),
                        )
                    }))?;
            let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
            let mut ids = Vec::with_capacity(CUSTOMERS);
            for n in 0..CUSTOMERS {
                let id = tx
                    .customers()
                    .create(
                        NewCustomer::new(format!("Customer {n}"))
                            .email(format!("c{n}@example.com")),
                    )?
                    .id;
                tx.customers().add_address(
                    id,
                    NewAddress::new(
                        AddressKind::Shipping,
                        format!("{n} High St"),
                        "Town",
                        if n % 2 == 0 { "GB" } else { "FR" },
                    ),
                )?;
                if n % 3 == 0 {
                    tx.consent().record(
                        NewConsent::new(
                            id,
                            "marketing",
                            ConsentState::Given,
                            CollectionMethod::WebForm,
                        )
                        .notice("v1", "Offers by email"),
                    )?;
                }
                for k in 0..=(n % 3) {
                    tx.orders().record_historical(&HistoricalOrder {
                        customer_id: Some(id),
                        guest_email: None,
                        currency: Currency::GBP,
                        country: Some("GB".into()),
                        placed_at: start + chrono::Duration::hours((n * 3 + k) as i64),
                        lines: product
                            .variants
                            .iter()
                            .map(|v| HistoricalLine {
                                variant_id: v.id,
                                quantity: 2,
                                unit_price: Decimal::new(1250, 2),
                            })
                            .collect(),
                        shipping: Decimal::ZERO,
                    })?;
                }
                ids.push(id);
            }
            Ok::<_, custdb::Error>(ids)
        })
        .unwrap()
}

fn json_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => Value::String(f.to_string()),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
}

/// The statements of a subject export, in one read transaction: the
/// customer check, every table's rows about the customer as JSON objects,
/// the schema version.
fn raw_export(conn: &Connection, id: CustomerId) -> Map<String, Value> {
    let tx = conn.unchecked_transaction().unwrap();
    let _: (i64, bool) = tx
        .prepare_cached(custdb::customer::sql::VERSION_OF)
        .unwrap()
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let mut tables = Map::new();
    for t in PERSONAL_DATA_MAP {
        let Some(subject) = t.subject else { continue };
        let columns: Vec<&str> = t.columns.iter().map(|c| c.column).collect();
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {} FROM {} WHERE {subject} ORDER BY 1",
                columns.join(", "),
                t.table
            ))
            .unwrap();
        let mut rows = stmt.query([id.to_string()]).unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let mut object = Map::new();
            for (i, column) in columns.iter().enumerate() {
                object.insert((*column).to_owned(), json_value(row.get_ref(i).unwrap()));
            }
            out.push(Value::Object(object));
        }
        if !out.is_empty() {
            tables.insert(t.table.to_owned(), Value::Array(out));
        }
    }
    let version: i64 = tx
        .prepare_cached("SELECT user_version FROM pragma_user_version")
        .unwrap()
        .query_row([], |r| r.get(0))
        .unwrap();
    tables.insert("schema_version".into(), Value::from(version));
    drop(tx);
    tables
}

fn segment() -> Segment {
    Segment::default()
        .country("GB")
        .min_orders(1)
        .consents_to("marketing")
}

/// The purpose check and the segment's query with the parameters custdb
/// binds for [`segment`], first page of 100.
fn raw_segment(conn: &Connection, sql: &str) -> Vec<String> {
    let tx = conn.unchecked_transaction().unwrap();
    let _: String = tx
        .prepare_cached(custdb::consent::sql::PURPOSE)
        .unwrap()
        .query_row(["marketing"], |r| r.get(0))
        .unwrap();
    let now = common::shop::now();
    let ids = tx
        .prepare_cached(sql)
        .unwrap()
        .query_map(
            // custdb numbers its parameters in the order the segment's
            // conditions add them: the cursor, the country, the order
            // count's bounds, the purpose and the instant, the limit.
            params![
                "",
                "GB",
                1i64,
                i64::from(u32::MAX),
                "marketing",
                now,
                101i64
            ],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    drop(tx);
    ids
}

fn insight(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let ids = populate(&Store::open(&path).unwrap());

    // One run of each workload with statements recorded, on both sides.
    let log: Log = Log::default();
    let logged = Store::open_with(&path, Options::default().statement_log(log.clone())).unwrap();
    // Only the workloads' statements, not those of opening the store.
    log.lock().unwrap().clear();
    logged.read(|r| r.privacy().export(ids[0])).unwrap();
    let page = logged
        .read(|r| r.segments().evaluate(&segment(), None, 100))
        .unwrap();
    assert_eq!(page.items.len(), 100);
    let segment_sql = log
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.starts_with("SELECT c.id FROM customers c"))
        .expect("the segment's query in the statement log")
        .clone();
    drop(logged);
    let mut conn = raw_connection(&path);
    let raw_log = trace_statements(&mut conn);
    black_box(raw_export(&conn, ids[0]));
    let raw_page = raw_segment(&conn, &segment_sql);
    assert_eq!(
        raw_page[..100],
        page.items.iter().map(|i| i.to_string()).collect::<Vec<_>>()[..]
    );
    let count = assert_same_statements(&log, &raw_log);
    eprintln!("insight: both sides ran the same {count} statement texts");
    // A fresh connection for the measurement, without the trace hook.
    drop(conn);
    let conn = raw_connection(&path);

    let store = Store::open(&path).unwrap();
    let mut group = c.benchmark_group("subject_export");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4));
    let mut i = 0;
    group.bench_function("custdb", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            black_box(store.read(|r| r.privacy().export(ids[i])).unwrap())
        })
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            black_box(raw_export(&conn, ids[i]))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("segment_page_of_100");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4));
    let s = segment();
    group.bench_function("custdb", |b| {
        b.iter(|| {
            black_box(
                store
                    .read(|r| r.segments().evaluate(&s, None, 100))
                    .unwrap(),
            )
        })
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| black_box(raw_segment(&conn, &segment_sql)))
    });
    group.finish();
}

criterion_group!(benches, insight);
criterion_main!(benches);
