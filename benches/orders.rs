//! Order benchmarks, each beside a raw-rusqlite baseline that runs the same
//! statements (the write statements' text comes from `custdb::order::sql`
//! and `custdb::inventory::sql`) on a file database with the same schema,
//! data and pragmas.
//!
//! ```text
//! cargo bench --features bench-internals --bench orders
//! ```
//!
//! docs/PERFORMANCE.md records the results and the ratios.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

mod common;

use common::shop::{build_shop, order_of, raw_pay, raw_place, shop, VARIANTS};
use common::{raw_connection, raw_connection_at};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use custdb::order::sql;
use custdb::{CustomerId, Durability, NewPayment, Options, PaymentMethod, Store};
use rusqlite::{params, Connection};

/// custdb's two durability levels and the `synchronous` setting each
/// stands for.
const LEVELS: [(Durability, &str, &str); 2] = [
    (Durability::Full, "FULL", "full"),
    (Durability::Normal, "NORMAL", "normal"),
];

/// Both sides of a write benchmark at one durability level: a custdb store
/// and a raw connection, each on its own new shop file.
fn sides(
    custdb_dir: &Path,
    raw_dir: &Path,
    durability: Durability,
    synchronous: &str,
) -> (Store, CustomerId, Connection, CustomerId) {
    let path = custdb_dir.join("bench.db");
    let customer = build_shop(&path, VARIANTS, 1)[0];
    let store = Store::open_with(&path, Options::default().durability(durability)).unwrap();
    let raw_path = raw_dir.join("bench.db");
    let raw_customer = build_shop(&raw_path, VARIANTS, 1)[0];
    (
        store,
        customer,
        raw_connection_at(&raw_path, synchronous),
        raw_customer,
    )
}

/// Lines of 2 units of the first `n` variants, as `order_of` orders them.
fn raw_lines(n: usize) -> Vec<(usize, i64)> {
    (0..n).map(|i| (i, 2)).collect()
}

fn place(c: &mut Criterion) {
    for (durability, synchronous, level) in LEVELS {
        for lines in [1usize, 5, 15] {
            let mut group = c.benchmark_group(format!("place_order_{lines}_lines_{level}"));
            group
                .sample_size(20)
                .measurement_time(Duration::from_secs(4));
            let (dir, raw_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (store, customer, conn, raw_customer) =
                sides(dir.path(), raw_dir.path(), durability, synchronous);
            group.bench_function("custdb", |b| {
                b.iter(|| {
                    black_box(
                        store
                            .write(|tx| tx.orders().place(order_of(customer, lines)))
                            .unwrap(),
                    )
                })
            });
            let raw = raw_lines(lines);
            group.bench_function("raw_rusqlite", |b| {
                b.iter(|| black_box(raw_place(&conn, raw_customer, &raw)))
            });
            group.finish();
        }
    }
}

fn pay(c: &mut Criterion) {
    for (durability, synchronous, level) in LEVELS {
        let mut group = c.benchmark_group(format!("pay_order_{level}"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(4));
        let (dir, raw_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (store, customer, conn, raw_customer) =
            sides(dir.path(), raw_dir.path(), durability, synchronous);
        group.bench_function("custdb", |b| {
            b.iter_batched(
                || {
                    store
                        .write(|tx| tx.orders().place(order_of(customer, 1)))
                        .unwrap()
                },
                |o| {
                    store
                        .write(|tx| {
                            tx.orders().pay(
                                o.id,
                                NewPayment::new(PaymentMethod::Card, o.total.amount)
                                    .provider("psp", "ref-1"),
                            )
                        })
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        let one = raw_lines(1);
        group.bench_function("raw_rusqlite", |b| {
            b.iter_batched(
                || raw_place(&conn, raw_customer, &one),
                |o| raw_pay(&conn, o),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

/// The columns of one order-history row, as a raw caller reads them.
type SummaryRow = (
    String,
    i64,
    Option<String>,
    String,
    String,
    i64,
    i64,
    i64,
    String,
);

fn history(c: &mut Criterion) {
    let mut group = c.benchmark_group("order_history_page_of_20");
    let dir = tempfile::tempdir().unwrap();
    let (store, customer) = shop(dir.path());
    for _ in 0..200 {
        store
            .write(|tx| tx.orders().place(order_of(customer, 3)))
            .unwrap();
    }
    group.bench_function("custdb", |b| {
        b.iter(|| {
            black_box(
                store
                    .read(|r| r.orders().history(customer, None, 20))
                    .unwrap(),
            )
        })
    });
    let conn = raw_connection(&dir.path().join("bench.db"));
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            let mut stmt = conn.prepare_cached(sql::HISTORY).unwrap();
            let rows: Vec<SummaryRow> = stmt
                .query_map(params![customer.to_string(), "~", "", 21], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            black_box(rows)
        })
    });
    group.finish();
}

criterion_group!(benches, place, pay, history);
criterion_main!(benches);
