//! The whole Online Retail import (541,909 lines) through custdb, beside a
//! hand-written rusqlite import that writes the same rows for the sales.
//!
//! ```text
//! cargo bench --bench import
//! CUSTDB_BENCH_INPUT=tests/fixtures/online-retail-head.csv.gz cargo bench --bench import
//! ```
//!
//! The input is `../shared/data/online-retail.csv.gz` unless
//! `CUSTDB_BENCH_INPUT` names another file in the same layout. Each
//! iteration imports into a fresh file database (Full durability, custdb's
//! pragmas on both sides).
//!
//! What the baseline does, per invoice of 500-invoice transactions: the
//! rows custdb writes for a sale (customer with its import key, product and
//! variant with theirs, the order, its lines, one shipment and its lines,
//! the payment, the order event, the hash-chained audit rows, the order's
//! import key), with keys cached in memory as hand-written code would; the
//! same line rules (fees, stock corrections, stock notes rejected, postage
//! as shipping). It turns every cancellation into a credit note instead of
//! matching it against earlier orders (custdb matches 3,578 of them into
//! returns and refunds), so custdb does somewhat more work than the
//! baseline.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

mod common;

use chrono::NaiveDateTime;
use common::raw_audit;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use custdb::order::sql as order_sql;
use custdb::{
    CustomerId, Decimal, OrderId, OrderLineId, PaymentId, ProductId, ShipmentId, Store, VariantId,
};
use rusqlite::{params, Connection, TransactionBehavior};

fn input() -> PathBuf {
    std::env::var_os("CUSTDB_BENCH_INPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/data/online-retail.csv.gz"
            ))
        })
}

fn reader(path: &Path) -> Box<dyn Read> {
    let file = std::fs::File::open(path).expect("the benchmark input");
    if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn e4(d: Decimal) -> i64 {
    i64::try_from((d * Decimal::from(10_000)).trunc()).unwrap()
}

/// Penny rounding, half away from zero, of an e4 amount.
fn round_e4(a: i64) -> i64 {
    let d = Decimal::new(a, 4)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    e4(d)
}

struct Raw<'c> {
    conn: &'c Connection,
    customers: HashMap<String, CustomerId>,
    variants: HashMap<String, (VariantId, String)>,
    /// Invoices seen, with how many runs of lines each had (the file has
    /// one invoice in two runs; custdb keys the second `<invoice>#2`).
    runs: HashMap<String, u32>,
}

struct Line {
    code: String,
    description: String,
    quantity: i64,
    price_e4: i64,
}

