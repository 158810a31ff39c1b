//! Copying a store on an SQLite file into an empty PostgreSQL database:
//! the supported way to move from the file to a server (docs/SCALING.md,
//! "Moving from the file to PostgreSQL").
//!
//! Every row of every table is copied as it is, ids, timestamps, amounts
//! and the audit chain's hashes included, in one PostgreSQL transaction
//! (a copy that fails leaves the target empty), read from one consistent
//! snapshot of the file. The target's triggers are off during the copy so
//! that the ledgers' triggers do not apply the stock movements a second
//! time; `Store::check` and `Store::verify_audit` on the target prove the
//! result.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rusqlite::types::ValueRef as SqliteValue;

use super::postgres::Postgres;
use super::Store;
use crate::db::postgres::{PgSession, SessionKind};
use crate::db::{sql, Conn, Sql, ToValue, Value};
use crate::error::{DbResult, Error, ErrorKind, Result};

/// The tables whose rows the migrations write, which every migrated
/// database holds: the change feed's one-row tables (docs/CHANGES.md) and
/// the `standard` tax class (docs/PRICING.md). The file's rows replace the
/// target's.
const SEEDED_TABLES: &[&str] = &["change_feed", "change_feed_watermark", "tax_classes"];

/// Rows sent per INSERT statement, at most (PostgreSQL takes at most
/// 65,535 parameters a statement; the widest table has under 40 columns).
const ROWS_PER_STATEMENT: usize = 500;

/// What [`Store::copy_into`] copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct CopyReport {
    /// Rows copied, per table (every table of the schema, empty ones at 0).
    pub tables: BTreeMap<String, u64>,
    /// Rows copied in all.
    pub rows: u64,
}

/// One column of a target table.
struct Column {
    name: String,
    data_type: String,
    /// Filled from SQLite's implicit rowid (`customers.pk`,
    /// `stock_reservations.rowid`), which the PostgreSQL schema makes an
    /// explicit identity column.
    from_rowid: bool,
    identity: bool,
}

/// An owned parameter value.
enum Owned {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Time(chrono::DateTime<chrono::Utc>),
    Date(NaiveDate),
}

impl ToValue for Owned {
    fn to_value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Int(i) => Value::Int(*i),
            Owned::Real(r) => Value::Real(*r),
            Owned::Text(t) => Value::Text(t),
            Owned::Blob(b) => Value::Blob(b),
            Owned::Time(t) => Value::Time(*t),
            Owned::Date(d) => Value::Date(*d),
        }
    }
}

/// A value of the file, typed for the target column.
fn convert(value: SqliteValue<'_>, column: &Column, table: &str) -> Result<Owned> {
    let bad = |what: &str| {
        Error::corrupt(format!(
            "{table}.{}: {what} cannot be copied into a PostgreSQL {}",
            column.name, column.data_type
        ))
    };
    Ok(match value {
        SqliteValue::Null => Owned::Null,
        SqliteValue::Integer(i) => Owned::Int(i),
        SqliteValue::Real(r) => Owned::Real(r),
        SqliteValue::Blob(b) => Owned::Blob(b.to_vec()),
        SqliteValue::Text(t) => {
            let text = std::str::from_utf8(t).map_err(|_| bad("text that is not UTF-8"))?;
            match column.data_type.as_str() {
                "timestamp with time zone" => Owned::Time(
                    crate::time::from_db(text).map_err(|_| bad("a malformed timestamp"))?,
                ),
                "date" => Owned::Date(
                    NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map_err(|_| bad("a malformed date"))?,
                ),
                _ => Owned::Text(text.to_owned()),
            }
        }
    })
}

