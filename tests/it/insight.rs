//! Reports, RFM, segments, duplicate candidates and merges on small data
//! whose answers are worked out by hand in the comments, on each engine.

use crate::common::assert_consistent;
use chrono::{Duration, TimeZone, Utc};
use custdb::order::historical::{HistoricalLine, HistoricalOrder};
use custdb::report::Period;
use custdb::Currency;
use custdb::{
    AddressKind, Channel, CollectionMethod, ConsentState, CustomerId, DataCategory, Decimal,
    Direction, ErrorKind, InteractionKind, LawfulBasis, NewAddress, NewConsent, NewCustomer,
    NewInteraction, NewProduct, NewPurpose, NewVariant, Segment, Store, VariantId,
};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn at(month: u32, day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2011, month, day, 10, 0, 0).unwrap()
}

struct Shop {
    ann: CustomerId,
    bob: CustomerId,
    cat: CustomerId,
}

/// Ann (GB): orders in Jan (2 × 10.00 + 5.00 postage = 25.00) and Mar
/// (3 × 10.00 = 30.00). Bob (FR): one order in Feb (1 × 2.50). Cat: none.
fn shop(store: &Store) -> Shop {
    store
        .write(|tx| {
            let ann = tx
                .customers()
                .create(NewCustomer::new("Ann Lee").tag("vip"))?
                .id;
            let bob = tx.customers().create(NewCustomer::new("Bob Roy"))?.id;
            let cat = tx.customers().create(NewCustomer::new("Cat Kim"))?.id;
            let p = tx.catalog().create_product(
                NewProduct::new("Tea")
                    .variant(NewVariant::new("TEA", d("10.00"), Currency::GBP).track_stock(false))
                    .variant(NewVariant::new("CUP", d("2.50"), Currency::GBP).track_stock(false)),
            )?;
            let v =
                |sku: &str| -> VariantId { p.variants.iter().find(|v| v.sku == sku).unwrap().id };
            let order =
                |c: CustomerId, country: &str, when, sku: &str, q: i64, price: &str, ship: &str| {
                    HistoricalOrder {
                        customer_id: Some(c),
                        guest_email: None,
                        currency: Currency::GBP,
                        country: Some(country.into()),
                        placed_at: when,
                        lines: vec![HistoricalLine {
                            variant_id: v(sku),
                            quantity: q,
                            unit_price: d(price),
                        }],
                        shipping: d(ship),
                    }
                };
            tx.orders().record_historical(&order(
                ann,
                "GB",
                at(1, 5),
                "TEA",
                2,
                "10.00",
                "5.00",
            ))?;
            tx.orders()
                .record_historical(&order(ann, "GB", at(3, 7), "TEA", 3, "10.00", "0"))?;
            tx.orders()
                .record_historical(&order(bob, "FR", at(2, 9), "CUP", 1, "2.50", "0"))?;
            Ok::<_, custdb::Error>(Shop { ann, bob, cat })
        })
        .unwrap()
}

#[test]
fn reports_add_up_exactly() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let s = shop(&store);
        let r = store.read(|r| {
            Ok::<_, custdb::Error>((
                r.reports()
                    .revenue_by_period(Period::Month, custdb::TimeRange::all())?,
                r.reports()
                    .revenue_by_country(custdb::TimeRange::all(), 10)?,
                r.reports().top_customers(custdb::TimeRange::all(), 10)?,
                r.reports().average_order_value(custdb::TimeRange::all())?,
                r.reports().repeat_purchase_rate(custdb::TimeRange::all())?,
                r.reports()
                    .revenue_by_product(custdb::TimeRange::all(), 10)?,
            ))
        });
        let (months, countries, top, aov, repeat, products) = r.unwrap();
        // Every figure is Money, shown with the currency's minor unit digits.
        let m: Vec<(String, String)> = months
            .iter()
            .map(|m| (m.key.to_string(), m.net.to_string()))
            .collect();
        assert_eq!(
            m,
            vec![
                ("2011-01".to_owned(), "25.00 GBP".to_owned()),
                ("2011-02".to_owned(), "2.50 GBP".to_owned()),
                ("2011-03".to_owned(), "30.00 GBP".to_owned())
            ]
        );
        assert_eq!(
            countries[0].key,
            custdb::RevenueKey::Country(Some("GB".into()))
        );
        assert_eq!(months[0].key, custdb::RevenueKey::Period("2011-01".into()));
        assert_eq!(countries[0].net.amount, d("55.00"));
        assert_eq!(countries[1].net.amount.to_string(), "2.50");
        assert_eq!(top[0].key, custdb::RevenueKey::Customer(s.ann));
        assert_eq!(top[0].orders, 2);
        assert_eq!(top.len(), 2, "Cat bought nothing");
        // (25.00 + 30.00 + 2.50) / 3 = 19.1666… → 19.17
        assert_eq!(aov[0].average.amount, d("19.17"));
        assert_eq!(aov[0].gross.amount.to_string(), "57.50");
        assert_eq!(
            (repeat.customers, repeat.repeat_customers, repeat.rate),
            (2, 1, d("0.5"))
        );
        assert_eq!(products[0].sku, "TEA");
        assert_eq!(
            (products[0].units_sold, products[0].gross.to_string()),
            (5, "50.00 GBP".to_owned())
        );
        let _ = s.cat;
    }
}

