//! Faults from below: a full disk (through `Options::max_size_bytes`, which
//! makes SQLite report `SQLITE_FULL` exactly as a full file system does)
//! and damaged or foreign database files (byte flips in the header and in
//! b-tree pages, truncation, zero length, other formats). Each gives a
//! typed error, never a panic; nothing committed is lost; after a full
//! disk the store goes on once there is room.

use custdb::Currency;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use custdb::{
    CustomerFilter, NewCustomer, NewOrder, NewOrderLine, Options, Store, MIN_MAX_SIZE_BYTES,
};

fn count_customers(store: &Store) -> usize {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = store
            .customers()
            .list(&CustomerFilter::default(), cursor.as_ref(), 1000)
            .unwrap();
        n += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return n,
        }
    }
}

#[test]
fn a_full_disk_is_a_typed_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.db");
    let capped = Options::default().max_size_bytes(MIN_MAX_SIZE_BYTES);
    let store = Store::open_with(&path, capped.clone()).unwrap();
    let variant = store
        .write(|tx| crate::common::stock_tea(tx, "W", 1_000_000))
        .unwrap();
    // Fill the file: units of work of 50 customers until one fails.
    let mut committed = 0usize;
    let error = loop {
        let result = store.write(|tx| {
            for n in 0..50 {
                tx.customers().create(
                    NewCustomer::new(format!("Filler {committed} {n}"))
                        .email(format!("f{committed}-{n}@example.com"))
                        .notes("x".repeat(2000)),
                )?;
            }
            Ok::<_, custdb::Error>(())
        });
        match result {
            Ok(()) => committed += 50,
            Err(e) => break e,
        }
        assert!(committed < 100_000, "the cap never bit");
    };
    assert!(error.is_disk_full(), "{error:?}");
    assert!(error.to_string().contains("full"), "{error}");
    // The failed unit of work left nothing behind.
    assert_eq!(count_customers(&store), committed);
    // Single writes fail the same way; an order placement too.
    let customer = store
        .customers()
        .list(&CustomerFilter::default(), None, 1)
        .unwrap()
        .items[0]
        .id;
    let big_order = (0..1).fold(NewOrder::for_customer(customer, Currency::GBP), |o, _| {
        o.line(NewOrderLine::new("TEA", 1))
            .note("y".repeat(custdb::order::MAX_NOTE_LEN))
    });
    let mut placed = 0;
    loop {
        match store.write(|tx| tx.orders().place(big_order.clone())) {
            Ok(_) => placed += 1,
            Err(e) => {
                assert!(e.is_disk_full(), "{e:?}");
                break;
            }
        }
        assert!(placed < 10_000, "the cap never bit");
    }
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let level = store
        .read(|r| r.inventory().levels(variant))
        .unwrap()
        .into_iter()
        .map(|l| l.reserved)
        .sum::<i64>();
    assert_eq!(level, placed as i64, "a refused placement reserved nothing");
    drop(store);

    // Room again: everything committed is there and writing goes on.
    let store = Store::open(&path).unwrap();
    assert_eq!(count_customers(&store), committed);
    store
        .customers()
        .create(NewCustomer::new("After the disk was freed"))
        .unwrap();
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn a_size_cap_below_the_minimum_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open_with(
        dir.path().join("x.db"),
        Options::default().max_size_bytes(MIN_MAX_SIZE_BYTES - 1),
    )
    .unwrap_err();
    assert!(err.is_invalid());
    assert!(err.to_string().contains("options.max_size_bytes"), "{err}");
    assert!(!dir.path().join("x.db").exists());
}

