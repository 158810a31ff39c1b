//! Commerce scenarios: catalog, stock ledger, orders from placement to
//! refund. Every scenario ends with `check()` clean, and runs on each
//! engine (`common::every_engine`).

use custdb::ArchiveState;
use custdb::Currency;
use std::str::FromStr;

use crate::common::{assert_consistent, OnEngine};
use chrono::Duration;
use custdb::{
    AddressKind, CustomerId, Decimal, ErrorKind, MovementKind, NewAddress, NewCustomer, NewOrder,
    NewOrderLine, NewPayment, NewProduct, NewRefund, NewReturn, NewShipment, NewVariant,
    NewWarehouse, OrderStatus, PaymentMethod, ReplenishmentRule, VariantId, WarehouseId,
};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct Shop {
    store: OnEngine,
    ann: CustomerId,
    tee: VariantId,
    mug: VariantId,
    gift: VariantId,
    north: WarehouseId,
    south: WarehouseId,
}

/// On every engine: two warehouses (north first), a tee (10 north, 4
/// south), a mug (3 south, backorders allowed) and an untracked gift card.
fn shops() -> Vec<(&'static str, Shop)> {
    crate::common::every_engine()
        .into_iter()
        .map(|(engine, store)| (engine, shop_on(store)))
        .collect()
}

fn shop_on(store: OnEngine) -> Shop {
    let (ann, tee, mug, gift, north, south) = store
        .write(|tx| {
            let ann = tx
                .customers()
                .create(NewCustomer::new("Ann").email("ann@example.com"))?;
            tx.customers().add_address(
                ann.id,
                NewAddress::new(AddressKind::Shipping, "1 High St", "Bath", "GB")
                    .postal_code("BA1 1AA"),
            )?;
            let p = tx.catalog().create_product(
                NewProduct::new("Tee")
                    .variant(
                        NewVariant::new("TEE-M", d("12.50"), Currency::GBP)
                            .option("size", "M")
                            .title("M"),
                    )
                    .variant(
                        NewVariant::new("MUG", d("0.3333"), Currency::GBP).allow_backorder(true),
                    )
                    .variant(NewVariant::new("GIFT-10", d("10"), Currency::GBP).track_stock(false)),
            )?;
            let by_sku = |sku: &str| p.variants.iter().find(|v| v.sku == sku).unwrap().id;
            let north = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("north", "North").priority(1))?;
            let south = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("SOUTH", "South").priority(2))?;
            let inv = tx.inventory();
            inv.receive(by_sku("TEE-M"), north.id, 10)?;
            inv.receive(by_sku("TEE-M"), south.id, 4)?;
            inv.receive(by_sku("MUG"), south.id, 3)?;
            Ok::<_, custdb::Error>((
                ann.id,
                by_sku("TEE-M"),
                by_sku("MUG"),
                by_sku("GIFT-10"),
                north.id,
                south.id,
            ))
        })
        .unwrap();
    Shop {
        store,
        ann,
        tee,
        mug,
        gift,
        north,
        south,
    }
}

#[test]
fn catalog_products_variants_and_prices() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let tee = s
            .store
            .read(|r| r.catalog().variant_by_sku("TEE-M"))
            .unwrap();
        assert_eq!(tee.price.amount, d("12.50"));
        assert_eq!(tee.price.currency.code(), "GBP");
        assert_eq!(tee.options.get("size").map(String::as_str), Some("M"));
        let mug = s.store.read(|r| r.catalog().variant(s.mug)).unwrap();
        assert_eq!(mug.price.amount, d("0.3333"));
        let updated = s
            .store
            .write(|tx| {
                tx.catalog().update_variant(
                    s.tee,
                    tee.version,
                    custdb::VariantPatch::default().price(d("13")),
                )
            })
            .unwrap();
        assert_eq!(updated.price.amount, d("13"));
        assert_eq!(updated.version, tee.version + 1);
        let stale = s.store.write(|tx| {
            tx.catalog().update_variant(
                s.tee,
                tee.version,
                custdb::VariantPatch::default().price(d("14")),
            )
        });
        assert!(stale.unwrap_err().is_conflict());
        let page = s
            .store
            .read(|r| r.catalog().products(ArchiveState::Active, None, 10))
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].variants.len(), 3);
        assert_consistent(&s.store);
    }
}

