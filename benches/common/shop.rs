//! The order workloads' raw-rusqlite twins, shared by the order and mix
//! benchmarks: each runs the statements custdb runs, in the same order,
//! their text taken from custdb's hidden `sql` modules.

use custdb::Currency;
use std::collections::BTreeMap;
use std::path::Path;

use chrono::{SecondsFormat, Utc};
use custdb::catalog::sql as cat_sql;
use custdb::inventory::sql as inv_sql;
use custdb::loyalty::sql as loyalty_sql;
use custdb::order::fulfilment::sql as pay_sql;
use custdb::order::sql;
use custdb::{
    CustomerId, Decimal, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewVariant, NewWarehouse,
    OrderId, OrderLineId, PaymentId, ReplenishmentRule, ReservationId, Store,
};
use rusqlite::{params, Connection, TransactionBehavior};

/// Variants in the order benchmarks' shop.
pub const VARIANTS: usize = 20;

/// The SKU of variant `i`.
pub fn sku(i: usize) -> String {
    format!("SKU-{i:03}")
}

/// A store with one customer, 20 variants at 9.99 GBP and plenty of stock
/// in two warehouses.
pub fn shop(dir: &Path) -> (Store, CustomerId) {
    let path = dir.join("bench.db");
    let customers = build_shop(&path, VARIANTS, 1);
    (Store::open(&path).unwrap(), customers[0])
}

/// Writes a shop to a new file at `path`: `customers` customers (no
/// addresses), `variants` variants at 9.99 GBP in products of 100, each
/// with 100,000,000 units in two warehouses and a replenishment rule that
/// reports it low once 1,000 of them are held. Returns the customers.
pub fn build_shop(path: &Path, variants: usize, customers: usize) -> Vec<CustomerId> {
    build_shop_in(&Store::open(path).unwrap(), variants, customers)
}

/// [`build_shop`] in an open store (on either engine).
pub fn build_shop_in(store: &Store, variants: usize, customers: usize) -> Vec<CustomerId> {
    store
        .write(|tx| {
            let a = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("A", "A").priority(1))?;
            let b = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("B", "B").priority(2))?;
            for first in (0..variants).step_by(100) {
                let mut product = NewProduct::new(format!("Bench {first}"));
                for i in first..(first + 100).min(variants) {
                    product = product.variant(NewVariant::new(
                        sku(i),
                        Decimal::new(999, 2),
                        Currency::GBP,
                    ));
                }
                let p = tx.catalog().create_product(product)?;
                for v in &p.variants {
                    for w in [a.id, b.id] {
                        tx.inventory().receive(v.id, w, 100_000_000)?;
                        tx.inventory().set_replenishment_rule(
                            v.id,
                            w,
                            ReplenishmentRule {
                                reorder_point: 99_999_000,
                                target_level: 100_000_000,
                                order_multiple: 1,
                            },
                        )?;
                    }
                }
            }
            (0..customers)
                .map(|n| {
                    Ok::<_, custdb::Error>(
                        tx.customers()
                            .create(
                                NewCustomer::new(format!("Buyer {n}"))
                                    .email(format!("buyer{n}@example.com")),
                            )?
                            .id,
                    )
                })
                .collect()
        })
        .unwrap()
}

/// An order of `lines` lines of 2 units of the first variants, taxed at
/// 20 %.
pub fn order_of(customer: CustomerId, lines: usize) -> NewOrder {
    (0..lines).fold(NewOrder::for_customer(customer, Currency::GBP), |o, i| {
        o.line(NewOrderLine::new(sku(i), 2).tax_rate(Decimal::new(2, 1)))
    })
}

