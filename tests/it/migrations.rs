//! Every fixture database in tests/fixtures/ (one per released schema
//! version) upgrades to the latest schema with its data intact.

use custdb::Currency;
use std::path::PathBuf;

use crate::common::assert_consistent;
use custdb::schema::{LATEST_VERSION, MIGRATIONS};
use custdb::{AddressKind, ArchiveState, CustomerFilter, Store};

fn fixtures() -> Vec<(i64, PathBuf)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut found: Vec<(i64, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            let version = name.strip_prefix('v')?.strip_suffix(".db")?.parse().ok()?;
            Some((version, path))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn there_is_a_fixture_for_every_schema_version() {
    let versions: Vec<i64> = fixtures().iter().map(|(v, _)| *v).collect();
    let expected: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(
        versions, expected,
        "add tests/fixtures/v{LATEST_VERSION}.db (see its README)"
    );
}

#[test]
fn every_fixture_upgrades_with_its_data_intact() {
    for (version, fixture) in fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.db");
        std::fs::copy(&fixture, &path).unwrap();
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let found: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(
                found,
                version,
                "{} is not at version {version}",
                fixture.display()
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.connection_settings().unwrap().schema_version,
            LATEST_VERSION
        );
        assert_consistent(&store);

        let ada = store.customers().get_by_email("ada@example.com").unwrap();
        assert_eq!(ada.display_name, "Ada Lovelace");
        assert_eq!(ada.given_name.as_deref(), Some("Ada"));
        assert_eq!(ada.phone.as_deref(), Some("+442079460958"));
        assert_eq!(ada.company.as_deref(), Some("Analytical Engines"));
        assert_eq!(ada.locale.as_deref(), Some("en-GB"));
        assert_eq!(ada.tags, vec!["newsletter", "vip"]);
        assert_eq!(ada.attributes["loyalty"]["tier"], "gold");
        assert_eq!(ada.notes.as_deref(), Some("Fixture customer one."));
        let addresses = store.customers().addresses(ada.id).unwrap();
        assert_eq!(addresses.len(), 2);
        assert!(addresses.iter().all(|a| a.is_default));
        assert!(addresses.iter().any(
            |a| a.kind == AddressKind::Billing && a.postal_code.as_deref() == Some("SW1Y 4JH")
        ));
        let timeline = store.customers().interactions(ada.id, None, 10).unwrap();
        assert_eq!(timeline.items.len(), 1);
        assert_eq!(timeline.items[0].rating, Some(4));
        assert_eq!(timeline.items[0].recorded_by, "fixture");

        let grace = store.customers().get_by_email("grace@example.org").unwrap();
        assert_eq!(
            store.customers().addresses(grace.id).unwrap()[0].country,
            "US"
        );
        let archived = store
            .customers()
            .list(
                &CustomerFilter::default().archived(ArchiveState::Archived),
                None,
                10,
            )
            .unwrap();
        // From version 3 on, an erased customer is archived too (and has no
        // email left).
        let named: Vec<_> = archived
            .items
            .iter()
            .filter(|c| c.email.is_some())
            .collect();
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].email.as_deref(), Some("gone@example.net"));
        assert_eq!(
            store.customers().search("lovelace", 5).unwrap()[0].id,
            ada.id
        );
        let audit = store
            .read(|r| r.audit().for_entity("customer", &ada.id.to_string(), 10))
            .unwrap();
        assert_eq!(audit[0].action, "create");
        assert_eq!(audit[0].actor_id, "fixture");

        if version >= 2 {
            check_commerce(&store, ada.id);
        }
        if version >= 3 {
            check_privacy(&store, ada.id);
        }
        if version >= 4 {
            check_trust(&store);
        }
        if version >= 5 {
            check_insight(&store);
        }
        // Every upgraded trail is hash-chained (older ones by the migration
        // to version 4).
        assert!(store.verify_audit().unwrap().is_ok());

        // The upgraded file keeps working.
        store
            .customers()
            .update(
                ada.id,
                ada.version,
                custdb::CustomerPatch::default().company("Engines Ltd"),
            )
            .unwrap();
        assert_consistent(&store);
    }
}