#[test]
fn ledger_moves_keep_balances() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        s.store
            .write(|tx| {
                let inv = tx.inventory();
                inv.adjust(s.tee, s.north, -2, "damaged in storage")?;
                inv.transfer(s.tee, s.north, s.south, 3)?;
                inv.count(s.tee, s.south, 6)?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let (north, south) = s
            .store
            .read(|r| {
                Ok::<_, custdb::Error>((
                    r.inventory().level(s.tee, s.north)?,
                    r.inventory().level(s.tee, s.south)?,
                ))
            })
            .unwrap();
        assert_eq!((north.on_hand, north.reserved, north.available), (5, 0, 5));
        // 4 received + 3 transferred = 7, counted 6.
        assert_eq!(south.on_hand, 6);
        let moves = s
            .store
            .read(|r| r.inventory().movements(s.tee, None, 100))
            .unwrap();
        let kinds: Vec<MovementKind> = moves.items.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MovementKind::Receipt,
                MovementKind::Receipt,
                MovementKind::Adjustment,
                MovementKind::TransferOut,
                MovementKind::TransferIn,
                MovementKind::Count
            ]
        );
        assert_eq!(moves.items.iter().map(|m| m.on_hand_delta).sum::<i64>(), 11);
        assert_consistent(&s.store);
    }
}