impl Raw<'_> {
    fn customer(&mut self, key: &str, at: &str) -> CustomerId {
        if let Some(c) = self.customers.get(key) {
            return *c;
        }
        let id = CustomerId::new();
        self.conn
            .prepare_cached(custdb::customer::sql::INSERT)
            .unwrap()
            .execute(params![
                id,
                format!("Customer {key}"),
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                "online-retail",
                format!("{{\"retail_customer_id\":\"{key}\"}}"),
                None::<String>,
                at
            ])
            .unwrap();
        raw_audit(
            self.conn,
            at,
            "create",
            "customer",
            &id.to_string(),
            "[\"display_name\"]",
        );
        self.key("customer", key, &id.to_string(), at);
        self.customers.insert(key.to_owned(), id);
        id
    }

    fn key(&self, entity: &str, key: &str, id: &str, at: &str) {
        self.conn
            .prepare_cached(
                "INSERT INTO import_keys (source, entity, key, entity_id, imported_at) VALUES ('online-retail', ?1, ?2, ?3, ?4)",
            )
            .unwrap()
            .execute(params![entity, key, id, at])
            .unwrap();
    }

    fn variant(&mut self, line: &Line, at: &str) -> (VariantId, String) {
        if let Some(v) = self.variants.get(&line.code) {
            return v.clone();
        }
        let product = ProductId::new();
        let variant = VariantId::new();
        let name = if line.description.is_empty() {
            line.code.clone()
        } else {
            line.description.clone()
        };
        self.conn
            .prepare_cached("INSERT INTO products (id, name, description, created_at, updated_at) VALUES (?1, ?2, NULL, ?3, ?3)")
            .unwrap()
            .execute(params![product, name, at])
            .unwrap();
        self.conn
            .prepare_cached(
                "INSERT INTO product_variants (id, product_id, sku, title, options, barcode, price_e4, currency, \
                 track_stock, allow_backorder, created_at, updated_at) VALUES (?1, ?2, ?3, NULL, '{}', NULL, ?4, 'GBP', 0, 0, ?5, ?5)",
            )
            .unwrap()
            .execute(params![variant, product, line.code, line.price_e4.abs(), at])
            .unwrap();
        raw_audit(
            self.conn,
            at,
            "create",
            "product",
            &product.to_string(),
            "[\"name\",\"variants\"]",
        );
        self.key("product", &line.code, &variant.to_string(), at);
        self.variants
            .insert(line.code.clone(), (variant, name.clone()));
        (variant, name)
    }

    fn sale(
        &mut self,
        invoice: &str,
        customer: Option<&str>,
        placed: &str,
        lines: &[Line],
        at: &str,
    ) {
        // As custdb: the same code at the same price adds up; at a second
        // price it goes on a second order for the invoice.
        let mut orders: Vec<Vec<(&Line, i64)>> = Vec::new();
        let mut shipping_e4 = 0;
        for l in lines {
            if ["POST", "DOT", "C2"].contains(&l.code.as_str()) {
                shipping_e4 += l.quantity * l.price_e4;
                continue;
            }
            let mut placed_line = false;
            for order in orders.iter_mut() {
                match order.iter_mut().find(|(m, _)| m.code == l.code) {
                    Some((m, q)) if m.price_e4 == l.price_e4 => {
                        *q += l.quantity;
                        placed_line = true;
                    }
                    Some(_) => continue,
                    None => {
                        order.push((l, l.quantity));
                        placed_line = true;
                    }
                }
                break;
            }
            if !placed_line {
                orders.push(vec![(l, l.quantity)]);
            }
        }
        for (n, merged) in orders.iter().enumerate() {
            let key = if n == 0 {
                invoice.to_owned()
            } else {
                format!("{invoice}/{}", n + 1)
            };
            let shipping = if n == 0 { shipping_e4 } else { 0 };
            self.order(&key, customer, placed, merged, shipping, at);
        }
    }

    fn order(
        &mut self,
        invoice: &str,
        customer: Option<&str>,
        placed: &str,
        merged: &[(&Line, i64)],
        shipping_e4: i64,
        at: &str,
    ) {
        let customer_id = customer.map(|c| self.customer(c, at));
        let order = OrderId::new();
        let priced: Vec<(&Line, i64, i64, (VariantId, String))> = merged
            .iter()
            .map(|(l, q)| (*l, *q, round_e4(q * l.price_e4), self.variant(l, at)))
            .collect();
        let subtotal: i64 = priced.iter().map(|p| p.2).sum();
        let total = subtotal + shipping_e4;
        self.conn
            .prepare_cached(order_sql::INSERT_ORDER)
            .unwrap()
            .execute(params![
                order,
                customer_id,
                customer_id
                    .is_none()
                    .then(|| format!("guest-{invoice}@import.invalid")),
                "GBP",
                "delivered",
                subtotal,
                0,
                0,
                shipping_e4,
                total,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                placed,
                "GB"
            ])
            .unwrap();
        let shipment = ShipmentId::new();
        self.conn
            .prepare_cached(
                "INSERT INTO shipments (id, order_id, carrier, tracking_number, shipped_at, delivered_at) VALUES (?1, ?2, 'historical', NULL, ?3, ?3)",
            )
            .unwrap()
            .execute(params![shipment, order, placed])
            .unwrap();
        for (n, (l, q, sub, (variant, name))) in priced.iter().enumerate() {
            let line = OrderLineId::new();
            self.conn
                .prepare_cached(
                    "INSERT INTO order_lines (id, order_id, line_no, variant_id, sku, title, quantity, unit_price_e4, \
                     subtotal_e4, discount_e4, tax_rate_ppm, tax_e4, total_e4, warehouse_id, quantity_shipped) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, 0, 0, ?9, NULL, ?7)",
                )
                .unwrap()
                .execute(params![line, order, (n + 1) as i64, variant, l.code, name, q, l.price_e4, sub])
                .unwrap();
            self.conn
                .prepare_cached("INSERT INTO shipment_lines (shipment_id, order_line_id, quantity) VALUES (?1, ?2, ?3)")
                .unwrap()
                .execute(params![shipment, line, q])
                .unwrap();
        }
        if total > 0 {
            self.conn
                .prepare_cached(custdb::order::fulfilment::sql::INSERT_PAYMENT)
                .unwrap()
                .execute(params![
                    PaymentId::new(),
                    order,
                    "other",
                    "import",
                    None::<String>,
                    total,
                    "GBP",
                    "captured",
                    placed
                ])
                .unwrap();
            self.conn
                .prepare_cached("UPDATE orders SET paid_e4 = ?2 WHERE id = ?1")
                .unwrap()
                .execute(params![order, total])
                .unwrap();
        }
        self.conn
            .prepare_cached(order_sql::INSERT_EVENT)
            .unwrap()
            .execute(params![
                order,
                placed,
                "system",
                "imported",
                None::<String>,
                "delivered",
                "{}"
            ])
            .unwrap();
        raw_audit(
            self.conn,
            at,
            "import",
            "order",
            &order.to_string(),
            "[\"lines\",\"totals\",\"status\"]",
        );
        self.key("order", invoice, &order.to_string(), at);
    }

    fn credit(
        &mut self,
        invoice: &str,
        customer: Option<&str>,
        issued: &str,
        lines: &[Line],
        at: &str,
    ) {
        let amount: i64 = lines
            .iter()
            .map(|l| round_e4(-l.quantity * l.price_e4))
            .sum();
        if amount <= 0 {
            return;
        }
        let customer_id = customer.map(|c| self.customer(c, at));
        let id = custdb::CreditNoteId::new();
        self.conn
            .prepare_cached(
                "INSERT INTO credit_notes (id, customer_id, currency, amount_e4, reason, lines, country, issued_at, created_at) \
                 VALUES (?1, ?2, 'GBP', ?3, ?4, '[]', 'GB', ?5, ?6)",
            )
            .unwrap()
            .execute(params![id, customer_id, amount, format!("cancellation {invoice}"), issued, at])
            .unwrap();
        raw_audit(
            self.conn,
            at,
            "issue",
            "credit_note",
            &id.to_string(),
            "[\"amount\",\"lines\"]",
        );
        self.key("credit_note", invoice, &id.to_string(), at);
    }
}

