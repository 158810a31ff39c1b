//! The hash-chained audit trail: verification catches every kind of
//! tampering, queries page through it, and erasure leaves it verifiable.

use crate::common::{assert_consistent, every_engine, file_store, OnEngine};
use chrono::{Duration, Utc};
use custdb::{Actor, AuditFilter, BreakReason, CustomerPatch, NewCustomer, Options, Store};

/// Writes a trail of six entries by two actors.
fn fill_trail(store: &Store) {
    let clerk = Actor::new("clerk-1", "Clerk One").unwrap();
    for i in 0..3 {
        let c = store
            .customers()
            .create(NewCustomer::new(format!("Customer {i}")))
            .unwrap();
        store
            .write_as(&clerk, |tx| {
                tx.customers()
                    .update(c.id, c.version, CustomerPatch::default().company("Acme"))
            })
            .unwrap();
    }
}

/// The trail of [`fill_trail`] on every engine, chained (on PostgreSQL
/// entries join the chain a moment after their commit, and an entry
/// altered before it is chained is chained as altered: the chain protects
/// what it covers; `verify_audit` chains first).
fn trails() -> Vec<(&'static str, OnEngine)> {
    let all = every_engine();
    for (_, on) in &all {
        fill_trail(on);
        assert_eq!(on.verify_audit().unwrap().pending, 0);
    }
    all
}

/// Tampers with the trail behind custdb's back, its triggers out of the way.
fn tamper(on: &OnEngine, sql: &str) {
    on.tamper(
        "audit_log",
        &[
            "audit_log_no_update",
            "audit_log_no_delete",
            "audit_log_hashed",
        ],
        sql,
    );
}

fn broken_at(store: &Store) -> (i64, BreakReason) {
    let v = store.verify_audit().unwrap();
    let b = v.broken.expect("the tampering is detected");
    assert!(!store.check().unwrap().is_ok(), "check() reports it too");
    (b.seq, b.reason)
}

#[test]
fn an_untouched_trail_verifies() {
    for (engine, on) in trails() {
        eprintln!("on {engine}");
        let v = on.verify_audit().unwrap();
        assert!(v.is_ok());
        assert_eq!(v.entries, 6);
        assert_eq!(v.head.unwrap().seq, 6);
        assert_consistent(&on);
    }
}

#[test]
fn an_altered_entry_is_detected() {
    for (engine, on) in trails() {
        eprintln!("on {engine}");
        tamper(
            &on,
            "UPDATE audit_log SET actor_id = 'someone-else' WHERE seq = 4",
        );
        assert_eq!(broken_at(&on), (4, BreakReason::Altered));
    }
}

#[test]
fn a_deleted_entry_is_detected() {
    for (engine, on) in trails() {
        eprintln!("on {engine}");
        tamper(&on, "DELETE FROM audit_log WHERE seq = 3");
        assert_eq!(broken_at(&on), (4, BreakReason::Unlinked));
    }
}

#[test]
fn an_inserted_entry_is_detected() {
    // An entry slipped in before the first, correctly hashed on its own:
    // the first real entry no longer follows it.
    let forged = custdb::audit::entry_hash(
        custdb::audit::GENESIS_HASH,
        0,
        "2020-01-01T00:00:00.000000Z",
        "mallory",
        "Mallory",
        "delete",
        "customer",
        "x",
        "[]",
    );
    for (engine, on) in trails() {
        eprintln!("on {engine}");
        tamper(
            &on,
            &format!(
                "INSERT INTO audit_log (seq, at, actor_id, actor_name, action, entity_type, \
                 entity_id, changed_fields, prev_hash, hash) VALUES (0, \
                 '2020-01-01T00:00:00.000000Z', 'mallory', 'Mallory', 'delete', 'customer', 'x', \
                 '[]', '{}', '{forged}')",
                custdb::audit::GENESIS_HASH
            ),
        );
        assert_eq!(broken_at(&on), (1, BreakReason::Unlinked));
    }
}

#[test]
fn reordered_entries_are_detected() {
    for (engine, on) in trails() {
        eprintln!("on {engine}");
        // Swap entries 2 and 3 whole (content and hashes).
        tamper(
            &on,
            "UPDATE audit_log SET seq = -2 WHERE seq = 2; \
             UPDATE audit_log SET seq = 2 WHERE seq = 3; \
             UPDATE audit_log SET seq = 3 WHERE seq = -2;",
        );
        let (seq, reason) = broken_at(&on);
        assert_eq!(seq, 2);
        assert!(matches!(
            reason,
            BreakReason::Altered | BreakReason::Unlinked
        ));
    }
}

#[test]
fn a_cut_tail_is_caught_by_a_saved_head() {
    for (engine, on) in trails() {
        eprintln!("on {engine}");
        let head = on.read(|r| r.audit().head()).unwrap().unwrap();
        tamper(&on, "DELETE FROM audit_log WHERE seq >= 5");
        assert!(on.verify_audit().unwrap().is_ok(), "the rest still chains");
        let v = on.read(|r| r.audit().verify_against(&head)).unwrap();
        assert_eq!(v.broken.unwrap().reason, BreakReason::HeadMismatch);
    }
}