#[test]
fn an_order_from_placement_to_refund() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let order = s
            .store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(
                            NewOrderLine::new("TEE-M", 12)
                                .discount(d("5"))
                                .tax_rate(d("0.2")),
                        )
                        .line(NewOrderLine::new("MUG", 3))
                        .line(NewOrderLine::new("GIFT-10", 1))
                        .shipping(d("4.99")),
                )
            })
            .unwrap();
        assert_eq!(order.number, 1);
        assert_eq!(order.status, OrderStatus::Pending);
        // Tee: 12 × 12.50 = 150.00, less 5 = 145.00, tax 20 % = 29.00.
        // Mug: 3 × 0.3333 = 0.9999 → 1.00. Gift: 10.00.
        assert_eq!(order.subtotal.amount, d("161.00"));
        assert_eq!(order.discount_total.amount, d("5"));
        assert_eq!(order.tax_total.amount, d("29"));
        assert_eq!(order.total.amount, d("189.99"));
        assert_eq!(
            order.shipping_address.as_ref().map(|a| a.city.as_str()),
            Some("Bath"),
            "the customer's default shipping address is snapshotted"
        );
        // 12 tees: north has 10, so the line is split: 10 north + 2 south.
        let (north, south) = s
            .store
            .read(|r| {
                Ok::<_, custdb::Error>((
                    r.inventory().level(s.tee, s.north)?,
                    r.inventory().level(s.tee, s.south)?,
                ))
            })
            .unwrap();
        assert_eq!((north.reserved, south.reserved), (10, 2));
        assert_consistent(&s.store);

        // Pay in two parts.
        let over = s.store.write(|tx| {
            tx.orders()
                .pay(order.id, NewPayment::new(PaymentMethod::Card, d("190")))
        });
        assert_eq!(over.unwrap_err().field(), Some("amount"));
        s.store
            .write(|tx| {
                tx.orders()
                    .pay(order.id, NewPayment::new(PaymentMethod::GiftCard, d("10")))?;
                let auth = tx.orders().authorize_payment(
                    order.id,
                    NewPayment::new(PaymentMethod::Card, d("179.99")).provider("stripe", "pi_123"),
                )?;
                tx.orders().capture_payment(auth.id)
            })
            .unwrap();
        let paid = s.store.read(|r| r.orders().get(order.id)).unwrap();
        assert_eq!(paid.status, OrderStatus::Paid);
        assert_eq!(paid.paid.amount, d("189.99"));
        assert_consistent(&s.store);

        // Ship part, then the rest.
        let first = s
            .store
            .write(|tx| {
                tx.orders().ship(
                    order.id,
                    NewShipment::everything("DHL", "JD01").line("TEE-M", 5),
                )
            })
            .unwrap();
        assert_eq!(first.lines.len(), 1);
        assert_eq!(
            s.store.read(|r| r.orders().get(order.id)).unwrap().status,
            OrderStatus::PartiallyShipped
        );
        let too_many = s.store.write(|tx| {
            tx.orders().ship(
                order.id,
                NewShipment::everything("DHL", "JD02").line("TEE-M", 8),
            )
        });
        assert_eq!(too_many.unwrap_err().field(), Some("lines[0].quantity"));
        s.store
            .write(|tx| {
                tx.orders()
                    .ship(order.id, NewShipment::everything("DHL", "JD02"))
            })
            .unwrap();
        let north = s
            .store
            .read(|r| r.inventory().level(s.tee, s.north))
            .unwrap();
        assert_eq!((north.on_hand, north.reserved), (0, 0));
        s.store
            .write(|tx| tx.orders().mark_delivered(order.id))
            .unwrap();
        assert_consistent(&s.store);

        // Return two tees (restocked) and one mug (not), refund part.
        let ret = s
            .store
            .write(|tx| {
                tx.orders().return_items(
                    order.id,
                    NewReturn::new("wrong size")
                        .line(custdb::NewReturnLine::restocked("TEE-M", 2))
                        .line(custdb::NewReturnLine::not_restocked("MUG", 1)),
                )
            })
            .unwrap();
        assert_eq!(ret.lines.len(), 2);
        let north = s
            .store
            .read(|r| r.inventory().level(s.tee, s.north))
            .unwrap();
        assert_eq!(
            north.on_hand, 2,
            "restocked into the first reservation's warehouse"
        );
        let too_much = s.store.write(|tx| {
            tx.orders()
                .refund(order.id, NewRefund::new(d("190"), "too much"))
        });
        assert_eq!(too_much.unwrap_err().field(), Some("amount"));
        let refunds = s
            .store
            .write(|tx| {
                tx.orders()
                    .refund(order.id, NewRefund::new(d("30.33"), "returned items"))
            })
            .unwrap();
        assert_eq!(refunds.len(), 1, "taken from the newest captured payment");
        let o = s.store.read(|r| r.orders().get(order.id)).unwrap();
        assert_eq!(o.status, OrderStatus::Delivered);
        assert_eq!(o.refunded.amount, d("30.33"));
        assert_eq!(
            s.store.read(|r| r.orders().lifetime_value(s.ann)).unwrap()[0].amount,
            d("159.66")
        );
        // Refund the rest: the order is refunded, across both payments.
        let rest = s
            .store
            .write(|tx| {
                tx.orders()
                    .refund(order.id, NewRefund::new(d("159.66"), "goodwill"))
            })
            .unwrap();
        assert_eq!(rest.len(), 2);
        let o = s.store.read(|r| r.orders().get(order.id)).unwrap();
        assert_eq!(o.status, OrderStatus::Refunded);
        let again = s.store.write(|tx| {
            tx.orders()
                .refund(order.id, NewRefund::new(d("1"), "again"))
        });
        assert!(again.unwrap_err().is_invalid_transition());

        let events: Vec<String> = s
            .store
            .read(|r| r.orders().events(order.id))
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            events,
            [
                "placed",
                "payment_captured",
                "payment_authorized",
                "payment_captured",
                "shipped",
                "shipped",
                "delivered",
                "returned",
                "refunded",
                "refunded"
            ]
        );
        let history = s
            .store
            .read(|r| r.orders().history(s.ann, None, 10))
            .unwrap();
        assert_eq!(history.items.len(), 1);
        let sales = s
            .store
            .read(|r| {
                r.orders().sales_by_variant(
                    o.placed_at - Duration::days(1),
                    o.placed_at + Duration::days(1),
                )
            })
            .unwrap();
        let tee_sales = sales.iter().find(|x| x.sku == "TEE-M").unwrap();
        assert_eq!(
            (tee_sales.quantity_sold, tee_sales.quantity_returned),
            (12, 2)
        );
        assert_eq!(tee_sales.revenue.amount, d("145"));
        assert_consistent(&s.store);
    }
}

