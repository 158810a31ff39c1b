//! Shared by the benchmarks: the raw-rusqlite connection every baseline
//! uses, set up as custdb sets up its own.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// A connection with the settings custdb applies (see src/store.rs
/// `configure`): WAL, `synchronous = FULL`, foreign keys on, untrusted
/// schema, no mmap, temporary storage in memory, a 5 s busy timeout and a 128-statement cache.
pub fn raw_connection(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn.pragma_update(None, "trusted_schema", false).unwrap();
    conn.pragma_update(None, "mmap_size", 0).unwrap();
    conn.pragma_update(None, "temp_store", "MEMORY").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.set_prepared_statement_cache_capacity(128);
    conn
}
