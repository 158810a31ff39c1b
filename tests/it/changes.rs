//! The change feed (docs/CHANGES.md): events written with every change,
//! consumers with durable positions, waiting, retention and the
//! resynchronise error, no event skipped with concurrent writers, and no
//! personal data in the feed; on both engines.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use custdb::{
    ChangeEvent, ChangeKind, ConsumerStart, Currency, CustomerPatch, Decimal, ErrorKind,
    FeedRetention, NewCustomer, NewOrder, NewOrderLine, NewPayment, NewShipment, PaymentMethod,
    Store,
};

use crate::common::{assert_consistent, every_engine, stock_tea};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Reads `consumer`'s events until `count` have come (on PostgreSQL they
/// become visible after the audit chain step that follows each commit),
/// without acknowledging.
fn events(store: &Store, consumer: &str, count: usize) -> Vec<ChangeEvent> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = store.changes().poll(consumer, 1000).unwrap();
        if found.len() >= count || Instant::now() > deadline {
            return found;
        }
        store.changes().wait(consumer, 1000, 200).unwrap();
    }
}

fn kinds(events: &[ChangeEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn every_change_is_an_event_in_order_with_its_facts() {
    for (engine, store) in every_engine() {
        eprintln!("on {engine}");
        store
            .changes()
            .create_consumer("mirror", ConsumerStart::Oldest)
            .unwrap();
        let ann = store
            .customers()
            .create(NewCustomer::new("Ann Example").email("ann@example.com"))
            .unwrap();
        store
            .customers()
            .update(
                ann.id,
                ann.version,
                CustomerPatch::default().company("Acme"),
            )
            .unwrap();
        let tea = store.write(|tx| stock_tea(tx, "MAIN", 10)).unwrap();
        let order = store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 3)),
                )
            })
            .unwrap();
        store
            .orders()
            .pay(order.id, NewPayment::new(PaymentMethod::Card, d("13.50")))
            .unwrap();
        store
            .orders()
            .ship(order.id, NewShipment::everything("DHL", "1"))
            .unwrap();
        // A unit of work that fails leaves no event behind.
        let failed = store.write(|tx| {
            tx.customers().create(NewCustomer::new("Gone"))?;
            Err::<(), _>(custdb::Error::other(std::io::Error::other(
                "changed my mind",
            )))
        });
        assert!(failed.is_err());

        let all = events(&store, "mirror", 12);
        let expected = [
            "customer.created",
            "customer.updated",
            "product.created",
            "variant.created",
            "warehouse.created",
            "stock.changed",
            "stock.changed",
            "order.placed",
        ];
        assert_eq!(&kinds(&all)[..expected.len()], &expected, "{all:#?}");
        let rest = kinds(&all[expected.len()..]);
        assert!(rest.contains(&"order.paid"), "{rest:?}");
        assert_eq!(rest.last(), Some(&"order.shipped"), "{rest:?}");
        assert!(
            all.windows(2).all(|w| w[0].position < w[1].position),
            "positions grow"
        );
        assert!(!all
            .iter()
            .any(|e| e.kind == ChangeKind::CustomerCreated && e.entity_id != ann.id.to_string()));
        // The facts.
        let updated = &all[1];
        assert_eq!(updated.entity_id, ann.id.to_string());
        assert_eq!(updated.facts.fields, vec!["company".to_owned()]);
        let received = &all[5];
        assert_eq!(received.entity_id, tea.to_string());
        assert_eq!(received.facts.movement.as_deref(), Some("receipt"));
        assert_eq!(received.facts.available, Some(10));
        let reserved = &all[6];
        assert_eq!(
            (reserved.facts.reserved, reserved.facts.available),
            (Some(3), Some(7))
        );
        assert_eq!(reserved.facts.order_id, Some(order.id.to_string()));
        let placed = &all[7];
        assert_eq!(placed.facts.status.as_deref(), Some("pending"));
        assert_eq!(placed.facts.total, Some(d("13.50")));
        assert_eq!(placed.facts.customer_id, Some(ann.id.to_string()));
        assert_eq!(placed.facts.lines, Some(1));
        let shipped = all.last().unwrap();
        assert_eq!(shipped.facts.status.as_deref(), Some("shipped"));
        assert_eq!(shipped.facts.paid, Some(d("13.50")));
        assert!(all
            .iter()
            .all(|e| e.facts.v == custdb::changes::FEED_VERSION));
        assert!(all.iter().all(|e| e.actor_id == "system"), "{all:#?}");
        assert_consistent(&store);
    }
}

