//! Online backup while writers go on, compacted copies, and restore that
//! refuses anything that does not check out.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::{assert_consistent, file_store};
use custdb::{CustomerFilter, ErrorKind, NewCustomer, Options, Store};

fn count(store: &Store) -> usize {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = store
            .customers()
            .list(
                &CustomerFilter::default().archived(custdb::ArchiveState::All),
                cursor.as_ref(),
                1000,
            )
            .unwrap();
        n += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return n,
        }
    }
}

#[test]
fn a_backup_taken_while_threads_write_is_a_consistent_database() {
    let (dir, store) = file_store();
    for i in 0..2000 {
        store
            .customers()
            .create(NewCustomer::new(format!("Seed {i}")).notes("x".repeat(200)))
            .unwrap();
    }
    let stop = AtomicBool::new(false);
    let mut steps = Vec::new();
    let report = std::thread::scope(|s| {
        for t in 0..3 {
            let store = store.clone();
            let stop = &stop;
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    store
                        .customers()
                        .create(NewCustomer::new(format!("Writer {t} #{i}")))
                        .unwrap();
                    i += 1;
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let report = store
            .backup_to(dir.path().join("backup.db"), |p| steps.push(p))
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        report
    });
    assert!(steps.len() > 1, "progress is reported step by step");
    assert!(steps
        .windows(2)
        .all(|w| w[0].pages_copied <= w[1].pages_copied));
    let last = steps.last().unwrap();
    assert_eq!(last.pages_copied, last.pages_total);
    assert_eq!(report.pages, last.pages_total);

    let restored = Store::restore(
        &report.path,
        dir.path().join("restored.db"),
        Options::default(),
    )
    .unwrap();
    assert_consistent(&restored);
    assert!(restored.verify_audit().unwrap().is_ok());
    let in_copy = count(&restored);
    assert!(in_copy >= 2000 && in_copy <= count(&store));
    assert_consistent(&store);
}

#[test]
fn vacuum_into_writes_a_compact_copy() {
    let (dir, store) = file_store();
    for i in 0..300 {
        store
            .customers()
            .create(NewCustomer::new(format!("C{i}")).notes("y".repeat(500)))
            .unwrap();
    }
    let report = store.vacuum_into(dir.path().join("compact.db")).unwrap();
    assert!(report.bytes > 0);
    let copy = Store::restore(&report.path, dir.path().join("r.db"), Options::default()).unwrap();
    assert_eq!(count(&copy), 300);
    assert_consistent(&copy);
}

#[test]
fn backups_and_restores_refuse_bad_paths_and_bad_files() {
    let (dir, store) = file_store();
    store.customers().create(NewCustomer::new("Ann")).unwrap();
    let good = store.backup_to(dir.path().join("good.db"), |_| {}).unwrap();

    // An existing file is never overwritten.
    let again = store.backup_to(&good.path, |_| {}).unwrap_err();
    assert!(matches!(again.kind(), ErrorKind::Invalid { field, .. } if field == "path"));
    // An unwritable place.
    let nowhere = store
        .backup_to(dir.path().join("no/such/dir/b.db"), |_| {})
        .unwrap_err();
    assert!(
        matches!(nowhere.kind(), ErrorKind::CannotOpen { .. }),
        "{nowhere:?}"
    );
    let nowhere = store
        .vacuum_into(dir.path().join("no/such/dir/v.db"))
        .unwrap_err();
    assert!(
        matches!(nowhere.kind(), ErrorKind::CannotOpen { .. }),
        "{nowhere:?}"
    );

    // A truncated backup.
    let bytes = std::fs::read(&good.path).unwrap();
    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let target = dir.path().join("from-truncated.db");
    let err = Store::restore(&truncated, &target, Options::default()).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::RestoreRefused { .. }
                | ErrorKind::NotADatabase { .. }
                | ErrorKind::Corrupt { .. }
        ),
        "{err:?}"
    );
    assert!(!target.exists(), "nothing is left behind");

    // A corrupt backup: a b-tree page overwritten with noise.
    let mut corrupt = bytes.clone();
    let page = 4096 * 3;
    for b in &mut corrupt[page + 8..page + 400] {
        *b = 0xA5;
    }
    let corrupt_path = dir.path().join("corrupt.db");
    std::fs::write(&corrupt_path, &corrupt).unwrap();
    let target = dir.path().join("from-corrupt.db");
    let err = Store::restore(&corrupt_path, &target, Options::default()).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::RestoreRefused { .. }
                | ErrorKind::NotADatabase { .. }
                | ErrorKind::Corrupt { .. }
        ),
        "{err:?}"
    );
    assert!(!target.exists());

    // Not a database at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let err = Store::restore(&text, dir.path().join("t.db"), Options::default()).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::RestoreRefused { .. } | ErrorKind::NotADatabase { .. }
        ),
        "{err:?}"
    );

    // A restore onto an existing file is refused, and the good one works.
    let err = Store::restore(&good.path, &good.path, Options::default()).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Invalid { field, .. } if field == "target"));
    let restored =
        Store::restore(&good.path, dir.path().join("ok.db"), Options::default()).unwrap();
    assert_eq!(count(&restored), 1);
}
