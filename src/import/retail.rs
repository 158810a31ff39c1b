//! The importer for the UCI "Online Retail" layout:
//! `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country`.
//!
//! Customers by `CustomerID`; guest orders for lines without one; products
//! by `StockCode` (variants that do not track stock: the file has no stock
//! levels); one delivered, paid order per invoice with the exact prices;
//! `C` invoices as returns and refunds against the customer's earlier
//! orders, or as credit notes where no original matches; non-product codes
//! handled one by one. docs/IMPORT.md lists every rule; [`classify`] and
//! the invoice functions below implement them.
//!
//! # Example
//!
//! ```
//! use custdb::Store;
//!
//! let csv = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
//!            536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n\
//!            536366,BANK CHARGES,Bank Charges,1,2010-12-01 08:28:00,15,,United Kingdom\n";
//! let store = Store::open_in_memory()?;
//! let report = store.import_retail(csv.as_bytes(), |_| {}, |_| {})?;
//! assert_eq!((report.lines_read, report.imported, report.rejected), (2, 1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;

use super::{key_lookup, key_record, ImportProgress, ImportReport, Rejection};
use crate::catalog::{NewProduct, NewVariant};
use crate::customer::NewCustomer;
use crate::db::{sql, Conn};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{CustomerId, OrderId, VariantId};
use crate::money::{self, Currency};
use crate::order::historical::{HistoricalLine, HistoricalOrder};
use crate::order::{NewRefund, NewReturn, NewReturnLine, MAX_LINES_PER_ORDER};
use crate::store::Store;
use crate::unit::WriteTx;

crate::bench_sql::sql_module! {
    /// The importer's own statements, public only so that the benchmark's
    /// raw-rusqlite baseline runs exactly the same text. Not part of the API.
    mod sql {
    /// The earliest time one of an invoice's keys (order, return, credit
    /// note) was recorded, if any was.
    pub const INVOICE_KEY: &str = "SELECT min(imported_at) FROM import_keys WHERE source = ?1 \
        AND entity IN ('order', 'return', 'credit_note') AND key = ?2";
    /// The customer's latest order line a cancelled line can go back to.
    pub const MATCHING_ORDER: &str = "SELECT o.id FROM order_lines l \
        JOIN orders o ON o.id = l.order_id \
        WHERE l.variant_id = ?2 AND o.customer_id = ?1 AND l.unit_price_e4 = ?3 \
        AND o.placed_at <= ?4 AND l.quantity_shipped - l.quantity_returned >= ?5 \
        AND o.status IN ('delivered', 'shipped', 'partially_shipped') \
        ORDER BY o.placed_at DESC, o.id DESC LIMIT 1";
    }
}

/// The import source name recorded with every import key.
pub const SOURCE: &str = "online-retail";
/// Invoices written per transaction: large enough to amortize the commit,
/// small enough that memory stays bounded and progress is reported often.
pub const INVOICES_PER_TRANSACTION: usize = 500;
/// The most keys of one kind (customers, products) an import remembers
/// between lookups; past it, it forgets them and starts again, so the
/// memory it holds (about 100 bytes a key) does not grow with the file.
pub const MAX_REMEMBERED_KEYS: usize = 100_000;
/// The columns, in order, the first line must name.
pub const HEADER: [&str; 8] = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
];

/// Stock codes that are postage or carriage: they add to the order's
/// shipping charge.
pub const SHIPPING_CODES: &[&str] = &["POST", "DOT", "C2"];
/// Stock codes that are fees or accounting entries, not sales: rejected.
pub const FEE_CODES: &[&str] = &["BANK CHARGES", "AMAZONFEE", "CRUK", "B"];
/// The discount code: only meaningful inside a cancellation.
pub const DISCOUNT_CODE: &str = "D";

