//! Consent reads beside a raw-rusqlite baseline running the same
//! statements (text from `custdb::consent::sql`): `can_process` and a page
//! of the customers consenting to a purpose, over 10,000 customers of whom
//! every second one consented and every tenth of those withdrew.
//!
//! ```text
//! cargo bench --features bench-internals --bench consent
//! ```

use std::hint::black_box;
use std::time::Duration;

mod common;

use chrono::Utc;
use common::raw_connection;
use criterion::{criterion_group, criterion_main, Criterion};
use custdb::consent::sql;
use custdb::{
    CollectionMethod, ConsentState, CustomerId, DataCategory, LawfulBasis, NewConsent, NewCustomer,
    NewPurpose, Store,
};
use rusqlite::{params, OptionalExtension};

const CUSTOMERS: usize = 10_000;

fn consent(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bench.db")).unwrap();
    let ids: Vec<CustomerId> = store
        .write(|tx| {
            tx.consent().register_purpose(
                NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            let mut ids = Vec::with_capacity(CUSTOMERS);
            for n in 0..CUSTOMERS {
                let id = tx.customers().create(NewCustomer::new(format!("C{n}")))?.id;
                if n % 2 == 0 {
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
                if n % 20 == 0 {
                    tx.consent().record(NewConsent::new(
                        id,
                        "marketing",
                        ConsentState::Withdrawn,
                        CollectionMethod::Email,
                    ))?;
                }
                ids.push(id);
            }
            Ok::<_, custdb::Error>(ids)
        })
        .unwrap();
    let conn = raw_connection(&dir.path().join("bench.db"));
    let at = Utc::now() + chrono::Duration::seconds(1);
    let at_db = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);

    let mut group = c.benchmark_group("can_process");
    let mut i = 0;
    group.bench_function("custdb", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            black_box(
                store
                    .read(|r| r.consent().can_process(ids[i], "marketing", at))
                    .unwrap(),
            )
        })
    });
    let mut i = 0;
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            let tx = rusqlite::Transaction::new_unchecked(
                &conn,
                rusqlite::TransactionBehavior::Deferred,
            )
            .unwrap();
            let erased: bool = tx
                .prepare_cached(sql::ERASED)
                .unwrap()
                .query_row([ids[i].to_string()], |r| r.get(0))
                .unwrap();
            let required: bool = tx
                .prepare_cached(sql::PURPOSE)
                .unwrap()
                .query_row(["marketing"], |r| r.get(3))
                .unwrap();
            let state: Option<String> = tx
                .prepare_cached(sql::LATEST)
                .unwrap()
                .query_row(params![ids[i].to_string(), "marketing", at_db], |r| {
                    r.get(3)
                })
                .optional()
                .unwrap();
            tx.commit().unwrap();
            black_box(!erased && required && state.as_deref() == Some("given"))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("consenting_page_of_100");
    group.bench_function("custdb", |b| {
        b.iter(|| {
            black_box(
                store
                    .read(|r| r.consent().consenting("marketing", at, None, 100))
                    .unwrap(),
            )
        })
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            let tx = rusqlite::Transaction::new_unchecked(
                &conn,
                rusqlite::TransactionBehavior::Deferred,
            )
            .unwrap();
            let _purpose: String = tx
                .prepare_cached(sql::PURPOSE)
                .unwrap()
                .query_row(["marketing"], |r| r.get(0))
                .unwrap();
            let ids: Vec<String> = tx
                .prepare_cached(sql::CONSENTING)
                .unwrap()
                .query_map(params!["marketing", at_db, "", 101], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            tx.commit().unwrap();
            black_box(ids)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = consent
}
criterion_main!(benches);
