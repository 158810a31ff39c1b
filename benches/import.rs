//! The whole Online Retail import (541,909 lines) through custdb, beside a
//! hand-written rusqlite import of the same statements.
//!
//! ```text
//! cargo bench --features bench-internals --bench import
//! CUSTDB_BENCH_DURABILITY=normal cargo bench --features bench-internals --bench import
//! CUSTDB_BENCH_INPUT=tests/fixtures/online-retail-head.csv.gz cargo bench --features bench-internals --bench import
//! ```
//!
//! The input is `../shared/data/online-retail.csv.gz` unless
//! `CUSTDB_BENCH_INPUT` names another file in the same layout. Each
//! iteration imports into a fresh file database (custdb's pragmas on both
//! sides, at the durability `CUSTDB_BENCH_DURABILITY` names).
//!
//! The baseline is what a careful hand-written import would do with
//! custdb's schema and custdb's statements: the same line rules (through
//! custdb's public constants), the same 500-invoice transactions, import
//! keys looked up in the database and remembered in memory, each invoice
//! written as an order (its shipment, lines, payment, event, audit rows)
//! and each cancellation matched against the customer's earlier orders
//! into a return and a refund, or written as a credit note. Before
//! measuring, both sides import the whole input once: the run stops
//! unless they ran the same statement texts (`common::assert_same_statements`)
//! and wrote the same number of rows to every table with the same money
//! totals. What the baseline leaves out is what custdb adds around the SQL:
//! savepoints around each operation, validation of every field, typed
//! errors and results.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

mod common;
use common::RowId;

