//! Units of work, the audit trail, and concurrency: commit on Ok, roll back
//! on Err or panic, one audit row per mutation with its actor, snapshots for
//! readers, many threads and two stores on one file.

use std::sync::mpsc;
use std::time::Duration;

use crate::common::{assert_consistent, file_store};
use custdb::{
    Actor, AddressKind, AddressPatch, Channel, CustomerFilter, CustomerPatch, Direction, ErrorKind,
    InteractionKind, NewAddress, NewCustomer, NewInteraction, Options, Store,
};

fn count(store: &Store) -> usize {
    store
        .customers()
        .list(
            &CustomerFilter::default().archived(custdb::ArchiveState::All),
            None,
            1000,
        )
        .unwrap()
        .items
        .len()
}

#[test]
fn an_err_rolls_back_everything_including_the_audit() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let audit_before = store.read(|r| r.audit().count()).unwrap();
        let result: custdb::Result<()> = store.write(|tx| {
            tx.customers().create(NewCustomer::new("Ann"))?;
            tx.customers().create(NewCustomer::new("Bob"))?;
            Err(tx.customers().get(custdb::CustomerId::new()).unwrap_err())
        });
        assert!(result.unwrap_err().is_not_found());
        assert_eq!(count(&store), 0);
        assert_eq!(store.read(|r| r.audit().count()).unwrap(), audit_before);
    }
}

#[test]
fn a_panic_rolls_back_and_the_store_stays_usable() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let s2 = store.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s2.write(|tx| {
                tx.customers().create(NewCustomer::new("Ann"))?;
                panic!("application bug inside a unit of work");
                #[allow(unreachable_code)]
                Ok::<_, custdb::Error>(())
            })
        }));
        assert!(outcome.is_err());
        assert_eq!(count(&store), 0);
        store.customers().create(NewCustomer::new("Bob")).unwrap();
        assert_eq!(count(&store), 1);
        assert_consistent(&store);
    }
}

#[test]
fn every_mutation_writes_one_audit_row_with_its_actor() {
    let clerk = Actor::new("clerk-1", "Clerk One").unwrap();
    for (engine, store) in crate::common::every_engine_with(Options::default().actor(clerk.clone()))
    {
        eprintln!("on {engine}");
        let other = Actor::new("svc-import", "Importer").unwrap();

        let c = store
            .customers()
            .create(NewCustomer::new("Ann").email("ann@example.com"))
            .unwrap();
        let a = store
            .customers()
            .add_address(
                c.id,
                NewAddress::new(AddressKind::Billing, "1 A St", "Leeds", "GB"),
            )
            .unwrap();
        let a2 = store
            .customers()
            .add_address(
                c.id,
                NewAddress::new(AddressKind::Billing, "2 B St", "Leeds", "GB"),
            )
            .unwrap();
        let i = store
            .customers()
            .add_interaction(
                c.id,
                NewInteraction::new(Channel::Web, Direction::Inbound, InteractionKind::Note)
                    .subject("x"),
            )
            .unwrap();
        // (action, entity type, entity id, the call that should audit it)
        type Step<'a> = (&'a str, &'a str, String, Box<dyn Fn() + 'a>);
        let steps: Vec<Step> = vec![
            (
                "update",
                "customer",
                c.id.to_string(),
                Box::new(|| {
                    let cur = store.customers().get(c.id).unwrap();
                    store
                        .customers()
                        .update(
                            c.id,
                            cur.version,
                            CustomerPatch::default().company("Co").given_name("Ann"),
                        )
                        .unwrap();
                }),
            ),
            (
                "tag",
                "customer",
                c.id.to_string(),
                Box::new(|| {
                    store.customers().add_tags(c.id, &["vip"]).unwrap();
                }),
            ),
            (
                "untag",
                "customer",
                c.id.to_string(),
                Box::new(|| {
                    store.customers().remove_tags(c.id, &["vip"]).unwrap();
                }),
            ),
            (
                "update",
                "address",
                a.id.to_string(),
                Box::new(|| {
                    store
                        .customers()
                        .update_address(
                            a.id,
                            AddressPatch {
                                city: Some("York".into()),
                                ..Default::default()
                            },
                        )
                        .unwrap();
                }),
            ),
            (
                "set_default",
                "address",
                a2.id.to_string(),
                Box::new(|| {
                    store.customers().set_default_address(a2.id).unwrap();
                }),
            ),
            (
                "delete",
                "address",
                a.id.to_string(),
                Box::new(|| {
                    store.customers().delete_address(a.id).unwrap();
                }),
            ),
            (
                "archive",
                "customer",
                c.id.to_string(),
                Box::new(|| {
                    store.customers().archive(c.id).unwrap();
                }),
            ),
            (
                "restore",
                "customer",
                c.id.to_string(),
                Box::new(|| {
                    store.customers().restore(c.id).unwrap();
                }),
            ),
        ];
        for (action, entity, id, step) in &steps {
            let before = store.read(|r| r.audit().count()).unwrap();
            step();
            assert_eq!(
                store.read(|r| r.audit().count()).unwrap(),
                before + 1,
                "{action} {entity}"
            );
            let last = store
                .read(|r| r.audit().for_entity(entity, id, 1000))
                .unwrap()
                .pop()
                .unwrap();
            assert_eq!(last.action, *action);
            assert_eq!(last.actor_id, "clerk-1");
            assert_eq!(last.actor_name, "Clerk One");
        }
        let update = &store
            .read(|r| r.audit().for_entity("customer", &c.id.to_string(), 100))
            .unwrap()[1];
        assert_eq!(update.changed_fields, vec!["given_name", "company"]);
        let create = &store
            .read(|r| r.audit().for_entity("customer", &c.id.to_string(), 100))
            .unwrap()[0];
        assert_eq!(create.action, "create");
        assert_eq!(create.changed_fields, vec!["display_name", "email"]);
        let created_interaction = store
            .read(|r| r.audit().for_entity("interaction", &i.id.to_string(), 10))
            .unwrap();
        assert_eq!(created_interaction.len(), 1);

        // A unit of work can name its own actor.
        let d = store
            .write_as(&other, |tx| {
                tx.customers().create(NewCustomer::new("Imported"))
            })
            .unwrap();
        let entries = store
            .read(|r| r.audit().for_entity("customer", &d.id.to_string(), 10))
            .unwrap();
        assert_eq!(entries[0].actor_id, "svc-import");
        assert_consistent(&store);
    }
}

