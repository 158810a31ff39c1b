//! Invariant 17: every public operation that writes is all or nothing, even
//! when the caller catches its error inside a unit of work and commits the
//! rest.
//!
//! Each case runs an operation against a store whose audit trail has been
//! armed, through a separate connection, with a trigger that fails the k-th
//! audit row the operation writes. Every operation writes its rows and then
//! audits them, so failing after the k-th audit row leaves everything before
//! it written unless the operation is undone as a whole. For every k the
//! caught failure must leave the file exactly as it was, apart from a
//! witness write in the same unit of work, which must commit.

use chrono::{Duration, Utc};
use custdb::Currency;
use custdb::{
    AddressId, AddressKind, AddressPatch, Channel, CollectionMethod, ConsentState, CustomerId,
    CustomerPatch, DataCategory, Decimal, Direction, ErasureGround, HistoricalLine,
    HistoricalOrder, InteractionKind, LawfulBasis, NewAddress, NewConsent, NewCreditNote,
    NewCustomer, NewInteraction, NewOrder, NewOrderLine, NewPayment, NewProduct, NewPurpose,
    NewRefund, NewReturn, NewShipment, NewVariant, NewWarehouse, OrderId, PaymentId, PaymentMethod,
    Permission, ProductId, ReplenishmentRule, ReservationId, RetentionCategory, Segment, Store,
    VariantId, VariantPatch, WarehouseId, WriteTx,
};
use tempfile::TempDir;

use crate::common::{assert_consistent, snapshot};