/// The country names of the data set, as ISO 3166-1 alpha-2 codes. Names
/// with no single code (`Channel Islands`, `European Community`,
/// `Unspecified`) and names not listed give no country.
pub fn country_code(name: &str) -> Option<&'static str> {
    Some(match name.trim() {
        "United Kingdom" => "GB",
        "Germany" => "DE",
        "France" => "FR",
        "EIRE" => "IE",
        "Spain" => "ES",
        "Netherlands" => "NL",
        "Belgium" => "BE",
        "Switzerland" => "CH",
        "Portugal" => "PT",
        "Australia" => "AU",
        "Norway" => "NO",
        "Italy" => "IT",
        "Finland" => "FI",
        "Cyprus" => "CY",
        "Sweden" => "SE",
        "Austria" => "AT",
        "Denmark" => "DK",
        "Japan" => "JP",
        "Poland" => "PL",
        "Israel" => "IL",
        "USA" => "US",
        "Hong Kong" => "HK",
        "Singapore" => "SG",
        "Iceland" => "IS",
        "Canada" => "CA",
        "Greece" => "GR",
        "Malta" => "MT",
        "United Arab Emirates" => "AE",
        "RSA" => "ZA",
        "Lebanon" => "LB",
        "Lithuania" => "LT",
        "Brazil" => "BR",
        "Czech Republic" => "CZ",
        "Bahrain" => "BH",
        "Saudi Arabia" => "SA",
        _ => return None,
    })
}

/// One parsed input line.
#[derive(Debug, Clone)]
struct Line {
    no: u64,
    invoice: String,
    code: String,
    description: String,
    quantity: i64,
    at: DateTime<Utc>,
    price: Decimal,
    customer: Option<String>,
    country: Option<&'static str>,
}

/// What a line is, once the line-level rules have looked at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Product,
    Shipping,
    /// A discount or other non-product code inside a cancellation.
    Adjustment,
}

/// The line-level rules: a line is rejected for what it is on its own, or
/// given a kind for the invoice rules.
fn classify(line: &Line) -> std::result::Result<Kind, &'static str> {
    let cancellation = line.invoice.starts_with('C');
    if line.invoice.starts_with('A') {
        return Err("bad-debt adjustment (an accounting entry, not a sale)");
    }
    if !line
        .invoice
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        && !cancellation
    {
        return Err("invoice number of an unknown kind");
    }
    if FEE_CODES.contains(&line.code.as_str()) {
        return Err("fee or charge (BANK CHARGES, AMAZONFEE, CRUK, B), not a sale");
    }
    if line.price.is_sign_negative() && !line.price.is_zero() {
        return Err("negative unit price");
    }
    if line.price.scale() > money::PRICE_DECIMALS {
        return Err("unit price with more than four decimals");
    }
    if cancellation {
        if line.quantity >= 0 {
            return Err("cancellation line without a negative quantity");
        }
        if line.price.is_zero() {
            return Err("zero-value cancellation line");
        }
    } else {
        if line.quantity <= 0 {
            return Err("zero or negative quantity outside a cancellation (a stock correction)");
        }
        if line.price.is_zero() && line.customer.is_none() {
            return Err("zero-price line without a customer (a stock note)");
        }
        if line.code == DISCOUNT_CODE {
            return Err("discount line outside a cancellation");
        }
    }
    if line.quantity.unsigned_abs() > crate::order::MAX_LINE_QUANTITY as u64 {
        return Err("quantity above the per-line limit");
    }
    Ok(if SHIPPING_CODES.contains(&line.code.as_str()) {
        Kind::Shipping
    } else if cancellation && (line.code == DISCOUNT_CODE || line.code == "M" || line.code == "m") {
        Kind::Adjustment
    } else {
        Kind::Product
    })
}

