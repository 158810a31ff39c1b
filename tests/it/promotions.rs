//! Promotions and coupons (docs/PRICING.md, "Promotions"): the worked
//! examples of the docs with their figures worked out by hand, every
//! refusal, coupon limits (also under concurrency), cancellation giving a
//! use back, events and `check()`. Every test runs on each engine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Duration, Utc};
use custdb::{
    AddressKind, ChangeKind, Currency, CustomerId, Decimal, ErrorKind, NewAddress, NewCategory,
    NewCoupon, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewPromotion, NewTaxRate,
    NewVariant, Order, ProductId, PromotionEffect, Store,
};

use crate::common::{assert_consistent, every_engine, OnEngine};

use crate::common::{dec as d, invalid};

struct Shop {
    mug: ProductId,
    tea: ProductId,
    drinks: custdb::CategoryId,
}

/// GBP, net prices, VAT 20 % (standard) and 5 % (reduced) in GB. A mug
/// and a plate at 10.00 (standard, "Kitchen"); tea at 4.00 and coffee at
/// 3.00 (reduced, in "Hot drinks" below "Drinks"). No stock kept.
fn shop(store: &Store) -> Shop {
    let p = store.pricing();
    p.define_tax_class("reduced", "Reduced rate").unwrap();
    p.set_tax_rate(NewTaxRate::new("GB", d("0.2"), "VAT 20%"))
        .unwrap();
    p.set_tax_rate(NewTaxRate::new("GB", d("0.05"), "VAT 5%").tax_class("reduced"))
        .unwrap();
    let c = store.catalog();
    let kitchen = c.create_category(NewCategory::new("Kitchen")).unwrap();
    let drinks = c.create_category(NewCategory::new("Drinks")).unwrap();
    let hot = c
        .create_category(NewCategory::new("Hot drinks").parent(drinks.id))
        .unwrap();
    let product = |name: &str, sku: &str, price: &str, class: &str, category| {
        let p = c
            .create_product(
                NewProduct::new(name).variant(
                    NewVariant::new(sku, d(price), Currency::GBP)
                        .tax_class(class)
                        .track_stock(false),
                ),
            )
            .unwrap();
        c.set_product_categories(p.id, vec![category]).unwrap();
        p.id
    };
    let mug = product("Mug", "MUG", "10.00", "standard", kitchen.id);
    product("Plate", "PLATE", "10.00", "standard", kitchen.id);
    let tea = product("Tea", "TEA", "4.00", "reduced", hot.id);
    product("Coffee", "COFFEE", "3.00", "reduced", hot.id);
    Shop {
        mug,
        tea,
        drinks: drinks.id,
    }
}

fn customer(store: &Store, name: &str) -> CustomerId {
    let c = store.customers().create(NewCustomer::new(name)).unwrap();
    store
        .customers()
        .add_address(
            c.id,
            NewAddress::new(AddressKind::Shipping, "1 High St", "London", "GB").make_default(),
        )
        .unwrap();
    c.id
}

fn order(who: CustomerId, lines: &[(&str, i64)]) -> NewOrder {
    let mut o = NewOrder::for_customer(who, Currency::GBP).priced_by_catalog();
    for (sku, q) in lines {
        o = o.line(NewOrderLine::new(*sku, *q));
    }
    o
}

fn amounts(o: &Order) -> Vec<(Decimal, Decimal, Decimal)> {
    o.lines
        .iter()
        .map(|l| (l.discount.amount, l.tax.amount, l.total.amount))
        .collect()
}

fn percent(p: &str) -> PromotionEffect {
    PromotionEffect::PercentOffOrder { percent: d(p) }
}

