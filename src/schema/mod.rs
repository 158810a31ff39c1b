//! The schema and its migration runner.
//!
//! Migrations are an append-only list of SQL files embedded in the binary.
//! `PRAGMA user_version` holds the schema version and is written in the same
//! transaction as the migration that reaches it; `custdb_migrations` keeps
//! the name and SHA-256 checksum of each applied migration. On open, custdb:
//!
//! 1. refuses a file whose version is newer than [`LATEST_VERSION`] and
//!    leaves it untouched (nothing is written before this check);
//! 2. refuses a file whose recorded migrations differ from the shipped ones;
//! 3. applies the missing migrations in one `BEGIN IMMEDIATE` transaction.
//!
//! Migration SQL is static text compiled into the library; it never contains
//! data, which is why it may run through `execute_batch`.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::error::DbResult;
use crate::error::{Error, ErrorKind, Result};

#[cfg(feature = "postgres")]
pub(crate) mod postgres;

/// `PRAGMA application_id` of a custdb file ("CDB1" in ASCII). It lets custdb
/// tell its own files from other SQLite databases.
pub const APPLICATION_ID: i32 = 0x4344_4231;

/// One embedded migration.
#[derive(Clone, Copy)]
pub struct Migration {
    /// The schema version this migration produces (1, 2, ...).
    pub version: i64,
    /// A short name, recorded in `custdb_migrations`.
    pub name: &'static str,
    /// The SQL, run as one batch inside the migration transaction.
    pub sql: &'static str,
    /// Work that SQL cannot do (computing hashes), run right after the SQL
    /// in the same transaction. Not part of the checksum: it is code, and
    /// the code that runs is always the current library's.
    pub after: Option<fn(&rusqlite::Connection) -> crate::error::Result<()>>,
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration")
            .field("version", &self.version)
            .field("name", &self.name)
            .field("after", &self.after.is_some())
            .finish_non_exhaustive()
    }
}

impl Migration {
    /// SHA-256 of the migration's SQL, as lowercase hex.
    pub fn checksum(&self) -> String {
        hex(&Sha256::digest(self.sql.as_bytes()))
    }
}

/// Every migration, in order. Append only: never edit or reorder a shipped
/// entry (the checksum check refuses databases made with a different one).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../schema/migrations/sqlite/0001_initial.sql"),
        after: None,
    },
    Migration {
        version: 2,
        name: "commerce",
        sql: include_str!("../../schema/migrations/sqlite/0002_commerce.sql"),
        after: None,
    },
    Migration {
        version: 3,
        name: "privacy",
        sql: include_str!("../../schema/migrations/sqlite/0003_privacy.sql"),
        after: None,
    },
    Migration {
        version: 4,
        name: "trust",
        sql: include_str!("../../schema/migrations/sqlite/0004_trust.sql"),
        after: Some(|conn| crate::audit::backfill_chain(crate::db::Conn::sqlite(conn))),
    },
    Migration {
        version: 5,
        name: "insight",
        sql: include_str!("../../schema/migrations/sqlite/0005_insight.sql"),
        after: None,
    },
    Migration {
        version: 6,
        name: "cancelled_refunds",
        sql: include_str!("../../schema/migrations/sqlite/0006_cancelled_refunds.sql"),
        after: None,
    },
    Migration {
        version: 7,
        name: "refunded_holds",
        sql: include_str!("../../schema/migrations/sqlite/0007_refunded_holds.sql"),
        after: None,
    },
    Migration {
        version: 8,
        name: "fewer_pages",
        sql: include_str!("../../schema/migrations/sqlite/0008_fewer_pages.sql"),
        after: None,
    },
    Migration {
        version: 9,
        name: "chain_after_commit",
        sql: include_str!("../../schema/migrations/sqlite/0009_chain_after_commit.sql"),
        after: None,
    },
    Migration {
        version: 10,
        name: "change_feed",
        sql: include_str!("../../schema/migrations/sqlite/0010_change_feed.sql"),
        after: None,
    },
    Migration {
        version: 11,
        name: "catalog",
        sql: include_str!("../../schema/migrations/sqlite/0011_catalog.sql"),
        after: Some(add_product_status),
    },
    Migration {
        version: 12,
        name: "pricing",
        sql: include_str!("../../schema/migrations/sqlite/0012_pricing.sql"),
        after: Some(add_variant_tax_class),
    },
    Migration {
        version: 13,
        name: "customer_pricing",
        sql: include_str!("../../schema/migrations/sqlite/0013_customer_pricing.sql"),
        after: Some(add_line_pricing),
    },
    Migration {
        version: 14,
        name: "promotions",
        sql: include_str!("../../schema/migrations/sqlite/0014_promotions.sql"),
        after: None,
    },
    Migration {
        version: 15,
        name: "gift_cards",
        sql: include_str!("../../schema/migrations/sqlite/0015_gift_cards.sql"),
        after: None,
    },
    Migration {
        version: 16,
        name: "store_credit",
        sql: include_str!("../../schema/migrations/sqlite/0016_store_credit.sql"),
        after: Some(add_refund_destination),
    },
    Migration {
        version: 17,
        name: "loyalty",
        sql: include_str!("../../schema/migrations/sqlite/0017_loyalty.sql"),
        after: None,
    },
];