#[test]
fn a_consumer_continues_where_it_acknowledged() {
    for (engine, store) in every_engine() {
        eprintln!("on {engine}");
        store
            .changes()
            .create_consumer("erp", ConsumerStart::Now)
            .unwrap();
        for i in 0..5 {
            store
                .customers()
                .create(NewCustomer::new(format!("C{i}")))
                .unwrap();
        }
        let first = events(&store, "erp", 5);
        assert_eq!(first.len(), 5, "{first:#?}");
        // Delivered again until acknowledged (at least once).
        assert_eq!(store.changes().poll("erp", 1000).unwrap(), first);
        let c = store.changes().ack("erp", first[1].position).unwrap();
        assert_eq!(c.position, first[1].position);
        assert!(c.acknowledged_at.is_some());
        // A retried, older acknowledgement changes nothing.
        let again = store.changes().ack("erp", first[0].position).unwrap();
        assert_eq!(again.position, first[1].position);
        assert_eq!(store.changes().poll("erp", 1000).unwrap(), first[2..]);
        assert_eq!(store.changes().poll("erp", 2).unwrap(), first[2..4]);
        // Acknowledging is bookkeeping: it writes no event and no audit entry.
        let audit_before = store.read(|r| r.audit().count()).unwrap();
        store.changes().ack("erp", first[4].position).unwrap();
        assert_eq!(store.read(|r| r.audit().count()).unwrap(), audit_before);
        assert!(store.changes().poll("erp", 1000).unwrap().is_empty());
        // Acknowledging with the work that applies the events: both commit
        // together, or neither.
        store.customers().create(NewCustomer::new("Late")).unwrap();
        let late = events(&store, "erp", 1);
        let refused = store.write(|tx| {
            tx.changes().ack("erp", late[0].position)?;
            Err::<(), _>(custdb::Error::other(std::io::Error::other(
                "the work failed",
            )))
        });
        assert!(refused.is_err());
        assert_eq!(store.changes().poll("erp", 10).unwrap(), late);
        assert_consistent(&store);
    }
}

#[test]
fn a_restarted_store_continues_from_the_acknowledged_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.db");
    let acknowledged = {
        let store = Store::open(&path).unwrap();
        store
            .changes()
            .create_consumer("search", ConsumerStart::Now)
            .unwrap();
        for i in 0..3 {
            store
                .customers()
                .create(NewCustomer::new(format!("C{i}")))
                .unwrap();
        }
        let got = store.changes().poll("search", 2).unwrap();
        store.changes().ack("search", got[1].position).unwrap();
        got[1].position
    };
    let store = Store::open(&path).unwrap();
    let rest = store.changes().poll("search", 100).unwrap();
    assert_eq!(rest.len(), 1);
    assert!(rest[0].position > acknowledged);
    assert_eq!(
        store.changes().consumer("search").unwrap().position,
        acknowledged
    );
}

