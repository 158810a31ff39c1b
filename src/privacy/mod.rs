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
#[cfg(feature = "postgres")]
pub(crate) mod postgres;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use crate::audit::Change;
use crate::consent::{CollectionMethod, Consents};
use crate::db::{sql, Conn, FromValue, Json, Sql, ValueRef};
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
    db: Conn<'a>,
}

/// A map fragment in the engine's dialect (docs: `privacy::postgres`).
fn dialect(db: Conn<'_>, fragment: &str) -> String {
    #[cfg(feature = "postgres")]
    if db.is_postgres() {
        return postgres::fragment(fragment);
    }
    let _ = db;
    fragment.to_owned()
}

/// Any column, as the subject export shows it.
struct Exported(Value);

impl FromValue for Exported {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        Ok(Exported(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Int(i) => Value::from(i),
            // No column holds a float; should one appear, it is exported
            // as text so nothing is rounded on the way out.
            ValueRef::Real(f) => Value::String(f.to_string()),
            ValueRef::Text(t) => Value::String(t.to_owned()),
            ValueRef::Blob(b) => Value::String(crate::schema::hex(b)),
            // Ids, instants and dates as SQLite stores them, so that an
            // export reads the same from either engine.
            ValueRef::Uuid(u) => Value::String(u.hyphenated().to_string()),
            ValueRef::Time(t) => Value::String(crate::time::to_db(&t)),
            ValueRef::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
        }))
    }
}

