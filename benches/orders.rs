//! Order benchmarks, each beside a raw-rusqlite baseline that runs the same
//! statements (the write statements' text comes from `custdb::order::sql`
//! and `custdb::inventory::sql`) on a file database with the same schema,
//! data and pragmas.
//!
//! ```text
//! cargo bench --bench orders
//! ```
//!
//! docs/PERFORMANCE.md records the results and the ratios.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
mod common;

use common::raw_connection;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use custdb::catalog::sql as cat_sql;
use custdb::inventory::sql as inv_sql;
use custdb::order::fulfilment::sql as pay_sql;
use custdb::order::sql;
use custdb::{
    CustomerId, Decimal, NewCustomer, NewOrder, NewOrderLine, NewPayment, NewProduct, NewVariant,
    NewWarehouse, OrderId, OrderLineId, PaymentId, PaymentMethod, ReservationId, Store,
};
use rusqlite::{params, Connection, TransactionBehavior};

const VARIANTS: usize = 20;

fn sku(i: usize) -> String {
    format!("SKU-{i:03}")
}

/// A store with one customer, 20 variants at 9.99 GBP and plenty of stock
/// in two warehouses.
fn shop(dir: &Path) -> (Store, CustomerId) {
    let store = Store::open(dir.join("bench.db")).unwrap();
    let customer = store
        .write(|tx| {
            let c = tx.customers().create(NewCustomer::new("Buyer"))?;
            let mut product = NewProduct::new("Bench");
            for i in 0..VARIANTS {
                product = product.variant(NewVariant::new(sku(i), Decimal::new(999, 2), "GBP"));
            }
            let p = tx.catalog().create_product(product)?;
            let a = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("A", "A").priority(1))?;
            let b = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("B", "B").priority(2))?;
            for v in &p.variants {
                tx.inventory().receive(v.id, a.id, 100_000_000)?;
                tx.inventory().receive(v.id, b.id, 100_000_000)?;
            }
            Ok(c.id)
        })
        .unwrap();
    (store, customer)
}

