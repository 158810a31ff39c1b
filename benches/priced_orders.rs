//! Placing an order priced by custdb (issue 21): a price list for
//! everyone and one for the customer's group, VAT from the customer's
//! default shipping address, and an automatic 10 % promotion shared among
//! the lines; 1, 5 and 15 lines. Beside a raw-rusqlite baseline that runs
//! the same statements (their text from custdb's hidden `sql` modules) on
//! a file with the same schema, data and pragmas, and does the same sums
//! in integers. Before measuring, both sides place an order of each size
//! with their statements recorded, and the run fails unless they ran the
//! same statement texts.
//!
//! ```text
//! cargo bench --features bench-internals --bench priced_orders
//! ```
//!
//! docs/PERFORMANCE.md records the results and the ratios.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::shop::{build_shop, now, raw_placed, raw_reserve, sku, VARIANTS};
use common::{assert_same_statements, raw_connection_at, trace_statements, Log};
use criterion::{criterion_group, criterion_main, Criterion};
use custdb::catalog::sql as cat_sql;
use custdb::order::sql;
use custdb::pricing::sql as price_sql;
use custdb::promotion::sql as promo_sql;
use custdb::{
    AddressKind, Currency, CustomerId, Decimal, Durability, NewAddress, NewOrder, NewOrderLine,
    NewPriceList, NewPromotion, NewTaxRate, Options, OrderId, OrderLineId, PromotionEffect,
    RedemptionId, Store,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Builds the priced shop at `path`: the order benchmarks' shop (20
/// variants, stock in two warehouses, one customer), VAT 20 % in GB, the
/// customer in the group `members` with a default shipping address in
/// London, a list `retail` at 9.50 and a list `members` at 9.00 for every
/// variant, and the automatic promotion `tenoff` (10 % off the order).
fn priced_shop(path: &Path) -> CustomerId {
    let customer = build_shop(path, VARIANTS, 1)[0];
    let store = Store::open(path).unwrap();
    store
        .write(|tx| {
            let p = tx.pricing();
            p.set_tax_rate(NewTaxRate::new("GB", Decimal::new(2, 1), "VAT 20%"))?;
            let members = p.create_customer_group("members", "Members")?;
            p.add_to_group(members.id, customer, None, None)?;
            tx.customers().add_address(
                customer,
                NewAddress::new(AddressKind::Shipping, "1 High St", "London", "GB").make_default(),
            )?;
            let retail =
                p.create_price_list(NewPriceList::new("retail", "Retail", Currency::GBP))?;
            let group_list = p.create_price_list(
                NewPriceList::new("members", "Members", Currency::GBP).for_group(members.id),
            )?;
            for i in 0..VARIANTS {
                let v = tx.catalog().variant_by_sku(&sku(i))?;
                p.set_price(retail.id, v.id, 1, Decimal::new(950, 2))?;
                p.set_price(group_list.id, v.id, 1, Decimal::new(900, 2))?;
            }
            tx.promotions().create_promotion(NewPromotion::new(
                "tenoff",
                "Ten off",
                PromotionEffect::PercentOffOrder {
                    percent: Decimal::TEN,
                },
            ))?;
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    customer
}

/// An order of `lines` lines of 2 units, priced by custdb.
fn priced_order(customer: CustomerId, lines: usize) -> NewOrder {
    (0..lines).fold(
        NewOrder::for_customer(customer, Currency::GBP).priced_by_catalog(),
        |o, i| o.line(NewOrderLine::new(sku(i), 2)),
    )
}

/// The statements custdb's `place` runs for an order priced by the
/// catalog, in the same order: the customer, its default addresses, the
/// customer again with its groups and tax exemption; per line the variant
/// and each candidate list's price (the destination's tax rate, the
/// candidate lists and the product's name with the first line); the
/// automatic promotions and (in one read) their
/// conditions; the order row; per line the line row (with its price
/// source) and its reservation; the redemption; the event, the audit row
/// and the order read back. The sums are integer arithmetic that holds
/// for this shop (every line 2 × 9.00, 10 % off, 20 % tax); what it leaves
/// out is custdb's own work: validation, exact-money arithmetic, the
/// explanation and JSON it builds, the savepoint and the typed result.
fn raw_place_priced(conn: &Connection, customer: CustomerId, lines: usize) -> OrderId {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    let at = now();
    let c = customer.to_string();
    let version_of = || {
        let (_version, archived): (i64, bool) = tx
            .prepare_cached(custdb::customer::sql::VERSION_OF)
            .unwrap()
            .query_row([&c], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert!(!archived);
    };
    version_of();
    let address: (String, String, String, String) = tx
        .prepare_cached(sql::DEFAULT_ADDRESSES)
        .unwrap()
        .query_row([&c], |r| Ok((r.get(0)?, r.get(3)?, r.get(5)?, r.get(8)?)))
        .unwrap();
    assert_eq!(address.0, "shipping");
    let country = address.3.clone();
    version_of();
    let groups: Vec<String> = tx
        .prepare_cached(price_sql::GROUPS_OF)
        .unwrap()
        .query_map(params![c, at], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let exempt = tx
        .prepare_cached(price_sql::TAX_EXEMPTION)
        .unwrap()
        .query_row([&c], |r| r.get::<_, String>(0))
        .optional()
        .unwrap()
        .is_some();
    assert!(!exempt);
    let groups_json = serde_json::to_string(&groups).unwrap();
    let mut priced = Vec::with_capacity(lines);
    let mut product_name: Option<String> = None;
    // As custdb does, the destination's rate of a class and the candidate
    // lists are read by the first line that needs them.
    let mut rate: Option<(String, i64)> = None;
    let mut lists: Option<Vec<(String, String, Option<String>)>> = None;
    for i in 0..lines {
        let (variant, product_id, tax_class): (String, String, String) = tx
            .prepare_cached(cat_sql::VARIANT_BY_SKU)
            .unwrap()
            .query_row([sku(i)], |r| Ok((r.get(0)?, r.get(1)?, r.get(14)?)))
            .unwrap();
        let (rate_id, rate_ppm) = rate
            .get_or_insert_with(|| {
                tx.prepare_cached(price_sql::TAX_RATE_FOR)
                    .unwrap()
                    .query_row(params![country, None::<String>, tax_class], |r| {
                        Ok((r.get(0)?, r.get(4)?))
                    })
                    .unwrap()
            })
            .clone();
        let lists = lists.get_or_insert_with(|| {
            tx.prepare_cached(price_sql::CANDIDATE_LISTS)
                .unwrap()
                .query_map(params!["GBP", at, groups_json], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(5)?))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        });
        // The group's list is the more specific: it wins.
        let mut best: Option<(String, String, i64, i64)> = None;
        for (list, key, group) in lists.iter() {
            let (min_quantity, price): (i64, i64) = tx
                .prepare_cached(price_sql::LIST_PRICE)
                .unwrap()
                .query_row(params![list, variant, 2], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            if group.is_some() {
                best = Some((list.clone(), key.clone(), min_quantity, price));
            }
        }
        let (list, key, min_quantity, price) = best.unwrap();
        if product_name.is_none() {
            product_name = Some(
                tx.prepare_cached(cat_sql::PRODUCT_NAME)
                    .unwrap()
                    .query_row([&product_id], |r| r.get(0))
                    .unwrap(),
            );
        }
        priced.push((variant, list, key, min_quantity, price, rate_id, rate_ppm));
    }
    let promotions: Vec<(String, String)> = tx
        .prepare_cached(promo_sql::AUTOMATIC)
        .unwrap()
        .query_map([&at], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let conditions = tx
        .prepare_cached(promo_sql::AUTOMATIC_CONDITIONS)
        .unwrap()
        .query_map([&at], |r| r.get::<_, String>(0))
        .unwrap()
        .count();
    assert_eq!(conditions, 0);
    // 2 × 9.00 = 18.00 a line; 10 % of the order shares out to 1.80 a
    // line; 20 % tax on 16.20 is 3.24.
    let (sub, discount, tax) = (2 * priced[0].4, 2 * priced[0].4 / 10, 32_400);
    let n = lines as i64;
    let id = OrderId::new();
    let shipping_json = format!(
        r#"{{"recipient":null,"company":null,"line1":"{}","line2":null,"city":"{}","region":null,"postal_code":null,"country":"{country}"}}"#,
        address.1, address.2
    );
    tx.prepare_cached(sql::INSERT_ORDER)
        .unwrap()
        .execute(params![
            id.to_string(),
            c,
            None::<String>,
            "GBP",
            "pending",
            sub * n,
            discount * n,
            tax * n,
            0,
            (sub - discount + tax) * n,
            shipping_json,
            None::<String>,
            None::<String>,
            None::<String>,
            None::<String>,
            None::<String>,
            at,
            country
        ])
        .unwrap();
    let product = product_name.unwrap();
    for (i, (variant, list, key, min_quantity, price, rate_id, rate_ppm)) in
        priced.iter().enumerate()
    {
        let line = OrderLineId::new();
        let source = format!(
            r#"{{"price_list_id":"{list}","price_list_key":"{key}","min_quantity":{min_quantity},"customer_group_id":"{}","tax_rate_id":"{rate_id}","tax_exempt":false,"explanation":"9.00 GBP excl. tax from price list \"{key}\" (a customer group's list); tax 20% (standard, GB: VAT 20%)","discounts":[{{"promotion_key":"{}","amount":"1.80"}}]}}"#,
            groups[0], promotions[0].1
        );
        tx.prepare_cached(sql::INSERT_PRICED_LINE)
            .unwrap()
            .execute(params![
                line.to_string(),
                id.to_string(),
                (i + 1) as i64,
                variant,
                sku(i),
                product,
                2,
                price,
                sub,
                discount,
                rate_ppm,
                tax,
                sub - discount + tax,
                None::<String>,
                false,
                source
            ])
            .unwrap();
        raw_reserve(&tx, &at, id, line, variant, 2);
    }
    tx.prepare_cached(promo_sql::INSERT_REDEMPTION)
        .unwrap()
        .execute(params![
            RedemptionId::new().to_string(),
            promotions[0].0,
            None::<String>,
            id.to_string(),
            "GBP",
            discount * n,
            0,
            at
        ])
        .unwrap();
    let total = format!(r#"{{"total":"{}"}}"#, (sub - discount + tax) * n);
    let read = raw_placed(
        &tx,
        &at,
        id,
        r#"["lines","totals","addresses","status"]"#,
        &total,
    );
    assert_eq!(read, lines);
    tx.commit().unwrap();
    id
}

/// Both sides place one order of each size with their statements recorded;
/// panics unless they ran the same statement texts.
fn same_statements() {
    let dir = tempfile::tempdir().unwrap();
    let log: Log = Arc::default();
    let path = dir.path().join("custdb.db");
    let customer = priced_shop(&path);
    let store = Store::open_with(&path, Options::default().statement_log(log.clone())).unwrap();
    let raw_path = dir.path().join("raw.db");
    let raw_customer = priced_shop(&raw_path);
    let mut conn = raw_connection_at(&raw_path, "NORMAL");
    log.lock().unwrap().clear();
    let raw_log = trace_statements(&mut conn);
    for lines in [1, 5, 15] {
        let o = store
            .write(|tx| tx.orders().place(priced_order(customer, lines)))
            .unwrap();
        assert_eq!(
            o.discount_total.amount,
            Decimal::new(180, 2) * Decimal::from(lines)
        );
        raw_place_priced(&conn, raw_customer, lines);
    }
    let count = assert_same_statements(&log, &raw_log);
    eprintln!("priced orders: both sides ran the same {count} statement texts");
    let checked = store.check().unwrap();
    assert!(checked.is_ok(), "{:?}", checked.problems);
}

fn place_priced(c: &mut Criterion) {
    same_statements();
    for lines in [1usize, 5, 15] {
        let mut group = c.benchmark_group(format!("place_priced_order_{lines}_lines"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(4));
        let (dir, raw_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let path = dir.path().join("bench.db");
        let customer = priced_shop(&path);
        let store =
            Store::open_with(&path, Options::default().durability(Durability::Normal)).unwrap();
        let raw_path = raw_dir.path().join("bench.db");
        let raw_customer = priced_shop(&raw_path);
        let conn = raw_connection_at(&raw_path, "NORMAL");
        group.bench_function("custdb", |b| {
            b.iter(|| {
                black_box(
                    store
                        .write(|tx| tx.orders().place(priced_order(customer, lines)))
                        .unwrap(),
                )
            })
        });
        group.bench_function("raw_rusqlite", |b| {
            b.iter(|| black_box(raw_place_priced(&conn, raw_customer, lines)))
        });
        group.finish();
    }
}

criterion_group!(benches, place_priced);
criterion_main!(benches);