impl<'a> PrivacyReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        PrivacyReader { db }
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
            // Table, columns and condition come from the map.
            let statement = Sql::dynamic(format!(
                "SELECT {} FROM {} WHERE {} ORDER BY 1",
                columns.join(", "),
                t.table,
                dialect(self.db, subject)
            ));
            let mut out = Vec::new();
            self.db.query_each(&statement, &[&customer_id], |row| {
                let mut object = Map::new();
                for (i, column) in columns.iter().enumerate() {
                    object.insert((*column).to_owned(), row.get::<Exported>(i)?.0);
                }
                out.push(object);
                Ok(())
            })?;
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
            schema_version: self.schema_version()?,
            exported_at: crate::time::now(),
            customer_id,
            tables,
            processing,
        })
    }

    /// The schema version the export was read from: SQLite's
    /// `user_version`, PostgreSQL's latest recorded migration.
    fn schema_version(&self) -> Result<i64> {
        self.db.query_row(
            sql!(
                sqlite: "SELECT user_version FROM pragma_user_version",
                postgres: "SELECT coalesce(max(version), 0) FROM custdb_migrations",
            ),
            &[],
            |r| r.get(0),
        )
    }

    /// The retention rules set, by category.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn retention_rules(&self) -> Result<Vec<RetentionRule>> {
        self.db.query_vec(
            sql!("SELECT category, period_days FROM retention_rules ORDER BY category"),
            &[],
            |r| {
                Ok(RetentionRule {
                    category: r.get(0)?,
                    period_days: r.get(1)?,
                })
            },
        )
    }

    /// Whether the customer has been erased, and when.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn erased_at(&self, customer_id: CustomerId) -> Result<Option<DateTime<Utc>>> {
        self.db
            .query_opt(
                sql!("SELECT erased_at FROM customers WHERE id = ?1"),
                &[&customer_id],
                |r| r.get(0),
            )?
            .ok_or_else(|| Error::not_found("customer", customer_id))
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
            optimize_search_index(self.tx.db())?;
        }
        Ok(report)
    }

    fn erase_inner(&self, customer_id: CustomerId, ground: ErasureGround) -> Result<ErasureReport> {
        // On PostgreSQL the customer's row is locked first: a merge or
        // another erasure of the same customer waits, then sees this one.
        self.tx.db().lock_for_update(
            sql!(postgres_only: "SELECT 1 FROM customers WHERE id = $1 FOR UPDATE"),
            &[&customer_id],
        )?;
        if let Some(at) = self.erased_at(customer_id)? {
            let rows: String = self.tx.db().query_row(
                sql!("SELECT rows FROM privacy_erasures WHERE customer_id = ?1"),
                &[&customer_id],
                |r| r.get(0),
            )?;
            return Ok(ErasureReport {
                customer_id,
                already_erased: true,
                erased_at: at,
                rows: serde_json::from_str(&rows).stored()?,
                consents_withdrawn: 0,
                file_scrubbed: false,
            });
        }
        let db = self.tx.db();
        let withdrawn =
            Consents::new(self.tx).withdraw_all(customer_id, CollectionMethod::Erasure)?;
        let mut erased_fields = Vec::new();
        for t in PERSONAL_DATA_MAP {
            if t.subject.is_none() {
                continue;
            }
            erased_fields.extend(
                t.personal_columns()
                    .filter(|c| {
                        t.rows == RowErasure::DeleteRows || matches!(c.erasure, Erasure::Set(_))
                    })
                    .map(|c| format!("{}.{}", t.table, c.column)),
            );
        }
        let now = self.tx.now();
        let rows: BTreeMap<String, u64> = if db.is_postgres() {
            // The owner's function runs the map's statements (the runtime
            // role may not change the append-only tables itself).
            // It also records the erasure in privacy_erasures.
            let counts: String = db.query_row(
                sql!(postgres_only: "SELECT custdb_erase_subject($1, $2, $3, $4)::text"),
                &[&customer_id, &now, &self.tx.actor().id(), &ground],
                |r| r.get(0),
            )?;
            serde_json::from_str(&counts).stored()?
        } else {
            with_erasure_allowed(db, || {
                let mut rows = BTreeMap::new();
                for t in PERSONAL_DATA_MAP {
                    let Some(subject) = t.subject else { continue };
                    let n = erase_rows(db, t, subject, customer_id)?;
                    if n > 0 {
                        rows.insert(t.table.to_owned(), n);
                    }
                }
                db.execute(
                    sql!(
                        sqlite: "UPDATE customers SET erased_at = ?2, \
                         archived_at = coalesce(archived_at, ?2), updated_at = ?2, \
                         version = version + 1 WHERE id = ?1",
                        postgres: "SELECT 1",
                    ),
                    &[&customer_id, &now],
                )?;
                Ok(rows)
            })?
        };
        if !db.is_postgres() {
            let rows_json = serde_json::to_string(&rows).written()?;
            db.execute(
                sql!(
                    "INSERT INTO privacy_erasures (customer_id, erased_at, actor_id, ground, \
                     rows) VALUES (?1, ?2, ?3, ?4, ?5)"
                ),
                &[
                    &customer_id,
                    &now,
                    &self.tx.actor().id(),
                    &ground,
                    &Json(&rows_json),
                ],
            )?;
        }
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
            self.tx.db().execute(
                sql!(
                    "INSERT INTO retention_rules (category, period_days, updated_at) \
                     VALUES (?1, ?2, ?3) ON CONFLICT (category) DO UPDATE \
                     SET period_days = ?2, updated_at = ?3"
                ),
                &[&category, &period_days, &self.tx.now()],
            )?;
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
            optimize_search_index(self.tx.db())?;
        }
        Ok(report)
    }

    fn apply_retention_inner(&self, now: DateTime<Utc>, dry_run: bool) -> Result<RetentionReport> {
        let rules: BTreeMap<_, _> = self
            .retention_rules()?
            .into_iter()
            .map(|r| (r.category.as_str(), r.period_days))
            .collect();
        let db = self.tx.db();
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
            let age = dialect(db, r.age);
            let rows = match r.action {
                RetentionAction::EraseSubject => {
                    // Table and age expression come from the map.
                    let ids: Vec<CustomerId> = db.query_vec(
                        &Sql::dynamic(format!(
                            "SELECT id FROM {} WHERE erased_at IS NULL AND {age} < ?1 ORDER BY id",
                            t.table
                        )),
                        &[&cutoff],
                        |row| row.get(0),
                    )?;
                    if !dry_run {
                        for id in &ids {
                            self.erase_inner(*id, ErasureGround::Retention)?;
                        }
                    }
                    let n = ids.len() as u64;
                    report.erased_customers.extend(ids);
                    n
                }
                RetentionAction::DeleteRows | RetentionAction::EraseColumns => {
                    let (condition, statement) = if r.action == RetentionAction::DeleteRows {
                        let condition = format!("{age} < ?1");
                        let statement = format!("DELETE FROM {} WHERE {condition}", t.table);
                        (condition, statement)
                    } else {
                        // Only rows that still hold something to erase count.
                        let condition = format!("{age} < ?1 AND ({})", not_erased(db, t));
                        let statement = format!(
                            "UPDATE {} SET {} WHERE {condition}",
                            t.table,
                            column_sets(t)
                        );
                        (condition, statement)
                    };
                    let n = count(db, t.table, &condition, cutoff)?;
                    if dry_run || n == 0 {
                        n
                    } else if db.is_postgres() {
                        // The owner's function runs the same statement,
                        // the cutoff computed there from the same rule.
                        db.query_row(
                            sql!(postgres_only: "SELECT custdb_retention_apply($1, $2)"),
                            &[&t.table, &now],
                            |r| r.get::<i64>(0),
                        )? as u64
                    } else {
                        with_erasure_allowed(db, || {
                            Ok(db.execute(&Sql::dynamic(statement), &[&cutoff])? as u64)
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
            let rows: u64 = report.actions.iter().map(|a| a.rows).sum();
            self.tx.audit_change_with(
                Change {
                    action: "apply_retention",
                    entity_type: "retention_rule",
                    entity_id: "all",
                    changed_fields: &["rows"],
                },
                crate::changes::ChangeFacts {
                    count: Some(rows),
                    ..crate::changes::ChangeFacts::current()
                },
            )?;
        }
        Ok(report)
    }
}

/// The condition, in the engine's dialect, on a row of `t` that still
/// holds a value its erasure would replace (`col IS DISTINCT FROM expr OR
/// ...`): retention counts only those rows, `check()` finds an erased
/// customer that still has one.
fn not_erased(db: Conn<'_>, t: &TableClass) -> String {
    t.personal_columns()
        .filter_map(|c| match c.erasure {
            Erasure::Set(expr) => Some(format!(
                "{} IS DISTINCT FROM {}",
                c.column,
                dialect(db, expr)
            )),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" OR ")
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

/// Deletes or anonymizes the subject's rows of one table (SQLite; on
/// PostgreSQL `custdb_erase_subject` runs the same statements). Runs with
/// the erasure marker set, so the append-only triggers let it through.
fn erase_rows(db: Conn<'_>, t: &TableClass, subject: &str, customer: CustomerId) -> Result<u64> {
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
    Ok(db.execute(&Sql::dynamic(sql), &[&customer])? as u64)
}

fn count(db: Conn<'_>, table: &str, condition: &str, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(db.query_row(
        &Sql::dynamic(format!("SELECT count(*) FROM {table} WHERE {condition}")),
        &[&cutoff],
        |r| r.get::<i64>(0),
    )? as u64)
}

fn with_erasure_allowed<T>(db: Conn<'_>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    db.execute(
        sql!(
            sqlite: "INSERT INTO privacy_erasure_in_progress (one) VALUES (1)",
            postgres: "SELECT 1",
        ),
        &[],
    )?;
    let value = f()?;
    db.execute(
        sql!(
            sqlite: "DELETE FROM privacy_erasure_in_progress",
            postgres: "SELECT 1",
        ),
        &[],
    )?;
    Ok(value)
}

/// Merges the full-text index's segments, so that the terms of erased
/// values, which FTS5 only marks as deleted, leave the file. PostgreSQL's
/// search vector is a column of the row: the erased row's old version is
/// a dead tuple until VACUUM (docs/SCALING.md, "Erasure on PostgreSQL").
fn optimize_search_index(db: Conn<'_>) -> Result<()> {
    if db.is_postgres() {
        return Ok(());
    }
    db.execute(
        sql!(
            sqlite: "INSERT INTO customers_fts (customers_fts) VALUES ('optimize')",
            postgres: "SELECT 1",
        ),
        &[],
    )?;
    Ok(())
}

/// Privacy invariants: the erasure marker is never left set; every erased
/// customer has an erasure record and no personal field left; every
/// erasure record names an erased customer.
pub(crate) fn check(db: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    let marker: i64 = db.query_row(
        sql!("SELECT count(*) FROM privacy_erasure_in_progress"),
        &[],
        |r| r.get(0),
    )?;
    if marker != 0 {
        report.push("privacy_erasure_in_progress holds a row outside an erasure".to_owned());
    }
    let customers = PERSONAL_DATA_MAP
        .iter()
        .find(|t| t.table == "customers")
        .ok_or_else(|| Error::corrupt("the personal-data map has no customers table"))?;
    let leftover = not_erased(db, customers);
    // Columns and expressions come from the map.
    db.query_each(
        &Sql::dynamic(format!(
            "SELECT c.id, (SELECT count(*) FROM privacy_erasures e WHERE e.customer_id = c.id), \
             CASE WHEN {leftover} THEN 1 ELSE 0 END FROM customers c \
             WHERE c.erased_at IS NOT NULL ORDER BY c.id"
        )),
        &[],
        |r| {
            let (id, records, left): (CustomerId, i64, bool) = (r.get(0)?, r.get(1)?, r.get(2)?);
            if records != 1 {
                report.push(format!("customer {id}: erased without an erasure record"));
            }
            if left {
                report.push(format!(
                    "customer {id}: erased but a personal field is not empty"
                ));
            }
            Ok(())
        },
    )?;
    let orphans: i64 = db.query_row(
        sql!(
            "SELECT count(*) FROM privacy_erasures e JOIN customers c ON c.id = e.customer_id \
             WHERE c.erased_at IS NULL"
        ),
        &[],
        |r| r.get(0),
    )?;
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
    /// On PostgreSQL `file_scrubbed` is always false: the old row versions
    /// stay in the server's files until VACUUM, and in its WAL and on its
    /// replicas for longer (docs/SCALING.md, "Erasure on PostgreSQL", says
    /// what the operator does).
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