#[test]
fn cancel_releases_and_illegal_transitions_are_typed() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let order = s
            .store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_guest("Guest@Example.com", Currency::GBP)
                        .line(NewOrderLine::new("TEE-M", 4).warehouse("south")),
                )
            })
            .unwrap();
        assert_eq!(order.guest_email.as_deref(), Some("guest@example.com"));
        assert_eq!(
            s.store
                .read(|r| r.inventory().level(s.tee, s.south))
                .unwrap()
                .available,
            0
        );
        let ship = s.store.write(|tx| {
            tx.orders()
                .ship(order.id, NewShipment::everything("UPS", "1Z"))
        });
        match ship.unwrap_err().kind() {
            ErrorKind::InvalidTransition { from, action, .. } => {
                assert_eq!((from.as_str(), *action), ("pending", "ship"));
            }
            other => panic!("expected an invalid transition, got {other:?}"),
        }
        s.store
            .write(|tx| tx.orders().cancel(order.id, "customer asked"))
            .unwrap();
        assert_eq!(
            s.store
                .read(|r| r.inventory().level(s.tee, s.south))
                .unwrap()
                .available,
            4
        );
        let again = s.store.write(|tx| tx.orders().cancel(order.id, "twice"));
        assert!(again.unwrap_err().is_invalid_transition());
        let pay = s.store.write(|tx| {
            tx.orders()
                .pay(order.id, NewPayment::new(PaymentMethod::Cash, d("1")))
        });
        assert!(pay.unwrap_err().is_invalid_transition());
        let cancelled = s
            .store
            .read(|r| r.orders().by_status(OrderStatus::Cancelled, None, 10))
            .unwrap();
        assert_eq!(cancelled.items.len(), 1);
        assert_consistent(&s.store);
    }
}

/// A refund that makes an order `refunded` gives back the stock the order
/// still held: all of it before shipping, the unshipped rest after a
/// partial shipment. A partial refund keeps the holds (the order may still
/// ship).
#[test]
fn a_full_refund_releases_what_the_order_still_holds() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let available = |s: &Shop| {
            s.store
                .read(|r| r.inventory().level(s.tee, s.north))
                .unwrap()
                .available
        };
        for shipped in [0, 3] {
            let before = available(&s);
            let order = s
                .store
                .write(|tx| {
                    let o = tx.orders().place(
                        NewOrder::for_customer(s.ann, Currency::GBP)
                            .line(NewOrderLine::new("TEE-M", 5).warehouse("north")),
                    )?;
                    tx.orders()
                        .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
                    if shipped > 0 {
                        tx.orders().ship(
                            o.id,
                            NewShipment::everything("DHL", "R1").line("TEE-M", shipped),
                        )?;
                    }
                    Ok::<_, custdb::Error>(o)
                })
                .unwrap();
            assert_eq!(available(&s), before - 5);
            s.store
                .write(|tx| {
                    tx.orders()
                        .refund(order.id, NewRefund::new(d("1"), "goodwill"))
                })
                .unwrap();
            assert_eq!(
                available(&s),
                before - 5,
                "a partial refund keeps the holds"
            );
            assert_consistent(&s.store);
            s.store
                .write(|tx| {
                    tx.orders().refund(
                        order.id,
                        NewRefund::new(order.total.amount - d("1"), "all the rest"),
                    )
                })
                .unwrap();
            let refunded = s.store.read(|r| r.orders().get(order.id)).unwrap();
            assert_eq!(refunded.status, OrderStatus::Refunded);
            assert_eq!(available(&s), before - shipped, "shipped {shipped}");
            let released: i64 = s
                .store
                .read(|r| r.inventory().movements_of_order(order.id))
                .unwrap()
                .iter()
                .filter(|m| m.kind == MovementKind::Release)
                .map(|m| m.reserved_delta)
                .sum();
            assert_eq!(released, -(5 - shipped));
            assert_consistent(&s.store);
        }
    }
}