#[test]
fn bad_input_is_refused_by_name() {
    for (engine, store) in every_engine() {
        eprintln!("on {engine}");
        let changes = store.changes();
        for name in ["", "has space", "ünïcode", &"x".repeat(65)] {
            let e = changes
                .create_consumer(name, ConsumerStart::Now)
                .unwrap_err();
            assert_eq!(e.field(), Some("consumer"), "{name:?}: {e}");
        }
        changes.create_consumer("a", ConsumerStart::Now).unwrap();
        assert!(changes
            .create_consumer("a", ConsumerStart::Now)
            .unwrap_err()
            .is_already_exists());
        assert!(changes.poll("nobody", 10).unwrap_err().is_not_found());
        assert!(changes.ack("nobody", 0).unwrap_err().is_not_found());
        assert!(changes.drop_consumer("nobody").unwrap_err().is_not_found());
        for limit in [0, custdb::changes::MAX_CHANGE_BATCH + 1] {
            assert_eq!(changes.poll("a", limit).unwrap_err().field(), Some("limit"));
            assert_eq!(changes.after(0, limit).unwrap_err().field(), Some("limit"));
        }
        assert_eq!(changes.after(-1, 10).unwrap_err().field(), Some("after"));
        assert_eq!(changes.ack("a", -1).unwrap_err().field(), Some("position"));
        assert_eq!(
            changes.ack("a", i64::MAX).unwrap_err().field(),
            Some("position"),
            "past the head"
        );
        for start in [-5, i64::MAX] {
            assert_eq!(
                changes
                    .create_consumer("b", ConsumerStart::After(start))
                    .unwrap_err()
                    .field(),
                Some("start"),
                "{start}"
            );
        }
        assert_eq!(
            changes
                .wait("a", 10, custdb::changes::MAX_WAIT_MS + 1)
                .unwrap_err()
                .field(),
            Some("timeout_ms")
        );
        for (retention, field) in [
            (
                FeedRetention {
                    acknowledged_s: custdb::changes::MAX_RETENTION_S + 1,
                    unacknowledged_s: None,
                },
                "acknowledged_s",
            ),
            (
                FeedRetention {
                    acknowledged_s: 100,
                    unacknowledged_s: Some(99),
                },
                "unacknowledged_s",
            ),
        ] {
            assert_eq!(
                changes.set_retention(retention).unwrap_err().field(),
                Some(field)
            );
        }
        for max in [0, custdb::changes::MAX_PRUNE_BATCH + 1] {
            assert_eq!(changes.prune(max).unwrap_err().field(), Some("max_events"));
        }
        // Nothing of the refused calls was written.
        let status = changes.status().unwrap();
        assert_eq!(status.consumers.len(), 1);
        assert_eq!(status.retention, FeedRetention::default());
        assert_consistent(&store);
    }
}

#[test]
fn retention_prunes_in_batches_and_a_consumer_behind_must_resynchronise() {
    for (engine, store) in every_engine() {
        eprintln!("on {engine}");
        store
            .changes()
            .create_consumer("slow", ConsumerStart::Oldest)
            .unwrap();
        for i in 0..6 {
            store
                .customers()
                .create(NewCustomer::new(format!("C{i}")))
                .unwrap();
        }
        store
            .changes()
            .set_retention(FeedRetention {
                acknowledged_s: 0,
                unacknowledged_s: None,
            })
            .unwrap();
        let all = events(&store, "slow", 6);
        assert_eq!(all.len(), 6);
        std::thread::sleep(Duration::from_millis(5));
        // Unacknowledged events are kept.
        assert_eq!(store.changes().prune(100).unwrap().pruned, 0);
        store.changes().ack("slow", all[3].position).unwrap();
        let first = store.changes().prune(3).unwrap();
        assert_eq!((first.pruned, first.more), (3, true), "{first:?}");
        let second = store.changes().prune(100).unwrap();
        assert_eq!(second.pruned, 1, "{second:?}");
        assert!(!second.more);
        assert_eq!(second.pruned_through, all[3].position);
        assert_eq!(store.changes().poll("slow", 100).unwrap(), all[4..]);
        // A new consumer that asks for what was pruned is told so.
        let behind = store
            .changes()
            .create_consumer("late", ConsumerStart::After(all[1].position))
            .unwrap_err();
        assert!(behind.is_changes_pruned(), "{behind}");
        assert!(store
            .changes()
            .after(all[0].position, 10)
            .unwrap_err()
            .is_changes_pruned());
        // Past the unacknowledged age even the slow consumer's events go:
        // it gets the typed error, never a silent gap. The newest event
        // always stays.
        store
            .changes()
            .set_retention(FeedRetention {
                acknowledged_s: 0,
                unacknowledged_s: Some(0),
            })
            .unwrap();
        store
            .customers()
            .create(NewCustomer::new("Newest"))
            .unwrap();
        let head = events(&store, "slow", 3).last().unwrap().position;
        std::thread::sleep(Duration::from_millis(5));
        let report = store.changes().prune(100).unwrap();
        assert_eq!(report.pruned_through, head - 1, "{report:?}");
        let e = store.changes().poll("slow", 10).unwrap_err();
        match e.kind() {
            ErrorKind::ChangesPruned {
                consumer,
                position,
                pruned_through,
            } => {
                assert_eq!(consumer.as_deref(), Some("slow"));
                assert_eq!(*position, all[3].position);
                assert_eq!(*pruned_through, head - 1);
            }
            other => panic!("{other:?}"),
        }
        // Resynchronising: start again after the export's position.
        store.changes().drop_consumer("slow").unwrap();
        let head_now = store.read(|r| r.changes().head()).unwrap();
        store
            .changes()
            .create_consumer("slow", ConsumerStart::After(head_now))
            .unwrap();
        assert!(store.changes().poll("slow", 10).unwrap().is_empty());
        assert_consistent(&store);
    }
}

