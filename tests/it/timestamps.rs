//! Timestamps at and beyond the range custdb stores (years 1 to 9999): a
//! stored or acted-on instant outside it is refused with `Invalid` naming
//! the field, a filter bound outside it means "no bound", and `check()`
//! reads every stored timestamp.

use chrono::{DateTime, Duration, TimeZone, Utc};
use custdb::Currency;
use custdb::{
    AuditFilter, CollectionMethod, ConsentState, CustomerFilter, LawfulBasis, NewConsent,
    NewCustomer, NewInteraction, NewOrder, NewOrderLine, NewPurpose, Store, MAX_TIMESTAMP,
    MIN_TIMESTAMP,
};

use crate::common::{assert_consistent, file_store, stock_tea};

fn year_10000() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap()
}

fn year_minus_50() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(-50, 6, 1, 0, 0, 0).unwrap()
}

fn assert_invalid<T: std::fmt::Debug>(result: custdb::Result<T>, field: &str) {
    let err = result.expect_err("an instant outside the range must be refused");
    assert!(err.is_invalid(), "{err:?}");
    assert_eq!(err.field(), Some(field), "{err}");
}

fn ann(store: &Store) -> custdb::CustomerId {
    store
        .customers()
        .create(NewCustomer::new("Ann"))
        .unwrap()
        .id
}

#[test]
fn the_range_is_years_1_to_9999_at_microseconds() {
    assert_eq!(
        MIN_TIMESTAMP.to_rfc3339(),
        "0001-01-01T00:00:00+00:00",
        "the earliest instant"
    );
    assert_eq!(
        MAX_TIMESTAMP.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "9999-12-31T23:59:59.999999Z"
    );
    assert!(custdb::time::is_storable(MIN_TIMESTAMP));
    assert!(custdb::time::is_storable(MAX_TIMESTAMP));
    assert!(!custdb::time::is_storable(
        MIN_TIMESTAMP - Duration::microseconds(1)
    ));
    assert!(!custdb::time::is_storable(
        MAX_TIMESTAMP + Duration::microseconds(1)
    ));
    assert!(!custdb::time::is_storable(DateTime::<Utc>::MAX_UTC));
    assert!(!custdb::time::is_storable(DateTime::<Utc>::MIN_UTC));
}

#[test]
fn a_far_future_hold_is_refused_and_the_sku_keeps_selling() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let customer = ann(&store);
        store.write(|tx| stock_tea(tx, "W", 10)).unwrap();
        let before = store.contents();
        for at in [
            year_10000(),
            DateTime::<Utc>::MAX_UTC,
            MAX_TIMESTAMP + Duration::days(1),
        ] {
            assert_invalid(
                store.write(|tx| {
                    tx.orders().place(
                        NewOrder::for_customer(customer, Currency::GBP)
                            .line(NewOrderLine::new("TEA", 1))
                            .hold_until(at),
                    )
                }),
                "hold_until",
            );
        }
        assert_eq!(before, store.contents());
        // The last instant itself is a valid hold, and later orders, their
        // cancellation and the expiry sweep all work.
        let held = store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(customer, Currency::GBP)
                        .line(NewOrderLine::new("TEA", 1))
                        .hold_until(MAX_TIMESTAMP),
                )
            })
            .unwrap();
        let next = store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(customer, Currency::GBP)
                        .line(NewOrderLine::new("TEA", 2)),
                )
            })
            .unwrap();
        store
            .write(|tx| tx.orders().cancel(next.id, "changed my mind"))
            .unwrap();
        let released = store
            .write(|tx| tx.inventory().release_expired(MAX_TIMESTAMP))
            .unwrap();
        assert_eq!(
            released, 1,
            "the order held until the last instant expires then"
        );
        assert_eq!(
            store.read(|r| r.orders().get(held.id)).unwrap().status,
            custdb::OrderStatus::Cancelled
        );
        for now in [DateTime::<Utc>::MAX_UTC, year_minus_50()] {
            assert_invalid(store.write(|tx| tx.inventory().release_expired(now)), "now");
        }
        assert_consistent(&store);
    }
}

#[test]
fn a_reservation_expiring_beyond_the_range_is_refused() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let variant = store.write(|tx| stock_tea(tx, "W", 10)).unwrap();
        let warehouse = store
            .read(|r| r.inventory().warehouse_by_code("W"))
            .unwrap()
            .id;
        for at in [year_10000(), DateTime::<Utc>::MAX_UTC] {
            assert_invalid(
                store.write(|tx| tx.inventory().reserve(variant, warehouse, 1, Some(at))),
                "expires_at",
            );
        }
        let r = store
            .write(|tx| {
                tx.inventory()
                    .reserve(variant, warehouse, 1, Some(MAX_TIMESTAMP))
            })
            .unwrap();
        assert_eq!(r.expires_at, Some(MAX_TIMESTAMP));
        assert_consistent(&store);
    }
}

