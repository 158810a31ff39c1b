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
