//! Injected I/O faults: the store's connections go through a fault-injecting
//! VFS (`testing/faultvfs`) that fails the Nth read, write, sync or lock,
//! once or from the Nth on, for every N a scenario reaches. The scenario
//! opens an existing store, commits a customer and an order (one unit of
//! work) and closes. For each fault: every call returns, Ok or a typed
//! error (an I/O error, a full disk...), never a panic; then, faults off,
//! the file reopens with `check()` clean, everything committed before is
//! there, and the scenario's unit of work is all there if it was
//! acknowledged, and all there or all absent if not.

use custdb::Currency;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use custdb::{CustomerFilter, NewCustomer, NewOrder, NewOrderLine, Options, Store};
use custdb_faultvfs::{Fault, Op, OPS};

/// Customers the baseline file holds.
const BASELINE: usize = 50;

fn baseline(path: &Path) {
    let store = Store::open(path).unwrap();
    store
        .write(|tx| {
            crate::common::stock_tea(tx, "W", 1000)?;
            for n in 0..BASELINE {
                tx.customers().create(
                    NewCustomer::new(format!("Base {n}")).email(format!("base{n}@example.com")),
                )?;
            }
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    store.checkpoint().unwrap();
}

/// The errors a fault may surface as.
fn typed(e: &custdb::Error) -> bool {
    e.is_io()
        || e.is_disk_full()
        || e.is_busy()
        || matches!(
            e.kind(),
            custdb::ErrorKind::CannotOpen { .. } | custdb::ErrorKind::Corrupt { .. }
        )
}

/// Opens through the fault VFS, writes one unit of work, reads it back,
/// closes. Returns whether the unit of work was acknowledged.
fn scenario(path: &Path) -> Result<bool, custdb::Error> {
    let store = Store::open_with(
        path,
        Options::default()
            .vfs(custdb_faultvfs::register())
            .reader_pool_size(1),
    )?;
    let written = store.write(|tx| {
        let c = tx
            .customers()
            .create(NewCustomer::new("Faulted").email("faulted@example.com"))?;
        tx.orders()
            .place(NewOrder::for_customer(c.id, Currency::GBP).line(NewOrderLine::new("TEA", 2)))?;
        Ok(())
    });
    let acknowledged = written.is_ok();
    if let Err(e) = written {
        assert!(typed(&e), "write: {e:?}");
    }
    // Reads after the write (they may fail too; they must return).
    if let Err(e) = store
        .customers()
        .list(&CustomerFilter::default(), None, 100)
    {
        assert!(typed(&e), "read: {e:?}");
    }
    drop(store);
    Ok(acknowledged)
}

/// Faults off: the file is whole, nothing committed is lost, and the
/// scenario's unit of work is all there or all absent.
fn verify(path: &Path, acknowledged: bool, what: &str) {
    custdb_faultvfs::arm(None);
    let store = Store::open(path).unwrap_or_else(|e| panic!("{what}: reopen: {e:?}"));
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{what}: {:?}", report.problems);
    let customers = store
        .customers()
        .list(&CustomerFilter::default(), None, 1000)
        .unwrap()
        .items;
    let base = customers
        .iter()
        .filter(|c| c.display_name.starts_with("Base "))
        .count();
    assert_eq!(base, BASELINE, "{what}: committed customers lost");
    let faulted = customers
        .iter()
        .find(|c| c.display_name == "Faulted")
        .map(|c| c.id);
    let orders = match faulted {
        Some(id) => store
            .read(|r| r.orders().history(id, None, 10))
            .unwrap()
            .items
            .len(),
        None => 0,
    };
    assert_eq!(
        faulted.is_some(),
        orders == 1,
        "{what}: half a unit of work (customer without its order or the reverse)"
    );
    if acknowledged {
        assert!(
            faulted.is_some(),
            "{what}: an acknowledged unit of work is missing"
        );
    }
}

#[test]
fn every_injected_io_fault_is_typed_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.db");
    baseline(&template);
    // A run without faults counts the calls the scenario makes.
    let work = dir.path().join("count.db");
    std::fs::copy(&template, &work).unwrap();
    custdb_faultvfs::register();
    custdb_faultvfs::arm(None);
    assert!(scenario(&work).unwrap());
    let counts = custdb_faultvfs::counts();
    verify(&work, true, "no fault");
    assert!(
        counts.iter().all(|&c| c > 0),
        "calls per operation: {counts:?}"
    );

    let mut runs = 0;
    let mut refused = 0;
    for op in OPS {
        for nth in 1..=counts[op as usize] {
            for persistent in [false, true] {
                for full in [false, true] {
                    if full && op != Op::Write {
                        continue;
                    }
                    let what = format!(
                        "{op:?} #{nth}{}{}",
                        if persistent { " and after" } else { "" },
                        if full { " (disk full)" } else { "" }
                    );
                    let work = dir.path().join("work.db");
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", work.display()));
                    }
                    std::fs::copy(&template, &work).unwrap();
                    custdb_faultvfs::arm(Some(Fault {
                        op,
                        nth,
                        persistent,
                        full,
                    }));
                    let outcome = catch_unwind(AssertUnwindSafe(|| scenario(&work)));
                    let acknowledged = match outcome {
                        Err(_) => panic!("{what}: custdb panicked"),
                        Ok(Ok(acknowledged)) => acknowledged,
                        Ok(Err(e)) => {
                            assert!(typed(&e), "{what}: open: {e:?}");
                            false
                        }
                    };
                    if !acknowledged {
                        refused += 1;
                    }
                    verify(&work, acknowledged, &what);
                    runs += 1;
                }
            }
        }
    }
    println!(
        "io faults: calls per run {counts:?} (read, write, sync, lock); {runs} faulted runs, \
         {refused} refused the unit of work; every one typed, nothing committed lost"
    );
    assert!(refused > 0, "the faults never bit");
}