/// The commerce data make_fixture writes from schema version 2 on.
fn check_commerce(store: &Store, ada: custdb::CustomerId) {
    let history = store.read(|r| r.orders().history(ada, None, 10)).unwrap();
    assert_eq!(history.items.len(), 1);
    let order = store.read(|r| r.orders().get(history.items[0].id)).unwrap();
    assert_eq!(order.number, 1);
    assert_eq!(order.status, custdb::OrderStatus::PartiallyShipped);
    // 2 × 13.00 + 12.50 + 20 % of 12.50 + 3.99 shipping.
    assert_eq!(order.total.amount, custdb::Decimal::new(4499, 2));
    assert_eq!(order.paid, order.total);
    assert_eq!(order.refunded.amount, custdb::Decimal::new(1300, 2));
    assert_eq!(order.lines[0].quantity_shipped, 2);
    assert_eq!(order.lines[0].quantity_returned, 1);
    let large = store
        .read(|r| r.catalog().variant_by_sku("FIX-TEE-L"))
        .unwrap();
    // make_fixture received the large tee into the north.
    let north = store
        .read(|r| r.inventory().warehouse_by_code("N1"))
        .unwrap();
    let level = store
        .read(|r| r.inventory().level(large.id, north.id))
        .unwrap();
    // 5 received, 2 shipped, 1 returned and restocked.
    assert_eq!((level.on_hand, level.reserved), (4, 0));
    let small = store
        .read(|r| r.catalog().variant_by_sku("FIX-TEE-S"))
        .unwrap();
    let south = store
        .read(|r| r.inventory().warehouse_by_code("S1"))
        .unwrap();
    let level = store
        .read(|r| r.inventory().level(small.id, south.id))
        .unwrap();
    assert_eq!((level.on_hand, level.reserved), (5, 1));
}

#[test]
fn the_fixture_in_the_repository_is_not_modified_by_tests() {
    // Tests work on copies; the committed file stays at its own version.
    for (version, fixture) in fixtures() {
        let conn = rusqlite::Connection::open_with_flags(
            &fixture,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(found, version);
    }
}

/// The privacy data make_fixture writes from schema version 3 on.
fn check_privacy(store: &Store, ada: custdb::CustomerId) {
    use custdb::ConsentState;
    let at = |month: u32| {
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, month, 1, 12, 0, 0).unwrap()
    };
    let states = store.read(|r| r.consent().states_at(ada, at(4))).unwrap();
    let by_purpose: Vec<(&str, ConsentState)> = states
        .iter()
        .map(|s| (s.purpose_id.as_str(), s.state))
        .collect();
    assert_eq!(
        by_purpose,
        vec![
            ("newsletter", ConsentState::Withdrawn),
            ("profiling", ConsentState::Given)
        ]
    );
    assert!(store
        .read(|r| r.consent().can_process(ada, "newsletter", at(2)))
        .unwrap());
    assert!(!store
        .read(|r| r.consent().can_process(ada, "newsletter", at(4)))
        .unwrap());
    let erased = store
        .customers()
        .list(
            &CustomerFilter::default().archived(ArchiveState::Archived),
            None,
            10,
        )
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.email.is_none())
        .expect("the erased customer");
    assert_eq!(erased.display_name, "Erased customer");
    assert!(store
        .read(|r| r.privacy().erased_at(erased.id))
        .unwrap()
        .is_some());
    let rules = store.read(|r| r.privacy().retention_rules()).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].period_days, 730);
}

/// The access data make_fixture writes from schema version 4 on.
fn check_trust(store: &Store) {
    let grants = store.read(|r| r.access().grants("clerk-7")).unwrap();
    let names: Vec<&str> = grants.roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["returns-desk", "sales"]);
    assert!(grants.allows(custdb::Permission::Refund));
    assert!(!grants.allows(custdb::Permission::Administer));
}