impl Store {
    /// Copies this store, on an SQLite file, into `target`, a store on an
    /// empty PostgreSQL database that custdb has migrated (open it with
    /// [`Store::open_postgres`] as the role that owns the schema: the copy
    /// turns the target's triggers off while it runs, which only the
    /// owner may). Every row of every table is copied as it is, from one
    /// snapshot of the file, in one PostgreSQL transaction: a copy that
    /// fails leaves the target as empty as it was. `progress` is called
    /// with each table's name and rows as it is copied.
    ///
    /// Afterwards [`check`](Store::check) and
    /// [`verify_audit`](Store::verify_audit) on the target hold as on the
    /// file (the audit chain's hashes are copied, not recomputed). Writes
    /// to the file during the copy are not in it: stop the application, or
    /// copy from a backup.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] unless this store is on SQLite and
    /// `target` on PostgreSQL; [`ErrorKind::InvalidState`] when the target
    /// holds any row; [`ErrorKind::ReadOnly`] on a read-only target;
    /// [`ErrorKind::Corrupt`] for a value the target's column cannot hold;
    /// a database error (a role that does not own the schema is refused
    /// by PostgreSQL).
    pub fn copy_into(
        &self,
        target: &Store,
        mut progress: impl FnMut(&str, u64),
    ) -> Result<CopyReport> {
        if self.postgres().is_some() {
            return Err(Error::new(ErrorKind::Unsupported {
                operation: "copying a PostgreSQL store".to_owned(),
                engine: "PostgreSQL",
                instead: "pg_dump and pg_restore copy one PostgreSQL database into another"
                    .to_owned(),
            }));
        }
        let Some(pg) = target.postgres() else {
            return Err(Error::new(ErrorKind::Unsupported {
                operation: "copying into an SQLite store".to_owned(),
                engine: "SQLite",
                instead: "Store::backup_to copies an SQLite store into a new file".to_owned(),
            }));
        };
        if target.inner.options.read_only {
            return Err(Error::new(ErrorKind::ReadOnly));
        }
        self.read(|r| {
            let source = r.db().as_sqlite("copying")?;
            copy(source, pg, &mut progress)
        })
    }
}

fn copy(
    source: &rusqlite::Connection,
    pg: &Postgres,
    progress: &mut impl FnMut(&str, u64),
) -> Result<CopyReport> {
    let session = PgSession::open(pg.pool(), SessionKind::Write)?;
    let db = Conn::postgres(&session);
    // The target's tables in the order the schema created them, which
    // is an order their foreign keys allow.
    let tables: Vec<String> = db.query_vec(
        sql!(
            postgres_only: "SELECT c.relname::text FROM pg_class c \
             WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace \
             AND c.relname <> 'custdb_migrations' ORDER BY c.oid"
        ),
        &[],
        |r| r.get(0),
    )?;
    let mut source_tables: BTreeSet<String> = source
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'customers_fts%' \
             AND name NOT LIKE 'products_fts%' \
             AND name <> 'custdb_migrations'",
        )
        .db()?
        .query_map([], |r| r.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for table in &tables {
        // The change feed's settings row is the migration's: the file's
        // replaces it below.
        if SEEDED_TABLES.contains(&table.as_str()) {
            continue;
        }
        let rows: bool = db.query_row(
            &Sql::dynamic(format!("SELECT EXISTS (SELECT 1 FROM {table})")),
            &[],
            |r| r.get(0),
        )?;
        if rows {
            return Err(Error::new(ErrorKind::InvalidState {
                entity: "PostgreSQL database",
                id: pg.database.clone(),
                reason: format!("holds rows (in {table}): copy only into an empty database"),
            }));
        }
    }
    let mut report = CopyReport::default();
    for table in &tables {
        source_tables.remove(table);
        let columns = target_columns(db, table)?;
        let source_columns: BTreeSet<String> = source
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .db()?
            .query_map([], |r| r.get(0))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        if source_columns.is_empty() {
            return Err(Error::corrupt(format!(
                "the file has no table {table}, which the PostgreSQL schema has"
            )));
        }
        for c in &columns {
            if !c.from_rowid && !source_columns.contains(&c.name) {
                return Err(Error::corrupt(format!(
                    "the file's {table} has no column {}, which the PostgreSQL schema has",
                    c.name
                )));
            }
        }
        if SEEDED_TABLES.contains(&table.as_str()) {
            session.batch(&format!("DELETE FROM {table}"))?;
        }
        let n = copy_table(source, &session, table, &columns)?;
        report.tables.insert(table.clone(), n);
        report.rows += n;
        progress(table, n);
    }
    if let Some(extra) = source_tables.iter().next() {
        return Err(Error::corrupt(format!(
            "the file has a table {extra} the PostgreSQL schema does not"
        )));
    }
    // Every copied event is final: readers on PostgreSQL may see them all
    // (the watermark is unused on SQLite, docs/CHANGES.md).
    session.batch(
        "UPDATE change_feed_watermark SET visible_through = \
         coalesce((SELECT max(position) FROM change_events), 0)",
    )?;
    session.commit()?;
    Ok(report)
}

fn target_columns(db: Conn<'_>, table: &str) -> Result<Vec<Column>> {
    db.query_vec(
        sql!(
            postgres_only: "SELECT column_name::text, data_type::text, is_identity = 'YES' \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position"
        ),
        &[&table],
        |r| {
            let name: String = r.get(0)?;
            let identity: bool = r.get(2)?;
            Ok(Column {
                from_rowid: (name == "pk" && table == "customers")
                    || (name == "rowid" && table == "stock_reservations"),
                name,
                data_type: r.get(1)?,
                identity,
            })
        },
    )
}