#[test]
fn queries_by_entity_actor_and_time_are_paginated() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        fill_trail(&store);
        let by_clerk = |cursor: Option<&custdb::Cursor>| {
            store
                .read(|r| {
                    r.audit()
                        .query(&AuditFilter::default().actor("clerk-1"), cursor, 2)
                })
                .unwrap()
        };
        let first = by_clerk(None);
        assert_eq!(first.items.len(), 2);
        let second = by_clerk(first.next_cursor.as_ref());
        assert_eq!(second.items.len(), 1);
        assert!(second.next_cursor.is_none());
        let all: Vec<_> = first.items.iter().chain(&second.items).collect();
        assert!(all
            .iter()
            .all(|e| e.actor_id == "clerk-1" && e.action == "update"));
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));

        let customer = &all[0].entity_id;
        let about = store
            .read(|r| {
                r.audit().query(
                    &AuditFilter::default().entity("customer", customer.clone()),
                    None,
                    10,
                )
            })
            .unwrap();
        assert_eq!(
            about
                .items
                .iter()
                .map(|e| e.action.as_str())
                .collect::<Vec<_>>(),
            vec!["create", "update"]
        );
        let now = Utc::now();
        let window = store
            .read(|r| {
                r.audit().query(
                    &AuditFilter::default()
                        .between(now - Duration::hours(1), now + Duration::hours(1)),
                    None,
                    100,
                )
            })
            .unwrap();
        assert_eq!(window.items.len(), 6);
        let past = store
            .read(|r| {
                r.audit().query(
                    &AuditFilter::default()
                        .between(now - Duration::days(2), now - Duration::days(1)),
                    None,
                    100,
                )
            })
            .unwrap();
        assert!(past.items.is_empty());
    }
}

#[test]
fn erasure_leaves_the_chain_verifiable() {
    for (engine, store) in trails() {
        eprintln!("on {engine}");
        let c = store
            .customers()
            .create(NewCustomer::new("Leaving").email("leaving@example.com"))
            .unwrap();
        store.erase_customer(c.id).unwrap();
        assert!(store.verify_audit().unwrap().is_ok());
        assert_consistent(&store);
    }
}

#[test]
fn concurrent_writers_keep_one_chain() {
    let (dir, store) = file_store();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..25 {
                    store
                        .customers()
                        .create(NewCustomer::new(format!("T{t} C{i}")))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(store.verify_audit().unwrap().entries, 100);
    assert!(store.verify_audit().unwrap().is_ok());
    let other = Store::open_with(dir.path().join("test.db"), Options::default()).unwrap();
    assert!(other.verify_audit().unwrap().is_ok());
}

/// On PostgreSQL a unit of work's entries join the chain just after its
/// commit. While another unit holds the chain's lock shared (it has
/// inserted its entries and not committed), a committed unit's entries
/// wait, counted as pending; the other unit's chain step then chains them
/// all, in `seq` order, with no gap.
#[test]
fn postgres_entries_join_the_chain_after_commit() {
    use std::sync::mpsc;
    let Some(cluster) = crate::engines::cluster() else {
        return;
    };
    let (_, store) = crate::engines::postgres_store(cluster);
    fill_trail(&store);
    let before = store.verify_audit().unwrap();
    assert_eq!((before.entries, before.pending), (6, 0), "{before:?}");
    let (inserted_tx, inserted) = mpsc::channel();
    let (go_tx, go) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let holder = store.clone();
        let held = s.spawn(move || {
            holder
                .write(|tx| {
                    tx.customers().create(NewCustomer::new("Held"))?;
                    // Reading the trail inserts the unit's entry now, and
                    // with it takes the chain's lock shared to the commit.
                    tx.audit().count()?;
                    inserted_tx.send(()).unwrap();
                    go.recv().unwrap();
                    Ok::<_, custdb::Error>(())
                })
                .unwrap();
        });
        inserted.recv().unwrap();
        let quick = store.customers().create(NewCustomer::new("Quick")).unwrap();
        let v = store.verify_audit().unwrap();
        assert!(v.is_ok(), "{v:?}");
        assert_eq!((v.entries, v.pending), (7, 1), "{v:?}");
        assert_eq!(v.head, before.head, "the head waits too");
        // The waiting entry is in the trail all the same.
        let about = store
            .read(|r| r.audit().for_entity("customer", &quick.id.to_string(), 10))
            .unwrap();
        assert_eq!(about.len(), 1);
        go_tx.send(()).unwrap();
        held.join().unwrap();
    });
    let v = store.verify_audit().unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!((v.entries, v.pending), (8, 0), "{v:?}");
    assert_eq!(
        v.head,
        store.read(|r| r.audit().head()).unwrap(),
        "the head is the last chained entry"
    );
    assert_consistent(&store);
}