/// The migrations that rebuild a table (SQLite changes a CHECK only by
/// copying the table into a new one). They run with foreign keys off, as
/// SQLite's documented procedure says (dropping the old table would
/// otherwise delete through, or fail on, the rows that point at it), and
/// `PRAGMA foreign_key_check` must find nothing before the transaction
/// commits.
const TABLE_REBUILDS: &[i64] = &[16];

/// Version 16: `refunds.destination`, where a refund's money went
/// (`payment`: back through the payment's provider; `gift_card`;
/// `store_credit`), added here for the reason of [`add_product_status`].
/// The refunds that went back onto a custdb gift card before are marked.
fn add_refund_destination(conn: &rusqlite::Connection) -> crate::error::Result<()> {
    use crate::error::DbResult;
    let present: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('refunds') WHERE name = 'destination')",
            [],
            |r| r.get(0),
        )
        .db()?;
    if !present {
        conn.execute_batch(
            "ALTER TABLE refunds ADD COLUMN destination TEXT NOT NULL DEFAULT 'payment' \
             CHECK (destination IN ('payment', 'gift_card', 'store_credit', 'loyalty_points')); \
             UPDATE refunds SET destination = 'gift_card' WHERE id IN \
             (SELECT refund_id FROM gift_card_entries WHERE kind = 'refund');",
        )
        .db()?;
    }
    Ok(())
}

/// Version 11: `products.status`. A draft product is being prepared: it is
/// listed and found, but its variants cannot be ordered until it is
/// active. Added here, not in the SQL, so that a file a test rewound to an
/// older version migrates again (SQLite has no `ADD COLUMN IF NOT EXISTS`).
fn add_product_status(conn: &rusqlite::Connection) -> crate::error::Result<()> {
    use crate::error::DbResult;
    let present: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('products') WHERE name = 'status')",
            [],
            |r| r.get(0),
        )
        .db()?;
    if !present {
        conn.execute_batch(
            "ALTER TABLE products ADD COLUMN status TEXT NOT NULL DEFAULT 'active' \
             CHECK (status IN ('draft', 'active'))",
        )
        .db()?;
    }
    Ok(())
}

/// Version 12: `product_variants.tax_class` (every variant starts in the
/// `standard` class), added here for the reason of [`add_product_status`].
fn add_variant_tax_class(conn: &rusqlite::Connection) -> crate::error::Result<()> {
    use crate::error::DbResult;
    let present: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('product_variants') \
             WHERE name = 'tax_class')",
            [],
            |r| r.get(0),
        )
        .db()?;
    if !present {
        conn.execute_batch(
            "ALTER TABLE product_variants ADD COLUMN tax_class TEXT NOT NULL DEFAULT 'standard' \
             CHECK (length(tax_class) BETWEEN 1 AND 32)",
        )
        .db()?;
    }
    Ok(())
}

