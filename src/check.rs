//! `Store::check`: every invariant custdb keeps, recomputed. It sits above
//! the domains (each contributes its own `check`), so that the store layer
//! names none of them.

use rusqlite::Connection;

use crate::error::{DbResult, Result};
use crate::store::Store;
use crate::unit::CheckReport;

impl Store {
    /// Recomputes every invariant custdb keeps and reports each difference:
    /// SQLite's `integrity_check` and `foreign_key_check`, the full-text
    /// index against its content, and each domain's own rules (one default
    /// address per kind, normalized emails and tags, an audit entry for every
    /// record...).
    ///
    /// # Errors
    ///
    /// A database error while checking. Problems found are not errors: they
    /// are in the returned [`CheckReport`].
    pub fn check(&self) -> Result<CheckReport> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.postgres() {
            // Committed audit entries join the chain a moment after their
            // commit: chain them before the chain is checked.
            pg.chain_audit_now();
            // One snapshot; the engine keeps its own pages and foreign keys.
            return self.read(|r| {
                let mut report = CheckReport::default();
                check_ported(r.db(), &mut report)?;
                Ok(report)
            });
        }
        self.with_check_connection(check_connection)
    }
}

/// The rules of the domains that run on both engines.
fn check_ported(conn: crate::db::Conn<'_>, report: &mut CheckReport) -> Result<()> {
    crate::customer::check(conn, report)?;
    crate::consent::check(conn, report)?;
    crate::catalog::check(conn, report)?;
    crate::pricing::check(conn, report)?;
    crate::promotion::check(conn, report)?;
    crate::giftcard::check(conn, report)?;
    crate::storecredit::check(conn, report)?;
    crate::loyalty::check(conn, report)?;
    crate::inventory::check(conn, report)?;
    crate::order::check(conn, report)?;
    crate::privacy::check(conn, report)?;
    crate::changes::check(conn, report)?;
    crate::audit::check(conn, report)
}

/// SQLite's own checks, then each domain's rules.
fn check_connection(conn: &Connection) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let mut stmt = conn.prepare("PRAGMA integrity_check").db()?;
    for line in stmt.query_map([], |row| row.get::<_, String>(0)).db()? {
        let line = line.db()?;
        if line != "ok" {
            report.push(format!("integrity_check: {line}"));
        }
    }
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").db()?;
    for row in stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<i64>>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .db()?
    {
        let (table, rowid, parent) = row.db()?;
        report.push(format!(
            "foreign_key_check: {table} row {rowid:?} refers to a missing {parent}"
        ));
    }
    crate::time::check(conn, &mut report)?;
    check_ported(crate::db::Conn::sqlite(conn), &mut report)?;
    Ok(report)
}