/// The import data make_fixture writes from schema version 5 on.
fn check_insight(store: &Store) {
    // Importing the same lines again finds them all.
    let retail = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
        536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n\
        536365,POST,POSTAGE,1,2010-12-01 08:26:00,18,17850.0,United Kingdom\n\
        536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,France\n\
        C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,2010-12-01 09:41:00,2.55,17850.0,United Kingdom\n\
        C536380,22632,HAND WARMER RED POLKA DOT,-1,2010-12-01 09:45:00,1.85,17850.0,United Kingdom\n\
        536381,BANK CHARGES,Bank Charges,1,2010-12-01 09:50:00,15,,United Kingdom\n";
    let again = store
        .import_retail(retail.as_bytes(), |_| {}, |_| {})
        .unwrap();
    assert_eq!(
        (again.imported, again.already_present, again.rejected),
        (0, 5, 1)
    );
    let sale = store
        .read(|r| {
            r.orders()
                .by_status(custdb::OrderStatus::Delivered, None, 10)
        })
        .unwrap();
    assert!(sale
        .items
        .iter()
        .any(|o| o.total.amount == custdb::Decimal::new(3330, 2)));
}

/// Schema version 6 gives back the status `cancelled` to orders that
/// version 5 marked `refunded` when their money was paid back after the
/// cancellation.
#[test]
fn version_6_repairs_cancelled_orders_that_a_refund_marked_refunded() {
    use custdb::{
        NewOrder, NewOrderLine, NewPayment, NewProduct, NewRefund, NewVariant, NewWarehouse,
        OrderStatus, PaymentMethod,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let (cancelled, refunded) = {
        let store = Store::open(&path).unwrap();
        store
            .write(|tx| {
                let p = tx.catalog().create_product(NewProduct::new("Tea").variant(
                    NewVariant::new("TEA", "4.50".parse().unwrap(), Currency::GBP),
                ))?;
                let w = tx
                    .inventory()
                    .create_warehouse(NewWarehouse::new("main", "Main"))?;
                tx.inventory().receive(p.variants[0].id, w.id, 10)?;
                let mut ids = Vec::new();
                for cancel in [true, false] {
                    let o = tx.orders().place(
                        NewOrder::for_guest("g@example.com", Currency::GBP)
                            .line(NewOrderLine::new("TEA", 2)),
                    )?;
                    tx.orders()
                        .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
                    if cancel {
                        tx.orders().cancel(o.id, "changed mind")?;
                    }
                    tx.orders()
                        .refund(o.id, NewRefund::new(o.total.amount, "all of it"))?;
                    ids.push(o.id);
                }
                Ok::<_, custdb::Error>((ids[0], ids[1]))
            })
            .unwrap()
    };
    // What version 5 left: the cancelled order marked refunded.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "UPDATE orders SET status = 'refunded' WHERE id = '{cancelled}';
             DELETE FROM custdb_migrations WHERE version >= 6;
             PRAGMA user_version = 5;"
        ))
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let status = |id| store.read(|r| r.orders().get(id)).unwrap().status;
    assert_eq!(status(cancelled), OrderStatus::Cancelled);
    assert_eq!(
        status(refunded),
        OrderStatus::Refunded,
        "a sale paid back stays refunded"
    );
    assert_consistent(&store);
}