#[test]
fn a_waiting_read_wakes_on_a_commit_and_ends_at_its_timeout() {
    for (engine, store) in every_engine() {
        eprintln!("on {engine}");
        store
            .changes()
            .create_consumer("w", ConsumerStart::Now)
            .unwrap();
        let started = Instant::now();
        assert!(store.changes().wait("w", 10, 150).unwrap().is_empty());
        assert!(started.elapsed() >= Duration::from_millis(150));
        let writer = store.clone();
        let started = Instant::now();
        let woken = std::thread::scope(|s| {
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                writer.customers().create(NewCustomer::new("Wake")).unwrap();
            });
            store.changes().wait("w", 10, 30_000).unwrap()
        });
        assert_eq!(kinds(&woken), ["customer.created"]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "woken by the commit, not the timeout"
        );
    }
}

/// Another process (here: another `Store` on the same file) is seen by
/// polling on SQLite.
#[test]
fn a_waiting_read_sees_another_stores_commit_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.db");
    let reader = Store::open(&path).unwrap();
    reader
        .changes()
        .create_consumer("x", ConsumerStart::Now)
        .unwrap();
    let other = Store::open(&path).unwrap();
    let woken = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            other
                .customers()
                .create(NewCustomer::new("Elsewhere"))
                .unwrap();
        });
        reader.changes().wait("x", 10, 30_000).unwrap()
    });
    assert_eq!(kinds(&woken), ["customer.created"]);
}

/// Erasure leaves nothing of the person in the feed: events carry ids and
/// business facts only (the file-wide byte scan of the erasure test covers
/// the feed's pages too).
#[test]
fn the_feed_holds_no_personal_data() {
    for (engine, store) in every_engine() {
        eprintln!("on {engine}");
        store
            .changes()
            .create_consumer("all", ConsumerStart::Oldest)
            .unwrap();
        let secret_name = "Zebedee Quintessential";
        let secret_email = "zebedee.q@example.org";
        let c = store
            .customers()
            .create(
                NewCustomer::new(secret_name)
                    .email(secret_email)
                    .phone("+44 20 7946 0958"),
            )
            .unwrap();
        store
            .customers()
            .update(
                c.id,
                c.version,
                CustomerPatch::default().company("Quintessential Zebras Ltd"),
            )
            .unwrap();
        store.erase_customer(c.id).unwrap();
        let all = events(&store, "all", 3);
        assert_eq!(
            kinds(&all),
            ["customer.created", "customer.updated", "customer.erased"]
        );
        let text = serde_json::to_string(&all).unwrap().to_lowercase();
        for secret in ["zebedee", "quintessential", "79460958", "example.org"] {
            assert!(!text.contains(secret), "{secret} in the feed: {text}");
        }
    }
}

