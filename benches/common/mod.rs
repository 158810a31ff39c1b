//! Shared by the benchmarks: the raw-rusqlite connection every baseline
//! uses, set up as custdb sets up its own.

// Each bench compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use custdb::audit::{entry_hash, sql as audit_sql, GENESIS_HASH};
use rusqlite::{params, Connection, OptionalExtension};

pub mod mix;
pub mod people;
pub mod shop;

/// The durability level a write benchmark runs at, from
/// `CUSTDB_BENCH_DURABILITY` (`full`, the default, or `normal`): custdb's
/// setting, the matching `synchronous` value for the baseline, and a label
/// for the benchmark's name.
pub fn durability() -> (custdb::Durability, &'static str, &'static str) {
    match std::env::var("CUSTDB_BENCH_DURABILITY").as_deref() {
        Ok("normal") => (custdb::Durability::Normal, "NORMAL", "normal"),
        Ok("full") | Err(_) => (custdb::Durability::Full, "FULL", "full"),
        Ok(other) => panic!("CUSTDB_BENCH_DURABILITY must be full or normal, not {other:?}"),
    }
}

/// Opens a custdb store at the benchmark's durability level.
pub fn store_at(path: &Path) -> custdb::Store {
    custdb::Store::open_with(path, custdb::Options::default().durability(durability().0)).unwrap()
}

/// A raw connection at the benchmark's durability level.
pub fn raw_at(path: &Path) -> Connection {
    raw_connection_at(path, durability().1)
}

/// A connection with the settings custdb applies (see src/store/mod.rs
/// `configure`): WAL, `synchronous = FULL`, foreign keys on, untrusted
/// schema, no mmap, temporary storage in memory, secure delete, a 5 s busy timeout and a 128-statement cache.
pub fn raw_connection(path: &Path) -> Connection {
    raw_connection_at(path, "FULL")
}

/// [`raw_connection`] at a given `synchronous` level (`FULL` or `NORMAL`,
/// custdb's two durability levels).
pub fn raw_connection_at(path: &Path, synchronous: &str) -> Connection {
    raw_connection_through(path, synchronous, None)
}

/// [`raw_connection_at`] through the SQLite VFS named `vfs` (the default
/// one when `None`).
pub fn raw_connection_through(path: &Path, synchronous: &str, vfs: Option<&str>) -> Connection {
    let conn = match vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), vfs),
        None => Connection::open(path),
    }
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn.pragma_update(None, "trusted_schema", false).unwrap();
    conn.pragma_update(None, "mmap_size", 0).unwrap();
    conn.pragma_update(None, "temp_store", "MEMORY").unwrap();
    conn.pragma_update(None, "secure_delete", true).unwrap();
    conn.pragma_update(None, "synchronous", synchronous)
        .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.set_prepared_statement_cache_capacity(128);
    conn
}

/// The change-feed kind custdb gives an audited action (the actions the
/// baselines write).
fn event_kind(entity_type: &str, action: &str) -> String {
    let past = match action {
        "create" => "created",
        "place" => "placed",
        "import" => "imported",
        "capture_payment" => "paid",
        "ship" => "shipped",
        "return" => "returned",
        "refund" => "refunded",
        "issue" => "issued",
        other => other,
    };
    format!("{entity_type}.{past}")
}

/// Appends a change-feed event the way custdb does (its statement text).
pub fn raw_event(conn: &Connection, at: &str, kind: &str, entity_id: &str, facts: &str) {
    conn.prepare_cached(custdb::changes::sql::INSERT_EVENT)
        .unwrap()
        .execute(params![at, "system", kind, entity_id, facts])
        .unwrap();
}

/// A stock movement's `stock.changed` event, as custdb writes one for
/// every movement: the balance after it.
#[allow(clippy::too_many_arguments, dead_code)]
pub fn raw_stock_event(
    conn: &Connection,
    at: &str,
    variant: &str,
    warehouse: &str,
    movement: &str,
    (on_hand, reserved): (i64, i64),
    order: &str,
) {
    let facts = serde_json::json!({
        "v": 1,
        "order_id": order,
        "warehouse_id": warehouse,
        "movement": movement,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
    })
    .to_string();
    raw_event(conn, at, "stock.changed", variant, &facts);
}