fn parse_line(no: u64, record: &csv::StringRecord) -> std::result::Result<Line, &'static str> {
    if record.len() != HEADER.len() {
        return Err("wrong number of columns");
    }
    let quantity: i64 = record[3]
        .trim()
        .parse()
        .map_err(|_| "unreadable quantity")?;
    let at = NaiveDateTime::parse_from_str(record[4].trim(), "%Y-%m-%d %H:%M:%S")
        .map_err(|_| "unreadable invoice date")?
        .and_utc();
    if !crate::time::is_storable(at) {
        return Err("invoice date outside the years 1 to 9999");
    }
    let price = Decimal::from_str(record[5].trim()).map_err(|_| "unreadable unit price")?;
    let customer = match record[6].trim() {
        "" => None,
        id => {
            let id = id.strip_suffix(".0").unwrap_or(id);
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) || id.len() > 20 {
                return Err("unreadable customer id");
            }
            Some(id.to_owned())
        }
    };
    let invoice = record[0].trim().to_owned();
    let code = record[1].trim().to_owned();
    if invoice.is_empty() || invoice.len() > 32 {
        return Err("missing or overlong invoice number");
    }
    if code.is_empty() || code.chars().count() > crate::catalog::MAX_SKU_LEN {
        return Err("missing or overlong stock code");
    }
    Ok(Line {
        no,
        invoice,
        code,
        description: record[2].trim().to_owned(),
        quantity,
        at,
        price,
        customer,
        country: country_code(&record[7]),
    })
}

/// The lines of one invoice as they came, in file order.
struct Invoice {
    lines: Vec<(Line, Kind)>,
}