#[test]
fn rfm_ranks_and_segments() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let s = shop(&store);
        let scores = store.read(|r| r.reports().rfm(at(4, 1))).unwrap();
        assert_eq!(scores.len(), 2);
        let ann = scores.iter().find(|x| x.customer_id == s.ann).unwrap();
        let bob = scores.iter().find(|x| x.customer_id == s.bob).unwrap();
        // Ann: last order Mar 7 → 25 days before Apr 1; 2 orders; 55.00.
        assert_eq!(
            (ann.recency_days, ann.frequency, ann.monetary),
            (25, 2, d("55"))
        );
        assert!(ann.r > bob.r && ann.f > bob.f && ann.m > bob.m);
        let segments = store.read(|r| r.reports().rfm_segments(at(4, 1))).unwrap();
        assert_eq!(segments.iter().map(|s| s.1).sum::<u64>(), 2);
    }
}

#[test]
fn segments_combine_filters_in_sql() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let s = shop(&store);
        store
            .write(|tx| {
                tx.consent().register_purpose(
                    NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                        .data_category(DataCategory::Contact),
                )?;
                tx.consent().record(
                    NewConsent::new(
                        s.bob,
                        "marketing",
                        ConsentState::Given,
                        CollectionMethod::WebForm,
                    )
                    .notice("v1", "Offers"),
                )?;
                tx.customers().add_address(
                    s.cat,
                    NewAddress::new(AddressKind::Billing, "1 Rue", "Paris", "FR"),
                )?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let eval = |seg: &Segment| {
            let mut ids = store
                .read(|r| r.segments().evaluate(seg, None, 100))
                .unwrap()
                .items;
            ids.sort();
            ids
        };
        let sorted = |mut v: Vec<CustomerId>| {
            v.sort();
            v
        };
        assert_eq!(
            eval(&Segment::default().country("FR")),
            sorted(vec![s.bob, s.cat])
        );
        assert_eq!(eval(&Segment::default().tag("vip")), vec![s.ann]);
        assert_eq!(
            eval(&Segment::default().spend(custdb::SpendFilter::at_least(d("50"), Currency::GBP))),
            vec![s.ann]
        );
        assert_eq!(
            eval(&Segment::default().min_orders(1).max_orders(1)),
            vec![s.bob]
        );
        assert_eq!(
            eval(&Segment::default().min_orders(0).max_orders(0)),
            vec![s.cat]
        );
        assert_eq!(
            eval(&Segment::default().last_order_from(at(3, 1))),
            vec![s.ann]
        );
        assert_eq!(
            eval(&Segment::default().last_order_before(at(3, 1))),
            vec![s.bob]
        );
        assert_eq!(
            eval(&Segment::default().consents_to("marketing")),
            vec![s.bob]
        );
        assert_eq!(
            eval(&Segment::default().country("FR").consents_to("marketing")),
            vec![s.bob]
        );
        // Two customers fall in the first two quintiles: the more recent, Ann,
        // scores 2 on recency.
        assert_eq!(
            eval(&Segment::default().rfm(custdb::RfmFilter::as_of(at(4, 1)).min_recency(2))),
            vec![s.ann]
        );
        // Paginated.
        let first = store
            .read(|r| r.segments().evaluate(&Segment::default(), None, 2))
            .unwrap();
        assert_eq!(first.items.len(), 2);
        let rest = store
            .read(|r| {
                r.segments()
                    .evaluate(&Segment::default(), first.next_cursor.as_ref(), 2)
            })
            .unwrap();
        assert_eq!(rest.items.len(), 1);
        // Saved by name.
        store
            .write(|tx| {
                tx.segments()
                    .save("french", &Segment::default().country("FR"))
            })
            .unwrap();
        let saved = store
            .read(|r| r.segments().evaluate_saved("french", None, 10))
            .unwrap();
        assert_eq!(sorted(saved.items), sorted(vec![s.bob, s.cat]));
        // Bad filters are typed errors naming the filter.
        let bad = |seg: Segment, field: &str| {
            let e = store
                .read(|r| r.segments().evaluate(&seg, None, 10))
                .unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::Invalid { field: f, .. } if f == field),
                "{e}"
            );
        };
        bad(Segment::default().country("XX"), "country");
        bad(Segment::default().consents_to("nope"), "consents_to");
        bad(Segment::default().min_orders(3).max_orders(1), "min_orders");
        bad(
            Segment::default().spend(custdb::SpendFilter::at_least(d("1.001"), Currency::GBP)),
            "spend.min",
        );
        bad(
            Segment::default().rfm(custdb::RfmFilter::as_of(at(4, 1)).min_recency(6)),
            "rfm.min_r",
        );
    }
}