/// The facts of an order's event, read as custdb reads them.
pub fn raw_order_facts(conn: &Connection, order_id: &str, fields: &str) -> String {
    let (status, currency, total, paid, refunded, customer, lines): (
        String,
        String,
        i64,
        i64,
        i64,
        Option<String>,
        i64,
    ) = conn
        .prepare_cached(custdb::order::sql::ORDER_FACTS)
        .unwrap()
        .query_row([order_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap();
    let amount = |e4: i64| custdb::Decimal::new(e4, 4).normalize().to_string();
    serde_json::json!({
        "v": 1,
        "fields": serde_json::from_str::<serde_json::Value>(fields).unwrap(),
        "status": status,
        "customer_id": customer,
        "total": amount(total),
        "paid": amount(paid),
        "refunded": amount(refunded),
        "currency": currency,
        "lines": lines,
    })
    .to_string()
}

/// Appends an audit entry the way custdb does: read the last entry's
/// position and hash, hash the new entry onto the chain, insert it; with
/// its change-feed event (for an order, with the order's state read
/// back), as custdb writes one for every audited change.
pub fn raw_audit(
    conn: &Connection,
    at: &str,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    changed_fields: &str,
) {
    let facts = if entity_type == "order" {
        raw_order_facts(conn, entity_id, changed_fields)
    } else {
        format!(r#"{{"v":1,"fields":{changed_fields}}}"#)
    };
    raw_event(
        conn,
        at,
        &event_kind(entity_type, action),
        entity_id,
        &facts,
    );
    let (seq, prev): (i64, String) = conn
        .prepare_cached(audit_sql::LAST_ENTRY)
        .unwrap()
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .unwrap()
        .unwrap_or((0, GENESIS_HASH.to_owned()));
    let hash = entry_hash(
        &prev,
        seq + 1,
        at,
        "system",
        "custdb",
        action,
        entity_type,
        entity_id,
        changed_fields,
    );
    conn.prepare_cached(audit_sql::INSERT_AUDIT)
        .unwrap()
        .execute(params![
            seq + 1,
            at,
            "system",
            "custdb",
            action,
            entity_type,
            entity_id,
            changed_fields,
            prev,
            hash
        ])
        .unwrap();
}

/// Statement texts a side ran (custdb's through `Options::statement_log`,
/// the baseline's through [`trace_statements`]).
pub type Log = Arc<Mutex<BTreeSet<String>>>;

/// Records the text of every statement `conn` runs from now on.
pub fn trace_statements(conn: &mut Connection) -> Log {
    let log: Log = Arc::default();
    let sink = log.clone();
    conn.trace_v2(
        rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
        Some(move |event: rusqlite::trace::TraceEvent<'_>| {
            if let rusqlite::trace::TraceEvent::Stmt(stmt, _) = event {
                sink.lock().unwrap().insert(stmt.sql().into_owned());
            }
        }),
    )
    .unwrap();
    log
}

/// Whitespace runs collapsed, transaction control left out: the two sides
/// spell `BEGIN`, savepoints and `COMMIT` differently (custdb names its
/// savepoints); the statements that read and write are what must match.
fn normalized(log: &Log) -> BTreeSet<String> {
    log.lock()
        .unwrap()
        .iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| {
            let upper = s.to_ascii_uppercase();
            !["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"]
                .iter()
                .any(|k| upper.starts_with(k))
        })
        .collect()
}

/// Panics unless both logs hold the same statement texts; returns how many.
pub fn assert_same_statements(custdb: &Log, raw: &Log) -> usize {
    let (custdb, raw) = (normalized(custdb), normalized(raw));
    let only_custdb: Vec<_> = custdb.difference(&raw).collect();
    let only_raw: Vec<_> = raw.difference(&custdb).collect();
    assert!(
        only_custdb.is_empty() && only_raw.is_empty(),
        "the two sides ran different statements.\nonly custdb: {only_custdb:#?}\nonly raw: {only_raw:#?}"
    );
    custdb.len()
}

/// Reads an id column the way custdb does: its text parsed in place (the
/// ids do not implement rusqlite's traits; rusqlite is custdb's
/// implementation detail, so a baseline reads the text itself).
pub trait RowId {
    /// The column at `index` parsed as an id.
    fn get_id<T: std::str::FromStr>(&self, index: usize) -> rusqlite::Result<T>;
}

impl RowId for rusqlite::Row<'_> {
    fn get_id<T: std::str::FromStr>(&self, index: usize) -> rusqlite::Result<T> {
        let text = self.get_ref(index)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })?;
        text.parse().map_err(|_| {
            rusqlite::Error::InvalidColumnType(index, "id".into(), rusqlite::types::Type::Text)
        })
    }
}