/// On PostgreSQL several writers commit out of position order; a consumer
/// that reads and acknowledges all the while must still see every event,
/// each position once and in order.
#[cfg(feature = "postgres")]
#[test]
fn concurrent_writers_never_make_a_consumer_skip_an_event() {
    let Some(cluster) = crate::engines::cluster() else {
        return;
    };
    let (_, store) = crate::engines::postgres_store(cluster);
    store
        .changes()
        .create_consumer("follower", ConsumerStart::Now)
        .unwrap();
    const WRITERS: usize = 6;
    const EACH: usize = 25;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let (created, seen) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = store.clone();
                let done = &done;
                s.spawn(move || {
                    let mut ids = Vec::new();
                    for i in 0..EACH {
                        // Some units hold their transaction open after
                        // their event was given a position, so that later
                        // positions commit first.
                        let c = store
                            .write(|tx| {
                                let c = tx
                                    .customers()
                                    .create(NewCustomer::new(format!("W{w}-{i}")))?;
                                if (w + i) % 3 == 0 {
                                    // Reading the trail inserts the unit's
                                    // entries and events now.
                                    tx.audit().count()?;
                                    std::thread::sleep(Duration::from_millis(15));
                                }
                                Ok::<_, custdb::Error>(c)
                            })
                            .unwrap();
                        ids.push(c.id.to_string());
                    }
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    ids
                })
            })
            .collect();
        let follower = s.spawn(|| {
            let mut seen = Vec::new();
            let mut last = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while seen.len() < WRITERS * EACH && Instant::now() < deadline {
                let batch = store.changes().wait("follower", 7, 500).unwrap();
                for e in &batch {
                    assert!(e.position > last, "positions in order");
                    last = e.position;
                    seen.push(e.entity_id.clone());
                }
                if let Some(e) = batch.last() {
                    store.changes().ack("follower", e.position).unwrap();
                }
            }
            seen
        });
        let created: Vec<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (created, follower.join().unwrap())
    });
    assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), WRITERS);
    assert_eq!(seen.len(), created.len(), "each event once");
    let seen: BTreeSet<_> = seen.into_iter().collect();
    let created: BTreeSet<_> = created.into_iter().collect();
    assert_eq!(seen, created, "no event skipped");
    assert!(store.check().unwrap().is_ok());
}

/// Rebuilding from scratch: an export reports the feed's position in its
/// own snapshot; following the feed after it brings exactly what came
/// later.
#[test]
fn an_export_reports_the_position_to_follow_the_feed_from() {
    for (engine, store) in every_engine() {
        eprintln!("on {engine}");
        for i in 0..3 {
            store
                .customers()
                .create(NewCustomer::new(format!("Before {i}")))
                .unwrap();
        }
        // On PostgreSQL the events of those creates become visible with
        // the next chain step; the export's position is whatever is
        // visible in its snapshot, and the rest is delivered (again).
        let mut out = Vec::new();
        let report = store.export_customers_jsonl(&mut out).unwrap();
        assert_eq!(report.rows, 3);
        let exported: BTreeSet<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<custdb::Customer>(l)
                    .unwrap()
                    .id
                    .to_string()
            })
            .collect();
        // Every event up to the export's position is about a record the
        // export holds (the position is the export's own snapshot's).
        let up_to = store.changes().after(0, 1000).unwrap();
        for e in up_to.iter().filter(|e| e.position <= report.feed_position) {
            assert!(exported.contains(&e.entity_id), "{e:?} before the export");
        }
        if engine == "SQLite" {
            assert_eq!(
                report.feed_position,
                up_to.last().unwrap().position,
                "on SQLite every committed event is in the snapshot"
            );
        }
        store
            .changes()
            .create_consumer("rebuilt", ConsumerStart::After(report.feed_position))
            .unwrap();
        let later = store.customers().create(NewCustomer::new("After")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut followed = Vec::new();
        while !followed.contains(&later.id.to_string()) && Instant::now() < deadline {
            for e in store.changes().wait("rebuilt", 100, 500).unwrap() {
                store.changes().ack("rebuilt", e.position).unwrap();
                followed.push(e.entity_id);
            }
        }
        let mut all = exported.clone();
        all.extend(followed.iter().cloned());
        let store_ids: BTreeSet<String> = store
            .read(|r| r.customers().list(&Default::default(), None, 100))
            .unwrap()
            .items
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        assert_eq!(all, store_ids, "export plus feed is the whole store");
        if engine == "SQLite" {
            assert_eq!(
                followed,
                vec![later.id.to_string()],
                "nothing twice on SQLite"
            );
        }
    }
}
