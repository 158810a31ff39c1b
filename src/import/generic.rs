//! Importing customers from CSV or JSON Lines with a column mapping, and
//! products and orders from JSON Lines. Same contract as every importer
//! (see the module above): each line imported, already present, or
//! rejected with its number and reason; bounded memory; idempotent.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{key_lookup, key_record, ImportProgress, ImportReport, Rejection};
use crate::catalog::NewProduct;
use crate::customer::{AddressKind, NewAddress, NewCustomer};
use crate::error::{Error, Result};
use crate::id::CustomerId;
use crate::money::Currency;
use crate::order::historical::{HistoricalLine, HistoricalOrder};
use crate::store::Store;
use crate::unit::{Unguarded, WriteTx};

/// Rows written per transaction.
pub const ROWS_PER_TRANSACTION: usize = 1000;
/// The longest JSON line accepted, in bytes: the same limit as a CSV
/// record, [`MAX_RECORD_BYTES`](crate::import::MAX_RECORD_BYTES).
pub const MAX_JSON_LINE_BYTES: usize = super::bounded::MAX_RECORD_BYTES;

/// Where a source column goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CustomerField {
    /// The outside system's id: the import key (re-importing finds it).
    Key,
    /// Display name (required, or given + family name).
    DisplayName,
    /// Given name.
    GivenName,
    /// Family name.
    FamilyName,
    /// Email.
    Email,
    /// Phone.
    Phone,
    /// The phone's country when it has no `+` prefix.
    PhoneCountry,
    /// Company.
    Company,
    /// Locale.
    Locale,
    /// Birth date, `YYYY-MM-DD`.
    BirthDate,
    /// Acquisition source.
    AcquisitionSource,
    /// Notes.
    Notes,
    /// Tags, separated by `;` or `,`.
    Tags,
    /// A custom attribute of this name (the value as text).
    Attribute(String),
    /// Billing address, first line.
    AddressLine1,
    /// Billing address, second line.
    AddressLine2,
    /// Billing address, city.
    City,
    /// Billing address, region.
    Region,
    /// Billing address, postal code.
    PostalCode,
    /// Billing address, country (ISO 3166-1 alpha-2).
    Country,
    /// Not imported.
    Ignore,
}

/// How the columns of an input map onto customer fields. Columns not named
/// are ignored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct CustomerMapping {
    /// The import source name recorded with the import keys (1 to 64).
    pub source: String,
    /// Source column (CSV header or JSON key) → field.
    pub columns: BTreeMap<String, CustomerField>,
}
crate::input::strict_serde!(CustomerMapping);

impl CustomerMapping {
    /// A mapping for a source.
    pub fn new(source: impl Into<String>) -> Self {
        CustomerMapping {
            source: source.into(),
            columns: BTreeMap::new(),
        }
    }

    /// Maps a column.
    pub fn column(mut self, name: impl Into<String>, field: CustomerField) -> Self {
        self.columns.insert(name.into(), field);
        self
    }
}

/// One row, as column → text.
type Row = BTreeMap<String, String>;

/// What one batch of customer rows came to.
#[derive(Default)]
struct BatchTally {
    imported: u64,
    already_present: u64,
    rejected: Vec<(u64, String)>,
}

