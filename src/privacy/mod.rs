//! Data-subject rights and retention, driven by the personal-data map
//! ([`map::PERSONAL_DATA_MAP`]):
//!
//! - [`PrivacyReader::export`]: everything held about a customer, as one
//!   versioned JSON document (GDPR Art. 15 and 20);
//! - [`Privacy::erase`] and [`Store::erase_customer`](crate::Store::erase_customer):
//!   anonymize a customer in one transaction, keeping orders, payments and
//!   the stock ledger for the books (Art. 17);
//! - retention rules per category and [`Privacy::apply_retention`], with a
//!   dry run.
//!
//! docs/PRIVACY.md explains the model and renders the map as the record of
//! processing.
//!
//! # Example
//!
//! ```
//! use custdb::{NewCustomer, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path().join("shop.db"))?;
//! let ann = store.customers().create(NewCustomer::new("Ann").email("ann@example.com"))?;
//! let export = store.read(|r| r.privacy().export(ann.id))?;
//! assert_eq!(export.tables["customers"][0]["email"], "ann@example.com");
//! let report = store.erase_customer(ann.id)?;
//! assert!(!report.already_erased);
//! let export = store.read(|r| r.privacy().export(ann.id))?;
//! assert!(export.tables["customers"][0]["email"].is_null());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod map;

use crate::id::IdSql;
use crate::id::RowIds;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::audit::Change;
use crate::consent::{CollectionMethod, Consents};
use crate::error::DbResult;
use crate::error::JsonResult;
use crate::error::{Error, Result};
use crate::id::CustomerId;
use crate::text_enum::text_enum;
use crate::unit::{CheckReport, WriteTx};
use map::{Erasure, RetentionAction, RowErasure, TableClass, PERSONAL_DATA_MAP};

/// The export format's name, in every [`SubjectExport`].
pub const EXPORT_FORMAT: &str = "custdb.subject-export";
/// The export format's version: raised when its shape changes.
pub const EXPORT_FORMAT_VERSION: u32 = 1;
/// Longest retention period, in days (100 years).
pub const MAX_RETENTION_DAYS: i64 = 36_600;

text_enum!(
    /// A retention rule's category: what it removes once its period has
    /// passed.
    RetentionCategory {
        /// Customers with no sign of life (a change, an order, an
        /// interaction, a consent event) for the period are erased.
        InactiveCustomers = "inactive_customers",
        /// Interactions older than the period are deleted.
        Interactions = "interactions",
        /// Orders placed longer ago than the period lose their contact data
        /// (addresses, guest email, note, tracking numbers); the figures
        /// stay for the books.
        OrderContactData = "order_contact_data",
    }
);

text_enum!(
    /// Why a customer was erased.
    ErasureGround {
        /// The person asked (GDPR Art. 17).
        SubjectRequest = "subject_request",
        /// A retention rule ran out.
        Retention = "retention",
    }
);

/// Everything custdb holds about one customer, table by table, column by
/// column, as the personal-data map lists them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct SubjectExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// [`EXPORT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The database's schema version.
    pub schema_version: i64,
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// The customer.
    pub customer_id: CustomerId,
    /// Per table, the customer's rows as objects of column to value (ints,
    /// text, null; JSON columns as their text).
    pub tables: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Per table, what each personal column is: its category, purpose and
    /// retention (GDPR Art. 15(1)).
    pub processing: BTreeMap<String, BTreeMap<String, ColumnProcessing>>,
}

/// How one exported column is processed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ColumnProcessing {
    /// The category of personal data.
    pub category: crate::consent::DataCategory,
    /// Why it is held.
    pub purpose: String,
    /// How long.
    pub retention: String,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ErasureReport {
    /// The customer.
    pub customer_id: CustomerId,
    /// True when the customer had been erased before: nothing was done.
    pub already_erased: bool,
    /// When it was erased.
    pub erased_at: DateTime<Utc>,
    /// Rows changed or deleted, per table.
    pub rows: BTreeMap<String, u64>,
    /// Consents withdrawn by the erasure.
    pub consents_withdrawn: usize,
    /// True once the WAL was checkpointed and truncated, so the file holds
    /// no copy of the erased values ([`Store::erase_customer`](crate::Store::erase_customer)
    /// does it; inside a unit of work it is false).
    pub file_scrubbed: bool,
}