#[test]
fn a_shortfall_names_the_sku_and_leaves_nothing_behind() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let before = s.store.contents();
        let err = s
            .store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(NewOrderLine::new("MUG", 1))
                        .line(NewOrderLine::new("TEE-M", 15)),
                )
            })
            .unwrap_err();
        match err.kind() {
            ErrorKind::Shortfall {
                sku,
                requested,
                available,
                warehouse,
            } => {
                assert_eq!((sku.as_str(), *requested, *available), ("TEE-M", 15, 14));
                assert_eq!(warehouse, &None);
            }
            other => panic!("expected a shortfall, got {other:?}"),
        }
        // A caller that catches the error inside a unit of work keeps nothing
        // of the failed placement either.
        s.store
            .write(|tx| {
                let failed = tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(NewOrderLine::new("TEE-M", 99)),
                );
                assert!(failed.unwrap_err().is_shortfall());
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        assert_eq!(before, s.store.contents());
        // Backorders: the mug may go below zero available.
        let o = s
            .store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP).line(NewOrderLine::new("MUG", 5)),
                )
            })
            .unwrap();
        // The 3 in stock are reserved in the south; the 2 backordered wait in
        // the first warehouse by priority, the north.
        let (south, north) = s
            .store
            .read(|r| {
                Ok::<_, custdb::Error>((
                    r.inventory().level(s.mug, s.south)?,
                    r.inventory().level(s.mug, s.north)?,
                ))
            })
            .unwrap();
        assert_eq!((south.on_hand, south.reserved, south.available), (3, 3, 0));
        assert_eq!((north.on_hand, north.reserved, north.available), (0, 2, -2));
        // It cannot ship before the stock arrives.
        s.store
            .write(|tx| {
                tx.orders()
                    .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))
            })
            .unwrap();
        let early = s
            .store
            .write(|tx| tx.orders().ship(o.id, NewShipment::everything("DHL", "X")));
        assert!(early.unwrap_err().is_shortfall());
        s.store
            .write(|tx| tx.inventory().receive(s.mug, s.north, 2))
            .unwrap();
        s.store
            .write(|tx| tx.orders().ship(o.id, NewShipment::everything("DHL", "X")))
            .unwrap();
        assert_consistent(&s.store);
    }
}

#[test]
fn idempotent_placement() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let request = NewOrder::for_customer(s.ann, Currency::GBP)
            .line(NewOrderLine::new("TEE-M", 1))
            .idempotency_key("cart-7");
        let first = s
            .store
            .write(|tx| tx.orders().place(request.clone()))
            .unwrap();
        let audit_before = s.store.read(|r| r.audit().count()).unwrap();
        let second = s
            .store
            .write(|tx| tx.orders().place(request.clone()))
            .unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(audit_before, s.store.read(|r| r.audit().count()).unwrap());
        let different = s.store.write(|tx| {
            tx.orders()
                .place(request.clone().line(NewOrderLine::new("MUG", 1)))
        });
        assert!(matches!(
            different.unwrap_err().kind(),
            ErrorKind::IdempotencyMismatch { .. }
        ));
        assert_eq!(
            s.store
                .read(|r| r.inventory().level(s.tee, s.north))
                .unwrap()
                .reserved,
            1
        );
        assert_consistent(&s.store);
    }
}