/// A shop with something in every state an operation can start from.
struct Shop {
    _dir: TempDir,
    path: std::path::PathBuf,
    store: Store,
    ann: CustomerId,
    bob: CustomerId,
    billing: AddressId,
    second_billing: AddressId,
    product: ProductId,
    tea: VariantId,
    mug: VariantId,
    /// Two variants that do not track stock (history is recorded for those).
    untracked: [VariantId; 2],
    north: WarehouseId,
    south: WarehouseId,
    pending: OrderId,
    paid: OrderId,
    shipped: OrderId,
    authorized: PaymentId,
    hold: ReservationId,
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let store = Store::open(&path).unwrap();
    let shop = store
        .write(|tx| {
            let c = tx.customers();
            let ann = c
                .create(NewCustomer::new("Ann").email("ann@example.com"))?
                .id;
            let bob = c
                .create(NewCustomer::new("Bob").email("bob@example.com"))?
                .id;
            let billing = c
                .add_address(
                    ann,
                    NewAddress::new(AddressKind::Billing, "1 A St", "Leeds", "GB"),
                )?
                .id;
            let second_billing = c
                .add_address(
                    ann,
                    NewAddress::new(AddressKind::Billing, "2 B St", "Leeds", "GB"),
                )?
                .id;
            c.add_address(
                bob,
                NewAddress::new(AddressKind::Billing, "3 C St", "York", "GB"),
            )?;
            c.add_tags(ann, &["vip"])?;
            for who in [ann, bob] {
                c.add_interaction(
                    who,
                    NewInteraction::new(Channel::Email, Direction::Inbound, InteractionKind::Note)
                        .subject("hello"),
                )?;
            }
            let p = tx.catalog().create_product(
                NewProduct::new("Tea")
                    .variant(NewVariant::new("TEA", d("4.50"), Currency::GBP))
                    .variant(NewVariant::new("MUG", d("8.00"), Currency::GBP))
                    .variant(NewVariant::new("CARD", d("5.00"), Currency::GBP).track_stock(false))
                    .variant(NewVariant::new("WRAP", d("1.00"), Currency::GBP).track_stock(false)),
            )?;
            let sku = |code: &str| p.variants.iter().find(|v| v.sku == code).unwrap().id;
            let (tea, mug) = (sku("TEA"), sku("MUG"));
            let untracked = [sku("CARD"), sku("WRAP")];
            let inv = tx.inventory();
            let north = inv
                .create_warehouse(NewWarehouse::new("north", "North"))?
                .id;
            let south = inv
                .create_warehouse(NewWarehouse::new("south", "South"))?
                .id;
            for v in [tea, mug] {
                inv.receive(v, north, 50)?;
                inv.receive(v, south, 50)?;
            }
            let hold = inv
                .reserve(tea, north, 2, Some(Utc::now() + Duration::hours(1)))?
                .id;
            inv.reserve(mug, north, 1, Some(Utc::now() + Duration::hours(1)))?;
            tx.consent().register_purpose(
                NewPurpose::new("news", "Monthly news", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            tx.consent().record(
                NewConsent::new(bob, "news", ConsentState::Given, CollectionMethod::WebForm)
                    .notice("v1", "I agree to news."),
            )?;
            tx.privacy()
                .set_retention_rule(RetentionCategory::Interactions, 1)?;
            tx.access()
                .define_role("desk", &[Permission::Refund], None)?;
            tx.access().grant("granted", "desk")?;
            let order = |who: CustomerId| {
                tx.orders().place(
                    NewOrder::for_customer(who, Currency::GBP)
                        .line(NewOrderLine::new("TEA", 2))
                        .line(NewOrderLine::new("MUG", 1)),
                )
            };
            let pending = order(ann)?.id;
            let unpaid = order(ann)?;
            let authorized = tx
                .orders()
                .authorize_payment(
                    unpaid.id,
                    NewPayment::new(PaymentMethod::Card, unpaid.total.amount),
                )?
                .id;
            let paid = order(ann)?;
            tx.orders().pay(
                paid.id,
                NewPayment::new(PaymentMethod::Card, paid.total.amount),
            )?;
            let shipped = order(bob)?;
            tx.orders().pay(
                shipped.id,
                NewPayment::new(PaymentMethod::Card, shipped.total.amount),
            )?;
            tx.orders()
                .ship(shipped.id, NewShipment::everything("DHL", "JD01"))?;
            Ok::<_, custdb::Error>(Shop {
                _dir: tempfile::tempdir().unwrap(),
                path: path.clone(),
                store: store.clone(),
                ann,
                bob,
                billing,
                second_billing,
                product: p.id,
                tea,
                mug,
                untracked,
                north,
                south,
                pending,
                paid: paid.id,
                shipped: shipped.id,
                authorized,
                hold,
            })
        })
        .unwrap();
    Shop { _dir: dir, ..shop }
}

type Op = fn(&Shop, &WriteTx<'_>) -> custdb::Result<()>;

/// Every public operation that writes, from a state where it succeeds.
fn operations() -> Vec<(&'static str, Op)> {
    vec![
        ("customer create", |_, tx| {
            tx.customers()
                .create(NewCustomer::new("Cy").email("cy@example.com").tag("new"))
                .map(drop)
        }),
        ("customer update", |s, tx| {
            let cur = tx.customers().get(s.ann)?;
            tx.customers()
                .update(
                    s.ann,
                    cur.version,
                    CustomerPatch::default()
                        .email("ann2@example.com")
                        .company("Co"),
                )
                .map(drop)
        }),
        ("customer add tags", |s, tx| {
            tx.customers().add_tags(s.ann, &["a", "b"]).map(drop)
        }),
        ("customer remove tags", |s, tx| {
            tx.customers().remove_tags(s.ann, &["vip"]).map(drop)
        }),
        ("customer archive", |s, tx| {
            tx.customers().archive(s.bob).map(drop)
        }),
        ("address add", |s, tx| {
            tx.customers()
                .add_address(
                    s.ann,
                    NewAddress::new(AddressKind::Billing, "9 Z St", "Hull", "GB").make_default(),
                )
                .map(drop)
        }),
        ("address update", |s, tx| {
            tx.customers()
                .update_address(
                    s.billing,
                    AddressPatch {
                        city: Some("York".into()),
                        ..Default::default()
                    },
                )
                .map(drop)
        }),
        ("address delete", |s, tx| {
            tx.customers().delete_address(s.billing)
        }),
        ("address set default", |s, tx| {
            tx.customers()
                .set_default_address(s.second_billing)
                .map(drop)
        }),
        ("interaction add", |s, tx| {
            tx.customers()
                .add_interaction(
                    s.ann,
                    NewInteraction::new(
                        Channel::Phone,
                        Direction::Outbound,
                        InteractionKind::Support,
                    )
                    .subject("call back"),
                )
                .map(drop)
        }),
        ("product create", |_, tx| {
            tx.catalog()
                .create_product(
                    NewProduct::new("Pot")
                        .variant(NewVariant::new("POT-S", d("10"), Currency::GBP))
                        .variant(NewVariant::new("POT-L", d("20"), Currency::GBP)),
                )
                .map(drop)
        }),
        ("variant add", |s, tx| {
            tx.catalog()
                .add_variant(s.product, NewVariant::new("TEA-XL", d("9"), Currency::GBP))
                .map(drop)
        }),
        ("variant update", |s, tx| {
            let version = tx.catalog().variant(s.tea)?.version;
            tx.catalog()
                .update_variant(s.tea, version, VariantPatch::default().price(d("5.00")))
                .map(drop)
        }),
        ("variant archive", |s, tx| {
            tx.catalog().archive_variant(s.mug).map(drop)
        }),
        ("product archive", |s, tx| {
            tx.catalog().archive_product(s.product).map(drop)
        }),
        ("warehouse create", |_, tx| {
            tx.inventory()
                .create_warehouse(NewWarehouse::new("east", "East"))
                .map(drop)
        }),
        ("warehouse priority", |s, tx| {
            tx.inventory().set_warehouse_priority(s.south, 7).map(drop)
        }),
        ("stock receive", |s, tx| {
            tx.inventory().receive(s.tea, s.south, 5).map(drop)
        }),
        ("stock adjust", |s, tx| {
            tx.inventory()
                .adjust(s.tea, s.south, -3, "damaged")
                .map(drop)
        }),
        ("stock count", |s, tx| {
            tx.inventory().count(s.tea, s.south, 40).map(drop)
        }),
        ("stock transfer", |s, tx| {
            tx.inventory()
                .transfer(s.tea, s.south, s.north, 4)
                .map(drop)
        }),
        ("stock reserve", |s, tx| {
            tx.inventory()
                .reserve(s.mug, s.south, 3, Some(Utc::now() + Duration::hours(2)))
                .map(drop)
        }),
        ("stock release", |s, tx| {
            tx.inventory().release(s.hold).map(drop)
        }),
        ("stock release expired", |_, tx| {
            let released = tx
                .inventory()
                .release_expired(Utc::now() + Duration::days(1))?;
            assert_eq!(released, 2, "the shop holds two reservations");
            Ok(())
        }),
        ("replenishment rule", |s, tx| {
            tx.inventory().set_replenishment_rule(
                s.tea,
                s.north,
                ReplenishmentRule {
                    reorder_point: 5,
                    target_level: 60,
                    order_multiple: 12,
                },
            )
        }),
        ("order place", |s, tx| {
            tx.orders()
                .place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(NewOrderLine::new("TEA", 3))
                        .line(NewOrderLine::new("MUG", 2)),
                )
                .map(drop)
        }),
        ("order pay", |s, tx| {
            let total = tx.orders().get(s.pending)?.total;
            tx.orders()
                .pay(
                    s.pending,
                    NewPayment::new(PaymentMethod::Card, total.amount),
                )
                .map(drop)
        }),
        ("order authorize", |s, tx| {
            let total = tx.orders().get(s.pending)?.total;
            tx.orders()
                .authorize_payment(
                    s.pending,
                    NewPayment::new(PaymentMethod::Card, total.amount),
                )
                .map(drop)
        }),
        ("payment capture", |s, tx| {
            tx.orders().capture_payment(s.authorized).map(drop)
        }),
        ("payment fail", |s, tx| {
            tx.orders().fail_payment(s.authorized).map(drop)
        }),
        ("order ship", |s, tx| {
            tx.orders()
                .ship(s.paid, NewShipment::everything("UPS", "1Z"))
                .map(drop)
        }),
        ("order deliver", |s, tx| {
            tx.orders().mark_delivered(s.shipped)
        }),
        ("order cancel", |s, tx| {
            tx.orders().cancel(s.pending, "changed mind")
        }),
        ("order return", |s, tx| {
            tx.orders()
                .return_items(
                    s.shipped,
                    NewReturn::new("wrong size")
                        .line(custdb::NewReturnLine::restocked("TEA", 1))
                        .line(custdb::NewReturnLine::not_restocked("MUG", 1)),
                )
                .map(drop)
        }),
        ("order refund", |s, tx| {
            tx.orders()
                .refund(s.paid, NewRefund::new(d("1.00"), "goodwill"))
                .map(drop)
        }),
        ("historical order", |s, tx| {
            tx.orders()
                .record_historical(&HistoricalOrder {
                    customer_id: Some(s.ann),
                    guest_email: None,
                    currency: Currency::GBP,
                    country: Some("GB".into()),
                    placed_at: Utc::now() - Duration::days(400),
                    lines: vec![
                        HistoricalLine {
                            variant_id: s.untracked[0],
                            quantity: 2,
                            unit_price: d("4.00"),
                        },
                        HistoricalLine {
                            variant_id: s.untracked[1],
                            quantity: 1,
                            unit_price: d("7.50"),
                        },
                    ],
                    shipping: d("2"),
                })
                .map(drop)
        }),
        ("credit note", |s, tx| {
            tx.orders()
                .issue_credit_note(&NewCreditNote {
                    customer_id: Some(s.ann),
                    currency: Currency::GBP,
                    amount: d("3.00"),
                    reason: "old return".into(),
                    lines: serde_json::json!([]),
                    country: Some("GB".into()),
                    issued_at: Utc::now() - Duration::days(30),
                    to_store_credit: false,
                })
                .map(drop)
        }),
        ("purpose register", |_, tx| {
            tx.consent()
                .register_purpose(
                    NewPurpose::new("calls", "Calls", LawfulBasis::Consent)
                        .data_category(DataCategory::Contact),
                )
                .map(drop)
        }),
        ("consent record", |s, tx| {
            tx.consent()
                .record(
                    NewConsent::new(
                        s.ann,
                        "news",
                        ConsentState::Given,
                        CollectionMethod::WebForm,
                    )
                    .notice("v1", "I agree to news."),
                )
                .map(drop)
        }),
        ("customer merge", |s, tx| {
            tx.merges().merge(s.ann, s.bob).map(drop)
        }),
        ("customer erase", |s, tx| {
            tx.privacy()
                .erase(s.bob, ErasureGround::SubjectRequest)
                .map(drop)
        }),
        ("retention rule", |_, tx| {
            tx.privacy()
                .set_retention_rule(RetentionCategory::InactiveCustomers, 400)
                .map(drop)
        }),
        ("retention apply", |_, tx| {
            let report = tx
                .privacy()
                .apply_retention(Utc::now() + Duration::days(30))?;
            assert!(!report.actions.is_empty(), "{report:?}");
            Ok(())
        }),
        ("role define", |_, tx| {
            tx.access()
                .define_role("auditor2", &[Permission::ReadAudit], None)
                .map(drop)
        }),
        ("role grant", |_, tx| {
            tx.access().grant("new-actor", "desk").map(drop)
        }),
        ("role revoke", |_, tx| {
            tx.access().revoke("granted", "desk").map(drop)
        }),
        ("segment save", |_, tx| {
            tx.segments()
                .save("leeds", &Segment::default().country("GB").tag("vip"))
        }),
    ]
}

/// The witness write: a saved segment, or for the segment case a purpose.
fn witness(name: &str, tx: &WriteTx<'_>) -> custdb::Result<&'static str> {
    if name == "segment save" {
        tx.consent().register_purpose(
            NewPurpose::new("witness", "W", LawfulBasis::Contract)
                .data_category(DataCategory::Contact),
        )?;
        Ok("purpose")
    } else {
        tx.segments()
            .save("witness", &Segment::default().country("FR"))?;
        Ok("segment")
    }
}

fn audit_rows(store: &Store) -> i64 {
    store.read(|r| r.audit().count()).unwrap() as i64
}

/// Fails the k-th audit row whose entity is not the witness's.
fn arm(path: &std::path::Path, witness_entity: &str, k: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE test_countdown (n INTEGER NOT NULL);
         INSERT INTO test_countdown VALUES ({k});
         CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log
         WHEN NEW.entity_type <> '{witness_entity}'
         BEGIN
             UPDATE test_countdown SET n = n - 1;
             SELECT RAISE(ABORT, 'injected failure')
             WHERE (SELECT n FROM test_countdown) = 0;
         END;"
    ))
    .unwrap();
}

fn disarm(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("DROP TRIGGER test_fail_audit; DROP TABLE test_countdown;")
        .unwrap();
}

#[test]
fn every_writing_operation_is_all_or_nothing_when_its_error_is_caught() {
    for (name, op) in operations() {
        // How many audit rows the operation writes when nothing fails.
        let rows_written = {
            let s = shop();
            let before = audit_rows(&s.store);
            s.store
                .write(|tx| op(&s, tx))
                .unwrap_or_else(|e| panic!("{name} fails on the shop: {e}"));
            audit_rows(&s.store) - before
        };
        assert!(rows_written >= 1, "{name} writes no audit row");
        for k in 1..=rows_written {
            let s = shop();
            let witness_entity = if name == "segment save" {
                "purpose"
            } else {
                "segment"
            };
            let before = snapshot(&s.path);
            arm(&s.path, witness_entity, k);
            s.store
                .write(|tx| {
                    let err = op(&s, tx).expect_err(name);
                    assert!(
                        err.to_string().contains("injected failure"),
                        "{name}, audit row {k}: {err}"
                    );
                    assert_eq!(witness(name, tx)?, witness_entity);
                    Ok::<_, custdb::Error>(())
                })
                .unwrap_or_else(|e| panic!("{name}, audit row {k}: the unit of work fails: {e}"));
            disarm(&s.path);
            let after = snapshot(&s.path);
            let added: Vec<&String> = after
                .iter()
                .filter(|l| !before.contains(l))
                .filter(|l| !l.starts_with("audit_log:"))
                // The witness's own change-feed event.
                .filter(|l| !(l.starts_with("change_events:") && l.contains("\"witness\"")))
                .collect();
            let removed: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
            assert!(
                removed.is_empty(),
                "{name}, audit row {k}: rows changed or removed: {removed:#?}"
            );
            assert!(
                added.len() == 1 && added[0].contains("\"witness\""),
                "{name}, audit row {k}: rows added besides the witness: {added:#?}"
            );
            assert_consistent(&s.store);
        }
    }
}