/// Writes a batch of customer rows inside `tx`. With `retry` (the first
/// pass) no row has a savepoint of its own: a row that fails before
/// writing is rejected, and one that fails after writing sets `retry` and
/// fails the whole unit of work, to be written again without `retry`, with
/// one savepoint per row (every error below goes out with `?`, so that
/// savepoint undoes the whole row).
fn write_customer_rows(
    tx: &WriteTx<'_>,
    rows: &[(u64, Row)],
    mapping: &CustomerMapping,
    retry: Option<&std::cell::Cell<bool>>,
) -> Result<BatchTally> {
    let mut tally = BatchTally::default();
    for (line, row) in rows {
        let (key, new, address) = match customer_from_row(mapping, row) {
            Ok(x) => x,
            Err(reason) => {
                tally.rejected.push((*line, reason));
                continue;
            }
        };
        if let Some(k) = &key {
            if key_lookup::<CustomerId>(tx.db(), &mapping.source, "customer", k)?.is_some() {
                tally.already_present += 1;
                continue;
            }
        } else if let Some(email) = &new.email {
            if tx.customers().get_by_email(email).is_ok() {
                tally.already_present += 1;
                continue;
            }
        }
        let write_row = || {
            let c = tx.customers().create(new.clone())?;
            if let Some(a) = &address {
                tx.customers().add_address(c.id, a.clone())?;
            }
            if let Some(k) = &key {
                key_record(tx, &mapping.source, "customer", k, &c.id)?;
            }
            Ok(())
        };
        let rejected_row = |e: &Error| e.is_invalid() || e.is_already_exists();
        let outcome = match retry {
            Some(retry) => match tx.unguarded(write_row) {
                Unguarded::Done(()) => Ok(()),
                Unguarded::Refused(e) => Err(e),
                Unguarded::Written(e) => {
                    retry.set(rejected_row(&e));
                    return Err(e);
                }
            },
            None => tx.atomic_whole(write_row),
        };
        match outcome {
            Ok(()) => tally.imported += 1,
            Err(e) if rejected_row(&e) => tally.rejected.push((*line, e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok(tally)
}

fn customer_from_row(
    mapping: &CustomerMapping,
    row: &Row,
) -> std::result::Result<(Option<String>, NewCustomer, Option<NewAddress>), String> {
    let mut new = NewCustomer::default();
    let mut key = None;
    let (mut line1, mut line2, mut city, mut region, mut postal, mut country) =
        (None, None, None, None, None, None);
    for (column, field) in &mapping.columns {
        let Some(value) = row.get(column).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
            continue;
        };
        let v = Some(value.to_owned());
        match field {
            CustomerField::Key => {
                super::check_key(column, value)?;
                key = v
            }
            CustomerField::DisplayName => new.display_name = value.to_owned(),
            CustomerField::GivenName => new.given_name = v,
            CustomerField::FamilyName => new.family_name = v,
            CustomerField::Email => new.email = v,
            CustomerField::Phone => new.phone = v,
            CustomerField::PhoneCountry => new.phone_country = v,
            CustomerField::Company => new.company = v,
            CustomerField::Locale => new.locale = v,
            CustomerField::BirthDate => {
                new.birth_date = Some(
                    NaiveDate::parse_from_str(value, "%Y-%m-%d")
                        .map_err(|_| format!("{column}: not a YYYY-MM-DD date"))?,
                )
            }
            CustomerField::AcquisitionSource => new.acquisition_source = v,
            CustomerField::Notes => new.notes = v,
            CustomerField::Tags => {
                new.tags = value
                    .split([';', ','])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            CustomerField::Attribute(name) => {
                new.attributes
                    .insert(name.clone(), serde_json::Value::String(value.to_owned()));
            }
            CustomerField::AddressLine1 => line1 = v,
            CustomerField::AddressLine2 => line2 = v,
            CustomerField::City => city = v,
            CustomerField::Region => region = v,
            CustomerField::PostalCode => postal = v,
            CustomerField::Country => country = v,
            CustomerField::Ignore => {}
        }
    }
    if new.display_name.is_empty() {
        let joined = [new.given_name.as_deref(), new.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        new.display_name = joined;
    }
    let address = match (line1, city, country) {
        (Some(line1), Some(city), Some(country)) => {
            let mut a = NewAddress::new(AddressKind::Billing, line1, city, country);
            a.line2 = line2;
            a.region = region;
            a.postal_code = postal;
            Some(a)
        }
        (None, None, None) => None,
        _ => return Err("address: needs line 1, city and country together".into()),
    };
    Ok((key, new, address))
}

impl Store {
    /// Imports customers from CSV (first line: the column names) with a
    /// mapping. A row whose key (the `Key` column) or, without one, whose
    /// email an active customer already has, is already present.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `header`
    /// (unreadable) or `mapping` (a mapped column missing from the header,
    /// a bad source name); a database error.
    pub fn import_customers_csv(
        &self,
        input: impl Read,
        mapping: &CustomerMapping,
        progress: impl FnMut(ImportProgress),
        rejection: impl FnMut(&Rejection),
    ) -> Result<ImportReport> {
        check_source(&mapping.source)?;
        let (input, shapes) = super::bounded::CsvGuard::new(input);
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| Error::invalid("header", format!("unreadable: {e}")))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        if let Some(problem) = super::bounded::next_shape(&shapes).and_then(|s| s.problem()) {
            return Err(Error::invalid("header", problem));
        }
        for column in mapping.columns.keys() {
            if !header.contains(column) {
                return Err(Error::invalid(
                    "mapping",
                    format!("column {column:?} is not in the header"),
                ));
            }
        }
        let rows = reader.into_records().enumerate().map(move |(i, r)| {
            // Each record the reader returns is the next one the guard saw.
            let shape = super::bounded::next_shape(&shapes);
            let fallback = i as u64 + 2;
            let line = shape.map_or(fallback, |s| s.line);
            if let Some(problem) = shape.and_then(|s| s.problem()) {
                return Err((line, problem));
            }
            let record = r.map_err(|e| {
                let reason = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "not valid UTF-8",
                    _ => "malformed CSV line",
                };
                (line, reason.to_owned())
            })?;
            Ok((
                line,
                header
                    .iter()
                    .cloned()
                    .zip(record.iter().map(str::to_owned))
                    .collect::<Row>(),
            ))
        });
        self.import_customer_rows(rows, mapping, progress, rejection)
    }

    /// Imports customers from JSON Lines (one object per line; values are
    /// taken as text) with a mapping, as
    /// [`import_customers_csv`](Store::import_customers_csv).
    ///
    /// # Errors
    ///
    /// As [`import_customers_csv`](Store::import_customers_csv).
    pub fn import_customers_jsonl(
        &self,
        input: impl BufRead,
        mapping: &CustomerMapping,
        progress: impl FnMut(ImportProgress),
        rejection: impl FnMut(&Rejection),
    ) -> Result<ImportReport> {
        check_source(&mapping.source)?;
        let rows = json_lines(input).map(|item| {
            let (line, value) = item?;
            let object = value
                .as_object()
                .ok_or((line, "not a JSON object".to_owned()))?;
            let row: Row = object
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
            Ok((line, row))
        });
        self.import_customer_rows(rows, mapping, progress, rejection)
    }

    fn import_customer_rows(
        &self,
        rows: impl Iterator<Item = std::result::Result<(u64, Row), (u64, String)>>,
        mapping: &CustomerMapping,
        mut progress: impl FnMut(ImportProgress),
        mut rejection: impl FnMut(&Rejection),
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut batch: Vec<(u64, Row)> = Vec::new();
        let mut reject = |report: &mut ImportReport, line: u64, reason: String| {
            report.rejected += 1;
            *report.rejected_by_reason.entry(reason.clone()).or_default() += 1;
            rejection(&Rejection { line, reason });
        };
        for row in rows {
            report.lines_read += 1;
            match row {
                Ok(row) => batch.push(row),
                Err((line, reason)) => reject(&mut report, line, reason),
            }
            if batch.len() >= ROWS_PER_TRANSACTION {
                self.write_customer_batch(&mut batch, mapping, &mut report, &mut reject)?;
                progress(report.progress());
            }
        }
        self.write_customer_batch(&mut batch, mapping, &mut report, &mut reject)?;
        progress(report.progress());
        Ok(report)
    }

    /// Writes one batch of rows in one unit of work. First without a
    /// savepoint per row: a row that fails before writing anything (a bad
    /// field, a taken email) is simply rejected, so a clean file pays for no
    /// savepoints. Only when a row fails after it began writing is the batch
    /// rolled back and written again with a savepoint per row, which then
    /// undoes just that row. Rejections and counts are reported once, from
    /// the pass that committed.
    fn write_customer_batch(
        &self,
        batch: &mut Vec<(u64, Row)>,
        mapping: &CustomerMapping,
        report: &mut ImportReport,
        reject: &mut impl FnMut(&mut ImportReport, u64, String),
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(batch);
        let retry = std::cell::Cell::new(false);
        let first = self.write(|tx| write_customer_rows(tx, &rows, mapping, Some(&retry)));
        let tally = match first {
            Ok(tally) => tally,
            Err(_) if retry.get() => {
                self.write(|tx| write_customer_rows(tx, &rows, mapping, None))?
            }
            Err(e) => return Err(e),
        };
        report.imported += tally.imported;
        report.already_present += tally.already_present;
        for _ in 0..tally.imported {
            report.count("customers");
        }
        for (line, reason) in tally.rejected {
            reject(report, line, reason);
        }
        Ok(())
    }

    /// Imports products from JSON Lines, one `NewProduct` object per line.
    /// A product whose first variant's SKU exists is already present.
    ///
    /// # Errors
    ///
    /// A database error; bad lines are rejections.
    pub fn import_products_jsonl(
        &self,
        input: impl BufRead,
        mut progress: impl FnMut(ImportProgress),
        mut rejection: impl FnMut(&Rejection),
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        self.jsonl_batches(
            input,
            &mut report,
            &mut rejection,
            &mut progress,
            |tx, value, report| {
                let product: NewProduct = match serde_json::from_value(value) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(format!("not a product: {e}"))),
                };
                let Some(sku) = product.variants.first().map(|v| v.sku.clone()) else {
                    return Ok(Err("a product needs a variant".into()));
                };
                if tx.catalog().variant_by_sku(&sku).is_ok() {
                    report.already_present += 1;
                    return Ok(Ok(()));
                }
                match tx.catalog().create_product(product) {
                    Ok(_) => {
                        report.imported += 1;
                        report.count("products");
                        Ok(Ok(()))
                    }
                    Err(e) if e.is_invalid() || e.is_already_exists() => Ok(Err(e.to_string())),
                    Err(e) => Err(e),
                }
            },
        )?;
        Ok(report)
    }

    /// Imports completed orders from JSON Lines, one [`ImportedOrder`] per
    /// line, as history ([`Orders::record_historical`](crate::Orders::record_historical)).
    /// An order whose key was imported before is already present.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `source`; a
    /// database error; bad lines are rejections.
    pub fn import_orders_jsonl(
        &self,
        source: &str,
        input: impl BufRead,
        mut progress: impl FnMut(ImportProgress),
        mut rejection: impl FnMut(&Rejection),
    ) -> Result<ImportReport> {
        check_source(source)?;
        let mut report = ImportReport::default();
        self.jsonl_batches(
            input,
            &mut report,
            &mut rejection,
            &mut progress,
            |tx, value, report| {
                let order: ImportedOrder = match serde_json::from_value(value) {
                    Ok(o) => o,
                    Err(e) => return Ok(Err(format!("not an order: {e}"))),
                };
                if let Err(reason) = super::check_key("key", &order.key) {
                    return Ok(Err(reason));
                }
                if key_lookup::<crate::id::OrderId>(tx.db(), source, "order", &order.key)?.is_some()
                {
                    report.already_present += 1;
                    return Ok(Ok(()));
                }
                let customer_id = match &order.customer_email {
                    Some(email) => match tx.customers().get_by_email(email) {
                        Ok(c) => Some(c.id),
                        Err(_) => {
                            return Ok(Err("customer_email: no active customer has it".into()))
                        }
                    },
                    None => None,
                };
                let mut lines = Vec::with_capacity(order.lines.len());
                for (i, l) in order.lines.iter().enumerate() {
                    let Ok(variant) = tx.catalog().variant_by_sku(&l.sku) else {
                        return Ok(Err(format!("lines[{i}].sku: no variant has it")));
                    };
                    lines.push(HistoricalLine {
                        variant_id: variant.id,
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                    });
                }
                let historical = HistoricalOrder {
                    customer_id,
                    guest_email: if customer_id.is_none() {
                        order.guest_email.clone()
                    } else {
                        None
                    },
                    currency: order.currency,
                    country: order.country.clone(),
                    placed_at: order.placed_at,
                    lines,
                    shipping: order.shipping,
                };
                match tx.orders().record_historical(&historical) {
                    Ok(id) => {
                        key_record(tx, source, "order", &order.key, &id)?;
                        report.imported += 1;
                        report.count("orders");
                        Ok(Ok(()))
                    }
                    Err(e) if e.is_invalid() || e.is_not_found() => Ok(Err(e.to_string())),
                    Err(e) => Err(e),
                }
            },
        )?;
        Ok(report)
    }

    /// Reads JSON Lines in batches of [`ROWS_PER_TRANSACTION`], one
    /// transaction each; `apply` returns `Ok(Err(reason))` to reject a line
    /// (its writes are undone) and `Err` to stop the import.
    fn jsonl_batches(
        &self,
        input: impl BufRead,
        report: &mut ImportReport,
        rejection: &mut impl FnMut(&Rejection),
        progress: &mut impl FnMut(ImportProgress),
        apply: impl Fn(
            &WriteTx<'_>,
            serde_json::Value,
            &mut ImportReport,
        ) -> Result<std::result::Result<(), String>>,
    ) -> Result<()> {
        let mut lines = json_lines(input).peekable();
        while lines.peek().is_some() {
            let batch: Vec<_> = lines.by_ref().take(ROWS_PER_TRANSACTION).collect();
            let mut rejected: Vec<Rejection> = Vec::new();
            self.write(|tx| {
                for item in &batch {
                    report.lines_read += 1;
                    let (line, value) = match item {
                        Ok(x) => x,
                        Err((line, reason)) => {
                            rejected.push(Rejection {
                                line: *line,
                                reason: reason.clone(),
                            });
                            continue;
                        }
                    };
                    // A refused line is rolled back on its own; an error
                    // that is not about the line stops the import.
                    let outcome = tx.atomic(|| match apply(tx, value.clone(), report)? {
                        Ok(()) => Ok(()),
                        Err(reason) => Err(Error::invalid("line", reason)),
                    });
                    match outcome {
                        Ok(_) => {}
                        Err(e) => match e.kind() {
                            crate::ErrorKind::Invalid { field, reason } if field == "line" => {
                                rejected.push(Rejection {
                                    line: *line,
                                    reason: reason.clone(),
                                })
                            }
                            _ => return Err(e),
                        },
                    }
                }
                Ok(())
            })?;
            for r in rejected {
                report.rejected += 1;
                *report
                    .rejected_by_reason
                    .entry(r.reason.clone())
                    .or_default() += 1;
                rejection(&r);
            }
            progress(report.progress());
        }
        Ok(())
    }
}

/// An order line to import, by SKU.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ImportedLine {
    /// The variant's SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
    /// The price it was sold at.
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    pub unit_price: Decimal,
}
crate::input::strict_serde!(ImportedLine);