#[test]
fn expired_reservations_never_count_and_are_released() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let soon = chrono::Utc::now() + Duration::milliseconds(300);
        let (hold, order) = s
            .store
            .write(|tx| {
                let hold = tx.inventory().reserve(s.tee, s.north, 6, Some(soon))?;
                let order = tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(NewOrderLine::new("TEE-M", 3).warehouse("NORTH"))
                        .hold_until(soon),
                )?;
                Ok::<_, custdb::Error>((hold, order))
            })
            .unwrap();
        assert_eq!(
            s.store
                .read(|r| r.inventory().level(s.tee, s.north))
                .unwrap()
                .available,
            1
        );
        std::thread::sleep(std::time::Duration::from_millis(400));
        // Expired but not yet released: availability already ignores them.
        let level = s
            .store
            .read(|r| r.inventory().level(s.tee, s.north))
            .unwrap();
        assert_eq!((level.reserved, level.available), (0, 10));
        let released = s
            .store
            .write(|tx| tx.inventory().release_expired(chrono::Utc::now()))
            .unwrap();
        assert_eq!(released, 2);
        let r = s
            .store
            .read(|r| r.inventory().reservation(hold.id))
            .unwrap();
        assert_eq!(r.closed_reason.as_deref(), Some("expired"));
        let o = s.store.read(|r| r.orders().get(order.id)).unwrap();
        assert_eq!(o.status, OrderStatus::Cancelled);
        assert_consistent(&s.store);
    }
}

#[test]
fn an_expired_hold_makes_way_for_a_new_order() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let soon = chrono::Utc::now() + Duration::milliseconds(200);
        let hold = s
            .store
            .write(|tx| tx.inventory().reserve(s.tee, s.north, 9, Some(soon)))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        // North has 10 on hand and, counting only live holds, all 10 available:
        // the allocation rule picks it whole, and reserving there releases the
        // expired hold first, so the balance's CHECK constraint never sees 19
        // reserved of 10.
        let order = s
            .store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(NewOrderLine::new("TEE-M", 10)),
                )
            })
            .unwrap();
        let moves = s
            .store
            .read(|r| r.inventory().movements_of_order(order.id))
            .unwrap();
        assert_eq!(
            moves
                .iter()
                .map(|m| (m.kind, m.warehouse_id, m.reserved_delta))
                .collect::<Vec<_>>(),
            vec![(MovementKind::Reservation, s.north, 10)]
        );
        let released = s
            .store
            .read(|r| r.inventory().reservation(hold.id))
            .unwrap();
        assert_eq!(
            (released.open_quantity, released.closed_reason.as_deref()),
            (0, Some("expired"))
        );
        let level = s
            .store
            .read(|r| r.inventory().level(s.tee, s.north))
            .unwrap();
        assert_eq!(
            (level.on_hand, level.reserved, level.available),
            (10, 10, 0)
        );
        assert_consistent(&s.store);
    }
}

#[test]
fn replenishment_low_stock_and_overstock() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        s.store
            .write(|tx| {
                let inv = tx.inventory();
                inv.set_replenishment_rule(
                    s.tee,
                    s.north,
                    ReplenishmentRule {
                        reorder_point: 12,
                        target_level: 30,
                        order_multiple: 12,
                    },
                )?;
                inv.set_replenishment_rule(
                    s.tee,
                    s.south,
                    ReplenishmentRule {
                        reorder_point: 1,
                        target_level: 2,
                        order_multiple: 1,
                    },
                )?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let (suggest, low, over) = s
            .store
            .read(|r| {
                let i = r.inventory();
                Ok::<_, custdb::Error>((
                    i.replenishment_suggestions()?,
                    i.low_stock()?,
                    i.overstock()?,
                ))
            })
            .unwrap();
        assert_eq!(suggest.len(), 1);
        assert_eq!(suggest[0].level.warehouse_code, "NORTH");
        // 30 - 10 = 20, rounded up to a multiple of 12.
        assert_eq!(suggest[0].quantity, 24);
        assert_eq!(low.len(), 1);
        assert_eq!(low[0].quantity, 2);
        assert_eq!(over.len(), 1);
        assert_eq!(
            (over[0].level.warehouse_code.as_str(), over[0].quantity),
            ("SOUTH", 2)
        );
        let bad = s.store.write(|tx| {
            tx.inventory().set_replenishment_rule(
                s.tee,
                s.north,
                ReplenishmentRule {
                    reorder_point: 5,
                    target_level: 5,
                    order_multiple: 1,
                },
            )
        });
        assert_eq!(bad.unwrap_err().field(), Some("target_level"));
        let _ = s.gift;
        assert_consistent(&s.store);
    }
}