/// Copies one table's rows; its triggers are off meanwhile. A column that
/// refers to its own table (a merged customer's survivor) is written after
/// every row is in, so that row order never breaks its foreign key.
fn copy_table(
    source: &rusqlite::Connection,
    session: &PgSession,
    table: &str,
    columns: &[Column],
) -> Result<u64> {
    let db = Conn::postgres(session);
    let self_references: Vec<String> = db.query_vec(
        sql!(
            postgres_only: "SELECT a.attname::text FROM pg_constraint k \
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey) \
             WHERE k.contype = 'f' AND k.conrelid = k.confrelid \
             AND k.conrelid = (current_schema() || '.' || $1)::regclass"
        ),
        &[&table],
        |r| r.get(0),
    )?;
    // Table names come from the target's catalog, column names from its
    // information schema: neither from outside.
    session.batch(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))?;
    let select = columns
        .iter()
        .map(|c| {
            if c.from_rowid {
                "rowid".to_owned()
            } else {
                format!("\"{}\"", c.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let names = columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let overriding = if columns.iter().any(|c| c.identity) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let per_statement = (ROWS_PER_STATEMENT).min(60_000 / columns.len().max(1));
    let mut statement = source
        .prepare(&format!("SELECT {select} FROM \"{table}\" ORDER BY rowid"))
        .or_else(|_| source.prepare(&format!("SELECT {select} FROM \"{table}\"")))
        .db()?;
    let mut rows = statement.query([]).db()?;
    let mut batch: Vec<Owned> = Vec::new();
    let mut in_batch = 0;
    let mut later: Vec<(Owned, Vec<(String, Owned)>)> = Vec::new();
    let mut copied = 0u64;
    let flush = |batch: &mut Vec<Owned>, in_batch: &mut usize| -> Result<()> {
        if *in_batch == 0 {
            return Ok(());
        }
        let width = columns.len();
        let values = (0..*in_batch)
            .map(|r| {
                let row = (1..=width)
                    .map(|c| format!("?{}", r * width + c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({row})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let params: Vec<&dyn ToValue> = batch.iter().map(|v| v as &dyn ToValue).collect();
        db.execute(
            &Sql::dynamic(format!(
                "INSERT INTO {table} ({names}){overriding} VALUES {values}"
            )),
            &params,
        )?;
        batch.clear();
        *in_batch = 0;
        Ok(())
    };
    let key = columns.iter().position(|c| c.name == "id");
    while let Some(row) = rows.next().db()? {
        let mut deferred: Vec<(String, Owned)> = Vec::new();
        for (i, column) in columns.iter().enumerate() {
            let value = convert(row.get_ref(i).db()?, column, table)?;
            if self_references.contains(&column.name) && !matches!(value, Owned::Null) {
                deferred.push((column.name.clone(), value));
                batch.push(Owned::Null);
            } else {
                batch.push(value);
            }
        }
        if !deferred.is_empty() {
            let id = key
                .map(|k| convert(row.get_ref(k).db()?, &columns[k], table))
                .transpose()?
                .ok_or_else(|| {
                    Error::corrupt(format!("{table} refers to itself but has no id column"))
                })?;
            later.push((id, deferred));
        }
        in_batch += 1;
        copied += 1;
        if in_batch == per_statement {
            flush(&mut batch, &mut in_batch)?;
        }
    }
    flush(&mut batch, &mut in_batch)?;
    for (id, values) in &later {
        for (column, value) in values {
            db.execute(
                &Sql::dynamic(format!("UPDATE {table} SET {column} = ?2 WHERE id = ?1")),
                &[id, value],
            )?;
        }
    }
    // Identity columns go on after the largest value copied.
    for c in columns.iter().filter(|c| c.identity) {
        let next: i64 = db.query_row(
            &Sql::dynamic(format!(
                "SELECT coalesce(max({}), 0) + 1 FROM {table}",
                c.name
            )),
            &[],
            |r| r.get(0),
        )?;
        session.batch(&format!(
            "ALTER TABLE {table} ALTER COLUMN {} RESTART WITH {next}",
            c.name
        ))?;
    }
    session.batch(&format!("ALTER TABLE {table} ENABLE TRIGGER USER"))?;
    Ok(copied)
}
