//! Helpers shared by the integration tests.
#![allow(dead_code)]

use custdb::Currency;
use std::path::Path;

use custdb::{
    CheckReport, Decimal, NewProduct, NewVariant, NewWarehouse, Store, VariantId, WriteTx,
};
use rusqlite::types::ValueRef;
use tempfile::TempDir;

/// A store on a file in a fresh temporary directory.
pub fn file_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("test.db")).expect("open store");
    (dir, store)
}

/// A fresh store on one engine, with what keeps it alive (an SQLite
/// file's directory). Derefs to the [`Store`].
pub struct OnEngine {
    store: Store,
    dir: Option<TempDir>,
    postgres_database: Option<String>,
}

impl OnEngine {
    /// The SQLite file's directory (the file is `test.db`), on SQLite.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(TempDir::path)
    }

    /// The PostgreSQL database's name, on PostgreSQL.
    pub fn postgres_database(&self) -> Option<&str> {
        self.postgres_database.as_deref()
    }

    /// Runs SQL on the database behind custdb's back, with the triggers of
    /// `table` out of the way (dropped on SQLite, named in
    /// `sqlite_triggers`; disabled on PostgreSQL), to tamper with it.
    pub fn tamper(&self, table: &str, sqlite_triggers: &[&str], sql: &str) {
        if let Some(dir) = self.dir() {
            let conn = rusqlite::Connection::open(dir.join("test.db")).unwrap();
            for trigger in sqlite_triggers {
                conn.execute_batch(&format!("DROP TRIGGER IF EXISTS {trigger}"))
                    .unwrap();
            }
            conn.execute_batch(sql).unwrap();
            return;
        }
        #[cfg(feature = "postgres")]
        if let (Some(db), Some(cluster)) = (self.postgres_database(), custdb_pgcluster::cluster()) {
            cluster.psql(
                db,
                &format!(
                    "ALTER TABLE {table} DISABLE TRIGGER ALL; {sql}; \
                     ALTER TABLE {table} ENABLE TRIGGER ALL"
                ),
            );
            return;
        }
        let _ = table;
        unreachable!("a store on no engine");
    }
}

impl OnEngine {
    /// Runs SQL on the database behind custdb's back, its triggers and
    /// constraints in force (as the tables' owner on PostgreSQL); what the
    /// engine said when it refused.
    pub fn try_sql(&self, sql: &str) -> Result<(), String> {
        if let Some(dir) = self.dir() {
            let conn = rusqlite::Connection::open(dir.join("test.db")).unwrap();
            return conn.execute_batch(sql).map_err(|e| e.to_string());
        }
        #[cfg(feature = "postgres")]
        if let (Some(db), Some(cluster)) = (self.postgres_database(), custdb_pgcluster::cluster()) {
            return cluster.psql_as("postgres", db, sql).map(drop);
        }
        unreachable!("a store on no engine");
    }

    /// One integer computed by SQL behind custdb's back (`count(*)`,
    /// `sum(...)`), on either engine.
    pub fn scalar(&self, sql: &str) -> i64 {
        if let Some(dir) = self.dir() {
            let conn = rusqlite::Connection::open(dir.join("test.db")).unwrap();
            return conn.query_row(sql, [], |r| r.get(0)).unwrap();
        }
        #[cfg(feature = "postgres")]
        if let (Some(db), Some(cluster)) = (self.postgres_database(), custdb_pgcluster::cluster()) {
            return cluster.psql(db, sql).trim().parse().unwrap();
        }
        unreachable!("a store on no engine");
    }