#[test]
fn check_finds_a_tampered_balance_and_order_total() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        let o = s
            .store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(NewOrderLine::new("TEE-M", 2)),
                )
            })
            .unwrap();
        s.store.tamper(
            "stock_levels",
            &[],
            &format!(
                "UPDATE stock_levels SET on_hand = on_hand + 1 WHERE warehouse_id = '{}'",
                s.north
            ),
        );
        s.store.tamper(
            "orders",
            &[],
            &format!(
                "UPDATE orders SET subtotal_e4 = subtotal_e4 + 10000, \
                 total_e4 = total_e4 + 10000 WHERE id = '{}'",
                o.id
            ),
        );
        let report = s.store.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("ledger sums")),
            "{:?}",
            report.problems
        );
        assert!(
            report.problems.iter().any(|p| p.contains("totals differ")),
            "{:?}",
            report.problems
        );
        // The ledger itself refuses edits.
        let edit = s
            .store
            .try_sql("UPDATE stock_movements SET on_hand_delta = 100");
        assert!(edit.is_err(), "{edit:?}");
    }
}

/// A page of products (two statements for the page) holds exactly what
/// reading each product on its own gives, variants included, across pages
/// and with archived products in or out.
#[test]
fn product_pages_match_single_reads() {
    for (engine, s) in shops() {
        eprintln!("on {engine}");
        s.store
            .write(|tx| {
                for n in 0..25 {
                    let mut p = NewProduct::new(format!("Item {:02}", n % 9));
                    for v in 0..(n % 4) + 1 {
                        p = p.variant(NewVariant::new(
                            format!("I{n}-{v}"),
                            d("1.50"),
                            Currency::GBP,
                        ));
                    }
                    let p = tx.catalog().create_product(p)?;
                    if n % 6 == 0 {
                        tx.catalog().archive_product(p.id)?;
                    }
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        for (archived, expected) in [
            (ArchiveState::Active, 26 - 5),
            (ArchiveState::All, 26),
            (ArchiveState::Archived, 5),
        ] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = s
                    .store
                    .read(|r| r.catalog().products(archived, cursor.as_ref(), 4))
                    .unwrap();
                for p in &page.items {
                    let single = s.store.read(|r| r.catalog().product(p.id)).unwrap();
                    assert_eq!(p, &single);
                    match archived {
                        ArchiveState::Active => assert!(p.archived_at.is_none()),
                        ArchiveState::Archived => assert!(p.archived_at.is_some()),
                        _ => {}
                    }
                }
                seen.extend(page.items.iter().map(|p| (p.name.clone(), p.id)));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(seen, sorted, "pages come in name order");
            // 25 products plus the shop's own, 5 of them archived.
            assert_eq!(seen.len(), expected, "{archived:?}");
        }
    }
}

#[test]
fn product_pages_work_with_names_of_the_longest_multibyte_text() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        // Names at the 200-character limit in two- and four-byte characters:
        // their cursors are 437 and 837 bytes long.
        let names: Vec<String> = (0..3)
            .flat_map(|n| {
                let last = char::from_u32('а' as u32 + n).unwrap();
                [
                    format!("{}{last}", "Ж".repeat(199)),
                    format!("{}{n}", "🍵".repeat(199)),
                ]
            })
            .collect();
        store
            .write(|tx| {
                for (i, name) in names.iter().enumerate() {
                    tx.catalog().create_product(
                        NewProduct::new(name.clone()).variant(NewVariant::new(
                            format!("L{i}"),
                            d("1"),
                            Currency::GBP,
                        )),
                    )?;
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .read(|r| {
                    r.catalog()
                        .products(ArchiveState::Active, cursor.as_ref(), 1)
                })
                .unwrap();
            seen.extend(page.items.iter().map(|p| p.name.clone()));
            match page.next_cursor {
                Some(c) => {
                    // A cursor survives the round trip through text a client keeps.
                    cursor = Some(c.as_str().parse::<custdb::Cursor>().unwrap());
                }
                None => break,
            }
        }
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(seen, expected);

        // A cursor longer than any listing makes is refused, naming the field.
        let too_long = "x".repeat(custdb::MAX_CURSOR_CHARS + 1);
        let err = too_long.parse::<custdb::Cursor>().unwrap_err();
        assert_eq!(err.field(), Some("cursor"), "{err}");
    }
}

#[test]
fn create_product_returns_variants_in_the_order_given() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let skus = ["ZED", "ALPHA", "MID", "BETA", "OMEGA", "AA"];
        let product = store
            .write(|tx| {
                tx.catalog()
                    .create_product(skus.iter().fold(NewProduct::new("Set"), |p, sku| {
                        p.variant(NewVariant::new(*sku, d("1"), Currency::GBP))
                    }))
            })
            .unwrap();
        let created: Vec<&str> = product.variants.iter().map(|v| v.sku.as_str()).collect();
        assert_eq!(created, skus);
        let read = store.read(|r| r.catalog().product(product.id)).unwrap();
        assert_eq!(read, product, "a read gives the same order");
    }
}