/// Version 13: `order_lines.prices_include_tax` and
/// `order_lines.price_source`, added here for the reason of
/// [`add_product_status`].
fn add_line_pricing(conn: &rusqlite::Connection) -> crate::error::Result<()> {
    use crate::error::DbResult;
    for (column, definition) in [
        (
            "prices_include_tax",
            "INTEGER NOT NULL DEFAULT 0 CHECK (prices_include_tax IN (0, 1))",
        ),
        (
            "price_source",
            "TEXT CHECK (length(price_source) BETWEEN 2 AND 2048)",
        ),
    ] {
        let present: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('order_lines') WHERE name = ?1)",
                [column],
                |r| r.get(0),
            )
            .db()?;
        if !present {
            conn.execute_batch(&format!(
                "ALTER TABLE order_lines ADD COLUMN {column} {definition}"
            ))
            .db()?;
        }
    }
    Ok(())
}

/// The schema version this library writes and expects.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Lowercase hex of a digest (migration checksums, order request hashes).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What the read-only inspection of a file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// No schema at all: a new, empty file.
    Empty,
    /// A custdb file at this version (0 < version <= latest).
    Custdb(i64),
}

/// Inspects a connection without writing: refuses files that are not SQLite,
/// not custdb, or newer than this library.
pub(crate) fn inspect(conn: &Connection, path: &std::path::Path) -> Result<FileState> {
    // The first read of the header is where SQLite notices a file that is
    // not a database.
    let header = conn.query_row(
        "SELECT (SELECT count(*) FROM sqlite_schema), \
         (SELECT user_version FROM pragma_user_version), \
         (SELECT application_id FROM pragma_application_id)",
        [],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i32>(2)?,
            ))
        },
    );
    let (objects, version, app_id) = match header {
        Ok(h) => h,
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            return Err(Error::with_source(
                ErrorKind::NotADatabase {
                    path: path.to_path_buf(),
                },
                e,
            ))
        }
        Err(e) => return Err(Error::from_sqlite(e)),
    };
    if objects == 0 && version == 0 && app_id == 0 {
        return Ok(FileState::Empty);
    }
    if app_id != APPLICATION_ID {
        return Err(Error::new(ErrorKind::NotCustdb {
            path: path.to_path_buf(),
        }));
    }
    if version > LATEST_VERSION {
        return Err(Error::new(ErrorKind::SchemaTooNew {
            found: version,
            supported: LATEST_VERSION,
        }));
    }
    if version < 1 {
        return Err(Error::corrupt(format!(
            "a custdb file with schema version {version}"
        )));
    }
    verify_applied(conn, version)?;
    Ok(FileState::Custdb(version))
}

/// Checks that the migrations recorded in the file are the shipped ones.
fn verify_applied(conn: &Connection, version: i64) -> Result<()> {
    let mut stmt = conn
        .prepare("SELECT version, name, checksum FROM custdb_migrations ORDER BY version")
        .db()?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    if rows.len() as i64 != version {
        return Err(Error::new(ErrorKind::MigrationMismatch {
            version,
            reason: format!(
                "user_version is {version} but {} migrations are recorded",
                rows.len()
            ),
        }));
    }
    for (shipped, (v, name, checksum)) in MIGRATIONS.iter().zip(rows) {
        if v != shipped.version || name != shipped.name {
            return Err(Error::new(ErrorKind::MigrationMismatch {
                version: v,
                reason: format!(
                    "recorded as {v} {name:?}, shipped as {} {:?}",
                    shipped.version, shipped.name
                ),
            }));
        }
        if checksum != shipped.checksum() {
            return Err(Error::new(ErrorKind::MigrationMismatch {
                version: v,
                reason: format!(
                    "checksum {checksum} recorded, {} shipped",
                    shipped.checksum()
                ),
            }));
        }
    }
    Ok(())
}