/// docs/PRICING.md, worked example 1: 10 % off the order from 20.00 and
/// free shipping from 30.00, stacked.
#[test]
fn worked_example_percent_off_the_order_and_free_shipping_stack() {
    for (engine, store) in every_engine() {
        shop(&store);
        let pr = store.promotions();
        pr.create_promotion(
            NewPromotion::new("summer", "Summer 10%", percent("10"))
                .currency(Currency::GBP)
                .min_subtotal(d("20")),
        )
        .unwrap();
        pr.create_promotion(
            NewPromotion::new("freeship", "Free shipping", PromotionEffect::FreeShipping)
                .currency(Currency::GBP)
                .min_subtotal(d("30")),
        )
        .unwrap();
        let ann = customer(&store, "Ann");
        let o = store
            .orders()
            .place(order(ann, &[("MUG", 2), ("TEA", 3)]).shipping(d("4.95")))
            .unwrap();
        // 32.00 of goods: 3.20 off, shared 20 : 12 (2.00 and 1.20); tax
        // on what is left: 18.00 × 20 % = 3.60, 10.80 × 5 % = 0.54.
        assert_eq!(
            amounts(&o),
            [
                (d("2.00"), d("3.60"), d("21.60")),
                (d("1.20"), d("0.54"), d("11.34"))
            ],
            "{engine}"
        );
        assert_eq!(
            (
                o.subtotal.amount,
                o.discount_total.amount,
                o.tax_total.amount
            ),
            (d("32.00"), d("3.20"), d("4.14"))
        );
        assert_eq!((o.shipping.amount, o.total.amount), (d("0"), d("32.94")));
        let source = o.lines[0].price_source.as_ref().unwrap();
        assert_eq!(source.discounts.len(), 1);
        assert_eq!(
            (
                source.discounts[0].promotion_key.as_str(),
                source.discounts[0].amount
            ),
            ("summer", d("2"))
        );
        let r = pr.redemptions_of_order(o.id).unwrap();
        let got: Vec<_> = r
            .iter()
            .map(|r| {
                (
                    r.promotion_key.as_str(),
                    r.discount.amount,
                    r.shipping_discount.amount,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("freeship", d("0"), d("4.95")),
                ("summer", d("3.20"), d("0"))
            ],
            "{engine}"
        );
        // 19.00 of goods: under both minimums, nothing off.
        let o = store
            .orders()
            .place(order(ann, &[("MUG", 1), ("TEA", 2)]).shipping(d("4.95")))
            .unwrap();
        assert_eq!(o.discount_total.amount, d("0"));
        assert_eq!(o.shipping.amount, d("4.95"));
        assert!(pr.redemptions_of_order(o.id).unwrap().is_empty());
        assert_consistent(&store);
    }
}

/// docs/PRICING.md, worked example 2: a 5.00 coupon shared among three
/// lines, the leftover cent to the first line.
#[test]
fn worked_example_an_amount_off_is_shared_to_the_cent() {
    for (engine, store) in every_engine() {
        shop(&store);
        let pr = store.promotions();
        let five = pr
            .create_promotion(
                NewPromotion::new(
                    "five-off",
                    "5 off",
                    PromotionEffect::AmountOffOrder { amount: d("5") },
                )
                .currency(Currency::GBP)
                .requires_coupon(),
            )
            .unwrap();
        pr.create_coupon(NewCoupon::new("fiveoff", five.id))
            .unwrap();
        let ann = customer(&store, "Ann");
        // Without the code the promotion does not apply.
        let o = store
            .orders()
            .place(order(ann, &[("MUG", 1), ("PLATE", 1), ("TEA", 1)]))
            .unwrap();
        assert_eq!(o.discount_total.amount, d("0"), "{engine}");
        let o = store
            .orders()
            .place(order(ann, &[("MUG", 1), ("PLATE", 1), ("TEA", 1)]).coupon("FiveOff"))
            .unwrap();
        // 500 cents × 10/24, 10/24, 4/24 = 208.33, 208.33, 83.33: 499 cents
        // and one left, to the first line of the equal remainders.
        assert_eq!(
            amounts(&o),
            [
                (d("2.09"), d("1.58"), d("9.49")),
                (d("2.08"), d("1.58"), d("9.50")),
                (d("0.83"), d("0.16"), d("3.33"))
            ],
            "{engine}"
        );
        assert_eq!(
            (o.discount_total.amount, o.total.amount),
            (d("5.00"), d("22.32"))
        );
        assert_eq!(
            o.lines[2].price_source.as_ref().unwrap().discounts[0]
                .coupon_code
                .as_deref(),
            Some("FIVEOFF")
        );
        assert_eq!(pr.coupon("fiveoff").unwrap().uses, 1);
        assert_consistent(&store);
    }
}

/// docs/PRICING.md, worked example 3: buy 2 get 1 free in a category and
/// its subcategories, the cheapest units free.
#[test]
fn worked_example_buy_two_get_one_free_gives_the_cheapest_units() {
    for (engine, store) in every_engine() {
        let shop = shop(&store);
        let pr = store.promotions();
        pr.create_promotion(
            NewPromotion::new(
                "3for2",
                "3 for 2 on drinks",
                PromotionEffect::BuyXGetY {
                    buy_quantity: 2,
                    get_quantity: 1,
                    percent: d("100"),
                },
            )
            .category(shop.drinks),
        )
        .unwrap();
        let ann = customer(&store, "Ann");
        // 6 drinks: 2 free, the coffees (3.00 each). The mug is not a drink.
        let o = store
            .orders()
            .place(order(ann, &[("MUG", 1), ("TEA", 4), ("COFFEE", 2)]))
            .unwrap();
        assert_eq!(
            amounts(&o),
            [
                (d("0"), d("2.00"), d("12.00")),
                (d("0"), d("0.80"), d("16.80")),
                (d("6.00"), d("0"), d("0"))
            ],
            "{engine}"
        );
        // 5 drinks: one free, a coffee.
        let o = store
            .orders()
            .place(order(ann, &[("TEA", 4), ("COFFEE", 1)]))
            .unwrap();
        assert_eq!(o.discount_total.amount, d("3.00"), "{engine}");
        // 2 drinks: none free.
        let o = store.orders().place(order(ann, &[("TEA", 2)])).unwrap();
        assert_eq!(o.discount_total.amount, d("0"), "{engine}");
        assert_consistent(&store);
    }
}

/// docs/PRICING.md, worked example 4: an exclusive promotion applies alone
/// when it takes off more than the stackable ones together, and not
/// otherwise.
#[test]
fn worked_example_an_exclusive_promotion_wins_only_when_it_gives_more() {
    for (engine, store) in every_engine() {
        let shop = shop(&store);
        let vip = store.pricing().create_customer_group("vip", "VIP").unwrap();
        let pr = store.promotions();
        pr.create_promotion(
            NewPromotion::new("summer", "Summer 10%", percent("10"))
                .currency(Currency::GBP)
                .min_subtotal(d("20")),
        )
        .unwrap();
        pr.create_promotion(
            NewPromotion::new("freeship", "Free shipping", PromotionEffect::FreeShipping)
                .currency(Currency::GBP)
                .min_subtotal(d("30")),
        )
        .unwrap();
        pr.create_promotion(
            NewPromotion::new(
                "vip25",
                "VIP 25% off lines",
                PromotionEffect::PercentOffLines { percent: d("25") },
            )
            .group(vip.id)
            .exclusive(),
        )
        .unwrap();
        let bea = customer(&store, "Bea");
        store
            .pricing()
            .add_to_group(vip.id, bea, None, None)
            .unwrap();
        // Stackable: 3.20 + 4.95 shipping = 8.15 beats 25 % of lines = 8.00.
        let o = store
            .orders()
            .place(order(bea, &[("MUG", 2), ("TEA", 3)]).shipping(d("4.95")))
            .unwrap();
        assert_eq!(
            (o.discount_total.amount, o.shipping.amount),
            (d("3.20"), d("0")),
            "{engine}"
        );
        // No shipping to waive: 3.20 against 8.00, the VIP discount alone.
        let o = store
            .orders()
            .place(order(bea, &[("MUG", 2), ("TEA", 3)]))
            .unwrap();
        assert_eq!(
            amounts(&o),
            [
                (d("5.00"), d("3.00"), d("18.00")),
                (d("3.00"), d("0.45"), d("9.45"))
            ],
            "{engine}"
        );
        let keys: Vec<String> = store
            .promotions()
            .redemptions_of_order(o.id)
            .unwrap()
            .into_iter()
            .map(|r| r.promotion_key)
            .collect();
        assert_eq!(keys, ["vip25"]);
        // Not in the group: the stackable ones.
        let cy = customer(&store, "Cy");
        let o = store
            .orders()
            .place(order(cy, &[("MUG", 2), ("TEA", 3)]))
            .unwrap();
        assert_eq!(o.discount_total.amount, d("3.20"), "{engine}");
        // A product condition: only the mug's line.
        pr.create_promotion(
            NewPromotion::new(
                "mugs",
                "Mugs 50%",
                PromotionEffect::PercentOffLines { percent: d("50") },
            )
            .product(shop.mug)
            .exclusive()
            .priority(10),
        )
        .unwrap();
        let o = store
            .orders()
            .place(order(cy, &[("MUG", 2), ("TEA", 3)]))
            .unwrap();
        assert_eq!(
            (o.lines[0].discount.amount, o.lines[1].discount.amount),
            (d("10.00"), d("0")),
            "{engine}"
        );
        let _ = shop.tea;
        assert_consistent(&store);
    }
}

#[test]
fn first_order_promotions_need_a_customer_with_no_orders_yet() {
    for (engine, store) in every_engine() {
        shop(&store);
        let pr = store.promotions();
        let welcome = pr
            .create_promotion(
                NewPromotion::new("welcome", "Welcome 15%", percent("15"))
                    .first_order_only()
                    .requires_coupon(),
            )
            .unwrap();
        pr.create_coupon(NewCoupon::new("WELCOME", welcome.id))
            .unwrap();
        let ann = customer(&store, "Ann");
        let first = store
            .orders()
            .place(order(ann, &[("MUG", 1)]).coupon("welcome"))
            .unwrap();
        assert_eq!(first.discount_total.amount, d("1.50"), "{engine}");
        let e = store
            .orders()
            .place(order(ann, &[("MUG", 1)]).coupon("welcome"))
            .unwrap_err();
        let (field, reason) = invalid(&e);
        assert_eq!(field, "coupon");
        assert!(reason.contains("first order"), "{reason}");
        // A cancelled first order does not count.
        store.orders().cancel(first.id, "changed my mind").unwrap();
        store
            .orders()
            .place(order(ann, &[("MUG", 1)]).coupon("welcome"))
            .unwrap();
        // A guest has no history custdb can vouch for.
        let guest = NewOrder::for_guest("g@example.com", Currency::GBP)
            .priced_by_catalog()
            .ship_to(custdb::AddressSnapshot {
                recipient: None,
                company: None,
                line1: "1 High St".into(),
                line2: None,
                city: "London".into(),
                region: None,
                postal_code: None,
                country: "GB".into(),
            })
            .line(NewOrderLine::new("MUG", 1))
            .coupon("WELCOME");
        let (field, reason) = invalid(&store.orders().place(guest).unwrap_err());
        assert_eq!(field, "coupon");
        assert!(reason.contains("guest"), "{reason}");
        assert_consistent(&store);
    }
}

#[test]
fn coupon_limits_hold_and_a_cancelled_order_gives_its_use_back() {
    for (engine, store) in every_engine() {
        shop(&store);
        let pr = store.promotions();
        let p = pr
            .create_promotion(NewPromotion::new("ten", "10%", percent("10")).requires_coupon())
            .unwrap();
        pr.create_coupon(NewCoupon::new("ONCE", p.id).usage_limit(1))
            .unwrap();
        pr.create_coupon(NewCoupon::new("TWICE-EACH", p.id).per_customer_limit(2))
            .unwrap();
        let (ann, bob) = (customer(&store, "Ann"), customer(&store, "Bob"));
        let first = store
            .orders()
            .place(order(ann, &[("MUG", 1)]).coupon("ONCE"))
            .unwrap();
        let (field, reason) = invalid(
            &store
                .orders()
                .place(order(bob, &[("MUG", 1)]).coupon("once"))
                .unwrap_err(),
        );
        assert_eq!(field, "coupon", "{engine}");
        assert!(reason.contains("used up"), "{reason}");
        store.orders().cancel(first.id, "mistake").unwrap();
        assert_eq!(pr.coupon("ONCE").unwrap().uses, 0);
        let released = pr.redemptions_of_order(first.id).unwrap();
        assert!(released[0].released_at.is_some());
        store
            .orders()
            .place(order(bob, &[("MUG", 1)]).coupon("ONCE"))
            .unwrap();
        // Per customer: Ann twice, then no more; Bob still can.
        for _ in 0..2 {
            store
                .orders()
                .place(order(ann, &[("MUG", 1)]).coupon("TWICE-EACH"))
                .unwrap();
        }
        let (_, reason) = invalid(
            &store
                .orders()
                .place(order(ann, &[("MUG", 1)]).coupon("TWICE-EACH"))
                .unwrap_err(),
        );
        assert!(reason.contains("by this customer"), "{reason}");
        store
            .orders()
            .place(order(bob, &[("MUG", 1)]).coupon("TWICE-EACH"))
            .unwrap();
        assert_eq!(pr.coupon("TWICE-EACH").unwrap().uses, 3);
        assert_eq!(pr.redemptions_of_promotion(p.id).unwrap().len(), 5);
        assert_consistent(&store);
    }
}

#[test]
fn a_coupon_that_cannot_apply_refuses_the_order_with_the_reason() {
    for (engine, store) in every_engine() {
        shop(&store);
        let pr = store.promotions();
        let p = pr
            .create_promotion(
                NewPromotion::new("big", "10% from 50", percent("10"))
                    .currency(Currency::GBP)
                    .min_subtotal(d("50"))
                    .requires_coupon(),
            )
            .unwrap();
        let now = Utc::now();
        pr.create_coupon(NewCoupon::new("BIG", p.id)).unwrap();
        pr.create_coupon(NewCoupon::new("OLD", p.id).valid(None, Some(now - Duration::days(1))))
            .unwrap();
        pr.create_coupon(NewCoupon::new("SOON", p.id).valid(Some(now + Duration::days(1)), None))
            .unwrap();
        pr.create_coupon(NewCoupon::new("OFF", p.id)).unwrap();
        pr.set_coupon_active("off", false).unwrap();
        let eur = pr
            .create_promotion(
                NewPromotion::new("euro", "Euro", percent("5"))
                    .currency(Currency::EUR)
                    .requires_coupon(),
            )
            .unwrap();
        pr.create_coupon(NewCoupon::new("EURO", eur.id)).unwrap();
        let ann = customer(&store, "Ann");
        let place = |code: &str, lines: &[(&str, i64)]| {
            let e = store
                .orders()
                .place(order(ann, lines).coupon(code))
                .unwrap_err();
            invalid(&e)
        };
        for (code, lines, expected) in [
            ("NOPE", &[("MUG", 9)][..], "no coupon has code NOPE"),
            ("BIG", &[("MUG", 1)], "less than its minimum 50.00 GBP"),
            ("OLD", &[("MUG", 9)], "expired at"),
            ("SOON", &[("MUG", 9)], "is valid from"),
            ("OFF", &[("MUG", 9)], "switched off"),
            ("EURO", &[("MUG", 9)], "is for orders in EUR"),
            ("x", &[("MUG", 9)], "must have 3 to 32"),
            ("BAD CODE", &[("MUG", 9)], "letters, digits"),
        ] {
            let (field, reason) = place(code, lines);
            assert_eq!(field, "coupon", "{engine} {code}");
            assert!(reason.contains(expected), "{engine} {code}: {reason}");
        }
        // An explicit order carries its own discounts.
        let explicit = NewOrder::for_customer(ann, Currency::GBP)
            .line(NewOrderLine::new("MUG", 1))
            .coupon("BIG");
        let (field, _) = invalid(&store.orders().place(explicit).unwrap_err());
        assert_eq!(field, "coupon");
        // Nothing was written by the refusals.
        assert_eq!(pr.coupon("BIG").unwrap().uses, 0);
        assert!(store
            .orders()
            .history(ann, None, 10)
            .unwrap()
            .items
            .is_empty());
        assert_consistent(&store);
    }
}

#[test]
fn bad_promotions_and_coupons_are_refused_naming_the_field() {
    for (engine, store) in every_engine() {
        let shop = shop(&store);
        let pr = store.promotions();
        let base = || NewPromotion::new("p", "P", percent("10"));
        let cases: Vec<(NewPromotion, &str)> = vec![
            (NewPromotion::new("p", "P", percent("0")), "effect.percent"),
            (
                NewPromotion::new("p", "P", percent("100.01")),
                "effect.percent",
            ),
            (
                NewPromotion::new("p", "P", percent("12.345")),
                "effect.percent",
            ),
            (NewPromotion::new("p", "P", percent("-5")), "effect.percent"),
            (
                NewPromotion::new("p", "P", PromotionEffect::AmountOffOrder { amount: d("5") }),
                "currency",
            ),
            (
                NewPromotion::new(
                    "p",
                    "P",
                    PromotionEffect::AmountOffOrder { amount: d("5.001") },
                )
                .currency(Currency::GBP),
                "effect.amount",
            ),
            (
                NewPromotion::new("p", "P", PromotionEffect::AmountOffOrder { amount: d("0") })
                    .currency(Currency::GBP),
                "effect.amount",
            ),
            (
                NewPromotion::new(
                    "p",
                    "P",
                    PromotionEffect::BuyXGetY {
                        buy_quantity: 0,
                        get_quantity: 1,
                        percent: d("100"),
                    },
                ),
                "effect.buy_quantity",
            ),
            (
                NewPromotion::new(
                    "p",
                    "P",
                    PromotionEffect::BuyXGetY {
                        buy_quantity: 1,
                        get_quantity: 1001,
                        percent: d("100"),
                    },
                ),
                "effect.get_quantity",
            ),
            (
                NewPromotion::new(
                    "p",
                    "P",
                    PromotionEffect::AmountOffOrder {
                        amount: d("200000000000"),
                    },
                )
                .currency(Currency::GBP),
                "effect.amount",
            ),
            (
                base()
                    .currency(Currency::GBP)
                    .min_subtotal(d("100000000.01")),
                "conditions.min_subtotal",
            ),
            (base().min_subtotal(d("10")), "currency"),
            (
                base().currency(Currency::GBP).min_subtotal(d("-1")),
                "conditions.min_subtotal",
            ),
            (
                base().product(ProductId::new()),
                "conditions.product_ids[0]",
            ),
            (
                base().product(shop.mug).product(shop.mug),
                "conditions.product_ids[1]",
            ),
            (
                base().category(custdb::CategoryId::new()),
                "conditions.category_ids[0]",
            ),
            (
                base().group(custdb::CustomerGroupId::new()),
                "conditions.customer_group_ids[0]",
            ),
            (base().priority(1001), "priority"),
            (
                base().valid(
                    Some(Utc::now() + Duration::days(2)),
                    Some(Utc::now() + Duration::days(1)),
                ),
                "ends_at",
            ),
            (
                base().valid(None, Some(Utc::now() - Duration::days(1))),
                "ends_at",
            ),
            (NewPromotion::new("P!", "P", percent("10")), "key"),
            (NewPromotion::new("p", "", percent("10")), "name"),
        ];
        for (new, field) in cases {
            let e = pr.create_promotion(new.clone()).unwrap_err();
            assert_eq!(invalid(&e).0, field, "{engine}: {new:?}");
        }
        assert!(pr.promotions().unwrap().is_empty(), "{engine}");
        let auto = pr.create_promotion(base()).unwrap();
        assert!(matches!(
            pr.create_promotion(base()).unwrap_err().kind(),
            ErrorKind::AlreadyExists { field: "key", .. }
        ));
        let e = pr
            .create_coupon(NewCoupon::new("AUTO", auto.id))
            .unwrap_err();
        assert_eq!(invalid(&e).0, "promotion_id");
        let coded = pr
            .create_promotion(NewPromotion::new("c", "C", percent("10")).requires_coupon())
            .unwrap();
        let now = Utc::now();
        for (new, field) in [
            (NewCoupon::new("ab", coded.id), "code"),
            (NewCoupon::new("a".repeat(33), coded.id), "code"),
            (NewCoupon::new("ÄBC", coded.id), "code"),
            (
                NewCoupon::new("ABC", custdb::PromotionId::new()),
                "promotion_id",
            ),
            (
                NewCoupon::new("ABC", coded.id).usage_limit(0),
                "usage_limit",
            ),
            (
                NewCoupon::new("ABC", coded.id).per_customer_limit(-1),
                "per_customer_limit",
            ),
            (
                NewCoupon::new("ABC", coded.id).valid(Some(now), Some(now)),
                "ends_at",
            ),
        ] {
            let e = pr.create_coupon(new).unwrap_err();
            assert_eq!(invalid(&e).0, field, "{engine}");
        }
        pr.create_coupon(NewCoupon::new("ABC", coded.id)).unwrap();
        assert!(matches!(
            pr.create_coupon(NewCoupon::new("abc", coded.id))
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists { field: "code", .. }
        ));
        // A category a promotion names is not deleted.
        pr.create_promotion(NewPromotion::new("drinks", "D", percent("5")).category(shop.drinks))
            .unwrap();
        assert!(matches!(
            store
                .catalog()
                .delete_category(shop.drinks)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidState { .. }
        ));
        // JSON input is strict.
        let json = r#"{"key":"j","name":"J","effect":{"kind":"percent_off_order","percent":"10"},"bogus":1}"#;
        assert!(serde_json::from_str::<NewPromotion>(json).is_err());
        let json =
            r#"{"key":"j","name":"J","effect":{"kind":"free_shipping"},"requires_coupon":true}"#;
        let p: NewPromotion = serde_json::from_str(json).unwrap();
        assert!(p.requires_coupon);
        assert_consistent(&store);
    }
}

/// One code with one use, eight orders at once: exactly one gets it.
#[test]
fn a_one_time_code_is_used_once_under_concurrency() {
    const THREADS: usize = 8;
    for (engine, on) in every_engine() {
        let store: Store = (*on).clone();
        shop(&store);
        let p = store
            .promotions()
            .create_promotion(NewPromotion::new("once", "Once", percent("50")).requires_coupon())
            .unwrap();
        store
            .promotions()
            .create_coupon(NewCoupon::new("ONE-TIME", p.id).usage_limit(1))
            .unwrap();
        let buyers: Vec<CustomerId> = (0..THREADS)
            .map(|i| customer(&store, &format!("Buyer {i}")))
            .collect();
        let won = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(THREADS));
        let handles: Vec<_> = buyers
            .into_iter()
            .enumerate()
            .map(|(t, who)| {
                let store = store.clone();
                let won = Arc::clone(&won);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let o = order(who, &[("MUG", 1)]).coupon("ONE-TIME");
                    let result = if t % 2 == 0 {
                        store.orders().place(o)
                    } else {
                        store.write(|tx| tx.orders().place(o))
                    };
                    match result {
                        Ok(o) => {
                            assert_eq!(o.discount_total.amount, d("5.00"));
                            won.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            let (field, reason) = invalid(&e);
                            assert_eq!(field, "coupon", "thread {t}: {reason}");
                            assert!(reason.contains("used up"), "thread {t}: {reason}");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(won.load(Ordering::SeqCst), 1, "{engine}");
        assert_eq!(store.promotions().coupon("one-time").unwrap().uses, 1);
        assert_consistent(&store);
    }
}

/// Four first orders of one customer at once: one is the first.
#[test]
fn only_one_of_concurrent_orders_is_a_customers_first() {
    const THREADS: usize = 4;
    for (engine, on) in every_engine() {
        let store: Store = (*on).clone();
        shop(&store);
        store
            .promotions()
            .create_promotion(
                NewPromotion::new("welcome", "Welcome", percent("20")).first_order_only(),
            )
            .unwrap();
        let ann = customer(&store, "Ann");
        let barrier = Arc::new(std::sync::Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.orders().place(order(ann, &[("MUG", 1)])).unwrap()
                })
            })
            .collect();
        let discounted = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|o| o.discount_total.amount > Decimal::ZERO)
            .count();
        assert_eq!(discounted, 1, "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn promotions_are_events_and_check_finds_uses_written_behind_custdbs_back() {
    for (engine, store) in every_engine() {
        shop(&store);
        store.verify_audit().unwrap();
        let head = store.changes().head().unwrap();
        let pr = store.promotions();
        let p = pr
            .create_promotion(NewPromotion::new("ten", "10%", percent("10")).requires_coupon())
            .unwrap();
        pr.create_coupon(NewCoupon::new("TEN", p.id)).unwrap();
        pr.set_coupon_active("TEN", false).unwrap();
        pr.set_coupon_active("TEN", true).unwrap();
        let off = pr.set_promotion_active(p.id, false).unwrap();
        assert!(!off.active);
        let ann = customer(&store, "Ann");
        let (_, reason) = invalid(
            &store
                .orders()
                .place(order(ann, &[("MUG", 1)]).coupon("TEN"))
                .unwrap_err(),
        );
        assert!(reason.contains("switched off"), "{reason}");
        pr.set_promotion_active(p.id, true).unwrap();
        store
            .orders()
            .place(order(ann, &[("MUG", 1)]).coupon("TEN"))
            .unwrap();
        store.verify_audit().unwrap();
        let kinds: Vec<ChangeKind> = store
            .changes()
            .after(head, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .filter(|k| {
                matches!(
                    k,
                    ChangeKind::PromotionCreated
                        | ChangeKind::PromotionUpdated
                        | ChangeKind::CouponCreated
                        | ChangeKind::CouponUpdated
                        | ChangeKind::OrderPlaced
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::PromotionCreated,
                ChangeKind::CouponCreated,
                ChangeKind::CouponUpdated,
                ChangeKind::CouponUpdated,
                ChangeKind::PromotionUpdated,
                ChangeKind::PromotionUpdated,
                ChangeKind::OrderPlaced
            ],
            "{engine}"
        );
        assert_consistent(&store);
        store.tamper("coupons", &[], "UPDATE coupons SET uses = 0");
        let report = store.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("coupon TEN")),
            "{engine}: {:?}",
            report.problems
        );
        let _: &OnEngine = &store;
    }
}

mod properties {
    //! Any promotions on any cart: the order is placed or refused whole,
    //! no line is discounted below zero, the discounts add up, and
    //! `check()` prices every line again and agrees.

    use super::*;
    use proptest::prelude::*;

    fn effect() -> impl Strategy<Value = PromotionEffect> {
        let percent = (1i64..=10_000).prop_map(|p| Decimal::new(p, 2));
        prop_oneof![
            percent
                .clone()
                .prop_map(|percent| PromotionEffect::PercentOffOrder { percent }),
            (1i64..=100_000).prop_map(|c| PromotionEffect::AmountOffOrder {
                amount: Decimal::new(c, 2)
            }),
            percent
                .clone()
                .prop_map(|percent| PromotionEffect::PercentOffLines { percent }),
            (1i64..=4, 1i64..=3, percent).prop_map(|(buy_quantity, get_quantity, percent)| {
                PromotionEffect::BuyXGetY {
                    buy_quantity,
                    get_quantity,
                    percent,
                }
            }),
            Just(PromotionEffect::FreeShipping),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn any_promotions_on_any_cart_keep_the_books_exact(
            effects in proptest::collection::vec((effect(), any::<bool>(), -3i64..=3), 1..5),
            quantities in proptest::collection::vec(0i64..=7, 4),
            shipping_cents in 0i64..=2000,
        ) {
            let (_, on) = crate::common::sqlite_in_memory();
            let store: Store = (*on).clone();
            shop(&store);
            for (i, (effect, exclusive, priority)) in effects.iter().enumerate() {
                let mut p = NewPromotion::new(format!("p{i}"), "P", effect.clone())
                    .currency(Currency::GBP)
                    .priority(*priority);
                if *exclusive {
                    p = p.exclusive();
                }
                store.promotions().create_promotion(p).unwrap();
            }
            let ann = customer(&store, "Ann");
            let skus = ["MUG", "PLATE", "TEA", "COFFEE"];
            let lines: Vec<(&str, i64)> = skus
                .iter()
                .zip(&quantities)
                .filter(|(_, q)| **q > 0)
                .map(|(s, q)| (*s, *q))
                .collect();
            prop_assume!(!lines.is_empty());
            let o = store
                .orders()
                .place(order(ann, &lines).shipping(Decimal::new(shipping_cents, 2)))
                .unwrap();
            let mut discounts = Decimal::ZERO;
            for l in &o.lines {
                prop_assert!(l.discount.amount >= Decimal::ZERO);
                prop_assert!(l.total.amount >= Decimal::ZERO, "{l:?}");
                let listed: Decimal = l
                    .price_source
                    .as_ref()
                    .unwrap()
                    .discounts
                    .iter()
                    .map(|d| d.amount)
                    .sum();
                prop_assert_eq!(listed, l.discount.amount);
                discounts += l.discount.amount;
            }
            prop_assert_eq!(discounts, o.discount_total.amount);
            prop_assert!(o.shipping.amount >= Decimal::ZERO);
            let redeemed: Decimal = store
                .promotions()
                .redemptions_of_order(o.id)
                .unwrap()
                .iter()
                .map(|r| r.discount.amount)
                .sum();
            prop_assert_eq!(redeemed, o.discount_total.amount);
            prop_assert!(store.promotions().redemptions_of_order(o.id).unwrap().len() <= 5);
            let report = store.check().unwrap();
            prop_assert!(report.is_ok(), "{:?}", report.problems);
        }
    }
}
