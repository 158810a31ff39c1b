//! Every bad commerce input the issue names gets a typed error naming the
//! field (or the SKU and quantities), and nothing in the store changes, on
//! each engine.

use custdb::Currency;
use std::str::FromStr;

use crate::common::assert_consistent;
use custdb::{
    AddressSnapshot, CustomerId, Decimal, Error, ErrorKind, NewCustomer, NewOrder, NewOrderLine,
    NewPayment, NewProduct, NewRefund, NewShipment, NewVariant, NewWarehouse, OrderId,
    PaymentMethod, Store, VariantId, WarehouseId,
};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct Fixture {
    ann: CustomerId,
    tee: VariantId,
    north: WarehouseId,
    pending: OrderId,
    paid: OrderId,
}

/// What an attempt must fail with.
enum Expect {
    Invalid(&'static str),
    NotFound,
    Shortfall(&'static str, i64, i64),
    Transition(&'static str),
}

type Attempt = Box<dyn Fn(&Store, &Fixture) -> Result<(), Error>>;

fn place(order: impl Fn(&Fixture) -> NewOrder + 'static) -> Attempt {
    Box::new(move |s, f| s.write(|tx| tx.orders().place(order(f))).map(drop))
}

fn one_line(line: NewOrderLine) -> Attempt {
    place(move |f| NewOrder::for_customer(f.ann, Currency::GBP).line(line.clone()))
}

fn setup(store: &Store) -> Fixture {
    store
        .write(|tx| {
            let ann = tx.customers().create(NewCustomer::new("Ann"))?;
            let p = tx.catalog().create_product(
                NewProduct::new("Tee")
                    .variant(NewVariant::new("TEE", d("10"), Currency::GBP))
                    .variant(NewVariant::new("EURO-TEE", d("11"), Currency::EUR)),
            )?;
            let tee = p.variants.iter().find(|v| v.sku == "TEE").unwrap().id;
            let north = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("N", "North"))?;
            tx.inventory().receive(tee, north.id, 5)?;
            let pending = tx.orders().place(
                NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEE", 1)),
            )?;
            let paid = tx.orders().place(
                NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEE", 1)),
            )?;
            tx.orders().pay(
                paid.id,
                NewPayment::new(PaymentMethod::Card, paid.total.amount),
            )?;
            Ok::<_, custdb::Error>(Fixture {
                ann: ann.id,
                tee,
                north: north.id,
                pending: pending.id,
                paid: paid.id,
            })
        })
        .unwrap()
}

fn pay_with_reference(reference: &'static str) -> Attempt {
    Box::new(move |s, f| {
        s.write(|tx| {
            let total = tx.orders().get(f.pending)?.total;
            tx.orders().pay(
                f.pending,
                NewPayment::new(PaymentMethod::Card, total.amount).provider("stripe", reference),
            )
        })
        .map(drop)
    })
}

fn cases() -> Vec<(&'static str, Expect, Attempt)> {
    vec![
        (
            "a card number as the payment reference",
            Expect::Invalid("provider_reference"),
            pay_with_reference("4111111111111111"),
        ),
        (
            "a card number with spaces inside the payment reference",
            Expect::Invalid("provider_reference"),
            pay_with_reference("card 5500 0000 0000 0004 ok"),
        ),
        (
            "a product name of invisible characters only",
            Expect::Invalid("name"),
            Box::new(|s, _| {
                s.write(|tx| {
                    tx.catalog().create_product(
                        NewProduct::new("\u{200B}\u{FEFF}").variant(NewVariant::new(
                            "INVIS",
                            d("1"),
                            Currency::GBP,
                        )),
                    )
                })
                .map(drop)
            }),
        ),
        (
            "zero quantity",
            Expect::Invalid("lines[0].quantity"),
            one_line(NewOrderLine::new("TEE", 0)),
        ),
        (
            "negative quantity",
            Expect::Invalid("lines[0].quantity"),
            one_line(NewOrderLine::new("TEE", -3)),
        ),
        (
            // The same status as every other lookup of an unknown SKU.
            "unknown SKU",
            Expect::NotFound,
            one_line(NewOrderLine::new("NOPE", 1)),
        ),
        (
            "mixed currencies in one order",
            Expect::Invalid("lines[1].sku"),
            place(|f| {
                NewOrder::for_customer(f.ann, Currency::GBP)
                    .line(NewOrderLine::new("TEE", 1))
                    .line(NewOrderLine::new("EURO-TEE", 1))
            }),
        ),
        (
            "a price with more decimals than the scale",
            Expect::Invalid("lines[0].unit_price"),
            one_line(NewOrderLine::new("TEE", 1).unit_price(d("1.00001"))),
        ),
        (
            "a catalog price with more decimals than the scale",
            Expect::Invalid("variants[0].price"),
            Box::new(|s, _| {
                s.write(|tx| {
                    tx.catalog()
                        .create_product(NewProduct::new("Bolt").variant(NewVariant::new(
                            "BOLT",
                            d("0.00001"),
                            Currency::GBP,
                        )))
                })
                .map(drop)
            }),
        ),
        (
            "a discount with more decimals than the currency",
            Expect::Invalid("lines[0].discount"),
            one_line(NewOrderLine::new("TEE", 1).discount(d("0.001"))),
        ),
        (
            "more lines than the limit",
            Expect::Invalid("lines"),
            place(|f| {
                (0..=custdb::order::MAX_LINES_PER_ORDER)
                    .fold(NewOrder::for_customer(f.ann, Currency::GBP), |o, i| {
                        o.line(NewOrderLine::new(format!("SKU-{i}"), 1))
                    })
            }),
        ),
        (
            "the same SKU twice",
            Expect::Invalid("lines[1].sku"),
            place(|f| {
                NewOrder::for_customer(f.ann, Currency::GBP)
                    .line(NewOrderLine::new("TEE", 1))
                    .line(NewOrderLine::new("TEE", 1))
            }),
        ),
        (
            "a shortfall",
            Expect::Shortfall("TEE", 9, 3),
            one_line(NewOrderLine::new("TEE", 9)),
        ),
        (
            "no customer and no guest email",
            Expect::Invalid("customer_id"),
            place(|_| {
                let mut order = NewOrder::for_guest("g@example.com", Currency::GBP)
                    .line(NewOrderLine::new("TEE", 1));
                order.guest_email = None;
                order
            }),
        ),
        (
            "a shipping address without a city",
            Expect::Invalid("shipping_address.city"),
            place(|f| {
                NewOrder::for_customer(f.ann, Currency::GBP)
                    .line(NewOrderLine::new("TEE", 1))
                    .ship_to(AddressSnapshot::new("1 High St", " ", "GB"))
            }),
        ),
        (
            "a billing address in an unknown country",
            Expect::Invalid("billing_address.country"),
            place(|f| {
                NewOrder::for_customer(f.ann, Currency::GBP)
                    .line(NewOrderLine::new("TEE", 1))
                    .bill_to(AddressSnapshot::new("1 High St", "Bath", "XX"))
            }),
        ),
        (
            "shipping from the wrong state",
            Expect::Transition("ship"),
            Box::new(|s, f| {
                s.write(|tx| {
                    tx.orders()
                        .ship(f.pending, NewShipment::everything("DHL", "1"))
                })
                .map(drop)
            }),
        ),
        (
            "refunding a pending order",
            Expect::Transition("refund"),
            Box::new(|s, f| {
                s.write(|tx| tx.orders().refund(f.pending, NewRefund::new(d("1"), "x")))
                    .map(drop)
            }),
        ),
        (
            "a refund above what was paid",
            Expect::Invalid("amount"),
            Box::new(|s, f| {
                s.write(|tx| tx.orders().refund(f.paid, NewRefund::new(d("10.01"), "x")))
                    .map(drop)
            }),
        ),
        (
            "shipping more than was ordered",
            Expect::Invalid("lines[0].quantity"),
            Box::new(|s, f| {
                s.write(|tx| {
                    tx.orders()
                        .ship(f.paid, NewShipment::everything("DHL", "1").line("TEE", 2))
                })
                .map(drop)
            }),
        ),
        (
            "a transfer to the same warehouse",
            Expect::Invalid("to_warehouse"),
            Box::new(|s, f| {
                s.write(|tx| tx.inventory().transfer(f.tee, f.north, f.north, 1))
                    .map(drop)
            }),
        ),
        (
            "receiving into an unknown warehouse",
            Expect::NotFound,
            Box::new(|s, f| {
                s.write(|tx| tx.inventory().receive(f.tee, WarehouseId::new(), 1))
                    .map(drop)
            }),
        ),
        (
            "receiving zero",
            Expect::Invalid("quantity"),
            Box::new(|s, f| {
                s.write(|tx| tx.inventory().receive(f.tee, f.north, 0))
                    .map(drop)
            }),
        ),
        (
            "an adjustment below zero on hand",
            Expect::Shortfall("TEE", 6, 5),
            Box::new(|s, f| {
                s.write(|tx| tx.inventory().adjust(f.tee, f.north, -6, "lost"))
                    .map(drop)
            }),
        ),
        (
            "a payment above what is due",
            Expect::Invalid("amount"),
            Box::new(|s, f| {
                s.write(|tx| {
                    tx.orders()
                        .pay(f.pending, NewPayment::new(PaymentMethod::Card, d("10.01")))
                })
                .map(drop)
            }),
        ),
    ]
}

#[test]
fn every_bad_commerce_input_is_a_typed_error_and_writes_nothing() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let fixture = setup(&store);
        for (name, expect, attempt) in cases() {
            let before = store.contents();
            let err = match attempt(&store, &fixture) {
                Ok(()) => panic!("{name}: was accepted"),
                Err(e) => e,
            };
            match (&expect, err.kind()) {
                (Expect::Invalid(field), ErrorKind::Invalid { field: got, .. }) => {
                    assert_eq!(got, field, "{name}: {err}")
                }
                (Expect::NotFound, ErrorKind::NotFound { .. }) => {}
                (
                    Expect::Shortfall(sku, requested, available),
                    ErrorKind::Shortfall {
                        sku: s,
                        requested: r,
                        available: a,
                        ..
                    },
                ) => assert_eq!(
                    (s.as_str(), *r, *a),
                    (*sku, *requested, *available),
                    "{name}"
                ),
                (Expect::Transition(action), ErrorKind::InvalidTransition { action: a, .. }) => {
                    assert_eq!(a, action, "{name}")
                }
                (_, other) => panic!("{name}: unexpected error {other:?}"),
            }
            assert!(!err.to_string().is_empty());
            assert_eq!(before, store.contents(), "{name}: the store changed");
        }
        assert_consistent(&store);
    }
}