#[test]
fn a_read_sees_one_snapshot_while_a_writer_commits() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        store
            .customers()
            .create(NewCustomer::new("Before"))
            .unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let writer = store.clone();
        let handle = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            writer
                .customers()
                .create(NewCustomer::new("During"))
                .unwrap();
            done_tx.send(()).unwrap();
        });
        let (first, second) = store
            .read(|r| {
                let all = CustomerFilter::default();
                let first = r.customers().list(&all, None, 100)?.items.len();
                go_tx.send(()).unwrap();
                // The writer commits while this read transaction is open.
                done_rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("writer finished");
                let second = r.customers().list(&all, None, 100)?.items.len();
                Ok::<_, custdb::Error>((first, second))
            })
            .unwrap();
        handle.join().unwrap();
        assert_eq!((first, second), (1, 1), "the snapshot does not move");
        assert_eq!(count(&store), 2, "a new read sees the commit");
    }
}

#[test]
fn many_threads_write_and_read_at_once() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let c = store
                            .customers()
                            .create(
                                NewCustomer::new(format!("T{t} C{i}"))
                                    .email(format!("t{t}c{i}@example.com")),
                            )
                            .unwrap();
                        assert_eq!(store.customers().get(c.id).unwrap().id, c.id);
                        store.customers().search("c1", 10).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(count(&store), 100);
        assert_consistent(&store);
    }
}

#[test]
fn two_stores_on_one_file_share_writes_through_the_lock() {
    let (dir, a) = file_store();
    let b = Store::open(dir.path().join("test.db")).unwrap();
    let ta = {
        let a = a.clone();
        std::thread::spawn(move || {
            for i in 0..30 {
                a.customers()
                    .create(NewCustomer::new(format!("A{i}")))
                    .unwrap();
            }
        })
    };
    for i in 0..30 {
        b.customers()
            .create(NewCustomer::new(format!("B{i}")))
            .unwrap();
    }
    ta.join().unwrap();
    assert_eq!(count(&a), 60);
    assert_eq!(count(&b), 60);
    assert_consistent(&a);
}