#[test]
fn duplicates_are_found_with_reasons() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let ids = store
            .write(|tx| {
                let c = tx.customers();
                let a = c.create(
                    NewCustomer::new("Jane Doe")
                        .email("jane.doe@gmail.com")
                        .phone("+44 20 7946 0958"),
                )?;
                let b =
                    c.create(NewCustomer::new("J. Doe").email("janedoe+shop@googlemail.com"))?;
                let e = c.create(NewCustomer::new("Other").phone("+44 20 7946 0958"))?;
                let f = c.create(NewCustomer::new("Mark Twain"))?;
                let g = c.create(NewCustomer::new("Twain Mark"))?;
                for id in [f.id, g.id] {
                    c.add_address(
                        id,
                        NewAddress::new(AddressKind::Shipping, "1 Way", "Bath", "GB")
                            .postal_code("ba1 1aa"),
                    )?;
                }
                let h = c.create(NewCustomer::new("Someone Else"))?;
                c.add_address(
                    h.id,
                    NewAddress::new(AddressKind::Shipping, "2 Way", "Bath", "GB")
                        .postal_code("BA1 1AA"),
                )?;
                Ok::<_, custdb::Error>([a.id, b.id, e.id, f.id, g.id, h.id])
            })
            .unwrap();
        let candidates = store.read(|r| r.duplicates().candidates(100)).unwrap();
        let find = |x: CustomerId, y: CustomerId| {
            candidates
                .iter()
                .find(|c| (c.first, c.second) == (x.min(y), x.max(y)))
                .cloned()
        };
        let email = find(ids[0], ids[1]).expect("same email after normalization");
        assert_eq!(
            (email.score, email.reasons.clone()),
            (90, vec!["same email".to_owned()])
        );
        let phone = find(ids[0], ids[2]).expect("same phone");
        assert_eq!(phone.score, 80);
        let name = find(ids[3], ids[4]).expect("similar name, same postcode");
        assert_eq!(
            name.reasons,
            vec!["similar name at the same postcode".to_owned()]
        );
        assert!(
            find(ids[3], ids[5]).is_none(),
            "a different name at the same postcode"
        );
        assert_eq!(candidates.len(), 3);
    }
}