use chrono::NaiveDateTime;
use common::{assert_same_statements, raw_audit, trace_statements, Log};
use criterion::{criterion_group, criterion_main, Criterion};
use custdb::catalog::sql as catalog_sql;
use custdb::import::retail::sql as retail_sql;
use custdb::import::retail::{country_code, DISCOUNT_CODE, FEE_CODES, SHIPPING_CODES};
use custdb::import::sql as key_sql;
use custdb::order::fulfilment::sql as fulfilment_sql;
use custdb::order::sql as order_sql;
use custdb::{
    CreditNoteId, CustomerId, Decimal, Options, OrderId, OrderLineId, PaymentId, ProductId,
    RefundId, ReturnId, ShipmentId, Store, VariantId,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

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

fn to_db(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn e4(d: Decimal) -> i64 {
    i64::try_from((d * Decimal::from(10_000)).trunc()).unwrap()
}

/// `quantity × price` rounded to pence, half away from zero, as e4.
fn line_e4(quantity: i64, price: Decimal) -> i64 {
    e4((Decimal::from(quantity) * price)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}

/// An amount as custdb writes it into event details.
/// An amount as custdb writes it into event details: GBP's two minor unit
/// digits at least (`9.00`), more when the amount has them.
fn amount_text(a_e4: i64) -> String {
    let mut amount = Decimal::new(a_e4, 4).normalize();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount.to_string()
}

// The statements custdb runs that it does not publish as constants,
// copied as they are (the same-statements check catches any drift).
const CUSTOMER_STATE: &str = "SELECT version, archived_at IS NOT NULL FROM customers WHERE id = ?1";
const INSERT_PRODUCT: &str = "INSERT INTO products (id, name, description, created_at, \
    updated_at, status) VALUES (?1, ?2, ?3, ?4, ?4, ?5)";
const SEARCH_TEXT_OF: &str = "SELECT p.name, coalesce(p.description, ''), \
    coalesce((SELECT group_concat(v.sku || CASE WHEN v.barcode IS NULL THEN '' \
    ELSE ' ' || v.barcode END, ' ' ORDER BY v.id) FROM product_variants v \
    WHERE v.product_id = p.id), '') FROM products p WHERE p.id = ?1";
const CATEGORY_NAMES: &str = "WITH RECURSIVE up(id, parent_id, name) AS (\
    SELECT c.id, c.parent_id, c.name FROM categories c \
    JOIN product_categories pc ON pc.category_id = c.id WHERE pc.product_id = ?1 \
    UNION SELECT c.id, c.parent_id, c.name FROM categories c JOIN up ON c.id = up.parent_id) \
    SELECT DISTINCT name FROM up ORDER BY name";
const UPSERT_SEARCH: &str = "INSERT INTO product_search (product_id, title, description, codes, \
    categories) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_id) DO UPDATE SET \
    title = excluded.title, description = excluded.description, \
    codes = excluded.codes, categories = excluded.categories";
const MEDIA_OF_PRODUCTS: &str = "SELECT id, product_id, kind, reference, alt_text, position, \
    created_at FROM product_media WHERE product_id IN (SELECT value FROM json_each(?1)) \
    ORDER BY product_id, position, id";
const CATEGORIES_OF_PRODUCTS: &str = "SELECT product_id, category_id FROM product_categories \
    WHERE product_id IN (SELECT value FROM json_each(?1)) ORDER BY product_id, category_id";
const INSERT_VARIANT: &str = "INSERT INTO product_variants (id, product_id, sku, title, options, \
    barcode, price_e4, currency, track_stock, allow_backorder, created_at, updated_at, \
    tax_class) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)";
const TAX_CLASS_KNOWN: &str = "SELECT EXISTS (SELECT 1 FROM tax_classes WHERE key = ?1)";
const PRODUCT_BY_ID: &str = "SELECT id, name, description, created_at, updated_at, version, \
    archived_at, status FROM products WHERE id = ?1";
const VARIANTS_OF_PRODUCTS: &str = "SELECT id, product_id, sku, title, options, barcode, \
    price_e4, currency, track_stock, allow_backorder, created_at, updated_at, version, \
    archived_at, tax_class FROM product_variants WHERE product_id IN (SELECT value FROM json_each(?1)) \
    ORDER BY product_id, id";
const INSERT_RETURN: &str =
    "INSERT INTO returns (id, order_id, reason, created_at) VALUES (?1, ?2, ?3, ?4)";
const INSERT_RETURN_LINE: &str = "INSERT INTO return_lines (return_id, order_line_id, quantity, \
    restock, warehouse_id) VALUES (?1, ?2, ?3, ?4, ?5)";
const ADD_RETURNED: &str =
    "UPDATE order_lines SET quantity_returned = quantity_returned + ?2 WHERE id = ?1";
const ALL_RETURNED: &str = "SELECT NOT EXISTS (SELECT 1 FROM order_lines WHERE order_id = ?1 \
    AND (quantity_returned < quantity))";
const RETURNS_OF_ORDER: &str = "SELECT t.id, t.reason, t.created_at, l.sku, rl.quantity, \
    rl.warehouse_id FROM returns t JOIN return_lines rl ON rl.return_id = t.id \
    JOIN order_lines l ON l.id = rl.order_line_id \
    WHERE t.order_id = ?1 ORDER BY t.created_at, t.id, l.line_no";
const REFUNDABLE: &str = "SELECT paid_e4, refunded_e4 FROM orders WHERE id = ?1";
const PAYMENTS_OF_ORDER: &str = "SELECT id, order_id, method, provider, provider_reference, \
    amount_e4, currency, status, refunded_e4, created_at, updated_at FROM payments \
    WHERE order_id = ?1 ORDER BY created_at, id";
const INSERT_REFUND: &str = "INSERT INTO refunds (id, order_id, payment_id, amount_e4, reason, \
    created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const REFUND_PAYMENT: &str = "UPDATE payments SET refunded_e4 = refunded_e4 + ?2, \
    status = CASE WHEN refunded_e4 + ?2 = amount_e4 THEN 'refunded' ELSE status END, \
    updated_at = ?3 WHERE id = ?1";
const ADD_REFUNDED: &str = "UPDATE orders SET refunded_e4 = refunded_e4 + ?2, updated_at = ?3, \
    version = version + 1 WHERE id = ?1";
const REFUNDS_OF_ORDER: &str = "SELECT id, payment_id, amount_e4, reason, created_at FROM refunds \
    WHERE order_id = ?1 ORDER BY created_at, id";
const INSERT_CREDIT_NOTE: &str = "INSERT INTO credit_notes (id, customer_id, currency, amount_e4, \
    reason, lines, country, issued_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

const SOURCE: &str = "online-retail";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Product,
    Shipping,
    Adjustment,
}

/// One input line that passed the line rules.
struct Line {
    no: u64,
    invoice: String,
    code: String,
    description: String,
    quantity: i64,
    at: String,
    price: Decimal,
    customer: Option<String>,
    country: Option<&'static str>,
    kind: Kind,
}

/// The line rules of docs/IMPORT.md, written out as a hand-written
/// importer would; `None` for a rejected line.
fn parse(no: u64, r: &csv::StringRecord) -> Option<Line> {
    if r.len() != 8 {
        return None;
    }
    let quantity: i64 = r[3].trim().parse().ok()?;
    let at = NaiveDateTime::parse_from_str(r[4].trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let price = Decimal::from_str(r[5].trim()).ok()?;
    let customer = match r[6].trim() {
        "" => None,
        c => {
            let c = c.strip_suffix(".0").unwrap_or(c);
            if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) || c.len() > 20 {
                return None;
            }
            Some(c.to_owned())
        }
    };
    let invoice = r[0].trim().to_owned();
    let code = r[1].trim().to_owned();
    if invoice.is_empty() || invoice.len() > 32 || code.is_empty() || code.chars().count() > 64 {
        return None;
    }
    let cancel = invoice.starts_with('C');
    let digit = invoice.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if invoice.starts_with('A')
        || !digit && !cancel
        || FEE_CODES.contains(&code.as_str())
        || price.is_sign_negative() && !price.is_zero()
        || price.scale() > 4
    {
        return None;
    }
    if cancel && (quantity >= 0 || price.is_zero()) {
        return None;
    }
    if !cancel && (quantity <= 0 || price.is_zero() && customer.is_none() || code == DISCOUNT_CODE)
    {
        return None;
    }
    if quantity.unsigned_abs() > custdb::order::MAX_LINE_QUANTITY as u64 {
        return None;
    }
    let kind = if SHIPPING_CODES.contains(&code.as_str()) {
        Kind::Shipping
    } else if cancel && (code == DISCOUNT_CODE || code == "M" || code == "m") {
        Kind::Adjustment
    } else {
        Kind::Product
    };
    Some(Line {
        no,
        invoice,
        code,
        description: r[2].trim().to_owned(),
        quantity,
        at: to_db(at.and_utc()),
        price,
        customer,
        country: country_code(&r[7]),
        kind,
    })
}

/// Remembers a key, forgetting them all past custdb's bound (as custdb).
fn remember<T>(map: &mut HashMap<String, T>, key: &str, id: T) {
    if map.len() >= custdb::import::retail::MAX_REMEMBERED_KEYS {
        map.clear();
    }
    map.insert(key.to_owned(), id);
}

/// A cancelled line matched to an order: the line, units, amount.
type Returned<'a> = (&'a Line, i64, i64);

struct Raw<'c> {
    conn: &'c Connection,
    run_started: String,
    /// The unit of work's time (one per 500 invoices, as custdb's).
    now: String,
    customers: HashMap<String, CustomerId>,
    products: HashMap<String, VariantId>,
    mark: Option<(u64, i64)>,
}

