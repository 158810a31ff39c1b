//! A TPC-C-like transaction mix on a file database, through custdb and
//! through raw rusqlite running the same statements, at Full and at Normal
//! durability.
//!
//! ```text
//! cargo bench --features bench-internals --bench mix
//! ```
//!
//! The mapping onto custdb (docs/PERFORMANCE.md has it as a table):
//!
//! - **New-Order (45 %)**: a random customer orders 5 to 15 distinct
//!   variants (1 to 10 units each) out of 1,000; `place` reserves the stock
//!   line by line in the first warehouse that has it.
//! - **Payment (43 %)**: the customer of the oldest unpaid order is looked
//!   up (by id 60 % of the time, by email 40 %, as TPC-C looks up by id or
//!   by last name) and the order is paid in full, in one transaction.
//! - **Order-Status (4 %)**: a random customer's latest order, with its
//!   lines (history page of 1, then the order).
//! - **Delivery (4 %)**: the 10 oldest paid orders (TPC-C delivers one per
//!   district, ten districts) are shipped in full, in one transaction.
//! - **Stock-Level (4 %)**: the low-stock report (every variant and
//!   warehouse at or below its reorder point).
//!
//! The sequence of transactions and their parameters comes from a fixed
//! seed and is the same for both sides. Before measuring, a short run of
//! the mix on each side records every statement text it ran (custdb
//! through its statement log, the baseline through rusqlite's trace hook)
//! and the bench stops unless the two sets are equal. Criterion reports
//! the mean time per transaction; the bench also records each
//! transaction's latency and prints transactions per second and the 50th
//! and 99th percentiles.

use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::mix::{sequence, CustdbSide, Queues, Txn, CUSTOMERS, DELIVERY_BATCH, KINDS, VARIANTS};
use common::shop::{build_shop, now, raw_pay_in, raw_place, raw_ship_in};
use common::{assert_same_statements, raw_connection_at, trace_statements, Log};
use criterion::{criterion_group, criterion_main, Criterion};
use custdb::customer::sql as customer_sql;
use custdb::inventory::sql as inv_sql;
use custdb::order::sql as order_sql;
use custdb::{CustomerId, Decimal, Durability, Options, OrderId, Store};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

struct RawSide {
    conn: Connection,
    customers: Vec<CustomerId>,
    queues: Queues<OrderId>,
}

/// The columns of a customer row, as a raw caller reads them.
type CustomerRow = (String, String, Option<String>, String, i64);

fn raw_customer(row: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(4)?,
        row.get(12)?,
        row.get(14)?,
    ))
}

impl RawSide {
    fn run(&mut self, txn: &Txn) {
        match txn {
            Txn::NewOrder { customer, lines } => {
                let id = raw_place(&self.conn, self.customers[*customer], lines);
                // The total is not needed: the raw payment pays what is due.
                self.queues.unpaid.push_back((id, *customer, Decimal::ZERO));
            }
            Txn::Payment { by_email } => {
                let (order, customer, _) = self.queues.unpaid.pop_front().unwrap();
                let tx = rusqlite::Transaction::new_unchecked(
                    &self.conn,
                    TransactionBehavior::Immediate,
                )
                .unwrap();
                let row = if *by_email {
                    tx.prepare_cached(customer_sql::GET_BY_EMAIL)
                        .unwrap()
                        .query_row([format!("buyer{customer}@example.com")], raw_customer)
                } else {
                    tx.prepare_cached(customer_sql::GET)
                        .unwrap()
                        .query_row([self.customers[customer].to_string()], raw_customer)
                }
                .unwrap();
                black_box(row);
                raw_pay_in(&tx, order);
                tx.commit().unwrap();
                self.queues.paid.push_back(order);
            }
            Txn::OrderStatus { customer } => {
                let tx =
                    rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
                        .unwrap();
                let latest: Option<String> = tx
                    .prepare_cached(order_sql::HISTORY)
                    .unwrap()
                    .query_row(
                        params![self.customers[*customer].to_string(), "~", "", 2],
                        |r| r.get(0),
                    )
                    .optional()
                    .unwrap();
                if let Some(id) = latest {
                    let order: (String, i64, String) = tx
                        .prepare_cached(order_sql::ORDER_BY_ID)
                        .unwrap()
                        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(5)?)))
                        .unwrap();
                    let lines: Vec<(String, String, i64)> = tx
                        .prepare_cached(order_sql::LINES_OF_ORDER)
                        .unwrap()
                        .query_map([&id], |r| Ok((r.get(0)?, r.get(3)?, r.get(5)?)))
                        .unwrap()
                        .collect::<rusqlite::Result<_>>()
                        .unwrap();
                    black_box((order, lines));
                }
                tx.commit().unwrap();
            }
            Txn::Delivery => {
                let tx = rusqlite::Transaction::new_unchecked(
                    &self.conn,
                    TransactionBehavior::Immediate,
                )
                .unwrap();
                for _ in 0..DELIVERY_BATCH {
                    let Some(order) = self.queues.paid.pop_front() else {
                        break;
                    };
                    raw_ship_in(&tx, order);
                }
                tx.commit().unwrap();
            }
            Txn::StockLevel => {
                let tx =
                    rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
                        .unwrap();
                let rows: Vec<(String, String, i64, i64)> = tx
                    .prepare_cached(inv_sql::LOW_STOCK)
                    .unwrap()
                    .query_map([now()], |r| {
                        Ok((r.get(1)?, r.get(3)?, r.get(4)?, r.get(5)?))
                    })
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                black_box(rows);
                tx.commit().unwrap();
            }
        }
    }
}