#[test]
fn a_merge_moves_everything_and_loses_nothing() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let s = shop(&store);
        let (survivor, duplicate) = store
            .write(|tx| {
                tx.consent().register_purpose(
                    NewPurpose::new("newsletter", "News", LawfulBasis::Consent)
                        .data_category(DataCategory::Contact),
                )?;
                let c = tx.customers();
                let survivor = c.create(NewCustomer::new("Ann Lee").tag("web"))?;
                c.add_address(
                    survivor.id,
                    NewAddress::new(AddressKind::Billing, "1 Way", "Bath", "GB"),
                )?;
                c.add_interaction(
                    s.ann,
                    NewInteraction::new(Channel::Phone, Direction::Inbound, InteractionKind::Note)
                        .subject("Called"),
                )?;
                c.add_address(
                    s.ann,
                    NewAddress::new(AddressKind::Billing, "9 Road", "Leeds", "GB"),
                )?;
                let consent = tx.consent();
                let given = |id| {
                    NewConsent::new(
                        id,
                        "newsletter",
                        ConsentState::Given,
                        CollectionMethod::WebForm,
                    )
                    .notice("v1", "News")
                    .occurred_at(Utc::now() - Duration::days(10))
                };
                consent.record(given(survivor.id))?;
                consent.record(given(s.ann))?;
                consent.record(
                    NewConsent::new(
                        s.ann,
                        "newsletter",
                        ConsentState::Withdrawn,
                        CollectionMethod::Email,
                    )
                    .occurred_at(Utc::now() - Duration::days(20) + Duration::days(15)),
                )?;
                c.update(
                    s.ann,
                    c.get(s.ann)?.version,
                    custdb::CustomerPatch::default()
                        .email("ann@example.com")
                        .company("Lee Ltd"),
                )?;
                Ok::<_, custdb::Error>((survivor.id, s.ann))
            })
            .unwrap();
        let dry = store
            .write(|tx| tx.merges().plan_merge(survivor, duplicate))
            .unwrap();
        assert!(dry.dry_run);
        assert_eq!(dry.result.email.as_deref(), Some("ann@example.com"));
        assert_eq!(dry.result.tags, vec!["vip", "web"]);
        assert_eq!(dry.moved["orders"], 2);
        assert_eq!(
            dry.consents,
            vec![("newsletter".to_owned(), ConsentState::Withdrawn)]
        );
        assert_eq!(
            store
                .read(|r| r.orders().history(duplicate, None, 10))
                .unwrap()
                .items
                .len(),
            2,
            "a dry run writes nothing"
        );

        let done = store
            .write(|tx| tx.merges().merge(survivor, duplicate))
            .unwrap();
        assert_eq!(done.moved, dry.moved);
        let merged = store.customers().get(survivor).unwrap();
        assert_eq!(merged.email.as_deref(), Some("ann@example.com"));
        assert_eq!(merged.company.as_deref(), Some("Lee Ltd"));
        assert_eq!(merged.display_name, "Ann Lee");
        assert_eq!(
            store
                .read(|r| r.orders().history(survivor, None, 10))
                .unwrap()
                .items
                .len(),
            2
        );
        assert_eq!(store.customers().addresses(survivor).unwrap().len(), 2);
        assert_eq!(
            store
                .customers()
                .interactions(survivor, None, 10)
                .unwrap()
                .items
                .len(),
            1
        );
        assert!(
            !store
                .read(|r| r.consent().can_process(survivor, "newsletter", Utc::now()))
                .unwrap(),
            "the most restrictive consent wins"
        );
        let old = store.customers().get(duplicate).unwrap();
        assert!(old.is_archived());
        assert_eq!(
            old.company.as_deref(),
            Some("Lee Ltd"),
            "the duplicate keeps its own fields"
        );
        let audit = store
            .read(|r| r.audit().for_entity("customer", &survivor.to_string(), 100))
            .unwrap();
        assert!(audit.iter().any(|e| e.action == "merge"));
        let again = store
            .write(|tx| tx.merges().merge(survivor, duplicate))
            .unwrap_err();
        assert!(matches!(again.kind(), ErrorKind::InvalidState { .. }));
        let same = store
            .write(|tx| tx.merges().plan_merge(survivor, survivor))
            .unwrap_err();
        assert!(same.is_invalid());
        assert_consistent(&store);
        let _ = s.bob;
    }
}