/// Eight threads on four PostgreSQL stores write at once: every entry ends
/// chained, in one line, and the chain's lock never made a unit of work
/// wait for another's commit (the units' commits overlap: measured in
/// benches/group_commit.rs).
#[test]
fn postgres_writers_at_once_leave_every_entry_chained() {
    let Some(cluster) = crate::engines::cluster() else {
        return;
    };
    let (name, store) = crate::engines::postgres_store(cluster);
    let stores: Vec<Store> = (0..4)
        .map(|_| Store::open_postgres(&cluster.connection(&name)).unwrap())
        .collect();
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = stores[t % 4].clone();
            s.spawn(move || {
                for i in 0..40 {
                    store
                        .customers()
                        .create(NewCustomer::new(format!("T{t} C{i}")))
                        .unwrap();
                }
            });
        }
    });
    let v = store.verify_audit().unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!((v.entries, v.pending), (320, 0), "{v:?}");
    assert_consistent(&store);
}

/// Behind custdb's back on PostgreSQL: an entry inserted with hashes is
/// refused (entries are chained only by the chain step), and a chained
/// entry's hashes cannot be set again.
#[test]
fn postgres_entries_are_inserted_unchained_and_chained_once() {
    let Some(cluster) = crate::engines::cluster() else {
        return;
    };
    let (name, store) = crate::engines::postgres_store(cluster);
    fill_trail(&store);
    assert!(store.verify_audit().unwrap().is_ok());
    let err = cluster
        .psql_as(
            "postgres",
            &name,
            &format!(
                "INSERT INTO audit_log (at, actor_id, actor_name, action, entity_type, \
                 entity_id, changed_fields, prev_hash, hash) VALUES \
                 ('2020-01-01T00:00:00.000000Z', 'm', 'M', 'create', 'customer', 'x', '[]', \
                 '{0}', '{0}')",
                custdb::audit::GENESIS_HASH
            ),
        )
        .unwrap_err();
    assert!(err.contains("chained after commit"), "{err}");
    let err = cluster
        .psql_as(
            "postgres",
            &name,
            &format!(
                "UPDATE audit_log SET hash = '{}' WHERE seq = 3",
                custdb::audit::GENESIS_HASH
            ),
        )
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert!(store.verify_audit().unwrap().is_ok());
}

/// A PostgreSQL database from before version 9: custdb supplied each
/// entry's position itself, so the identity never moved. After the
/// migration, new entries continue after the last one and chain to it.
#[test]
fn postgres_positions_continue_after_the_version_9_migration() {
    let Some(cluster) = crate::engines::cluster() else {
        return;
    };
    let (name, store) = crate::engines::postgres_store(cluster);
    fill_trail(&store);
    drop(store);
    // Back to version 8 as far as the trail goes: the identity at its
    // start, the version record gone.
    cluster.psql(
        &name,
        "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), 1, false); \
         DELETE FROM custdb_migrations WHERE version >= 9;",
    );
    let store = Store::open_postgres(&cluster.connection(&name)).unwrap();
    store.customers().create(NewCustomer::new("After")).unwrap();
    let v = store.verify_audit().unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!((v.entries, v.pending), (7, 0), "{v:?}");
    assert_eq!(v.head.unwrap().seq, 7);
}

/// The chain step puts the last chained entry's hash into a statement as
/// text: a hash set behind custdb's back to something that is not 64 hex
/// digits (here, SQL) stops the step. Nothing runs, the entries after it
/// stay pending, and verification names the altered entry.
#[test]
fn postgres_a_forged_head_hash_never_reaches_sql() {
    let Some(cluster) = crate::engines::cluster() else {
        return;
    };
    let (name, store) = crate::engines::postgres_store(cluster);
    fill_trail(&store);
    assert!(store.verify_audit().unwrap().is_ok());
    let payload = format!("{:a<64}", "x'); GRANT ALL ON audit_log TO PUBLIC; --");
    assert_eq!(payload.len(), 64);
    cluster.psql(
        &name,
        &format!(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update; \
             UPDATE audit_log SET hash = '{}' WHERE seq = 6; \
             ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;",
            payload.replace('\'', "''")
        ),
    );
    store.customers().create(NewCustomer::new("After")).unwrap();
    let v = store.verify_audit().unwrap();
    assert_eq!(v.broken.as_ref().map(|b| b.seq), Some(6), "{v:?}");
    let granted = cluster.psql(
        &name,
        "SELECT count(*) FROM information_schema.role_table_grants \
         WHERE table_name = 'audit_log' AND grantee = 'PUBLIC'",
    );
    assert_eq!(granted.trim(), "0");
    let unchained = cluster.psql(&name, "SELECT count(*) FROM audit_log WHERE hash IS NULL");
    assert_eq!(unchained.trim(), "1");
}