/// Schema version 7 releases the stock that version 6 left held by orders
/// a full refund made `refunded`: all of it for an order refunded before
/// shipping, the unshipped rest for one refunded after a partial shipment.
#[test]
fn version_7_releases_what_refunded_orders_still_held() {
    use custdb::{
        MovementKind, NewOrder, NewOrderLine, NewPayment, NewProduct, NewShipment, NewVariant,
        NewWarehouse, OrderStatus, PaymentMethod,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let (tea, main, orders) = {
        let store = Store::open(&path).unwrap();
        store
            .write(|tx| {
                let p = tx.catalog().create_product(NewProduct::new("Tea").variant(
                    NewVariant::new("TEA", "4.50".parse().unwrap(), Currency::GBP),
                ))?;
                let w = tx
                    .inventory()
                    .create_warehouse(NewWarehouse::new("main", "Main"))?;
                tx.inventory().receive(p.variants[0].id, w.id, 10)?;
                let mut orders = Vec::new();
                for shipped in [0, 1] {
                    let o = tx.orders().place(
                        NewOrder::for_guest("g@example.com", Currency::GBP)
                            .line(NewOrderLine::new("TEA", 3)),
                    )?;
                    let payment = tx
                        .orders()
                        .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
                    if shipped > 0 {
                        tx.orders().ship(
                            o.id,
                            NewShipment::everything("DHL", "V7").line("TEA", shipped),
                        )?;
                    }
                    orders.push((o.id, payment.id, shipped));
                }
                Ok::<_, custdb::Error>((p.variants[0].id, w.id, orders))
            })
            .unwrap()
    };
    // What version 6's full refund wrote: the refund, the payment and the
    // order refunded, the status `refunded`, and the holds left open.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (n, (order, payment, _)) in orders.iter().enumerate() {
            conn.execute_batch(&format!(
                "INSERT INTO refunds (id, order_id, payment_id, amount_e4, reason, created_at) \
                 SELECT '00000000-0000-7000-8000-00000000000{n}', order_id, id, amount_e4, \
                 'all of it', updated_at FROM payments WHERE id = '{payment}';
                 UPDATE payments SET refunded_e4 = amount_e4, status = 'refunded' \
                 WHERE id = '{payment}';
                 UPDATE orders SET refunded_e4 = paid_e4, status = 'refunded' \
                 WHERE id = '{order}';"
            ))
            .unwrap();
        }
    }
    let available = |store: &Store| store.inventory().level(tea, main).unwrap().available;
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(available(&store), 10 - 3 - 3);
        let report = store.check().unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("open reservations differ")),
            "check() must see a refunded order still holding stock: {report:?}"
        );
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DELETE FROM custdb_migrations WHERE version >= 7; PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(available(&store), 10 - 1, "only the shipped unit is gone");
    for (order, _, shipped) in orders {
        assert_eq!(
            store.read(|r| r.orders().get(order)).unwrap().status,
            OrderStatus::Refunded
        );
        let releases: Vec<_> = store
            .inventory()
            .movements_of_order(order)
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == MovementKind::Release)
            .collect();
        assert_eq!(releases.len(), 1);
        assert_eq!(releases[0].reserved_delta, -(3 - shipped));
        assert_eq!(releases[0].actor_id, "system");
        assert!(releases[0].at > chrono::Utc::now() - chrono::Duration::minutes(10));
    }
    assert_consistent(&store);
}

/// Version 16 rebuilds `payments` (SQLite changes a CHECK only by copying
/// the table) with foreign keys off, and marks the refunds that went back
/// onto a gift card before it: payments, refunds and the ledgers pointing
/// at them come through intact, and the store is consistent.
#[test]
fn version_16_rebuilds_payments_and_marks_refunds_onto_gift_cards() {
    use custdb::{
        NewGiftCard, NewOrder, NewOrderLine, NewPayment, NewProduct, NewRefund, NewVariant,
        PaymentMethod, RefundDestination,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let order = {
        let store = Store::open(&path).unwrap();
        store
            .write(|tx| {
                tx.catalog().create_product(
                    NewProduct::new("Tea").variant(
                        NewVariant::new("TEA", "4.50".parse().unwrap(), Currency::GBP)
                            .track_stock(false),
                    ),
                )?;
                let card = tx
                    .gift_cards()
                    .issue_gift_card(NewGiftCard::new(Currency::GBP, "20".parse().unwrap()))?;
                let o = tx.orders().place(
                    NewOrder::for_guest("g@example.com", Currency::GBP)
                        .line(NewOrderLine::new("TEA", 2)),
                )?;
                tx.orders()
                    .pay_with_gift_card(o.id, &card.code, "5".parse().unwrap())?;
                tx.orders().pay(
                    o.id,
                    NewPayment::new(PaymentMethod::Card, "4".parse().unwrap()),
                )?;
                tx.orders()
                    .refund(o.id, NewRefund::new(o.total.amount, "all of it"))?;
                Ok::<_, custdb::Error>(o.id)
            })
            .unwrap()
    };
    // What version 15 left: no destination on refunds.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE refunds DROP COLUMN destination;
             DELETE FROM custdb_migrations WHERE version >= 16;
             PRAGMA user_version = 15;",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.connection_settings().unwrap().schema_version,
        LATEST_VERSION
    );
    assert!(store.connection_settings().unwrap().foreign_keys);
    let payments = store.orders().payments(order).unwrap();
    assert_eq!(payments.len(), 2);
    let mut destinations: Vec<RefundDestination> = store
        .orders()
        .refunds(order)
        .unwrap()
        .into_iter()
        .map(|r| r.destination)
        .collect();
    destinations.sort_by_key(|d| d.as_str());
    assert_eq!(
        destinations,
        [RefundDestination::GiftCard, RefundDestination::Payment]
    );
    assert_consistent(&store);
}