impl Store {
    /// Imports a file in the Online Retail layout, plain or gzip-compressed
    /// (by its first bytes). See [`import_retail`](Store::import_retail).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::CannotOpen`] when the file cannot be read; as
    /// [`import_retail`](Store::import_retail).
    pub fn import_retail_file(
        &self,
        path: impl AsRef<Path>,
        progress: impl FnMut(ImportProgress),
        rejection: impl FnMut(&Rejection),
    ) -> Result<ImportReport> {
        let path = path.as_ref();
        let cannot = |e: std::io::Error| {
            Error::new(ErrorKind::CannotOpen {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        };
        let mut file = std::fs::File::open(path).map_err(cannot)?;
        let mut magic = [0u8; 2];
        let n = file.read(&mut magic).map_err(cannot)?;
        let head = std::io::Cursor::new(magic[..n].to_vec());
        let input = head.chain(file);
        if n == 2 && magic == [0x1f, 0x8b] {
            self.import_retail(flate2::read::GzDecoder::new(input), progress, rejection)
        } else {
            self.import_retail(input, progress, rejection)
        }
    }

    /// Imports CSV in the Online Retail layout from a stream. Every line is
    /// imported, found already imported, or passed to `rejection` with its
    /// line number and reason; `progress` is called after every
    /// [`INVOICES_PER_TRANSACTION`] invoices. Memory holds one batch of
    /// invoices at a time, and the customer and product keys met so far
    /// (at most [`MAX_REMEMBERED_KEYS`] of each kind). Running it again on
    /// the same input changes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `header` when the first line is not the
    /// layout's; a database error (the batches committed before it stay,
    /// and running the import again completes it).
    pub fn import_retail(
        &self,
        input: impl Read,
        mut progress: impl FnMut(ImportProgress),
        mut rejection: impl FnMut(&Rejection),
    ) -> Result<ImportReport> {
        let (input, shapes) = super::bounded::CsvGuard::new(input);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| Error::invalid("header", format!("unreadable: {e}")))?
            .clone();
        if let Some(problem) = super::bounded::next_shape(&shapes).and_then(|s| s.problem()) {
            return Err(Error::invalid("header", problem));
        }
        if header.iter().map(str::trim).ne(HEADER.iter().copied()) {
            return Err(Error::invalid(
                "header",
                format!("must be {}", HEADER.join(",")),
            ));
        }
        let run_started = crate::time::now();
        let mut known = Known::default();
        let mut report = ImportReport::default();
        let mut batch: Vec<Invoice> = Vec::new();
        let mut current: Option<Invoice> = None;
        let mut record = csv::StringRecord::new();
        let mut reject = |report: &mut ImportReport, line: u64, reason: &str| {
            report.rejected += 1;
            *report
                .rejected_by_reason
                .entry(reason.to_owned())
                .or_default() += 1;
            rejection(&Rejection {
                line,
                reason: reason.to_owned(),
            });
        };
        loop {
            let position_line = reader.position().line() + 1;
            let more = match reader.read_record(&mut record) {
                Ok(more) => more,
                Err(e) => {
                    // Each record the reader returns is the next one the
                    // guard saw.
                    let shape = super::bounded::next_shape(&shapes);
                    report.lines_read += 1;
                    let line = shape.map_or_else(
                        || e.position().map_or(position_line, |p| p.line()),
                        |s| s.line,
                    );
                    let reason = match (shape.and_then(|s| s.problem()), e.kind()) {
                        (Some(problem), _) => problem,
                        (None, csv::ErrorKind::Utf8 { .. }) => "not valid UTF-8".to_owned(),
                        (None, _) => "malformed CSV line".to_owned(),
                    };
                    reject(&mut report, line, &reason);
                    continue;
                }
            };
            if !more {
                break;
            }
            let shape = super::bounded::next_shape(&shapes);
            report.lines_read += 1;
            let no = shape.map_or_else(
                || record.position().map_or(position_line, |p| p.line()),
                |s| s.line,
            );
            if let Some(problem) = shape.and_then(|s| s.problem()) {
                reject(&mut report, no, &problem);
                continue;
            }
            let line = match parse_line(no, &record) {
                Ok(l) => l,
                Err(reason) => {
                    reject(&mut report, no, reason);
                    continue;
                }
            };
            let kind = match classify(&line) {
                Ok(k) => k,
                Err(reason) => {
                    reject(&mut report, no, reason);
                    continue;
                }
            };
            let same = current
                .as_ref()
                .is_some_and(|inv| inv.lines[0].0.invoice == line.invoice);
            if !same {
                if let Some(done) = current.take() {
                    batch.push(done);
                }
                if batch.len() >= INVOICES_PER_TRANSACTION {
                    self.write_batch(
                        &mut batch,
                        run_started,
                        &mut known,
                        &mut report,
                        &mut reject,
                    )?;
                    progress(report.progress());
                }
                current = Some(Invoice { lines: Vec::new() });
            }
            if let Some(inv) = current.as_mut() {
                inv.lines.push((line, kind));
            }
        }
        if let Some(done) = current.take() {
            batch.push(done);
        }
        self.write_batch(
            &mut batch,
            run_started,
            &mut known,
            &mut report,
            &mut reject,
        )?;
        progress(report.progress());
        debug_assert_eq!(
            report.imported + report.already_present + report.rejected,
            report.lines_read
        );
        Ok(report)
    }

    fn write_batch(
        &self,
        batch: &mut Vec<Invoice>,
        run_started: DateTime<Utc>,
        known: &mut Known,
        report: &mut ImportReport,
        reject: &mut impl FnMut(&mut ImportReport, u64, &str),
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let invoices = std::mem::take(batch);
        self.write(|tx| {
            known.begin(tx.db())?;
            for invoice in &invoices {
                write_invoice(tx, invoice, run_started, known, report, reject)?;
            }
            known.end(tx.db())
        })
    }
}

/// The import keys this run has already met, so that a product's or a
/// customer's key is looked up in the database once per run rather than on
/// every line (the file has 400,000 product lines over 4,000 products).
///
/// The cache only remembers keys that exist: a key not in it is looked up
/// as before. It holds at most [`MAX_REMEMBERED_KEYS`] of each kind (and
/// starts again empty when full), so memory stays bounded whatever the
/// file. It is trusted only while nothing else writes between this
/// run's batches: each batch starts by comparing the writer connection's
/// change counter (other units of work on the same store) and
/// `PRAGMA data_version` (other connections and processes) with their
/// values at the end of the previous batch, and forgets everything when
/// either moved, because another writer may have merged a customer or
/// erased one and so changed what a key points at.
/// Remembers what `key` became, forgetting every key of its kind first when
/// the map holds [`MAX_REMEMBERED_KEYS`].
fn remember<T>(map: &mut HashMap<String, T>, key: &str, id: T) {
    if map.len() >= MAX_REMEMBERED_KEYS {
        map.clear();
    }
    map.insert(key.to_owned(), id);
}

#[derive(Default)]
struct Known {
    customers: HashMap<String, CustomerId>,
    products: HashMap<String, VariantId>,
    /// The writer's total changes and data version at the end of the last
    /// batch (SQLite).
    mark: Option<(u64, i64)>,
}

impl Known {
    /// The writer's change counter and the file's data version, or `None`
    /// on PostgreSQL, where other servers' writes leave no such mark: there
    /// the cache is forgotten at every batch.
    fn marks(db: Conn<'_>) -> Result<Option<(u64, i64)>> {
        if db.is_postgres() {
            return Ok(None);
        }
        let version: i64 = db.query_row(
            sql!(sqlite: "PRAGMA data_version", postgres: "SELECT 0"),
            &[],
            |r| r.get(0),
        )?;
        Ok(Some((db.total_changes(), version)))
    }