#[test]
fn stock_out_risk_and_cancellation_rates() {
    use custdb::{NewOrder, NewOrderLine, NewPayment, NewWarehouse, PaymentMethod};
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (fast, slow) = store
            .write(|tx| {
                let ann = tx.customers().create(NewCustomer::new("Ann"))?;
                let p = tx.catalog().create_product(
                    NewProduct::new("Tea")
                        .variant(NewVariant::new("FAST", d("1.00"), Currency::GBP))
                        .variant(NewVariant::new("SLOW", d("1.00"), Currency::GBP)),
                )?;
                let w = tx
                    .inventory()
                    .create_warehouse(NewWarehouse::new("W", "W"))?;
                let (fast, slow) = (p.variants[0].id, p.variants[1].id);
                tx.inventory().receive(fast, w.id, 40)?;
                tx.inventory().receive(slow, w.id, 100)?;
                // 30 FAST and 3 SLOW sold; one more order cancelled.
                let o = tx.orders().place(
                    NewOrder::for_customer(ann.id, Currency::GBP)
                        .line(NewOrderLine::new("FAST", 30))
                        .line(NewOrderLine::new("SLOW", 3)),
                )?;
                tx.orders()
                    .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
                let c = tx.orders().place(
                    NewOrder::for_customer(ann.id, Currency::GBP)
                        .line(NewOrderLine::new("SLOW", 1)),
                )?;
                tx.orders().cancel(c.id, "changed mind")?;
                Ok::<_, custdb::Error>((fast, slow))
            })
            .unwrap();
        // FAST: 40 on hand, 30 reserved → 10 available; 30 sold in 30 days is
        // one a day: 10 days of cover, under a 14-day horizon. SLOW: 97 left
        // at 0.1 a day: 970 days.
        let risk = store
            .read(|r| {
                r.reports()
                    .stock_out_risk(Utc::now() + Duration::seconds(1), 30, 14)
            })
            .unwrap();
        assert_eq!(risk.len(), 1);
        assert_eq!(
            (risk[0].variant_id, risk[0].available, risk[0].days_of_cover),
            (fast, 10, d("10"))
        );
        let _ = slow;
        let rates = store
            .read(|r| {
                r.reports()
                    .cancellations_and_returns(custdb::TimeRange::all())
            })
            .unwrap();
        assert_eq!(
            (rates.orders, rates.cancelled, rates.cancellation_rate),
            (2, 1, d("0.5"))
        );
        assert_eq!(rates.units_sold, 33);
        let bad = store
            .read(|r| r.reports().stock_out_risk(Utc::now(), 0, 14))
            .unwrap_err();
        assert!(bad.is_invalid());
    }
}

/// Revenue by day, week and month labels each order's period as SQLite's
/// `strftime` (and chrono's `%Y-%m-%d`, `%Y-W%W`, `%Y-%m`) would, on every
/// engine: days around the turn of years that start on each weekday,
/// where the week number (Monday-first, days before the first Monday in
/// week 00) is easiest to get wrong.
#[test]
fn period_labels_are_the_same_on_every_engine() {
    let days: Vec<chrono::DateTime<Utc>> = (2015..=2023)
        .flat_map(|year| {
            [(1, 1), (1, 2), (1, 7), (1, 8), (6, 30), (12, 31)]
                .into_iter()
                .map(move |(m, d)| Utc.with_ymd_and_hms(year, m, d, 23, 59, 59).unwrap())
        })
        .collect();
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        store
            .write(|tx| {
                let p =
                    tx.catalog().create_product(NewProduct::new("Tea").variant(
                        NewVariant::new("TEA", d("1"), Currency::GBP).track_stock(false),
                    ))?;
                for day in &days {
                    tx.orders().record_historical(&HistoricalOrder {
                        customer_id: None,
                        guest_email: Some("g@example.com".into()),
                        currency: Currency::GBP,
                        country: None,
                        placed_at: *day,
                        lines: vec![HistoricalLine {
                            variant_id: p.variants[0].id,
                            quantity: 1,
                            unit_price: d("1"),
                        }],
                        shipping: Decimal::ZERO,
                    })?;
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        for (period, format) in [
            (Period::Day, "%Y-%m-%d"),
            (Period::Week, "%Y-W%W"),
            (Period::Month, "%Y-%m"),
        ] {
            let got: Vec<String> = store
                .reports()
                .revenue_by_period(period, custdb::TimeRange::all())
                .unwrap()
                .iter()
                .map(|r| r.key.to_string())
                .collect();
            let mut expected: Vec<String> =
                days.iter().map(|d| d.format(format).to_string()).collect();
            expected.sort();
            expected.dedup();
            assert_eq!(got, expected, "{engine} {period:?}");
        }
    }
}