#[test]
fn an_interaction_at_the_dawn_of_chrono_is_refused_and_the_timeline_reads() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let customer = ann(&store);
        let new = || {
            NewInteraction::new(
                custdb::Channel::Phone,
                custdb::Direction::Inbound,
                custdb::InteractionKind::Inquiry,
            )
            .subject("Hello")
        };
        for at in [DateTime::<Utc>::MIN_UTC, year_minus_50()] {
            assert_invalid(
                store
                    .customers()
                    .add_interaction(customer, new().occurred_at(at)),
                "interaction.occurred_at",
            );
        }
        let first = store
            .customers()
            .add_interaction(customer, new().occurred_at(MIN_TIMESTAMP))
            .unwrap();
        assert_eq!(first.occurred_at, MIN_TIMESTAMP);
        store.customers().add_interaction(customer, new()).unwrap();
        let page = store.customers().interactions(customer, None, 1).unwrap();
        let rest = store
            .customers()
            .interactions(customer, page.next_cursor.as_ref(), 10)
            .unwrap();
        assert_eq!(rest.items, vec![first]);
        assert_consistent(&store);
    }
}

#[test]
fn filter_bounds_beyond_the_range_mean_no_bound() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let a = ann(&store);
        let b = ann(&store);
        let everyone = store
            .customers()
            .list(
                &CustomerFilter::default()
                    .created_between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
                None,
                10,
            )
            .unwrap();
        assert_eq!(everyone.items.len(), 2);
        let since_a = store.customers().get(a).map(|c| c.created_at).unwrap();
        let from_a_on = store
            .customers()
            .list(
                &CustomerFilter::default().created_between(since_a, DateTime::<Utc>::MAX_UTC),
                None,
                10,
            )
            .unwrap();
        let ids: Vec<_> = from_a_on.items.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![a, b]);
        let audit = store
            .read(|r| {
                r.audit().query(
                    &AuditFilter::default()
                        .between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
                    None,
                    100,
                )
            })
            .unwrap();
        assert_eq!(audit.items.len(), 2);
        let sales = store
            .read(|r| {
                r.orders()
                    .sales_by_variant(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
            })
            .unwrap();
        assert!(sales.is_empty());
        let revenue = store
            .read(|r| {
                r.reports().revenue_by_period(
                    custdb::Period::Month,
                    custdb::TimeRange::between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
                )
            })
            .unwrap();
        assert!(revenue.is_empty());
    }
}

#[test]
fn point_in_time_reads_refuse_instants_beyond_the_range_without_panicking() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let customer = ann(&store);
        store
            .write(|tx| {
                tx.consent().register_purpose(
                    NewPurpose::new("news", "News", LawfulBasis::Consent)
                        .data_category(custdb::DataCategory::Contact),
                )
            })
            .unwrap();
        for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            assert_invalid(
                store.read(|r| r.consent().can_process(customer, "news", at)),
                "at",
            );
            assert_invalid(store.read(|r| r.reports().rfm(at)), "as_of");
            assert_invalid(
                store.read(|r| r.reports().stock_out_risk(at, 30, 30)),
                "as_of",
            );
            assert_invalid(store.plan_retention(at), "now");
        }
        // Near the ends the arithmetic must not overflow either.
        let near_start = MIN_TIMESTAMP + Duration::days(1);
        assert!(store
            .read(|r| r.reports().stock_out_risk(near_start, 3660, 30))
            .unwrap()
            .is_empty());
        store
            .write(|tx| {
                tx.privacy()
                    .set_retention_rule(custdb::RetentionCategory::Interactions, 3650)
            })
            .unwrap();
        store.plan_retention(near_start).unwrap();
        assert!(store
            .read(|r| r.reports().rfm(MAX_TIMESTAMP))
            .unwrap()
            .is_empty());
    }
}