fn order_of(customer: CustomerId, lines: usize) -> NewOrder {
    (0..lines).fold(NewOrder::for_customer(customer, "GBP"), |o, i| {
        o.line(NewOrderLine::new(sku(i), 2).tax_rate(Decimal::new(2, 1)))
    })
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The statements custdb's `place` runs, in the same order: the customer
/// check, the default addresses, each variant by SKU and its product's
/// name, the order row, then per line the line row, the allocation read,
/// the balance check, the reservation movement and the reservation row;
/// the event, the audit row, and the order read back. What it leaves out is
/// custdb's own work: validation, exact-money arithmetic, the savepoint
/// that makes `place` atomic inside a larger unit of work, and building
/// the typed result.
fn raw_place(conn: &Connection, customer: CustomerId, lines: usize) -> OrderId {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    let at = now();
    let (_version, archived): (i64, bool) = tx
        .prepare_cached(custdb::customer::sql::VERSION_OF)
        .unwrap()
        .query_row([customer], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(!archived);
    let addresses = tx
        .prepare_cached(sql::DEFAULT_ADDRESSES)
        .unwrap()
        .query_map([customer], |r| r.get::<_, String>(0))
        .unwrap()
        .count();
    assert_eq!(addresses, 0);
    let mut priced = Vec::with_capacity(lines);
    let mut product_name: Option<String> = None;
    for i in 0..lines {
        let (variant, product_id, price): (String, String, i64) = tx
            .prepare_cached(cat_sql::VARIANT_BY_SKU)
            .unwrap()
            .query_row([sku(i)], |r| Ok((r.get(0)?, r.get(1)?, r.get(6)?)))
            .unwrap();
        let product = match &product_name {
            Some(name) => name.clone(),
            None => {
                let name: String = tx
                    .prepare_cached(cat_sql::PRODUCT_NAME)
                    .unwrap()
                    .query_row([product_id], |r| r.get(0))
                    .unwrap();
                product_name = Some(name.clone());
                name
            }
        };
        // 2 × 9.99 = 19.98; tax 20 % = 4.00 (rounded).
        priced.push((variant, price, product, 2 * price, 40_000));
    }
    let subtotal: i64 = priced.iter().map(|p| p.3).sum();
    let tax: i64 = priced.iter().map(|p| p.4).sum();
    let id = OrderId::new();
    tx.prepare_cached(sql::INSERT_ORDER)
        .unwrap()
        .execute(params![
            id,
            customer,
            None::<String>,
            "GBP",
            "pending",
            subtotal,
            0,
            tax,
            0,
            subtotal + tax,
            None::<String>,
            None::<String>,
            None::<String>,
            None::<String>,
            None::<String>,
            None::<String>,
            at,
            None::<String>
        ])
        .unwrap();
    for (n, (variant, price, product, sub, tax)) in priced.iter().enumerate() {
        let line = OrderLineId::new();
        tx.prepare_cached(sql::INSERT_LINE)
            .unwrap()
            .execute(params![
                line,
                id,
                (n + 1) as i64,
                variant,
                sku(n),
                product,
                2,
                price,
                sub,
                0,
                200_000,
                tax,
                sub + tax,
                None::<String>
            ])
            .unwrap();
        let candidates: Vec<(String, i64)> = tx
            .prepare_cached(inv_sql::ALLOCATION)
            .unwrap()
            .query_map(params![variant, at], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let warehouse = &candidates.iter().find(|(_, a)| *a >= 2).unwrap().0;
        let (on_hand, reserved, expired): (i64, i64, bool) = tx
            .prepare_cached(inv_sql::BALANCE)
            .unwrap()
            .query_row(params![variant, warehouse, at], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert!(on_hand - reserved >= 2 && !expired);
        let reservation = ReservationId::new();
        tx.prepare_cached(inv_sql::INSERT_MOVEMENT)
            .unwrap()
            .execute(params![
                variant,
                warehouse,
                "reservation",
                0,
                2,
                None::<String>,
                reservation,
                id,
                None::<String>,
                at,
                "system"
            ])
            .unwrap();
        tx.prepare_cached(inv_sql::INSERT_RESERVATION)
            .unwrap()
            .execute(params![
                reservation,
                variant,
                warehouse,
                id,
                line,
                2,
                None::<String>,
                at
            ])
            .unwrap();
    }
    tx.prepare_cached(sql::INSERT_EVENT)
        .unwrap()
        .execute(params![
            id,
            at,
            "system",
            "placed",
            None::<String>,
            "pending",
            "{}"
        ])
        .unwrap();
    common::raw_audit(&tx, &at, "place", "order", &id.to_string(), "[]");
    let number: i64 = tx
        .prepare_cached(sql::ORDER_BY_ID)
        .unwrap()
        .query_row([id], |r| r.get(1))
        .unwrap();
    let mut stmt = tx.prepare_cached(sql::LINES_OF_ORDER).unwrap();
    let read: Vec<(String, i64, i64)> = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(5)?, r.get(11)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    drop(stmt);
    assert_eq!((read.len(), number > 0), (lines, true));
    tx.commit().unwrap();
    id
}

/// The statements custdb's `pay` runs, in the same order: the order's
/// state and amounts, the captured payment, the paid amount (returning the
/// new balance), the holds that stop expiring, the event and the status
/// change, the audit row, and the payment read back.
fn raw_pay(conn: &Connection, order: OrderId) {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    let at = now();
    let (status, _currency): (String, String) = tx
        .prepare_cached(sql::ORDER_STATE)
        .unwrap()
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(status, "pending");
    let (total, paid, _refunded): (i64, i64, i64) = tx
        .prepare_cached(pay_sql::ORDER_AMOUNTS)
        .unwrap()
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    let payment = PaymentId::new();
    tx.prepare_cached(pay_sql::INSERT_PAYMENT)
        .unwrap()
        .execute(params![
            payment,
            order,
            "card",
            "psp",
            "ref-1",
            total - paid,
            "GBP",
            "captured",
            at
        ])
        .unwrap();
    let (total, paid): (i64, i64) = tx
        .prepare_cached(pay_sql::ADD_PAID)
        .unwrap()
        .query_row(params![order, total - paid, at], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(total, paid);
    tx.prepare_cached(pay_sql::KEEP_RESERVATIONS)
        .unwrap()
        .execute([order])
        .unwrap();
    tx.prepare_cached(sql::INSERT_EVENT)
        .unwrap()
        .execute(params![
            order,
            at,
            "system",
            "payment_captured",
            "pending",
            "paid",
            "{}"
        ])
        .unwrap();
    tx.prepare_cached(sql::SET_STATUS)
        .unwrap()
        .execute(params![order, "paid", at])
        .unwrap();
    common::raw_audit(
        &tx,
        &at,
        "capture_payment",
        "order",
        &order.to_string(),
        "[]",
    );
    let status: String = tx
        .prepare_cached(pay_sql::PAYMENT_BY_ID)
        .unwrap()
        .query_row([payment], |r| r.get(7))
        .unwrap();
    assert_eq!(status, "captured");
    tx.commit().unwrap();
}

fn place(c: &mut Criterion) {
    for lines in [1usize, 5, 15] {
        let mut group = c.benchmark_group(format!("place_order_{lines}_lines"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(4));
        let dir = tempfile::tempdir().unwrap();
        let (store, customer) = shop(dir.path());
        group.bench_function("custdb", |b| {
            b.iter(|| {
                black_box(
                    store
                        .write(|tx| tx.orders().place(order_of(customer, lines)))
                        .unwrap(),
                )
            })
        });
        let raw_dir = tempfile::tempdir().unwrap();
        let (raw_store, raw_customer) = shop(raw_dir.path());
        drop(raw_store);
        let conn = raw_connection(&raw_dir.path().join("bench.db"));
        group.bench_function("raw_rusqlite", |b| {
            b.iter(|| black_box(raw_place(&conn, raw_customer, lines)))
        });
        group.finish();
    }
}

fn pay(c: &mut Criterion) {
    let mut group = c.benchmark_group("pay_order");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    let (store, customer) = shop(dir.path());
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
                            NewPayment::new(PaymentMethod::Card, o.total).provider("psp", "ref-1"),
                        )
                    })
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    let raw_dir = tempfile::tempdir().unwrap();
    let (raw_store, raw_customer) = shop(raw_dir.path());
    drop(raw_store);
    let conn = raw_connection(&raw_dir.path().join("bench.db"));
    group.bench_function("raw_rusqlite", |b| {
        b.iter_batched(
            || raw_place(&conn, raw_customer, 1),
            |o| raw_pay(&conn, o),
            BatchSize::SmallInput,
        )
    });
    group.finish();
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
                .query_map(params![customer, "~", "", 21], |r| {
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
