//! The interaction timeline: append-only, newest first, keyset pages.

use crate::common::{assert_consistent, file_store};
use chrono::{Duration, TimeZone, Utc};
use custdb::{Channel, Direction, InteractionKind, NewCustomer, NewInteraction};

#[test]
fn timeline_lists_newest_first_across_pages() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = store
            .customers()
            .create(NewCustomer::new("Ann"))
            .unwrap()
            .id;
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        // Entries recorded out of order; two share one instant.
        let offsets = [5i64, 1, 3, 3, 0, 4, 2];
        store
            .write(|tx| {
                for (n, off) in offsets.iter().enumerate() {
                    tx.customers().add_interaction(
                        id,
                        NewInteraction::new(
                            Channel::Phone,
                            Direction::Outbound,
                            InteractionKind::Support,
                        )
                        .subject(format!("call {n}"))
                        .occurred_at(start + Duration::hours(*off)),
                    )?;
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .customers()
                .interactions(id, cursor.as_ref(), 3)
                .unwrap();
            seen.extend(page.items.iter().map(|i| (i.occurred_at, i.id)));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), offsets.len());
        let mut expected = seen.clone();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(
            seen, expected,
            "newest first, ties broken by id, no repeats"
        );
        assert_eq!(seen[0].0, start + Duration::hours(5));
    }
}

#[test]
fn interactions_record_the_actor_and_keep_their_fields() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = store
            .customers()
            .create(NewCustomer::new("Ann"))
            .unwrap()
            .id;
        let agent = custdb::Actor::new("agent-7", "Sam (support)").unwrap();
        let made = store
            .write_as(&agent, |tx| {
                tx.customers().add_interaction(
                    id,
                    NewInteraction::new(
                        Channel::Chat,
                        Direction::Inbound,
                        InteractionKind::Complaint,
                    )
                    .subject("Late parcel")
                    .body("Ordered two weeks ago.\nStill waiting."),
                )
            })
            .unwrap();
        assert_eq!(made.recorded_by, "agent-7");
        let page = store.customers().interactions(id, None, 10).unwrap();
        assert_eq!(page.items, vec![made]);
        assert!(page.next_cursor.is_none());
    }
}

#[test]
fn the_timeline_is_append_only_in_sql() {
    let (dir, store) = file_store();
    let id = store
        .customers()
        .create(NewCustomer::new("Ann"))
        .unwrap()
        .id;
    store
        .customers()
        .add_interaction(
            id,
            NewInteraction::new(Channel::Web, Direction::Inbound, InteractionKind::Note)
                .subject("x"),
        )
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("test.db")).unwrap();
    let err = conn
        .execute("UPDATE customer_interactions SET subject = 'changed'", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM customer_interactions", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn.execute("DELETE FROM audit_log", []).unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_consistent(&store);
}

#[test]
fn a_bad_cursor_is_refused() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = store
            .customers()
            .create(NewCustomer::new("Ann"))
            .unwrap()
            .id;
        for bad in [
            "nope",
            "2026-01-01T00:00:00.000000Z|nope",
            "x|00000000-0000-7000-8000-000000000000",
        ] {
            let err = store
                .customers()
                .interactions(id, Some(&bad.parse().unwrap()), 10)
                .unwrap_err();
            assert_eq!(err.field(), Some("cursor"), "{bad}");
        }
        assert!("c"
            .repeat(custdb::MAX_CURSOR_CHARS + 1)
            .parse::<custdb::Cursor>()
            .is_err());
    }
}
