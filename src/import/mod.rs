//! Importing data from elsewhere. Every importer reads its input as a
//! stream (memory stays bounded whatever the file's size), accounts for
//! every input line (imported, already present from an earlier run, or
//! rejected with its line number and reason: the three add up to the lines
//! read, exactly), never rounds money on the way in, and can run again on
//! the same file without changing anything (import keys remember what each
//! outside key became).
//!
//! - [`retail`]: the UCI "Online Retail" data set's layout
//!   (docs/IMPORT.md explains every decision about its mess).
//! - [`generic`]: customers from CSV or JSON Lines with a column mapping;
//!   products and completed orders from JSON Lines.

mod bounded;
pub mod generic;

pub use bounded::MAX_RECORD_BYTES;

crate::bench_sql::sql_module! {
    /// The import-key statements, public only so that the benchmarks'
    /// raw-rusqlite baselines run exactly the same text. Not part of the API.
    mod sql {
    /// What an outside key became, if it was imported.
    pub const KEY_LOOKUP: &str =
        "SELECT entity_id FROM import_keys WHERE source = ?1 AND entity = ?2 AND key = ?3";
    /// Remembers what an outside key became.
    pub const KEY_RECORD: &str = "INSERT INTO import_keys (source, entity, key, entity_id, \
        imported_at) VALUES (?1, ?2, ?3, ?4, ?5)";
    }
}
pub mod retail;

use std::collections::BTreeMap;

use crate::db::{sql, Conn, FromValue, ToValue};
use crate::error::Result;
use crate::unit::WriteTx;

/// Longest outside key an import records, in characters (the
/// `import_keys` CHECK backs it).
pub const MAX_IMPORT_KEY_LEN: usize = 128;

/// Checks an outside key; the reason names the field when it is refused.
pub(crate) fn check_key(field: &str, key: &str) -> std::result::Result<(), String> {
    let n = key.chars().count();
    if n == 0 || n > MAX_IMPORT_KEY_LEN {
        return Err(format!(
            "{field}: must be 1 to {MAX_IMPORT_KEY_LEN} characters"
        ));
    }
    Ok(())
}

/// One input line an import did not take.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Rejection {
    /// The line number in the input (the header is line 1).
    pub line: u64,
    /// Why, as a short stable phrase (the report counts by it).
    pub reason: String,
}

/// How far an import has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    /// Input lines read so far (after the header).
    pub lines_read: u64,
    /// Of them, imported now.
    pub imported: u64,
    /// Of them, already in the database from an earlier run.
    pub already_present: u64,
    /// Of them, rejected.
    pub rejected: u64,
}

/// What an import did. `imported + already_present + rejected ==
/// lines_read`, always.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ImportReport {
    /// Input lines read (after the header).
    pub lines_read: u64,
    /// Lines written to the database by this run.
    pub imported: u64,
    /// Lines whose records an earlier run had already written.
    pub already_present: u64,
    /// Lines rejected (each also passed to the rejection callback).
    pub rejected: u64,
    /// Rejections counted by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Records created, by kind (`customers`, `products`, `orders`,
    /// `returns`, `credit_notes`).
    pub created: BTreeMap<String, u64>,
}

impl ImportReport {
    pub(crate) fn progress(&self) -> ImportProgress {
        ImportProgress {
            lines_read: self.lines_read,
            imported: self.imported,
            already_present: self.already_present,
            rejected: self.rejected,
        }
    }

    pub(crate) fn count(&mut self, kind: &str) {
        *self.created.entry(kind.to_owned()).or_default() += 1;
    }
}

/// The record an outside key became, if an earlier import made one.
pub(crate) fn key_lookup<T: FromValue>(
    db: Conn<'_>,
    source: &str,
    entity: &str,
    key: &str,
) -> Result<Option<T>> {
    db.query_opt(sql!(sql::KEY_LOOKUP), &[&source, &entity, &key], |r| {
        r.get(0)
    })
}

/// Remembers what an outside key became.
pub(crate) fn key_record(
    tx: &WriteTx<'_>,
    source: &str,
    entity: &str,
    key: &str,
    entity_id: &dyn ToValue,
) -> Result<()> {
    tx.db().execute(
        sql!(sql::KEY_RECORD),
        &[&source, &entity, &key, entity_id, &tx.now()],
    )?;
    Ok(())
}