/// Brings the schema to [`LATEST_VERSION`] in one immediate transaction.
/// Returns the versions applied.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<Vec<i64>> {
    // `PRAGMA foreign_keys` cannot change inside a transaction, so a table
    // rebuild still to come turns them off before it begins; the setting
    // the connection had comes back whatever happens.
    let current = match inspect(conn, path)? {
        FileState::Empty => 0,
        FileState::Custdb(v) => v,
    };
    let rebuilds = TABLE_REBUILDS.iter().any(|v| *v > current);
    let foreign_keys: bool = conn
        .query_row("SELECT foreign_keys FROM pragma_foreign_keys", [], |r| {
            r.get(0)
        })
        .db()?;
    if rebuilds && foreign_keys {
        conn.pragma_update(None, "foreign_keys", false).db()?;
    }
    let result = migrate_in_tx(conn, path);
    if rebuilds && foreign_keys {
        // The migration's own error, if any, is the one to report.
        let restored = conn.pragma_update(None, "foreign_keys", true).db();
        return result.and_then(|applied| restored.map(|()| applied));
    }
    result
}

fn migrate_in_tx(conn: &mut Connection, path: &std::path::Path) -> Result<Vec<i64>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    // Inspect again inside the write lock: another process may have migrated
    // the file between the first look and now.
    let current = match inspect(&tx, path)? {
        FileState::Empty => 0,
        FileState::Custdb(v) => v,
    };
    let mut applied = Vec::new();
    let now = crate::time::to_db(&crate::time::now());
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(migration.sql).db()?;
        if let Some(after) = migration.after {
            after(&tx)?;
        }
        if TABLE_REBUILDS.contains(&migration.version) {
            foreign_key_check(&tx, migration)?;
        }
        tx.execute(
            "INSERT INTO custdb_migrations (version, name, checksum, applied_at) \
             VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![migration.version, migration.name, migration.checksum(), now],
        )
        .db()?;
        // PRAGMA does not take bound parameters; the version is an integer
        // from the constant list above, never outside input.
        tx.pragma_update(None, "user_version", migration.version)
            .db()?;
        applied.push(migration.version);
    }
    if current == 0 {
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .db()?;
    }
    tx.commit().db()?;
    Ok(applied)
}

/// Refuses to commit a table rebuild that left a row pointing nowhere.
fn foreign_key_check(conn: &Connection, migration: &Migration) -> Result<()> {
    let broken: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT \"table\", rowid, parent FROM pragma_foreign_key_check",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    r.get(2)?,
                ))
            },
        )
        .optional()
        .db()?;
    match broken {
        None => Ok(()),
        Some((table, rowid, parent)) => Err(Error::corrupt(format!(
            "migration {} {:?}: a row of {table} (rowid {rowid}) points at a missing row \
             of {parent}; nothing was changed",
            migration.version, migration.name
        ))),
    }
}

/// The schema version recorded in the file.
pub(crate) fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn
        .query_row("SELECT user_version FROM pragma_user_version", [], |r| {
            r.get(0)
        })
        .optional()
        .db()?
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_and_start_at_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version,
                i as i64 + 1,
                "migration {} is out of order",
                m.name
            );
        }
    }

    #[test]
    fn checksum_is_sha256_hex() {
        let m = Migration {
            version: 1,
            name: "x",
            sql: "",
            after: None,
        };
        assert_eq!(
            m.checksum(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn migrate_reaches_latest_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = std::path::Path::new(":memory:");
        assert_eq!(
            migrate(&mut conn, path).unwrap().len() as i64,
            LATEST_VERSION
        );
        assert!(migrate(&mut conn, path).unwrap().is_empty());
        assert_eq!(user_version(&conn).unwrap(), LATEST_VERSION);
        assert_eq!(
            inspect(&conn, path).unwrap(),
            FileState::Custdb(LATEST_VERSION)
        );
    }
}
