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
use custdb::inventory::sql as inv_sql;
use custdb::order::fulfilment::sql as pay_sql;
use custdb::order::sql;
use custdb::{
    CustomerId, Decimal, NewCustomer, NewOrder, NewOrderLine, NewPayment, NewProduct, NewVariant,
    NewWarehouse, OrderId, OrderLineId, PaymentId, PaymentMethod, ReservationId, Store,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

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

/// What hand-written rusqlite code does to place the same order: look up
/// each variant and the stock, insert the order and its lines, reserve
/// (movement + reservation row), write the event and the audit row, and
/// read the order back.
fn raw_place(conn: &Connection, customer: CustomerId, lines: usize) -> OrderId {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    let at = now();
    let active: bool = tx
        .prepare_cached("SELECT archived_at IS NULL FROM customers WHERE id = ?1")
        .unwrap()
        .query_row([customer], |r| r.get(0))
        .unwrap();
    assert!(active);
    let mut priced = Vec::with_capacity(lines);
    for i in 0..lines {
        let (variant, price, product): (String, i64, String) = tx
            .prepare_cached(
                "SELECT v.id, v.price_e4, p.name FROM product_variants v \
                 JOIN products p ON p.id = v.product_id WHERE v.sku = ?1",
            )
            .unwrap()
            .query_row([sku(i)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
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
            at
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
        let warehouse: String = tx
            .prepare_cached(
                "SELECT w.id FROM warehouses w JOIN stock_levels l ON l.warehouse_id = w.id \
                 WHERE l.variant_id = ?1 AND w.archived_at IS NULL AND l.on_hand - l.reserved >= ?2 \
                 ORDER BY w.priority, w.code LIMIT 1",
            )
            .unwrap()
            .query_row(params![variant, 2], |r| r.get(0))
            .unwrap();
        let (on_hand, reserved): (i64, i64) = tx
            .prepare_cached(inv_sql::BALANCE)
            .unwrap()
            .query_row(params![variant, warehouse], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert!(on_hand - reserved >= 2);
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
    tx.prepare_cached(custdb::customer::sql::INSERT_AUDIT)
        .unwrap()
        .execute(params![
            at,
            "system",
            "custdb",
            "place",
            "order",
            id.to_string(),
            "[]"
        ])
        .unwrap();
    let number: i64 = tx
        .prepare_cached("SELECT number FROM orders WHERE id = ?1")
        .unwrap()
        .query_row([id], |r| r.get(0))
        .unwrap();
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, quantity, total_e4 FROM order_lines WHERE order_id = ?1 ORDER BY line_no",
        )
        .unwrap();
    let read: Vec<(String, i64, i64)> = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    drop(stmt);
    assert_eq!((read.len(), number > 0), (lines, true));
    tx.commit().unwrap();
    id
}

/// The same statements custdb's `pay` runs: insert the captured payment,
/// add it to the order, stop the holds expiring, the event (with the status
/// change) and the audit row.
fn raw_pay(conn: &Connection, order: OrderId) {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    let at = now();
    let (status, total, paid): (String, i64, i64) = tx
        .prepare_cached("SELECT status, total_e4, paid_e4 FROM orders WHERE id = ?1")
        .unwrap()
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    assert_eq!(status, "pending");
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
    tx.prepare_cached(pay_sql::ADD_PAID)
        .unwrap()
        .execute(params![order, total - paid, at])
        .unwrap();
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
    tx.prepare_cached(
        "UPDATE orders SET status = ?2, updated_at = ?3, version = version + 1 WHERE id = ?1",
    )
    .unwrap()
    .execute(params![order, "paid", at])
    .unwrap();
    tx.prepare_cached(custdb::customer::sql::INSERT_AUDIT)
        .unwrap()
        .execute(params![
            at,
            "system",
            "custdb",
            "capture_payment",
            "order",
            order.to_string(),
            "[]"
        ])
        .unwrap();
    let _: Option<String> = tx
        .prepare_cached("SELECT status FROM payments WHERE id = ?1")
        .unwrap()
        .query_row([payment], |r| r.get(0))
        .optional()
        .unwrap();
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