/// A completed order to import.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ImportedOrder {
    /// The outside order number (the import key).
    pub key: String,
    /// The customer, by email; or
    #[serde(default)]
    pub customer_email: Option<String>,
    /// a guest's email.
    #[serde(default)]
    pub guest_email: Option<String>,
    /// The currency (JSON: its ISO 4217 code).
    pub currency: Currency,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Lines.
    pub lines: Vec<ImportedLine>,
    /// Shipping charge.
    #[serde(default, deserialize_with = "crate::money::amount_text::deserialize")]
    pub shipping: Decimal,
}
crate::input::strict_serde!(ImportedOrder);

fn check_source(source: &str) -> Result<()> {
    if source.trim().is_empty() || source.len() > 64 {
        return Err(Error::invalid("source", "must be 1 to 64 characters"));
    }
    Ok(())
}

/// JSON Lines with their line numbers (from 1), parsed; blank lines are
/// skipped; an unreadable, overlong, non-UTF-8 or invalid line is an error
/// for that line only ([`super::bounded::json_lines`]).
fn json_lines(
    input: impl BufRead,
) -> impl Iterator<Item = std::result::Result<(u64, serde_json::Value), (u64, String)>> {
    super::bounded::json_lines(input).map(|line| {
        let (number, text) = line?;
        serde_json::from_str(&text)
            .map(|v| (number, v))
            .map_err(|e| (number, format!("invalid JSON: {e}")))
    })
}