/// One retention rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RetentionRule {
    /// The category.
    pub category: RetentionCategory,
    /// The period, in days.
    pub period_days: i64,
}

/// What [`Privacy::apply_retention`] did, or would do in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RetentionReport {
    /// The instant the periods were measured back from.
    pub now: DateTime<Utc>,
    /// True when nothing was changed.
    pub dry_run: bool,
    /// One line per (rule, table) with rows past the period.
    pub actions: Vec<RetentionLine>,
    /// The customers erased (or that would be).
    pub erased_customers: Vec<CustomerId>,
}

/// One line of a [`RetentionReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RetentionLine {
    /// The rule.
    pub category: RetentionCategory,
    /// The table.
    pub table: String,
    /// Rows older than this are affected.
    pub cutoff: DateTime<Utc>,
    /// How many rows (customers, for inactive customers).
    pub rows: u64,
}

/// Read access: subject export, retention rules, the record of erasures.
#[derive(Debug)]
pub struct PrivacyReader<'a> {
    db: crate::db::Conn<'a>,
}

impl<'a> PrivacyReader<'a> {
    pub(crate) fn new(db: crate::db::Conn<'a>) -> Self {
        PrivacyReader { db }
    }

    /// The SQLite connection, until this domain is written against the
    /// engine seam.
    #[allow(dead_code)]
    fn conn(&self) -> Result<&'a Connection> {
        self.db.as_sqlite("this operation")
    }

    /// Everything held about the customer, as the personal-data map lists
    /// it: every table with rows about them, every column of those rows.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn export(&self, customer_id: CustomerId) -> Result<SubjectExport> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        let mut tables = BTreeMap::new();
        let mut processing = BTreeMap::new();
        for t in PERSONAL_DATA_MAP {
            let Some(subject) = t.subject else { continue };
            let columns: Vec<&str> = t.columns.iter().map(|c| c.column).collect();
            let mut stmt = self
                .conn()?
                .prepare_cached(&format!(
                    "SELECT {} FROM {} WHERE {subject} ORDER BY 1",
                    columns.join(", "),
                    t.table
                ))
                .db()?;
            let mut rows = stmt.query([customer_id.sql()]).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                let mut object = Map::new();
                for (i, column) in columns.iter().enumerate() {
                    object.insert((*column).to_owned(), json_value(row.get_ref(i).db()?));
                }
                out.push(object);
            }
            if out.is_empty() {
                continue;
            }
            tables.insert(t.table.to_owned(), out);
            processing.insert(
                t.table.to_owned(),
                t.personal_columns()
                    .filter_map(|c| {
                        Some((
                            c.column.to_owned(),
                            ColumnProcessing {
                                category: c.category?,
                                purpose: c.purpose.to_owned(),
                                retention: c.retention.describe().to_owned(),
                            },
                        ))
                    })
                    .collect(),
            );
        }
        Ok(SubjectExport {
            format: EXPORT_FORMAT.into(),
            format_version: EXPORT_FORMAT_VERSION,
            schema_version: crate::schema::user_version(self.conn()?)?,
            exported_at: crate::time::now(),
            customer_id,
            tables,
            processing,
        })
    }

    /// The retention rules set, by category.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn retention_rules(&self) -> Result<Vec<RetentionRule>> {
        let mut stmt = self
            .conn()?
            .prepare_cached("SELECT category, period_days FROM retention_rules ORDER BY category")
            .db()?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RetentionRule {
                    category: RetentionCategory::from_db(&r.get::<_, String>(0)?)?,
                    period_days: r.get(1)?,
                })
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    /// Whether the customer has been erased, and when.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn erased_at(&self, customer_id: CustomerId) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> = self
            .conn()?
            .prepare_cached("SELECT erased_at FROM customers WHERE id = ?1")
            .db()?
            .query_row([customer_id.sql()], |r| r.get(0))
            .optional()
            .db()?
            .ok_or_else(|| Error::not_found("customer", customer_id))?;
        at.as_deref().map(crate::time::from_db).transpose()
    }
}

fn json_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        // No column holds a float; should one appear, it is exported as
        // text so nothing is rounded on the way out.
        ValueRef::Real(f) => Value::String(f.to_string()),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(crate::schema::hex(b)),
    }
}

/// Erasure and retention, inside a unit of work.
#[derive(Debug)]
pub struct Privacy<'t> {
    tx: &'t WriteTx<'t>,
    reader: PrivacyReader<'t>,
}

