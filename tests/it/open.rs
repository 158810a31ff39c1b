//! Opening stores: creation, reopening, settings, read-only, and every file
//! that must be refused without being changed.

use std::time::Duration;

use crate::common::{assert_consistent, file_bytes, file_store};
use custdb::{Actor, Durability, ErrorKind, NewCustomer, Options, Store};

#[test]
fn open_creates_the_file_and_reopen_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let id = {
        let store = Store::open(&path).unwrap();
        store
            .customers()
            .create(NewCustomer::new("Ann").email("ann@example.com"))
            .unwrap()
            .id
    };
    assert!(path.exists());
    // The writer closes last and removes the WAL.
    assert!(!dir.path().join("shop.db-wal").exists());
    let store = Store::open(&path).unwrap();
    assert_eq!(store.customers().get(id).unwrap().display_name, "Ann");
    assert_consistent(&store);
}

#[test]
fn connections_run_with_the_safe_settings() {
    let (_dir, store) = file_store();
    let s = store.connection_settings().unwrap();
    assert_eq!(s.journal_mode, "wal");
    assert_eq!(s.synchronous, 2, "FULL is the default");
    assert!(s.foreign_keys);
    assert!(!s.trusted_schema);
    assert!(s.defensive);
    assert_eq!(s.mmap_size, 0);
    assert_eq!(s.temp_store, 2, "temporary storage in memory");
    assert_eq!(s.busy_timeout_ms, 5000);
    assert_eq!(s.schema_version, custdb::schema::LATEST_VERSION);
    let parts: Vec<u32> = s
        .sqlite_version
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        parts >= vec![3, 51, 3],
        "bundled SQLite {} is too old",
        s.sqlite_version
    );
}

#[test]
fn durability_normal_and_busy_timeout_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path().join("x.db"),
        Options::default()
            .durability(Durability::Normal)
            .busy_timeout(Duration::from_millis(1500)),
    )
    .unwrap();
    let s = store.connection_settings().unwrap();
    assert_eq!(s.synchronous, 1);
    assert_eq!(s.busy_timeout_ms, 1500);
}

#[test]
fn in_memory_store_works_and_is_independent() {
    let a = Store::open_in_memory().unwrap();
    let b = Store::open_in_memory().unwrap();
    a.customers().create(NewCustomer::new("Only in a")).unwrap();
    let all = custdb::CustomerFilter::default();
    assert_eq!(a.customers().list(&all, None, 10).unwrap().items.len(), 1);
    assert!(b.customers().list(&all, None, 10).unwrap().items.is_empty());
    assert_eq!(a.connection_settings().unwrap().journal_mode, "memory");
    assert!(a.path().is_none());
}

#[test]
fn read_only_store_reads_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let id = Store::open(&path)
        .unwrap()
        .customers()
        .create(NewCustomer::new("Ann"))
        .unwrap()
        .id;
    let before = file_bytes(&path);
    let ro = Store::open_with(&path, Options::default().read_only(true)).unwrap();
    assert_eq!(ro.customers().get(id).unwrap().display_name, "Ann");
    let err = ro.customers().create(NewCustomer::new("Bob")).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ReadOnly);
    let report = ro.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    drop(ro);
    assert_eq!(file_bytes(&path), before);
}

#[test]
fn read_only_open_of_a_missing_file_is_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let err = Store::open_with(&path, Options::default().read_only(true)).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::CannotOpen { .. }), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = b"Dear diary, this is not a database. ".repeat(200);
    std::fs::write(&path, &content).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NotADatabase { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not an SQLite database"));
    assert_eq!(file_bytes(&path), content);
    assert!(!dir.path().join("notes.txt-wal").exists());
}

#[test]
fn another_applications_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
            .unwrap();
    }
    let before = file_bytes(&path);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::NotCustdb { .. }), "{err:?}");
    assert_eq!(file_bytes(&path), before);
}

#[test]
fn a_newer_schema_is_refused_with_both_versions_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Store::open(&path).unwrap());
    let future = custdb::schema::LATEST_VERSION + 7;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", future).unwrap();
    }
    let before = file_bytes(&path);
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::SchemaTooNew {
            found: future,
            supported: custdb::schema::LATEST_VERSION
        }
    );
    let message = err.to_string();
    assert!(message.contains(&future.to_string()), "{message}");
    assert!(
        message.contains(&custdb::schema::LATEST_VERSION.to_string()),
        "{message}"
    );
    assert_eq!(
        file_bytes(&path),
        before,
        "the file must be byte-for-byte untouched"
    );
    // Read-only open refuses it the same way.
    let err = Store::open_with(&path, Options::default().read_only(true)).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::SchemaTooNew { .. }));
    assert_eq!(file_bytes(&path), before);
}

#[test]
fn a_changed_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tampered.db");
    drop(Store::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE custdb_migrations SET checksum = ?1 WHERE version = 1",
            ["0".repeat(64)],
        )
        .unwrap();
    }
    let before = file_bytes(&path);
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MigrationMismatch { version: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("checksum"));
    assert_eq!(file_bytes(&path), before);
}

#[test]
fn a_path_that_cannot_be_written_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    // A path below a regular file cannot exist, whoever runs the test.
    for path in [
        file.join("shop.db"),
        dir.path().join("no/such/dir/shop.db"),
        dir.path().to_path_buf(),
    ] {
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::CannotOpen { .. }),
            "{path:?}: {err:?}"
        );
        assert!(err.to_string().contains("cannot open"), "{err}");
    }
    assert!(!dir.path().join("no").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let err = Store::open_with(&path, Options::default().reader_pool_size(65)).unwrap_err();
    assert_eq!(err.field(), Some("options.reader_pool_size"));
    let err = Store::open_with(
        &path,
        Options::default().read_only(true).reader_pool_size(0),
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("options.reader_pool_size"));
    assert!(!path.exists());
    let err = Actor::new("", "x").unwrap_err();
    assert_eq!(err.field(), Some("actor.id"));
    let err = Actor::new("id", "x".repeat(201)).unwrap_err();
    assert_eq!(err.field(), Some("actor.name"));
}

#[test]
fn a_reader_pool_of_zero_reads_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path().join("x.db"),
        Options::default().reader_pool_size(0),
    )
    .unwrap();
    let c = store.customers().create(NewCustomer::new("Ann")).unwrap();
    assert_eq!(store.customers().get(c.id).unwrap(), c);
}