#[test]
fn a_lock_held_past_the_busy_timeout_is_a_busy_error() {
    let (dir, a) = file_store();
    let b = Store::open_with(
        dir.path().join("test.db"),
        Options::default().busy_timeout(Duration::from_millis(50)),
    )
    .unwrap();
    let (locked_tx, locked_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        a.write(|tx| {
            tx.customers().create(NewCustomer::new("Holder"))?;
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    });
    locked_rx.recv().unwrap();
    let err = b
        .customers()
        .create(NewCustomer::new("Waiter"))
        .unwrap_err();
    assert!(err.is_busy(), "{err:?}");
    assert_eq!(err.kind(), &ErrorKind::Busy);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(count(&b), 1);
}

fn is_reentrant(err: &custdb::Error) -> bool {
    matches!(err.kind(), ErrorKind::Reentrant { .. })
}

#[test]
fn a_store_call_inside_its_own_unit_of_work_fails_at_once_instead_of_hanging() {
    for in_memory in [false, true] {
        let (_dir, store) = if in_memory {
            (None, Store::open_in_memory().unwrap())
        } else {
            let (dir, store) = file_store();
            (Some(dir), store)
        };
        let outer = store
            .write(|tx| {
                tx.customers().create(NewCustomer::new("Outer"))?;
                // A one-shot write (and the same through a clone) inside a
                // write of the same store waits for itself: refused at once.
                let err = store
                    .customers()
                    .create(NewCustomer::new("Inner"))
                    .unwrap_err();
                assert!(is_reentrant(&err), "{err}");
                let err = store.clone().write(|_| Ok(())).unwrap_err();
                assert!(is_reentrant(&err), "{err}");
                assert!(err.to_string().contains("use the transaction"), "{err}");
                // A read inside the write: from the reader pool it sees the
                // snapshot before the write; an in-memory store's reads share
                // the writer, so there it is refused.
                match store.read(|r| r.customers().list(&CustomerFilter::default(), None, 10)) {
                    Ok(page) => {
                        assert!(!in_memory);
                        assert!(page.items.is_empty());
                    }
                    Err(err) => {
                        assert!(in_memory && is_reentrant(&err), "{err}");
                    }
                }
                Ok::<_, custdb::Error>("committed")
            })
            .unwrap();
        assert_eq!(outer, "committed");
        assert_eq!(count(&store), 1, "the outer unit of work committed");
        // The store is usable afterwards, and so is a read inside a read.
        store.customers().create(NewCustomer::new("After")).unwrap();
        let nested = store
            .read(|_| Ok::<_, custdb::Error>(store.read(|_| Ok(1))))
            .unwrap();
        match nested {
            Ok(_) => assert!(!in_memory),
            Err(err) => assert!(in_memory && is_reentrant(&err), "{err}"),
        }
        assert_consistent(&store);
    }
}

#[test]
fn a_read_inside_reads_holding_every_pooled_reader_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path().join("test.db"),
        Options::default().reader_pool_size(2),
    )
    .unwrap();
    let innermost = store
        .read(|_| store.read(|_| Ok::<_, custdb::Error>(store.read(|_| Ok(())))))
        .unwrap();
    let err = innermost.unwrap_err();
    assert!(is_reentrant(&err), "{err}");
}

#[test]
fn waiting_for_a_busy_writer_or_reader_pool_in_this_process_ends_in_busy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path().join("test.db"),
        Options::default()
            .busy_timeout(Duration::from_millis(100))
            .reader_pool_size(1),
    )
    .unwrap();
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = {
        let store = store.clone();
        std::thread::spawn(move || {
            store
                .write(|_| {
                    store.read(|_| {
                        held_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                        Ok::<_, custdb::Error>(())
                    })
                })
                .unwrap();
        })
    };
    held_rx.recv().unwrap();
    // The writer lock (a clone of the same store, so SQLite never sees the
    // wait) and the only pooled reader are held by the other thread.
    let err = store
        .customers()
        .create(NewCustomer::new("Waiter"))
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Busy, "{err}");
    let err = store.read(|_| Ok::<_, custdb::Error>(())).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Busy, "{err}");
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    store.customers().create(NewCustomer::new("Later")).unwrap();
    assert_eq!(count(&store), 1);
}
