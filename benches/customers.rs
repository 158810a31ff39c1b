//! Customer benchmarks, each beside a raw-rusqlite baseline that runs the
//! same SQL text (taken from `custdb::customer::sql`) with the same pragmas
//! on a database of the same schema and size.
//!
//! ```text
//! cargo bench --features bench-internals --bench customers                                  # Full durability
//! CUSTDB_BENCH_DURABILITY=normal cargo bench --features bench-internals --bench customers   # Normal
//! ```
//!
//! docs/PERFORMANCE.md records the results and the ratios.

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::people::{new_customer, raw_create};
use common::raw_connection;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use custdb::customer::sql;
use custdb::{CustomerId, Store};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// Customers in the database the read benchmarks query.
const POPULATION: usize = 10_000;
/// Customers per unit of work in the bulk benchmark.
const BULK: usize = 10_000;

/// A customer row read into owned values, as hand-written code would.
#[allow(dead_code)]
struct RawRow {
    id: String,
    display_name: String,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    locale: Option<String>,
    birth_date: Option<String>,
    source: Option<String>,
    attributes: String,
    notes: Option<String>,
    created_at: String,
    updated_at: String,
    version: i64,
    archived_at: Option<String>,
    tags: String,
}

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: row.get(0)?,
        display_name: row.get(1)?,
        given_name: row.get(2)?,
        family_name: row.get(3)?,
        email: row.get(4)?,
        phone: row.get(5)?,
        company: row.get(6)?,
        locale: row.get(7)?,
        birth_date: row.get(8)?,
        source: row.get(9)?,
        attributes: row.get(10)?,
        notes: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        version: row.get(14)?,
        archived_at: row.get(15)?,
        tags: row.get(16)?,
    })
}

/// A store holding [`POPULATION`] customers, and their ids and emails.
fn populated() -> (tempfile::TempDir, Store, Vec<(CustomerId, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bench.db")).unwrap();
    let people = store
        .write(|tx| {
            (0..POPULATION)
                .map(|n| {
                    let c = tx.customers().create(new_customer(n))?;
                    Ok((c.id, c.email.unwrap_or_default()))
                })
                .collect::<custdb::Result<Vec<_>>>()
        })
        .unwrap();
    (dir, store, people)
}

fn create(c: &mut Criterion) {
    let level = common::durability().2;
    let mut group = c.benchmark_group(format!("create_one_per_transaction_{level}"));
    let dir = tempfile::tempdir().unwrap();
    let store = common::store_at(&dir.path().join("custdb.db"));
    let mut n = 0;
    group.bench_function("custdb", |b| {
        b.iter(|| {
            n += 1;
            black_box(store.customers().create(new_customer(n)).unwrap())
        })
    });
    let raw_path = dir.path().join("raw.db");
    drop(Store::open(&raw_path).unwrap());
    let mut conn = common::raw_at(&raw_path);
    let mut n = 0;
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            n += 1;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            let id = raw_create(&tx, n);
            tx.commit().unwrap();
            black_box(id)
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("create_10k_in_one_unit_of_work_{level}"));
    group.sample_size(10);
    group.bench_function("custdb", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = common::store_at(&dir.path().join("bulk.db"));
                (dir, store)
            },
            |(dir, store)| {
                store
                    .write(|tx| {
                        for n in 0..BULK {
                            tx.customers().create(new_customer(n))?;
                        }
                        Ok::<_, custdb::Error>(())
                    })
                    .unwrap();
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("bulk.db");
                drop(Store::open(&path).unwrap());
                let conn = common::raw_at(&path);
                (dir, conn)
            },
            |(dir, mut conn)| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .unwrap();
                for n in 0..BULK {
                    raw_create(&tx, n);
                }
                tx.commit().unwrap();
                (dir, conn)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn reads(c: &mut Criterion) {
    let (dir, store, people) = populated();
    let conn = raw_connection(&dir.path().join("bench.db"));

    let mut group = c.benchmark_group("get_by_id");
    let mut i = 0;
    group.bench_function("custdb", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            black_box(store.customers().get(people[i].0).unwrap())
        })
    });
    let mut i = 0;
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            let row = conn
                .prepare_cached(sql::GET)
                .unwrap()
                .query_row([people[i].0.to_string()], raw_row)
                .optional()
                .unwrap()
                .unwrap();
            black_box(row)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("get_by_email");
    let mut i = 0;
    group.bench_function("custdb", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            black_box(store.customers().get_by_email(&people[i].1).unwrap())
        })
    });
    let mut i = 0;
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            let row = conn
                .prepare_cached(sql::GET_BY_EMAIL)
                .unwrap()
                .query_row([&people[i].1], raw_row)
                .optional()
                .unwrap()
                .unwrap();
            black_box(row)
        })
    });
    group.finish();

    // "grace hop" matches Grace Hopper, 1 in 256 of the population (39 rows);
    // the best 20 by rank come back.
    let mut group = c.benchmark_group("search_grace_hop_top20");
    group.bench_function("custdb", |b| {
        b.iter(|| black_box(store.customers().search("grace hop", 20).unwrap()))
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            let rows = conn
                .prepare_cached(sql::SEARCH)
                .unwrap()
                .query_map(params!["\"grace\"* \"hop\"*", 20], raw_row)
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            black_box(rows)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = create, reads
}
criterion_main!(benches);
