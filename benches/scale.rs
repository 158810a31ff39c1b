//! Point reads, order placement and order history on a large generated
//! database (`examples/generate.rs`), to compare with the same workloads at
//! 100,000 customers.
//!
//! ```text
//! cargo run --release --example generate -- 100000 /tmp/scale-100k.db
//! CUSTDB_SCALE_DB=/tmp/scale-100k.db cargo bench --features bench-internals --bench scale
//! ```
//!
//! Without `CUSTDB_SCALE_DB` it does nothing (generating ten million
//! customers takes a while; docs/PERFORMANCE.md has the figures). The
//! placement benchmarks add orders to the file.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use custdb::{Currency, CustomerId, NewOrder, NewOrderLine, Store};

fn scale(c: &mut Criterion) {
    let Some(path) = std::env::var_os("CUSTDB_SCALE_DB") else {
        eprintln!("CUSTDB_SCALE_DB is not set: nothing to measure");
        return;
    };
    let store = Store::open(&path).expect("the generated database");
    // A sample of 1,000 customers spread evenly over the whole table (every
    // N/1000-th row), so that point reads and histories touch pages all over
    // the file, not a cached corner of it.
    let sample: Vec<(CustomerId, String)> = {
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("the generated database");
        let count: i64 = conn
            .query_row("SELECT max(pk) FROM customers", [], |r| r.get(0))
            .unwrap();
        let step = (count / 1000).max(1);
        let mut stmt = conn
            .prepare("SELECT id, coalesce(email, '') FROM customers WHERE pk % ?1 = 0 LIMIT 1000")
            .unwrap();
        let rows = stmt
            .query_map([step], |r| {
                Ok((
                    CustomerId::parse(&r.get::<_, String>(0)?, "id").unwrap(),
                    r.get::<_, String>(1)?,
                ))
            })
            .unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    };
    assert!(sample.len() >= 500, "{} customers sampled", sample.len());
    let mut group = c.benchmark_group("scale");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    let mut i = 0;
    group.bench_function("get_by_id", |b| {
        b.iter(|| {
            i = (i + 7) % sample.len();
            black_box(store.customers().get(sample[i].0).unwrap())
        })
    });
    group.bench_function("get_by_email", |b| {
        b.iter(|| {
            i = (i + 7) % sample.len();
            black_box(store.customers().get_by_email(&sample[i].1).unwrap())
        })
    });
    group.bench_function("order_history_page_of_20", |b| {
        b.iter(|| {
            i = (i + 7) % sample.len();
            black_box(
                store
                    .read(|r| r.orders().history(sample[i].0, None, 20))
                    .unwrap(),
            )
        })
    });
    for lines in [1usize, 5] {
        group.bench_function(format!("place_order_{lines}_lines"), |b| {
            b.iter(|| {
                i = (i + 7) % sample.len();
                let order = (0..lines).fold(
                    NewOrder::for_customer(sample[i].0, Currency::GBP),
                    |o, n| o.line(NewOrderLine::new(format!("S{n:02}"), 1)),
                );
                black_box(store.write(|tx| tx.orders().place(order)).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