/// "An order that counts as a sale" is one definition
/// (`order::counts_as_sale`): a paid order is a sale in every figure, a
/// pending or cancelled one in none of them.
#[test]
fn pending_and_cancelled_orders_are_not_sales_in_any_figure() {
    // Reports, RFM and segments are not on PostgreSQL yet: SQLite only.
    let s = shop_on(crate::common::every_engine().swap_remove(0).1);
    let place = |quantity: i64| {
        s.store
            .write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(s.ann, Currency::GBP)
                        .line(NewOrderLine::new("TEE-M", quantity)),
                )
            })
            .unwrap()
    };
    let paid = place(1);
    s.store
        .write(|tx| {
            tx.orders().pay(
                paid.id,
                NewPayment::new(PaymentMethod::Card, paid.total.amount),
            )
        })
        .unwrap();
    let _pending = place(2);
    let cancelled = place(3);
    s.store
        .write(|tx| tx.orders().cancel(cancelled.id, "changed my mind"))
        .unwrap();
    let (from, to) = (
        paid.placed_at - Duration::days(1),
        paid.placed_at + Duration::days(1),
    );
    let range = custdb::TimeRange::between(from, to);
    s.store
        .read(|r| {
            let by_variant = r.orders().sales_by_variant(from, to)?;
            let tee = by_variant.iter().find(|x| x.sku == "TEE-M").unwrap();
            assert_eq!(tee.quantity_sold, 1, "sales by variant");
            assert_eq!(tee.revenue.amount, d("12.50"));
            let by_product = r.reports().revenue_by_product(range, 10)?;
            let tee = by_product.iter().find(|x| x.sku == "TEE-M").unwrap();
            assert_eq!(tee.units_sold, 1, "revenue by product");
            let by_period = r.reports().revenue_by_period(custdb::Period::Day, range)?;
            assert_eq!(by_period.iter().map(|x| x.orders).sum::<u64>(), 1);
            let c = r.reports().cancellations_and_returns(range)?;
            assert_eq!((c.orders, c.cancelled, c.units_sold), (3, 1, 1));
            let rfm = r.reports().rfm(to)?;
            assert_eq!(rfm.len(), 1);
            assert_eq!(rfm[0].frequency, 1, "RFM counts the one sale");
            let once = custdb::Segment::default().min_orders(1);
            let twice = custdb::Segment::default().min_orders(2);
            assert_eq!(r.segments().evaluate(&once, None, 10)?.items, [s.ann]);
            assert!(r.segments().evaluate(&twice, None, 10)?.items.is_empty());
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    assert_consistent(&s.store);
}