/// The current time as custdb stores it.
pub fn now() -> String {
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
pub fn raw_place(conn: &Connection, customer: CustomerId, lines: &[(usize, i64)]) -> OrderId {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    let at = now();
    let (_version, archived): (i64, bool) = tx
        .prepare_cached(custdb::customer::sql::VERSION_OF)
        .unwrap()
        .query_row([customer.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(!archived);
    let addresses = tx
        .prepare_cached(sql::DEFAULT_ADDRESSES)
        .unwrap()
        .query_map([customer.to_string()], |r| r.get::<_, String>(0))
        .unwrap()
        .count();
    assert_eq!(addresses, 0);
    let mut priced = Vec::with_capacity(lines.len());
    // Product names are read once per product, as custdb does.
    let mut product_names: BTreeMap<String, String> = BTreeMap::new();
    for &(i, quantity) in lines {
        let (variant, product_id, price): (String, String, i64) = tx
            .prepare_cached(cat_sql::VARIANT_BY_SKU)
            .unwrap()
            .query_row([sku(i)], |r| Ok((r.get(0)?, r.get(1)?, r.get(6)?)))
            .unwrap();
        let product = product_names
            .entry(product_id)
            .or_insert_with_key(|product_id| {
                tx.prepare_cached(cat_sql::PRODUCT_NAME)
                    .unwrap()
                    .query_row([product_id], |r| r.get(0))
                    .unwrap()
            })
            .clone();
        // Every variant costs 9.99 and the tax is 20 %: a fifth of the
        // subtotal, rounded to the penny (half up) as the pricing rule does.
        let sub = quantity * price;
        let tax = (sub / 5 + 50) / 100 * 100;
        priced.push((i, quantity, variant, price, product, sub, tax));
    }
    let subtotal: i64 = priced.iter().map(|p| p.5).sum();
    let tax: i64 = priced.iter().map(|p| p.6).sum();
    let id = OrderId::new();
    tx.prepare_cached(sql::INSERT_ORDER)
        .unwrap()
        .execute(params![
            id.to_string(),
            customer.to_string(),
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
    for (n, (i, quantity, variant, price, product, sub, tax)) in priced.iter().enumerate() {
        let line = OrderLineId::new();
        tx.prepare_cached(sql::INSERT_LINE)
            .unwrap()
            .execute(params![
                line.to_string(),
                id.to_string(),
                (n + 1) as i64,
                variant.to_string(),
                sku(*i),
                product,
                quantity,
                price,
                sub,
                0,
                200_000,
                tax,
                sub + tax,
                None::<String>
            ])
            .unwrap();
        raw_reserve(&tx, &at, id, line, variant, *quantity);
    }
    let read = raw_placed(&tx, &at, id, "[]", "{}");
    assert_eq!(read, lines.len());
    tx.commit().unwrap();
    id
}

/// The reservation of one order line, as custdb's allocation makes it: the
/// candidate warehouses, the first with enough available, its balance,
/// the reservation movement (with its `stock.changed` event) and the
/// reservation row.
pub fn raw_reserve(
    tx: &Connection,
    at: &str,
    id: OrderId,
    line: OrderLineId,
    variant: &str,
    quantity: i64,
) {
    let candidates: Vec<(String, i64)> = tx
        .prepare_cached(inv_sql::ALLOCATION)
        .unwrap()
        .query_map(params![variant, at], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let warehouse = &candidates.iter().find(|(_, a)| *a >= quantity).unwrap().0;
    let (on_hand, reserved, expired): (i64, i64, bool) = tx
        .prepare_cached(inv_sql::BALANCE)
        .unwrap()
        .query_row(params![variant, warehouse, at], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert!(on_hand - reserved >= quantity && !expired);
    let reservation = ReservationId::new();
    tx.prepare_cached(inv_sql::INSERT_MOVEMENT)
        .unwrap()
        .execute(params![
            variant.to_string(),
            warehouse.to_string(),
            "reservation",
            0,
            quantity,
            None::<String>,
            reservation.to_string(),
            id.to_string(),
            None::<String>,
            at,
            "system"
        ])
        .unwrap();
    super::raw_stock_event(
        tx,
        at,
        variant,
        warehouse,
        "reservation",
        (on_hand, reserved + quantity),
        &id.to_string(),
    );
    tx.prepare_cached(inv_sql::INSERT_RESERVATION)
        .unwrap()
        .execute(params![
            reservation.to_string(),
            variant.to_string(),
            warehouse.to_string(),
            id.to_string(),
            line.to_string(),
            quantity,
            None::<String>,
            at
        ])
        .unwrap();
}

/// What `place` does once the lines are in: the `placed` event (`data`),
/// the audit row (`fields`), and the order read back; the number of lines
/// read.
pub fn raw_placed(tx: &Connection, at: &str, id: OrderId, fields: &str, data: &str) -> usize {
    tx.prepare_cached(sql::INSERT_EVENT)
        .unwrap()
        .execute(params![
            id.to_string(),
            at,
            "system",
            "placed",
            None::<String>,
            "pending",
            data
        ])
        .unwrap();
    super::raw_audit(tx, at, "place", "order", &id.to_string(), fields);
    let number: i64 = tx
        .prepare_cached(sql::ORDER_BY_ID)
        .unwrap()
        .query_row([id.to_string()], |r| r.get(1))
        .unwrap();
    let mut stmt = tx.prepare_cached(sql::LINES_OF_ORDER).unwrap();
    let read: Vec<(String, i64, i64)> = stmt
        .query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(5)?, r.get(11)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    drop(stmt);
    assert!(number > 0);
    read.len()
}

/// The statements custdb's `pay` runs, in the same order: the order's
/// state and amounts, the captured payment, the paid amount (returning the
/// new balance), the holds that stop expiring, the event and the status
/// change, the audit row, and the payment read back.
pub fn raw_pay(conn: &Connection, order: OrderId) {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    raw_pay_in(&tx, order);
    tx.commit().unwrap();
}

/// [`raw_pay`]'s statements inside the caller's transaction.
pub fn raw_pay_in(tx: &Connection, order: OrderId) {
    let at = now();
    let (status, _currency): (String, String) = tx
        .prepare_cached(sql::ORDER_STATE)
        .unwrap()
        .query_row([order.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(status, "pending");
    let (total, paid, _refunded): (i64, i64, i64) = tx
        .prepare_cached(pay_sql::ORDER_AMOUNTS)
        .unwrap()
        .query_row([order.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let payment = PaymentId::new();
    tx.prepare_cached(pay_sql::INSERT_PAYMENT)
        .unwrap()
        .execute(params![
            payment.to_string(),
            order.to_string(),
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
        .query_row(params![order.to_string(), total - paid, at], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(total, paid);
    tx.prepare_cached(pay_sql::KEEP_RESERVATIONS)
        .unwrap()
        .execute([order.to_string()])
        .unwrap();
    // Paid in full: custdb looks up the currency's loyalty rule (none).
    let rule = tx
        .prepare_cached(loyalty_sql::RULE_OF_CURRENCY)
        .unwrap()
        .query_map(["GBP"], |_| Ok(()))
        .unwrap()
        .count();
    assert_eq!(rule, 0);
    tx.prepare_cached(sql::INSERT_EVENT)
        .unwrap()
        .execute(params![
            order.to_string(),
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
        .execute(params![order.to_string(), "paid", at])
        .unwrap();
    super::raw_audit(
        tx,
        &at,
        "capture_payment",
        "order",
        &order.to_string(),
        "[]",
    );
    let status: String = tx
        .prepare_cached(pay_sql::PAYMENT_BY_ID)
        .unwrap()
        .query_row([payment.to_string()], |r| r.get(7))
        .unwrap();
    assert_eq!(status, "captured");
}

/// The statements custdb's `ship` runs to ship everything left on an order,
/// inside the caller's transaction, in the same order: the order and its
/// lines, the shipment row, then per line the variant, its open
/// reservations and per reservation the balance check, the shipment
/// movement and the reservation's update, the shipment line and the
/// shipped count; whether all is shipped, the event and the status, the
/// audit row, and the order's shipments read back.
pub fn raw_ship_in(tx: &Connection, order: OrderId) {
    let at = now();
    let status: String = tx
        .prepare_cached(sql::ORDER_BY_ID)
        .unwrap()
        .query_row([order.to_string()], |r| r.get(5))
        .unwrap();
    assert_eq!(status, "paid");
    let lines: Vec<(String, String, i64, i64)> = tx
        .prepare_cached(sql::LINES_OF_ORDER)
        .unwrap()
        .query_map([order.to_string()], |r| {
            Ok((r.get(0)?, r.get(2)?, r.get(5)?, r.get(13)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let shipment = custdb::ShipmentId::new();
    tx.prepare_cached(pay_sql::INSERT_SHIPMENT)
        .unwrap()
        .execute(params![
            shipment.to_string(),
            order.to_string(),
            "post",
            "T-1",
            at
        ])
        .unwrap();
    for (line, variant, quantity, shipped) in &lines {
        let left = quantity - shipped;
        let track_stock: bool = tx
            .prepare_cached(cat_sql::VARIANT_BY_ID)
            .unwrap()
            .query_row([variant], |r| r.get(8))
            .unwrap();
        assert!(track_stock);
        let holds: Vec<(String, String, i64)> = tx
            .prepare_cached(inv_sql::OPEN_RESERVATIONS_OF_LINE)
            .unwrap()
            .query_map([line], |r| Ok((r.get(0)?, r.get(2)?, r.get(5)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut to_take = left;
        for (reservation, warehouse, open) in holds {
            let take = open.min(to_take);
            let (on_hand, reserved, _expired): (i64, i64, bool) = tx
                .prepare_cached(inv_sql::BALANCE)
                .unwrap()
                .query_row(params![variant, warehouse, at], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .unwrap();
            assert!(on_hand >= take);
            tx.prepare_cached(inv_sql::INSERT_MOVEMENT)
                .unwrap()
                .execute(params![
                    variant.to_string(),
                    warehouse.to_string(),
                    "shipment",
                    -take,
                    -take,
                    None::<String>,
                    reservation,
                    order.to_string(),
                    None::<String>,
                    at,
                    "system"
                ])
                .unwrap();
            super::raw_stock_event(
                tx,
                &at,
                variant,
                &warehouse,
                "shipment",
                (on_hand - take, reserved - take),
                &order.to_string(),
            );
            tx.prepare_cached(inv_sql::CLOSE_RESERVATION)
                .unwrap()
                .execute(params![reservation, take, at, "shipped"])
                .unwrap();
            to_take -= take;
            if to_take == 0 {
                break;
            }
        }
        assert_eq!(to_take, 0);
        tx.prepare_cached(pay_sql::INSERT_SHIPMENT_LINE)
            .unwrap()
            .execute(params![shipment.to_string(), line.to_string(), left])
            .unwrap();
        tx.prepare_cached(pay_sql::ADD_SHIPPED)
            .unwrap()
            .execute(params![line, left])
            .unwrap();
    }
    let all_shipped: bool = tx
        .prepare_cached(pay_sql::ALL_SHIPPED)
        .unwrap()
        .query_row([order.to_string()], |r| r.get(0))
        .unwrap();
    assert!(all_shipped);
    tx.prepare_cached(sql::INSERT_EVENT)
        .unwrap()
        .execute(params![
            order.to_string(),
            at,
            "system",
            "shipped",
            "paid",
            "shipped",
            "{}"
        ])
        .unwrap();
    tx.prepare_cached(sql::SET_STATUS)
        .unwrap()
        .execute(params![order.to_string(), "shipped", at])
        .unwrap();
    super::raw_audit(tx, &at, "ship", "order", &order.to_string(), "[]");
    let _: (String, String) = tx
        .prepare_cached(sql::ORDER_STATE)
        .unwrap()
        .query_row([order.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let shipped: Vec<(String, String, i64)> = tx
        .prepare_cached(pay_sql::SHIPMENTS_OF_ORDER)
        .unwrap()
        .query_map([order.to_string()], |r| {
            Ok((r.get(0)?, r.get(5)?, r.get(6)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(shipped.len(), lines.len());
}