#[test]
fn consent_times_beyond_the_range_are_typed_errors_not_check_failures() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let customer = ann(&store);
        store
            .write(|tx| {
                tx.consent().register_purpose(
                    NewPurpose::new("news", "News", LawfulBasis::Consent)
                        .data_category(custdb::DataCategory::Contact),
                )
            })
            .unwrap();
        let given = || {
            NewConsent::new(
                customer,
                "news",
                ConsentState::Given,
                CollectionMethod::WebForm,
            )
            .notice("1", "I agree.")
        };
        let before = store.contents();
        assert_invalid(
            store.write(|tx| tx.consent().record(given().valid_until(year_10000()))),
            "valid_until",
        );
        assert_invalid(
            store.write(|tx| tx.consent().record(given().occurred_at(year_minus_50()))),
            "occurred_at",
        );
        assert_eq!(before, store.contents());
        let event = store
            .write(|tx| tx.consent().record(given().valid_until(MAX_TIMESTAMP)))
            .unwrap();
        assert_eq!(event.valid_until, Some(MAX_TIMESTAMP));
        assert!(store
            .read(|r| r.consent().can_process(
                customer,
                "news",
                MAX_TIMESTAMP - Duration::seconds(1)
            ))
            .unwrap());
        assert_consistent(&store);
    }
}

#[test]
fn an_order_imported_in_year_10000_is_a_rejected_line_and_exports_work() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        store
            .import_products_jsonl(
                "{\"name\": \"Tea\", \"variants\": [{\"sku\": \"TEA\", \"price\": \"4.50\", \
             \"currency\": \"GBP\", \"track_stock\": false}]}\n"
                    .as_bytes(),
                |_| {},
                |_| {},
            )
            .unwrap();
        let orders =
            "{\"key\": \"A1\", \"guest_email\": \"g@example.com\", \"currency\": \"GBP\", \
                  \"placed_at\": \"+10000-01-05T10:00:00Z\", \"lines\": [{\"sku\": \"TEA\", \
                  \"quantity\": 1, \"unit_price\": \"4.50\"}]}\n\
                  {\"key\": \"A2\", \"guest_email\": \"g@example.com\", \"currency\": \"GBP\", \
                  \"placed_at\": \"2011-01-06T10:00:00Z\", \"lines\": [{\"sku\": \"TEA\", \
                  \"quantity\": 1, \"unit_price\": \"4.50\"}]}\n";
        let mut reasons = Vec::new();
        let report = store
            .import_orders_jsonl(
                "shop",
                orders.as_bytes(),
                |_| {},
                |r| reasons.push((r.line, r.reason.clone())),
            )
            .unwrap();
        assert_eq!((report.imported, report.rejected), (1, 1));
        assert_eq!(reasons[0].0, 1);
        assert!(
            reasons[0].1.starts_with("invalid placed_at: ") && reasons[0].1.contains("range"),
            "{reasons:?}"
        );
        let order = store.read(|r| r.orders().by_number(1)).unwrap();
        assert_eq!(order.placed_at.format("%Y").to_string(), "2011");
        let mut csv = Vec::new();
        assert_eq!(store.export_orders_csv(&mut csv).unwrap().rows, 1);
        let mut count = 0;
        store
            .read(|r| {
                r.orders().each_order(|_| {
                    count += 1;
                    Ok(())
                })
            })
            .unwrap();
        assert_eq!(count, 1);
        assert_consistent(&store);
    }
}

#[test]
fn check_reads_every_stored_timestamp_and_date() {
    // SQLite only: PostgreSQL's typed columns cannot hold these values.
    let (dir, store) = file_store();
    {
        let customer = ann(&store);
        store.write(|tx| stock_tea(tx, "W", 10)).unwrap();
        let order = store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(customer, Currency::GBP)
                        .line(NewOrderLine::new("TEA", 1))
                        .hold_until(Utc::now() + Duration::days(1)),
                )
            })
            .unwrap();
        assert_consistent(&store);
        // Damage the file behind custdb's back, as another tool could.
        let conn = rusqlite::Connection::open(dir.path().join("test.db")).unwrap();
        conn.execute(
            "UPDATE orders SET hold_until = '+10000-01-01T00:00:00.000000Z' WHERE id = ?1",
            [order.id.to_string()],
        )
        .unwrap();
        conn.execute(
            "UPDATE customers SET created_at = '2026-02-30T00:00:00.000000Z', \
         updated_at = '2026-03-01T00:00:00.000000Z', birth_date = '1990-13-01' WHERE id = ?1",
            [customer.to_string()],
        )
        .unwrap();
        conn.execute(
            "UPDATE stock_reservations SET expires_at = '0000-01-01T00:00:00.000000Z'",
            [],
        )
        .unwrap();
        drop(conn);
        let problems = store.check().unwrap().problems;
        for column in [
            "orders.hold_until",
            "customers.created_at",
            "customers.birth_date",
            "stock_reservations.expires_at",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(column)),
                "{column} not reported: {problems:#?}"
            );
        }
        assert!(
            !problems
                .iter()
                .any(|p| p.starts_with("customers.updated_at")),
            "a valid timestamp was reported: {problems:#?}"
        );
    }
}