fn raw_import(conn: &Connection, path: &Path) {
    let mut raw = Raw {
        conn,
        customers: HashMap::new(),
        variants: HashMap::new(),
        runs: HashMap::new(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(reader(path));
    let mut current: Option<(String, Option<String>, String, Vec<Line>)> = None;
    let mut invoices = 0;
    let mut tx =
        rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
    let flush = |raw: &mut Raw, mut inv: (String, Option<String>, String, Vec<Line>)| {
        let at = now();
        let run = raw.runs.entry(inv.0.clone()).or_insert(0);
        *run += 1;
        if *run > 1 {
            inv.0 = format!("{}#{run}", inv.0);
        }
        if inv.0.starts_with('C') {
            raw.credit(&inv.0, inv.1.as_deref(), &inv.2, &inv.3, &at);
        } else {
            raw.sale(&inv.0, inv.1.as_deref(), &inv.2, &inv.3, &at);
        }
    };
    for record in rdr.records() {
        let Ok(r) = record else { continue };
        if r.len() != 8 {
            continue;
        }
        let (Ok(quantity), Ok(date), Ok(price)) = (
            r[3].trim().parse::<i64>(),
            NaiveDateTime::parse_from_str(r[4].trim(), "%Y-%m-%d %H:%M:%S"),
            Decimal::from_str(r[5].trim()),
        ) else {
            continue;
        };
        let invoice = r[0].trim().to_owned();
        let code = r[1].trim().to_owned();
        let customer = match r[6].trim() {
            "" => None,
            c => Some(c.trim_end_matches(".0").to_owned()),
        };
        let cancel = invoice.starts_with('C');
        let fee = ["BANK CHARGES", "AMAZONFEE", "CRUK", "B"].contains(&code.as_str());
        if invoice.starts_with('A') || fee || price.is_sign_negative() && !price.is_zero() {
            continue;
        }
        if !cancel && (quantity <= 0 || (price.is_zero() && customer.is_none()) || code == "D") {
            continue;
        }
        if cancel && (quantity >= 0 || price.is_zero()) {
            continue;
        }
        let line = Line {
            code,
            description: r[2].trim().to_owned(),
            quantity,
            price_e4: e4(price),
        };
        let placed = date
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        match &mut current {
            Some(inv) if inv.0 == invoice => inv.3.push(line),
            _ => {
                if let Some(done) = current.take() {
                    flush(&mut raw, done);
                    invoices += 1;
                    if invoices % 500 == 0 {
                        tx.commit().unwrap();
                        tx = rusqlite::Transaction::new_unchecked(
                            conn,
                            TransactionBehavior::Immediate,
                        )
                        .unwrap();
                    }
                }
                current = Some((invoice, customer, placed, vec![line]));
            }
        }
    }
    if let Some(done) = current.take() {
        flush(&mut raw, done);
    }
    tx.commit().unwrap();
}

fn import(c: &mut Criterion) {
    let path = input();
    if !path.exists() {
        eprintln!(
            "skipping the import benchmark: {} is not there",
            path.display()
        );
        return;
    }
    let mut group = c.benchmark_group(format!("import_online_retail_{}", common::durability().2));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(60));
    group.bench_function("custdb", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = common::store_at(&dir.path().join("bench.db"));
                (dir, store)
            },
            |(dir, store)| {
                let report = store.import_retail_file(&path, |_| {}, |_| {}).unwrap();
                assert!(report.imported > 0);
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                drop(Store::open(dir.path().join("bench.db")).unwrap());
                let conn = common::raw_at(&dir.path().join("bench.db"));
                (dir, conn)
            },
            |(dir, conn)| {
                raw_import(&conn, &path);
                (dir, conn)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