    /// Every row of every table, as text, in a stable order: two
    /// contents are equal exactly when nothing was written in between.
    pub fn contents(&self) -> Vec<String> {
        if let Some(dir) = self.dir() {
            return snapshot(&dir.join("test.db"));
        }
        #[cfg(feature = "postgres")]
        if let (Some(db), Some(cluster)) = (self.postgres_database(), custdb_pgcluster::cluster()) {
            // Committed audit entries join the chain a moment later, from
            // the store's chainer thread: chain them now, so that the
            // hashes do not change between two snapshots.
            self.verify_audit().unwrap();
            // One psql run: every table's rows as text, in one query over
            // the tables (the same in every custdb database, so listed once).
            static QUERY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let query = QUERY.get_or_init(|| {
                cluster
                    .psql(
                        db,
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
                    )
                    .lines()
                    .filter(|t| !t.is_empty())
                    .map(|t| format!("SELECT '{t}: ' || t::text AS line FROM \"{t}\" t"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ")
                    + " ORDER BY 1"
            });
            return cluster.psql(db, query).lines().map(str::to_owned).collect();
        }
        unreachable!("a store on no engine");
    }
}

impl std::ops::Deref for OnEngine {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// A fresh store on every engine this machine has, named: an SQLite file
/// always; a fresh PostgreSQL database (copied from a migrated template)
/// when the `postgres` feature is on and the server binaries are installed
/// (`custdb-pgcluster` says loudly when they are not; under `CI=true` that
/// fails). Behaviour tests loop over it, so that one test body proves
/// both engines.
pub fn every_engine() -> Vec<(&'static str, OnEngine)> {
    every_engine_with(custdb::Options::default())
}

/// [`every_engine`] with SQLite's store in memory (no file, no fsync), for
/// tests that open thousands of stores and never look at the file.
pub fn every_engine_in_memory() -> Vec<(&'static str, OnEngine)> {
    let mut all = every_engine();
    all[0] = sqlite_in_memory();
    all
}

/// An SQLite store in memory, as [`every_engine`]'s first entry.
pub fn sqlite_in_memory() -> (&'static str, OnEngine) {
    (
        "SQLite",
        OnEngine {
            store: Store::open_in_memory().expect("open in memory"),
            dir: None,
            postgres_database: None,
        },
    )
}

/// [`every_engine`], each store opened with `options`.
pub fn every_engine_with(options: custdb::Options) -> Vec<(&'static str, OnEngine)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_with(dir.path().join("test.db"), options.clone()).expect("open store");
    #[allow(unused_mut)]
    let mut out = vec![(
        "SQLite",
        OnEngine {
            store,
            dir: Some(dir),
            postgres_database: None,
        },
    )];
    #[cfg(feature = "postgres")]
    if let Some(cluster) = custdb_pgcluster::cluster() {
        let (name, _) = crate::engines::postgres_store(cluster);
        let store = Store::open_postgres_with(&cluster.connection(&name), options)
            .expect("open PostgreSQL");
        out.push((
            "PostgreSQL",
            OnEngine {
                store,
                dir: None,
                postgres_database: Some(name),
            },
        ));
    }
    out
}

/// The first 8,000 lines of the Online Retail data set (CC BY 4.0, see
/// tests/fixtures/README.md).
pub const RETAIL_HEAD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/online-retail-head.csv.gz"
);

/// Imports [`RETAIL_HEAD`] into `store`, panicking if the import fails.
pub fn import_retail_head(store: &Store) {
    store
        .import_retail_file(RETAIL_HEAD, |_| {}, |_| {})
        .expect("import the retail fixture");
}

/// Every row of every table in the file, rendered as text, read through a
/// separate read-only connection: two snapshots are equal exactly when
/// nothing was written in between.
pub fn snapshot(path: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open snapshot connection");
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let mut line = format!("{table}:");
            for i in 0..columns {
                match row.get_ref(i).unwrap() {
                    ValueRef::Null => line.push_str(" NULL"),
                    ValueRef::Integer(v) => line.push_str(&format!(" {v}")),
                    ValueRef::Real(v) => line.push_str(&format!(" {v}")),
                    ValueRef::Text(v) => {
                        line.push_str(&format!(" {:?}", String::from_utf8_lossy(v)))
                    }
                    ValueRef::Blob(v) => line.push_str(&format!(" blob{v:?}")),
                }
            }
            out.push(line);
        }
    }
    out
}

/// A decimal from its text (test data).
pub fn dec(s: &str) -> custdb::Decimal {
    std::str::FromStr::from_str(s).expect("a decimal")
}

/// The field and reason of an `Invalid` error; panics on any other.
pub fn invalid(e: &custdb::Error) -> (String, String) {
    match e.kind() {
        custdb::ErrorKind::Invalid { field, reason } => (field.clone(), reason.clone()),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Asserts that the store's invariants hold.
pub fn assert_consistent(store: &Store) {
    let report: CheckReport = store.check().expect("check runs");
    assert!(
        report.problems.is_empty(),
        "check found problems: {:#?}",
        report.problems
    );
}

/// SHA-like fingerprint of a file's bytes: the bytes themselves.
pub fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

/// Inside a unit of work: the product "Tea" (one variant, SKU `TEA`, 4.50
/// GBP), a warehouse named by `warehouse_code`, and `units` of tea received
/// there. Returns the variant.
pub fn stock_tea(tx: &WriteTx<'_>, warehouse_code: &str, units: i64) -> custdb::Result<VariantId> {
    let p = tx
        .catalog()
        .create_product(NewProduct::new("Tea").variant(NewVariant::new(
            "TEA",
            Decimal::new(450, 2),
            Currency::GBP,
        )))?;
    let w = tx
        .inventory()
        .create_warehouse(NewWarehouse::new(warehouse_code, warehouse_code))?;
    tx.inventory().receive(p.variants[0].id, w.id, units)?;
    Ok(p.variants[0].id)
}

/// On PostgreSQL, writes the server's dirty pages to the data files
/// (`CHECKPOINT`), so a byte scan of them sees what was committed.
pub fn checkpoint(store: &OnEngine) {
    #[cfg(feature = "postgres")]
    if let (Some(db), Some(cluster)) = (store.postgres_database(), custdb_pgcluster::cluster()) {
        cluster.psql(db, "CHECKPOINT");
    }
    let _ = store;
}

/// On PostgreSQL, what an operator runs after an erasure to take the
/// erased values out of the database's files: `VACUUM FULL` rewrites every
/// table and index without the dead row versions, and the checkpoints
/// write the new files and remove the old ones.
pub fn vacuum_full(store: &OnEngine) {
    #[cfg(feature = "postgres")]
    if let (Some(db), Some(cluster)) = (store.postgres_database(), custdb_pgcluster::cluster()) {
        cluster.psql(db, "VACUUM FULL");
        cluster.psql(db, "CHECKPOINT");
        cluster.psql(db, "CHECKPOINT");
    }
    let _ = store;
}
