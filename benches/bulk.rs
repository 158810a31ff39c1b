//! Bulk import of one million customers from CSV into a new file database,
//! beside a raw-rusqlite import running the same statements.
//!
//! ```text
//! cargo bench --features bench-internals --bench bulk                                  # Full durability
//! CUSTDB_BENCH_DURABILITY=normal cargo bench --features bench-internals --bench bulk   # Normal
//! CUSTDB_BULK_ROWS=100000 cargo bench --features bench-internals --bench bulk          # a shorter run
//! ```
//!
//! The file has a key, given and family names, an email and two tags per
//! row. custdb imports it with `import_customers_csv` (units of work of
//! 1,000 rows; per row: the key lookup, then the customer with its email
//! check, tags, audit entry and the key record; a savepoint per row only
//! in a unit of work where a row failed after writing, none here). The
//! baseline reads the same file with the csv crate and runs the same
//! statements in transactions of 1,000 rows; before measuring, a run of
//! 2,000 rows on each side records the statement texts and the bench stops
//! unless both ran the same ones. What only custdb does: validation and
//! normalization of every field, the check after each row that it either
//! succeeded or wrote nothing (else its unit of work is written again with
//! a savepoint per row), and the report.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::{assert_same_statements, raw_connection_at, trace_statements, Log};
use criterion::{criterion_group, criterion_main, Criterion};
use custdb::customer::sql;
use custdb::import::generic::{CustomerField, CustomerMapping};
use custdb::import::sql as import_sql;
use custdb::{CustomerId, Options, Store};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

const ROWS_PER_TRANSACTION: usize = 1000;

fn rows() -> usize {
    std::env::var("CUSTDB_BULK_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn write_csv(path: &Path, rows: usize) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    writeln!(out, "id,given,family,email,tags").unwrap();
    for n in 0..rows {
        writeln!(
            out,
            "K{n},Given{n},Family{n},person{n}@example.com,newsletter;2026"
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn mapping() -> CustomerMapping {
    CustomerMapping::new("crm")
        .column("id", CustomerField::Key)
        .column("given", CustomerField::GivenName)
        .column("family", CustomerField::FamilyName)
        .column("email", CustomerField::Email)
        .column("tags", CustomerField::Tags)
}

fn custdb_import(store: &Store, csv: &Path) -> u64 {
    let report = store
        .import_customers_csv(
            BufReader::new(File::open(csv).unwrap()),
            &mapping(),
            |_| {},
            |_| {},
        )
        .unwrap();
    report.imported
}

/// The same statements as custdb's import, per row in the same order.
fn raw_import(conn: &Connection, csv: &Path) -> u64 {
    let mut reader = csv::Reader::from_reader(BufReader::new(File::open(csv).unwrap()));
    let mut imported = 0u64;
    let mut records = reader.records().peekable();
    while records.peek().is_some() {
        let tx =
            rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).unwrap();
        for record in records.by_ref().take(ROWS_PER_TRANSACTION) {
            let record = record.unwrap();
            let (key, given, family, email, tags) =
                (&record[0], &record[1], &record[2], &record[3], &record[4]);
            let known: Option<String> = tx
                .prepare_cached(import_sql::KEY_LOOKUP)
                .unwrap()
                .query_row(params!["crm", "customer", key], |r| r.get(0))
                .optional()
                .unwrap();
            assert!(known.is_none());
            let id = CustomerId::new();
            let now = common::shop::now();
            let taken: bool = tx
                .prepare_cached(sql::EMAIL_TAKEN)
                .unwrap()
                .query_row(params![email, id.to_string()], |r| r.get(0))
                .unwrap();
            assert!(!taken);
            tx.prepare_cached(sql::INSERT)
                .unwrap()
                .execute(params![
                    id.to_string(),
                    format!("{given} {family}"),
                    given,
                    family,
                    email,
                    None::<String>,
                    None::<String>,
                    None::<String>,
                    None::<String>,
                    None::<String>,
                    "{}",
                    None::<String>,
                    now
                ])
                .unwrap();
            for tag in tags.split(';') {
                tx.prepare_cached(sql::INSERT_TAG)
                    .unwrap()
                    .execute(params![id.to_string(), tag])
                    .unwrap();
            }
            common::raw_audit(
                &tx,
                &now,
                "create",
                "customer",
                &id.to_string(),
                r#"["display_name","given_name","family_name","email","tags"]"#,
            );
            tx.prepare_cached(import_sql::KEY_RECORD)
                .unwrap()
                .execute(params!["crm", "customer", key, id.to_string(), now])
                .unwrap();
            imported += 1;
        }
        tx.commit().unwrap();
    }
    imported
}

/// A new, migrated, empty database file for one run.
fn fresh(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    drop(Store::open(&path).unwrap());
    path
}

fn same_statements(dir: &Path) {
    let csv = dir.join("check.csv");
    write_csv(&csv, 2 * ROWS_PER_TRANSACTION);
    let log = Log::default();
    let store = Store::open_with(
        fresh(dir, "check-custdb.db"),
        Options::default().statement_log(log.clone()),
    )
    .unwrap();
    log.lock().unwrap().clear();
    custdb_import(&store, &csv);
    let mut conn = raw_connection_at(&fresh(dir, "check-raw.db"), "FULL");
    let raw_log = trace_statements(&mut conn);
    raw_import(&conn, &csv);
    let count = assert_same_statements(&log, &raw_log);
    eprintln!("bulk: both sides ran the same {count} statement texts");
}

fn bulk(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    same_statements(dir.path());
    let rows = rows();
    let csv = dir.path().join("customers.csv");
    write_csv(&csv, rows);
    let (durability, synchronous, level) = common::durability();
    let mut group = c.benchmark_group(format!("import_{rows}_customers_{level}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    let mut run = 0;
    group.bench_function("custdb", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                run += 1;
                let path = fresh(dir.path(), &format!("custdb-{level}-{run}.db"));
                let store =
                    Store::open_with(&path, Options::default().durability(durability)).unwrap();
                let started = Instant::now();
                assert_eq!(custdb_import(&store, &csv), rows as u64);
                elapsed += started.elapsed();
                drop(store);
                std::fs::remove_file(&path).unwrap();
            }
            elapsed
        })
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                run += 1;
                let path = fresh(dir.path(), &format!("raw-{level}-{run}.db"));
                let conn = raw_connection_at(&path, synchronous);
                let started = Instant::now();
                assert_eq!(raw_import(&conn, &csv), rows as u64);
                elapsed += started.elapsed();
                drop(conn);
                std::fs::remove_file(&path).unwrap();
            }
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, bulk);
criterion_main!(benches);
