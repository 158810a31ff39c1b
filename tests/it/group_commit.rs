//! Group commit on SQLite (docs/RELIABILITY.md, "Group commit"): one-shot
//! calls that wait for the writer join the transaction the unit before
//! them left open, each in a savepoint, and share its commit.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use custdb::{
    Currency, Decimal, Durability, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewVariant,
    NewWarehouse, Options, Store,
};

use crate::common::assert_consistent;

fn file_store(options: Options) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path().join("group.db"), options).unwrap();
    (dir, store)
}

/// Starts `calls` on threads while a unit of work holds the writer, and
/// releases the writer once they all wait for it: the unit then leaves its
/// transaction open for them. Returns the calls' results, in order.
fn behind_a_unit<T: Send + 'static>(
    store: &Store,
    calls: Vec<Box<dyn FnOnce(Store) -> T + Send>>,
) -> Vec<T> {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let mut handles = Vec::new();
    store
        .write(|tx| {
            tx.customers().create(NewCustomer::new("Leader"))?;
            for call in calls {
                let store = store.clone();
                let started = started_tx.clone();
                handles.push(thread::spawn(move || {
                    started.send(()).unwrap();
                    call(store)
                }));
                // One at a time, so the calls queue in this order.
                started_rx.recv().unwrap();
                thread::sleep(Duration::from_millis(100));
            }
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn units_waiting_for_the_writer_share_one_commit() {
    let (_dir, store) = file_store(Options::default());
    let before = store.write_stats();
    let calls: Vec<Box<dyn FnOnce(Store) -> custdb::Result<custdb::Customer> + Send>> = (0..3)
        .map(|i| {
            Box::new(move |s: Store| {
                s.customers()
                    .create(NewCustomer::new(format!("Follower {i}")))
            }) as Box<dyn FnOnce(Store) -> _ + Send>
        })
        .collect();
    let results = behind_a_unit(&store, calls);
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let after = store.write_stats();
    assert_eq!(after.units - before.units, 4, "the leader and three calls");
    assert!(
        after.commits - before.commits < 4,
        "they shared commits: {before:?} -> {after:?}"
    );
    // Every call returned after its commit: a fresh read sees all of them.
    for r in results {
        let c = r.unwrap();
        assert_eq!(
            store.customers().get(c.id).unwrap().display_name,
            c.display_name
        );
    }
    assert_consistent(&store);
    assert!(store.verify_audit().unwrap().is_ok());
}

#[test]
fn a_failing_unit_undoes_only_itself_and_later_units_see_earlier_ones() {
    let (_dir, store) = file_store(Options::default());
    // Each call reads the email back as soon as it returned: the call
    // that failed because an earlier one in its batch took the email
    // returns only once that commit is durable, so it finds it taken.
    let create = |name: &'static str, email: &'static str| {
        Box::new(move |s: Store| {
            let result = s.customers().create(NewCustomer::new(name).email(email));
            let seen = s.customers().get_by_email(email).is_ok();
            (result, seen)
        }) as Box<dyn FnOnce(Store) -> (custdb::Result<custdb::Customer>, bool) + Send>
    };
    let calls = vec![
        create("First", "same@example.com"),
        // Sees the first (uncommitted, in the same transaction) and fails.
        create("Second", "same@example.com"),
        create("Third", "third@example.com"),
    ];
    let before = store.write_stats();
    let outcomes = behind_a_unit(&store, calls);
    assert!(
        outcomes.iter().all(|(_, seen)| *seen),
        "a call returned before the commit that holds the email"
    );
    let results: Vec<_> = outcomes.into_iter().map(|(r, _)| r).collect();
    // The first of the two to run takes the email; the second sees it
    // (uncommitted, in the shared transaction) and fails alone.
    let failed: Vec<&custdb::Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failed.len(), 1, "{results:?}");
    assert!(failed[0].is_already_exists(), "{:?}", failed[0]);
    assert!(results[2].is_ok());
    let after = store.write_stats();
    assert_eq!(after.units - before.units, 3, "the leader and two calls");
    assert!(
        after.commits - before.commits < 3,
        "{before:?} -> {after:?}"
    );
    let mut names: Vec<String> = store
        .read(|r| r.customers().list(&Default::default(), None, 100))
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    names.sort();
    let survivor = if results[0].is_ok() {
        "First"
    } else {
        "Second"
    };
    let mut expected = vec!["Leader", survivor, "Third"];
    expected.sort();
    assert_eq!(names, expected);
    assert_consistent(&store);
    assert!(store.verify_audit().unwrap().is_ok());
}

#[test]
fn without_group_commit_every_unit_commits_alone() {
    let (_dir, store) = file_store(Options::default().group_commit(false));
    let before = store.write_stats();
    let calls: Vec<Box<dyn FnOnce(Store) -> custdb::Result<custdb::Customer> + Send>> = (0..3)
        .map(|i| {
            Box::new(move |s: Store| s.customers().create(NewCustomer::new(format!("F{i}"))))
                as Box<dyn FnOnce(Store) -> _ + Send>
        })
        .collect();
    for r in behind_a_unit(&store, calls) {
        r.unwrap();
    }
    let after = store.write_stats();
    assert_eq!(after.units - before.units, 4);
    assert_eq!(after.commits - before.commits, 4);
}

#[test]
fn a_unit_of_work_waiting_behind_a_batch_commits_it_first() {
    // A general unit of work never runs inside a shared transaction (its
    // closure could wait for another thread): it commits the open batch,
    // then begins its own.
    let (_dir, store) = file_store(Options::default());
    let calls: Vec<Box<dyn FnOnce(Store) -> custdb::Result<usize> + Send>> = vec![
        Box::new(|s: Store| {
            s.customers()
                .create(NewCustomer::new("One-shot"))
                .map(|_| 1)
        }),
        Box::new(|s: Store| {
            s.write(|tx| {
                tx.customers().create(NewCustomer::new("Unit A"))?;
                tx.customers().create(NewCustomer::new("Unit B"))?;
                Ok::<_, custdb::Error>(2)
            })
        }),
    ];
    let results = behind_a_unit(&store, calls);
    assert_eq!(results.into_iter().map(Result::unwrap).sum::<usize>(), 3);
    assert_eq!(
        store
            .read(|r| r.customers().list(&Default::default(), None, 100))
            .unwrap()
            .items
            .len(),
        4
    );
    assert_consistent(&store);
}

#[test]
fn reads_and_checks_never_see_an_open_batch() {
    // A read on the writer (an in-memory store has no reader pool) and a
    // check take the writer: they commit the open batch first.
    let store = Store::open_in_memory().unwrap();
    let calls: Vec<Box<dyn FnOnce(Store) -> custdb::Result<usize> + Send>> = vec![
        Box::new(|s: Store| s.customers().create(NewCustomer::new("Queued")).map(|_| 0)),
        Box::new(|s: Store| {
            s.read(|r| r.customers().list(&Default::default(), None, 10))
                .map(|p| p.items.len())
        }),
    ];
    let results = behind_a_unit(&store, calls);
    assert_eq!(*results[1].as_ref().unwrap(), 2, "the read saw both writes");
    assert_consistent(&store);
}

#[test]
fn many_threads_of_one_shot_calls_at_full_durability() {
    // The commerce and customer workloads from eight threads: everything
    // acknowledged is there, no stock is oversold, the chain is intact,
    // and (at Full durability, where each commit waits for the disk) the
    // threads shared commits.
    const THREADS: usize = 8;
    const EACH: usize = 40;
    let (_dir, store) = file_store(Options::default().durability(Durability::Full));
    let stock = 100;
    let (variant, warehouse) = store
        .write(|tx| {
            let p =
                tx.catalog()
                    .create_product(NewProduct::new("Scarce").variant(NewVariant::new(
                        "SCARCE",
                        Decimal::ONE,
                        Currency::GBP,
                    )))?;
            let w = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("W", "Warehouse"))?;
            tx.inventory().receive(p.variants[0].id, w.id, stock)?;
            Ok::<_, custdb::Error>((p.variants[0].id, w.id))
        })
        .unwrap();
    let before = store.write_stats();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                let (mut sold, mut duplicates_won) = (0, 0u64);
                for i in 0..EACH {
                    let c = match store.customers().create(
                        NewCustomer::new(format!("T{t} C{i}"))
                            .email(format!("t{t}c{i}@example.com")),
                    ) {
                        Ok(c) => c,
                        // A neighbour's "Dup" took this email first.
                        Err(e) if e.is_already_exists() => store
                            .customers()
                            .get_by_email(&format!("t{t}c{i}@example.com"))
                            .unwrap(),
                        Err(e) => panic!("{e:?}"),
                    };
                    match store.orders().place(
                        NewOrder::for_customer(c.id, Currency::GBP)
                            .line(NewOrderLine::new("SCARCE", 1)),
                    ) {
                        Ok(_) => sold += 1,
                        Err(e) if e.is_shortfall() => {}
                        Err(e) => panic!("{e:?}"),
                    }
                    // Acknowledged means committed: a read sees it at once.
                    assert_eq!(store.customers().get(c.id).unwrap().id, c.id);
                    // Calls that fail inside shared commits: an email
                    // another thread may hold in the same batch, and bad
                    // input. Each leaves nothing and the others commit.
                    let taken = format!("t{}c{i}@example.com", (t + 1) % THREADS);
                    match store
                        .customers()
                        .create(NewCustomer::new("Dup").email(taken))
                    {
                        Err(e) if e.is_already_exists() => {}
                        // The other thread has not created it yet: then
                        // this one holds it, and that thread's create
                        // must fail instead, which the counts below allow.
                        Ok(_) => duplicates_won += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                    let bad = store.customers().create(NewCustomer::new(""));
                    assert!(bad.unwrap_err().is_invalid());
                }
                (sold, duplicates_won)
            })
        })
        .collect();
    let (sold, duplicates_won) = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold((0i64, 0u64), |(s, d), (ts, td)| (s + ts, d + td));
    assert_eq!(sold, stock, "every unit sold once, none twice");
    let level = store.inventory().level(variant, warehouse).unwrap();
    assert_eq!((level.on_hand, level.reserved), (stock, stock));
    let after = store.write_stats();
    // One customer per (thread, i) email, whoever created it, and the
    // orders sold; the failed calls count nothing.
    assert_eq!(
        after.units - before.units,
        (THREADS * EACH) as u64 + sold as u64
    );
    eprintln!("{duplicates_won} neighbours' emails taken first");
    eprintln!(
        "{} units in {} commits",
        after.units - before.units,
        after.commits - before.commits
    );
    assert_consistent(&store);
    assert!(store.verify_audit().unwrap().is_ok());
}

#[test]
fn the_setting_is_accepted_on_every_engine_and_counts_only_on_sqlite() {
    // PostgreSQL groups commits itself: the option changes nothing there,
    // and the writer statistics stay at zero (docs/RELIABILITY.md).
    for group_commit in [true, false] {
        for (engine, on) in
            crate::common::every_engine_with(Options::default().group_commit(group_commit))
        {
            let store: Store = (*on).clone();
            let c = store
                .customers()
                .create(NewCustomer::new("Counted"))
                .unwrap();
            assert_eq!(store.customers().get(c.id).unwrap().id, c.id);
            let stats = store.write_stats();
            if engine == "SQLite" {
                assert_eq!((stats.units, stats.commits), (1, 1), "{engine}");
            } else {
                assert_eq!(stats, custdb::WriteStats::default(), "{engine}");
            }
        }
    }
}
