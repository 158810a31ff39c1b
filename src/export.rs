//! Streaming export of customers and orders to CSV and JSON Lines. Each
//! export reads one consistent snapshot and writes as it reads: memory
//! holds a page of customers or one order at a time, whatever the size of
//! the database.

use std::io::Write;

use crate::customer::{ArchiveState, CustomerFilter};
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;

/// Customers read per page while exporting.
pub const EXPORT_PAGE: usize = 1000;

/// What an export wrote, and where the change feed stood in the export's
/// snapshot: a downstream system loaded from the export follows the feed
/// from `feed_position` on (`ConsumerStart::After(feed_position)`,
/// docs/CHANGES.md, "Rebuilding a downstream system from scratch").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ExportReport {
    /// Records written (customers, or orders).
    pub rows: u64,
    /// The change feed's head in the export's snapshot
    /// ([`ChangeReader::head`](crate::ChangeReader::head)).
    pub feed_position: i64,
}

/// A failure of the caller's writer (a closed pipe, a full disk): an I/O
/// error of the export's stream, not of the database, which is untouched.
fn io(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io {
        message: format!("the export's writer failed: {e}"),
    })
}

/// The CSV columns of a customer export.
pub const CUSTOMER_COLUMNS: [&str; 16] = [
    "id",
    "display_name",
    "given_name",
    "family_name",
    "email",
    "phone",
    "company",
    "locale",
    "birth_date",
    "acquisition_source",
    "tags",
    "attributes",
    "notes",
    "created_at",
    "updated_at",
    "archived_at",
];

/// The CSV columns of an order export: one row per order line.
pub const ORDER_COLUMNS: [&str; 19] = [
    "order_id",
    "number",
    "customer_id",
    "guest_email",
    "status",
    "currency",
    "country",
    "placed_at",
    "subtotal",
    "shipping",
    "total",
    "paid",
    "refunded",
    "line_no",
    "sku",
    "title",
    "quantity",
    "unit_price",
    "line_total",
];

impl Store {
    fn each_customer(
        &self,
        mut f: impl FnMut(crate::customer::Customer) -> Result<()>,
    ) -> Result<ExportReport> {
        self.read(|r| {
            let feed_position = r.changes().head()?;
            let filter = CustomerFilter::default().archived(ArchiveState::All);
            let mut cursor = None;
            let mut n = 0;
            loop {
                let page = r.customers().list(&filter, cursor.as_ref(), EXPORT_PAGE)?;
                for c in page.items {
                    f(c)?;
                    n += 1;
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => {
                        return Ok(ExportReport {
                            rows: n,
                            feed_position,
                        })
                    }
                }
            }
        })
    }

    /// Writes every customer (archived and erased ones included) as CSV
    /// with [`CUSTOMER_COLUMNS`]; tags joined with `;`, attributes as JSON.
    /// Returns the customers written and the change feed's position in
    /// the export's snapshot.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when the writer fails; a database error.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{NewCustomer, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// store.customers().create(NewCustomer::new("Ann").email("ann@example.com"))?;
    /// let mut csv = Vec::new(); // or a File, a socket, stdout
    /// let report = store.export_customers_csv(&mut csv)?;
    /// assert_eq!(report.rows, 1);
    /// // A system loaded from this file follows the change feed from here:
    /// assert_eq!(report.feed_position, store.read(|r| r.changes().head())?);
    /// let text = String::from_utf8(csv).unwrap();
    /// assert!(text.lines().nth(1).unwrap().contains("ann@example.com"));
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn export_customers_csv(&self, out: impl Write) -> Result<ExportReport> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(CUSTOMER_COLUMNS).map_err(io)?;
        let n = self.each_customer(|c| {
            let opt = |v: &Option<String>| v.clone().unwrap_or_default();
            w.write_record([
                c.id.to_string(),
                c.display_name,
                opt(&c.given_name),
                opt(&c.family_name),
                opt(&c.email),
                opt(&c.phone),
                opt(&c.company),
                opt(&c.locale),
                c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                opt(&c.acquisition_source),
                c.tags.join(";"),
                serde_json::to_string(&c.attributes).written()?,
                opt(&c.notes),
                crate::time::to_db(&c.created_at),
                crate::time::to_db(&c.updated_at),
                c.archived_at
                    .map(|t| crate::time::to_db(&t))
                    .unwrap_or_default(),
            ])
            .map_err(io)
        })?;
        w.flush().map_err(io)?;
        Ok(n)
    }

    /// Writes every customer as JSON Lines, one `Customer` per line.
    ///
    /// # Errors
    ///
    /// As [`export_customers_csv`](Store::export_customers_csv).
    pub fn export_customers_jsonl(&self, mut out: impl Write) -> Result<ExportReport> {
        let n = self.each_customer(|c| {
            serde_json::to_writer(&mut out, &c).map_err(io)?;
            out.write_all(b"\n").map_err(io)
        })?;
        out.flush().map_err(io)?;
        Ok(n)
    }

    /// Writes every order as CSV, one row per line, with
    /// [`ORDER_COLUMNS`]. Returns the orders written and the change feed's
    /// position in the export's snapshot.
    ///
    /// # Errors
    ///
    /// As [`export_customers_csv`](Store::export_customers_csv).
    pub fn export_orders_csv(&self, out: impl Write) -> Result<ExportReport> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(ORDER_COLUMNS).map_err(io)?;
        let mut n = 0;
        let feed_position = self.read(|r| {
            let feed_position = r.changes().head()?;
            r.orders().each_order(|o| {
                n += 1;
                for l in &o.lines {
                    w.write_record([
                        o.id.to_string(),
                        o.number.to_string(),
                        o.customer_id.map(|c| c.to_string()).unwrap_or_default(),
                        o.guest_email.clone().unwrap_or_default(),
                        o.status.as_str().to_owned(),
                        o.currency.code().to_owned(),
                        o.country.clone().unwrap_or_default(),
                        crate::time::to_db(&o.placed_at),
                        o.subtotal.amount.to_string(),
                        o.shipping.amount.to_string(),
                        o.total.amount.to_string(),
                        o.paid.amount.to_string(),
                        o.refunded.amount.to_string(),
                        l.line_no.to_string(),
                        l.sku.clone(),
                        l.title.clone(),
                        l.quantity.to_string(),
                        l.unit_price.amount.to_string(),
                        l.total.amount.to_string(),
                    ])
                    .map_err(io)?;
                }
                Ok(())
            })?;
            Ok(feed_position)
        })?;
        w.flush().map_err(io)?;
        Ok(ExportReport {
            rows: n,
            feed_position,
        })
    }

    /// Writes every order as JSON Lines, one `Order` (with its lines) per
    /// line.
    ///
    /// # Errors
    ///
    /// As [`export_customers_csv`](Store::export_customers_csv).
    pub fn export_orders_jsonl(&self, mut out: impl Write) -> Result<ExportReport> {
        let mut n = 0;
        let feed_position = self.read(|r| {
            let feed_position = r.changes().head()?;
            r.orders().each_order(|o| {
                n += 1;
                serde_json::to_writer(&mut out, &o).map_err(io)?;
                out.write_all(b"\n").map_err(io)
            })?;
            Ok(feed_position)
        })?;
        out.flush().map_err(io)?;
        Ok(ExportReport {
            rows: n,
            feed_position,
        })
    }
}