impl<'t> std::ops::Deref for Privacy<'t> {
    type Target = PrivacyReader<'t>;
    fn deref(&self) -> &PrivacyReader<'t> {
        &self.reader
    }
}

impl<'t> Privacy<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Privacy {
            tx,
            reader: PrivacyReader::new(tx.db()),
        }
    }

    /// Erases a customer: withdraws every consent they have given, deletes
    /// their tags, addresses and interactions, empties every personal field
    /// of their profile, orders, shipments and consent events as the
    /// personal-data map says, archives the profile, and records the
    /// erasure (with no personal data). Orders, payments, refunds and the
    /// stock ledger stay, pointing at the now anonymous customer id.
    /// Erasing an erased customer does nothing and says so.
    ///
    /// Inside a unit of work the WAL cannot be checkpointed: use
    /// [`Store::erase_customer`](crate::Store::erase_customer), which also
    /// scrubs the file.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn erase(&self, customer_id: CustomerId, ground: ErasureGround) -> Result<ErasureReport> {
        let report = self.tx.atomic(|| self.erase_inner(customer_id, ground))?;
        if !report.already_erased {
            optimize_search_index(self.tx.conn()?)?;
        }
        Ok(report)
    }

    fn erase_inner(&self, customer_id: CustomerId, ground: ErasureGround) -> Result<ErasureReport> {
        if let Some(at) = self.erased_at(customer_id)? {
            let rows: String = self
                .tx
                .conn()?
                .prepare_cached("SELECT rows FROM privacy_erasures WHERE customer_id = ?1")
                .db()?
                .query_row([customer_id.sql()], |r| r.get(0))
                .db()?;
            return Ok(ErasureReport {
                customer_id,
                already_erased: true,
                erased_at: at,
                rows: serde_json::from_str(&rows).stored()?,
                consents_withdrawn: 0,
                file_scrubbed: false,
            });
        }
        let conn = self.tx.conn()?;
        let withdrawn =
            Consents::new(self.tx).withdraw_all(customer_id, CollectionMethod::Erasure)?;
        conn.prepare_cached("INSERT INTO privacy_erasure_in_progress (one) VALUES (1)")
            .db()?
            .execute([])
            .db()?;
        let mut rows = BTreeMap::new();
        let mut erased_fields = Vec::new();
        for t in PERSONAL_DATA_MAP {
            let Some(subject) = t.subject else { continue };
            let n = erase_rows(conn, t, subject, &[&customer_id.sql()])?;
            if n > 0 {
                rows.insert(t.table.to_owned(), n);
            }
            erased_fields.extend(
                t.personal_columns()
                    .filter(|c| {
                        t.rows == RowErasure::DeleteRows || matches!(c.erasure, Erasure::Set(_))
                    })
                    .map(|c| format!("{}.{}", t.table, c.column)),
            );
        }
        let now = crate::time::to_db(&self.tx.now());
        conn.prepare_cached(
            "UPDATE customers SET erased_at = ?2, archived_at = coalesce(archived_at, ?2), \
             updated_at = ?2, version = version + 1 WHERE id = ?1",
        )
        .db()?
        .execute(params![customer_id.sql(), now])
        .db()?;
        conn.prepare_cached("DELETE FROM privacy_erasure_in_progress")
            .db()?
            .execute([])
            .db()?;
        conn.prepare_cached(
            "INSERT INTO privacy_erasures (customer_id, erased_at, actor_id, ground, rows) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .db()?
        .execute(params![
            customer_id.sql(),
            now,
            self.tx.actor().id(),
            ground.as_str(),
            serde_json::to_string(&rows).written()?
        ])
        .db()?;
        let fields: Vec<&str> = erased_fields.iter().map(String::as_str).collect();
        self.tx.audit_change(Change {
            action: "erase",
            entity_type: "customer",
            entity_id: &customer_id.to_string(),
            changed_fields: &fields,
        })?;
        Ok(ErasureReport {
            customer_id,
            already_erased: false,
            erased_at: self.tx.now(),
            rows,
            consents_withdrawn: withdrawn.len(),
            file_scrubbed: false,
        })
    }

    /// Sets the retention period of a category (replacing any earlier one).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `period_days`
    /// when it is not 1 to [`MAX_RETENTION_DAYS`].
    pub fn set_retention_rule(
        &self,
        category: RetentionCategory,
        period_days: i64,
    ) -> Result<RetentionRule> {
        self.tx.atomic(|| {
            if !(1..=MAX_RETENTION_DAYS).contains(&period_days) {
                return Err(Error::invalid(
                    "period_days",
                    format!("is {period_days}, must be 1 to {MAX_RETENTION_DAYS} days"),
                ));
            }
            self.tx
                .conn()?
                .prepare_cached(
                    "INSERT INTO retention_rules (category, period_days, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (category) DO UPDATE SET period_days = ?2, updated_at = ?3",
                ).db()?
                .execute(params![
                    category.as_str(),
                    period_days,
                    crate::time::to_db(&self.tx.now())
                ]).db()?;
            self.tx.audit_change(Change {
                action: "set_retention_rule",
                entity_type: "retention_rule",
                entity_id: category.as_str(),
                changed_fields: &["period_days"],
        })?;
        Ok(RetentionRule {
            category,
            period_days,
        })
    })
    }

    /// Applies every retention rule as of `now`: deletes or anonymizes what
    /// is past its period, as the personal-data map says for each table
    /// (see [`plan_retention`](Privacy::plan_retention) to see it first).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `now` outside
    /// the range of [`crate::time`]; a database error.
    pub fn apply_retention(&self, now: DateTime<Utc>) -> Result<RetentionReport> {
        self.retention(now, false)
    }

    /// What [`apply_retention`](Privacy::apply_retention) would do as of
    /// `now`, changing nothing (the report's `dry_run` is true).
    ///
    /// # Errors
    ///
    /// As [`apply_retention`](Privacy::apply_retention).
    pub fn plan_retention(&self, now: DateTime<Utc>) -> Result<RetentionReport> {
        self.retention(now, true)
    }

    fn retention(&self, now: DateTime<Utc>, dry_run: bool) -> Result<RetentionReport> {
        let now = crate::time::checked("now", now)?;
        let report = self
            .tx
            .atomic(|| self.apply_retention_inner(now, dry_run))?;
        if !dry_run && !report.erased_customers.is_empty() {
            optimize_search_index(self.tx.conn()?)?;
        }
        Ok(report)
    }

    fn apply_retention_inner(&self, now: DateTime<Utc>, dry_run: bool) -> Result<RetentionReport> {
        let rules: BTreeMap<_, _> = self
            .retention_rules()?
            .into_iter()
            .map(|r| (r.category.as_str(), r.period_days))
            .collect();
        let conn = self.tx.conn()?;
        let mut report = RetentionReport {
            now,
            dry_run,
            actions: Vec::new(),
            erased_customers: Vec::new(),
        };
        for t in PERSONAL_DATA_MAP {
            let Some(r) = t.retention else { continue };
            let Some(days) = rules.get(r.category.as_str()) else {
                continue;
            };
            // A period reaching back before the stored range keeps
            // everything: nothing is older than the earliest instant.
            let cutoff = now
                .checked_sub_signed(Duration::days(*days))
                .filter(|t| crate::time::is_storable(*t))
                .unwrap_or(crate::time::MIN_TIMESTAMP);
            let cutoff_db = crate::time::to_db(&cutoff);
            let rows = match r.action {
                RetentionAction::EraseSubject => {
                    let ids: Vec<CustomerId> = {
                        let mut stmt = conn
                            .prepare_cached(&format!(
                                "SELECT id FROM {} WHERE erased_at IS NULL AND {} < ?1 ORDER BY id",
                                t.table, r.age
                            ))
                            .db()?;
                        let ids = stmt.query_map([&cutoff_db], |row| row.get_id(0)).db()?;
                        ids.collect::<rusqlite::Result<_>>().db()?
                    };
                    if !dry_run {
                        for id in &ids {
                            self.erase_inner(*id, ErasureGround::Retention)?;
                        }
                    }
                    let n = ids.len() as u64;
                    report.erased_customers.extend(ids);
                    n
                }
                RetentionAction::DeleteRows => {
                    let condition = format!("{} < ?1", r.age);
                    let n = count(conn, t.table, &condition, &cutoff_db)?;
                    if dry_run || n == 0 {
                        n
                    } else {
                        with_erasure_allowed(conn, || {
                            Ok(conn
                                .prepare_cached(&format!(
                                    "DELETE FROM {} WHERE {condition}",
                                    t.table
                                ))
                                .db()?
                                .execute([&cutoff_db])
                                .db()? as u64)
                        })?
                    }
                }
                RetentionAction::EraseColumns => {
                    let sets = column_sets(t);
                    // Only rows that still hold something to erase count.
                    let pending = t
                        .personal_columns()
                        .filter_map(|c| match c.erasure {
                            Erasure::Set(expr) => Some(format!("{} IS NOT {expr}", c.column)),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join(" OR ");
                    let condition = format!("{} < ?1 AND ({pending})", r.age);
                    let n = count(conn, t.table, &condition, &cutoff_db)?;
                    if dry_run || n == 0 {
                        n
                    } else {
                        with_erasure_allowed(conn, || {
                            Ok(conn
                                .prepare_cached(&format!(
                                    "UPDATE {} SET {sets} WHERE {condition}",
                                    t.table
                                ))
                                .db()?
                                .execute([&cutoff_db])
                                .db()? as u64)
                        })?
                    }
                }
            };
            if rows > 0 {
                report.actions.push(RetentionLine {
                    category: r.category,
                    table: t.table.to_owned(),
                    cutoff,
                    rows,
                });
            }
        }
        if !dry_run && !report.actions.is_empty() {
            self.tx.audit_change(Change {
                action: "apply_retention",
                entity_type: "retention_rule",
                entity_id: "all",
                changed_fields: &["rows"],
            })?;
        }
        Ok(report)
    }
}

/// `column = expression, ...` for a table's erasable columns.
fn column_sets(t: &TableClass) -> String {
    t.personal_columns()
        .filter_map(|c| match c.erasure {
            Erasure::Set(expr) => Some(format!("{} = {expr}", c.column)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deletes or anonymizes the subject's rows of one table. Runs with the
/// erasure marker set, so the append-only triggers let it through.
fn erase_rows(
    conn: &Connection,
    t: &TableClass,
    subject: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<u64> {
    let sql = match t.rows {
        RowErasure::DeleteRows => format!("DELETE FROM {} WHERE {subject}", t.table),
        RowErasure::KeepRows => {
            let sets = column_sets(t);
            if sets.is_empty() {
                return Ok(0);
            }
            format!("UPDATE {} SET {sets} WHERE {subject}", t.table)
        }
    };
    Ok(conn.prepare_cached(&sql).db()?.execute(params).db()? as u64)
}

fn count(conn: &Connection, table: &str, condition: &str, cutoff: &str) -> Result<u64> {
    Ok(conn
        .prepare_cached(&format!("SELECT count(*) FROM {table} WHERE {condition}"))
        .db()?
        .query_row([cutoff], |r| r.get::<_, i64>(0))
        .db()? as u64)
}

fn with_erasure_allowed<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    conn.prepare_cached("INSERT INTO privacy_erasure_in_progress (one) VALUES (1)")
        .db()?
        .execute([])
        .db()?;
    let value = f()?;
    conn.prepare_cached("DELETE FROM privacy_erasure_in_progress")
        .db()?
        .execute([])
        .db()?;
    Ok(value)
}

/// Merges the full-text index's segments, so that the terms of erased
/// values, which FTS5 only marks as deleted, leave the file.
fn optimize_search_index(conn: &Connection) -> Result<()> {
    conn.prepare_cached("INSERT INTO customers_fts (customers_fts) VALUES ('optimize')")
        .db()?
        .execute([])
        .db()?;
    Ok(())
}

/// Privacy invariants: the erasure marker is never left set; every erased
/// customer has an erasure record and no personal field left; every
/// erasure record names an erased customer.
pub(crate) fn check(conn: &Connection, report: &mut CheckReport) -> Result<()> {
    let marker: i64 = conn
        .query_row(
            "SELECT count(*) FROM privacy_erasure_in_progress",
            [],
            |r| r.get(0),
        )
        .db()?;
    if marker != 0 {
        report.push("privacy_erasure_in_progress holds a row outside an erasure".to_owned());
    }
    let customers = PERSONAL_DATA_MAP
        .iter()
        .find(|t| t.table == "customers")
        .ok_or_else(|| Error::corrupt("the personal-data map has no customers table"))?;
    let leftover = customers
        .personal_columns()
        .filter_map(|c| match c.erasure {
            Erasure::Set(expr) => Some(format!("{} IS NOT {expr}", c.column)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let mut stmt = conn
        .prepare(&format!(
            "SELECT c.id, (SELECT count(*) FROM privacy_erasures e WHERE e.customer_id = c.id), \
         ({leftover}) FROM customers c WHERE c.erased_at IS NOT NULL"
        ))
        .db()?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })
        .db()?;
    for row in rows {
        let (id, records, left) = row.db()?;
        if records != 1 {
            report.push(format!("customer {id}: erased without an erasure record"));
        }
        if left {
            report.push(format!(
                "customer {id}: erased but a personal field is not empty"
            ));
        }
    }
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM privacy_erasures e JOIN customers c ON c.id = e.customer_id \
         WHERE c.erased_at IS NULL",
            [],
            |r| r.get(0),
        )
        .db()?;
    if orphans != 0 {
        report.push(format!(
            "{orphans} erasure records name a customer that is not erased"
        ));
    }
    Ok(())
}

crate::one_shot::one_shot! {
    /// Subject rights and retention for single operations:
    /// `store.privacy().export(customer_id)`. Erasure and retention through
    /// the `Store` also scrub the file: see
    /// [`Store::erase_customer`](crate::Store::erase_customer) and
    /// [`Store::apply_retention`](crate::Store::apply_retention).
    StorePrivacy => write privacy: Privacy, read privacy: PrivacyReader;
    write {
        fn set_retention_rule(category: RetentionCategory, period_days: i64) -> RetentionRule;
    }
    read {
        fn export(customer_id: CustomerId) -> SubjectExport;
        fn retention_rules() -> Vec<RetentionRule>;
        fn erased_at(customer_id: CustomerId) -> Option<DateTime<Utc>>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Subject rights and retention rules for one-shot calls.
    pub fn privacy(&self) -> crate::privacy::StorePrivacy<'_> {
        crate::privacy::StorePrivacy::new(self)
    }

    /// Erases a customer ([`Privacy::erase`](crate::Privacy::erase)) in its
    /// own unit of work, then checkpoints the WAL into the database file and
    /// truncates it. With `secure_delete` on (custdb sets it on every
    /// connection), neither the file nor its `-wal` holds the erased values
    /// afterwards; `file_scrubbed` in the report says whether the
    /// checkpoint completed (it waits up to the busy timeout for readers).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer; a database error.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{NewCustomer, Store};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path().join("shop.db"))?;
    /// let ann = store.customers().create(NewCustomer::new("Ann Lee").email("ann@example.com"))?;
    /// let report = store.erase_customer(ann.id)?;
    /// assert!(report.file_scrubbed);
    /// let erased = store.customers().get(ann.id)?; // the id stays, the person is gone
    /// assert_ne!(erased.display_name, "Ann Lee");
    /// assert_eq!(erased.email, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn erase_customer(&self, customer_id: crate::CustomerId) -> Result<crate::ErasureReport> {
        let mut report = self.write(|tx| {
            tx.privacy()
                .erase(customer_id, crate::ErasureGround::SubjectRequest)
        })?;
        if !report.already_erased {
            report.file_scrubbed = self.scrub_after_erasure()?;
        }
        Ok(report)
    }

    /// Applies the retention rules as of `now`
    /// ([`Privacy::apply_retention`](crate::Privacy::apply_retention)) in
    /// its own unit of work, then scrubs the file as
    /// [`erase_customer`](Store::erase_customer) does.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn apply_retention(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::privacy::RetentionReport> {
        let report = self.write(|tx| tx.privacy().apply_retention(now))?;
        if !report.actions.is_empty() {
            self.scrub_after_erasure()?;
        }
        Ok(report)
    }

    /// What [`apply_retention`](Store::apply_retention) would do as of
    /// `now`, changing nothing.
    ///
    /// # Errors
    ///
    /// As [`apply_retention`](Store::apply_retention).
    pub fn plan_retention(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::privacy::RetentionReport> {
        self.write(|tx| tx.privacy().plan_retention(now))
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Subject rights and retention: export, erasure, retention rules.
    pub fn privacy(&self) -> crate::privacy::Privacy<'_> {
        crate::privacy::Privacy::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Subject export and the privacy records, read-only.
    pub fn privacy(&self) -> crate::privacy::PrivacyReader<'a> {
        crate::privacy::PrivacyReader::new(self.db())
    }
}