fn custdb_side(path: &Path, durability: Durability, log: Option<Log>) -> CustdbSide {
    let customers = build_shop(path, VARIANTS, CUSTOMERS);
    let mut options = Options::default().durability(durability);
    if let Some(log) = log {
        options = options.statement_log(log);
    }
    CustdbSide {
        store: Store::open_with(path, options).unwrap(),
        customers,
        queues: Queues::default(),
        retries: 0,
    }
}

fn raw_side(path: &Path, synchronous: &str) -> RawSide {
    let customers = build_shop(path, VARIANTS, CUSTOMERS);
    RawSide {
        conn: raw_connection_at(path, synchronous),
        customers,
        queues: Queues::default(),
    }
}

/// Runs the first 2,000 transactions of the mix on both sides with their
/// statements recorded and fails unless both ran the same statement texts.
fn same_statements(txns: &[Txn]) {
    let dir = tempfile::tempdir().unwrap();
    let log: Log = Arc::default();
    let mut custdb = custdb_side(
        &dir.path().join("custdb.db"),
        Durability::Normal,
        Some(log.clone()),
    );
    let mut raw = raw_side(&dir.path().join("raw.db"), "NORMAL");
    log.lock().unwrap().clear();
    let raw_log = trace_statements(&mut raw.conn);
    for txn in &txns[..2_000] {
        custdb.run(txn);
        raw.run(txn);
    }
    let count = assert_same_statements(&log, &raw_log);
    eprintln!("mix: both sides ran the same {count} statement texts");
    let checked = custdb.store.check().unwrap();
    assert!(checked.is_ok(), "{:?}", checked.problems);
}

/// Latencies of every transaction run, by kind.
type Latencies = RefCell<[Vec<Duration>; 5]>;

fn print_latencies(name: &str, latencies: &Latencies) {
    let all = latencies.borrow();
    let mut every: Vec<Duration> = all.iter().flatten().copied().collect();
    let total: Duration = every.iter().sum();
    every.sort();
    let pct = |v: &[Duration], p: f64| -> Duration {
        if v.is_empty() {
            Duration::ZERO
        } else {
            v[((v.len() - 1) as f64 * p).round() as usize]
        }
    };
    println!(
        "{name}: {} transactions, {:.0} per second, p50 {:.3} ms, p99 {:.3} ms",
        every.len(),
        every.len() as f64 / total.as_secs_f64(),
        pct(&every, 0.50).as_secs_f64() * 1e3,
        pct(&every, 0.99).as_secs_f64() * 1e3
    );
    for (kind, v) in all.iter().enumerate() {
        let mut v = v.clone();
        v.sort();
        println!(
            "  {:<12} {:>6} p50 {:.3} ms p99 {:.3} ms",
            KINDS[kind],
            v.len(),
            pct(&v, 0.50).as_secs_f64() * 1e3,
            pct(&v, 0.99).as_secs_f64() * 1e3
        );
    }
}

/// One side of the mix under criterion, cycling through the sequence, with
/// every transaction's latency recorded and printed afterwards.
fn measure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    level: &str,
    side: &str,
    txns: &[Txn],
    mut run: impl FnMut(&Txn),
) {
    let latencies: Latencies = RefCell::default();
    let mut at = 0usize;
    group.bench_function(side, |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let txn = &txns[at % txns.len()];
                at += 1;
                let started = Instant::now();
                run(txn);
                let took = started.elapsed();
                elapsed += took;
                latencies.borrow_mut()[txn.kind()].push(took);
            }
            elapsed
        })
    });
    print_latencies(&format!("mix_{level}/{side}"), &latencies);
}

fn mix(c: &mut Criterion) {
    let txns = sequence();
    same_statements(&txns);
    for (durability, synchronous, level) in [
        (Durability::Full, "FULL", "full"),
        (Durability::Normal, "NORMAL", "normal"),
    ] {
        let mut group = c.benchmark_group(format!("mix_{level}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(10));
        let dir = tempfile::tempdir().unwrap();

        let mut custdb = custdb_side(&dir.path().join("custdb.db"), durability, None);
        measure(&mut group, level, "custdb", &txns, |t| custdb.run(t));
        let checked = custdb.store.check().unwrap();
        assert!(checked.is_ok(), "{:?}", checked.problems);

        let mut raw = raw_side(&dir.path().join("raw.db"), synchronous);
        measure(&mut group, level, "raw_rusqlite", &txns, |t| raw.run(t));
        group.finish();
    }
}

criterion_group!(benches, mix);
criterion_main!(benches);