impl Raw<'_> {
    fn marks(&self) -> (u64, i64) {
        let version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")
            .unwrap()
            .query_row([], |r| r.get(0))
            .unwrap();
        (self.conn.total_changes(), version)
    }

    fn key_lookup<T: std::str::FromStr>(&self, entity: &str, key: &str) -> Option<T> {
        self.conn
            .prepare_cached(key_sql::KEY_LOOKUP)
            .unwrap()
            .query_row(params![SOURCE, entity, key], |r| r.get_id(0))
            .optional()
            .unwrap()
    }

    fn key_record(&self, entity: &str, key: &str, id: &str) {
        self.conn
            .prepare_cached(key_sql::KEY_RECORD)
            .unwrap()
            .execute(params![SOURCE, entity, key, id, self.now])
            .unwrap();
    }

    fn audit(&self, action: &str, entity: &str, id: &str, fields: &str) {
        raw_audit(self.conn, &self.now, action, entity, id, fields);
    }

    fn invoice_key(&self, invoice: &str) -> Option<String> {
        let mut n = 1;
        loop {
            let key = if n == 1 {
                invoice.to_owned()
            } else {
                format!("{invoice}#{n}")
            };
            let found: Option<String> = self
                .conn
                .prepare_cached(retail_sql::INVOICE_KEY)
                .unwrap()
                .query_row(params![SOURCE, key], |r| r.get(0))
                .unwrap();
            match found {
                None => return Some(key),
                Some(at) if at < self.run_started => return None,
                Some(_) => n += 1,
            }
        }
    }

    fn customer_state(&self, id: CustomerId) {
        let (_, archived): (i64, bool) = self
            .conn
            .prepare_cached(CUSTOMER_STATE)
            .unwrap()
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert!(!archived);
    }

    fn customer(&mut self, key: &str) -> CustomerId {
        if let Some(c) = self.customers.get(key) {
            return *c;
        }
        if let Some(c) = self.key_lookup("customer", key) {
            remember(&mut self.customers, key, c);
            return c;
        }
        let id = CustomerId::new();
        self.conn
            .prepare_cached(custdb::customer::sql::INSERT)
            .unwrap()
            .execute(params![
                id.to_string(),
                format!("Customer {key}"),
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<String>,
                SOURCE,
                format!("{{\"retail_customer_id\":\"{key}\"}}"),
                None::<String>,
                self.now
            ])
            .unwrap();
        self.audit(
            "create",
            "customer",
            &id.to_string(),
            "[\"display_name\",\"acquisition_source\",\"attributes\"]",
        );
        self.key_record("customer", key, &id.to_string());
        remember(&mut self.customers, key, id);
        id
    }

    fn known_variant(&mut self, code: &str) -> Option<VariantId> {
        if let Some(v) = self.products.get(code) {
            return Some(*v);
        }
        let found = self.key_lookup("product", code);
        if let Some(v) = found {
            remember(&mut self.products, code, v);
        }
        found
    }

    fn variant(&mut self, line: &Line) -> VariantId {
        if let Some(v) = self.known_variant(&line.code) {
            return v;
        }
        let product = ProductId::new();
        let variant = VariantId::new();
        let name: String = if line.description.is_empty() {
            line.code.clone()
        } else {
            line.description.chars().take(200).collect()
        };
        let conn = self.conn;
        conn.prepare_cached(INSERT_PRODUCT)
            .unwrap()
            .execute(params![
                product.to_string(),
                name,
                None::<String>,
                self.now,
                "active"
            ])
            .unwrap();
        self.audit(
            "create",
            "product",
            &product.to_string(),
            "[\"name\",\"description\",\"status\",\"categories\"]",
        );
        let taken = conn
            .prepare_cached(catalog_sql::VARIANT_BY_SKU)
            .unwrap()
            .query_row([&line.code], |_| Ok(()))
            .optional()
            .unwrap();
        assert!(taken.is_none());
        let known: bool = conn
            .prepare_cached(TAX_CLASS_KNOWN)
            .unwrap()
            .query_row(["standard"], |r| r.get(0))
            .unwrap();
        assert!(known);
        conn.prepare_cached(INSERT_VARIANT)
            .unwrap()
            .execute(params![
                variant.to_string(),
                product.to_string(),
                line.code,
                None::<String>,
                "{}",
                None::<String>,
                e4(line.price.abs()),
                "GBP",
                false,
                false,
                self.now,
                "standard"
            ])
            .unwrap();
        self.audit(
            "create",
            "variant",
            &variant.to_string(),
            "[\"sku\",\"title\",\"options\",\"barcode\",\"price\",\"track_stock\",\"allow_backorder\",\"tax_class\"]",
        );
        // The product search row, as custdb writes it.
        let (title, description, codes): (String, String, String) = conn
            .prepare_cached(SEARCH_TEXT_OF)
            .unwrap()
            .query_row([product.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        let categories: Vec<String> = conn
            .prepare_cached(CATEGORY_NAMES)
            .unwrap()
            .query_map([product.to_string()], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        conn.prepare_cached(UPSERT_SEARCH)
            .unwrap()
            .execute(params![
                product.to_string(),
                title,
                description,
                codes,
                categories.join(" ")
            ])
            .unwrap();
        // custdb returns the product it made; read it back the same way.
        conn.prepare_cached(PRODUCT_BY_ID)
            .unwrap()
            .query_row([product.to_string()], |r| r.get::<_, String>(1))
            .unwrap();
        let ids = format!("[\"{product}\"]");
        let mut read = conn.prepare_cached(VARIANTS_OF_PRODUCTS).unwrap();
        let variants = read
            .query_map([&ids], |r| r.get_id::<VariantId>(0))
            .unwrap()
            .count();
        assert_eq!(variants, 1);
        for statement in [MEDIA_OF_PRODUCTS, CATEGORIES_OF_PRODUCTS] {
            let mut read = conn.prepare_cached(statement).unwrap();
            assert_eq!(read.query_map([&ids], |_| Ok(())).unwrap().count(), 0);
        }
        self.key_record("product", &line.code, &variant.to_string());
        remember(&mut self.products, &line.code, variant);
        variant
    }

    fn invoice(&mut self, lines: &[Line]) {
        let first = &lines[0];
        let Some(key) = self.invoice_key(&first.invoice) else {
            return;
        };
        if first.invoice.starts_with('C') {
            self.cancellation(lines, &key);
        } else {
            self.sale(lines, &key);
        }
    }

    fn sale(&mut self, lines: &[Line], key: &str) {
        // The same code at the same price adds up; at a second price, or
        // on a full order, it starts another order of the invoice.
        let mut orders: Vec<Vec<(&Line, i64)>> = Vec::new();
        let mut shipping = Decimal::ZERO;
        for l in lines {
            if l.kind == Kind::Shipping {
                shipping += Decimal::from(l.quantity) * l.price;
                continue;
            }
            let mut placed = false;
            for order in orders.iter_mut() {
                let full = order.len() >= custdb::order::MAX_LINES_PER_ORDER;
                match order.iter_mut().find(|(m, _)| m.code == l.code) {
                    Some((m, q)) if m.price == l.price => {
                        *q += l.quantity;
                        placed = true;
                    }
                    Some(_) => continue,
                    None if full => continue,
                    None => {
                        order.push((l, l.quantity));
                        placed = true;
                    }
                }
                break;
            }
            if !placed {
                orders.push(vec![(l, l.quantity)]);
            }
        }
        if orders.is_empty() {
            return;
        }
        if shipping.round_dp(2) != shipping {
            shipping = Decimal::ZERO;
        }
        let first = &lines[0];
        let customer = first.customer.as_deref().map(|c| self.customer(c));
        for (n, merged) in orders.iter().enumerate() {
            let order_key = if n == 0 {
                key.to_owned()
            } else {
                format!("{key}/{}", n + 1)
            };
            let variants: Vec<VariantId> = merged.iter().map(|(l, _)| self.variant(l)).collect();
            let shipping_e4 = if n == 0 { e4(shipping) } else { 0 };
            let order = self.order(first, customer, &order_key, merged, &variants, shipping_e4);
            self.key_record("order", &order_key, &order.to_string());
        }
    }

    fn order(
        &self,
        first: &Line,
        customer: Option<CustomerId>,
        key: &str,
        merged: &[(&Line, i64)],
        variants: &[VariantId],
        shipping_e4: i64,
    ) -> OrderId {
        let conn = self.conn;
        if let Some(c) = customer {
            self.customer_state(c);
        }
        let mut priced = Vec::with_capacity(merged.len());
        let mut subtotal = 0;
        for ((l, q), v) in merged.iter().zip(variants) {
            let (sku, title, product): (String, Option<String>, ProductId) = conn
                .prepare_cached(catalog_sql::VARIANT_BY_ID)
                .unwrap()
                .query_row([v.to_string()], |r| {
                    Ok((r.get(2)?, r.get(3)?, r.get_id(1)?))
                })
                .unwrap();
            let name: String = conn
                .prepare_cached(catalog_sql::PRODUCT_NAME)
                .unwrap()
                .query_row([product.to_string()], |r| r.get(0))
                .unwrap();
            let title = match title {
                Some(t) => format!("{name} – {t}"),
                None => name,
            };
            let sub = line_e4(*q, l.price);
            subtotal += sub;
            priced.push((*v, sku, title, *q, e4(l.price), sub));
        }
        let total = subtotal + shipping_e4;
        let order = OrderId::new();
        conn.prepare_cached(order_sql::INSERT_ORDER)
            .unwrap()
            .execute(params![
                order.to_string(),
                customer.map(|c| c.to_string()),
                customer.is_none().then(|| format!(
                    "guest-{}@import.invalid",
                    key.replace(['#', '/'], "-").to_lowercase()
                )),
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
                first.at,
                first.country
            ])
            .unwrap();
        let shipment = ShipmentId::new();
        conn.prepare_cached(order_sql::INSERT_HISTORICAL_SHIPMENT)
            .unwrap()
            .execute(params![shipment.to_string(), order.to_string(), first.at])
            .unwrap();
        for (n, (variant, sku, title, q, price_e4, sub)) in priced.iter().enumerate() {
            let line = OrderLineId::new();
            conn.prepare_cached(order_sql::INSERT_SHIPPED_LINE)
                .unwrap()
                .execute(params![
                    line.to_string(),
                    order.to_string(),
                    (n + 1) as i64,
                    variant.to_string(),
                    sku,
                    title,
                    q,
                    price_e4,
                    sub
                ])
                .unwrap();
            conn.prepare_cached(fulfilment_sql::INSERT_SHIPMENT_LINE)
                .unwrap()
                .execute(params![shipment.to_string(), line.to_string(), q])
                .unwrap();
        }
        if total > 0 {
            conn.prepare_cached(fulfilment_sql::INSERT_PAYMENT)
                .unwrap()
                .execute(params![
                    PaymentId::new().to_string(),
                    order.to_string(),
                    "other",
                    "import",
                    None::<String>,
                    total,
                    "GBP",
                    "captured",
                    first.at
                ])
                .unwrap();
            conn.prepare_cached(order_sql::SET_PAID)
                .unwrap()
                .execute(params![order.to_string(), total])
                .unwrap();
        }
        conn.prepare_cached(order_sql::INSERT_EVENT)
            .unwrap()
            .execute(params![
                order.to_string(),
                first.at,
                "system",
                "imported",
                None::<String>,
                "delivered",
                format!("{{\"total\":\"{}\"}}", amount_text(total))
            ])
            .unwrap();
        self.audit(
            "import",
            "order",
            &order.to_string(),
            "[\"lines\",\"totals\",\"status\"]",
        );
        order
    }

    /// An order's status, as custdb reads it before each operation.
    fn order_state(&self, order: OrderId) -> String {
        self.conn
            .prepare_cached(order_sql::ORDER_STATE)
            .unwrap()
            .query_row([order.to_string()], |r| r.get(0))
            .unwrap()
    }

    /// What custdb reads to return the rows it made: the order's state,
    /// then every row `sql` gives for the order.
    fn read_back<T: std::str::FromStr>(&self, sql: &str, order: OrderId) {
        self.order_state(order);
        let mut read = self.conn.prepare_cached(sql).unwrap();
        let mut rows = read.query([order.to_string()]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            r.get_id::<T>(0).unwrap();
        }
    }

    fn event(&self, order: OrderId, kind: &str, from: &str, to: &str, detail: String) {
        self.conn
            .prepare_cached(order_sql::INSERT_EVENT)
            .unwrap()
            .execute(params![
                order.to_string(),
                self.now,
                "system",
                kind,
                from,
                to,
                detail
            ])
            .unwrap();
        self.conn
            .prepare_cached(order_sql::SET_STATUS)
            .unwrap()
            .execute(params![order.to_string(), to, self.now])
            .unwrap();
    }

    fn cancellation(&mut self, lines: &[Line], key: &str) {
        let first = &lines[0];
        let reason = format!("cancellation {}", first.invoice);
        let customer = first.customer.as_deref().map(|c| self.customer(c));
        let mut returns: Vec<(OrderId, Vec<Returned<'_>>)> = Vec::new();
        let mut credited: Vec<&Line> = Vec::new();
        for line in lines {
            let quantity = -line.quantity;
            let matched = match (line.kind, customer) {
                (Kind::Product, Some(c)) => match self.known_variant(&line.code) {
                    Some(v) => {
                        let pending: i64 = returns
                            .iter()
                            .flat_map(|(_, ls)| ls.iter())
                            .filter(|(l, _, _)| l.code == line.code)
                            .map(|(_, q, _)| *q)
                            .sum();
                        self.conn
                            .prepare_cached(retail_sql::MATCHING_ORDER)
                            .unwrap()
                            .query_row(
                                params![
                                    c.to_string(),
                                    v.to_string(),
                                    e4(line.price),
                                    first.at,
                                    quantity + pending
                                ],
                                |r| r.get_id::<OrderId>(0),
                            )
                            .optional()
                            .unwrap()
                    }
                    None => None,
                },
                _ => None,
            };
            let amount = line_e4(quantity, line.price);
            match matched {
                Some(order) => match returns.iter_mut().find(|(o, _)| *o == order) {
                    Some((_, ls)) => ls.push((line, quantity, amount)),
                    None => returns.push((order, vec![(line, quantity, amount)])),
                },
                None => credited.push(line),
            }
        }
        let mut first_return = None;
        for (order, lines) in &returns {
            let mut merged: Vec<(&str, i64)> = Vec::new();
            for (l, q, _) in lines {
                match merged.iter_mut().find(|(sku, _)| *sku == l.code) {
                    Some((_, m)) => *m += q,
                    None => merged.push((&l.code, *q)),
                }
            }
            let id = self.give_back(*order, &reason, &merged);
            first_return.get_or_insert(id);
            let (paid, refunded): (i64, i64) = self
                .conn
                .prepare_cached(REFUNDABLE)
                .unwrap()
                .query_row([order.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            let amount = lines
                .iter()
                .map(|(_, _, a)| a)
                .sum::<i64>()
                .min(paid - refunded);
            if amount > 0 {
                self.refund(*order, amount, &reason);
            }
        }
        if let Some(id) = first_return {
            self.key_record("return", key, &id.to_string());
        }
        if credited.is_empty() {
            return;
        }
        let amount: i64 = credited.iter().map(|l| line_e4(-l.quantity, l.price)).sum();
        if amount <= 0 {
            return;
        }
        let items: Vec<String> = credited
            .iter()
            .map(|l| {
                format!(
                    "{{\"line\":{},\"quantity\":{},\"sku\":\"{}\",\"unit_price\":\"{}\"}}",
                    l.no, -l.quantity, l.code, l.price
                )
            })
            .collect();
        if let Some(c) = customer {
            self.customer_state(c);
        }
        let id = CreditNoteId::new();
        self.conn
            .prepare_cached(INSERT_CREDIT_NOTE)
            .unwrap()
            .execute(params![
                id.to_string(),
                customer.map(|c| c.to_string()),
                "GBP",
                amount,
                reason,
                format!("[{}]", items.join(",")),
                first.country,
                first.at,
                self.now
            ])
            .unwrap();
        self.audit(
            "issue",
            "credit_note",
            &id.to_string(),
            "[\"amount\",\"lines\"]",
        );
        self.key_record("credit_note", key, &id.to_string());
    }

    /// A return of shipped units, as custdb's `return_items` writes it.
    fn give_back(&self, order: OrderId, reason: &str, merged: &[(&str, i64)]) -> ReturnId {
        let conn = self.conn;
        let status: String = conn
            .prepare_cached(order_sql::ORDER_BY_ID)
            .unwrap()
            .query_row([order.to_string()], |r| r.get(5))
            .unwrap();
        let order_lines: Vec<(OrderLineId, VariantId, String)> = conn
            .prepare_cached(order_sql::LINES_OF_ORDER)
            .unwrap()
            .query_map([order.to_string()], |r| {
                Ok((r.get_id(0)?, r.get_id(2)?, r.get(3)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let id = ReturnId::new();
        conn.prepare_cached(INSERT_RETURN)
            .unwrap()
            .execute(params![id.to_string(), order.to_string(), reason, self.now])
            .unwrap();
        for (sku, quantity) in merged {
            let (line, variant, _) = order_lines.iter().find(|(_, _, s)| s == sku).unwrap();
            conn.prepare_cached(catalog_sql::VARIANT_BY_ID)
                .unwrap()
                .query_row([variant.to_string()], |r| r.get::<_, bool>(8))
                .unwrap();
            conn.prepare_cached(INSERT_RETURN_LINE)
                .unwrap()
                .execute(params![
                    id.to_string(),
                    line.to_string(),
                    quantity,
                    false,
                    None::<String>
                ])
                .unwrap();
            conn.prepare_cached(ADD_RETURNED)
                .unwrap()
                .execute(params![line.to_string(), quantity])
                .unwrap();
        }
        let all_back: bool = conn
            .prepare_cached(ALL_RETURNED)
            .unwrap()
            .query_row([order.to_string()], |r| r.get(0))
            .unwrap();
        let to = if all_back { "returned" } else { &status };
        self.event(
            order,
            "returned",
            &status,
            to,
            format!("{{\"reason\":\"{reason}\",\"return_id\":\"{id}\"}}"),
        );
        self.audit(
            "return",
            "order",
            &order.to_string(),
            "[\"returns\",\"status\"]",
        );
        self.read_back::<ReturnId>(RETURNS_OF_ORDER, order);
        id
    }

    /// A refund, as custdb's `refund` writes it.
    fn refund(&self, order: OrderId, amount: i64, reason: &str) {
        let conn = self.conn;
        let status = self.order_state(order);
        let (_, paid, refunded): (i64, i64, i64) = conn
            .prepare_cached(fulfilment_sql::ORDER_AMOUNTS)
            .unwrap()
            .query_row([order.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        self.order_state(order);
        let mut payments: Vec<(PaymentId, i64, String, i64)> = conn
            .prepare_cached(PAYMENTS_OF_ORDER)
            .unwrap()
            .query_map([order.to_string()], |r| {
                Ok((r.get_id(0)?, r.get(5)?, r.get(7)?, r.get(8)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .filter(|p| p.2 == "captured")
            .collect();
        payments.reverse();
        let mut left = amount;
        for (payment, paid_e4, _, refunded_e4) in payments {
            if left == 0 {
                break;
            }
            let take = (paid_e4 - refunded_e4).min(left);
            if take == 0 {
                continue;
            }
            conn.prepare_cached(INSERT_REFUND)
                .unwrap()
                .execute(params![
                    RefundId::new().to_string(),
                    order.to_string(),
                    payment.to_string(),
                    take,
                    reason,
                    self.now
                ])
                .unwrap();
            conn.prepare_cached(REFUND_PAYMENT)
                .unwrap()
                .execute(params![payment.to_string(), take, self.now])
                .unwrap();
            left -= take;
        }
        assert_eq!(left, 0);
        conn.prepare_cached(ADD_REFUNDED)
            .unwrap()
            .execute(params![order.to_string(), amount, self.now])
            .unwrap();
        let to = if refunded + amount == paid {
            "refunded"
        } else {
            &status
        };
        if to == "refunded" {
            // custdb releases what a refunded order still holds: it reads
            // the order and each line's open reservations (none here).
            conn.prepare_cached(order_sql::ORDER_BY_ID)
                .unwrap()
                .query_row([order.to_string()], |r| r.get::<_, String>(5))
                .unwrap();
            let lines: Vec<String> = conn
                .prepare_cached(order_sql::LINES_OF_ORDER)
                .unwrap()
                .query_map([order.to_string()], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for line in lines {
                let open = conn
                    .prepare_cached(custdb::inventory::sql::OPEN_RESERVATIONS_OF_LINE)
                    .unwrap()
                    .query_map([&line], |_| Ok(()))
                    .unwrap()
                    .count();
                assert_eq!(open, 0);
            }
        }
        self.event(
            order,
            "refunded",
            &status,
            to,
            format!(
                "{{\"amount\":\"{}\",\"reason\":\"{reason}\"}}",
                amount_text(amount)
            ),
        );
        self.audit(
            "refund",
            "order",
            &order.to_string(),
            "[\"refunds\",\"refunded\",\"status\"]",
        );
        self.read_back::<RefundId>(REFUNDS_OF_ORDER, order);
    }

    fn batch(&mut self, invoices: &[Vec<Line>]) {
        let tx = rusqlite::Transaction::new_unchecked(self.conn, TransactionBehavior::Immediate)
            .unwrap();
        self.now = to_db(chrono::Utc::now());
        if self.mark != Some(self.marks()) {
            self.customers.clear();
            self.products.clear();
        }
        for invoice in invoices {
            self.invoice(invoice);
        }
        self.mark = Some(self.marks());
        tx.commit().unwrap();
    }
}

fn raw_import(conn: &Connection, path: &Path) {
    let mut raw = Raw {
        conn,
        run_started: to_db(chrono::Utc::now()),
        now: String::new(),
        customers: HashMap::new(),
        products: HashMap::new(),
        mark: None,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(reader(path));
    let mut batch: Vec<Vec<Line>> = Vec::new();
    let mut current: Vec<Line> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => continue,
        }
        let no = record.position().map_or(0, |p| p.line());
        let Some(line) = parse(no, &record) else {
            continue;
        };
        if current.first().is_some_and(|l| l.invoice != line.invoice) {
            batch.push(std::mem::take(&mut current));
            if batch.len() >= 500 {
                raw.batch(&batch);
                batch.clear();
            }
        }
        current.push(line);
    }
    if !current.is_empty() {
        batch.push(current);
    }
    raw.batch(&batch);
}

/// Rows per table and the money in them: what both sides must agree on.
fn summary(path: &Path) -> Vec<(String, i64)> {
    let conn = common::raw_connection(path);
    let mut out = Vec::new();
    for table in [
        "customers",
        "products",
        "product_variants",
        "orders",
        "order_lines",
        "shipments",
        "shipment_lines",
        "payments",
        "order_events",
        "returns",
        "return_lines",
        "refunds",
        "credit_notes",
        "import_keys",
        "audit_log",
    ] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        out.push((table.to_owned(), n));
    }
    for (name, sql) in [
        ("order totals", "SELECT total(total_e4) FROM orders"),
        ("paid", "SELECT total(paid_e4) FROM orders"),
        ("refunded", "SELECT total(refunded_e4) FROM orders"),
        ("credited", "SELECT total(amount_e4) FROM credit_notes"),
        (
            "returned units",
            "SELECT total(quantity_returned) FROM order_lines",
        ),
    ] {
        let v: f64 = conn.query_row(sql, [], |r| r.get(0)).unwrap();
        out.push((name.to_owned(), v as i64));
    }
    out
}

/// Both sides import the whole input once, traced: the same statement
/// texts, the same rows, the same money.
fn same_work(dir: &Path, input: &Path) {
    let log = Log::default();
    let custdb_path = dir.join("check-custdb.db");
    let store =
        Store::open_with(&custdb_path, Options::default().statement_log(log.clone())).unwrap();
    log.lock().unwrap().clear();
    store.import_retail_file(input, |_| {}, |_| {}).unwrap();
    drop(store);
    let raw_path = dir.join("check-raw.db");
    drop(Store::open(&raw_path).unwrap());
    let mut conn = common::raw_at(&raw_path);
    let raw_log = trace_statements(&mut conn);
    raw_import(&conn, input);
    drop(conn);
    let count = assert_same_statements(&log, &raw_log);
    let (custdb, raw) = (summary(&custdb_path), summary(&raw_path));
    assert_eq!(custdb, raw, "the two sides wrote different rows");
    eprintln!(
        "import: both sides ran the same {count} statement texts and wrote the same rows: {custdb:?}"
    );
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
    let dir = tempfile::tempdir().unwrap();
    same_work(dir.path(), &path);
    let mut group = c.benchmark_group(format!("import_online_retail_{}", common::durability().2));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(60));
    let mut run = 0;
    let mut fresh = |name: &str| {
        run += 1;
        let path = dir.path().join(format!("{name}-{run}.db"));
        drop(Store::open(&path).unwrap());
        path
    };
    group.bench_function("custdb", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let db = fresh("custdb");
                let store = common::store_at(&db);
                let started = Instant::now();
                let report = store.import_retail_file(&path, |_| {}, |_| {}).unwrap();
                elapsed += started.elapsed();
                assert!(report.imported > 0);
                drop(store);
                std::fs::remove_file(&db).unwrap();
            }
            elapsed
        })
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let db = fresh("raw");
                let conn = common::raw_at(&db);
                let started = Instant::now();
                raw_import(&conn, &path);
                elapsed += started.elapsed();
                drop(conn);
                std::fs::remove_file(&db).unwrap();
            }
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