/// A valid store of a few hundred customers and an order, checkpointed so
/// the file alone holds everything.
fn healthy(dir: &Path) -> Vec<u8> {
    let path = dir.join("healthy.db");
    let store = Store::open(&path).unwrap();
    store
        .write(|tx| {
            for n in 0..300 {
                tx.customers().create(
                    NewCustomer::new(format!("Person {n}"))
                        .email(format!("p{n}@example.com"))
                        .notes("some notes ".repeat(n % 20)),
                )?;
            }
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    store.checkpoint().unwrap();
    drop(store);
    std::fs::read(&path).unwrap()
}

/// Opens a damaged file and uses it. Every call must return (Ok or a typed
/// error); a panic fails the test naming the damage.
fn exercise(bytes: &[u8], what: &str) -> &'static str {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.db");
    std::fs::write(&path, bytes).unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let store = match Store::open(&path) {
            Ok(s) => s,
            Err(e) => {
                // Typed: the kinds a damaged or foreign file can give.
                assert!(
                    matches!(
                        e.kind(),
                        custdb::ErrorKind::NotADatabase { .. }
                            | custdb::ErrorKind::NotCustdb { .. }
                            | custdb::ErrorKind::Corrupt { .. }
                            | custdb::ErrorKind::SchemaTooNew { .. }
                            | custdb::ErrorKind::SchemaTooOld { .. }
                            | custdb::ErrorKind::MigrationMismatch { .. }
                            | custdb::ErrorKind::CannotOpen { .. }
                            | custdb::ErrorKind::WrongKey { .. }
                            | custdb::ErrorKind::Database { .. }
                    ),
                    "{what}: open gave {e:?}"
                );
                return "refused at open";
            }
        };
        // Opened: every use returns, and check() reports what is wrong.
        let _ = store
            .customers()
            .list(&CustomerFilter::default(), None, 100);
        let _ = store.customers().get_by_email("p7@example.com");
        let _ = store.customers().search("person", 10);
        let _ = store.customers().create(NewCustomer::new("New"));
        let _ = store.verify_audit();
        match store.check() {
            Ok(report) if report.is_ok() => "opened, check clean",
            Ok(_) => "opened, check found the damage",
            Err(_) => "opened, check failed with an error",
        }
    }));
    match outcome {
        Ok(kind) => kind,
        Err(_) => panic!("{what}: custdb panicked"),
    }
}

#[test]
fn damaged_and_foreign_files_give_typed_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = healthy(dir.path());
    let page_size = u16::from_be_bytes([good[16], good[17]]) as usize;
    let pages = good.len() / page_size;
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    let mut run = |bytes: Vec<u8>, what: String| {
        *tally.entry(exercise(&bytes, &what)).or_default() += 1;
    };
    // Zero length, and files of other formats.
    run(Vec::new(), "zero length".into());
    run(b"id,name\n1,Ann\n".to_vec(), "a CSV file".into());
    run(
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        "a PNG header".into(),
    );
    run(vec![0u8; 8192], "8 KiB of zeros".into());
    run(
        b"SQLite format 3\0".to_vec(),
        "the magic string alone".into(),
    );
    // Every byte of the 100-byte header, flipped.
    for i in 0..100 {
        let mut b = good.clone();
        b[i] ^= 0xFF;
        run(b, format!("header byte {i} flipped"));
    }
    // Truncated at page boundaries and inside pages.
    for cut in [1, 50, 99, 100, 512, page_size - 1, page_size, page_size + 7] {
        run(
            good[..cut.min(good.len())].to_vec(),
            format!("cut at {cut}"),
        );
    }
    for p in (1..pages).step_by((pages / 12).max(1)) {
        run(
            good[..p * page_size].to_vec(),
            format!("cut after page {p}"),
        );
        run(
            good[..p * page_size + page_size / 2].to_vec(),
            format!("cut inside page {}", p + 1),
        );
    }
    // B-tree pages: page headers, cell pointers and cell content, flipped
    // one position at a time, spread over every page.
    // CUSTDB_DAMAGE_FLIPS sets the flips per page for a longer run.
    let flips: usize = std::env::var("CUSTDB_DAMAGE_FLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for p in 1..pages {
        for _ in 0..flips {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let offset = p * page_size + (seed as usize % page_size);
            let mut b = good.clone();
            b[offset] ^= 1 << ((seed >> 60) as u8 % 8);
            run(
                b,
                format!("page {} byte {} flipped", p + 1, offset % page_size),
            );
        }
        // The page header itself (type, freeblock, cell count).
        let mut b = good.clone();
        b[p * page_size] ^= 0x55;
        b[p * page_size + 3] ^= 0x55;
        run(b, format!("page {} header flipped", p + 1));
    }
    println!("damaged files: {tally:?}");
    let total: usize = tally.values().sum();
    assert!(total > 300, "{total} cases");
    // The damage was seen: not every case can have opened clean.
    assert!(tally.get("refused at open").copied().unwrap_or(0) > 0);
    assert!(
        tally
            .get("opened, check found the damage")
            .copied()
            .unwrap_or(0)
            > 0
    );
}
