//! The personal-data map classifies every column of every table, names no
//! column that does not exist, and docs/PRIVACY.md renders it as it is.

use std::collections::BTreeSet;

use crate::common::file_store;
use custdb::privacy::map::{record_of_processing, Erasure, RowErasure, PERSONAL_DATA_MAP};

fn schema_columns(path: &std::path::Path) -> BTreeSet<(String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut out = BTreeSet::new();
    for table in tables {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for c in columns {
            out.insert((table.clone(), c));
        }
    }
    out
}

#[test]
fn every_column_of_the_schema_is_classified_and_nothing_else() {
    let (dir, store) = file_store();
    drop(store);
    let schema = schema_columns(&dir.path().join("test.db"));
    let mapped: BTreeSet<(String, String)> = PERSONAL_DATA_MAP
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .map(move |c| (t.table.to_owned(), c.column.to_owned()))
        })
        .collect();
    let unclassified: Vec<_> = schema.difference(&mapped).collect();
    assert!(
        unclassified.is_empty(),
        "columns the personal-data map (src/privacy/map.rs) does not classify: {unclassified:?}"
    );
    let unknown: Vec<_> = mapped.difference(&schema).collect();
    assert!(
        unknown.is_empty(),
        "the map names columns that do not exist: {unknown:?}"
    );
    let tables: Vec<&str> = PERSONAL_DATA_MAP.iter().map(|t| t.table).collect();
    let distinct: BTreeSet<&str> = tables.iter().copied().collect();
    assert_eq!(tables.len(), distinct.len(), "a table is listed twice");
}

#[test]
fn the_map_is_coherent() {
    for t in PERSONAL_DATA_MAP {
        for c in t.columns {
            if c.category.is_none() {
                assert_eq!(c.erasure, Erasure::Keep, "{}.{}", t.table, c.column);
            }
        }
        if t.subject.is_none() {
            // Tables not about one customer are only touched through their
            // sources (the full-text index) or not at all.
            assert!(
                t.columns
                    .iter()
                    .all(|c| !matches!(c.erasure, Erasure::Set(_))),
                "{} has no subject link but erases columns",
                t.table
            );
            assert_eq!(t.rows, RowErasure::KeepRows, "{}", t.table);
        }
    }
}

#[test]
fn docs_privacy_md_renders_the_map() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PRIVACY.md")).unwrap();
    let table = record_of_processing();
    assert!(
        doc.contains(&table),
        "docs/PRIVACY.md is out of date; replace its record of processing with:\n{table}"
    );
}