    fn begin(&mut self, db: Conn<'_>) -> Result<()> {
        let now = Self::marks(db)?;
        if now.is_none() || self.mark != now {
            self.customers.clear();
            self.products.clear();
        }
        Ok(())
    }

    fn end(&mut self, db: Conn<'_>) -> Result<()> {
        self.mark = Self::marks(db)?;
        Ok(())
    }
}

/// The key of an invoice's run of lines: its number, and `#2`, `#3`, ...
/// for a later run of lines of an invoice this import already wrote (the
/// file is not always grouped by invoice). Returns None when an earlier
/// import wrote this run.
fn invoice_key(
    tx: &WriteTx<'_>,
    invoice: &str,
    run_started: DateTime<Utc>,
) -> Result<Option<String>> {
    let mut n = 1;
    loop {
        let key = if n == 1 {
            invoice.to_owned()
        } else {
            format!("{invoice}#{n}")
        };
        // One lookup over the three kinds of record an invoice becomes.
        let found: Option<DateTime<Utc>> =
            tx.db()
                .query_row(sql!(sql::INVOICE_KEY), &[&SOURCE, &key], |r| r.get(0))?;
        match found {
            None => return Ok(Some(key)),
            // Written by an earlier import: this run of lines is present.
            Some(at) if at < run_started => return Ok(None),
            // Written by this import: these lines are a later run.
            Some(_) => n += 1,
        }
    }
}

/// How a sale invoice's lines become orders: a stock code goes on the
/// first order that has it at the same price (quantities add up) or does
/// not have it yet; a line that fits on none (the same code at a second
/// price, or an order already at [`MAX_LINES_PER_ORDER`]) starts another
/// order, keyed `<invoice>/2`, `/3`, ... Postage goes on the first order;
/// postage alone, without goods, is rejected.
struct SalePlan<'a> {
    orders: Vec<Vec<(&'a Line, i64, Vec<u64>)>>,
    shipping: Decimal,
    shipping_lines: Vec<u64>,
    rejects: Vec<(u64, &'static str)>,
}

fn plan_sale(invoice: &Invoice) -> SalePlan<'_> {
    let mut plan = SalePlan {
        orders: Vec::new(),
        shipping: Decimal::ZERO,
        shipping_lines: Vec::new(),
        rejects: Vec::new(),
    };
    for (line, kind) in &invoice.lines {
        if *kind == Kind::Shipping {
            plan.shipping += Decimal::from(line.quantity) * line.price;
            plan.shipping_lines.push(line.no);
            continue;
        }
        let mut placed = false;
        for order in plan.orders.iter_mut() {
            let full = order.len() >= MAX_LINES_PER_ORDER;
            match order.iter_mut().find(|(l, _, _)| l.code == line.code) {
                Some((l, q, nos)) if l.price == line.price => {
                    *q += line.quantity;
                    nos.push(line.no);
                    placed = true;
                }
                Some(_) => continue,
                None if full => continue,
                None => {
                    order.push((line, line.quantity, vec![line.no]));
                    placed = true;
                }
            }
            break;
        }
        if !placed {
            plan.orders.push(vec![(line, line.quantity, vec![line.no])]);
        }
    }
    if plan.orders.is_empty() {
        for no in plan.shipping_lines.drain(..) {
            plan.rejects
                .push((no, "postage without goods in the invoice"));
        }
    } else if gbp().payable("shipping", plan.shipping).is_err() {
        for no in plan.shipping_lines.drain(..) {
            plan.rejects
                .push((no, "postage charge with more decimals than the currency"));
        }
        plan.shipping = Decimal::ZERO;
    }
    plan
}

fn write_invoice(
    tx: &WriteTx<'_>,
    invoice: &Invoice,
    run_started: DateTime<Utc>,
    known: &mut Known,
    report: &mut ImportReport,
    reject: &mut impl FnMut(&mut ImportReport, u64, &str),
) -> Result<()> {
    let first = &invoice.lines[0].0;
    let key = invoice_key(tx, &first.invoice, run_started)?;
    if first.invoice.starts_with('C') {
        match key {
            Some(key) => write_cancellation(tx, invoice, &key, known, report, reject),
            None => {
                report.already_present += invoice.lines.len() as u64;
                Ok(())
            }
        }
    } else {
        let plan = plan_sale(invoice);
        for (no, reason) in &plan.rejects {
            reject(report, *no, reason);
        }
        match key {
            Some(key) => write_sale(tx, first, plan, &key, known, report, reject),
            None => {
                report.already_present += (invoice.lines.len() - plan.rejects.len()) as u64;
                Ok(())
            }
        }
    }
}

fn customer_for(
    tx: &WriteTx<'_>,
    id: &str,
    known: &mut Known,
    report: &mut ImportReport,
) -> Result<CustomerId> {
    if let Some(c) = known.customers.get(id) {
        return Ok(*c);
    }
    if let Some(c) = key_lookup::<CustomerId>(tx.db(), SOURCE, "customer", id)? {
        remember(&mut known.customers, id, c);
        return Ok(c);
    }
    let c = tx.customers().create(
        NewCustomer::new(format!("Customer {id}"))
            .acquisition_source(SOURCE)
            .attribute(
                "retail_customer_id",
                serde_json::Value::String(id.to_owned()),
            ),
    )?;
    key_record(tx, SOURCE, "customer", id, &c.id)?;
    remember(&mut known.customers, id, c.id);
    report.count("customers");
    Ok(c.id)
}

/// The variant a stock code became, if one did (in this run or before).
fn known_variant(tx: &WriteTx<'_>, code: &str, known: &mut Known) -> Result<Option<VariantId>> {
    if let Some(v) = known.products.get(code) {
        return Ok(Some(*v));
    }
    let found = key_lookup::<VariantId>(tx.db(), SOURCE, "product", code)?;
    if let Some(v) = found {
        remember(&mut known.products, code, v);
    }
    Ok(found)
}

fn variant_for(
    tx: &WriteTx<'_>,
    line: &Line,
    known: &mut Known,
    report: &mut ImportReport,
) -> Result<VariantId> {
    if let Some(v) = known_variant(tx, &line.code, known)? {
        return Ok(v);
    }
    let name = if line.description.is_empty() {
        line.code.clone()
    } else {
        line.description
            .chars()
            .take(crate::catalog::MAX_PRODUCT_NAME_LEN)
            .collect()
    };
    let product = tx.catalog().create_product(NewProduct::new(name).variant(
        NewVariant::new(line.code.clone(), line.price.abs(), Currency::GBP).track_stock(false),
    ))?;
    let v = product.variants[0].id;
    key_record(tx, SOURCE, "product", &line.code, &v)?;
    remember(&mut known.products, &line.code, v);
    report.count("products");
    Ok(v)
}

fn gbp() -> Currency {
    // GBP is in the ISO list custdb ships; parsing it cannot fail.
    Currency::parse("GBP", "currency").unwrap_or_else(|_| unreachable!("GBP is ISO 4217"))
}

fn write_sale(
    tx: &WriteTx<'_>,
    first: &Line,
    plan: SalePlan<'_>,
    key: &str,
    known: &mut Known,
    report: &mut ImportReport,
    reject: &mut impl FnMut(&mut ImportReport, u64, &str),
) -> Result<()> {
    let customer_id = first
        .customer
        .as_deref()
        .map(|id| customer_for(tx, id, known, report))
        .transpose()?;
    for (n, lines) in plan.orders.iter().enumerate() {
        let order_key = if n == 0 {
            key.to_owned()
        } else {
            format!("{key}/{}", n + 1)
        };
        let mut historical = HistoricalOrder {
            customer_id,
            guest_email: customer_id.is_none().then(|| {
                format!(
                    "guest-{}@import.invalid",
                    order_key.replace(['#', '/'], "-")
                )
                .to_lowercase()
            }),
            currency: Currency::GBP,
            country: first.country.map(str::to_owned),
            placed_at: first.at,
            lines: Vec::with_capacity(lines.len()),
            shipping: if n == 0 { plan.shipping } else { Decimal::ZERO },
        };
        for (line, quantity, _) in lines {
            historical.lines.push(HistoricalLine {
                variant_id: variant_for(tx, line, known, report)?,
                quantity: *quantity,
                unit_price: line.price,
            });
        }
        let mut numbers: Vec<u64> = lines
            .iter()
            .flat_map(|(_, _, nos)| nos.iter().copied())
            .collect();
        if n == 0 {
            numbers.extend(&plan.shipping_lines);
        }
        match tx.orders().record_historical(&historical) {
            Ok(order) => {
                key_record(tx, SOURCE, "order", &order_key, &order.to_string())?;
                report.count("orders");
                report.imported += numbers.len() as u64;
            }
            Err(e) if e.is_invalid() => {
                let reason = format!("order refused: {}", e.field().unwrap_or("input"));
                for no in numbers {
                    reject(report, no, &reason);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The customer's order line a cancelled line matches: same variant and
/// price, placed at or before the cancellation, with enough shipped and not
/// yet returned, the latest such order first.
fn matching_order(
    tx: &WriteTx<'_>,
    customer: CustomerId,
    variant: VariantId,
    unit_price_e4: i64,
    at: DateTime<Utc>,
    quantity: i64,
) -> Result<Option<OrderId>> {
    tx.db().query_opt(
        sql!(sql::MATCHING_ORDER),
        &[&customer, &variant, &unit_price_e4, &at, &quantity],
        |r| r.get(0),
    )
}

/// A cancelled line matched to an order: the line, units, amount.
type Returned<'a> = (&'a Line, i64, i64);

fn write_cancellation(
    tx: &WriteTx<'_>,
    invoice: &Invoice,
    key: &str,
    known: &mut Known,
    report: &mut ImportReport,
    reject: &mut impl FnMut(&mut ImportReport, u64, &str),
) -> Result<()> {
    let first = &invoice.lines[0].0;
    let reason = format!("cancellation {}", first.invoice);
    let customer_id = first
        .customer
        .as_deref()
        .map(|id| customer_for(tx, id, known, report))
        .transpose()?;
    let at = first.at;
    // Product lines with a matching order become returns and refunds,
    // grouped by order; the rest goes on one credit note.
    let mut returns: Vec<(OrderId, Vec<Returned<'_>>)> = Vec::new();
    let mut credited: Vec<&Line> = Vec::new();
    for (line, kind) in &invoice.lines {
        let quantity = -line.quantity;
        let matched = match (kind, customer_id) {
            (Kind::Product, Some(customer)) => {
                match known_variant(tx, &line.code, known)? {
                    Some(variant) => {
                        let price_e4 = money::to_e4("unit_price", line.price)?;
                        // Units already claimed by earlier lines of this
                        // cancellation against the same order count too.
                        let pending: i64 = returns
                            .iter()
                            .flat_map(|(_, ls)| ls.iter())
                            .filter(|(l, _, _)| l.code == line.code)
                            .map(|(_, q, _)| *q)
                            .sum();
                        matching_order(tx, customer, variant, price_e4, at, quantity + pending)?
                    }
                    None => None,
                }
            }
            _ => None,
        };
        let amount_e4 = crate::order::line_amounts(
            gbp(),
            quantity,
            money::to_e4("unit_price", line.price)?,
            0,
            0,
        )
        .map(|a| a.0)
        .ok_or_else(|| Error::invalid("quantity", "the line amount is too large"))?;
        match matched {
            Some(order) => match returns.iter_mut().find(|(o, _)| *o == order) {
                Some((_, ls)) => ls.push((line, quantity, amount_e4)),
                None => returns.push((order, vec![(line, quantity, amount_e4)])),
            },
            None => credited.push(line),
        }
    }
    let mut first_return: Option<crate::id::ReturnId> = None;
    for (order, lines) in &returns {
        // The same stock code twice in a cancellation goes back as one line.
        let mut merged: Vec<NewReturnLine> = Vec::new();
        for (line, quantity, _) in lines {
            match merged.iter_mut().find(|m| m.sku == line.code) {
                Some(m) => m.quantity += quantity,
                None => merged.push(NewReturnLine {
                    sku: line.code.clone(),
                    quantity: *quantity,
                    restock: false,
                    warehouse: None,
                }),
            }
        }
        let amount_e4: i64 = lines.iter().map(|(_, _, a)| a).sum();
        let ret = tx.orders().return_items(
            *order,
            NewReturn {
                reason: reason.clone(),
                lines: merged,
            },
        )?;
        first_return.get_or_insert(ret.id);
        report.count("returns");
        let refundable: (i64, i64) = tx.db().query_row(
            sql!("SELECT paid_e4, refunded_e4 FROM orders WHERE id = ?1"),
            &[order],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let amount_e4 = amount_e4.min(refundable.0 - refundable.1);
        if amount_e4 > 0 {
            tx.orders().refund(
                *order,
                NewRefund::new(money::from_e4(amount_e4), reason.clone()),
            )?;
            report.count("refunds");
        }
        report.imported += lines.len() as u64;
    }
    if let Some(id) = first_return {
        key_record(tx, SOURCE, "return", key, &id)?;
    }
    if !credited.is_empty() {
        let mut amount_e4 = 0i64;
        let mut items = Vec::with_capacity(credited.len());
        for line in &credited {
            let quantity = -line.quantity;
            let a = crate::order::line_amounts(
                gbp(),
                quantity,
                money::to_e4("unit_price", line.price)?,
                0,
                0,
            )
            .map(|a| a.0)
            .ok_or_else(|| Error::invalid("quantity", "the line amount is too large"))?;
            amount_e4 = money::add_e4("amount", amount_e4, a)?;
            items.push(serde_json::json!({
                "line": line.no,
                "sku": line.code,
                "quantity": quantity,
                "unit_price": line.price.to_string(),
            }));
        }
        if amount_e4 <= 0 {
            for line in &credited {
                reject(report, line.no, "zero-value cancellation line");
            }
        } else {
            let id = crate::order::credit::issue(
                tx,
                &crate::order::credit::NewCreditNote {
                    customer_id,
                    currency: Currency::GBP,
                    amount: money::from_e4(amount_e4),
                    reason: reason.clone(),
                    lines: serde_json::Value::Array(items),
                    country: first.country.map(str::to_owned),
                    issued_at: first.at,
                    to_store_credit: false,
                },
            )?;
            key_record(tx, SOURCE, "credit_note", key, &id)?;
            report.count("credit_notes");
            report.imported += credited.len() as u64;
        }
    }
    Ok(())
}
